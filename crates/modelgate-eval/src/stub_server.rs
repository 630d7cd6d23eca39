//! A local OpenAI-compatible (and Anthropic-compatible) chat server for tests, demos and the
//! benchmark.
//!
//! It answers `POST …/chat/completions` in `OpenAI`'s format and `POST …/messages` in
//! Anthropic's, computing each answer with one of the [`MockKind`] models (or a fixed text)
//! after an optional fixed latency (a tokio timer: no CPU is spent waiting). Faults can be
//! injected by request number: statuses with `Retry-After`, garbage, oversized bodies, wrong
//! JSON shapes, hangs, and an error that echoes the caller's credentials (to prove the client
//! never repeats them).
//!
//! It is written on raw `tokio::net` with a small, bounded HTTP/1.1 parser (request line and
//! headers at most 16 KiB, bodies at most 4 MiB, `Content-Length` framing, keep-alive and
//! pipelining) rather than on hyper, because the faults need control below the HTTP layer
//! (declaring one length and sending more, hanging mid-exchange) and because it keeps the
//! server's per-request cost to one read, one parse and one write. It listens on
//! `127.0.0.1:0` by default and is not meant to face anything but loopback clients.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use modelgate_eval::stub_server::{StubConfig, StubServer};
//! let server = StubServer::start(StubConfig::default()).await?;
//! let base_url = server.base_url(); // http://127.0.0.1:PORT/v1
//! # let _ = base_url;
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::message::Message;
use crate::provider::{MockKind, Usage, anthropic, mock, openai};

/// Largest request line plus headers.
const MAX_HEAD_BYTES: usize = 16 << 10;
/// Largest request body.
const MAX_BODY_BYTES: usize = 4 << 20;
/// Most headers in one request.
const MAX_HEADERS: usize = 64;

/// How the server answers well-formed requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StubMode {
    /// Answer as the mock model would (calc, echo, choice, agent tool-call script, judge).
    Mock(MockKind),
    /// Always answer this text.
    Fixed(String),
}

/// Which requests a fault applies to (requests are numbered from 1 in arrival order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Requests 1..=N.
    FirstN(u64),
    /// Every k-th request (k, 2k, …).
    EveryKth(u64),
    /// Every request.
    Always,
}

impl When {
    fn matches(self, index: u64) -> bool {
        match self {
            When::FirstN(n) => index <= n,
            When::EveryKth(k) => k != 0 && index.is_multiple_of(k),
            When::Always => true,
        }
    }
}

/// A misbehaviour to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (and `Retry-After: VALUE` when given) and a JSON error body.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` value (seconds or an HTTP-date), if any.
        retry_after: Option<String>,
    },
    /// A 200 whose body is not JSON.
    Garbage,
    /// A 200 whose body is `bytes` long; with `declare_length` it says so in `Content-Length`,
    /// otherwise it streams until it closes the connection.
    Oversized {
        /// Body size.
        bytes: usize,
        /// Whether `Content-Length` announces the size.
        declare_length: bool,
    },
    /// Read the request and never answer (until shutdown).
    Hang,
    /// A 200 with valid JSON of the wrong shape.
    WrongShape,
    /// A 401 whose body repeats the request's `Authorization` and `x-api-key` headers.
    EchoAuth,
}

/// A fault and when it applies. The first matching rule wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Which requests.
    pub when: When,
    /// What happens.
    pub fault: Fault,
}

/// Server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubConfig {
    /// Where to listen; `127.0.0.1:0` (any free port) by default.
    pub bind: SocketAddr,
    /// Delay before each answer.
    pub latency: Duration,
    /// How to answer.
    pub mode: StubMode,
    /// Injected faults, tried in order.
    pub faults: Vec<FaultRule>,
    /// Most open connections; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for StubConfig {
    fn default() -> Self {
        StubConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            latency: Duration::ZERO,
            mode: StubMode::Mock(MockKind::Calc),
            faults: Vec::new(),
            max_connections: 4096,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    connections: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    config: StubConfig,
    counters: Counters,
}

