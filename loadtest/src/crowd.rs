//! `connections` (ramp to N idle, joined attendees and measure the server's memory per
//! connection) and `join-storm` (N attendees connecting, saying hello and joining within a
//! few seconds, as when a keynote starts).
//!
//! One process may hold only as many sockets as its file-descriptor limit allows (the soft
//! limit is raised to the hard one at start). `connections` beyond `--per-process` runs
//! several client processes: this same executable's hidden `worker` command, each holding
//! its share of attendees until the parent closes its stdin.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use futures_util::stream;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::client::{self, Clock, Socket};
use crate::report::{self, Latency};
use crate::server;

#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionsArgs {
    /// Idle attendees to hold.
    #[arg(long, default_value_t = 15_000)]
    pub attendees: usize,
    /// Rooms each attendee joins (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "main-stage")]
    pub rooms: Vec<String>,
    /// Connections being set up at once (per client process).
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// Attendees per client process; more attendees than this run several processes.
    #[arg(long, default_value_t = 18_000)]
    pub per_process: usize,
    /// Client processes (default: as many as `--per-process` requires).
    #[arg(long)]
    pub processes: Option<usize>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

/// The hidden `worker` command's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    pub first: usize,
    #[arg(long)]
    pub count: usize,
    #[arg(long, value_delimiter = ',')]
    pub rooms: Vec<String>,
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
}

/// What a batch of attendees did.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ramp {
    pub joined: u64,
    pub failed: u64,
    pub errors: BTreeMap<String, u64>,
    pub seconds: f64,
}

/// Connect, hello and join `count` attendees, keeping the sockets.
async fn ramp(
    url: &str,
    first: usize,
    count: usize,
    rooms: &[String],
    concurrency: usize,
    bar: Option<&ProgressBar>,
) -> (Vec<Socket>, Ramp) {
    let started = Instant::now();
    let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
    let rooms = &rooms;
    let mut attempts = stream::iter(first..first + count)
        .map(|n| async move { client::attend(url, &format!("Idle {n}"), None, rooms).await })
        .buffer_unordered(concurrency.max(1));
    let mut sockets = Vec::with_capacity(count);
    let mut outcome = Ramp::default();
    while let Some(attempt) = attempts.next().await {
        if let Some(bar) = bar {
            bar.inc(1);
        }
        match attempt {
            Ok((socket, _)) => sockets.push(socket),
            Err(error) => {
                outcome.failed += 1;
                *outcome.errors.entry(error_kind(&error)).or_default() += 1;
            }
        }
    }
    outcome.joined = sockets.len() as u64;
    outcome.seconds = started.elapsed().as_secs_f64();
    (sockets, outcome)
}

/// A short, countable description of why an attendee failed.
fn error_kind(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    text.chars().take(80).collect()
}

/// The `worker` command: ramp, print the outcome as one JSON line, hold until stdin closes.
pub async fn worker(url: &str, args: &WorkerArgs) -> Result<()> {
    let (sockets, outcome) = ramp(
        url,
        args.first,
        args.count,
        &args.rooms,
        args.connect_concurrency,
        None,
    )
    .await;
    println!("{}", serde_json::to_string(&outcome)?);
    let _ = tokio::task::spawn_blocking(|| {
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest)
    })
    .await;
    drop(sockets);
    Ok(())
}

/// The `connections` result.
#[derive(Debug, Serialize)]
pub struct ConnectionsResult {
    pub attendees: u64,
    pub joined: u64,
    pub failed: u64,
    pub errors: BTreeMap<String, u64>,
    pub client_processes: usize,
    pub client_fd_limit: u64,
    pub seconds: f64,
    pub connects_per_sec: f64,
    pub server_rss_before_bytes: Option<u64>,
    pub server_rss_after_bytes: Option<u64>,
    pub server_peak_rss_bytes: Option<u64>,
    pub server_bytes_per_connection: Option<f64>,
}

