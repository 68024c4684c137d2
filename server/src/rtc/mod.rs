//! The selective forwarding unit: media published by hosts, forwarded to every viewer of the
//! room without re-encoding, with its signalling carried over the WebSocket.
//!
//! - A [`Publisher`] is one connection's publishing peer connection (at most one per
//!   connection, in one room at a time: the client offers, the server answers). Each track
//!   it receives becomes a [`Forwarded`] track: one task reads its RTP once and writes it
//!   once into one `TrackLocalStaticRTP`, which is bound to every viewer's peer connection
//!   (webrtc-rs rewrites SSRC and payload type per binding and encrypts per viewer).
//! - A [`Subscriber`] is one connection's receiving peer connection in one room (the server
//!   offers). When the room's tracks change it is renegotiated, with at most one offer in
//!   flight: changes meanwhile mark it dirty and one more offer follows the answer. Its
//!   senders are [`Slot`]s, reused by later tracks of their kind, and each offer says which
//!   track each mid carries.
//! - Viewers' PLI and FIR go up to the publisher as a PLI, at most one per track per
//!   [`KEYFRAME_INTERVAL`]; a viewer whose connection comes up asks for one too, so it sees
//!   video at once. NACKs are answered by each viewer's own NACK responder.
//!
//! The hub's room stays the authority on who may publish or receive
//! ([`Input::RtcPermit`]), and it tells everyone which tracks are live ([`Input::Tracks`]).
//! Each room's media state sits behind one async lock ([`MediaRoom`]), held for the quick
//! peer-connection edits and never across an SDP exchange.

mod peer;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use plenary_protocol::{
    Author, ErrorCode, IceCandidate, PcKind, Ref, RoomId, ServerMessage, TrackInfo, TrackKind,
    TrackSource,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use webrtc::ice_transport::ice_candidate::RTCIceCandidateInit;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use webrtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use webrtc::rtp_transceiver::rtp_codec::RTPCodecType;
use webrtc::rtp_transceiver::rtp_transceiver_direction::RTCRtpTransceiverDirection;
use webrtc::rtp_transceiver::{RTCRtpTransceiver, RTCRtpTransceiverInit};
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::{TrackLocal, TrackLocalWriter};
use webrtc::track::track_remote::TrackRemote;

use crate::hub::{Caller, ConnId, Hub, Input, MediaRevoked, Outbox, Person, encode};
pub use peer::RtcConfig;
use peer::{Peer, SdpError};

/// The least time between two keyframe requests sent upstream for one track.
pub const KEYFRAME_INTERVAL: Duration = Duration::from_millis(250);

/// Why a signalling message was refused: its `error` code and message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RtcError {
    pub code: ErrorCode,
    pub message: String,
}

impl RtcError {
    fn new(code: ErrorCode, message: impl Into<String>) -> RtcError {
        RtcError {
            code,
            message: message.into(),
        }
    }

    fn internal(error: impl std::fmt::Display) -> RtcError {
        tracing::error!(%error, "webrtc failed");
        RtcError::new(ErrorCode::Internal, "the media server failed: try again")
    }
}

impl From<SdpError> for RtcError {
    fn from(error: SdpError) -> RtcError {
        match error {
            SdpError::Refused(error) => {
                RtcError::new(ErrorCode::BadRequest, format!("bad SDP: {error}"))
            }
            SdpError::Failed(error) => RtcError::internal(error),
        }
    }
}

/// A published track as the SFU forwards it.
struct Forwarded {
    info: TrackInfo,
    /// The one track every viewer's peer connection is bound to.
    local: Arc<TrackLocalStaticRTP>,
    /// The SSRC the publisher sends it with, for keyframe requests.
    media_ssrc: u32,
    /// Where keyframe requests go.
    publisher: Weak<RTCPeerConnection>,
    /// When a keyframe was last requested.
    last_keyframe_request: Mutex<Option<Instant>>,
}

