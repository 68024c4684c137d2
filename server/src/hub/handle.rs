//! The way into a room's task, and what it reports besides deliveries: commands go in
//! through a [`RoomHandle`]; media rights a room takes away go out to the SFU as
//! [`MediaRevoked`]. Replies and events come back through outboxes and feeds.

use plenary_protocol::RoomId;
use tokio::sync::{mpsc, oneshot};

use super::outbox::Outbox;
use super::room::{Caller, Input, Refusal};

/// A person lost the right to publish in a room (taken off stage), or to be there at all
/// (removed by a moderator); the SFU ends their media there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRevoked {
    pub room: RoomId,
    pub user: plenary_protocol::UserId,
    /// They were removed from the room: what they receive ends too, not only what they
    /// publish.
    pub receiving: bool,
}

/// A message to a room's task.
pub enum Command {
    Input {
        input: Input,
        /// Where replies to the sender go; `None` for inputs nobody answers (from the hub or
        /// the SFU).
        outbox: Option<Outbox>,
    },
    /// The SFU asks whether `caller` may receive (`publish: false`) or publish media in the
    /// room; the task numbers the question ([`Input::RtcPermit`]) and completes `reply`
    /// with the room's answer.
    Permit {
        caller: Caller,
        publish: bool,
        outbox: Outbox,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
}

/// The way into one room's task.
#[derive(Clone)]
pub struct RoomHandle {
    pub(super) commands: mpsc::Sender<Command>,
}

/// The room's task has stopped (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the room is closed")]
pub struct RoomClosed;

impl RoomHandle {
    /// Send a command, waiting while the room's queue is full.
    pub async fn send(&self, input: Input, outbox: Outbox) -> Result<(), RoomClosed> {
        self.commands
            .send(Command::Input {
                input,
                outbox: Some(outbox),
            })
            .await
            .map_err(|_| RoomClosed)
    }

    /// Ask the room whether `caller` (whose outbox this is) may receive (`publish: false`)
    /// or publish media there, waiting while the room's queue is full, then for its answer.
    pub async fn permit(
        &self,
        caller: Caller,
        publish: bool,
        outbox: Outbox,
    ) -> Result<Result<(), Refusal>, RoomClosed> {
        let (reply, verdict) = oneshot::channel();
        self.commands
            .send(Command::Permit {
                caller,
                publish,
                outbox,
                reply,
            })
            .await
            .map_err(|_| RoomClosed)?;
        verdict.await.map_err(|_| RoomClosed)
    }

    /// Send a command that nobody answers, waiting while the room's queue is full. The hub
    /// tells a room what an imported programme says about it this way (`Input::Setup`); it
    /// takes effect in order with the commands already queued.
    pub async fn tell(&self, input: Input) -> Result<(), RoomClosed> {
        self.commands
            .send(Command::Input {
                input,
                outbox: None,
            })
            .await
            .map_err(|_| RoomClosed)
    }
}
