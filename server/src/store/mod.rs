//! Durable state: the programme, each room's event log, chat and questions, and each
//! person's bookmarks and workshop sign-ups.
//!
//! [`Store`] is the small trait the rest of the server sees, with the records it reads and
//! writes ([`RoomRecord`], [`Change`], …) and [`StoreError`]; nothing here knows how they are
//! kept. [`SqliteStore`] (`sqlite/`, the only code that knows rusqlite) is the embedded
//! default (one file in the data directory). [`Persister`] runs every write on one dedicated
//! thread and commits whatever has queued up in one transaction (group commit), so a busy
//! conference pays one fsync per batch, not one per message. Rooms acknowledge an action only
//! after its batch has committed.

mod jetstream;
mod persister;
mod sqlite;

pub use jetstream::{JetStreamStore, LogConfig, STREAM, connect, nats_servers};
pub use persister::{GROUP_COMMIT_BATCHES, Persister};
pub use sqlite::SqliteStore;

use bytes::Bytes;
use plenary_protocol::{
    Author, ChatId, ChatMessage, ModerationEntry, Poll, PollId, Question, QuestionId, RoomId,
    SessionId, SessionPhase, UserId,
};
use serde::{Deserialize, Serialize};

use crate::programme::Programme;

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (for [`SqliteStore`], SQLite's own error).
    #[error("database: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store's writer thread has stopped")]
    WriterGone,
    /// Another node runs the conference now: this node's writes are refused (a cluster's
    /// fencing, `jetstream`).
    #[error("fenced: {0}")]
    Fenced(String),
}

/// A backend's error as a [`StoreError`].
pub(crate) fn to_backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// Frames are JSON text: the log keeps them as strings, not arrays of bytes.
mod frame_text {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(frame: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
        let text = std::str::from_utf8(frame).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        String::deserialize(deserializer)
            .map(Bytes::from)
            .map_err(D::Error::custom)
    }

    pub mod optional {
        use bytes::Bytes;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            frame: &Option<Bytes>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match frame {
                Some(frame) => super::serialize(frame, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Bytes>, D::Error> {
            Ok(Option::<String>::deserialize(deserializer)?.map(Bytes::from))
        }
    }
}

/// One stored event of a room's log: the frames each audience receives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEvent {
    pub room: RoomId,
    pub seq: u64,
    /// The frame everyone may see; `None` for a staff-only event.
    #[serde(with = "frame_text::optional")]
    pub public: Option<Bytes>,
    /// The frame staff see.
    #[serde(with = "frame_text")]
    pub staff: Bytes,
    /// A person who is not staff but sees the staff frame (the asker of a pending question).
    pub owner: Option<UserId>,
}

/// A stored question with what the wire type does not carry.
#[derive(Debug, Clone)]
pub struct StoredQuestion {
    /// The question with its author always filled in.
    pub question: Question,
    /// Attendees have seen it (approved at some point), so they must hear when it is rejected.
    pub ever_public: bool,
    /// Who voted for it.
    pub voters: Vec<UserId>,
}

/// A stored poll with everyone's choices.
#[derive(Debug, Clone)]
pub struct StoredPoll {
    /// The poll with its counts always filled in.
    pub poll: Poll,
    pub votes: Vec<(UserId, Vec<u32>)>,
}

/// A sanction on a person in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sanction {
    /// May not chat until then (Unix milliseconds).
    Muted { until_ms: i64 },
    /// Removed from the room.
    Removed,
}

/// A write, applied together with the others of its batch in one transaction. A cluster's
/// log carries them as JSON (`jetstream`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Change {
    Event(StoredEvent),
    Chat {
        room: RoomId,
        message: ChatMessage,
    },
    ChatRemoved {
        room: RoomId,
        id: ChatId,
    },
    /// A person flagged a chat message for the moderators.
    ChatFlag {
        room: RoomId,
        id: ChatId,
        user: UserId,
    },
    /// Insert or replace a question's state (votes, status, pin, text).
    Question {
        room: RoomId,
        question: Question,
        ever_public: bool,
    },
    Vote {
        question: QuestionId,
        user: UserId,
    },
    Unvote {
        question: QuestionId,
        user: UserId,
    },
    /// A client's own id for a message it sent, and what it created, so a retry is answered
    /// the same way.
    ClientId {
        room: RoomId,
        user: UserId,
        client_id: String,
        created: u64,
    },
    /// Open (`closed: false`) or close a session's Q&A.
    QaClosed {
        session: SessionId,
        closed: bool,
    },
    ModerationEntry {
        room: RoomId,
        session: SessionId,
        entry: ModerationEntry,
    },
    /// Insert or replace a poll (with its counts).
    Poll(Poll),
    /// Replace a person's choices in a poll.
    PollVote {
        poll: PollId,
        user: UserId,
        choices: Vec<u32>,
    },
    /// The phase a session was last announced in.
    SessionPhase {
        session: SessionId,
        phase: SessionPhase,
    },
    /// A host's start or end time for a session (Unix milliseconds), replacing the planned one.
    SessionOverride {
        session: SessionId,
        started_ms: Option<i64>,
        ended_ms: Option<i64>,
    },
    /// Set (`Some`) or lift (`None`) a person's sanction in a room.
    Sanction {
        room: RoomId,
        user: Author,
        sanction: Option<Sanction>,
    },
    /// A host or moderator brought a person on stage in a room (or took them off it).
    StageGrant {
        room: RoomId,
        user: UserId,
        allowed: bool,
    },
    /// Add a session to a person's agenda (`on`) or take it off.
    Bookmark {
        user: UserId,
        session: SessionId,
        on: bool,
    },
    /// A person was reminded of a bookmarked session: never again.
    Reminded {
        session: SessionId,
        user: UserId,
    },
    /// A person asked for a place in a workshop session; `number` ranks the session's
    /// sign-ups in the order they came.
    SignUp {
        session: SessionId,
        user: UserId,
        number: u64,
    },
    /// A person gave up their place or waitlist position.
    SignUpWithdrawn {
        session: SessionId,
        user: UserId,
    },
}

