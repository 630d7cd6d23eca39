//! The egress proxy: the only way out of a sandbox in `allowlist` network mode.
//!
//! The sandbox's network namespace has nothing but a loopback interface, so no packet can
//! leave it. The supervisor creates one listening TCP socket *inside* that namespace
//! (127.0.0.1:`proxy_port`, via `setns` on a short-lived thread) and serves it from outside:
//! each accepted connection is an HTTP proxy request (`CONNECT host:port` for HTTPS, or an
//! absolute-form `GET http://host/...`), checked against the allowlist, and — if admitted —
//! connected from the host's network. Refusals get `403 Forbidden` and become events.
//!
//! Why not a veth pair or a bind-mounted unix socket: a veth needs routing, addresses and
//! firewall rules on the host (and a mistake there is an open network); common HTTP clients
//! (curl, pip, requests, git) speak to an `http://` proxy over TCP but not over a unix socket.
//! A socket that exists only in the sandbox's namespace, owned by the supervisor, needs neither.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::SandboxError;
use crate::outcome::{Event, now_rfc3339};
use crate::policy::HostRule;
use crate::sys;

const MAX_HEAD: usize = 16 * 1024;
const MAX_CONNECTIONS: usize = 64;
const MAX_EVENTS: usize = 10_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

struct Shared {
    rules: Vec<HostRule>,
    allow_private: bool,
    events: Mutex<Vec<Event>>,
    live: AtomicUsize,
    stop: AtomicBool,
    sockets: Mutex<Vec<TcpStream>>,
}

/// A running egress proxy; stopped on drop.
pub(crate) struct EgressProxy {
    shared: Arc<Shared>,
    listener: Arc<TcpListener>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EgressProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressProxy")
            .field("rules", &self.shared.rules)
            .finish_non_exhaustive()
    }
}

impl EgressProxy {
    /// Starts the proxy with its listener inside the network namespace `netns`.
    pub(crate) fn start(
        netns: BorrowedFd<'_>,
        port: u16,
        rules: Vec<HostRule>,
        allow_private: bool,
    ) -> Result<Self, SandboxError> {
        let listener = std::thread::scope(|s| {
            s.spawn(|| -> std::io::Result<TcpListener> {
                sys::setns(netns, libc::CLONE_NEWNET)?;
                TcpListener::bind(("127.0.0.1", port))
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("listener thread panicked")))
        })
        .map_err(SandboxError::setup(format!(
            "egress proxy listener on 127.0.0.1:{port} in the sandbox"
        )))?;
        let listener = Arc::new(listener);
        let shared = Arc::new(Shared {
            rules,
            allow_private,
            events: Mutex::new(Vec::new()),
            live: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
        });
        let (l, sh) = (Arc::clone(&listener), Arc::clone(&shared));
        let acceptor = std::thread::Builder::new()
            .name("modelgate-egress".to_owned())
            .spawn(move || accept_loop(&l, &sh))
            .map_err(SandboxError::setup("start the egress proxy thread"))?;
        Ok(Self {
            shared,
            listener,
            acceptor: Some(acceptor),
        })
    }

