//! What the server sends: [`ServerMessage`] and its payloads, among them the
//! [`RoomSnapshot`] a join without `since` answers with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::event::{ChatMessage, Poll, Question, RoomEvent, SessionPhase};
use crate::ids::{Author, ChatId, PollId, QuestionId, Ref, RoomId, SessionId, User, UserId};
use crate::is_false;
use crate::rtc::{IceCandidate, IceServer, PcKind, TrackInfo};

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
        /// STUN and TURN servers for the client's peer connections (absent: none needed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// The rooms this person's token limits them to (their role counts only there);
        /// absent for every room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rooms: Option<Vec<RoomId>>,
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
    /// Answer to `chat_history`: older messages, oldest first, removed ones left out.
    ChatHistory {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        messages: Vec<ChatMessage>,
    },
    /// Answer to `moderation_log`: who did what to the session's questions, oldest first.
    ModerationLog {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        session: SessionId,
        entries: Vec<ModerationEntry>,
    },
    /// Reactions in a room over the last interval (not part of the event log).
    Reactions {
        room: RoomId,
        counts: BTreeMap<String, u32>,
    },
    /// How many people are in a room, sent when it changes, at most once per interval (not
    /// part of the event log). Workshop rooms also list who is there.
    Presence {
        room: RoomId,
        count: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        people: Option<Vec<Author>>,
    },
    /// The raised hands of a workshop room, in the order they were raised (to staff, and to
    /// each person about their own hand; not part of the event log).
    Hands {
        room: RoomId,
        queue: Vec<RaisedHand>,
    },
    /// This connection was removed from a room by a moderator; it no longer receives its
    /// events and cannot join it again.
    Removed { room: RoomId },
    /// The server's answer to `rtc_publish` (`pc: "publish"`). It carries the server's ICE
    /// candidates, so clients that do not trickle need nothing else.
    RtcAnswer {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        pc: PcKind,
        sdp: String,
    },
    /// The server's offer for the connection's `subscribe` peer connection in a room, sent
    /// after `rtc_subscribe` and again whenever the room's tracks change. Answer it with
    /// `rtc_answer`. At most one is outstanding per room and connection.
    RtcOffer {
        room: RoomId,
        pc: PcKind,
        sdp: String,
        /// For a subscribe offer: the id of the room's track (see [`TrackInfo`]) each m-line
        /// carries, by its `mid`. An m-line is reused by later tracks of its kind once its
        /// track ends, so a track is known by its m-line's mid, not by an id in the SDP.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        tracks: BTreeMap<String, String>,
    },
    /// A server ICE candidate found after its SDP was sent (slow STUN or TURN).
    RtcCandidate {
        room: RoomId,
        pc: PcKind,
        candidate: IceCandidate,
    },
    /// Where this person stands in a workshop session: the answer to `register` and
    /// `unregister` (with `ref`), and, sent to every connection of the person, the news that
    /// a place freed and they moved up from the waitlist (`promoted`), or that a smaller room
    /// put them back on it.
    Registration {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        session: SessionId,
        status: RegistrationStatus,
        /// On the waitlist: how many are ahead, plus one (1 is next in line).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        /// This message tells of a place that came free: the person did nothing.
        #[serde(default, skip_serializing_if = "is_false")]
        promoted: bool,
    },
    /// A bookmarked session starts soon. Sent once per person and session, to every
    /// connection the person has open at the time (`Config::reminder` before the start,
    /// 10 minutes by default).
    Reminder {
        session: SessionId,
        room: RoomId,
        /// RFC 3339 UTC.
        start: String,
        /// Whole minutes until the start, rounded up.
        minutes: u32,
    },
    /// Answer to `agenda`: this person's bookmarks and workshop registrations.
    Agenda {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        /// Bookmarked sessions, in programme order.
        bookmarks: Vec<SessionId>,
        registrations: Vec<Registration>,
        /// How the places of every session of a workshop room with a capacity are taken now,
        /// in programme order: what the programme shows before a person registers.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        seats: Vec<SessionSeats>,
    },
}

/// Whether a person has a place in a workshop session.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// They have a place: a full workshop room still lets them in.
    Registered,
    /// Every place is taken; they move up when one frees.
    Waitlisted,
    /// Neither (after `unregister`).
    Unregistered,
}

/// One's registration for one workshop session.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub session: SessionId,
    pub status: RegistrationStatus,
    /// On the waitlist: 1 is next in line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

/// How the places of a workshop session are taken.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatCount {
    /// The room's capacity: places for attendees (staff never take one).
    pub capacity: u32,
    /// Places taken, at most `capacity`.
    pub registered: u32,
    /// People waiting for a place.
    pub waitlisted: u32,
}

/// How the places of one workshop session are taken (`agenda`'s `seats`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SessionSeats {
    pub session: SessionId,
    #[serde(flatten)]
    pub count: SeatCount,
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
    /// Sessions of this room whose Q&A is closed.
    #[serde(default)]
    pub qa_closed: Vec<SessionId>,
    /// The room's polls that this person may see (staff see drafts).
    #[serde(default)]
    pub polls: Vec<Poll>,
    /// This person's choices in the room's polls.
    #[serde(default)]
    pub poll_votes: Vec<PollVoteRecord>,
    /// Until when this person is muted in the room (RFC 3339 UTC), if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<String>,
    /// For staff: everyone muted in the room now, so a moderator who arrives later can lift it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub muted: Vec<MutedPerson>,
    /// For staff: the recent chat messages people flagged, with how many flagged each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flagged: BTreeMap<ChatId, u32>,
    /// Where each of the room's sessions is on the clock.
    #[serde(default)]
    pub phases: BTreeMap<SessionId, SessionPhase>,
    /// The room's live tracks.
    #[serde(default)]
    pub tracks: Vec<TrackInfo>,
    /// Attendees a host or moderator brought on stage (they may publish here).
    #[serde(default)]
    pub on_stage: Vec<UserId>,
    /// How the places of each of the room's sessions are taken (rooms with a capacity).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seats: BTreeMap<SessionId, SeatCount>,
    /// This person's registrations for the room's sessions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registrations: Vec<Registration>,
}

/// Someone muted in a room, and until when (RFC 3339 UTC).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MutedPerson {
    pub user: Author,
    pub until: String,
}

/// A person's choices in one poll.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PollVoteRecord {
    pub poll: PollId,
    pub choices: Vec<u32>,
}

/// One entry of a session's moderation log.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ModerationEntry {
    /// RFC 3339 UTC.
    pub at: String,
    pub by: Author,
    /// `approve`, `reject`, `edit`, …, or `qa_open` / `qa_close`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<QuestionId>,
    /// What changed, for edits and merges.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A raised hand.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RaisedHand {
    pub user: Author,
    /// RFC 3339 UTC.
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

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
