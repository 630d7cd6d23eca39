//! Seccomp user notifications: each system call the filter refuses is reported to the
//! supervisor, recorded as an event, and answered with `EPERM`.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::outcome::{Event, now_rfc3339};
use crate::sys;

/// Distinct refused calls recorded per exec; further ones are still refused and counted.
const MAX_DISTINCT: usize = 256;

/// The thread answering one exec's notifications.
pub(super) struct Notifier {
    handle: JoinHandle<Vec<Event>>,
    stop: Arc<AtomicBool>,
}

/// Starts answering notifications on `listener` until every process using the filter is gone.
pub(super) fn spawn(listener: OwnedFd) -> Notifier {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::spawn(move || serve(&listener, &flag));
    Notifier { handle, stop }
}

/// Waits for the thread (the command's PID namespace is gone, so the listener has hung up)
/// and returns one `syscall_denied` event per distinct call.
pub(super) fn finish(n: Notifier) -> Vec<Event> {
    // Normally the listener has already hung up; the flag bounds the wait if it has not.
    n.stop.store(true, Ordering::SeqCst);
    n.handle.join().unwrap_or_default()
}

fn serve(listener: &OwnedFd, stop: &AtomicBool) -> Vec<Event> {
    // name → (count, first time)
    let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut other = 0u64;
    loop {
        let mut fds = [libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if sys::poll(&mut fds, 200).is_err() {
            break;
        }
        let rev = fds[0].revents;
        if rev & libc::POLLIN != 0 {
            // An error (ENOENT) means the caller died or was killed before we answered.
            if let Ok(n) = sys::seccomp_notif_recv(listener.as_fd()) {
                let _ = sys::seccomp_notif_deny(listener.as_fd(), n.id, libc::EPERM);
                let name = crate::seccomp::syscall_name(n.nr, n.args);
                if let Some(entry) = seen.get_mut(&name) {
                    entry.0 += 1;
                } else if seen.len() < MAX_DISTINCT {
                    seen.insert(name, (1, now_rfc3339()));
                } else {
                    other += 1;
                }
            }
            continue;
        }
        if rev & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
            || stop.load(Ordering::SeqCst)
        {
            break;
        }
    }
    let mut events: Vec<Event> = seen
        .into_iter()
        .map(|(syscall, (count, first_at))| Event::SyscallDenied {
            syscall,
            count,
            first_at,
        })
        .collect();
    if other > 0 {
        events.push(Event::SyscallDenied {
            syscall: "other system calls".to_owned(),
            count: other,
            first_at: now_rfc3339(),
        });
    }
    events
}
