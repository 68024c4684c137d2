//! Guarantees against bad peers, through the real server: retries that do not duplicate,
//! rate limits, floods, connection bounds, silent and idle connections, foreign origins.

use std::time::Duration;

use anyhow::Result;
use plenary_protocol::Role;
use plenary_tests::demo::STAGE;
use plenary_tests::{Client, DeafClient, TestServer, eventually};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn a_retried_message_with_the_same_client_id_is_stored_once_even_after_a_restart()
-> Result<()> {
    let server = TestServer::start().await?;
    let token = server.token(Role::Attendee, "Flaky Wifi");
    let mut client = Client::connect(server.addr()).await?;
    client.hello(&token).await?;
    client.join(STAGE).await?;
    let message = json!({"type":"chat","room":STAGE,"text":"sent twice","client_id":"m-1"});
    let (first, events) = client.ok(message.clone()).await?;
    assert_eq!(events.len(), 1, "the first send publishes the message");
    let (again, events) = client.ok(message.clone()).await?;
    assert_eq!(again["id"], first["id"], "the retry gets the same answer");
    assert!(events.is_empty(), "the retry publishes nothing: {events:?}");
    let question = json!({"type":"ask","session":"keynote-open","text":"Once?","client_id":"q-1"});
    let (asked, _) = client.ok(question.clone()).await?;

    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await?;
    let mut client = Client::connect(server.addr()).await?;
    client.hello(&token).await?;
    let joined = client.join(STAGE).await?;
    let (again, events) = client.ok(message).await?;
    assert_eq!(again["id"], first["id"], "remembered across the restart");
    assert!(events.is_empty());
    let (asked_again, _) = client.ok(question).await?;
    assert_eq!(asked_again["id"], asked["id"]);
    let chat = joined["snapshot"]["chat"]
        .as_array()
        .expect("snapshot chat");
    assert_eq!(chat.len(), 1);
    assert_eq!(
        joined["snapshot"]["questions"].as_array().map(Vec::len),
        Some(1)
    );
    Ok(())
}

#[tokio::test]
async fn chat_past_the_persons_rate_is_refused_with_rate_limited_across_tabs() -> Result<()> {
    let server = TestServer::start().await?;
    let token = server.token(Role::Attendee, "Chatty");
    let mut tab1 = Client::connect(server.addr()).await?;
    let mut tab2 = Client::connect(server.addr()).await?;
    for tab in [&mut tab1, &mut tab2] {
        tab.hello(&token).await?;
        tab.join(STAGE).await?;
    }
    // The default allowance is a burst of 10 messages; both tabs spend from it.
    let mut accepted = 0;
    let mut refused = 0;
    for n in 0..12 {
        let tab = if n % 2 == 0 { &mut tab1 } else { &mut tab2 };
        let (answer, _) = tab
            .request(json!({"type":"chat","room":STAGE,"text":format!("{n}")}))
            .await?;
        match answer["type"].as_str() {
            Some("ack") => accepted += 1,
            _ => {
                assert_eq!(answer["code"], "rate_limited", "{answer}");
                refused += 1;
            }
        }
    }
    // Refill during the loop can allow at most a message or two more.
    assert!((10..=11).contains(&accepted), "accepted {accepted}");
    assert_eq!(accepted + refused, 12);
    Ok(())
}