pub async fn connections(
    url: &str,
    pid: Option<u32>,
    args: &ConnectionsArgs,
    fd_limit: u64,
) -> Result<ConnectionsResult> {
    let processes = args
        .processes
        .unwrap_or_else(|| args.attendees.div_ceil(args.per_process.max(1)))
        .max(1);
    eprintln!(
        "connections: {} idle attendees in {} client process(es) against {url}",
        args.attendees, processes
    );
    server::settle().await;
    let before = pid.map(|pid| server::sample(Some(pid))).transpose()?;
    let started = Instant::now();
    let deadline = Duration::from_secs(args.timeout);
    let bar = ProgressBar::new(args.attendees as u64).with_style(
        ProgressStyle::with_template("joining {bar:40} {pos}/{len} {per_sec}")
            .expect("the template is valid"),
    );
    let mut held = Vec::new();
    let mut children = Vec::new();
    let mut total = Ramp::default();
    if processes == 1 {
        let (sockets, outcome) = tokio::time::timeout(
            deadline,
            ramp(
                url,
                0,
                args.attendees,
                &args.rooms,
                args.connect_concurrency,
                Some(&bar),
            ),
        )
        .await
        .context("timed out")?;
        held = sockets;
        total = outcome;
    } else {
        let me = std::env::current_exe()?;
        let share = args.attendees.div_ceil(processes);
        let mut readers = Vec::new();
        for index in 0..processes {
            let first = index * share;
            let count = share.min(args.attendees.saturating_sub(first));
            let mut child = tokio::process::Command::new(&me)
                .arg("--url")
                .arg(url)
                .arg("worker")
                .arg("--first")
                .arg(first.to_string())
                .arg("--count")
                .arg(count.to_string())
                .arg("--rooms")
                .arg(args.rooms.join(","))
                .arg("--connect-concurrency")
                .arg(args.connect_concurrency.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .context("cannot start a client process")?;
            let stdout = child.stdout.take().context("no stdout")?;
            readers.push(BufReader::new(stdout).lines());
            children.push(child);
        }
        for mut lines in readers {
            let line = tokio::time::timeout(deadline, lines.next_line())
                .await
                .context("a client process timed out")??
                .context("a client process exited early")?;
            let outcome: Ramp = serde_json::from_str(&line)?;
            bar.inc(outcome.joined + outcome.failed);
            total.joined += outcome.joined;
            total.failed += outcome.failed;
            for (kind, n) in outcome.errors {
                *total.errors.entry(kind).or_default() += n;
            }
        }
        total.seconds = started.elapsed().as_secs_f64();
    }
    bar.finish_and_clear();
    server::settle().await;
    let after = pid.map(|pid| server::sample(Some(pid))).transpose()?;
    // Release the attendees: in-process sockets drop; workers end when stdin closes.
    drop(held);
    for mut child in children {
        drop(child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    }
    let per_connection = before.zip(after).map(|(before, after)| {
        after.rss.saturating_sub(before.rss) as f64 / total.joined.max(1) as f64
    });
    Ok(ConnectionsResult {
        attendees: args.attendees as u64,
        joined: total.joined,
        failed: total.failed,
        errors: total.errors,
        client_processes: processes,
        client_fd_limit: fd_limit,
        seconds: total.seconds,
        connects_per_sec: total.joined as f64 / total.seconds.max(1e-9),
        server_rss_before_bytes: before.map(|s| s.rss),
        server_rss_after_bytes: after.map(|s| s.rss),
        server_peak_rss_bytes: after.map(|s| s.peak_rss),
        server_bytes_per_connection: per_connection,
    })
}

#[derive(Debug, Clone, clap::Args)]
pub struct JoinStormArgs {
    /// Attendees arriving.
    #[arg(long, default_value_t = 5_000)]
    pub attendees: usize,
    /// Seconds over which their arrivals are spread evenly.
    #[arg(long, default_value_t = 1.0)]
    pub spread: f64,
    /// The room they join.
    #[arg(long, default_value = "main-stage")]
    pub room: String,
    /// Give up on an attendee not joined after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

#[derive(Debug, Serialize)]
pub struct JoinStormResult {
    pub attendees: u64,
    pub joined: u64,
    pub failed: u64,
    pub errors: BTreeMap<String, u64>,
    pub spread_seconds: f64,
    /// From the first arrival to the last `joined`.
    pub seconds_to_all_joined: f64,
    /// Each attendee's time from starting to connect to `joined`.
    pub join_latency: Latency,
    pub server_cpu_seconds: Option<f64>,
    pub server_peak_rss_bytes: Option<u64>,
}

pub async fn join_storm(
    url: &str,
    pid: Option<u32>,
    args: &JoinStormArgs,
    clock: Clock,
) -> Result<JoinStormResult> {
    if args.attendees == 0 {
        bail!("--attendees must be at least 1");
    }
    eprintln!(
        "join-storm: {} attendees over {} s against {url}",
        args.attendees, args.spread
    );
    let before = pid.map(|pid| server::sample(Some(pid))).transpose()?;
    let start = clock.nanos() + 200_000_000;
    let bar = ProgressBar::new(args.attendees as u64).with_style(
        ProgressStyle::with_template("joined {bar:40} {pos}/{len} {per_sec}")
            .expect("the template is valid"),
    );
    let deadline = Duration::from_secs(args.timeout);
    let tasks: Vec<_> = (0..args.attendees)
        .map(|n| {
            let url = url.to_owned();
            let room = args.room.clone();
            let arrival = start + (args.spread * 1e9 * n as f64 / args.attendees as f64) as u64;
            let bar = bar.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(clock.at(arrival).into()).await;
                let began = clock.nanos();
                let outcome = tokio::time::timeout(
                    deadline,
                    client::attend(&url, &format!("Storm {n}"), None, &[&room]),
                )
                .await
                .map_err(|_| anyhow::anyhow!("timed out"))
                .and_then(|result| result);
                let finished = clock.nanos();
                bar.inc(1);
                outcome.map(|(socket, _)| (socket, began, finished))
            })
        })
        .collect();
    let mut sockets = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut latency = report::histogram();
    let mut last = start;
    let mut failed = 0;
    for task in tasks {
        match task.await? {
            Ok((socket, began, finished)) => {
                report::record(&mut latency, finished.saturating_sub(began) / 1_000);
                last = last.max(finished);
                sockets.push(socket);
            }
            Err(error) => {
                failed += 1;
                *errors.entry(error_kind(&error)).or_default() += 1;
            }
        }
    }
    bar.finish_and_clear();
    let after = pid.map(|pid| server::sample(Some(pid))).transpose()?;
    let joined = sockets.len() as u64;
    drop(sockets);
    Ok(JoinStormResult {
        attendees: args.attendees as u64,
        joined,
        failed,
        errors,
        spread_seconds: args.spread,
        seconds_to_all_joined: last.saturating_sub(start) as f64 / 1e9,
        join_latency: Latency::from(&latency, &[]),
        server_cpu_seconds: before
            .zip(after)
            .map(|(before, after)| (after.cpu - before.cpu).as_secs_f64()),
        server_peak_rss_bytes: after.map(|s| s.peak_rss),
    })
}
