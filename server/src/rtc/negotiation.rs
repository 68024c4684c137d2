//! Signalling steps that do not depend on which side offers: reading a client's SDP
//! ([`client_offer`], [`client_answer`]), adding a client's trickled candidates
//! ([`add_candidate`]), and [`Negotiation`], the one-offer-at-a-time state of a peer
//! connection the server offers on. (Building the server's own SDPs and trickling its
//! candidates is `peer.rs`.)

use plenary_protocol::{ErrorCode, IceCandidate};
use webrtc::ice_transport::ice_candidate::RTCIceCandidateInit;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;

use super::error::RtcError;

/// A client's offer, as sent in `rtc_publish`.
pub(super) fn client_offer(sdp: String) -> Result<RTCSessionDescription, RtcError> {
    RTCSessionDescription::offer(sdp).map_err(RtcError::bad_sdp)
}

/// A client's answer to a server offer, as sent in `rtc_answer`.
pub(super) fn client_answer(sdp: String) -> Result<RTCSessionDescription, RtcError> {
    RTCSessionDescription::answer(sdp).map_err(RtcError::bad_sdp)
}

/// Add a candidate the client trickled (`rtc_candidate`) to one of its peer connections.
pub(super) async fn add_candidate(
    connection: &RTCPeerConnection,
    candidate: IceCandidate,
) -> Result<(), RtcError> {
    if candidate.candidate.is_empty() {
        // The end of the client's candidates: nothing to do.
        return Ok(());
    }
    let mdns = candidate.candidate.contains(".local");
    let init = RTCIceCandidateInit {
        candidate: candidate.candidate,
        sdp_mid: candidate.sdp_mid,
        sdp_mline_index: candidate.sdp_mline_index,
        username_fragment: candidate.username_fragment,
    };
    match connection.add_ice_candidate(init).await {
        Ok(()) => Ok(()),
        // A browser's `.local` name cannot be resolved here; its peer-reflexive address
        // still pairs.
        Err(_) if mdns => Ok(()),
        Err(error) => Err(RtcError::new(
            ErrorCode::BadRequest,
            format!("bad candidate: {error}"),
        )),
    }
}

/// Negotiation of a subscriber's peer connection: the server offers, one offer at a time.
/// Changes while an offer is in flight mark it dirty, and one more offer follows the answer.
#[derive(Default)]
pub(super) struct Negotiation {
    /// An offer went out and its answer has not come back.
    in_flight: bool,
    /// Tracks changed while an offer was in flight: offer again after the answer.
    dirty: bool,
    /// An offer was ever sent (none is sent while there is nothing to receive).
    started: bool,
}

impl Negotiation {
    /// The tracks changed: whether an offer goes out now (it is then in flight). Not while
    /// one is in flight (it is marked dirty instead), and not the first one while
    /// `nothing_to_receive()`.
    pub fn offer_now(&mut self, nothing_to_receive: impl FnOnce() -> bool) -> bool {
        if self.in_flight {
            self.dirty = true;
            return false;
        }
        if !self.started && nothing_to_receive() {
            // Nothing to receive yet: the first offer waits for the first track.
            return false;
        }
        self.in_flight = true;
        self.started = true;
        true
    }

    /// Whether an offer went out and its answer has not come back.
    pub fn awaits_answer(&self) -> bool {
        self.in_flight
    }

    /// The answer came: whether another offer must follow (it is then in flight).
    pub fn answered(&mut self) -> bool {
        self.in_flight = std::mem::take(&mut self.dirty);
        self.in_flight
    }

    /// The offer could not be made: none is in flight, and the next change offers again.
    pub fn offer_failed(&mut self) {
        *self = Negotiation {
            started: true,
            ..Negotiation::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_offer_is_in_flight_and_changes_meanwhile_bring_one_more() {
        let mut negotiation = Negotiation::default();
        assert!(!negotiation.offer_now(|| true), "nothing to receive yet");
        assert!(negotiation.offer_now(|| false));
        assert!(negotiation.awaits_answer());
        assert!(!negotiation.offer_now(|| false), "one is in flight");
        assert!(!negotiation.offer_now(|| false));
        assert!(
            negotiation.answered(),
            "the changes meanwhile bring one more"
        );
        assert!(!negotiation.answered(), "and only one");
        assert!(!negotiation.awaits_answer());
        assert!(
            negotiation.offer_now(|| true),
            "started: later offers go out even empty"
        );
        negotiation.offer_failed();
        assert!(!negotiation.awaits_answer());
        assert!(negotiation.offer_now(|| true));
    }
}
