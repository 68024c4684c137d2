//! One room's logic as a plain state machine: [`Room::handle`] takes an [`Input`] and the
//! current time and appends [`Output`]s. No I/O, no clock, no `.await`: the actor in
//! `hub::actor` persists, delivers and replies; tests drive this directly.
//!
//! The room owns its event sequence: every event gets the next `seq`, is kept in a bounded
//! in-memory log for replay, and is rendered once per audience (everyone, staff, the asker).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use jiff::Timestamp;
use plenary_protocol::{
    Author, ChatId, ChatMessage, ErrorCode, ModerateAction, Question, QuestionId, QuestionStatus,
    Ref, RoomEvent, RoomId, RoomSnapshot, ServerMessage, SessionId, UserId,
};

use super::{ConnId, Person, encode};
use crate::programme::rfc3339;
use crate::store::{Change, RoomRecord, StoredEvent};

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
    /// A new programme was imported: these are the sessions the room now holds, with their
    /// moderation flag. Questions already asked stay; new ones need a session listed here.
    /// Sent by the hub, not by a connection, so nobody is answered.
    Sessions { sessions: HashMap<SessionId, bool> },
}

impl Input {
    /// The connection that sent this input; `None` for the hub's own inputs.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Input::Join { caller, .. } | Input::Act { caller, .. } => Some(caller.conn),
            Input::Leave { conn, .. } => Some(*conn),
            Input::Sessions { .. } => None,
        }
    }
}

/// An action in a room by someone who may or may not have joined it.
#[derive(Debug)]
pub enum Action {
    Chat {
        text: String,
    },
    /// `id` is allocated by the hub, unique across rooms.
    Ask {
        id: QuestionId,
        session: SessionId,
        text: String,
        anonymous: bool,
    },
    Vote {
        question: QuestionId,
    },
    Moderate {
        question: QuestionId,
        action: ModerateAction,
    },
    RemoveChat {
        id: ChatId,
    },
}

/// What the actor must do, in order, once the batch's changes are durable.
#[derive(Debug)]
pub enum Output {
    /// Write this with the batch (events are persisted from [`Output::Publish`]).
    Persist(Change),
    /// Send a frame to one connection.
    Reply { conn: ConnId, frame: Bytes },
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
}

/// How much a room keeps in memory.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// Events kept for replay with `since`.
    pub history: usize,
    /// Chat messages in a join snapshot.
    pub chat_history: usize,
}

struct QuestionState {
    /// Always with its author; views hide it where they must.
    question: Question,
    /// Attendees have seen it, so they must also see it rejected.
    ever_public: bool,
    voters: HashSet<UserId>,
}

/// A room's state.
pub struct Room {
    id: RoomId,
    seq: u64,
    limits: RoomLimits,
    /// The newest events, at most `limits.history`, for replay.
    log: VecDeque<StoredEvent>,
    /// Chat messages of the room not removed, newest last, at most `limits.history`.
    chat: VecDeque<ChatMessage>,
    questions: BTreeMap<QuestionId, QuestionState>,
    /// The sessions held in this room, and whether their Q&A is moderated.
    sessions: HashMap<SessionId, bool>,
    members: HashMap<ConnId, Arc<Person>>,
}

/// The person's view of one event.
pub fn view_for<'a>(event: &'a StoredEvent, staff: bool, user: &str) -> Option<&'a Bytes> {
    if staff || event.owner.as_deref() == Some(user) {
        Some(&event.staff)
    } else {
        event.public.as_ref()
    }
}

fn error(conn: ConnId, reference: Option<Ref>, code: ErrorCode, message: &str) -> Output {
    Output::Reply {
        conn,
        frame: encode(&ServerMessage::Error {
            reference,
            code,
            message: message.to_owned(),
        }),
    }
}

fn ack(conn: ConnId, reference: Option<Ref>, id: Option<u64>) -> Output {
    Output::Reply {
        conn,
        frame: encode(&ServerMessage::Ack { reference, id }),
    }
}

