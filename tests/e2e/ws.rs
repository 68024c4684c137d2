//! The WebSocket protocol through the real server: chat fan-out, resume with `since`, the
//! question lifecycle, bad input, restarts, and a failed durable write.

use anyhow::Result;
use plenary_protocol::Role;
use plenary_tests::demo::{KEYNOTE, STAGE, WORKSHOP_SESSION};
use plenary_tests::{Client, DeafClient, TestServer};
use serde_json::{Value, json};

fn seq(message: &Value) -> u64 {
    message["seq"].as_u64().expect("message has a seq")
}

fn is_event(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |message| message["type"] == "event" && message["event"]["kind"] == kind
}

#[tokio::test]
async fn chat_reaches_every_member_in_order_with_consecutive_seq() -> Result<()> {
    let server = TestServer::start().await?;
    let mut alice = server.client(Role::Attendee, "Alice").await?;
    let mut bjorn = server.client(Role::Attendee, "Bjørn").await?;
    let joined = alice.join(STAGE).await?;
    bjorn.join(STAGE).await?;
    let start = seq(&joined);

    let mut acked = Vec::new();
    let mut alice_saw = Vec::new();
    for n in 1..=5 {
        let (ack, before) = alice
            .ok(json!({"type":"chat","room":STAGE,"text":format!("hello {n}")}))
            .await?;
        acked.push(ack["id"].as_u64().expect("chat ack carries the message id"));
        // The sender's own copy of the event arrives before the ack.
        alice_saw.extend(before);
    }
    let mut bjorn_saw = Vec::new();
    while bjorn_saw.len() < 5 {
        bjorn_saw.push(bjorn.recv_until(is_event("chat")).await?);
    }

    let expected: Vec<_> = (1..=5)
        .map(|n| (start + n, json!(format!("hello {n}"))))
        .collect();
    for seen in [alice_saw, bjorn_saw] {
        assert!(
            seen.iter()
                .all(|event| event["room"] == STAGE && event["event"]["author"]["name"] == "Alice")
        );
        let seen: Vec<_> = seen
            .iter()
            .map(|event| (seq(event), event["event"]["text"].clone()))
            .collect();
        assert_eq!(seen, expected);
    }
    // A chat message's id is the seq of the event that carried it.
    assert_eq!(acked, (start + 1..=start + 5).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test]
async fn join_with_since_replays_exactly_the_missed_events_then_live_ones() -> Result<()> {
    let server = TestServer::start().await?;
    let mut speaker = server.client(Role::Attendee, "Speaker").await?;
    speaker.join(STAGE).await?;
    let listener_token = server.token(Role::Attendee, "Listener");
    let mut listener = Client::connect(server.addr()).await?;
    listener.hello(&listener_token).await?;
    listener.join(STAGE).await?;

    speaker
        .ok(json!({"type":"chat","room":STAGE,"text":"before 1"}))
        .await?;
    speaker
        .ok(json!({"type":"chat","room":STAGE,"text":"before 2"}))
        .await?;
    let last_seen = seq(&listener.recv_until(is_event("chat")).await?);
    let last_seen = last_seen.max(seq(&listener.recv_until(is_event("chat")).await?));
    listener.close().await?;

    for n in 1..=4 {
        speaker
            .ok(json!({"type":"chat","room":STAGE,"text":format!("missed {n}")}))
            .await?;
    }

    let mut listener = Client::connect(server.addr()).await?;
    listener.hello(&listener_token).await?;
    let (joined, _) = listener
        .ok(json!({"type":"join","room":STAGE,"since":last_seen}))
        .await?;
    assert_eq!(seq(&joined), last_seen + 4);
    assert!(
        joined.get("snapshot").is_none(),
        "a resume replays, it does not snapshot"
    );
    let mut replayed = Vec::new();
    for _ in 0..4 {
        let event = listener.recv().await?;
        replayed.push((seq(&event), event["event"]["text"].clone()));
    }
    let expected: Vec<_> = (1..=4)
        .map(|n| (last_seen + n, json!(format!("missed {n}"))))
        .collect();
    assert_eq!(replayed, expected);

    speaker
        .ok(json!({"type":"chat","room":STAGE,"text":"live"}))
        .await?;
    let live = listener.recv().await?;
    assert_eq!(
        seq(&live),
        last_seen + 5,
        "no duplicate and no gap after the replay"
    );
    assert_eq!(live["event"]["text"], "live");
    Ok(())
}

/// Whether a text frame is a chat event with this text.
fn is_chat(text: &str, wanted: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .is_ok_and(|message| is_event("chat")(&message) && message["event"]["text"] == wanted)
}

#[tokio::test]
async fn a_failed_commit_closes_the_room_with_1011_and_members_resume_without_a_gap() -> Result<()>
{
    let (server, store) = TestServer::start_failing().await?;
    let alice_token = server.token(Role::Attendee, "Alice");
    let bjorn_token = server.token(Role::Attendee, "Bjørn");
    let mut alice = Client::connect(server.addr()).await?;
    alice.hello(&alice_token).await?;
    let start = seq(&alice.join(STAGE).await?);
    let mut bjorn = Client::connect(server.addr()).await?;
    bjorn.hello(&bjorn_token).await?;
    bjorn.join(STAGE).await?;

    // Acknowledged messages are durable.
    for n in 1..=3 {
        let (ack, _) = alice
            .ok(json!({"type":"chat","room":STAGE,"text":format!("kept {n}")}))
            .await?;
        assert_eq!(ack["id"], start + n);
    }
    let bjorn_seen = seq(&bjorn.recv_until(is_event("chat")).await?);
    assert_eq!(bjorn_seen, start + 1);

    // The next write fails: the room tells the sender `internal` (not saved), closes its
    // members with 1011 (reconnect and resume with since) and goes back to what the store has.
    store.fail_commits(true);
    let lost = alice
        .send(json!({"type":"chat","room":STAGE,"text":"lost"}))
        .await?;
    let (alice_saw, code) = alice.until_closed().await?;
    assert_eq!(code, Some(1011), "{alice_saw:?}");
    let answers: Vec<Value> = alice_saw
        .iter()
        .filter_map(|text| serde_json::from_str::<Value>(text).ok())
        .filter(|message| message["ref"] == json!(lost))
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "one answer to the lost message: {alice_saw:?}"
    );
    assert_eq!(
        (&answers[0]["type"], &answers[0]["code"]),
        (&json!("error"), &json!("internal"))
    );
    assert!(
        !alice_saw.iter().any(|text| is_chat(text, "lost")),
        "the unsaved message is not shown: {alice_saw:?}"
    );
    let (bjorn_saw, code) = bjorn.until_closed().await?;
    assert_eq!(code, Some(1011), "{bjorn_saw:?}");
    assert!(
        !bjorn_saw.iter().any(|text| is_chat(text, "lost")),
        "{bjorn_saw:?}"
    );
    store.fail_commits(false);

    // Resuming, each sees every acknowledged message after what it had, once, and not the
    // lost one.
    let mut alice = Client::connect(server.addr()).await?;
    alice.hello(&alice_token).await?;
    let mut bjorn = Client::connect(server.addr()).await?;
    bjorn.hello(&bjorn_token).await?;
    for (client, since) in [(&mut alice, start), (&mut bjorn, bjorn_seen)] {
        let (joined, _) = client
            .ok(json!({"type":"join","room":STAGE,"since":since}))
            .await?;
        assert_eq!(seq(&joined), start + 3, "the room is as the store has it");
        let mut replayed = Vec::new();
        for _ in since..start + 3 {
            let event = client.recv().await?;
            replayed.push((seq(&event), event["event"]["text"].clone()));
        }
        let expected: Vec<_> = (since + 1..=start + 3)
            .map(|n| (n, json!(format!("kept {}", n - start))))
            .collect();
        assert_eq!(replayed, expected);
    }

    // The room carries on: the next message takes the next seq, which nobody saw before.
    let (ack, _) = alice
        .ok(json!({"type":"chat","room":STAGE,"text":"after"}))
        .await?;
    assert_eq!(ack["id"], start + 4);
    let live = bjorn.recv().await?;
    assert_eq!(
        (seq(&live), &live["event"]["text"]),
        (start + 4, &json!("after")),
        "no duplicate and no gap after the replay"
    );
    let mut fresh = server.client(Role::Attendee, "Fresh").await?;
    let joined = fresh.join(STAGE).await?;
    let chat: Vec<&str> = joined["snapshot"]["chat"]
        .as_array()
        .map(|chat| chat.iter().filter_map(|m| m["text"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(chat, ["kept 1", "kept 2", "kept 3", "after"]);
    Ok(())
}

#[tokio::test]
async fn a_moderated_question_reaches_attendees_only_once_approved() -> Result<()> {
    let server = TestServer::start().await?;
    let mut asker = server.client(Role::Attendee, "Asker").await?;
    let mut audience = server.client(Role::Attendee, "Audience").await?;
    let mut moderator = server.client(Role::Moderator, "Mo").await?;
    for client in [&mut asker, &mut audience, &mut moderator] {
        client.join(STAGE).await?;
    }

    let (ack, asker_saw) = asker
        .ok(json!({"type":"ask","session":KEYNOTE,"text":"How do we find a partner library?","anonymous":false}))
        .await?;
    let question = ack["id"].as_u64().expect("ask ack carries the question id");

    let pending = moderator.recv_until(is_event("question")).await?;
    assert_eq!(pending["event"]["id"], question);
    assert_eq!(pending["event"]["status"], "pending");
    assert_eq!(pending["event"]["author"]["name"], "Asker");
    assert_eq!(asker_saw.len(), 1);
    let own = &asker_saw[0];
    assert_eq!(own["event"]["id"], question);
    assert_eq!(
        own["event"]["status"], "pending",
        "askers see their own pending question"
    );

    // An attendee may not curate, and nothing changes when they try.
    let (refused, _) = audience
        .request(json!({"type":"moderate","question":question,"action":"approve"}))
        .await?;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "forbidden");

    moderator
        .ok(json!({"type":"moderate","question":question,"action":"approve"}))
        .await?;
    // The first question event the audience receives is the approved one: the pending state
    // never reached them.
    let approved = audience.recv_until(is_event("question")).await?;
    assert_eq!(approved["event"]["id"], question);
    assert_eq!(approved["event"]["status"], "approved");
    assert_eq!(
        approved["event"]["text"],
        "How do we find a partner library?"
    );

    // One vote per person: the second changes nothing.
    let (_, voted) = audience
        .ok(json!({"type":"vote","question":question}))
        .await?;
    assert_eq!(
        voted.len(),
        1,
        "the voter's copy of the new count comes before the ack"
    );
    assert_eq!(voted[0]["event"]["votes"], 1);
    let (again, before) = audience
        .ok(json!({"type":"vote","question":question}))
        .await?;
    assert_eq!(again["type"], "ack");
    assert!(
        before.is_empty(),
        "a second vote publishes nothing: {before:?}"
    );
    moderator
        .ok(json!({"type":"moderate","question":question,"action":"pin"}))
        .await?;
    let pinned = audience.recv_until(is_event("question")).await?;
    assert_eq!(pinned["event"]["pinned"], true);
    assert_eq!(pinned["event"]["votes"], 1);
    moderator
        .ok(json!({"type":"moderate","question":question,"action":"answered"}))
        .await?;
    let answered = audience.recv_until(is_event("question")).await?;
    assert_eq!(answered["event"]["status"], "answered");
    Ok(())
}

#[tokio::test]
async fn anonymous_questions_hide_the_author_from_attendees_but_not_moderators() -> Result<()> {
    let server = TestServer::start().await?;
    let mut asker = server.client(Role::Attendee, "Shy").await?;
    let mut audience = server.client(Role::Attendee, "Audience").await?;
    let mut moderator = server.client(Role::Moderator, "Mo").await?;
    for client in [&mut asker, &mut audience, &mut moderator] {
        client.join("workshop-1").await?;
    }
    asker
        .ok(json!({"type":"ask","session":WORKSHOP_SESSION,"text":"Is a small library too small?","anonymous":true}))
        .await?;
    // Workshops are not moderated: everyone sees the question at once.
    let seen = audience.recv_until(is_event("question")).await?;
    assert_eq!(seen["event"]["status"], "approved");
    assert_eq!(seen["event"]["anonymous"], true);
    assert!(seen["event"].get("author").is_none(), "{seen}");
    let staff = moderator.recv_until(is_event("question")).await?;
    assert_eq!(staff["event"]["author"]["name"], "Shy");
    Ok(())
}

#[tokio::test]
async fn moderators_remove_chat_and_attendees_may_not() -> Result<()> {
    let server = TestServer::start().await?;
    let mut attendee = server.client(Role::Attendee, "Troll").await?;
    let mut moderator = server.client(Role::Moderator, "Mo").await?;
    attendee.join(STAGE).await?;
    moderator.join(STAGE).await?;
    let (ack, _) = attendee
        .ok(json!({"type":"chat","room":STAGE,"text":"something rude"}))
        .await?;
    let id = ack["id"].clone();
    let (refused, _) = attendee
        .request(json!({"type":"remove_chat","room":STAGE,"id":id}))
        .await?;
    assert_eq!(refused["code"], "forbidden");
    moderator
        .ok(json!({"type":"remove_chat","room":STAGE,"id":id}))
        .await?;
    let removed = attendee.recv_until(is_event("chat_removed")).await?;
    assert_eq!(removed["event"]["id"], id);

    // A newcomer's snapshot no longer has it.
    let mut newcomer = server.client(Role::Attendee, "New").await?;
    let joined = newcomer.join(STAGE).await?;
    assert_eq!(joined["snapshot"]["chat"], json!([]));
    Ok(())
}

#[tokio::test]
async fn bad_messages_get_stable_error_codes_and_the_socket_stays_usable() -> Result<()> {
    let server = TestServer::start().await?;
    let mut client = Client::connect(server.addr()).await?;

    client.send_text("this is not json").await?;
    let error = client.recv().await?;
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("bad_request"))
    );

    client
        .send_text(r#"{"type":"teleport","ref":"t1"}"#)
        .await?;
    let error = client.recv().await?;
    assert_eq!(error["code"], "unknown_type");
    assert_eq!(error["ref"], "t1", "the ref is echoed even on errors");

    let (error, _) = client
        .request(json!({"type":"chat","room":STAGE,"text":"hi"}))
        .await?;
    assert_eq!(error["code"], "unauthorized", "nothing before hello");

    client.hello(&server.token(Role::Attendee, "Ada")).await?;
    let (error, _) = client.request(json!({"type":"chat","room":STAGE})).await?;
    assert_eq!(error["code"], "bad_request", "missing field");
    let (error, _) = client.request(json!({"type":"join","room":7})).await?;
    assert_eq!(error["code"], "bad_request", "wrong field type");
    let (error, _) = client
        .request(json!({"type":"join","room":"nowhere"}))
        .await?;
    assert_eq!(error["code"], "not_found");
    let (error, _) = client
        .request(json!({"type":"chat","room":STAGE,"text":"hi"}))
        .await?;
    assert_eq!(error["code"], "not_joined");
    client.join(STAGE).await?;
    let (error, _) = client
        .request(json!({"type":"chat","room":STAGE,"text":"x".repeat(2_001)}))
        .await?;
    assert_eq!(error["code"], "too_large");
    let (error, _) = client
        .request(json!({"type":"vote","question":999_999}))
        .await?;
    assert_eq!(error["code"], "not_found");

    // After all that, the connection still works.
    let (ack, events) = client
        .ok(json!({"type":"chat","room":STAGE,"text":"still here"}))
        .await?;
    assert_eq!(ack["type"], "ack");
    assert!(
        events
            .iter()
            .any(|event| event["event"]["text"] == "still here")
    );
    Ok(())
}

#[tokio::test]
async fn a_frame_over_the_limit_is_refused_with_close_code_1009() -> Result<()> {
    let server = TestServer::start().await?;
    let mut client = server.client(Role::Attendee, "Big").await?;
    let oversized = json!({"type":"chat","room":STAGE,"text":"x".repeat(100_000)});
    client.send_text(&oversized.to_string()).await?;
    assert_eq!(client.close_code().await?, Some(1009));
    // The server is unharmed.
    let mut other = server.client(Role::Attendee, "Small").await?;
    other.join(STAGE).await?;
    Ok(())
}

/// The server writes its own frames (`server/src/ws/wire.rs`): what a client sees of them
/// below the JSON, read byte by byte.
#[tokio::test]
async fn the_wire_answers_pings_frames_text_and_refuses_what_is_not_a_websocket() -> Result<()> {
    let server = TestServer::start().await?;
    let mut raw = DeafClient::connect(server.addr()).await?;
    raw.send_frame(0x9, b"are you there").await?;
    assert_eq!(
        raw.next_frame().await?,
        Some((0xA, b"are you there".to_vec())),
        "a ping is answered with a pong carrying its payload"
    );
    // Longer than 125 bytes both ways: the 16-bit length.
    let long = format!("{{\"type\":\"hello\",\"name\":\"{}\"}}", "é".repeat(50));
    raw.send_text(&long).await?;
    let (opcode, welcome) = raw.next_frame().await?.expect("a welcome");
    assert_eq!(opcode, 0x1, "a text frame");
    let welcome: Value = serde_json::from_slice(&welcome)?;
    assert_eq!(welcome["type"], "welcome");
    // Not UTF-8: closed with 1007, and the server is unharmed.
    raw.send_frame(0x1, &[b'{', 0xFF, 0xFE, b'}']).await?;
    assert_eq!(raw.close_code().await?, 1007);
    server
        .client(Role::Attendee, "After")
        .await?
        .join(STAGE)
        .await?;

    let plain = reqwest::get(server.url("/ws")).await?;
    assert_eq!(plain.status(), 400);
    let body: Value = plain.json().await?;
    assert_eq!(body["error"]["code"], "bad_request");

    // Another version of the protocol: 426, naming the one spoken (RFC 6455 4.2.2).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await?;
    tcp.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n",
    )
    .await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await?);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 426"), "{head}");
    assert!(head.contains("sec-websocket-version: 13"), "{head}");
    Ok(())
}

