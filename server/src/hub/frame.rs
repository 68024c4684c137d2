//! Server messages as shared bytes: encoded once, sent to every recipient.

use bytes::Bytes;
use plenary_protocol::ServerMessage;

/// Serialise a server message once, into bytes shared by every recipient.
pub fn encode(message: &ServerMessage) -> Bytes {
    Bytes::from(serde_json::to_vec(message).expect("protocol types always serialise to JSON"))
}

/// Where a connection's writer puts the frames of a batch: each a serialised message, to
/// go out as one WebSocket text frame.
pub trait Frames {
    fn put(&mut self, frame: &[u8]);
    /// How many frames were put in this batch so far.
    fn count(&self) -> usize;
}