/// A text trimmed and checked against its limit.
pub fn checked_text(
    text: &str,
    max_chars: usize,
    what: &str,
) -> Result<String, (ErrorCode, String)> {
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

impl QuestionState {
    /// The question as attendees see it, if they may.
    fn public(&self) -> Option<Question> {
        let visible = match self.question.status {
            QuestionStatus::Approved | QuestionStatus::Answered => true,
            QuestionStatus::Rejected => self.ever_public,
            QuestionStatus::Pending => false,
        };
        visible.then(|| {
            let mut question = self.question.clone();
            if question.anonymous {
                question.author = None;
            }
            question
        })
    }

    fn author_id(&self) -> Option<&str> {
        self.question
            .author
            .as_ref()
            .map(|author| author.id.as_str())
    }

    /// Whether a person sees this question at all (in snapshots, and to vote on it).
    fn visible_to(&self, staff: bool, user: &str) -> bool {
        staff
            || self.author_id() == Some(user)
            || matches!(
                self.question.status,
                QuestionStatus::Approved | QuestionStatus::Answered
            )
    }
}

impl Room {
    /// A room restored from its stored record. `sessions` are the programme's sessions in
    /// this room with their moderation flag.
    pub fn restore(
        id: RoomId,
        record: RoomRecord,
        sessions: HashMap<SessionId, bool>,
        limits: RoomLimits,
    ) -> Room {
        let questions = record
            .questions
            .into_iter()
            .map(|stored| {
                (
                    stored.question.id,
                    QuestionState {
                        question: stored.question,
                        ever_public: stored.ever_public,
                        voters: stored.voters.into_iter().collect(),
                    },
                )
            })
            .collect();
        Room {
            id,
            seq: record.last_seq,
            limits,
            log: record.events.into(),
            chat: record.chat.into(),
            questions,
            sessions,
            members: HashMap::new(),
        }
    }

    /// The room's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The sessions held in this room, with their moderation flag.
    pub fn sessions(&self) -> &HashMap<SessionId, bool> {
        &self.sessions
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
            } => self.join(caller, since, reference, out),
            Input::Leave {
                conn,
                reply,
                reference,
            } => {
                if self.members.remove(&conn).is_some() {
                    out.push(Output::Dismiss { conn });
                }
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
            Input::Sessions { sessions } => self.sessions = sessions,
        }
    }

    fn join(
        &mut self,
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
        let snapshot = replay_from.is_none().then(|| self.snapshot(staff, &user));
        out.push(Output::Reply {
            conn,
            frame: encode(&ServerMessage::Joined {
                reference,
                room: self.id.clone(),
                seq: self.seq,
                snapshot,
                resync,
            }),
        });
        if let Some(since) = replay_from {
            for event in self.log.iter().filter(|event| event.seq > since) {
                if let Some(frame) = view_for(event, staff, &user) {
                    out.push(Output::Reply {
                        conn,
                        frame: frame.clone(),
                    });
                }
            }
        }
        self.members.insert(conn, caller.person);
        out.push(Output::Admit { conn, staff, user });
    }

    fn snapshot(&self, staff: bool, user: &str) -> RoomSnapshot {
        let skip = self.chat.len().saturating_sub(self.limits.chat_history);
        RoomSnapshot {
            chat: self.chat.iter().skip(skip).cloned().collect(),
            questions: self
                .questions
                .values()
                .filter(|state| state.visible_to(staff, user))
                .map(|state| {
                    if staff || state.author_id() == Some(user) {
                        state.question.clone()
                    } else {
                        state.public().unwrap_or_else(|| state.question.clone())
                    }
                })
                .collect(),
            voted: self
                .questions
                .values()
                .filter(|state| state.voters.contains(user))
                .map(|state| state.question.id)
                .collect(),
        }
    }

    fn act(
        &mut self,
        now: Timestamp,
        caller: &Caller,
        reference: &Option<Ref>,
        action: Action,
        out: &mut Vec<Output>,
    ) -> Result<(), (ErrorCode, String)> {
        let person = &caller.person;
        let conn = caller.conn;
        match action {
            Action::Chat { text } => {
                if !self.members.contains_key(&conn) {
                    return Err((ErrorCode::NotJoined, format!("join room {} first", self.id)));
                }
                let text = checked_text(&text, plenary_protocol::MAX_CHAT_CHARS, "chat message")?;
                let id = self.seq + 1;
                let message = ChatMessage {
                    id,
                    text,
                    author: Author {
                        id: person.user.id.clone(),
                        name: person.user.name.clone(),
                    },
                    at: rfc3339(now),
                };
                out.push(Output::Persist(Change::Chat {
                    room: self.id.clone(),
                    message: message.clone(),
                }));
                self.chat.push_back(message.clone());
                if self.chat.len() > self.limits.history {
                    self.chat.pop_front();
                }
                self.publish(RoomEvent::Chat(message), Public::Same, None, out);
                out.push(ack(conn, reference.clone(), Some(id)));
            }
            Action::RemoveChat { id } => {
                if !person.may_moderate(&self.id) {
                    return Err((ErrorCode::Forbidden, "only moderators remove chat".into()));
                }
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
                    room: self.id.clone(),
                    id,
                }));
                self.publish(RoomEvent::ChatRemoved { id }, Public::Same, None, out);
                out.push(ack(conn, reference.clone(), Some(id)));
            }
            Action::Ask {
                id,
                session,
                text,
                anonymous,
            } => {
                let moderated = *self
                    .sessions
                    .get(&session)
                    .ok_or_else(|| (ErrorCode::NotFound, format!("no session {session}")))?;
                let text = checked_text(&text, plenary_protocol::MAX_QUESTION_CHARS, "question")?;
                let status = if moderated {
                    QuestionStatus::Pending
                } else {
                    QuestionStatus::Approved
                };
                let state = QuestionState {
                    question: Question {
                        id,
                        session,
                        text,
                        author: Some(Author {
                            id: person.user.id.clone(),
                            name: person.user.name.clone(),
                        }),
                        anonymous,
                        votes: 0,
                        status,
                        pinned: false,
                        at: rfc3339(now),
                    },
                    ever_public: !moderated,
                    voters: HashSet::new(),
                };
                self.questions.insert(id, state);
                self.question_changed(id, out);
                out.push(ack(conn, reference.clone(), Some(id)));
            }
            Action::Vote { question } => {
                let user = &person.user.id;
                let state = self
                    .questions
                    .get_mut(&question)
                    .filter(|state| state.visible_to(person.user.role.is_staff(), user))
                    .ok_or_else(|| (ErrorCode::NotFound, format!("no question {question}")))?;
                if state.voters.insert(user.clone()) {
                    state.question.votes += 1;
                    out.push(Output::Persist(Change::Vote {
                        question,
                        user: user.clone(),
                    }));
                    self.question_changed(question, out);
                }
                out.push(ack(conn, reference.clone(), Some(question)));
            }
            Action::Moderate { question, action } => {
                if !person.may_moderate(&self.id) {
                    return Err((
                        ErrorCode::Forbidden,
                        "only moderators curate questions".into(),
                    ));
                }
                let state = self
                    .questions
                    .get_mut(&question)
                    .ok_or_else(|| (ErrorCode::NotFound, format!("no question {question}")))?;
                let before = (state.question.status, state.question.pinned);
                match action {
                    ModerateAction::Approve => state.question.status = QuestionStatus::Approved,
                    ModerateAction::Reject => {
                        state.question.status = QuestionStatus::Rejected;
                        state.question.pinned = false;
                    }
                    ModerateAction::Answered => state.question.status = QuestionStatus::Answered,
                    ModerateAction::Pin => state.question.pinned = true,
                    ModerateAction::Unpin => state.question.pinned = false,
                }
                if state.question.pinned && state.question.status == QuestionStatus::Pending {
                    // A pinned question is shown to everyone, so pinning approves it.
                    state.question.status = QuestionStatus::Approved;
                }
                if (state.question.status, state.question.pinned) != before {
                    if state.public().is_some() {
                        state.ever_public = true;
                    }
                    let session = state.question.session.clone();
                    let pinned = state.question.pinned;
                    if pinned {
                        self.unpin_others(&session, question, out);
                    }
                    self.question_changed(question, out);
                }
                out.push(ack(conn, reference.clone(), Some(question)));
            }
        }
        Ok(())
    }

    /// One pinned question per session: pinning one unpins the others.
    fn unpin_others(&mut self, session: &str, keep: QuestionId, out: &mut Vec<Output>) {
        let others: Vec<QuestionId> = self
            .questions
            .values_mut()
            .filter(|state| {
                state.question.pinned
                    && state.question.session == session
                    && state.question.id != keep
            })
            .map(|state| {
                state.question.pinned = false;
                state.question.id
            })
            .collect();
        for id in others {
            self.question_changed(id, out);
        }
    }

    /// Persist a question's new state and publish it to those who may see it.
    fn question_changed(&mut self, id: QuestionId, out: &mut Vec<Output>) {
        let Some(state) = self.questions.get(&id) else {
            return;
        };
        out.push(Output::Persist(Change::Question {
            room: self.id.clone(),
            question: state.question.clone(),
            ever_public: state.ever_public,
        }));
        let public = match state.public() {
            Some(question) if question == state.question => Public::Same,
            Some(question) => Public::Different(RoomEvent::Question(question)),
            None => Public::Hidden,
        };
        let staff = RoomEvent::Question(state.question.clone());
        let owner = state.author_id().map(str::to_owned);
        self.publish(staff, public, owner, out);
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
                room: self.id.clone(),
                seq,
                event,
            })
        };
        let staff = frame(staff);
        let public = match public {
            Public::Same => Some(staff.clone()),
            Public::Different(event) => Some(frame(event)),
            Public::Hidden => None,
        };
        let event = StoredEvent {
            room: self.id.clone(),
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
}

