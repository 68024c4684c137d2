//! A room's feed: the events and broadcasts the room delivers to all its members, in one
//! bounded ring shared by every member, instead of one copy pushed into each member's queue.
//!
//! The room appends each event once ([`Feed::append`]) and, once per turn, wakes the members'
//! writers that were waiting ([`Feed::wake`]). Each connection's writer reads the ring from
//! its own position (a [`Reader`], held by its [`OutboxReceiver`]) and picks the view its
//! role may see. A writer whose position falls out of the ring (more than `capacity` entries
//! behind) is lagged: its connection closes with 4008, as a full outbox did before. A
//! writer stuck on a socket never reads again, so the room also looks at its members'
//! positions every so often ([`Feed::lagging`]) and closes those left behind.
//!
//! Replies to one connection still go through its [`Outbox`] queue, fenced with the feed's
//! position when the room produced them: the writer delivers the feed's entries before that
//! position first, so a connection sees its replies and the room's events in the order the
//! room produced them.
//!
//! [`OutboxReceiver`]: super::OutboxReceiver
//! [`Outbox`]: super::Outbox

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use plenary_protocol::UserId;

use super::frame::Frames;
/// A connection's doorbell, found here by the connection layer.
pub use super::kick::Bell;
use super::kick::Kick;

/// Feeds are told apart by a number unique in this process.
pub type FeedId = u64;

static NEXT_FEED: AtomicU64 = AtomicU64::new(1);

/// One entry of a feed: the frame staff see, and the one everyone else sees (if any).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The frame everyone may see; `None` for staff only.
    pub public: Option<Bytes>,
    /// The frame staff (and `owner`) see.
    pub staff: Bytes,
    /// A person who is not staff but sees the staff frame.
    pub owner: Option<UserId>,
}

impl Entry {
    /// The frame a member sees, if any.
    fn view(&self, staff: bool, user: &str) -> Option<&Bytes> {
        view(
            self.public.as_ref(),
            &self.staff,
            self.owner.as_deref(),
            staff,
            user,
        )
    }
}

/// Which frame of an event a member sees: staff (and the event's `owner`) see the staff
/// frame, everyone else the public one, if there is one.
pub fn view<'a>(
    public: Option<&'a Bytes>,
    staff_frame: &'a Bytes,
    owner: Option<&str>,
    staff: bool,
    user: &str,
) -> Option<&'a Bytes> {
    if staff || owner == Some(user) {
        Some(staff_frame)
    } else {
        public
    }
}

/// A room's ring of entries, shared by its members' writers.
pub struct Feed {
    id: FeedId,
    capacity: usize,
    /// Positions appended so far (the next entry's position).
    tail: AtomicU64,
    ring: Mutex<Ring>,
}

struct Ring {
    /// The position of `entries[0]`.
    head: u64,
    entries: VecDeque<Entry>,
    /// Writers that found nothing new and wait for the next append.
    waiters: Vec<Arc<Subscription>>,
}

/// Where rooms' feeds are copied to the other nodes of a cluster: told of each feed a room
/// opens, and of what each turn appended to it, in order.
pub trait Tap: Send + Sync + 'static {
    /// `room`'s task opened the feed `feed` (its positions start at 0).
    fn opened(&self, room: &str, feed: FeedId);
    /// A turn appended `entries` to `room`'s feed, the first at position `first`.
    fn appended(&self, room: &str, first: u64, entries: Vec<Entry>);
}

/// A position in a feed: what a reply must come after.
#[derive(Debug, Clone, Copy)]
pub struct Fence {
    pub feed: FeedId,
    pub position: u64,
}

impl Feed {
    /// An empty feed that keeps the newest `capacity` entries.
    pub fn new(capacity: usize) -> Feed {
        Feed::starting_at(capacity, 0)
    }

    /// An empty feed whose first entry gets `position`: a copy of another node's feed that
    /// starts where this node first heard of it (`mirror`).
    pub fn starting_at(capacity: usize, position: u64) -> Feed {
        let capacity = capacity.max(1);
        Feed {
            id: NEXT_FEED.fetch_add(1, Ordering::Relaxed),
            capacity,
            tail: AtomicU64::new(position),
            ring: Mutex::new(Ring {
                head: position,
                entries: VecDeque::with_capacity(capacity),
                waiters: Vec::new(),
            }),
        }
    }

