//! The node that runs the conference, seen from the other nodes: it serves their connections
//! (each through a remote session, `ws::RemoteSessions`), sends each room's feed turns to
//! every node once ([`Gateway`] is the rooms' [`Tap`]), answers their `/api/…` requests with
//! its own router, and beats its heart on [`relay::OWNER`] so they know it is there.
//!
//! A node whose heartbeat stops (or that comes back as a new run) has its connections here
//! ended: they leave their rooms as a closed local connection would.

use std::collections::HashMap;
use std::sync::Arc;
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

use super::relay::{self, After, Beat, Down, Item, Up, UpKind};
use crate::hub::{Entry, FeedId, Fence, OutboxReceiver, Outgoing, Tap};
use crate::ws::RemoteSessions;

/// How often each side beats its heart.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);
/// A node not heard from for this long is gone.
pub const GONE_AFTER: Duration = Duration::from_secs(6);
/// Items sent to one connection in one message at most.
const ITEMS_PER_MESSAGE: usize = 256;
/// The largest response body sent back for an `/api/…` request of another node.
const RESPONSE_LIMIT: usize = 7 * 1024 * 1024;

/// The rooms' tap, and the way the other nodes reach this one.
pub struct Gateway {
    client: Client,
    beat: Beat,
    /// Which room each feed is.
    feeds: DashMap<FeedId, RoomId>,
    /// Encoded feed turns, in order, for the publisher.
    turns: mpsc::UnboundedSender<Bytes>,
    turns_out: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>,
}

impl Tap for Gateway {
    fn opened(&self, room: &str, feed: FeedId) {
        self.feeds.insert(feed, room.to_owned());
    }

    fn appended(&self, room: &str, first: u64, entries: Vec<Entry>) {
        let turn = relay::encode_turn(self.beat.epoch, room, first, &entries);
        // Gone only when the node stops.
        let _ = self.turns.send(turn);
    }
}

/// One connection of another node, served here.
struct Remote {
    frames: mpsc::Sender<String>,
    /// The `seq` its next message must have.
    next: u64,
}

