//! The organiser API through the real server: organisers create, change and delete rooms,
//! tracks, speakers and sessions over HTTP; every rule of the programme is enforced with a
//! per-field code; a dry run changes nothing; accepted changes reach connected clients and
//! the scheduler, survive a restart, and keep working with imports.
//!
//! The server starts at 12:47 UTC on the demo's day, so its programme is fixed: the day runs
//! 11:30–16:30; on the main stage the keynote (Priya Raman) runs 12:00–13:00, a break
//! 13:00–13:15, the panel 13:15–14:15; workshop rooms 1–3 hold workshops 14:15–15:45.

use anyhow::{Result, bail};
use jiff::SignedDuration;
use plenary_protocol::Role;
use plenary_tests::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const NOW: &str = "2026-11-28T12:47:00Z";

/// An HTTP client of the organiser API with one token (or none).
struct Api<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
    token: Option<String>,
}

impl<'a> Api<'a> {
    fn new(server: &'a TestServer, role: Option<Role>) -> Api<'a> {
        Api {
            server,
            http: reqwest::Client::new(),
            token: role.map(|role| server.token(role, "Olu")),
        }
    }

    fn organiser(server: &'a TestServer) -> Api<'a> {
        Api::new(server, Some(Role::Organiser))
    }

    /// Send a request with a JSON body (a raw one if `body` is a string); the status and the
    /// answer's JSON (`null` for none).
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut request = self.http.request(method, self.server.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Some(Value::String(raw)) => request.body(raw),
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        };
        Ok((status, json))
    }

    async fn get(&self, path: &str) -> Result<Value> {
        match self.send(Method::GET, path, None).await? {
            (StatusCode::OK, body) => Ok(body),
            (status, body) => bail!("GET {path}: {status} {body}"),
        }
    }

    /// Send and expect `expected`; the answer.
    async fn expect(
        &self,
        expected: StatusCode,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let (status, answer) = self.send(method.clone(), path, body).await?;
        if status != expected {
            bail!("{method} {path}: expected {expected}, got {status} {answer}");
        }
        Ok(answer)
    }

    /// Send a change that must be refused with 422; its problems as (field, code, session).
    async fn refused(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Vec<(String, String, String)>> {
        let answer = self
            .expect(StatusCode::UNPROCESSABLE_ENTITY, method, path, body)
            .await?;
        assert_eq!(answer["error"]["code"], "invalid", "{answer}");
        assert!(answer["error"]["message"].is_string());
        Ok(problems(&answer["error"]["fields"]))
    }
}

/// Problems as (field, code, session or "").
fn problems(list: &Value) -> Vec<(String, String, String)> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|problem| {
            let text = |key: &str| problem[key].as_str().unwrap_or_default().to_owned();
            (text("field"), text("code"), text("session"))
        })
        .collect()
}

fn problem(field: &str, code: &str, session: &str) -> (String, String, String) {
    (field.to_owned(), code.to_owned(), session.to_owned())
}

/// A talk in workshop room 1 before its workshop: free of every conflict.
fn talk(title: &str, start: &str, end: &str) -> Value {
    json!({
        "title": title, "kind": "talk", "room": "workshop-1",
        "start": format!("2026-11-28T{start}:00Z"), "end": format!("2026-11-28T{end}:00Z"),
    })
}

#[tokio::test]
async fn only_organisers_may_use_the_organiser_api() -> Result<()> {
    let server = TestServer::start_at(NOW).await?;
    let before = server.schedule().await?;
    let room = Some(json!({"name": "Attic", "kind": "workshop"}));
    let requests = [
        (Method::GET, "/api/rooms", None),
        (Method::POST, "/api/rooms", room.clone()),
        (Method::GET, "/api/rooms/main-stage", None),
        (Method::PUT, "/api/rooms/main-stage", room.clone()),
        (Method::PATCH, "/api/rooms/main-stage", room),
        (Method::DELETE, "/api/tracks/none", None),
        (Method::GET, "/api/speakers", None),
        (Method::DELETE, "/api/sessions/keynote-open", None),
        (
            Method::POST,
            "/api/sessions?dry_run=true",
            Some(talk("T", "12:00", "12:30")),
        ),
    ];
    for (method, path, body) in requests {
        let anonymous = Api::new(&server, None);
        let answer = anonymous
            .expect(StatusCode::UNAUTHORIZED, method.clone(), path, body.clone())
            .await?;
        assert_eq!(answer["error"]["code"], "unauthorized");
        assert!(answer["error"]["message"].is_string());
        for role in [Role::Attendee, Role::Moderator, Role::Host] {
            let answer = Api::new(&server, Some(role))
                .expect(StatusCode::FORBIDDEN, method.clone(), path, body.clone())
                .await?;
            assert_eq!(
                answer["error"]["code"], "forbidden",
                "{role:?} {method} {path}"
            );
        }
    }
    assert_eq!(server.schedule().await?, before, "nothing changed");
    Ok(())
}

