//! Plenary's wire protocol: the serde types that the server, the web client, the loadtest and
//! the end-to-end tests agree on. Nothing here does I/O; the crate depends on serde alone.
//!
//! # Transport
//!
//! One WebSocket per browser tab at `GET /ws`, JSON text frames, one message per frame.
//! Every client message is an object with a `type` ([`ClientMessage`]) and may carry `ref`
//! (a string or a number, at most [`MAX_REF_CHARS`] characters); the server echoes `ref` on
//! the [`ServerMessage::Ack`] or [`ServerMessage::Error`] that answers the message.
//!
//! # Session
//!
//! 1. The client sends [`ClientMessage::Hello`] first; anything else before it gets
//!    [`ErrorCode::Unauthorized`]. The answer is [`ServerMessage::Welcome`].
//! 2. [`ClientMessage::Join`] enters a room. The answer is [`ServerMessage::Joined`] with the
//!    room's last sequence number; after it the client receives every event of the room as
//!    [`ServerMessage::Event`].
//! 3. To resume after a network drop the client joins again with `since` set to the last `seq`
//!    it saw: the server replays exactly the events after it, in order, then live ones.
//!
//! # Compatibility
//!
//! Variants and fields are added, never re-purposed. Clients ignore fields they do not know.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod organiser;

/// Longest chat message, in characters (Unicode scalar values).
pub const MAX_CHAT_CHARS: usize = 2_000;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 60;
/// Longest `ref` a client may attach, in characters.
pub const MAX_REF_CHARS: usize = 64;
/// Longest `client_id` a client may attach, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// WebSocket close codes the server uses, with the reason text it sends.
pub mod close {
    /// The server is restarting or shutting down: reconnect (with backoff) and resume.
    pub const RESTARTING: u16 = 1012;
    /// A frame was larger than the server accepts.
    pub const TOO_LARGE: u16 = 1009;
    /// The server failed; reconnect and resume with `since`.
    pub const SERVER_ERROR: u16 = 1011;
    /// The connection broke a rule: it flooded the server with messages, or never said hello.
    pub const POLICY: u16 = 1008;
    /// The connection stopped answering pings.
    pub const IDLE: u16 = 4002;
    /// The connection's outgoing queue overflowed (it read too slowly): reconnect and resume
    /// with `since`; nothing is lost.
    pub const LAGGED: u16 = 4008;
}

/// A room: the main stage or a workshop room. Every live space is a room with its own ordered
/// event log. Ids are short slugs such as `main-stage`.
pub type RoomId = String;
/// A session of the programme (keynote, panel, workshop, talk, break).
pub type SessionId = String;
/// A person. Ids are opaque strings minted by the server or by `plenary token`.
pub type UserId = String;
/// A question, unique on the server.
pub type QuestionId = u64;
/// A chat message, unique within its room (it is the `seq` of the event that carried it).
pub type ChatId = u64;
/// A poll, unique on the server.
pub type PollId = u64;

/// What a person may do. Everyone may watch, chat, ask and vote; staff (moderator, host,
/// organiser) also curate questions and remove chat.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Attendee,
    Moderator,
    Host,
    Organiser,
}

impl Role {
    /// Every role, in order of increasing responsibility.
    pub const ALL: [Role; 4] = [Role::Attendee, Role::Moderator, Role::Host, Role::Organiser];

    /// Staff see pending questions and may moderate Q&A and chat.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Attendee)
    }

    /// The name used on the wire and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Attendee => "attendee",
            Role::Moderator => "moderator",
            Role::Host => "host",
            Role::Organiser => "organiser",
        }
    }
}

/// The person behind a connection, as the server knows them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

/// Who wrote a chat message or asked a question.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: UserId,
    pub name: String,
}

/// A client's correlation tag, echoed on the answer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub enum Ref {
    Number(i64),
    Text(String),
}

