//! `slow-consumer` and `flood`: the chat-fanout workload beside clients that misbehave —
//! connections that never read their socket, or that send frames as fast as they can — run
//! twice in one invocation (first without the misbehaving clients, then with them, each on a
//! fresh server), so the healthy attendees' loss and latency can be compared.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::{SinkExt, StreamExt, stream};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Clock, Socket};
use crate::fanout::{self, FanoutArgs, FanoutResult};
use crate::report::{self, Latency};
use crate::server::{self, Kind, LocalServer};

#[derive(Debug, Clone, clap::Args)]
pub struct SlowArgs {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Attendees that join and then never read their socket.
    #[arg(long, default_value_t = 50)]
    pub stuck: usize,
    /// The stuck attendees' socket receive buffer (SO_RCVBUF), bytes.
    #[arg(long, default_value_t = 4096)]
    pub stuck_rcvbuf: u32,
    /// Run the pair (without, then with) this many times, to see run-to-run variation.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
}

/// What the stuck attendees saw when they were finally read, and the server's memory.
#[derive(Debug, Clone, Serialize)]
pub struct StuckResult {
    pub round: usize,
    pub stuck: usize,
    pub stuck_joined: usize,
    /// How each stuck connection ended when read after the load: a close code, `eof` or
    /// `reset` (closed by the server without a close frame), or `open` (still open: the
    /// server had not closed it).
    pub endings: BTreeMap<String, u64>,
    /// Room events the stuck connections held (kernel buffers) when finally read.
    pub frames_read_at_end: u64,
    pub rss_start_bytes: Option<u64>,
    /// After the stuck attendees joined, before the load.
    pub rss_before_load_bytes: Option<u64>,
    /// After the load, the stuck connections still held by the loadtest.
    pub rss_after_load_bytes: Option<u64>,
    /// After the stuck connections were read and dropped, and a pause.
    pub rss_after_release_bytes: Option<u64>,
    /// The machine's TCP socket memory (see [`server::tcp_socket_memory`]) at the same four
    /// moments: where a stuck reader's backlog waits before the server's queue fills.
    pub tcp_memory_bytes: [Option<u64>; 4],
    pub fanout: FanoutResult,
}

/// Run chat-fanout without, then with, stuck readers.
pub async fn slow_consumer(
    binary: &std::path::Path,
    extra_args: &[String],
    args: &SlowArgs,
    clock: Clock,
) -> Result<Vec<StuckResult>> {
    let mut results = Vec::new();
    let pairs = (1..=args.rounds.max(1)).flat_map(|round| [(round, 0), (round, args.stuck)]);
    for (round, stuck) in pairs {
        let local = LocalServer::start(Kind::Plenary, binary, extra_args, true)?;
        let pid = local.pid();
        eprintln!("slow-consumer: {stuck} stuck readers, server pid {pid}");
        let rss = || server::sample(Some(pid)).ok().map(|sample| sample.rss);
        let rss_start = rss();
        let tcp_start = server::tcp_socket_memory();
        let room = args.fanout.room.as_str();
        let url = local.url.as_str();
        let sockets: Vec<Socket> = stream::iter(0..stuck)
            .map(|n| async move {
                client::attend_small_buffer(url, args.stuck_rcvbuf, &format!("Stuck {n}"), &[room])
                    .await
            })
            .buffer_unordered(50)
            .filter_map(|attempt| async move {
                match attempt {
                    Ok((socket, _)) => Some(socket),
                    Err(error) => {
                        eprintln!("stuck attendee failed: {error:#}");
                        None
                    }
                }
            })
            .collect()
            .await;
        let stuck_joined = sockets.len();
        let rss_before_load = rss();
        let tcp_before_load = server::tcp_socket_memory();
        let fanout = fanout::run(
            &[url.to_owned()],
            Kind::Plenary,
            Some(pid),
            &args.fanout,
            clock,
        )
        .await?;
        let rss_after_load = rss();
        let tcp_after_load = server::tcp_socket_memory();
        eprintln!("reading the {stuck_joined} stuck connections");
        let endings: Vec<(String, u64)> = stream::iter(sockets)
            .map(read_to_end)
            .buffer_unordered(100)
            .collect()
            .await;
        let mut by_ending = BTreeMap::new();
        let mut frames_read = 0;
        for (ending, frames) in endings {
            *by_ending.entry(ending).or_default() += 1;
            frames_read += frames;
        }
        server::settle().await;
        results.push(StuckResult {
            round,
            stuck,
            stuck_joined,
            endings: by_ending,
            frames_read_at_end: frames_read,
            rss_start_bytes: rss_start,
            rss_before_load_bytes: rss_before_load,
            rss_after_load_bytes: rss_after_load,
            rss_after_release_bytes: rss(),
            tcp_memory_bytes: [
                tcp_start,
                tcp_before_load,
                tcp_after_load,
                server::tcp_socket_memory(),
            ],
            fanout,
        });
    }
    Ok(results)
}

