//! A connection's writer task: it drains the connection's bounded [`OutboxReceiver`] and its
//! joined rooms' feeds into the socket in batches (one write each), sends the pings, answers
//! the peer's ([`Pinged`]), and says goodbye with the close frame.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use super::wire;
use crate::hub::{CloseReason, Frames, OutboxReceiver};

/// Frames the writer puts into one write, at most.
const WRITE_BATCH: usize = 64;

/// Drain the outbox and the joined rooms' feeds into the socket until the connection is told
/// to close; answer the peer's pings. Returns the close code it said goodbye with (`None`:
/// the socket failed first).
pub(super) async fn write(
    mut socket: wire::Writer,
    mut receiver: OutboxReceiver,
    pinged: Arc<Pinged>,
    ping_interval: Duration,
) -> Option<u16> {
    /// What the writer does next.
    enum Next {
        Close(CloseReason),
        /// A batch was put into the socket's buffer (false: nothing more will come).
        Batch(bool),
        Ping,
        Pong,
    }
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    let closing = receiver.closing();
    tokio::pin!(closing);
    loop {
        // Every wait, including a write blocked on a peer that stopped reading, gives way
        // to closing: a lagging or dead connection is let go now, not after its backlog.
        // Pings and pongs come before the next batch: a connection that always has more to
        // read must still ping, and answer the peer's pings, or it would be closed as idle.
        let next = tokio::select! {
            biased;
            reason = &mut closing => Next::Close(reason),
            _ = ping.tick() => Next::Ping,
            () = pinged.bell.rung() => Next::Pong,
            more = receiver.next_batch(&mut socket, WRITE_BATCH) => Next::Batch(more),
        };
        match next {
            Next::Close(reason) => return say_goodbye(&mut socket, &receiver, reason).await,
            Next::Batch(false) => {
                let reason = receiver.close_reason()?;
                return say_goodbye(&mut socket, &receiver, reason).await;
            }
            Next::Batch(true) => {}
            Next::Ping => socket.ping(),
            Next::Pong => socket.pong(&pinged.take()),
        }
        let sent = tokio::select! {
            biased;
            sent = socket.send() => sent,
            reason = &mut closing => {
                return say_goodbye(&mut socket, &receiver, reason).await;
            }
        };
        if sent.is_err() {
            return None;
        }
    }
}

/// The payload of the latest ping the reader saw, for the writer to answer.
#[derive(Default)]
pub(super) struct Pinged {
    payload: std::sync::Mutex<Bytes>,
    bell: crate::hub::Bell,
}

impl Pinged {
    pub(super) fn set(&self, payload: Bytes) {
        *self.payload.lock().unwrap_or_else(PoisonError::into_inner) = payload;
        self.bell.ring();
    }

    fn take(&self) -> Bytes {
        std::mem::take(&mut *self.payload.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// How long a close frame may take to leave before the connection is simply dropped.
const GOODBYE: Duration = Duration::from_secs(1);

/// Send the close frame, after the connection's last words, if the peer can still take it;
/// returns its code.
async fn say_goodbye(
    socket: &mut wire::Writer,
    receiver: &OutboxReceiver,
    reason: CloseReason,
) -> Option<u16> {
    for frame in receiver.last_words() {
        socket.put(frame);
    }
    let _ = tokio::time::timeout(GOODBYE, socket.close(reason.code, reason.reason)).await;
    Some(reason.code)
}
