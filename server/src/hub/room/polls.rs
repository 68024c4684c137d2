//! Polls in a room: hosts and moderators create, open, close, show or hide results;
//! attendees vote once per poll (changeable while it is open). A vote is durable before it
//! is acknowledged; the new counts are published at most once per tick, so a thousand
//! votes in a second cost one event, not a thousand.

use std::collections::{BTreeMap, HashMap};

use plenary_protocol::{
    ErrorCode, Poll, PollAction, PollId, PollOption, PollState as Phase, PollVoteRecord, RoomEvent,
    UserId,
};

use super::common::{Output, Public, Refusal, checked_text};
use super::log::EventLog;
use crate::hub::person::Person;
use crate::store::{Change, StoredPoll};

const MAX_POLL_QUESTION_CHARS: usize = 300;
const MAX_POLL_OPTION_CHARS: usize = 100;
const MAX_POLL_OPTIONS: usize = 10;

/// A room's polls.
pub(super) struct Polls {
    polls: BTreeMap<PollId, PollState>,
}

/// A poll and everyone's choices.
struct PollState {
    /// With its counts always filled in; views hide them where they must.
    poll: Poll,
    votes: HashMap<UserId, Vec<u32>>,
    /// Counts changed since they were last published.
    dirty: bool,
}

impl From<StoredPoll> for PollState {
    fn from(stored: StoredPoll) -> PollState {
        PollState {
            poll: stored.poll,
            votes: stored.votes.into_iter().collect(),
            dirty: false,
        }
    }
}

impl PollState {
    /// The poll as attendees see it, if they may.
    fn public(&self) -> Option<Poll> {
        if self.poll.state == Phase::Draft {
            return None;
        }
        let mut poll = self.poll.clone();
        if !poll.results_visible {
            poll.voters = None;
            for option in &mut poll.options {
                option.votes = None;
            }
        }
        Some(poll)
    }
}

impl Polls {
    /// The polls as stored.
    pub(super) fn restore(stored: Vec<StoredPoll>) -> Polls {
        Polls {
            polls: stored
                .into_iter()
                .map(|stored| (stored.poll.id, PollState::from(stored)))
                .collect(),
        }
    }

    /// The polls a person may see, as they may see them.
    pub(super) fn visible(&self, staff: bool) -> Vec<Poll> {
        self.polls
            .values()
            .filter_map(|state| {
                if staff {
                    Some(state.poll.clone())
                } else {
                    state.public()
                }
            })
            .collect()
    }

    /// A person's choices in this room's polls.
    pub(super) fn votes_of(&self, user: &str) -> Vec<PollVoteRecord> {
        self.polls
            .values()
            .filter_map(|state| {
                state.votes.get(user).map(|choices| PollVoteRecord {
                    poll: state.poll.id,
                    choices: choices.clone(),
                })
            })
            .collect()
    }

    pub(super) fn create(
        &mut self,
        id: PollId,
        question: String,
        options: Vec<String>,
        multiple: bool,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let question = checked_text(&question, MAX_POLL_QUESTION_CHARS, "poll question")?;
        if !(2..=MAX_POLL_OPTIONS).contains(&options.len()) {
            return Err((
                ErrorCode::BadRequest,
                format!("a poll has 2 to {MAX_POLL_OPTIONS} options"),
            ));
        }
        let options = options
            .iter()
            .map(|text| {
                Ok(PollOption {
                    text: checked_text(text, MAX_POLL_OPTION_CHARS, "poll option")?,
                    votes: Some(0),
                })
            })
            .collect::<Result<Vec<_>, Refusal>>()?;
        let poll = Poll {
            id,
            room: events.room().clone(),
            question,
            options,
            multiple,
            state: Phase::Draft,
            results_visible: false,
            voters: Some(0),
        };
        self.polls.insert(
            id,
            PollState {
                poll,
                votes: HashMap::new(),
                dirty: false,
            },
        );
        self.changed(id, events, out);
        Ok(())
    }

