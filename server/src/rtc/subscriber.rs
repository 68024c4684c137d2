//! A [`Subscriber`]: one connection's receiving peer connection in one room (the server
//! offers). Forwarded tracks are bound to it ([`attach`]) and unbound ([`detach`]) through
//! [`Slot`]s, senders reused by later tracks of their kind; each change renegotiates it
//! ([`Subscriber::renegotiate`], one offer in flight, see [`Negotiation`]), and each offer
//! says which track each mid carries. A viewer's PLI and FIR go up through the track its
//! slot carries; NACKs are answered by the viewer's own NACK responder.
//!
//! It knows nothing of the room's other subscribers or of the hub: `room.rs` keeps the room's
//! subscribers, `mod.rs` creates them and wires their connection's state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use plenary_protocol::{ErrorCode, PcKind, RoomId, ServerMessage, UserId};
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use webrtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use webrtc::rtp_transceiver::rtp_transceiver_direction::RTCRtpTransceiverDirection;
use webrtc::rtp_transceiver::{RTCRtpTransceiver, RTCRtpTransceiverInit};
use webrtc::track::track_local::TrackLocal;

use super::error::RtcError;
use super::forward::Forwarded;
use super::lock::lock;
use super::negotiation::Negotiation;
use super::peer::Peer;
use crate::hub::{ConnId, Outbox, encode};

/// A sender on a subscriber's peer connection. It carries one forwarded track at a time; when
/// that track ends it goes inactive and the next track of its kind takes it over, so a
/// viewer's SDP holds as many m-lines of a kind as were ever live at once, not one for every
/// track that came and went in a day.
struct Slot {
    transceiver: Arc<RTCRtpTransceiver>,
    /// The track it carries, `None` while inactive. Shared with the slot's RTCP reader, which
    /// passes keyframe requests to whatever track the slot carries then.
    track: Arc<Mutex<Option<Arc<Forwarded>>>>,
}

impl Slot {
    fn carries(&self, track: &Arc<Forwarded>) -> bool {
        lock(&self.track)
            .as_ref()
            .is_some_and(|carried| Arc::ptr_eq(carried, track))
    }
}

/// One connection's receiving peer connection in one room.
pub(super) struct Subscriber {
    pub conn: ConnId,
    /// Who receives, for ending it when they are removed from the room.
    pub user: UserId,
    pub room: RoomId,
    outbox: Outbox,
    pub peer: Peer,
    /// Its senders, in the order they were added.
    slots: Mutex<Vec<Slot>>,
    negotiation: Mutex<Negotiation>,
}

impl Subscriber {
    /// A subscriber with nothing bound yet; its offers go to `outbox`.
    pub fn new(
        conn: ConnId,
        user: UserId,
        room: RoomId,
        outbox: Outbox,
        peer: Peer,
    ) -> Arc<Subscriber> {
        Arc::new(Subscriber {
            conn,
            user,
            room,
            outbox,
            peer,
            slots: Mutex::new(Vec::new()),
            negotiation: Mutex::new(Negotiation::default()),
        })
    }

    /// Send a subscriber a new offer, or mark it dirty if one is in flight.
    pub fn renegotiate(self: &Arc<Self>) {
        let offer_now = lock(&self.negotiation).offer_now(|| lock(&self.slots).is_empty());
        if offer_now {
            tokio::spawn(offer(Arc::clone(self)));
        }
    }

    /// `rtc_answer` for the subscriber's offer.
    pub async fn answer(self: Arc<Self>, answer: RTCSessionDescription) -> Result<(), RtcError> {
        if !lock(&self.negotiation).awaits_answer() {
            return Err(RtcError::new(
                ErrorCode::Conflict,
                "no offer is waiting for an answer",
            ));
        }
        self.peer
            .connection
            .set_remote_description(answer)
            .await
            .map_err(RtcError::bad_sdp)?;
        let again = lock(&self.negotiation).answered();
        if self.peer.connection.connection_state() == RTCPeerConnectionState::Connected {
            // New tracks on a connection already up: their viewers need a keyframe.
            self.request_keyframes().await;
        }
        if again {
            tokio::spawn(offer(self));
        }
        Ok(())
    }

    /// Ask the publishers of every track it receives for a keyframe.
    pub async fn request_keyframes(&self) {
        let tracks: Vec<Arc<Forwarded>> = lock(&self.slots)
            .iter()
            .filter_map(|slot| lock(&slot.track).clone())
            .collect();
        for track in tracks {
            track.request_keyframe().await;
        }
    }
}

