//! The only place in modelgate that uses `unsafe`: thin wrappers over Linux system calls, and the
//! allocation-free code that runs between `clone` and `execve` in the sandboxed children.
//!
//! Why raw system calls rather than a wrapper crate: the code after `clone` runs in a copy of a
//! possibly multi-threaded supervisor, where only async-signal-safe operations are allowed. glibc's
//! `setresuid`/`setgroups` broadcast to every thread of the *parent* (and deadlock in a child that
//! has none), and any allocation may find the allocator's lock held by a thread that no longer
//! exists. So every step in [`child`] is a direct `syscall(2)` over data prepared by the parent.
#![allow(unsafe_code)]
// System call arguments are register-width words: descriptors, flags and ids are passed as
// `usize` and errno/pid values come back as `c_long`, exactly as the kernel ABI defines them.
#![allow(clippy::cast_sign_loss, clippy::cast_possible_wrap)]

pub(crate) mod calls;
pub(crate) mod child;

pub(crate) use calls::*;
