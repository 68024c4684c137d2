//! `plenary-loadtest`: simulated people against a Plenary server, over the real protocol.
//!
//! Scenarios (subcommands): `chat-fanout` (with `--baseline`, the same workload against the
//! bare axum + tokio broadcast stack in `plenary-baseline`, side by side), `connections`,
//! `qa-storm`, `join-storm`; `slow-consumer` and `flood` (chat-fanout beside stuck readers or
//! flooding connections, compared with a run without them); `crash` (kill -9 and restart
//! mid-run, then check the log); `post-storm` (posting as fast as acks come); `sfu` (media
//! through the SFU). Each shows progress, ends by itself (bounded in count and time), writes
//! a JSON result and prints a markdown table; `--plot` draws latency.
//!
//! Without `--url` the loadtest starts the server itself: the `plenary` binary next to its
//! own executable (or `--server-bin`) on 127.0.0.1:0 with a temporary data directory, and
//! reads its CPU time and memory from /proc.

mod client;
mod crash;
mod crowd;
mod fanout;
mod misbehave;
mod qa;
mod raw;
mod report;
mod server;
mod sfu;

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::client::Clock;
use crate::report::{Report, count, mib};
use crate::server::{Kind, LocalServer};

/// Simulated attendees against a Plenary server.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct Common {
    /// A running server's WebSocket address (ws://HOST:PORT/ws). Without it the loadtest
    /// starts its own server on 127.0.0.1 with a temporary data directory. `chat-fanout`
    /// takes it repeated, one per node of a cluster: attendees go round-robin over them, and
    /// latency is reported per node too.
    #[arg(long, global = true)]
    url: Vec<String>,
    /// The `plenary` binary to start (default: next to this executable).
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// The `plenary-baseline` binary to start (default: next to this executable).
    #[arg(long, global = true)]
    baseline_bin: Option<PathBuf>,
    /// Where to write the JSON result (default: loadtest-SCENARIO.json).
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Draw latency over time and the latency distribution into this SVG file.
    #[arg(long, global = true)]
    plot: Option<PathBuf>,
    /// Another flag for the Plenary server the loadtest starts (repeat for several), e.g.
    /// `--server-arg=--no-group-commit`.
    #[arg(long, global = true, allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

