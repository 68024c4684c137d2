//! `schedule.json` in the c3voc shape (`fixtures/schedules/schema.json`), as pretalx and frab
//! export it: `{"schedule": {"conference": {…, "rooms": […], "days": [{…, "rooms": {"Room
//! name": [event, …]}}]}}}`. [`read`] takes it in; [`to_schedule_json`] writes a programme out
//! in the same shape, so that an export imports back to the same programme.

use std::fmt;

use jiff::tz::TimeZone;
use plenary_protocol::{RoomKind, SessionKind};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::{Value, json};

use super::{ImportError, Source, SourceDay, SourceEvent, SourceRoom};
use crate::programme::{Programme, SessionDef};

#[derive(Deserialize)]
struct JsonFile {
    schedule: Option<JsonSchedule>,
}

#[derive(Deserialize)]
struct JsonSchedule {
    conference: Option<JsonConference>,
}

#[derive(Deserialize)]
struct JsonConference {
    title: Option<String>,
    acronym: Option<String>,
    start: Option<String>,
    end: Option<String>,
    time_zone_name: Option<String>,
    #[serde(default)]
    tracks: Vec<JsonTrack>,
    #[serde(default)]
    rooms: Vec<JsonRoom>,
    #[serde(default)]
    days: Vec<JsonDay>,
}

#[derive(Deserialize)]
struct JsonTrack {
    name: Option<String>,
}

#[derive(Deserialize)]
struct JsonRoom {
    name: Option<String>,
    slug: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    capacity: Option<f64>,
}

#[derive(Deserialize)]
struct JsonDay {
    date: Option<String>,
    day_start: Option<String>,
    day_end: Option<String>,
    #[serde(default)]
    rooms: RoomsInOrder,
}

/// A day's `rooms` object, in the order the file lists the rooms.
#[derive(Default)]
struct RoomsInOrder(Vec<(String, Vec<JsonEvent>)>);

impl<'de> Deserialize<'de> for RoomsInOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RoomsVisitor;
        impl<'de> Visitor<'de> for RoomsVisitor {
            type Value = RoomsInOrder;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object of room names to lists of events")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RoomsInOrder, A::Error> {
                let mut rooms = Vec::new();
                while let Some(entry) = map.next_entry::<String, Vec<JsonEvent>>()? {
                    rooms.push(entry);
                }
                Ok(RoomsInOrder(rooms))
            }
        }
        deserializer.deserialize_map(RoomsVisitor)
    }
}

#[derive(Deserialize)]
struct JsonEvent {
    guid: Option<String>,
    id: Option<NumberOrText>,
    date: Option<String>,
    start: Option<String>,
    duration: Option<String>,
    end: Option<String>,
    title: Option<String>,
    subtitle: Option<String>,
    slug: Option<String>,
    track: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    language: Option<String>,
    #[serde(rename = "abstract")]
    abstract_text: Option<String>,
    description: Option<String>,
    #[serde(default)]
    persons: Vec<JsonPerson>,
}

/// Ids are numbers in the schema and strings in some exports.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(i64),
    Text(String),
}

/// pretalx writes `name`, frab `public_name`.
#[derive(Deserialize)]
struct JsonPerson {
    name: Option<String>,
    public_name: Option<String>,
}

/// Read a `schedule.json` document.
pub(super) fn read(text: &str) -> Result<Source, ImportError> {
    let file: JsonFile =
        serde_json::from_str(text).map_err(|error| ImportError::Json(error.to_string()))?;
    let schedule = file.schedule.ok_or_else(|| {
        ImportError::NotASchedule("the JSON has no `schedule` object at its top".into())
    })?;
    let conference = schedule.conference.ok_or(ImportError::Missing {
        at: "schedule".into(),
        field: "conference",
    })?;
    Ok(Source {
        title: conference.title,
        acronym: conference.acronym,
        time_zone: conference.time_zone_name,
        start: conference.start,
        end: conference.end,
        tracks: conference
            .tracks
            .into_iter()
            .filter_map(|track| track.name)
            .collect(),
        rooms: conference
            .rooms
            .into_iter()
            .map(|room| SourceRoom {
                name: room.name.unwrap_or_default(),
                slug: room.slug,
                kind: room.kind,
                capacity: room
                    .capacity
                    .filter(|places| places.is_finite() && *places >= 0.0)
                    .map(|places| places.min(f64::from(u32::MAX)) as u32),
            })
            .collect(),
        days: conference
            .days
            .into_iter()
            .map(|day| SourceDay {
                date: day.date,
                start: day.day_start,
                end: day.day_end,
                rooms: day
                    .rooms
                    .0
                    .into_iter()
                    .map(|(room, events)| (room, events.into_iter().map(event).collect()))
                    .collect(),
            })
            .collect(),
    })
}

