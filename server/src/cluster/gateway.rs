//! The node that runs the conference, seen from the other nodes: it serves their connections
//! (each through a remote session, `ws::RemoteSessions`), sends each of them one ordered
//! stream ([`relay::down`]) with every room's feed turns ([`Gateway`] is the rooms' [`Tap`])
//! and what the rooms and the SFU send its connections (each remote outbox's [`RemoteSink`]
//! puts its items in the same stream, in the order they are queued), answers their `/api/…`
//! requests with its own router, and beats its heart on [`relay::OWNER`] so they know it is
//! there.
//!
//! A node whose heartbeat stops (or that comes back as a new run) has its connections here
//! ended: they leave their rooms as a closed local connection would.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::{Client, HeaderMap};
use axum::body::Body;
use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use plenary_protocol::RoomId;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::relay::{self, After, Beat, Item, Kind, Up, UpKind};
use crate::hub::{CloseReason, ConnId, Entry, FeedId, Fence, Outgoing, RemoteSink, Tap};
use crate::ws::RemoteSessions;

/// How often each side beats its heart.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);
/// A node not heard from for this long is gone.
pub const GONE_AFTER: Duration = Duration::from_secs(6);
/// What the stream to one node may hold before it is sent; past it, something is lost and
/// that node's connections resume.
const STREAM_QUEUE: usize = 65_536;
/// Queued items taken from the queue at once at most.
const ITEMS_PER_MESSAGE: usize = 512;
/// Items of about this many bytes go in one message (NATS servers of a Plenary cluster take
/// 8 MB messages; a join storm's replays must not add up past that).
const MESSAGE_BYTES: usize = 1024 * 1024;
/// The largest response body sent back for an `/api/…` request of another node.
const RESPONSE_LIMIT: usize = 7 * 1024 * 1024;

/// Which room each feed is (filled as rooms open their feeds, before any command).
type Feeds = Arc<DashMap<FeedId, RoomId>>;

/// The rooms' tap, and the way the other nodes reach this one.
pub struct Gateway {
    client: Client,
    beat: Beat,
    feeds: Feeds,
    /// The stream to each node (by name and epoch) heard from.
    streams: DashMap<(String, u64), Arc<Stream>>,
}

/// What goes into the stream to a node, in order.
enum Outbound {
    Turn(Bytes),
    Item(ConnId, Item),
}

/// The ordered stream to one node.
struct Stream {
    queue: mpsc::Sender<Outbound>,
    /// Something could not be queued: the node is told to start again.
    lost: AtomicBool,
}

impl Stream {
    fn send(&self, outbound: Outbound) -> bool {
        let taken = self.queue.try_send(outbound).is_ok();
        if !taken {
            self.lost.store(true, Ordering::Release);
        }
        taken
    }
}

impl Tap for Gateway {
    fn opened(&self, room: &str, feed: FeedId) {
        self.feeds.insert(feed, room.to_owned());
    }

    fn appended(&self, room: &str, first: u64, entries: Vec<Entry>) {
        if self.streams.is_empty() {
            return;
        }
        let turn = relay::encode_turn(room, first, &entries);
        for stream in self.streams.iter() {
            stream.send(Outbound::Turn(turn.clone()));
        }
    }
}

/// Where one node's remote outboxes put their items: its stream.
struct NodeSink {
    stream: Arc<Stream>,
    feeds: Feeds,
}

impl RemoteSink for NodeSink {
    fn push(&self, conn: ConnId, outgoing: Outgoing, fence: Option<Fence>) -> bool {
        match item(&self.feeds, outgoing, fence) {
            Some(item) => self.stream.send(Outbound::Item(conn, item)),
            None => true,
        }
    }

    fn closed(&self, conn: ConnId, reason: CloseReason, last_words: Vec<Bytes>) {
        let last_words = last_words.iter().map(text).collect();
        self.stream.send(Outbound::Item(
            conn,
            Item::Closed {
                code: reason.code,
                last_words,
            },
        ));
    }
}

/// One connection of another node, served here.
struct Remote {
    frames: mpsc::Sender<String>,
    /// The `seq` its next message must have.
    next: u64,
}

