//! What a room is asked to do: an [`Input`] from a connection, the hub, the SFU or the clock,
//! and the [`Action`]s a connection takes in a room.

use std::sync::Arc;

use plenary_protocol::{
    ChatId, ModerateAction, PollAction, PollId, QuestionId, Ref, SessionId, TrackInfo, UserId,
};

use super::setup::RoomSetup;
use crate::hub::person::{ConnId, Person};
use crate::store::SessionPeople;

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
    /// The room answers with an [`Output::Permit`](super::Output::Permit) carrying `request`,
    /// a number the actor chose to find the asker again.
    RtcPermit {
        caller: Caller,
        publish: bool,
        request: u64,
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

    /// The `ref` of the client message this input carries out, when the client gave one.
    pub fn reference(&self) -> Option<&Ref> {
        match self {
            Input::Join { reference, .. }
            | Input::Leave { reference, .. }
            | Input::Act { reference, .. } => reference.as_ref(),
            Input::Tick | Input::Setup(..) | Input::RtcPermit { .. } | Input::Tracks { .. } => None,
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
    /// A person flags a chat message for the moderators.
    FlagChat {
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