fn event(event: JsonEvent) -> SourceEvent {
    SourceEvent {
        guid: event.guid,
        id: event.id.map(|id| match id {
            NumberOrText::Number(number) => number.to_string(),
            NumberOrText::Text(text) => text,
        }),
        date: event.date,
        start: event.start,
        duration: event.duration,
        end: event.end,
        title: event.title,
        subtitle: event.subtitle,
        slug: event.slug,
        track: event.track,
        kind: event.kind,
        language: event.language,
        abstract_text: event.abstract_text,
        description: event.description,
        persons: event
            .persons
            .into_iter()
            .filter_map(|person| person.name.or(person.public_name))
            .collect(),
    }
}

/// The name of a session kind in an event's `type`; [`super::session_kind`] reads each back
/// as the same kind.
fn kind_name(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Keynote => "keynote",
        SessionKind::Panel => "panel",
        SessionKind::Workshop => "workshop",
        SessionKind::Talk => "talk",
        SessionKind::Break => "break",
    }
}

/// The programme as a c3voc `schedule.json`. Local times are in the conference's time zone
/// with their offset. Each session's key goes out as its `guid` (and its event number, if it
/// has one, as `id`), so that importing the export keeps every key. Rooms carry their id as
/// `slug` and their kind as `type`. Each session is listed on the last day that starts at or
/// before it (the first day for a session before them all).
pub fn to_schedule_json(programme: &Programme) -> Value {
    let zone = TimeZone::get(&programme.timezone).unwrap_or(TimeZone::UTC);
    let local = |instant: jiff::Timestamp| {
        instant
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    let room_name = |session: &'_ SessionDef| -> String {
        programme
            .rooms
            .iter()
            .find(|room| room.id == session.room)
            .map_or_else(|| session.room.clone(), |room| room.name.clone())
    };
    let event = |session: &SessionDef| {
        let seconds = session.end.duration_since(session.start).as_secs();
        let duration = match (seconds / 3600, seconds % 3600 / 60, seconds % 60) {
            (hours, minutes, 0) => format!("{hours:02}:{minutes:02}"),
            (hours, minutes, seconds) => format!("{hours:02}:{minutes:02}:{seconds:02}"),
        };
        let mut event = json!({
            "guid": session.id,
            "date": local(session.start),
            "start": session.start.to_zoned(zone.clone()).strftime("%H:%M").to_string(),
            "end": local(session.end),
            "duration": duration,
            "room": room_name(session),
            "slug": session.slug,
            "title": session.title,
            "subtitle": session.subtitle,
            "track": programme.track_name(session),
            "type": kind_name(session.kind),
            "language": (!session.languages.is_empty()).then(|| session.languages.join(", ")),
            "abstract": session.abstract_text,
            "description": session.description,
            "persons": programme.speaker_names(session).iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
            "links": [],
        });
        if let Some(number) = session.number {
            event["id"] = json!(number);
        }
        event
    };

    let mut days: Vec<serde_json::Map<String, Value>> = programme
        .days
        .iter()
        .map(|_| serde_json::Map::new())
        .collect();
    for session in &programme.sessions {
        let day = programme
            .days
            .iter()
            .rposition(|day| day.start <= session.start)
            .unwrap_or(0);
        if let Some(rooms) = days.get_mut(day) {
            let events = rooms.entry(room_name(session)).or_insert_with(|| json!([]));
            if let Value::Array(events) = events {
                events.push(event(session));
            }
        }
    }

    json!({
        "$schema": "https://c3voc.de/schedule/schema.json",
        "generator": {"name": "plenary", "version": env!("CARGO_PKG_VERSION")},
        "schedule": {
            "version": "1.0",
            "conference": {
                "acronym": programme.acronym,
                "title": programme.name,
                "start": programme.start.to_string(),
                "end": programme.end.to_string(),
                "daysCount": programme.days.len(),
                "timeslot_duration": "00:05",
                "time_zone_name": programme.timezone,
                "tracks": programme.tracks.iter().map(|track| json!({"name": track.name})).collect::<Vec<_>>(),
                "rooms": programme.rooms.iter().map(|room| json!({
                    "name": room.name,
                    "slug": room.id,
                    "type": match room.kind {
                        RoomKind::Stage => "stage",
                        RoomKind::Workshop => "workshop",
                    },
                    "capacity": room.capacity,
                })).collect::<Vec<_>>(),
                "days": programme.days.iter().zip(days).enumerate().map(|(index, (day, rooms))| json!({
                    "index": index + 1,
                    "date": day.date.to_string(),
                    "day_start": local(day.start),
                    "day_end": local(day.end),
                    "rooms": rooms,
                })).collect::<Vec<_>>(),
            }
        }
    })
}
