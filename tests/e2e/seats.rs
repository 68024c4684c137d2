//! Attendees' own programme through the real server: bookmarks and the agenda calendar,
//! reminders on every connection of a person at the right time and only once (also across a
//! restart), and workshop places under concurrent registration, with the waitlist, promotion
//! and the doors of a full workshop room.

use anyhow::{Context, Result, anyhow};
use futures_util::future::join_all;
use icalendar::Component;
use jiff::{SignedDuration, Timestamp};
use plenary_protocol::Role;
use plenary_tests::demo::{STAGE, WORKSHOP_ROOM, WORKSHOP_SESSION};
use plenary_tests::{Client, TestServer};
use serde_json::{Value, json};

/// The served programme's entry `id` in its list `kind` (`rooms`, `sessions`).
async fn programme_entry(server: &TestServer, kind: &str, id: &str) -> Result<Value> {
    let schedule: Value = reqwest::get(server.url("/api/schedule"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    schedule[kind]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry["id"] == id)
        .cloned()
        .ok_or_else(|| anyhow!("no {kind} entry {id}"))
}

/// When a session of the served programme starts.
async fn start_of(server: &TestServer, session: &str) -> Result<Timestamp> {
    let session = programme_entry(server, "sessions", session).await?;
    Ok(session["start"].as_str().context("a start")?.parse()?)
}

/// Move the server's clock to `at` (forward only).
fn move_clock_to(server: &TestServer, at: Timestamp) {
    let by = at.duration_since(server.clock().now());
    assert!(by >= SignedDuration::ZERO, "the clock only moves forward");
    server.clock().advance(by);
}

/// A connection of the person `token` names.
async fn connect(server: &TestServer, token: &str) -> Result<Client> {
    let mut client = Client::connect(server.addr()).await?;
    client.hello(token).await?;
    Ok(client)
}

/// The agenda calendar of a token, parsed by a strict parser: (UID, alarm trigger) per event.
async fn agenda_calendar(response: reqwest::Response) -> Result<Vec<(String, Option<String>)>> {
    let response = response.error_for_status()?;
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let calendar: icalendar::Calendar = response
        .text()
        .await?
        .parse()
        .map_err(|error| anyhow!("not iCalendar: {error}"))?;
    Ok(calendar
        .components
        .iter()
        .filter_map(|component| match component {
            icalendar::CalendarComponent::Event(event) => Some(event),
            _ => None,
        })
        .map(|event| {
            let trigger = event
                .components()
                .iter()
                .find(|alarm| alarm.component_kind() == "VALARM")
                .and_then(|alarm| alarm.property_value("TRIGGER"))
                .map(str::to_owned);
            (event.get_uid().unwrap_or_default().to_owned(), trigger)
        })
        .collect())
}

fn reminders(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["type"] == "reminder")
        .collect()
}

#[tokio::test]
async fn bookmarked_sessions_make_up_the_agenda_calendar_each_with_an_alarm() -> Result<()> {
    let server = TestServer::start().await?;
    let token = server.token(Role::Attendee, "Bookworm");
    let mut attendee = connect(&server, &token).await?;
    for session in ["keynote-close", "showcases", "panel-partnerships"] {
        attendee
            .ok(json!({"type":"bookmark","session":session}))
            .await?;
    }
    attendee
        .ok(json!({"type":"unbookmark","session":"panel-partnerships"}))
        .await?;
    let (unknown, _) = attendee
        .request(json!({"type":"bookmark","session":"no-such-session"}))
        .await?;
    assert_eq!(unknown["code"], "not_found");
    let (agenda, _) = attendee.ok(json!({"type":"agenda"})).await?;
    assert_eq!(agenda["type"], "agenda");
    assert_eq!(
        agenda["bookmarks"],
        json!(["showcases", "keynote-close"]),
        "in programme order"
    );

    let http = reqwest::Client::new();
    let url = server.url("/api/me/agenda.ics");
    let expected = vec![
        (
            "showcases@libraries-without-borders".to_owned(),
            Some("-PT10M".to_owned()),
        ),
        (
            "keynote-close@libraries-without-borders".to_owned(),
            Some("-PT10M".to_owned()),
        ),
    ];
    let by_header = agenda_calendar(http.get(&url).bearer_auth(&token).send().await?).await?;
    assert_eq!(by_header, expected);
    // Calendar apps subscribe to a link: the token rides in the query.
    let by_link = agenda_calendar(http.get(format!("{url}?token={token}")).send().await?).await?;
    assert_eq!(by_link, expected);
    // Someone else's agenda is their own (empty) one.
    let other = server.token(Role::Attendee, "Someone Else");
    let theirs = agenda_calendar(http.get(&url).bearer_auth(&other).send().await?).await?;
    assert!(theirs.is_empty(), "{theirs:?}");
    for refused in [
        http.get(&url).send().await?,
        http.get(format!("{url}?token=forged")).send().await?,
    ] {
        assert_eq!(refused.status(), 401);
        let body: Value = refused.json().await?;
        assert_eq!(body["error"]["code"], "unauthorized");
    }

    // Bookmarks are durable.
    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await?;
    let url = server.url("/api/me/agenda.ics");
    let again = agenda_calendar(http.get(&url).bearer_auth(&token).send().await?).await?;
    assert_eq!(again, expected);
    Ok(())
}

