//! A [`Publisher`]: one connection's publishing peer connection (at most one per connection,
//! in one room at a time: the client offers, the server answers), what the client said each
//! of its tracks is, and its live [`Forwarded`] tracks.
//!
//! It knows nothing of viewers or of the hub: `mod.rs` keeps the publishers, wires their
//! connection's events, and hands their tracks to the room (`room.rs`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use plenary_protocol::{Author, RoomId, TrackInfo, TrackKind, TrackSource};
use webrtc::rtp_transceiver::rtp_codec::RTPCodecType;
use webrtc::track::track_remote::TrackRemote;

use super::forward::Forwarded;
use super::lock::lock;
use super::peer::Peer;
use crate::hub::{Caller, ConnId, Person};

/// One connection's publishing peer connection.
pub(super) struct Publisher {
    pub conn: ConnId,
    pub person: Arc<Person>,
    pub peer: Peer,
    /// The room its tracks are forwarded to; changed by `rtc_move`.
    room: Mutex<RoomId>,
    /// What the client said each track is.
    sources: Mutex<BTreeMap<String, TrackSource>>,
    /// Its live tracks.
    tracks: Mutex<Vec<Arc<Forwarded>>>,
}

impl Publisher {
    /// `caller`'s publisher in `room`, with no track yet.
    pub fn new(
        caller: &Caller,
        peer: Peer,
        room: &RoomId,
        sources: BTreeMap<String, TrackSource>,
    ) -> Arc<Publisher> {
        Arc::new(Publisher {
            conn: caller.conn,
            person: Arc::clone(&caller.person),
            peer,
            room: Mutex::new(room.clone()),
            sources: Mutex::new(sources),
            tracks: Mutex::new(Vec::new()),
        })
    }

    pub fn room(&self) -> RoomId {
        lock(&self.room).clone()
    }

    /// `rtc_move`: its tracks are forwarded to `room` from now on.
    pub fn move_to(&self, room: RoomId) {
        *lock(&self.room) = room;
    }

    /// A renegotiation said what more tracks are.
    pub fn add_sources(&self, sources: BTreeMap<String, TrackSource>) {
        lock(&self.sources).extend(sources);
    }

    /// How a track it sends is announced: numbered from the SFU's `next_track`, its source
    /// as the client said (by track id, else stream id) or the default for its kind. `None`
    /// for a track that is neither audio nor video.
    pub fn track_info(&self, remote: &TrackRemote, next_track: &AtomicU64) -> Option<TrackInfo> {
        let kind = match remote.kind() {
            RTPCodecType::Audio => TrackKind::Audio,
            RTPCodecType::Video => TrackKind::Video,
            RTPCodecType::Unspecified => return None,
        };
        let source = {
            let sources = lock(&self.sources);
            sources
                .get(&remote.id())
                .or_else(|| sources.get(&remote.stream_id()))
                .copied()
        };
        let source = source.unwrap_or(match kind {
            TrackKind::Audio => TrackSource::Microphone,
            TrackKind::Video => TrackSource::Camera,
        });
        let number = next_track.fetch_add(1, Ordering::Relaxed);
        Some(TrackInfo {
            id: format!("t{number}"),
            stream: format!("p{}", self.conn),
            kind,
            source,
            publisher: Author {
                id: self.person.user.id.clone(),
                name: self.person.user.name.clone(),
            },
        })
    }

    /// Its live tracks.
    pub fn tracks(&self) -> Vec<Arc<Forwarded>> {
        lock(&self.tracks).clone()
    }

    /// A track it sends went live.
    pub fn add_track(&self, track: Arc<Forwarded>) {
        lock(&self.tracks).push(track);
    }

    /// A track it sent ended: whether it was still live (not already taken by
    /// [`Publisher::take_tracks`]).
    pub fn end_track(&self, track: &Arc<Forwarded>) -> bool {
        let mut tracks = lock(&self.tracks);
        let before = tracks.len();
        tracks.retain(|live| !Arc::ptr_eq(live, track));
        tracks.len() != before
    }

    /// It stops: all its live tracks, which are no longer its.
    pub fn take_tracks(&self) -> Vec<Arc<Forwarded>> {
        std::mem::take(&mut *lock(&self.tracks))
    }
}
