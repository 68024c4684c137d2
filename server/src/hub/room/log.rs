//! The room's event sequence: every event gets the next `seq`, is rendered once per audience
//! (staff, and what attendees may see), and is kept in a bounded in-memory log for replay
//! with `since`. The parts of a room publish through it; nothing else numbers events.

use std::collections::VecDeque;

use bytes::Bytes;
use plenary_protocol::{RoomEvent, RoomId, ServerMessage, UserId};

use super::common::{Output, Public};
use crate::hub::frame::encode;
use crate::store::StoredEvent;

/// The room's last seq and its newest events.
pub(super) struct EventLog {
    room: RoomId,
    seq: u64,
    /// Events kept, at most (`RoomLimits::history`).
    history: usize,
    /// The newest events, at most `history`, for replay.
    events: VecDeque<StoredEvent>,
}

/// The person's view of one event.
fn view_for<'a>(event: &'a StoredEvent, staff: bool, user: &str) -> Option<&'a Bytes> {
    crate::hub::feed::view(
        event.public.as_ref(),
        &event.staff,
        event.owner.as_deref(),
        staff,
        user,
    )
}

impl EventLog {
    /// The log as stored: the room's last seq and its newest events, oldest first.
    pub(super) fn restore(
        room: RoomId,
        seq: u64,
        events: VecDeque<StoredEvent>,
        history: usize,
    ) -> EventLog {
        EventLog {
            room,
            seq,
            history,
            events,
        }
    }

    /// The room whose events these are.
    pub(super) fn room(&self) -> &RoomId {
        &self.room
    }

    /// The seq of the last event.
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether the events after `since` are all still kept. A `since` past the room's last
    /// event (a room restored from an older backup) cannot be replayed either: the client
    /// holds events the room does not, and must take a snapshot.
    pub(super) fn replays(&self, since: u64) -> bool {
        let first_kept = self.events.front().map_or(self.seq + 1, |event| event.seq);
        since + 1 >= first_kept && since <= self.seq
    }

    /// The frames a person may see of the events after `since`.
    pub(super) fn views_since(&self, since: u64, staff: bool, user: &str) -> Vec<Bytes> {
        self.events
            .iter()
            .filter(|event| event.seq > since)
            .filter_map(|event| view_for(event, staff, user).cloned())
            .collect()
    }

    /// Give an event the next seq, log it and publish it: staff (and `owner`) get `staff`,
    /// everyone else gets what `public` says.
    pub(super) fn publish(
        &mut self,
        staff: RoomEvent,
        public: Public,
        owner: Option<UserId>,
        out: &mut Vec<Output>,
    ) {
        self.seq += 1;
        let seq = self.seq;
        let frame = |event: RoomEvent| {
            encode(&ServerMessage::Event {
                room: self.room.clone(),
                seq,
                event,
            })
        };
        let staff = frame(staff);
        let public = match public {
            Public::Same => Some(staff.clone()),
            Public::Different(event) => Some(frame(*event)),
            Public::Hidden => None,
        };
        let event = StoredEvent {
            room: self.room.clone(),
            seq,
            public,
            staff,
            owner,
        };
        self.events.push_back(event.clone());
        if self.events.len() > self.history {
            self.events.pop_front();
        }
        out.push(Output::Publish(event));
    }
}