#[derive(Subcommand)]
enum Scenario {
    /// N attendees in one room, P posting at R messages/s for D seconds.
    ChatFanout {
        #[command(flatten)]
        args: fanout::FanoutArgs,
        /// Run the same workload against the bare-stack baseline server too, afterwards.
        #[arg(long)]
        baseline: bool,
    },
    /// Ramp to N idle attendees joined to rooms; memory per connection.
    Connections(crowd::ConnectionsArgs),
    /// N attendees voting on M questions while moderators act.
    QaStorm(qa::QaArgs),
    /// N attendees connecting, saying hello and joining within a few seconds.
    JoinStorm(crowd::JoinStormArgs),
    /// chat-fanout plus K attendees that never read their socket; run first without them.
    SlowConsumer(misbehave::SlowArgs),
    /// chat-fanout plus F connections flooding frames, rate limits on; run first without them.
    Flood(misbehave::FloodArgs),
    /// Posters with client ids; the server is killed (SIGKILL) and restarted mid-run.
    Crash(crash::CrashArgs),
    /// P posters each sending the next message when the last is acknowledged.
    PostStorm(crash::PostStormArgs),
    /// One host publishing video and audio, V viewers subscribing one after another.
    Sfu(sfu::SfuArgs),
    /// One client process of `connections` (started by the loadtest itself).
    #[command(hide = true)]
    Worker(crowd::WorkerArgs),
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let fd_limit = server::raise_fd_limit();
    let clock = Clock::new();
    let command_line = std::env::args()
        .map(|arg| {
            if arg.contains(' ') {
                format!("'{arg}'")
            } else {
                arg
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let common = &cli.common;
    let (name, report) = match &cli.scenario {
        Scenario::Worker(args) => {
            let Some(url) = common.url.first() else {
                bail!("worker needs --url");
            };
            return crowd::worker(url, args).await;
        }
        Scenario::ChatFanout { args, baseline } => {
            let (local, urls) = if common.url.len() > 1 {
                (None, common.url.clone())
            } else {
                let (local, url) = target(common, Kind::Plenary)?;
                (local, vec![url])
            };
            let pid = local.as_ref().map(LocalServer::pid);
            let plenary = fanout::run(&urls, Kind::Plenary, pid, args, clock).await?;
            drop(local);
            let base = if *baseline {
                let binary = server::find_binary(Kind::Baseline, common.baseline_bin.as_deref())?;
                let local = LocalServer::start(Kind::Baseline, &binary, &[], true)?;
                let urls = [local.url.clone()];
                let result =
                    fanout::run(&urls, Kind::Baseline, Some(local.pid()), args, clock).await?;
                Some(result)
            } else {
                None
            };
            if let Some(path) = &common.plot {
                let mut runs = vec![("plenary", &plenary.latency)];
                if let Some(base) = &base {
                    runs.push(("baseline (axum + broadcast)", &base.latency));
                }
                let title = format!(
                    "chat-fanout: {} attendees, {} msg/s, {} B",
                    args.attendees, args.rate, args.size
                );
                report::plot(path, &title, &runs)?;
            }
            ("chat-fanout", fanout_report(args, &plenary, base.as_ref()))
        }
        Scenario::SlowConsumer(args) => {
            let binary = local_only(common)?;
            let runs = misbehave::slow_consumer(&binary, &common.server_arg, args, clock).await?;
            if let Some(path) = &common.plot {
                let lines = runs.iter().map(|r| {
                    let label = format!("{} stuck (round {})", r.stuck, r.round);
                    (label, &r.fanout.latency)
                });
                plot_labelled(path, "slow-consumer: healthy attendees' latency", lines)?;
            }
            ("slow-consumer", slow_report(args, &runs))
        }
        Scenario::Flood(args) => {
            let binary = local_only(common)?;
            let runs = misbehave::flood(&binary, &common.server_arg, args, clock).await?;
            if let Some(path) = &common.plot {
                let lines = runs.iter().map(|r| {
                    let label = format!("{} flooders (round {})", r.flooders, r.round);
                    (label, &r.fanout.latency)
                });
                plot_labelled(path, "flood: healthy attendees' latency", lines)?;
            }
            ("flood", flood_report(args, &runs))
        }
        Scenario::Crash(args) => {
            let binary = local_only(common)?;
            let result = crash::crash(&binary, &common.server_arg, args, clock).await?;
            ("crash", crash_report(args, &result))
        }
        Scenario::PostStorm(args) => {
            let (local, url) = target(common, Kind::Plenary)?;
            let pid = local.as_ref().map(LocalServer::pid);
            let result = crash::post_storm(&url, pid, args, clock).await?;
            let rows = vec![
                row(
                    "posters (one message in flight each)",
                    count(result.posters as u64),
                ),
                row("server flags", format!("{:?}", common.server_arg)),
                row("seconds", format!("{:.2}", result.seconds)),
                row("messages acked", count(result.acked)),
                row("acked messages/s", format!("{:.0}", result.acked_per_sec)),
                row(
                    "deliveries/s (to the posters)",
                    format!("{:.0}", result.deliveries_per_sec),
                ),
                row(
                    "ack latency p50 / p99 / p99.9 / max",
                    result.ack_latency.cell(),
                ),
                row(
                    "server CPU-s (per 1,000 acked)",
                    match (
                        result.server_cpu_seconds,
                        result.server_cpu_per_thousand_acked,
                    ) {
                        (Some(cpu), Some(per)) => format!("{cpu:.2} ({per:.3})"),
                        _ => "n/a".to_owned(),
                    },
                ),
                row("errors", format!("{:?}", result.errors)),
            ];
            ("post-storm", single("post-storm", rows, json!(result)))
        }
        Scenario::Connections(args) => {
            let (local, url) = target(common, Kind::Plenary)?;
            let pid = local.as_ref().map(LocalServer::pid);
            let result = crowd::connections(&url, pid, args, fd_limit).await?;
            let per = result
                .server_bytes_per_connection
                .map_or("n/a".into(), |bytes| format!("{:.1} KiB", bytes / 1024.0));
            let rows = vec![
                row("attendees asked", count(result.attendees)),
                row("joined", count(result.joined)),
                row("failed", count(result.failed)),
                row("rooms each", args.rooms.join(", ")),
                row(
                    "client processes (fd limit each)",
                    format!("{} ({})", result.client_processes, result.client_fd_limit),
                ),
                row("time to all joined", format!("{:.2} s", result.seconds)),
                row("connect rate", format!("{:.0} /s", result.connects_per_sec)),
                row(
                    "server RSS before → after",
                    format!(
                        "{} → {}",
                        result.server_rss_before_bytes.map_or("n/a".into(), mib),
                        result.server_rss_after_bytes.map_or("n/a".into(), mib)
                    ),
                ),
                row("server memory per connection", per),
                row(
                    "server peak RSS",
                    result.server_peak_rss_bytes.map_or("n/a".into(), mib),
                ),
            ];
            ("connections", single("connections", rows, json!(result)))
        }
        Scenario::QaStorm(args) => {
            let (local, url) = target(common, Kind::Plenary)?;
            let result = qa::run(&url, local.as_ref(), args).await?;
            let rows: Vec<_> = vec![
                row(
                    "attendees / questions / moderators",
                    format!(
                        "{} / {} / {}",
                        result.attendees, result.questions, result.moderators
                    ),
                ),
                row(
                    "votes sent / acked",
                    format!(
                        "{} / {}",
                        count(result.votes_sent),
                        count(result.votes_acked)
                    ),
                ),
                row(
                    "storm time (to the last ack)",
                    format!("{:.2} s", result.storm_seconds),
                ),
                row("votes/s", format!("{:.0}", result.votes_per_sec)),
                row(
                    "moderator actions acked",
                    count(result.moderator_actions_acked),
                ),
                row(
                    "question events delivered",
                    count(result.question_events_delivered),
                ),
                row(
                    "question events delivered/s (first vote to last event)",
                    format!("{:.0}", result.deliveries_per_sec),
                ),
                row(
                    "final vote counts exact",
                    if result.final_counts_exact {
                        "yes".to_owned()
                    } else {
                        format!("NO: {:?}", result.mismatches)
                    },
                ),
                row("rate_limited", count(result.rate_limited)),
                row("errors", format!("{:?}", result.errors)),
            ]
            .into_iter()
            .chain(server_rows(
                result.server_cpu_seconds,
                result.server_peak_rss_bytes,
            ))
            .collect();
            ("qa-storm", single("qa-storm", rows, json!(result)))
        }
        Scenario::JoinStorm(args) => {
            let (local, url) = target(common, Kind::Plenary)?;
            let pid = local.as_ref().map(LocalServer::pid);
            let result = crowd::join_storm(&url, pid, args, clock).await?;
            if let Some(path) = &common.plot {
                report::plot(
                    path,
                    "join-storm: connect to joined",
                    &[("join latency", &result.join_latency)],
                )?;
            }
            let rows: Vec<_> = vec![
                row(
                    "attendees (arriving over)",
                    format!("{} ({} s)", count(result.attendees), result.spread_seconds),
                ),
                row("joined", count(result.joined)),
                row("failed", count(result.failed)),
                row("errors", format!("{:?}", result.errors)),
                row(
                    "time to all joined",
                    format!("{:.2} s", result.seconds_to_all_joined),
                ),
                row(
                    "join latency p50 / p99 / p99.9 / max",
                    result.join_latency.cell(),
                ),
            ]
            .into_iter()
            .chain(server_rows(
                result.server_cpu_seconds,
                result.server_peak_rss_bytes,
            ))
            .collect();
            ("join-storm", single("join-storm", rows, json!(result)))
        }
        Scenario::Sfu(args) => {
            let (local, url) = target(common, Kind::Plenary)?;
            let result = sfu::run(&url, local.as_ref(), args).await?;
            let ms = |value: f64| format!("{value:.0} ms");
            let rows = vec![
                row(
                    "viewers (receiving)",
                    format!("{} ({})", result.viewers, result.receiving),
                ),
                row(
                    "rtc_subscribe → first video packet p50 / p90 / max",
                    format!(
                        "{} / {} / {}",
                        ms(result.first_packet_ms[0]),
                        ms(result.first_packet_ms[1]),
                        ms(result.first_packet_ms[2])
                    ),
                ),
                row(
                    "packets forwarded/s (all viewers)",
                    format!("{:.0}", result.packets_per_sec),
                ),
                row(
                    "delivered (by RTP sequence numbers)",
                    format!("{:.4}", result.delivered_ratio),
                ),
                row(
                    "server CPU in the window",
                    result.server_cpu_seconds.map_or("n/a".into(), |cpu| {
                        format!("{cpu:.2} s of {:.1} s", result.window_seconds)
                    }),
                ),
                row(
                    "server CPU per forwarded packet",
                    result
                        .server_cpu_us_per_packet
                        .map_or("n/a".into(), |us| format!("{us:.1} µs")),
                ),
                row(
                    "server peak RSS",
                    result.server_peak_rss_bytes.map_or("n/a".into(), mib),
                ),
            ];
            ("sfu", single("sfu", rows, json!(result)))
        }
    };
    let mut report = report;
    if let serde_json::Value::Object(fields) = &mut report.json {
        fields.insert("command".into(), json!(command_line));
        fields.insert("client_fd_limit".into(), json!(fd_limit));
    }
    let path = common
        .json
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("loadtest-{name}.json")));
    report.write_json(&path)?;
    println!("{}", report.markdown());
    println!("`{command_line}`; JSON in {}", path.display());
    Ok(())
}

/// The server to load: the one at `--url`, or a local one started now.
fn target(common: &Common, kind: Kind) -> Result<(Option<LocalServer>, String)> {
    match common.url.as_slice() {
        [url] => Ok((None, url.clone())),
        [_, _, ..] => bail!("this scenario takes one --url"),
        [] => {
            let binary = server::find_binary(kind, common.server_bin.as_deref())?;
            let local = LocalServer::start(kind, &binary, &common.server_arg, true)?;
            let url = local.url.clone();
            eprintln!(
                "started {} (pid {}) at {url}",
                binary.display(),
                local.pid()
            );
            Ok((Some(local), url))
        }
    }
}

/// The `plenary` binary, for scenarios that start (and stop) their own servers.
fn local_only(common: &Common) -> Result<PathBuf> {
    if !common.url.is_empty() {
        bail!("this scenario starts its own servers: leave out --url");
    }
    server::find_binary(Kind::Plenary, common.server_bin.as_deref())
}

fn mib_or_na(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), mib)
}