#[tokio::test]
async fn a_forged_token_is_unauthorized_and_a_guest_gets_a_personal_token() -> Result<()> {
    let server = TestServer::start().await?;
    let mut client = Client::connect(server.addr()).await?;
    let forged = plenary_tests::personal_token(tempfile::tempdir()?.path(), Role::Organiser, "Eve");
    let (error, _) = client
        .request(json!({"type":"hello","token":forged}))
        .await?;
    assert_eq!(error["code"], "unauthorized");

    let (welcome, _) = client
        .ok(json!({"type":"hello","name":"Guest Gita"}))
        .await?;
    assert_eq!(welcome["user"]["role"], "attendee");
    assert_eq!(welcome["user"]["name"], "Guest Gita");
    let token = welcome["token"]
        .as_str()
        .expect("a guest gets a personal token");

    // Coming back with it, they are the same person.
    let mut again = Client::connect(server.addr()).await?;
    let welcome_again = again.hello(token).await?;
    assert_eq!(welcome_again["user"]["id"], welcome["user"]["id"]);
    Ok(())
}

#[tokio::test]
async fn a_restart_on_the_same_data_directory_keeps_chat_questions_and_votes() -> Result<()> {
    let server = TestServer::start().await?;
    let voter_token = server.token(Role::Attendee, "Voter");
    let mut attendee = server.client(Role::Attendee, "Ingrid").await?;
    attendee.join(STAGE).await?;
    attendee
        .ok(json!({"type":"chat","room":STAGE,"text":"Hei fra Oslo!"}))
        .await?;
    let (ack, _) = attendee
        .ok(json!({"type":"ask","session":KEYNOTE,"text":"What did the first partnership cost?"}))
        .await?;
    let question = ack["id"].clone();
    let mut moderator = server.client(Role::Moderator, "Mo").await?;
    moderator
        .ok(json!({"type":"moderate","question":question,"action":"approve"}))
        .await?;
    let mut voter = Client::connect(server.addr()).await?;
    voter.hello(&voter_token).await?;
    voter.ok(json!({"type":"vote","question":question})).await?;
    let before = seq(&attendee.join(STAGE).await?);

    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await?;

    let mut voter = Client::connect(server.addr()).await?;
    voter.hello(&voter_token).await?;
    let joined = voter.join(STAGE).await?;
    assert_eq!(
        seq(&joined),
        before,
        "the log's position survives the restart"
    );
    let snapshot = &joined["snapshot"];
    assert_eq!(snapshot["chat"][0]["text"], "Hei fra Oslo!");
    assert_eq!(snapshot["questions"][0]["id"], question);
    assert_eq!(snapshot["questions"][0]["status"], "approved");
    assert_eq!(snapshot["questions"][0]["votes"], 1);
    assert_eq!(snapshot["voted"], json!([question]));
    // The vote is remembered: voting again changes nothing.
    let (_, events) = voter.ok(json!({"type":"vote","question":question})).await?;
    assert!(events.is_empty());
    let (ack, _) = voter
        .ok(json!({"type":"chat","room":STAGE,"text":"after the restart"}))
        .await?;
    assert_eq!(ack["id"], before + 1, "seq continues where it stopped");
    Ok(())
}

