//! Organisers' edits and the rules they keep, on the demo programme, without I/O.
//!
//! The demo, laid around 12:47 UTC: the day runs 11:30–16:30; on the main stage the keynote
//! (Priya Raman) runs 12:00–13:00 and the panel 13:15–14:15; workshop rooms 1–3 hold
//! workshops 14:15–15:45 (Jonas Becker speaks in the panel, then leads workshop 1).

use plenary_protocol::organiser::{ProblemCode, RoomInput, SessionInput, SpeakerInput, TrackInput};
use plenary_protocol::{RoomKind, SessionKind};

use super::{Resource, Rooms, Sessions, Speakers, Target, Tracks};
use crate::programme::Programme;
use crate::programme::validate::{self, Problems};

fn demo() -> Programme {
    Programme::demo("2026-11-28T12:47:00Z".parse().expect("an instant"))
}

/// A talk in workshop room 1 before its workshop, free of every conflict.
fn talk(start: &str, end: &str) -> SessionInput {
    SessionInput {
        id: None,
        title: "Lightning talks".into(),
        kind: SessionKind::Talk,
        room: "workshop-1".into(),
        start: start.into(),
        end: end.into(),
        track: None,
        speakers: Vec::new(),
        hosts: Vec::new(),
        moderators: Vec::new(),
        subtitle: String::new(),
        abstract_text: String::new(),
        description: String::new(),
        languages: vec!["en".into()],
        qa_moderated: None,
    }
}

/// What a refused change found, as (field, code, other session).
fn found(problems: Problems) -> Vec<(String, ProblemCode, Option<String>)> {
    problems
        .into_iter()
        .map(|problem| (problem.field, problem.code, problem.session))
        .collect()
}

/// Put a session and expect it refused; the programme must not change.
fn refused(programme: &mut Programme, target: Target<'_>, input: SessionInput) -> Problems {
    let before = programme.clone();
    let problems = Sessions::put(programme, target, input).expect_err("refused");
    assert_eq!(*programme, before, "a refused change changes nothing");
    problems
}

fn field(
    field: &str,
    code: ProblemCode,
    session: Option<&str>,
) -> (String, ProblemCode, Option<String>) {
    (field.to_owned(), code, session.map(str::to_owned))
}

#[test]
fn the_demo_keeps_every_rule() {
    let programme = demo();
    for session in &programme.sessions {
        let mut problems = validate::session_fields(&programme, session);
        problems.extend(validate::session_times(&programme, session));
        assert!(problems.is_empty(), "{}: {problems:?}", session.id);
    }
    for room in &programme.rooms {
        assert!(validate::room(&programme, room).is_empty());
    }
}

#[test]
fn a_session_free_of_conflicts_is_added_in_the_programmes_order() {
    let mut programme = demo();
    let added = Sessions::put(
        &mut programme,
        Target::New,
        talk("2026-11-28T12:00:00Z", "2026-11-28T13:00:00Z"),
    )
    .expect("accepted");
    assert_eq!(added.id, "lightning-talks");
    assert!(!added.qa_moderated, "talks take open questions by default");
    let session = programme
        .session("lightning-talks")
        .expect("in the programme");
    assert_eq!(session.room, "workshop-1");
    let starts: Vec<_> = programme.sessions.iter().map(|s| s.start).collect();
    assert!(starts.is_sorted());
}

#[test]
fn sessions_that_only_touch_do_not_overlap() {
    let mut programme = demo();
    // The keynote's speaker is free from 13:00; workshop 1 starts at 14:15.
    let mut input = talk("2026-11-28T13:00:00Z", "2026-11-28T14:15:00Z");
    input.speakers = vec!["priya-raman".into()];
    Sessions::put(&mut programme, Target::New, input).expect("accepted");
}

#[test]
fn a_session_that_does_not_end_after_it_starts_is_refused() {
    let mut programme = demo();
    for end in ["2026-11-28T11:59:00Z", "2026-11-28T12:00:00Z"] {
        let problems = refused(
            &mut programme,
            Target::New,
            talk("2026-11-28T12:00:00Z", end),
        );
        assert_eq!(
            found(problems),
            [field("end", ProblemCode::EndNotAfterStart, None)]
        );
    }
}

#[test]
fn a_session_outside_the_conference_days_is_refused() {
    let mut programme = demo();
    // The day ends at 16:30.
    let problems = refused(
        &mut programme,
        Target::New,
        talk("2026-11-28T16:00:00Z", "2026-11-28T17:00:00Z"),
    );
    assert_eq!(
        found(problems),
        [field("start", ProblemCode::OutsideConferenceDays, None)]
    );
}

#[test]
fn two_sessions_in_one_room_at_once_are_refused_naming_the_other() {
    let mut programme = demo();
    let mut input = talk("2026-11-28T12:30:00Z", "2026-11-28T12:50:00Z");
    input.room = "main-stage".into();
    let problems = refused(&mut programme, Target::New, input);
    assert_eq!(
        found(problems.clone()),
        [field(
            "room",
            ProblemCode::RoomOverlap,
            Some("keynote-open")
        )]
    );
    assert!(
        problems[0].message.contains("Keynote"),
        "{}",
        problems[0].message
    );
}

