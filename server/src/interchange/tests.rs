//! The importer against real exports (`fixtures/schedules/`), checked event by event against
//! a second, independent reading of each file; the exports read back by a real iCalendar
//! parser and by the importer itself.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use plenary_protocol::{RoomKind, SessionKind};
use quick_xml::events::Event;
use serde_json::Value;

use super::*;
use crate::programme::Programme;

/// A file of `fixtures/schedules/`.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../fixtures/schedules/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn imported(name: &str) -> Imported {
    import(&fixture(name)).unwrap_or_else(|error| panic!("{name} imports: {error}"))
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("a valid instant in the test")
}

/// One event as the file states it, read without the importer.
#[derive(Debug, Default)]
struct Expected {
    key: String,
    room: String,
    start: String,
    duration: String,
    speakers: Vec<String>,
}

/// Every `<event>` of a schedule.xml, read with quick-xml's plain event reader.
fn xml_events(text: &str) -> Vec<Expected> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut events = Vec::new();
    let mut room = String::new();
    let mut current: Option<Expected> = None;
    let mut field = String::new();
    let attribute = |element: &quick_xml::events::BytesStart, name: &str| {
        element
            .try_get_attribute(name)
            .expect("well-formed attributes")
            .map(|value| {
                value
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("valid")
                    .into_owned()
            })
    };
    loop {
        match reader.read_event().expect("the fixture is well-formed") {
            Event::Start(element) => {
                let name = element.local_name().as_ref().to_owned();
                match (name.as_str(), &mut current) {
                    ("room", None) => room = attribute(&element, "name").expect("room name"),
                    ("event", None) => {
                        current = Some(Expected {
                            key: attribute(&element, "guid")
                                .or_else(|| attribute(&element, "id"))
                                .expect("event key"),
                            room: room.clone(),
                            ..Expected::default()
                        });
                    }
                    ("person", Some(event)) => event.speakers.push(String::new()),
                    _ => {}
                }
                field = name;
            }
            Event::Text(text) => {
                append(&mut current, &field, &text);
            }
            Event::GeneralRef(reference) => {
                let text = match reference.resolve_char_ref().expect("valid reference") {
                    Some(c) => c.to_string(),
                    None => match &*reference {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => panic!("unexpected entity {other}"),
                    },
                };
                append(&mut current, &field, &text);
            }
            Event::End(element) => {
                if element.local_name().as_ref() == "event" {
                    events.extend(current.take());
                }
                field.clear();
            }
            Event::Eof => return events,
            _ => {}
        }
    }
}

fn append(current: &mut Option<Expected>, field: &str, text: &str) {
    let Some(event) = current else { return };
    match field {
        "date" => event.start.push_str(text),
        "duration" => event.duration.push_str(text),
        "person" => {
            if let Some(last) = event.speakers.last_mut() {
                last.push_str(text);
            }
        }
        _ => {}
    }
}

/// Every event of a schedule.json, read as plain JSON values.
fn json_events(text: &[u8]) -> Vec<Expected> {
    let file: Value = serde_json::from_slice(text).expect("valid JSON");
    let mut events = Vec::new();
    for day in file["schedule"]["conference"]["days"]
        .as_array()
        .expect("days")
    {
        for (room, list) in day["rooms"].as_object().expect("rooms") {
            for event in list.as_array().expect("events") {
                events.push(Expected {
                    key: event["guid"].as_str().expect("guid").to_owned(),
                    room: room.clone(),
                    start: event["date"].as_str().expect("date").to_owned(),
                    duration: event["duration"].as_str().expect("duration").to_owned(),
                    speakers: event["persons"]
                        .as_array()
                        .expect("persons")
                        .iter()
                        .map(|person| {
                            person["public_name"]
                                .as_str()
                                .or(person["name"].as_str())
                                .expect("a name")
                                .to_owned()
                        })
                        .collect(),
                });
            }
        }
    }
    events
}

