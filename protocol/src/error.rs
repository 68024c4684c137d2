//! How a refusal is told: the [`ErrorCode`] of a WebSocket `error` and of an HTTP error body
//! ([`HttpError`]), and the WebSocket [`close`] codes.

use serde::{Deserialize, Serialize};

use crate::organiser;

/// WebSocket close codes the server uses, with the reason text it sends.
pub mod close {
    /// The server is restarting or shutting down: reconnect (with backoff) and resume.
    pub const RESTARTING: u16 = 1012;
    /// A frame was larger than the server accepts.
    pub const TOO_LARGE: u16 = 1009;
    /// The server failed; reconnect and resume with `since`.
    pub const SERVER_ERROR: u16 = 1011;
    /// The connection broke a rule: it flooded the server with messages, or never said hello.
    pub const POLICY: u16 = 1008;
    /// The connection stopped answering pings.
    pub const IDLE: u16 = 4002;
    /// The connection's outgoing queue overflowed (it read too slowly): reconnect and resume
    /// with `since`; nothing is lost.
    pub const LAGGED: u16 = 4008;
}

/// Stable error codes. Clients branch on these, never on the message text.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed JSON, a missing field or a field of the wrong type.
    BadRequest,
    /// A `type` the server does not know.
    UnknownType,
    /// No `hello` yet, or the token is invalid or expired.
    Unauthorized,
    /// The person's role may not do this.
    Forbidden,
    /// No such room, session, question or message.
    NotFound,
    /// The action needs the room to be joined first.
    NotJoined,
    /// A text or frame is over its limit.
    TooLarge,
    /// Too many messages too fast.
    RateLimited,
    /// The person already holds as many connections as allowed.
    TooManyConnections,
    /// The session's Q&A is closed.
    QaClosed,
    /// The person is muted in this room.
    Muted,
    /// The action does not fit the current state (e.g. `hello` twice).
    Conflict,
    /// The workshop room is full for the session open or live in it, and the person is not
    /// registered for that session.
    Full,
    /// The server failed; the action did not happen and may be retried.
    Internal,
    /// HTTP: the change breaks the programme's rules; `fields` says where and why.
    Invalid,
    /// HTTP: this node of a cluster is on standby (another node runs the conference): ask
    /// another node, or this one again later.
    Unavailable,
    /// `vote`: the question is the voter's own; people upvote others' questions.
    OwnQuestion,
    /// `hello` without a token on a server that admits no guests (`--guests deny`): open an
    /// invite link.
    InviteRequired,
}

/// The body of every HTTP error: `{"error":{"code":…,"message":…}}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HttpError {
    pub error: HttpErrorBody,
}

/// See [`HttpError`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HttpErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// With [`ErrorCode::Invalid`]: every problem found, not only the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<organiser::FieldProblem>,
}
