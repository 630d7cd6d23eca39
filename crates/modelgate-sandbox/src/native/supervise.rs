//! Watching a running command: pipes read with a cap, stdin fed, the wall clock enforced.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::notify::Denials;
use crate::sys;

/// Bytes of one stream kept up to a cap; the rest counted and dropped.
#[derive(Debug)]
pub(crate) struct Capture {
    pub(crate) kept: Vec<u8>,
    pub(crate) total: u64,
    cap: usize,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            kept: Vec::new(),
            total: 0,
            cap,
        }
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        let room = self.cap.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&data[..data.len().min(room)]);
    }

    pub(crate) fn truncated(&self) -> bool {
        self.total > self.cap as u64
    }

    /// The kept bytes, followed by a marker line when output was dropped.
    pub(crate) fn finish(mut self) -> (Vec<u8>, bool, u64) {
        let truncated = self.truncated();
        if truncated {
            let marker = format!(
                "\n[modelgate: output truncated: kept {} of {} bytes]\n",
                self.kept.len(),
                self.total
            );
            self.kept.extend_from_slice(marker.as_bytes());
        }
        (self.kept, truncated, self.total)
    }
}

/// What happened while supervising.
pub(crate) struct Supervised {
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    pub(crate) timed_out: bool,
    /// Refused system calls (`syscall_denied` events), when a seccomp listener was given.
    pub(crate) denied: Vec<crate::outcome::Event>,
}

/// Drains `stdout`/`stderr`, feeds `stdin`, answers the seccomp listener (which arrives on
/// `listener_sock` as an `SCM_RIGHTS` message from the command), and kills the
/// process behind `pidfd` when the deadline passes. Returns once the process has exited and
/// both pipes are closed (or a short grace period after exit has passed: a pipe can only stay
/// open if a process outlived the PID namespace, which the kernel does not allow, so this is a
/// safety net).
#[allow(clippy::too_many_arguments)] // one call site each; a struct would only rename them
pub(crate) fn supervise(
    pidfd: &OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
    stdin: Option<(OwnedFd, Vec<u8>)>,
    mut listener_sock: Option<OwnedFd>,
    deadline: Instant,
    cap: usize,
    kill: &dyn Fn(),
) -> Supervised {
    let mut denials = Denials::default();
    let mut listener: Option<OwnedFd> = None;
    let mut out = Capture::new(cap);
    let mut err = Capture::new(cap);
    let mut files: [Option<File>; 2] = [Some(File::from(stdout)), Some(File::from(stderr))];
    for f in files.iter().flatten() {
        let _ = sys::set_nonblocking(f.as_fd());
    }
    let mut input = stdin.map(|(fd, data)| {
        let _ = sys::set_nonblocking(fd.as_fd());
        (File::from(fd), data, 0usize)
    });
    let mut timed_out = false;
    let mut exited_at: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let now = Instant::now();
        if files.iter().all(Option::is_none) && exited_at.is_some() {
            break;
        }
        if exited_at.is_some_and(|t| now.duration_since(t) > Duration::from_secs(2)) {
            break;
        }
        if exited_at.is_none() && !timed_out && now >= deadline {
            timed_out = true;
            kill();
        }
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(4);
        let mut which: Vec<u8> = Vec::with_capacity(4);
        for (i, f) in files.iter().enumerate() {
            if let Some(f) = f {
                fds.push(libc::pollfd {
                    fd: f.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                which.push(i as u8);
            }
        }
        if let Some((f, _, _)) = &input {
            fds.push(libc::pollfd {
                fd: f.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
            which.push(2);
        }
        if exited_at.is_none() {
            fds.push(libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            which.push(3);
        }
        if let Some(l) = &listener {
            fds.push(libc::pollfd {
                fd: l.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            which.push(4);
        }
        if let Some(sock) = &listener_sock {
            fds.push(libc::pollfd {
                fd: sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            which.push(5);
        }
        let wait_ms = if exited_at.is_some() || timed_out {
            100
        } else {
            deadline
                .saturating_duration_since(now)
                .as_millis()
                .clamp(1, 1000) as i32
        };
        if sys::poll(&mut fds, wait_ms).is_err() {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        for (pfd, w) in fds.iter().zip(&which) {
            if pfd.revents == 0 {
                continue;
            }
            match *w {
                i @ (0 | 1) => {
                    let slot = &mut files[i as usize];
                    let Some(f) = slot.as_mut() else { continue };
                    let cap = if i == 0 { &mut out } else { &mut err };
                    // Read until the pipe is empty or closed.
                    loop {
                        match f.read(&mut buf) {
                            Ok(0) => {
                                *slot = None;
                                break;
                            }
                            Ok(n) => cap.push(&buf[..n]),
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(_) => {
                                *slot = None;
                                break;
                            }
                        }
                    }
                }
                2 => {
                    let mut done = false;
                    if let Some((f, data, pos)) = input.as_mut() {
                        match f.write(&data[*pos..]) {
                            Ok(n) => {
                                *pos += n;
                                done = *pos >= data.len();
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => done = true,
                        }
                    }
                    if done {
                        input = None; // closes the pipe: the command sees end of input
                    }
                }
                3 => exited_at = Some(Instant::now()),
                5 => {
                    // The listener, or a hang-up: the command failed before sending it.
                    listener = listener_sock
                        .take()
                        .and_then(|sock| sys::recv_fd(sock.as_fd()).ok().flatten());
                }
                _ => {
                    let Some(l) = &listener else { continue };
                    if pfd.revents & libc::POLLIN != 0 {
                        denials.answer(l.as_fd());
                    } else {
                        listener = None; // every process using the filter is gone
                    }
                }
            }
        }
    }
    // The whole PID namespace is gone: record what is still queued, without waiting.
    if let Some(sock) = listener_sock.take() {
        listener = sys::recv_fd(sock.as_fd()).ok().flatten();
    }
    if let Some(l) = &listener {
        for _ in 0..1024 {
            let mut fds = [libc::pollfd {
                fd: l.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            match sys::poll(&mut fds, 0) {
                Ok(1..) if fds[0].revents & libc::POLLIN != 0 => denials.answer(l.as_fd()),
                _ => break,
            }
        }
    }
    Supervised {
        stdout: out,
        stderr: err,
        timed_out,
        denied: denials.into_events(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_a_prefix_and_counts_the_rest() {
        let mut c = Capture::new(4);
        c.push(b"ab");
        c.push(b"cdef");
        c.push(b"gh");
        let (kept, truncated, total) = c.finish();
        assert!(truncated);
        assert_eq!(total, 8);
        assert!(kept.starts_with(b"abcd\n[modelgate: output truncated: kept 4 of 8 bytes]"));
        let mut c = Capture::new(4);
        c.push(b"abcd");
        assert_eq!(c.finish(), (b"abcd".to_vec(), false, 4));
    }
}
