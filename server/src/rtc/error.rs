//! [`RtcError`]: how the SFU refuses a signalling message, as the `error` the client is sent.

use plenary_protocol::ErrorCode;

use super::peer::SdpError;

/// Why a signalling message was refused: its `error` code and message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RtcError {
    pub code: ErrorCode,
    pub message: String,
}

impl RtcError {
    pub(super) fn new(code: ErrorCode, message: impl Into<String>) -> RtcError {
        RtcError {
            code,
            message: message.into(),
        }
    }

    pub(super) fn internal(error: impl std::fmt::Display) -> RtcError {
        tracing::error!(%error, "webrtc failed");
        RtcError::new(ErrorCode::Internal, "the media server failed: try again")
    }

    /// The client's SDP could not be read or was refused.
    pub(super) fn bad_sdp(error: impl std::fmt::Display) -> RtcError {
        RtcError::new(ErrorCode::BadRequest, format!("bad SDP: {error}"))
    }
}

impl From<SdpError> for RtcError {
    fn from(error: SdpError) -> RtcError {
        match error {
            SdpError::Refused(error) => RtcError::bad_sdp(error),
            SdpError::Failed(error) => RtcError::internal(error),
        }
    }
}
