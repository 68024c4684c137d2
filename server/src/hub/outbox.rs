//! A connection's delivery: its bounded outgoing queue ([`Outbox`], held by the rooms it
//! talks to) and the writer's side ([`OutboxReceiver`]), which drains the queue together with
//! the feeds of the rooms it joined, keeping each reply in its place among the events.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::feed;
use super::frame::Frames;
use super::kick::{Bell, CloseReason, Kick};
use super::person::ConnId;

/// One item of a connection's outgoing queue.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Bytes),
    /// Frames that go out back to back, counted as one item: a resume's replay, so that a
    /// client catching up on many events is not mistaken for one that reads too slowly.
    Replay(Vec<Bytes>),
    /// Start reading a room's feed (the connection joined the room).
    Subscribe(feed::Reader),
    /// Stop reading a room's feed at the item's fence (the connection left the room).
    Unsubscribe(feed::FeedId),
}

/// An item and, if a room sent it, the room's feed position it comes after.
#[derive(Debug)]
pub(super) struct Queued {
    item: Outgoing,
    after: Option<feed::Fence>,
}

/// The sending side of one connection's bounded outgoing queue. Cheap to clone; rooms hold
/// one per member. When the queue is full the connection is closed with
/// [`plenary_protocol::close::LAGGED`]: a slow reader never slows anyone else, and it
/// resumes from the log when it reconnects. Room events do not go through it: the
/// connection's writer reads them from each joined room's [`feed::Feed`].
#[derive(Clone)]
pub struct Outbox {
    to: To,
    pub(super) kick: Arc<Kick>,
}

#[derive(Clone)]
enum To {
    /// The queue this node's writer drains.
    Local(mpsc::Sender<Queued>),
    /// A connection on another node of a cluster ([`Outbox::remote`]).
    Remote {
        sink: Arc<dyn RemoteSink>,
        conn: ConnId,
    },
}

/// Where the items of connections on another node go, in the order they are queued: a
/// cluster's relay, which carries them to that node together with the rooms' feed turns.
pub trait RemoteSink: Send + Sync + 'static {
    /// Take an item for connection `conn` (that node's number for it), fenced after the
    /// feed position `after`; false if it cannot (the connection is then closed as lagged).
    fn push(&self, conn: ConnId, item: Outgoing, after: Option<feed::Fence>) -> bool;
    /// Connection `conn` is closed with `reason`, after `last_words`.
    fn closed(&self, conn: ConnId, reason: CloseReason, last_words: Vec<Bytes>);
}

/// The receiving side of an [`Outbox`], drained by the connection's writer together with the
/// feeds of the rooms it joined.
pub struct OutboxReceiver {
    pub(super) frames: mpsc::Receiver<Queued>,
    kick: Arc<Kick>,
    /// The feeds of the rooms joined, few.
    readers: Vec<feed::Reader>,
}

fn new_kick() -> Arc<Kick> {
    Arc::new(Kick {
        reason: OnceLock::new(),
        last_words: OnceLock::new(),
        token: CancellationToken::new(),
        closer: AtomicWaker::new(),
        bell: Bell::default(),
    })
}

/// Why a room closes a connection that fell behind.
pub(super) const LAGGED: CloseReason = CloseReason {
    code: plenary_protocol::close::LAGGED,
    reason: "lagged: reconnect and resume with since",
};

impl Outbox {
    /// A queue of at most `capacity` frames.
    pub fn new(capacity: usize) -> (Outbox, OutboxReceiver) {
        let (frames, receiver) = mpsc::channel(capacity);
        let kick = new_kick();
        (
            Outbox {
                to: To::Local(frames),
                kick: Arc::clone(&kick),
            },
            OutboxReceiver {
                frames: receiver,
                kick,
                readers: Vec::new(),
            },
        )
    }

    /// The outbox of connection `conn` of another node of a cluster: what is queued goes to
    /// `sink`, in order. Rooms admit it without a reader of their feed: the subscription
    /// queued here tells the other node where its copy of the feed starts for the connection.
    pub fn remote(sink: Arc<dyn RemoteSink>, conn: ConnId) -> Outbox {
        Outbox {
            to: To::Remote { sink, conn },
            kick: new_kick(),
        }
    }

    /// Queue a frame. Returns false if the connection is gone or was closed for lagging.
    pub fn push(&self, frame: Bytes) -> bool {
        self.push_queued(Queued {
            item: Outgoing::Frame(frame),
            after: None,
        })
    }

    /// Queue an item from a room, to go out after the room's feed entries before `fence`.
    pub(super) fn push_after(&self, fence: feed::Fence, item: Outgoing) -> bool {
        self.push_queued(Queued {
            item,
            after: Some(fence),
        })
    }

    /// Queue an item that comes after nothing in particular.
    pub(super) fn push_item(&self, item: Outgoing) -> bool {
        self.push_queued(Queued { item, after: None })
    }

