//! [`JetStreamStore`], the store of a cluster: the conference's log is one JetStream stream
//! (`PLENARY`, replicated on the NATS servers), and each node reads it into a view of its own,
//! a [`SqliteStore`] in its data directory that is never fsynced and is rebuilt from the log
//! at every start.
//!
//! The log holds three kinds of entries, each one message: a programme (`plenary.log.programme`),
//! a batch of [`Change`]s (`plenary.log.changes`: what a group commit wrote), and a node taking
//! over the conference (`plenary.log.owner`). Every node's follower task applies them to its
//! view in the log's order, one transaction each, so every view is the same at the same
//! position. Reads come from the view.
//!
//! Writes: only the node that runs the conference (see `cluster`) appends. It appends each
//! entry expecting the stream's last sequence to be the one it appended before
//! (`Nats-Expected-Last-Sequence`), and a node taking over appends an owner entry first, so a
//! node that was paused past its lease and wakes up cannot append anything after a takeover:
//! its append is refused ([`StoreError::Fenced`]) and it stops. An append returns once
//! JetStream has acknowledged it (stored on a quorum of the stream's replicas; the servers run
//! with `sync_interval: always`, so that means on disk) and this node's view has applied it.
//! An append whose answer is lost (a NATS server died) is sent again with the same message id:
//! JetStream answers a duplicate with the sequence the first one got, so a retry never writes
//! an entry twice; and an append refused or given up on is looked up by its message id at the
//! sequence it expected to get, in case an earlier try landed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, context::PublishErrorKind, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use plenary_protocol::{ChatId, ChatMessage, PollId, QuestionId};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Change, LoadLimits, RoomRecord, SessionPeople, SqliteStore, Store, StoreError};
use super::{StoredAgenda, to_backend};
use crate::programme::Programme;

/// The stream holding the conference's log.
pub const STREAM: &str = "PLENARY";
const SUBJECTS: &str = "plenary.log.>";
const PROGRAMME: &str = "plenary.log.programme";
const CHANGES: &str = "plenary.log.changes";
const OWNER: &str = "plenary.log.owner";
/// How long the follower waits for the next entry before it checks that the log has not
/// moved on without it.
const STALL_CHECK: Duration = Duration::from_secs(2);
/// How long an append keeps trying (same message id) while NATS servers fail over.
const APPEND_PATIENCE: Duration = Duration::from_secs(15);

/// Where the cluster's log lives.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// NATS server URLs, comma-separated.
    pub urls: String,
    /// This node's name (unique in the cluster): in the log's owner entries and message ids.
    pub node: String,
    /// Replicas of the stream: 3 on a cluster of three NATS servers, 1 on a single server.
    pub replicas: usize,
}

/// One entry of the log, as written.
#[derive(Serialize)]
enum EntryRef<'a> {
    Programme(&'a Programme),
    Changes(&'a [&'a Change]),
    Owner { node: &'a str },
}

/// One entry of the log, as read.
#[derive(Deserialize)]
enum Entry {
    Programme(Box<Programme>),
    Changes(Vec<Change>),
    Owner { node: String },
}

/// The store of a cluster node: the log in JetStream, read into a local view.
pub struct JetStreamStore {
    view: Arc<SqliteStore>,
    /// The log's stream (`stream::Stream` is a handle: clones share the connection).
    stream: stream::Stream,
    jetstream: jetstream::Context,
    node: String,
    /// The runtime the follower and appends run on (the trait's calls block).
    runtime: tokio::runtime::Handle,
    /// The stream sequence of this node's last append: `None` until this node takes over, and
    /// again once it has been fenced off.
    tail: tokio::sync::Mutex<Option<u64>>,
    /// The last log position the view has applied.
    applied: watch::Receiver<u64>,
    /// Numbers this node's appends, for their message ids.
    appends: AtomicU64,
    /// Cancelled when an append was refused because another node took over.
    fenced: CancellationToken,
}

/// The servers of a comma-separated list of NATS URLs (`nats://`, or `tls://` for TLS), and
/// options carrying the user and password one of them names (`nats://user:password@host`).
pub fn nats_servers(
    urls: &str,
) -> Result<(async_nats::ConnectOptions, Vec<async_nats::ServerAddr>), StoreError> {
    let addresses = urls
        .split(',')
        .map(|url| url.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(to_backend)?;
    let mut options = async_nats::ConnectOptions::new();
    if let Some((user, password)) = addresses
        .iter()
        .find_map(|address| Some((address.username()?, address.password()?)))
    {
        options = options.user_and_password(user.to_owned(), password.to_owned());
    }
    Ok((options, addresses))
}

/// Connect to NATS and make sure the stream exists (with `replicas` replicas).
pub async fn connect(config: &LogConfig) -> Result<jetstream::Context, StoreError> {
    let (options, addresses) = nats_servers(&config.urls)?;
    let client = options
        .name(format!("plenary {}", config.node))
        .retry_on_initial_connect()
        .connect(addresses)
        .await
        .map_err(to_backend)?;
    let jetstream = jetstream::new(client);
    jetstream
        .get_or_create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec![SUBJECTS.into()],
            storage: stream::StorageType::File,
            num_replicas: config.replicas,
            allow_direct: true,
            ..Default::default()
        })
        .await
        .map_err(to_backend)?;
    Ok(jetstream)
}

