//! `GET /metrics` of a real server, parsed as Prometheus text: the values move when people
//! join a room and chat, refusals and closes are counted, and a metrics token is enforced.

use anyhow::{Context, Result, bail};
use plenary_protocol::Role;
use plenary_tests::demo::STAGE;
use plenary_tests::{TestServer, eventually};
use prometheus_parse::{LineInfo, Scrape, Value};
use serde_json::json;

/// `GET /metrics` with `token` as its bearer token, if any: the status and the body.
async fn get_metrics(server: &TestServer, token: Option<&str>) -> Result<(u16, String)> {
    let mut request = reqwest::Client::new().get(server.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// `/metrics` parsed; every line must be a comment, a sample or empty.
async fn scrape(server: &TestServer, token: Option<&str>) -> Result<Scrape> {
    let (status, body) = get_metrics(server, token).await?;
    if status != 200 {
        bail!("/metrics answered {status}: {body}");
    }
    for line in body.lines() {
        if matches!(LineInfo::parse(line), LineInfo::Ignored) {
            bail!("not Prometheus text: {line:?}");
        }
    }
    Ok(Scrape::parse(body.lines().map(|line| Ok(line.to_owned())))?)
}

/// The value of the sample `name` whose labels include `labels` (a counter, a gauge, or a
/// histogram's `_count` and `_sum`, which the parser leaves untyped).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == name)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, wanted)| sample.labels.get(key) == Some(*wanted))
        })
        .find_map(|sample| match &sample.value {
            Value::Counter(value) | Value::Gauge(value) | Value::Untyped(value) => Some(*value),
            _ => None,
        })
}

/// Like [`value`], but 0 for a metric nothing was counted in yet.
fn count(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(scrape, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_move_when_people_join_and_chat() -> Result<()> {
    let server = TestServer::start().await?;
    let before = scrape(&server, None).await?;
    let stage = [("room", STAGE)];
    assert_eq!(count(&before, "plenary_room_joined", &stage), 0.0);
    assert_eq!(count(&before, "plenary_connections", &[]), 0.0);
    assert!(
        before.docs.contains_key("plenary_room_deliveries_total"),
        "every metric has its help text: {:?}",
        before.docs
    );
    assert!(count(&before, "process_resident_memory_bytes", &[]) > 1_000_000.0);

    let mut ada = server.client(Role::Attendee, "Ada Okafor").await?;
    let mut bea = server.client(Role::Attendee, "Bea Lindqvist").await?;
    ada.join(STAGE).await?;
    bea.join(STAGE).await?;
    let joined = eventually("two members of the stage in /metrics", async || {
        let now = scrape(&server, None).await?;
        Ok((count(&now, "plenary_room_joined", &stage) == 2.0).then_some(now))
    })
    .await?;
    assert_eq!(count(&joined, "plenary_connections", &[]), 2.0);
    assert_eq!(count(&joined, "plenary_connections_opened_total", &[]), 2.0);

    ada.ok(json!({"type":"chat","room":STAGE,"text":"Hello from the metrics test"}))
        .await?;
    bea.recv_until(|message| message["type"] == "event" && message["event"]["kind"] == "chat")
        .await
        .context("Bea hears the chat")?;
    let chatted = scrape(&server, None).await?;
    let events = |scrape: &Scrape| count(scrape, "plenary_room_events_total", &stage);
    let deliveries = |scrape: &Scrape| count(scrape, "plenary_room_deliveries_total", &stage);
    assert!(
        events(&chatted) > events(&joined),
        "the chat message is an event"
    );
    assert!(
        deliveries(&chatted) >= deliveries(&joined) + 2.0,
        "delivered to both members: {} then {}",
        deliveries(&joined),
        deliveries(&chatted)
    );
    let commits = |scrape: &Scrape| count(scrape, "plenary_commit_seconds_count", &[]);
    assert!(
        commits(&chatted) > commits(&joined),
        "the message was committed"
    );
    assert!(count(&chatted, "plenary_commit_seconds_sum", &[]) > 0.0);
    assert!(
        count(
            &chatted,
            "plenary_http_requests_total",
            &[("route", "/metrics"), ("status", "200")]
        ) >= 2.0
    );
    assert_eq!(
        count(
            &chatted,
            "plenary_http_requests_total",
            &[("route", "/ws"), ("status", "101")]
        ),
        2.0
    );

    // Past the person's chat allowance (a burst of 10), messages are refused and counted.
    let mut refused = 0.0;
    for n in 0..15 {
        let message = json!({"type":"chat","room":STAGE,"text":format!("flood {n}")});
        let (answer, _) = ada.request(message).await?;
        if answer["type"] == "error" {
            assert_eq!(answer["code"], "rate_limited", "{answer}");
            refused += 1.0;
        }
    }
    assert!(refused > 0.0, "the flood went past the allowance");
    let limited = scrape(&server, None).await?;
    assert_eq!(
        count(&limited, "plenary_rate_limited_total", &[("limit", "chat")]),
        refused
    );

    bea.close().await?;
    eventually("Bea's connection counted as closed", async || {
        let now = scrape(&server, None).await?;
        let closed = count(
            &now,
            "plenary_connections_closed_total",
            &[("reason", "normal")],
        );
        Ok((closed == 1.0
            && count(&now, "plenary_connections", &[]) == 1.0
            && count(&now, "plenary_room_joined", &stage) == 1.0)
            .then_some(()))
    })
    .await
}

#[tokio::test]
async fn a_metrics_token_is_asked_for_when_set() -> Result<()> {
    const TOKEN: &str = "scrape-me-with-this-token";
    let server = TestServer::start_with(|config| config.metrics_token = Some(TOKEN.into())).await?;

    let (status, body) = get_metrics(&server, None).await?;
    assert_eq!(status, 401, "{body}");
    let refusal: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(refusal["error"]["code"], "unauthorized", "{body}");
    let (status, body) = get_metrics(&server, Some("scrape-me-with-this-tokem")).await?;
    assert_eq!(status, 401, "a wrong token: {body}");

    let scraped = scrape(&server, Some(TOKEN)).await?;
    assert!(value(&scraped, "plenary_connections", &[]).is_some());
    assert_eq!(
        count(
            &scraped,
            "plenary_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        2.0,
        "refusals are counted too"
    );
    Ok(())
}