/// A running server; dropping it stops accepting and closes connections.
#[derive(Debug)]
pub struct StubServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl StubServer {
    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(config: StubConfig) -> io::Result<StubServer> {
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            counters: Counters::default(),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(StubServer {
            addr,
            shared,
            stop,
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`, the base URL to give a provider.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests received so far (including faulted ones).
    pub fn request_count(&self) -> u64 {
        self.shared.counters.requests.load(Ordering::Relaxed)
    }

    /// The most requests that were being handled at the same time.
    pub fn max_in_flight(&self) -> u64 {
        self.shared.counters.max_in_flight.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> u64 {
        self.shared.counters.connections.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
    }

    /// Serves until the returned future is dropped or the server shuts down (for binaries that
    /// run the server until they are killed).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(shared.config.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = stopped.changed() => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _peer)) = accepted else {
            // Out of descriptors or a reset before accept: back off briefly and go on.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&shared);
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = serve_connection(stream, &shared, stopped).await;
        });
    }
}

/// One parsed request; `body` is a range of the connection buffer.
struct Request {
    route: Route,
    keep_alive: bool,
    /// Credentials as sent (only for the `EchoAuth` fault).
    credentials: String,
    head_len: usize,
    body_len: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    OpenAi,
    Anthropic,
    NotFound,
}

enum Parse {
    Incomplete,
    Done(Request),
    Bad(&'static str),
}

async fn serve_connection(
    mut stream: TcpStream,
    shared: &Shared,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(8 << 10);
    let mut out: Vec<u8> = Vec::with_capacity(4 << 10);
    loop {
        let request = loop {
            match parse_request(&buf) {
                Parse::Done(request) => break request,
                Parse::Bad(why) => {
                    out.clear();
                    write_response(&mut out, 400, &[], why.as_bytes(), false);
                    stream.write_all(&out).await?;
                    return Ok(());
                }
                Parse::Incomplete => {}
            }
            let read = tokio::select! {
                read = stream.read_buf(&mut buf) => read?,
                _ = stopped.changed() => return Ok(()),
            };
            if read == 0 {
                return Ok(());
            }
        };
        let counters = &shared.counters;
        let index = counters.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let now = counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters.max_in_flight.fetch_max(now, Ordering::Relaxed);
        let body_start = request.head_len;
        let body = buf
            .get(body_start..body_start + request.body_len)
            .unwrap_or_default();
        let fault = shared
            .config
            .faults
            .iter()
            .find(|rule| rule.when.matches(index))
            .map(|rule| &rule.fault);
        let outcome = respond(shared, &request, body, fault, &mut out, &mut stopped).await;
        let result = match outcome {
            Respond::Write => stream.write_all(&out).await,
            Respond::Stream { bytes } => stream_body(&mut stream, &out, bytes).await,
            Respond::Close => Ok(()),
        };
        counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        result?;
        if !request.keep_alive || !matches!(outcome, Respond::Write) {
            return Ok(());
        }
        buf.drain(..body_start + request.body_len);
    }
}

enum Respond {
    /// `out` holds the whole response.
    Write,
    /// `out` holds the head; then `bytes` of filler follow and the connection closes.
    Stream { bytes: usize },
    /// Close without answering.
    Close,
}

async fn respond(
    shared: &Shared,
    request: &Request,
    body: &[u8],
    fault: Option<&Fault>,
    out: &mut Vec<u8>,
    stopped: &mut watch::Receiver<bool>,
) -> Respond {
    out.clear();
    if matches!(fault, Some(Fault::Hang)) {
        let _ = stopped.changed().await;
        return Respond::Close;
    }
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let keep_alive = request.keep_alive;
    match fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let headers: Vec<(&str, &str)> = retry_after
                .as_deref()
                .map(|v| ("retry-after", v))
                .into_iter()
                .collect();
            let body = br#"{"error":{"message":"injected fault","type":"stub_error"}}"#;
            write_response(out, *status, &headers, body, keep_alive);
        }
        Some(Fault::Garbage) => {
            let body = b"\x00\xff<html>definitely not json\x1b[2J}{";
            write_response(out, 200, &[], body, keep_alive);
        }
        Some(Fault::WrongShape) => {
            let body = br#"{"id":"stub","object":"chat.completion","choices":"none","content":7}"#;
            write_response(out, 200, &[], body, keep_alive);
        }
        Some(Fault::EchoAuth) => {
            let body = serde_json::json!({
                "error": {"message": format!("invalid credentials: {}", request.credentials)}
            })
            .to_string();
            write_response(out, 401, &[], body.as_bytes(), keep_alive);
        }
        Some(Fault::Oversized {
            bytes,
            declare_length,
        }) => {
            out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n");
            if *declare_length {
                out.extend_from_slice(format!("content-length: {bytes}\r\n").as_bytes());
            }
            out.extend_from_slice(b"connection: close\r\n\r\n");
            return Respond::Stream { bytes: *bytes };
        }
        Some(Fault::Hang) | None => answer(shared, request, body, out),
    }
    Respond::Write
}

/// A normal answer in the route's format.
fn answer(shared: &Shared, request: &Request, body: &[u8], out: &mut Vec<u8>) {
    let keep_alive = request.keep_alive;
    let decoded = match request.route {
        Route::OpenAi => openai::decode_request(body),
        Route::Anthropic => anthropic::decode_request(body),
        Route::NotFound => {
            write_response(
                out,
                404,
                &[],
                br#"{"error":{"message":"not found"}}"#,
                keep_alive,
            );
            return;
        }
    };
    let Ok((_model, generate)) = decoded else {
        let body = br#"{"error":{"message":"the request body is not a valid chat request"}}"#;
        write_response(out, 400, &[], body, keep_alive);
        return;
    };
    let (message, stop_reason) = match &shared.config.mode {
        StubMode::Mock(kind) => kind.answer(&generate),
        StubMode::Fixed(text) => (Message::assistant(text.clone()), "stop"),
    };
    let usage: Usage = mock::usage(&generate, &message);
    let body = match request.route {
        Route::Anthropic => anthropic::encode_response(&message, stop_reason, usage),
        _ => openai::encode_response(&message, stop_reason, usage),
    };
    write_response(out, 200, &[], &body, keep_alive);
}

fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    use std::io::Write as _;
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Writes `head`, then `bytes` of filler in 64 KiB pieces (the client may hang up early).
async fn stream_body(stream: &mut TcpStream, head: &[u8], bytes: usize) -> io::Result<()> {
    stream.write_all(head).await?;
    let chunk = vec![b'x'; 64 << 10];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        stream.write_all(chunk.get(..n).unwrap_or_default()).await?;
        left -= n;
    }
    stream.shutdown().await
}

/// Parses one request from the front of `buf` (bounded head, `Content-Length` framing only).
fn parse_request(buf: &[u8]) -> Parse {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD_BYTES {
            Parse::Bad("request head too large")
        } else {
            Parse::Incomplete
        };
    };
    if head_end > MAX_HEAD_BYTES {
        return Parse::Bad("request head too large");
    }
    let Ok(head) = std::str::from_utf8(buf.get(..head_end).unwrap_or_default()) else {
        return Parse::Bad("request head is not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(path), Some(version)) = (
        request_line.next(),
        request_line.next(),
        request_line.next(),
    ) else {
        return Parse::Bad("bad request line");
    };
    let mut keep_alive = version == "HTTP/1.1";
    let mut content_length = 0usize;
    let mut credentials = String::new();
    for (count, line) in lines.enumerate() {
        if count >= MAX_HEADERS {
            return Parse::Bad("too many headers");
        }
        let Some((name, value)) = line.split_once(':') else {
            return Parse::Bad("bad header line");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            match value.parse::<usize>() {
                Ok(n) if n <= MAX_BODY_BYTES => content_length = n,
                _ => return Parse::Bad("bad or too large content-length"),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parse::Bad("chunked request bodies are not supported");
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("x-api-key")
        {
            credentials.push_str(value);
            credentials.push(' ');
        }
    }
    let head_len = head_end + 4;
    if buf.len() < head_len + content_length {
        return Parse::Incomplete;
    }
    let path = path.split('?').next().unwrap_or_default();
    let route = match method {
        "POST" if path.ends_with("/chat/completions") => Route::OpenAi,
        "POST" if path.ends_with("/messages") => Route::Anthropic,
        _ => Route::NotFound,
    };
    Parse::Done(Request {
        route,
        keep_alive,
        credentials,
        head_len,
        body_len: content_length,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_frames_and_bounds_requests() {
        let raw =
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}POST";
        let Parse::Done(r) = parse_request(raw) else {
            panic!("not parsed")
        };
        assert!(r.keep_alive && r.route == Route::OpenAi);
        assert_eq!((r.head_len, r.body_len), (raw.len() - 6, 2));
        assert!(matches!(
            parse_request(b"POST /v1/messages HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}"),
            Parse::Incomplete
        ));
        assert!(matches!(
            parse_request(b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
            Parse::Bad(_)
        ));
        assert!(matches!(
            parse_request(&vec![b'a'; MAX_HEAD_BYTES + 1]),
            Parse::Bad(_)
        ));
        let Parse::Done(r) = parse_request(b"GET /x HTTP/1.0\r\n\r\n") else {
            panic!("not parsed")
        };
        assert!(!r.keep_alive && r.route == Route::NotFound);
    }
}