#[tokio::test]
async fn organisers_create_change_and_delete_each_kind_of_item() -> Result<()> {
    let server = TestServer::start_at(NOW).await?;
    let api = Api::organiser(&server);

    // Rooms.
    let room = api
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/rooms",
            Some(json!({"name": "Reading room", "kind": "workshop", "capacity": 12})),
        )
        .await?;
    assert_eq!(
        room,
        json!({"id": "reading-room", "name": "Reading room", "kind": "workshop", "capacity": 12})
    );
    api.expect(
        StatusCode::OK,
        Method::PUT,
        "/api/rooms/reading-room",
        Some(json!({"id": "reading-room", "name": "Reading room", "kind": "stage"})),
    )
    .await?;
    let room = api
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/api/rooms/reading-room",
            Some(json!({"capacity": 30})),
        )
        .await?;
    assert_eq!(
        room,
        json!({"id": "reading-room", "name": "Reading room", "kind": "stage", "capacity": 30})
    );
    assert_eq!(api.get("/api/rooms/reading-room").await?, room);
    let rooms = api.get("/api/rooms").await?;
    assert_eq!(rooms.as_array().map(Vec::len), Some(5));
    assert_eq!(server.schedule().await?["rooms"][4], room);

    // Tracks.
    let track = api
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/tracks",
            Some(json!({"id": "practice", "name": "Practice"})),
        )
        .await?;
    assert_eq!(track, json!({"id": "practice", "name": "Practice"}));

    // Speakers.
    let speaker = api
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/speakers",
            Some(json!({"name": "Noor Haddad"})),
        )
        .await?;
    assert_eq!(speaker, json!({"id": "noor-haddad", "name": "Noor Haddad"}));
    let speakers = api.get("/api/speakers").await?;
    assert!(
        speakers
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["id"] == "priya-raman")
    );

    // Sessions: in the new room, track, with the new speaker, a host and a moderator.
    let mut input = talk("Reading circles", "12:00", "12:45");
    input["room"] = json!("reading-room");
    input["track"] = json!("practice");
    input["speakers"] = json!(["noor-haddad"]);
    input["hosts"] = json!(["u-host"]);
    input["moderators"] = json!(["u-moderator"]);
    let session = api
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/sessions",
            Some(input),
        )
        .await?;
    assert_eq!(session["id"], "reading-circles");
    assert_eq!(session["start"], "2026-11-28T12:00:00Z");
    assert_eq!(session["hosts"], json!(["u-host"]));
    assert_eq!(api.get("/api/sessions/reading-circles").await?, session);
    let shown = server.schedule().await?;
    let listed = shown["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == "reading-circles")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        listed["speakers"],
        json!(["Noor Haddad"]),
        "the schedule shows names"
    );
    assert_eq!(listed["track"], "Practice");
    assert_eq!(shown["tracks"], json!(["Practice"]));

    // Renaming a speaker and a track shows everywhere; ids stay.
    api.expect(
        StatusCode::OK,
        Method::PUT,
        "/api/speakers/noor-haddad",
        Some(json!({"name": "Dr Noor Haddad"})),
    )
    .await?;
    api.expect(
        StatusCode::OK,
        Method::PATCH,
        "/api/tracks/practice",
        Some(json!({"name": "Good practice"})),
    )
    .await?;
    let shown = server.schedule().await?;
    let listed = shown["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == "reading-circles")
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed["speakers"], json!(["Dr Noor Haddad"]));
    assert_eq!(listed["track"], "Good practice");

    // A patch moves the session and takes its track away; what it leaves out stays.
    let moved = api
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/api/sessions/reading-circles",
            Some(json!({"start": "2026-11-28T12:15:00Z", "end": "2026-11-28T13:00:00Z", "track": null})),
        )
        .await?;
    assert_eq!(moved["start"], "2026-11-28T12:15:00Z");
    assert!(moved.get("track").is_none());
    assert_eq!(moved["speakers"], json!(["noor-haddad"]));
    assert_eq!(moved["moderators"], json!(["u-moderator"]));

    // Deleting: the session first, then what it used.
    api.expect(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        "/api/sessions/reading-circles",
        None,
    )
    .await?;
    for path in [
        "/api/rooms/reading-room",
        "/api/tracks/practice",
        "/api/speakers/noor-haddad",
    ] {
        api.expect(StatusCode::NO_CONTENT, Method::DELETE, path, None)
            .await?;
        let answer = api
            .expect(StatusCode::NOT_FOUND, Method::GET, path, None)
            .await?;
        assert_eq!(answer["error"]["code"], "not_found");
    }
    let answer = api
        .expect(
            StatusCode::NOT_FOUND,
            Method::GET,
            "/api/sessions/reading-circles",
            None,
        )
        .await?;
    assert_eq!(answer["error"]["code"], "not_found");
    Ok(())
}