/// What a room needs to come back after a restart.
#[derive(Debug, Default)]
pub struct RoomRecord {
    /// The room's last event sequence number (0 for a new room).
    pub last_seq: u64,
    /// The newest events, oldest first, at most the number asked for.
    pub events: Vec<StoredEvent>,
    /// The newest chat messages not removed, oldest first.
    pub chat: Vec<ChatMessage>,
    pub questions: Vec<StoredQuestion>,
    /// The newest client ids sent to this room: (person, client id, what it created).
    pub client_ids: Vec<(UserId, String, u64)>,
    /// Sessions whose Q&A is closed (of every room: the room keeps its own).
    pub qa_closed: Vec<SessionId>,
    /// The moderation log of the room's sessions, oldest first.
    pub moderation_log: Vec<(SessionId, ModerationEntry)>,
    pub polls: Vec<StoredPoll>,
    pub sanctions: Vec<(Author, Sanction)>,
    /// Who flagged which chat messages for the moderators: (message, person).
    pub chat_flags: Vec<(ChatId, UserId)>,
    /// The phase each session was last announced in (of every room: the room keeps its own).
    pub phases: Vec<(SessionId, SessionPhase)>,
    /// Hosts' changes to sessions' times: (session, started, ended), Unix milliseconds.
    pub overrides: Vec<(SessionId, Option<i64>, Option<i64>)>,
    /// People brought on stage in the room: they may publish media there.
    pub on_stage: Vec<UserId>,
    /// Bookmarks, reminders and sign-ups of the room's sessions.
    pub people: SessionPeople,
}

/// Who bookmarked some sessions, whom their reminders reached, and who signed up for them.
#[derive(Debug, Default)]
pub struct SessionPeople {
    /// (session, person).
    pub bookmarks: Vec<(SessionId, UserId)>,
    /// Reminders already sent: (session, person).
    pub reminded: Vec<(SessionId, UserId)>,
    /// (session, person, number), in each session's order.
    pub sign_ups: Vec<(SessionId, UserId, u64)>,
}

/// One person's agenda as stored: what they bookmarked and signed up for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoredAgenda {
    pub bookmarks: Vec<SessionId>,
    /// (session, index among the session's sign-ups: 0 for the first to ask).
    pub sign_ups: Vec<(SessionId, usize)>,
    /// (session, how many signed up for it, everyone's), for every session with a sign-up.
    pub sign_up_counts: Vec<(SessionId, usize)>,
}

/// How much of a room's past [`Store::load_room`] brings back.
#[derive(Debug, Clone, Copy)]
pub struct LoadLimits {
    pub events: usize,
    pub chat: usize,
    pub client_ids: usize,
}

/// The storage the server runs on. Implementations block; callers run them off the async
/// runtime (the [`Persister`] thread, or start-up).
pub trait Store: Send + Sync + 'static {
    /// The stored programme, or `None` on an empty data directory.
    fn load_programme(&self) -> Result<Option<Programme>, StoreError>;
    /// Replace the whole programme, all or nothing. Rooms and sessions are keyed by their
    /// ids: saving a programme again changes rows in place and never duplicates them.
    fn save_programme(&self, programme: &Programme) -> Result<(), StoreError>;
    /// A room's recent history and state: at most `limits.events` events, `limits.chat`
    /// chat messages and `limits.client_ids` client ids.
    fn load_room(&self, room: &str, limits: LoadLimits) -> Result<RoomRecord, StoreError>;
    /// The largest question id handed out so far (0 if none).
    fn max_question_id(&self) -> Result<QuestionId, StoreError>;
    /// The largest poll id handed out so far (0 if none).
    fn max_poll_id(&self) -> Result<PollId, StoreError>;
    /// Up to `limit` chat messages of a room older than `before`, oldest first, removed ones
    /// left out.
    fn chat_before(
        &self,
        room: &str,
        before: ChatId,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError>;
    /// A person's bookmarks and sign-ups.
    fn agenda_of(&self, user: &str) -> Result<StoredAgenda, StoreError>;
    /// The people of one session (for a room the session moved into).
    fn session_people(&self, session: &str) -> Result<SessionPeople, StoreError>;
    /// Apply every change, all or nothing, durably.
    fn commit(&self, changes: &[&Change]) -> Result<(), StoreError>;
}
