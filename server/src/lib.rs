//! The Plenary server as a library: [`start`] a server from a [`Config`], get its address, and
//! [`Server::shutdown`] it. The `plenary` binary and the end-to-end tests both go through here.
//!
//! Layers, outermost first: `http` (axum routes) → `ws` (one connection's session) → `hub`
//! (rooms and fan-out; no axum, no sockets) → `store` (SQLite). `programme`, `interchange`
//! (schedule files in and out), `clock` and `auth` sit beside them as plain data and
//! functions; `rtc` (the SFU) sits beside the hub, which stays the authority on who may
//! publish. `metrics` is the server's own Prometheus registry, counted into by the layers.

pub mod auth;
pub mod clock;
pub mod cluster;
pub mod hub;
pub mod interchange;
pub mod metrics;
pub mod people;
pub mod programme;
pub mod rtc;
pub mod store;

mod config;
mod http;
mod state;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use plenary_protocol::Role;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::config::{Config, Edge, Readiness};
pub use crate::ws::{RemoteSessions, Uplink};

use crate::auth::{AuthError, Claims, Keys, random_hex, unix_now};
use crate::hub::{Hub, HubLimits, HubParts, RoomLimits};
use crate::metrics::Metrics;
use crate::people::People;
use crate::programme::Programme;
use crate::rtc::Sfu;
use crate::state::AppState;
use crate::store::{Persister, SqliteStore, Store, StoreError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory: {0}")]
    DataDir(std::io::Error),
    #[error("listen: {0}")]
    Listen(std::io::Error),
    #[error("the rooms' thread: {0}")]
    Rooms(std::io::Error),
    #[error("the lease's thread: {0}")]
    Lease(std::io::Error),
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
    let (mut programme, seeded_demo) = match store.load_programme()? {
        Some(programme) => (programme, false),
        // A node that does not run the conference writes nothing.
        None if config.edge.is_some() => (Programme::demo(config.clock.now()), false),
        None => {
            let demo = Programme::demo(config.clock.now());
            store.save_programme(&demo)?;
            (demo, true)
        }
    };
    if config.edge.is_some() {
        // Its rooms run on another node.
        programme.rooms.clear();
        programme.sessions.clear();
    }
    let group = if config.group_commit {
        store::GROUP_COMMIT_BATCHES
    } else {
        1
    };
    let metrics = Metrics::new();
    let (persister, writer) =
        Persister::start(Arc::clone(&store), group, metrics.commit_seconds.clone());
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(upkeep(Arc::clone(&metrics), shutdown.clone()));
    let limits = HubLimits {
        room: RoomLimits {
            history: config.history,
            chat_history: config.chat_history,
            client_ids: 10 * config.history,
            doors: config::signed(config.doors),
            reminder: config::signed(config.reminder),
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
            metrics: Arc::clone(&metrics),
            tap: config.tap.clone(),
        },
        programme,
        &tasks,
        &shutdown,
    )?;
    let sfu = Sfu::start(
        config.rtc.clone(),
        Arc::clone(&hub),
        revocations,
        metrics.packets_forwarded.clone(),
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
        uplink: config.edge.as_ref().map(|edge| Arc::clone(&edge.uplink)),
        metrics,
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

/// How often the metrics' histograms are drained into their buckets.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Drain the metrics' histograms every [`METRICS_UPKEEP`] until shutdown.
async fn upkeep(metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(METRICS_UPKEEP);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => metrics.run_upkeep(),
        }
    }
}

/// Installs imported programmes, as `POST /api/schedule/import` does.
#[derive(Clone)]
pub struct Importer(Arc<Hub>);

impl Importer {
    /// Make `programme` the conference's programme, keeping what a schedule file cannot say
    /// (see [`Programme::inherit`]).
    pub async fn import(&self, programme: Programme) -> Result<(), StoreError> {
        self.0.import(programme).await
    }
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

    /// Serves the connections of the other nodes of a cluster (`cluster`).
    pub fn remote_sessions(&self) -> RemoteSessions {
        RemoteSessions {
            state: self.state.clone(),
        }
    }

    /// Cancelled when the server starts shutting down: what serves it from outside (a
    /// cluster's gateway) lets go then, so that its parts can stop.
    pub fn stopping(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// The server's routes, to answer HTTP requests that reached another node of a cluster
    /// (`cluster`).
    pub fn router(&self) -> axum::Router {
        http::app(self.state.clone())
    }

    /// A way to replace the programme from outside HTTP (imports over NATS, `cluster`).
    pub fn importer(&self) -> Importer {
        Importer(std::sync::Arc::clone(&self.state.hub))
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