/// Messages a client sends. Tagged by `type`. Every message may also carry `ref` (see
/// [`Envelope`]), which the answer echoes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on a connection. `token` is a signed token (an invite link's or a
    /// personal one); without it the person is a guest attendee called `name`. An invite token
    /// or no token makes a new person, whose personal token comes back in `welcome`.
    Hello {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Enter a room. With `since`, the events after that seq are replayed after `joined`;
    /// without it, `joined` carries a snapshot of the room.
    Join {
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
    },
    /// Leave a room; events of it stop. Answered by `ack`.
    Leave { room: RoomId },
    /// Post to a room's chat (the sender must have joined it). Answered by `ack` with the
    /// message's `id` once it is durable; the room receives a `chat` event.
    Chat {
        room: RoomId,
        text: String,
        /// The client's own id for this message (at most 64 characters). Sending the same
        /// `client_id` again, after a reconnect say, stores nothing new and gets the same `ack`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The chat message this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<ChatId>,
    },
    /// Older chat messages than `before` (the oldest id the client has), newest last.
    /// Answered by `chat_history`.
    ChatHistory {
        room: RoomId,
        before: ChatId,
        /// At most this many (default and maximum 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Ask a question in a session's Q&A. Answered by `ack` with the question's `id`.
    Ask {
        session: SessionId,
        text: String,
        /// Hide the author from attendees (moderators still see who asked).
        #[serde(default)]
        anonymous: bool,
        /// As for `chat`: a retry with the same `client_id` asks nothing new.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Upvote a question, once per person; a second vote changes nothing.
    Vote { question: QuestionId },
    /// Withdraw one's vote; without a vote it changes nothing.
    Unvote { question: QuestionId },
    /// Curate a question (staff only). `edit` needs `text`; `merge` needs `into`, the
    /// question this one duplicates.
    Moderate {
        question: QuestionId,
        action: ModerateAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        into: Option<QuestionId>,
    },
    /// Open or close a session's Q&A (staff only). Closed Q&A refuses new questions with
    /// `qa_closed`; the scheduler also closes it when the session ends.
    SetQa { session: SessionId, open: bool },
    /// The moderation log of a session (staff only). Answered by `moderation_log`.
    ModerationLog { session: SessionId },
    /// Remove a chat message (staff only); the room receives `chat_removed`.
    RemoveChat { room: RoomId, id: ChatId },
    /// Stop a person chatting in a room (staff only), for `minutes` or, without it, for the
    /// rest of the day (24 hours).
    Mute {
        room: RoomId,
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u32>,
    },
    /// Let a muted person chat again (staff only).
    Unmute { room: RoomId, user: UserId },
    /// Remove a person from a room (staff only): their connections are told (`removed`) and
    /// leave it, and they cannot join it again.
    RemovePerson { room: RoomId, user: UserId },
    /// Create a poll in a room (hosts and moderators). It starts as a draft; answered by `ack`
    /// with the poll's `id`.
    CreatePoll {
        room: RoomId,
        question: String,
        /// Two to ten choices.
        options: Vec<String>,
        /// Whether a person may pick several choices.
        #[serde(default)]
        multiple: bool,
    },
    /// Open, close, or show or hide the results of a poll (hosts and moderators).
    PollAction { poll: PollId, action: PollAction },
    /// Vote in an open poll: the indices of the chosen options (one unless the poll is
    /// multiple choice). Voting again replaces one's vote while the poll is open.
    PollVote { poll: PollId, choices: Vec<u32> },
    /// An emoji reaction on the stage, one of [`REACTIONS`]. Counted, not stored: the room
    /// sends the totals once per interval as `reactions`.
    React { room: RoomId, emoji: String },
    /// Raise or lower one's hand in a workshop room. Staff see the queue as `hands`.
    Hand { room: RoomId, raised: bool },
    /// Lower a person's hand, or everyone's without `user` (staff only).
    ClearHands {
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
    },
    /// Run a session off the clock (hosts and organisers): start it now, end it now, or let it
    /// run `minutes` longer than planned. The room's phase follows at once.
    SessionControl {
        session: SessionId,
        action: SessionControl,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u32>,
    },
    /// Publish media to a room: `sdp` is the client's offer; the answer is `rtc_answer` with
    /// `pc: "publish"`. Hosts, moderators and organisers of the room may publish, and
    /// attendees a host or moderator brought on stage (`grant_stage`); others get
    /// `forbidden`. The connection must have joined the room. Offering again on the same
    /// room renegotiates (adding a screen share, say); publishing to another room first ends
    /// the tracks published elsewhere.
    RtcPublish {
        room: RoomId,
        sdp: String,
        /// What each published track is, by its track id (the SDP's `msid` track id, which is
        /// the browser's `MediaStreamTrack.id`) or its stream id. Unlisted audio counts as
        /// `microphone`, unlisted video as `camera`.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        sources: BTreeMap<String, TrackSource>,
    },
    /// Receive a room's media. The server sends `rtc_offer` (`pc: "subscribe"`) with the
    /// room's live tracks, and a new `rtc_offer` whenever they change; the client answers
    /// each with `rtc_answer`. The connection must have joined the room.
    RtcSubscribe { room: RoomId },
    /// The client's answer to the server's `rtc_offer` (`pc` is `subscribe`).
    RtcAnswer {
        room: RoomId,
        pc: PcKind,
        sdp: String,
    },
    /// A trickled ICE candidate for one of the connection's peer connections. Optional:
    /// the server's SDPs carry its candidates, and it reads the client's from its SDPs.
    RtcCandidate {
        room: RoomId,
        pc: PcKind,
        candidate: IceCandidate,
    },
    /// Stop publishing to a room: its viewers see the tracks end. Answered by `ack`.
    RtcUnpublish { room: RoomId },
    /// Stop receiving a room's media. Answered by `ack`.
    RtcUnsubscribe { room: RoomId },
    /// Move what this connection publishes from room `from` to room `to` in one step, on
    /// the same peer connection: `from`'s viewers see the tracks end, `to`'s see them
    /// start, and the browser keeps its camera. Needs the right to publish in `to`.
    /// Answered by `ack`.
    RtcMove { from: RoomId, to: RoomId },
    /// Let a person publish in this room, or take the right away (hosts and moderators of
    /// the room). Taking it away ends their tracks at once. Answered by `ack`; the room
    /// receives a `stage` event.
    GrantStage {
        room: RoomId,
        user: UserId,
        allowed: bool,
    },
    /// Add a session to one's agenda ("my agenda"). Bookmarked sessions make up
    /// `GET /api/me/agenda.ics`, and their reminder arrives over every connection of the
    /// person before they start. Answered by `ack`; bookmarking twice changes nothing.
    Bookmark { session: SessionId },
    /// Take a session off one's agenda. Answered by `ack`; without a bookmark it changes
    /// nothing.
    Unbookmark { session: SessionId },
    /// Ask for a place in a workshop session (a session in a workshop room). Answered by
    /// `registration`: `registered`, or `waitlisted` with a position when every place is
    /// taken. The waitlist moves up, in order, when a place frees; whoever gets a place is
    /// told with a `registration` (`promoted: true`). Asking again changes nothing.
    Register { session: SessionId },
    /// Give up one's place (or waitlist position) in a workshop session; the first on the
    /// waitlist gets the place. Answered by `registration` with status `unregistered`.
    Unregister { session: SessionId },
    /// One's bookmarks and registrations. Answered by `agenda`.
    Agenda,
}

impl ClientMessage {
    /// Every `type` a client may send, for telling `unknown_type` from `bad_request`.
    pub const TYPES: [&'static str; 35] = [
        "hello",
        "join",
        "leave",
        "chat",
        "chat_history",
        "ask",
        "vote",
        "unvote",
        "moderate",
        "set_qa",
        "moderation_log",
        "remove_chat",
        "mute",
        "unmute",
        "remove_person",
        "create_poll",
        "poll_action",
        "poll_vote",
        "react",
        "hand",
        "clear_hands",
        "session_control",
        "rtc_publish",
        "rtc_subscribe",
        "rtc_answer",
        "rtc_candidate",
        "rtc_unpublish",
        "rtc_unsubscribe",
        "rtc_move",
        "grant_stage",
        "bookmark",
        "unbookmark",
        "register",
        "unregister",
        "agenda",
    ];
}

/// Which of a connection's peer connections in a room a signalling message is about: the
/// one it publishes on (the client offers) or the one it receives on (the server offers).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PcKind {
    Publish,
    Subscribe,
}

/// An ICE candidate as the browser's `RTCIceCandidate.toJSON()` gives it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// The `candidate:…` attribute; empty for the end of candidates.
    pub candidate: String,
    #[serde(
        default,
        rename = "sdpMid",
        alias = "sdp_mid",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_mid: Option<String>,
    #[serde(
        default,
        rename = "sdpMLineIndex",
        alias = "sdp_mline_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_mline_index: Option<u16>,
    #[serde(
        default,
        rename = "usernameFragment",
        alias = "username_fragment",
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

/// What a published track carries.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Camera,
    Microphone,
    Screen,
}

