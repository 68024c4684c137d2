//! Media signalling: the peer connections, ICE candidates and servers, and the tracks a room
//! carries. The messages that carry them are in [`ClientMessage`](crate::ClientMessage),
//! [`ServerMessage`](crate::ServerMessage) and [`RoomEvent`](crate::RoomEvent).

use serde::{Deserialize, Serialize};

use crate::ids::Author;

/// Which of a connection's peer connections in a room a signalling message is about: the
/// one it publishes on (the client offers) or the one it receives on (the server offers).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PcKind {
    Publish,
    Subscribe,
}

/// An ICE candidate as the browser's `RTCIceCandidate.toJSON()` gives it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// The `candidate:…` attribute; empty for the end of candidates.
    pub candidate: String,
    #[serde(
        default,
        rename = "sdpMid",
        alias = "sdp_mid",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_mid: Option<String>,
    #[serde(
        default,
        rename = "sdpMLineIndex",
        alias = "sdp_mline_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_mline_index: Option<u16>,
    #[serde(
        default,
        rename = "usernameFragment",
        alias = "username_fragment",
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

/// What a published track carries.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Camera,
    Microphone,
    Screen,
}

/// Audio or video.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    Audio,
    Video,
}

/// A live track of a room, as the `tracks` event and the snapshot list it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// The track's id. A subscribe `rtc_offer` names the m-line carrying it, by mid, in its
    /// `tracks` (the received `MediaStreamTrack.id` need not be this id).
    pub id: String,
    /// The stream id in the server's `rtc_offer`: one per publisher, so their audio and
    /// video play in sync.
    pub stream: String,
    pub kind: TrackKind,
    pub source: TrackSource,
    pub publisher: Author,
}

/// A STUN or TURN server the client's peer connections should use, as in the browser's
/// `RTCIceServer`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}
