//! `crash` and `post-storm`: what a poster sees of the server's durability.
//!
//! `crash`: P posters post chat, each message with a `client_id`; at a random moment the
//! server is killed with SIGKILL and started again on the same data directory and address.
//! Every poster reconnects, says hello with the token it was given, joins with `since` = the
//! last `seq` it saw, and sends again every message that was sent but not acknowledged, with
//! the same `client_id`. At the end a fresh client reads the room's log from the `seq` it had
//! before the run and the loadtest checks that every acknowledged message is there exactly
//! once. With `--nats`, on a cluster: the loadtest starts `--nodes` nodes on those NATS
//! servers, kills the one that runs the conference (the one whose `/readyz` says 200) and
//! does not restart it; the posters resume on the node that takes over.
//!
//! `post-storm`: P posters each send the next message as soon as the previous one is
//! acknowledged, for D seconds: acknowledged messages per second and ack latency, which is
//! where the cost of committing shows (run it with and without `--no-group-commit`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Clock, Socket};
use crate::report::{self, Latency};
use crate::server::{self, Kind, LocalServer};

#[derive(Debug, Clone, clap::Args)]
pub struct CrashArgs {
    /// Posters, each a distinct guest.
    #[arg(long, default_value_t = 20)]
    pub posters: usize,
    /// Messages per second, all posters together.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Messages each poster sends back to back at each of its turns (more of them in flight
    /// at the kill, so more retries).
    #[arg(long, default_value_t = 1)]
    pub burst: u64,
    /// Seconds of posting; the kill comes at a random moment in [1 s, D s].
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// The room.
    #[arg(long, default_value = "main-stage")]
    pub room: String,
    /// Seconds after posting ends to wait for the last acknowledgements.
    #[arg(long, default_value_t = 20)]
    pub drain: u64,
    /// Run on a cluster instead: these NATS servers (with JetStream, comma-separated), with
    /// `--nodes` Plenary nodes started by the loadtest. The node that runs the conference is
    /// killed and not restarted: another takes over, and the posters resume there.
    #[arg(long)]
    pub nats: Option<String>,
    /// Plenary nodes on `--nats`.
    #[arg(long, default_value_t = 3, requires = "nats")]
    pub nodes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrashResult {
    pub posters: usize,
    pub messages_sent: u64,
    /// Messages sent again after the restart because their ack had not come.
    pub resent: u64,
    /// The room's last `seq` on the restarted server, read by a probe before any poster
    /// could reconnect: everything committed before the kill.
    pub seq_at_restart: u64,
    /// Resent messages whose ack id is at most `seq_at_restart`: committed before the kill
    /// without their ack getting out, then recognised by `client_id` (not stored again).
    pub resent_already_stored: u64,
    pub acked: u64,
    pub acked_before_kill: u64,
    /// Seconds after posting started that the server was killed.
    pub kill_at_seconds: f64,
    /// Plenary nodes (1: a single server on SQLite).
    pub nodes: usize,
    /// From the killed server's end until the new server printed its address; on a cluster,
    /// until another node said it was ready (`/readyz`).
    pub restart_seconds: f64,
    /// From the killed server's end until the last poster had joined again (the posters
    /// wait for a probe to read the room's seq first).
    pub seconds_to_all_resumed: f64,
    /// Posters whose connection broke and who joined again.
    pub posters_resumed: usize,
    /// Distinct messages of this run in the room's log read after the restart.
    pub present_after_restart: u64,
    pub acked_before_kill_present: u64,
    /// Acknowledged messages missing from the log (must be 0).
    pub lost_acked: u64,
    /// Extra copies of a message in the log (must be 0).
    pub duplicates: u64,
    /// Sent, never acknowledged, and not in the log.
    pub never_acked: u64,
    /// Acks for a retried message whose id differed from the first ack's (must be 0).
    pub ack_id_changed: u64,
    pub log_events_read: u64,
    pub log_resync: bool,
    pub errors: BTreeMap<String, u64>,
}

/// What one poster did.
#[derive(Default)]
struct PosterLog {
    sent: u64,
    resent: u64,
    /// client_ids sent again after a broken connection.
    resent_ids: BTreeSet<String>,
    /// client_id → (chat id, when the ack came).
    acked: BTreeMap<String, (u64, u64)>,
    ack_id_changed: u64,
    /// When this poster joined again after a broken connection.
    resumed_at: Vec<u64>,
    errors: BTreeMap<String, u64>,
}

fn frame(value: &Value) -> Message {
    Message::text(value.to_string())
}

/// Connect, hello (with `token` if we have one), join (with `since` if given). Returns the
/// socket, the token to keep, and the room's `seq` in `joined`.
async fn connect(
    url: &str,
    name: &str,
    token: Option<&str>,
    room: &str,
    since: Option<u64>,
) -> Result<(Socket, Option<String>, Value)> {
    let mut socket = client::connect(url).await?;
    let hello = match token {
        Some(token) => json!({"type": "hello", "token": token}),
        None => json!({"type": "hello", "name": name}),
    };
    socket.send(frame(&hello)).await?;
    let welcome = read_until(&mut socket, "welcome").await?;
    let token = welcome["token"].as_str().map(str::to_owned);
    let join = match since {
        Some(since) => json!({"type": "join", "room": room, "since": since}),
        None => json!({"type": "join", "room": room}),
    };
    socket.send(frame(&join)).await?;
    let joined = read_until(&mut socket, "joined").await?;
    Ok((socket, token, joined))
}

/// Read until a message of `kind`, skipping events, failing on an error or a close.
async fn read_until(socket: &mut Socket, kind: &str) -> Result<Value> {
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message? {
            let value: Value = serde_json::from_str(text.as_str())?;
            match value["type"].as_str() {
                Some(found) if found == kind => return Ok(value),
                Some("error") => bail!("server refused: {value}"),
                _ => {}
            }
        }
    }
    bail!("closed before {kind}")
}

