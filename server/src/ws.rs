//! One WebSocket connection: a reader that turns client frames into room commands, and a
//! writer that drains the connection's bounded [`Outbox`] and its rooms' feeds, and writes
//! each batch to the socket at once (the framing is ours: [`wire`]).
//!
//! Every client frame gets an answer or goes to a room that answers it; a bad frame gets an
//! `error` with a stable code and the connection stays open. Nothing a client sends panics.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use futures_util::StreamExt;
use plenary_protocol::{
    ClientMessage, Envelope, ErrorCode, MAX_NAME_CHARS, MAX_REF_CHARS, PcKind, Ref, RoomId,
    ServerMessage,
};
use tungstenite::Message;

use std::time::{Duration, Instant};

use crate::auth::{Claims, PERSONAL_TOKEN_DAYS, random_hex, unix_now};
use crate::hub::room::checked_text;
use crate::hub::{
    Action, Caller, CloseReason, ConnId, Input, Listing, Outbox, OutboxReceiver, Person,
    RoomHandle, encode,
};
use crate::people::{Bucket, Limited, Slot};
use crate::rtc::RtcError;
use crate::state::AppState;

mod wire;
pub use wire::accept;

/// Frames the writer puts into one write, at most.
const WRITE_BATCH: usize = 64;

/// Refused frames after which a flooding connection is closed.
const FLOOD_STRIKES: u32 = 100;

/// Serve one upgraded connection until it closes.
pub async fn serve(upgraded: hyper::upgrade::Upgraded, state: AppState) {
    let conn = state.hub.new_conn();
    let config = Arc::clone(&state.config);
    let (outbox, receiver) = Outbox::new(config.outbox_frames);
    let (mut stream, socket) = wire::open(upgraded, config.max_frame_bytes).await;
    // The reader hands the payload of the latest ping to the writer, which answers it.
    let pinged = Arc::new(Pinged::default());
    let writer = state.tasks.spawn(write(
        socket,
        receiver,
        Arc::clone(&pinged),
        config.ping_interval,
    ));
    let mut session = Session {
        conn,
        person: None,
        slot: None,
        listing: None,
        joined: HashSet::new(),
        frames: config
            .frame_rate
            .map(|rate| Bucket::new(rate, Instant::now())),
        refused_frames: 0,
        outbox: outbox.clone(),
        state: state.clone(),
    };
    let shutdown = state.shutdown.clone();
    let hello_deadline = tokio::time::sleep(config.hello_timeout);
    tokio::pin!(hello_deadline);
    let mut idle_check = tokio::time::interval_at(
        tokio::time::Instant::now() + config.ping_interval,
        config.ping_interval,
    );
    let mut last_heard = Instant::now();
    loop {
        let frame = tokio::select! {
            () = shutdown.cancelled() => {
                outbox.close(CloseReason {
                    code: plenary_protocol::close::RESTARTING,
                    reason: "server restarting: reconnect",
                });
                break;
            }
            () = outbox.closed() => break,
            () = &mut hello_deadline, if session.person.is_none() => {
                outbox.close(CloseReason {
                    code: plenary_protocol::close::POLICY,
                    reason: "no hello in time",
                });
                break;
            }
            _ = idle_check.tick() => {
                if last_heard.elapsed() > config.idle_timeout {
                    outbox.close(CloseReason {
                        code: plenary_protocol::close::IDLE,
                        reason: "no answer to ping",
                    });
                    break;
                }
                continue;
            }
            frame = stream.next() => frame,
        };
        last_heard = Instant::now();
        if let Some(Ok(Message::Text(_) | Message::Binary(_))) = &frame {
            match session.admit_frame(last_heard) {
                FrameVerdict::Accept => {}
                FrameVerdict::Refuse => {
                    session.refuse(
                        None,
                        ErrorCode::RateLimited,
                        "too many messages: slow down".into(),
                    );
                    continue;
                }
                FrameVerdict::Close => {
                    outbox.close(CloseReason {
                        code: plenary_protocol::close::POLICY,
                        reason: "flooding: too many messages",
                    });
                    break;
                }
            }
        }
        match frame {
            // Boxed, like the goodbyes below: what a message may lead to (the SFU, the store,
            // every room) is a large future, and held inline it would make every idle
            // connection's task that large (11 KiB instead of 2).
            Some(Ok(Message::Text(text))) => Box::pin(session.receive(text.as_str())).await,
            Some(Ok(Message::Binary(_))) => session.refuse(
                None,
                ErrorCode::BadRequest,
                "binary frames are not supported: send JSON text".into(),
            ),
            Some(Ok(Message::Ping(payload))) => pinged.set(payload),
            Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(_))) | None => break,
            Some(Err(error)) => {
                tracing::debug!(conn, %error, "websocket read failed");
                if let Some(reason) = close_reason_for(error) {
                    outbox.close(reason);
                }
                break;
            }
        }
    }
    // The peer hears the close now (a close it sent is answered at once), while the rooms and
    // the SFU let go of the connection (unless it was closed for a reason of its own).
    outbox.close(CloseReason {
        code: 1000,
        reason: "bye",
    });
    Box::pin(session.leave_all()).await;
    Box::pin(state.sfu.disconnect(conn)).await;
    let _ = writer.await;
}