#[tokio::test]
async fn a_flooding_connection_is_refused_then_closed_with_1008() -> Result<()> {
    let server = TestServer::start().await?;
    let mut flooder = server.client(Role::Attendee, "Bot").await?;
    let mut bystander = server.client(Role::Attendee, "Calm").await?;
    bystander.join(STAGE).await?;
    for _ in 0..500 {
        if flooder
            .send_text(r#"{"type":"leave","room":"main-stage"}"#)
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(flooder.close_code().await?, Some(1008));
    let (ack, _) = bystander
        .ok(json!({"type":"chat","room":STAGE,"text":"still fine"}))
        .await?;
    assert_eq!(ack["type"], "ack");
    Ok(())
}

#[tokio::test]
async fn one_person_holds_a_bounded_number_of_connections() -> Result<()> {
    let server = TestServer::start().await?;
    let token = server.token(Role::Attendee, "Many Tabs");
    let mut open = Vec::new();
    for _ in 0..8 {
        let mut client = Client::connect(server.addr()).await?;
        client.hello(&token).await?;
        open.push(client);
    }
    let mut ninth = Client::connect(server.addr()).await?;
    let (refused, _) = ninth.request(json!({"type":"hello","token":token})).await?;
    assert_eq!(refused["code"], "too_many_connections");
    // Closing one frees a place.
    open.pop().expect("eight are open").close().await?;
    let mut retry = Client::connect(server.addr()).await?;
    // The server frees the place when it notices the close; ask again until it has.
    eventually("a place for a ninth connection", async || {
        let (answer, _) = retry.request(json!({"type":"hello","token":token})).await?;
        Ok((answer["type"] == "welcome").then_some(()))
    })
    .await
}

#[tokio::test]
async fn a_connection_that_never_says_hello_is_closed() -> Result<()> {
    let server = TestServer::start_with(|config| {
        config.hello_timeout = Duration::from_millis(200);
    })
    .await?;
    let mut silent = Client::connect(server.addr()).await?;
    assert_eq!(silent.close_code().await?, Some(1008));
    Ok(())
}

#[tokio::test]
async fn a_connection_that_stops_answering_pings_is_closed() -> Result<()> {
    let server = TestServer::start_with(|config| {
        config.ping_interval = Duration::from_millis(50);
        config.idle_timeout = Duration::from_millis(200);
    })
    .await?;
    let mut sleeper = DeafClient::connect(server.addr()).await?;
    assert_eq!(sleeper.close_code().await?, 4002);

    // A client that keeps reading answers pings and stays.
    let mut awake = server.client(Role::Attendee, "Awake").await?;
    awake.join(STAGE).await?;
    assert!(awake.try_recv(Duration::from_millis(600)).await?.is_none());
    let (ack, _) = awake
        .ok(json!({"type":"chat","room":STAGE,"text":"here"}))
        .await?;
    assert_eq!(ack["type"], "ack");
    Ok(())
}

#[tokio::test]
async fn websockets_from_a_foreign_origin_are_refused_with_403() -> Result<()> {
    let server = TestServer::start().await?;
    let url = format!("ws://{}/ws", server.addr());
    let mut foreign = url.as_str().into_client_request()?;
    foreign
        .headers_mut()
        .insert("origin", "http://evil.example".parse()?);
    match tokio_tungstenite::connect_async(foreign).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!(
            "a foreign origin must be refused, got {:?}",
            other.map(|_| ())
        ),
    }
    let mut own = url.as_str().into_client_request()?;
    own.headers_mut()
        .insert("origin", format!("http://{}", server.addr()).parse()?);
    tokio_tungstenite::connect_async(own).await?;
    Ok(())
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_cut_off_without_costing_anyone_a_message() -> Result<()> {
    let server = TestServer::start_with(|config| {
        config.outbox_frames = 64;
        // Enough replayable history to cover everything this test posts.
        config.history = 10_000;
        *config = config.clone().without_rate_limits();
    })
    .await?;
    let stuck_token = server.token(Role::Attendee, "On 2G");
    let mut stuck = DeafClient::connect(server.addr()).await?;
    stuck
        .send_text(&json!({"type":"hello","token":stuck_token}).to_string())
        .await?;
    stuck
        .send_text(&json!({"type":"join","room":STAGE}).to_string())
        .await?;
    let mut listener = server.client(Role::Attendee, "Fast reader").await?;
    let start = listener.join(STAGE).await?["seq"].as_u64().expect("seq");
    let mut poster = server.client(Role::Attendee, "Poster").await?;
    poster.join(STAGE).await?;

    // About 11 MB of chat: far more than the kernel's socket buffers and the stuck reader's
    // 64-frame queue can hold.
    const MESSAGES: u64 = 6_000;
    let padding = "x".repeat(1_900);
    let posting = async {
        // In chunks small enough that the poster's own 64-frame queue (its copies of the
        // events and the acks) never fills.
        for chunk in 0..MESSAGES / 20 {
            for n in chunk * 20..(chunk + 1) * 20 {
                poster
                    .send(json!({"type":"chat","room":STAGE,"text":format!("{n} {padding}")}))
                    .await?;
            }
            let mut acks = 0;
            while acks < 20 {
                if poster.recv().await?["type"] == "ack" {
                    acks += 1;
                }
            }
        }
        anyhow::Ok(())
    };
    let listening = async {
        let mut seqs = Vec::new();
        while seqs.len() < MESSAGES as usize {
            let event = listener.recv().await?;
            if event["type"] == "event" {
                seqs.push(event["seq"].as_u64().expect("seq"));
            }
        }
        anyhow::Ok(seqs)
    };
    let ((), seqs) = tokio::try_join!(posting, listening)?;
    assert_eq!(
        seqs,
        (start + 1..=start + MESSAGES).collect::<Vec<_>>(),
        "the fast reader got everything, in order"
    );

    // The stuck reader was let go: what it can still read ends before the end.
    let mut last_seen = 0;
    let mut close = None;
    while let Some((opcode, payload)) = stuck.next_frame().await? {
        match opcode {
            0x1 => {
                let message: serde_json::Value = serde_json::from_slice(&payload)?;
                if let Some(seq) = message["seq"].as_u64() {
                    last_seen = seq;
                }
            }
            0x8 => {
                close = payload
                    .get(..2)
                    .map(|code| u16::from_be_bytes([code[0], code[1]]))
            }
            _ => {}
        }
    }
    assert!(last_seen < start + MESSAGES, "cut off at {last_seen}");
    assert!(
        matches!(close, None | Some(4008)),
        "closed as lagged: {close:?}"
    );

    // Back on a good link, it resumes and loses nothing.
    let mut resumed = Client::connect(server.addr()).await?;
    resumed.hello(&stuck_token).await?;
    let (joined, _) = resumed
        .ok(json!({"type":"join","room":STAGE,"since":last_seen}))
        .await?;
    assert!(joined.get("resync").is_none(), "{joined}");
    let mut next = last_seen + 1;
    while next <= start + MESSAGES {
        let event = resumed.recv().await?;
        assert_eq!(event["seq"], next);
        next += 1;
    }
    Ok(())
}
