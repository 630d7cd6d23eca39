//! The one HTTP layer every remote provider shares.
//!
//! A [`HttpClient`] is built once per provider: one `reqwest` client whose connection pool is
//! sized to `max_connections`, a semaphore that bounds requests in flight to the same number
//! (the pool alone does not: it would open extra connections under load), a per-attempt
//! timeout that covers sending and reading the whole body, a hard cap on the body that is
//! enforced while streaming (nothing past the cap is ever buffered), and the retry loop.
//!
//! Retries: 429, 500–599, timeouts and connection errors are retried; other statuses are not.
//! `max_retries` counts retries after the first attempt. The wait before a retry is the
//! server's `Retry-After` when it sent one (seconds or an HTTP-date), else full-jitter
//! exponential backoff; either is capped at `backoff_max`.
//!
//! Secrets: auth headers are marked sensitive, and every excerpt of server text that reaches an
//! error goes through [`HttpClient::excerpt`], which removes the API key, strips control
//! characters and bounds the length. A server that echoes the key back cannot put it in an
//! error message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use tokio::sync::Semaphore;

use super::{ProviderError, ProviderOptions, Retry};

/// Longest excerpt of server text kept in an error, in characters.
pub(crate) const MAX_EXCERPT_CHARS: usize = 200;

/// How much of an error body is read to make its excerpt.
const ERROR_BODY_PREFIX: usize = 8 << 10;

/// Clients built so far (mixed into each client's jitter seed).
static CLIENTS: AtomicU64 = AtomicU64::new(0);

/// What replaces the API key in excerpts.
const REDACTED: &str = "[redacted]";

/// A body that arrived, with the attempts that failed before it.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    /// The complete response body (at most `max_response_bytes`).
    pub body: Vec<u8>,
    /// Failed attempts that were retried.
    pub retries: Vec<Retry>,
}

/// One attempt's failure, classified for the retry loop.
struct AttemptError {
    error: ProviderError,
    /// Short, content-free reason for the retry record (`HTTP 429`, `timeout`, `connect`).
    reason: Option<String>,
    retry_after: Option<Duration>,
}

impl AttemptError {
    fn fatal(error: ProviderError) -> Self {
        AttemptError {
            error,
            reason: None,
            retry_after: None,
        }
    }

    fn retryable(error: ProviderError, reason: impl Into<String>) -> Self {
        AttemptError {
            error,
            reason: Some(reason.into()),
            retry_after: None,
        }
    }
}

/// A pooled, bounded, retrying JSON-over-HTTP client.
#[derive(Debug)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    permits: Semaphore,
    timeout: Duration,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    max_response_bytes: usize,
    /// The API key, kept only to scrub it from excerpts.
    secret: Option<String>,
    /// Jitter state (splitmix64 over an atomic counter: lock-free, no dependency).
    rng: AtomicU64,
}