/// Audio or video.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    Audio,
    Video,
}

/// A live track of a room, as the `tracks` event and the snapshot list it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// The track's id. A subscribe `rtc_offer` names the m-line carrying it, by mid, in its
    /// `tracks` (the received `MediaStreamTrack.id` need not be this id).
    pub id: String,
    /// The stream id in the server's `rtc_offer`: one per publisher, so their audio and
    /// video play in sync.
    pub stream: String,
    pub kind: TrackKind,
    pub source: TrackSource,
    pub publisher: Author,
}

/// A STUN or TURN server the client's peer connections should use, as in the browser's
/// `RTCIceServer`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The first fields of any client frame, read before the whole message so that an answer to
/// a malformed message can still carry its `ref`, and an unknown `type` can be told apart.
#[derive(Deserialize, Debug)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, rename = "ref")]
    pub reference: Option<Ref>,
}

/// What a moderator does to a question.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModerateAction {
    Approve,
    Reject,
    /// Bring a rejected question back (approved).
    Restore,
    Pin,
    Unpin,
    Answered,
    /// Fix the text (with `text`); the question shows it was edited.
    Edit,
    /// Fold a duplicate into another question (with `into`): votes combine, each person
    /// counted once; the duplicate becomes `merged`.
    Merge,
}