/// Each expected event is a session with its room, UTC start, duration and speakers, and
/// there is nothing else.
fn assert_every_event_imported(programme: &Programme, expected: &[Expected]) {
    assert_eq!(programme.sessions.len(), expected.len());
    let rooms: HashMap<&str, &str> = programme
        .rooms
        .iter()
        .map(|room| (room.id.as_str(), room.name.as_str()))
        .collect();
    for event in expected {
        let session = programme
            .session(&event.key)
            .unwrap_or_else(|| panic!("event {} is imported", event.key));
        assert_eq!(rooms[session.room.as_str()], event.room, "{}", event.key);
        assert_eq!(session.start, at(&event.start), "{}", event.key);
        let (hours, minutes) = event.duration.split_once(':').expect("HH:MM");
        let minutes: i64 = hours.parse::<i64>().expect("hours") * 60
            + minutes[..2].parse::<i64>().expect("minutes");
        assert_eq!(
            session.end.duration_since(session.start),
            SignedDuration::from_mins(minutes),
            "{}",
            event.key
        );
        let speakers: Vec<&str> = event.speakers.iter().map(|name| name.trim()).collect();
        assert_eq!(programme.speaker_names(session), speakers, "{}", event.key);
    }
}

#[test]
fn pretalx_json_imports_every_event_with_its_room_time_and_speakers() {
    let imported = imported("pretalx-democon.json");
    let programme = &imported.programme;
    assert_eq!(programme.name, "DemoCon");
    assert_eq!(programme.acronym, "democon");
    assert_eq!(programme.timezone, "UTC");
    assert_eq!(programme.days.len(), 3);
    assert_eq!(programme.rooms.len(), 2);
    assert_eq!(programme.sessions.len(), 36);
    assert_eq!(programme.speakers.len(), 27);
    assert_every_event_imported(programme, &json_events(&fixture("pretalx-democon.json")));

    // The file names UTC as its zone but dates its events at +01:00: the date with its
    // offset is the instant; 09:00+01:00 is 08:00 UTC.
    let first = programme
        .session("8079583e-8321-506c-95af-fd2903a5f075")
        .expect("event 25");
    assert_eq!(first.start, at("2020-12-14T08:00:00Z"));
    assert_eq!(first.end, at("2020-12-14T08:30:00Z"));
    assert_eq!(first.number, Some(25));
    assert_eq!(programme.track_name(first), Some("Phased"));
    assert_eq!(first.languages, ["en"]);
    assert_eq!(first.abstract_text, "Brand back-end models!");
    let rooms: Vec<(&str, &str, RoomKind)> = programme
        .rooms
        .iter()
        .map(|room| (room.id.as_str(), room.name.as_str(), room.kind))
        .collect();
    assert_eq!(
        rooms,
        [
            ("gray-room", "Gray Room", RoomKind::Stage),
            ("tan-room", "Tan Room", RoomKind::Workshop)
        ]
    );
    assert!(
        programme.session("25").is_none(),
        "a session is keyed by its guid when it has one"
    );
    assert!(
        programme
            .sessions
            .iter()
            .filter(|s| s.room == "tan-room")
            .all(|s| s.kind == SessionKind::Workshop && !s.qa_moderated)
    );
    assert_eq!(programme.days[0].date.to_string(), "2020-12-14");
    assert_eq!(programme.days[0].start, at("2020-12-14T03:00:00Z"));
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
}

