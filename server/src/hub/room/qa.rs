//! Q&A in a room: questions to its sessions, votes, moderation, the moderation log, and
//! opening and closing a session's Q&A.

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use plenary_protocol::{
    ErrorCode, MAX_QUESTION_CHARS, ModerateAction, ModerationEntry, Question, QuestionId,
    QuestionStatus, RoomEvent, SessionId, UserId,
};

use super::common::{Output, Public, Refusal, author, checked_text};
use super::log::EventLog;
use super::setup::SessionPlan;
use crate::hub::person::Person;
use crate::programme::rfc3339;
use crate::store::{Change, StoredQuestion};

/// The Q&A of a room's sessions.
pub(super) struct Qa {
    questions: BTreeMap<QuestionId, QuestionState>,
    /// Sessions of this room whose Q&A is closed.
    closed: HashSet<SessionId>,
    /// Moderation log entries per session, oldest first.
    log: HashMap<SessionId, Vec<ModerationEntry>>,
}

/// A question and what only the server knows of it.
struct QuestionState {
    /// Always with its author; views hide it where they must.
    question: Question,
    /// Attendees have seen it, so they must also see it rejected or merged.
    ever_public: bool,
    voters: HashSet<UserId>,
}

impl From<StoredQuestion> for QuestionState {
    fn from(stored: StoredQuestion) -> QuestionState {
        QuestionState {
            question: stored.question,
            ever_public: stored.ever_public,
            voters: stored.voters.into_iter().collect(),
        }
    }
}

fn shown_to_all(status: QuestionStatus) -> bool {
    matches!(status, QuestionStatus::Approved | QuestionStatus::Answered)
}

impl QuestionState {
    /// The question as attendees see it, if they may.
    fn public(&self) -> Option<Question> {
        let visible = shown_to_all(self.question.status)
            || (self.ever_public
                && matches!(
                    self.question.status,
                    QuestionStatus::Rejected | QuestionStatus::Merged
                ));
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
        staff || self.author_id() == Some(user) || shown_to_all(self.question.status)
    }
}

impl Qa {
    /// The Q&A as stored: questions, closed sessions and the moderation log, oldest first.
    pub(super) fn restore(
        questions: Vec<StoredQuestion>,
        closed: Vec<SessionId>,
        entries: Vec<(SessionId, ModerationEntry)>,
    ) -> Qa {
        let mut log: HashMap<SessionId, Vec<_>> = HashMap::new();
        for (session, entry) in entries {
            log.entry(session).or_default().push(entry);
        }
        Qa {
            questions: questions
                .into_iter()
                .map(|stored| (stored.question.id, QuestionState::from(stored)))
                .collect(),
            closed: closed.into_iter().collect(),
            log,
        }
    }

    /// Forget that the sessions this room no longer holds are closed. Their questions stay.
    pub(super) fn retain_closed(&mut self, here: impl Fn(&str) -> bool) {
        self.closed.retain(|session| here(session));
    }

    /// The sessions whose Q&A is closed.
    pub(super) fn closed(&self) -> Vec<SessionId> {
        self.closed.iter().cloned().collect()
    }

    /// The questions a person may see, as they may see them.
    pub(super) fn visible_questions(&self, staff: bool, user: &str) -> Vec<Question> {
        self.questions
            .values()
            .filter(|state| state.visible_to(staff, user))
            .map(|state| {
                if staff || state.author_id() == Some(user) {
                    state.question.clone()
                } else {
                    state.public().unwrap_or_else(|| state.question.clone())
                }
            })
            .collect()
    }

    /// The questions a person voted for.
    pub(super) fn voted(&self, user: &str) -> Vec<QuestionId> {
        self.questions
            .values()
            .filter(|state| state.voters.contains(user))
            .map(|state| state.question.id)
            .collect()
    }

