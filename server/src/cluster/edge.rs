//! A node that does not run the conference, serving attendees all the same: its connections
//! say hello here and hand every other message to the node that runs the conference
//! ([`EdgeLink`] is their `Uplink`). What comes back is one ordered stream for this node: the
//! rooms' feed turns, once for every connection here (`hub::Mirrors`), and what the rooms
//! answer each connection, in the order the rooms produced them, taken in that order by one
//! task. `/api/…` requests go there too ([`api`]).
//!
//! The node follows the node that runs the conference with the newest epoch (its lease's
//! revision) it hears of: while it hears it, it is ready; when a newer one takes over, when
//! none is heard for [`GONE_AFTER`], or when the stream has a gap, every connection here is
//! closed with 1012 and resumes with `since`, from the log, through whichever node it reaches.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::{Client, HeaderMap};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use plenary_protocol::ErrorCode;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::gateway::{BEAT_EVERY, GONE_AFTER, METHOD, STATUS, URI, beat};
use super::relay::{self, Beat, Item, Kind, Up, UpKind};
use crate::http::ApiError;
use crate::hub::{CloseReason, ConnId, Mirrors, Outbox, Person, Relayed};
use crate::ws::Uplink;

/// The largest request body sent on to the node that runs the conference (NATS servers of a
/// Plenary cluster take 8 MB messages).
const REQUEST_LIMIT: usize = 7 * 1024 * 1024;
/// How long an `/api/…` request waits for the node that runs the conference.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a connection here is closed when the node that runs its rooms changes or goes.
const OWNER_CHANGED: CloseReason = CloseReason {
    code: plenary_protocol::close::RESTARTING,
    reason: "another node runs the conference now: reconnect and resume",
};

/// A connection of this node.
struct Connection {
    outbox: Outbox,
    /// The `seq` of its next message up.
    up: u64,
}

/// The node that runs the conference, as this node follows it.
#[derive(Default)]
struct Owner {
    /// Its epoch, and when it was last heard; `None` while none is heard.
    current: Option<(u64, Instant)>,
    /// The newest epoch heard of: an older one (a paused node that woke) is not followed.
    newest: u64,
    /// The number the next message of its stream must have (`None`: not heard yet).
    next: Option<u64>,
}

