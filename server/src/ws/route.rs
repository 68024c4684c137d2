//! Routing: the one place a client message is told where it goes. [`route`] is a single
//! exhaustive `match` over [`ClientMessage`], so a new message type does not compile until
//! it is routed here: to the connection itself (`hello`, `agenda`), to the SFU (`rtc_*`), or
//! to a room, named by room, session, question or poll. It also says which per-person
//! allowance a message spends from. It looks nothing up: the session carries the route out
//! once it knows who is asking and that they are within their allowance.

use plenary_protocol::{ClientMessage, PollId, QuestionId, RoomId, SessionId};

use super::rtc::Signal;
use crate::hub::{Action, Hub, RoomHandle};
use crate::people::Limited;

/// Where a client message goes.
pub(super) enum Route {
    /// `hello`, the one message a connection sends before it knows who it is: answered by the
    /// connection.
    Hello {
        token: Option<String>,
        name: Option<String>,
    },
    /// Any other message: carried out for the person who said hello, once it has spent from
    /// their allowance `limit` (if it is limited).
    SignedIn { limit: Option<Limited>, to: To },
}

/// Who carries out a signed-in person's message.
pub(super) enum To {
    /// `agenda`: the connection answers it, from the store.
    Agenda,
    /// Media signalling: the SFU.
    Sfu(Signal),
    /// A room.
    Room(ForRoom),
}

/// What a room is asked.
pub(super) enum ForRoom {
    /// `join`: the connection joins the room (and leaves it when it closes).
    Join { room: RoomId, since: Option<u64> },
    /// `leave`: the connection leaves the room, and its media there ends.
    Leave { room: RoomId },
    /// An action for the room that `Target` names.
    Act(Target, Action),
    /// `ask`: a new question in a session's room; the hub numbers it.
    Ask {
        session: SessionId,
        text: String,
        anonymous: bool,
        client_id: Option<String>,
    },
    /// `create_poll`: a new poll in a room; the hub numbers it.
    CreatePoll {
        room: RoomId,
        question: String,
        options: Vec<String>,
        multiple: bool,
    },
}

/// A room, named by what the client knows of it.
pub(super) enum Target {
    Room(RoomId),
    /// The room a session is held in.
    Session(SessionId),
    /// The room a question was asked in.
    Question(QuestionId),
    /// The room a poll was created in.
    Poll(PollId),
}

impl Target {
    /// The room's handle, if it (and the session, question or poll) exists.
    pub(super) fn room(&self, hub: &Hub) -> Option<RoomHandle> {
        match self {
            Target::Room(room) => hub.room(room),
            Target::Session(session) => hub.room_of_session(session),
            Target::Question(question) => hub.room_of_question(*question),
            Target::Poll(poll) => hub.room_of_poll(*poll),
        }
    }
}

/// A signed-in message that spends from no allowance.
fn signed_in(to: To) -> Route {
    Route::SignedIn { limit: None, to }
}

/// A signed-in message that spends from the allowance `limit`.
fn spending(limit: Limited, to: To) -> Route {
    Route::SignedIn {
        limit: Some(limit),
        to,
    }
}

/// An action for the room `target` names.
fn room_act(target: Target, action: Action) -> To {
    To::Room(ForRoom::Act(target, action))
}

