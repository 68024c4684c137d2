//! The programme runs itself: sessions move scheduled → open → live → ended on the (test's)
//! clock, Q&A closes at the end, hosts run sessions off the clock, and a restart neither
//! repeats nor skips a step.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use jiff::{SignedDuration, Timestamp};
use plenary_protocol::Role;
use plenary_server::clock::Clock;
use plenary_tests::demo::STAGE;
use plenary_tests::{Client, TestServer};
use serde_json::{Value, json};

const ORDER: [&str; 4] = ["scheduled", "open", "live", "ended"];

/// The phase step, Q&A closing or reminder a message tells of, if it is one.
fn step_of(message: &Value) -> Option<(String, String)> {
    if message["type"] == "reminder" {
        let session = message["session"].as_str().unwrap_or_default();
        return Some((session.to_owned(), "reminder".into()));
    }
    let event = &message["event"];
    let session = event["session"].as_str().unwrap_or_default().to_owned();
    match event["kind"].as_str() {
        Some("session_phase") => Some((
            session,
            event["phase"].as_str().unwrap_or_default().to_owned(),
        )),
        Some("qa_state") if event["open"] == false => Some((session, "qa_closed".into())),
        _ => None,
    }
}

/// The phase steps and Q&A closings among messages.
fn steps_in(messages: &[Value]) -> Vec<(String, String)> {
    messages.iter().filter_map(step_of).collect()
}

/// The phase steps and Q&A closings a client receives until `until` says stop.
async fn steps_until(
    client: &mut Client,
    done: impl Fn(&[(String, String)]) -> bool,
) -> Result<Vec<(String, String)>> {
    let mut steps = Vec::new();
    while !done(&steps) {
        steps.extend(step_of(&client.recv().await?));
    }
    Ok(steps)
}

/// Each session took every step after the phase it was in (`phases`), once and in order,
/// and its Q&A closed at the end.
fn assert_every_step_once(steps: &[(String, String)], phases: &Value, sessions: &[String]) {
    for session in sessions {
        let taken: Vec<&str> = steps
            .iter()
            .filter(|(s, _)| s == session)
            .map(|(_, step)| step.as_str())
            .collect();
        let from = ORDER
            .iter()
            .position(|phase| *phase == phases[session])
            .expect("a known phase");
        let mut expected: Vec<&str> = ORDER[from + 1..].to_vec();
        expected.push("qa_closed");
        assert_eq!(taken, expected, "{session}: every step once, in order");
    }
}

fn all_ended(sessions: &[String]) -> impl Fn(&[(String, String)]) -> bool + '_ {
    move |steps| {
        sessions.iter().all(|session| {
            steps
                .iter()
                .any(|(s, step)| s == session && step == "qa_closed")
        })
    }
}

#[tokio::test]
async fn a_conference_day_runs_on_the_clock_step_by_step_and_closes_qa() -> Result<()> {
    let server = TestServer::start().await?;
    let mut attendee = server.client(Role::Attendee, "Early Bird").await?;
    let joined = attendee.join(STAGE).await?;
    let phases = joined["snapshot"]["phases"].clone();
    assert_eq!(phases["welcome"], "ended");
    assert_eq!(phases["keynote-open"], "live");
    assert_eq!(joined["snapshot"]["qa_closed"], json!(["welcome"]));
    let sessions: Vec<String> = phases
        .as_object()
        .expect("phases by session")
        .iter()
        .filter(|(_, phase)| *phase != "ended")
        .map(|(session, _)| session.clone())
        .collect();
    assert!(sessions.len() >= 4, "{phases}");

    // Five hours of programme in one move of the clock.
    assert!(server.clock().advance(SignedDuration::from_hours(5)));
    let steps = steps_until(&mut attendee, all_ended(&sessions)).await?;
    assert_every_step_once(&steps, &phases, &sessions);
    let (refused, _) = attendee
        .request(json!({"type":"ask","session":"keynote-open","text":"Still there?"}))
        .await?;
    assert_eq!(refused["code"], "qa_closed");
    Ok(())
}

