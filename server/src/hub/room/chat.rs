//! Chat in a room: messages with replies and @mentions, flags people put on them for the
//! moderators, removal by moderators, and the sanctions moderators put on people (mute,
//! remove).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use jiff::{SignedDuration, Timestamp};
use plenary_protocol::{
    Author, ChatId, ChatMessage, ErrorCode, MAX_CHAT_CHARS, MutedPerson, ReplyTo, RoomEvent, UserId,
};

use super::common::{Members, Output, Public, Refusal, author, checked_text};
use super::log::EventLog;
use crate::hub::person::Person;
use crate::programme::rfc3339;
use crate::store::{Change, Sanction};

/// Chat messages sent per `chat_history` page at most.
pub const CHAT_PAGE: usize = 100;
/// Characters of the answered message quoted in a reply.
const EXCERPT_CHARS: usize = 100;
/// How long a mute without a duration lasts: the rest of the conference day.
const MUTE_FOR_THE_DAY: SignedDuration = SignedDuration::from_hours(24);

/// A room's chat and the sanctions on its people.
pub(super) struct Chat {
    /// Chat messages of the room not removed, newest last, at most `keep`.
    messages: VecDeque<ChatMessage>,
    /// People muted here, until when.
    muted: HashMap<UserId, (Author, Timestamp)>,
    /// People removed from this room.
    removed: HashMap<UserId, Author>,
    /// Who flagged which of the messages kept, for the moderators.
    flags: HashMap<ChatId, HashSet<UserId>>,
    /// Messages kept in memory (`RoomLimits::history`).
    keep: usize,
}

impl Chat {
    /// The chat as stored: its newest messages, oldest first, the flags on them, and the
    /// sanctions.
    pub(super) fn restore(
        messages: Vec<ChatMessage>,
        chat_flags: Vec<(ChatId, UserId)>,
        sanctions: Vec<(Author, Sanction)>,
        keep: usize,
    ) -> Chat {
        let kept: HashSet<ChatId> = messages.iter().map(|message| message.id).collect();
        let mut flags: HashMap<ChatId, HashSet<UserId>> = HashMap::new();
        for (id, user) in chat_flags {
            if kept.contains(&id) {
                flags.entry(id).or_default().insert(user);
            }
        }
        let mut muted = HashMap::new();
        let mut removed = HashMap::new();
        for (user, sanction) in sanctions {
            match sanction {
                Sanction::Muted { until_ms } => {
                    if let Ok(until) = Timestamp::from_millisecond(until_ms) {
                        muted.insert(user.id.clone(), (user, until));
                    }
                }
                Sanction::Removed => {
                    removed.insert(user.id.clone(), user);
                }
            }
        }
        Chat {
            messages: messages.into(),
            muted,
            removed,
            flags,
            keep,
        }
    }

    /// The newest `count` messages, oldest first.
    pub(super) fn newest(&self, count: usize) -> Vec<ChatMessage> {
        let skip = self.messages.len().saturating_sub(count);
        self.messages.iter().skip(skip).cloned().collect()
    }

    /// The person `user` if a moderator removed them from this room.
    pub(super) fn removed(&self, user: &str) -> Option<&Author> {
        self.removed.get(user)
    }

    /// Until when a person is muted here, if they are at `now`.
    pub(super) fn muted_until(&self, user: &str, now: Timestamp) -> Option<String> {
        self.muted
            .get(user)
            .filter(|(_, until)| *until > now)
            .map(|(_, until)| rfc3339(*until))
    }

    /// Everyone muted here now, by name.
    pub(super) fn muted_now(&self, now: Timestamp) -> Vec<MutedPerson> {
        let mut muted: Vec<MutedPerson> = self
            .muted
            .values()
            .filter(|(_, until)| *until > now)
            .map(|(user, until)| MutedPerson {
                user: user.clone(),
                until: rfc3339(*until),
            })
            .collect();
        muted.sort_by(|a, b| {
            a.user
                .name
                .cmp(&b.user.name)
                .then_with(|| a.user.id.cmp(&b.user.id))
        });
        muted
    }

