//! The hub: every live room, and the way connections reach them.
//!
//! Each room runs as one task (`actor`) that owns its [`room::Room`] state; connections talk
//! to it through a bounded command channel ([`RoomHandle`]) and hear back through their own
//! bounded [`Outbox`]. The [`Hub`] is a directory of handles only: no lock is ever held
//! across an `.await`, and room state is touched by its own task alone.
//!
//! No axum and no sockets here: the WebSocket layer (`ws`) turns frames into commands.

mod actor;
pub mod room;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use dashmap::DashMap;
use plenary_protocol::{ChatId, ChatMessage, PollId, QuestionId, RoomId, ServerMessage, User};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::programme::Programme;
use crate::store::{Persister, Store, StoreError};
pub use room::{Action, Caller, Input, Refusal, RoomLimits, RoomSetup};

/// A connection's number, unique in this process.
pub type ConnId = u64;

/// A person as the server knows them on one connection.
#[derive(Debug, Clone)]
pub struct Person {
    pub user: User,
    /// Rooms their token is limited to; `None` for all.
    pub rooms: Option<Vec<RoomId>>,
}

impl Person {
    /// Whether this person may curate Q&A and chat in `room`.
    pub fn may_moderate(&self, room: &str) -> bool {
        self.user.role.is_staff()
            && self
                .rooms
                .as_ref()
                .is_none_or(|rooms| rooms.iter().any(|id| id == room))
    }
}

/// Serialise a server message once, into bytes shared by every recipient.
pub fn encode(message: &ServerMessage) -> Bytes {
    Bytes::from(serde_json::to_vec(message).expect("protocol types always serialise to JSON"))
}

/// Why a connection is being closed, sent as the WebSocket close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

struct Kick {
    reason: OnceLock<CloseReason>,
    token: CancellationToken,
}

/// One item of a connection's outgoing queue.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Bytes),
    /// Frames that go out back to back, counted as one item: a resume's replay, so that a
    /// client catching up on many events is not mistaken for one that reads too slowly.
    Replay(Vec<Bytes>),
}

/// The sending side of one connection's bounded outgoing queue. Cheap to clone; rooms hold
/// one per member. When the queue is full the connection is closed with
/// [`plenary_protocol::close::LAGGED`]: a slow reader never slows anyone else, and it
/// resumes from the log when it reconnects.
#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Outgoing>,
    kick: Arc<Kick>,
}

/// The receiving side of an [`Outbox`], drained by the connection's writer.
pub struct OutboxReceiver {
    pub frames: mpsc::Receiver<Outgoing>,
    kick: Arc<Kick>,
}

impl Outbox {
    /// A queue of at most `capacity` frames.
    pub fn new(capacity: usize) -> (Outbox, OutboxReceiver) {
        let (frames, receiver) = mpsc::channel(capacity);
        let kick = Arc::new(Kick {
            reason: OnceLock::new(),
            token: CancellationToken::new(),
        });
        (
            Outbox {
                frames,
                kick: Arc::clone(&kick),
            },
            OutboxReceiver {
                frames: receiver,
                kick,
            },
        )
    }

    /// Queue a frame. Returns false if the connection is gone or was closed for lagging.
    pub fn push(&self, frame: Bytes) -> bool {
        self.push_item(Outgoing::Frame(frame))
    }

    /// Queue a replay.
    pub fn push_replay(&self, frames: Vec<Bytes>) -> bool {
        self.push_item(Outgoing::Replay(frames))
    }

    fn push_item(&self, item: Outgoing) -> bool {
        match self.frames.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(CloseReason {
                    code: plenary_protocol::close::LAGGED,
                    reason: "lagged: reconnect and resume with since",
                });
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Close the connection with a reason (the first reason given wins).
    pub fn close(&self, reason: CloseReason) {
        let _ = self.kick.reason.set(reason);
        self.kick.token.cancel();
    }

    /// Resolves once the connection has been told to close.
    pub async fn closed(&self) {
        self.kick.token.cancelled().await;
    }
}

impl OutboxReceiver {
    /// Resolves with the reason once the connection has been told to close.
    pub fn closing(&self) -> impl Future<Output = CloseReason> + Send + 'static {
        let kick = Arc::clone(&self.kick);
        async move {
            kick.token.cancelled().await;
            *kick
                .reason
                .get()
                .expect("the reason is set before the token is cancelled")
        }
    }
}

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
pub struct Command {
    pub input: Input,
    /// Where replies to the sender go; `None` for inputs nobody answers (from the SFU).
    pub outbox: Option<Outbox>,
}

/// The way into one room's task.
#[derive(Clone)]
pub struct RoomHandle {
    commands: mpsc::Sender<Command>,
}

/// The room's task has stopped (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the room is closed")]
pub struct RoomClosed;

impl RoomHandle {
    /// Send a command, waiting while the room's queue is full.
    pub async fn send(&self, input: Input, outbox: Outbox) -> Result<(), RoomClosed> {
        self.commands
            .send(Command {
                input,
                outbox: Some(outbox),
            })
            .await
            .map_err(|_| RoomClosed)
    }

