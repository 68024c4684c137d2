//! The room's rules, driven directly with fake time: no sockets, no database.

use plenary_protocol::{Author, ModerateAction, Role, SessionControl, TrackInfo, User, UserId};
use serde_json::Value;

use super::*;
use crate::store::{Change, SessionPeople};

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
        capacity: None,
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
            reminder: jiff::SignedDuration::from_mins(10),
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
fn a_resume_ahead_of_the_room_gets_a_snapshot_flagged_resync() {
    let mut room = room(100);
    let ada = person("ada", Role::Attendee);
    join(&mut room, &ada, None);
    act(
        &mut room,
        &ada,
        Action::Chat {
            text: "kept".into(),
            client_id: None,
            reply_to: None,
        },
    );
    // The client saw seq 7 of this room before it was restored from a backup at seq 1.
    let resync = join(&mut room, &ada, Some(7));
    assert_eq!(resync[0]["seq"], 1);
    assert_eq!(resync[0]["resync"], true, "{resync:?}");
    assert_eq!(resync[0]["snapshot"]["chat"][0]["text"], "kept");
    let current = join(&mut room, &ada, Some(1));
    assert_eq!(
        current[0]["resync"],
        Value::Null,
        "a since of the last seq resumes"
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
    let seq = room.events.seq();
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
    assert_eq!(room.events.seq(), seq);
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
    let mut out = Vec::new();
    room.handle(
        now(),
        Input::RtcPermit {
            caller: caller.clone(),
            publish,
            request: 7,
        },
        &mut out,
    );
    match out.pop() {
        Some(Output::Permit {
            request: 7,
            verdict,
        }) => verdict.map_err(|(code, _)| code),
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
fn a_person_on_stage_may_step_off_but_never_put_themselves_on_or_take_others_off() {
    let mut room = room(100);
    let ada = person("ada", Role::Attendee);
    let bo = person("bo", Role::Attendee);
    let mo = person("mo", Role::Moderator);
    for caller in [&ada, &bo, &mo] {
        join(&mut room, caller, None);
    }
    let grant = |user: &str, allowed| Action::GrantStage {
        user: user.into(),
        allowed,
    };
    act(&mut room, &mo, grant("ada", true));
    act(&mut room, &mo, grant("bo", true));
    // Bo may not take Ada off; Ada may step off herself (declining the invitation).
    let refused = act(&mut room, &bo, grant("ada", false));
    assert_eq!(replies(&refused, bo.conn)[0]["code"], "forbidden");
    assert_eq!(permit(&mut room, &ada, true), Ok(()));
    let out = act(&mut room, &ada, grant("ada", false));
    assert_eq!(replies(&out, ada.conn)[0]["type"], "ack");
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::MediaRevoked { user, receiving: false } if user == "ada"))
    );
    assert_eq!(permit(&mut room, &ada, true), Err(ErrorCode::Forbidden));
    // Nor may she put herself back.
    let refused = act(&mut room, &ada, grant("ada", true));
    assert_eq!(replies(&refused, ada.conn)[0]["code"], "forbidden");
}