impl Forwarded {
    /// Ask the publisher for a keyframe, unless one was asked for very recently.
    async fn request_keyframe(&self) {
        if self.info.kind != TrackKind::Video {
            return;
        }
        {
            let mut last = self
                .last_keyframe_request
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            if last.is_some_and(|last| now.duration_since(last) < KEYFRAME_INTERVAL) {
                return;
            }
            *last = Some(now);
        }
        if let Some(publisher) = self.publisher.upgrade() {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: self.media_ssrc,
            };
            if let Err(error) = publisher.write_rtcp(&[Box::new(pli)]).await {
                tracing::debug!(%error, track = %self.info.id, "keyframe request not sent");
            }
        }
    }
}

/// One connection's publishing peer connection.
struct Publisher {
    conn: ConnId,
    person: Arc<Person>,
    peer: Peer,
    /// The room its tracks are forwarded to; changed by `rtc_move`.
    room: Mutex<RoomId>,
    /// What the client said each track is.
    sources: Mutex<BTreeMap<String, TrackSource>>,
    /// Its live tracks.
    tracks: Mutex<Vec<Arc<Forwarded>>>,
}

impl Publisher {
    fn room(&self) -> RoomId {
        lock(&self.room).clone()
    }
}

/// Negotiation of a subscriber's peer connection: the server offers, one offer at a time.
#[derive(Default)]
struct Negotiation {
    /// An offer went out and its answer has not come back.
    in_flight: bool,
    /// Tracks changed while an offer was in flight: offer again after the answer.
    dirty: bool,
    /// An offer was ever sent (none is sent while there is nothing to receive).
    started: bool,
}

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
struct Subscriber {
    conn: ConnId,
    /// Who receives, for ending it when they are removed from the room.
    user: plenary_protocol::UserId,
    room: RoomId,
    outbox: Outbox,
    peer: Peer,
    /// Its senders, in the order they were added.
    slots: Mutex<Vec<Slot>>,
    negotiation: Mutex<Negotiation>,
}

/// One room's media.
#[derive(Default)]
struct MediaRoom {
    state: tokio::sync::Mutex<MediaRoomState>,
}

