//! Programme interchange through the real server: an organiser imports real pretalx and frab
//! exports over HTTP, the server serves them (as JSON, iCalendar and schedule.json) and makes
//! their rooms joinable; everyone else is refused, and a bad file changes nothing.

use anyhow::Result;
use plenary_protocol::Role;
use plenary_tests::TestServer;
use serde_json::{Value, json};

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../fixtures/schedules/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// POST a file to the import route with a token of `role`.
pub(crate) async fn import_as(
    server: &TestServer,
    role: Role,
    body: Vec<u8>,
) -> Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(server.url("/api/schedule/import"))
        .bearer_auth(server.token(role, "Olu"))
        .body(body)
        .send()
        .await?)
}

/// Import `body` as an organiser, and the programme then served.
pub(crate) async fn imported(server: &TestServer, body: Vec<u8>) -> Result<Value> {
    let response = import_as(server, Role::Organiser, body).await?;
    anyhow::ensure!(
        response.status().is_success(),
        "import: {}",
        response.status()
    );
    server.schedule().await
}

#[tokio::test]
async fn each_real_export_imports_over_http_and_becomes_the_programme_served() -> Result<()> {
    let server = TestServer::start().await?;
    for (file, name, rooms, sessions, speakers) in [
        ("pretalx-democon.json", "DemoCon", 2, 36, 27),
        (
            "31c3-schedule.xml",
            "31. Chaos Communication Congress",
            4,
            138,
            197,
        ),
        ("fosdem-2025-schedule.xml", "FOSDEM 2025", 40, 943, 992),
    ] {
        let response = import_as(&server, Role::Organiser, fixture(file)).await?;
        assert_eq!(response.status(), 200, "{file}");
        let summary: Value = response.json().await?;
        assert_eq!(summary["rooms"], rooms, "{file}");
        assert_eq!(summary["sessions"], sessions, "{file}");
        assert_eq!(summary["speakers"], speakers, "{file}");
        assert!(summary["warnings"].is_array());

        let served = server.schedule().await?;
        assert_eq!(served["conference"]["name"], name);
        assert_eq!(served["rooms"].as_array().map(Vec::len), Some(rooms));
        assert_eq!(served["sessions"].as_array().map(Vec::len), Some(sessions));
        // The import replaced what was there: the demo's rooms, then the previous file's.
        assert!(
            !served["rooms"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|room| room["id"] == "main-stage")
        );

        let calendar = reqwest::get(server.url("/api/schedule.ics")).await?;
        assert_eq!(
            calendar.headers()["content-type"],
            "text/calendar; charset=utf-8"
        );
        let calendar = calendar.text().await?;
        assert_eq!(calendar.matches("\r\nBEGIN:VEVENT\r\n").count(), sessions);

        let exported: Value = reqwest::get(server.url("/api/schedule.json"))
            .await?
            .json()
            .await?;
        assert_eq!(exported["schedule"]["conference"]["title"], name);
    }
    Ok(())
}

