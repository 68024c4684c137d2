//! `plenary-baseline`: the bare stack Plenary is built on, with nothing of Plenary in it.
//!
//! An axum WebSocket endpoint at `/ws` and one tokio broadcast channel: every text frame a
//! client sends is rebroadcast, as is, to every connected client (the sender included). No
//! hello, no rooms, no JSON, no storage. Each connection has a reader and a writer like
//! Plenary's (`server/src/ws/writer.rs`): the writer drains up to 64 frames, then flushes once. A
//! receiver that falls more than 1,024 frames behind is closed with 4008, the same bound and
//! close code as Plenary's outgoing queue, so the loadtest measures both the same way.
//!
//! It prints `Baseline is listening on http://ADDR` as its first line, like `plenary serve`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast;

/// Frames a receiver may fall behind before it is closed (Plenary's outbox size).
const QUEUE_FRAMES: usize = 1_024;
/// Frames written before one flush (Plenary's writer batch).
const WRITE_BATCH: usize = 64;

/// A minimal broadcast server to measure the stack's own cost.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (the real address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (everyone, _) = broadcast::channel::<Utf8Bytes>(QUEUE_FRAMES);
    let app = Router::new()
        .route("/ws", get(upgrade))
        .with_state(everyone);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("Baseline is listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn upgrade(
    socket: WebSocketUpgrade,
    State(everyone): State<broadcast::Sender<Utf8Bytes>>,
) -> Response {
    socket.on_upgrade(move |socket| serve(socket, everyone))
}

async fn serve(socket: WebSocket, everyone: broadcast::Sender<Utf8Bytes>) {
    let (mut sink, mut stream) = socket.split();
    let mut frames = everyone.subscribe();
    let writer = tokio::spawn(async move {
        loop {
            let first = match frames.recv().await {
                Ok(frame) => frame,
                Err(broadcast::error::RecvError::Lagged(_)) => return close_lagged(sink).await,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if sink.feed(Message::Text(first)).await.is_err() {
                return;
            }
            for _ in 1..WRITE_BATCH {
                match frames.try_recv() {
                    Ok(frame) => {
                        if sink.feed(Message::Text(frame)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::TryRecvError::Lagged(_)) => {
                        return close_lagged(sink).await;
                    }
                    Err(_) => break,
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        match message {
            Message::Text(text) => {
                let _ = everyone.send(text);
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    writer.abort();
}

/// Close a receiver that fell more than [`QUEUE_FRAMES`] behind, as Plenary does.
async fn close_lagged(mut sink: futures_util::stream::SplitSink<WebSocket, Message>) {
    let close = CloseFrame {
        code: 4008,
        reason: "lagged".into(),
    };
    let _ = sink.send(Message::Close(Some(close))).await;
}