#[derive(Default)]
struct MediaRoomState {
    tracks: Vec<Arc<Forwarded>>,
    subscribers: HashMap<ConnId, Arc<Subscriber>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data behind these locks stays consistent at every step; a panic elsewhere leaves
    // nothing half-done.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The selective forwarding unit.
pub struct Sfu {
    config: RtcConfig,
    hub: Arc<Hub>,
    /// A directory: no guard is held across an `.await`.
    rooms: DashMap<RoomId, Arc<MediaRoom>>,
    publishers: DashMap<ConnId, Arc<Publisher>>,
    next_track: AtomicU64,
    me: Weak<Sfu>,
}

impl Sfu {
    /// Start the SFU; it ends people's tracks when their room revokes their right to publish.
    pub fn start(
        config: RtcConfig,
        hub: Arc<Hub>,
        mut revocations: mpsc::Receiver<MediaRevoked>,
        tasks: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Arc<Sfu> {
        let sfu = Arc::new_cyclic(|me| Sfu {
            config,
            hub,
            rooms: DashMap::new(),
            publishers: DashMap::new(),
            next_track: AtomicU64::new(1),
            me: me.clone(),
        });
        let listener = Arc::downgrade(&sfu);
        let shutdown = shutdown.clone();
        let rooms: Vec<RoomId> = sfu
            .hub
            .programme()
            .rooms
            .iter()
            .map(|room| room.id.clone())
            .collect();
        let hub = Arc::clone(&sfu.hub);
        tasks.spawn(async move {
            // Nothing is live at start: rooms whose log says otherwise (from before a restart)
            // publish an empty track list.
            for room in rooms {
                if let Some(handle) = hub.room(&room) {
                    let _ = handle.tell(Input::Tracks { tracks: Vec::new() }).await;
                }
            }
            drop(hub);
            loop {
                let revoked = tokio::select! {
                    () = shutdown.cancelled() => return,
                    revoked = revocations.recv() => revoked,
                };
                let (Some(revoked), Some(sfu)) = (revoked, listener.upgrade()) else {
                    return;
                };
                // Never wait here: a room may be waiting to hand over the next one.
                tokio::spawn(async move { sfu.revoked(revoked).await });
            }
        });
        sfu
    }

    /// The STUN and TURN servers clients should use.
    pub fn ice_servers(&self) -> Vec<plenary_protocol::IceServer> {
        self.config.ice_servers.clone()
    }

    fn media_room(&self, room: &str) -> Arc<MediaRoom> {
        if let Some(media) = self.rooms.get(room) {
            return Arc::clone(media.value());
        }
        Arc::clone(self.rooms.entry(room.to_owned()).or_default().value())
    }

    /// Ask the room whether `caller` may receive or publish there.
    async fn permit(
        &self,
        caller: &Caller,
        outbox: &Outbox,
        room: &str,
        publish: bool,
    ) -> Result<(), RtcError> {
        let Some(handle) = self.hub.room(room) else {
            return Err(RtcError::new(
                ErrorCode::NotFound,
                format!("no room {room}"),
            ));
        };
        let closed = || RtcError::new(ErrorCode::Internal, "the room is closed: retry");
        handle
            .permit(caller.clone(), publish, outbox.clone())
            .await
            .map_err(|_| closed())?
            .map_err(|(code, message)| RtcError { code, message })
    }

    /// `rtc_publish`: answer the client's offer.
    #[tracing::instrument(skip_all, fields(conn = caller.conn, user = %caller.person.user.id, %room))]
    pub async fn publish(
        &self,
        caller: Caller,
        outbox: Outbox,
        room: RoomId,
        sdp: String,
        sources: BTreeMap<String, TrackSource>,
        reference: Option<Ref>,
    ) -> Result<ServerMessage, RtcError> {
        let offer = RTCSessionDescription::offer(sdp)
            .map_err(|error| RtcError::new(ErrorCode::BadRequest, format!("bad SDP: {error}")))?;
        self.permit(&caller, &outbox, &room, true).await?;
        let existing = self
            .publishers
            .get(&caller.conn)
            .map(|entry| Arc::clone(entry.value()));
        let (publisher, renegotiating) = match existing {
            Some(publisher) if publisher.room() == room => {
                lock(&publisher.sources).extend(sources);
                (publisher, true)
            }
            other => {
                if let Some(elsewhere) = other {
                    self.end_publisher(&elsewhere).await;
                }
                let publisher = self
                    .new_publisher(&caller, outbox.clone(), &room, sources)
                    .await?;
                // Asked again now that revocations can find it: a revocation the room
                // carried out between the first answer and now is not missed.
                if let Err(refused) = self.permit(&caller, &outbox, &room, true).await {
                    self.end_publisher(&publisher).await;
                    return Err(refused);
                }
                (publisher, false)
            }
        };
        match publisher.peer.answer(offer).await {
            Ok(sdp) => Ok(ServerMessage::RtcAnswer {
                reference,
                room,
                pc: PcKind::Publish,
                sdp,
            }),
            Err(error) => {
                // A refused first offer leaves nothing behind; a refused renegotiation
                // leaves the tracks already flowing.
                if !renegotiating {
                    self.end_publisher(&publisher).await;
                }
                Err(error.into())
            }
        }
    }

    async fn new_publisher(
        &self,
        caller: &Caller,
        outbox: Outbox,
        room: &RoomId,
        sources: BTreeMap<String, TrackSource>,
    ) -> Result<Arc<Publisher>, RtcError> {
        let peer = self
            .config
            .peer(outbox, room.clone(), PcKind::Publish)
            .await
            .map_err(RtcError::internal)?;
        let publisher = Arc::new(Publisher {
            conn: caller.conn,
            person: Arc::clone(&caller.person),
            peer,
            room: Mutex::new(room.clone()),
            sources: Mutex::new(sources),
            tracks: Mutex::new(Vec::new()),
        });
        let sfu = self.me.clone();
        let weak = Arc::downgrade(&publisher);
        publisher
            .peer
            .connection
            .on_track(Box::new(move |remote, _receiver, _transceiver| {
                let (sfu, publisher) = (sfu.clone(), weak.clone());
                // The callback runs under the connection's handler lock: a loop in it would
                // stop later tracks from arriving, so forwarding runs in its own task.
                tokio::spawn(async move {
                    if let (Some(sfu), Some(publisher)) = (sfu.upgrade(), publisher.upgrade()) {
                        sfu.forward(publisher, remote).await;
                    }
                });
                Box::pin(async {})
            }));
        let sfu = self.me.clone();
        let weak = Arc::downgrade(&publisher);
        publisher
            .peer
            .connection
            .on_peer_connection_state_change(Box::new(move |state| {
                let (sfu, publisher) = (sfu.clone(), weak.clone());
                Box::pin(async move {
                    if matches!(state, RTCPeerConnectionState::Failed) {
                        if let (Some(sfu), Some(publisher)) = (sfu.upgrade(), publisher.upgrade()) {
                            tokio::spawn(async move { sfu.end_publisher(&publisher).await });
                        }
                    }
                })
            }));
        if let Some(replaced) = self.publishers.insert(caller.conn, Arc::clone(&publisher)) {
            // Two publishes raced on one connection: the later one wins.
            self.end_publisher(&replaced).await;
        }
        Ok(publisher)
    }

    /// Forward one published track until it ends.
    async fn forward(&self, publisher: Arc<Publisher>, remote: Arc<TrackRemote>) {
        let kind = match remote.kind() {
            RTPCodecType::Audio => TrackKind::Audio,
            RTPCodecType::Video => TrackKind::Video,
            RTPCodecType::Unspecified => return,
        };
        let source = {
            let sources = lock(&publisher.sources);
            sources
                .get(&remote.id())
                .or_else(|| sources.get(&remote.stream_id()))
                .copied()
        };
        let source = source.unwrap_or(match kind {
            TrackKind::Audio => TrackSource::Microphone,
            TrackKind::Video => TrackSource::Camera,
        });
        let number = self.next_track.fetch_add(1, Ordering::Relaxed);
        let info = TrackInfo {
            id: format!("t{number}"),
            stream: format!("p{}", publisher.conn),
            kind,
            source,
            publisher: Author {
                id: publisher.person.user.id.clone(),
                name: publisher.person.user.name.clone(),
            },
        };
        let local = Arc::new(TrackLocalStaticRTP::new(
            remote.codec().capability,
            info.id.clone(),
            info.stream.clone(),
        ));
        let forwarded = Arc::new(Forwarded {
            info,
            local: Arc::clone(&local),
            media_ssrc: remote.ssrc(),
            publisher: Arc::downgrade(&publisher.peer.connection),
            last_keyframe_request: Mutex::new(None),
        });
        lock(&publisher.tracks).push(Arc::clone(&forwarded));
        tracing::info!(
            conn = publisher.conn,
            track = %forwarded.info.id,
            mime = %remote.codec().capability.mime_type,
            "forwarding a published track"
        );
        self.add_tracks(&publisher.room(), std::slice::from_ref(&forwarded))
            .await;
        while let Ok((mut packet, _)) = remote.read_rtp().await {
            // The publisher's header-extension ids mean nothing on the viewers' connections.
            packet.header.extension = false;
            packet.header.extensions.clear();
            // An error means one binding failed (a viewer leaving): the others still get it.
            let _ = local.write_rtp(&packet).await;
        }
        let ended = {
            let mut tracks = lock(&publisher.tracks);
            let before = tracks.len();
            tracks.retain(|track| !Arc::ptr_eq(track, &forwarded));
            tracks.len() != before
        };
        if ended {
            self.remove_tracks(&publisher.room(), std::slice::from_ref(&forwarded))
                .await;
        }
    }

    /// Bind tracks to every subscriber of a room, renegotiate, and tell the room.
    async fn add_tracks(&self, room: &str, tracks: &[Arc<Forwarded>]) {
        let media = self.media_room(room);
        let mut state = media.state.lock().await;
        state.tracks.extend(tracks.iter().cloned());
        for subscriber in state.subscribers.values() {
            for track in tracks {
                attach(subscriber, track).await;
            }
            self.renegotiate(Arc::clone(subscriber));
        }
        self.report_tracks(room, &state).await;
    }

    /// Unbind tracks from every subscriber of a room, renegotiate, and tell the room.
    async fn remove_tracks(&self, room: &str, tracks: &[Arc<Forwarded>]) {
        let media = self.media_room(room);
        let mut state = media.state.lock().await;
        let before = state.tracks.len();
        state
            .tracks
            .retain(|live| !tracks.iter().any(|gone| Arc::ptr_eq(live, gone)));
        if state.tracks.len() == before {
            return;
        }
        for subscriber in state.subscribers.values() {
            for track in tracks {
                detach(subscriber, track).await;
            }
            self.renegotiate(Arc::clone(subscriber));
        }
        self.report_tracks(room, &state).await;
    }

    /// Tell the room its live tracks (under the room's media lock, so reports keep order).
    async fn report_tracks(&self, room: &str, state: &MediaRoomState) {
        let tracks = state
            .tracks
            .iter()
            .map(|track| track.info.clone())
            .collect();
        if let Some(handle) = self.hub.room(room) {
            if handle.tell(Input::Tracks { tracks }).await.is_err() {
                tracing::debug!(room, "track list not reported: the room is closed");
            }
        }
    }

    /// Stop a publisher: its tracks end for every viewer, its peer connection closes.
    async fn end_publisher(&self, publisher: &Arc<Publisher>) {
        self.publishers.remove_if(&publisher.conn, |_, current| {
            Arc::ptr_eq(current, publisher)
        });
        let tracks = std::mem::take(&mut *lock(&publisher.tracks));
        if !tracks.is_empty() {
            self.remove_tracks(&publisher.room(), &tracks).await;
        }
        if let Err(error) = publisher.peer.connection.close().await {
            tracing::debug!(%error, "closing a publisher");
        }
    }

    /// `rtc_unpublish`.
    #[tracing::instrument(skip(self))]
    pub async fn unpublish(&self, conn: ConnId, room: &str) -> Result<(), RtcError> {
        let publisher = self.publisher_in(conn, room).ok_or_else(|| {
            RtcError::new(ErrorCode::NotFound, format!("nothing published in {room}"))
        })?;
        self.end_publisher(&publisher).await;
        Ok(())
    }

    fn publisher_in(&self, conn: ConnId, room: &str) -> Option<Arc<Publisher>> {
        self.publishers
            .get(&conn)
            .map(|entry| Arc::clone(entry.value()))
            .filter(|publisher| publisher.room() == room)
    }

    /// `rtc_move`: the same peer connection's tracks leave `from` and appear in `to`.
    #[tracing::instrument(skip_all, fields(conn = caller.conn, user = %caller.person.user.id, %from, %to))]
    pub async fn move_tracks(
        &self,
        caller: Caller,
        outbox: Outbox,
        from: RoomId,
        to: RoomId,
    ) -> Result<(), RtcError> {
        let publisher = self.publisher_in(caller.conn, &from).ok_or_else(|| {
            RtcError::new(ErrorCode::NotFound, format!("nothing published in {from}"))
        })?;
        if from == to {
            return Ok(());
        }
        self.permit(&caller, &outbox, &to, true).await?;
        let tracks = lock(&publisher.tracks).clone();
        self.remove_tracks(&from, &tracks).await;
        *lock(&publisher.room) = to.clone();
        // As for a new publisher: a revocation in `to` meanwhile is not missed.
        if let Err(refused) = self.permit(&caller, &outbox, &to, true).await {
            self.end_publisher(&publisher).await;
            return Err(refused);
        }
        self.add_tracks(&to, &tracks).await;
        tracing::info!(conn = caller.conn, %from, %to, tracks = tracks.len(), "moved published tracks");
        Ok(())
    }

    /// `rtc_subscribe`: a receiving peer connection with the room's tracks; its offer follows.
    #[tracing::instrument(skip_all, fields(conn = caller.conn, user = %caller.person.user.id, %room))]
    pub async fn subscribe(
        &self,
        caller: Caller,
        outbox: Outbox,
        room: RoomId,
    ) -> Result<(), RtcError> {
        self.permit(&caller, &outbox, &room, false).await?;
        let media = self.media_room(&room);
        if media
            .state
            .lock()
            .await
            .subscribers
            .contains_key(&caller.conn)
        {
            return Err(RtcError::new(
                ErrorCode::Conflict,
                format!("already receiving {room}"),
            ));
        }
        let peer = self
            .config
            .peer(outbox.clone(), room.clone(), PcKind::Subscribe)
            .await
            .map_err(RtcError::internal)?;
        let subscriber = Arc::new(Subscriber {
            conn: caller.conn,
            user: caller.person.user.id.clone(),
            room: room.clone(),
            outbox,
            peer,
            slots: Mutex::new(Vec::new()),
            negotiation: Mutex::new(Negotiation::default()),
        });
        let sfu = self.me.clone();
        let weak = Arc::downgrade(&subscriber);
        subscriber
            .peer
            .connection
            .on_peer_connection_state_change(Box::new(move |state| {
                let (sfu, subscriber) = (sfu.clone(), weak.clone());
                Box::pin(async move {
                    let (Some(sfu), Some(subscriber)) = (sfu.upgrade(), subscriber.upgrade())
                    else {
                        return;
                    };
                    match state {
                        // Up: ask for keyframes so the viewer sees video at once.
                        RTCPeerConnectionState::Connected => {
                            tokio::spawn(async move { sfu.request_keyframes(&subscriber).await });
                        }
                        RTCPeerConnectionState::Failed => {
                            tokio::spawn(async move {
                                sfu.end_subscriber(subscriber.conn, &subscriber.room).await;
                            });
                        }
                        _ => {}
                    }
                })
            }));
        let mut state = media.state.lock().await;
        if state.subscribers.contains_key(&caller.conn) {
            drop(state);
            let _ = subscriber.peer.connection.close().await;
            return Err(RtcError::new(
                ErrorCode::Conflict,
                format!("already receiving {room}"),
            ));
        }
        for track in &state.tracks {
            attach(&subscriber, track).await;
        }
        state
            .subscribers
            .insert(caller.conn, Arc::clone(&subscriber));
        drop(state);
        self.renegotiate(subscriber);
        Ok(())
    }

    /// Send a subscriber a new offer, or mark it dirty if one is in flight.
    fn renegotiate(&self, subscriber: Arc<Subscriber>) {
        {
            let mut negotiation = lock(&subscriber.negotiation);
            if negotiation.in_flight {
                negotiation.dirty = true;
                return;
            }
            if !negotiation.started && lock(&subscriber.slots).is_empty() {
                // Nothing to receive yet: the first offer waits for the first track.
                return;
            }
            negotiation.in_flight = true;
            negotiation.started = true;
        }
        tokio::spawn(offer(subscriber));
    }

    /// `rtc_answer` for a subscriber's offer.
    #[tracing::instrument(skip(self, sdp))]
    pub async fn answer(&self, conn: ConnId, room: &str, sdp: String) -> Result<(), RtcError> {
        let answer = RTCSessionDescription::answer(sdp)
            .map_err(|error| RtcError::new(ErrorCode::BadRequest, format!("bad SDP: {error}")))?;
        let subscriber = self.subscriber(conn, room).await?;
        if !lock(&subscriber.negotiation).in_flight {
            return Err(RtcError::new(
                ErrorCode::Conflict,
                "no offer is waiting for an answer",
            ));
        }
        subscriber
            .peer
            .connection
            .set_remote_description(answer)
            .await
            .map_err(|error| RtcError::new(ErrorCode::BadRequest, format!("bad SDP: {error}")))?;
        let again = {
            let mut negotiation = lock(&subscriber.negotiation);
            negotiation.in_flight = std::mem::take(&mut negotiation.dirty);
            negotiation.in_flight
        };
        if subscriber.peer.connection.connection_state() == RTCPeerConnectionState::Connected {
            // New tracks on a connection already up: their viewers need a keyframe.
            self.request_keyframes(&subscriber).await;
        }
        if again {
            tokio::spawn(offer(subscriber));
        }
        Ok(())
    }

    async fn subscriber(&self, conn: ConnId, room: &str) -> Result<Arc<Subscriber>, RtcError> {
        let media = self.rooms.get(room).map(|entry| Arc::clone(entry.value()));
        let subscriber = match media {
            Some(media) => media.state.lock().await.subscribers.get(&conn).cloned(),
            None => None,
        };
        subscriber.ok_or_else(|| {
            RtcError::new(
                ErrorCode::NotFound,
                format!("not receiving {room}: rtc_subscribe first"),
            )
        })
    }

    async fn request_keyframes(&self, subscriber: &Subscriber) {
        let tracks: Vec<Arc<Forwarded>> = lock(&subscriber.slots)
            .iter()
            .filter_map(|slot| lock(&slot.track).clone())
            .collect();
        for track in tracks {
            track.request_keyframe().await;
        }
    }

    pub async fn candidate(
        &self,
        conn: ConnId,
        room: &str,
        pc: PcKind,
        candidate: IceCandidate,
    ) -> Result<(), RtcError> {
        let connection = match pc {
            PcKind::Publish => self
                .publisher_in(conn, room)
                .map(|publisher| Arc::clone(&publisher.peer.connection))
                .ok_or_else(|| {
                    RtcError::new(ErrorCode::NotFound, format!("nothing published in {room}"))
                })?,
            PcKind::Subscribe => Arc::clone(&self.subscriber(conn, room).await?.peer.connection),
        };
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

    /// `rtc_unsubscribe`.
    pub async fn unsubscribe(&self, conn: ConnId, room: &str) -> Result<(), RtcError> {
        if self.end_subscriber(conn, room).await {
            Ok(())
        } else {
            Err(RtcError::new(
                ErrorCode::NotFound,
                format!("not receiving {room}"),
            ))
        }
    }

    async fn end_subscriber(&self, conn: ConnId, room: &str) -> bool {
        let Some(media) = self.rooms.get(room).map(|entry| Arc::clone(entry.value())) else {
            return false;
        };
        let subscriber = media.state.lock().await.subscribers.remove(&conn);
        let Some(subscriber) = subscriber else {
            return false;
        };
        if let Err(error) = subscriber.peer.connection.close().await {
            tracing::debug!(%error, "closing a subscriber");
        }
        true
    }

    /// The connection left a room: stop its media there.
    pub async fn leave(&self, conn: ConnId, room: &str) {
        if let Some(publisher) = self.publisher_in(conn, room) {
            self.end_publisher(&publisher).await;
        }
        self.end_subscriber(conn, room).await;
    }

    /// The connection closed: close all its peer connections.
    pub async fn disconnect(&self, conn: ConnId) {
        let publisher = self
            .publishers
            .get(&conn)
            .map(|entry| Arc::clone(entry.value()));
        if let Some(publisher) = publisher {
            self.end_publisher(&publisher).await;
        }
        let rooms: Vec<RoomId> = self.rooms.iter().map(|entry| entry.key().clone()).collect();
        for room in rooms {
            self.end_subscriber(conn, &room).await;
        }
    }

    /// A room took away someone's right to publish there (or to be there): end what they
    /// publish there (and what they receive).
    async fn revoked(&self, revoked: MediaRevoked) {
        let publishers: Vec<Arc<Publisher>> = self
            .publishers
            .iter()
            .filter(|entry| {
                entry.value().person.user.id == revoked.user && entry.value().room() == revoked.room
            })
            .map(|entry| Arc::clone(entry.value()))
            .collect();
        for publisher in publishers {
            tracing::info!(conn = publisher.conn, room = %revoked.room, "media revoked: tracks end");
            self.end_publisher(&publisher).await;
        }
        if !revoked.receiving {
            return;
        }
        let Some(media) = self
            .rooms
            .get(&revoked.room)
            .map(|entry| Arc::clone(entry.value()))
        else {
            return;
        };
        let receiving: Vec<ConnId> = media
            .state
            .lock()
            .await
            .subscribers
            .values()
            .filter(|subscriber| subscriber.user == revoked.user)
            .map(|subscriber| subscriber.conn)
            .collect();
        for conn in receiving {
            self.end_subscriber(conn, &revoked.room).await;
        }
    }
}

/// Bind a forwarded track to a subscriber: to an inactive slot of its kind if there is one,
/// else to a new one whose viewer's keyframe requests are passed up.
async fn attach(subscriber: &Subscriber, track: &Arc<Forwarded>) {
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
async fn detach(subscriber: &Subscriber, track: &Arc<Forwarded>) {
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
            *lock(&subscriber.negotiation) = Negotiation {
                started: true,
                ..Negotiation::default()
            };
        }
    }
}
