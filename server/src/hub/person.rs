//! Who is behind a connection: a leaf the rooms and the directory both use.

use plenary_protocol::{RoomId, User};
use serde::{Deserialize, Serialize};

/// A connection's number, unique in this process.
pub type ConnId = u64;

/// A person as the server knows them on one connection (and as a node of a cluster tells
/// the node that runs the conference).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Person {
    pub user: User,
    /// Rooms their token is limited to; `None` for all.
    pub rooms: Option<Vec<RoomId>>,
}

impl Person {
    /// Whether this person may curate Q&A and chat in `room`.
    pub fn may_moderate(&self, room: &str) -> bool {
        self.user.role.is_staff()
            && self
                .rooms
                .as_ref()
                .is_none_or(|rooms| rooms.iter().any(|id| id == room))
    }
}
