//! `sfu`: one host publishes synthetic media through the SFU — VP8 at 30 frames a second
//! (1,200-byte frames) and Opus every 20 ms — and viewers subscribe one after another, each
//! arriving while the media is already flowing (a late joiner). Measures, per viewer, the
//! time from `rtc_subscribe` to its first video packet; the packets forwarded per second in a
//! steady window and the server's CPU per forwarded packet; and loss, from the RTP sequence
//! numbers each viewer saw.
//!
//! The viewers are webrtc-rs peers in this process: on a shared machine they cost about as
//! much CPU as the server, which bounds how many one run can hold.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures_util::StreamExt;
use plenary_loadtest::media::{self, PeerSettings, Source};
use plenary_protocol::{ClientMessage, PcKind, ServerMessage};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtp_transceiver::rtp_codec::RTPCodecType;

use crate::client::{self, Socket};
use crate::server::{self, LocalServer};

/// How long a peer waits for its candidates before sending what it has.
const GATHERING: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug)]
pub struct SfuArgs {
    /// Viewers, subscribing one after another.
    #[arg(long, default_value_t = 20)]
    pub viewers: usize,
    /// Seconds of steady forwarding measured once every viewer receives.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// The room.
    #[arg(long, default_value = "main-stage")]
    pub room: String,
    /// A host's or moderator's personal token, for a server the loadtest did not start.
    #[arg(long)]
    pub publisher_token: Option<String>,
    /// Gather and use 127.0.0.1 only (as a server listening on 127.0.0.1 does).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub loopback: bool,
}

#[derive(Debug, Serialize)]
pub struct SfuResult {
    pub viewers: usize,
    /// Viewers that received video before the deadline.
    pub receiving: usize,
    /// Milliseconds from `rtc_subscribe` to the first video packet: p50, p90, max.
    pub first_packet_ms: [f64; 3],
    pub window_seconds: f64,
    /// Packets (video and audio) all viewers received per second in the window.
    pub packets_per_sec: f64,
    /// Packets received over packets the sequence numbers say were sent to the viewers.
    pub delivered_ratio: f64,
    pub server_cpu_seconds: Option<f64>,
    /// Server CPU time per packet forwarded to one viewer, in the window.
    pub server_cpu_us_per_packet: Option<f64>,
    pub server_peak_rss_bytes: Option<u64>,
}

/// A client-side peer connection, as the loadtest's peers have it.
async fn peer_connection(loopback: bool) -> Result<Arc<RTCPeerConnection>> {
    media::peer_connection(PeerSettings {
        loopback,
        see_repairs: false,
    })
    .await
}

/// What one viewer saw: packets per SSRC with the highest extended sequence number.
#[derive(Default)]
struct Seen {
    /// (first extended seq, last extended seq, packets) per SSRC.
    streams: HashMap<u32, (u64, u64, u64)>,
}

/// Everything the viewers count together.
struct Counters {
    packets: AtomicU64,
}

struct Viewer {
    subscribed: Instant,
    first_video: Arc<OnceLock<Instant>>,
    seen: Arc<Mutex<Seen>>,
    _pc: Arc<RTCPeerConnection>,
}