/// Rows every "without / with" comparison shares: the healthy attendees' fan-out.
fn healthy_rows(runs: &[&fanout::FanoutResult]) -> Vec<(String, Vec<String>)> {
    let each = |f: &dyn Fn(&fanout::FanoutResult) -> String| runs.iter().map(|r| f(r)).collect();
    vec![
        (
            "healthy attendees connected (failed)".to_owned(),
            each(&|r| format!("{} ({})", count(r.attendees_connected), r.connect_failures)),
        ),
        (
            "messages sent / acked".to_owned(),
            each(&|r| format!("{} / {}", count(r.messages_sent), count(r.messages_acked))),
        ),
        (
            "expected / delivered".to_owned(),
            each(&|r| format!("{} / {}", count(r.expected_deliveries), count(r.delivered))),
        ),
        (
            "lost / duplicates / still queued at cutoff".to_owned(),
            each(&|r| {
                format!(
                    "{} / {} / {}",
                    count(r.lost),
                    count(r.duplicates),
                    count(r.pending_at_cutoff)
                )
            }),
        ),
        (
            "healthy connections closed by server".to_owned(),
            each(&|r| format!("{:?}", r.closed)),
        ),
        (
            "deliveries/s".to_owned(),
            each(&|r| format!("{:.0}", r.deliveries_per_sec)),
        ),
        (
            "fan-out latency p50 / p99 / p99.9 / max".to_owned(),
            each(&|r| r.latency.cell()),
        ),
        (
            "server CPU-s (load + drain)".to_owned(),
            each(&|r| {
                r.server_cpu_seconds
                    .map_or("n/a".into(), |cpu| format!("{cpu:.2}"))
            }),
        ),
        (
            "loadtest CPU-s".to_owned(),
            each(&|r| format!("{:.2}", r.loadtest_cpu_seconds)),
        ),
        (
            "server peak RSS".to_owned(),
            each(&|r| mib_or_na(r.server_peak_rss_bytes)),
        ),
        (
            "rate_limited / other errors".to_owned(),
            each(&|r| format!("{} / {:?}", r.rate_limited, r.errors)),
        ),
    ]
}

