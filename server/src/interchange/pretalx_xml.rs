//! `schedule.xml` as frab and pretalx export it (the c3voc `schedule.xml.xsd` shape):
//! `<schedule>` → `<conference>`, optional `<tracks>`, then `<day>` → `<room name>` →
//! `<event guid id>` with `<date>` (local time with offset), `<start>`, `<duration>`,
//! `<title>`, `<type>`, `<persons>` and more. Elements not read here are skipped.

use quick_xml::events::Event;
use serde::Deserialize;

use super::{ImportError, Source, SourceDay, SourceEvent, SourceRoom};

#[derive(Deserialize)]
struct XmlSchedule {
    conference: Option<XmlConference>,
    tracks: Option<XmlTracks>,
    #[serde(default, rename = "day")]
    days: Vec<XmlDay>,
}

#[derive(Deserialize)]
struct XmlConference {
    title: Option<String>,
    acronym: Option<String>,
    start: Option<String>,
    end: Option<String>,
    time_zone_name: Option<String>,
}

#[derive(Deserialize)]
struct XmlTracks {
    #[serde(default, rename = "track")]
    tracks: Vec<XmlText>,
}

/// An element read for its text alone (`<track>`, `<person>`); attributes are skipped.
#[derive(Deserialize)]
struct XmlText {
    #[serde(default, rename = "$text")]
    text: String,
}

#[derive(Deserialize)]
struct XmlDay {
    #[serde(rename = "@date")]
    date: Option<String>,
    #[serde(rename = "@start")]
    start: Option<String>,
    #[serde(rename = "@end")]
    end: Option<String>,
    #[serde(default, rename = "room")]
    rooms: Vec<XmlRoom>,
}

#[derive(Deserialize)]
struct XmlRoom {
    #[serde(rename = "@name")]
    name: Option<String>,
    #[serde(rename = "@slug")]
    slug: Option<String>,
    #[serde(default, rename = "event")]
    events: Vec<XmlEvent>,
}

#[derive(Deserialize)]
struct XmlEvent {
    #[serde(rename = "@guid")]
    guid: Option<String>,
    #[serde(rename = "@id")]
    id: Option<String>,
    date: Option<String>,
    start: Option<String>,
    duration: Option<String>,
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
    persons: Option<XmlPersons>,
}

#[derive(Deserialize)]
struct XmlPersons {
    #[serde(default, rename = "person")]
    persons: Vec<XmlText>,
}

/// Read a `schedule.xml` document.
pub(super) fn read(text: &str) -> Result<Source, ImportError> {
    let root = root_element(text)?;
    if root != "schedule" {
        return Err(ImportError::NotASchedule(format!(
            "the XML document is a <{root}>, and a schedule.xml is a <schedule>"
        )));
    }
    let schedule: XmlSchedule =
        quick_xml::de::from_str(text).map_err(|error| ImportError::Xml(error.to_string()))?;
    let conference = schedule.conference.ok_or(ImportError::Missing {
        at: "schedule".into(),
        field: "conference",
    })?;
    let mut rooms: Vec<SourceRoom> = Vec::new();
    let mut days = Vec::with_capacity(schedule.days.len());
    for day in schedule.days {
        let mut day_rooms = Vec::with_capacity(day.rooms.len());
        for room in day.rooms {
            let name = room.name.unwrap_or_default();
            // A room listed on a day with no events in it is still a room of the conference.
            if !name.trim().is_empty() && !rooms.iter().any(|known| known.name == name) {
                rooms.push(SourceRoom {
                    name: name.clone(),
                    slug: room.slug,
                    ..SourceRoom::default()
                });
            }
            let events = room.events.into_iter().map(event).collect();
            day_rooms.push((name, events));
        }
        days.push(SourceDay {
            date: day.date,
            start: day.start,
            end: day.end,
            rooms: day_rooms,
        });
    }
    Ok(Source {
        title: conference.title,
        acronym: conference.acronym,
        time_zone: conference.time_zone_name,
        start: conference.start,
        end: conference.end,
        tracks: schedule
            .tracks
            .map(|tracks| tracks.tracks.into_iter().map(|track| track.text).collect())
            .unwrap_or_default(),
        rooms,
        days,
    })
}

fn event(event: XmlEvent) -> SourceEvent {
    SourceEvent {
        guid: event.guid,
        id: event.id,
        date: event.date,
        start: event.start,
        duration: event.duration,
        end: None,
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
            .map(|persons| persons.persons.into_iter().map(|p| p.text).collect())
            .unwrap_or_default(),
    }
}

/// The name of the document's first element (an HTML page is `html`).
fn root_element(text: &str) -> Result<String, ImportError> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(element) | Event::Empty(element)) => {
                return Ok(element.local_name().as_ref().to_lowercase());
            }
            Ok(Event::Eof) => {
                return Err(ImportError::NotASchedule(
                    "the XML document has no element".into(),
                ));
            }
            Ok(_) => {}
            Err(error) => return Err(ImportError::Xml(error.to_string())),
        }
    }
}