pub async fn run(url: &str, local: Option<&LocalServer>, args: &SfuArgs) -> Result<SfuResult> {
    let pid = local.map(LocalServer::pid);
    let token = match (&args.publisher_token, local) {
        (Some(token), _) => token.clone(),
        (None, Some(local)) => local.moderator_token("Loadtest host")?,
        (None, None) => {
            bail!("--publisher-token is needed for a server the loadtest did not start")
        }
    };
    eprintln!(
        "sfu: 1 publisher, {} viewers in {} against {url}",
        args.viewers, args.room
    );
    let room = args.room.as_str();

    // The publisher.
    let (mut socket, _) = client::attend(url, "", Some(&token), &[room]).await?;
    let pc = peer_connection(args.loopback).await?;
    let sources = [Source::camera("loadtest"), Source::microphone("loadtest")];
    for source in &sources {
        pc.add_track(source.track()).await?;
    }
    let sdp = media::offer(&pc, GATHERING).await?;
    client::send(
        &mut socket,
        &ClientMessage::RtcPublish {
            room: room.to_owned(),
            sdp,
            sources: Default::default(),
        },
    )
    .await?;
    let ServerMessage::RtcAnswer { sdp, .. } = client::expect(&mut socket, "rtc_answer").await?
    else {
        bail!("expected rtc_answer");
    };
    pc.set_remote_description(RTCSessionDescription::answer(sdp)?)
        .await?;
    let senders = sources.map(Source::send);
    let publisher_socket = tokio::spawn(drain(socket));

    // The viewers, one after another.
    let counters = Arc::new(Counters {
        packets: AtomicU64::new(0),
    });
    let mut viewers = Vec::with_capacity(args.viewers);
    let mut signalling = Vec::with_capacity(args.viewers);
    for index in 0..args.viewers {
        let (viewer, task) = subscribe(url, room, index, args.loopback, &counters).await?;
        viewers.push(viewer);
        signalling.push(task);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while viewers
        .iter()
        .any(|viewer| viewer.first_video.get().is_none())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut first: Vec<f64> = viewers
        .iter()
        .filter_map(|viewer| {
            viewer
                .first_video
                .get()
                .map(|at| at.duration_since(viewer.subscribed).as_secs_f64() * 1_000.0)
        })
        .collect();
    first.sort_by(f64::total_cmp);
    let percentile = |p: f64| -> f64 {
        if first.is_empty() {
            return f64::NAN;
        }
        let index = ((first.len() - 1) as f64 * p).round() as usize;
        first[index]
    };

    // The steady window.
    let before = server::sample(pid).ok().filter(|_| pid.is_some());
    let packets_before = counters.packets.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let window = started.elapsed().as_secs_f64();
    let packets = counters.packets.load(Ordering::Relaxed) - packets_before;
    let after = server::sample(pid).ok().filter(|_| pid.is_some());
    let cpu = before
        .zip(after)
        .map(|(before, after)| (after.cpu - before.cpu).as_secs_f64());

    let (mut received, mut expected) = (0u64, 0u64);
    for viewer in &viewers {
        for (first, last, count) in lock(&viewer.seen).streams.values() {
            received += count;
            expected += last - first + 1;
        }
    }
    for task in signalling {
        task.abort();
    }
    for sender in senders {
        sender.abort();
    }
    publisher_socket.abort();
    Ok(SfuResult {
        viewers: args.viewers,
        receiving: first.len(),
        first_packet_ms: [percentile(0.5), percentile(0.9), percentile(1.0)],
        window_seconds: window,
        packets_per_sec: packets as f64 / window,
        delivered_ratio: if expected == 0 {
            0.0
        } else {
            received as f64 / expected as f64
        },
        server_cpu_seconds: cpu,
        server_cpu_us_per_packet: cpu
            .filter(|_| packets > 0)
            .map(|cpu| cpu * 1e6 / packets as f64),
        server_peak_rss_bytes: after.map(|sample| sample.peak_rss),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Read and drop what the server sends (answering its pings).
async fn drain(mut socket: Socket) {
    while let Some(Ok(_)) = socket.next().await {}
}

async fn subscribe(
    url: &str,
    room: &str,
    index: usize,
    loopback: bool,
    counters: &Arc<Counters>,
) -> Result<(Viewer, tokio::task::JoinHandle<()>)> {
    let (mut socket, _) = client::attend(url, &format!("Viewer {index}"), None, &[room]).await?;
    let pc = peer_connection(loopback).await?;
    let first_video = Arc::new(OnceLock::new());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (first, streams, counters) = (
        Arc::clone(&first_video),
        Arc::clone(&seen),
        Arc::clone(counters),
    );
    pc.on_track(Box::new(move |remote, _, _| {
        let (first, streams, counters) = (
            Arc::clone(&first),
            Arc::clone(&streams),
            Arc::clone(&counters),
        );
        tokio::spawn(async move {
            let video = remote.kind() == RTPCodecType::Video;
            let mut last: Option<u64> = None;
            while let Ok((packet, _)) = remote.read_rtp().await {
                if video {
                    let _ = first.set(Instant::now());
                }
                counters.packets.fetch_add(1, Ordering::Relaxed);
                // Extend the 16-bit sequence number across wraps.
                let seq = u64::from(packet.header.sequence_number);
                let extended = match last {
                    None => seq + (1 << 16),
                    Some(last) => {
                        let base = last & !0xFFFF;
                        let mut candidate = base | seq;
                        if candidate + 0x8000 < last {
                            candidate += 1 << 16;
                        } else if candidate > last + 0x8000 {
                            candidate -= 1 << 16;
                        }
                        candidate
                    }
                };
                last = Some(last.map_or(extended, |last| last.max(extended)));
                let mut seen = lock(&streams);
                let entry = seen
                    .streams
                    .entry(packet.header.ssrc)
                    .or_insert((extended, extended, 0));
                entry.0 = entry.0.min(extended);
                entry.1 = entry.1.max(extended);
                entry.2 += 1;
            }
        });
        Box::pin(async {})
    }));
    let subscribed = Instant::now();
    client::send(
        &mut socket,
        &ClientMessage::RtcSubscribe {
            room: room.to_owned(),
        },
    )
    .await?;
    let answerer = Arc::clone(&pc);
    let room = room.to_owned();
    let task = tokio::spawn(async move {
        while let Some(Ok(frame)) = socket.next().await {
            let Message::Text(text) = frame else { continue };
            if !text.starts_with("{\"type\":\"rtc_offer\"") {
                continue;
            }
            let Ok(ServerMessage::RtcOffer { sdp, .. }) = serde_json::from_str(text.as_str())
            else {
                continue;
            };
            let answered = async {
                let sdp = media::answer(&answerer, sdp, GATHERING).await?;
                let message = ClientMessage::RtcAnswer {
                    room: room.clone(),
                    pc: PcKind::Subscribe,
                    sdp,
                };
                client::send(&mut socket, &message).await
            };
            if let Err(error) = answered.await {
                eprintln!("a viewer could not answer: {error:#}");
                return;
            }
        }
    });
    Ok((
        Viewer {
            subscribed,
            first_video,
            seen,
            _pc: pc,
        },
        task,
    ))
}