/// Post this poster's share of the messages (`burst` every `interval` from `start`, until
/// `end`), reconnecting and resending after a broken connection, until every message is
/// acknowledged or `give_up` passes.
#[allow(clippy::too_many_arguments)]
async fn poster(
    urls: Vec<String>,
    run: String,
    index: usize,
    room: String,
    clock: Clock,
    start: u64,
    interval: u64,
    burst: u64,
    end: u64,
    give_up: u64,
    mut reconnect_allowed: watch::Receiver<bool>,
) -> PosterLog {
    let mut log = PosterLog::default();
    let mut token: Option<String> = None;
    let mut last_seq: Option<u64> = None;
    // client_id → text, sent and not acknowledged yet.
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    let mut next = 0u64;
    let mut broken = false;
    while clock.nanos() < give_up {
        if reconnect_allowed
            .wait_for(|allowed| *allowed)
            .await
            .is_err()
        {
            return log;
        }
        let Some(url) = ready(&urls).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let connected = connect(
            url,
            &format!("Crash poster {index}"),
            token.as_deref(),
            &room,
            last_seq,
        )
        .await;
        let (mut socket, new_token, joined) = match connected {
            Ok(connected) => connected,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if token.is_none() {
            token = new_token;
        }
        if last_seq.is_none() {
            last_seq = joined["seq"].as_u64();
        }
        if std::mem::take(&mut broken) {
            log.resumed_at.push(clock.nanos());
        }
        // Everything sent and not acknowledged goes again, with the same client_id.
        let mut failed = false;
        for (client_id, text) in &pending {
            let chat = json!({"type": "chat", "room": room, "text": text,
                              "client_id": client_id, "ref": client_id});
            if socket.send(frame(&chat)).await.is_err() {
                failed = true;
                break;
            }
            log.resent += 1;
            log.resent_ids.insert(client_id.clone());
        }
        while !failed {
            let now = clock.nanos();
            // Messages due during an outage are sent late, not dropped.
            let due = start + next / burst * interval;
            if due >= end && pending.is_empty() {
                let _ = socket.close(None).await;
                return log;
            }
            if now >= give_up {
                return log;
            }
            let wait = if due < end {
                Duration::from_nanos(due.saturating_sub(now))
            } else {
                Duration::from_millis(100)
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {
                    if due < end && clock.nanos() >= due {
                        let client_id = format!("{run}-p{index}-m{next}");
                        let text = format!("crash {client_id}");
                        let chat = json!({"type": "chat", "room": room, "text": text,
                                          "client_id": client_id, "ref": client_id});
                        next += 1;
                        pending.insert(client_id, text);
                        log.sent += 1;
                        if socket.send(frame(&chat)).await.is_err() {
                            failed = true;
                        }
                    }
                }
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let value: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                        match value["type"].as_str() {
                            Some("event") => last_seq = value["seq"].as_u64().or(last_seq),
                            Some("ack") => {
                                let client_id = value["ref"].as_str().unwrap_or_default();
                                let id = value["id"].as_u64().unwrap_or(0);
                                if pending.remove(client_id).is_some() {
                                    log.acked.insert(client_id.to_owned(), (id, clock.nanos()));
                                } else if let Some((first, _)) = log.acked.get(client_id)
                                    && *first != id
                                {
                                    log.ack_id_changed += 1;
                                }
                            }
                            Some("error") => {
                                let code = value["code"].as_str().unwrap_or("?").to_owned();
                                *log.errors.entry(code).or_default() += 1;
                            }
                            _ => {}
                        }
                    }
                    Some(Ok(Message::Close(_)) | Err(_)) | None => failed = true,
                    Some(Ok(_)) => {}
                },
            }
        }
        broken = true;
    }
    log
}