impl ModerateAction {
    /// Every action, in declaration order.
    pub const ALL: [ModerateAction; 8] = [
        ModerateAction::Approve,
        ModerateAction::Reject,
        ModerateAction::Restore,
        ModerateAction::Pin,
        ModerateAction::Unpin,
        ModerateAction::Answered,
        ModerateAction::Edit,
        ModerateAction::Merge,
    ];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ModerateAction::Approve => "approve",
            ModerateAction::Reject => "reject",
            ModerateAction::Restore => "restore",
            ModerateAction::Pin => "pin",
            ModerateAction::Unpin => "unpin",
            ModerateAction::Answered => "answered",
            ModerateAction::Edit => "edit",
            ModerateAction::Merge => "merge",
        }
    }
}

/// What a host does to a session's timing.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionControl {
    /// Go live now (before the planned start).
    Start,
    /// End now.
    End,
    /// Run `minutes` past the planned (or already extended) end.
    Extend,
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

/// What a host does to a poll.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PollAction {
    Open,
    Close,
    ShowResults,
    HideResults,
}

/// The emoji a reaction may be.
pub const REACTIONS: [&str; 6] = ["👏", "❤️", "😂", "🎉", "🤔", "👍"];

/// Messages the server sends. Tagged by `type`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `hello`.
    Welcome {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        user: User,
        /// A personal token for this person, sent when the hello used an invite token or none:
        /// the client keeps it and says hello with it next time, so it stays the same person.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// STUN and TURN servers for the client's peer connections (absent: none needed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// The rooms this person's token limits them to (their role counts only there);
        /// absent for every room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rooms: Option<Vec<RoomId>>,
    },
    /// Answer to `join`.
    Joined {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        /// The room's last event sequence number at the moment of joining.
        seq: u64,
        /// The room's state, sent when `join` had no `since`, or when `since` is older than the
        /// history the room keeps (then `resync` is true and the client must replace its state).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<RoomSnapshot>,
        /// `since` was older than the replayable history: events were not replayed; the
        /// snapshot replaces what the client had.
        #[serde(default, skip_serializing_if = "is_false")]
        resync: bool,
    },
    /// One event of a room. `seq` increases by one per room; a member receives the events
    /// its role may see, so an attendee's stream skips the numbers of moderator-only events
    /// (such as a question waiting for approval).
    Event {
        room: RoomId,
        seq: u64,
        event: RoomEvent,
    },
    /// A client message was carried out (and is durable). `id` names what it created.
    Ack {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// A client message was refused; nothing changed. The connection stays open.
    Error {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        code: ErrorCode,
        message: String,
    },
    /// Answer to `chat_history`: older messages, oldest first, removed ones left out.
    ChatHistory {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        messages: Vec<ChatMessage>,
    },
    /// Answer to `moderation_log`: who did what to the session's questions, oldest first.
    ModerationLog {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        session: SessionId,
        entries: Vec<ModerationEntry>,
    },
    /// Reactions in a room over the last interval (not part of the event log).
    Reactions {
        room: RoomId,
        counts: BTreeMap<String, u32>,
    },
    /// How many people are in a room, sent when it changes, at most once per interval (not
    /// part of the event log). Workshop rooms also list who is there.
    Presence {
        room: RoomId,
        count: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        people: Option<Vec<Author>>,
    },
    /// The raised hands of a workshop room, in the order they were raised (to staff, and to
    /// each person about their own hand; not part of the event log).
    Hands {
        room: RoomId,
        queue: Vec<RaisedHand>,
    },
    /// This connection was removed from a room by a moderator; it no longer receives its
    /// events and cannot join it again.
    Removed { room: RoomId },
    /// The server's answer to `rtc_publish` (`pc: "publish"`). It carries the server's ICE
    /// candidates, so clients that do not trickle need nothing else.
    RtcAnswer {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        room: RoomId,
        pc: PcKind,
        sdp: String,
    },
    /// The server's offer for the connection's `subscribe` peer connection in a room, sent
    /// after `rtc_subscribe` and again whenever the room's tracks change. Answer it with
    /// `rtc_answer`. At most one is outstanding per room and connection.
    RtcOffer {
        room: RoomId,
        pc: PcKind,
        sdp: String,
        /// For a subscribe offer: the id of the room's track (see [`TrackInfo`]) each m-line
        /// carries, by its `mid`. An m-line is reused by later tracks of its kind once its
        /// track ends, so a track is known by its m-line's mid, not by an id in the SDP.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        tracks: BTreeMap<String, String>,
    },
    /// A server ICE candidate found after its SDP was sent (slow STUN or TURN).
    RtcCandidate {
        room: RoomId,
        pc: PcKind,
        candidate: IceCandidate,
    },
    /// Where this person stands in a workshop session: the answer to `register` and
    /// `unregister` (with `ref`), and, sent to every connection of the person, the news that
    /// a place freed and they moved up from the waitlist (`promoted`), or that a smaller room
    /// put them back on it.
    Registration {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        session: SessionId,
        status: RegistrationStatus,
        /// On the waitlist: how many are ahead, plus one (1 is next in line).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        /// This message tells of a place that came free: the person did nothing.
        #[serde(default, skip_serializing_if = "is_false")]
        promoted: bool,
    },
    /// A bookmarked session starts soon. Sent once per person and session, to every
    /// connection the person has open at the time (`Config::reminder` before the start,
    /// 10 minutes by default).
    Reminder {
        session: SessionId,
        room: RoomId,
        /// RFC 3339 UTC.
        start: String,
        /// Whole minutes until the start, rounded up.
        minutes: u32,
    },
    /// Answer to `agenda`: this person's bookmarks and workshop registrations.
    Agenda {
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Ref>,
        /// Bookmarked sessions, in programme order.
        bookmarks: Vec<SessionId>,
        registrations: Vec<Registration>,
    },
}