#[test]
fn flags_on_chat_reach_staff_only_once_per_person_and_survive_a_restore() {
    let mut room = room(100);
    let ada = person("ada", Role::Attendee);
    let bo = person("bo", Role::Attendee);
    let eve = person("eve", Role::Attendee);
    let mo = person("mo", Role::Moderator);
    for caller in [&ada, &bo, &mo] {
        join(&mut room, caller, None);
    }
    let chat = Action::Chat {
        text: "buy cheap watches".into(),
        client_id: None,
        reply_to: None,
    };
    act(&mut room, &ada, chat);
    let id = room.events.seq();
    let flag = |id| Action::FlagChat { id };

    let refused = act(&mut room, &eve, flag(id));
    assert_eq!(replies(&refused, eve.conn)[0]["code"], "not_joined");
    let refused = act(&mut room, &bo, flag(id + 99));
    assert_eq!(replies(&refused, bo.conn)[0]["code"], "not_found");

    let out = act(&mut room, &bo, flag(id));
    let flagged: Vec<_> = out
        .iter()
        .filter_map(|output| match output {
            Output::Publish(event) => Some(event),
            _ => None,
        })
        .collect();
    assert_eq!(flagged.len(), 1);
    assert!(flagged[0].public.is_none(), "attendees never see flags");
    let staff: Value = serde_json::from_slice(&flagged[0].staff).expect("JSON");
    assert_eq!(staff["event"]["kind"], "chat_flagged");
    assert_eq!(staff["event"]["flags"], 1);
    // Flagging again changes nothing.
    let again = act(&mut room, &bo, flag(id));
    assert!(
        !again
            .iter()
            .any(|o| matches!(o, Output::Publish(_) | Output::Persist(_)))
    );

    let key = id.to_string();
    assert_eq!(
        join(&mut room, &mo, None)[0]["snapshot"]["flagged"][&key],
        1
    );
    assert_eq!(
        join(&mut room, &ada, None)[0]["snapshot"]["flagged"],
        Value::Null
    );

    // Restored from the store, the flags of kept messages are there; others are dropped.
    let message = room.chat.newest(10).remove(0);
    let record = RoomRecord {
        chat: vec![message],
        chat_flags: vec![(id, "bo".into()), (id + 1, "bo".into())],
        ..RoomRecord::default()
    };
    let limits = room.limits;
    let mut restored = Room::restore(room.setup.clone(), record, limits);
    let snapshot = &join(&mut restored, &mo, None)[0]["snapshot"]["flagged"];
    assert_eq!(snapshot, &serde_json::json!({ key: 1 }));
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

/// Attendee number `n`, on a connection of their own.
fn attendee(n: u64) -> Caller {
    Caller {
        conn: 50_000 + n,
        person: Arc::new(Person {
            user: User {
                id: format!("a{n}"),
                name: format!("Attendee {n}"),
                role: Role::Attendee,
            },
            rooms: None,
        }),
    }
}

/// A workshop room of `capacity` places holding session `w`, 12:00 to 13:00, restored from
/// `record`.
fn workshop_from(capacity: Option<u32>, record: RoomRecord) -> Room {
    let plan = SessionPlan {
        moderated: false,
        start: "2026-11-28T12:00:00Z".parse().expect("valid instant"),
        end: "2026-11-28T13:00:00Z".parse().expect("valid instant"),
    };
    let setup = RoomSetup {
        id: "lab".into(),
        kind: RoomKind::Workshop,
        capacity,
        sessions: HashMap::from([("w".to_owned(), plan)]),
    };
    let limits = RoomLimits {
        history: 100,
        chat_history: 10,
        client_ids: 100,
        doors: jiff::SignedDuration::from_mins(10),
        reminder: jiff::SignedDuration::from_mins(10),
    };
    Room::restore(setup, record, limits)
}

fn workshop(capacity: u32) -> Room {
    workshop_from(Some(capacity), RoomRecord::default())
}

/// Ask for a place in session `w` (`on`) or give it up.
fn sign_up(room: &mut Room, caller: &Caller, on: bool) -> Vec<Output> {
    let session = "w".into();
    act(room, caller, Action::Register { session, on })
}

fn register(room: &mut Room, caller: &Caller) -> Value {
    replies(&sign_up(room, caller, true), caller.conn).remove(0)
}

/// The frames sent to people wherever they are, as (recipients, message).
fn to_people(out: &[Output]) -> Vec<(Vec<UserId>, Value)> {
    out.iter()
        .filter_map(|output| match output {
            Output::ToPeople { users, frame } => Some((
                users.clone(),
                serde_json::from_slice(frame).expect("frames are JSON"),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_workshop_never_registers_more_than_its_capacity_and_the_waitlist_moves_up_in_order() {
    let mut room = workshop(2);
    let answers: Vec<Value> = (1..=5).map(|n| register(&mut room, &attendee(n))).collect();
    let standing: Vec<(&str, Option<u64>)> = answers
        .iter()
        .map(|answer| {
            (
                answer["status"].as_str().unwrap_or(""),
                answer["position"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        standing,
        [
            ("registered", None),
            ("registered", None),
            ("waitlisted", Some(1)),
            ("waitlisted", Some(2)),
            ("waitlisted", Some(3)),
        ]
    );
    // Asking again changes nothing and stores nothing.
    let out = sign_up(&mut room, &attendee(4), true);
    assert!(!out.iter().any(|o| matches!(o, Output::Persist(_))));
    assert_eq!(replies(&out, attendee(4).conn)[0]["position"], 2);

    // The second registered person leaves: the first in line (a3) gets the place, and is told.
    let out = sign_up(&mut room, &attendee(2), false);
    assert_eq!(replies(&out, attendee(2).conn)[0]["status"], "unregistered");
    let told = to_people(&out);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].0, ["a3"]);
    assert_eq!(told[0].1["type"], "registration");
    assert_eq!(told[0].1["status"], "registered");
    assert_eq!(told[0].1["promoted"], true);
    assert_eq!(register(&mut room, &attendee(5))["position"], 2);

    // Someone leaving the waitlist frees no place: nobody is promoted.
    let out = sign_up(&mut room, &attendee(4), false);
    assert!(to_people(&out).is_empty());
    assert_eq!(register(&mut room, &attendee(5))["position"], 1);
    let counts = &join(&mut room, &attendee(9), None)[0]["snapshot"]["seats"]["w"];
    assert_eq!(counts["registered"], 2);
    assert_eq!(counts["waitlisted"], 1);
    assert_eq!(counts["capacity"], 2);
}

#[test]
fn staff_take_no_place_and_stages_take_no_registrations() {
    let mut lab = workshop(1);
    for role in [Role::Host, Role::Moderator, Role::Organiser] {
        let staff = person("staffer", role);
        let out = sign_up(&mut lab, &staff, true);
        assert_eq!(replies(&out, staff.conn)[0]["code"], "conflict", "{role:?}");
    }
    assert_eq!(register(&mut lab, &attendee(1))["status"], "registered");

    let mut stage = room(100);
    let out = act(
        &mut stage,
        &attendee(1),
        Action::Register {
            session: "open".into(),
            on: true,
        },
    );
    assert_eq!(replies(&out, attendee(1).conn)[0]["code"], "conflict");
    let out = act(
        &mut lab,
        &attendee(1),
        Action::Register {
            session: "nope".into(),
            on: true,
        },
    );
    assert_eq!(replies(&out, attendee(1).conn)[0]["code"], "not_found");
}

/// The answer to a join at `at`: `joined`, or an `error`.
fn join_at(room: &mut Room, caller: &Caller, at: &str) -> Value {
    let mut out = Vec::new();
    let now = at.parse().expect("valid instant");
    room.handle(now, Input::Tick, &mut out);
    room.handle(
        now,
        Input::Join {
            caller: caller.clone(),
            since: None,
            reference: None,
        },
        &mut out,
    );
    replies(&out, caller.conn).remove(0)
}

#[test]
fn a_full_workshop_lets_in_the_registered_and_staff_and_refuses_the_others() {
    let mut room = workshop(3);
    for n in 1..=2 {
        register(&mut room, &attendee(n));
    }
    // Before the doors open nobody is counted.
    assert_eq!(
        join_at(&mut room, &attendee(7), "2026-11-28T11:00:00Z")["type"],
        "joined"
    );
    let mut out = Vec::new();
    room.handle(
        now(),
        Input::Leave {
            conn: attendee(7).conn,
            reply: false,
            reference: None,
        },
        &mut out,
    );

    // Doors open: one place nobody registered for; the first walk-in takes it.
    let doors = "2026-11-28T11:50:00Z";
    assert_eq!(join_at(&mut room, &attendee(3), doors)["type"], "joined");
    let refused = join_at(&mut room, &attendee(4), doors);
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "full");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("Register")
    );
    // The registered get in however full it is, and so do staff; a second tab of someone
    // already in is not a new person.
    assert_eq!(join_at(&mut room, &attendee(1), doors)["type"], "joined");
    assert_eq!(join_at(&mut room, &attendee(2), doors)["type"], "joined");
    let host = person("hal", Role::Host);
    assert_eq!(join_at(&mut room, &host, doors)["type"], "joined");
    let second_tab = Caller {
        conn: 99_999,
        ..attendee(3)
    };
    assert_eq!(
        join_at(&mut room, &second_tab, "2026-11-28T12:10:00Z")["type"],
        "joined"
    );
    assert_eq!(
        join_at(&mut room, &attendee(4), "2026-11-28T12:10:00Z")["code"],
        "full"
    );
    // Over: the room is open to all again.
    assert_eq!(
        join_at(&mut room, &attendee(4), "2026-11-28T13:00:00Z")["type"],
        "joined"
    );
}

#[test]
fn a_larger_room_promotes_the_waitlist_and_a_smaller_one_puts_people_back_on_it() {
    let mut room = workshop(1);
    for n in 1..=3 {
        register(&mut room, &attendee(n));
    }
    let resize = |room: &mut Room, capacity| {
        let mut setup = room.setup().clone();
        setup.capacity = Some(capacity);
        let mut out = Vec::new();
        room.handle(
            now(),
            Input::Setup(setup, SessionPeople::default()),
            &mut out,
        );
        to_people(&out)
    };
    let told = resize(&mut room, 2);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].0, ["a2"]);
    assert_eq!(told[0].1["promoted"], true);
    let told = resize(&mut room, 1);
    assert_eq!(told[0].0, ["a2"]);
    assert_eq!(told[0].1["status"], "waitlisted");
    assert_eq!(told[0].1["position"], 1);
    assert_eq!(told[0].1["promoted"], Value::Null);
}

#[test]
fn seat_counts_are_published_once_per_tick_and_sign_ups_keep_their_order_on_restore() {
    let mut room = workshop(2);
    for n in 1..=3 {
        register(&mut room, &attendee(n));
    }
    let kinds = |out: &[Output]| -> Vec<Value> {
        out.iter()
            .filter_map(|output| match output {
                Output::Publish(event) => serde_json::from_slice::<Value>(&event.staff)
                    .ok()
                    .map(|m| m["event"].clone()),
                _ => None,
            })
            .filter(|event| event["kind"] == "seats")
            .collect()
    };
    let seats = kinds(&tick(&mut room, "2026-11-28T10:00:00Z"));
    assert_eq!(seats.len(), 1, "three sign-ups, one event");
    assert_eq!(seats[0]["registered"], 2);
    assert_eq!(seats[0]["waitlisted"], 1);
    assert!(kinds(&tick(&mut room, "2026-11-28T10:00:01Z")).is_empty());

    let record = RoomRecord {
        people: SessionPeople {
            sign_ups: vec![
                ("w".into(), "a3".into(), 7),
                ("w".into(), "a1".into(), 2),
                ("w".into(), "a2".into(), 5),
            ],
            ..SessionPeople::default()
        },
        ..RoomRecord::default()
    };
    let mut restored = workshop_from(Some(2), record);
    assert_eq!(register(&mut restored, &attendee(3))["position"], 1);
    let out = sign_up(&mut restored, &attendee(4), true);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Persist(Change::SignUp { number: 8, .. }))),
        "a new sign-up ranks after every stored one"
    );
}

