//! What happens in a room: [`RoomEvent`], and the records it carries whole (chat messages,
//! questions, polls, session phases), which a [`RoomSnapshot`](crate::RoomSnapshot) lists too.

use serde::{Deserialize, Serialize};

use crate::ids::{Author, ChatId, PollId, QuestionId, RoomId, SessionId, UserId};
use crate::is_false;
use crate::rtc::TrackInfo;

/// What happens in a room. Tagged by `kind`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A chat message was posted.
    Chat(ChatMessage),
    /// A moderator removed a chat message.
    ChatRemoved { id: ChatId },
    /// Someone flagged a chat message for the moderators (to staff): `flags` people have now.
    ChatFlagged { id: ChatId, flags: u32 },
    /// A question was asked or changed; it carries the question's whole new state.
    Question(Question),
    /// A session's Q&A was opened or closed.
    QaState { session: SessionId, open: bool },
    /// A poll was created or changed; it carries the poll's whole new state.
    Poll(Poll),
    /// A person was muted in this room (to staff and to that person).
    Muted {
        user: Author,
        /// RFC 3339 UTC.
        until: String,
    },
    /// A person may chat again (to staff and to that person).
    Unmuted { user: Author },
    /// A person was removed from this room (to staff).
    PersonRemoved { user: Author },
    /// A session of this room moved on: scheduled → open (doors) → live → ended, on the clock
    /// or because a host started or ended it. Each step is its own event, in order.
    SessionPhase {
        session: SessionId,
        phase: SessionPhase,
    },
    /// The room's live tracks changed; this is the whole new list.
    Tracks { tracks: Vec<TrackInfo> },
    /// A host or moderator let a person publish in this room, or took the right away.
    Stage { user: UserId, allowed: bool },
    /// The places of a session of this room were taken or freed: the new counts, sent at
    /// most once per interval.
    Seats {
        session: SessionId,
        capacity: u32,
        registered: u32,
        waitlisted: u32,
    },
}

/// A chat message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: ChatId,
    pub text: String,
    pub author: Author,
    /// When the server accepted it, RFC 3339 UTC.
    pub at: String,
    /// The message this one answers, with a short excerpt of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
    /// People in the room named in the text as `@Name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Author>,
}

/// What a reply answers.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub id: ChatId,
    pub author: Author,
    /// The start of the answered message (at most 100 characters).
    pub excerpt: String,
}

/// A question in a session's Q&A, in full.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: QuestionId,
    pub session: SessionId,
    pub text: String,
    /// Absent for anonymous questions, except to moderators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Author>,
    pub anonymous: bool,
    pub votes: u32,
    pub status: QuestionStatus,
    pub pinned: bool,
    /// When it was asked, RFC 3339 UTC.
    pub at: String,
    /// A moderator changed the text.
    #[serde(default, skip_serializing_if = "is_false")]
    pub edited: bool,
    /// For a `merged` question: the question it was folded into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<QuestionId>,
}

/// Where a question is in moderation.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QuestionStatus {
    /// Waiting for a moderator (moderated sessions only); visible to staff and the asker.
    Pending,
    /// Visible to everyone.
    Approved,
    /// Hidden from attendees.
    Rejected,
    /// Answered on stage; still visible.
    Answered,
    /// A duplicate folded into another question (`merged_into`); its votes moved there.
    Merged,
}

/// A poll, in full.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    pub id: PollId,
    pub room: RoomId,
    pub question: String,
    pub options: Vec<PollOption>,
    pub multiple: bool,
    pub state: PollState,
    /// Whether attendees see the counts (staff always do).
    pub results_visible: bool,
    /// How many people voted; absent where the results are hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters: Option<u32>,
}

/// One choice of a poll.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PollOption {
    pub text: String,
    /// Absent where the results are hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votes: Option<u32>,
}

/// Where a poll is in its life.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PollState {
    /// Created, visible to staff only.
    Draft,
    /// Visible to everyone and taking votes.
    Open,
    /// Visible, no longer taking votes.
    Closed,
}

/// Where a session is on the clock.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum SessionPhase {
    /// Before its doors open.
    Scheduled,
    /// Doors open: people gather before the start.
    Open,
    Live,
    /// Over; its Q&A is closed.
    Ended,
}

impl SessionPhase {
    /// Every phase, in declaration order.
    pub const ALL: [SessionPhase; 4] = [
        SessionPhase::Scheduled,
        SessionPhase::Open,
        SessionPhase::Live,
        SessionPhase::Ended,
    ];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionPhase::Scheduled => "scheduled",
            SessionPhase::Open => "open",
            SessionPhase::Live => "live",
            SessionPhase::Ended => "ended",
        }
    }
}