    /// Ask a question to one of `sessions`, the room's.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ask(
        &mut self,
        now: Timestamp,
        person: &Person,
        id: QuestionId,
        session: SessionId,
        text: String,
        anonymous: bool,
        sessions: &HashMap<SessionId, SessionPlan>,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let moderated = sessions
            .get(&session)
            .ok_or_else(|| (ErrorCode::NotFound, format!("no session {session}")))?
            .moderated;
        if self.closed.contains(&session) {
            return Err((
                ErrorCode::QaClosed,
                "questions for this session are closed".into(),
            ));
        }
        let text = checked_text(&text, MAX_QUESTION_CHARS, "question")?;
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
                author: Some(author(person)),
                anonymous,
                votes: 0,
                status,
                pinned: false,
                at: rfc3339(now),
                edited: false,
                merged_into: None,
            },
            ever_public: !moderated,
            voters: HashSet::new(),
        };
        self.questions.insert(id, state);
        self.question_changed(id, events, out);
        Ok(())
    }

    /// Vote (`up`) or withdraw one's vote; either twice changes nothing.
    pub(super) fn vote(
        &mut self,
        person: &Person,
        question: QuestionId,
        up: bool,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let user = &person.user.id;
        let state = self
            .questions
            .get_mut(&question)
            .filter(|state| state.visible_to(person.user.role.is_staff(), user))
            .ok_or_else(|| (ErrorCode::NotFound, format!("no question {question}")))?;
        if up && state.author_id() == Some(user.as_str()) {
            return Err((
                ErrorCode::OwnQuestion,
                "you cannot upvote your own question".into(),
            ));
        }
        let changed = if up {
            state.voters.insert(user.clone())
        } else {
            state.voters.remove(user)
        };
        if changed {
            state.question.votes = u32::try_from(state.voters.len()).unwrap_or(u32::MAX);
            out.push(Output::Persist(if up {
                Change::Vote {
                    question,
                    user: user.clone(),
                }
            } else {
                Change::Unvote {
                    question,
                    user: user.clone(),
                }
            }));
            self.question_changed(question, events, out);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn moderate(
        &mut self,
        now: Timestamp,
        person: &Person,
        question: QuestionId,
        action: ModerateAction,
        text: Option<String>,
        into: Option<QuestionId>,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let before = self
            .questions
            .get(&question)
            .ok_or_else(|| (ErrorCode::NotFound, format!("no question {question}")))?
            .question
            .clone();
        let mut detail = String::new();
        let changed = match action {
            ModerateAction::Merge => {
                let into = into.ok_or_else(|| {
                    (
                        ErrorCode::BadRequest,
                        "merge needs `into`, the question to keep".into(),
                    )
                })?;
                self.merge(question, into, events, out)?;
                detail = format!("into {into}");
                true
            }
            ModerateAction::Approve | ModerateAction::Restore => {
                self.edit(question, &before, events, out, |edited| {
                    edited.status = QuestionStatus::Approved;
                })
            }
            ModerateAction::Reject => self.edit(question, &before, events, out, |edited| {
                edited.status = QuestionStatus::Rejected;
                edited.pinned = false;
            }),
            ModerateAction::Answered => self.edit(question, &before, events, out, |edited| {
                edited.status = QuestionStatus::Answered;
            }),
            ModerateAction::Pin => self.edit(question, &before, events, out, |edited| {
                edited.pinned = true;
                if edited.status == QuestionStatus::Pending {
                    // A pinned question is shown to everyone, so pinning approves it.
                    edited.status = QuestionStatus::Approved;
                }
            }),
            ModerateAction::Unpin => self.edit(question, &before, events, out, |edited| {
                edited.pinned = false;
            }),
            ModerateAction::Edit => {
                let text = text
                    .ok_or_else(|| (ErrorCode::BadRequest, "edit needs the new `text`".into()))?;
                let text = checked_text(&text, MAX_QUESTION_CHARS, "question")?;
                if text != before.text {
                    detail = format!("was: {}", before.text);
                }
                self.edit(question, &before, events, out, |edited| {
                    if text != edited.text {
                        edited.text = text;
                        edited.edited = true;
                    }
                })
            }
        };
        if !changed {
            return Ok(());
        }
        self.log_moderation(
            now,
            person,
            &before.session,
            action.as_str(),
            Some(question),
            detail,
            events,
            out,
        );
        Ok(())
    }

    /// Apply a moderator's change to a question that was `before`; if it changed anything,
    /// publish it (and unpin the session's other question if this one is now pinned).
    /// Returns whether it changed anything.
    fn edit(
        &mut self,
        question: QuestionId,
        before: &Question,
        events: &mut EventLog,
        out: &mut Vec<Output>,
        change: impl FnOnce(&mut Question),
    ) -> bool {
        let Some(state) = self.questions.get_mut(&question) else {
            return false;
        };
        change(&mut state.question);
        if state.question == *before {
            return false;
        }
        if state.public().is_some() {
            state.ever_public = true;
        }
        if state.question.pinned && !before.pinned {
            self.unpin_others(&before.session, question, events, out);
        }
        self.question_changed(question, events, out);
        true
    }

    /// Fold `duplicate` into `keep`: its voters join the kept question's (each person once,
    /// and never its author, who may not upvote it), and it becomes `merged`.
    fn merge(
        &mut self,
        duplicate: QuestionId,
        keep: QuestionId,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let same_session = self
            .questions
            .get(&keep)
            .zip(self.questions.get(&duplicate))
            .is_some_and(|(kept, dup)| kept.question.session == dup.question.session);
        if duplicate == keep || !same_session {
            return Err((
                ErrorCode::BadRequest,
                format!("question {keep} is not another question of the same session"),
            ));
        }
        let Some(dup) = self.questions.get_mut(&duplicate) else {
            return Err((ErrorCode::NotFound, format!("no question {duplicate}")));
        };
        dup.question.status = QuestionStatus::Merged;
        dup.question.merged_into = Some(keep);
        dup.question.pinned = false;
        let voters: Vec<UserId> = dup.voters.iter().cloned().collect();
        let Some(kept) = self.questions.get_mut(&keep) else {
            return Err((ErrorCode::NotFound, format!("no question {keep}")));
        };
        for user in voters {
            if kept.author_id() != Some(user.as_str()) && kept.voters.insert(user.clone()) {
                out.push(Output::Persist(Change::Vote {
                    question: keep,
                    user,
                }));
            }
        }
        kept.question.votes = u32::try_from(kept.voters.len()).unwrap_or(u32::MAX);
        self.question_changed(duplicate, events, out);
        self.question_changed(keep, events, out);
        Ok(())
    }

    /// Open or close the Q&A of `session`, one of the room's.
    pub(super) fn set_open(
        &mut self,
        now: Timestamp,
        person: &Person,
        session: SessionId,
        open: bool,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) {
        let changed = if open {
            self.closed.remove(&session)
        } else {
            self.closed.insert(session.clone())
        };
        if !changed {
            return;
        }
        out.push(Output::Persist(Change::QaClosed {
            session: session.clone(),
            closed: !open,
        }));
        let action = if open { "qa_open" } else { "qa_close" };
        self.log_moderation(
            now,
            person,
            &session,
            action,
            None,
            String::new(),
            events,
            out,
        );
        events.publish(
            RoomEvent::QaState { session, open },
            Public::Same,
            None,
            out,
        );
    }

    /// A session's Q&A closes when it ends.
    pub(super) fn close_at_end(
        &mut self,
        session: &str,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) {
        if !self.closed.insert(session.to_owned()) {
            return;
        }
        out.push(Output::Persist(Change::QaClosed {
            session: session.to_owned(),
            closed: true,
        }));
        let event = RoomEvent::QaState {
            session: session.to_owned(),
            open: false,
        };
        events.publish(event, Public::Same, None, out);
    }

    /// The moderation log of `session`, one of the room's, oldest first.
    pub(super) fn log_of(&self, session: &str) -> Vec<ModerationEntry> {
        self.log.get(session).cloned().unwrap_or_default()
    }

    #[allow(clippy::too_many_arguments)]
    fn log_moderation(
        &mut self,
        now: Timestamp,
        person: &Person,
        session: &str,
        action: &str,
        question: Option<QuestionId>,
        detail: String,
        events: &EventLog,
        out: &mut Vec<Output>,
    ) {
        let entry = ModerationEntry {
            at: rfc3339(now),
            by: author(person),
            action: action.to_owned(),
            question,
            detail,
        };
        out.push(Output::Persist(Change::ModerationEntry {
            room: events.room().clone(),
            session: session.to_owned(),
            entry: entry.clone(),
        }));
        self.log.entry(session.to_owned()).or_default().push(entry);
    }

    /// One pinned question per session: pinning one unpins the others.
    fn unpin_others(
        &mut self,
        session: &str,
        keep: QuestionId,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) {
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
            self.question_changed(id, events, out);
        }
    }

    /// Persist a question's new state and publish it to those who may see it.
    fn question_changed(&mut self, id: QuestionId, events: &mut EventLog, out: &mut Vec<Output>) {
        let Some(state) = self.questions.get(&id) else {
            return;
        };
        out.push(Output::Persist(Change::Question {
            room: events.room().clone(),
            question: state.question.clone(),
            ever_public: state.ever_public,
        }));
        let public = match state.public() {
            Some(question) if question == state.question => Public::Same,
            Some(question) => Public::Different(Box::new(RoomEvent::Question(question))),
            None => Public::Hidden,
        };
        let staff = RoomEvent::Question(state.question.clone());
        let owner = state.author_id().map(str::to_owned);
        events.publish(staff, public, owner, out);
    }
}
