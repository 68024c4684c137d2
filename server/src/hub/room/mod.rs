//! One room's logic as a plain state machine: [`Room::handle`] takes an [`Input`] and the
//! current time and appends [`Output`]s. No I/O, no clock, no `.await`, no runtime types:
//! the actor in `hub::actor` persists, delivers and replies; tests drive this directly.
//!
//! Each part of a room owns its state in a file of its own, and is handed what it needs of
//! the others explicitly: `chat` (messages, mutes, removals), `qa` (questions, closed
//! sessions, the moderation log), `polls`, `stage` (reactions, hands, presence), `media`
//! (who may publish, which tracks are live), `phases` (sessions on the clock), `agenda`
//! (bookmarks and their reminders), `seats` (workshop places and waitlists) and
//! `client_ids` (retries answered like the first). They publish through `log`, the room's
//! event sequence: every event gets the next `seq`, is kept in a bounded in-memory log for
//! replay, and is rendered once per audience (everyone, staff, one person). `common` and
//! `setup` are the leaves they share. This file keeps what crosses them: membership, the
//! permission checks, and the dispatch of an input to the parts in order.

mod agenda;
mod chat;
mod client_ids;
mod common;
mod input;
mod log;
mod media;
mod phases;
mod polls;
mod qa;
pub mod seats;
mod setup;
mod stage;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use jiff::Timestamp;
use plenary_protocol::{
    ErrorCode, Ref, Role, RoomEvent, RoomKind, RoomSnapshot, ServerMessage, SessionControl,
    SessionId,
};

pub use chat::CHAT_PAGE;
pub use common::{Output, Refusal, checked_text};
pub use input::{Action, Caller, Input};
pub use setup::{RoomLimits, RoomSetup, SessionPlan};

use self::agenda::Agenda;
use self::chat::Chat;
use self::client_ids::ClientIds;
use self::common::{Members, Public, ack, error, reply};
use self::log::EventLog;
use self::media::Media;
use self::phases::Phases;
use self::polls::Polls;
use self::qa::Qa;
use self::seats::Seats;
use self::stage::Stage;
use crate::hub::frame::encode;
use crate::hub::person::{ConnId, Person};
use crate::store::{RoomRecord, StoredEvent};

/// A room's state.
pub struct Room {
    setup: RoomSetup,
    limits: RoomLimits,
    members: Members,
    events: EventLog,
    client_ids: ClientIds,
    chat: Chat,
    qa: Qa,
    polls: Polls,
    stage: Stage,
    phases: Phases,
    media: Media,
    /// Who bookmarked the room's sessions, and whom their reminders reached.
    agenda: Agenda,
    /// Who signed up for a place in the room's sessions, in order.
    seats: Seats,
}

impl Room {
    /// A room restored from its stored record.
    pub fn restore(setup: RoomSetup, record: RoomRecord, limits: RoomLimits) -> Room {
        let log: VecDeque<StoredEvent> = record.events.into();
        let media = Media::restore(record.on_stage, &log);
        let mut qa = Qa::restore(record.questions, record.qa_closed, record.moderation_log);
        qa.retain_closed(|session| setup.sessions.contains_key(session));
        let mut agenda = Agenda::default();
        agenda.absorb(record.people.bookmarks, record.people.reminded);
        let mut seats = Seats::default();
        seats.absorb(record.people.sign_ups, false);
        Room {
            events: EventLog::restore(setup.id.clone(), record.last_seq, log, limits.history),
            client_ids: ClientIds::restore(record.client_ids, limits.client_ids),
            chat: Chat::restore(
                record.chat,
                record.chat_flags,
                record.sanctions,
                limits.history,
            ),
            qa,
            polls: Polls::restore(record.polls),
            members: HashMap::new(),
            stage: Stage::default(),
            phases: Phases::restore(record.phases, record.overrides, limits.doors),
            media,
            agenda,
            seats,
            setup,
            limits,
        }
    }

    /// The room's id.
    pub fn id(&self) -> &str {
        &self.setup.id
    }

    /// What the programme says about this room.
    pub fn setup(&self) -> &RoomSetup {
        &self.setup
    }

    /// What this room keeps in memory.
    pub fn limits(&self) -> RoomLimits {
        self.limits
    }