#[test]
fn frab_xml_imports_every_event_including_those_past_midnight() {
    let imported = imported("31c3-schedule.xml");
    let programme = &imported.programme;
    let text = String::from_utf8(fixture("31c3-schedule.xml")).expect("UTF-8");
    assert_eq!(text.matches("<event ").count(), 138);
    assert_eq!(programme.sessions.len(), 138);
    assert_eq!(programme.rooms.len(), 4);
    assert_eq!(programme.days.len(), 4);
    assert_eq!(programme.speakers.len(), 197);
    assert_every_event_imported(programme, &xml_events(&text));

    // No time zone in the file: its +01:00 offset becomes a fixed zone, and it says so.
    assert_eq!(programme.timezone, "Etc/GMT-1");
    assert!(imported.warnings.iter().any(|w| w.contains("+01:00")));

    let opening = programme
        .session("29aecfd7-2e44-4f49-ab86-29b5e0877325")
        .expect("the opening");
    assert_eq!(opening.start, at("2014-12-27T10:00:00Z"));
    assert_eq!(opening.end, at("2014-12-27T10:30:00Z"));
    assert_eq!(
        programme.speaker_names(opening),
        ["erdgeist", "Geraldine de Bastion"]
    );
    assert_eq!(opening.room, "saal-1");
    // Listed on day 1 and starting at midnight: 2014-12-28 00:00+01:00.
    let citizenfour = programme
        .session("77aea78c-f2d2-461a-92b3-82929a79d598")
        .expect("Citizenfour");
    assert_eq!(citizenfour.start, at("2014-12-27T23:00:00Z"));
    assert_eq!(citizenfour.end, at("2014-12-28T01:15:00Z"));
    // A podium discussion is a panel, with moderated Q&A.
    let podium = programme
        .session("TvC3Zh1wVU8NotOjslV57Q")
        .expect("the podium");
    assert_eq!(
        (podium.kind, podium.qa_moderated),
        (SessionKind::Panel, true)
    );
    assert_eq!(podium.start, at("2014-12-30T15:00:00Z"));
    let quiz = programme
        .session("Ls3UZdXbRpTYhYncqSJN_w")
        .expect("the quiz");
    assert_eq!(quiz.speakers.len(), 5);
    assert_eq!(programme.speaker_names(quiz)[0], "Jöran Muuß-Merholz");
    assert_eq!(quiz.languages, ["de"]);
    assert_eq!(programme.start.to_string(), "2014-12-27");
    assert_eq!(programme.end.to_string(), "2014-12-31");
}

#[test]
fn frab_xml_without_dates_gives_the_same_times_from_start_and_the_day() {
    let text = String::from_utf8(fixture("31c3-schedule.xml")).expect("UTF-8");
    let without_dates: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("<date>"))
        .collect::<Vec<_>>()
        .join("\n");
    let with = imported("31c3-schedule.xml").programme;
    let without = import(without_dates.as_bytes()).expect("imports from <start> alone");
    assert_eq!(without.programme, with);
    assert!(
        without
            .warnings
            .iter()
            .any(|w| w.starts_with("138 events have no <date>"))
    );
}

#[test]
fn fosdem_imports_all_943_events_in_40_rooms() {
    let imported = imported("fosdem-2025-schedule.xml");
    let programme = &imported.programme;
    let text = String::from_utf8(fixture("fosdem-2025-schedule.xml")).expect("UTF-8");
    assert_eq!(text.matches("<event ").count(), 943);
    assert_eq!(programme.sessions.len(), 943);
    // 40 rooms are listed; 11 of them hold no event but are still rooms of the conference.
    assert_eq!(programme.rooms.len(), 40);
    assert_eq!(programme.days.len(), 2);
    assert_eq!(programme.speakers.len(), 992);
    assert_eq!(programme.timezone, "Europe/Brussels");
    assert!(programme.tracks.len() >= 74);
    assert_every_event_imported(programme, &xml_events(&text));

    let first = programme
        .session("852280ac-61d3-588c-b74c-8d87f9d9d2c6")
        .expect("event 6210");
    assert_eq!(first.start, at("2025-02-01T09:35:00Z"));
    assert_eq!(first.end, at("2025-02-01T10:00:00Z"));
    assert_eq!(first.room, "k3201");
    assert_eq!(programme.speaker_names(first), ["Mikhail Gudim"]);
    assert!(first.abstract_text.starts_with("<p>Currently LLVM saves"));
    let sunday = programme
        .session("5162bdcf-440a-59b6-ab07-7b6ae9c7b788")
        .expect("event 6075");
    assert_eq!(sunday.start, at("2025-02-02T08:00:00Z"));
    let welcome = programme
        .session("27c44f03-e83a-55c2-b10a-7298b3ec74ff")
        .expect("event 6662");
    assert!(welcome.speakers.is_empty());
    assert_eq!(welcome.end.duration_since(welcome.start).as_mins(), 5);
    assert!(
        imported
            .warnings
            .iter()
            .any(|w| w.contains("\"devroom\" (925 events)"))
    );
}

