//! What happens in a room outside its event log: reactions counted per interval, raised
//! hands in workshop rooms, and presence. None of it is stored or replayed; all of it is
//! sent at a bounded rate, so ten thousand people clapping or arriving cost one message per
//! interval.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use plenary_protocol::{Author, ErrorCode, REACTIONS, RaisedHand, ServerMessage, UserId};

use super::common::{Members, Output, Refusal, author, reply};
use crate::hub::frame::encode;
use crate::hub::person::Person;
use crate::programme::rfc3339;

/// Reactions, hands and presence of one room.
#[derive(Default)]
pub(super) struct Stage {
    /// Reactions since the last tick.
    reactions: BTreeMap<String, u32>,
    /// Raised hands, in the order they were raised.
    hands: Vec<RaisedHand>,
    /// Who is in the room, each person once: their name and how many of their connections
    /// joined. Kept as people come and go, so that presence costs nothing per join.
    people: HashMap<UserId, (String, u32)>,
    /// Someone came or went since presence was last sent.
    people_dirty: bool,
    /// What presence said last.
    last_presence: Option<(u32, Option<Vec<Author>>)>,
}

impl Stage {
    pub fn react(&mut self, emoji: &str) -> Result<(), Refusal> {
        if !REACTIONS.contains(&emoji) {
            return Err((
                ErrorCode::BadRequest,
                format!("reactions are one of {}", REACTIONS.join(" ")),
            ));
        }
        *self.reactions.entry(emoji.to_owned()).or_default() += 1;
        Ok(())
    }

    /// The reactions since the last call, if any.
    pub fn take_reactions(&mut self, room: &str) -> Option<ServerMessage> {
        if self.reactions.is_empty() {
            return None;
        }
        Some(ServerMessage::Reactions {
            room: room.to_owned(),
            counts: std::mem::take(&mut self.reactions),
        })
    }

    /// One more connection of `person` joined.
    pub fn arrive(&mut self, person: &Person) {
        let (_, connections) = self
            .people
            .entry(person.user.id.clone())
            .or_insert_with(|| (person.user.name.clone(), 0));
        *connections += 1;
        self.people_dirty = true;
    }

    /// A connection of `user` left; returns whether it was their last one here.
    pub fn depart(&mut self, user: &str) -> bool {
        self.people_dirty = true;
        match self.people.get_mut(user) {
            Some((_, connections)) if *connections > 1 => {
                *connections -= 1;
                false
            }
            _ => {
                self.people.remove(user);
                true
            }
        }
    }

    /// Presence, if it changed since it was last sent: each person counted once however many
    /// connections they have; workshop rooms also list names.
    pub fn presence(&mut self, room: &str, list_people: bool) -> Option<ServerMessage> {
        if !std::mem::take(&mut self.people_dirty) {
            return None;
        }
        let now = self.presence_of(list_people);
        if self.last_presence.as_ref() == Some(&now) {
            return None;
        }
        self.last_presence = Some(now.clone());
        Some(presence_message(room, now))
    }

    /// Lower a person's hand; returns whether it was raised.
    pub fn lower_hand(&mut self, user: &str) -> bool {
        let before = self.hands.len();
        self.hands.retain(|hand| hand.user.id != user);
        self.hands.len() != before
    }

    /// How many people are here, and (if asked) who, by name.
    fn presence_of(&self, list_people: bool) -> (u32, Option<Vec<Author>>) {
        let count = u32::try_from(self.people.len()).unwrap_or(u32::MAX);
        let listed = list_people.then(|| {
            let mut listed: Vec<Author> = self
                .people
                .iter()
                .map(|(id, (name, _))| Author {
                    id: id.clone(),
                    name: name.clone(),
                })
                .collect();
            listed.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
            listed
        });
        (count, listed)
    }

    pub fn hands_message(&self, room: &str) -> ServerMessage {
        ServerMessage::Hands {
            room: room.to_owned(),
            queue: self.hands.clone(),
        }
    }

    /// Presence as it is now, for someone who just joined; workshop rooms (`list_people`)
    /// also list names.
    pub(super) fn presence_now(&self, room: &str, list_people: bool) -> ServerMessage {
        presence_message(room, self.presence_of(list_people))
    }

    /// Raise (or lower) a person's hand in `room`, if it is a `workshop`.
    pub(super) fn hand(
        &mut self,
        now: Timestamp,
        person: &Person,
        raised: bool,
        room: &str,
        workshop: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        if !workshop {
            return Err((
                ErrorCode::Conflict,
                "hands are raised in workshop rooms; on the stage, ask a question".into(),
            ));
        }
        let user: &UserId = &person.user.id;
        let changed = if raised {
            let new = !self.hands.iter().any(|hand| &hand.user.id == user);
            if new {
                self.hands.push(RaisedHand {
                    user: author(person),
                    at: rfc3339(now),
                });
            }
            new
        } else {
            self.lower_hand(user)
        };
        if changed {
            self.hands_changed(room, out);
        }
        Ok(())
    }

    /// Lower one person's hand, or everyone's. Each person whose hand comes down is told
    /// (a `hands` message without them in it), as staff are.
    pub(super) fn clear_hands(
        &mut self,
        user: Option<&str>,
        room: &str,
        members: &Members,
        out: &mut Vec<Output>,
    ) {
        let lowered: Vec<UserId> = match user {
            Some(user) => {
                if self.lower_hand(user) {
                    vec![user.to_owned()]
                } else {
                    Vec::new()
                }
            }
            None => std::mem::take(&mut self.hands)
                .into_iter()
                .map(|hand| hand.user.id)
                .collect(),
        };
        if lowered.is_empty() {
            return;
        }
        self.hands_changed(room, out);
        let yours = ServerMessage::Hands {
            room: room.to_owned(),
            queue: Vec::new(),
        };
        for (conn, member) in members {
            if !member.user.role.is_staff() && lowered.contains(&member.user.id) {
                out.push(reply(*conn, &yours));
            }
        }
    }

    /// Tell staff the new queue.
    pub(super) fn hands_changed(&self, room: &str, out: &mut Vec<Output>) {
        out.push(Output::Broadcast {
            frame: encode(&self.hands_message(room)),
            staff_only: true,
        });
    }
}

fn presence_message(room: &str, (count, people): (u32, Option<Vec<Author>>)) -> ServerMessage {
    ServerMessage::Presence {
        room: room.to_owned(),
        count,
        people,
    }
}
