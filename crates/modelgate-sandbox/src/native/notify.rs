//! Seccomp user notifications: each system call the filter refuses is reported to the
//! supervisor, recorded as an event, and answered with `EPERM`.
//!
//! The listener is polled by the same loop that drains the command's output
//! ([`super::supervise`]): no thread per exec, and no thread start or join on the latency path.

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;

use crate::outcome::{Event, now_rfc3339};
use crate::sys;

/// Distinct refused calls recorded per exec; further ones are still refused and counted.
const MAX_DISTINCT: usize = 256;

/// The refusals seen during one exec.
#[derive(Debug, Default)]
pub(super) struct Denials {
    /// name → (count, first time)
    seen: BTreeMap<String, (u64, String)>,
    other: u64,
}

impl Denials {
    /// Receives one pending notification (the listener polled readable), refuses the call with
    /// `EPERM` and records it. An error (`ENOENT`) means the caller died or was killed before
    /// the answer: nothing to record.
    pub(super) fn answer(&mut self, listener: BorrowedFd<'_>) {
        let Ok(n) = sys::seccomp_notif_recv(listener) else {
            return;
        };
        let _ = sys::seccomp_notif_deny(listener, n.id, libc::EPERM);
        let name = crate::seccomp::syscall_name(n.nr, n.args);
        if let Some(entry) = self.seen.get_mut(&name) {
            entry.0 += 1;
        } else if self.seen.len() < MAX_DISTINCT {
            self.seen.insert(name, (1, now_rfc3339()));
        } else {
            self.other += 1;
        }
    }

    /// One `syscall_denied` event per distinct call.
    pub(super) fn into_events(self) -> Vec<Event> {
        let mut events: Vec<Event> = self
            .seen
            .into_iter()
            .map(|(syscall, (count, first_at))| Event::SyscallDenied {
                syscall,
                count,
                first_at,
            })
            .collect();
        if self.other > 0 {
            events.push(Event::SyscallDenied {
                syscall: "other system calls".to_owned(),
                count: self.other,
                first_at: now_rfc3339(),
            });
        }
        events
    }
}
