//! A Plenary cluster (issue 13) through real processes: three `nats-server`s (a JetStream
//! cluster, streams with three replicas, `sync_interval: always`) or one, and `plenary serve
//! --nats` nodes on 127.0.0.1. One node runs the conference; the others stand by. Killing it
//! (`kill -9`), or a NATS server, in the middle of a chat flood loses no acknowledged message
//! and duplicates none; a node paused past its lease cannot write after the takeover; an
//! import reaches the cluster; everything stopped and started again is all there.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use plenary_protocol::Role;
use plenary_tests::demo::{STAGE, WORKSHOP_ROOM, WORKSHOP_SESSION};
use plenary_tests::nats::{NatsCluster, PlenaryNode, random_secret};
use plenary_tests::{Client, PATIENCE, eventually};
use serde_json::{Value, json};

/// JetStream is on, and fsyncs every write (`sync_interval: always`).
fn assert_jetstream_syncs_always(jsz: &Value) {
    assert_eq!(jsz["config"]["sync_always"], true, "{jsz}");
    assert!(jsz["config"]["store_dir"].is_string(), "{jsz}");
    assert_ne!(jsz["disabled"], true, "{jsz}");
}

#[tokio::test]
async fn a_single_server_runs_jetstream_without_a_meta_cluster() -> Result<()> {
    let server = NatsCluster::shared_r1().await?;
    assert_eq!(server.len(), 1);
    assert_eq!(server.urls(), server.url(0));
    assert!(server.url(0).starts_with("nats://127.0.0.1:"));
    assert!(server.healthy(0).await);
    let jsz = server.jsz(0).await?;
    assert_jetstream_syncs_always(&jsz);
    assert_eq!(server.meta_leader(0).await?, None, "{jsz}");
    // Every test that asks shares the one server.
    assert_eq!(NatsCluster::shared_r1().await?.urls(), server.urls());
    Ok(())
}

