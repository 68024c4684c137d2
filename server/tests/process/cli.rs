//! The command line, as organisers and other tools use it: `serve` on a free port prints its
//! real address and invite links, `plenary token` on the same data directory prints a token
//! that the running server accepts, and `plenary import` stores a programme file.

use std::process::Command;

use plenary_server::store::{SqliteStore, Store};
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

#[test]
fn import_replaces_the_data_directorys_programme_and_refuses_a_non_schedule() {
    let data = tempfile::tempdir().expect("temporary directory");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/schedules/31c3-schedule.xml"
    );
    let output = Command::new(PLENARY)
        .arg("import")
        .arg(fixture)
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .expect("plenary import runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "Imported 31. Chaos Communication Congress: 4 rooms, 138 sessions, 197 speakers."
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: the file names no time zone"),
        "{stdout}"
    );

    let store = SqliteStore::open(data.path()).expect("the data directory opens");
    let programme = store
        .load_programme()
        .expect("loads")
        .expect("a programme is stored");
    assert_eq!(programme.sessions.len(), 138);

    let not_a_schedule = data.path().join("page.html");
    std::fs::write(&not_a_schedule, "<html><body>Programme</body></html>").expect("writes");
    let output = Command::new(PLENARY)
        .arg("import")
        .arg(&not_a_schedule)
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .expect("plenary import runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a schedule"), "{stderr}");
    let kept = store.load_programme().expect("loads");
    assert_eq!(kept, Some(programme), "the stored programme is untouched");
}