/// Kill the server at a random moment while posters post, restart it, and check the log.
pub async fn crash(
    binary: &std::path::Path,
    extra_args: &[String],
    args: &CrashArgs,
    clock: Clock,
) -> Result<CrashResult> {
    let total = (args.rate * args.duration as f64).round() as u64;
    if total >= 900 {
        bail!("keep rate × duration under 900 so the whole run fits in the replayable log");
    }
    if args.posters == 0 || args.duration < 2 {
        bail!("--posters must be at least 1 and --duration at least 2");
    }
    let mut nodes = start_nodes(binary, extra_args, args)?;
    let urls: Vec<String> = nodes.iter().map(|node| node.url.clone()).collect();
    let first = wait_ready(&urls, None).await?;
    // This run's messages, told apart from earlier runs' in a cluster's log.
    let run = format!("r{:08x}", rand::rng().random::<u32>());
    let (_start_probe, _, joined) = connect(&urls[first], "Crash probe", None, &args.room, None)
        .await
        .context("probe before posting")?;
    let seq_at_start = joined["seq"].as_u64().context("joined without seq")?;
    eprintln!(
        "crash: {} node(s), the conference on pid {} at {}",
        nodes.len(),
        nodes[first].pid(),
        urls[first]
    );
    let start = clock.nanos() + 1_000_000_000;
    // Each poster posts `burst` messages every `interval`; poster i starts i/P of an
    // interval later.
    let burst = args.burst.max(1);
    let interval = (args.posters as f64 * burst as f64 * 1e9 / args.rate) as u64;
    let end = start + args.duration * 1_000_000_000;
    let give_up = end + args.drain * 1_000_000_000;
    // Closed from the kill until a probe has read the restarted room's seq.
    let (gate, reconnect_allowed) = watch::channel(true);
    let posters: Vec<_> = (0..args.posters)
        .map(|index| {
            let offset = interval * index as u64 / args.posters as u64;
            tokio::spawn(poster(
                urls.clone(),
                run.clone(),
                index,
                args.room.clone(),
                clock,
                start + offset,
                interval,
                burst,
                end,
                give_up,
                reconnect_allowed.clone(),
            ))
        })
        .collect();
    let kill_after = rand::rng().random_range(1.0..args.duration as f64);
    let kill_at = start + (kill_after * 1e9) as u64;
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("posting; kill -9 at {kill_after:.2} s"));
    bar.enable_steady_tick(Duration::from_millis(200));
    tokio::time::sleep_until(clock.at(kill_at).into()).await;
    let _ = gate.send(false);
    let killed = wait_ready(&urls, None).await?;
    // Both wait on child processes: let the runtime move the posters to another worker.
    tokio::task::block_in_place(|| nodes[killed].kill9())?;
    // The server is gone (waited for): every ack that came before this was sent by it.
    let killed_at = clock.nanos();
    let (restart, now_on) = if nodes.len() == 1 {
        (tokio::task::block_in_place(|| nodes[0].restart())?, 0)
    } else {
        let started = std::time::Instant::now();
        let other = wait_ready(&urls, Some(killed)).await?;
        (started.elapsed(), other)
    };
    let url = nodes[now_on].url.clone();
    let (_probe, _, joined) = connect(&url, "Crash probe", None, &args.room, None)
        .await
        .context("probe after restart")?;
    let seq_at_restart = joined["seq"].as_u64().context("joined without seq")?;
    let _ = gate.send(true);
    bar.set_message(format!(
        "killed at {kill_after:.2} s, running again in {:.2} s (pid {}); posting",
        restart.as_secs_f64(),
        nodes[now_on].pid()
    ));
    let mut logs = Vec::new();
    for poster in posters {
        logs.push(poster.await?);
    }
    bar.finish_and_clear();

    let (log, resync, events_read) = read_log(&url, &args.room, &run, seq_at_start).await?;
    let mut sent = 0;
    let mut resent = 0;
    let mut resent_already_stored = 0;
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut ack_id_changed = 0;
    let mut resumed = Vec::new();
    let mut errors = BTreeMap::new();
    for poster in &logs {
        sent += poster.sent;
        resent += poster.resent;
        resent_already_stored += poster
            .resent_ids
            .iter()
            .filter(|id| {
                poster
                    .acked
                    .get(*id)
                    .is_some_and(|(chat_id, _)| *chat_id <= seq_at_restart)
            })
            .count() as u64;
        ack_id_changed += poster.ack_id_changed;
        for (client_id, (_, at)) in &poster.acked {
            acked.insert(client_id.clone(), *at);
        }
        resumed.extend(poster.resumed_at.iter().copied());
        for (code, n) in &poster.errors {
            *errors.entry(code.clone()).or_default() += n;
        }
    }
    let acked_before: BTreeSet<&String> = acked
        .iter()
        .filter(|(_, at)| **at < killed_at)
        .map(|(id, _)| id)
        .collect();
    let lost_acked = acked.keys().filter(|id| !log.contains_key(*id)).count() as u64;
    let duplicates = log.values().map(|n| n - 1).sum();
    let never_acked = sent.saturating_sub(acked.len() as u64);
    let last_resume = resumed.iter().copied().max().unwrap_or(killed_at);
    Ok(CrashResult {
        posters: args.posters,
        messages_sent: sent,
        resent,
        seq_at_restart,
        resent_already_stored,
        acked: acked.len() as u64,
        acked_before_kill: acked_before.len() as u64,
        kill_at_seconds: kill_after,
        nodes: nodes.len(),
        restart_seconds: restart.as_secs_f64(),
        seconds_to_all_resumed: last_resume.saturating_sub(killed_at) as f64 / 1e9,
        posters_resumed: resumed.len(),
        present_after_restart: log.len() as u64,
        acked_before_kill_present: acked_before
            .iter()
            .filter(|id| log.contains_key(**id))
            .count() as u64,
        lost_acked,
        duplicates,
        never_acked: never_acked
            .saturating_sub(log.keys().filter(|id| !acked.contains_key(*id)).count() as u64),
        ack_id_changed,
        log_events_read: events_read,
        log_resync: resync,
        errors,
    })
}

