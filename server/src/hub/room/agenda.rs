//! Bookmarks ("my agenda") of the room's sessions, and their reminders. A person bookmarks a
//! session through the room that holds it; on each tick the room reminds everyone who
//! bookmarked a session that has not started yet once its start is `RoomLimits::reminder`
//! away, over every connection they have open (`Output::ToPeople`), serialised once.
//!
//! Each reminder sent is stored with the batch that sent it, so a person is reminded of a
//! session once, however the clock jumps and however often the server restarts. A session
//! whose reminder time passed while the server was down, and that has started since, is not
//! reminded: its `session_phase` tells the room's occupants instead. Someone who bookmarks
//! a session less than `reminder` before its start is reminded at the next tick.

use std::collections::{HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};
use plenary_protocol::{ServerMessage, SessionId, SessionPhase, UserId};

use super::common::Output;
use super::phases::Phases;
use super::setup::SessionPlan;
use crate::hub::frame::encode;
use crate::store::Change;

/// Who bookmarked which session of the room, and whom its reminder reached.
#[derive(Debug, Default)]
pub(super) struct Agenda {
    bookmarks: HashMap<SessionId, HashSet<UserId>>,
    /// Reminders sent: never a second one to the same person for the same session.
    reminded: HashMap<SessionId, HashSet<UserId>>,
}

/// Add pairs of (session, person) as the store lists them.
fn add_pairs(to: &mut HashMap<SessionId, HashSet<UserId>>, pairs: Vec<(SessionId, UserId)>) {
    for (session, user) in pairs {
        to.entry(session).or_default().insert(user);
    }
}

impl Agenda {
    /// Take in stored bookmarks and reminders already sent, as (session, person): all of the
    /// room's when it starts, or those of sessions that moved into it.
    pub(super) fn absorb(
        &mut self,
        bookmarks: Vec<(SessionId, UserId)>,
        reminded: Vec<(SessionId, UserId)>,
    ) {
        add_pairs(&mut self.bookmarks, bookmarks);
        add_pairs(&mut self.reminded, reminded);
    }

    /// Forget the sessions this room no longer holds (their new room reminds).
    pub(super) fn retain(&mut self, here: impl Fn(&str) -> bool) {
        self.bookmarks.retain(|session, _| here(session));
        self.reminded.retain(|session, _| here(session));
    }

    /// Bookmark a session of this room for `user` (`on`) or take the bookmark off. Doing it
    /// twice changes nothing and stores nothing.
    pub(super) fn bookmark(
        &mut self,
        user: &UserId,
        session: SessionId,
        on: bool,
        out: &mut Vec<Output>,
    ) {
        let changed = if on {
            self.bookmarks
                .entry(session.clone())
                .or_default()
                .insert(user.clone())
        } else {
            self.bookmarks
                .get_mut(&session)
                .is_some_and(|people| people.remove(user))
        };
        if changed {
            out.push(Output::Persist(Change::Bookmark {
                user: user.clone(),
                session,
                on,
            }));
        }
    }

    /// Remind everyone due a reminder: their session of `room` (one of `sessions`, on the
    /// clock as `phases` say) has not started and starts within `reminder`, and they have
    /// not been reminded of it before.
    pub(super) fn send_reminders(
        &mut self,
        now: Timestamp,
        room: &str,
        reminder: SignedDuration,
        sessions: &HashMap<SessionId, SessionPlan>,
        phases: &Phases,
        out: &mut Vec<Output>,
    ) {
        let mut due_sessions: Vec<(Timestamp, SessionId)> = self
            .bookmarks
            .iter()
            .filter(|(_, people)| !people.is_empty())
            .filter(|(session, _)| phases.phase_of(session) < SessionPhase::Live)
            .filter_map(|(session, _)| {
                let (start, _) = phases.times_of(sessions, session)?;
                (now >= start - reminder && now < start).then(|| (start, session.clone()))
            })
            .collect();
        due_sessions.sort();
        for (start, session) in due_sessions {
            let reminded = self.reminded.entry(session.clone()).or_default();
            let mut due: Vec<UserId> = self
                .bookmarks
                .get(&session)
                .into_iter()
                .flatten()
                .filter(|user| !reminded.contains(*user))
                .cloned()
                .collect();
            if due.is_empty() {
                continue;
            }
            due.sort();
            for user in &due {
                reminded.insert(user.clone());
                out.push(Output::Persist(Change::Reminded {
                    session: session.clone(),
                    user: user.clone(),
                }));
            }
            let frame = encode(&ServerMessage::Reminder {
                session,
                room: room.to_owned(),
                start: crate::programme::rfc3339(start),
                minutes: minutes_until(now, start),
            });
            out.push(Output::ToPeople { users: due, frame });
        }
    }
}

/// Whole minutes from `now` to `start`, rounded up.
fn minutes_until(now: Timestamp, start: Timestamp) -> u32 {
    let seconds = start.duration_since(now).as_secs().max(0);
    u32::try_from((seconds + 59) / 60).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_until_the_start_round_up() {
        let start: Timestamp = "2026-11-28T12:00:00Z".parse().expect("instant");
        let at = |text: &str| text.parse::<Timestamp>().expect("instant");
        assert_eq!(minutes_until(at("2026-11-28T11:50:00Z"), start), 10);
        assert_eq!(minutes_until(at("2026-11-28T11:50:01Z"), start), 10);
        assert_eq!(minutes_until(at("2026-11-28T11:59:59Z"), start), 1);
        assert_eq!(minutes_until(at("2026-11-28T12:00:00Z"), start), 0);
    }
}
