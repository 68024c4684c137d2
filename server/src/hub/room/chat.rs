//! Chat in a room: messages with replies and @mentions, removal by moderators, and the
//! sanctions moderators put on people (mute, remove).

use jiff::{SignedDuration, Timestamp};
use plenary_protocol::{
    Author, ChatId, ChatMessage, ErrorCode, MAX_CHAT_CHARS, ReplyTo, RoomEvent, ServerMessage,
};

use super::{Output, Public, Refusal, Room, author, checked_text, reply};
use crate::hub::person::Person;
use crate::programme::rfc3339;
use crate::store::{Change, Sanction};

/// Characters of the answered message quoted in a reply.
const EXCERPT_CHARS: usize = 100;
/// How long a mute without a duration lasts: the rest of the conference day.
const MUTE_FOR_THE_DAY: SignedDuration = SignedDuration::from_hours(24);

impl Room {
    /// Post a message; returns its id.
    pub(super) fn chat(
        &mut self,
        now: Timestamp,
        person: &Person,
        text: String,
        reply_to: Option<ChatId>,
        out: &mut Vec<Output>,
    ) -> Result<ChatId, Refusal> {
        if let Some((_, until)) = self.muted.get(&person.user.id) {
            if *until > now {
                return Err((
                    ErrorCode::Muted,
                    format!("a moderator muted you here until {}", rfc3339(*until)),
                ));
            }
        }
        let text = checked_text(&text, MAX_CHAT_CHARS, "chat message")?;
        let reply_to = reply_to
            .map(|id| {
                self.chat
                    .iter()
                    .find(|message| message.id == id)
                    .map(|message| ReplyTo {
                        id,
                        author: message.author.clone(),
                        excerpt: message.text.chars().take(EXCERPT_CHARS).collect(),
                    })
                    .ok_or_else(|| (ErrorCode::NotFound, format!("no recent chat message {id}")))
            })
            .transpose()?;
        let id = self.seq + 1;
        let message = ChatMessage {
            id,
            mentions: self.mentions_in(&text),
            text,
            author: author(person),
            at: rfc3339(now),
            reply_to,
        };
        out.push(Output::Persist(Change::Chat {
            room: self.setup.id.clone(),
            message: message.clone(),
        }));
        self.chat.push_back(message.clone());
        if self.chat.len() > self.limits.history {
            self.chat.pop_front();
        }
        self.publish(RoomEvent::Chat(message), Public::Same, None, out);
        Ok(id)
    }

    /// The people in the room named as `@Name` in a text, longest names first so that
    /// `@Ann Lee` is not read as `@Ann`.
    fn mentions_in(&self, text: &str) -> Vec<Author> {
        if !text.contains('@') {
            return Vec::new();
        }
        let mut people: Vec<Author> = Vec::new();
        for member in self.members.values() {
            if !people.iter().any(|known| known.id == member.user.id) {
                people.push(author(member));
            }
        }
        people.sort_by_key(|person| std::cmp::Reverse(person.name.len()));
        let mut rest = text.to_owned();
        let mut mentioned = Vec::new();
        for person in people {
            let tag = format!("@{}", person.name);
            if rest.contains(&tag) {
                rest = rest.replace(&tag, "");
                mentioned.push(person);
            }
        }
        mentioned
    }

    pub(super) fn remove_chat(&mut self, id: ChatId, out: &mut Vec<Output>) -> Result<(), Refusal> {
        let position = self
            .chat
            .iter()
            .position(|message| message.id == id)
            .ok_or_else(|| {
                (
                    ErrorCode::NotFound,
                    format!("no recent chat message {id} here"),
                )
            })?;
        self.chat.remove(position);
        out.push(Output::Persist(Change::ChatRemoved {
            room: self.setup.id.clone(),
            id,
        }));
        self.publish(RoomEvent::ChatRemoved { id }, Public::Same, None, out);
        Ok(())
    }

    /// Someone who is, or was, in this room.
    fn known_person(&self, user: &str) -> Result<Author, Refusal> {
        self.members
            .values()
            .find(|member| member.user.id == user)
            .map(|member| author(member))
            .or_else(|| {
                self.chat
                    .iter()
                    .rev()
                    .find(|message| message.author.id == user)
                    .map(|message| message.author.clone())
            })
            .or_else(|| self.muted.get(user).map(|(author, _)| author.clone()))
            .ok_or_else(|| {
                (
                    ErrorCode::NotFound,
                    format!("no person {user} in this room"),
                )
            })
    }

    pub(super) fn mute(
        &mut self,
        now: Timestamp,
        user: &str,
        minutes: Option<u32>,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let person = self.known_person(user)?;
        let until = now
            + minutes.map_or(MUTE_FOR_THE_DAY, |minutes| {
                SignedDuration::from_mins(i64::from(minutes))
            });
        out.push(Output::Persist(Change::Sanction {
            room: self.setup.id.clone(),
            user: person.clone(),
            sanction: Some(Sanction::Muted {
                until_ms: until.as_millisecond(),
            }),
        }));
        self.muted
            .insert(person.id.clone(), (person.clone(), until));
        let owner = Some(person.id.clone());
        let event = RoomEvent::Muted {
            user: person,
            until: rfc3339(until),
        };
        self.publish(event, Public::Hidden, owner, out);
        Ok(())
    }

    pub(super) fn unmute(&mut self, user: &str, out: &mut Vec<Output>) -> Result<(), Refusal> {
        let (person, _) = self
            .muted
            .remove(user)
            .ok_or_else(|| (ErrorCode::NotFound, format!("{user} is not muted here")))?;
        out.push(Output::Persist(Change::Sanction {
            room: self.setup.id.clone(),
            user: person.clone(),
            sanction: None,
        }));
        let owner = Some(person.id.clone());
        self.publish(
            RoomEvent::Unmuted { user: person },
            Public::Hidden,
            owner,
            out,
        );
        Ok(())
    }

    /// Remove a person: every connection of theirs is told and leaves, and they may not join
    /// again.
    pub(super) fn remove_person(
        &mut self,
        user: &str,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let person = self.known_person(user)?;
        out.push(Output::Persist(Change::Sanction {
            room: self.setup.id.clone(),
            user: person.clone(),
            sanction: Some(Sanction::Removed),
        }));
        self.removed.insert(person.id.clone(), person.clone());
        // Their media here ends too: what they publish and what they receive.
        self.grant_stage(user.to_owned(), false, out);
        out.push(Output::MediaRevoked {
            user: user.to_owned(),
            receiving: true,
        });
        let connections: Vec<_> = self
            .members
            .iter()
            .filter(|(_, member)| member.user.id == user)
            .map(|(conn, _)| *conn)
            .collect();
        let removed = ServerMessage::Removed {
            room: self.setup.id.clone(),
        };
        for conn in connections {
            out.push(reply(conn, &removed));
            self.leave(conn, out);
        }
        self.publish(
            RoomEvent::PersonRemoved { user: person },
            Public::Hidden,
            None,
            out,
        );
        Ok(())
    }
}
