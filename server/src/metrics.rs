//! What the server counts, for `GET /metrics` in the Prometheus text format: [`Metrics`], the
//! handles the layers count with, and [`Metrics::render`] with what is sampled when scraped.
//!
//! Each server has a registry of its own (a `metrics-exporter-prometheus` recorder that is
//! never installed as the process's global one), so that several servers in one process (the
//! end-to-end tests) never count into each other. Handles are registered once, where their
//! owner starts (a room's when its task starts), and counting through one is one relaxed
//! atomic operation.
//!
//! Cheap on the hot path: nothing is counted per delivery to a connection. A room counts its
//! events and their deliveries once per turn (events × the members that may see them); the
//! SFU counts forwarded packets per track in batches of [`PACKETS_PER_REPORT`]; the outbox
//! depths, the SFU's viewers and tracks and the process's memory are sampled when `/metrics`
//! is read. A leaf: it imports the metrics crates and the protocol's close codes only.

use std::sync::Arc;

use ::metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The histogram of durable commits, in seconds.
const COMMIT_SECONDS: &str = "plenary_commit_seconds";
/// Its buckets: a commit with a full fsync takes from a fraction of a millisecond (a fast
/// SSD) to tens of milliseconds (a busy disk, a cluster's quorum).
const COMMIT_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Packets a forwarded track counts locally before it adds them to
/// `plenary_sfu_packets_total`.
pub const PACKETS_PER_REPORT: u64 = 64;

