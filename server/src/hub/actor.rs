//! The task around one [`Room`]: takes commands in batches (at most `HubLimits::room_batch`),
//! lets the room decide, commits the batch's changes in one durable write, then delivers, in order, what the room said.
//!
//! Ordering: replies and events leave in the order the room produced them, and only after the
//! batch is durable, so nobody ever sees (or is acknowledged) something a crash could lose.
//! Fan-out: each event was serialised once by the room; it is appended once to the room's
//! [`Feed`], which every member's writer reads, and the writers waiting for it are woken once
//! per turn. Replies go to one connection's outbox, fenced with the feed's position so they
//! keep their place among the events. A member whose writer falls out of the feed, or whose
//! outbox is full, is closed as lagged and dropped from the room.
//!
//! Metrics are counted once per turn, never per recipient: the members joined, the entries
//! appended and their deliveries (entries times the members that may see them).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::feed::{Entry, Feed, Subscription, Tap};
use super::frame::encode;
use super::handle::{Command, MediaRevoked};
use super::kick::CloseReason;
use super::outbox::{LAGGED, Outbox, Outgoing};
use super::person::ConnId;
use super::personal::PersonOutboxes;
use super::room::{Input, Output, Refusal, Room, RoomLimits};
use crate::clock::Clock;
use crate::metrics::{Metrics, RoomMetrics};
use crate::store::{Change, Persister, Store, StoreError};
use bytes::Bytes;
use plenary_protocol::{ErrorCode, Ref, ServerMessage};

/// How often the room sends what it sends at a bounded rate (reactions, presence, poll
/// counts).
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

struct Member {
    outbox: Outbox,
    /// Whether it sees staff-only entries (for counting deliveries).
    staff: bool,
    /// Where the member's writer is in the feed; `None` for a connection on another node,
    /// which reads that node's copy of the feed.
    subscription: Option<Arc<Subscription>>,
}

/// What every room's task works with.
#[derive(Clone)]
pub struct RoomContext {
    /// Commands taken from the queue in one turn, and committed together.
    pub batch: usize,
    /// Feed entries a member's writer may fall behind before it is closed as lagged.
    pub feed: usize,
    pub persister: Persister,
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    /// Where the room reports media rights it takes away, for the SFU.
    pub media_revoked: mpsc::Sender<MediaRevoked>,
    /// Every person's live connections, for what the room tells one person wherever they
    /// are (`Output::ToPeople`).
    pub person_outboxes: Arc<PersonOutboxes>,
    /// Where rooms count their members, events and deliveries, once per turn (the hub
    /// registers each room's counts there as it starts the room).
    pub metrics: Arc<Metrics>,
    /// Where the room's feed is copied to the other nodes of a cluster, if it is one.
    pub tap: Option<Arc<dyn Tap>>,
    pub shutdown: CancellationToken,
}

