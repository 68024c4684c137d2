//! What a client sends: [`ClientMessage`] and its [`TYPES`](ClientMessage::TYPES), the
//! [`Envelope`] read first, and the enums and values only client messages carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ChatId, PollId, QuestionId, Ref, RoomId, SessionId, UserId};
use crate::rtc::{IceCandidate, PcKind, TrackSource};

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
    /// Flag a recent chat message of a joined room for the moderators (anyone in the room).
    /// Answered by `ack`; staff receive `chat_flagged`. Once per person and message: flagging
    /// again changes nothing.
    FlagChat { room: RoomId, id: ChatId },
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
    /// the room). Taking it away ends their tracks at once. Anyone may take it from
    /// themselves (`user` their own id, `allowed: false`): declining the invitation, or
    /// stepping off the stage. Answered by `ack`; the room receives a `stage` event.
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
    pub const TYPES: [&'static str; 36] = [
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
        "flag_chat",
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

#[cfg(test)]
mod tests {
    use super::*;

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
            ClientMessage::FlagChat {
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
}
