//! Server messages as shared bytes: encoded once, sent to every recipient.

use bytes::Bytes;
use plenary_protocol::ServerMessage;

/// Serialise a server message once, into bytes shared by every recipient.
pub fn encode(message: &ServerMessage) -> Bytes {
    Bytes::from(serde_json::to_vec(message).expect("protocol types always serialise to JSON"))
}