#[test]
fn a_speaker_in_two_sessions_at_once_is_refused() {
    let mut programme = demo();
    let mut input = talk("2026-11-28T12:30:00Z", "2026-11-28T13:00:00Z");
    input.speakers = vec!["priya-raman".into()];
    let problems = refused(&mut programme, Target::New, input);
    assert_eq!(
        found(problems.clone()),
        [field(
            "speakers",
            ProblemCode::SpeakerDoubleBooked,
            Some("keynote-open")
        )]
    );
    assert!(problems[0].message.contains("Priya Raman"));
}

#[test]
fn a_host_or_moderator_in_two_sessions_at_once_is_refused() {
    let mut programme = demo();
    let keynote = programme
        .sessions
        .iter_mut()
        .find(|s| s.id == "keynote-open")
        .expect("the keynote");
    keynote.hosts = vec!["u-amelia".into()];
    keynote.moderators = vec!["u-omar".into()];
    let mut input = talk("2026-11-28T12:30:00Z", "2026-11-28T13:00:00Z");
    // Amelia hosts the keynote and would moderate this; Omar moderates it and would host.
    input.hosts = vec!["u-omar".into()];
    input.moderators = vec!["u-amelia".into()];
    let problems = refused(&mut programme, Target::New, input);
    assert_eq!(
        found(problems),
        [
            field("hosts", ProblemCode::HostDoubleBooked, Some("keynote-open")),
            field(
                "moderators",
                ProblemCode::ModeratorDoubleBooked,
                Some("keynote-open")
            ),
        ]
    );
}

