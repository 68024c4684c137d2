//! Programme interchange: the formats conferences already use, in and out.
//!
//! In: [`import`] takes the bytes of a frab/pretalx `schedule.xml` ([`pretalx_xml`]) or a
//! c3voc `schedule.json` ([`schedule_json`]), tells them apart by their first character, and
//! builds a [`Programme`] with the warnings worth showing the organiser. Out: [`to_ics`]
//! (iCalendar; [`agenda_to_ics`] for one person's bookmarks) and [`to_schedule_json`] (the same `schedule.json` shape, so a programme
//! round-trips).
//!
//! Both readers only deserialise what the file says into a [`Source`]; [`build`] is the one
//! place that checks it, converts local times to UTC, and derives ids. Real exports stray
//! from their schemas (no guid, no `<date>`, `de, en` as a language, extra fields, strings for
//! numbers), so the importer requires what a programme needs (a conference title, and for
//! each event a key, a title, a room, a start and a duration) and tolerates the rest. A file
//! that lacks those is refused whole: nothing is half-imported.

mod ics;
mod pretalx_xml;
mod schedule_json;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use plenary_protocol::{ImportSummary, RoomKind, SessionKind};

use crate::programme::{
    ConferenceDay, Programme, RoomDef, SessionDef, moderated_by_default, slugify,
    speakers_from_names, tracks_from_names, unique_id,
};

pub use ics::{agenda_to_ics, to_ics};
pub use schedule_json::to_schedule_json;

/// A programme read from a file, and what the importer had to guess or leave out.
#[derive(Debug, Clone)]
pub struct Imported {
    pub programme: Programme,
    /// For the organiser: defaults taken, unknown values mapped.
    pub warnings: Vec<String>,
}

impl Imported {
    /// The counts and warnings an organiser is shown.
    pub fn summary(&self) -> ImportSummary {
        ImportSummary {
            rooms: self.programme.rooms.len(),
            sessions: self.programme.sessions.len(),
            speakers: self.programme.speakers.len(),
            warnings: self.warnings.clone(),
        }
    }
}

/// Why a file was refused. The message says what is wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not a schedule: {0}")]
    NotASchedule(String),
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("not a valid schedule.json: {0}")]
    Json(String),
    #[error("{at}: missing required field `{field}`")]
    Missing { at: String, field: &'static str },
    #[error("{at}: bad {field} {value:?}: {reason}")]
    BadValue {
        at: String,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "two events have the key {0:?} (the guid, or the id when there is no guid): a programme needs one key per event"
    )]
    DuplicateEvent(String),
}

/// Read a programme from the bytes of a `schedule.xml` or a `schedule.json`.
pub fn import(body: &[u8]) -> Result<Imported, ImportError> {
    let text = std::str::from_utf8(body).map_err(|error| {
        ImportError::NotASchedule(format!("the file is not UTF-8 text ({error})"))
    })?;
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let source = match text.as_bytes().first() {
        None => return Err(ImportError::NotASchedule("the file is empty".into())),
        Some(b'<') => pretalx_xml::read(text)?,
        Some(b'{') => schedule_json::read(text)?,
        Some(_) => {
            return Err(ImportError::NotASchedule(
                "the file is neither XML nor JSON (a schedule.xml starts with `<`, a schedule.json with `{`)".into(),
            ));
        }
    };
    build(source)
}

/// A schedule as a file states it, before any checking. Strings are as written; empty ones
/// count as absent.
#[derive(Debug, Default)]
struct Source {
    title: Option<String>,
    acronym: Option<String>,
    time_zone: Option<String>,
    start: Option<String>,
    end: Option<String>,
    tracks: Vec<String>,
    /// Rooms the conference declares, in order (days may name more).
    rooms: Vec<SourceRoom>,
    days: Vec<SourceDay>,
}