/// Where `message` goes, and the allowance it spends from.
pub(super) fn route(message: ClientMessage) -> Route {
    match message {
        ClientMessage::Hello { token, name } => Route::Hello { token, name },
        ClientMessage::Agenda => signed_in(To::Agenda),
        ClientMessage::Join { room, since } => signed_in(To::Room(ForRoom::Join { room, since })),
        ClientMessage::Leave { room } => signed_in(To::Room(ForRoom::Leave { room })),
        ClientMessage::Chat {
            room,
            text,
            client_id,
            reply_to,
        } => spending(
            Limited::Chat,
            room_act(
                Target::Room(room),
                Action::Chat {
                    text,
                    client_id,
                    reply_to,
                },
            ),
        ),
        ClientMessage::ChatHistory {
            room,
            before,
            limit,
        } => signed_in(room_act(
            Target::Room(room),
            Action::ChatHistory { before, limit },
        )),
        ClientMessage::RemoveChat { room, id } => {
            signed_in(room_act(Target::Room(room), Action::RemoveChat { id }))
        }
        ClientMessage::FlagChat { room, id } => {
            signed_in(room_act(Target::Room(room), Action::FlagChat { id }))
        }
        ClientMessage::Mute {
            room,
            user,
            minutes,
        } => signed_in(room_act(Target::Room(room), Action::Mute { user, minutes })),
        ClientMessage::Unmute { room, user } => {
            signed_in(room_act(Target::Room(room), Action::Unmute { user }))
        }
        ClientMessage::RemovePerson { room, user } => {
            signed_in(room_act(Target::Room(room), Action::RemovePerson { user }))
        }
        ClientMessage::Ask {
            session,
            text,
            anonymous,
            client_id,
        } => spending(
            Limited::Ask,
            To::Room(ForRoom::Ask {
                session,
                text,
                anonymous,
                client_id,
            }),
        ),
        ClientMessage::Vote { question } => spending(
            Limited::Vote,
            room_act(Target::Question(question), Action::Vote { question }),
        ),
        ClientMessage::Unvote { question } => spending(
            Limited::Vote,
            room_act(Target::Question(question), Action::Unvote { question }),
        ),
        ClientMessage::Moderate {
            question,
            action,
            text,
            into,
        } => signed_in(room_act(
            Target::Question(question),
            Action::Moderate {
                question,
                action,
                text,
                into,
            },
        )),
        ClientMessage::SetQa { session, open } => signed_in(room_act(
            Target::Session(session.clone()),
            Action::SetQa { session, open },
        )),
        ClientMessage::ModerationLog { session } => signed_in(room_act(
            Target::Session(session.clone()),
            Action::ModerationLog { session },
        )),
        ClientMessage::CreatePoll {
            room,
            question,
            options,
            multiple,
        } => signed_in(To::Room(ForRoom::CreatePoll {
            room,
            question,
            options,
            multiple,
        })),
        ClientMessage::PollAction { poll, action } => signed_in(room_act(
            Target::Poll(poll),
            Action::PollAction { poll, action },
        )),
        ClientMessage::PollVote { poll, choices } => signed_in(room_act(
            Target::Poll(poll),
            Action::PollVote { poll, choices },
        )),
        ClientMessage::React { room, emoji } => spending(
            Limited::React,
            room_act(Target::Room(room), Action::React { emoji }),
        ),
        ClientMessage::Hand { room, raised } => {
            signed_in(room_act(Target::Room(room), Action::Hand { raised }))
        }
        ClientMessage::ClearHands { room, user } => {
            signed_in(room_act(Target::Room(room), Action::ClearHands { user }))
        }
        ClientMessage::SessionControl {
            session,
            action,
            minutes,
        } => signed_in(room_act(
            Target::Session(session.clone()),
            Action::SessionControl {
                session,
                action,
                minutes,
            },
        )),
        ClientMessage::GrantStage {
            room,
            user,
            allowed,
        } => signed_in(room_act(
            Target::Room(room),
            Action::GrantStage { user, allowed },
        )),
        ClientMessage::Bookmark { session } => signed_in(room_act(
            Target::Session(session.clone()),
            Action::Bookmark { session, on: true },
        )),
        ClientMessage::Unbookmark { session } => signed_in(room_act(
            Target::Session(session.clone()),
            Action::Bookmark { session, on: false },
        )),
        ClientMessage::Register { session } => signed_in(room_act(
            Target::Session(session.clone()),
            Action::Register { session, on: true },
        )),
        ClientMessage::Unregister { session } => signed_in(room_act(
            Target::Session(session.clone()),
            Action::Register { session, on: false },
        )),
        ClientMessage::RtcPublish { room, sdp, sources } => {
            signed_in(To::Sfu(Signal::Publish { room, sdp, sources }))
        }
        ClientMessage::RtcSubscribe { room } => signed_in(To::Sfu(Signal::Subscribe { room })),
        ClientMessage::RtcAnswer { room, pc, sdp } => {
            signed_in(To::Sfu(Signal::Answer { room, pc, sdp }))
        }
        ClientMessage::RtcCandidate {
            room,
            pc,
            candidate,
        } => signed_in(To::Sfu(Signal::Candidate {
            room,
            pc,
            candidate,
        })),
        ClientMessage::RtcUnpublish { room } => signed_in(To::Sfu(Signal::Unpublish { room })),
        ClientMessage::RtcUnsubscribe { room } => signed_in(To::Sfu(Signal::Unsubscribe { room })),
        ClientMessage::RtcMove { from, to } => signed_in(To::Sfu(Signal::Move { from, to })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The allowance a message (as a client sends it) spends from.
    fn limit_of(json: &str) -> Option<Limited> {
        let message: ClientMessage = serde_json::from_str(json).expect("a client message");
        match route(message) {
            Route::Hello { .. } => None,
            Route::SignedIn { limit, .. } => limit,
        }
    }

    #[test]
    fn chat_questions_votes_and_reactions_spend_from_their_allowances() {
        let cases = [
            (
                r#"{"type":"chat","room":"r","text":"t"}"#,
                Some(Limited::Chat),
            ),
            (
                r#"{"type":"ask","session":"s","text":"t"}"#,
                Some(Limited::Ask),
            ),
            (r#"{"type":"vote","question":1}"#, Some(Limited::Vote)),
            (r#"{"type":"unvote","question":1}"#, Some(Limited::Vote)),
            (
                r#"{"type":"react","room":"r","emoji":"👏"}"#,
                Some(Limited::React),
            ),
            (r#"{"type":"hello"}"#, None),
            (r#"{"type":"join","room":"r"}"#, None),
            (
                r#"{"type":"create_poll","room":"r","question":"q","options":[]}"#,
                None,
            ),
            (r#"{"type":"poll_vote","poll":1,"choices":[0]}"#, None),
            (r#"{"type":"rtc_subscribe","room":"r"}"#, None),
            (r#"{"type":"agenda"}"#, None),
        ];
        for (json, limit) in cases {
            assert_eq!(limit_of(json), limit, "{json}");
        }
    }
}