impl HttpClient {
    /// Builds the client. `headers` are sent with every request; mark secrets sensitive.
    /// `secret` is the API key to scrub from every excerpt.
    pub(crate) fn new(
        options: &ProviderOptions,
        mut headers: HeaderMap,
        secret: Option<String>,
    ) -> Result<Self, ProviderError> {
        let max_connections = options.max_connections.max(1);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .pool_max_idle_per_host(max_connections)
            .pool_idle_timeout(Duration::from_secs(90))
            .connect_timeout(options.timeout)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProviderError::Config {
                message: format!("cannot build the HTTP client: {}", innermost(&e)),
            })?;
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ CLIENTS
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0xD1B5_4A32_D192_ED03);
        Ok(HttpClient {
            client,
            permits: Semaphore::new(max_connections),
            timeout: options.timeout,
            max_retries: options.max_retries,
            backoff_base: options.backoff_base,
            backoff_max: options.backoff_max,
            max_response_bytes: options.max_response_bytes,
            secret: secret.filter(|s| !s.is_empty()),
            rng: AtomicU64::new(seed),
        })
    }

    /// POSTs `body` (JSON) to `url`, retrying as the options say, and returns the body of the
    /// first successful answer.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        body: &[u8],
    ) -> Result<HttpResponse, ProviderError> {
        let mut retries = Vec::new();
        let mut attempt: u32 = 0;
        loop {
            let outcome = {
                let _permit =
                    self.permits
                        .acquire()
                        .await
                        .map_err(|_| ProviderError::Transport {
                            message: "the request limiter was closed".to_owned(),
                        })?;
                match tokio::time::timeout(self.timeout, self.attempt(url, body)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(AttemptError::retryable(
                        ProviderError::Timeout {
                            timeout_ms: millis(self.timeout),
                        },
                        "timeout",
                    )),
                }
            };
            let failure = match outcome {
                Ok(body) => return Ok(HttpResponse { body, retries }),
                Err(failure) => failure,
            };
            let Some(reason) = failure.reason else {
                return Err(failure.error);
            };
            if attempt >= self.max_retries {
                if retries.is_empty() {
                    return Err(failure.error);
                }
                return Err(ProviderError::RetriesExhausted {
                    attempts: attempt.saturating_add(1),
                    last: Box::new(failure.error),
                    retries,
                });
            }
            let wait = match failure.retry_after {
                Some(after) => after.min(self.backoff_max),
                None => self.backoff(attempt),
            };
            retries.push(Retry {
                reason,
                waited_ms: millis(wait),
            });
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            attempt = attempt.saturating_add(1);
        }
    }

    /// One request: send, check the status, read the body under the cap.
    async fn attempt(&self, url: &str, body: &[u8]) -> Result<Vec<u8>, AttemptError> {
        let mut response = self
            .client
            .post(url)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| self.send_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return self.read_capped(&mut response).await;
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let prefix = read_prefix(
            &mut response,
            ERROR_BODY_PREFIX.min(self.max_response_bytes),
        )
        .await
        .unwrap_or_default();
        let error = ProviderError::Status {
            status: status.as_u16(),
            detail: self.excerpt(&String::from_utf8_lossy(&prefix)),
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(AttemptError {
                error,
                reason: Some(format!("HTTP {}", status.as_u16())),
                retry_after,
            })
        } else {
            Err(AttemptError::fatal(error))
        }
    }

    /// Reads the whole body, failing with `TooLarge` as soon as it would pass the cap.
    async fn read_capped(&self, response: &mut reqwest::Response) -> Result<Vec<u8>, AttemptError> {
        let limit = self.max_response_bytes;
        let too_large = || AttemptError::fatal(ProviderError::TooLarge { limit });
        let declared = response.content_length();
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        // The declared length is only a hint (and at most `limit` here); cap the first
        // allocation so a lying header cannot make us reserve the whole cap up front.
        let hint = declared.map_or(8 << 10, |n| n as usize).min(64 << 10);
        let mut body = Vec::with_capacity(hint);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.send_error(&e))? {
            if chunk.len() > limit.saturating_sub(body.len()) {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Classifies a `reqwest` error without its URL or any server text.
    fn send_error(&self, e: &reqwest::Error) -> AttemptError {
        if e.is_timeout() {
            return AttemptError::retryable(
                ProviderError::Timeout {
                    timeout_ms: millis(self.timeout),
                },
                "timeout",
            );
        }
        if e.is_builder() {
            return AttemptError::fatal(ProviderError::Config {
                message: format!("invalid request: {}", self.excerpt(&innermost(e))),
            });
        }
        let (what, reason) = if e.is_connect() {
            ("connection failed", "connect")
        } else if e.is_body() || e.is_decode() {
            ("reading the response failed", "body")
        } else {
            ("request failed", "transport")
        };
        AttemptError::retryable(
            ProviderError::Transport {
                message: format!("{what}: {}", self.excerpt(&innermost(e))),
            },
            reason,
        )
    }

    /// A bounded, printable excerpt of server text with the API key removed.
    pub(crate) fn excerpt(&self, text: &str) -> String {
        match &self.secret {
            Some(secret) if text.contains(secret.as_str()) => {
                sanitize(&text.replace(secret.as_str(), REDACTED))
            }
            _ => sanitize(text),
        }
    }

    /// Full-jitter backoff before retry number `attempt + 1`: uniform in
    /// `[0, min(backoff_max, backoff_base * 2^attempt)]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .backoff_base
            .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max);
        let ceiling_ns = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if ceiling_ns == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next_random() % (ceiling_ns.saturating_add(1)).max(1))
    }

    fn next_random(&self) -> u64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Reads at most `cap` bytes of the body and stops (for error excerpts).