/// Whether a person has a place in a workshop session.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// They have a place: a full workshop room still lets them in.
    Registered,
    /// Every place is taken; they move up when one frees.
    Waitlisted,
    /// Neither (after `unregister`).
    Unregistered,
}

/// One's registration for one workshop session.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub session: SessionId,
    pub status: RegistrationStatus,
    /// On the waitlist: 1 is next in line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

/// How the places of a workshop session are taken.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatCount {
    /// The room's capacity: places for attendees (staff never take one).
    pub capacity: u32,
    /// Places taken, at most `capacity`.
    pub registered: u32,
    /// People waiting for a place.
    pub waitlisted: u32,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A room's state for a client that joins without `since`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RoomSnapshot {
    /// The latest chat messages, oldest first, removed ones left out.
    pub chat: Vec<ChatMessage>,
    /// The questions of the room's sessions that this person may see, oldest first.
    pub questions: Vec<Question>,
    /// The questions among them this person has voted for.
    pub voted: Vec<QuestionId>,
    /// Sessions of this room whose Q&A is closed.
    #[serde(default)]
    pub qa_closed: Vec<SessionId>,
    /// The room's polls that this person may see (staff see drafts).
    #[serde(default)]
    pub polls: Vec<Poll>,
    /// This person's choices in the room's polls.
    #[serde(default)]
    pub poll_votes: Vec<PollVoteRecord>,
    /// Until when this person is muted in the room (RFC 3339 UTC), if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<String>,
    /// For staff: everyone muted in the room now, so a moderator who arrives later can lift it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub muted: Vec<MutedPerson>,
    /// Where each of the room's sessions is on the clock.
    #[serde(default)]
    pub phases: BTreeMap<SessionId, SessionPhase>,
    /// The room's live tracks.
    #[serde(default)]
    pub tracks: Vec<TrackInfo>,
    /// Attendees a host or moderator brought on stage (they may publish here).
    #[serde(default)]
    pub on_stage: Vec<UserId>,
    /// How the places of each of the room's sessions are taken (rooms with a capacity).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seats: BTreeMap<SessionId, SeatCount>,
    /// This person's registrations for the room's sessions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registrations: Vec<Registration>,
}

/// Someone muted in a room, and until when (RFC 3339 UTC).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MutedPerson {
    pub user: Author,
    pub until: String,
}

/// A person's choices in one poll.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PollVoteRecord {
    pub poll: PollId,
    pub choices: Vec<u32>,
}

/// What happens in a room. Tagged by `kind`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A chat message was posted.
    Chat(ChatMessage),
    /// A moderator removed a chat message.
    ChatRemoved { id: ChatId },
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

