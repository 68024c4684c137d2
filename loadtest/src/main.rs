//! `plenary-loadtest`: simulated attendees against a running Plenary server.
//!
//! For now one scenario: connect N attendees as guests, join a room, and report how many
//! made it and how long it took. The chat fan-out, connections, Q&A-storm and join-storm
//! scenarios build on this.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Connect simulated attendees to a Plenary server.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The server's WebSocket address.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// How many attendees to connect.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// The room they join.
    #[arg(long, default_value = "main-stage")]
    room: String,
    /// Give up on an attendee that is not joined after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let deadline = Duration::from_secs(args.timeout);
    let attendees: Vec<_> = (0..args.clients)
        .map(|n| {
            let url = args.url.clone();
            let room = args.room.clone();
            tokio::spawn(async move {
                tokio::time::timeout(deadline, attend(&url, &room, n))
                    .await
                    .context("timed out")?
            })
        })
        .collect();
    let mut joined = Vec::new();
    let mut failures = 0;
    for attendee in attendees {
        match attendee.await? {
            Ok(socket) => joined.push(socket),
            Err(error) => {
                failures += 1;
                if failures <= 5 {
                    eprintln!("attendee failed: {error:#}");
                }
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "| attendees | joined | failed | time to all joined |\n|---|---|---|---|\n| {} | {} | {} | {:.2} s |",
        args.clients,
        joined.len(),
        failures,
        elapsed.as_secs_f64()
    );
    if failures > 0 {
        bail!("{failures} of {} attendees failed", args.clients);
    }
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connect one guest attendee, say hello and join the room.
async fn attend(url: &str, room: &str, n: usize) -> Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let hello = json!({"type":"hello","name":format!("Load {n}"),"ref":1});
    socket.send(Message::text(hello.to_string())).await?;
    let join = json!({"type":"join","room":room,"ref":2});
    socket.send(Message::text(join.to_string())).await?;
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            let message: Value = serde_json::from_str(text.as_str())?;
            match message["type"].as_str() {
                Some("joined") => return Ok(socket),
                Some("error") => bail!("server refused: {message}"),
                _ => {}
            }
        }
    }
    bail!("the server closed the connection before joined")
}
