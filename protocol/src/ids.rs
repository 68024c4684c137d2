//! Who and what the other types name: the id aliases, a person ([`User`], [`Author`]) and
//! their [`Role`], and the `ref` a client tags a message with ([`Ref`]).

use serde::{Deserialize, Serialize};

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
/// A poll, unique on the server.
pub type PollId = u64;

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