impl Gateway {
    /// A gateway for this node's run `epoch`; give it to the server as its tap, then
    /// [`Gateway::serve`].
    pub fn new(client: Client, node: String, epoch: u64) -> Arc<Gateway> {
        let (turns, turns_out) = mpsc::unbounded_channel();
        Arc::new(Gateway {
            client,
            beat: Beat { node, epoch },
            feeds: DashMap::new(),
            turns,
            turns_out: std::sync::Mutex::new(Some(turns_out)),
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
        let turns = self
            .turns_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let up = match self.client.subscribe(relay::UP).await {
            Ok(up) => up,
            Err(error) => return tracing::error!(%error, "cannot serve the other nodes"),
        };
        let beats = match self.client.subscribe(relay::NODES).await {
            Ok(beats) => beats,
            Err(error) => return tracing::error!(%error, "cannot hear the other nodes"),
        };
        let http = match self.client.subscribe(relay::HTTP).await {
            Ok(http) => http,
            Err(error) => return tracing::error!(%error, "cannot answer the other nodes' requests"),
        };
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(turns) = turns {
            tasks.spawn(publish_turns(self.client.clone(), turns));
        }
        tasks.spawn(beat(self.client.clone(), relay::OWNER, self.beat.clone()));
        tasks.spawn(answer_http(self.client.clone(), http, router));
        tasks.spawn(Arc::clone(&self).serve_connections(sessions, up, beats));
        stop.cancelled().await;
        tasks.abort_all();
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
                        nodes.insert(beat.node, (beat.epoch, Instant::now()));
                    }
                }
                _ = sweep.tick() => {
                    // Connections of a node gone quiet, or of one of its earlier runs.
                    remotes.retain(|(node, epoch, _), _| {
                        nodes.get(node).is_some_and(|(current, heard)| {
                            current == epoch && heard.elapsed() < GONE_AFTER
                        })
                    });
                }
            }
        }
    }

    /// Carry out one message of a remote connection.
    fn take(
        self: &Arc<Self>,
        sessions: &RemoteSessions,
        remotes: &mut HashMap<(String, u64, u64), Remote>,
        up: Up,
    ) {
        let key = (up.node.clone(), up.epoch, up.conn);
        match up.what {
            UpKind::Open { person } if up.seq == 0 => {
                let connection = sessions.open(person);
                let gateway = Arc::clone(self);
                tokio::spawn(gateway.relay(up.node, up.conn, connection.outbox));
                remotes.insert(
                    key,
                    Remote {
                        frames: connection.frames,
                        next: 1,
                    },
                );
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
                    self.close_unknown(&up.node, up.conn);
                }
            }
            UpKind::Open { .. } => {
                remotes.remove(&key);
                self.close_unknown(&up.node, up.conn);
            }
        }
    }

    /// Tell a node to close a connection this node does not serve (seq 0: the node takes a
    /// close at any point of the connection's numbering).
    fn close_unknown(&self, node: &str, conn: u64) {
        let down = Down {
            conn,
            seq: u64::MAX,
            items: vec![Item::Closed {
                code: plenary_protocol::close::RESTARTING,
                last_words: Vec::new(),
            }],
        };
        let client = self.client.clone();
        let subject = relay::down(node);
        tokio::spawn(async move {
            if let Ok(payload) = serde_json::to_vec(&down) {
                let _ = client.publish(subject, payload.into()).await;
            }
        });
    }

    /// Carry what the rooms and the SFU send a remote connection to its node, in order,
    /// until it is closed.
    async fn relay(self: Arc<Self>, node: String, conn: u64, mut outbox: OutboxReceiver) {
        let subject = relay::down(&node);
        let mut seq = 0;
        let mut items = Vec::new();
        loop {
            let closing = outbox.closing();
            let (next, closed) = tokio::select! {
                biased;
                next = outbox.relayed() => (next, None),
                reason = closing => (None, Some(reason)),
            };
            let ended = next.is_none();
            if let Some((outgoing, fence)) = next {
                items.extend(self.item(outgoing, fence));
            }
            while items.len() < ITEMS_PER_MESSAGE {
                let Some((outgoing, fence)) = outbox.relayed_now() else {
                    break;
                };
                items.extend(self.item(outgoing, fence));
            }
            let reason = closed.or_else(|| outbox.close_reason());
            if let Some(reason) = reason {
                items.push(Item::Closed {
                    code: reason.code,
                    last_words: outbox.last_words().iter().map(text).collect(),
                });
            }
            let down = Down {
                conn,
                seq,
                items: std::mem::take(&mut items),
            };
            seq += 1;
            match serde_json::to_vec(&down) {
                Ok(payload) => {
                    if let Err(error) = self.client.publish(subject.clone(), payload.into()).await {
                        tracing::warn!(%error, %node, conn, "cannot relay to a node");
                    }
                }
                Err(error) => tracing::error!(%error, "cannot encode a relay message"),
            }
            if reason.is_some() || ended {
                return;
            }
        }
    }

    /// One queued item as the other node takes it.
    fn item(&self, outgoing: Outgoing, fence: Option<Fence>) -> Option<Item> {
        let after = |fence: Fence| -> Option<After> {
            let room = self.feeds.get(&fence.feed)?.value().clone();
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
}

/// A frame as text (frames are JSON).
fn text(frame: &Bytes) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

/// Publish the rooms' feed turns in the order they were appended.
async fn publish_turns(client: Client, mut turns: mpsc::UnboundedReceiver<Bytes>) {
    while let Some(turn) = turns.recv().await {
        if let Err(error) = client.publish(relay::FEED, turn).await {
            tracing::warn!(%error, "cannot send a feed turn to the other nodes");
        }
    }
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
