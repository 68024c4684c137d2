//! `chat-fanout`: N attendees in one room, P of them posting at an aggregate R messages per
//! second for D seconds; every message is delivered to all N (the poster included).
//!
//! Readers: several connections per task (a `SelectAll` of their streams), each task with its
//! own histograms and counters, merged at the end, so the load generator spends little on
//! itself. Writers: one pacer task sends message k at its scheduled time `start + k/R`, and
//! the text carries that scheduled time, so a stalled send shows up as latency (no
//! coordinated omission). Loss and duplicates are checked per connection by `seq` (Plenary)
//! or by the message number in the text (the baseline, which has no `seq`).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use plenary_protocol::ServerMessage;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::watch;

use crate::client::{self, Clock};
use crate::raw::{self, RawSocket};
use crate::report::{self, Latency};
use crate::server::{self, Kind};

/// How the workload is shaped.
#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Attendees in the room.
    #[arg(long, default_value_t = 5_000)]
    pub attendees: usize,
    /// How many of them post (each a distinct guest, so a per-person rate limit spreads).
    #[arg(long, default_value_t = 100)]
    pub posters: usize,
    /// Messages per second, all posters together.
    #[arg(long, default_value_t = 400.0)]
    pub rate: f64,
    /// Seconds of posting.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Bytes of chat text per message.
    #[arg(long, default_value_t = 200)]
    pub size: usize,
    /// The room.
    #[arg(long, default_value = "main-stage")]
    pub room: String,
    /// Connections read by one task.
    #[arg(long, default_value_t = 64)]
    pub per_task: usize,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// Seconds to wait after posting for the last deliveries.
    #[arg(long, default_value_t = 20)]
    pub drain: u64,
    /// Seconds between everyone having joined and the first message (to let a profiler
    /// start counting after the joins, e.g. `callgrind_control -z`).
    #[arg(long, default_value_t = 0.3)]
    pub settle: f64,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutResult {
    pub server: &'static str,
    pub attendees_connected: u64,
    pub connect_failures: u64,
    pub connect_seconds: f64,
    pub messages_sent: u64,
    pub messages_acked: u64,
    pub rate_limited: u64,
    pub errors: BTreeMap<String, u64>,
    pub expected_deliveries: u64,
    pub delivered: u64,
    /// Deliveries that will never come: seq gaps, and what connections the server closed
    /// missed after closing.
    pub lost: u64,
    /// Deliveries neither made nor lost when the run stopped waiting (still queued in the
    /// server or the socket buffers after the drain time).
    pub pending_at_cutoff: u64,
    pub duplicates: u64,
    /// Connections the server closed during the run, by close code.
    pub closed: BTreeMap<String, u64>,
    pub offered_deliveries_per_sec: f64,
    pub deliveries_per_sec: f64,
    /// Seconds from the first send to the last delivery.
    pub load_seconds: f64,
    pub latency: Latency,
    /// With several `--url`s (the nodes of a cluster): each node's address and the latency
    /// of the attendees connected to it.
    pub latency_by_node: Vec<(String, Latency)>,
    pub server_cpu_seconds: Option<f64>,
    pub server_cpu_seconds_per_million: Option<f64>,
    pub server_peak_rss_bytes: Option<u64>,
    pub loadtest_cpu_seconds: f64,
}

/// Counters the readers share with the coordinator, for progress and for knowing when
/// everything expected has arrived.
#[derive(Default)]
struct Live {
    delivered: AtomicU64,
    acked: AtomicU64,
    closed: AtomicU64,
}

enum Item {
    /// Whole frames read from a connection (`None`: it ended).
    Chunk(usize, Option<Result<Bytes>>),
    Tick,
    Stop,
}

/// One connection as its reader sees it.
struct Track {
    /// The last `seq` seen (Plenary), starting at the room's seq when it joined.
    last_seq: u64,
    /// Message numbers seen (baseline), one bit each.
    seen: Vec<u64>,
    /// Distinct messages received.
    received: u64,
    open: bool,
}

#[derive(Default)]
struct GroupStats {
    overall: Option<Histogram<u64>>,
    timeline: Vec<Histogram<u64>>,
    delivered: u64,
    duplicates: u64,
    gaps: u64,
    acked: u64,
    /// The highest ack id: the room's seq after the last message.
    last_ack_id: u64,
    errors: BTreeMap<String, u64>,
    closed: BTreeMap<String, u64>,
    /// Per connection: last seq, distinct messages received, still open.
    ends: Vec<(u64, u64, bool)>,
    last_receive_nanos: u64,
    /// The index of the `--url` the group's connections went to.
    node: usize,
}