fn slow_report(args: &misbehave::SlowArgs, runs: &[misbehave::StuckResult]) -> Report {
    let fanouts: Vec<_> = runs.iter().map(|run| &run.fanout).collect();
    let each = |f: &dyn Fn(&misbehave::StuckResult) -> String| runs.iter().map(f).collect();
    let mut rows = vec![
        (
            "stuck attendees joined (SO_RCVBUF)".to_owned(),
            each(&|r| {
                format!(
                    "{} of {} ({} B)",
                    r.stuck_joined, r.stuck, args.stuck_rcvbuf
                )
            }),
        ),
        (
            "how stuck connections ended (read after the load)".to_owned(),
            each(&|r| format!("{:?}", r.endings)),
        ),
        (
            "events the stuck connections held".to_owned(),
            each(&|r| count(r.frames_read_at_end)),
        ),
    ];
    rows.extend(healthy_rows(&fanouts));
    rows.push((
        "server RSS: start → stuck joined → after load → stuck released".to_owned(),
        each(&|r| {
            format!(
                "{} → {} → {} → {}",
                mib_or_na(r.rss_start_bytes),
                mib_or_na(r.rss_before_load_bytes),
                mib_or_na(r.rss_after_load_bytes),
                mib_or_na(r.rss_after_release_bytes)
            )
        }),
    ));
    rows.push((
        "machine TCP socket memory: same four moments".to_owned(),
        each(&|r| {
            r.tcp_memory_bytes
                .iter()
                .map(|bytes| mib_or_na(*bytes))
                .collect::<Vec<_>>()
                .join(" → ")
        }),
    ));
    let f = &args.fanout;
    Report {
        title: format!(
            "slow-consumer: {} attendees, {} posters, {} msg/s for {} s",
            f.attendees, f.posters, f.rate, f.duration
        ),
        columns: runs
            .iter()
            .map(|r| format!("{} stuck (round {})", r.stuck, r.round))
            .collect(),
        rows,
        json: json!({ "scenario": "slow-consumer", "runs": runs }),
    }
}

