//! What a room knows about its media, the room being the authority on who may publish: the
//! attendees a host or moderator brought on stage, and the live tracks the SFU (`rtc`)
//! reports. The room answers the SFU's permission queries in its own order, so a grant or a
//! revocation and a publish never cross unseen; a revocation also tells the SFU to end that
//! person's tracks (`Output::MediaRevoked`). Nothing here is stored across restarts: peer
//! connections do not survive one either.

use std::collections::VecDeque;

use plenary_protocol::{ErrorCode, RoomEvent, ServerMessage, TrackInfo, UserId};

use super::{Caller, Output, Public, Refusal, Room};
use crate::hub::person::Person;
use crate::store::{Change, StoredEvent};

/// The track list the log last published. After a restart no track is live any more, but
/// clients resuming with `since` replay this list: the room keeps it until the SFU reports
/// (an empty list at start), so that an empty `tracks` event corrects them.
pub(super) fn last_tracks(log: &VecDeque<StoredEvent>) -> Vec<TrackInfo> {
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

impl Room {
    /// Whether `caller` may receive (`publish: false`) or publish media here.
    pub(super) fn rtc_permit(&self, caller: &Caller, publish: bool) -> Result<(), Refusal> {
        self.joined(caller.conn)?;
        if publish && !self.may_publish(&caller.person) {
            return Err((
                ErrorCode::Forbidden,
                "only hosts, moderators and people brought on stage may publish here".into(),
            ));
        }
        Ok(())
    }

    fn may_publish(&self, person: &Person) -> bool {
        person.may_moderate(&self.setup.id) || self.on_stage.contains(&person.user.id)
    }

    pub(super) fn grant_stage(&mut self, user: UserId, allowed: bool, out: &mut Vec<Output>) {
        let changed = if allowed {
            self.on_stage.insert(user.clone())
        } else {
            self.on_stage.remove(&user)
        };
        if !changed {
            return;
        }
        out.push(Output::Persist(Change::StageGrant {
            room: self.setup.id.clone(),
            user: user.clone(),
            allowed,
        }));
        if !allowed {
            out.push(Output::MediaRevoked {
                user: user.clone(),
                receiving: false,
            });
        }
        self.publish(RoomEvent::Stage { user, allowed }, Public::Same, None, out);
    }

    /// The SFU's new list of live tracks; published if it changed.
    pub(super) fn set_tracks(&mut self, tracks: Vec<TrackInfo>, out: &mut Vec<Output>) {
        if tracks == self.tracks {
            return;
        }
        self.tracks = tracks.clone();
        self.publish(RoomEvent::Tracks { tracks }, Public::Same, None, out);
    }
}