    /// Carry out one input, appending what must happen to `out`.
    pub fn handle(&mut self, now: Timestamp, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Join {
                caller,
                since,
                reference,
            } => {
                if let Some(removed) = self.chat.removed(&caller.person.user.id) {
                    let message = format!("{} was removed from this room", removed.name);
                    out.push(error(
                        caller.conn,
                        reference,
                        ErrorCode::Forbidden,
                        &message,
                    ));
                } else if let Err((code, message)) =
                    self.seats
                        .admit(&self.setup, &self.phases, &self.members, &caller.person)
                {
                    out.push(error(caller.conn, reference, code, &message));
                } else {
                    self.join(now, caller, since, reference, out);
                }
            }
            Input::Leave {
                conn,
                reply,
                reference,
            } => {
                self.leave(conn, out);
                if reply {
                    out.push(ack(conn, reference, None));
                }
            }
            Input::Act {
                caller,
                reference,
                action,
            } => {
                let conn = caller.conn;
                if let Err((code, message)) = self.act(now, &caller, &reference, action, out) {
                    out.push(error(conn, reference, code, &message));
                }
            }
            Input::Tick => self.tick(now, out),
            Input::Setup(setup, arrived) => {
                self.qa
                    .retain_closed(|session| setup.sessions.contains_key(session));
                let places_before = seats::places(&self.setup);
                self.setup = RoomSetup {
                    id: self.setup.id.clone(),
                    ..setup
                };
                let here = |session: &str| self.setup.sessions.contains_key(session);
                self.agenda.retain(here);
                self.seats.retain(here);
                self.agenda.absorb(arrived.bookmarks, arrived.reminded);
                self.seats.absorb(arrived.sign_ups, true);
                self.seats.places_changed(&self.setup, places_before, out);
            }
            Input::RtcPermit {
                caller,
                publish,
                request,
            } => out.push(Output::Permit {
                request,
                verdict: self.rtc_permit(&caller, publish),
            }),
            Input::Tracks { tracks } => self.media.set_tracks(tracks, &mut self.events, out),
        }
    }

    fn join(
        &mut self,
        now: Timestamp,
        caller: Caller,
        since: Option<u64>,
        reference: Option<Ref>,
        out: &mut Vec<Output>,
    ) {
        let conn = caller.conn;
        let staff = caller.person.user.role.is_staff();
        let user = caller.person.user.id.clone();
        let replay_from = since.filter(|since| self.events.replays(*since));
        let resync = since.is_some() && replay_from.is_none();
        let snapshot = replay_from
            .is_none()
            .then(|| self.snapshot(now, &caller.person));
        out.push(reply(
            conn,
            &ServerMessage::Joined {
                reference,
                room: self.setup.id.clone(),
                seq: self.events.seq(),
                snapshot,
                resync,
            },
        ));
        if let Some(since) = replay_from {
            let frames: Vec<Bytes> = self.events.views_since(since, staff, &user);
            if !frames.is_empty() {
                out.push(Output::Replay { conn, frames });
            }
        }
        let person = Arc::clone(&caller.person);
        if self.members.insert(conn, caller.person).is_none() {
            // Joining again on the same connection (a resume) is not one more connection.
            self.stage.arrive(&person);
        }
        out.push(Output::Admit { conn, staff, user });
        let workshop = self.setup.kind == RoomKind::Workshop;
        out.push(reply(
            conn,
            &self.stage.presence_now(&self.setup.id, workshop),
        ));
        if staff && workshop {
            out.push(reply(conn, &self.stage.hands_message(&self.setup.id)));
        }
    }

    fn leave(&mut self, conn: ConnId, out: &mut Vec<Output>) {
        let Some(person) = self.members.remove(&conn) else {
            return;
        };
        out.push(Output::Dismiss { conn });
        let gone = self.stage.depart(&person.user.id);
        if gone && self.stage.lower_hand(&person.user.id) {
            self.stage.hands_changed(&self.setup.id, out);
        }
    }

    fn snapshot(&self, now: Timestamp, person: &Person) -> RoomSnapshot {
        let staff = person.user.role.is_staff();
        let user = &person.user.id;
        RoomSnapshot {
            chat: self.chat.newest(self.limits.chat_history),
            questions: self.qa.visible_questions(staff, user),
            voted: self.qa.voted(user),
            qa_closed: self.qa.closed(),
            polls: self.polls.visible(staff),
            poll_votes: self.polls.votes_of(user),
            muted_until: self.chat.muted_until(user, now),
            muted: if staff {
                self.chat.muted_now(now)
            } else {
                Vec::new()
            },
            flagged: if staff {
                self.chat.flagged()
            } else {
                BTreeMap::new()
            },
            phases: self
                .setup
                .sessions
                .keys()
                .map(|session| (session.clone(), self.phases.phase_of(session)))
                .collect(),
            tracks: self.media.tracks(),
            on_stage: self.media.on_stage(),
            seats: self.seats.seat_counts(&self.setup),
            registrations: self.seats.registrations_of(&self.setup, user),
        }
    }

    fn act(
        &mut self,
        now: Timestamp,
        caller: &Caller,
        reference: &Option<Ref>,
        action: Action,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let person = &caller.person;
        let conn = caller.conn;
        let created = match action {
            Action::Chat {
                text,
                client_id,
                reply_to,
            } => {
                self.joined(conn)?;
                if let Some(created) = self.client_ids.answered_before(person, &client_id)? {
                    Some(created)
                } else {
                    let id = self.chat.post(
                        now,
                        person,
                        text,
                        reply_to,
                        &self.members,
                        &mut self.events,
                        out,
                    )?;
                    self.client_ids
                        .remember(&self.setup.id, person, client_id, id, out);
                    Some(id)
                }
            }
            Action::ChatHistory { before, limit } => {
                self.joined(conn)?;
                out.push(Output::ReadChatHistory {
                    conn,
                    reference: reference.clone(),
                    before,
                    limit: limit.map_or(CHAT_PAGE, |limit| (limit as usize).min(CHAT_PAGE)),
                });
                return Ok(());
            }
            Action::RemoveChat { id } => {
                self.may_moderate(person)?;
                self.chat.remove(id, &mut self.events, out)?;
                Some(id)
            }
            Action::FlagChat { id } => {
                self.joined(conn)?;
                self.chat.flag(person, id, &mut self.events, out)?;
                None
            }
            Action::Mute { user, minutes } => {
                self.may_moderate(person)?;
                self.chat
                    .mute(now, &user, minutes, &self.members, &mut self.events, out)?;
                None
            }
            Action::Unmute { user } => {
                self.may_moderate(person)?;
                self.chat.unmute(&user, &mut self.events, out)?;
                None
            }
            Action::RemovePerson { user } => {
                self.may_moderate(person)?;
                self.remove_person(&user, out)?;
                None
            }
            Action::Ask {
                id,
                session,
                text,
                anonymous,
                client_id,
            } => {
                if let Some(created) = self.client_ids.answered_before(person, &client_id)? {
                    Some(created)
                } else {
                    self.qa.ask(
                        now,
                        person,
                        id,
                        session,
                        text,
                        anonymous,
                        &self.setup.sessions,
                        &mut self.events,
                        out,
                    )?;
                    self.client_ids
                        .remember(&self.setup.id, person, client_id, id, out);
                    Some(id)
                }
            }
            Action::Vote { question } => {
                self.qa
                    .vote(person, question, true, &mut self.events, out)?;
                Some(question)
            }
            Action::Unvote { question } => {
                self.qa
                    .vote(person, question, false, &mut self.events, out)?;
                Some(question)
            }
            Action::Moderate {
                question,
                action,
                text,
                into,
            } => {
                self.may_moderate(person)?;
                self.qa.moderate(
                    now,
                    person,
                    question,
                    action,
                    text,
                    into,
                    &mut self.events,
                    out,
                )?;
                Some(question)
            }
            Action::SetQa { session, open } => {
                self.may_moderate(person)?;
                self.session_here(&session)?;
                self.qa
                    .set_open(now, person, session, open, &mut self.events, out);
                None
            }
            Action::ModerationLog { session } => {
                self.may_moderate(person)?;
                self.session_here(&session)?;
                let entries = self.qa.log_of(&session);
                out.push(reply(
                    conn,
                    &ServerMessage::ModerationLog {
                        reference: reference.clone(),
                        session,
                        entries,
                    },
                ));
                return Ok(());
            }
            Action::CreatePoll {
                id,
                question,
                options,
                multiple,
            } => {
                self.may_moderate(person)?;
                self.polls
                    .create(id, question, options, multiple, &mut self.events, out)?;
                Some(id)
            }
            Action::PollAction { poll, action } => {
                self.may_moderate(person)?;
                self.polls.act(poll, action, &mut self.events, out)?;
                Some(poll)
            }
            Action::PollVote { poll, choices } => {
                self.polls.vote(person, poll, choices, out)?;
                Some(poll)
            }
            Action::React { emoji } => {
                self.joined(conn)?;
                self.stage.react(&emoji)?;
                None
            }
            Action::Hand { raised } => {
                self.joined(conn)?;
                let workshop = self.setup.kind == RoomKind::Workshop;
                self.stage
                    .hand(now, person, raised, &self.setup.id, workshop, out)?;
                None
            }
            Action::SessionControl {
                session,
                action,
                minutes,
            } => {
                self.control_session(now, person, session, action, minutes, out)?;
                None
            }
            Action::ClearHands { user } => {
                self.may_moderate(person)?;
                self.stage
                    .clear_hands(user.as_deref(), &self.setup.id, &self.members, out);
                None
            }
            Action::GrantStage { user, allowed } => {
                // Anyone may step off the stage (or decline being brought on); only staff
                // bring people on or take others off.
                if allowed || user != person.user.id {
                    self.may_moderate(person)?;
                }
                self.media.grant_stage(user, allowed, &mut self.events, out);
                None
            }
            Action::Bookmark { session, on } => {
                self.session_here(&session)?;
                self.agenda.bookmark(&person.user.id, session, on, out);
                None
            }
            Action::Register { session, on } => {
                self.session_here(&session)?;
                let phase = self.phases.phase_of(&session);
                let answer =
                    self.seats
                        .register(&self.setup, phase, person, session, on, reference, out)?;
                out.push(reply(conn, &answer));
                return Ok(());
            }
        };
        out.push(ack(conn, reference.clone(), created));
        Ok(())
    }

    /// Members of this room only.
    fn joined(&self, conn: ConnId) -> Result<(), Refusal> {
        if self.members.contains_key(&conn) {
            Ok(())
        } else {
            Err((
                ErrorCode::NotJoined,
                format!("join room {} first", self.setup.id),
            ))
        }
    }

    /// Sessions held in this room only.
    fn session_here(&self, session: &str) -> Result<(), Refusal> {
        self.plan_of(session).map(|_| ())
    }

    /// What the programme says about a session held in this room.
    fn plan_of(&self, session: &str) -> Result<SessionPlan, Refusal> {
        self.setup
            .sessions
            .get(session)
            .copied()
            .ok_or_else(|| (ErrorCode::NotFound, format!("no session {session} here")))
    }

    /// Staff of this room only.
    fn may_moderate(&self, person: &Person) -> Result<(), Refusal> {
        if person.may_moderate(&self.setup.id) {
            Ok(())
        } else {
            Err((
                ErrorCode::Forbidden,
                "only moderators and hosts of this room may do that".into(),
            ))
        }
    }

    /// Whether `caller` may receive (`publish: false`) or publish media here: members only.
    fn rtc_permit(&self, caller: &Caller, publish: bool) -> Result<(), Refusal> {
        self.joined(caller.conn)?;
        self.media.permit(&self.setup.id, &caller.person, publish)
    }

    /// Remove a person: every connection of theirs is told and leaves, their media here
    /// ends, and they may not join again.
    fn remove_person(&mut self, user: &str, out: &mut Vec<Output>) -> Result<(), Refusal> {
        let person = self
            .chat
            .remove_person(user, &self.members, &self.setup.id, out)?;
        // Their media here ends too: what they publish and what they receive.
        self.media
            .grant_stage(user.to_owned(), false, &mut self.events, out);
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
        self.events.publish(
            RoomEvent::PersonRemoved { user: person },
            Public::Hidden,
            None,
            out,
        );
        Ok(())
    }

    /// A host or organiser starts a session early, ends it, or lets it run longer; its
    /// phases catch up at once.
    fn control_session(
        &mut self,
        now: Timestamp,
        person: &Person,
        session: SessionId,
        action: SessionControl,
        minutes: Option<u32>,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        if !matches!(person.user.role, Role::Host | Role::Organiser) {
            return Err((
                ErrorCode::Forbidden,
                "only hosts and organisers run sessions off the clock".into(),
            ));
        }
        let planned = self.plan_of(&session)?;
        self.phases
            .control(now, session, planned, action, minutes, out)?;
        self.advance_phases(now, out);
        Ok(())
    }

    /// Announce the steps the room's sessions took on the clock.
    fn advance_phases(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        self.phases.advance(
            now,
            &self.setup.sessions,
            &mut self.qa,
            &mut self.events,
            out,
        );
    }

    /// Once per interval (and whenever a manual clock moves): sessions' phases, and what is
    /// sent at a bounded rate.
    fn tick(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        self.advance_phases(now, out);
        self.agenda.send_reminders(
            now,
            &self.setup.id,
            self.limits.reminder,
            &self.setup.sessions,
            &self.phases,
            out,
        );
        self.polls.publish_results(&mut self.events, out);
        self.seats
            .publish_counts(&self.setup, &mut self.events, out);
        let room = self.setup.id.clone();
        if let Some(reactions) = self.stage.take_reactions(&room) {
            out.push(Output::Broadcast {
                frame: encode(&reactions),
                staff_only: false,
            });
        }
        let workshop = self.setup.kind == RoomKind::Workshop;
        if let Some(presence) = self.stage.presence(&room, workshop) {
            out.push(Output::Broadcast {
                frame: encode(&presence),
                staff_only: false,
            });
        }
    }
}