/// Read a connection until it ends or stays quiet for two seconds; how it ended, and how
/// many text frames it held.
async fn read_to_end(mut socket: Socket) -> (String, u64) {
    let mut frames = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
            Err(_) => return ("open".to_owned(), frames),
            Ok(None) => return ("eof".to_owned(), frames),
            Ok(Some(Err(error))) => {
                let kind = if error.to_string().contains("reset") {
                    "reset"
                } else {
                    "error"
                };
                return (kind.to_owned(), frames);
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                let code = frame.map_or("close without code".to_owned(), |frame| {
                    format!("close {}", u16::from(frame.code))
                });
                return (code, frames);
            }
            Ok(Some(Ok(Message::Text(_)))) => frames += 1,
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct FloodArgs {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Connections sending frames as fast as they can (each reconnects as a new guest when
    /// the server closes it, until the load ends).
    #[arg(long, default_value_t = 20)]
    pub flooders: usize,
    /// What they send: `leave` (a valid message) or `invalid` (not JSON).
    #[arg(long, default_value = "leave")]
    pub flood_frame: String,
    /// Run the pair (without, then with) this many times, to see run-to-run variation.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Milliseconds a flooder waits before connecting again after it was closed.
    #[arg(long, default_value_t = 1000)]
    pub reconnect_ms: u64,
}

/// The flooders' side of a run.
#[derive(Debug, Clone, Serialize)]
pub struct FloodResult {
    pub round: usize,
    pub flooders: usize,
    /// Flooding connections opened (each flooder reconnects after being closed).
    pub flood_connections: u64,
    /// Frames written into the flooders' sockets; most are never read, since the server
    /// closes the connection.
    pub flood_frames_sent: u64,
    /// How flooding connections ended, by close code (or `eof`/`error`/`stopped`).
    pub flood_endings: BTreeMap<String, u64>,
    /// From a flooding connection's first flood frame to the server's close frame, or to
    /// the reset when the server closed with unread frames (the kernel then resets the
    /// connection and the close frame is lost).
    pub time_to_close: Latency,
    pub fanout: FanoutResult,
}

/// Counters the flooders share.
#[derive(Default)]
struct FloodStats {
    connections: AtomicU64,
    frames: AtomicU64,
}

/// Run chat-fanout without, then with, flooders, the server's rate limits on.
pub async fn flood(
    binary: &std::path::Path,
    extra_args: &[String],
    args: &FloodArgs,
    clock: Clock,
) -> Result<Vec<FloodResult>> {
    let frame = match args.flood_frame.as_str() {
        "leave" => format!(r#"{{"type":"leave","room":"{}"}}"#, args.fanout.room),
        "invalid" => "{not json".to_owned(),
        other => anyhow::bail!("--flood-frame must be leave or invalid, not {other}"),
    };
    let mut results = Vec::new();
    let pairs = (1..=args.rounds.max(1)).flat_map(|round| [(round, 0), (round, args.flooders)]);
    for (round, flooders) in pairs {
        let local = LocalServer::start(Kind::Plenary, binary, extra_args, false)?;
        let pid = local.pid();
        eprintln!(
            "flood: {flooders} flooders, rate limits on, server pid {}",
            pid
        );
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(FloodStats::default());
        let tasks: Vec<_> = (0..flooders)
            .map(|n| {
                tokio::spawn(flooder(
                    local.url.clone(),
                    n,
                    frame.clone(),
                    Duration::from_millis(args.reconnect_ms),
                    Arc::clone(&stop),
                    Arc::clone(&stats),
                ))
            })
            .collect();
        let fanout = fanout::run(
            std::slice::from_ref(&local.url),
            Kind::Plenary,
            Some(pid),
            &args.fanout,
            clock,
        )
        .await?;
        stop.store(true, Ordering::Relaxed);
        let mut endings = BTreeMap::new();
        let mut to_close = report::histogram();
        for task in tasks {
            let (ends, histogram) = task.await?;
            for (ending, n) in ends {
                *endings.entry(ending).or_default() += n;
            }
            to_close.add(&histogram)?;
        }
        results.push(FloodResult {
            round,
            flooders,
            flood_connections: stats.connections.load(Ordering::Relaxed),
            flood_frames_sent: stats.frames.load(Ordering::Relaxed),
            flood_endings: endings,
            time_to_close: Latency::from(&to_close, &[]),
            fanout,
        });
    }
    Ok(results)
}

/// One flooder: connect as a new guest, send `frame` as fast as the socket takes it while
/// reading what comes back, until the server closes the connection; then again, until
/// `stop`.
async fn flooder(
    url: String,
    n: usize,
    frame: String,
    pause: Duration,
    stop: Arc<AtomicBool>,
    stats: Arc<FloodStats>,
) -> (BTreeMap<String, u64>, Histogram<u64>) {
    let mut endings: BTreeMap<String, u64> = BTreeMap::new();
    let mut to_close = report::histogram();
    let mut attempt = 0;
    while !stop.load(Ordering::Relaxed) {
        attempt += 1;
        let Ok((socket, _)) =
            client::attend(&url, &format!("Flood {n}.{attempt}"), None, &[]).await
        else {
            *endings.entry("connect failed".to_owned()).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let (mut sink, mut stream) = socket.split();
        let started = Instant::now();
        let writer_stop = Arc::clone(&stop);
        let writer_stats = Arc::clone(&stats);
        let writer_frame = frame.clone();
        let writer = tokio::spawn(async move {
            while !writer_stop.load(Ordering::Relaxed) {
                for _ in 0..32 {
                    if sink
                        .feed(Message::text(writer_frame.clone()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
                writer_stats.frames.fetch_add(32, Ordering::Relaxed);
            }
        });
        let ending = loop {
            let next = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
            match next {
                Err(_) if stop.load(Ordering::Relaxed) => break "stopped".to_owned(),
                Err(_) => {}
                Ok(None) => break "eof".to_owned(),
                Ok(Some(Err(error))) => {
                    report::record(&mut to_close, started.elapsed().as_micros() as u64);
                    break if error.to_string().contains("reset") {
                        "reset".to_owned()
                    } else {
                        format!("error: {error}")
                    };
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    report::record(&mut to_close, started.elapsed().as_micros() as u64);
                    break frame.map_or("close without code".to_owned(), |frame| {
                        format!("close {}", u16::from(frame.code))
                    });
                }
                Ok(Some(Ok(_))) => {}
            }
        };
        writer.abort();
        *endings.entry(ending).or_default() += 1;
        tokio::time::sleep(pause).await;
    }
    (endings, to_close)
}