#[tokio::test]
async fn a_reminder_reaches_every_connection_of_the_person_once_at_its_time() -> Result<()> {
    let server = TestServer::start().await?;
    let session = "panel-partnerships";
    let start = start_of(&server, session).await?;
    let token = server.token(Role::Attendee, "Two Tabs");
    let mut laptop = connect(&server, &token).await?;
    let mut phone = connect(&server, &token).await?;
    let mut other = server.client(Role::Attendee, "Not Interested").await?;
    let bookmark = json!({"type":"bookmark","session":session});
    laptop.ok(bookmark.clone()).await?;
    // Someone who bookmarked a later session of the same room.
    let later = json!({"type":"bookmark","session":"showcases"});
    other.ok(later.clone()).await?;

    // The room catches up with the clock before it answers the next message in it, so
    // whatever the clock's move triggered arrives before that answer.
    move_clock_to(
        &server,
        start - SignedDuration::from_mins(10) - SignedDuration::from_secs(1),
    );
    let (_, before) = laptop.ok(bookmark.clone()).await?;
    assert!(reminders(&before).is_empty(), "not yet: {before:?}");

    server.clock().advance(SignedDuration::from_secs(1));
    let (_, before) = laptop.ok(bookmark.clone()).await?;
    let sent = reminders(&before);
    assert_eq!(sent.len(), 1, "{before:?}");
    assert_eq!(sent[0]["session"], session);
    assert_eq!(sent[0]["room"], STAGE);
    assert_eq!(sent[0]["minutes"], 10);
    assert_eq!(
        sent[0]["start"]
            .as_str()
            .map(str::parse::<Timestamp>)
            .transpose()?,
        Some(start)
    );
    let on_phone = phone.recv_until(|m| m["type"] == "reminder").await?;
    assert_eq!(
        on_phone, *sent[0],
        "the same reminder on the other connection"
    );
    let (_, before) = other.ok(later.clone()).await?;
    assert!(reminders(&before).is_empty(), "not to others: {before:?}");

    // Once: neither a later tick nor a restart sends it again.
    server.clock().advance(SignedDuration::from_mins(1));
    let (_, before) = laptop.ok(bookmark.clone()).await?;
    assert!(reminders(&before).is_empty(), "only once: {before:?}");
    let (_, before) = phone.ok(bookmark.clone()).await?;
    assert!(reminders(&before).is_empty(), "only once: {before:?}");

    let dir = server.stop().await;
    // The restarted server's clock starts at the real time again, before the reminder time.
    let server = TestServer::start_in(dir).await?;
    let mut laptop = connect(&server, &token).await?;
    move_clock_to(&server, start - SignedDuration::from_mins(9));
    let (_, before) = laptop.ok(bookmark).await?;
    assert!(
        reminders(&before).is_empty(),
        "not again after a restart: {before:?}"
    );
    Ok(())
}

/// Where an answer says one stands: ("registered", None) or ("waitlisted", Some(n)).
fn standing(answer: &Value) -> (String, Option<u64>) {
    (
        answer["status"].as_str().unwrap_or_default().to_owned(),
        answer["position"].as_u64(),
    )
}

