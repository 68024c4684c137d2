//! One room's logic as a plain state machine: [`Room::handle`] takes an [`Input`] and the
//! current time and appends [`Output`]s. No I/O, no clock, no `.await`: the actor in
//! `hub::actor` persists, delivers and replies; tests drive this directly.
//!
//! The room owns its event sequence: every event gets the next `seq`, is kept in a bounded
//! in-memory log for replay, and is rendered once per audience (everyone, staff, one person).
//! The parts of a room live beside this file: `chat` (messages, mutes, removals), `qa`
//! (questions and their moderation), `polls`, `stage` (reactions, hands, presence),
//! `media` (who may publish, which tracks are live), `schedule` (sessions' phases),
//! `agenda` (bookmarks and their reminders) and `seats` (workshop places and waitlists).

mod agenda;
mod chat;
mod media;
mod polls;
mod qa;
mod schedule;
pub mod seats;
mod stage;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use jiff::Timestamp;
use plenary_protocol::{
    Author, ChatId, ChatMessage, ErrorCode, ModerateAction, MutedPerson, PollAction, PollId,
    QuestionId, Ref, RoomEvent, RoomId, RoomKind, RoomSnapshot, ServerMessage, SessionId,
    TrackInfo, UserId,
};
use tokio::sync::oneshot;

use super::frame::encode;
use super::person::{ConnId, Person};
use crate::store::{Change, LoadLimits, RoomRecord, Sanction, SessionPeople, StoredEvent};

/// Who sent an input.
#[derive(Debug, Clone)]
pub struct Caller {
    pub conn: ConnId,
    pub person: Arc<Person>,
}

/// What a room is asked to do.
#[derive(Debug)]
pub enum Input {
    Join {
        caller: Caller,
        since: Option<u64>,
        reference: Option<Ref>,
    },
    /// Leave the room; `reply` is false when the connection is already gone.
    Leave {
        conn: ConnId,
        reply: bool,
        reference: Option<Ref>,
    },
    Act {
        caller: Caller,
        reference: Option<Ref>,
        action: Action,
    },
    /// Time passes: send what is sent at most once per interval (reactions, presence, poll
    /// results).
    Tick,
    /// The programme changed: this is what it says about the room now, with the stored
    /// bookmarks and sign-ups of sessions that moved here from another room. Questions
    /// already asked stay; new ones need a session listed here. Sent by the hub, not by a
    /// connection, so nobody is answered.
    Setup(RoomSetup, SessionPeople),
    /// The SFU asks whether `caller` may receive (`publish: false`) or publish media here.
    RtcPermit {
        caller: Caller,
        publish: bool,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    /// The SFU's list of the room's live tracks, after it changed.
    Tracks { tracks: Vec<TrackInfo> },
}

impl Input {
    /// The connection that sent this input.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Input::Join { caller, .. }
            | Input::Act { caller, .. }
            | Input::RtcPermit { caller, .. } => Some(caller.conn),
            Input::Leave { conn, .. } => Some(*conn),
            Input::Tick | Input::Setup(..) | Input::Tracks { .. } => None,
        }
    }
}