#[test]
fn schema_violations_that_real_exports_share_are_tolerated() {
    // invalid-example.json breaks the schema with a string id, extra fields, a person code
    // outside the pattern and rooms outside the conference: nothing a programme needs.
    let imported = imported("invalid-example.json");
    let programme = &imported.programme;
    assert_eq!(programme.name, "Winterchaos");
    assert_eq!(programme.timezone, "Europe/Zurich");
    assert_eq!(programme.sessions.len(), 1);
    let session = &programme.sessions[0];
    assert_eq!(session.id, "7a0fc001-e587-47e1-b378-b6ec7e666337");
    assert_eq!(session.number, Some(2814));
    assert_eq!(session.start, at("2022-12-28T13:00:00Z"));
    assert_eq!(session.end, at("2022-12-28T13:45:00Z"));
    assert_eq!(programme.speaker_names(session), ["Mänu"]);
}

/// A frab-style file the way older exports look: no guids, no `<date>`, two languages, extra
/// elements, a day running past midnight, and the autumn clock change in Europe/Berlin.
const OLD_STYLE: &str = r#"<?xml version="1.0"?>
<schedule>
  <generator name="frab" version="0.7"/>
  <conference>
    <title>Herbstcamp</title>
    <acronym>herbst25</acronym>
    <time_zone_name>Europe/Berlin</time_zone_name>
    <unknown_setting>kept quiet</unknown_setting>
  </conference>
  <day index="1" date="2025-10-25" start="2025-10-25T10:00:00+02:00" end="2025-10-26T04:00:00+01:00">
    <room name="Halle A">
      <event id="11">
        <start>10:00</start><duration>01:00</duration><title>Saturday morning</title>
        <type>Vortrag</type><language>de, en</language><persons><person id="1">Ada</person></persons>
        <video_url>https://example.org/11</video_url>
      </event>
      <event id="12">
        <start>01:30</start><duration>00:45</duration><title>After midnight, still summer time</title>
        <type>lecture</type><language>DE</language><persons/>
      </event>
    </room>
  </day>
  <day index="2" date="2025-10-26" start="2025-10-26T10:00:00+01:00" end="2025-10-27T04:00:00+01:00">
    <room name="Halle A">
      <event id="13">
        <start>10:00</start><duration>00:30</duration><title>Sunday, winter time</title>
        <type>Workshop</type>
      </event>
    </room>
  </day>
</schedule>"#;

#[test]
fn old_style_files_import_from_start_times_across_the_clock_change() {
    let imported = import(OLD_STYLE.as_bytes()).expect("imports");
    let programme = &imported.programme;
    let times: Vec<(&str, Timestamp)> = programme
        .sessions
        .iter()
        .map(|session| (session.id.as_str(), session.start))
        .collect();
    assert_eq!(
        times,
        [
            // 10:00 CEST (+02:00).
            ("11", at("2025-10-25T08:00:00Z")),
            // 01:30 on the next calendar day, still CEST: the clocks go back at 03:00.
            ("12", at("2025-10-25T23:30:00Z")),
            // 10:00 CET (+01:00).
            ("13", at("2025-10-26T09:00:00Z")),
        ]
    );
    assert_eq!(programme.sessions[0].languages, ["de", "en"]);
    assert_eq!(programme.sessions[0].number, Some(11));
    assert_eq!(programme.sessions[1].languages, ["de"]);
    assert_eq!(programme.sessions[2].kind, SessionKind::Workshop);
    assert_eq!(programme.rooms[0].id, "halle-a");
    assert_eq!(programme.start.to_string(), "2025-10-25");
    assert_eq!(programme.end.to_string(), "2025-10-26");
    let warnings = imported.warnings.join("\n");
    assert!(warnings.contains("3 events have no guid"), "{warnings}");
    assert!(warnings.contains("3 events have no <date>"), "{warnings}");
    assert!(warnings.contains("\"Vortrag\" (1 events)"), "{warnings}");
}