/// The servers `crash` runs on: one on SQLite, or `--nodes` nodes of a cluster on `--nats`
/// (sharing a secret made up for the run).
fn start_nodes(binary: &Path, extra_args: &[String], args: &CrashArgs) -> Result<Vec<LocalServer>> {
    let Some(nats) = &args.nats else {
        return Ok(vec![LocalServer::start(
            Kind::Plenary,
            binary,
            extra_args,
            true,
        )?]);
    };
    let secret: String = (0..32)
        .map(|_| format!("{:02x}", rand::rng().random::<u8>()))
        .collect();
    (0..args.nodes.max(2))
        .map(|node| {
            let mut node_args = extra_args.to_vec();
            node_args.extend([
                format!("--nats={nats}"),
                format!("--node-id=crash-{node}"),
                format!("--secret={secret}"),
            ]);
            LocalServer::start(Kind::Plenary, binary, &node_args, true)
        })
        .collect()
}

/// The first of `urls` (ws://HOST:PORT/ws) whose server answers `GET /readyz` with 200: a
/// node that takes connections (on a cluster, it may relay to the one that runs the
/// conference).
async fn ready(urls: &[String]) -> Option<&String> {
    for url in urls {
        if is_ready(url, false).await {
            return Some(url);
        }
    }
    None
}