fn flood_report(args: &misbehave::FloodArgs, runs: &[misbehave::FloodResult]) -> Report {
    let fanouts: Vec<_> = runs.iter().map(|run| &run.fanout).collect();
    let each = |f: &dyn Fn(&misbehave::FloodResult) -> String| runs.iter().map(f).collect();
    let mut rows = vec![
        (
            "flooding connections opened (frames written)".to_owned(),
            each(&|r| {
                format!(
                    "{} ({})",
                    count(r.flood_connections),
                    count(r.flood_frames_sent)
                )
            }),
        ),
        (
            "how flooding connections ended".to_owned(),
            each(&|r| format!("{:?}", r.flood_endings)),
        ),
        (
            "first flood frame → close or reset p50 / p99 / p99.9 / max".to_owned(),
            each(&|r| {
                if r.time_to_close.samples == 0 {
                    "–".to_owned()
                } else {
                    r.time_to_close.cell()
                }
            }),
        ),
    ];
    rows.extend(healthy_rows(&fanouts));
    let f = &args.fanout;
    Report {
        title: format!(
            "flood: {} attendees, {} posters, {} msg/s for {} s, rate limits on, flood frame {}",
            f.attendees, f.posters, f.rate, f.duration, args.flood_frame
        ),
        columns: runs
            .iter()
            .map(|r| format!("{} flooders (round {})", r.flooders, r.round))
            .collect(),
        rows,
        json: json!({ "scenario": "flood", "runs": runs }),
    }
}

