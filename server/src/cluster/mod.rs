//! A node of a cluster: several `plenary` processes share one conference through NATS
//! JetStream. This step of the cluster runs the conference on one node at a time.
//!
//! - The conference's log is a JetStream stream ([`JetStreamStore`]); every node reads it into
//!   a view of its own and so is ready to take over.
//! - One node **runs the conference** (its rooms, its scheduler, its writes): the holder of
//!   the lease, a key in the JetStream KV bucket `plenary-leases` whose entries expire after
//!   [`LEASE_TTL`]. The holder renews it by revision every [`RENEW_EVERY`], on a thread and a
//!   NATS connection of its own ([`LeaseHolder`]); a node that finds another node holding it
//!   stops at once. One that cannot reach NATS to renew it says it is not ready and keeps
//!   trying: it cannot write either, and if another node takes over meanwhile the log fences
//!   it off (its next append is refused) and it stops. The others are on **standby**: they
//!   serve attendees by relaying to the node that runs the conference (`edge`, `/readyz`
//!   says `ready: relaying`) and try to take the lease every [`TRY_EVERY`].
//! - Taking over appends an owner entry to the log, so a node that was paused past its lease
//!   cannot append anything after it (see `store::jetstream`), and loads every room from the
//!   log.
//! - Imports (`plenary import FILE --nats URL`) reach the node that runs the conference over
//!   NATS ([`IMPORT_SUBJECT`]) and are applied like `POST /api/schedule/import`.

mod edge;
mod gateway;
mod relay;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::{Edge, Readiness};
use crate::programme::Programme;
use crate::store::{JetStreamStore, LogConfig, StoreError};
use crate::{Config, Server, StartError};
use edge::EdgeLink;
use gateway::Gateway;
use relay::Beat;

/// The KV bucket of leases.
const LEASES: &str = "plenary-leases";
/// The lease to run the conference.
const CONFERENCE: &str = "conference";
/// A lease not renewed for this long expires, and another node takes over.
pub const LEASE_TTL: Duration = Duration::from_secs(4);
/// How often the holder renews its lease.
const RENEW_EVERY: Duration = Duration::from_millis(1_000);
/// How often a standby node tries to take the lease.
const TRY_EVERY: Duration = Duration::from_millis(250);
/// How many times (a second apart) a starting node tries to open the log.
const SETUP_TRIES: u32 = 60;
/// How long a node that relays waits for its connections when it stops relaying.
const EDGE_DRAIN: Duration = Duration::from_secs(2);
/// Where imports go: the node that runs the conference answers.
pub const IMPORT_SUBJECT: &str = "plenary.programme.import";

/// A node that does not run the conference: it follows the log, and serves attendees by
/// relaying to the node that does (`edge`).
pub struct Standby {
    config: Config,
    log: LogConfig,
    store: Arc<JetStreamStore>,
    leases: kv::Store,
    jetstream: jetstream::Context,
    /// This node's relay to the node that runs the conference.
    link: Arc<EdgeLink>,
    /// The server it runs meanwhile: no rooms, its connections and `/api/…` relayed.
    edge: Server,
}

/// A node that runs the conference.
pub struct Active {
    server: Server,
    lease: LeaseHolder,
    importer: tokio::task::JoinHandle<()>,
}

/// A node's name goes into NATS subjects: letters, digits, `-` and `_` only.
fn check_node_name(node: &str) -> Result<(), StartError> {
    let fine = !node.is_empty()
        && node
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fine {
        Ok(())
    } else {
        Err(StartError::Store(StoreError::Corrupt(format!(
            "node name {node:?}: use letters, digits, - and _ only"
        ))))
    }
}