impl JetStreamStore {
    /// Start reading the log into a new view in `view_dir` (whatever was there is dropped).
    /// Reads see the log as far as the view has applied it: [`JetStreamStore::caught_up`]
    /// waits for the whole of it.
    pub async fn open(
        jetstream: jetstream::Context,
        node: &str,
        view_dir: &Path,
    ) -> Result<Arc<JetStreamStore>, StoreError> {
        let view = Arc::new(SqliteStore::open_scratch(view_dir)?);
        let stream = jetstream.get_stream(STREAM).await.map_err(to_backend)?;
        let (applied_tx, applied) = watch::channel(0);
        tokio::spawn(follow(stream.clone(), Arc::clone(&view), applied_tx));
        Ok(Arc::new(JetStreamStore {
            view,
            stream,
            jetstream,
            node: node.to_owned(),
            runtime: tokio::runtime::Handle::current(),
            tail: tokio::sync::Mutex::new(None),
            applied,
            appends: AtomicU64::new(0),
            fenced: CancellationToken::new(),
        }))
    }

    /// Cancelled once an append of this node's was refused because another node took over.
    pub fn fenced(&self) -> CancellationToken {
        self.fenced.clone()
    }

    /// The last log position the view has applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Wait until the view has applied everything in the log now.
    pub async fn caught_up(&self) -> Result<u64, StoreError> {
        let last = self.last_sequence().await?;
        self.wait_applied(last).await?;
        Ok(last)
    }

    /// Make this node the log's only writer: append an owner entry after everything in the
    /// log (whatever a previous owner appended before it is kept), and append after it from
    /// then on. Call it while holding the conference's lease.
    pub async fn take_over(&self) -> Result<(), StoreError> {
        let mut tail = self.tail.lock().await;
        loop {
            let last = self.caught_up().await?;
            let entry = EntryRef::Owner { node: &self.node };
            match self.publish(OWNER, &entry, last).await {
                Ok(sequence) => {
                    *tail = Some(sequence);
                    self.wait_applied(sequence).await?;
                    tracing::info!(node = %self.node, position = sequence, "took over the log");
                    return Ok(());
                }
                // A previous owner appended in the meantime: read that too and try again.
                Err(Appended::Fenced) => continue,
                Err(Appended::Failed(error)) => return Err(error),
            }
        }
    }

    async fn last_sequence(&self) -> Result<u64, StoreError> {
        let mut stream = self.stream.clone();
        let info = stream.info().await.map_err(to_backend)?;
        Ok(info.state.last_sequence)
    }

    async fn wait_applied(&self, position: u64) -> Result<(), StoreError> {
        let mut applied = self.applied.clone();
        applied
            .wait_for(|&applied| applied >= position)
            .await
            .map(|_| ())
            .map_err(|_| StoreError::Corrupt("the log's follower stopped".into()))
    }

    /// Append an entry after this node's last one; returns once it is acknowledged and
    /// applied to the view.
    async fn append(&self, subject: &'static str, entry: &EntryRef<'_>) -> Result<(), StoreError> {
        let mut tail = self.tail.lock().await;
        let Some(expected) = *tail else {
            return Err(StoreError::Fenced(
                "this node does not run the conference".into(),
            ));
        };
        match self.publish(subject, entry, expected).await {
            Ok(sequence) => {
                *tail = Some(sequence);
                drop(tail);
                self.wait_applied(sequence).await
            }
            Err(Appended::Fenced) => {
                *tail = None;
                self.fenced.cancel();
                tracing::error!(node = %self.node, "another node took over the log: this node stops writing");
                Err(StoreError::Fenced(
                    "another node took over the conference".into(),
                ))
            }
            Err(Appended::Failed(error)) => Err(error),
        }
    }