/// Bind a forwarded track to a subscriber: to an inactive slot of its kind if there is one,
/// else to a new one whose viewer's keyframe requests are passed up.
pub(super) async fn attach(subscriber: &Subscriber, track: &Arc<Forwarded>) {
    let local: Arc<dyn TrackLocal + Send + Sync> = Arc::clone(&track.local) as _;
    let kind = track.local.kind();
    let idle = lock(&subscriber.slots)
        .iter()
        .find(|slot| slot.transceiver.kind() == kind && lock(&slot.track).is_none())
        .map(|slot| (Arc::clone(&slot.transceiver), Arc::clone(&slot.track)));
    if let Some((transceiver, carried)) = idle {
        // Claimed before the await: the room's media lock keeps other binds out meanwhile.
        *lock(&carried) = Some(Arc::clone(track));
        let sender = transceiver.sender().await;
        match sender.replace_track(Some(Arc::clone(&local))).await {
            Ok(()) => {
                transceiver
                    .set_direction(RTCRtpTransceiverDirection::Sendonly)
                    .await;
                return;
            }
            Err(error) => {
                tracing::debug!(%error, "a viewer's idle slot did not take a track");
                *lock(&carried) = None;
            }
        }
    }
    let init = RTCRtpTransceiverInit {
        direction: RTCRtpTransceiverDirection::Sendonly,
        send_encodings: Vec::new(),
    };
    let transceiver = match subscriber
        .peer
        .connection
        .add_transceiver_from_track(local, Some(init))
        .await
    {
        Ok(transceiver) => transceiver,
        Err(error) => {
            tracing::debug!(%error, "binding a track to a closed viewer");
            return;
        }
    };
    let sender = transceiver.sender().await;
    // The next track in this slot continues its sequence numbers: a jump back would look
    // like replayed packets to the viewer's SRTP and be dropped.
    if let Err(error) = sender.enable_seq_transformer() {
        tracing::debug!(%error, "a viewer's sender keeps its tracks' sequence numbers");
    }
    let carried = Arc::new(Mutex::new(Some(Arc::clone(track))));
    lock(&subscriber.slots).push(Slot {
        transceiver,
        track: Arc::clone(&carried),
    });
    // Read until the sender stops: reading also runs the NACK responder and reports.
    tokio::spawn(async move {
        while let Ok((packets, _)) = sender.read_rtcp().await {
            let wants_keyframe = packets.iter().any(|packet| {
                let packet = packet.as_any();
                packet.is::<PictureLossIndication>() || packet.is::<FullIntraRequest>()
            });
            let track = lock(&carried).clone();
            if let (true, Some(track)) = (wants_keyframe, track) {
                track.request_keyframe().await;
            }
        }
    });
}

/// Unbind a track from a subscriber: its slot goes inactive, ready for the next track. (The
/// ended track stays bound underneath until then; nothing is written to it any more.)
pub(super) async fn detach(subscriber: &Subscriber, track: &Arc<Forwarded>) {
    let carrying: Vec<Arc<RTCRtpTransceiver>> = lock(&subscriber.slots)
        .iter()
        .filter(|slot| slot.carries(track))
        .map(|slot| {
            *lock(&slot.track) = None;
            Arc::clone(&slot.transceiver)
        })
        .collect();
    for transceiver in carrying {
        transceiver
            .set_direction(RTCRtpTransceiverDirection::Inactive)
            .await;
    }
}

/// Which track each of a subscriber's m-lines carries now, by mid.
fn tracks_by_mid(subscriber: &Subscriber) -> BTreeMap<String, String> {
    lock(&subscriber.slots)
        .iter()
        .filter_map(|slot| {
            let mid = slot.transceiver.mid()?;
            let track = lock(&slot.track).as_ref()?.info.id.clone();
            Some((mid.to_string(), track))
        })
        .collect()
}

/// Create and send a subscriber's offer.
async fn offer(subscriber: Arc<Subscriber>) {
    let sdp = match subscriber.peer.connection.create_offer(None).await {
        Ok(offer) => subscriber.peer.local_sdp(offer).await,
        Err(error) => Err(error),
    };
    match sdp {
        Ok(sdp) => {
            subscriber.outbox.push(encode(&ServerMessage::RtcOffer {
                room: subscriber.room.clone(),
                pc: PcKind::Subscribe,
                sdp,
                tracks: tracks_by_mid(&subscriber),
            }));
        }
        Err(error) => {
            tracing::debug!(%error, conn = subscriber.conn, "no offer for a viewer");
            lock(&subscriber.negotiation).offer_failed();
        }
    }
}
