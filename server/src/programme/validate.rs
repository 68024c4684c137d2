//! The rules a programme change must keep, checked without I/O: each function looks at one
//! room, track, speaker or session as it would be, against the rest of the programme, and
//! returns every problem it finds (not only the first), each with the field at fault and a
//! stable code.
//!
//! Only what the change touches is checked: a programme imported with overlaps of its own
//! (real ones have them) can still be edited; the session being changed must not add one.

use jiff::Timestamp;
use plenary_protocol::organiser::{FieldProblem, ProblemCode};

use super::{Programme, RoomDef, SessionDef};

/// Everything wrong with a change; empty when it may go ahead.
pub type Problems = Vec<FieldProblem>;

/// The longest id a client may choose.
const MAX_ID_CHARS: usize = 128;

/// A problem with a field.
pub(crate) fn problem(field: &str, code: ProblemCode, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.to_owned(),
        code,
        message: message.into(),
        session: None,
    }
}

/// A problem with a field that another session is part of.
fn with_session(
    field: &str,
    code: ProblemCode,
    message: impl Into<String>,
    session: &SessionDef,
) -> FieldProblem {
    FieldProblem {
        session: Some(session.id.clone()),
        ..problem(field, code, message)
    }
}

/// A text that must say something.
pub(crate) fn required(field: &str, text: &str, problems: &mut Problems) {
    if text.trim().is_empty() {
        problems.push(problem(
            field,
            ProblemCode::Required,
            format!("`{field}` may not be empty"),
        ));
    }
}

/// An id a client chose for something new: letters, digits, `-`, `_` and `.`, at most
/// [`MAX_ID_CHARS`], and not `taken`.
pub(crate) fn new_id(id: &str, taken: bool, problems: &mut Problems) {
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || !id.chars().all(allowed) {
        problems.push(problem(
            "id",
            ProblemCode::InvalidValue,
            format!(
                "{id:?} is not an id: use 1 to {MAX_ID_CHARS} letters, digits, `-`, `_` or `.`"
            ),
        ));
    } else if taken {
        problems.push(problem(
            "id",
            ProblemCode::IdTaken,
            format!("the id {id:?} is taken"),
        ));
    }
}

/// A room as it would be: a name of its own, and a capacity of at least one place.
pub fn room(programme: &Programme, room: &RoomDef) -> Problems {
    let mut problems = Problems::new();
    required("name", &room.name, &mut problems);
    if let Some(other) = programme
        .rooms
        .iter()
        .find(|other| other.id != room.id && other.name == room.name)
    {
        // Schedule files list events under their room's name.
        problems.push(problem(
            "name",
            ProblemCode::Duplicate,
            format!("the room {:?} has this name already", other.id),
        ));
    }
    if room.capacity == Some(0) {
        problems.push(problem(
            "capacity",
            ProblemCode::InvalidValue,
            "a capacity is at least 1 place; leave it out for no limit",
        ));
    }
    problems
}

/// A track's name as it would be: not empty, and not another track's (the schedule shows
/// tracks by name).
pub fn track_name(programme: &Programme, id: &str, name: &str) -> Problems {
    let mut problems = Problems::new();
    required("name", name, &mut problems);
    if let Some(other) = programme
        .tracks
        .iter()
        .find(|other| other.id != id && other.name == name)
    {
        problems.push(problem(
            "name",
            ProblemCode::Duplicate,
            format!("the track {:?} has this name already", other.id),
        ));
    }
    problems
}

/// What of a session does not depend on its times: a title, and a room, track and speakers
/// that exist, each listed once, and people's ids.
pub fn session_fields(programme: &Programme, session: &SessionDef) -> Problems {
    let mut problems = Problems::new();
    required("title", &session.title, &mut problems);
    if programme.room(&session.room).is_none() {
        problems.push(problem(
            "room",
            ProblemCode::UnknownRoom,
            format!("there is no room {:?}", session.room),
        ));
    }
    if let Some(track) = &session.track {
        if programme.track(track).is_none() {
            problems.push(problem(
                "track",
                ProblemCode::UnknownTrack,
                format!("there is no track {track:?}"),
            ));
        }
    }
    for (index, speaker) in session.speakers.iter().enumerate() {
        if programme.speaker(speaker).is_none() {
            problems.push(problem(
                "speakers",
                ProblemCode::UnknownSpeaker,
                format!("there is no speaker {speaker:?}"),
            ));
        }
        listed_once("speakers", &session.speakers, index, &mut problems);
    }
    for (field, people) in [
        ("hosts", &session.hosts),
        ("moderators", &session.moderators),
    ] {
        for (index, person) in people.iter().enumerate() {
            if person.trim().is_empty() {
                problems.push(problem(
                    field,
                    ProblemCode::InvalidValue,
                    format!("`{field}` lists people by user id; an empty one is none"),
                ));
            }
            listed_once(field, people, index, &mut problems);
        }
    }
    problems
}

