//! The Plenary server as a library: [`start`] a server from a [`Config`], get its address, and
//! [`Server::shutdown`] it. The `plenary` binary and the end-to-end tests both go through here.
//!
//! Layers, outermost first: `http` (axum routes) → `ws` (one connection's session) → `hub`
//! (rooms and fan-out; no axum, no sockets) → `store` (SQLite). `programme`, `interchange`
//! (schedule files in and out), `clock` and `auth` sit beside them as plain data and
//! functions; `rtc` (the SFU) sits beside the hub, which stays the authority on who may
//! publish.

pub mod auth;
pub mod clock;
pub mod hub;
pub mod interchange;
pub mod people;
pub mod programme;
pub mod rtc;
pub mod store;

mod http;
mod state;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use plenary_protocol::Role;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{AuthError, Claims, Keys, random_hex, unix_now};
use crate::clock::Clock;
use crate::hub::{Hub, HubLimits, HubParts, RoomLimits};
use crate::people::{People, PersonLimits, Rate};
use crate::programme::Programme;
use crate::rtc::{RtcConfig, Sfu};
use crate::state::AppState;
use crate::store::{Persister, SqliteStore, Store, StoreError};

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

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory: {0}")]
    DataDir(std::io::Error),
    #[error("listen: {0}")]
    Listen(std::io::Error),
    #[error("the rooms' thread: {0}")]
    Rooms(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    seeded_demo: bool,
    state: AppState,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    writer: std::thread::JoinHandle<()>,
    /// A server dropped without [`Server::shutdown`] still stops its rooms (on a thread of
    /// their own, which would otherwise outlive it).
    _stop_on_drop: tokio_util::sync::DropGuard,
}

/// Start a server: open the store, or take [`Config::store`] (seeding the demo conference into
/// an empty one), start every room, and listen.
pub async fn start(config: Config) -> Result<Server, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(StartError::DataDir)?;
    let keys = Keys::load(&config.data_dir, config.secret.as_deref())?;
    let store: Arc<dyn Store> = match &config.store {
        Some(store) => Arc::clone(store),
        None => Arc::new(SqliteStore::open(&config.data_dir)?),
    };
    let (programme, seeded_demo) = match store.load_programme()? {
        Some(programme) => (programme, false),
        None => {
            let demo = Programme::demo(config.clock.now());
            store.save_programme(&demo)?;
            (demo, true)
        }
    };
    let group = if config.group_commit {
        store::GROUP_COMMIT_BATCHES
    } else {
        1
    };
    let (persister, writer) = Persister::start(Arc::clone(&store), group);
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let limits = HubLimits {
        room: RoomLimits {
            history: config.history,
            chat_history: config.chat_history,
            client_ids: 10 * config.history,
            doors: signed(config.doors),
            reminder: signed(config.reminder),
        },
        room_queue: 1_024,
        room_batch: if config.group_commit { 256 } else { 1 },
        room_feed: config.outbox_frames,
    };
    // Revocations of the right to publish or be in a room, from rooms to the SFU.
    let (media_revoked, revocations) = tokio::sync::mpsc::channel(256);
    let rooms = hub::room_thread(shutdown.clone()).map_err(StartError::Rooms)?;
    let hub = Hub::start(
        HubParts {
            store,
            persister,
            limits,
            clock: config.clock.clone(),
            media_revoked,
            rooms,
        },
        programme,
        &tasks,
        &shutdown,
    )?;
    let sfu = Sfu::start(
        config.rtc.clone(),
        Arc::clone(&hub),
        revocations,
        &tasks,
        &shutdown,
    );
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(StartError::Listen)?;
    let addr = listener.local_addr().map_err(StartError::Listen)?;
    let listener = listener.tap_io(tune_connection);
    let state = AppState {
        hub,
        sfu,
        people: People::new(config.person_limits),
        keys: Arc::new(keys),
        config: Arc::new(config),
        tasks,
        shutdown: shutdown.clone(),
    };
    let app = http::app(state.clone());
    let http = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
    );
    tracing::info!(%addr, "listening");
    Ok(Server {
        addr,
        seeded_demo,
        state,
        http,
        writer,
        _stop_on_drop: shutdown.drop_guard(),
    })
}

/// How much a connection's kernel send buffer may hold. A reader that stops reading fills it
/// and then its outbox, and is closed as lagged; without a cap Linux lets the buffer grow to
/// 4 MiB, which a thousand stuck readers would multiply into gigabytes the process never sees.
const SEND_BUFFER_BYTES: usize = 256 * 1024;

/// Cap each accepted connection's kernel send buffer.
fn tune_connection(tcp: &mut tokio::net::TcpStream) {
    if let Err(error) = socket2::SockRef::from(&*tcp).set_send_buffer_size(SEND_BUFFER_BYTES) {
        tracing::debug!(%error, "cannot cap the send buffer");
    }
}

impl Server {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether this start seeded the demo conference into an empty data directory.
    pub fn seeded_demo(&self) -> bool {
        self.seeded_demo
    }

    /// An invite link for a role: whoever opens it chooses a name and becomes a new person
    /// with that role.
    pub fn invite_link(&self, role: Role, days: u64) -> String {
        let mut claims = Claims::new(
            format!("invite-{}", random_hex(4)),
            format!("{} invite", role.as_str()),
            role,
            unix_now(),
            days,
        );
        claims.invite = true;
        format!(
            "http://{}/?token={}",
            self.addr,
            self.state.keys.issue(&claims)
        )
    }

    /// Stop: refuse new connections, tell open ones to reconnect (close code 1012), let
    /// in-flight writes commit, and return once everything has stopped or the drain time
    /// has passed.
    pub async fn shutdown(self) {
        self.state.shutdown.cancel();
        let drain = self.state.config.drain;
        let tasks = self.state.tasks.clone();
        tasks.close();
        let Server {
            state,
            http,
            writer,
            ..
        } = self;
        drop(state);
        let stopped = tokio::time::timeout(drain, async {
            let _ = http.await;
            tasks.wait().await;
        })
        .await;
        if stopped.is_err() {
            tracing::warn!(?drain, "shutdown drain time passed with work still running");
            return;
        }
        // The room tasks held the last handles to the writer thread: it has committed
        // everything queued and is ending.
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    }
}
