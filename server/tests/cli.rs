//! The `plenary` binary's command line, as organisers and other tools use it: `serve` on a
//! free port prints its real address and invite links, and `plenary token` on the same data
//! directory prints a token that the running server accepts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const PLENARY: &str = env!("CARGO_BIN_EXE_plenary");

/// Stops the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_prints_its_address_and_accepts_a_token_from_the_command_line() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut server = Running(
        Command::new(PLENARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("PLENARY_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("plenary starts"),
    );
    let stdout = server.0.stdout.take().expect("stdout is piped");
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take(7)
            .collect()
    })
    .await
    .expect("reading stdout");
    let address = lines
        .iter()
        .find_map(|line| line.strip_prefix("Plenary is listening on http://"))
        .unwrap_or_else(|| panic!("the address is printed: {lines:?}"))
        .to_owned();
    assert!(
        !address.ends_with(":0"),
        "the real port is printed: {address}"
    );
    for role in ["attendee", "moderator", "host", "organiser"] {
        assert!(
            lines
                .iter()
                .any(|line| line.trim_start().starts_with(role) && line.contains("/?token=")),
            "an invite link for {role}: {lines:?}"
        );
    }

    let output = Command::new(PLENARY)
        .args([
            "token",
            "--role",
            "moderator",
            "--name",
            "Mona Lindqvist",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .expect("plenary token runs");
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();

    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
        .await
        .expect("the printed address accepts WebSockets");
    let hello = serde_json::json!({"type":"hello","token":token});
    socket
        .send(Message::text(hello.to_string()))
        .await
        .expect("send hello");
    let answer = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("an answer in time")
        .expect("the connection stays open")
        .expect("a frame");
    let welcome: serde_json::Value =
        serde_json::from_str(answer.to_text().expect("text")).expect("json");
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["user"]["role"], "moderator");
    assert_eq!(welcome["user"]["name"], "Mona Lindqvist");
}

#[test]
fn a_token_for_an_unknown_role_is_refused_with_a_clear_message() {
    let data = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(PLENARY)
        .args(["token", "--role", "emperor", "--name", "X", "--data-dir"])
        .arg(data.path())
        .output()
        .expect("plenary token runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("emperor") && stderr.contains("moderator"),
        "{stderr}"
    );
}