    pub(super) fn act(
        &mut self,
        id: PollId,
        action: PollAction,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let state = self
            .polls
            .get_mut(&id)
            .ok_or_else(|| (ErrorCode::NotFound, format!("no poll {id}")))?;
        let poll = &mut state.poll;
        let before = (poll.state, poll.results_visible);
        match action {
            PollAction::Open => poll.state = Phase::Open,
            PollAction::Close => {
                if poll.state == Phase::Draft {
                    return Err((
                        ErrorCode::Conflict,
                        "open the poll before closing it".into(),
                    ));
                }
                poll.state = Phase::Closed;
            }
            PollAction::ShowResults => poll.results_visible = true,
            PollAction::HideResults => poll.results_visible = false,
        }
        if (poll.state, poll.results_visible) != before {
            self.changed(id, events, out);
        }
        Ok(())
    }

    pub(super) fn vote(
        &mut self,
        person: &Person,
        id: PollId,
        mut choices: Vec<u32>,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        let staff = person.user.role.is_staff();
        let state = self
            .polls
            .get_mut(&id)
            .filter(|state| staff || state.poll.state != Phase::Draft)
            .ok_or_else(|| (ErrorCode::NotFound, format!("no poll {id}")))?;
        if state.poll.state != Phase::Open {
            return Err((ErrorCode::Conflict, "this poll is not open".into()));
        }
        choices.sort_unstable();
        choices.dedup();
        let options = state.poll.options.len();
        if choices.is_empty()
            || choices.iter().any(|choice| *choice as usize >= options)
            || (!state.poll.multiple && choices.len() > 1)
        {
            return Err((
                ErrorCode::BadRequest,
                format!(
                    "choose {} of the options 0 to {}",
                    if state.poll.multiple {
                        "one or more"
                    } else {
                        "one"
                    },
                    options - 1
                ),
            ));
        }
        let user = person.user.id.clone();
        if state.votes.get(&user) == Some(&choices) {
            return Ok(());
        }
        let previous = state.votes.insert(user.clone(), choices.clone());
        for (choice, delta) in previous
            .iter()
            .flatten()
            .map(|choice| (*choice, -1i64))
            .chain(choices.iter().map(|choice| (*choice, 1i64)))
        {
            if let Some(votes) = state
                .poll
                .options
                .get_mut(choice as usize)
                .and_then(|option| option.votes.as_mut())
            {
                *votes = u32::try_from(i64::from(*votes) + delta).unwrap_or(0);
            }
        }
        state.poll.voters = Some(u32::try_from(state.votes.len()).unwrap_or(u32::MAX));
        state.dirty = true;
        out.push(Output::Persist(Change::PollVote {
            poll: id,
            user,
            choices,
        }));
        out.push(Output::Persist(Change::Poll(state.poll.clone())));
        Ok(())
    }

    /// Publish the counts of polls that took votes since the last tick.
    pub(super) fn publish_results(&mut self, events: &mut EventLog, out: &mut Vec<Output>) {
        let dirty: Vec<PollId> = self
            .polls
            .values()
            .filter(|state| state.dirty)
            .map(|state| state.poll.id)
            .collect();
        for id in dirty {
            self.changed(id, events, out);
        }
    }

    /// Persist a poll's new state and publish it to those who may see it.
    fn changed(&mut self, id: PollId, events: &mut EventLog, out: &mut Vec<Output>) {
        let Some(state) = self.polls.get_mut(&id) else {
            return;
        };
        state.dirty = false;
        out.push(Output::Persist(Change::Poll(state.poll.clone())));
        let public = match state.public() {
            Some(poll) if poll == state.poll => Public::Same,
            Some(poll) => Public::Different(Box::new(RoomEvent::Poll(poll))),
            None => Public::Hidden,
        };
        let staff = RoomEvent::Poll(state.poll.clone());
        events.publish(staff, public, None, out);
    }
}