/// Whether the server at `url` answers `GET /readyz` with 200 and, with `running`, says it
/// runs the conference itself (`ready`, not `ready: relaying`; a single server always does).
async fn is_ready(url: &str, running: bool) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.trim_start_matches("ws://").trim_end_matches("/ws");
    let asked = async {
        let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
        let request = format!("GET /readyz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let answer = String::from_utf8_lossy(&answer);
        let ok = answer.starts_with("HTTP/1.1 200");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        Some(ok && (!running || body.trim() == "ready"))
    };
    tokio::time::timeout(Duration::from_millis(500), asked)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Wait (up to a minute) until a node other than `not` runs the conference; its index.
async fn wait_ready(urls: &[String], not: Option<usize>) -> Result<usize> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        for (index, url) in urls.iter().enumerate() {
            if Some(index) != not && is_ready(url, true).await {
                return Ok(index);
            }
        }
        if tokio::time::Instant::now() > deadline {
            bail!("no node was ready within a minute");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Read the room's log from `since` as a fresh guest: how many times each of this run's
/// messages (by client id, which the text carries after `crash {run}-`) appears.
async fn read_log(
    url: &str,
    room: &str,
    run: &str,
    since: u64,
) -> Result<(BTreeMap<String, u64>, bool, u64)> {
    let (mut socket, _, joined) = connect(url, "Crash reader", None, room, Some(since)).await?;
    let last = joined["seq"].as_u64().context("joined without seq")?;
    let resync = joined["resync"].as_bool().unwrap_or(false);
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut note = |text: &str| {
        if let Some(client_id) = text
            .strip_prefix("crash ")
            .filter(|client_id| client_id.starts_with(run))
        {
            *seen.entry(client_id.to_owned()).or_default() += 1;
        }
    };
    let mut events = 0;
    if resync {
        for chat in joined["snapshot"]["chat"].as_array().into_iter().flatten() {
            note(chat["text"].as_str().unwrap_or_default());
            events += 1;
        }
    } else {
        let mut seq = since;
        while seq < last {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .context("the log replay stalled")?
                .context("closed during the log replay")??;
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(text.as_str())?;
                if value["type"] == "event" {
                    seq = value["seq"].as_u64().unwrap_or(seq);
                    events += 1;
                    if value["event"]["kind"] == "chat" {
                        note(value["event"]["text"].as_str().unwrap_or_default());
                    }
                }
            }
        }
    }
    Ok((seen, resync, events))
}

#[derive(Debug, Clone, clap::Args)]
pub struct PostStormArgs {
    /// Posters, each a distinct guest in the room; each sends its next message when the
    /// previous one is acknowledged.
    #[arg(long, default_value_t = 100)]
    pub posters: usize,
    /// Seconds of posting.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// The room.
    #[arg(long, default_value = "main-stage")]
    pub room: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PostStormResult {
    pub posters: usize,
    pub seconds: f64,
    pub acked: u64,
    pub acked_per_sec: f64,
    /// Chat events the posters received (each message reaches every poster).
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    /// From sending a message to its ack.
    pub ack_latency: Latency,
    pub errors: BTreeMap<String, u64>,
    pub server_cpu_seconds: Option<f64>,
    pub server_cpu_per_thousand_acked: Option<f64>,
}

/// P posters, one message in flight each, for D seconds.
pub async fn post_storm(
    url: &str,
    pid: Option<u32>,
    args: &PostStormArgs,
    clock: Clock,
) -> Result<PostStormResult> {
    let mut sockets = Vec::new();
    for index in 0..args.posters {
        let (socket, _, _) = connect(url, &format!("Storm {index}"), None, &args.room, None)
            .await
            .context("poster")?;
        sockets.push(socket);
    }
    let cpu_before = pid.map(|pid| server::sample(Some(pid))).transpose()?;
    let started = clock.nanos();
    let end = started + args.duration * 1_000_000_000;
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(index, socket)| {
            let room = args.room.clone();
            tokio::spawn(storm_poster(socket, index, room, clock, end))
        })
        .collect();
    let bar = ProgressBar::new(args.duration).with_style(
        ProgressStyle::with_template("post-storm {bar:40} {pos}/{len} s").expect("valid template"),
    );
    for _ in 0..args.duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        bar.inc(1);
    }
    let mut histogram = report::histogram();
    let (mut acked, mut deliveries) = (0, 0);
    let mut errors = BTreeMap::new();
    for task in tasks {
        let (poster_acked, poster_deliveries, poster_histogram, poster_errors) = task.await?;
        acked += poster_acked;
        deliveries += poster_deliveries;
        histogram.add(&poster_histogram)?;
        for (code, n) in poster_errors {
            *errors.entry(code).or_default() += n;
        }
    }
    let seconds = (clock.nanos() - started) as f64 / 1e9;
    let cpu_after = pid.map(|pid| server::sample(Some(pid))).transpose()?;
    bar.finish_and_clear();
    let server_cpu = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| (after.cpu - before.cpu).as_secs_f64());
    Ok(PostStormResult {
        posters: args.posters,
        seconds,
        acked,
        acked_per_sec: acked as f64 / seconds,
        deliveries,
        deliveries_per_sec: deliveries as f64 / seconds,
        ack_latency: Latency::from(&histogram, &[]),
        errors,
        server_cpu_seconds: server_cpu,
        server_cpu_per_thousand_acked: server_cpu.map(|cpu| cpu * 1000.0 / acked.max(1) as f64),
    })
}