/// An action in a room by someone who may or may not have joined it.
#[derive(Debug)]
pub enum Action {
    Chat {
        text: String,
        client_id: Option<String>,
        reply_to: Option<ChatId>,
    },
    RemoveChat {
        id: ChatId,
    },
    /// Older chat messages than `before`, at most `limit`.
    ChatHistory {
        before: ChatId,
        limit: Option<u32>,
    },
    Mute {
        user: UserId,
        minutes: Option<u32>,
    },
    Unmute {
        user: UserId,
    },
    RemovePerson {
        user: UserId,
    },
    /// `id` is allocated by the hub, unique across rooms.
    Ask {
        id: QuestionId,
        session: SessionId,
        text: String,
        anonymous: bool,
        client_id: Option<String>,
    },
    Vote {
        question: QuestionId,
    },
    Unvote {
        question: QuestionId,
    },
    Moderate {
        question: QuestionId,
        action: ModerateAction,
        text: Option<String>,
        into: Option<QuestionId>,
    },
    SetQa {
        session: SessionId,
        open: bool,
    },
    ModerationLog {
        session: SessionId,
    },
    /// `id` is allocated by the hub, unique across rooms.
    CreatePoll {
        id: PollId,
        question: String,
        options: Vec<String>,
        multiple: bool,
    },
    PollAction {
        poll: PollId,
        action: PollAction,
    },
    PollVote {
        poll: PollId,
        choices: Vec<u32>,
    },
    React {
        emoji: String,
    },
    Hand {
        raised: bool,
    },
    ClearHands {
        user: Option<UserId>,
    },
    SessionControl {
        session: SessionId,
        action: plenary_protocol::SessionControl,
        minutes: Option<u32>,
    },
    GrantStage {
        user: UserId,
        allowed: bool,
    },
    /// Add a session of this room to one's agenda (`on`), or take it off.
    Bookmark {
        session: SessionId,
        on: bool,
    },
    /// Ask for a place in a workshop session of this room (`on`), or give one's place or
    /// waitlist position up.
    Register {
        session: SessionId,
        on: bool,
    },
}

/// What the actor must do, in order, once the batch's changes are durable.
#[derive(Debug)]
pub enum Output {
    /// Write this with the batch (events are persisted from [`Output::Publish`]).
    Persist(Change),
    /// Send a frame to one connection.
    Reply { conn: ConnId, frame: Bytes },
    /// Send the frames a resuming connection missed.
    Replay { conn: ConnId, frames: Vec<Bytes> },
    /// Start delivering this room's events to a connection.
    Admit {
        conn: ConnId,
        staff: bool,
        user: UserId,
    },
    /// Stop delivering to a connection.
    Dismiss { conn: ConnId },
    /// A new event: persist it, then deliver each member the view it may see.
    Publish(StoredEvent),
    /// A frame outside the event log (reactions, presence, hands): delivered to members now,
    /// never persisted or replayed.
    Broadcast { frame: Bytes, staff_only: bool },
    /// Read older chat from the store and answer `chat_history` to the connection (the room
    /// checked it may; the actor reads off the room's task).
    ReadChatHistory {
        conn: ConnId,
        reference: Option<Ref>,
        before: ChatId,
        limit: usize,
    },
    /// The answer to an [`Input::RtcPermit`].
    Permit {
        reply: oneshot::Sender<Result<(), Refusal>>,
        verdict: Result<(), Refusal>,
    },
    /// A person lost the right to publish here (or, with `receiving`, to be here at all):
    /// the SFU ends their media in this room.
    MediaRevoked { user: UserId, receiving: bool },
    /// Send a frame to every live connection of these people, whether or not they joined
    /// this room (a reminder, a place that freed): through the hub's `PersonOutboxes`.
    ToPeople { users: Vec<UserId>, frame: Bytes },
}

/// Chat messages sent per `chat_history` page at most.
pub const CHAT_PAGE: usize = 100;

/// How much a room keeps in memory.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// Events kept for replay with `since`.
    pub history: usize,
    /// Chat messages in a join snapshot.
    pub chat_history: usize,
    /// Client ids remembered for answering retries the same way.
    pub client_ids: usize,
    /// How long before its start a session's doors open.
    pub doors: jiff::SignedDuration,
    /// How long before its start those who bookmarked a session are reminded.
    pub reminder: jiff::SignedDuration,
}

impl RoomLimits {
    /// What to load from the store to restore a room with these limits.
    pub fn load_limits(&self) -> LoadLimits {
        LoadLimits {
            events: self.history,
            chat: self.history,
            client_ids: self.client_ids,
        }
    }
}

