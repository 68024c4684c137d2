//! Organisers' changes to the programme, one resource at a time: rooms, tracks, speakers and
//! sessions, each a [`Resource`] that lists, shows, puts (creates or replaces) and deletes
//! its items in a [`Programme`], converting from and to the organiser API's wire types.
//!
//! Plain functions on plain data: the HTTP layer picks the programme (the live one under the
//! hub's edit lock, or a copy for a dry run), and the hub stores and installs the result.
//! Every change is checked by [`super::validate`] before it is made; a refused change leaves
//! the programme as it was.

use jiff::Timestamp;
use plenary_protocol::organiser::{
    ProblemCode, RoomInput, Session, SessionInput, Speaker, SpeakerInput, Track, TrackInput,
};
use plenary_protocol::{self as protocol};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::validate::{self, Problems, problem};
use super::{
    Programme, RoomDef, SessionDef, SpeakerDef, TrackDef, moderated_by_default, rfc3339, unique_id,
};

/// Where a change puts an item.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A new item (`POST`): the input's id if it gives one, else one made from its name.
    New,
    /// In place of the item with this id (`PUT`).
    Existing(&'a str),
}

/// A kind of item organisers edit.
pub trait Resource {
    /// What a tool sends to create or replace an item.
    type Input: DeserializeOwned + Send + 'static;
    /// What a tool receives; it can be sent back as an [`Resource::Input`].
    type Output: Serialize + Send + 'static;
    /// What the item is called in messages and URLs (`room`, `rooms`).
    const NAME: &'static str;
    const PLURAL: &'static str;

    /// Every item, in the programme's order.
    fn list(programme: &Programme) -> Vec<Self::Output>;
    /// The item with this id.
    fn get(programme: &Programme, id: &str) -> Option<Self::Output>;
    /// Create or replace an item; on success the programme holds it and it is returned.
    /// A replaced item must exist (the caller checks with [`Resource::get`]).
    fn put(
        programme: &mut Programme,
        target: Target<'_>,
        input: Self::Input,
    ) -> Result<Self::Output, Problems>;
    /// Delete an item that exists, unless something still uses it.
    fn delete(programme: &mut Programme, id: &str) -> Result<(), Problems>;
}

/// The id a put gives its item: the target's, or a new one (the input's, checked, or one made
/// from `name`). An input id on a replacement must be the target's.
fn id_for(
    target: Target<'_>,
    given: Option<String>,
    name: &str,
    fallback: &str,
    taken: impl Fn(&str) -> bool,
    problems: &mut Problems,
) -> String {
    match (target, given) {
        (Target::Existing(id), Some(given)) if given != id => {
            problems.push(problem(
                "id",
                ProblemCode::IdMismatch,
                format!("the body's id {given:?} is not the {id:?} of the path; ids do not change"),
            ));
            id.to_owned()
        }
        (Target::Existing(id), _) => id.to_owned(),
        (Target::New, Some(given)) => {
            validate::new_id(&given, taken(&given), problems);
            given
        }
        (Target::New, None) => unique_id(name, fallback, taken),
    }
}

/// `Ok(value)` when nothing was found wrong.
fn accepted<T>(problems: Problems, value: T) -> Result<T, Problems> {
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems)
    }
}

/// Put `item` in place of the one with its id (found by `same`), or at the end.
fn replace_or_push<T>(items: &mut Vec<T>, item: T, same: impl Fn(&T) -> bool) {
    match items.iter_mut().find(|existing| same(existing)) {
        Some(existing) => *existing = item,
        None => items.push(item),
    }
}

/// Rooms: `/api/rooms`.
#[derive(Debug)]
pub enum Rooms {}

impl Resource for Rooms {
    type Input = RoomInput;
    type Output = protocol::Room;
    const NAME: &'static str = "room";
    const PLURAL: &'static str = "rooms";

    fn list(programme: &Programme) -> Vec<protocol::Room> {
        programme.rooms.iter().map(RoomDef::to_wire).collect()
    }

    fn get(programme: &Programme, id: &str) -> Option<protocol::Room> {
        programme.room(id).map(RoomDef::to_wire)
    }

