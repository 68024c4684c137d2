//! The programme as `GET /api/schedule` shows it: the conference, its days, rooms and
//! sessions; and what an import of one answers ([`ImportSummary`]). The organiser API's own
//! shapes are in [`organiser`](crate::organiser).

use serde::{Deserialize, Serialize};

use crate::ids::{RoomId, SessionId};

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

impl RoomKind {
    /// Every kind of room, in declaration order.
    pub const ALL: [RoomKind; 2] = [RoomKind::Stage, RoomKind::Workshop];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Stage => "stage",
            RoomKind::Workshop => "workshop",
        }
    }
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

impl SessionKind {
    /// Every kind of session, in declaration order.
    pub const ALL: [SessionKind; 5] = [
        SessionKind::Keynote,
        SessionKind::Panel,
        SessionKind::Workshop,
        SessionKind::Talk,
        SessionKind::Break,
    ];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Keynote => "keynote",
            SessionKind::Panel => "panel",
            SessionKind::Workshop => "workshop",
            SessionKind::Talk => "talk",
            SessionKind::Break => "break",
        }
    }
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