#[derive(Debug, Default)]
struct SourceRoom {
    name: String,
    slug: Option<String>,
    /// `stage`, `workshop`, `lecturehall`…, when the file says.
    kind: Option<String>,
    capacity: Option<u32>,
}

#[derive(Debug, Default)]
struct SourceDay {
    date: Option<String>,
    start: Option<String>,
    end: Option<String>,
    /// Events by room name, in file order.
    rooms: Vec<(String, Vec<SourceEvent>)>,
}

#[derive(Debug, Default)]
struct SourceEvent {
    guid: Option<String>,
    id: Option<String>,
    /// Local date-time with an offset (the modern field).
    date: Option<String>,
    /// Local `HH:MM` on the day's date (the old field).
    start: Option<String>,
    duration: Option<String>,
    /// Only schedule.json has it; used when there is no duration.
    end: Option<String>,
    title: Option<String>,
    subtitle: Option<String>,
    slug: Option<String>,
    track: Option<String>,
    kind: Option<String>,
    language: Option<String>,
    abstract_text: Option<String>,
    description: Option<String>,
    persons: Vec<String>,
}

/// A string that says something: trimmed, and `None` when empty.
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// What kind of session an event `type` names. Known names map silently; others become
/// talks and are reported.
fn session_kind(kind: &str) -> (SessionKind, bool) {
    let kind = kind.to_lowercase();
    let has = |word: &str| kind.contains(word);
    if has("keynote") {
        (SessionKind::Keynote, true)
    } else if has("workshop") || has("hands-on") {
        (SessionKind::Workshop, true)
    } else if has("panel") || has("podium") {
        (SessionKind::Panel, true)
    } else if has("break") || has("pause") || has("lunch") || has("coffee") {
        (SessionKind::Break, true)
    } else {
        let known = kind.is_empty() || has("talk") || has("lecture");
        (SessionKind::Talk, known)
    }
}

/// Language codes from what files write: `en`, `de, en`, `de/en`, `EN`.
fn languages(text: &str) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for code in text.split([',', ';', '/', ' ']).map(str::trim) {
        let code = code.to_lowercase();
        if !code.is_empty() && !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// `HH:MM` or `HH:MM:SS` as a duration.
fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let number = |part: &str| -> Result<i64, String> {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 4 {
            return Err("expected HH:MM or HH:MM:SS".into());
        }
        part.parse::<i64>()
            .map_err(|_| "expected HH:MM or HH:MM:SS".into())
    };
    let (hours, minutes, seconds) = match parts.as_slice() {
        [hours, minutes] => (number(hours)?, number(minutes)?, 0),
        [hours, minutes, seconds] => (number(hours)?, number(minutes)?, number(seconds)?),
        _ => return Err("expected HH:MM or HH:MM:SS".into()),
    };
    if minutes >= 60 || seconds >= 60 {
        return Err("minutes and seconds must be below 60".into());
    }
    Ok(SignedDuration::from_secs(
        hours * 3600 + minutes * 60 + seconds,
    ))
}

/// A date-time with an offset is an instant; one without is local time in `zone`.
fn parse_instant(text: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    let local: DateTime = text
        .parse()
        .map_err(|_| "expected a date-time such as 2025-02-01T09:00:00+01:00".to_owned())?;
    local
        .to_zoned(zone.clone())
        .map(|zoned| zoned.timestamp())
        .map_err(|error| error.to_string())
}

/// The UTC offset a date-time string states, in seconds, if it states one.
fn stated_offset(text: &str) -> Option<i64> {
    let instant: Timestamp = text.parse().ok()?;
    let local: DateTime = text.parse().ok()?;
    let as_if_utc = local.to_zoned(TimeZone::UTC).ok()?.timestamp();
    Some(as_if_utc.as_second() - instant.as_second())
}