/// The reminders among outputs, as (recipients, session, minutes).
fn reminders(out: &[Output]) -> Vec<(Vec<UserId>, String, u64)> {
    to_people(out)
        .into_iter()
        .filter(|(_, message)| message["type"] == "reminder")
        .map(|(users, message)| {
            let session = message["session"].as_str().unwrap_or_default().to_owned();
            (users, session, message["minutes"].as_u64().unwrap_or(0))
        })
        .collect()
}

#[test]
fn a_bookmarked_session_is_reminded_once_at_its_time_and_never_after_a_restart() {
    let mut room = room(100);
    let bookmark = |session: &str, on| Action::Bookmark {
        session: session.into(),
        on,
    };
    act(&mut room, &attendee(1), bookmark("open", true));
    act(&mut room, &attendee(2), bookmark("open", true));
    act(&mut room, &attendee(2), bookmark("open", false));
    // The talk (10:30) has started by the time anyone is due a reminder of it.
    act(&mut room, &attendee(3), bookmark("talk", true));
    let out = act(&mut room, &attendee(1), bookmark("nope", true));
    assert_eq!(replies(&out, attendee(1).conn)[0]["code"], "not_found");

    assert!(reminders(&tick(&mut room, "2026-11-28T11:49:59Z")).is_empty());
    assert_eq!(
        reminders(&tick(&mut room, "2026-11-28T11:50:00Z")),
        [(vec!["a1".to_owned()], "open".to_owned(), 10)],
        "ten minutes before, to whoever still has it bookmarked"
    );
    assert!(reminders(&tick(&mut room, "2026-11-28T11:51:00Z")).is_empty());
    // A late bookmark is reminded at the next tick.
    act(&mut room, &attendee(4), bookmark("open", true));
    let late = reminders(&tick(&mut room, "2026-11-28T11:55:30Z"));
    assert_eq!(late, [(vec!["a4".to_owned()], "open".to_owned(), 5)]);

    // What was stored comes back: the restored room reminds nobody again.
    let record = RoomRecord {
        people: SessionPeople {
            bookmarks: vec![("open".into(), "a1".into()), ("open".into(), "a4".into())],
            reminded: vec![("open".into(), "a1".into()), ("open".into(), "a4".into())],
            ..SessionPeople::default()
        },
        ..RoomRecord::default()
    };
    let mut restored = Room::restore(room.setup().clone(), record, room.limits());
    assert!(reminders(&tick(&mut restored, "2026-11-28T11:52:00Z")).is_empty());
}