fn refusal(body: &[u8]) -> String {
    match import(body) {
        Ok(imported) => panic!("imported {:?}", imported.programme.name),
        Err(error) => error.to_string(),
    }
}

#[test]
fn files_that_are_not_schedules_are_refused_saying_why() {
    let html = b"<!DOCTYPE html>\n<html><head><title>Schedule</title></head><body></body></html>";
    assert_eq!(
        refusal(html),
        "not a schedule: the XML document is a <html>, and a schedule.xml is a <schedule>"
    );
    assert_eq!(
        refusal(br#"{"foo":1}"#),
        "not a schedule: the JSON has no `schedule` object at its top"
    );
    assert!(refusal(b"").contains("empty"));
    assert!(refusal(b"BEGIN:VCALENDAR").contains("neither XML nor JSON"));
    assert!(refusal(&[0xff, 0xfe, 0x00]).contains("not UTF-8"));
    assert!(refusal(&fixture("schema.json")).starts_with("not a schedule"));
    assert!(refusal(&fixture("schedule.xml.xsd")).starts_with("not a schedule"));
    let truncated = &fixture("31c3-schedule.xml")[..5_000];
    assert!(refusal(truncated).starts_with("not well-formed XML"));
    let truncated = &fixture("pretalx-democon.json")[..5_000];
    assert!(refusal(truncated).starts_with("not a valid schedule.json"));
}

#[test]
fn events_missing_what_a_programme_needs_are_refused_naming_event_and_field() {
    let json = String::from_utf8(fixture("pretalx-democon.json")).expect("UTF-8");
    let without_duration = json.replacen(r#""duration": "00:30","#, "", 1);
    assert_eq!(
        refusal(without_duration.as_bytes()),
        "event 25: missing required field `duration`"
    );
    let bad_duration = json.replacen(r#""duration": "00:30""#, r#""duration": "half an hour""#, 1);
    assert!(
        refusal(bad_duration.as_bytes()).starts_with("event 25: bad duration \"half an hour\"")
    );
    let bad_date = json.replacen("2020-12-14T09:00:00+01:00", "14.12.2020 09:00", 1);
    assert!(refusal(bad_date.as_bytes()).starts_with("event 25: bad date \"14.12.2020 09:00\""));
    let twice = json.replacen(
        "2d64f8e2-26ee-529f-b5ab-3b3f326e31b9",
        "8079583e-8321-506c-95af-fd2903a5f075",
        1,
    );
    assert!(refusal(twice.as_bytes()).contains("\"8079583e-8321-506c-95af-fd2903a5f075\""));
    let untitled = OLD_STYLE.replace("<title>Saturday morning</title>", "");
    assert_eq!(
        refusal(untitled.as_bytes()),
        "event 11: missing required field `title`"
    );
    let no_key = OLD_STYLE.replace(r#"<event id="11">"#, "<event>");
    assert_eq!(
        refusal(no_key.as_bytes()),
        "event 1 in Halle A on day 1: missing required field `guid`"
    );
    let wrong_type = json.replacen(r#""title": "DemoCon""#, r#""title": 7"#, 1);
    assert!(refusal(wrong_type.as_bytes()).starts_with("not a valid schedule.json: invalid type"));
}

/// The events of an iCalendar text, as the `icalendar` crate's strict parser reads them.
fn calendar_events(ics: &str) -> Vec<icalendar::Event> {
    let calendar: icalendar::Calendar = ics.parse().expect("a strict parser reads it");
    calendar
        .components
        .into_iter()
        .filter_map(|component| match component {
            icalendar::CalendarComponent::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

#[test]
fn calendar_export_parses_with_one_event_per_session_at_utc_times() {
    for name in [
        "pretalx-democon.json",
        "31c3-schedule.xml",
        "fosdem-2025-schedule.xml",
    ] {
        let programme = imported(name).programme;
        let ics = to_ics(&programme, at("2026-11-28T12:00:00Z"));
        assert!(!ics.replace("\r\n", "").contains('\n'), "{name}: bare LF");
        assert!(!ics.replace("\r\n", "").contains('\r'), "{name}: bare CR");
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{name}: {} octets: {line}", line.len());
        }
        let events = calendar_events(&ics);
        assert_eq!(events.len(), programme.sessions.len(), "{name}");
        let rooms: HashMap<&str, &str> = programme
            .rooms
            .iter()
            .map(|room| (room.id.as_str(), room.name.as_str()))
            .collect();
        for (event, session) in events.iter().zip(&programme.sessions) {
            use icalendar::{CalendarDateTime, Component, DatePerhapsTime, EventLike};
            assert_eq!(
                event.get_uid(),
                Some(format!("{}@{}", session.id, programme.acronym).as_str())
            );
            assert_eq!(event.get_summary(), Some(session.title.as_str()));
            assert_eq!(event.get_location(), Some(rooms[session.room.as_str()]));
            assert!(event.get_timestamp().is_some(), "DTSTAMP");
            let utc_seconds = |time| match time {
                Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(time))) => time.timestamp(),
                other => panic!("{name}: not a UTC time: {other:?}"),
            };
            assert_eq!(utc_seconds(event.get_start()), session.start.as_second());
            assert_eq!(utc_seconds(event.get_end()), session.end.as_second());
        }
    }
}

#[test]
fn an_agenda_calendar_holds_only_the_bookmarked_sessions_each_with_an_alarm() {
    use icalendar::Component;
    let programme = Programme::demo(at("2026-11-28T12:47:00Z"));
    let bookmarked = ["showcases".to_owned(), "keynote-close".to_owned()];
    let ics = agenda_to_ics(
        &programme,
        &bookmarked,
        SignedDuration::from_mins(15),
        at("2026-11-28T12:00:00Z"),
    );
    let events = calendar_events(&ics);
    let uids: Vec<&str> = events.iter().filter_map(|event| event.get_uid()).collect();
    assert_eq!(
        uids,
        [
            "showcases@libraries-without-borders",
            "keynote-close@libraries-without-borders"
        ],
        "the bookmarked sessions, in programme order, with the programme's UIDs"
    );
    for event in events {
        let alarms: Vec<_> = event
            .components()
            .iter()
            .filter(|component| component.component_kind() == "VALARM")
            .collect();
        assert_eq!(alarms.len(), 1);
        assert_eq!(alarms[0].property_value("TRIGGER"), Some("-PT15M"));
        assert_eq!(alarms[0].property_value("ACTION"), Some("DISPLAY"));
        assert_eq!(
            alarms[0].property_value("DESCRIPTION"),
            event.get_summary(),
            "the alarm names the session"
        );
    }
    assert!(!to_ics(&programme, at("2026-11-28T12:00:00Z")).contains("VALARM"));
}

#[test]
fn schedule_json_export_imports_back_to_the_same_programme() {
    let programmes = [
        imported("pretalx-democon.json").programme,
        imported("31c3-schedule.xml").programme,
        imported("fosdem-2025-schedule.xml").programme,
        import(OLD_STYLE.as_bytes()).expect("imports").programme,
        Programme::demo(at("2026-11-28T12:47:00Z")),
    ];
    for programme in programmes {
        let exported = to_schedule_json(&programme);
        let text = serde_json::to_vec(&exported).expect("serialises");
        let again = import(&text).unwrap_or_else(|error| panic!("{}: {error}", programme.name));
        assert_eq!(again.programme, programme, "{}", programme.name);
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        let conference = &exported["schedule"]["conference"];
        for field in [
            "acronym",
            "title",
            "start",
            "end",
            "daysCount",
            "timeslot_duration",
            "days",
        ] {
            assert!(!conference[field].is_null(), "{field}");
        }
    }
}
