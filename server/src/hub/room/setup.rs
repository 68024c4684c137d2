//! What a room is given: what the programme says about it and its sessions
//! ([`RoomSetup`], [`SessionPlan`]), and how much it keeps in memory ([`RoomLimits`]). A leaf
//! the parts of a room read.

use std::collections::HashMap;

use jiff::Timestamp;
use plenary_protocol::{RoomId, RoomKind, SessionId};

use crate::store::LoadLimits;

/// How much a room keeps in memory.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// Events kept for replay with `since`.
    pub history: usize,
    /// Chat messages in a join snapshot.
    pub chat_history: usize,
    /// Client ids remembered for answering retries the same way.
    pub client_ids: usize,
    /// How long before its start a session's doors open.
    pub doors: jiff::SignedDuration,
    /// How long before its start those who bookmarked a session are reminded.
    pub reminder: jiff::SignedDuration,
}

impl RoomLimits {
    /// What to load from the store to restore a room with these limits.
    pub fn load_limits(&self) -> LoadLimits {
        LoadLimits {
            events: self.history,
            chat: self.history,
            client_ids: self.client_ids,
        }
    }
}

/// What the programme says about a room.
#[derive(Debug, Clone)]
pub struct RoomSetup {
    pub id: RoomId,
    pub kind: RoomKind,
    /// Attendee places of a workshop room; `None` for no limit.
    pub capacity: Option<u32>,
    /// The sessions held in this room.
    pub sessions: HashMap<SessionId, SessionPlan>,
}

/// What the programme says about a session, as its room needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPlan {
    /// Questions wait for a moderator's approval.
    pub moderated: bool,
    pub start: Timestamp,
    pub end: Timestamp,
}
