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

mod client;
mod error;
mod event;
mod ids;
mod limits;
pub mod organiser;
mod rtc;
mod schedule;
mod server;

pub use client::*;
pub use error::*;
pub use event::*;
pub use ids::*;
pub use limits::*;
pub use rtc::*;
pub use schedule::*;
pub use server::*;

/// `skip_serializing_if` for flags that are off unless said (`resync`, `promoted`, `edited`).
fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

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
        for (code, wire) in [
            (ErrorCode::OwnQuestion, r#""own_question""#),
            (ErrorCode::InviteRequired, r#""invite_required""#),
        ] {
            assert_eq!(serde_json::to_string(&code).expect("serialises"), wire);
        }
        let agenda = ServerMessage::Agenda {
            reference: None,
            bookmarks: vec![],
            registrations: vec![],
            seats: vec![SessionSeats {
                session: "w".into(),
                count: SeatCount {
                    capacity: 2,
                    registered: 2,
                    waitlisted: 1,
                },
            }],
        };
        assert_eq!(
            serde_json::to_string(&agenda).expect("serialises"),
            r#"{"type":"agenda","bookmarks":[],"registrations":[],"seats":[{"session":"w","capacity":2,"registered":2,"waitlisted":1}]}"#
        );
    }
}