#[tokio::test]
async fn a_host_starts_a_session_early_and_ends_it_and_attendees_may_not() -> Result<()> {
    let server = TestServer::start().await?;
    let mut host = server.client(Role::Host, "Host").await?;
    let mut attendee = server.client(Role::Attendee, "Watcher").await?;
    host.join(STAGE).await?;
    attendee.join(STAGE).await?;
    let control = |action: &str| json!({"type":"session_control","session":"panel-partnerships","action":action});
    let (refused, _) = attendee.request(control("start")).await?;
    assert_eq!(refused["code"], "forbidden");
    host.ok(control("start")).await?;
    let live = attendee
        .recv_until(|m| m["event"]["kind"] == "session_phase" && m["event"]["phase"] == "live")
        .await?;
    assert_eq!(live["event"]["session"], "panel-partnerships");
    host.ok(control("end")).await?;
    let steps = steps_until(&mut attendee, |steps| {
        steps.iter().any(|(_, step)| step == "qa_closed")
    })
    .await?;
    assert_eq!(
        steps,
        [
            ("panel-partnerships".to_owned(), "ended".to_owned()),
            ("panel-partnerships".to_owned(), "qa_closed".to_owned())
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_restart_in_the_middle_of_the_day_neither_repeats_nor_skips_a_step() -> Result<()> {
    let server = TestServer::start().await?;
    let token = server.token(Role::Attendee, "Stayer");
    let mut attendee = Client::connect(server.addr()).await?;
    attendee.hello(&token).await?;
    let joined = attendee.join(STAGE).await?;
    let phases = joined["snapshot"]["phases"].clone();
    let unfinished: Vec<String> = phases
        .as_object()
        .expect("phases")
        .iter()
        .filter(|(_, phase)| *phase != "ended")
        .map(|(session, _)| session.clone())
        .collect();
    // Two hours on: some sessions are over, the last ones not yet. The room catches up with
    // the clock before it answers the next message, so every step comes before the ack.
    server.clock().advance(SignedDuration::from_hours(2));
    let (_, before) = attendee
        .ok(json!({"type":"chat","room":STAGE,"text":"before the restart"}))
        .await?;
    let first = steps_in(&before);
    assert!(first.contains(&("keynote-open".to_owned(), "qa_closed".to_owned())));
    let last_seq = before
        .iter()
        .filter_map(|m| m["seq"].as_u64())
        .max()
        .expect("the chat event");

    let dir = server.stop().await;
    // The restarted server's clock starts at the real time again: two hours behind.
    let server = TestServer::start_in(dir).await?;
    let mut attendee = Client::connect(server.addr()).await?;
    attendee.hello(&token).await?;
    attendee
        .ok(json!({"type":"join","room":STAGE,"since":last_seq}))
        .await?;
    server.clock().advance(SignedDuration::from_hours(2));
    let (_, again) = attendee
        .ok(json!({"type":"chat","room":STAGE,"text":"after the restart"}))
        .await?;
    assert!(
        steps_in(&again).is_empty(),
        "nothing announced twice: {again:?}"
    );

    server.clock().advance(SignedDuration::from_hours(4));
    let (_, after) = attendee
        .ok(json!({"type":"chat","room":STAGE,"text":"at the end of the day"}))
        .await?;
    let second = steps_in(&after);
    let steps: Vec<(String, String)> = first.into_iter().chain(second).collect();
    assert_every_step_once(&steps, &phases, &unfinished);
    Ok(())
}

/// A night programme in London across the end of summer time (25 October 2026: at 02:00 BST
/// the clocks go back to 01:00 GMT), so that "01:30" happens twice, an hour apart.
fn night_across_the_clock_change() -> Value {
    let event = |guid: &str, date: &str, duration: &str| {
        json!({
            "guid": guid, "id": guid, "date": date, "duration": duration, "title": guid,
            "type": "talk", "language": "en", "persons": [],
        })
    };
    json!({ "schedule": { "version": "1", "conference": {
        "acronym": "night", "title": "A Night of Libraries", "time_zone_name": "Europe/London",
        "start": "2026-10-24", "end": "2026-10-25",
        "rooms": [{ "name": "Night stage" }],
        "days": [{
            "index": 1, "date": "2026-10-24",
            "day_start": "2026-10-24T22:00:00+01:00", "day_end": "2026-10-25T05:00:00+00:00",
            "rooms": { "Night stage": [
                event("late-talk", "2026-10-25T00:15:00+01:00", "00:45"),
                event("first-one-thirty", "2026-10-25T01:30:00+01:00", "00:30"),
                event("second-one-thirty", "2026-10-25T01:30:00+00:00", "00:30"),
                event("dawn", "2026-10-25T03:00:00+00:00", "01:00"),
            ] },
        }],
    } } })
}

#[tokio::test]
async fn a_night_across_the_end_of_summer_time_steps_and_reminds_each_at_its_instant() -> Result<()>
{
    let server = TestServer::start_with(|config| {
        config.clock = Clock::manual("2026-10-24T21:00:00Z".parse().expect("an instant"));
        config.reminder = std::time::Duration::from_secs(15 * 60);
        // The test says something after every move of the clock: more than people may.
        config.person_limits.chat = None;
    })
    .await?;
    let schedule = crate::import::imported(
        &server,
        serde_json::to_vec(&night_across_the_clock_change())?,
    )
    .await?;
    let starts: BTreeMap<&str, &str> = schedule["sessions"]
        .as_array()
        .context("sessions")?
        .iter()
        .filter_map(|session| Some((session["id"].as_str()?, session["start"].as_str()?)))
        .collect();
    // The two "01:30"s are an hour apart in UTC, and the doors open ten minutes before each.
    assert_eq!(
        starts,
        BTreeMap::from([
            ("late-talk", "2026-10-24T23:15:00Z"),
            ("first-one-thirty", "2026-10-25T00:30:00Z"),
            ("second-one-thirty", "2026-10-25T01:30:00Z"),
            ("dawn", "2026-10-25T03:00:00Z"),
        ])
    );
    let room = schedule["rooms"][0]["id"].as_str().context("room")?;
    let mut attendee = server.client(Role::Attendee, "Night Owl").await?;
    attendee.join(room).await?;
    // The two "01:30"s are bookmarked: each is reminded of a quarter of an hour before.
    let bookmarked = ["first-one-thirty", "second-one-thirty"];
    for session in bookmarked {
        attendee
            .ok(json!({"type":"bookmark","session":session}))
            .await?;
    }

    // Every step, Q&A closing and reminder, at the instant it is due (UTC).
    let mut due: BTreeMap<Timestamp, Vec<(String, String)>> = BTreeMap::new();
    let sessions = [
        ("late-talk", "2026-10-24T23:15:00Z", 45),
        ("first-one-thirty", "2026-10-25T00:30:00Z", 30),
        ("second-one-thirty", "2026-10-25T01:30:00Z", 30),
        ("dawn", "2026-10-25T03:00:00Z", 60),
    ];
    for (session, start, minutes) in sessions {
        let start: Timestamp = start.parse()?;
        let end = start + SignedDuration::from_mins(minutes);
        if bookmarked.contains(&session) {
            due.entry(start - SignedDuration::from_mins(15))
                .or_default()
                .push((session.to_owned(), "reminder".to_owned()));
        }
        for (at, step) in [
            (start - SignedDuration::from_mins(10), "open"),
            (start, "live"),
            (end, "ended"),
            (end, "qa_closed"),
        ] {
            due.entry(at)
                .or_default()
                .push((session.to_owned(), step.to_owned()));
        }
    }
    // The room catches up with the clock before it answers, so each answer comes after
    // everything due by then: a second early nothing is taken, at the instant exactly these.
    let mut said = 0;
    let mut poke = async |attendee: &mut Client| -> Result<Vec<(String, String)>> {
        said += 1;
        let (_, before) = attendee
            .ok(json!({"type":"chat","room":room,"text":format!("still here {said}")}))
            .await?;
        Ok(steps_in(&before))
    };
    for (at, steps) in due {
        let now = server.clock().now();
        server
            .clock()
            .advance(now.duration_until(at) - SignedDuration::from_secs(1));
        assert_eq!(poke(&mut attendee).await?, [], "a second before {at}");
        server.clock().advance(SignedDuration::from_secs(1));
        assert_eq!(poke(&mut attendee).await?, steps, "at {at}");
    }
    let (refused, _) = attendee
        .request(json!({"type":"ask","session":"second-one-thirty","text":"Which 01:30?"}))
        .await?;
    assert_eq!(refused["code"], "qa_closed");
    Ok(())
}