/// What the programme says about a room.
#[derive(Debug, Clone)]
pub struct RoomSetup {
    pub id: RoomId,
    pub kind: RoomKind,
    /// Attendee places of a workshop room; `None` for no limit.
    pub capacity: Option<u32>,
    /// The sessions held in this room.
    pub sessions: HashMap<SessionId, SessionPlan>,
}

/// What the programme says about a session, as its room needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPlan {
    /// Questions wait for a moderator's approval.
    pub moderated: bool,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The newest client ids, bounded, so a retried message is answered like the first.
#[derive(Default)]
struct RecentClientIds {
    created: HashMap<(UserId, String), u64>,
    order: VecDeque<(UserId, String)>,
}

impl RecentClientIds {
    fn get(&self, user: &str, client_id: &str) -> Option<u64> {
        // A tuple key cannot be borrowed as (&str, &str); client ids are short.
        self.created
            .get(&(user.to_owned(), client_id.to_owned()))
            .copied()
    }

    fn remember(&mut self, user: UserId, client_id: String, created: u64, capacity: usize) {
        let key = (user, client_id);
        if self.created.insert(key.clone(), created).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.created.remove(&oldest);
            }
        }
    }
}

/// A refusal: the code and message of the `error` the sender gets. Nothing changed.
pub type Refusal = (ErrorCode, String);

/// A room's state.
pub struct Room {
    setup: RoomSetup,
    seq: u64,
    limits: RoomLimits,
    /// The newest events, at most `limits.history`, for replay.
    log: VecDeque<StoredEvent>,
    /// Chat messages of the room not removed, newest last, at most `limits.history`.
    chat: VecDeque<ChatMessage>,
    questions: BTreeMap<QuestionId, qa::QuestionState>,
    /// Sessions of this room whose Q&A is closed.
    qa_closed: HashSet<SessionId>,
    /// Moderation log entries per session, oldest first.
    moderation_log: HashMap<SessionId, Vec<plenary_protocol::ModerationEntry>>,
    polls: BTreeMap<PollId, polls::PollState>,
    /// People muted here, until when.
    muted: HashMap<UserId, (Author, Timestamp)>,
    /// People removed from this room.
    removed: HashMap<UserId, Author>,
    members: HashMap<ConnId, Arc<Person>>,
    client_ids: RecentClientIds,
    stage: stage::Stage,
    /// The phase last announced for each session (absent: scheduled).
    phases: HashMap<SessionId, plenary_protocol::SessionPhase>,
    /// Hosts' changes to sessions' planned times.
    overrides: HashMap<SessionId, schedule::Override>,
    /// Attendees brought on stage: they may publish media here.
    on_stage: HashSet<UserId>,
    /// The live tracks, as the SFU last reported them.
    tracks: Vec<TrackInfo>,
    /// Who bookmarked the room's sessions, and whom their reminders reached.
    agenda: agenda::Agenda,
    /// Who signed up for a place in the room's sessions, in order.
    seats: seats::Seats,
}

/// The person's view of one event.
fn view_for<'a>(event: &'a StoredEvent, staff: bool, user: &str) -> Option<&'a Bytes> {
    super::feed::view(
        event.public.as_ref(),
        &event.staff,
        event.owner.as_deref(),
        staff,
        user,
    )
}

fn reply(conn: ConnId, message: &ServerMessage) -> Output {
    Output::Reply {
        conn,
        frame: encode(message),
    }
}

fn error(conn: ConnId, reference: Option<Ref>, code: ErrorCode, message: &str) -> Output {
    reply(
        conn,
        &ServerMessage::Error {
            reference,
            code,
            message: message.to_owned(),
        },
    )
}

fn ack(conn: ConnId, reference: Option<Ref>, id: Option<u64>) -> Output {
    reply(conn, &ServerMessage::Ack { reference, id })
}