async fn read_prefix(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while out.len() < cap {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let take = chunk.len().min(cap - out.len());
        out.extend_from_slice(chunk.get(..take).unwrap_or_default());
    }
    Ok(out)
}

/// The innermost cause of an error (the OS or protocol message, without the URL).
fn innermost(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if std::ptr::addr_eq(cause, e) {
        // No source: reqwest's own text names the URL; say only the class.
        return "no further detail".to_owned();
    }
    cause.to_string()
}

/// Strips control characters, collapses whitespace runs, and bounds to [`MAX_EXCERPT_CHARS`].
pub(crate) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_EXCERPT_CHARS + 4));
    let mut count = 0usize;
    let mut last_space = true;
    for ch in text.chars() {
        let invisible = matches!(ch, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
        if invisible || (ch.is_control() && !ch.is_whitespace()) {
            continue;
        }
        let ch = if ch.is_whitespace() { ' ' } else { ch };
        if ch == ' ' && last_space {
            continue;
        }
        if count == MAX_EXCERPT_CHARS {
            out.push('…');
            return out;
        }
        last_space = ch == ' ';
        out.push(ch);
        count += 1;
    }
    out.truncate(out.trim_end().len());
    out
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses `Retry-After`: delay-seconds or an IMF-fixdate HTTP-date (`Sun, 06 Nov 1994 08:49:37
/// GMT`). A date in the past means no wait. Other forms give `None` (backoff applies).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.len() <= 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = parse_imf_fixdate(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the Unix epoch of an IMF-fixdate.
fn parse_imf_fixdate(value: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = value.get(5..)?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let hour: u64 = hms.next()?.parse().ok()?;
    let minute: u64 = hms.next()?.parse().ok()?;
    let second: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1970..=9999).contains(&year)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), for years >= 1970.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // 1994-11-06 08:49:30 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_imf_fixdate("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        for bad in [
            "",
            "-1",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "99999999999999999999",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn excerpts_are_bounded_printable_and_keyless() {
        let options = ProviderOptions::default();
        let client =
            HttpClient::new(&options, HeaderMap::new(), Some("sk-secret-123".into())).unwrap();
        let text = format!("bad key\u{1b}[2J sk-secret-123\n\n{}", "x".repeat(1000));
        let e = client.excerpt(&text);
        assert!(!e.contains("sk-secret"));
        assert!(e.starts_with("bad key[2J [redacted] xxx"));
        assert_eq!(e.chars().count(), MAX_EXCERPT_CHARS + 1);
        assert!(!e.chars().any(char::is_control));
    }

    #[test]
    fn backoff_is_full_jitter_capped() {
        let options = ProviderOptions {
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(50),
            ..ProviderOptions::default()
        };
        let client = HttpClient::new(&options, HeaderMap::new(), None).unwrap();
        let mut seen_high = false;
        for attempt in 0..40 {
            let wait = client.backoff(attempt);
            let ceiling = Duration::from_millis(10 << attempt.min(3)).min(options.backoff_max);
            assert!(wait <= ceiling, "attempt {attempt}: {wait:?} > {ceiling:?}");
            seen_high |= wait > Duration::from_millis(10);
        }
        assert!(seen_high, "backoff never grew past the base");
    }
}