    /// Send a command that nobody answers, waiting while the room's queue is full.
    pub async fn tell(&self, input: Input) -> Result<(), RoomClosed> {
        self.commands
            .send(Command {
                input,
                outbox: None,
            })
            .await
            .map_err(|_| RoomClosed)
    }
}

/// How the hub is tuned.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    pub room: RoomLimits,
    /// Commands queued per room before senders wait.
    pub room_queue: usize,
}

/// The directory of rooms.
pub struct Hub {
    rooms: DashMap<RoomId, RoomHandle>,
    /// Which room each question lives in, so `vote` and `moderate` can be routed.
    questions: DashMap<QuestionId, RoomId>,
    next_question: AtomicU64,
    /// Which room each poll lives in.
    polls: DashMap<PollId, RoomId>,
    next_poll: AtomicU64,
    store: Arc<dyn Store>,
    next_conn: AtomicU64,
    programme: Arc<Programme>,
}

impl Hub {
    /// Load every room of the programme from the store and start its task.
    pub fn start(
        store: Arc<dyn Store>,
        persister: Persister,
        programme: Programme,
        limits: HubLimits,
        media_revoked: mpsc::Sender<MediaRevoked>,
        tasks: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Result<Arc<Hub>, StoreError> {
        let hub = Hub {
            rooms: DashMap::new(),
            questions: DashMap::new(),
            next_question: AtomicU64::new(store.max_question_id()? + 1),
            polls: DashMap::new(),
            next_poll: AtomicU64::new(store.max_poll_id()? + 1),
            store: Arc::clone(&store),
            next_conn: AtomicU64::new(1),
            programme: Arc::new(programme.clone()),
        };
        for room_def in &programme.rooms {
            let record = store.load_room(&room_def.id, limits.room.load_limits())?;
            for question in &record.questions {
                hub.questions
                    .insert(question.question.id, room_def.id.clone());
            }
            for poll in &record.polls {
                hub.polls.insert(poll.poll.id, room_def.id.clone());
            }
            let setup = RoomSetup {
                id: room_def.id.clone(),
                kind: room_def.kind,
                sessions: programme
                    .sessions_in(&room_def.id)
                    .map(|session| (session.id.clone(), session.qa_moderated))
                    .collect(),
            };
            let room = room::Room::restore(setup, record, limits.room);
            let (commands, queue) = mpsc::channel(limits.room_queue);
            tasks.spawn(actor::run(
                room,
                queue,
                persister.clone(),
                Arc::clone(&store),
                media_revoked.clone(),
                shutdown.clone(),
            ));
            hub.rooms
                .insert(room_def.id.clone(), RoomHandle { commands });
        }
        Ok(Arc::new(hub))
    }

    /// The room with this id.
    pub fn room(&self, id: &str) -> Option<RoomHandle> {
        self.rooms.get(id).map(|entry| entry.value().clone())
    }

    /// The room a question lives in.
    pub fn room_of_question(&self, question: QuestionId) -> Option<RoomHandle> {
        let room = self.questions.get(&question)?.value().clone();
        self.room(&room)
    }

    /// A new question id in the room holding `session`, or `None` if there is no such
    /// session.
    pub fn new_question(&self, session: &str) -> Option<(QuestionId, RoomHandle)> {
        let room_id = self.programme().session(session)?.room.clone();
        let room = self.room(&room_id)?;
        let id = self.next_question.fetch_add(1, Ordering::Relaxed);
        self.questions.insert(id, room_id);
        Some((id, room))
    }

    /// The room a poll lives in.
    pub fn room_of_poll(&self, poll: PollId) -> Option<RoomHandle> {
        let room = self.polls.get(&poll)?.value().clone();
        self.room(&room)
    }

    /// A new poll id in `room`, if there is such a room.
    pub fn new_poll(&self, room: &str) -> Option<(PollId, RoomHandle)> {
        let handle = self.room(room)?;
        let id = self.next_poll.fetch_add(1, Ordering::Relaxed);
        self.polls.insert(id, room.to_owned());
        Some((id, handle))
    }

    /// The room holding a session.
    pub fn room_of_session(&self, session: &str) -> Option<RoomHandle> {
        let room_id = self.programme().session(session)?.room.clone();
        self.room(&room_id)
    }

    /// Chat messages of a room older than `before`, read from the store off the runtime.
    pub async fn chat_before(
        &self,
        room: &str,
        before: ChatId,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let store = Arc::clone(&self.store);
        let room = room.to_owned();
        tokio::task::spawn_blocking(move || store.chat_before(&room, before, limit))
            .await
            .map_err(|error| StoreError::Corrupt(format!("chat history read failed: {error}")))?
    }

    /// A new connection number.
    pub fn new_conn(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// The current programme.
    pub fn programme(&self) -> Arc<Programme> {
        Arc::clone(&self.programme)
    }
}