    /// Post a message; returns its id, the seq of the event that publishes it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn post(
        &mut self,
        now: Timestamp,
        person: &Person,
        text: String,
        reply_to: Option<ChatId>,
        members: &Members,
        events: &mut EventLog,
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
                self.messages
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
        let id = events.seq() + 1;
        let message = ChatMessage {
            id,
            mentions: mentions_in(&text, members),
            text,
            author: author(person),
            at: rfc3339(now),
            reply_to,
        };
        out.push(Output::Persist(Change::Chat {
            room: events.room().clone(),
            message: message.clone(),
        }));
        self.messages.push_back(message.clone());
        if self.messages.len() > self.keep
            && let Some(oldest) = self.messages.pop_front()
        {
            self.flags.remove(&oldest.id);
        }
        events.publish(RoomEvent::Chat(message), Public::Same, None, out);
        Ok(id)
    }

    pub(super) fn remove(
        &mut self,
        id: ChatId,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let position = self
            .messages
            .iter()
            .position(|message| message.id == id)
            .ok_or_else(|| {
                (
                    ErrorCode::NotFound,
                    format!("no recent chat message {id} here"),
                )
            })?;
        self.messages.remove(position);
        self.flags.remove(&id);
        out.push(Output::Persist(Change::ChatRemoved {
            room: events.room().clone(),
            id,
        }));
        events.publish(RoomEvent::ChatRemoved { id }, Public::Same, None, out);
        Ok(())
    }

    /// Flag a recent message for the moderators: staff hear how many flagged it. Once per
    /// person and message; a message removed, or too old to be kept, is `not_found`.
    pub(super) fn flag(
        &mut self,
        person: &Person,
        id: ChatId,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        if !self.messages.iter().any(|message| message.id == id) {
            return Err((
                ErrorCode::NotFound,
                format!("no recent chat message {id} here"),
            ));
        }
        let flaggers = self.flags.entry(id).or_default();
        if !flaggers.insert(person.user.id.clone()) {
            return Ok(());
        }
        let flags = u32::try_from(flaggers.len()).unwrap_or(u32::MAX);
        out.push(Output::Persist(Change::ChatFlag {
            room: events.room().clone(),
            id,
            user: person.user.id.clone(),
        }));
        events.publish(
            RoomEvent::ChatFlagged { id, flags },
            Public::Hidden,
            None,
            out,
        );
        Ok(())
    }

    /// The kept messages people flagged, with how many flagged each (for staff's snapshot).
    pub(super) fn flagged(&self) -> BTreeMap<ChatId, u32> {
        self.flags
            .iter()
            .map(|(id, flaggers)| (*id, u32::try_from(flaggers.len()).unwrap_or(u32::MAX)))
            .collect()
    }

    /// Someone who is, or was, in this room.
    fn known_person(&self, user: &str, members: &Members) -> Result<Author, Refusal> {
        members
            .values()
            .find(|member| member.user.id == user)
            .map(|member| author(member))
            .or_else(|| {
                self.messages
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
        members: &Members,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let person = self.known_person(user, members)?;
        let until = now
            + minutes.map_or(MUTE_FOR_THE_DAY, |minutes| {
                SignedDuration::from_mins(i64::from(minutes))
            });
        out.push(Output::Persist(Change::Sanction {
            room: events.room().clone(),
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
        events.publish(event, Public::Hidden, owner, out);
        Ok(())
    }

    pub(super) fn unmute(
        &mut self,
        user: &str,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let (person, _) = self
            .muted
            .remove(user)
            .ok_or_else(|| (ErrorCode::NotFound, format!("{user} is not muted here")))?;
        out.push(Output::Persist(Change::Sanction {
            room: events.room().clone(),
            user: person.clone(),
            sanction: None,
        }));
        let owner = Some(person.id.clone());
        events.publish(
            RoomEvent::Unmuted { user: person },
            Public::Hidden,
            owner,
            out,
        );
        Ok(())
    }

    /// Record that a person is removed from this room and may not join it again; returns
    /// who they are. The room ends their media and their connections' membership.
    pub(super) fn remove_person(
        &mut self,
        user: &str,
        members: &Members,
        room: &str,
        out: &mut Vec<Output>,
    ) -> Result<Author, Refusal> {
        let person = self.known_person(user, members)?;
        out.push(Output::Persist(Change::Sanction {
            room: room.to_owned(),
            user: person.clone(),
            sanction: Some(Sanction::Removed),
        }));
        self.removed.insert(person.id.clone(), person.clone());
        Ok(person)
    }
}

/// The people in the room named as `@Name` in a text, longest names first so that
/// `@Ann Lee` is not read as `@Ann`.
fn mentions_in(text: &str, members: &Members) -> Vec<Author> {
    if !text.contains('@') {
        return Vec::new();
    }
    let mut people: Vec<Author> = Vec::new();
    for member in members.values() {
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