/// Run a room until shutdown, counting into `counts` (registered by the caller, so that the
/// room is in `/metrics` from the moment the server listens, not from its task's first turn).
pub async fn run(
    mut room: Room,
    counts: RoomMetrics,
    mut commands: mpsc::Receiver<Command>,
    context: RoomContext,
) {
    let RoomContext {
        batch,
        feed,
        persister,
        store,
        clock,
        media_revoked,
        person_outboxes,
        metrics: _,
        tap,
        shutdown,
    } = context;
    // A manual clock (tests) wakes the room whenever it moves; the system clock never does.
    let mut moved = clock.subscribe();
    let mut members: HashMap<ConnId, Member> = HashMap::new();
    let mut senders: HashMap<ConnId, Outbox> = HashMap::new();
    // The `ref`s of this batch's client messages, by connection: who is owed an answer.
    let mut asked: Vec<(ConnId, Ref)> = Vec::new();
    let mut inbox = Vec::with_capacity(batch);
    let mut outputs = Vec::new();
    let mut permits = Permits::default();
    let feed = Arc::new(Feed::new(feed));
    if let Some(tap) = &tap {
        tap.opened(room.id(), feed.id());
    }
    // What a turn appended, for the tap.
    let mut tapped: Vec<Entry> = Vec::new();
    let mut woken = Vec::new();
    // Writers stuck on a socket never notice they fell out of the feed; the room looks at
    // its members' positions each time the feed has moved on by a sixteenth of its length.
    let look_every = (feed.capacity() as u64 / 16).max(1);
    let mut next_look = 1;
    // Catch up with the clock before the first command, so that sessions' phases are right
    // when the first person joins.
    room.handle(clock.now(), Input::Tick, &mut outputs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The last turn's membership, before waiting for the next.
        counts.joined.set(members.len() as f64);
        let ticked = tokio::select! {
            received = commands.recv_many(&mut inbox, batch) => {
                if received == 0 {
                    return;
                }
                false
            }
            _ = tick.tick() => true,
            Some(()) = clock_moved(&mut moved) => true,
            () = shutdown.cancelled() => return,
        };
        // A command that comes after a move of a manual clock sees the room caught up with it.
        let ticked = ticked || clock_has_moved(&mut moved);
        let now = clock.now();
        if ticked {
            room.handle(now, Input::Tick, &mut outputs);
        }
        for command in inbox.drain(..) {
            let (input, outbox) = match command {
                Command::Input { input, outbox } => (input, outbox),
                Command::Permit {
                    caller,
                    publish,
                    outbox,
                    reply,
                } => {
                    let request = permits.ask(reply);
                    let input = Input::RtcPermit {
                        caller,
                        publish,
                        request,
                    };
                    (input, Some(outbox))
                }
            };
            if let (Some(conn), Some(outbox)) = (input.conn(), outbox) {
                senders.insert(conn, outbox);
                if let Some(reference) = input.reference() {
                    asked.push((conn, reference.clone()));
                }
            }
            room.handle(now, input, &mut outputs);
        }

        let changes: Vec<Change> = outputs
            .iter()
            .filter_map(|output| match output {
                Output::Persist(change) => Some(change.clone()),
                Output::Publish(event) => Some(Change::Event(event.clone())),
                _ => None,
            })
            .collect();
        if !changes.is_empty() {
            if let Err(error) = persister.commit(changes).await {
                // Fenced: another node of the cluster runs the room now, and this one stops.
                let fenced = matches!(*error, StoreError::Fenced(_));
                let reason = if fenced {
                    tracing::error!(%error, room = room.id(), "another node runs the room now; closing it here");
                    CloseReason {
                        code: plenary_protocol::close::RESTARTING,
                        reason: "this node stopped running the room: reconnect and resume",
                    }
                } else {
                    tracing::error!(%error, room = room.id(), "room lost a write; restarting it from the store");
                    CloseReason {
                        code: plenary_protocol::close::SERVER_ERROR,
                        reason: "server error: reconnect and resume with since",
                    }
                };
                // Whoever sent a message in this batch is told it was not carried out, just
                // before the close: nothing of the batch was saved, so a retry with the same
                // `client_id` is new to the room.
                let mut last_words: HashMap<ConnId, Vec<Bytes>> = HashMap::new();
                for (conn, reference) in asked.drain(..) {
                    last_words
                        .entry(conn)
                        .or_default()
                        .push(encode(&ServerMessage::Error {
                            reference: Some(reference),
                            code: ErrorCode::Internal,
                            message: "not saved: reconnect, resume with since, and send it again"
                                .into(),
                        }));
                }
                for (conn, outbox) in &senders {
                    outbox.close_with(reason, last_words.remove(conn).unwrap_or_default());
                }
                for member in members.values() {
                    member.outbox.close(reason);
                }
                members.clear();
                senders.clear();
                outputs.clear();
                // The SFU's questions of this batch are not answered: it is told the room
                // closed, and asks again.
                permits.drop_all();
                if fenced {
                    return;
                }
                match reload(&room, Arc::clone(&store)).await {
                    Ok(restored) => room = restored,
                    Err(error) => {
                        tracing::error!(%error, room = room.id(), "room cannot be restored; stopping it");
                        return;
                    }
                }
                continue;
            }
        }

        // Writers are woken once per turn, and only if the turn appended to the feed.
        let turn_start = feed.fence().position;
        let mut staff_only = 0;
        for output in outputs.drain(..) {
            match output {
                Output::Persist(_) => {}
                Output::Reply { conn, frame } => {
                    if let Some(outbox) = outbox_of(&senders, &members, conn) {
                        outbox.push_after(feed.fence(), Outgoing::Frame(frame));
                    }
                }
                Output::Replay { conn, frames } => {
                    if let Some(outbox) = outbox_of(&senders, &members, conn) {
                        outbox.push_after(feed.fence(), Outgoing::Replay(frames));
                    }
                }
                Output::ReadChatHistory {
                    conn,
                    reference,
                    before,
                    limit,
                } => {
                    if let Some(outbox) = outbox_of(&senders, &members, conn) {
                        read_chat_history(
                            Arc::clone(&store),
                            room.id().to_owned(),
                            (reference, before, limit),
                            outbox.clone(),
                        );
                    }
                }
                Output::Broadcast {
                    frame,
                    staff_only: for_staff,
                } => {
                    staff_only += u64::from(for_staff);
                    let entry = Entry {
                        public: (!for_staff).then(|| frame.clone()),
                        staff: frame,
                        owner: None,
                    };
                    append(&feed, tap.is_some().then_some(&mut tapped), entry);
                }
                Output::Admit { conn, staff, user } => {
                    if let Some(outbox) = senders.get(&conn) {
                        let fence = feed.fence();
                        let (subscription, reader) =
                            feed.subscribe(Arc::clone(&outbox.kick), staff, user);
                        // A connection on another node reads that node's copy of the feed:
                        // its relay learns from the reader where to start it.
                        let subscription = (!outbox.is_remote()).then_some(subscription);
                        if outbox.push_after(fence, Outgoing::Subscribe(reader)) {
                            let outbox = outbox.clone();
                            members.insert(
                                conn,
                                Member {
                                    outbox,
                                    staff,
                                    subscription,
                                },
                            );
                        }
                    }
                }
                Output::Dismiss { conn } => {
                    if let Some(member) = members.remove(&conn) {
                        let fence = feed.fence();
                        member
                            .outbox
                            .push_after(fence, Outgoing::Unsubscribe(fence.feed));
                    }
                }
                Output::Permit { request, verdict } => permits.answer(request, verdict),
                Output::MediaRevoked { user, receiving } => {
                    let revoked = MediaRevoked {
                        room: room.id().to_owned(),
                        user,
                        receiving,
                    };
                    // Bounded: the room waits rather than forget a revocation.
                    if media_revoked.send(revoked).await.is_err() {
                        tracing::debug!("no SFU listens for revocations");
                    }
                }
                Output::ToPeople { users, frame } => {
                    // Fenced like a reply: a person in this room hears it after the room's
                    // events before it.
                    let fence = feed.fence();
                    for user in &users {
                        person_outboxes.send_after(user, fence, &frame);
                    }
                }
                Output::Publish(event) => {
                    staff_only += u64::from(event.public.is_none());
                    let entry = Entry {
                        public: event.public,
                        staff: event.staff,
                        owner: event.owner,
                    };
                    append(&feed, tap.is_some().then_some(&mut tapped), entry);
                }
            }
        }
        senders.clear();
        asked.clear();
        let appended = feed.fence().position - turn_start;
        if appended != 0 {
            feed.wake(&mut woken);
            count_turn(&counts, &members, appended, staff_only);
            if let Some(tap) = &tap {
                tap.appended(room.id(), turn_start, std::mem::take(&mut tapped));
            }
        }
        let head = feed.head();
        if head >= next_look {
            members.retain(|_, member| {
                let lagging = member
                    .subscription
                    .as_ref()
                    .is_some_and(|subscription| feed.lagging(subscription, head));
                if lagging {
                    member.outbox.close(LAGGED);
                }
                !lagging
            });
            next_look = head + look_every;
        }
    }
}

