//! Plenary's wire protocol: the serde types that the server, the web client, the loadtest and
//! the end-to-end tests agree on. Nothing here does I/O; the crate depends on serde alone.
//!
//! # Transport
//!
//! One WebSocket per browser tab at `GET /ws`, JSON text frames, one message per frame.
//! Every client message is an object with a `type` ([`ClientMessage`]) and may carry `ref`
//! (a string or a number, at most [`MAX_REF_CHARS`] characters); the server echoes `ref` on
//! the [`ServerMessage::Ack`] or [`ServerMessage::Error`] that answers the message.
//!
//! # Session
//!
//! 1. The client sends [`ClientMessage::Hello`] first; anything else before it gets
//!    [`ErrorCode::Unauthorized`]. The answer is [`ServerMessage::Welcome`].
//! 2. [`ClientMessage::Join`] enters a room. The answer is [`ServerMessage::Joined`] with the
//!    room's last sequence number; after it the client receives every event of the room as
//!    [`ServerMessage::Event`].
//! 3. To resume after a network drop the client joins again with `since` set to the last `seq`
//!    it saw: the server replays exactly the events after it, in order, then live ones.
//!
//! # Compatibility
//!
//! Variants and fields are added, never re-purposed. Clients ignore fields they do not know.

use serde::{Deserialize, Serialize};

/// Longest chat message, in characters (Unicode scalar values).
pub const MAX_CHAT_CHARS: usize = 2_000;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 60;
/// Longest `ref` a client may attach, in characters.
pub const MAX_REF_CHARS: usize = 64;

/// WebSocket close codes the server uses, with the reason text it sends.
pub mod close {
    /// The server is restarting or shutting down: reconnect (with backoff) and resume.
    pub const RESTARTING: u16 = 1012;
    /// A frame was larger than the server accepts.
    pub const TOO_LARGE: u16 = 1009;
    /// The server failed; reconnect and resume with `since`.
    pub const SERVER_ERROR: u16 = 1011;
    /// The connection's outgoing queue overflowed (it read too slowly): reconnect and resume
    /// with `since`; nothing is lost.
    pub const LAGGED: u16 = 4008;
}

/// A room: the main stage or a workshop room. Every live space is a room with its own ordered
/// event log. Ids are short slugs such as `main-stage`.
pub type RoomId = String;
/// A session of the programme (keynote, panel, workshop, talk, break).
pub type SessionId = String;
/// A person. Ids are opaque strings minted by the server or by `plenary token`.
pub type UserId = String;
/// A question, unique on the server.
pub type QuestionId = u64;
/// A chat message, unique within its room (it is the `seq` of the event that carried it).
pub type ChatId = u64;

/// What a person may do. Everyone may watch, chat, ask and vote; staff (moderator, host,
/// organiser) also curate questions and remove chat.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Attendee,
    Moderator,
    Host,
    Organiser,
}

impl Role {
    /// Every role, in order of increasing responsibility.
    pub const ALL: [Role; 4] = [Role::Attendee, Role::Moderator, Role::Host, Role::Organiser];

    /// Staff see pending questions and may moderate Q&A and chat.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Attendee)
    }

    /// The name used on the wire and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Attendee => "attendee",
            Role::Moderator => "moderator",
            Role::Host => "host",
            Role::Organiser => "organiser",
        }
    }
}

/// The person behind a connection, as the server knows them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

/// Who wrote a chat message or asked a question.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: UserId,
    pub name: String,
}

/// A client's correlation tag, echoed on the answer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub enum Ref {
    Number(i64),
    Text(String),
}

/// Messages a client sends. Tagged by `type`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on a connection. `token` is a signed token (an invite link's or a
    /// personal one); without it the person is a guest attendee called `name`. An invite token
    /// or no token makes a new person, whose personal token comes back in `welcome`.
    Hello {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Enter a room. With `since`, the events after that seq are replayed after `joined`;
    /// without it, `joined` carries a snapshot of the room.
    Join {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
    },
    /// Leave a room; events of it stop. Answered by `ack`.
    Leave {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
    },
    /// Post to a room's chat (the sender must have joined it). Answered by `ack` with the
    /// message's `id` once it is durable; the room receives a `chat` event.
    Chat {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        text: String,
    },
    /// Ask a question in a session's Q&A. Answered by `ack` with the question's `id`.
    Ask {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        session: SessionId,
        text: String,
        /// Hide the author from attendees (moderators still see who asked).
        #[serde(default)]
        anonymous: bool,
    },
    /// Upvote a question, once per person; a second vote changes nothing.
    Vote {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        question: QuestionId,
    },
    /// Curate a question (staff only).
    Moderate {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        question: QuestionId,
        action: ModerateAction,
    },
    /// Remove a chat message (staff only); the room receives `chat_removed`.
    RemoveChat {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        id: ChatId,
    },
}

