//! A node's copies of the feeds of rooms that run on another node of a cluster, and the
//! delivery of what those rooms send this node's connections.
//!
//! The node that runs a room sends each turn's feed entries to every other node once (not once
//! per attendee); each node appends them to its copy of the room's feed ([`Mirrors::appended`]),
//! which its members' writers read exactly as they read a local room's feed. Positions are the
//! running node's, so a reply the room fenced at position `p` is fenced at `p` here too.
//!
//! What a room sends one connection (replies, replays, being admitted to or leaving the feed)
//! arrives in the same ordered stream as the entries, but a turn's entries come after the
//! replies the turn produced: [`Mirrors::deliver`] holds an item back until the copy has every
//! entry before its fence, [`Mirrors::appended`] releases it just before the entry at its
//! fence, and every item keeps the order it arrived in, so a connection sees its replies and
//! the room's events in the room's order. Nothing is skipped: a copy that misses entries (a message lost between nodes) starts
//! again where the next turn begins, and the connections reading it are closed as lagged, to
//! resume with `since` from the room; so are those whose writer falls out of the copy.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use plenary_protocol::{RoomId, UserId};

use super::feed::{Entry, Feed, Fence, Subscription};
use super::outbox::{LAGGED, Outbox, Outgoing};
use super::person::ConnId;

/// An item held back for entries that never come (lost between nodes, in a room that went
/// quiet) is given up after this long: the copy starts again from the item's fence.
const HOLD_AT_MOST: Duration = Duration::from_secs(2);

/// What a room on another node sends one of this node's connections.
#[derive(Debug)]
pub enum Relayed {
    Frame(Bytes),
    /// Frames that go out back to back (a resume's replay).
    Replay(Vec<Bytes>),
    /// The room admitted the connection: it reads the room's feed from the item's fence,
    /// seeing the staff frames (`staff`) or those `user` may see.
    Admitted {
        staff: bool,
        user: UserId,
    },
    /// The connection left the room at the item's fence.
    Left,
}

/// This node's copies of other nodes' room feeds.
pub struct Mirrors {
    /// Entries each copy keeps (a writer further behind is lagged), as a local feed.
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    rooms: HashMap<RoomId, Copy>,
    /// Items waiting, in the order they arrived, for the entries before their fence.
    pending: VecDeque<Pending>,
    woken: Vec<Arc<Subscription>>,
}

/// One room's copy.
struct Copy {
    feed: Arc<Feed>,
    /// The connections reading it.
    members: HashMap<ConnId, (Arc<Subscription>, Outbox)>,
    /// When to look for writers left behind next (a feed position).
    next_look: u64,
}

struct Pending {
    conn: ConnId,
    outbox: Outbox,
    /// The room and the position it comes after; `None` for an item no room fenced.
    after: Option<(RoomId, u64)>,
    item: Relayed,
    since: Instant,
}

impl Copy {
    fn starting_at(capacity: usize, position: u64) -> Copy {
        Copy {
            feed: Arc::new(Feed::starting_at(capacity, position)),
            members: HashMap::new(),
            next_look: position,
        }
    }

    fn tail(&self) -> u64 {
        self.feed.fence().position
    }

    /// The copy lost entries: close its readers (they resume from the room) and start again.
    fn restart(&mut self, capacity: usize, position: u64) {
        for (_, outbox) in self.members.values() {
            outbox.close(LAGGED);
        }
        *self = Copy::starting_at(capacity, position);
    }
}