#[tokio::test]
async fn only_organisers_may_import() -> Result<()> {
    let server = TestServer::start().await?;
    let before = server.schedule().await?;
    let http = reqwest::Client::new();
    let url = server.url("/api/schedule/import");
    let file = fixture("pretalx-democon.json");

    let anonymous = http.post(&url).body(file.clone()).send().await?;
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await?;
    assert_eq!(body["error"]["code"], "unauthorized");

    let forged = http
        .post(&url)
        .bearer_auth("not.a.token")
        .body(file.clone())
        .send()
        .await?;
    assert_eq!(forged.status(), 401);

    for role in [Role::Attendee, Role::Moderator, Role::Host] {
        let refused = import_as(&server, role, file.clone()).await?;
        assert_eq!(refused.status(), 403, "{role:?}");
        let body: Value = refused.json().await?;
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert_eq!(server.schedule().await?, before, "nothing changed");
    Ok(())
}

#[tokio::test]
async fn a_file_that_is_not_a_schedule_is_refused_and_the_programme_stays() -> Result<()> {
    let server = TestServer::start().await?;
    let imported = import_as(&server, Role::Organiser, fixture("pretalx-democon.json")).await?;
    assert_eq!(imported.status(), 200);
    let before = server.schedule().await?;

    let mut truncated = fixture("31c3-schedule.xml");
    truncated.truncate(20_000);
    let mut without_duration = String::from_utf8(fixture("pretalx-democon.json"))?;
    without_duration = without_duration.replacen(r#""duration": "00:30","#, "", 1);
    for (body, says) in [
        (
            b"<!DOCTYPE html><html><body>Programme</body></html>".to_vec(),
            "not a schedule",
        ),
        (br#"{"foo":1}"#.to_vec(), "not a schedule"),
        (truncated, "not well-formed XML"),
        (
            without_duration.into_bytes(),
            "event 25: missing required field `duration`",
        ),
    ] {
        let refused = import_as(&server, Role::Organiser, body).await?;
        assert_eq!(refused.status(), 400);
        let error: Value = refused.json().await?;
        assert_eq!(error["error"]["code"], "bad_request");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message}");
        assert_eq!(
            server.schedule().await?,
            before,
            "the programme is untouched"
        );
    }
    Ok(())
}

#[tokio::test]
async fn importing_the_same_programme_again_updates_it_in_place() -> Result<()> {
    // The eve of 31C3, so its sessions still take questions.
    let server = TestServer::start_at("2014-12-26T12:00:00Z").await?;
    import_as(&server, Role::Organiser, fixture("31c3-schedule.xml"))
        .await?
        .error_for_status()?;
    let first = server.schedule().await?;

    // A question in a session of the imported programme.
    let opening = "29aecfd7-2e44-4f49-ab86-29b5e0877325";
    let mut attendee = server.client(Role::Attendee, "Ines").await?;
    attendee.join("saal-1").await?;
    let (asked, _) = attendee
        .ok(json!({"type":"ask","session":opening,"text":"Will there be a 32C3?"}))
        .await?;

    let again = import_as(&server, Role::Organiser, fixture("31c3-schedule.xml")).await?;
    assert_eq!(again.status(), 200);
    assert_eq!(
        server.schedule().await?,
        first,
        "the same programme, nothing twice"
    );

    // The session kept its key, so its question is still there.
    let mut late = server.client(Role::Attendee, "Jun").await?;
    let joined = late.join("saal-1").await?;
    let questions = &joined["snapshot"]["questions"];
    assert_eq!(questions[0]["id"], asked["id"]);
    assert_eq!(questions[0]["session"], opening);

    // And it is what the server comes back with after a restart.
    let dir = server.stop().await;
    let restarted = TestServer::start_in(dir).await?;
    assert_eq!(restarted.schedule().await?, first);
    Ok(())
}

#[tokio::test]
async fn after_an_import_clients_join_the_new_rooms_and_not_the_old_ones() -> Result<()> {
    // The eve of FOSDEM 2025, so its sessions still take questions.
    let server = TestServer::start_at("2025-01-31T12:00:00Z").await?;
    // Connected before the import, as an attendee on the demo's stage would be.
    let mut attendee = server.client(Role::Attendee, "Kofi").await?;
    attendee.join("main-stage").await?;

    import_as(
        &server,
        Role::Organiser,
        fixture("fosdem-2025-schedule.xml"),
    )
    .await?
    .error_for_status()?;

    let joined = attendee.join("k3201").await?;
    assert_eq!(joined["room"], "k3201");
    let (ack, _) = attendee
        .ok(json!({
            "type": "ask",
            "session": "852280ac-61d3-588c-b74c-8d87f9d9d2c6",
            "text": "Does this work on AArch64 too?"
        }))
        .await?;
    assert!(ack["id"].is_u64());
    let (chat, _) = attendee
        .ok(json!({"type":"chat","room":"k3201","text":"hello from K.3.201"}))
        .await?;
    assert!(chat["id"].is_u64());

    let (gone, _) = attendee
        .request(json!({"type":"join","room":"main-stage"}))
        .await?;
    assert_eq!(gone["type"], "error");
    assert_eq!(gone["code"], "not_found");
    Ok(())
}