/// Append an entry to the feed, and keep a copy for the tap (`tapped`) if there is one.
fn append(feed: &Feed, tapped: Option<&mut Vec<Entry>>, entry: Entry) {
    if let Some(tapped) = tapped {
        tapped.push(entry.clone());
    }
    feed.append(entry);
}

/// Count a turn's entries and their deliveries: a public entry reaches every member, a
/// staff-only one the staff among them (looked up only in turns that have one; an owner who
/// is not staff is not counted).
fn count_turn(
    counts: &RoomMetrics,
    members: &HashMap<ConnId, Member>,
    appended: u64,
    staff_only: u64,
) {
    let everyone = members.len() as u64;
    let staff = if staff_only == 0 {
        0
    } else {
        members.values().filter(|member| member.staff).count() as u64
    };
    counts.events.increment(appended);
    counts
        .deliveries
        .increment((appended - staff_only) * everyone + staff_only * staff);
}

/// The SFU's permission questions the room has not answered yet, by the request number the
/// task gave each, so that the room sees a number and never a runtime channel.
#[derive(Default)]
struct Permits {
    last: u64,
    waiting: HashMap<u64, oneshot::Sender<Result<(), Refusal>>>,
}

impl Permits {
    /// Number a question whose answer goes to `reply`.
    fn ask(&mut self, reply: oneshot::Sender<Result<(), Refusal>>) -> u64 {
        self.last += 1;
        self.waiting.insert(self.last, reply);
        self.last
    }