    pub fn id(&self) -> FeedId {
        self.id
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // Nothing panics while holding the lock; a poisoned ring is still consistent.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The position the next entry gets: replies produced now come after every entry before
    /// it.
    pub fn fence(&self) -> Fence {
        Fence {
            feed: self.id,
            position: self.tail.load(Ordering::Acquire),
        }
    }

    /// Append an entry, dropping the oldest if the ring is full. Waiting writers are woken by
    /// [`Feed::wake`], once per turn.
    pub fn append(&self, entry: Entry) {
        let mut ring = self.ring();
        if ring.entries.len() == self.capacity {
            ring.entries.pop_front();
            ring.head += 1;
        }
        ring.entries.push_back(entry);
        self.tail
            .store(ring.head + ring.entries.len() as u64, Ordering::Release);
    }

    /// Wake every writer that waits for this feed. `scratch` is an empty vector the caller
    /// keeps, so that waking allocates nothing.
    pub fn wake(&self, scratch: &mut Vec<Arc<Subscription>>) {
        std::mem::swap(&mut self.ring().waiters, scratch);
        for waiting in scratch.drain(..) {
            waiting.armed.store(false, Ordering::Release);
            waiting.kick.bell.ring();
        }
    }

    /// How many entries the ring keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The oldest position still in the ring: a member whose next position is before it has
    /// lost entries.
    pub fn head(&self) -> u64 {
        self.ring().head
    }

    /// Whether a member reading at this position has fallen out of the ring.
    pub fn lagging(&self, subscription: &Subscription, head: u64) -> bool {
        subscription.next.load(Ordering::Acquire) < head
    }

    /// Start a member's subscription at the current end of the feed.
    pub(super) fn subscribe(
        self: &Arc<Self>,
        kick: Arc<Kick>,
        staff: bool,
        user: UserId,
    ) -> (Arc<Subscription>, Reader) {
        let next = self.tail.load(Ordering::Acquire);
        self.subscribe_at(next, kick, staff, user)
    }

    /// Start a member's subscription at `next`: on a node that copies another's feed, where
    /// the room that runs there admitted the member.
    pub(super) fn subscribe_at(
        self: &Arc<Self>,
        next: u64,
        kick: Arc<Kick>,
        staff: bool,
        user: UserId,
    ) -> (Arc<Subscription>, Reader) {
        let subscription = Arc::new(Subscription {
            next: AtomicU64::new(next),
            armed: AtomicBool::new(false),
            kick,
        });
        let reader = Reader {
            feed: Arc::clone(self),
            subscription: Arc::clone(&subscription),
            next,
            end: next,
            staff,
            user,
        };
        (subscription, reader)
    }
}

/// What a member's writer and the room share about one subscription.
pub struct Subscription {
    /// The next position the writer reads; the room looks at it to find stuck writers.
    next: AtomicU64,
    /// The writer is in the feed's waiters.
    armed: AtomicBool,
    /// The connection's close signal and doorbell.
    kick: Arc<Kick>,
}

/// The feed fell more than its capacity ahead of a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

/// A connection's place in one room's feed, held by its writer.
pub struct Reader {
    feed: Arc<Feed>,
    subscription: Arc<Subscription>,
    /// The next position to read.
    next: u64,
    /// The feed's end when the writer last looked ([`Reader::mark`]).
    end: u64,
    staff: bool,
    user: UserId,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("feed", &self.feed.id)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// A reader that goes (its connection left the room, or ended) takes its subscription out of
/// the waiters, or joining and leaving a quiet room would pile them up until the next append.
impl Drop for Reader {
    fn drop(&mut self) {
        if self.subscription.armed.load(Ordering::Acquire) {
            self.feed
                .ring()
                .waiters
                .retain(|waiting| !Arc::ptr_eq(waiting, &self.subscription));
        }
    }
}

impl Reader {
    pub fn feed(&self) -> FeedId {
        self.feed.id
    }

    /// The next position it reads, whether it sees staff frames, and whose frames it sees:
    /// what another node needs to subscribe its own copy of the feed the same way.
    pub fn place(&self) -> (u64, bool, &UserId) {
        (self.next, self.staff, &self.user)
    }

    /// Note where the feed ends now, for [`Reader::read_marked`].
    pub fn mark(&mut self) {
        self.end = self.feed.tail.load(Ordering::Acquire);
    }

    /// [`Reader::read`] up to where the feed ended at the last [`Reader::mark`].
    pub fn read_marked(&mut self, out: &mut impl Frames, limit: usize) -> Result<(), Lagged> {
        self.read(self.end, out, limit)
    }

    /// Put the frames this member sees of the entries before `until` into `out`, until it
    /// holds `limit`. They are copied out under the ring's lock: no reference count of a
    /// frame shared by thousands of members moves between cores per delivery.
    pub fn read(&mut self, until: u64, out: &mut impl Frames, limit: usize) -> Result<(), Lagged> {
        if self.next >= until {
            return Ok(());
        }
        {
            let ring = self.feed.ring();
            if self.next < ring.head {
                return Err(Lagged);
            }
            let start = usize::try_from(self.next - ring.head).unwrap_or(usize::MAX);
            let end = usize::try_from(until - ring.head)
                .unwrap_or(usize::MAX)
                .min(ring.entries.len());
            for entry in ring.entries.range(start.min(end)..end) {
                if out.count() >= limit {
                    break;
                }
                if let Some(frame) = entry.view(self.staff, &self.user) {
                    out.put(frame);
                }
                self.next += 1;
            }
        }
        self.subscription.next.store(self.next, Ordering::Release);
        Ok(())
    }

