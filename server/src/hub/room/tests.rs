//! The room's rules, driven directly with fake time: no sockets, no database.

use plenary_protocol::{Role, SessionControl, User};
use serde_json::Value;

use super::*;

fn person(id: &str, role: Role) -> Caller {
    Caller {
        conn: id.len() as u64 * 1000 + u64::from(id.as_bytes()[0]),
        person: Arc::new(Person {
            user: User {
                id: id.into(),
                name: id.into(),
                role,
            },
            rooms: None,
        }),
    }
}

fn room(history: usize) -> Room {
    let plan = |moderated, start: &str, end: &str| SessionPlan {
        moderated,
        start: start.parse().expect("valid instant"),
        end: end.parse().expect("valid instant"),
    };
    let sessions = HashMap::from([
        (
            "talk".to_owned(),
            plan(true, "2026-11-28T10:30:00Z", "2026-11-28T11:30:00Z"),
        ),
        (
            "open".to_owned(),
            plan(false, "2026-11-28T12:00:00Z", "2026-11-28T13:00:00Z"),
        ),
    ]);
    let setup = RoomSetup {
        id: "stage".into(),
        kind: RoomKind::Stage,
        sessions,
    };
    Room::restore(
        setup,
        RoomRecord::default(),
        RoomLimits {
            history,
            chat_history: 10,
            client_ids: 100,
            doors: jiff::SignedDuration::from_mins(10),
        },
    )
}

fn now() -> Timestamp {
    "2026-11-28T10:00:00Z".parse().expect("valid instant")
}

fn replies(out: &[Output], conn: ConnId) -> Vec<Value> {
    out.iter()
        .flat_map(|output| match output {
            Output::Reply { conn: to, frame } if *to == conn => vec![frame.clone()],
            Output::Replay { conn: to, frames } if *to == conn => frames.clone(),
            _ => Vec::new(),
        })
        .map(|frame| serde_json::from_slice(&frame).expect("frames are JSON"))
        .collect()
}

fn act(room: &mut Room, caller: &Caller, action: Action) -> Vec<Output> {
    let mut out = Vec::new();
    room.handle(
        now(),
        Input::Act {
            caller: caller.clone(),
            reference: None,
            action,
        },
        &mut out,
    );
    out
}

fn join(room: &mut Room, caller: &Caller, since: Option<u64>) -> Vec<Value> {
    let mut out = Vec::new();
    room.handle(
        now(),
        Input::Join {
            caller: caller.clone(),
            since,
            reference: None,
        },
        &mut out,
    );
    replies(&out, caller.conn)
}

#[test]
fn a_resume_older_than_the_kept_history_gets_a_snapshot_flagged_resync() {
    let mut room = room(3);
    let ada = person("ada", Role::Attendee);
    join(&mut room, &ada, None);
    for n in 0..5 {
        act(
            &mut room,
            &ada,
            Action::Chat {
                text: format!("m{n}"),
                client_id: None,
                reply_to: None,
            },
        );
    }
    // Events 3..=5 are kept: since=2 can be replayed exactly, since=1 cannot.
    let replay = join(&mut room, &ada, Some(2));
    assert_eq!(replay[0]["resync"], Value::Null);
    let events = |replies: &[Value]| -> Vec<Value> {
        replies
            .iter()
            .filter(|reply| reply["type"] == "event")
            .map(|event| event["seq"].clone())
            .collect()
    };
    assert_eq!(events(&replay), [3, 4, 5]);
    let resync = join(&mut room, &ada, Some(1));
    assert!(events(&resync).is_empty(), "nothing is replayed");
    assert_eq!(resync[0]["resync"], true);
    let chat: Vec<_> = resync[0]["snapshot"]["chat"]
        .as_array()
        .expect("a snapshot has chat")
        .iter()
        .map(|message| message["text"].clone())
        .collect();
    assert_eq!(
        chat,
        ["m2", "m3", "m4"],
        "the newest messages the room keeps"
    );
}

#[test]
fn pinning_a_question_unpins_the_other_one_of_its_session() {
    let mut room = room(100);
    let ada = person("ada", Role::Attendee);
    let mo = person("mo", Role::Moderator);
    for id in [1, 2] {
        let ask = Action::Ask {
            id,
            session: "open".into(),
            text: format!("q{id}"),
            anonymous: false,
            client_id: None,
        };
        act(&mut room, &ada, ask);
    }
    let pin = |question| Action::Moderate {
        question,
        action: ModerateAction::Pin,
        text: None,
        into: None,
    };
    act(&mut room, &mo, pin(1));
    let out = act(&mut room, &mo, pin(2));
    let pinned: Vec<(u64, bool)> = out
        .iter()
        .filter_map(|output| match output {
            Output::Persist(Change::Question { question, .. }) => {
                Some((question.id, question.pinned))
            }
            _ => None,
        })
        .collect();
    assert_eq!(pinned, [(1, false), (2, true)]);
}