/// The close frame owed to a peer whose frame could not be read, if it can still be told.
fn close_reason_for(error: tungstenite::Error) -> Option<CloseReason> {
    use tungstenite::error::{CapacityError, Error};
    match error {
        Error::Capacity(CapacityError::MessageTooLong { .. }) => Some(CloseReason {
            code: plenary_protocol::close::TOO_LARGE,
            reason: "message too large",
        }),
        Error::Capacity(_) | Error::Protocol(_) => Some(CloseReason {
            code: 1002,
            reason: "websocket protocol error",
        }),
        Error::Utf8(_) => Some(CloseReason {
            code: 1007,
            reason: "text frame is not valid UTF-8",
        }),
        _ => None,
    }
}

/// Drain the outbox and the joined rooms' feeds into the socket until the connection is told
/// to close; answer the peer's pings.
async fn write(
    mut socket: wire::Writer,
    mut receiver: OutboxReceiver,
    pinged: Arc<Pinged>,
    ping_interval: Duration,
) {
    /// What the writer does next.
    enum Next {
        Close(CloseReason),
        /// A batch was put into the socket's buffer (false: nothing more will come).
        Batch(bool),
        Ping,
        Pong,
    }
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    let closing = receiver.closing();
    tokio::pin!(closing);
    loop {
        // Every wait, including a write blocked on a peer that stopped reading, gives way
        // to closing: a lagging or dead connection is let go now, not after its backlog.
        // Pings and pongs come before the next batch: a connection that always has more to
        // read must still ping, and answer the peer's pings, or it would be closed as idle.
        let next = tokio::select! {
            biased;
            reason = &mut closing => Next::Close(reason),
            _ = ping.tick() => Next::Ping,
            () = pinged.bell.rung() => Next::Pong,
            more = receiver.next_batch(&mut socket, WRITE_BATCH) => Next::Batch(more),
        };
        match next {
            Next::Close(reason) => return say_goodbye(&mut socket, reason).await,
            Next::Batch(false) => {
                if let Some(reason) = receiver.close_reason() {
                    say_goodbye(&mut socket, reason).await;
                }
                return;
            }
            Next::Batch(true) => {}
            Next::Ping => socket.ping(),
            Next::Pong => socket.pong(&pinged.take()),
        }
        let sent = tokio::select! {
            biased;
            sent = socket.send() => sent,
            reason = &mut closing => return say_goodbye(&mut socket, reason).await,
        };
        if sent.is_err() {
            return;
        }
    }
}

/// The payload of the latest ping the reader saw, for the writer to answer.
#[derive(Default)]
struct Pinged {
    payload: std::sync::Mutex<Bytes>,
    bell: crate::hub::feed::Bell,
}

