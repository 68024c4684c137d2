//! Operating the server: `serve --config` (the file's settings take effect, the environment and
//! flags override them, an unknown key is refused by name), `--log-format json`, and
//! `plenary backup` of a data directory while the server on it takes a chat flood.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::{
    PATIENCE, PLENARY, Running, http_exchange, http_status, join, logged_chat, next, send,
};

const STAGE: &str = "main-stage";

/// Write `text` as a config file in a directory of its own.
fn config_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("plenary.toml");
    std::fs::write(&path, text).expect("writes the config file");
    let path = path.to_str().expect("a UTF-8 path").to_owned();
    (dir, path)
}

/// `plenary serve` on a free port with the config file `config` and the data directory `data`.
fn serve_with(config: &str, data: &std::path::Path) -> Command {
    let mut command = Command::new(PLENARY);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config,
            "--data-dir",
        ])
        .arg(data);
    command
}

/// The status of a WebSocket handshake sent with `origin` as its Origin.
async fn handshake_from(address: &str, origin: &str) -> u16 {
    let mut request = format!("ws://{address}/ws")
        .into_client_request()
        .expect("a WebSocket request");
    request.headers_mut().insert(
        "origin",
        HeaderValue::from_str(origin).expect("a header value"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(error) => panic!("the handshake failed: {error}"),
    }
}

/// Check that `/metrics` at `address` takes the token `taken` and refuses `refused`.
async fn metrics_token(address: &str, taken: &str, refused: Option<&str>, why: &str) {
    assert_eq!(
        http_status(address, "/metrics", refused).await,
        401,
        "{why}: {refused:?} is refused"
    );
    assert_eq!(
        http_status(address, "/metrics", Some(taken)).await,
        200,
        "{why}: {taken} is taken"
    );
}

/// What a server at `address` answers someone who says hello without a token: its `type`,
/// and the error's `code` if it refused them.
async fn guest_hello(address: &str) -> (String, Option<String>) {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
        .await
        .expect("the server accepts WebSockets");
    send(&mut socket, &json!({"type":"hello","name":"Walk-in"})).await;
    let answer = next(&mut socket).await.expect("an answer to hello");
    let text = |key: &str| answer[key].as_str().map(str::to_owned);
    (text("type").unwrap_or_default(), text("code"))
}

#[tokio::test]
async fn serve_takes_the_config_file_and_the_environment_and_flags_override_it() {
    let data = tempfile::tempdir().expect("temporary directory");
    let (_dir, config) = config_file(
        "# Plenary's settings\n\
         metrics-token = \"from-the-file\"\n\
         allowed-origin = [\"https://conference.example.org\"]\n\
         reminder-minutes = 5\n\
         guests = \"deny\"\n",
    );

    let server = Running::start(data.path(), &["--config", &config]).await;
    let address = &server.address;
    metrics_token(address, "from-the-file", None, "the file's token").await;
    assert_eq!(
        handshake_from(address, "https://conference.example.org").await,
        101,
        "the file's allowed origin"
    );
    assert_eq!(
        handshake_from(address, "https://elsewhere.example").await,
        403
    );
    assert_eq!(
        guest_hello(address).await,
        ("error".into(), Some("invite_required".into())),
        "the file admits no guests"
    );
    drop(server);

    let from_env = [
        ("PLENARY_METRICS_TOKEN", "from-the-env"),
        ("PLENARY_GUESTS", "allow"),
    ];
    let server = Running::start_with_env(data.path(), &["--config", &config], &from_env).await;
    let why = "the environment overrides the file";
    metrics_token(&server.address, "from-the-env", Some("from-the-file"), why).await;
    assert_eq!(
        guest_hello(&server.address).await,
        ("welcome".into(), None),
        "{why}: guests are let in"
    );
    drop(server);

    let flags = [
        "--config",
        &config,
        "--metrics-token",
        "from-the-flag",
        "--guests",
        "deny",
    ];
    let server = Running::start_with_env(data.path(), &flags, &from_env).await;
    let why = "a flag overrides the environment";
    metrics_token(&server.address, "from-the-flag", Some("from-the-env"), why).await;
    assert_eq!(
        guest_hello(&server.address).await.1.as_deref(),
        Some("invite_required"),
        "{why}: no guests"
    );
}

#[test]
fn a_config_file_with_an_unknown_key_or_a_bad_value_is_refused_by_name() {
    let data = tempfile::tempdir().expect("temporary directory");
    let refusal = |text: &str| {
        let (_dir, config) = config_file(text);
        let output = serve_with(&config, data.path())
            .output()
            .expect("plenary runs");
        assert!(!output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };

    let stderr = refusal("reminder-minutes = 5\nmetrics-tokn = \"typo\"\n");
    assert!(
        stderr.contains("metrics-tokn") && stderr.contains("plenary.toml"),
        "{stderr}"
    );
    let stderr = refusal("rtc-ports = \"50100-50000\"\n");
    assert!(stderr.contains("rtc-ports"), "{stderr}");
    let stderr = refusal("reminder-minutes = \"ten\"\n");
    assert!(stderr.contains("reminder-minutes"), "{stderr}");
}

#[tokio::test]
async fn json_logs_carry_the_user_as_a_field() {
    let data = tempfile::tempdir().expect("temporary directory");
    let (_dir, config) = config_file("log-format = \"json\"\n");
    let mut child = serve_with(&config, data.path())
        .env("PLENARY_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("plenary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (lines, logs) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let address = {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reads stdout");
        let address = line
            .trim()
            .strip_prefix("Plenary is listening on http://")
            .unwrap_or_else(|| panic!("the address first: {line}"))
            .to_owned();
        // Keep draining stdout, so the server never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        address
    };

    let token = Command::new(PLENARY)
        .args([
            "token",
            "--role",
            "organiser",
            "--name",
            "Olu",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .expect("plenary token runs");
    let token = String::from_utf8(token.stdout).expect("utf-8");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/schedules/31c3-schedule.xml"
    );
    let body = std::fs::read(fixture).expect("the fixture");
    assert_eq!(
        post(&address, "/api/schedule/import", token.trim(), &body).await,
        200
    );

    let imported = tokio::task::spawn_blocking(move || {
        loop {
            let line = logs.recv_timeout(PATIENCE).expect("a log line in time");
            let entry: Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
            if entry["fields"]["message"] == "imported a programme" {
                return entry;
            }
        }
    })
    .await
    .expect("reading the logs");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(imported["level"], "INFO", "{imported}");
    assert!(
        imported["fields"]["user"]
            .as_str()
            .is_some_and(|user| user.starts_with("u-")),
        "the organiser's user id: {imported}"
    );
    assert_eq!(imported["fields"]["sessions"], 138, "{imported}");
}

/// `POST path` with a bearer token and `body`: the status.
async fn post(address: &str, path: &str, token: &str, body: &[u8]) -> u16 {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    http_exchange(address, &request).await
}

/// Messages the flooding client sends at most: within the 1,000 events a room keeps
/// replayable, so one `since: 0` join shows everything.
const FLOOD: usize = 600;

#[tokio::test]
async fn a_backup_taken_during_a_chat_flood_restores_every_message_acknowledged_before_it() {
    let data = tempfile::tempdir().expect("temporary directory");
    let server = Running::start(data.path(), &["--no-rate-limits"]).await;
    let mut socket = join(
        &server.address,
        json!({"type":"hello","name":"Flood"}),
        STAGE,
    )
    .await;
    // Every acknowledged message, in the order sent: (chat id, text).
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let flood = tokio::spawn({
        let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
        async move {
            for n in 0..FLOOD {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let text = format!("message {n}");
                send(
                    &mut socket,
                    &json!({"type":"chat","room":STAGE,"text":text,"ref":n}),
                )
                .await;
                loop {
                    let answer = next(&mut socket).await.expect("the server stays up");
                    if answer["type"] == "ack" {
                        let id = answer["id"].as_u64().expect("a chat ack has an id");
                        acked.lock().expect("not poisoned").push((id, text));
                        break;
                    }
                    assert_ne!(answer["type"], "error", "{answer}");
                }
            }
        }
    });
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while acked.lock().expect("not poisoned").len() < 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flood got going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let before = acked.lock().expect("not poisoned").clone();
    let out = tempfile::tempdir().expect("temporary directory");
    let copy = out.path().join("copy");
    let backup = |copy: std::path::PathBuf, data: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            Command::new(PLENARY)
                .arg("backup")
                .arg(&copy)
                .arg("--data-dir")
                .arg(&data)
                .output()
                .expect("plenary backup runs")
        })
    };
    // The flood goes on while the backup runs.
    let output = backup(copy.clone(), data.path().to_owned())
        .await
        .expect("the backup's task");
    assert!(output.status.success(), "{output:?}");
    stop.store(true, Ordering::Relaxed);
    flood.await.expect("the flood's task");
    let again = backup(copy.clone(), data.path().to_owned())
        .await
        .expect("the backup's task");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{again:?}"
    );
    drop(server);
    assert_eq!(
        std::fs::read(copy.join("secret")).expect("the secret is backed up"),
        std::fs::read(data.path().join("secret")).expect("the secret"),
    );

    let restored = Running::start(&copy, &[]).await;
    let stored = logged_chat(&restored.address, STAGE).await;
    for (id, text) in &before {
        assert_eq!(
            stored.get(id),
            Some(text),
            "message {id}, acknowledged before the backup, is in it"
        );
    }
    // One client sent in order, so a consistent copy holds the first messages and no others.
    let mut texts: Vec<(&u64, &String)> = stored.iter().collect();
    texts.sort();
    let in_order: Vec<String> = (0..texts.len()).map(|n| format!("message {n}")).collect();
    let texts: Vec<String> = texts.into_iter().map(|(_, text)| text.clone()).collect();
    assert_eq!(texts, in_order, "the backup is the log up to one moment");
}