impl Standby {
    /// Connect to NATS, start reading the log into a new view in the data directory, and
    /// serve on `config.listen`, relaying to the node that runs the conference.
    pub async fn join(config: Config, log: LogConfig) -> Result<Standby, StartError> {
        check_node_name(&log.node)?;
        std::fs::create_dir_all(&config.data_dir).map_err(StartError::DataDir)?;
        // A JetStream cluster that is starting, or electing a leader, times requests out for
        // a while: keep trying.
        let mut tries = 0;
        let (jetstream, store, leases) = loop {
            match open_log(&config, &log).await {
                Ok(opened) => break opened,
                Err(error) if tries < SETUP_TRIES => {
                    tries += 1;
                    tracing::warn!(%error, "cannot open the cluster's log yet; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => return Err(error),
            }
        };
        let ready = Arc::new(AtomicBool::new(false));
        let beat = Beat {
            node: log.node.clone(),
            epoch: rand::random(),
        };
        let client = jetstream.client();
        let link = EdgeLink::start(
            client.clone(),
            beat,
            config.outbox_frames,
            Arc::clone(&ready),
        )
        .await
        .map_err(|error| StartError::Store(crate::store::to_backend(error)))?;
        let mut edge_config = config.clone();
        // It has no writes to finish: a takeover should not wait long for it to stop.
        edge_config.drain = EDGE_DRAIN;
        edge_config.store = Some(Arc::clone(&store) as Arc<dyn crate::store::Store>);
        edge_config.readiness = Readiness::flag(ready);
        edge_config.edge = Some(Edge {
            uplink: Arc::clone(&link) as Arc<dyn crate::ws::Uplink>,
            api: edge::api(Arc::clone(&link)),
        });
        let edge = crate::start(edge_config).await?;
        tracing::info!(addr = %edge.addr(), node = %log.node, "serving through the node that runs the conference");
        Ok(Standby {
            config,
            log,
            store,
            leases,
            jetstream,
            link,
            edge,
        })
    }

    /// The address this node listens on (and will, once it runs the conference).
    pub fn addr(&self) -> SocketAddr {
        self.edge.addr()
    }

    /// The server it runs while it relays (for its invite links).
    pub fn server(&self) -> &Server {
        &self.edge
    }

    /// Wait for the lease, then run the conference on this node, on the same address. Its
    /// connections meanwhile are closed with 1012 and resume there.
    pub async fn take_over(self) -> Result<Active, StartError> {
        let Standby {
            mut config,
            log,
            store,
            leases,
            jetstream,
            link,
            edge,
        } = self;
        let revision = acquire(&leases, &log.node).await;
        tracing::info!(node = %log.node, "holding the conference's lease");
        let ready = Arc::new(AtomicBool::new(false));
        let lease = LeaseHolder::hold(&log, revision, Arc::clone(&ready))?;
        let addr = edge.addr();
        // Its epoch is the lease's revision: each takeover's is higher than the last.
        let gateway = Gateway::new(jetstream.client(), log.node.clone(), revision);
        let started = async {
            // A takeover while NATS fails over (a server died) waits for it.
            while let Err(error) = store.take_over().await {
                tracing::warn!(%error, "taking over the log failed; trying again");
                tokio::time::sleep(RENEW_EVERY).await;
            }
            link.stop();
            edge.shutdown().await;
            config.listen = addr;
            config.store = Some(Arc::clone(&store) as Arc<dyn crate::store::Store>);
            config.readiness = Readiness::flag(Arc::clone(&ready));
            config.tap = Some(Arc::clone(&gateway) as Arc<dyn crate::hub::Tap>);
            crate::start(config).await
        };
        let server = tokio::select! {
            server = started => server,
            () = lease.lost.cancelled() => Err(StartError::Store(StoreError::Fenced(
                "the lease was lost while taking over".into(),
            ))),
        };
        let server = match server {
            Ok(server) => server,
            Err(error) => {
                lease.release().await;
                return Err(error);
            }
        };
        ready.store(true, Ordering::Relaxed);
        let importer = tokio::spawn(serve_imports(jetstream.client(), server.importer()));
        // It lets go of the server (its router holds the rooms) when the server stops.
        tokio::spawn(gateway.serve(server.remote_sessions(), server.router(), server.stopping()));
        // Fenced off by the log: the lease is as good as lost.
        let fenced = store.fenced();
        let lost = lease.lost.clone();
        tokio::spawn(async move {
            fenced.cancelled().await;
            lost.cancel();
        });
        Ok(Active {
            server,
            lease,
            importer,
        })
    }
}

impl Active {
    /// The server running the conference.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Resolves when this node lost the lease (another node may run the conference now):
    /// it must stop at once.
    pub async fn lost(&self) {
        self.lease.lost.cancelled().await;
    }

    /// Stop: the server shuts down (its connections, here and relayed from other nodes, are
    /// told to reconnect, 1012), then the lease is let go so that another node takes over at
    /// once.
    pub async fn shutdown(self) {
        self.importer.abort();
        self.server.shutdown().await;
        self.lease.release().await;
    }
}

/// Connect, make sure the stream and the lease bucket exist, and start reading the log.
async fn open_log(
    config: &Config,
    log: &LogConfig,
) -> Result<(jetstream::Context, Arc<JetStreamStore>, kv::Store), StartError> {
    let jetstream = crate::store::connect(log).await?;
    let leases = jetstream
        .create_or_update_key_value(kv::Config {
            bucket: LEASES.into(),
            history: 1,
            max_age: LEASE_TTL,
            num_replicas: log.replicas,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|error| StartError::Store(crate::store::to_backend(error)))?;
    let store = JetStreamStore::open(
        jetstream.clone(),
        &log.node,
        &config.data_dir.join("cluster-view"),
    )
    .await?;
    Ok((jetstream, store, leases))
}

/// Wait until this node holds the lease; returns its revision.
async fn acquire(leases: &kv::Store, node: &str) -> u64 {
    loop {
        match leases
            .create(CONFERENCE, Bytes::from(node.to_owned()))
            .await
        {
            Ok(revision) => return revision,
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {}
            Err(error) => tracing::warn!(%error, "cannot reach the lease; trying again"),
        }
        tokio::time::sleep(TRY_EVERY).await;
    }
}

/// The lease, renewed on a thread of its own over a NATS connection of its own. On the
/// server's runtime a renewal waited behind thousands of connections' tasks, and on the
/// shared connection behind megabytes of relay traffic: under a 15,000-attendee flood a
/// healthy node once missed its lease that way and another took over.
struct LeaseHolder {
    /// Cancelled when the lease is lost, or to let it go.
    lost: CancellationToken,
    /// Resolves when the thread is done: the lease lost, or let go.
    finished: tokio::sync::oneshot::Receiver<()>,
}

impl LeaseHolder {
    fn hold(log: &LogConfig, revision: u64, ready: Arc<AtomicBool>) -> Result<Self, StartError> {
        let lost = CancellationToken::new();
        let (done, finished) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError::Lease)?;
        let (log, held) = (log.clone(), lost.clone());
        std::thread::Builder::new()
            .name("plenary-lease".into())
            .spawn(move || {
                runtime.block_on(keep(log, revision, ready, held));
                // The holder may be gone already (the node stopped).
                let _ = done.send(());
            })
            .map_err(StartError::Lease)?;
        Ok(LeaseHolder { lost, finished })
    }

    /// Stop renewing and delete the lease, if it is still this node's.
    async fn release(mut self) {
        self.lost.cancel();
        // An error means the thread ended without a word (it panicked): nothing to wait for.
        let _ = (&mut self.finished).await;
    }
}

/// A holder dropped without [`LeaseHolder::release`] lets the lease go too: its thread must
/// not go on renewing for a node that no longer runs the conference.
impl Drop for LeaseHolder {
    fn drop(&mut self) {
        self.lost.cancel();
    }
}

/// The lease thread's work: connect, renew until lost or let go, and on letting it go delete
/// it by revision, so only this node's lease goes, never a successor's.
async fn keep(log: LogConfig, revision: u64, ready: Arc<AtomicBool>, lost: CancellationToken) {
    let leases = tokio::select! {
        leases = lease_bucket(&log) => leases,
        () = lost.cancelled() => return,
    };
    if let Some(revision) = renew(leases.clone(), log.node, revision, ready, lost).await {
        let released = leases.purge_expect_revision(CONFERENCE, Some(revision));
        if let Ok(Err(error)) = tokio::time::timeout(RENEW_EVERY, released).await {
            tracing::warn!(%error, "could not let the lease go; it expires by itself");
        }
    }
}

/// The lease bucket over a connection of its own, trying until NATS answers.
async fn lease_bucket(log: &LogConfig) -> kv::Store {
    loop {
        let opened = async {
            let (options, addresses) = crate::store::nats_servers(&log.urls)?;
            let client = options
                .name(format!("plenary {} lease", log.node))
                .retry_on_initial_connect()
                .connect(addresses)
                .await
                .map_err(crate::store::to_backend)?;
            jetstream::new(client)
                .get_key_value(LEASES)
                .await
                .map_err(crate::store::to_backend)
        };
        match opened.await {
            Ok(leases) => return leases,
            Err(error) => tracing::warn!(%error, "cannot reach the lease; trying again"),
        }
        tokio::time::sleep(TRY_EVERY).await;
    }
}

/// Renew the lease until it is lost or let go; returns the last revision held (`None` when
/// lost). Marks the node not ready while a renewal is late.
async fn renew(
    leases: kv::Store,
    node: String,
    mut revision: u64,
    ready: Arc<AtomicBool>,
    lost: CancellationToken,
) -> Option<u64> {
    let mut renewed = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = tokio::time::sleep(RENEW_EVERY) => {}
            () = lost.cancelled() => return Some(revision),
        }
        let value = Bytes::from(node.clone());
        match tokio::time::timeout(RENEW_EVERY, leases.update(CONFERENCE, value, revision)).await {
            Ok(Ok(next)) => {
                revision = next;
                renewed = tokio::time::Instant::now();
                ready.store(true, Ordering::Relaxed);
            }
            Ok(Err(error)) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                // This node's entry is gone: it expired while NATS could not be reached (a
                // NATS server died and its groups were electing), or another node took it.
                // Taking it again is safe either way: if another node ran the conference
                // meanwhile, this node's next append is fenced off and it stops then.
                match leases.create(CONFERENCE, Bytes::from(node.clone())).await {
                    Ok(next) => {
                        tracing::warn!(%node, "the lease had expired; this node holds it again");
                        revision = next;
                        renewed = tokio::time::Instant::now();
                        ready.store(true, Ordering::Relaxed);
                    }
                    Err(_) => {
                        tracing::error!(%node, "the conference's lease was taken: this node stops");
                        break;
                    }
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "renewing the lease failed"),
            Err(_) => tracing::warn!("renewing the lease timed out"),
        }
        // Past its lease the node takes no traffic: a standby may take over once NATS lets it,
        // and the log fences this node off if one does.
        if renewed.elapsed() >= LEASE_TTL - RENEW_EVERY {
            ready.store(false, Ordering::Relaxed);
        }
    }
    ready.store(false, Ordering::Relaxed);
    lost.cancel();
    None
}