impl Mirrors {
    /// Copies that keep `capacity` entries each.
    pub fn new(capacity: usize) -> Mirrors {
        Mirrors {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; a poisoned one is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A turn of `room` on the node that runs it appended `entries`, the first at `first`.
    pub fn appended(&self, room: &str, first: u64, entries: Vec<Entry>) {
        let mut inner = self.inner();
        let Inner {
            rooms,
            pending,
            woken,
        } = &mut *inner;
        let copy = rooms
            .entry(room.to_owned())
            .or_insert_with(|| Copy::starting_at(self.capacity, first));
        let tail = copy.tail();
        if first > tail {
            tracing::warn!(
                room,
                first,
                tail,
                "entries lost between nodes; the room's readers here resume"
            );
            copy.restart(self.capacity, first);
        }
        let skip = usize::try_from(copy.tail().saturating_sub(first)).unwrap_or(usize::MAX);
        let mut appended = false;
        for entry in entries.into_iter().skip(skip) {
            // What the room sent its connections before this entry goes before it.
            self.release(rooms, pending, false);
            if let Some(copy) = rooms.get_mut(room) {
                copy.feed.append(entry);
                appended = true;
            }
        }
        let Some(copy) = rooms.get_mut(room) else {
            return;
        };
        if appended {
            copy.feed.wake(woken);
            let head = copy.feed.head();
            if head >= copy.next_look {
                let feed = Arc::clone(&copy.feed);
                copy.members.retain(|_, (subscription, outbox)| {
                    let lagging = feed.lagging(subscription, head);
                    if lagging {
                        outbox.close(LAGGED);
                    }
                    !lagging
                });
                copy.next_look = head + (self.capacity as u64 / 16).max(1);
            }
        }
        self.release(rooms, pending, false);
    }

    /// Deliver what a room on another node sent this node's connection `conn`: now, or once
    /// the room's copy has every entry before `after` (and after every item that arrived
    /// before it).
    pub fn deliver(
        &self,
        conn: ConnId,
        outbox: &Outbox,
        after: Option<(RoomId, u64)>,
        item: Relayed,
    ) {
        let mut inner = self.inner();
        let Inner { rooms, pending, .. } = &mut *inner;
        pending.push_back(Pending {
            conn,
            outbox: outbox.clone(),
            after,
            item,
            since: Instant::now(),
        });
        self.release(rooms, pending, false);
    }

    /// Give up on items held back for too long (their entries were lost between nodes).
    pub fn tick(&self) {
        let mut inner = self.inner();
        let Inner { rooms, pending, .. } = &mut *inner;
        self.release(rooms, pending, true);
    }

    /// A connection ended: it reads no copy and waits for nothing.
    pub fn forget(&self, conn: ConnId) {
        let mut inner = self.inner();
        for copy in inner.rooms.values_mut() {
            copy.members.remove(&conn);
        }
        inner.pending.retain(|pending| pending.conn != conn);
    }

    /// The rooms run on another node now: every copy and every held item goes (the caller
    /// closes the connections, which resume there).
    pub fn clear(&self) {
        let mut inner = self.inner();
        inner.rooms.clear();
        inner.pending.clear();
    }

    /// Carry out the held items that are ready, in order, stopping at the first that is not;
    /// with `give_up`, one held too long is ready too (its copy starts again at its fence).
    fn release(
        &self,
        rooms: &mut HashMap<RoomId, Copy>,
        pending: &mut VecDeque<Pending>,
        give_up: bool,
    ) {
        while let Some(front) = pending.front() {
            if let Some((room, position)) = &front.after {
                let copy = rooms
                    .entry(room.clone())
                    .or_insert_with(|| Copy::starting_at(self.capacity, *position));
                if copy.tail() < *position {
                    if !give_up || front.since.elapsed() < HOLD_AT_MOST {
                        return;
                    }
                    tracing::warn!(
                        room,
                        position,
                        "entries never came from the node that runs the room; its readers here resume"
                    );
                    copy.restart(self.capacity, *position);
                }
            }
            let Some(Pending {
                conn,
                outbox,
                after,
                item,
                ..
            }) = pending.pop_front()
            else {
                return;
            };
            let Some((room, position)) = after else {
                match item {
                    Relayed::Frame(frame) => {
                        outbox.push(frame);
                    }
                    Relayed::Replay(frames) => {
                        outbox.push_item(Outgoing::Replay(frames));
                    }
                    // Rooms fence these; an unfenced one has nothing to refer to.
                    Relayed::Admitted { .. } | Relayed::Left => {}
                }
                continue;
            };
            let Some(copy) = rooms.get_mut(&room) else {
                continue;
            };
            let fence = Fence {
                feed: copy.feed.id(),
                position,
            };
            match item {
                Relayed::Frame(frame) => {
                    outbox.push_after(fence, Outgoing::Frame(frame));
                }
                Relayed::Replay(frames) => {
                    outbox.push_after(fence, Outgoing::Replay(frames));
                }
                Relayed::Admitted { staff, user } => {
                    if position < copy.feed.head() {
                        // The copy no longer has what the member must read first.
                        outbox.close(LAGGED);
                        continue;
                    }
                    let (subscription, reader) =
                        copy.feed
                            .subscribe_at(position, Arc::clone(&outbox.kick), staff, user);
                    if outbox.push_after(fence, Outgoing::Subscribe(reader)) {
                        copy.members.insert(conn, (subscription, outbox));
                    }
                }
                Relayed::Left => {
                    copy.members.remove(&conn);
                    outbox.push_after(fence, Outgoing::Unsubscribe(fence.feed));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hub::outbox::OutboxReceiver;

    fn entry(text: &'static str) -> Entry {
        Entry {
            public: Some(Bytes::from_static(text.as_bytes())),
            staff: Bytes::from_static(text.as_bytes()),
            owner: None,
        }
    }

    fn at(position: u64) -> Option<(RoomId, u64)> {
        Some(("room".to_owned(), position))
    }

    fn admitted() -> Relayed {
        Relayed::Admitted {
            staff: false,
            user: "u".into(),
        }
    }

    /// What the connection's writer sends until it has nothing more for a moment.
    async fn batch(receiver: &mut OutboxReceiver) -> Vec<Bytes> {
        let mut sent = Vec::new();
        loop {
            let mut out: Vec<Bytes> = Vec::new();
            let next = tokio::time::timeout(
                Duration::from_millis(200),
                receiver.next_batch(&mut out, 64),
            )
            .await;
            sent.extend(out);
            if next != Ok(true) {
                return sent;
            }
        }
    }

    #[tokio::test]
    async fn a_reply_waits_for_the_entries_before_its_fence_and_keeps_its_place() {
        let mirrors = Mirrors::new(16);
        let (outbox, mut receiver) = Outbox::new(16);
        mirrors.deliver(1, &outbox, at(0), admitted());
        // The reply came before the entries it follows.
        mirrors.deliver(
            1,
            &outbox,
            at(2),
            Relayed::Frame(Bytes::from_static(b"ack")),
        );
        mirrors.deliver(
            1,
            &outbox,
            None,
            Relayed::Frame(Bytes::from_static(b"after")),
        );
        assert!(batch(&mut receiver).await.is_empty(), "held back");
        mirrors.appended("room", 0, vec![entry("e0"), entry("e1")]);
        mirrors.appended("room", 2, vec![entry("e2")]);
        assert_eq!(
            batch(&mut receiver).await,
            vec!["e0", "e1", "ack", "after", "e2"]
        );
    }

    #[tokio::test]
    async fn a_reply_fenced_inside_a_turn_goes_between_its_entries() {
        let mirrors = Mirrors::new(16);
        let (outbox, mut receiver) = Outbox::new(16);
        mirrors.deliver(1, &outbox, at(0), admitted());
        // The room's turn made e0, then the reply, then e1 and e2; the reply came first.
        mirrors.deliver(
            1,
            &outbox,
            at(1),
            Relayed::Frame(Bytes::from_static(b"ack")),
        );
        mirrors.appended("room", 0, vec![entry("e0"), entry("e1"), entry("e2")]);
        assert_eq!(batch(&mut receiver).await, vec!["e0", "ack", "e1", "e2"]);
    }

    #[tokio::test]
    async fn a_turn_seen_twice_is_appended_once() {
        let mirrors = Mirrors::new(16);
        let (outbox, mut receiver) = Outbox::new(16);
        mirrors.deliver(1, &outbox, at(0), admitted());
        mirrors.appended("room", 0, vec![entry("a"), entry("b")]);
        mirrors.appended("room", 1, vec![entry("b"), entry("c")]);
        assert_eq!(batch(&mut receiver).await, vec!["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_lost_turn_closes_the_copys_readers_to_resume_and_the_copy_goes_on() {
        let mirrors = Mirrors::new(16);
        let (outbox, mut receiver) = Outbox::new(16);
        mirrors.deliver(1, &outbox, at(0), admitted());
        mirrors.appended("room", 0, vec![entry("e0")]);
        // Entries 1 to 4 never came.
        mirrors.appended("room", 5, vec![entry("e5")]);
        assert_eq!(batch(&mut receiver).await, vec!["e0"]);
        assert_eq!(
            receiver.close_reason().map(|reason| reason.code),
            Some(plenary_protocol::close::LAGGED)
        );
        // A connection admitted after the gap reads on from there.
        let (later, mut later_receiver) = Outbox::new(16);
        mirrors.deliver(2, &later, at(6), admitted());
        mirrors.appended("room", 6, vec![entry("e6")]);
        assert_eq!(batch(&mut later_receiver).await, vec!["e6"]);
    }

    #[tokio::test]
    async fn an_admission_before_what_the_copy_keeps_is_lagged() {
        let mirrors = Mirrors::new(2);
        let (first, _first_receiver) = Outbox::new(16);
        mirrors.deliver(1, &first, at(0), admitted());
        mirrors.appended("room", 0, vec![entry("a"), entry("b"), entry("c")]);
        let (late, late_receiver) = Outbox::new(16);
        mirrors.deliver(2, &late, at(0), admitted());
        assert_eq!(
            late_receiver.close_reason().map(|reason| reason.code),
            Some(plenary_protocol::close::LAGGED)
        );
    }
}