/// An IANA name for a fixed UTC offset (`+01:00` → `Etc/GMT-1`; the Etc zones count the other
/// way round), for files that give offsets but no time zone.
fn offset_zone_name(seconds: i64) -> Option<String> {
    if seconds == 0 {
        return Some("UTC".into());
    }
    let hours = seconds / 3600;
    (seconds % 3600 == 0 && (-12..=14).contains(&hours)).then(|| format!("Etc/GMT{:+}", -hours))
}

/// A calendar date, from `2025-02-01` or the date part of a date-time.
fn parse_date(text: &str) -> Result<Date, String> {
    text.parse::<Date>()
        .or_else(|_| text.get(..10).unwrap_or(text).parse::<Date>())
        .map_err(|_| "expected a date such as 2025-02-01".into())
}

/// Collects warnings that repeat per event as one line each, with a count.
#[derive(Default)]
struct Tally {
    /// Unknown event types and how many events had each.
    unknown_kinds: BTreeMap<String, usize>,
    without_guid: usize,
    without_date: usize,
}

/// A checked event, before rooms get their kinds and the programme its order.
struct Checked {
    session: SessionDef,
    day: usize,
}

/// Check a source and turn it into a programme.
fn build(source: Source) -> Result<Imported, ImportError> {
    let mut warnings = Vec::new();
    let name = given(&source.title)
        .or(given(&source.acronym))
        .ok_or(ImportError::Missing {
            at: "conference".into(),
            field: "title",
        })?
        .to_owned();
    let acronym = given(&source.acronym).map_or_else(|| slugify(&name), str::to_owned);
    let (timezone, zone) = time_zone(&source, &mut warnings);

    let mut rooms = RoomTable::default();
    for room in &source.rooms {
        if room.name.trim().is_empty() {
            return Err(ImportError::Missing {
                at: "a room of the conference".into(),
                field: "name",
            });
        }
        rooms.add(room.name.trim(), Some(room));
    }

    let mut tally = Tally::default();
    let mut checked: Vec<Checked> = Vec::new();
    let mut keys: HashSet<String> = HashSet::new();
    let mut days: Vec<(Option<Date>, Option<Timestamp>, Option<Timestamp>)> = Vec::new();
    for (day_number, day) in source.days.iter().enumerate() {
        let at = format!("day {}", day_number + 1);
        let date = given(&day.date)
            .map(|text| parse_date(text).map_err(|reason| bad(&at, "date", text, reason)))
            .transpose()?;
        let instant = |field, text: Option<&str>| {
            text.map(|text| {
                parse_instant(text, &zone).map_err(|reason| bad(&at, field, text, reason))
            })
            .transpose()
        };
        let day_start = instant("start", given(&day.start))?;
        let day_end = instant("end", given(&day.end))?;
        days.push((date, day_start, day_end));
        for (room_name, events) in &day.rooms {
            let room_name = room_name.trim();
            if room_name.is_empty() {
                return Err(ImportError::Missing {
                    at: format!("a room of {at}"),
                    field: "name",
                });
            }
            let room = rooms.add(room_name, None);
            for (position, event) in events.iter().enumerate() {
                let session = check_event(
                    event,
                    EventPlace {
                        day: &at,
                        date,
                        day_start,
                        room: &rooms.rooms[room],
                        position,
                        zone: &zone,
                    },
                    &mut tally,
                )?;
                if !keys.insert(session.id.clone()) {
                    return Err(ImportError::DuplicateEvent(session.id));
                }
                checked.push(Checked {
                    session,
                    day: day_number,
                });
            }
        }
    }

    let days = conference_days(days, &checked, &zone)?;
    let (start, end) = conference_dates(&source, &days)?;

    let RoomTable {
        mut rooms,
        declared_kinds,
        ..
    } = rooms;
    for (room, declared) in rooms.iter_mut().zip(declared_kinds) {
        let sessions = checked.iter().map(|c| &c.session);
        room.kind = room_kind(declared, sessions.filter(|s| s.room == room.id));
    }

    let mut sessions: Vec<SessionDef> = checked.into_iter().map(|c| c.session).collect();
    let declared_tracks = source.tracks.iter().map(|track| track.trim().to_owned());
    let tracks = tracks_from_names(
        declared_tracks.filter(|track| !track.is_empty()),
        &mut sessions,
    );
    let speakers = speakers_from_names(&mut sessions);

    if tally.without_guid > 0 {
        warnings.push(format!(
            "{} events have no guid: they are keyed by their id, so a re-import must keep the ids",
            tally.without_guid
        ));
    }
    if tally.without_date > 0 {
        warnings.push(format!(
            "{} events have no <date>: their start was computed from the day's date and <start> in {timezone}",
            tally.without_date
        ));
    }
    for (kind, count) in &tally.unknown_kinds {
        warnings.push(format!(
            "event type {kind:?} ({count} events) is not one Plenary knows: imported as talk"
        ));
    }

    let mut programme = Programme {
        name,
        acronym,
        timezone,
        start,
        end,
        days,
        tracks,
        speakers,
        rooms,
        sessions,
    };
    programme.sort_sessions();
    Ok(Imported {
        programme,
        warnings,
    })
}