fn crash_report(args: &crash::CrashArgs, r: &crash::CrashResult) -> Report {
    let rows = vec![
        row(
            "posters, rate, duration",
            format!(
                "{} posting {} msg/s for {} s, {} at a time",
                r.posters, args.rate, args.duration, args.burst
            ),
        ),
        row("kill -9 at", format!("{:.2} s", r.kill_at_seconds)),
        row(
            &if r.nodes == 1 {
                "restart (kill → listening again)".to_owned()
            } else {
                format!("failover, {} nodes (kill → another node ready)", r.nodes)
            },
            format!("{:.3} s", r.restart_seconds),
        ),
        row(
            "kill → all posters resumed",
            format!(
                "{:.3} s ({} resumed)",
                r.seconds_to_all_resumed, r.posters_resumed
            ),
        ),
        row(
            "messages sent (resent after restart)",
            format!("{} ({})", count(r.messages_sent), count(r.resent)),
        ),
        row(
            "resent already stored before the kill (ack id ≤ seq at restart)",
            format!(
                "{} (seq {})",
                count(r.resent_already_stored),
                count(r.seq_at_restart)
            ),
        ),
        row(
            "acked (before the kill)",
            format!("{} ({})", count(r.acked), count(r.acked_before_kill)),
        ),
        row(
            "present in the log after restart (of those acked before the kill)",
            format!(
                "{} ({})",
                count(r.present_after_restart),
                count(r.acked_before_kill_present)
            ),
        ),
        row("**lost acked messages**", count(r.lost_acked)),
        row("**duplicates**", count(r.duplicates)),
        row("sent, never acked, not in the log", count(r.never_acked)),
        row("retried acks with a different id", count(r.ack_id_changed)),
        row(
            "log read (events, resync)",
            format!("{} ({})", count(r.log_events_read), r.log_resync),
        ),
        row("errors", format!("{:?}", r.errors)),
    ];
    single("crash", rows, json!(r))
}

/// Plot one latency line per run, each under its own label.
fn plot_labelled<'a>(
    path: &std::path::Path,
    title: &str,
    runs: impl Iterator<Item = (String, &'a report::Latency)>,
) -> Result<()> {
    let runs: Vec<(String, &report::Latency)> = runs.collect();
    let lines: Vec<(&str, &report::Latency)> = runs
        .iter()
        .map(|(label, latency)| (label.as_str(), *latency))
        .collect();
    report::plot(path, title, &lines)
}

/// The server's CPU time and peak memory, where the loadtest could read them.
fn server_rows(cpu_seconds: Option<f64>, peak_rss: Option<u64>) -> [(String, Vec<String>); 2] {
    [
        row(
            "server CPU",
            cpu_seconds.map_or("n/a".into(), |cpu| format!("{cpu:.2} s")),
        ),
        row("server peak RSS", peak_rss.map_or("n/a".into(), mib)),
    ]
}

fn row(name: &str, value: String) -> (String, Vec<String>) {
    (name.to_owned(), vec![value])
}

fn single(title: &str, rows: Vec<(String, Vec<String>)>, json: serde_json::Value) -> Report {
    Report {
        title: title.to_owned(),
        columns: vec!["value".to_owned()],
        rows,
        json: json!({ "scenario": title, "result": json }),
    }
}

