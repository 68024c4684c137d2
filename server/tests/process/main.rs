//! Tests of the `plenary` binary as a process: its command line, its answer to SIGTERM, and
//! what survives `kill -9`.

mod cli;
mod crash;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub const PLENARY: &str = env!("CARGO_BIN_EXE_plenary");
/// How long a test waits for something it expects (a bound on hanging, not a speed claim).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A `plenary serve` process; killed when dropped, however the test ends.
pub struct Running {
    pub child: Child,
    /// What it printed before it was ready: the address line and the invite links.
    pub banner: Vec<String>,
    pub address: String,
}

impl Running {
    /// Start `plenary serve` on a free port with `data` as its data directory.
    pub async fn start(data: &Path, extra: &[&str]) -> Running {
        let mut child = Command::new(PLENARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(extra)
            .env("PLENARY_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("plenary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines, banner) = std::sync::mpsc::channel();
        // Read the banner, then keep draining stdout so the server never writes to a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let banner: Vec<String> = tokio::task::spawn_blocking(move || {
            let mut seen = Vec::new();
            while let Ok(line) = banner.recv_timeout(PATIENCE) {
                let last = line.trim_start().starts_with("organiser");
                seen.push(line);
                if last {
                    break;
                }
            }
            seen
        })
        .await
        .expect("reading stdout");
        let address = banner
            .iter()
            .find_map(|line| line.strip_prefix("Plenary is listening on http://"))
            .unwrap_or_else(|| panic!("the address is printed: {banner:?}"))
            .to_owned();
        Running {
            child,
            banner,
            address,
        }
    }

    /// Send a signal by name (`TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Wait for the process to exit; panics if it does not within [`PATIENCE`].
    pub async fn exit_status(&mut self) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server did not exit"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connect, say hello (with a token, or as a guest called `name`), and join `room`.
pub async fn join(address: &str, hello: Value, room: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
        .await
        .expect("the server accepts WebSockets");
    send(&mut socket, &hello).await;
    expect(&mut socket, "welcome").await;
    send(&mut socket, &json!({"type":"join","room":room})).await;
    expect(&mut socket, "joined").await;
    socket
}

pub async fn send(socket: &mut Socket, message: &Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next JSON message, or `None` when the connection ends.
pub async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(serde_json::from_str(text.as_str()).expect("json"));
            }
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => return None,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("no message in time"),
        }
    }
}

/// Skip messages until one of `kind` arrives.
pub async fn expect(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let message = next(socket)
            .await
            .unwrap_or_else(|| panic!("closed while waiting for {kind}"));
        if message["type"] == kind {
            return message;
        }
        assert_ne!(message["type"], "error", "waiting for {kind}: {message}");
    }
}