#[tokio::test]
async fn every_rule_of_the_programme_is_refused_with_its_own_code() -> Result<()> {
    let server = TestServer::start_at(NOW).await?;
    let api = Api::organiser(&server);
    // The keynote gets a host and a moderator, so others can clash with them.
    api.expect(
        StatusCode::OK,
        Method::PATCH,
        "/api/sessions/keynote-open",
        Some(json!({"hosts": ["u-amelia"], "moderators": ["u-omar"]})),
    )
    .await?;
    let before = api.get("/api/sessions").await?;

    let with = |changes: Value| {
        let mut input = talk("Clash", "12:30", "12:50");
        if let (Value::Object(input), Value::Object(changes)) = (&mut input, changes) {
            input.extend(changes);
        }
        Some(input)
    };
    let cases = [
        (
            json!({"end": "2026-11-28T12:30:00Z"}),
            problem("end", "end_not_after_start", ""),
        ),
        (
            json!({"start": "2026-11-28T16:20:00Z", "end": "2026-11-28T16:40:00Z"}),
            problem("start", "outside_conference_days", ""),
        ),
        (
            json!({"room": "main-stage"}),
            problem("room", "room_overlap", "keynote-open"),
        ),
        (
            json!({"speakers": ["priya-raman"]}),
            problem("speakers", "speaker_double_booked", "keynote-open"),
        ),
        (
            json!({"hosts": ["u-amelia"]}),
            problem("hosts", "host_double_booked", "keynote-open"),
        ),
        (
            json!({"moderators": ["u-amelia"]}),
            problem("moderators", "moderator_double_booked", "keynote-open"),
        ),
        (
            json!({"room": "attic"}),
            problem("room", "unknown_room", ""),
        ),
        (
            json!({"track": "poetry"}),
            problem("track", "unknown_track", ""),
        ),
        (
            json!({"speakers": ["nobody"]}),
            problem("speakers", "unknown_speaker", ""),
        ),
        (json!({"title": ""}), problem("title", "required", "")),
        (
            json!({"start": "half past twelve"}),
            problem("start", "invalid_value", ""),
        ),
        (json!({"id": "keynote-open"}), problem("id", "id_taken", "")),
    ];
    for (changes, expected) in cases {
        let found = api
            .refused(Method::POST, "/api/sessions", with(changes.clone()))
            .await?;
        assert_eq!(found, [expected], "{changes}");
    }

    // Every problem at once, each naming the session it clashes with.
    let found = api
        .refused(
            Method::POST,
            "/api/sessions",
            with(json!({
                "room": "main-stage", "track": "poetry",
                "speakers": ["priya-raman"], "hosts": ["u-omar"], "moderators": ["u-amelia"],
            })),
        )
        .await?;
    assert_eq!(
        found,
        [
            problem("track", "unknown_track", ""),
            problem("room", "room_overlap", "keynote-open"),
            problem("speakers", "speaker_double_booked", "keynote-open"),
            problem("hosts", "host_double_booked", "keynote-open"),
            problem("moderators", "moderator_double_booked", "keynote-open"),
        ]
    );

    // Moving an existing session into another's slot, or renaming its id.
    for (patch, expected) in [
        (
            json!({"start": "2026-11-28T12:45:00Z"}),
            vec![
                problem("room", "room_overlap", "keynote-open"),
                problem("room", "room_overlap", "break-morning"),
            ],
        ),
        (
            json!({"id": "panel"}),
            vec![problem("id", "id_mismatch", "")],
        ),
    ] {
        let path = "/api/sessions/panel-partnerships";
        let found = api.refused(Method::PATCH, path, Some(patch)).await?;
        assert_eq!(found, expected);
    }

    // What sessions use cannot be deleted.
    let found = api
        .refused(Method::DELETE, "/api/rooms/workshop-3", None)
        .await?;
    assert_eq!(found, [problem("id", "in_use", "workshop-storytelling")]);
    let found = api
        .refused(Method::DELETE, "/api/speakers/priya-raman", None)
        .await?;
    assert_eq!(found, [problem("id", "in_use", "keynote-open")]);
    api.expect(
        StatusCode::CREATED,
        Method::POST,
        "/api/tracks",
        Some(json!({"id": "t", "name": "T"})),
    )
    .await?;
    api.expect(
        StatusCode::OK,
        Method::PATCH,
        "/api/sessions/closing",
        Some(json!({"track": "t"})),
    )
    .await?;
    let found = api.refused(Method::DELETE, "/api/tracks/t", None).await?;
    assert_eq!(found, [problem("id", "in_use", "closing")]);

    // Rooms and tracks.
    let found = api
        .refused(
            Method::POST,
            "/api/rooms",
            Some(json!({"name": "Main stage", "kind": "stage", "capacity": 0})),
        )
        .await?;
    assert_eq!(
        found,
        [
            problem("name", "duplicate", ""),
            problem("capacity", "invalid_value", "")
        ]
    );
    let found = api
        .refused(Method::POST, "/api/tracks", Some(json!({"name": " "})))
        .await?;
    assert_eq!(found, [problem("name", "required", "")]);

    let mut after = api.get("/api/sessions").await?;
    if let Some(closing) = after
        .as_array_mut()
        .and_then(|sessions| sessions.iter_mut().find(|s| s["id"] == "closing"))
    {
        closing
            .as_object_mut()
            .map(|closing| closing.remove("track"));
    }
    assert_eq!(after, before, "nothing refused was changed");
    Ok(())
}