#[tokio::test]
async fn concurrent_registrations_fill_the_places_exactly_and_the_waitlist_moves_up_in_order()
-> Result<()> {
    let server = TestServer::start().await?;
    let capacity = programme_entry(&server, "rooms", WORKSHOP_ROOM).await?["capacity"]
        .as_u64()
        .context("the demo's workshop room has a capacity")?;
    let capacity = usize::try_from(capacity)?;

    // Three times as many attendees as places ask at once.
    let tokens: Vec<String> = (0..3 * capacity)
        .map(|n| server.token(Role::Attendee, &format!("Attendee {n}")))
        .collect();
    let mut clients: Vec<Client> = join_all(tokens.iter().map(|token| connect(&server, token)))
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let register = json!({"type":"register","session":WORKSHOP_SESSION});
    let answers: Vec<Value> = join_all(clients.iter_mut().map(|client| {
        let register = register.clone();
        async move { client.ok(register).await.map(|(answer, _)| answer) }
    }))
    .await
    .into_iter()
    .collect::<Result<_>>()?;
    let registered: Vec<usize> = (0..answers.len())
        .filter(|&n| standing(&answers[n]) == ("registered".into(), None))
        .collect();
    plenary_tests::assert_places_taken_exactly(&answers, capacity);
    let at = |position: u64| {
        answers
            .iter()
            .position(|answer| answer["position"] == position)
            .expect("every position is someone's")
    };
    let (first, second) = (at(1), at(2));

    // A registered attendee gives up their place: the first in line gets it and is told on
    // every connection, and the second moves up.
    let leaver = registered[0];
    let (left, _) = clients[leaver]
        .ok(json!({"type":"unregister","session":WORKSHOP_SESSION}))
        .await?;
    assert_eq!(left["status"], "unregistered");
    let told = clients[first]
        .recv_until(|m| m["type"] == "registration")
        .await?;
    assert_eq!(told["session"], WORKSHOP_SESSION);
    assert_eq!(told["status"], "registered");
    assert_eq!(told["promoted"], true);
    let (agenda, before) = clients[second].ok(json!({"type":"agenda"})).await?;
    assert!(
        !before.iter().any(|m| m["type"] == "registration"),
        "only the promoted are told: {before:?}"
    );
    assert_eq!(
        agenda["registrations"],
        json!([{"session":WORKSHOP_SESSION,"status":"waitlisted","position":1}])
    );

    // The counts are there for everyone who looks at the room.
    let mut host = server.client(Role::Host, "Workshop Host").await?;
    let joined = host.join(WORKSHOP_ROOM).await?;
    let counts = json!({
        "capacity": capacity,
        "registered": capacity,
        "waitlisted": 2 * capacity - 1,
    });
    assert_eq!(joined["snapshot"]["seats"][WORKSHOP_SESSION], counts);

    // Everything survives a restart.
    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await?;
    let mut promoted = connect(&server, &tokens[first]).await?;
    let (agenda, _) = promoted.ok(json!({"type":"agenda"})).await?;
    assert_eq!(
        agenda["registrations"],
        json!([{"session":WORKSHOP_SESSION,"status":"registered"}])
    );
    let mut leaver = connect(&server, &tokens[leaver]).await?;
    let (agenda, _) = leaver.ok(json!({"type":"agenda"})).await?;
    assert_eq!(agenda["registrations"], json!([]));
    let mut host = server.client(Role::Host, "Workshop Host").await?;
    let joined = host.join(WORKSHOP_ROOM).await?;
    assert_eq!(joined["snapshot"]["seats"][WORKSHOP_SESSION], counts);
    Ok(())
}