/// Run the workload against a server at `urls` (several: the nodes of a cluster, attendee
/// `n` on the `n mod len`-th; `pid` for a local server, to read /proc).
pub async fn run(
    urls: &[String],
    kind: Kind,
    pid: Option<u32>,
    args: &FanoutArgs,
    clock: Clock,
) -> Result<FanoutResult> {
    if args.posters == 0 || args.posters > args.attendees {
        bail!("--posters must be between 1 and --attendees");
    }
    let name = match kind {
        Kind::Plenary => "plenary",
        Kind::Baseline => "baseline",
    };
    if urls.is_empty() {
        bail!("chat-fanout needs a server");
    }
    eprintln!("chat-fanout against {name} at {}", urls.join(", "));
    // Connect everyone.
    let connect_started = std::time::Instant::now();
    let bar = ProgressBar::new(args.attendees as u64).with_style(
        ProgressStyle::with_template("connecting {bar:40} {pos}/{len} {per_sec}")
            .expect("the template is valid"),
    );
    let room = args.room.as_str();
    let mut sockets: Vec<(RawSocket, u64, usize)> = Vec::with_capacity(args.attendees);
    let mut connect_failures = 0u64;
    {
        let mut attempts = stream::iter(0..args.attendees)
            .map(|n| async move {
                let node = n % urls.len();
                let url = urls[node].as_str();
                let socket = match kind {
                    Kind::Plenary => raw::attend(url, &format!("Load {n}"), room).await,
                    Kind::Baseline => raw::connect(url).await.map(|socket| (socket, 0)),
                };
                socket.map(|(socket, seq)| (socket, seq, node))
            })
            .buffer_unordered(args.connect_concurrency.max(1));
        while let Some(attempt) = attempts.next().await {
            bar.inc(1);
            match attempt {
                Ok(socket) => sockets.push(socket),
                Err(error) => {
                    connect_failures += 1;
                    if connect_failures <= 3 {
                        bar.println(format!("attendee failed: {error:#}"));
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    let connect_seconds = connect_started.elapsed().as_secs_f64();
    let connected = sockets.len() as u64;
    if sockets.len() < args.posters {
        bail!("only {connected} attendees connected; fewer than the posters");
    }

    // Split: the first P write halves post; every read half is read by a group (and answers
    // the server's pings, but for the posters').
    let total_messages = (args.rate * args.duration as f64).round() as u64;
    let live = Arc::new(Live::default());
    let (stop, stopped) = watch::channel(false);
    let post_start = clock.nanos() + (args.settle.max(0.0) * 1e9) as u64;
    let mut poster_writers = Vec::with_capacity(args.posters);
    // Each node's connections, read in groups of their own so that latency is per node.
    let mut by_node: Vec<Vec<(raw::Chunks, u64)>> = (0..urls.len()).map(|_| Vec::new()).collect();
    for (index, (socket, joined_seq, node)) in sockets.into_iter().enumerate() {
        let (chunks, writer) = socket.split(index >= args.posters);
        poster_writers.extend(writer);
        by_node[node].push((chunks, joined_seq));
    }
    let per_task = args.per_task.max(1);
    let mut groups = Vec::new();
    for (node, mut streams) in by_node.into_iter().enumerate() {
        while !streams.is_empty() {
            let rest = streams.split_off(streams.len().min(per_task));
            let group = std::mem::replace(&mut streams, rest);
            groups.push(tokio::spawn(read_group(
                (group, node),
                kind,
                clock,
                post_start,
                total_messages,
                Arc::clone(&live),
                stopped.clone(),
            )));
        }
    }

    // Post.
    let cpu_before = pid.map(|pid| server::sample(Some(pid))).transpose()?;
    let self_before = server::sample(None)?;
    let room_name = args.room.clone();
    let (rate, size) = (args.rate, args.size);
    let pacer = tokio::spawn(async move {
        pace(
            poster_writers,
            kind,
            &room_name,
            rate,
            size,
            total_messages,
            post_start,
            clock,
        )
        .await
    });
    let expected_per_message = connected;
    let bar = ProgressBar::new(total_messages * expected_per_message).with_style(
        ProgressStyle::with_template(
            "{elapsed:>4} {bar:40} {human_pos}/{human_len} deliveries {msg}",
        )
        .expect("the template is valid"),
    );
    let mut previous = 0;
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    let drain = Duration::from_secs(args.drain);
    let mut sent = 0u64;
    // The posters' write halves, kept open until the end: dropping one half-closes its
    // connection, which the server answers by closing it (1002) before its last events.
    let mut posters = Vec::new();
    let mut pacer = Some(pacer);
    let mut drain_started: Option<std::time::Instant> = None;
    let mut last_progress = std::time::Instant::now();
    loop {
        ticker.tick().await;
        let delivered = live.delivered.load(Ordering::Relaxed);
        bar.set_position(delivered);
        bar.set_message(format!(
            "{:.0}/s, {} closed",
            (delivered - previous) as f64 * 2.0,
            live.closed.load(Ordering::Relaxed)
        ));
        if delivered != previous {
            last_progress = std::time::Instant::now();
        }
        previous = delivered;
        if let Some(handle) = pacer.as_ref() {
            if handle.is_finished() {
                (sent, posters) = pacer.take().expect("checked above").await??;
                drain_started = Some(std::time::Instant::now());
            }
            continue;
        }
        let open = expected_per_message
            - live
                .closed
                .load(Ordering::Relaxed)
                .min(expected_per_message);
        let expected = sent * open;
        let waited = drain_started.map_or(Duration::ZERO, |at| at.elapsed());
        if delivered >= expected
            || waited >= drain
            || last_progress.elapsed() > Duration::from_secs(3)
        {
            break;
        }
    }
    bar.finish_and_clear();
    let cpu_after = pid.map(|pid| server::sample(Some(pid))).transpose()?;
    let self_after = server::sample(None)?;
    let _ = stop.send(true);
    let mut merged = GroupStats::default();
    let mut overall = report::histogram();
    let mut node_overall: Vec<Histogram<u64>> = urls.iter().map(|_| report::histogram()).collect();
    for group in groups {
        let stats = group.await?;
        if let Some(histogram) = &stats.overall {
            overall.add(histogram)?;
            node_overall[stats.node].add(histogram)?;
        }
        report::merge_timeline(&mut merged.timeline, &stats.timeline);
        merged.delivered += stats.delivered;
        merged.duplicates += stats.duplicates;
        merged.gaps += stats.gaps;
        merged.acked += stats.acked;
        merged.last_ack_id = merged.last_ack_id.max(stats.last_ack_id);
        merged.last_receive_nanos = merged.last_receive_nanos.max(stats.last_receive_nanos);
        merged.ends.extend(stats.ends);
        for (code, n) in stats.errors {
            *merged.errors.entry(code).or_default() += n;
        }
        for (code, n) in stats.closed {
            *merged.closed.entry(code).or_default() += n;
        }
    }
    drop(posters);
    let expected = sent * connected;
    let closed_missed: u64 = merged
        .ends
        .iter()
        .filter(|(_, _, open)| !open)
        .map(|(last_seq, received, _)| match kind {
            // A closed connection misses every seq after its last, up to the room's last.
            Kind::Plenary => merged.last_ack_id.saturating_sub(*last_seq),
            Kind::Baseline => sent.saturating_sub(*received),
        })
        .sum();
    let lost = merged.gaps + closed_missed;
    let pending_at_cutoff = expected
        .saturating_sub(merged.delivered)
        .saturating_sub(lost);
    let load_seconds = merged.last_receive_nanos.saturating_sub(post_start).max(1) as f64 / 1e9;
    let server_cpu = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| (after.cpu - before.cpu).as_secs_f64());
    let rate_limited = merged.errors.get("rate_limited").copied().unwrap_or(0);
    Ok(FanoutResult {
        server: name,
        attendees_connected: connected,
        connect_failures,
        connect_seconds,
        messages_sent: sent,
        messages_acked: merged.acked,
        rate_limited,
        errors: merged.errors,
        expected_deliveries: expected,
        delivered: merged.delivered,
        lost,
        pending_at_cutoff,
        duplicates: merged.duplicates,
        closed: merged.closed,
        offered_deliveries_per_sec: args.rate * connected as f64,
        deliveries_per_sec: merged.delivered as f64 / load_seconds,
        load_seconds,
        latency: Latency::from(&overall, &merged.timeline),
        latency_by_node: if urls.len() > 1 {
            urls.iter()
                .zip(&node_overall)
                .map(|(url, histogram)| (url.clone(), Latency::from(histogram, &[])))
                .collect()
        } else {
            Vec::new()
        },
        server_cpu_seconds: server_cpu,
        server_cpu_seconds_per_million: server_cpu
            .map(|cpu| cpu / (merged.delivered.max(1) as f64 / 1e6)),
        server_peak_rss_bytes: cpu_after.map(|after| after.peak_rss),
        loadtest_cpu_seconds: (self_after.cpu - self_before.cpu).as_secs_f64(),
    })
}

/// Send message k at `post_start + k/rate`, round-robin over the posters. Returns how many
/// were sent, and the posters.
#[allow(clippy::too_many_arguments)]
async fn pace(
    mut posters: Vec<OwnedWriteHalf>,
    kind: Kind,
    room: &str,
    rate: f64,
    size: usize,
    total: u64,
    post_start: u64,
    clock: Clock,
) -> Result<(u64, Vec<OwnedWriteHalf>)> {
    tokio::time::sleep_until(clock.at(post_start).into()).await;
    let interval_nanos = 1e9 / rate;
    // Message k goes out in slot k; a poster whose connection failed (closed by the server)
    // drops its slots, and only the messages that went out count as sent.
    let mut slot = 0u64;
    let mut sent = 0u64;
    // Each poster's frames of this round, and how many they are.
    let mut frames = vec![(Vec::new(), 0u64); posters.len()];
    let mut alive = vec![true; posters.len()];
    while slot < total && alive.iter().any(|alive| *alive) {
        let elapsed = clock.nanos().saturating_sub(post_start) as f64;
        let due = ((elapsed / interval_nanos) as u64 + 1).min(total);
        while slot < due {
            let poster = (slot % posters.len() as u64) as usize;
            if alive[poster] {
                let scheduled = post_start + (slot as f64 * interval_nanos) as u64;
                let text = client::chat_text(scheduled, slot, size);
                let frame = match kind {
                    Kind::Plenary => {
                        format!(r#"{{"type":"chat","room":"{room}","text":"{text}"}}"#)
                    }
                    Kind::Baseline => text,
                };
                let (bytes, count) = &mut frames[poster];
                raw::put_text(bytes, &frame);
                *count += 1;
            }
            slot += 1;
        }
        for ((poster, (bytes, count)), alive) in posters.iter_mut().zip(&mut frames).zip(&mut alive)
        {
            if *count > 0 {
                if poster.write_all(bytes).await.is_ok() {
                    sent += *count;
                } else {
                    *alive = false;
                }
            }
            bytes.clear();
            *count = 0;
        }
        if slot < total {
            let next = post_start + (slot as f64 * interval_nanos) as u64;
            tokio::time::sleep_until(clock.at(next).into()).await;
        }
    }
    Ok((sent, posters))
}

/// Read a group of connections until told to stop.
async fn read_group(
    (connections, node): (Vec<(raw::Chunks, u64)>, usize),
    kind: Kind,
    clock: Clock,
    post_start: u64,
    total_messages: u64,
    live: Arc<Live>,
    mut stop: watch::Receiver<bool>,
) -> GroupStats {
    let mut tracks: Vec<Track> = connections
        .iter()
        .map(|(_, joined_seq)| Track {
            last_seq: *joined_seq,
            received: 0,
            seen: match kind {
                Kind::Plenary => Vec::new(),
                Kind::Baseline => vec![0; (total_messages as usize).div_ceil(64)],
            },
            open: true,
        })
        .collect();
    let mut streams: Vec<BoxStream<'static, Item>> = connections
        .into_iter()
        .enumerate()
        .map(|(index, (chunks, _))| {
            chunks
                .into_stream()
                .map(move |chunk| Item::Chunk(index, Some(chunk)))
                .chain(stream::once(async move { Item::Chunk(index, None) }))
                .boxed()
        })
        .collect();
    let ticks = tokio::time::interval(Duration::from_millis(100));
    streams.push(
        stream::unfold(ticks, |mut ticks| async move {
            ticks.tick().await;
            Some((Item::Tick, ticks))
        })
        .boxed(),
    );
    streams.push(
        stream::once(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
            Item::Stop
        })
        .boxed(),
    );
    let mut all = stream::select_all(streams);
    let mut stats = GroupStats {
        node,
        ..GroupStats::default()
    };
    let mut overall = report::histogram();
    let mut unreported = (0u64, 0u64);
    while let Some(item) = Pin::new(&mut all).next().await {
        match item {
            Item::Chunk(index, Some(Ok(chunk))) => {
                // The frames of one chunk arrived together.
                let now = clock.nanos();
                for (opcode, text) in raw::frames(&chunk) {
                    if opcode == raw::CLOSE {
                        let code = text.get(..2).map_or("none".to_owned(), |code| {
                            u16::from_be_bytes([code[0], code[1]]).to_string()
                        });
                        close(&mut tracks[index], &mut stats, &live, code);
                        continue;
                    }
                    if opcode != raw::TEXT {
                        continue;
                    }
                    let scanned = match kind {
                        Kind::Plenary => client::scan_event(text),
                        Kind::Baseline => client::scan_baseline(text),
                    };
                    let Some((number, sent)) = scanned else {
                        note_reply(text, &mut stats, &mut unreported);
                        continue;
                    };
                    let track = &mut tracks[index];
                    let fresh = match kind {
                        Kind::Plenary => {
                            if number == track.last_seq + 1 {
                                track.last_seq = number;
                                true
                            } else if number > track.last_seq {
                                stats.gaps += number - track.last_seq - 1;
                                track.last_seq = number;
                                true
                            } else {
                                false
                            }
                        }
                        Kind::Baseline => {
                            let (word, bit) = ((number / 64) as usize, number % 64);
                            match track.seen.get_mut(word) {
                                Some(bits) if *bits & (1 << bit) == 0 => {
                                    *bits |= 1 << bit;
                                    true
                                }
                                _ => false,
                            }
                        }
                    };
                    if !fresh {
                        stats.duplicates += 1;
                        continue;
                    }
                    // Another event of the room (a session starting): it took a seq, and
                    // is not one of the deliveries counted.
                    let Some(sent) = sent else {
                        continue;
                    };
                    stats.delivered += 1;
                    track.received += 1;
                    unreported.0 += 1;
                    stats.last_receive_nanos = now;
                    let micros = now.saturating_sub(sent) / 1_000;
                    report::record(&mut overall, micros);
                    let second = (now.saturating_sub(post_start) / 1_000_000_000) as usize;
                    while stats.timeline.len() <= second {
                        stats.timeline.push(report::coarse_histogram());
                    }
                    report::record(&mut stats.timeline[second], micros);
                }
            }
            Item::Chunk(index, Some(Err(_))) => {
                close(&mut tracks[index], &mut stats, &live, "error".to_owned());
            }
            Item::Chunk(index, None) => {
                close(&mut tracks[index], &mut stats, &live, "eof".to_owned());
            }
            Item::Tick => {
                live.delivered.fetch_add(unreported.0, Ordering::Relaxed);
                live.acked.fetch_add(unreported.1, Ordering::Relaxed);
                unreported = (0, 0);
            }
            Item::Stop => break,
        }
    }
    stats.overall = Some(overall);
    stats.ends = tracks
        .iter()
        .map(|track| (track.last_seq, track.received, track.open))
        .collect();
    stats
}

/// A frame that is not a chat event: an ack for a poster, an error, or another event.
fn note_reply(text: &[u8], stats: &mut GroupStats, unreported: &mut (u64, u64)) {
    match serde_json::from_slice::<ServerMessage>(text) {
        Ok(ServerMessage::Ack { id, .. }) => {
            stats.acked += 1;
            unreported.1 += 1;
            stats.last_ack_id = stats.last_ack_id.max(id.unwrap_or(0));
        }
        Ok(ServerMessage::Error { code, .. }) => {
            *stats.errors.entry(client::code_name(code)).or_default() += 1;
        }
        Ok(_) => {}
        Err(_) => *stats.errors.entry("unreadable".to_owned()).or_default() += 1,
    }
}

fn close(track: &mut Track, stats: &mut GroupStats, live: &Live, code: String) {
    if std::mem::take(&mut track.open) {
        *stats.closed.entry(code).or_default() += 1;
        live.closed.fetch_add(1, Ordering::Relaxed);
    }
}