    /// Publish `entry` expecting the stream's last sequence to be `expected`, retrying with
    /// the same message id while NATS fails over. Returns the entry's sequence.
    async fn publish(
        &self,
        subject: &'static str,
        entry: &EntryRef<'_>,
        expected: u64,
    ) -> Result<u64, Appended> {
        let payload = Bytes::from(
            serde_json::to_vec(entry).map_err(|error| Appended::Failed(to_backend(error)))?,
        );
        let id = format!(
            "{}-{}-{}",
            self.node,
            expected,
            self.appends.fetch_add(1, Ordering::Relaxed)
        );
        let deadline = tokio::time::Instant::now() + APPEND_PATIENCE;
        loop {
            let message = jetstream::message::PublishMessage::build()
                .payload(payload.clone())
                .message_id(&id)
                .expected_last_sequence(expected);
            let acked = match self.jetstream.send_publish(subject, message).await {
                Ok(ack) => ack.await,
                Err(error) => Err(error),
            };
            match acked {
                Ok(ack) => return Ok(ack.sequence),
                Err(error)
                    if tokio::time::Instant::now() < deadline
                        && error.kind() != PublishErrorKind::WrongLastSequence =>
                {
                    tracing::warn!(%error, "appending to the log failed; trying again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                // An earlier try may have landed with its answer lost: then the entry after
                // `expected` is this one.
                Err(_) if self.landed(expected + 1, &id).await => return Ok(expected + 1),
                Err(error) if error.kind() == PublishErrorKind::WrongLastSequence => {
                    return Err(Appended::Fenced);
                }
                Err(error) => return Err(Appended::Failed(to_backend(error))),
            }
        }
    }

    /// Whether the log's entry at `sequence` is the append with message id `id`.
    async fn landed(&self, sequence: u64, id: &str) -> bool {
        self.stream
            .get_raw_message(sequence)
            .await
            .is_ok_and(|message| {
                message
                    .headers
                    .get(async_nats::header::NATS_MESSAGE_ID)
                    .is_some_and(|value| value.as_str() == id)
            })
    }

    /// Run an append from a blocking caller (the persister's thread, or a blocking task).
    fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        match tokio::runtime::Handle::try_current() {
            // Called on a runtime worker (start-up): let the runtime move its other work away.
            Ok(_) => tokio::task::block_in_place(|| self.runtime.block_on(work)),
            Err(_) => self.runtime.block_on(work),
        }
    }
}

/// Why an append did not land.
enum Appended {
    /// The log has moved on past what this node appended: another node took over.
    Fenced,
    Failed(StoreError),
}

/// Apply the log to the view, in order, forever: from the start, and after a broken
/// connection from where it stopped.
async fn follow(stream: stream::Stream, view: Arc<SqliteStore>, applied: watch::Sender<u64>) {
    let mut position = 0;
    loop {
        if let Err(error) = follow_from(&stream, &view, &applied, &mut position).await {
            tracing::warn!(%error, position, "reading the log stopped; reading on");
        }
        if applied.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn follow_from(
    stream: &stream::Stream,
    view: &Arc<SqliteStore>,
    applied: &watch::Sender<u64>,
    position: &mut u64,
) -> Result<(), async_nats::Error> {
    let deliver_policy = match *position {
        0 => consumer::DeliverPolicy::All,
        last => consumer::DeliverPolicy::ByStartSequence {
            start_sequence: last + 1,
        },
    };
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: SUBJECTS.into(),
            deliver_policy,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    loop {
        // An ordered consumer whose server died can go quiet without an error: when nothing
        // came for a while but the log has moved on, start a new one.
        let next = match tokio::time::timeout(STALL_CHECK, messages.next()).await {
            Ok(next) => next,
            Err(_) => {
                let mut stream = stream.clone();
                if stream.info().await?.state.last_sequence > *position {
                    return Err("the log's consumer stalled".into());
                }
                continue;
            }
        };
        let Some(message) = next else {
            return Ok(());
        };
        let message = message?;
        let sequence = message.info()?.stream_sequence;
        if sequence <= *position {
            continue;
        }
        let entry: Entry = serde_json::from_slice(&message.payload)?;
        let view = Arc::clone(view);
        tokio::task::spawn_blocking(move || apply(&view, entry)).await??;
        *position = sequence;
        applied.send_replace(sequence);
    }
}

/// Apply one log entry to the view.
fn apply(view: &SqliteStore, entry: Entry) -> Result<(), StoreError> {
    match entry {
        Entry::Programme(programme) => view.save_programme(&programme),
        Entry::Changes(changes) => view.commit(&changes.iter().collect::<Vec<_>>()),
        Entry::Owner { node } => {
            tracing::info!(%node, "a node took over the conference");
            Ok(())
        }
    }
}

impl Store for JetStreamStore {
    fn load_programme(&self) -> Result<Option<Programme>, StoreError> {
        self.view.load_programme()
    }

    fn save_programme(&self, programme: &Programme) -> Result<(), StoreError> {
        self.block_on(self.append(PROGRAMME, &EntryRef::Programme(programme)))
    }

    fn load_room(&self, room: &str, limits: LoadLimits) -> Result<RoomRecord, StoreError> {
        self.view.load_room(room, limits)
    }

    fn max_question_id(&self) -> Result<QuestionId, StoreError> {
        self.view.max_question_id()
    }

    fn max_poll_id(&self) -> Result<PollId, StoreError> {
        self.view.max_poll_id()
    }

    fn chat_before(
        &self,
        room: &str,
        before: ChatId,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        self.view.chat_before(room, before, limit)
    }

    fn agenda_of(&self, user: &str) -> Result<StoredAgenda, StoreError> {
        self.view.agenda_of(user)
    }

    fn session_people(&self, session: &str) -> Result<SessionPeople, StoreError> {
        self.view.session_people(session)
    }

    fn commit(&self, changes: &[&Change]) -> Result<(), StoreError> {
        self.block_on(self.append(CHANGES, &EntryRef::Changes(changes)))
    }
}