    fn push_queued(&self, queued: Queued) -> bool {
        let taken = match &self.to {
            To::Local(frames) => match frames.try_send(queued) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => false,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            },
            To::Remote { sink, conn } => {
                if self.kick.reason.get().is_some() {
                    return false;
                }
                sink.push(*conn, queued.item, queued.after)
            }
        };
        if !taken {
            self.close(LAGGED);
        }
        taken
    }

    /// Whether the connection is on another node ([`Outbox::remote`]).
    pub fn is_remote(&self) -> bool {
        matches!(self.to, To::Remote { .. })
    }

    /// Items queued now (for the metrics, sampled: never on the delivery path); a remote
    /// connection's are counted on its node.
    pub fn queued(&self) -> usize {
        match &self.to {
            To::Local(frames) => frames.max_capacity() - frames.capacity(),
            To::Remote { .. } => 0,
        }
    }

    /// Close the connection with a reason (the first reason given wins).
    pub fn close(&self, reason: CloseReason) {
        self.close_with(reason, Vec::new());
    }

    /// Close the connection with a reason, sending `last_words` (frames) just before the
    /// close frame, ahead of anything still queued.
    pub fn close_with(&self, reason: CloseReason, last_words: Vec<Bytes>) {
        if let To::Remote { sink, conn } = &self.to {
            if self.kick.reason.get().is_none() {
                sink.closed(*conn, reason, last_words.clone());
            }
        }
        self.kick.close_with(reason, last_words);
    }

    /// Resolves once the connection has been told to close.
    pub async fn closed(&self) {
        self.kick.token.cancelled().await;
    }
}

impl OutboxReceiver {
    /// Wait for frames to send and append them, in order, to `out`: replies and replays from
    /// the queue, and the joined rooms' feed entries this connection may see. About `max`
    /// frames at most (a replay goes whole, and the feed entries a queued reply comes after
    /// go with it). Returns false once nothing more will come: the queue's senders are gone,
    /// or the connection fell out of a feed and is being closed as lagged.
    pub async fn next_batch(&mut self, out: &mut impl Frames, max: usize) -> bool {
        loop {
            // Where each feed ends now. Every queued item fenced before one of these ends
            // was queued before that entry was appended, so the queue is drained below
            // before the feeds are read up to them: no entry overtakes a reply it follows.
            self.readers.iter_mut().for_each(feed::Reader::mark);
            let mut drained = false;
            while out.count() < max {
                match self.frames.try_recv() {
                    Ok(queued) => {
                        if self.take(queued, out).is_err() {
                            return self.lagged();
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {
                        drained = true;
                        break;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => return false,
                }
            }
            if drained {
                for reader in &mut self.readers {
                    if reader.read_marked(out, max).is_err() {
                        return self.lagged();
                    }
                }
            }
            if out.count() > 0 {
                return true;
            }
            // Nothing to send: wait for a room to append or for the queue, unless something
            // came in meanwhile.
            if self.readers.iter().any(feed::Reader::arm) {
                continue;
            }
            let queued = tokio::select! {
                biased;
                () = self.kick.bell.rung() => continue,
                queued = self.frames.recv() => queued,
            };
            match queued {
                Some(queued) => {
                    if self.take(queued, out).is_err() {
                        return self.lagged();
                    }
                }
                None => return false,
            }
        }
    }

    /// Take one queued item: the feed entries it comes after, then the item.
    fn take(&mut self, queued: Queued, out: &mut impl Frames) -> Result<(), feed::Lagged> {
        let Queued { item, after } = queued;
        if let Some(fence) = after {
            if let Some(reader) = self.reader(fence.feed) {
                reader.read(fence.position, out, usize::MAX)?;
            }
        }
        match item {
            Outgoing::Frame(frame) => out.put(&frame),
            Outgoing::Replay(frames) => frames.iter().for_each(|frame| out.put(frame)),
            Outgoing::Subscribe(reader) => {
                let feed = reader.feed();
                self.readers.retain(|other| other.feed() != feed);
                self.readers.push(reader);
            }
            Outgoing::Unsubscribe(feed) => self.readers.retain(|other| other.feed() != feed),
        }
        Ok(())
    }

    fn reader(&mut self, feed: feed::FeedId) -> Option<&mut feed::Reader> {
        self.readers.iter_mut().find(|reader| reader.feed() == feed)
    }

    /// The connection fell out of a feed: close it as lagged.
    fn lagged(&self) -> bool {
        self.kick.close(LAGGED);
        false
    }

    /// Why the connection is closing, once it is.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.kick.reason.get().copied()
    }

    /// What to send just before the close frame.
    pub fn last_words(&self) -> &[Bytes] {
        self.kick.last_words.get().map_or(&[], Vec::as_slice)
    }

    /// Resolves with the reason once the connection has been told to close.
    pub fn closing(&self) -> impl Future<Output = CloseReason> + Send + 'static {
        let kick = Arc::clone(&self.kick);
        std::future::poll_fn(move |cx| {
            if let Some(reason) = kick.reason.get() {
                return std::task::Poll::Ready(*reason);
            }
            kick.closer.register(cx.waker());
            match kick.reason.get() {
                Some(reason) => std::task::Poll::Ready(*reason),
                None => std::task::Poll::Pending,
            }
        })
    }
}
