//! A [`MediaRoom`]: one room's media, its live forwarded tracks and its subscribers, behind one
//! async lock held for the quick peer-connection edits (binding and unbinding tracks) and the
//! track report to the hub's room, never across an SDP exchange. Reports are sent under the
//! lock, so the room hears them in order.
//!
//! It knows nothing of publishers: `mod.rs` hands it their tracks.

use std::collections::HashMap;
use std::sync::Arc;

use plenary_protocol::UserId;

use super::forward::Forwarded;
use super::subscriber::{Subscriber, attach, detach};
use crate::hub::{ConnId, Hub, Input};

/// One room's media.
#[derive(Default)]
pub(super) struct MediaRoom {
    state: tokio::sync::Mutex<MediaRoomState>,
}

#[derive(Default)]
struct MediaRoomState {
    tracks: Vec<Arc<Forwarded>>,
    subscribers: HashMap<ConnId, Arc<Subscriber>>,
}

impl MediaRoom {
    /// Bind tracks to every subscriber of the room, renegotiate, and tell the room.
    pub async fn add_tracks(&self, hub: &Hub, room: &str, tracks: &[Arc<Forwarded>]) {
        let mut state = self.state.lock().await;
        state.tracks.extend(tracks.iter().cloned());
        for subscriber in state.subscribers.values() {
            for track in tracks {
                attach(subscriber, track).await;
            }
            subscriber.renegotiate();
        }
        report_tracks(hub, room, &state).await;
    }

    /// Unbind tracks from every subscriber of the room, renegotiate, and tell the room.
    pub async fn remove_tracks(&self, hub: &Hub, room: &str, tracks: &[Arc<Forwarded>]) {
        let mut state = self.state.lock().await;
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
            subscriber.renegotiate();
        }
        report_tracks(hub, room, &state).await;
    }

    /// The live tracks and the subscribers here.
    pub async fn counts(&self) -> (usize, usize) {
        let state = self.state.lock().await;
        (state.tracks.len(), state.subscribers.len())
    }

    /// The connection's subscriber here.
    pub async fn subscriber(&self, conn: ConnId) -> Option<Arc<Subscriber>> {
        self.state.lock().await.subscribers.get(&conn).cloned()
    }

    /// Bind the room's live tracks to a new subscriber and keep it; `false` (and nothing
    /// done) if its connection already receives here.
    pub async fn add_subscriber(&self, subscriber: &Arc<Subscriber>) -> bool {
        let mut state = self.state.lock().await;
        if state.subscribers.contains_key(&subscriber.conn) {
            return false;
        }
        for track in &state.tracks {
            attach(subscriber, track).await;
        }
        state
            .subscribers
            .insert(subscriber.conn, Arc::clone(subscriber));
        true
    }

    /// Forget the connection's subscriber here, if it has one.
    pub async fn remove_subscriber(&self, conn: ConnId) -> Option<Arc<Subscriber>> {
        self.state.lock().await.subscribers.remove(&conn)
    }

    /// The connections through which `user` receives here.
    pub async fn receivers(&self, user: &UserId) -> Vec<ConnId> {
        self.state
            .lock()
            .await
            .subscribers
            .values()
            .filter(|subscriber| subscriber.user == *user)
            .map(|subscriber| subscriber.conn)
            .collect()
    }
}

/// Tell the room its live tracks (under the room's media lock, so reports keep order).
async fn report_tracks(hub: &Hub, room: &str, state: &MediaRoomState) {
    let tracks = state
        .tracks
        .iter()
        .map(|track| track.info.clone())
        .collect();
    if let Some(handle) = hub.room(room) {
        if handle.tell(Input::Tracks { tracks }).await.is_err() {
            tracing::debug!(room, "track list not reported: the room is closed");
        }
    }
}