    /// Wait for the next append unless there is something to read already: returns true if
    /// there is.
    pub fn arm(&self) -> bool {
        let mut ring = self.feed.ring();
        if ring.head + ring.entries.len() as u64 > self.next {
            return true;
        }
        if !self.subscription.armed.swap(true, Ordering::AcqRel) {
            ring.waiters.push(Arc::clone(&self.subscription));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hub::outbox::{Outbox, OutboxReceiver, Outgoing};

    impl Frames for Vec<Bytes> {
        fn put(&mut self, frame: &[u8]) {
            self.push(Bytes::copy_from_slice(frame));
        }

        fn count(&self) -> usize {
            self.len()
        }
    }

    fn entry(text: &'static str) -> Entry {
        Entry {
            public: Some(Bytes::from_static(text.as_bytes())),
            staff: Bytes::from_static(text.as_bytes()),
            owner: None,
        }
    }

    fn subscribe(feed: &Arc<Feed>, outbox: &Outbox) -> Arc<Subscription> {
        let fence = feed.fence();
        let (subscription, reader) = feed.subscribe(Arc::clone(&outbox.kick), false, "u".into());
        assert!(outbox.push_after(fence, Outgoing::Subscribe(reader)));
        subscription
    }

    async fn batch(receiver: &mut OutboxReceiver) -> Vec<Bytes> {
        let mut out = Vec::new();
        let more = tokio::time::timeout(Duration::from_secs(1), receiver.next_batch(&mut out, 64))
            .await
            .expect("a batch is ready");
        assert!(more);
        out
    }

    #[tokio::test]
    async fn replies_keep_their_place_among_the_events() {
        let feed = Arc::new(Feed::new(16));
        let (outbox, mut receiver) = Outbox::new(16);
        feed.append(entry("before joining"));
        subscribe(&feed, &outbox);
        feed.append(entry("e1"));
        outbox.push_after(feed.fence(), Outgoing::Frame(Bytes::from_static(b"ack e1")));
        feed.append(entry("e2"));
        outbox.push_after(feed.fence(), Outgoing::Unsubscribe(feed.fence().feed));
        feed.append(entry("after leaving"));
        feed.wake(&mut Vec::new());
        let frames = batch(&mut receiver).await;
        assert_eq!(frames, vec!["e1", "ack e1", "e2"]);
    }

    #[tokio::test]
    async fn a_waiting_writer_is_woken_by_an_append() {
        let feed = Arc::new(Feed::new(16));
        let (outbox, mut receiver) = Outbox::new(16);
        subscribe(&feed, &outbox);
        let appender = {
            let feed = Arc::clone(&feed);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                feed.append(entry("late"));
                feed.wake(&mut Vec::new());
            })
        };
        assert_eq!(batch(&mut receiver).await, vec!["late"]);
        appender.await.expect("the appender ran");
    }

    #[tokio::test]
    async fn a_reader_that_falls_out_of_the_ring_is_closed_as_lagged() {
        let feed = Arc::new(Feed::new(4));
        let (outbox, mut receiver) = Outbox::new(16);
        let subscription = subscribe(&feed, &outbox);
        for _ in 0..5 {
            feed.append(entry("e"));
        }
        assert!(feed.lagging(&subscription, feed.head()));
        let mut out = Vec::new();
        assert!(!receiver.next_batch(&mut out, 64).await);
        assert_eq!(
            receiver.close_reason().map(|reason| reason.code),
            Some(plenary_protocol::close::LAGGED)
        );
    }

    #[tokio::test]
    async fn a_reader_that_leaves_is_not_left_among_the_waiters() {
        let feed = Arc::new(Feed::new(4));
        let (outbox, mut receiver) = Outbox::new(16);
        subscribe(&feed, &outbox);
        let mut out = Vec::new();
        let wait = Duration::from_millis(50);
        // Nothing to read: the writer waits for the feed.
        assert!(
            tokio::time::timeout(wait, receiver.next_batch(&mut out, 64))
                .await
                .is_err()
        );
        assert_eq!(feed.ring().waiters.len(), 1);
        assert!(outbox.push_after(feed.fence(), Outgoing::Unsubscribe(feed.fence().feed)));
        assert!(
            tokio::time::timeout(wait, receiver.next_batch(&mut out, 64))
                .await
                .is_err()
        );
        assert!(feed.ring().waiters.is_empty(), "it left the room");
    }

    #[tokio::test]
    async fn staff_only_entries_reach_staff_alone() {
        let feed = Arc::new(Feed::new(4));
        let (outbox, mut receiver) = Outbox::new(16);
        subscribe(&feed, &outbox);
        feed.append(Entry {
            public: None,
            staff: Bytes::from_static(b"staff"),
            owner: None,
        });
        feed.append(entry("all"));
        assert_eq!(batch(&mut receiver).await, vec!["all"]);
    }
}