/// Report the item at `index` if it came earlier in the list too.
fn listed_once(field: &str, items: &[String], index: usize, problems: &mut Problems) {
    if items[..index].contains(&items[index]) {
        problems.push(problem(
            field,
            ProblemCode::Duplicate,
            format!("{:?} is listed twice", items[index]),
        ));
    }
}

/// `[start, end)` and `[other_start, other_end)` share some time.
fn overlap(session: &SessionDef, other: &SessionDef) -> bool {
    session.start < other.end && other.start < session.end
}

fn span(start: Timestamp, end: Timestamp) -> String {
    format!("{start} to {end}")
}

/// A session's times: it ends after it starts, lies within one conference day, and books no
/// room, speaker, host or moderator that another session holds at the same time. A person
/// who hosts or moderates one session cannot host or moderate another at the same time.
pub fn session_times(programme: &Programme, session: &SessionDef) -> Problems {
    let mut problems = Problems::new();
    if session.end <= session.start {
        problems.push(problem(
            "end",
            ProblemCode::EndNotAfterStart,
            format!(
                "the session ends ({}) before or when it starts ({})",
                session.end, session.start
            ),
        ));
        return problems;
    }
    let within_a_day = programme
        .days
        .iter()
        .any(|day| day.start <= session.start && session.end <= day.end);
    if !within_a_day {
        let days: Vec<String> = programme
            .days
            .iter()
            .map(|day| format!("{} ({})", day.date, span(day.start, day.end)))
            .collect();
        problems.push(problem(
            "start",
            ProblemCode::OutsideConferenceDays,
            format!(
                "{} is not within one of the conference's days: {}",
                span(session.start, session.end),
                days.join(", ")
            ),
        ));
    }
    let staff = |other: &SessionDef, person: &String| {
        other.hosts.contains(person) || other.moderators.contains(person)
    };
    for other in &programme.sessions {
        if other.id == session.id || !overlap(session, other) {
            continue;
        }
        let when = span(other.start, other.end);
        if other.room == session.room {
            let room = programme
                .room(&session.room)
                .map_or(session.room.as_str(), |room| room.name.as_str());
            problems.push(with_session(
                "room",
                ProblemCode::RoomOverlap,
                format!("{room} holds {:?} ({}) from {when}", other.title, other.id),
                other,
            ));
        }
        for speaker in session
            .speakers
            .iter()
            .filter(|s| other.speakers.contains(s))
        {
            let name = programme
                .speaker(speaker)
                .map_or(speaker.as_str(), |speaker| speaker.name.as_str());
            problems.push(with_session(
                "speakers",
                ProblemCode::SpeakerDoubleBooked,
                format!(
                    "{name} speaks in {:?} ({}) from {when}",
                    other.title, other.id
                ),
                other,
            ));
        }
        for (field, people, code) in [
            ("hosts", &session.hosts, ProblemCode::HostDoubleBooked),
            (
                "moderators",
                &session.moderators,
                ProblemCode::ModeratorDoubleBooked,
            ),
        ] {
            for person in people.iter().filter(|person| staff(other, person)) {
                problems.push(with_session(
                    field,
                    code,
                    format!(
                        "{person} hosts or moderates {:?} ({}) from {when}",
                        other.title, other.id
                    ),
                    other,
                ));
            }
        }
    }
    problems
}

/// Sessions still using what is to be deleted, each as an `in_use` problem.
pub fn in_use<'a>(what: &str, users: impl Iterator<Item = &'a SessionDef>) -> Problems {
    users
        .map(|session| {
            with_session(
                "id",
                ProblemCode::InUse,
                format!(
                    "{what} is used by {:?} ({}): move or delete that session first",
                    session.title, session.id
                ),
                session,
            )
        })
        .collect()
}