/// The rooms met so far, by name, with unique ids.
#[derive(Default)]
struct RoomTable<'a> {
    rooms: Vec<RoomDef>,
    /// The kind the file declares for each room, if it does.
    declared_kinds: Vec<Option<&'a str>>,
    by_name: HashMap<&'a str, usize>,
    ids: HashSet<String>,
}

impl<'a> RoomTable<'a> {
    /// The index of the room called `name`, added if new. Its id is the file's slug for it,
    /// else a slug of its name, made unique with a number.
    fn add(&mut self, name: &'a str, declared: Option<&'a SourceRoom>) -> usize {
        if let Some(&index) = self.by_name.get(name) {
            return index;
        }
        let base = declared
            .and_then(|room| given(&room.slug))
            .filter(|slug| !slugify(slug).is_empty())
            .unwrap_or(name);
        let id = unique_id(base, "room", |id| self.ids.contains(id));
        self.ids.insert(id.clone());
        self.rooms.push(RoomDef {
            id,
            name: name.to_owned(),
            kind: RoomKind::Stage,
            capacity: declared.and_then(|room| room.capacity),
        });
        self.declared_kinds
            .push(declared.and_then(|room| given(&room.kind)));
        self.by_name.insert(name, self.rooms.len() - 1);
        self.rooms.len() - 1
    }
}

fn bad(at: &str, field: &'static str, value: &str, reason: impl Into<String>) -> ImportError {
    ImportError::BadValue {
        at: at.to_owned(),
        field,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// The conference's time zone: the one the file names if it is a real one, else a fixed
/// offset read from the file's date-times, else UTC.
fn time_zone(source: &Source, warnings: &mut Vec<String>) -> (String, TimeZone) {
    if let Some(name) = given(&source.time_zone) {
        match TimeZone::get(name) {
            Ok(zone) => return (name.to_owned(), zone),
            Err(_) => warnings.push(format!("unknown time zone {name:?}: ignored")),
        }
    }
    let offset = source
        .days
        .iter()
        .flat_map(|day| &day.rooms)
        .flat_map(|(_, events)| events)
        .filter_map(|event| given(&event.date))
        .chain(source.days.iter().filter_map(|day| given(&day.start)))
        .find_map(stated_offset);
    let fallback = offset.and_then(|seconds| Some((seconds, offset_zone_name(seconds)?)));
    if let Some((seconds, name)) = fallback {
        if let Ok(zone) = TimeZone::get(&name) {
            let sign = if seconds < 0 { '-' } else { '+' };
            let minutes = seconds.abs() / 60;
            let offset = format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60);
            warnings.push(format!(
                "the file names no time zone: using {name}, the UTC offset {offset} its times state"
            ));
            return (name, zone);
        }
    }
    warnings.push("the file names no time zone and states no UTC offset: using UTC".into());
    ("UTC".into(), TimeZone::UTC)
}

/// Where an event sits in the file, for checking it.
struct EventPlace<'a> {
    day: &'a str,
    date: Option<Date>,
    day_start: Option<Timestamp>,
    room: &'a RoomDef,
    position: usize,
    zone: &'a TimeZone,
}