/// A conference on a cluster: NATS servers and Plenary nodes, each node with its own data
/// directory and all with one secret.
struct Conference {
    nats: NatsCluster,
    nodes: Vec<PlenaryNode>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Conference {
    /// `servers` NATS servers (1, or 3 with three replicas) and `nodes` Plenary nodes, rate
    /// limits off (the floods post faster than people do).
    async fn start(servers: usize, nodes: usize) -> Result<Conference> {
        let nats = NatsCluster::start(servers).await?;
        for i in 0..servers {
            assert_jetstream_syncs_always(&nats.jsz(i).await?);
        }
        let secret = random_secret();
        let mut started = Vec::new();
        let mut dirs = Vec::new();
        for n in 0..nodes {
            let dir = tempfile::tempdir()?;
            let node = PlenaryNode::start(
                dir.path(),
                &nats.urls(),
                &format!("node-{n}"),
                &secret,
                &["--no-rate-limits"],
            )
            .await?;
            started.push(node);
            dirs.push(dir);
        }
        Ok(Conference {
            nats,
            nodes: started,
            _dirs: dirs,
        })
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(PlenaryNode::addr).collect()
    }

    /// The node that runs the conference, once exactly one says it does.
    async fn active(&self) -> Result<usize> {
        let addrs = self.addrs();
        eventually("one node to run the conference", async || {
            let ready = running_nodes(&addrs).await;
            Ok(match ready.as_slice() {
                [one] => Some(*one),
                _ => None,
            })
        })
        .await
        .with_context(|| self.output())
    }

    fn output(&self) -> String {
        self.nodes
            .iter()
            .map(PlenaryNode::output)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A client of node `n` that said hello and joined the stage.
    async fn member(&self, n: usize, name: &str) -> Result<(Client, u64)> {
        let token = self.nodes[n].token(Role::Attendee, name)?;
        join_stage(self.nodes[n].addr(), &token, None).await
    }
}

/// The nodes whose `/readyz` answers 200, and what each said.
async fn readiness(addrs: &[SocketAddr]) -> Vec<(usize, String)> {
    let client = reqwest::Client::new();
    let mut ready = Vec::new();
    for (n, addr) in addrs.iter().enumerate() {
        let answer = client
            .get(format!("http://{addr}/readyz"))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        if let Ok(answer) = answer {
            if answer.status() == 200 {
                ready.push((n, answer.text().await.unwrap_or_default()));
            }
        }
    }
    ready
}

/// The nodes that take connections: the one that runs the conference and those relaying to
/// it.
async fn ready_nodes(addrs: &[SocketAddr]) -> Vec<usize> {
    readiness(addrs).await.into_iter().map(|(n, _)| n).collect()
}

/// The nodes that say they run the conference (`/readyz` 200 `ready`).
async fn running_nodes(addrs: &[SocketAddr]) -> Vec<usize> {
    readiness(addrs)
        .await
        .into_iter()
        .filter(|(_, said)| said == "ready")
        .map(|(n, _)| n)
        .collect()
}

/// Connect to `addr`, say hello and join the stage (resuming after `since`); returns the
/// client and the `seq` of its `joined`.
async fn join_stage(addr: SocketAddr, token: &str, since: Option<u64>) -> Result<(Client, u64)> {
    let mut client = Client::connect(addr).await?;
    client.hello(token).await?;
    let mut join = json!({"type":"join","room":STAGE});
    if let Some(since) = since {
        join["since"] = json!(since);
    }
    let (joined, _) = client.ok(join).await?;
    let seq = joined["seq"].as_u64().context("joined has a seq")?;
    Ok((client, seq))
}

/// A chat event's (seq, text), or `None` for any other message.
fn chat(message: &Value) -> Option<(u64, String)> {
    (message["type"] == "event" && message["event"]["kind"] == "chat").then(|| {
        (
            message["seq"].as_u64().unwrap_or_default(),
            message["event"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    })
}

/// Post `count` chat messages named `{name}-{k}` (each with that `client_id`), one after
/// another, through one of the nodes that take connections (the `prefer`-th of them); when a
/// connection breaks or a message is answered `internal`, reconnect and send the same
/// message again. Returns each message's text with the id its `ack` gave.
async fn post(
    addrs: Vec<SocketAddr>,
    tokens: Vec<String>,
    (name, prefer): (String, usize),
    count: usize,
    acked: Arc<AtomicUsize>,
) -> Result<Vec<(String, u64)>> {
    let mut results = Vec::new();
    // Bounds a failover that never ends, not how fast it is.
    let deadline = tokio::time::Instant::now() + 6 * PATIENCE;
    while results.len() < count {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{name} could not post"
        );
        let ready = ready_nodes(&addrs).await;
        if ready.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let n = ready[prefer % ready.len()];
        let Ok((mut client, _)) = join_stage(addrs[n], &tokens[n], None).await else {
            continue;
        };
        while results.len() < count {
            let text = format!("{name}-{}", results.len());
            let sent = json!({"type":"chat","room":STAGE,"text":text,"client_id":text});
            // Every message is answered (an ack, or an error saying it was not saved), or
            // its connection closes: never silence, however long NATS takes to fail over.
            let answered = tokio::time::timeout(3 * PATIENCE, client.request(sent)).await;
            let Ok(answered) = answered else {
                bail!("{text} got no answer and its connection stayed open");
            };
            match answered {
                Ok((answer, _)) if answer["type"] == "ack" => {
                    let id = answer["id"].as_u64().context("an ack has an id")?;
                    results.push((text, id));
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                Ok((answer, _)) if answer["code"] == "internal" => break,
                Ok((answer, _)) => bail!("{text} was answered {answer}"),
                Err(_) => break,
            }
        }
    }
    Ok(results)
}

/// Start `posters` posters of `count` messages each, and return once `threshold` messages are
/// acknowledged, with the posters still running.
async fn flood(
    conference: &Conference,
    posters: usize,
    count: usize,
    threshold: usize,
) -> Result<Vec<tokio::task::JoinHandle<Result<Vec<(String, u64)>>>>> {
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for p in 0..posters {
        let name = format!("poster{p}");
        // One person, with a token every node accepts.
        let token = conference.nodes[0].token(Role::Attendee, &name)?;
        let tokens = vec![token; conference.nodes.len()];
        tasks.push(tokio::spawn(post(
            conference.addrs(),
            tokens,
            (name, p),
            count,
            Arc::clone(&acked),
        )));
    }
    eventually("the flood to get going", async || {
        Ok((acked.load(Ordering::Relaxed) >= threshold).then_some(()))
    })
    .await?;
    Ok(tasks)
}

/// Every acknowledged message is in the room's log exactly once, under the id its ack gave,
/// and the log's chat events from `since` on have consecutive `seq`s.
async fn assert_log_holds(
    conference: &Conference,
    since: u64,
    acked: &[(String, u64)],
) -> Result<()> {
    let n = conference.active().await?;
    let token = conference.nodes[n].token(Role::Attendee, "Auditor")?;
    let (mut auditor, last) = join_stage(conference.nodes[n].addr(), &token, Some(since)).await?;
    let mut log = Vec::new();
    let mut seen = since;
    while seen < last {
        let message = auditor.recv().await?;
        if message["type"] == "event" {
            let seq = message["seq"].as_u64().context("an event has a seq")?;
            assert_eq!(seq, seen + 1, "the log has a gap or a duplicate: {message}");
            seen = seq;
            log.extend(chat(&message));
        }
    }
    for (text, id) in acked {
        let copies: Vec<_> = log.iter().filter(|(_, logged)| logged == text).collect();
        assert_eq!(
            copies,
            vec![&(*id, text.clone())],
            "{text} (acked as {id}) must be in the log once"
        );
    }
    let mut texts: Vec<&String> = log.iter().map(|(_, text)| text).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), log.len(), "a message is in the log twice");
    Ok(())
}

/// Read a member's events until its connection ends; returns the last `seq` it saw, having
/// checked they came in order without gaps.
async fn read_until_gone(member: &mut Client, mut seen: u64) -> u64 {
    while let Ok(message) = member.recv().await {
        if let Some(seq) = message["seq"]
            .as_u64()
            .filter(|_| message["type"] == "event")
        {
            assert_eq!(seq, seen + 1, "a gap or a duplicate: {message}");
            seen = seq;
        }
    }
    seen
}

#[tokio::test]
async fn killing_the_node_that_runs_the_conference_mid_flood_loses_no_acknowledged_message()
-> Result<()> {
    let mut conference = Conference::start(3, 3).await?;
    let first = conference.active().await?;
    let (mut listener, start) = conference.member(first, "Listener").await?;
    let posters = flood(&conference, 3, 40, 30).await?;

    conference.nodes[first].kill().await?;
    let listened = read_until_gone(&mut listener, start).await;
    let second = conference.active().await?;
    assert_ne!(second, first, "a killed node cannot run the conference");

    let mut acked = Vec::new();
    for poster in posters {
        acked.extend(poster.await??);
    }
    assert_eq!(acked.len(), 120);
    // The listener resumes on the node that took over: the events it missed, then live.
    let token = conference.nodes[second].token(Role::Attendee, "Listener")?;
    let (mut listener, last) =
        join_stage(conference.nodes[second].addr(), &token, Some(listened)).await?;
    let mut seen = listened;
    while seen < last {
        let message = listener.recv().await?;
        if let Some(seq) = message["seq"]
            .as_u64()
            .filter(|_| message["type"] == "event")
        {
            assert_eq!(
                seq,
                seen + 1,
                "resuming left a gap or a duplicate: {message}"
            );
            seen = seq;
        }
    }
    assert_log_holds(&conference, start, &acked).await
}

/// Wait until all of the conference's nodes take connections.
async fn all_ready(conference: &Conference) -> Result<()> {
    let addrs = conference.addrs();
    eventually("every node to take connections", async || {
        Ok((ready_nodes(&addrs).await.len() == addrs.len()).then_some(()))
    })
    .await
    .with_context(|| conference.output())
}

/// Read a member's events until it has seen `chats` chat events; returns every event's
/// (`seq`, kind, text) in the order it came.
async fn events_until(member: &mut Client, chats: usize) -> Result<Vec<(u64, String, String)>> {
    let mut events = Vec::new();
    let mut seen = 0;
    while seen < chats {
        let message = member.recv().await?;
        if message["type"] == "event" {
            let kind = message["event"]["kind"].as_str().unwrap_or_default();
            seen += usize::from(kind == "chat");
            events.push((
                message["seq"].as_u64().context("an event has a seq")?,
                kind.to_owned(),
                message["event"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
    }
    Ok(events)
}

#[tokio::test]
async fn clients_of_every_node_see_one_room_in_one_order_and_a_retry_elsewhere_is_answered_once()
-> Result<()> {
    let conference = Conference::start(1, 3).await?;
    let owner = conference.active().await?;
    all_ready(&conference).await?;
    // Every node serves the programme: the others ask the node that runs the conference.
    let mut schedules = Vec::new();
    for node in &conference.nodes {
        let schedule: Value = reqwest::get(node.url("/api/schedule"))
            .await?
            .error_for_status()?
            .json()
            .await?;
        schedules.push(schedule);
    }
    assert!(
        schedules[0]["rooms"]
            .as_array()
            .is_some_and(|rooms| !rooms.is_empty())
    );
    assert!(schedules.iter().all(|schedule| schedule == &schedules[0]));

    let mut listeners = Vec::new();
    for n in 0..3 {
        listeners.push(conference.member(n, &format!("Listener {n}")).await?.0);
    }
    // One poster on each node, all at once.
    let per_poster = 20;
    let mut posters = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..3 {
        let token = conference.nodes[n].token(Role::Attendee, &format!("Poster {n}"))?;
        let (mut poster, _) = join_stage(conference.nodes[n].addr(), &token, None).await?;
        tokens.push(token);
        posters.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for k in 0..per_poster {
                let text = format!("node {n} says {k}");
                let sent = json!({"type":"chat","room":STAGE,"text":text,"client_id":text});
                let (ack, before) = poster.ok(sent).await?;
                // Its own event comes before its ack, on whichever node it is, as the room
                // produced them.
                ensure!(
                    before
                        .iter()
                        .any(|m| chat(m).is_some_and(|(_, said)| said == text)),
                    "node {n}: the ack of {text} overtook its event: {before:?}"
                );
                acked.push((text, ack["id"].as_u64().context("an ack has an id")?));
            }
            anyhow::Ok(acked)
        }));
    }
    let mut acked = Vec::new();
    for poster in posters {
        acked.extend(poster.await??);
    }
    let mut seen = Vec::new();
    for listener in &mut listeners {
        seen.push(events_until(listener, 3 * per_poster).await?);
    }
    for (n, events) in seen.iter().enumerate() {
        assert_eq!(
            events, &seen[owner],
            "node {n} and the node that runs the room differ"
        );
        let seqs: Vec<u64> = events.iter().map(|(seq, _, _)| *seq).collect();
        assert!(
            seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
            "{seqs:?}"
        );
    }
    for (text, _) in &acked {
        let copies = seen[owner]
            .iter()
            .filter(|(_, _, said)| said == text)
            .count();
        assert_eq!(copies, 1, "{text} is in the room once");
    }

    // A retry of a message acknowledged on one node, sent through another, is answered as
    // the first was and adds nothing.
    let (text, id) = acked[0].clone();
    let retry_on = 1;
    let (mut retrier, before) =
        join_stage(conference.nodes[retry_on].addr(), &tokens[0], None).await?;
    let (ack, _) = retrier
        .ok(json!({"type":"chat","room":STAGE,"text":text,"client_id":text}))
        .await?;
    assert_eq!(
        ack["id"], id,
        "the retry is answered with the first message's id"
    );
    let (marker, _) = retrier
        .ok(json!({"type":"chat","room":STAGE,"text":"after the retry"}))
        .await?;
    assert_eq!(
        marker["id"].as_u64(),
        Some(before + 1),
        "the retry added no event: {marker}"
    );
    Ok(())
}

#[tokio::test]
async fn a_host_on_one_relaying_node_reaches_a_viewer_on_another_through_the_running_nodes_sfu()
-> Result<()> {
    use crate::rtc::{OPUS, Publisher, VP8, Viewer};
    let conference = Conference::start(1, 3).await?;
    let owner = conference.active().await?;
    all_ready(&conference).await?;
    let (host_on, viewer_on) = ((owner + 1) % 3, (owner + 2) % 3);
    let connect = async |n: usize, role: Role, name: &str| -> Result<Client> {
        let node = &conference.nodes[n];
        let mut client = Client::connect(node.addr()).await?;
        client.hello(&node.token(role, name)?).await?;
        client.join(WORKSHOP_ROOM).await?;
        Ok(client)
    };
    let viewer = Viewer::subscribe(
        connect(viewer_on, Role::Attendee, "Far viewer").await?,
        WORKSHOP_ROOM,
    )
    .await?;
    let mut host = Publisher::new(connect(host_on, Role::Host, "Far host").await?).await?;
    let answer = host.publish(WORKSHOP_ROOM).await?;
    assert_eq!(answer["type"], "rtc_answer", "{answer}");
    viewer.wait_for_packets(&[VP8, OPUS], 50).await?;
    Ok(())
}

#[tokio::test]
async fn the_web_client_on_a_relaying_node_shows_a_room_run_by_another() -> Result<()> {
    use crate::browser::{enter_page, say, wait_for_text};
    let conference = Conference::start(1, 3).await?;
    let owner = conference.active().await?;
    all_ready(&conference).await?;
    let relaying = &conference.nodes[(owner + 1) % 3];
    let driver = plenary_tests::browser::Driver::shared().await?;
    // A guest opens the relaying node's address in Chromium and enters the stage.
    let page = enter_page(driver.page(&relaying.url("/")).await?, "Rania", STAGE).await?;
    let (mut poster, _) = conference.member(owner, "Poster").await?;
    poster
        .ok(json!({"type":"chat","room":STAGE,"text":"Hello from the other node"}))
        .await?;
    wait_for_text(&page, "#chat-log", |log| {
        log.contains("Hello from the other node")
    })
    .await?;
    say(&page, "Hello back").await?;
    poster
        .recv_until(|message| chat(message).is_some_and(|(_, text)| text == "Hello back"))
        .await?;
    page.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_persons_connections_are_bounded_across_all_nodes() -> Result<()> {
    let conference = Conference::start(1, 3).await?;
    let owner = conference.active().await?;
    all_ready(&conference).await?;
    let relaying = [(owner + 1) % 3, (owner + 2) % 3];
    let token = conference.nodes[0].token(Role::Attendee, "Many tabs")?;
    // Eight connections (the bound), four on each relaying node: each node alone is under it.
    let mut open = Vec::new();
    for k in 0..8 {
        let mut client = Client::connect(conference.nodes[relaying[k % 2]].addr()).await?;
        client.hello(&token).await?;
        // Answered where the rooms run: that node counts this connection from now on.
        client.ok(json!({"type":"agenda"})).await?;
        open.push(client);
    }
    let mut ninth = Client::connect(conference.nodes[relaying[0]].addr()).await?;
    ninth.hello(&token).await?;
    let refused = ninth
        .recv_until(|message| message["type"] == "error")
        .await?;
    assert_eq!(refused["code"], "too_many_connections", "{refused}");
    let (_, code) = ninth.until_closed().await?;
    assert_eq!(code, Some(1008));
    // The others are still served.
    open[0].ok(json!({"type":"agenda"})).await?;
    Ok(())
}

#[tokio::test]
async fn registrations_through_three_nodes_at_once_fill_a_workshop_exactly() -> Result<()> {
    let conference = Conference::start(1, 3).await?;
    conference.active().await?;
    all_ready(&conference).await?;
    let schedule: Value = reqwest::get(conference.nodes[1].url("/api/schedule"))
        .await?
        .json()
        .await?;
    let capacity = schedule["rooms"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|room| room["id"] == WORKSHOP_ROOM)
        .and_then(|room| room["capacity"].as_u64())
        .context("the demo's workshop room has a capacity")?;
    let capacity = usize::try_from(capacity)?;
    let mut clients = Vec::new();
    for k in 0..3 * capacity {
        let node = &conference.nodes[k % 3];
        let token = node.token(Role::Attendee, &format!("Attendee {k}"))?;
        let mut client = Client::connect(node.addr()).await?;
        client.hello(&token).await?;
        clients.push(client);
    }
    let register = json!({"type":"register","session":WORKSHOP_SESSION});
    let answers: Vec<Value> = futures_util::future::join_all(clients.iter_mut().map(|client| {
        let register = register.clone();
        async move { client.ok(register).await.map(|(answer, _)| answer) }
    }))
    .await
    .into_iter()
    .collect::<Result<_>>()?;
    plenary_tests::assert_places_taken_exactly(&answers, capacity);
    Ok(())
}

#[tokio::test]
async fn killing_a_nats_server_mid_flood_loses_no_acknowledged_message() -> Result<()> {
    let mut conference = Conference::start(3, 2).await?;
    let active = conference.active().await?;
    let (_, start) = conference.member(active, "Before").await?;
    let posters = flood(&conference, 3, 40, 30).await?;
    // The posters carry on through it: while the killed server's groups elect new leaders,
    // appends wait (or a standby takes over, if the lease expired meanwhile).
    conference.nats.kill(0)?;
    let mut acked = Vec::new();
    for poster in posters {
        acked.extend(poster.await??);
    }
    assert_eq!(acked.len(), 120);
    assert_log_holds(&conference, start, &acked).await
}

#[tokio::test]
async fn a_node_paused_past_its_lease_cannot_write_after_the_takeover() -> Result<()> {
    let mut conference = Conference::start(1, 2).await?;
    let first = conference.active().await?;
    let other = 1 - first;
    let (mut member, start) = conference.member(first, "Paused").await?;

    conference.nodes[first].stop().await?;
    eventually("the other node to take over", async || {
        Ok(running_nodes(&[conference.nodes[other].addr()])
            .await
            .first()
            .map(|_| ()))
    })
    .await?;
    // Sent to the paused node: its kernel takes the frame, the node reads it when it wakes.
    member
        .send(json!({"type":"chat","room":STAGE,"text":"from the past"}))
        .await?;
    let (mut writer, _) = conference.member(other, "Writer").await?;
    writer
        .ok(json!({"type":"chat","room":STAGE,"text":"after the takeover"}))
        .await?;
    conference.nodes[first].cont().await?;

    let (_, code) = member.until_closed().await?;
    assert_eq!(
        code,
        Some(1012),
        "a fenced node closes its members with 1012"
    );
    let exit = conference.nodes[first].wait_exit(PATIENCE).await?;
    ensure!(
        exit.is_some_and(|status| !status.success()),
        "a node that lost its lease exits with an error: {exit:?}"
    );
    // The log holds the takeover's message and nothing of the paused node's.
    let token = conference.nodes[other].token(Role::Attendee, "Auditor")?;
    let (mut auditor, last) =
        join_stage(conference.nodes[other].addr(), &token, Some(start)).await?;
    let mut texts = Vec::new();
    let mut seen = start;
    while seen < last {
        let message = auditor.recv().await?;
        if let Some((seq, text)) = chat(&message) {
            seen = seq;
            texts.push(text);
        } else if let Some(seq) = message["seq"].as_u64() {
            seen = seq;
        }
    }
    assert_eq!(texts, vec!["after the takeover".to_owned()]);
    Ok(())
}

#[tokio::test]
async fn an_import_reaches_the_cluster_and_everything_survives_a_full_restart() -> Result<()> {
    let nats = NatsCluster::shared_r1().await?;
    let secret = random_secret();
    let dir = tempfile::tempdir()?;
    let mut node = PlenaryNode::start(dir.path(), &nats.urls(), "solo", &secret, &[]).await?;
    eventually("the node to run the conference", async || {
        Ok(running_nodes(&[node.addr()]).await.first().map(|_| ()))
    })
    .await?;

    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/schedules/pretalx-democon.json"
    );
    let imported = tokio::process::Command::new(plenary_tests::nats::plenary_binary()?)
        .args(["import", fixture, "--nats", &nats.urls()])
        .output()
        .await?;
    ensure!(
        imported.status.success(),
        "plenary import --nats failed: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let schedule: Value = reqwest::get(node.url("/api/schedule"))
        .await?
        .json()
        .await?;
    let name = schedule["conference"]["name"].clone();
    assert_ne!(name, Value::Null);
    let room = schedule["rooms"][0]["id"]
        .as_str()
        .context("the imported programme has rooms")?
        .to_owned();

    let token = node.token(Role::Attendee, "Kept")?;
    let mut client = Client::connect(node.addr()).await?;
    client.hello(&token).await?;
    client.join(&room).await?;
    let (ack, _) = client
        .ok(json!({"type":"chat","room":room,"text":"kept across restarts"}))
        .await?;
    let id = ack["id"].as_u64().context("an ack has an id")?;

    node.terminate().await?;
    let mut node = PlenaryNode::start(dir.path(), &nats.urls(), "solo", &secret, &[]).await?;
    eventually("the restarted node to run the conference", async || {
        Ok(running_nodes(&[node.addr()]).await.first().map(|_| ()))
    })
    .await?;
    let again: Value = reqwest::get(node.url("/api/schedule"))
        .await?
        .json()
        .await?;
    assert_eq!(
        again["conference"]["name"], name,
        "the imported programme is kept"
    );
    let mut client = Client::connect(node.addr()).await?;
    client.hello(&token).await?;
    let joined = client.join(&room).await?;
    let messages = joined["snapshot"]["chat"]
        .as_array()
        .context("a snapshot has chat")?;
    assert!(
        messages
            .iter()
            .any(|m| m["id"] == id && m["text"] == "kept across restarts"),
        "{joined}"
    );
    node.terminate().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_fenced_off_by_a_takeover_cannot_append_and_its_successor_reads_everything()
-> Result<()> {
    use plenary_server::programme::Programme;
    use plenary_server::store::{self, JetStreamStore, LogConfig, Store, StoreError};

    let nats = NatsCluster::start(1).await?;
    let urls = nats.urls();
    let open = async |node: &str, dir: &std::path::Path| -> Result<Arc<JetStreamStore>> {
        let log = LogConfig {
            urls: urls.clone(),
            node: node.into(),
            replicas: 1,
        };
        let jetstream = store::connect(&log).await?;
        Ok(JetStreamStore::open(jetstream, node, dir).await?)
    };
    // The store's calls block (they wait for JetStream): off the runtime's workers.
    let save = async |store: &Arc<JetStreamStore>, programme: &Programme| {
        let (store, programme) = (Arc::clone(store), programme.clone());
        tokio::task::spawn_blocking(move || store.save_programme(&programme)).await
    };
    let (a_dir, b_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let a = open("a", a_dir.path()).await?;
    let programme = Programme::demo(jiff::Timestamp::now());
    let refused = save(&a, &programme).await?;
    assert!(
        matches!(refused, Err(StoreError::Fenced(_))),
        "a node that did not take over may not write: {refused:?}"
    );
    a.take_over().await?;
    save(&a, &programme).await??;

    let b = open("b", b_dir.path()).await?;
    b.take_over().await?;
    assert_eq!(
        b.load_programme()?,
        Some(programme.clone()),
        "b read a's log"
    );
    let refused = save(&a, &programme).await?;
    assert!(
        matches!(refused, Err(StoreError::Fenced(_))),
        "a write after the takeover is refused: {refused:?}"
    );
    assert!(a.fenced().is_cancelled(), "a knows it was fenced off");
    let mut renamed = programme;
    renamed.name = "Written by b".into();
    save(&b, &renamed).await??;
    eventually("a's view to read b's write", async || {
        Ok((a.load_programme()?.as_ref() == Some(&renamed)).then_some(()))
    })
    .await?;
    Ok(())
}