impl Pinged {
    fn set(&self, payload: Bytes) {
        *self.payload.lock().unwrap_or_else(PoisonError::into_inner) = payload;
        self.bell.ring();
    }

    fn take(&self) -> Bytes {
        std::mem::take(&mut *self.payload.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// How long a close frame may take to leave before the connection is simply dropped.
const GOODBYE: Duration = Duration::from_secs(1);

/// Send the close frame if the peer can still take it.
async fn say_goodbye(socket: &mut wire::Writer, reason: CloseReason) {
    let _ = tokio::time::timeout(GOODBYE, socket.close(reason.code, reason.reason)).await;
}

/// What to do with a frame, given the connection's frame allowance.
enum FrameVerdict {
    Accept,
    /// Over the allowance: answer `rate_limited` and drop it.
    Refuse,
    /// Over the allowance too often: the connection is flooding.
    Close,
}

struct Session {
    conn: ConnId,
    /// Who this is, once they said hello.
    person: Option<Arc<Person>>,
    /// This connection's place among the person's connections, held until it closes.
    slot: Option<Slot>,
    /// This connection's outbox among the person's, for what reaches them wherever they
    /// are (reminders, a place that freed); held until it closes.
    listing: Option<Listing>,
    /// The connection's frame allowance (`None`: unlimited).
    frames: Option<Bucket>,
    /// Frames refused so far for exceeding the allowance.
    refused_frames: u32,
    /// Rooms joined on this connection, to leave when it closes.
    joined: HashSet<RoomId>,
    outbox: Outbox,
    state: AppState,
}

/// A parsed frame: the client's `ref` and its message.
type Parsed = (Option<Ref>, ClientMessage);

/// Parse a client frame, telling malformed JSON (`bad_request`) from an unknown `type`.
pub fn parse(text: &str) -> Result<Parsed, (Option<Ref>, ErrorCode, String)> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|error| {
        (
            None,
            ErrorCode::BadRequest,
            format!("expected a JSON object with a string \"type\": {error}"),
        )
    })?;
    let reference = envelope.reference;
    if let Some(Ref::Text(text)) = &reference {
        if text.chars().count() > MAX_REF_CHARS {
            return Err((
                None,
                ErrorCode::BadRequest,
                format!("ref is longer than {MAX_REF_CHARS} characters"),
            ));
        }
    }
    if !ClientMessage::TYPES.contains(&envelope.kind.as_str()) {
        return Err((
            reference,
            ErrorCode::UnknownType,
            format!("unknown message type {:?}", envelope.kind),
        ));
    }
    match serde_json::from_str(text) {
        Ok(message) => Ok((reference, message)),
        Err(error) => Err((reference, ErrorCode::BadRequest, error.to_string())),
    }
}

impl Session {
    fn admit_frame(&mut self, now: Instant) -> FrameVerdict {
        let Some(bucket) = &mut self.frames else {
            return FrameVerdict::Accept;
        };
        if bucket.take(now) {
            return FrameVerdict::Accept;
        }
        self.refused_frames += 1;
        if self.refused_frames > FLOOD_STRIKES {
            FrameVerdict::Close
        } else {
            FrameVerdict::Refuse
        }
    }

    fn send(&self, message: &ServerMessage) {
        self.outbox.push(encode(message));
    }

    fn refuse(&self, reference: Option<Ref>, code: ErrorCode, message: String) {
        self.send(&ServerMessage::Error {
            reference,
            code,
            message,
        });
    }

    async fn receive(&mut self, text: &str) {
        match parse(text) {
            Ok((reference, message)) => self.dispatch(reference, message).await,
            Err((reference, code, message)) => self.refuse(reference, code, message),
        }
    }

    async fn dispatch(&mut self, reference: Option<Ref>, message: ClientMessage) {
        let (token, name) = match message {
            ClientMessage::Hello { token, name } => (token, name),
            message => return self.dispatch_signed_in(reference, message).await,
        };
        self.hello(reference, token, name);
    }