/// What attendees see of an event.
enum Public {
    /// The same as staff.
    Same,
    /// Another rendering (an anonymous question without its author).
    Different(RoomEvent),
    /// Nothing (a question waiting for approval).
    Hidden,
}

#[cfg(test)]
mod tests {
    use plenary_protocol::{Role, User};
    use serde_json::Value;

    use super::*;

    fn person(id: &str, role: Role) -> Caller {
        Caller {
            conn: id.len() as u64 * 1000 + u64::from(id.as_bytes()[0]),
            person: Arc::new(Person {
                user: User {
                    id: id.into(),
                    name: id.into(),
                    role,
                },
                rooms: None,
            }),
        }
    }

    fn room(history: usize) -> Room {
        let sessions = HashMap::from([("talk".to_owned(), true), ("open".to_owned(), false)]);
        Room::restore(
            "stage".into(),
            RoomRecord::default(),
            sessions,
            RoomLimits {
                history,
                chat_history: 10,
            },
        )
    }

    fn now() -> Timestamp {
        "2026-11-28T10:00:00Z".parse().expect("valid instant")
    }

    fn replies(out: &[Output], conn: ConnId) -> Vec<Value> {
        out.iter()
            .filter_map(|output| match output {
                Output::Reply { conn: to, frame } if *to == conn => {
                    Some(serde_json::from_slice(frame).expect("frames are JSON"))
                }
                _ => None,
            })
            .collect()
    }

