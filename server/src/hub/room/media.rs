//! What a room knows about its media, the room being the authority on who may publish: the
//! attendees a host or moderator brought on stage, and the live tracks the SFU (`rtc`)
//! reports. The room answers the SFU's permission queries in its own order, so a grant or a
//! revocation and a publish never cross unseen; a revocation also tells the SFU to end that
//! person's tracks (`Output::MediaRevoked`). Who is on stage is stored; the live tracks are
//! not stored across restarts: peer connections do not survive one either.

use std::collections::{HashSet, VecDeque};

use plenary_protocol::{ErrorCode, RoomEvent, ServerMessage, TrackInfo, UserId};

use super::common::{Output, Public, Refusal};
use super::log::EventLog;
use crate::hub::person::Person;
use crate::store::{Change, StoredEvent};

/// Who may publish in a room beyond its staff, and what is live there.
pub(super) struct Media {
    /// Attendees brought on stage: they may publish media here.
    on_stage: HashSet<UserId>,
    /// The live tracks, as the SFU last reported them.
    tracks: Vec<TrackInfo>,
}

/// The track list the log last published. After a restart no track is live any more, but
/// clients resuming with `since` replay this list: the room keeps it until the SFU reports
/// (an empty list at start), so that an empty `tracks` event corrects them.
fn last_tracks(log: &VecDeque<StoredEvent>) -> Vec<TrackInfo> {
    log.iter()
        .rev()
        .filter(|event| event.staff.starts_with(br#"{"type":"event""#))
        .find_map(
            |event| match serde_json::from_slice::<ServerMessage>(&event.staff) {
                Ok(ServerMessage::Event {
                    event: RoomEvent::Tracks { tracks },
                    ..
                }) => Some(tracks),
                _ => None,
            },
        )
        .unwrap_or_default()
}

impl Media {
    /// Those brought on stage, as stored, and the track list the stored `log` last
    /// published.
    pub(super) fn restore(on_stage: Vec<UserId>, log: &VecDeque<StoredEvent>) -> Media {
        Media {
            on_stage: on_stage.into_iter().collect(),
            tracks: last_tracks(log),
        }
    }

    /// The attendees brought on stage.
    pub(super) fn on_stage(&self) -> Vec<UserId> {
        self.on_stage.iter().cloned().collect()
    }

    /// The live tracks.
    pub(super) fn tracks(&self) -> Vec<TrackInfo> {
        self.tracks.clone()
    }

    /// Whether `person`, a member of `room`, may receive (`publish: false`) or publish
    /// media there.
    pub(super) fn permit(&self, room: &str, person: &Person, publish: bool) -> Result<(), Refusal> {
        if publish && !self.may_publish(room, person) {
            return Err((
                ErrorCode::Forbidden,
                "only hosts, moderators and people brought on stage may publish here".into(),
            ));
        }
        Ok(())
    }

    fn may_publish(&self, room: &str, person: &Person) -> bool {
        person.may_moderate(room) || self.on_stage.contains(&person.user.id)
    }

    pub(super) fn grant_stage(
        &mut self,
        user: UserId,
        allowed: bool,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) {
        let changed = if allowed {
            self.on_stage.insert(user.clone())
        } else {
            self.on_stage.remove(&user)
        };
        if !changed {
            return;
        }
        out.push(Output::Persist(Change::StageGrant {
            room: events.room().clone(),
            user: user.clone(),
            allowed,
        }));
        if !allowed {
            out.push(Output::MediaRevoked {
                user: user.clone(),
                receiving: false,
            });
        }
        events.publish(RoomEvent::Stage { user, allowed }, Public::Same, None, out);
    }

    /// The SFU's new list of live tracks; published if it changed.
    pub(super) fn set_tracks(
        &mut self,
        tracks: Vec<TrackInfo>,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) {
        if tracks == self.tracks {
            return;
        }
        self.tracks = tracks.clone();
        events.publish(RoomEvent::Tracks { tracks }, Public::Same, None, out);
    }
}