fn check_event(
    event: &SourceEvent,
    place: EventPlace<'_>,
    tally: &mut Tally,
) -> Result<SessionDef, ImportError> {
    let guid = given(&event.guid);
    let id = given(&event.id);
    let at = match (guid, id) {
        (_, Some(id)) => format!("event {id}"),
        (Some(guid), None) => format!("event {guid}"),
        (None, None) => format!(
            "event {} in {} on {}",
            place.position + 1,
            place.room.name,
            place.day
        ),
    };
    let key = match (guid, id) {
        (Some(guid), _) => guid.to_owned(),
        (None, Some(id)) => {
            tally.without_guid += 1;
            id.to_owned()
        }
        (None, None) => return Err(ImportError::Missing { at, field: "guid" }),
    };
    let title = given(&event.title)
        .ok_or_else(|| ImportError::Missing {
            at: at.clone(),
            field: "title",
        })?
        .to_owned();

    let start = match (given(&event.date), given(&event.start), place.date) {
        (Some(date), ..) => {
            parse_instant(date, place.zone).map_err(|reason| bad(&at, "date", date, reason))?
        }
        (None, Some(start), Some(day_date)) => {
            tally.without_date += 1;
            let time: Time = start
                .parse()
                .map_err(|_| bad(&at, "start", start, "expected HH:MM"))?;
            // Congress days run past midnight: a time before the day's start is on the next
            // calendar date.
            let day_begins = place
                .day_start
                .map(|instant| instant.to_zoned(place.zone.clone()).time());
            let date = if day_begins.is_some_and(|begins| time < begins) {
                day_date
                    .tomorrow()
                    .map_err(|error| bad(&at, "start", start, error.to_string()))?
            } else {
                day_date
            };
            date.to_datetime(time)
                .to_zoned(place.zone.clone())
                .map_err(|error| bad(&at, "start", start, error.to_string()))?
                .timestamp()
        }
        (None, Some(_), None) => {
            return Err(ImportError::Missing {
                at: format!("{at} (it has only <start>, so its day needs one)"),
                field: "date",
            });
        }
        (None, None, _) => return Err(ImportError::Missing { at, field: "date" }),
    };
    let end = match (given(&event.duration), given(&event.end)) {
        (Some(duration), _) => {
            let length = parse_duration(duration)
                .map_err(|reason| bad(&at, "duration", duration, reason))?;
            start
                .checked_add(length)
                .map_err(|error| bad(&at, "duration", duration, error.to_string()))?
        }
        (None, Some(end)) => {
            parse_instant(end, place.zone).map_err(|reason| bad(&at, "end", end, reason))?
        }
        (None, None) => {
            return Err(ImportError::Missing {
                at,
                field: "duration",
            });
        }
    };
    if end < start {
        return Err(bad(&at, "end", &end.to_string(), "it is before the start"));
    }

    let (kind, known) = session_kind(given(&event.kind).unwrap_or(""));
    if !known {
        if let Some(name) = given(&event.kind) {
            *tally.unknown_kinds.entry(name.to_owned()).or_default() += 1;
        }
    }
    let number = id.and_then(|id| id.parse::<u64>().ok());
    let text = |field: &Option<String>| given(field).unwrap_or("").to_owned();
    Ok(SessionDef {
        slug: given(&event.slug).map_or_else(|| slugify(&title), str::to_owned),
        id: key,
        number,
        title,
        subtitle: text(&event.subtitle),
        kind,
        room: place.room.id.clone(),
        start,
        end,
        speakers: event
            .persons
            .iter()
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
        hosts: Vec::new(),
        moderators: Vec::new(),
        abstract_text: text(&event.abstract_text),
        description: text(&event.description),
        track: given(&event.track).map(str::to_owned),
        languages: given(&event.language).map(languages).unwrap_or_default(),
        qa_moderated: moderated_by_default(kind),
    })
}