/// What an import over NATS carries.
#[derive(Serialize, Deserialize)]
pub struct ImportRequest {
    pub programme: Programme,
}

/// What an import over NATS answers.
#[derive(Serialize, Deserialize)]
pub struct ImportReply {
    /// `None` when the programme was installed.
    pub error: Option<String>,
}

/// Answer imports sent over NATS by `plenary import --nats` until aborted.
async fn serve_imports(client: async_nats::Client, importer: crate::Importer) {
    let mut requests = match client.subscribe(IMPORT_SUBJECT).await {
        Ok(requests) => requests,
        Err(error) => {
            tracing::error!(%error, "cannot take imports over NATS");
            return;
        }
    };
    while let Some(request) = requests.next().await {
        let Some(reply_to) = request.reply else {
            continue;
        };
        let reply = match serde_json::from_slice::<ImportRequest>(&request.payload) {
            Ok(ImportRequest { programme }) => ImportReply {
                error: importer
                    .import(programme)
                    .await
                    .err()
                    .map(|e| e.to_string()),
            },
            Err(error) => ImportReply {
                error: Some(format!("not a programme: {error}")),
            },
        };
        let payload = serde_json::to_vec(&reply).unwrap_or_default();
        if let Err(error) = client.publish(reply_to, payload.into()).await {
            tracing::warn!(%error, "cannot answer an import");
        }
    }
}

/// Send a programme to the node that runs the conference, which installs it.
pub async fn import(urls: &str, programme: Programme) -> Result<(), String> {
    let (options, addresses) =
        crate::store::nats_servers(urls).map_err(|error| format!("--nats: {error}"))?;
    let client = options
        .connect(addresses)
        .await
        .map_err(|error| format!("cannot reach NATS: {error}"))?;
    let payload =
        serde_json::to_vec(&ImportRequest { programme }).map_err(|error| error.to_string())?;
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        client.request(IMPORT_SUBJECT, payload.into()),
    )
    .await
    .map_err(|_| "the node that runs the conference did not answer in 60 s".to_owned())?
    .map_err(|error| match error.kind() {
        async_nats::client::RequestErrorKind::NoResponders => {
            "no node runs the conference now: start one, then import".to_owned()
        }
        _ => format!("the import did not reach a node: {error}"),
    })?;
    let reply: ImportReply = serde_json::from_slice(&answer.payload)
        .map_err(|error| format!("a node answered something else: {error}"))?;
    match reply.error {
        None => Ok(()),
        Some(error) => Err(error),
    }
}
