//! The room's sessions on the clock: scheduled → open (doors) → live → ended. Each tick the
//! room compares the time with each session's (possibly overridden) start and end and
//! announces every step it has not announced yet, in order, so a room that was down or a
//! clock that jumped catches up without skipping or repeating a step. Ending closes the
//! session's Q&A.

use jiff::{SignedDuration, Timestamp};
use plenary_protocol::{ErrorCode, Role, RoomEvent, SessionControl, SessionId, SessionPhase};

use super::{Output, Public, Refusal, Room};
use crate::hub::person::Person;
use crate::store::Change;

/// The longest a host may extend a session in one go.
const MAX_EXTEND_MINUTES: u32 = 240;

/// A host's changes to a session's planned times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Override {
    pub started: Option<Timestamp>,
    pub ended: Option<Timestamp>,
}

fn next(phase: SessionPhase) -> Option<SessionPhase> {
    match phase {
        SessionPhase::Scheduled => Some(SessionPhase::Open),
        SessionPhase::Open => Some(SessionPhase::Live),
        SessionPhase::Live => Some(SessionPhase::Ended),
        SessionPhase::Ended => None,
    }
}

impl Room {
    /// When a session starts and ends: as planned, or as a host changed it.
    pub(super) fn times_of(&self, session: &str) -> Option<(Timestamp, Timestamp)> {
        let planned = self.setup.sessions.get(session)?;
        let changed = self.overrides.get(session).copied().unwrap_or_default();
        Some((
            changed.started.unwrap_or(planned.start),
            changed.ended.unwrap_or(planned.end),
        ))
    }

    /// Where a session should be at `now`.
    fn phase_at(&self, session: &str, now: Timestamp) -> SessionPhase {
        let Some((start, end)) = self.times_of(session) else {
            return SessionPhase::Scheduled;
        };
        if now >= end {
            SessionPhase::Ended
        } else if now >= start {
            SessionPhase::Live
        } else if now >= start - self.limits.doors {
            SessionPhase::Open
        } else {
            SessionPhase::Scheduled
        }
    }

    /// The phase last announced for a session.
    pub(super) fn phase_of(&self, session: &str) -> SessionPhase {
        self.phases
            .get(session)
            .copied()
            .unwrap_or(SessionPhase::Scheduled)
    }

    /// Announce every step each session has taken since the last call, in order.
    pub(super) fn advance_phases(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        let mut sessions: Vec<(Timestamp, SessionId)> = self
            .setup
            .sessions
            .iter()
            .map(|(id, planned)| (planned.start, id.clone()))
            .collect();
        sessions.sort();
        for (_, session) in sessions {
            let target = self.phase_at(&session, now);
            while self.phase_of(&session) < target {
                let Some(phase) = next(self.phase_of(&session)) else {
                    break;
                };
                self.phases.insert(session.clone(), phase);
                out.push(Output::Persist(Change::SessionPhase {
                    session: session.clone(),
                    phase,
                }));
                let event = RoomEvent::SessionPhase {
                    session: session.clone(),
                    phase,
                };
                self.publish(event, Public::Same, None, out);
                if phase == SessionPhase::Ended {
                    self.close_qa_at_end(&session, out);
                }
            }
        }
    }

    /// A session's Q&A closes when it ends.
    fn close_qa_at_end(&mut self, session: &str, out: &mut Vec<Output>) {
        if !self.qa_closed.insert(session.to_owned()) {
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
        self.publish(event, Public::Same, None, out);
    }

    /// A host or organiser starts a session early, ends it, or lets it run longer.
    pub(super) fn control_session(
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
        let planned = *self
            .setup
            .sessions
            .get(&session)
            .ok_or_else(|| (ErrorCode::NotFound, format!("no session {session} here")))?;
        let phase = self.phase_of(&session);
        if phase == SessionPhase::Ended {
            return Err((ErrorCode::Conflict, "this session has ended".into()));
        }
        let mut changed = self.overrides.get(&session).copied().unwrap_or_default();
        match action {
            SessionControl::Start => {
                if phase == SessionPhase::Live {
                    return Err((ErrorCode::Conflict, "this session is live already".into()));
                }
                changed.started = Some(now);
                // Started early, it must not end before it began.
                if changed.ended.unwrap_or(planned.end) <= now {
                    changed.ended = Some(now + (planned.end - planned.start));
                }
            }
            SessionControl::End => changed.ended = Some(now),
            SessionControl::Extend => {
                let minutes = minutes
                    .filter(|minutes| (1..=MAX_EXTEND_MINUTES).contains(minutes))
                    .ok_or_else(|| {
                        (
                            ErrorCode::BadRequest,
                            format!("extend needs `minutes`, 1 to {MAX_EXTEND_MINUTES}"),
                        )
                    })?;
                let end = changed.ended.unwrap_or(planned.end).max(now);
                changed.ended = Some(end + SignedDuration::from_mins(i64::from(minutes)));
            }
        }
        out.push(Output::Persist(Change::SessionOverride {
            session: session.clone(),
            started_ms: changed.started.map(Timestamp::as_millisecond),
            ended_ms: changed.ended.map(Timestamp::as_millisecond),
        }));
        self.overrides.insert(session, changed);
        self.advance_phases(now, out);
        Ok(())
    }
}