    fn put(
        programme: &mut Programme,
        target: Target<'_>,
        input: RoomInput,
    ) -> Result<protocol::Room, Problems> {
        let mut problems = Problems::new();
        let taken = |id: &str| programme.room(id).is_some();
        let id = id_for(target, input.id, &input.name, "room", taken, &mut problems);
        let room = RoomDef {
            id,
            name: input.name.trim().to_owned(),
            kind: input.kind,
            capacity: input.capacity,
        };
        problems.extend(validate::room(programme, &room));
        let room = accepted(problems, room)?;
        let wire = room.to_wire();
        let id = room.id.clone();
        replace_or_push(&mut programme.rooms, room, |existing| existing.id == id);
        Ok(wire)
    }

    fn delete(programme: &mut Programme, id: &str) -> Result<(), Problems> {
        let what = format!("the room {id:?}");
        accepted(validate::in_use(&what, programme.sessions_in(id)), ())?;
        programme.rooms.retain(|room| room.id != id);
        Ok(())
    }
}

/// Tracks: `/api/tracks`.
#[derive(Debug)]
pub enum Tracks {}

fn track_to_wire(track: &TrackDef) -> Track {
    Track {
        id: track.id.clone(),
        name: track.name.clone(),
    }
}

impl Resource for Tracks {
    type Input = TrackInput;
    type Output = Track;
    const NAME: &'static str = "track";
    const PLURAL: &'static str = "tracks";

    fn list(programme: &Programme) -> Vec<Track> {
        programme.tracks.iter().map(track_to_wire).collect()
    }

    fn get(programme: &Programme, id: &str) -> Option<Track> {
        programme.track(id).map(track_to_wire)
    }

    fn put(
        programme: &mut Programme,
        target: Target<'_>,
        input: TrackInput,
    ) -> Result<Track, Problems> {
        let mut problems = Problems::new();
        let taken = |id: &str| programme.track(id).is_some();
        let id = id_for(target, input.id, &input.name, "track", taken, &mut problems);
        let track = TrackDef {
            name: input.name.trim().to_owned(),
            id,
        };
        problems.extend(validate::track_name(programme, &track.id, &track.name));
        let track = accepted(problems, track)?;
        let wire = track_to_wire(&track);
        let id = track.id.clone();
        replace_or_push(&mut programme.tracks, track, |existing| existing.id == id);
        Ok(wire)
    }

    fn delete(programme: &mut Programme, id: &str) -> Result<(), Problems> {
        let users = programme
            .sessions
            .iter()
            .filter(|session| session.track.as_deref() == Some(id));
        accepted(validate::in_use(&format!("the track {id:?}"), users), ())?;
        programme.tracks.retain(|track| track.id != id);
        Ok(())
    }
}

/// Speakers: `/api/speakers`.
#[derive(Debug)]
pub enum Speakers {}

fn speaker_to_wire(speaker: &SpeakerDef) -> Speaker {
    Speaker {
        id: speaker.id.clone(),
        name: speaker.name.clone(),
    }
}

impl Resource for Speakers {
    type Input = SpeakerInput;
    type Output = Speaker;
    const NAME: &'static str = "speaker";
    const PLURAL: &'static str = "speakers";

    fn list(programme: &Programme) -> Vec<Speaker> {
        programme.speakers.iter().map(speaker_to_wire).collect()
    }

    fn get(programme: &Programme, id: &str) -> Option<Speaker> {
        programme.speaker(id).map(speaker_to_wire)
    }

    fn put(
        programme: &mut Programme,
        target: Target<'_>,
        input: SpeakerInput,
    ) -> Result<Speaker, Problems> {
        let mut problems = Problems::new();
        let taken = |id: &str| programme.speaker(id).is_some();
        let id = id_for(
            target,
            input.id,
            &input.name,
            "speaker",
            taken,
            &mut problems,
        );
        // Two people may share a name; only an empty one is refused.
        validate::required("name", &input.name, &mut problems);
        let speaker = accepted(
            problems,
            SpeakerDef {
                id,
                name: input.name.trim().to_owned(),
            },
        )?;
        let wire = speaker_to_wire(&speaker);
        let id = speaker.id.clone();
        replace_or_push(&mut programme.speakers, speaker, |existing| {
            existing.id == id
        });
        programme.sort_speakers();
        Ok(wire)
    }