    /// Events since the previous call.
    pub(crate) fn take_events(&self) -> Vec<Event> {
        std::mem::take(
            &mut *self
                .shared
                .events
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Stops accepting, closes every open connection and joins the acceptor.
    pub(crate) fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        sys::shutdown(self.listener.as_fd());
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for s in self
            .shared
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    loop {
        let conn = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok((client, _)) = conn else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if shared.live.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            shared.live.fetch_sub(1, Ordering::SeqCst);
            let mut c = client;
            let _ = c.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            continue;
        }
        let sh = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("modelgate-egress-conn".to_owned())
            .spawn(move || {
                handle(client, &sh);
                sh.live.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            shared.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn record(shared: &Shared, event: Event) {
    let mut ev = shared.events.lock().unwrap_or_else(PoisonError::into_inner);
    if ev.len() < MAX_EVENTS {
        ev.push(event);
    }
}

fn deny(shared: &Shared, client: &mut TcpStream, host: &str, port: u16, reason: &str) {
    record(
        shared,
        Event::EgressDenied {
            host: host.to_owned(),
            port,
            at: now_rfc3339(),
            reason: reason.to_owned(),
        },
    );
    let body = format!("modelgate: egress to {host}:{port} refused: {reason}\n");
    let _ = write!(
        client,
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A parsed proxy request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) connect: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// For plain HTTP: the head rewritten to origin form, ready to send upstream.
    pub(crate) forward_head: Vec<u8>,
}

/// Parses a request head (everything up to and including the blank line).
pub(crate) fn parse_request(head: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(head).map_err(|_| "request head is not UTF-8".to_owned())?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if v.starts_with("HTTP/1.") => (m, t, v),
        _ => return Err("malformed request line".to_owned()),
    };
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) = split_host_port(target, None)?;
        return Ok(Request {
            connect: true,
            host,
            port,
            forward_head: Vec::new(),
        });
    }
    let rest = target.strip_prefix("http://").ok_or_else(|| {
        "only CONNECT (https) and absolute http:// requests are proxied".to_owned()
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = split_host_port(authority, Some(80))?;
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if name.starts_with("proxy-") || name == "connection" || name == "keep-alive" {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    Ok(Request {
        connect: false,
        host,
        port,
        forward_head: out.into_bytes(),
    })
}

fn split_host_port(s: &str, default: Option<u16>) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, tail) = rest.split_once(']').ok_or("unclosed `[`")?;
        (h, tail.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match (port, default) {
        (Some(p), _) => p.parse::<u16>().map_err(|_| format!("bad port `{p}`"))?,
        (None, Some(d)) => d,
        (None, None) => return Err("CONNECT needs host:port".to_owned()),
    };
    if host.is_empty() || host.len() > 253 {
        return Err("bad host".to_owned());
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// Loopback, private, link-local, shared, unspecified, multicast or broadcast: never reached
/// through an allowed *name* unless the policy says so.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

fn read_head(client: &mut TcpStream) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = client.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the request head ended".to_owned());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("request head longer than {MAX_HEAD} bytes"));
        }
    }
}

fn handle(mut client: TcpStream, shared: &Arc<Shared>) {
    let _ = client.set_read_timeout(Some(CONNECT_TIMEOUT));
    let (head, early) = match read_head(&mut client) {
        Ok(x) => x,
        Err(reason) => return deny(shared, &mut client, "", 0, &reason),
    };
    let req = match parse_request(&head) {
        Ok(r) => r,
        Err(reason) => return deny(shared, &mut client, "", 0, &reason),
    };
    if !shared.rules.iter().any(|r| r.admits(&req.host, req.port)) {
        return deny(
            shared,
            &mut client,
            &req.host,
            req.port,
            "not in the allowlist",
        );
    }
    let literal = req.host.parse::<IpAddr>().is_ok();
    let addrs: Vec<SocketAddr> = match (req.host.as_str(), req.port).to_socket_addrs() {
        Ok(a) => a
            .filter(|a| literal || shared.allow_private || !is_internal(a.ip()))
            .collect(),
        Err(e) => {
            return deny(
                shared,
                &mut client,
                &req.host,
                req.port,
                &format!("cannot resolve: {e}"),
            );
        }
    };
    if addrs.is_empty() {
        return deny(
            shared,
            &mut client,
            &req.host,
            req.port,
            "resolves only to loopback/private addresses",
        );
    }
    let Some(mut upstream) = addrs
        .iter()
        .find_map(|a| TcpStream::connect_timeout(a, CONNECT_TIMEOUT).ok())
    else {
        let _ = client.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    };
    record(
        shared,
        Event::EgressAllowed {
            host: req.host.clone(),
            port: req.port,
            at: now_rfc3339(),
        },
    );
    let sent = if req.connect {
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
    } else {
        upstream.write_all(&req.forward_head)
    };
    if sent.and_then(|()| upstream.write_all(&early)).is_err() {
        return;
    }
    splice(client, upstream, shared);
}

fn splice(client: TcpStream, upstream: TcpStream, shared: &Arc<Shared>) {
    for s in [&client, &upstream] {
        let _ = s.set_read_timeout(Some(IDLE_TIMEOUT));
        if let Ok(c) = s.try_clone() {
            shared
                .sockets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(c);
        }
    }
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let mut c = client;
        let mut u = upstream;
        let _ = std::io::copy(&mut c, &mut u);
        let _ = u.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut u2, &mut c2);
    let _ = c2.shutdown(Shutdown::Write);
    let _ = up.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connect_and_absolute_requests() {
        let r =
            parse_request(b"CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n").unwrap();
        assert!(r.connect);
        assert_eq!((r.host.as_str(), r.port), ("pypi.org", 443));
        let r = parse_request(b"GET http://Example.com/a?b HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\n\r\n")
            .unwrap();
        assert_eq!((r.host.as_str(), r.port), ("example.com", 80));
        let head = String::from_utf8(r.forward_head).unwrap();
        assert!(head.starts_with("GET /a?b HTTP/1.1\r\n"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("proxy-connection"));
        assert!(head.ends_with("Connection: close\r\n\r\n"));
        let r = parse_request(b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("::1", 8443));
        assert!(parse_request(b"CONNECT host HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_request(b"GET /relative HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_request(b"\xff\xfe\r\n\r\n").is_err());
        assert!(
            parse_request(b"GET http://u:p@evil.com:8080/ HTTP/1.1\r\n\r\n")
                .is_ok_and(|r| r.host == "evil.com" && r.port == 8080)
        );
    }

    #[test]
    fn internal_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "2606:4700::1111"] {
            assert!(!is_internal(a.parse().unwrap()), "{a}");
        }
    }
}