impl ClientMessage {
    /// Every `type` a client may send, for telling `unknown_type` from `bad_request`.
    pub const TYPES: [&'static str; 8] = [
        "hello",
        "join",
        "leave",
        "chat",
        "ask",
        "vote",
        "moderate",
        "remove_chat",
    ];

    /// The client's `ref`, echoed on the answer.
    pub fn reference(&self) -> Option<&Ref> {
        match self {
            ClientMessage::Hello { reference, .. }
            | ClientMessage::Join { reference, .. }
            | ClientMessage::Leave { reference, .. }
            | ClientMessage::Chat { reference, .. }
            | ClientMessage::Ask { reference, .. }
            | ClientMessage::Vote { reference, .. }
            | ClientMessage::Moderate { reference, .. }
            | ClientMessage::RemoveChat { reference, .. } => reference.as_ref(),
        }
    }
}

/// The first fields of any client frame, read before the whole message so that an answer to
/// a malformed message can still carry its `ref`, and an unknown `type` can be told apart.
#[derive(Deserialize, Debug)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, rename = "ref")]
    pub reference: Option<Ref>,
}

/// What a moderator does to a question.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModerateAction {
    Approve,
    Reject,
    Pin,
    Unpin,
    Answered,
}

/// Messages the server sends. Tagged by `type`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `hello`.
    Welcome {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        user: User,
        /// A personal token for this person, sent when the hello used an invite token or none:
        /// the client keeps it and says hello with it next time, so it stays the same person.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Answer to `join`.
    Joined {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        /// The room's last event sequence number at the moment of joining.
        seq: u64,
        /// The room's state, sent when `join` had no `since`, or when `since` is older than the
        /// history the room keeps (then `resync` is true and the client must replace its state).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<RoomSnapshot>,
        /// `since` was older than the replayable history: events were not replayed; the
        /// snapshot replaces what the client had.
        #[serde(default, skip_serializing_if = "is_false")]
        resync: bool,
    },
    /// One event of a room. `seq` increases by one per room; a member receives the events
    /// its role may see, so an attendee's stream skips the numbers of moderator-only events
    /// (such as a question waiting for approval).
    Event {
        room: RoomId,
        seq: u64,
        event: RoomEvent,
    },
    /// A client message was carried out (and is durable). `id` names what it created.
    Ack {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// A client message was refused; nothing changed. The connection stays open.
    Error {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        code: ErrorCode,
        message: String,
    },
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A room's state for a client that joins without `since`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RoomSnapshot {
    /// The latest chat messages, oldest first, removed ones left out.
    pub chat: Vec<ChatMessage>,
    /// The questions of the room's sessions that this person may see, oldest first.
    pub questions: Vec<Question>,
    /// The questions among them this person has voted for.
    pub voted: Vec<QuestionId>,
}

/// What happens in a room. Tagged by `kind`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A chat message was posted.
    Chat(ChatMessage),
    /// A moderator removed a chat message.
    ChatRemoved { id: ChatId },
    /// A question was asked or changed; it carries the question's whole new state.
    Question(Question),
}

/// A chat message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: ChatId,
    pub text: String,
    pub author: Author,
    /// When the server accepted it, RFC 3339 UTC.
    pub at: String,
}

/// A question in a session's Q&A, in full.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: QuestionId,
    pub session: SessionId,
    pub text: String,
    /// Absent for anonymous questions, except to moderators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Author>,
    pub anonymous: bool,
    pub votes: u32,
    pub status: QuestionStatus,
    pub pinned: bool,
    /// When it was asked, RFC 3339 UTC.
    pub at: String,
}

/// Where a question is in moderation.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QuestionStatus {
    /// Waiting for a moderator (moderated sessions only); visible to staff and the asker.
    Pending,
    /// Visible to everyone.
    Approved,
    /// Hidden from attendees.
    Rejected,
    /// Answered on stage; still visible.
    Answered,
}