/// A text trimmed and checked against its limit.
pub fn checked_text(text: &str, max_chars: usize, what: &str) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err((ErrorCode::BadRequest, format!("{what} is empty")));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err((
            ErrorCode::TooLarge,
            format!("{what} has {chars} characters; at most {max_chars} are allowed"),
        ));
    }
    Ok(text.to_owned())
}

fn author(person: &Person) -> Author {
    Author {
        id: person.user.id.clone(),
        name: person.user.name.clone(),
    }
}

/// What attendees see of an event.
enum Public {
    /// The same as staff.
    Same,
    /// Another rendering (an anonymous question without its author).
    Different(Box<RoomEvent>),
    /// Nothing (a question waiting for approval, a draft poll).
    Hidden,
}

impl Room {
    /// A room restored from its stored record.
    pub fn restore(setup: RoomSetup, record: RoomRecord, limits: RoomLimits) -> Room {
        let mut client_ids = RecentClientIds::default();
        for (user, client_id, created) in record.client_ids {
            client_ids.remember(user, client_id, created, limits.client_ids);
        }
        let mut moderation_log: HashMap<SessionId, Vec<_>> = HashMap::new();
        for (session, entry) in record.moderation_log {
            moderation_log.entry(session).or_default().push(entry);
        }
        let mut muted = HashMap::new();
        let mut removed = HashMap::new();
        for (user, sanction) in record.sanctions {
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
        let log: VecDeque<StoredEvent> = record.events.into();
        let tracks = media::last_tracks(&log);
        let mut agenda = agenda::Agenda::default();
        agenda.absorb(record.people.bookmarks, record.people.reminded);
        let mut seats = seats::Seats::default();
        seats.absorb(record.people.sign_ups, false);
        Room {
            qa_closed: record
                .qa_closed
                .into_iter()
                .filter(|session| setup.sessions.contains_key(session))
                .collect(),
            setup,
            seq: record.last_seq,
            limits,
            log,
            chat: record.chat.into(),
            questions: record
                .questions
                .into_iter()
                .map(|stored| (stored.question.id, qa::QuestionState::from(stored)))
                .collect(),
            moderation_log,
            polls: record
                .polls
                .into_iter()
                .map(|stored| (stored.poll.id, polls::PollState::from(stored)))
                .collect(),
            muted,
            removed,
            members: HashMap::new(),
            client_ids,
            stage: stage::Stage::default(),
            phases: record.phases.into_iter().collect(),
            overrides: record
                .overrides
                .into_iter()
                .map(|(session, started_ms, ended_ms)| {
                    let at =
                        |ms: Option<i64>| ms.and_then(|ms| Timestamp::from_millisecond(ms).ok());
                    let changed = schedule::Override {
                        started: at(started_ms),
                        ended: at(ended_ms),
                    };
                    (session, changed)
                })
                .collect(),
            on_stage: record.on_stage.into_iter().collect(),
            tracks,
            agenda,
            seats,
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
                if let Some(removed) = self.removed.get(&caller.person.user.id) {
                    let message = format!("{} was removed from this room", removed.name);
                    out.push(error(
                        caller.conn,
                        reference,
                        ErrorCode::Forbidden,
                        &message,
                    ));
                } else if let Err((code, message)) = self.admit(&caller.person) {
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
                self.qa_closed
                    .retain(|session| setup.sessions.contains_key(session));
                let places_before = self.places();
                self.setup = RoomSetup {
                    id: self.setup.id.clone(),
                    ..setup
                };
                let here = |session: &str| self.setup.sessions.contains_key(session);
                self.agenda.retain(here);
                self.seats.retain(here);
                self.agenda.absorb(arrived.bookmarks, arrived.reminded);
                self.seats.absorb(arrived.sign_ups, true);
                self.places_changed(places_before, out);
            }
            Input::RtcPermit {
                caller,
                publish,
                reply,
            } => out.push(Output::Permit {
                reply,
                verdict: self.rtc_permit(&caller, publish),
            }),
            Input::Tracks { tracks } => self.set_tracks(tracks, out),
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
        let first_kept = self.log.front().map_or(self.seq + 1, |event| event.seq);
        let replay_from = since.filter(|since| *since + 1 >= first_kept);
        let resync = since.is_some() && replay_from.is_none();
        let snapshot = replay_from
            .is_none()
            .then(|| self.snapshot(now, &caller.person));
        out.push(reply(
            conn,
            &ServerMessage::Joined {
                reference,
                room: self.setup.id.clone(),
                seq: self.seq,
                snapshot,
                resync,
            },
        ));
        if let Some(since) = replay_from {
            let frames: Vec<Bytes> = self
                .log
                .iter()
                .filter(|event| event.seq > since)
                .filter_map(|event| view_for(event, staff, &user).cloned())
                .collect();
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
        out.push(reply(conn, &self.presence_now()));
        if staff && self.setup.kind == RoomKind::Workshop {
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
            self.hands_changed(out);
        }
    }

    /// Everyone muted here now, by name.
    fn muted_now(&self, now: Timestamp) -> Vec<MutedPerson> {
        let mut muted: Vec<MutedPerson> = self
            .muted
            .values()
            .filter(|(_, until)| *until > now)
            .map(|(user, until)| MutedPerson {
                user: user.clone(),
                until: crate::programme::rfc3339(*until),
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

    fn snapshot(&self, now: Timestamp, person: &Person) -> RoomSnapshot {
        let skip = self.chat.len().saturating_sub(self.limits.chat_history);
        let staff = person.user.role.is_staff();
        let user = &person.user.id;
        RoomSnapshot {
            chat: self.chat.iter().skip(skip).cloned().collect(),
            questions: self.visible_questions(staff, user),
            voted: self
                .questions
                .values()
                .filter(|state| state.voters.contains(user))
                .map(|state| state.question.id)
                .collect(),
            qa_closed: self.qa_closed.iter().cloned().collect(),
            polls: self.visible_polls(staff),
            poll_votes: self.poll_votes_of(user),
            muted_until: self
                .muted
                .get(user)
                .filter(|(_, until)| *until > now)
                .map(|(_, until)| crate::programme::rfc3339(*until)),
            muted: if staff {
                self.muted_now(now)
            } else {
                Vec::new()
            },
            phases: self
                .setup
                .sessions
                .keys()
                .map(|session| (session.clone(), self.phase_of(session)))
                .collect(),
            tracks: self.tracks.clone(),
            on_stage: self.on_stage.iter().cloned().collect(),
            seats: self.seat_counts(),
            registrations: self.registrations_of(user),
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
                if let Some(created) = self.answered_before(person, &client_id)? {
                    Some(created)
                } else {
                    let id = self.chat(now, person, text, reply_to, out)?;
                    self.remember_client_id(person, client_id, id, out);
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
                self.remove_chat(id, out)?;
                Some(id)
            }
            Action::Mute { user, minutes } => {
                self.may_moderate(person)?;
                self.mute(now, &user, minutes, out)?;
                None
            }
            Action::Unmute { user } => {
                self.may_moderate(person)?;
                self.unmute(&user, out)?;
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
                if let Some(created) = self.answered_before(person, &client_id)? {
                    Some(created)
                } else {
                    self.ask(now, person, id, session, text, anonymous, out)?;
                    self.remember_client_id(person, client_id, id, out);
                    Some(id)
                }
            }
            Action::Vote { question } => {
                self.vote(person, question, true, out)?;
                Some(question)
            }
            Action::Unvote { question } => {
                self.vote(person, question, false, out)?;
                Some(question)
            }
            Action::Moderate {
                question,
                action,
                text,
                into,
            } => {
                self.may_moderate(person)?;
                self.moderate(now, person, question, action, text, into, out)?;
                Some(question)
            }
            Action::SetQa { session, open } => {
                self.may_moderate(person)?;
                self.set_qa(now, person, session, open, out)?;
                None
            }
            Action::ModerationLog { session } => {
                self.may_moderate(person)?;
                let entries = self.moderation_log_of(&session)?;
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
                self.create_poll(id, question, options, multiple, out)?;
                Some(id)
            }
            Action::PollAction { poll, action } => {
                self.may_moderate(person)?;
                self.poll_action(poll, action, out)?;
                Some(poll)
            }
            Action::PollVote { poll, choices } => {
                self.poll_vote(person, poll, choices, out)?;
                Some(poll)
            }
            Action::React { emoji } => {
                self.joined(conn)?;
                self.stage.react(&emoji)?;
                None
            }
            Action::Hand { raised } => {
                self.joined(conn)?;
                self.hand(now, person, raised, out)?;
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
                self.clear_hands(user.as_deref(), out);
                None
            }
            Action::GrantStage { user, allowed } => {
                self.may_moderate(person)?;
                self.grant_stage(user, allowed, out);
                None
            }
            Action::Bookmark { session, on } => {
                self.bookmark(person, session, on, out)?;
                None
            }
            Action::Register { session, on } => {
                self.register(caller, session, on, reference, out)?;
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
        if self.setup.sessions.contains_key(session) {
            Ok(())
        } else {
            Err((ErrorCode::NotFound, format!("no session {session} here")))
        }
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

    /// If this message repeats a `client_id` already carried out, what it created.
    fn answered_before(
        &self,
        person: &Person,
        client_id: &Option<String>,
    ) -> Result<Option<u64>, Refusal> {
        let Some(client_id) = client_id else {
            return Ok(None);
        };
        if client_id.chars().count() > plenary_protocol::MAX_CLIENT_ID_CHARS {
            return Err((
                ErrorCode::BadRequest,
                format!(
                    "client_id is longer than {} characters",
                    plenary_protocol::MAX_CLIENT_ID_CHARS
                ),
            ));
        }
        Ok(self.client_ids.get(&person.user.id, client_id))
    }

    fn remember_client_id(
        &mut self,
        person: &Person,
        client_id: Option<String>,
        created: u64,
        out: &mut Vec<Output>,
    ) {
        let Some(client_id) = client_id else {
            return;
        };
        out.push(Output::Persist(Change::ClientId {
            room: self.setup.id.clone(),
            user: person.user.id.clone(),
            client_id: client_id.clone(),
            created,
        }));
        self.client_ids.remember(
            person.user.id.clone(),
            client_id,
            created,
            self.limits.client_ids,
        );
    }

    /// Give an event the next seq, log it and publish it: staff (and `owner`) get `staff`,
    /// everyone else gets what `public` says.
    fn publish(
        &mut self,
        staff: RoomEvent,
        public: Public,
        owner: Option<UserId>,
        out: &mut Vec<Output>,
    ) {
        self.seq += 1;
        let seq = self.seq;
        let frame = |event: RoomEvent| {
            encode(&ServerMessage::Event {
                room: self.setup.id.clone(),
                seq,
                event,
            })
        };
        let staff = frame(staff);
        let public = match public {
            Public::Same => Some(staff.clone()),
            Public::Different(event) => Some(frame(*event)),
            Public::Hidden => None,
        };
        let event = StoredEvent {
            room: self.setup.id.clone(),
            seq,
            public,
            staff,
            owner,
        };
        self.log.push_back(event.clone());
        if self.log.len() > self.limits.history {
            self.log.pop_front();
        }
        out.push(Output::Publish(event));
    }

    /// Once per interval (and whenever a manual clock moves): sessions' phases, and what is
    /// sent at a bounded rate.
    fn tick(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        self.advance_phases(now, out);
        self.send_reminders(now, out);
        self.publish_poll_results(out);
        self.publish_seat_counts(out);
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