/// This node's side of the relay.
pub struct EdgeLink {
    beat: Beat,
    connections: DashMap<ConnId, Connection>,
    mirrors: Mirrors,
    client: Client,
    /// Encoded messages up, in order, with the subject of the node they are for.
    up: mpsc::UnboundedSender<(String, Bytes)>,
    /// The epoch of the node followed, 0 while none is heard: read where the `owner` lock
    /// may not be taken (under a connection's entry).
    following: AtomicU64,
    owner: Mutex<Owner>,
    /// Whether it is heard from (`/readyz`, and whether `/ws` takes connections).
    ready: Arc<AtomicBool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Uplink for EdgeLink {
    fn open(&self, conn: ConnId, person: &Person, outbox: &Outbox) {
        self.connections.insert(
            conn,
            Connection {
                outbox: outbox.clone(),
                up: 1,
            },
        );
        self.send_up(
            conn,
            0,
            UpKind::Open {
                person: person.clone(),
            },
        );
    }

    fn send(&self, conn: ConnId, frame: &str) {
        // Numbered under the connection's entry, so numbers go up in the order sent.
        if let Some(mut connection) = self.connections.get_mut(&conn) {
            let seq = connection.up;
            connection.up += 1;
            self.send_up(
                conn,
                seq,
                UpKind::Frame {
                    text: frame.to_owned(),
                },
            );
        }
    }

    fn close(&self, conn: ConnId) {
        if let Some((_, connection)) = self.connections.remove(&conn) {
            self.mirrors.forget(conn);
            self.send_up(conn, connection.up, UpKind::Close);
        }
    }
}

impl EdgeLink {
    /// Start relaying for this node's run `beat` over `client`, with copies of the rooms'
    /// feeds keeping `feed` entries each; `ready` says whether the node that runs the
    /// conference is heard from.
    pub async fn start(
        client: Client,
        beat: Beat,
        feed: usize,
        ready: Arc<AtomicBool>,
    ) -> Result<Arc<EdgeLink>, async_nats::SubscribeError> {
        let down = client.subscribe(relay::down(&beat.node)).await?;
        let owners = client.subscribe(relay::OWNER).await?;
        let (up, up_out) = mpsc::unbounded_channel();
        let link = Arc::new(EdgeLink {
            beat: beat.clone(),
            connections: DashMap::new(),
            mirrors: Mirrors::new(feed),
            client: client.clone(),
            up,
            following: AtomicU64::new(0),
            owner: Mutex::new(Owner::default()),
            ready,
            tasks: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(publish_up(client.clone(), up_out)),
            tokio::spawn(beat_and_watch(Arc::downgrade(&link), client.clone(), beat)),
            tokio::spawn(Arc::clone(&link).take_down(down)),
            tokio::spawn(Arc::clone(&link).take_owners(owners)),
        ];
        *link.tasks.lock().unwrap_or_else(PoisonError::into_inner) = tasks;
        Ok(link)
    }

    /// Stop relaying (this node runs the conference now).
    pub fn stop(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }

    fn send_up(&self, conn: ConnId, seq: u64, what: UpKind) {
        let up = Up {
            node: self.beat.node.clone(),
            epoch: self.beat.epoch,
            conn,
            seq,
            what,
        };
        let epoch = self.following.load(Ordering::Acquire);
        if epoch == 0 {
            // No node runs the conference: the connection is closed as this node notices.
            return;
        }
        match serde_json::to_vec(&up) {
            // Gone only when the node stops.
            Ok(payload) => drop(self.up.send((relay::up(epoch), payload.into()))),
            Err(error) => tracing::error!(%error, "cannot encode a relay message"),
        }
    }

    fn owner(&self) -> std::sync::MutexGuard<'_, Owner> {
        self.owner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether to follow something the node that runs the conference in `epoch` sent now;
    /// a newer epoch than the one followed is a takeover: every connection here resumes.
    fn follow(&self, owner: &mut Owner, epoch: u64) -> bool {
        if epoch < owner.newest {
            return false;
        }
        let changed = owner.current.is_none_or(|(current, _)| current != epoch);
        if changed {
            tracing::info!(epoch, "following the node that runs the conference");
            self.close_all();
            owner.next = None;
        }
        owner.newest = epoch;
        owner.current = Some((epoch, Instant::now()));
        self.following.store(epoch, Ordering::Release);
        self.ready.store(true, Ordering::Relaxed);
        true
    }

    /// Close every connection here (they resume elsewhere or here) and forget the copies.
    fn close_all(&self) {
        self.mirrors.clear();
        for connection in self.connections.iter() {
            connection.outbox.close(OWNER_CHANGED);
        }
    }

    /// The stream from the node that runs the conference, in order.
    async fn take_down(self: Arc<Self>, mut down: async_nats::Subscriber) {
        while let Some(message) = down.next().await {
            let message = match relay::decode_message(message.payload) {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "the node that runs the conference sent something else");
                    continue;
                }
            };
            if message.to != self.beat.epoch {
                // For an earlier run of this node.
                continue;
            }
            {
                let mut owner = self.owner();
                if !self.follow(&mut owner, message.owner) {
                    continue;
                }
                if owner.next.is_some_and(|next| next != message.seq) {
                    tracing::warn!(
                        "a message from the node that runs the conference was lost; every connection here resumes"
                    );
                    self.close_all();
                }
                owner.next = Some(message.seq + 1);
            }
            match message.kind {
                Kind::Turn => match relay::decode_turn(message.body) {
                    Ok(turn) => self.mirrors.appended(&turn.room, turn.first, turn.entries),
                    Err(error) => tracing::warn!(%error),
                },
                Kind::Items => match serde_json::from_slice::<Vec<(ConnId, Item)>>(&message.body) {
                    Ok(items) => {
                        for (conn, item) in items {
                            self.deliver(conn, item);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "unreadable items from the node that runs the conference")
                    }
                },
                Kind::Reset => {
                    tracing::warn!(
                        "the node that runs the conference lost messages for this node; every connection here resumes"
                    );
                    self.close_all();
                }
            }
        }
    }

