//! The organiser API: the JSON that organisers' tools send to and receive from `/api/rooms`,
//! `/api/tracks`, `/api/speakers` and `/api/sessions`, and the per-field problems a refused
//! change is answered with.
//!
//! Inputs (`…Input`) refuse fields they do not know, so that a misspelt field in a full
//! replacement (`PUT`) is an error rather than a value silently reset. Every output can be
//! sent back as an input: a tool may read a resource, change it, and put it back.

use serde::{Deserialize, Serialize};

use crate::ids::{RoomId, SessionId, UserId};
use crate::schedule::{RoomKind, SessionKind};

/// A track as `GET /api/tracks` lists it. Sessions name it by `id`; `GET /api/schedule` shows
/// its `name`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Track {
    pub id: String,
    pub name: String,
}

/// The body of `POST /api/tracks` and `PUT /api/tracks/{id}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrackInput {
    /// Chosen by the client on `POST` (else a slug of the name); on `PUT`, absent or the
    /// id in the path.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
}

/// A speaker as `GET /api/speakers` lists them. Sessions name speakers by `id`;
/// `GET /api/schedule` shows their `name`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Speaker {
    pub id: String,
    pub name: String,
}

/// The body of `POST /api/speakers` and `PUT /api/speakers/{id}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpeakerInput {
    /// As for [`TrackInput::id`].
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
}

/// The body of `POST /api/rooms` and `PUT /api/rooms/{id}`. `GET /api/rooms` answers
/// [`crate::Room`]s.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoomInput {
    /// As for [`TrackInput::id`].
    #[serde(default)]
    pub id: Option<RoomId>,
    pub name: String,
    pub kind: RoomKind,
    /// Attendee places; absent for no limit.
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// A session as organisers see it: everything `GET /api/schedule` shows, with the track and
/// the speakers by id, and the people who run it.
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
    /// A track id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    /// Speaker ids.
    pub speakers: Vec<String>,
    /// The user ids (a token's person) of those who host it.
    pub hosts: Vec<UserId>,
    /// The user ids of those who moderate it.
    pub moderators: Vec<UserId>,
    pub subtitle: String,
    #[serde(rename = "abstract")]
    pub abstract_text: String,
    pub description: String,
    pub languages: Vec<String>,
    pub qa_moderated: bool,
}

/// The body of `POST /api/sessions` and `PUT /api/sessions/{id}`: a [`Session`], in which
/// everything but `title`, `kind`, `room`, `start` and `end` may be left out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionInput {
    /// As for [`TrackInput::id`] (the slug is the title's).
    #[serde(default)]
    pub id: Option<SessionId>,
    pub title: String,
    pub kind: SessionKind,
    pub room: RoomId,
    /// RFC 3339 with an offset, e.g. `2026-11-28T12:00:00Z`.
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub track: Option<String>,
    #[serde(default)]
    pub speakers: Vec<String>,
    #[serde(default)]
    pub hosts: Vec<UserId>,
    #[serde(default)]
    pub moderators: Vec<UserId>,
    #[serde(default)]
    pub subtitle: String,
    #[serde(default, rename = "abstract")]
    pub abstract_text: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub languages: Vec<String>,
    /// Absent: moderated for keynotes and panels, open for the rest.
    #[serde(default)]
    pub qa_moderated: Option<bool>,
}

/// One reason a change was refused, in `error.fields` of a 422 answer and in a dry run's
/// `problems`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FieldProblem {
    /// The input field at fault (`end`, `room`, `speakers`…; `id` for a deletion).
    pub field: String,
    pub code: ProblemCode,
    /// For people: names the other session, the person, the day.
    pub message: String,
    /// The other session involved: the one overlapping, or the one still using what was to
    /// be deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
}

/// Why a field was refused. Stable: tools branch on these, never on the message.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// Empty where a value is needed (a name, a title).
    Required,
    /// Not a value this field takes: a time that is not RFC 3339, an id with characters
    /// other than letters, digits, `-`, `_` and `.`, a capacity of 0.
    InvalidValue,
    /// `POST` with an id that is already taken.
    IdTaken,
    /// `PUT` with a body whose `id` is not the one in the path.
    IdMismatch,
    /// The same id listed twice.
    Duplicate,
    /// The session does not end after it starts.
    EndNotAfterStart,
    /// The session does not lie within one of the conference's days.
    OutsideConferenceDays,
    /// Another session in the same room overlaps it.
    RoomOverlap,
    /// A speaker speaks in an overlapping session.
    SpeakerDoubleBooked,
    /// A host hosts (or moderates) an overlapping session.
    HostDoubleBooked,
    /// A moderator moderates (or hosts) an overlapping session.
    ModeratorDoubleBooked,
    UnknownRoom,
    UnknownTrack,
    UnknownSpeaker,
    /// A room, track or speaker that sessions still use cannot be deleted.
    InUse,
}

/// The answer to a change made with `?dry_run=true`: what the change would meet, with
/// nothing changed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DryRun {
    /// The change would be accepted.
    pub valid: bool,
    pub problems: Vec<FieldProblem>,
}
