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
//!   senders are slots, reused by later tracks of their kind, and each offer says which
//!   track each mid carries.
//! - Viewers' PLI and FIR go up to the publisher as a PLI, at most one per track per
//!   [`KEYFRAME_INTERVAL`]; a viewer whose connection comes up asks for one too, so it sees
//!   video at once. NACKs are answered by each viewer's own NACK responder.
//!
//! The hub's room stays the authority on who may publish or receive
//! ([`Input::RtcPermit`]), and it tells everyone which tracks are live ([`Input::Tracks`]).
//! Each room's media state sits behind one async lock ([`MediaRoom`]), held for the quick
//! peer-connection edits and never across an SDP exchange.
//!
//! This file is the [`Sfu`]: the entry points the connection calls, the directories of
//! publishers and rooms' media, and the wiring of peer-connection events back to them. Each
//! part has its file, and imports point one way, from here down (none imports this file):
//! `room.rs` → `subscriber.rs` → `negotiation.rs` → `error.rs` → `peer.rs`; `publisher.rs`
//! → `peer.rs`; both `publisher.rs` and `subscriber.rs` → `forward.rs` → `lock.rs`.

mod error;
mod forward;
mod lock;
mod negotiation;
mod peer;
mod publisher;
mod room;
mod subscriber;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};

use dashmap::DashMap;
use plenary_protocol::{ErrorCode, IceCandidate, PcKind, Ref, RoomId, ServerMessage, TrackSource};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::track::track_remote::TrackRemote;

use crate::hub::{Caller, ConnId, Hub, Input, MediaRevoked, Outbox};
pub use error::RtcError;
use forward::Forwarded;
pub use forward::KEYFRAME_INTERVAL;
pub use peer::RtcConfig;
use publisher::Publisher;
use room::MediaRoom;
use subscriber::Subscriber;

/// The selective forwarding unit.
pub struct Sfu {
    config: RtcConfig,
    hub: Arc<Hub>,
    /// A directory: no guard is held across an `.await`.
    rooms: DashMap<RoomId, Arc<MediaRoom>>,
    publishers: DashMap<ConnId, Arc<Publisher>>,
    next_track: AtomicU64,
    /// RTP packets forwarded, counted by each track in batches.
    packets: metrics::Counter,
    me: Weak<Sfu>,
}

/// How much media the SFU handles now (`/metrics`).
#[derive(Debug, Default, Clone, Copy)]
pub struct MediaCounts {
    pub publishers: usize,
    pub tracks: usize,
    /// Receiving peer connections, one per viewer and room.
    pub viewers: usize,
}

impl Sfu {
    /// Start the SFU; it ends people's tracks when their room revokes their right to publish,
    /// and counts the RTP packets it forwards in `packets`.
    pub fn start(
        config: RtcConfig,
        hub: Arc<Hub>,
        mut revocations: mpsc::Receiver<MediaRevoked>,
        packets: metrics::Counter,
        tasks: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Arc<Sfu> {
        let sfu = Arc::new_cyclic(|me| Sfu {
            config,
            hub,
            rooms: DashMap::new(),
            publishers: DashMap::new(),
            next_track: AtomicU64::new(1),
            packets,
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

    /// How many publishers, tracks and viewers there are now.
    pub async fn counts(&self) -> MediaCounts {
        let rooms: Vec<Arc<MediaRoom>> = self
            .rooms
            .iter()
            .map(|room| Arc::clone(room.value()))
            .collect();
        let mut counts = MediaCounts {
            publishers: self.publishers.len(),
            ..MediaCounts::default()
        };
        for room in rooms {
            let (tracks, viewers) = room.counts().await;
            counts.tracks += tracks;
            counts.viewers += viewers;
        }
        counts
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
        let offer = negotiation::client_offer(sdp)?;
        self.permit(&caller, &outbox, &room, true).await?;
        let existing = self
            .publishers
            .get(&caller.conn)
            .map(|entry| Arc::clone(entry.value()));
        let (publisher, renegotiating) = match existing {
            Some(publisher) if publisher.room() == room => {
                publisher.add_sources(sources);
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
        let publisher = Publisher::new(caller, peer, room, sources);
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
        let Some(info) = publisher.track_info(&remote, &self.next_track) else {
            return;
        };
        let forwarded = Forwarded::new(info, &remote, &publisher.peer.connection);
        publisher.add_track(Arc::clone(&forwarded));
        tracing::info!(
            conn = publisher.conn,
            room = %publisher.room(),
            track = %forwarded.info.id,
            mime = %remote.codec().capability.mime_type,
            "forwarding a published track"
        );
        self.add_tracks(&publisher.room(), std::slice::from_ref(&forwarded))
            .await;
        forwarded.relay(&remote, &self.packets).await;
        if publisher.end_track(&forwarded) {
            self.remove_tracks(&publisher.room(), std::slice::from_ref(&forwarded))
                .await;
        }
    }

    /// [`MediaRoom::add_tracks`] in `room`.
    async fn add_tracks(&self, room: &str, tracks: &[Arc<Forwarded>]) {
        self.media_room(room)
            .add_tracks(&self.hub, room, tracks)
            .await;
    }

    /// [`MediaRoom::remove_tracks`] in `room`.
    async fn remove_tracks(&self, room: &str, tracks: &[Arc<Forwarded>]) {
        self.media_room(room)
            .remove_tracks(&self.hub, room, tracks)
            .await;
    }

    /// Stop a publisher: its tracks end for every viewer, its peer connection closes.
    async fn end_publisher(&self, publisher: &Arc<Publisher>) {
        self.publishers.remove_if(&publisher.conn, |_, current| {
            Arc::ptr_eq(current, publisher)
        });
        let tracks = publisher.take_tracks();
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
        let tracks = publisher.tracks();
        self.remove_tracks(&from, &tracks).await;
        publisher.move_to(to.clone());
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
        if media.subscriber(caller.conn).await.is_some() {
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
        let subscriber = Subscriber::new(
            caller.conn,
            caller.person.user.id.clone(),
            room.clone(),
            outbox,
            peer,
        );
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
                            tokio::spawn(async move { subscriber.request_keyframes().await });
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
        if !media.add_subscriber(&subscriber).await {
            let _ = subscriber.peer.connection.close().await;
            return Err(RtcError::new(
                ErrorCode::Conflict,
                format!("already receiving {room}"),
            ));
        }
        subscriber.renegotiate();
        Ok(())
    }

    /// `rtc_answer` for a subscriber's offer.
    #[tracing::instrument(skip(self, sdp))]
    pub async fn answer(&self, conn: ConnId, room: &str, sdp: String) -> Result<(), RtcError> {
        let answer = negotiation::client_answer(sdp)?;
        self.subscriber(conn, room).await?.answer(answer).await
    }

    async fn subscriber(&self, conn: ConnId, room: &str) -> Result<Arc<Subscriber>, RtcError> {
        let media = self.rooms.get(room).map(|entry| Arc::clone(entry.value()));
        let subscriber = match media {
            Some(media) => media.subscriber(conn).await,
            None => None,
        };
        subscriber.ok_or_else(|| {
            RtcError::new(
                ErrorCode::NotFound,
                format!("not receiving {room}: rtc_subscribe first"),
            )
        })
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
        negotiation::add_candidate(&connection, candidate).await
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
        let Some(subscriber) = media.remove_subscriber(conn).await else {
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
        let receiving = media.receivers(&revoked.user).await;
        for conn in receiving {
            self.end_subscriber(conn, &revoked.room).await;
        }
    }
}