    /// Deliver one item to a connection of this node.
    fn deliver(&self, conn: ConnId, item: Item) {
        let Some(outbox) = self
            .connections
            .get(&conn)
            .map(|connection| connection.outbox.clone())
        else {
            // Gone here: the node that runs the conference serves it still (the end was lost
            // on the way), and ends it now.
            if !matches!(item, Item::Closed { .. }) {
                self.send_up(conn, 0, UpKind::Close);
            }
            return;
        };
        let (after, relayed) = match item {
            Item::Frame { after, frame } => (after, Relayed::Frame(frame.into())),
            Item::Replay { after, frames } => (
                after,
                Relayed::Replay(frames.into_iter().map(Bytes::from).collect()),
            ),
            Item::Admitted { after, staff, user } => {
                (Some(after), Relayed::Admitted { staff, user })
            }
            Item::Left { after } => (Some(after), Relayed::Left),
            Item::Closed { code, last_words } => {
                let last_words = last_words.into_iter().map(Bytes::from).collect();
                return outbox.close_with(reason_for(code), last_words);
            }
        };
        // A position no feed could reach: not from a node that runs rooms.
        if after
            .as_ref()
            .is_some_and(|(_, position)| *position > u64::MAX / 2)
        {
            return outbox.close(OWNER_CHANGED);
        }
        self.mirrors.deliver(conn, &outbox, after, relayed);
    }

    /// The heartbeat of the node that runs the conference.
    async fn take_owners(self: Arc<Self>, mut owners: async_nats::Subscriber) {
        while let Some(message) = owners.next().await {
            let Ok(beat) = serde_json::from_slice::<Beat>(&message.payload) else {
                continue;
            };
            let mut owner = self.owner();
            self.follow(&mut owner, beat.epoch);
        }
    }
}

/// Beat this node's heart, and notice when the node that runs the conference goes quiet.
async fn beat_and_watch(link: std::sync::Weak<EdgeLink>, client: Client, own: Beat) {
    let beating = tokio::spawn(beat(client, relay::NODES, own));
    let mut every = tokio::time::interval(BEAT_EVERY);
    loop {
        every.tick().await;
        let Some(link) = link.upgrade() else {
            beating.abort();
            return;
        };
        link.mirrors.tick();
        let mut owner = link.owner();
        if owner
            .current
            .is_some_and(|(_, heard)| heard.elapsed() >= GONE_AFTER)
        {
            tracing::warn!("the node that ran the conference is gone");
            owner.current = None;
            owner.next = None;
            link.following.store(0, Ordering::Release);
            link.ready.store(false, Ordering::Relaxed);
            link.close_all();
        }
    }
}

/// Publish messages up in the order they were sent.
async fn publish_up(client: Client, mut up: mpsc::UnboundedReceiver<(String, Bytes)>) {
    while let Some((subject, payload)) = up.recv().await {
        if let Err(error) = client.publish(subject, payload).await {
            tracing::warn!(%error, "cannot relay to the node that runs the conference");
        }
    }
}

/// The close reason for a code the node that runs the conference closed a connection with.
fn reason_for(code: u16) -> CloseReason {
    use plenary_protocol::close;
    let reason = match code {
        close::LAGGED => "lagged: reconnect and resume with since",
        close::SERVER_ERROR => "server error: reconnect and resume with since",
        close::RESTARTING => "server restarting: reconnect",
        close::POLICY => "refused: too many connections",
        _ => "closed",
    };
    CloseReason { code, reason }
}

/// `/api/…` on this node: answered by the node that runs the conference.
pub fn api(link: Arc<EdgeLink>) -> Router {
    Router::new()
        .route("/api", any(forward))
        .route("/api/{*path}", any(forward))
        .with_state(link)
}

/// Send a request to the node that runs the conference and give back its answer.
async fn forward(State(link): State<Arc<EdgeLink>>, request: Request) -> Response {
    let epoch = link.following.load(Ordering::Acquire);
    if epoch == 0 {
        return ApiError::no_running_node().into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, REQUEST_LIMIT).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "too large to pass on to the node that runs the conference: send it there",
        )
        .into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert(METHOD, parts.method.as_str());
    let uri = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    headers.insert(URI, uri);
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value);
        }
    }
    let asked = link
        .client
        .request_with_headers(relay::http(epoch), headers, body);
    let answer = match tokio::time::timeout(HTTP_TIMEOUT, asked).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) | Err(_) => {
            return ApiError::no_running_node().into_response();
        }
    };
    let headers = answer.headers.unwrap_or_default();
    let status = headers
        .get(STATUS)
        .and_then(|status| status.as_str().parse::<u16>().ok())
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::builder().status(status);
    for (name, values) in headers.iter() {
        let name: &str = name.as_ref();
        if name == STATUS {
            continue;
        }
        for value in values {
            response = response.header(name, value.as_str());
        }
    }
    response
        .body(Body::from(answer.payload))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