    async fn dispatch_signed_in(&mut self, reference: Option<Ref>, message: ClientMessage) {
        let Some(person) = self.person.clone() else {
            return self.refuse(reference, ErrorCode::Unauthorized, "say hello first".into());
        };
        if let Some(action) = limited(&message) {
            if !self
                .state
                .people
                .allow(&person.user.id, action, Instant::now())
            {
                return self.refuse(
                    reference,
                    ErrorCode::RateLimited,
                    "too many of these too fast: wait a moment".into(),
                );
            }
        }
        let caller = Caller {
            conn: self.conn,
            person,
        };
        let hub = Arc::clone(&self.state.hub);
        // Where the message goes, and what it asks; `None` where it was answered already.
        let routed: Option<(Option<RoomHandle>, Input)> = match message {
            ClientMessage::Hello { .. } => unreachable!("hello is dispatched before"),
            ClientMessage::Join { room, since } => {
                let handle = hub.room(&room);
                if handle.is_some() {
                    self.joined.insert(room);
                }
                let input = Input::Join {
                    caller,
                    since,
                    reference: reference.clone(),
                };
                Some((handle, input))
            }
            ClientMessage::Leave { room } => {
                self.joined.remove(&room);
                self.state.sfu.leave(self.conn, &room).await;
                let input = Input::Leave {
                    conn: self.conn,
                    reply: true,
                    reference: reference.clone(),
                };
                Some((hub.room(&room), input))
            }
            ClientMessage::Ask {
                session,
                text,
                anonymous,
                client_id,
            } => match hub.new_question(&session) {
                Some((id, handle)) => {
                    let action = Action::Ask {
                        id,
                        session,
                        text,
                        anonymous,
                        client_id,
                    };
                    Some((Some(handle), act(caller, &reference, action)))
                }
                None => {
                    let message = format!("no session {session}");
                    self.refuse(reference.clone(), ErrorCode::NotFound, message);
                    None
                }
            },
            ClientMessage::CreatePoll {
                room,
                question,
                options,
                multiple,
            } => match hub.new_poll(&room) {
                Some((id, handle)) => {
                    let action = Action::CreatePoll {
                        id,
                        question,
                        options,
                        multiple,
                    };
                    Some((Some(handle), act(caller, &reference, action)))
                }
                None => {
                    self.refuse(
                        reference.clone(),
                        ErrorCode::NotFound,
                        format!("no room {room}"),
                    );
                    None
                }
            },
            ClientMessage::Agenda => {
                self.agenda(reference.clone(), &caller.person).await;
                None
            }
            message @ (ClientMessage::RtcPublish { .. }
            | ClientMessage::RtcSubscribe { .. }
            | ClientMessage::RtcAnswer { .. }
            | ClientMessage::RtcCandidate { .. }
            | ClientMessage::RtcUnpublish { .. }
            | ClientMessage::RtcUnsubscribe { .. }
            | ClientMessage::RtcMove { .. }) => {
                self.rtc(reference.clone(), caller, message).await;
                None
            }
            message => {
                let (handle, action) = route(&hub, message);
                Some((handle, act(caller, &reference, action)))
            }
        };
        let Some((handle, input)) = routed else {
            return;
        };
        match handle {
            Some(handle) => self.to_room(&handle, input).await,
            None => self.refuse(
                reference,
                ErrorCode::NotFound,
                "no such room, session, question or poll".into(),
            ),
        }
    }

