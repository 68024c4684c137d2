//! The one way the SFU takes its std mutexes: the short, synchronous edits of a publisher's,
//! a subscriber's or a forwarded track's state (never held across an `.await`).

use std::sync::{Mutex, MutexGuard};

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these locks stays consistent at every step; a panic elsewhere leaves
    // nothing half-done.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
