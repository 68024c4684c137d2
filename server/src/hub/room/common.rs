//! What the parts of a room share: the [`Output`]s the room asks of its actor, refusals, what
//! attendees see of an event, and the small builders every part answers with. A leaf: the
//! parts of a room import it, it imports none of them.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use plenary_protocol::{Author, ChatId, ErrorCode, Ref, RoomEvent, ServerMessage, UserId};

use crate::hub::frame::encode;
use crate::hub::person::{ConnId, Person};
use crate::store::{Change, StoredEvent};

/// What the actor must do, in order, once the batch's changes are durable.
#[derive(Debug)]
pub enum Output {
    /// Write this with the batch (events are persisted from [`Output::Publish`]).
    Persist(Change),
    /// Send a frame to one connection.
    Reply { conn: ConnId, frame: Bytes },
    /// Send the frames a resuming connection missed.
    Replay { conn: ConnId, frames: Vec<Bytes> },
    /// Start delivering this room's events to a connection.
    Admit {
        conn: ConnId,
        staff: bool,
        user: UserId,
    },
    /// Stop delivering to a connection.
    Dismiss { conn: ConnId },
    /// A new event: persist it, then deliver each member the view it may see.
    Publish(StoredEvent),
    /// A frame outside the event log (reactions, presence, hands): delivered to members now,
    /// never persisted or replayed.
    Broadcast { frame: Bytes, staff_only: bool },
    /// Read older chat from the store and answer `chat_history` to the connection (the room
    /// checked it may; the actor reads off the room's task).
    ReadChatHistory {
        conn: ConnId,
        reference: Option<Ref>,
        before: ChatId,
        limit: usize,
    },
    /// The answer to the [`Input::RtcPermit`](super::Input::RtcPermit) numbered `request`.
    Permit {
        request: u64,
        verdict: Result<(), Refusal>,
    },
    /// A person lost the right to publish here (or, with `receiving`, to be here at all):
    /// the SFU ends their media in this room.
    MediaRevoked { user: UserId, receiving: bool },
    /// Send a frame to every live connection of these people, whether or not they joined
    /// this room (a reminder, a place that freed): through the hub's `PersonOutboxes`.
    ToPeople { users: Vec<UserId>, frame: Bytes },
}

/// A refusal: the code and message of the `error` the sender gets. Nothing changed.
pub type Refusal = (ErrorCode, String);

/// The connections that joined the room, and who is behind each.
pub(super) type Members = HashMap<ConnId, Arc<Person>>;

/// What attendees see of an event.
pub(super) enum Public {
    /// The same as staff.
    Same,
    /// Another rendering (an anonymous question without its author).
    Different(Box<RoomEvent>),
    /// Nothing (a question waiting for approval, a draft poll).
    Hidden,
}

pub(super) fn reply(conn: ConnId, message: &ServerMessage) -> Output {
    Output::Reply {
        conn,
        frame: encode(message),
    }
}

pub(super) fn error(
    conn: ConnId,
    reference: Option<Ref>,
    code: ErrorCode,
    message: &str,
) -> Output {
    reply(
        conn,
        &ServerMessage::Error {
            reference,
            code,
            message: message.to_owned(),
        },
    )
}

pub(super) fn ack(conn: ConnId, reference: Option<Ref>, id: Option<u64>) -> Output {
    reply(conn, &ServerMessage::Ack { reference, id })
}

/// A text trimmed and checked against its limit.
pub fn checked_text(text: &str, max_chars: usize, what: &str) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err((ErrorCode::BadRequest, format!("{what} is empty")));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err((
            ErrorCode::TooLarge,
            format!("{what} has {chars} characters; at most {max_chars} are allowed"),
        ));
    }
    Ok(text.to_owned())
}

pub(super) fn author(person: &Person) -> Author {
    Author {
        id: person.user.id.clone(),
        name: person.user.name.clone(),
    }
}