    /// Signalling: the SFU carries it out; the answer or error goes to this connection.
    async fn rtc(&self, reference: Option<Ref>, caller: Caller, message: ClientMessage) {
        let sfu = Arc::clone(&self.state.sfu);
        let outbox = self.outbox.clone();
        let conn = self.conn;
        let ack = || {
            Some(ServerMessage::Ack {
                reference: reference.clone(),
                id: None,
            })
        };
        let answered: Result<Option<ServerMessage>, RtcError> = match message {
            ClientMessage::RtcPublish { room, sdp, sources } => sfu
                .publish(caller, outbox, room, sdp, sources, reference.clone())
                .await
                .map(Some),
            ClientMessage::RtcSubscribe { room } => {
                sfu.subscribe(caller, outbox, room).await.map(|()| ack())
            }
            ClientMessage::RtcAnswer { room, pc, sdp } => match pc {
                PcKind::Subscribe => sfu.answer(conn, &room, sdp).await.map(|()| ack()),
                PcKind::Publish => Err(RtcError {
                    code: ErrorCode::BadRequest,
                    message:
                        "the server answers publish offers: rtc_answer is for pc \"subscribe\""
                            .into(),
                }),
            },
            ClientMessage::RtcCandidate {
                room,
                pc,
                candidate,
            } => sfu
                .candidate(conn, &room, pc, candidate)
                .await
                .map(|()| None),
            ClientMessage::RtcUnpublish { room } => {
                sfu.unpublish(conn, &room).await.map(|()| ack())
            }
            ClientMessage::RtcUnsubscribe { room } => {
                sfu.unsubscribe(conn, &room).await.map(|()| ack())
            }
            ClientMessage::RtcMove { from, to } => sfu
                .move_tracks(caller, outbox, from, to)
                .await
                .map(|()| ack()),
            _ => unreachable!("only signalling is dispatched here"),
        };
        match answered {
            Ok(Some(message)) => self.send(&message),
            Ok(None) => {}
            Err(error) => self.refuse(reference, error.code, error.message),
        }
    }

    /// Answer `agenda` from the store.
    async fn agenda(&self, reference: Option<Ref>, person: &Person) {
        match self.state.hub.agenda(&person.user.id).await {
            Ok((bookmarks, registrations)) => self.send(&ServerMessage::Agenda {
                reference,
                bookmarks,
                registrations,
            }),
            Err(error) => {
                tracing::error!(%error, "reading an agenda failed");
                self.refuse(
                    reference,
                    ErrorCode::Internal,
                    "could not read the agenda; try again".into(),
                );
            }
        }
    }

    async fn to_room(&self, room: &RoomHandle, input: Input) {
        if room.send(input, self.outbox.clone()).await.is_err() {
            self.refuse(
                None,
                ErrorCode::Internal,
                "the room is closed: the server is restarting".into(),
            );
        }
    }

    fn hello(&mut self, reference: Option<Ref>, token: Option<String>, name: Option<String>) {
        if self.person.is_some() {
            return self.refuse(
                reference,
                ErrorCode::Conflict,
                "hello was already said".into(),
            );
        }
        let keys = &self.state.keys;
        let claims = match token.as_deref().map(|token| keys.verify(token)) {
            Some(Ok(claims)) if !claims.invite => {
                let person = Person {
                    user: claims.user(),
                    rooms: claims.rooms,
                };
                return self.welcome(reference, person, None);
            }
            Some(Ok(invite)) => Some(invite),
            Some(Err(error)) => {
                return self.refuse(
                    reference,
                    ErrorCode::Unauthorized,
                    format!("the token was refused ({error}): ask for a new link"),
                );
            }
            None => None,
        };
        // An invite or no token at all: a new person, with a personal token to come back with.
        let name = match name
            .as_deref()
            .map(|name| checked_text(name, MAX_NAME_CHARS, "name"))
        {
            Some(Ok(name)) => name.chars().filter(|c| !c.is_control()).collect(),
            Some(Err((code, message))) => return self.refuse(reference, code, message),
            None => format!("Guest {}", &random_hex(2)),
        };
        let (role, rooms) = claims.map_or((plenary_protocol::Role::Attendee, None), |invite| {
            (invite.role, invite.rooms)
        });
        let mut personal = Claims::new(
            format!("u-{}", random_hex(8)),
            name,
            role,
            unix_now(),
            PERSONAL_TOKEN_DAYS,
        );
        personal.rooms = rooms;
        let token = keys.issue(&personal);
        let person = Person {
            user: personal.user(),
            rooms: personal.rooms,
        };
        self.welcome(reference, person, Some(token));
    }

