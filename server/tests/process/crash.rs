//! What survives the process ending: `kill -9` in the middle of a chat flood loses nothing
//! that was acknowledged, and SIGTERM tells clients to reconnect and exits cleanly.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;

use crate::{Running, expect, join, logged_chat, next, send};

const STAGE: &str = "main-stage";
/// Messages each flooding client sends at most: the four of them stay within the 1,000
/// events a room keeps replayable, so one `since: 0` join shows everything.
const PER_CLIENT: usize = 240;

#[tokio::test]
async fn kill_9_during_a_chat_flood_loses_no_acknowledged_message() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut server = Running::start(data.path(), &["--no-rate-limits"]).await;

    let mut flooders = Vec::new();
    for client in 0..4 {
        let mut socket = join(
            &server.address,
            json!({"type":"hello","name":format!("Flood {client}")}),
            STAGE,
        )
        .await;
        flooders.push(tokio::spawn(async move {
            // Every message this client saw acknowledged: chat id → text.
            let mut acked = HashMap::new();
            for n in 0..PER_CLIENT {
                let text = format!("client {client} message {n}");
                let message = json!({"type":"chat","room":STAGE,"text":text,"ref":n});
                if socket
                    .send(tokio_tungstenite::tungstenite::Message::text(
                        message.to_string(),
                    ))
                    .await
                    .is_err()
                {
                    break;
                }
                loop {
                    match next(&mut socket).await {
                        Some(answer) if answer["type"] == "ack" => {
                            let id = answer["id"].as_u64().expect("a chat ack has an id");
                            acked.insert(id, text);
                            break;
                        }
                        Some(_) => continue,
                        None => return acked,
                    }
                }
            }
            acked
        }));
    }
    // Kill at a moment that varies from run to run.
    let moment = Duration::from_millis(30 + u64::from(std::process::id() % 200));
    tokio::time::sleep(moment).await;
    server.signal("KILL");
    server.exit_status().await;
    let mut acked = HashMap::new();
    for flooder in flooders {
        acked.extend(flooder.await.expect("flooder task"));
    }

    let server = Running::start(data.path(), &[]).await;
    let stored = logged_chat(&server.address, STAGE).await;
    let mut texts: Vec<&String> = stored.values().collect();
    texts.sort();
    texts.dedup();
    assert_eq!(
        texts.len(),
        stored.len(),
        "every stored message is there once"
    );
    for (id, text) in &acked {
        assert_eq!(
            stored.get(id),
            Some(text),
            "acknowledged message {id} ({text}) survived kill -9"
        );
    }
    assert!(!acked.is_empty(), "the flood got going before the kill");
}

#[tokio::test]
async fn sigterm_tells_clients_to_reconnect_and_exits_with_nothing_acked_lost() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut server = Running::start(data.path(), &[]).await;
    let mut client = join(
        &server.address,
        json!({"type":"hello","name":"Listener"}),
        STAGE,
    )
    .await;
    send(
        &mut client,
        &json!({"type":"chat","room":STAGE,"text":"before the restart"}),
    )
    .await;
    expect(&mut client, "ack").await;

    server.signal("TERM");
    let close = loop {
        match tokio::time::timeout(crate::PATIENCE, futures_util::StreamExt::next(&mut client))
            .await
            .expect("the server closes the connection in time")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|frame| u16::from(frame.code)), Some(1012));
    assert!(server.exit_status().await.success());

    let server = Running::start(data.path(), &[]).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.address))
        .await
        .expect("restarted");
    send(&mut socket, &json!({"type":"hello","name":"Later"})).await;
    expect(&mut socket, "welcome").await;
    send(&mut socket, &json!({"type":"join","room":STAGE})).await;
    let joined = expect(&mut socket, "joined").await;
    assert_eq!(
        joined["snapshot"]["chat"][0]["text"], "before the restart",
        "{joined}"
    );
}