#[tokio::test]
async fn a_dry_run_reports_what_a_change_would_meet_and_changes_nothing() -> Result<()> {
    let server = TestServer::start_at(NOW).await?;
    let api = Api::organiser(&server);
    let before = server.schedule().await?;

    let mut clash = talk("Clash", "12:30", "12:50");
    clash["room"] = json!("main-stage");
    let answer = api
        .expect(
            StatusCode::OK,
            Method::POST,
            "/api/sessions?dry_run=true",
            Some(clash),
        )
        .await?;
    assert_eq!(answer["valid"], false);
    assert_eq!(
        problems(&answer["problems"]),
        [problem("room", "room_overlap", "keynote-open")]
    );

    let fine = talk("Fine", "12:00", "12:30");
    let answer = api
        .expect(
            StatusCode::OK,
            Method::POST,
            "/api/sessions?dry_run=true",
            Some(fine),
        )
        .await?;
    assert_eq!(answer, json!({"valid": true, "problems": []}));

    let answer = api
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/api/sessions/keynote-open?dry_run=true",
            Some(json!({"end": "2026-11-28T12:30:00Z"})),
        )
        .await?;
    assert_eq!(answer["valid"], true);
    let answer = api
        .expect(
            StatusCode::OK,
            Method::DELETE,
            "/api/rooms/workshop-1?dry_run=true",
            None,
        )
        .await?;
    assert_eq!(
        problems(&answer["problems"]),
        [problem("id", "in_use", "workshop-partnerships")]
    );
    let answer = api
        .expect(
            StatusCode::OK,
            Method::DELETE,
            "/api/sessions/keynote-open?dry_run=true",
            None,
        )
        .await?;
    assert_eq!(answer["valid"], true);
    api.expect(
        StatusCode::OK,
        Method::PUT,
        "/api/rooms/workshop-1?dry_run=true",
        Some(json!({"name": "Attic", "kind": "stage"})),
    )
    .await?;
    assert_eq!(
        server.schedule().await?,
        before,
        "no dry run changed anything"
    );

    // `dry_run=false` is a change like any other.
    api.expect(
        StatusCode::CREATED,
        Method::POST,
        "/api/speakers?dry_run=false",
        Some(json!({"name": "Real"})),
    )
    .await?;
    api.get("/api/speakers/real").await?;
    Ok(())
}

