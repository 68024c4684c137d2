//! The command line, as organisers and other tools use it: `serve` on a free port prints its
//! real address and invite links, and `plenary token` on the same data directory prints a
//! token that the running server accepts.

use std::process::Command;

use serde_json::json;

use crate::{PLENARY, Running, expect, send};

#[tokio::test]
async fn serve_prints_its_address_and_accepts_a_token_from_the_command_line() {
    let data = tempfile::tempdir().expect("temporary directory");
    let server = Running::start(data.path(), &[]).await;
    let address = &server.address;
    assert!(
        !address.ends_with(":0"),
        "the real port is printed: {address}"
    );
    let lines = &server.banner;
    for role in ["attendee", "moderator", "host"] {
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
    send(&mut socket, &json!({"type":"hello","token":token})).await;
    let welcome = expect(&mut socket, "welcome").await;
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
