//! Media signalling: the `rtc_*` messages, carried out by the SFU ([`crate::rtc::Sfu`]), which
//! asks the rooms who may publish. The answer or error goes to this connection.

use std::collections::BTreeMap;
use std::sync::Arc;

use plenary_protocol::{ErrorCode, IceCandidate, PcKind, Ref, RoomId, ServerMessage, TrackSource};

use super::Session;
use crate::hub::Caller;
use crate::rtc::RtcError;

/// A signalling message, as the SFU takes it.
pub(super) enum Signal {
    /// `rtc_publish`: an offer to publish `sources` in a room.
    Publish {
        room: RoomId,
        sdp: String,
        sources: BTreeMap<String, TrackSource>,
    },
    /// `rtc_subscribe`: receive a room's media.
    Subscribe { room: RoomId },
    /// `rtc_answer`: the answer to the server's offer (only a subscription's).
    Answer {
        room: RoomId,
        pc: PcKind,
        sdp: String,
    },
    /// `rtc_candidate`: an ICE candidate for one of the connection's peer connections.
    Candidate {
        room: RoomId,
        pc: PcKind,
        candidate: IceCandidate,
    },
    /// `rtc_unpublish`: stop publishing in a room.
    Unpublish { room: RoomId },
    /// `rtc_unsubscribe`: stop receiving a room.
    Unsubscribe { room: RoomId },
    /// `rtc_move`: move what this connection publishes from `from` to `to`.
    Move { from: RoomId, to: RoomId },
}

impl Session {
    /// Signalling: the SFU carries it out; the answer or error goes to this connection.
    pub(super) async fn rtc(&self, reference: Option<Ref>, caller: Caller, signal: Signal) {
        let sfu = Arc::clone(&self.state.sfu);
        let outbox = self.outbox.clone();
        let conn = self.conn;
        let ack = || {
            Some(ServerMessage::Ack {
                reference: reference.clone(),
                id: None,
            })
        };
        let answered: Result<Option<ServerMessage>, RtcError> = match signal {
            Signal::Publish { room, sdp, sources } => sfu
                .publish(caller, outbox, room, sdp, sources, reference.clone())
                .await
                .map(Some),
            Signal::Subscribe { room } => sfu.subscribe(caller, outbox, room).await.map(|()| ack()),
            Signal::Answer { room, pc, sdp } => match pc {
                PcKind::Subscribe => sfu.answer(conn, &room, sdp).await.map(|()| ack()),
                PcKind::Publish => Err(RtcError {
                    code: ErrorCode::BadRequest,
                    message:
                        "the server answers publish offers: rtc_answer is for pc \"subscribe\""
                            .into(),
                }),
            },
            Signal::Candidate {
                room,
                pc,
                candidate,
            } => sfu
                .candidate(conn, &room, pc, candidate)
                .await
                .map(|()| None),
            Signal::Unpublish { room } => sfu.unpublish(conn, &room).await.map(|()| ack()),
            Signal::Unsubscribe { room } => sfu.unsubscribe(conn, &room).await.map(|()| ack()),
            Signal::Move { from, to } => sfu
                .move_tracks(caller, outbox, from, to)
                .await
                .map(|()| ack()),
        };
        match answered {
            Ok(Some(message)) => self.send(&message),
            Ok(None) => {}
            Err(error) => self.refuse(reference, error.code, error.message),
        }
    }
}
