//! Tests of the `plenary` binary as a process: its command line, its answer to SIGTERM, what
//! survives `kill -9`, and its operation (a config file, JSON logs, backups).

mod cli;
mod crash;
mod ops;

use std::collections::HashMap;
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
        Running::start_with_env(data, extra, &[]).await
    }

    /// [`Running::start`] with these environment variables set.
    pub async fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = Command::new(PLENARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(extra)
            .env("PLENARY_LOG", "warn")
            .envs(env.iter().copied())
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

/// `GET path` over a new connection, with `token` as the bearer token if given: the status.
pub async fn http_status(address: &str, path: &str, token: Option<&str>) -> u16 {
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n"
    );
    http_exchange(address, request.as_bytes()).await
}

/// Send `request` (an HTTP/1.1 request that asks to close the connection) over a new
/// connection: the status of the answer.
pub async fn http_exchange(address: &str, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("the server accepts connections");
    stream.write_all(request).await.expect("sends");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("reads");
    let response = String::from_utf8_lossy(&response);
    response
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP status line: {response}"))
}

/// Every chat message in `room`'s log, by `seq` (= the chat id its ack named), read by joining
/// with `since: 0`; panics on a gap or a duplicate in the log.
pub async fn logged_chat(address: &str, room: &str) -> HashMap<u64, String> {
    let (mut reader, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
        .await
        .expect("the server accepts WebSockets");
    send(&mut reader, &json!({"type":"hello","name":"Auditor"})).await;
    expect(&mut reader, "welcome").await;
    send(&mut reader, &json!({"type":"join","room":room,"since":0})).await;
    let joined = expect(&mut reader, "joined").await;
    let last = joined["seq"].as_u64().expect("seq");
    assert!(
        joined.get("snapshot").is_none(),
        "the whole log is replayable"
    );
    let mut stored = HashMap::new();
    let mut expected_seq = 0;
    while expected_seq < last {
        let event = next(&mut reader).await.expect("replayed event");
        if event["type"] != "event" {
            continue; // presence and the like, outside the log
        }
        expected_seq += 1;
        assert_eq!(event["seq"], expected_seq, "no gap, no duplicate: {event}");
        // The log also holds the programme's steps (sessions opening and ending).
        let Some(text) = event["event"]["text"].as_str().map(str::to_owned) else {
            continue;
        };
        assert!(
            stored.insert(expected_seq, text).is_none(),
            "{expected_seq} twice"
        );
    }
    stored
}