    fn act(room: &mut Room, caller: &Caller, action: Action) -> Vec<Output> {
        let mut out = Vec::new();
        room.handle(
            now(),
            Input::Act {
                caller: caller.clone(),
                reference: None,
                action,
            },
            &mut out,
        );
        out
    }

    fn join(room: &mut Room, caller: &Caller, since: Option<u64>) -> Vec<Value> {
        let mut out = Vec::new();
        room.handle(
            now(),
            Input::Join {
                caller: caller.clone(),
                since,
                reference: None,
            },
            &mut out,
        );
        replies(&out, caller.conn)
    }

    #[test]
    fn a_resume_older_than_the_kept_history_gets_a_snapshot_flagged_resync() {
        let mut room = room(3);
        let ada = person("ada", Role::Attendee);
        join(&mut room, &ada, None);
        for n in 0..5 {
            act(
                &mut room,
                &ada,
                Action::Chat {
                    text: format!("m{n}"),
                },
            );
        }
        // Events 3..=5 are kept: since=2 can be replayed exactly, since=1 cannot.
        let replay = join(&mut room, &ada, Some(2));
        assert_eq!(replay[0]["resync"], Value::Null);
        let seqs: Vec<_> = replay[1..]
            .iter()
            .map(|event| event["seq"].clone())
            .collect();
        assert_eq!(seqs, [3, 4, 5]);
        let resync = join(&mut room, &ada, Some(1));
        assert_eq!(resync.len(), 1);
        assert_eq!(resync[0]["resync"], true);
        let chat: Vec<_> = resync[0]["snapshot"]["chat"]
            .as_array()
            .expect("a snapshot has chat")
            .iter()
            .map(|message| message["text"].clone())
            .collect();
        assert_eq!(
            chat,
            ["m2", "m3", "m4"],
            "the newest messages the room keeps"
        );
    }

    #[test]
    fn pinning_a_question_unpins_the_other_one_of_its_session() {
        let mut room = room(100);
        let ada = person("ada", Role::Attendee);
        let mo = person("mo", Role::Moderator);
        for id in [1, 2] {
            let ask = Action::Ask {
                id,
                session: "open".into(),
                text: format!("q{id}"),
                anonymous: false,
            };
            act(&mut room, &ada, ask);
        }
        let pin = |question| Action::Moderate {
            question,
            action: ModerateAction::Pin,
        };
        act(&mut room, &mo, pin(1));
        let out = act(&mut room, &mo, pin(2));
        let pinned: Vec<(u64, bool)> = out
            .iter()
            .filter_map(|output| match output {
                Output::Persist(Change::Question { question, .. }) => {
                    Some((question.id, question.pinned))
                }
                _ => None,
            })
            .collect();
        assert_eq!(pinned, [(1, false), (2, true)]);
    }

    #[test]
    fn refused_actions_change_nothing_and_publish_nothing() {
        let mut room = room(100);
        let ada = person("ada", Role::Attendee);
        let ask = Action::Ask {
            id: 1,
            session: "talk".into(),
            text: "pending one".into(),
            anonymous: false,
        };
        act(&mut room, &ada, ask);
        let seq = room.seq;
        let eve = person("eve", Role::Attendee);
        let refused = [
            act(
                &mut room,
                &eve,
                Action::Chat {
                    text: "not joined".into(),
                },
            ),
            act(&mut room, &eve, Action::Vote { question: 1 }),
            act(
                &mut room,
                &eve,
                Action::Moderate {
                    question: 1,
                    action: ModerateAction::Approve,
                },
            ),
            act(&mut room, &eve, Action::RemoveChat { id: 1 }),
        ];
        for out in refused {
            assert_eq!(out.len(), 1, "only an error: {out:?}");
            assert_eq!(replies(&out, eve.conn)[0]["type"], "error");
        }
        assert_eq!(room.seq, seq);
    }
}
