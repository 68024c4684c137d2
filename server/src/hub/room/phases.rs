//! The room's sessions on the clock: scheduled → open (doors) → live → ended. Each tick the
//! room compares the time with each session's (possibly overridden) start and end and
//! announces every step it has not announced yet, in order, so a room that was down or a
//! clock that jumped catches up without skipping or repeating a step. Ending closes the
//! session's Q&A.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use plenary_protocol::{ErrorCode, RoomEvent, SessionControl, SessionId, SessionPhase};

use super::common::{Output, Public, Refusal};
use super::log::EventLog;
use super::qa::Qa;
use super::setup::SessionPlan;
use crate::store::Change;

/// The longest a host may extend a session in one go.
const MAX_EXTEND_MINUTES: u32 = 240;

/// A host's changes to a session's planned times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Override {
    started: Option<Timestamp>,
    ended: Option<Timestamp>,
}

/// Where the room's sessions are on the clock, and how hosts moved them.
pub(super) struct Phases {
    /// The phase last announced for each session (absent: scheduled).
    phases: HashMap<SessionId, SessionPhase>,
    /// Hosts' changes to sessions' planned times.
    overrides: HashMap<SessionId, Override>,
    /// How long before its start a session's doors open (`RoomLimits::doors`).
    doors: SignedDuration,
}

fn next(phase: SessionPhase) -> Option<SessionPhase> {
    match phase {
        SessionPhase::Scheduled => Some(SessionPhase::Open),
        SessionPhase::Open => Some(SessionPhase::Live),
        SessionPhase::Live => Some(SessionPhase::Ended),
        SessionPhase::Ended => None,
    }
}

impl Phases {
    /// The phases last announced and the hosts' changes (session, started, ended in Unix
    /// milliseconds), as stored.
    pub(super) fn restore(
        phases: Vec<(SessionId, SessionPhase)>,
        overrides: Vec<(SessionId, Option<i64>, Option<i64>)>,
        doors: SignedDuration,
    ) -> Phases {
        Phases {
            phases: phases.into_iter().collect(),
            overrides: overrides
                .into_iter()
                .map(|(session, started_ms, ended_ms)| {
                    let at =
                        |ms: Option<i64>| ms.and_then(|ms| Timestamp::from_millisecond(ms).ok());
                    let changed = Override {
                        started: at(started_ms),
                        ended: at(ended_ms),
                    };
                    (session, changed)
                })
                .collect(),
            doors,
        }
    }

    /// When a session of `sessions` starts and ends: as planned, or as a host changed it.
    pub(super) fn times_of(
        &self,
        sessions: &HashMap<SessionId, SessionPlan>,
        session: &str,
    ) -> Option<(Timestamp, Timestamp)> {
        let planned = sessions.get(session)?;
        let changed = self.overrides.get(session).copied().unwrap_or_default();
        Some((
            changed.started.unwrap_or(planned.start),
            changed.ended.unwrap_or(planned.end),
        ))
    }

    /// Where a session should be at `now`.
    fn phase_at(
        &self,
        sessions: &HashMap<SessionId, SessionPlan>,
        session: &str,
        now: Timestamp,
    ) -> SessionPhase {
        let Some((start, end)) = self.times_of(sessions, session) else {
            return SessionPhase::Scheduled;
        };
        if now >= end {
            SessionPhase::Ended
        } else if now >= start {
            SessionPhase::Live
        } else if now >= start - self.doors {
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

    /// Announce every step each of `sessions` has taken since the last call, in order; the
    /// Q&A of those that end closes.
    pub(super) fn advance(
        &mut self,
        now: Timestamp,
        sessions: &HashMap<SessionId, SessionPlan>,
        qa: &mut Qa,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) {
        let mut ordered: Vec<(Timestamp, SessionId)> = sessions
            .iter()
            .map(|(id, planned)| (planned.start, id.clone()))
            .collect();
        ordered.sort();
        for (_, session) in ordered {
            let target = self.phase_at(sessions, &session, now);
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
                events.publish(event, Public::Same, None, out);
                if phase == SessionPhase::Ended {
                    qa.close_at_end(&session, events, out);
                }
            }
        }
    }

    /// A host or organiser starts a session (`planned` so) early, ends it, or lets it run
    /// longer. The room then advances the phases.
    pub(super) fn control(
        &mut self,
        now: Timestamp,
        session: SessionId,
        planned: SessionPlan,
        action: SessionControl,
        minutes: Option<u32>,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
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
        Ok(())
    }
}