#[tokio::test]
async fn the_programme_health_and_web_client_are_served_over_http() -> Result<()> {
    let server = TestServer::start().await?;
    let http = reqwest::Client::new();
    assert_eq!(http.get(server.url("/healthz")).send().await?.status(), 200);

    let schedule: Value = http
        .get(server.url("/api/schedule"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(schedule["conference"]["timezone"], "Europe/London");
    let rooms = schedule["rooms"].as_array().expect("rooms");
    assert!(
        rooms
            .iter()
            .any(|room| room["id"] == STAGE && room["kind"] == "stage")
    );
    assert!(
        rooms
            .iter()
            .filter(|room| room["kind"] == "workshop")
            .count()
            >= 3
    );
    let sessions = schedule["sessions"].as_array().expect("sessions");
    let titles: Vec<&str> = sessions
        .iter()
        .filter_map(|s| s["title"].as_str())
        .collect();
    assert!(titles.contains(&"How to initiate successful international partnerships"));
    assert!(titles.contains(&"Fundraising for international projects"));
    for session in sessions {
        for field in ["start", "end"] {
            let text = session[field].as_str().expect("times are strings");
            assert!(text.ends_with('Z'), "{field} is RFC 3339 UTC: {text}");
        }
        assert!(rooms.iter().any(|room| room["id"] == session["room"]));
    }
    let now = jiff::Timestamp::now();
    let live = sessions
        .iter()
        .filter(|session| {
            let at = |field: &str| -> jiff::Timestamp {
                session[field]
                    .as_str()
                    .and_then(|text| text.parse().ok())
                    .expect("times are RFC 3339")
            };
            at("start") <= now && now < at("end")
        })
        .count();
    assert_eq!(live, 1, "the demo has one live session");

    let page = http.get(server.url("/")).send().await?;
    assert!(
        page.headers()["content-security-policy"]
            .to_str()?
            .contains("script-src 'self'")
    );
    assert!(page.text().await?.contains("<html"));
    let missing = http.get(server.url("/nope")).send().await?;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await?;
    assert_eq!(body["error"]["code"], "not_found");
    Ok(())
}