#[test]
fn refused_actions_change_nothing_and_publish_nothing() {
    let mut room = room(100);
    let ada = person("ada", Role::Attendee);
    let ask = Action::Ask {
        id: 1,
        session: "talk".into(),
        text: "pending one".into(),
        anonymous: false,
        client_id: None,
    };
    act(&mut room, &ada, ask);
    let seq = room.seq;
    let eve = person("eve", Role::Attendee);
    let refused = [
        act(
            &mut room,
            &eve,
            Action::Chat {
                text: "not joined".into(),
                client_id: None,
                reply_to: None,
            },
        ),
        act(&mut room, &eve, Action::Vote { question: 1 }),
        act(
            &mut room,
            &eve,
            Action::Moderate {
                question: 1,
                action: ModerateAction::Approve,
                text: None,
                into: None,
            },
        ),
        act(&mut room, &eve, Action::RemoveChat { id: 1 }),
    ];
    for out in refused {
        assert_eq!(out.len(), 1, "only an error: {out:?}");
        assert_eq!(replies(&out, eve.conn)[0]["type"], "error");
    }
    assert_eq!(room.seq, seq);
}

/// The events a batch of outputs publishes, as (kind, session, phase or open).
fn published(out: &[Output]) -> Vec<(String, String, String)> {
    out.iter()
        .filter_map(|output| match output {
            Output::Publish(event) => {
                let frame: Value = serde_json::from_slice(&event.staff).expect("JSON");
                let event = &frame["event"];
                let state = if event["kind"] == "qa_state" {
                    event["open"].to_string()
                } else {
                    event["phase"].as_str().unwrap_or_default().to_owned()
                };
                Some((
                    event["kind"].as_str().unwrap_or_default().to_owned(),
                    event["session"].as_str().unwrap_or_default().to_owned(),
                    state,
                ))
            }
            _ => None,
        })
        .collect()
}

fn tick(room: &mut Room, at: &str) -> Vec<Output> {
    let mut out = Vec::new();
    room.handle(at.parse().expect("valid instant"), Input::Tick, &mut out);
    out
}

#[test]
fn sessions_step_through_every_phase_in_order_once_and_qa_closes_at_the_end() {
    let mut room = room(100);
    assert!(published(&tick(&mut room, "2026-11-28T10:00:00Z")).is_empty());
    let step = |kind: &str, session: &str, state: &str| {
        (kind.to_owned(), session.to_owned(), state.to_owned())
    };
    assert_eq!(
        published(&tick(&mut room, "2026-11-28T10:20:00Z")),
        [step("session_phase", "talk", "open")],
        "doors open ten minutes before"
    );
    // The clock jumps past both sessions: every step comes, in order, none skipped.
    assert_eq!(
        published(&tick(&mut room, "2026-11-28T14:00:00Z")),
        [
            step("session_phase", "talk", "live"),
            step("session_phase", "talk", "ended"),
            step("qa_state", "talk", "false"),
            step("session_phase", "open", "open"),
            step("session_phase", "open", "live"),
            step("session_phase", "open", "ended"),
            step("qa_state", "open", "false"),
        ]
    );
    assert!(
        published(&tick(&mut room, "2026-11-28T15:00:00Z")).is_empty(),
        "nothing twice"
    );
    let ada = person("ada", Role::Attendee);
    let ask = Action::Ask {
        id: 9,
        session: "talk".into(),
        text: "Too late?".into(),
        anonymous: false,
        client_id: None,
    };
    let out = act(&mut room, &ada, ask);
    assert_eq!(replies(&out, ada.conn)[0]["code"], "qa_closed");
}