/// One entry of a session's moderation log.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ModerationEntry {
    /// RFC 3339 UTC.
    pub at: String,
    pub by: Author,
    /// `approve`, `reject`, `edit`, …, or `qa_open` / `qa_close`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<QuestionId>,
    /// What changed, for edits and merges.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A raised hand.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RaisedHand {
    pub user: Author,
    /// RFC 3339 UTC.
    pub at: String,
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

/// Stable error codes. Clients branch on these, never on the message text.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed JSON, a missing field or a field of the wrong type.
    BadRequest,
    /// A `type` the server does not know.
    UnknownType,
    /// No `hello` yet, or the token is invalid or expired.
    Unauthorized,
    /// The person's role may not do this.
    Forbidden,
    /// No such room, session, question or message.
    NotFound,
    /// The action needs the room to be joined first.
    NotJoined,
    /// A text or frame is over its limit.
    TooLarge,
    /// Too many messages too fast.
    RateLimited,
    /// The person already holds as many connections as allowed.
    TooManyConnections,
    /// The session's Q&A is closed.
    QaClosed,
    /// The person is muted in this room.
    Muted,
    /// The action does not fit the current state (e.g. `hello` twice).
    Conflict,
    /// The workshop room is full for the session open or live in it, and the person is not
    /// registered for that session.
    Full,
    /// The server failed; the action did not happen and may be retried.
    Internal,
    /// HTTP: the change breaks the programme's rules; `fields` says where and why.
    Invalid,
}

/// `GET /api/schedule`: the programme.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Schedule {
    pub conference: Conference,
    pub rooms: Vec<Room>,
    pub sessions: Vec<Session>,
    /// The conference days, in order.
    #[serde(default)]
    pub days: Vec<Day>,
    /// Track names, in display order.
    #[serde(default)]
    pub tracks: Vec<String>,
}

/// A conference day. It may run past midnight.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Day {
    /// The calendar date naming the day, `YYYY-MM-DD` in the conference's time zone.
    pub date: String,
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC.
    pub end: String,
}

/// The conference as a whole.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Conference {
    pub name: String,
    /// IANA time zone of the venue, e.g. `Europe/London`.
    pub timezone: String,
}

/// A room of the programme.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
    pub kind: RoomKind,
    /// How many attendees fit; absent for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

/// Whether a room is a stage (one-to-many) or a workshop (small, interactive).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Stage,
    Workshop,
}

impl RoomKind {
    /// Every kind of room, in declaration order.
    pub const ALL: [RoomKind; 2] = [RoomKind::Stage, RoomKind::Workshop];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Stage => "stage",
            RoomKind::Workshop => "workshop",
        }
    }
}

/// A session of the programme.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub title: String,
    pub kind: SessionKind,
    pub room: RoomId,
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC.
    pub end: String,
    pub speakers: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Questions need a moderator's approval before attendees see them.
    pub qa_moderated: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subtitle: String,
    /// A short summary; `description` is the long text.
    #[serde(default, rename = "abstract", skip_serializing_if = "String::is_empty")]
    pub abstract_text: String,
    /// The track's name, one of the schedule's `tracks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    /// Language codes such as `en`; some sessions are held in two.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
}

/// What kind of session.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Keynote,
    Panel,
    Workshop,
    Talk,
    Break,
}

impl SessionKind {
    /// Every kind of session, in declaration order.
    pub const ALL: [SessionKind; 5] = [
        SessionKind::Keynote,
        SessionKind::Panel,
        SessionKind::Workshop,
        SessionKind::Talk,
        SessionKind::Break,
    ];

    /// The name used on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Keynote => "keynote",
            SessionKind::Panel => "panel",
            SessionKind::Workshop => "workshop",
            SessionKind::Talk => "talk",
            SessionKind::Break => "break",
        }
    }
}

/// The answer to `POST /api/schedule/import`: what the imported programme holds, and what
/// the importer had to guess or leave out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ImportSummary {
    pub rooms: usize,
    pub sessions: usize,
    /// Different speaker names.
    pub speakers: usize,
    /// Human-readable notes, e.g. a time zone taken from the events' UTC offsets.
    pub warnings: Vec<String>,
}

/// The body of every HTTP error: `{"error":{"code":…,"message":…}}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HttpError {
    pub error: HttpErrorBody,
}