/// Fill in what days leave out: a missing start or end from their events (or the whole
/// calendar date), a missing date from their start.
fn conference_days(
    days: Vec<(Option<Date>, Option<Timestamp>, Option<Timestamp>)>,
    checked: &[Checked],
    zone: &TimeZone,
) -> Result<Vec<ConferenceDay>, ImportError> {
    let mut filled = Vec::with_capacity(days.len());
    for (number, (date, start, end)) in days.into_iter().enumerate() {
        let events = checked
            .iter()
            .filter(|c| c.day == number)
            .map(|c| &c.session);
        let first = events.clone().map(|s| s.start).min();
        let last = events.map(|s| s.end).max();
        let date = match date.or_else(|| start.or(first).map(|s| s.to_zoned(zone.clone()).date())) {
            Some(date) => date,
            None => {
                return Err(ImportError::Missing {
                    at: format!("day {} (it has no events to tell it by)", number + 1),
                    field: "date",
                });
            }
        };
        let midnight = |date: Date| {
            date.to_zoned(zone.clone())
                .map(|zoned| zoned.timestamp())
                .map_err(|error| {
                    bad(
                        &format!("day {}", number + 1),
                        "date",
                        &date.to_string(),
                        error.to_string(),
                    )
                })
        };
        let start = match start.or(first) {
            Some(start) => start,
            None => midnight(date)?,
        };
        let end = match end.or(last) {
            Some(end) => end,
            None => midnight(date.tomorrow().map_err(|error| {
                bad(
                    &format!("day {}", number + 1),
                    "date",
                    &date.to_string(),
                    error.to_string(),
                )
            })?)?,
        };
        filled.push(ConferenceDay { date, start, end });
    }
    Ok(filled)
}

/// The first and last date: as the conference states them, else its first and last day's.
fn conference_dates(source: &Source, days: &[ConferenceDay]) -> Result<(Date, Date), ImportError> {
    let stated = |field: &'static str, text: &Option<String>| {
        given(text)
            .map(|text| parse_date(text).map_err(|reason| bad("conference", field, text, reason)))
            .transpose()
    };
    let start = stated("start", &source.start)?.or(days.first().map(|day| day.date));
    let end = stated("end", &source.end)?.or(days.last().map(|day| day.date));
    match (start, end) {
        (Some(start), Some(end)) => Ok((start, end)),
        (None, _) => Err(ImportError::Missing {
            at: "conference (it has no days either)".into(),
            field: "start",
        }),
        (_, None) => Err(ImportError::Missing {
            at: "conference (it has no days either)".into(),
            field: "end",
        }),
    }
}

/// A room is a workshop room if the file says so, or (when it does not) if most of its
/// sessions are workshops; every other room is a stage. Lecture halls, devrooms and online
/// rooms are all one-to-many, which is what a stage is.
fn room_kind<'a>(
    declared: Option<&str>,
    sessions: impl Iterator<Item = &'a SessionDef>,
) -> RoomKind {
    if let Some(kind) = declared {
        return if kind.eq_ignore_ascii_case("workshop") {
            RoomKind::Workshop
        } else {
            RoomKind::Stage
        };
    }
    let (mut workshops, mut others) = (0, 0);
    for session in sessions {
        if session.kind == SessionKind::Workshop {
            workshops += 1;
        } else {
            others += 1;
        }
    }
    if workshops > others {
        RoomKind::Workshop
    } else {
        RoomKind::Stage
    }
}