#[test]
fn hosts_start_early_and_extend_and_attendees_may_not() {
    let mut room = room(100);
    let host = person("hal", Role::Host);
    let ada = person("ada", Role::Attendee);
    let control = |action, minutes| Action::SessionControl {
        session: "talk".into(),
        action,
        minutes,
    };
    let refused = act(&mut room, &ada, control(SessionControl::Start, None));
    assert_eq!(replies(&refused, ada.conn)[0]["code"], "forbidden");
    // At 10:00 (now() in these tests) the host starts the 10:30 talk.
    let started = act(&mut room, &host, control(SessionControl::Start, None));
    let phases: Vec<String> = published(&started).into_iter().map(|(_, _, p)| p).collect();
    assert_eq!(phases, ["open", "live"]);
    let out = act(&mut room, &host, control(SessionControl::Extend, Some(30)));
    assert_eq!(replies(&out, host.conn)[0]["type"], "ack");
    // Planned to end at 11:30, extended by 30 minutes: still live at 11:45, over at 12:00.
    assert!(published(&tick(&mut room, "2026-11-28T11:45:00Z")).is_empty());
    let ended = published(&tick(&mut room, "2026-11-28T12:00:00Z"));
    assert!(ended.contains(&("session_phase".into(), "talk".into(), "ended".into())));
    let bad = act(&mut room, &host, control(SessionControl::Extend, None));
    assert_eq!(
        replies(&bad, host.conn)[0]["code"],
        "conflict",
        "it has ended"
    );
}
fn permit(room: &mut Room, caller: &Caller, publish: bool) -> Result<(), ErrorCode> {
    let (reply, _) = oneshot::channel();
    let mut out = Vec::new();
    room.handle(
        now(),
        Input::RtcPermit {
            caller: caller.clone(),
            publish,
            reply,
        },
        &mut out,
    );
    match out.pop() {
        Some(Output::Permit { verdict, .. }) => verdict.map_err(|(code, _)| code),
        other => panic!("a permit query is answered with a permit, not {other:?}"),
    }
}

#[test]
fn attendees_publish_only_while_a_moderator_keeps_them_on_stage() {
    let mut room = room(100);
    let ada = person("ada", Role::Attendee);
    let mo = person("mo", Role::Moderator);
    assert_eq!(permit(&mut room, &ada, false), Err(ErrorCode::NotJoined));
    join(&mut room, &ada, None);
    join(&mut room, &mo, None);
    assert_eq!(permit(&mut room, &ada, false), Ok(()));
    assert_eq!(permit(&mut room, &ada, true), Err(ErrorCode::Forbidden));
    assert_eq!(permit(&mut room, &mo, true), Ok(()));

    let grant = |allowed| Action::GrantStage {
        user: "ada".into(),
        allowed,
    };
    let refused = act(&mut room, &ada, grant(true));
    assert_eq!(replies(&refused, ada.conn)[0]["code"], "forbidden");
    let out = act(&mut room, &mo, grant(true));
    assert!(out.iter().any(|o| matches!(o, Output::Publish(_))));
    assert_eq!(permit(&mut room, &ada, true), Ok(()));
    assert_eq!(
        join(&mut room, &mo, None)[0]["snapshot"]["on_stage"][0],
        "ada"
    );

    let out = act(&mut room, &mo, grant(false));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::MediaRevoked { user, receiving: false } if user == "ada")),
        "revoking tells the SFU to end the tracks"
    );
    assert_eq!(permit(&mut room, &ada, true), Err(ErrorCode::Forbidden));
    // Revoking again changes nothing and ends nothing.
    let out = act(&mut room, &mo, grant(false));
    assert!(!out.iter().any(|o| matches!(o, Output::MediaRevoked { .. })));
}

#[test]
fn the_track_list_is_published_when_it_changes_and_kept_for_the_snapshot() {
    let mut room = room(100);
    let ada = person("ada", Role::Attendee);
    let track = TrackInfo {
        id: "t1".into(),
        stream: "p1".into(),
        kind: plenary_protocol::TrackKind::Video,
        source: plenary_protocol::TrackSource::Camera,
        publisher: Author {
            id: "host".into(),
            name: "Host".into(),
        },
    };
    let mut out = Vec::new();
    room.handle(
        now(),
        Input::Tracks {
            tracks: vec![track.clone()],
        },
        &mut out,
    );
    assert_eq!(out.len(), 1, "one tracks event");
    out.clear();
    room.handle(
        now(),
        Input::Tracks {
            tracks: vec![track],
        },
        &mut out,
    );
    assert!(out.is_empty(), "the same list again publishes nothing");
    assert_eq!(
        join(&mut room, &ada, None)[0]["snapshot"]["tracks"][0]["id"],
        "t1"
    );
}

#[test]
fn removing_a_person_ends_their_media_in_the_room() {
    let mut room = room(100);
    let ada = person("ada", Role::Attendee);
    let mo = person("mo", Role::Moderator);
    join(&mut room, &ada, None);
    join(&mut room, &mo, None);
    act(
        &mut room,
        &mo,
        Action::GrantStage {
            user: "ada".into(),
            allowed: true,
        },
    );
    let out = act(&mut room, &mo, Action::RemovePerson { user: "ada".into() });
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::MediaRevoked { user, receiving: true } if user == "ada")),
        "what they publish and receive here ends"
    );
    assert_eq!(permit(&mut room, &ada, false), Err(ErrorCode::NotJoined));
}