/// The chat-fanout table: Plenary, and the baseline with the ratio beside it.
fn fanout_report(
    args: &fanout::FanoutArgs,
    plenary: &fanout::FanoutResult,
    base: Option<&fanout::FanoutResult>,
) -> Report {
    let cells = |f: &dyn Fn(&fanout::FanoutResult) -> String| -> Vec<String> {
        let mut cells = vec![f(plenary)];
        if let Some(base) = base {
            cells.push(f(base));
            cells.push(String::new());
        }
        cells
    };
    let ratio = |f: &dyn Fn(&fanout::FanoutResult) -> f64, label: &str| {
        let mut cells = vec![];
        let value = f(plenary);
        cells.push(format!("{value:.0}{label}"));
        if let Some(base) = base {
            let baseline = f(base);
            cells.push(format!("{baseline:.0}{label}"));
            cells.push(format!("{:.2}×", value / baseline.max(1e-9)));
        }
        cells
    };
    let mut rows = vec![
        (
            "attendees connected (failed)".to_owned(),
            cells(&|r| format!("{} ({})", count(r.attendees_connected), r.connect_failures)),
        ),
        (
            "posters, offered rate".to_owned(),
            cells(&|_| {
                format!(
                    "{} posting {} msg/s of {} B for {} s",
                    args.posters, args.rate, args.size, args.duration
                )
            }),
        ),
        (
            "messages sent / acked".to_owned(),
            cells(&|r| format!("{} / {}", count(r.messages_sent), count(r.messages_acked))),
        ),
        (
            "offered deliveries/s".to_owned(),
            cells(&|r| format!("{:.0}", r.offered_deliveries_per_sec)),
        ),
        (
            "deliveries/s".to_owned(),
            ratio(&|r| r.deliveries_per_sec, ""),
        ),
        (
            "expected / delivered".to_owned(),
            cells(&|r| format!("{} / {}", count(r.expected_deliveries), count(r.delivered))),
        ),
        (
            "lost / duplicates / still queued at cutoff".to_owned(),
            cells(&|r| {
                format!(
                    "{} / {} / {}",
                    count(r.lost),
                    count(r.duplicates),
                    count(r.pending_at_cutoff)
                )
            }),
        ),
        (
            "connections closed by server".to_owned(),
            cells(&|r| format!("{:?}", r.closed)),
        ),
        (
            "fan-out latency p50 / p99 / p99.9 / max".to_owned(),
            cells(&|r| r.latency.cell()),
        ),
        (
            "… of the attendees of each node".to_owned(),
            cells(&|r| {
                r.latency_by_node
                    .iter()
                    .map(|(url, latency)| format!("{url}: {}", latency.cell()))
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
        ),
        (
            "server CPU-seconds per million deliveries".to_owned(),
            cells(&|r| {
                r.server_cpu_seconds_per_million
                    .map_or("n/a".into(), |cpu| format!("{cpu:.3}"))
            }),
        ),
        (
            "server CPU-seconds (load + drain)".to_owned(),
            cells(&|r| {
                r.server_cpu_seconds
                    .map_or("n/a".into(), |cpu| format!("{cpu:.2}"))
            }),
        ),
        (
            "loadtest CPU-seconds".to_owned(),
            cells(&|r| format!("{:.2}", r.loadtest_cpu_seconds)),
        ),
        (
            "server peak RSS".to_owned(),
            cells(&|r| r.server_peak_rss_bytes.map_or("n/a".into(), mib)),
        ),
        (
            "rate_limited / other errors".to_owned(),
            cells(&|r| format!("{} / {:?}", r.rate_limited, r.errors)),
        ),
    ];
    if let (Some(plenary_cpu), Some(base_cpu)) = (
        plenary.server_cpu_seconds_per_million,
        base.and_then(|base| base.server_cpu_seconds_per_million),
    ) {
        rows[9].1[2] = format!("{:.2}×", plenary_cpu / base_cpu.max(1e-9));
    }
    let mut columns = vec!["plenary".to_owned()];
    if base.is_some() {
        columns.push("baseline (axum + broadcast)".to_owned());
        columns.push("plenary ÷ baseline".to_owned());
    }
    Report {
        title: format!(
            "chat-fanout: {} attendees, {} msg/s",
            args.attendees, args.rate
        ),
        columns,
        rows,
        json: json!({ "scenario": "chat-fanout", "plenary": plenary, "baseline": base }),
    }
}
