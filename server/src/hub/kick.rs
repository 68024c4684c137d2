//! A connection's close signal and doorbell ([`Kick`]), held by its outbox, its writer and
//! its subscriptions to the feeds of the rooms it joined. A leaf: the outbox reads feeds and
//! feeds ring the connection, and neither imports the other for it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio_util::sync::CancellationToken;

/// Why a connection is being closed, sent as the WebSocket close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

pub(super) struct Kick {
    pub(super) reason: OnceLock<CloseReason>,
    /// Frames the writer sends just before the close frame, whatever else is still queued:
    /// the answers of requests the closing room will not carry out.
    pub(super) last_words: OnceLock<Vec<Bytes>>,
    pub(super) token: CancellationToken,
    /// Woken when the reason is set: the writer's wait for it
    /// ([`OutboxReceiver::closing`](super::OutboxReceiver::closing)) is an atomic load, where
    /// the token's takes a lock each time it is polled.
    pub(super) closer: AtomicWaker,
    /// Rung by the rooms whose feeds the connection's writer waits for.
    pub(super) bell: Bell,
}

impl Kick {
    /// Close the connection with a reason (the first reason given wins).
    pub(super) fn close(&self, reason: CloseReason) {
        self.close_with(reason, Vec::new());
    }

    /// Close the connection, sending `last_words` just before the close frame. Set before
    /// the reason, so a writer that sees the reason sees them too.
    pub(super) fn close_with(&self, reason: CloseReason, last_words: Vec<Bytes>) {
        if !last_words.is_empty() {
            let _ = self.last_words.set(last_words);
        }
        let _ = self.reason.set(reason);
        self.token.cancel();
        self.closer.wake();
    }
}

/// A connection's doorbell: rooms ring it when they append to a feed its writer waits for.
/// A flag and one waker: lighter than a `tokio::sync::Notify`, which queues its waiters.
#[derive(Default)]
pub struct Bell {
    rung: AtomicBool,
    waker: AtomicWaker,
}

impl Bell {
    pub fn ring(&self) {
        self.rung.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Resolves once the bell has rung since the last time this resolved.
    pub fn rung(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.rung.swap(false, Ordering::AcqRel) {
                return std::task::Poll::Ready(());
            }
            self.waker.register(cx.waker());
            if self.rung.swap(false, Ordering::AcqRel) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }
}