    fn delete(programme: &mut Programme, id: &str) -> Result<(), Problems> {
        let users = programme
            .sessions
            .iter()
            .filter(|session| session.speakers.iter().any(|speaker| speaker == id));
        accepted(validate::in_use(&format!("the speaker {id:?}"), users), ())?;
        programme.speakers.retain(|speaker| speaker.id != id);
        Ok(())
    }
}

/// Sessions: `/api/sessions`.
#[derive(Debug)]
pub enum Sessions {}

fn session_to_wire(session: &SessionDef) -> Session {
    Session {
        id: session.id.clone(),
        title: session.title.clone(),
        kind: session.kind,
        room: session.room.clone(),
        start: rfc3339(session.start),
        end: rfc3339(session.end),
        track: session.track.clone(),
        speakers: session.speakers.clone(),
        hosts: session.hosts.clone(),
        moderators: session.moderators.clone(),
        subtitle: session.subtitle.clone(),
        abstract_text: session.abstract_text.clone(),
        description: session.description.clone(),
        languages: session.languages.clone(),
        qa_moderated: session.qa_moderated,
    }
}

/// An instant from RFC 3339 text with an offset, or a problem with `field`.
fn instant(field: &str, text: &str, problems: &mut Problems) -> Option<Timestamp> {
    match text.trim().parse() {
        Ok(instant) => Some(instant),
        Err(_) => {
            problems.push(problem(
                field,
                ProblemCode::InvalidValue,
                format!(
                    "{text:?} is not a time: use RFC 3339 with an offset, e.g. 2026-11-28T12:00:00Z"
                ),
            ));
            None
        }
    }
}

impl Resource for Sessions {
    type Input = SessionInput;
    type Output = Session;
    const NAME: &'static str = "session";
    const PLURAL: &'static str = "sessions";

    fn list(programme: &Programme) -> Vec<Session> {
        programme.sessions.iter().map(session_to_wire).collect()
    }

    fn get(programme: &Programme, id: &str) -> Option<Session> {
        programme.session(id).map(session_to_wire)
    }

    fn put(
        programme: &mut Programme,
        target: Target<'_>,
        input: SessionInput,
    ) -> Result<Session, Problems> {
        let mut problems = Problems::new();
        let taken = |id: &str| programme.session(id).is_some();
        let id = id_for(
            target,
            input.id,
            &input.title,
            "session",
            taken,
            &mut problems,
        );
        let start = instant("start", &input.start, &mut problems);
        let end = instant("end", &input.end, &mut problems);
        // A replaced session keeps what the API does not show: its source's event number
        // and its slug.
        let (number, slug) = match programme.session(&id) {
            Some(existing) => (existing.number, existing.slug.clone()),
            None => (
                None,
                unique_id(&input.title, "session", |slug| {
                    programme
                        .sessions
                        .iter()
                        .any(|session| session.slug == slug)
                }),
            ),
        };
        let session = SessionDef {
            id,
            number,
            title: input.title.trim().to_owned(),
            subtitle: input.subtitle,
            kind: input.kind,
            room: input.room,
            start: start.unwrap_or_default(),
            end: end.unwrap_or_default(),
            speakers: input.speakers,
            hosts: input.hosts,
            moderators: input.moderators,
            abstract_text: input.abstract_text,
            description: input.description,
            track: input.track,
            languages: input.languages,
            slug,
            qa_moderated: input
                .qa_moderated
                .unwrap_or_else(|| moderated_by_default(input.kind)),
        };
        problems.extend(validate::session_fields(programme, &session));
        if start.is_some() && end.is_some() {
            problems.extend(validate::session_times(programme, &session));
        }
        let session = accepted(problems, session)?;
        let wire = session_to_wire(&session);
        let id = session.id.clone();
        replace_or_push(&mut programme.sessions, session, |existing| {
            existing.id == id
        });
        programme.sort_sessions();
        Ok(wire)
    }

    fn delete(programme: &mut Programme, id: &str) -> Result<(), Problems> {
        programme.sessions.retain(|session| session.id != id);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