impl Gateway {
    /// A gateway for this node's run `epoch` (its lease's revision); give it to the server as
    /// its tap, then [`Gateway::serve`].
    pub fn new(client: Client, node: String, epoch: u64) -> Arc<Gateway> {
        Arc::new(Gateway {
            client,
            beat: Beat { node, epoch },
            feeds: Arc::new(DashMap::new()),
            streams: DashMap::new(),
        })
    }

    /// Serve the other nodes until `stop`: their connections through `sessions`, their
    /// `/api/…` requests through `router`.
    pub async fn serve(
        self: Arc<Self>,
        sessions: RemoteSessions,
        router: axum::Router,
        stop: CancellationToken,
    ) {
        let subscribe = async || {
            let up = self.client.subscribe(relay::up(self.beat.epoch)).await?;
            let beats = self.client.subscribe(relay::NODES).await?;
            let http = self.client.subscribe(relay::http(self.beat.epoch)).await?;
            Ok::<_, async_nats::SubscribeError>((up, beats, http))
        };
        // Without them no other node can serve anyone: keep trying.
        let (up, beats, http) = loop {
            match subscribe().await {
                Ok(subscribed) => break subscribed,
                Err(error) => tracing::error!(%error, "cannot serve the other nodes yet"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(BEAT_EVERY) => {}
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(beat(self.client.clone(), relay::OWNER, self.beat.clone()));
        tasks.spawn(answer_http(self.client.clone(), http, router));
        tasks.spawn(Arc::clone(&self).serve_connections(sessions, up, beats));
        stop.cancelled().await;
        tasks.abort_all();
        self.streams.clear();
    }

    /// The stream to `node` in its run `epoch`, started on first contact.
    fn stream(&self, node: &str, epoch: u64) -> Arc<Stream> {
        let key = (node.to_owned(), epoch);
        if let Some(stream) = self.streams.get(&key) {
            return Arc::clone(&stream);
        }
        let (queue, outbound) = mpsc::channel(STREAM_QUEUE);
        let stream = Arc::new(Stream {
            queue,
            lost: AtomicBool::new(false),
        });
        tokio::spawn(publish(
            self.client.clone(),
            relay::down(node),
            (self.beat.epoch, epoch),
            outbound,
            Arc::clone(&stream),
        ));
        self.streams.insert(key, Arc::clone(&stream));
        stream
    }

    /// Serve the other nodes' connections, and end those of nodes that went away.
    async fn serve_connections(
        self: Arc<Self>,
        sessions: RemoteSessions,
        mut up: async_nats::Subscriber,
        mut beats: async_nats::Subscriber,
    ) {
        let mut remotes: HashMap<(String, u64, u64), Remote> = HashMap::new();
        // Each node's current run and when it was last heard.
        let mut nodes: HashMap<String, (u64, Instant)> = HashMap::new();
        let mut sweep = tokio::time::interval(BEAT_EVERY);
        loop {
            tokio::select! {
                message = up.next() => {
                    let Some(message) = message else { return };
                    match serde_json::from_slice::<Up>(&message.payload) {
                        Ok(up) => {
                            nodes.insert(up.node.clone(), (up.epoch, Instant::now()));
                            self.take(&sessions, &mut remotes, up);
                        }
                        Err(error) => tracing::warn!(%error, "a node sent something else"),
                    }
                }
                message = beats.next() => {
                    let Some(message) = message else { return };
                    if let Ok(beat) = serde_json::from_slice::<Beat>(&message.payload) {
                        self.stream(&beat.node, beat.epoch);
                        nodes.insert(beat.node, (beat.epoch, Instant::now()));
                    }
                }
                _ = sweep.tick() => {
                    let live = |node: &String, epoch: &u64| {
                        nodes.get(node).is_some_and(|(current, heard)| {
                            current == epoch && heard.elapsed() < GONE_AFTER
                        })
                    };
                    // Connections and streams of a node gone quiet, or of one of its earlier
                    // runs.
                    remotes.retain(|(node, epoch, _), _| live(node, epoch));
                    self.streams.retain(|(node, epoch), _| live(node, epoch));
                }
            }
        }
    }

    /// Carry out one message of a remote connection.
    fn take(
        &self,
        sessions: &RemoteSessions,
        remotes: &mut HashMap<(String, u64, u64), Remote>,
        up: Up,
    ) {
        let key = (up.node.clone(), up.epoch, up.conn);
        let stream = self.stream(&up.node, up.epoch);
        match up.what {
            UpKind::Open { person } if up.seq == 0 => {
                let sink = Arc::new(NodeSink {
                    stream,
                    feeds: Arc::clone(&self.feeds),
                });
                let frames = sessions.open(person, sink, up.conn);
                remotes.insert(key, Remote { frames, next: 1 });
            }
            UpKind::Close => {
                remotes.remove(&key);
            }
            UpKind::Frame { text } => {
                let taken = remotes.get_mut(&key).is_some_and(|remote| {
                    remote.next == up.seq && {
                        remote.next += 1;
                        remote.frames.try_send(text).is_ok()
                    }
                });
                if !taken {
                    // A gap (a message lost between nodes), a flood, or a connection this
                    // node never opened (it ran on another node then): it starts again.
                    remotes.remove(&key);
                    close_unknown(&stream, up.conn);
                }
            }
            UpKind::Open { .. } => {
                remotes.remove(&key);
                close_unknown(&stream, up.conn);
            }
        }
    }
}

/// Tell a node to close a connection this node does not serve (any more).
fn close_unknown(stream: &Stream, conn: ConnId) {
    stream.send(Outbound::Item(
        conn,
        Item::Closed {
            code: plenary_protocol::close::RESTARTING,
            last_words: Vec::new(),
        },
    ));
}

/// One queued item as the other node takes it (`None`: nothing it needs).
fn item(feeds: &Feeds, outgoing: Outgoing, fence: Option<Fence>) -> Option<Item> {
    let after = |fence: Fence| -> Option<After> {
        let room = feeds.get(&fence.feed)?.value().clone();
        Some((room, fence.position))
    };
    Some(match outgoing {
        Outgoing::Frame(frame) => Item::Frame {
            after: fence.and_then(after),
            frame: text(&frame),
        },
        Outgoing::Replay(frames) => Item::Replay {
            after: fence.and_then(after),
            frames: frames.iter().map(text).collect(),
        },
        Outgoing::Subscribe(reader) => {
            let (position, staff, user) = reader.place();
            Item::Admitted {
                after: after(Fence {
                    feed: reader.feed(),
                    position,
                })?,
                staff,
                user: user.clone(),
            }
        }
        Outgoing::Unsubscribe(_) => Item::Left {
            after: after(fence?)?,
        },
    })
}

/// Send a node's stream in order: consecutive items together in one message, each turn in
/// one of its own, every message numbered; after a loss, a reset.
async fn publish(
    client: Client,
    subject: String,
    (owner, to): (u64, u64),
    mut outbound: mpsc::Receiver<Outbound>,
    stream: Arc<Stream>,
) {
    let mut seq = 0;
    let mut batch = Vec::new();
    let mut items: Vec<(ConnId, Item)> = Vec::new();
    // About how many bytes `items` holds.
    let mut bytes = 0;
    let send = async |kind: Kind, body: &[u8], seq: &mut u64| {
        let message = relay::encode_message(kind, owner, to, *seq, body);
        *seq += 1;
        if let Err(error) = client.publish(subject.clone(), message).await {
            tracing::warn!(%error, %subject, "cannot send to a node");
        }
    };
    let flush = async |items: &mut Vec<(ConnId, Item)>, seq: &mut u64| {
        let body = serde_json::to_vec(&items).unwrap_or_default();
        items.clear();
        send(Kind::Items, &body, seq).await;
    };
    loop {
        let received = tokio::time::timeout(
            BEAT_EVERY,
            outbound.recv_many(&mut batch, ITEMS_PER_MESSAGE),
        )
        .await;
        match received {
            Ok(0) => return,
            Ok(_) => {}
            // Quiet: an empty message, so that the node notices within a second when the
            // last message before it was lost.
            Err(_) => {
                flush(&mut items, &mut seq).await;
                continue;
            }
        }
        for next in batch.drain(..) {
            match next {
                Outbound::Item(conn, item) => {
                    bytes += item_bytes(&item);
                    items.push((conn, item));
                    if bytes >= MESSAGE_BYTES {
                        flush(&mut items, &mut seq).await;
                        bytes = 0;
                    }
                }
                Outbound::Turn(turn) => {
                    if !items.is_empty() {
                        flush(&mut items, &mut seq).await;
                        bytes = 0;
                    }
                    send(Kind::Turn, &turn, &mut seq).await;
                }
            }
        }
        if !items.is_empty() {
            flush(&mut items, &mut seq).await;
            bytes = 0;
        }
        if stream.lost.swap(false, Ordering::AcqRel) {
            tracing::warn!(%subject, "the stream to a node overflowed; its connections resume");
            send(Kind::Reset, &[], &mut seq).await;
        }
    }
}

/// About how many bytes an item takes in a message (its frames, and a little more).
fn item_bytes(item: &Item) -> usize {
    let frames = match item {
        Item::Frame { frame, .. } => frame.len(),
        Item::Replay { frames, .. }
        | Item::Closed {
            last_words: frames, ..
        } => frames.iter().map(String::len).sum(),
        Item::Admitted { .. } | Item::Left { .. } => 0,
    };
    frames + 64
}

/// A frame as text (frames are JSON).
fn text(frame: &Bytes) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

/// Beat `beat` on `subject` every [`BEAT_EVERY`].
pub async fn beat(client: Client, subject: &'static str, beat: Beat) {
    let payload = Bytes::from(serde_json::to_vec(&beat).unwrap_or_default());
    let mut every = tokio::time::interval(BEAT_EVERY);
    loop {
        every.tick().await;
        if let Err(error) = client.publish(subject, payload.clone()).await {
            tracing::debug!(%error, "cannot beat");
        }
    }
}

/// Answer other nodes' `/api/…` requests with this node's router.
async fn answer_http(client: Client, mut requests: async_nats::Subscriber, router: axum::Router) {
    while let Some(message) = requests.next().await {
        let Some(reply) = message.reply.clone() else {
            continue;
        };
        let client = client.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let (headers, body) = answer(router, message.headers, message.payload).await;
            if let Err(error) = client.publish_with_headers(reply, headers, body).await {
                tracing::warn!(%error, "cannot answer a node's request");
            }
        });
    }
}

/// The request's method, path and headers travel as NATS headers; these name the first two
/// and the answer's status.
pub const METHOD: &str = "Plenary-Method";
pub const URI: &str = "Plenary-Uri";
pub const STATUS: &str = "Plenary-Status";

/// Run one relayed request through the router.
async fn answer(
    router: axum::Router,
    headers: Option<HeaderMap>,
    body: Bytes,
) -> (HeaderMap, Bytes) {
    let headers = headers.unwrap_or_default();
    let value = |name: &str| headers.get(name).map(|value| value.as_str().to_owned());
    let mut request = axum::http::Request::builder()
        .method(value(METHOD).unwrap_or_else(|| "GET".into()).as_str())
        .uri(value(URI).unwrap_or_else(|| "/".into()));
    for (name, values) in headers.iter() {
        let name: &str = name.as_ref();
        if name == METHOD || name == URI {
            continue;
        }
        for value in values {
            request = request.header(name, value.as_str());
        }
    }
    let mut answer = HeaderMap::new();
    let Ok(request) = request.body(Body::from(body)) else {
        answer.insert(STATUS, "400");
        return (answer, Bytes::new());
    };
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    answer.insert(STATUS, response.status().as_u16().to_string().as_str());
    for (name, value) in response.headers() {
        if let Ok(value) = value.to_str() {
            answer.append(name.as_str(), value);
        }
    }
    match axum::body::to_bytes(response.into_body(), RESPONSE_LIMIT).await {
        Ok(body) => (answer, body),
        Err(_) => {
            answer.insert(STATUS, "502");
            (answer, Bytes::new())
        }
    }
}