/// Import the served programme again with another capacity for one room.
async fn set_capacity(server: &TestServer, room: &str, capacity: u32) -> Result<()> {
    let mut exported: Value = reqwest::get(server.url("/api/schedule.json"))
        .await?
        .json()
        .await?;
    let rooms = exported["schedule"]["conference"]["rooms"]
        .as_array_mut()
        .context("schedule.json lists rooms")?;
    for entry in rooms.iter_mut().filter(|entry| entry["slug"] == room) {
        entry["capacity"] = json!(capacity);
    }
    reqwest::Client::new()
        .post(server.url("/api/schedule/import"))
        .bearer_auth(server.token(Role::Organiser, "Organiser"))
        .body(serde_json::to_vec(&exported)?)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn join_answer(client: &mut Client, room: &str) -> Result<Value> {
    Ok(client.request(json!({"type":"join","room":room})).await?.0)
}

#[tokio::test]
async fn a_full_workshop_room_refuses_attendees_without_a_place_and_admits_the_rest() -> Result<()>
{
    let server = TestServer::start().await?;
    set_capacity(&server, WORKSHOP_ROOM, 2).await?;
    let register = json!({"type":"register","session":WORKSHOP_SESSION});
    let mut first = server.client(Role::Attendee, "First").await?;
    let mut second = server.client(Role::Attendee, "Second").await?;
    let mut third = server.client(Role::Attendee, "Third").await?;
    let mut walk_in = server.client(Role::Attendee, "Walk In").await?;
    for client in [&mut first, &mut second] {
        let (answer, _) = client.ok(register.clone()).await?;
        assert_eq!(answer["status"], "registered");
    }
    let (answer, _) = third.ok(register.clone()).await?;
    assert_eq!(standing(&answer), ("waitlisted".into(), Some(1)));
    let mut host = server.client(Role::Host, "Host").await?;
    let (refused, _) = host.request(register.clone()).await?;
    assert_eq!(refused["code"], "conflict", "staff need no place");

    // The workshop goes live: its two places are taken by the registered.
    move_clock_to(
        &server,
        start_of(&server, WORKSHOP_SESSION).await? + SignedDuration::from_mins(1),
    );
    for client in [&mut third, &mut walk_in] {
        let refused = join_answer(client, WORKSHOP_ROOM).await?;
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["code"], "full", "{refused}");
    }
    assert_eq!(
        join_answer(&mut first, WORKSHOP_ROOM).await?["type"],
        "joined"
    );
    assert_eq!(
        join_answer(&mut host, WORKSHOP_ROOM).await?["type"],
        "joined"
    );
    let mut moderator = server.client(Role::Moderator, "Moderator").await?;
    assert_eq!(
        join_answer(&mut moderator, WORKSHOP_ROOM).await?["type"],
        "joined"
    );
    // Another workshop room with places to spare lets the walk-in in.
    assert_eq!(
        join_answer(&mut walk_in, "workshop-2").await?["type"],
        "joined"
    );

    // A place frees: the first in line gets it, is told, and is let in.
    second
        .ok(json!({"type":"unregister","session":WORKSHOP_SESSION}))
        .await?;
    let told = third.recv_until(|m| m["type"] == "registration").await?;
    assert_eq!(told["promoted"], true);
    assert_eq!(
        join_answer(&mut third, WORKSHOP_ROOM).await?["type"],
        "joined"
    );
    let refused = join_answer(&mut second, WORKSHOP_ROOM).await?;
    assert_eq!(
        refused["code"], "full",
        "who gave their place up is a walk-in now"
    );
    Ok(())
}

#[tokio::test]
async fn a_workshop_moved_to_another_room_keeps_its_bookmarks_and_places() -> Result<()> {
    let server = TestServer::start().await?;
    let start = start_of(&server, WORKSHOP_SESSION).await?;
    let token = server.token(Role::Attendee, "Mover");
    let mut ada = connect(&server, &token).await?;
    let bookmark = json!({"type":"bookmark","session":WORKSHOP_SESSION});
    let register = json!({"type":"register","session":WORKSHOP_SESSION});
    ada.ok(bookmark.clone()).await?;
    let (registered, _) = ada.ok(register.clone()).await?;
    assert_eq!(standing(&registered), ("registered".into(), None));

    // An organiser opens a new room and moves the workshop into it.
    let organiser = server.token(Role::Organiser, "Olu");
    let http = reqwest::Client::new();
    let room: Value = http
        .post(server.url("/api/rooms"))
        .bearer_auth(&organiser)
        .json(&json!({"name": "Annexe", "kind": "workshop", "capacity": 20}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let annexe = room["id"].as_str().context("the new room's id")?;
    http.patch(server.url(&format!("/api/sessions/{WORKSHOP_SESSION}")))
        .bearer_auth(&organiser)
        .json(&json!({"room": annexe}))
        .send()
        .await?
        .error_for_status()?;
    assert_eq!(
        programme_entry(&server, "sessions", WORKSHOP_SESSION).await?["room"],
        annexe
    );

    // The place went along: asking again keeps it (and the connection stays up).
    let (again, _) = ada.ok(register).await?;
    assert_eq!(standing(&again), ("registered".into(), None));
    // The bookmark went along: the new room reminds, once.
    move_clock_to(&server, start - SignedDuration::from_mins(10));
    let (_, before) = ada.ok(bookmark.clone()).await?;
    let sent = reminders(&before);
    assert_eq!(sent.len(), 1, "{before:?}");
    assert_eq!(sent[0]["room"], annexe);
    server.clock().advance(SignedDuration::from_mins(1));
    let (_, before) = ada.ok(bookmark).await?;
    assert!(reminders(&before).is_empty(), "only once: {before:?}");
    Ok(())
}
