//! How a server runs: [`Config`], its defaults, and the conversion of its durations for the
//! rooms' clock. It names the types of the parts it configures and imports nothing that reads
//! it back; nothing here starts anything.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::clock::Clock;
use crate::hub::Tap;
use crate::people::{PersonLimits, Rate};
use crate::rtc::RtcConfig;
use crate::store::Store;
use crate::ws::Uplink;

/// How a server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Where the database and the token secret live.
    pub data_dir: PathBuf,
    /// The token secret; `None` to use (or create) the data directory's `secret` file.
    pub secret: Option<String>,
    /// Events each room keeps replayable for clients resuming with `since`.
    pub history: usize,
    /// Chat messages sent in a join snapshot.
    pub chat_history: usize,
    /// Frames queued for one connection, and entries of a room's feed it may fall behind,
    /// before it counts as lagging and is closed.
    pub outbox_frames: usize,
    /// The largest WebSocket message accepted.
    pub max_frame_bytes: usize,
    /// How long shutdown waits for connections and writes to finish.
    pub drain: Duration,
    /// Per-person rate limits and connection bound.
    pub person_limits: PersonLimits,
    /// Frames one connection may send (any type); past it they are refused, and a
    /// connection that keeps flooding is closed. `None` for no limit.
    pub frame_rate: Option<Rate>,
    /// A connection that has not said hello by then is closed.
    pub hello_timeout: Duration,
    /// How often the server pings each connection.
    pub ping_interval: Duration,
    /// A connection from which nothing (not even a pong) arrived for this long is closed.
    pub idle_timeout: Duration,
    /// The time as rooms see it: the system's, or a manual clock in tests.
    pub clock: Clock,
    /// How long before its start a session's doors open.
    pub doors: Duration,
    /// How long before its start those who bookmarked a session are reminded over their
    /// connections; the alarm of `GET /api/me/agenda.ics` goes off as long before.
    pub reminder: Duration,
    /// Commit what queued up together (a room's commands in one turn, and several rooms'
    /// turns in one transaction). Off means one transaction per command: only for measuring
    /// what group commit saves.
    pub group_commit: bool,
    /// Origins (`scheme://host[:port]`) allowed to open a WebSocket besides the server's
    /// own. Requests without an Origin header (non-browser clients) are allowed.
    pub allowed_origins: Vec<String>,
    /// Media: ICE servers for clients, UDP ports, announced addresses.
    pub rtc: RtcConfig,
    /// The store to run on instead of opening SQLite in `data_dir` (the token secret stays
    /// there): for tests that wrap the real store, to make its writes fail on demand. `None`,
    /// the default, opens `data_dir`'s database.
    pub store: Option<Arc<dyn Store>>,
    /// What `GET /readyz` says.
    pub readiness: Readiness,
    /// The bearer token `GET /metrics` asks for; `None`: anyone who reaches it may read it.
    pub metrics_token: Option<String>,
    /// Whether a `hello` without a token makes a new guest attendee (the default) or is
    /// refused with `invite_required`, for conferences open to invited people only.
    pub guests: bool,
    /// On the node of a cluster that runs the conference: where its rooms' feeds are copied
    /// to the other nodes (`cluster`).
    pub tap: Option<Arc<dyn Tap>>,
    /// On a node of a cluster that does not run the conference: it runs no rooms, and
    /// hands its connections' messages and its `/api/…` requests to the node that does.
    pub edge: Option<Edge>,
}

/// What a node of a cluster that does not run the conference hands on (`cluster`).
#[derive(Clone)]
pub struct Edge {
    /// Where its connections' messages go.
    pub uplink: Arc<dyn Uplink>,
    /// What answers `/api/…`.
    pub api: axum::Router,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Edge")
    }
}

/// For `Config`'s `Debug`: a tap shows as no more than that.
impl std::fmt::Debug for dyn Tap {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Tap")
    }
}

/// Whether the server takes traffic (`GET /readyz`): a single node always does; a node of a
/// cluster while it runs the conference and renews its lease (`cluster`).
#[derive(Debug, Clone, Default)]
pub struct Readiness(Option<Arc<AtomicBool>>);

impl Readiness {
    /// Ready while `flag` is set.
    pub fn flag(flag: Arc<AtomicBool>) -> Readiness {
        Readiness(Some(flag))
    }

    pub fn is_ready(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|flag| flag.load(Ordering::Relaxed))
    }
}

/// For `Config`'s `Debug`: a store shows as no more than that.
impl std::fmt::Debug for dyn Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Store")
    }
}

impl Config {
    /// A configuration with the defaults for everything but where to listen and store.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            listen,
            data_dir,
            secret: None,
            history: 1_000,
            chat_history: 100,
            outbox_frames: 1_024,
            max_frame_bytes: 64 * 1024,
            drain: Duration::from_secs(10),
            person_limits: PersonLimits::default(),
            frame_rate: Some(Rate::new(50.0, 200.0)),
            hello_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            allowed_origins: Vec::new(),
            group_commit: true,
            clock: Clock::system(),
            doors: Duration::from_secs(10 * 60),
            reminder: Duration::from_secs(10 * 60),
            rtc: RtcConfig::new(listen.ip()),
            store: None,
            readiness: Readiness::default(),
            metrics_token: None,
            guests: true,
            tap: None,
            edge: None,
        }
    }

    /// Switch off every rate limit (for load tests that post faster than people do).
    pub fn without_rate_limits(mut self) -> Config {
        self.person_limits.chat = None;
        self.person_limits.ask = None;
        self.person_limits.vote = None;
        self.person_limits.react = None;
        self.frame_rate = None;
        self
    }
}

/// A configured duration as the rooms' clock arithmetic takes it (durations too long for it
/// count as none).
pub(crate) fn signed(duration: Duration) -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(duration).unwrap_or(jiff::SignedDuration::ZERO)
}