/// Every metric: its name, kind, unit and help text.
const DESCRIPTIONS: &[(&str, Kind, Option<Unit>, &str)] = &[
    (
        "plenary_connections",
        Kind::Gauge,
        None,
        "WebSocket connections open now.",
    ),
    (
        "plenary_connections_opened_total",
        Kind::Counter,
        None,
        "WebSocket connections opened.",
    ),
    (
        "plenary_connections_closed_total",
        Kind::Counter,
        None,
        "WebSocket connections closed, by reason: lagged (a slow reader fell out of its \
         outbox or a room's feed, 4008), idle (no answer to pings, 4002), policy, too_large, \
         protocol, server_error, restarting, normal, dropped (the socket failed first).",
    ),
    (
        "plenary_rate_limited_total",
        Kind::Counter,
        None,
        "Messages refused as rate_limited, by limit (frame: the connection's frame \
         allowance; chat, ask, vote, react: the person's).",
    ),
    (
        "plenary_room_joined",
        Kind::Gauge,
        None,
        "Connections joined to each room (a person with two tabs counts twice).",
    ),
    (
        "plenary_room_events_total",
        Kind::Counter,
        None,
        "Events and broadcasts each room appended to its feed.",
    ),
    (
        "plenary_room_deliveries_total",
        Kind::Counter,
        None,
        "Frames of each room's feed for its members: per turn, the entries appended times \
         the members that may see them (all for public entries, staff for staff-only ones).",
    ),
    (
        COMMIT_SECONDS,
        Kind::Histogram,
        Some(Unit::Seconds),
        "Durable commits of the write path (one per group of rooms' batches).",
    ),
    (
        "plenary_outbox_frames",
        Kind::Gauge,
        None,
        "Items queued in the outboxes of all signed-in connections, sampled when scraped.",
    ),
    (
        "plenary_outbox_frames_max",
        Kind::Gauge,
        None,
        "Items queued in the fullest outbox of a signed-in connection, sampled when scraped.",
    ),
    (
        "plenary_http_requests_total",
        Kind::Counter,
        None,
        "HTTP requests by route (`*` for the web client's files and unknown paths) and status.",
    ),
    (
        "plenary_sfu_publishers",
        Kind::Gauge,
        None,
        "Connections publishing media, sampled when scraped.",
    ),
    (
        "plenary_sfu_tracks",
        Kind::Gauge,
        None,
        "Published tracks being forwarded, sampled when scraped.",
    ),
    (
        "plenary_sfu_viewers",
        Kind::Gauge,
        None,
        "Receiving peer connections (one per viewer and room), sampled when scraped.",
    ),
    (
        "plenary_sfu_packets_total",
        Kind::Counter,
        None,
        "RTP packets read from publishers, each written once for all of its track's viewers.",
    ),
    (
        "process_resident_memory_bytes",
        Kind::Gauge,
        Some(Unit::Bytes),
        "The process's resident memory (VmRSS of /proc/self/status), sampled when scraped.",
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Where registrations say they come from (the exporter does not look).
static METADATA: Metadata<'static> = Metadata::new("plenary", ::metrics::Level::INFO, None);

/// One server's registry and the handles shared by several layers.
pub struct Metrics {
    recorder: metrics_exporter_prometheus::PrometheusRecorder,
    handle: PrometheusHandle,
    pub connections: Gauge,
    pub connections_opened: Counter,
    /// For the write path (`store::Persister`).
    pub commit_seconds: Histogram,
    /// For the SFU's forwarded tracks.
    pub packets_forwarded: Counter,
    outbox_frames: Gauge,
    outbox_frames_max: Gauge,
    sfu_publishers: Gauge,
    sfu_tracks: Gauge,
    sfu_viewers: Gauge,
    resident_memory: Gauge,
}

/// One room's handles, registered when its task starts.
pub struct RoomMetrics {
    pub joined: Gauge,
    pub events: Counter,
    pub deliveries: Counter,
}

/// What `/metrics` samples when it is read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sampled {
    /// Items queued in all signed-in connections' outboxes, and in the fullest one.
    pub outbox_frames: usize,
    pub outbox_frames_max: usize,
    pub sfu_publishers: usize,
    pub sfu_tracks: usize,
    pub sfu_viewers: usize,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(COMMIT_SECONDS.into()), COMMIT_BUCKETS)
            .expect("the commit buckets are not empty")
            .build_recorder();
        for &(name, kind, unit, help) in DESCRIPTIONS {
            let name = KeyName::from_const_str(name);
            match kind {
                Kind::Counter => recorder.describe_counter(name, unit, help.into()),
                Kind::Gauge => recorder.describe_gauge(name, unit, help.into()),
                Kind::Histogram => recorder.describe_histogram(name, unit, help.into()),
            }
        }
        let gauge = |name: &'static str| recorder.register_gauge(&Key::from_name(name), &METADATA);
        let counter =
            |name: &'static str| recorder.register_counter(&Key::from_name(name), &METADATA);
        let metrics = Metrics {
            handle: recorder.handle(),
            connections: gauge("plenary_connections"),
            connections_opened: counter("plenary_connections_opened_total"),
            commit_seconds: recorder.register_histogram(&Key::from_name(COMMIT_SECONDS), &METADATA),
            packets_forwarded: counter("plenary_sfu_packets_total"),
            outbox_frames: gauge("plenary_outbox_frames"),
            outbox_frames_max: gauge("plenary_outbox_frames_max"),
            sfu_publishers: gauge("plenary_sfu_publishers"),
            sfu_tracks: gauge("plenary_sfu_tracks"),
            sfu_viewers: gauge("plenary_sfu_viewers"),
            resident_memory: gauge("process_resident_memory_bytes"),
            recorder,
        };
        Arc::new(metrics)
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    /// The handles of room `room`.
    pub fn room(&self, room: &str) -> RoomMetrics {
        let labels = || vec![Label::new("room", room.to_owned())];
        RoomMetrics {
            joined: self
                .recorder
                .register_gauge(&Key::from_parts("plenary_room_joined", labels()), &METADATA),
            events: self.counter("plenary_room_events_total", labels()),
            deliveries: self.counter("plenary_room_deliveries_total", labels()),
        }
    }

    /// A connection closed with close code `code` (`None`: its socket failed first).
    pub fn connection_closed(&self, code: Option<u16>) {
        let labels = vec![Label::new("reason", close_reason(code))];
        self.counter("plenary_connections_closed_total", labels)
            .increment(1);
    }

    /// A message was refused by the limit `limit`.
    pub fn rate_limited(&self, limit: &'static str) {
        let labels = vec![Label::new("limit", limit)];
        self.counter("plenary_rate_limited_total", labels)
            .increment(1);
    }

    /// An HTTP request to `route` was answered with `status`.
    pub fn http_request(&self, route: &str, status: u16) {
        let labels = vec![
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        self.counter("plenary_http_requests_total", labels)
            .increment(1);
    }

    /// Drain what histograms recorded since the last time into their buckets; run every few
    /// seconds, so that a server nobody scrapes does not keep every sample.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Every metric in the Prometheus text format, with `sampled` and the process's memory.
    pub fn render(&self, sampled: Sampled) -> String {
        self.outbox_frames.set(sampled.outbox_frames as f64);
        self.outbox_frames_max.set(sampled.outbox_frames_max as f64);
        self.sfu_publishers.set(sampled.sfu_publishers as f64);
        self.sfu_tracks.set(sampled.sfu_tracks as f64);
        self.sfu_viewers.set(sampled.sfu_viewers as f64);
        if let Some(bytes) = resident_memory() {
            self.resident_memory.set(bytes as f64);
        }
        self.handle.render()
    }
}

/// The label of a close code.
fn close_reason(code: Option<u16>) -> &'static str {
    use plenary_protocol::close;
    match code {
        None => "dropped",
        Some(close::LAGGED) => "lagged",
        Some(close::IDLE) => "idle",
        Some(close::POLICY) => "policy",
        Some(close::TOO_LARGE) => "too_large",
        Some(close::SERVER_ERROR) => "server_error",
        Some(close::RESTARTING) => "restarting",
        Some(1000) => "normal",
        Some(1002 | 1007) => "protocol",
        Some(_) => "other",
    }
}

/// The process's resident memory in bytes, from `/proc/self/status` (Linux; `None`
/// elsewhere). `VmRSS` is given in kB, so no page size is needed.
fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_of_this_process_is_read() {
        let bytes = resident_memory().expect("Linux has /proc/self/status");
        assert!(bytes > 1024 * 1024, "{bytes}");
    }
}