    fn welcome(&mut self, reference: Option<Ref>, person: Person, token: Option<String>) {
        match self.state.people.connect(&person.user.id) {
            Ok(slot) => self.slot = Some(slot),
            Err(error) => {
                return self.refuse(reference, ErrorCode::TooManyConnections, error.to_string());
            }
        }
        self.send(&ServerMessage::Welcome {
            reference,
            user: person.user.clone(),
            token,
            ice_servers: self.state.sfu.ice_servers(),
            rooms: person.rooms.clone(),
        });
        self.listing = Some(self.state.hub.person_outboxes().list(
            person.user.id.clone(),
            self.conn,
            self.outbox.clone(),
        ));
        self.person = Some(Arc::new(person));
    }

    async fn leave_all(&mut self) {
        for room in std::mem::take(&mut self.joined) {
            if let Some(handle) = self.state.hub.room(&room) {
                let input = Input::Leave {
                    conn: self.conn,
                    reply: false,
                    reference: None,
                };
                let _ = handle.send(input, self.outbox.clone()).await;
            }
        }
    }
}

/// The per-person allowance a message spends from, if any.
fn limited(message: &ClientMessage) -> Option<Limited> {
    match message {
        ClientMessage::Chat { .. } => Some(Limited::Chat),
        ClientMessage::Ask { .. } => Some(Limited::Ask),
        ClientMessage::Vote { .. } | ClientMessage::Unvote { .. } => Some(Limited::Vote),
        ClientMessage::React { .. } => Some(Limited::React),
        _ => None,
    }
}

fn act(caller: Caller, reference: &Option<Ref>, action: Action) -> Input {
    Input::Act {
        caller,
        reference: reference.clone(),
        action,
    }
}

/// The room that carries out a message, and the action it asks for. Messages that create
/// something (a question, a poll) or are answered by the connection itself are routed in
/// `Session::dispatch_signed_in`.
fn route(hub: &crate::hub::Hub, message: ClientMessage) -> (Option<RoomHandle>, Action) {
    match message {
        ClientMessage::Chat {
            room,
            text,
            client_id,
            reply_to,
        } => (
            hub.room(&room),
            Action::Chat {
                text,
                client_id,
                reply_to,
            },
        ),
        ClientMessage::ChatHistory {
            room,
            before,
            limit,
        } => (hub.room(&room), Action::ChatHistory { before, limit }),
        ClientMessage::RemoveChat { room, id } => (hub.room(&room), Action::RemoveChat { id }),
        ClientMessage::Mute {
            room,
            user,
            minutes,
        } => (hub.room(&room), Action::Mute { user, minutes }),
        ClientMessage::Unmute { room, user } => (hub.room(&room), Action::Unmute { user }),
        ClientMessage::RemovePerson { room, user } => {
            (hub.room(&room), Action::RemovePerson { user })
        }
        ClientMessage::Vote { question } => {
            (hub.room_of_question(question), Action::Vote { question })
        }
        ClientMessage::Unvote { question } => {
            (hub.room_of_question(question), Action::Unvote { question })
        }
        ClientMessage::Moderate {
            question,
            action,
            text,
            into,
        } => (
            hub.room_of_question(question),
            Action::Moderate {
                question,
                action,
                text,
                into,
            },
        ),
        ClientMessage::SetQa { session, open } => (
            hub.room_of_session(&session),
            Action::SetQa { session, open },
        ),
        ClientMessage::ModerationLog { session } => (
            hub.room_of_session(&session),
            Action::ModerationLog { session },
        ),
        ClientMessage::PollAction { poll, action } => {
            (hub.room_of_poll(poll), Action::PollAction { poll, action })
        }
        ClientMessage::PollVote { poll, choices } => {
            (hub.room_of_poll(poll), Action::PollVote { poll, choices })
        }
        ClientMessage::React { room, emoji } => (hub.room(&room), Action::React { emoji }),
        ClientMessage::Hand { room, raised } => (hub.room(&room), Action::Hand { raised }),
        ClientMessage::ClearHands { room, user } => (hub.room(&room), Action::ClearHands { user }),
        ClientMessage::SessionControl {
            session,
            action,
            minutes,
        } => (
            hub.room_of_session(&session),
            Action::SessionControl {
                session,
                action,
                minutes,
            },
        ),
        ClientMessage::GrantStage {
            room,
            user,
            allowed,
        } => (hub.room(&room), Action::GrantStage { user, allowed }),
        ClientMessage::Bookmark { session } => (
            hub.room_of_session(&session),
            Action::Bookmark { session, on: true },
        ),
        ClientMessage::Unbookmark { session } => (
            hub.room_of_session(&session),
            Action::Bookmark { session, on: false },
        ),
        ClientMessage::Register { session } => (
            hub.room_of_session(&session),
            Action::Register { session, on: true },
        ),
        ClientMessage::Unregister { session } => (
            hub.room_of_session(&session),
            Action::Register { session, on: false },
        ),
        ClientMessage::Hello { .. }
        | ClientMessage::Agenda
        | ClientMessage::Join { .. }
        | ClientMessage::Leave { .. }
        | ClientMessage::Ask { .. }
        | ClientMessage::CreatePoll { .. }
        | ClientMessage::RtcPublish { .. }
        | ClientMessage::RtcSubscribe { .. }
        | ClientMessage::RtcAnswer { .. }
        | ClientMessage::RtcCandidate { .. }
        | ClientMessage::RtcUnpublish { .. }
        | ClientMessage::RtcUnsubscribe { .. }
        | ClientMessage::RtcMove { .. } => {
            unreachable!("routed by Session::dispatch_signed_in")
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// JSON values shaped like client messages: known and unknown types, the usual field
    /// names with values of every JSON type, nested at random.
    fn message_like() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            ".{0,20}".prop_map(Value::String),
            prop::sample::select(ClientMessage::TYPES.to_vec()).prop_map(|t| json!(t)),
        ];
        let value = leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        });
        let field = prop::sample::select(vec![
            "type",
            "ref",
            "room",
            "text",
            "since",
            "session",
            "question",
            "action",
            "id",
            "token",
            "name",
            "anonymous",
            "client_id",
        ]);
        prop::collection::btree_map(field, value, 0..7).prop_map(|map| {
            Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        })
    }

    fn check(text: &str) {
        let known = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|value| value.get("type").and_then(Value::as_str).map(str::to_owned))
            .map(|kind| ClientMessage::TYPES.contains(&kind.as_str()));
        match parse(text) {
            Ok(_) => assert_eq!(known, Some(true), "only known types parse: {text}"),
            Err((_, ErrorCode::UnknownType, _)) => {
                assert_eq!(
                    known,
                    Some(false),
                    "unknown_type only for an unknown type: {text}"
                )
            }
            Err((_, code, message)) => {
                assert_eq!(code, ErrorCode::BadRequest, "{text}");
                assert!(!message.is_empty());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn any_text_parses_or_gets_an_error_code(text in any::<String>()) {
            check(&text);
        }

        #[test]
        fn any_message_shaped_json_parses_or_gets_an_error_code(value in message_like()) {
            check(&value.to_string());
        }
    }

    #[test]
    fn a_known_type_with_bad_fields_keeps_its_ref_on_the_error() {
        let error = parse(r#"{"type":"chat","ref":"r1","room":5}"#).expect_err("room is a string");
        assert!(
            parse(r#"{"type":"chat","ref":2,"room":"r","text":"t"}"#)
                .is_ok_and(|(r, _)| r == Some(Ref::Number(2)))
        );
        assert_eq!(error.0, Some(Ref::Text("r1".into())));
        assert_eq!(error.1, ErrorCode::BadRequest);
    }
}