    /// Give the asker of question `request` the room's answer.
    fn answer(&mut self, request: u64, verdict: Result<(), Refusal>) {
        if let Some(reply) = self.waiting.remove(&request) {
            let _ = reply.send(verdict);
        }
    }

    /// Forget every question: their askers learn that the room closed.
    fn drop_all(&mut self) {
        self.waiting.clear();
    }
}

/// Answer a `chat_history` request from the store, off the room's task, so a slow read never
/// holds the room up.
fn read_chat_history(
    store: Arc<dyn Store>,
    room: String,
    (reference, before, limit): (Option<plenary_protocol::Ref>, u64, usize),
    outbox: Outbox,
) {
    tokio::task::spawn_blocking(move || {
        let answer = match store.chat_before(&room, before, limit) {
            Ok(messages) => ServerMessage::ChatHistory {
                reference,
                room,
                messages,
            },
            Err(error) => {
                tracing::error!(%error, %room, "reading chat history failed");
                ServerMessage::Error {
                    reference,
                    code: ErrorCode::Internal,
                    message: "could not read the history; try again".into(),
                }
            }
        };
        outbox.push(encode(&answer));
    });
}

/// Resolves when a manual clock moves; never for the system clock (or a dropped one).
async fn clock_moved(moved: &mut Option<tokio::sync::watch::Receiver<()>>) -> Option<()> {
    match moved {
        Some(receiver) => receiver.changed().await.ok(),
        None => std::future::pending().await,
    }
}

/// Whether a manual clock moved since the room last looked (and note that it looked).
fn clock_has_moved(moved: &mut Option<tokio::sync::watch::Receiver<()>>) -> bool {
    moved.as_mut().is_some_and(|receiver| {
        let changed = receiver.has_changed().unwrap_or(false);
        receiver.borrow_and_update();
        changed
    })
}

/// Where replies to a connection go: it sent a command in this batch, or it is a member.
fn outbox_of<'a>(
    senders: &'a HashMap<ConnId, Outbox>,
    members: &'a HashMap<ConnId, Member>,
    conn: ConnId,
) -> Option<&'a Outbox> {
    senders
        .get(&conn)
        .or_else(|| members.get(&conn).map(|member| &member.outbox))
}

/// The room as the store has it (after a failed write left memory ahead of disk).
async fn reload(room: &Room, store: Arc<dyn Store>) -> Result<Room, crate::store::StoreError> {
    let limits: RoomLimits = room.limits();
    let id = room.id().to_owned();
    let record = tokio::task::spawn_blocking(move || store.load_room(&id, limits.load_limits()))
        .await
        .map_err(|error| {
            crate::store::StoreError::Corrupt(format!("room reload failed: {error}"))
        })??;
    Ok(Room::restore(room.setup().clone(), record, limits))
}