/// Stable error codes. Clients branch on these, never on the message text.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed JSON, a missing field or a field of the wrong type.
    BadRequest,
    /// A `type` the server does not know.
    UnknownType,
    /// No `hello` yet, or the token is invalid or expired.
    Unauthorized,
    /// The person's role may not do this.
    Forbidden,
    /// No such room, session, question or message.
    NotFound,
    /// The action needs the room to be joined first.
    NotJoined,
    /// A text or frame is over its limit.
    TooLarge,
    /// Too many messages too fast.
    RateLimited,
    /// The action does not fit the current state (e.g. `hello` twice).
    Conflict,
    /// The server failed; the action did not happen and may be retried.
    Internal,
}

/// `GET /api/schedule`: the programme.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Schedule {
    pub conference: Conference,
    pub rooms: Vec<Room>,
    pub sessions: Vec<Session>,
    /// The conference days, in order.
    #[serde(default)]
    pub days: Vec<Day>,
    /// Track names, in display order.
    #[serde(default)]
    pub tracks: Vec<String>,
}

/// A conference day. It may run past midnight.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Day {
    /// The calendar date naming the day, `YYYY-MM-DD` in the conference's time zone.
    pub date: String,
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC.
    pub end: String,
}

/// The conference as a whole.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Conference {
    pub name: String,
    /// IANA time zone of the venue, e.g. `Europe/London`.
    pub timezone: String,
}

/// A room of the programme.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
    pub kind: RoomKind,
    /// How many attendees fit; absent for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

/// Whether a room is a stage (one-to-many) or a workshop (small, interactive).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Stage,
    Workshop,
}

/// A session of the programme.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub title: String,
    pub kind: SessionKind,
    pub room: RoomId,
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC.
    pub end: String,
    pub speakers: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Questions need a moderator's approval before attendees see them.
    pub qa_moderated: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subtitle: String,
    /// A short summary; `description` is the long text.
    #[serde(default, rename = "abstract", skip_serializing_if = "String::is_empty")]
    pub abstract_text: String,
    /// The track's name, one of the schedule's `tracks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    /// Language codes such as `en`; some sessions are held in two.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
}

/// What kind of session.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Keynote,
    Panel,
    Workshop,
    Talk,
    Break,
}

/// The answer to `POST /api/schedule/import`: what the imported programme holds, and what
/// the importer had to guess or leave out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ImportSummary {
    pub rooms: usize,
    pub sessions: usize,
    /// Different speaker names.
    pub speakers: usize,
    /// Human-readable notes, e.g. a time zone taken from the events' UTC offsets.
    pub warnings: Vec<String>,
}

/// The body of every HTTP error: `{"error":{"code":…,"message":…}}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HttpError {
    pub error: HttpErrorBody,
}

/// See [`HttpError`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HttpErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_use_the_documented_shape() {
        let chat: ClientMessage =
            serde_json::from_str(r#"{"type":"chat","room":"main-stage","text":"hi","ref":7}"#)
                .expect("documented chat message parses");
        assert_eq!(
            chat,
            ClientMessage::Chat {
                reference: Some(Ref::Number(7)),
                room: "main-stage".into(),
                text: "hi".into()
            }
        );
        let moderate: ClientMessage =
            serde_json::from_str(r#"{"type":"moderate","question":3,"action":"answered"}"#)
                .expect("documented moderate message parses");
        assert!(matches!(
            moderate,
            ClientMessage::Moderate {
                action: ModerateAction::Answered,
                ..
            }
        ));
    }

    #[test]
    fn every_client_type_is_listed() {
        for kind in ClientMessage::TYPES {
            let parsed = serde_json::from_str::<ClientMessage>(&format!(r#"{{"type":"{kind}"}}"#));
            // Each listed type is known: it fails only for its missing fields, never as unknown.
            if let Err(error) = parsed {
                assert!(
                    !error.to_string().contains("unknown variant"),
                    "{kind}: {error}"
                );
            }
        }
    }

    #[test]
    fn events_serialise_with_kind_inside_event() {
        let message = ServerMessage::Event {
            room: "main-stage".into(),
            seq: 4,
            event: RoomEvent::ChatRemoved { id: 2 },
        };
        assert_eq!(
            serde_json::to_string(&message).expect("serialises"),
            r#"{"type":"event","room":"main-stage","seq":4,"event":{"kind":"chat_removed","id":2}}"#
        );
    }
}