#[tokio::test]
async fn malformed_requests_are_refused_with_400_and_unknown_items_with_404() -> Result<()> {
    let server = TestServer::start_at(NOW).await?;
    let api = Api::organiser(&server);
    let before = server.schedule().await?;
    for (method, path, body) in [
        (Method::POST, "/api/rooms", json!("{not json")),
        (Method::POST, "/api/rooms", json!("")),
        (Method::POST, "/api/rooms", json!({"name": "Attic"})),
        (
            Method::POST,
            "/api/rooms",
            json!({"name": "Attic", "kind": "ballroom"}),
        ),
        (
            Method::POST,
            "/api/rooms",
            json!({"name": "Attic", "kind": "stage", "capacty": 3}),
        ),
        (
            Method::POST,
            "/api/rooms",
            json!({"name": "Attic", "kind": "stage", "capacity": -1}),
        ),
        (Method::POST, "/api/sessions", json!([1, 2, 3])),
        (
            Method::PUT,
            "/api/sessions/keynote-open",
            json!({"title": 7}),
        ),
        (
            Method::PATCH,
            "/api/sessions/keynote-open",
            json!({"kind": "party"}),
        ),
        (
            Method::PATCH,
            "/api/sessions/keynote-open",
            json!({"title": null}),
        ),
        (
            Method::POST,
            "/api/speakers?dry_run=perhaps",
            json!({"name": "A"}),
        ),
    ] {
        let answer = api
            .expect(
                StatusCode::BAD_REQUEST,
                method.clone(),
                path,
                Some(body.clone()),
            )
            .await?;
        assert_eq!(
            answer["error"]["code"], "bad_request",
            "{method} {path} {body}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    for (method, path, body) in [
        (Method::GET, "/api/rooms/attic", None),
        (
            Method::PUT,
            "/api/tracks/none",
            Some(json!({"name": "None"})),
        ),
        (
            Method::PATCH,
            "/api/speakers/nobody",
            Some(json!({"name": "Nobody"})),
        ),
        (Method::DELETE, "/api/sessions/nothing", None),
        (Method::DELETE, "/api/sessions/nothing?dry_run=true", None),
    ] {
        let answer = api
            .expect(StatusCode::NOT_FOUND, method, path, body)
            .await?;
        assert_eq!(answer["error"]["code"], "not_found");
    }
    assert_eq!(server.schedule().await?, before, "nothing changed");
    Ok(())
}

#[tokio::test]
async fn an_edit_reaches_connected_clients_and_the_scheduler() -> Result<()> {
    let server = TestServer::start_at(NOW).await?;
    let api = Api::organiser(&server);
    let mut attendee = server.client(Role::Attendee, "Ines").await?;
    attendee.join("workshop-1").await?;

    // A session added in the attendee's room, starting in three minutes: its doors are open.
    api.expect(
        StatusCode::CREATED,
        Method::POST,
        "/api/sessions",
        Some(talk("Pop-up session", "12:50", "13:10")),
    )
    .await?;
    server.clock().advance(SignedDuration::from_secs(1));
    let phase = |message: &Value, phase: &str| {
        message["event"]["kind"] == "session_phase"
            && message["event"]["session"] == "pop-up-session"
            && message["event"]["phase"] == phase
    };
    attendee
        .recv_until(|message| phase(message, "open"))
        .await?;
    // It takes questions, and the schedule lists it.
    let (asked, _) = attendee
        .ok(json!({"type": "ask", "session": "pop-up-session", "text": "Slides afterwards?"}))
        .await?;
    assert!(asked["id"].is_u64());
    let shown = server.schedule().await?;
    assert!(
        shown["sessions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["id"] == "pop-up-session")
    );

    // Moved to end earlier, it ends then: at 12:56, not 13:10.
    api.expect(
        StatusCode::OK,
        Method::PATCH,
        "/api/sessions/pop-up-session",
        Some(json!({"end": "2026-11-28T12:55:00Z"})),
    )
    .await?;
    server.clock().advance(SignedDuration::from_mins(3));
    attendee
        .recv_until(|message| phase(message, "live"))
        .await?;
    server.clock().advance(SignedDuration::from_mins(6));
    attendee
        .recv_until(|message| phase(message, "ended"))
        .await?;

    // A room created by an organiser can be joined at once, and a deleted session is gone.
    api.expect(
        StatusCode::CREATED,
        Method::POST,
        "/api/rooms",
        Some(json!({"id": "lounge", "name": "Lounge", "kind": "stage"})),
    )
    .await?;
    let joined = attendee.join("lounge").await?;
    assert_eq!(joined["room"], "lounge");
    api.expect(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        "/api/sessions/pop-up-session",
        None,
    )
    .await?;
    let (refused, _) = attendee
        .request(json!({"type": "ask", "session": "pop-up-session", "text": "Still there?"}))
        .await?;
    assert_eq!(refused["code"], "not_found");
    Ok(())
}

#[tokio::test]
async fn concurrent_edits_are_all_kept() -> Result<()> {
    let server = TestServer::start_at(NOW).await?;
    let api = Api::organiser(&server);
    let before = api
        .get("/api/speakers")
        .await?
        .as_array()
        .map_or(0, Vec::len);
    let creations = (0..20).map(|n| {
        api.expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/speakers",
            Some(json!({"name": format!("Speaker {n}")})),
        )
    });
    for created in futures_util::future::join_all(creations).await {
        created?;
    }
    let speakers = api.get("/api/speakers").await?;
    assert_eq!(speakers.as_array().map_or(0, Vec::len), before + 20);
    Ok(())
}

#[tokio::test]
async fn edits_are_durable_and_a_reimport_keeps_them_working() -> Result<()> {
    let server = TestServer::start_at(NOW).await?;
    let api = Api::organiser(&server);
    api.expect(
        StatusCode::CREATED,
        Method::POST,
        "/api/speakers",
        Some(json!({"id": "noor", "name": "Noor Haddad"})),
    )
    .await?;
    let mut input = talk("Reading circles", "12:00", "12:45");
    input["speakers"] = json!(["noor"]);
    input["hosts"] = json!(["u-host"]);
    api.expect(
        StatusCode::CREATED,
        Method::POST,
        "/api/sessions",
        Some(input),
    )
    .await?;
    let sessions = api.get("/api/sessions").await?;
    let speakers = api.get("/api/speakers").await?;

    // A restart serves the same programme.
    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await?;
    let api = Api::organiser(&server);
    assert_eq!(api.get("/api/sessions").await?, sessions);
    assert_eq!(api.get("/api/speakers").await?, speakers);

    // The programme's own export imported again changes nothing: speakers keep their ids,
    // sessions their hosts.
    let export = reqwest::get(server.url("/api/schedule.json"))
        .await?
        .text()
        .await?;
    let summary = api
        .expect(
            StatusCode::OK,
            Method::POST,
            "/api/schedule/import",
            Some(Value::String(export)),
        )
        .await?;
    assert_eq!(summary["sessions"], sessions.as_array().map_or(0, Vec::len));
    assert_eq!(api.get("/api/sessions").await?, sessions);
    assert_eq!(api.get("/api/speakers").await?, speakers);

    // And editing goes on as before.
    let moved = api
        .expect(
            StatusCode::OK,
            Method::PATCH,
            "/api/sessions/reading-circles",
            Some(json!({"start": "2026-11-28T11:45:00Z"})),
        )
        .await?;
    assert_eq!(moved["hosts"], json!(["u-host"]));
    Ok(())
}