/// One post-storm poster, until `end` (and its last ack, for at most 5 s more): returns
/// acks, chat events received, ack latency, errors.
async fn storm_poster(
    mut socket: Socket,
    index: usize,
    room: String,
    clock: Clock,
    end: u64,
) -> (
    u64,
    u64,
    hdrhistogram::Histogram<u64>,
    BTreeMap<String, u64>,
) {
    let mut histogram = report::histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut acked, mut deliveries) = (0, 0);
    let mut number = 0u64;
    let mut in_flight: Option<u64> = None;
    let last_wait = tokio::time::Instant::from(clock.at(end + 5_000_000_000));
    loop {
        let now = clock.nanos();
        if in_flight.is_none() {
            if now >= end {
                break;
            }
            let text = format!("storm {index} {number}");
            let chat = json!({"type": "chat", "room": room, "text": text, "ref": number});
            number += 1;
            if socket.send(frame(&chat)).await.is_err() {
                break;
            }
            in_flight = Some(clock.nanos());
        }
        let message = match tokio::time::timeout_at(last_wait, socket.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(_)) | None) | Err(_) => break,
        };
        let Message::Text(text) = message else {
            continue;
        };
        let text = text.as_str();
        if text.starts_with("{\"type\":\"event\"") {
            deliveries += 1;
        } else if text.starts_with("{\"type\":\"ack\"") {
            if let Some(sent) = in_flight.take() {
                acked += 1;
                report::record(&mut histogram, (clock.nanos() - sent) / 1_000);
            }
        } else if text.starts_with("{\"type\":\"error\"") {
            let value: Value = serde_json::from_str(text).unwrap_or_default();
            let code = value["code"].as_str().unwrap_or("?").to_owned();
            *errors.entry(code).or_default() += 1;
            in_flight = None;
        }
    }
    let _ = socket.close(None).await;
    (acked, deliveries, histogram, errors)
}