#[test]
fn unknown_rooms_tracks_and_speakers_are_refused() {
    let mut programme = demo();
    let mut input = talk("2026-11-28T12:00:00Z", "2026-11-28T12:30:00Z");
    input.room = "attic".into();
    input.track = Some("poetry".into());
    input.speakers = vec!["nobody".into()];
    let problems = refused(&mut programme, Target::New, input);
    assert_eq!(
        found(problems),
        [
            field("room", ProblemCode::UnknownRoom, None),
            field("track", ProblemCode::UnknownTrack, None),
            field("speakers", ProblemCode::UnknownSpeaker, None),
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut programme = demo();
    let mut input = talk("2026-11-28T12:30:00Z", "2026-11-28T18:00:00Z");
    input.title = " ".into();
    input.room = "main-stage".into();
    input.track = Some("poetry".into());
    input.speakers = vec!["priya-raman".into(), "priya-raman".into()];
    input.hosts = vec![String::new()];
    let codes: Vec<ProblemCode> = found(refused(&mut programme, Target::New, input))
        .into_iter()
        .map(|(_, code, _)| code)
        .collect();
    for code in [
        ProblemCode::Required,
        ProblemCode::UnknownTrack,
        ProblemCode::Duplicate,
        ProblemCode::InvalidValue,
        ProblemCode::OutsideConferenceDays,
        ProblemCode::RoomOverlap,
        ProblemCode::SpeakerDoubleBooked,
    ] {
        assert!(codes.contains(&code), "{code:?} in {codes:?}");
    }
}

#[test]
fn times_that_are_not_rfc_3339_are_refused_with_the_other_problems() {
    let mut programme = demo();
    let mut input = talk("noon", "2026-11-28 13:00");
    input.room = "attic".into();
    assert_eq!(
        found(refused(&mut programme, Target::New, input)),
        [
            field("start", ProblemCode::InvalidValue, None),
            field("end", ProblemCode::InvalidValue, None),
            field("room", ProblemCode::UnknownRoom, None),
        ]
    );
}

#[test]
fn a_session_moved_within_its_own_slot_does_not_conflict_with_itself() {
    let mut programme = demo();
    let mut keynote = Sessions::get(&programme, "keynote-open").expect("the keynote");
    keynote.end = "2026-11-28T12:55:00Z".into();
    let input: SessionInput =
        serde_json::from_value(serde_json::to_value(&keynote).expect("JSON")).expect("an input");
    let changed =
        Sessions::put(&mut programme, Target::Existing("keynote-open"), input).expect("accepted");
    assert_eq!(changed, keynote, "what GET shows can be put back as it is");
    let session = programme.session("keynote-open").expect("still there");
    assert_eq!(session.end.to_string(), "2026-11-28T12:55:00Z");
    // Running it on into the break (13:00–13:15) is refused.
    let mut input = talk("2026-11-28T12:00:00Z", "2026-11-28T13:10:00Z");
    input.room = "main-stage".into();
    input.kind = SessionKind::Keynote;
    let problems = refused(&mut programme, Target::Existing("keynote-open"), input);
    assert_eq!(
        found(problems),
        [field(
            "room",
            ProblemCode::RoomOverlap,
            Some("break-morning")
        )]
    );
}

#[test]
fn ids_are_checked_taken_ones_refused_and_never_changed() {
    let mut programme = demo();
    let mut input = talk("2026-11-28T12:00:00Z", "2026-11-28T12:30:00Z");
    input.id = Some("keynote-open".into());
    assert_eq!(
        found(refused(&mut programme, Target::New, input.clone())),
        [field("id", ProblemCode::IdTaken, None)]
    );
    input.id = Some("no spaces/or slashes".into());
    assert_eq!(
        found(refused(&mut programme, Target::New, input.clone())),
        [field("id", ProblemCode::InvalidValue, None)]
    );
    input.id = Some("other".into());
    input.room = "main-stage".into();
    input.kind = SessionKind::Keynote;
    assert_eq!(
        found(refused(
            &mut programme,
            Target::Existing("keynote-open"),
            input
        )),
        [field("id", ProblemCode::IdMismatch, None)]
    );
}

#[test]
fn rooms_need_a_name_of_their_own_and_a_real_capacity() {
    let mut programme = demo();
    let room = |name: &str, capacity| RoomInput {
        id: None,
        name: name.into(),
        kind: RoomKind::Workshop,
        capacity,
    };
    let added =
        Rooms::put(&mut programme, Target::New, room("Reading room", Some(12))).expect("accepted");
    assert_eq!(added.id, "reading-room");
    let problems =
        Rooms::put(&mut programme, Target::New, room("Main stage", Some(0))).expect_err("refused");
    assert_eq!(
        found(problems),
        [
            field("name", ProblemCode::Duplicate, None),
            field("capacity", ProblemCode::InvalidValue, None),
        ]
    );
    // A room keeps its place when it is replaced.
    Rooms::put(
        &mut programme,
        Target::Existing("main-stage"),
        room("Big stage", None),
    )
    .expect("accepted");
    assert_eq!(programme.rooms[0].name, "Big stage");
}

#[test]
fn what_sessions_still_use_cannot_be_deleted() {
    let mut programme = demo();
    let problems = Rooms::delete(&mut programme, "workshop-2").expect_err("in use");
    assert_eq!(
        found(problems),
        [field(
            "id",
            ProblemCode::InUse,
            Some("workshop-fundraising")
        )]
    );
    let problems = Speakers::delete(&mut programme, "rahul-desai").expect_err("in use");
    assert_eq!(problems.len(), 2, "the panel and the storytelling workshop");

    Tracks::put(
        &mut programme,
        Target::New,
        TrackInput {
            id: Some("stories".into()),
            name: "Stories".into(),
        },
    )
    .expect("a new track");
    let mut input = talk("2026-11-28T12:00:00Z", "2026-11-28T12:30:00Z");
    input.track = Some("stories".into());
    Sessions::put(&mut programme, Target::New, input).expect("in the track");
    let problems = Tracks::delete(&mut programme, "stories").expect_err("in use");
    assert_eq!(
        found(problems),
        [field("id", ProblemCode::InUse, Some("lightning-talks"))]
    );

    // Once the sessions are gone, so may the room be.
    Sessions::delete(&mut programme, "workshop-fundraising").expect("deleted");
    Rooms::delete(&mut programme, "workshop-2").expect("deleted");
    assert!(programme.room("workshop-2").is_none());
}

#[test]
fn speakers_stay_in_name_order_and_renaming_one_renames_it_everywhere() {
    let mut programme = demo();
    Speakers::put(
        &mut programme,
        Target::New,
        SpeakerInput {
            id: None,
            name: "Aaron Abbot".into(),
        },
    )
    .expect("accepted");
    assert_eq!(programme.speakers[0].id, "aaron-abbot");
    Speakers::put(
        &mut programme,
        Target::Existing("priya-raman"),
        SpeakerInput {
            id: None,
            name: "Dr Priya Raman".into(),
        },
    )
    .expect("renamed");
    let keynote = programme.session("keynote-open").expect("the keynote");
    assert_eq!(programme.speaker_names(keynote), ["Dr Priya Raman"]);
    let names: Vec<&str> = programme.speakers.iter().map(|s| s.name.as_str()).collect();
    assert!(names.is_sorted(), "{names:?}");
}

#[test]
fn a_reimport_keeps_speaker_ids_and_sessions_hosts() {
    // An organiser gave Priya Raman the id `priya` and the keynote a host.
    let mut before = demo();
    for speaker in &mut before.speakers {
        if speaker.id == "priya-raman" {
            speaker.id = "priya".into();
        }
    }
    for session in &mut before.sessions {
        if session.id == "keynote-open" {
            session.speakers = vec!["priya".into()];
            session.hosts = vec!["u-amelia".into()];
        }
    }
    // The same programme from a file knows neither.
    let mut file = demo();
    assert_ne!(file, before);
    file.inherit(&before);
    assert_eq!(file, before);
}
