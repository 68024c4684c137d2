//! Delivery to a person rather than to a room: each person's live connections, so that what
//! concerns one person (a reminder of a bookmarked session, a place that freed in a workshop)
//! reaches every tab they have open, whether or not it joined the room the news comes from.
//!
//! A connection lists its [`Outbox`] here once it has said hello, and is taken off when its
//! [`Listing`] is dropped (the connection ended). Rooms send through
//! [`PersonOutboxes::send_after`] a frame serialised once, fenced at their feed's position like
//! a reply; every outbox gets a clone of the same bytes. A full outbox closes its connection as
//! lagged, exactly as a writer that falls out of a room's feed.

use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use plenary_protocol::UserId;

use super::feed::Fence;
use super::outbox::{Outbox, Outgoing};
use super::person::ConnId;

/// Every person's live connections. No guard is held beyond one call.
#[derive(Default)]
pub struct PersonOutboxes {
    by_person: DashMap<UserId, Vec<(ConnId, Outbox)>>,
}

/// A connection's place in [`PersonOutboxes`]; dropping it takes the connection off.
pub struct Listing {
    outboxes: Arc<PersonOutboxes>,
    user: UserId,
    conn: ConnId,
}

impl PersonOutboxes {
    /// List a connection of `user` until the returned [`Listing`] is dropped.
    pub fn list(self: &Arc<Self>, user: UserId, conn: ConnId, outbox: Outbox) -> Listing {
        self.by_person
            .entry(user.clone())
            .or_default()
            .push((conn, outbox));
        Listing {
            outboxes: Arc::clone(self),
            user,
            conn,
        }
    }

    /// Queue `frame` on every live connection of `user`, after the entries of the sending
    /// room's feed before `fence` (for a connection that reads that feed); returns how many
    /// took it.
    pub fn send_after(&self, user: &str, fence: Fence, frame: &Bytes) -> usize {
        self.by_person.get(user).map_or(0, |connections| {
            connections
                .iter()
                .filter(|(_, outbox)| outbox.push_after(fence, Outgoing::Frame(frame.clone())))
                .count()
        })
    }
}

/// How full the listed connections' outboxes are.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Depths {
    /// Items queued in all of them.
    pub queued: usize,
    /// Items queued in the fullest one.
    pub deepest: usize,
}

impl PersonOutboxes {
    /// How full every listed outbox is now (for `/metrics`, when it is read).
    pub fn depths(&self) -> Depths {
        let mut depths = Depths::default();
        for connections in &self.by_person {
            for (_, outbox) in connections.value() {
                let queued = outbox.queued();
                depths.queued += queued;
                depths.deepest = depths.deepest.max(queued);
            }
        }
        depths
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        self.outboxes
            .by_person
            .remove_if_mut(&self.user, |_, connections| {
                connections.retain(|(conn, _)| *conn != self.conn);
                connections.is_empty()
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::feed::Feed;

    #[tokio::test]
    async fn a_frame_reaches_every_listed_connection_of_the_person_until_it_ends() {
        let outboxes = Arc::new(PersonOutboxes::default());
        let (first, mut first_rx) = Outbox::new(4);
        let (second, mut second_rx) = Outbox::new(4);
        let (other, mut other_rx) = Outbox::new(4);
        let one = outboxes.list("ada".into(), 1, first);
        let two = outboxes.list("ada".into(), 2, second);
        let _bob = outboxes.list("bob".into(), 3, other);
        let fence = Feed::new(4).fence();

        assert_eq!(
            outboxes.send_after("ada", fence, &Bytes::from_static(b"hi")),
            2
        );
        assert_eq!(
            outboxes.depths(),
            Depths {
                queued: 2,
                deepest: 1
            }
        );
        assert!(first_rx.frames.try_recv().is_ok());
        assert!(second_rx.frames.try_recv().is_ok());
        assert!(other_rx.frames.try_recv().is_err(), "not to others");

        drop(one);
        assert_eq!(
            outboxes.send_after("ada", fence, &Bytes::from_static(b"again")),
            1
        );
        assert!(first_rx.frames.try_recv().is_err());
        drop(two);
        assert_eq!(
            outboxes.send_after("ada", fence, &Bytes::from_static(b"gone")),
            0
        );
        assert!(
            outboxes.by_person.get("ada").is_none(),
            "nothing left behind"
        );
    }
}