/// See [`HttpError`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HttpErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// With [`ErrorCode::Invalid`]: every problem found, not only the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<organiser::FieldProblem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_names_are_the_wire_names() {
        fn check<T: Serialize + Copy>(all: &[T], name: fn(T) -> &'static str) {
            for &value in all {
                assert_eq!(
                    serde_json::to_value(value).expect("unit variants serialise"),
                    name(value)
                );
            }
        }
        check(&Role::ALL, Role::as_str);
        check(&ModerateAction::ALL, ModerateAction::as_str);
        check(&SessionPhase::ALL, SessionPhase::as_str);
        check(&RoomKind::ALL, RoomKind::as_str);
        check(&SessionKind::ALL, SessionKind::as_str);
    }

    #[test]
    fn client_messages_use_the_documented_shape() {
        let chat: ClientMessage =
            serde_json::from_str(r#"{"type":"chat","room":"main-stage","text":"hi","ref":7}"#)
                .expect("documented chat message parses");
        assert_eq!(
            chat,
            ClientMessage::Chat {
                room: "main-stage".into(),
                text: "hi".into(),
                client_id: None,
                reply_to: None,
            }
        );
        let envelope: Envelope =
            serde_json::from_str(r#"{"type":"chat","room":"main-stage","text":"hi","ref":7}"#)
                .expect("every message has an envelope");
        assert_eq!(envelope.reference, Some(Ref::Number(7)));
        let moderate: ClientMessage =
            serde_json::from_str(r#"{"type":"moderate","question":3,"action":"answered"}"#)
                .expect("documented moderate message parses");
        assert!(matches!(
            moderate,
            ClientMessage::Moderate {
                action: ModerateAction::Answered,
                ..
            }
        ));
    }

    #[test]
    fn every_client_type_is_listed() {
        let room = || "r".to_owned();
        let every = [
            ClientMessage::Hello {
                token: None,
                name: None,
            },
            ClientMessage::Join {
                room: room(),
                since: None,
            },
            ClientMessage::Leave { room: room() },
            ClientMessage::Chat {
                room: room(),
                text: "t".into(),
                client_id: None,
                reply_to: None,
            },
            ClientMessage::ChatHistory {
                room: room(),
                before: 1,
                limit: None,
            },
            ClientMessage::Ask {
                session: "s".into(),
                text: "t".into(),
                anonymous: false,
                client_id: None,
            },
            ClientMessage::Vote { question: 1 },
            ClientMessage::Unvote { question: 1 },
            ClientMessage::Moderate {
                question: 1,
                action: ModerateAction::Pin,
                text: None,
                into: None,
            },
            ClientMessage::SetQa {
                session: "s".into(),
                open: false,
            },
            ClientMessage::ModerationLog {
                session: "s".into(),
            },
            ClientMessage::RemoveChat {
                room: room(),
                id: 1,
            },
            ClientMessage::Mute {
                room: room(),
                user: "u".into(),
                minutes: None,
            },
            ClientMessage::Unmute {
                room: room(),
                user: "u".into(),
            },
            ClientMessage::RemovePerson {
                room: room(),
                user: "u".into(),
            },
            ClientMessage::CreatePoll {
                room: room(),
                question: "q".into(),
                options: vec![],
                multiple: false,
            },
            ClientMessage::PollAction {
                poll: 1,
                action: PollAction::Open,
            },
            ClientMessage::PollVote {
                poll: 1,
                choices: vec![0],
            },
            ClientMessage::React {
                room: room(),
                emoji: "👏".into(),
            },
            ClientMessage::Hand {
                room: room(),
                raised: true,
            },
            ClientMessage::ClearHands {
                room: room(),
                user: None,
            },
            ClientMessage::RtcPublish {
                room: room(),
                sdp: "v=0".into(),
                sources: BTreeMap::from([("cam".into(), TrackSource::Camera)]),
            },
            ClientMessage::RtcSubscribe { room: room() },
            ClientMessage::RtcAnswer {
                room: room(),
                pc: PcKind::Subscribe,
                sdp: "v=0".into(),
            },
            ClientMessage::RtcCandidate {
                room: room(),
                pc: PcKind::Publish,
                candidate: IceCandidate {
                    candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
                    sdp_mid: Some("0".into()),
                    sdp_mline_index: Some(0),
                    username_fragment: None,
                },
            },
            ClientMessage::RtcUnpublish { room: room() },
            ClientMessage::RtcUnsubscribe { room: room() },
            ClientMessage::RtcMove {
                from: room(),
                to: "s".into(),
            },
            ClientMessage::GrantStage {
                room: room(),
                user: "u".into(),
                allowed: true,
            },
            ClientMessage::SessionControl {
                session: "s".into(),
                action: SessionControl::Extend,
                minutes: Some(5),
            },
            ClientMessage::Bookmark {
                session: "s".into(),
            },
            ClientMessage::Unbookmark {
                session: "s".into(),
            },
            ClientMessage::Register {
                session: "s".into(),
            },
            ClientMessage::Unregister {
                session: "s".into(),
            },
            ClientMessage::Agenda,
        ];
        let mut listed: Vec<&str> = ClientMessage::TYPES.to_vec();
        for message in every {
            let value = serde_json::to_value(&message).expect("serialises");
            let kind = value["type"].as_str().expect("tagged by type").to_owned();
            let position = listed.iter().position(|listed| *listed == kind);
            assert!(position.is_some(), "{kind} is missing from TYPES");
            listed.retain(|listed| *listed != kind);
            let back: ClientMessage = serde_json::from_value(value).expect("round-trips");
            assert_eq!(back, message);
        }
        assert!(listed.is_empty(), "listed but not a message: {listed:?}");
    }

    #[test]
    fn rtc_messages_use_the_documented_shape() {
        let candidate: ClientMessage = serde_json::from_str(
            r#"{"type":"rtc_candidate","room":"w1","pc":"publish","candidate":
                {"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0",
                 "sdpMLineIndex":0,"usernameFragment":"abcd"}}"#,
        )
        .expect("a browser's candidate.toJSON() parses");
        assert!(matches!(
            candidate,
            ClientMessage::RtcCandidate {
                pc: PcKind::Publish,
                candidate: IceCandidate {
                    sdp_mline_index: Some(0),
                    ..
                },
                ..
            }
        ));
        let publish: ClientMessage = serde_json::from_str(
            r#"{"type":"rtc_publish","room":"w1","sdp":"v=0","sources":{"t1":"screen"}}"#,
        )
        .expect("documented rtc_publish parses");
        assert!(matches!(
            publish,
            ClientMessage::RtcPublish { sources, .. } if sources["t1"] == TrackSource::Screen
        ));
        let offer = ServerMessage::RtcOffer {
            room: "w1".into(),
            pc: PcKind::Subscribe,
            sdp: "v=0".into(),
            tracks: BTreeMap::from([("0".into(), "t7".into())]),
        };
        assert_eq!(
            serde_json::to_string(&offer).expect("serialises"),
            r#"{"type":"rtc_offer","room":"w1","pc":"subscribe","sdp":"v=0","tracks":{"0":"t7"}}"#
        );
        let tracks = RoomEvent::Tracks {
            tracks: vec![TrackInfo {
                id: "t".into(),
                stream: "s".into(),
                kind: TrackKind::Video,
                source: TrackSource::Camera,
                publisher: Author {
                    id: "u".into(),
                    name: "Ann".into(),
                },
            }],
        };
        assert_eq!(
            serde_json::to_string(&tracks).expect("serialises"),
            r#"{"kind":"tracks","tracks":[{"id":"t","stream":"s","kind":"video","source":"camera","publisher":{"id":"u","name":"Ann"}}]}"#
        );
    }

    #[test]
    fn agenda_messages_use_the_documented_shape() {
        let agenda: Envelope =
            serde_json::from_str(r#"{"type":"agenda","ref":"a1"}"#).expect("an envelope");
        assert_eq!(agenda.reference, Some(Ref::Text("a1".into())));
        let agenda: ClientMessage =
            serde_json::from_str(r#"{"type":"agenda","ref":"a1"}"#).expect("agenda with a ref");
        assert_eq!(agenda, ClientMessage::Agenda);
        let waitlisted = ServerMessage::Registration {
            reference: Some(Ref::Number(3)),
            session: "w".into(),
            status: RegistrationStatus::Waitlisted,
            position: Some(2),
            promoted: false,
        };
        assert_eq!(
            serde_json::to_string(&waitlisted).expect("serialises"),
            r#"{"type":"registration","ref":3,"session":"w","status":"waitlisted","position":2}"#
        );
        let reminder = ServerMessage::Reminder {
            session: "k".into(),
            room: "main-stage".into(),
            start: "2026-11-28T12:00:00Z".into(),
            minutes: 10,
        };
        assert_eq!(
            serde_json::to_string(&reminder).expect("serialises"),
            r#"{"type":"reminder","session":"k","room":"main-stage","start":"2026-11-28T12:00:00Z","minutes":10}"#
        );
        assert_eq!(
            serde_json::to_string(&ErrorCode::Full).expect("serialises"),
            r#""full""#
        );
    }

    #[test]
    fn events_serialise_with_kind_inside_event() {
        let message = ServerMessage::Event {
            room: "main-stage".into(),
            seq: 4,
            event: RoomEvent::ChatRemoved { id: 2 },
        };
        assert_eq!(
            serde_json::to_string(&message).expect("serialises"),
            r#"{"type":"event","room":"main-stage","seq":4,"event":{"kind":"chat_removed","id":2}}"#
        );
    }
}