#[test]
fn presence_counts_people_not_connections_and_a_second_join_is_not_a_second_connection() {
    let mut room = room(100);
    let presence = |room: &mut Room| {
        let mut out = Vec::new();
        room.handle(now(), Input::Tick, &mut out);
        out.iter()
            .find_map(|output| match output {
                Output::Broadcast { frame, .. } => {
                    let message: Value = serde_json::from_slice(frame).expect("JSON");
                    (message["type"] == "presence").then(|| message["count"].clone())
                }
                _ => None,
            })
            .expect("presence changed")
    };
    let leave = |room: &mut Room, conn: ConnId| {
        let input = Input::Leave {
            conn,
            reply: false,
            reference: None,
        };
        room.handle(now(), input, &mut Vec::new());
    };
    let ada = attendee(1);
    let ada_again = Caller {
        conn: 60_001,
        ..ada.clone()
    };
    join(&mut room, &ada, None);
    join(&mut room, &ada, Some(0));
    join(&mut room, &ada_again, None);
    join(&mut room, &attendee(2), None);
    assert_eq!(presence(&mut room), 2);
    leave(&mut room, ada.conn);
    leave(&mut room, attendee(2).conn);
    assert_eq!(presence(&mut room), 1, "Ada's other tab is still here");
    leave(&mut room, ada_again.conn);
    assert_eq!(
        presence(&mut room),
        0,
        "nobody is left, however often Ada joined"
    );
}
