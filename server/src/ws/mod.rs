//! One WebSocket connection: a reader that turns client frames into room commands, and a
//! writer that drains the connection's bounded [`Outbox`] and its rooms' feeds, and writes
//! each batch to the socket at once (the framing is ours: [`wire`]).
//!
//! Every client frame gets an answer or goes to a room that answers it; a bad frame gets an
//! `error` with a stable code and the connection stays open. Nothing a client sends panics.
//!
//! This module is the reader: [`serve`] and the connection's [`Session`], which enforces the
//! connection rules (hello within a deadline, the idle timeout, the per-connection frame
//! allowance, the per-person allowances) and carries out each message's [`Route`]. Beside it:
//! [`parse`](mod@parse) reads a frame, [`route`](mod@route) says where a message goes,
//! [`hello`] says who the connection is, [`rtc`] hands signalling to the SFU, [`writer`] is
//! the writer task.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use plenary_protocol::{ClientMessage, ErrorCode, Ref, RoomId, ServerMessage};
use tungstenite::Message;

use crate::hub::{
    Action, Caller, CloseReason, ConnId, Input, Listing, Outbox, Person, RoomHandle, encode,
};
use crate::people::{Bucket, Slot};
use crate::state::AppState;

mod hello;
mod parse;
mod remote;
mod route;
mod rtc;
mod wire;
mod writer;

use parse::parse;
use route::{ForRoom, Route, To, route};
use writer::{Pinged, write};

pub use remote::{RemoteSessions, Uplink};
pub use wire::accept;

/// Why a connection is closed when the server shuts down.
const RESTARTING: CloseReason = CloseReason {
    code: plenary_protocol::close::RESTARTING,
    reason: "server restarting: reconnect",
};

/// Refused frames after which a flooding connection is closed.
const FLOOD_STRIKES: u32 = 100;

/// Serve one upgraded connection until it closes.
pub async fn serve(upgraded: hyper::upgrade::Upgraded, state: AppState) {
    let conn = state.hub.new_conn();
    state.metrics.connections_opened.increment(1);
    state.metrics.connections.increment(1);
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
                outbox.close(RESTARTING);
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
                    state.metrics.rate_limited("frame");
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
    match &state.uplink {
        // Its rooms and media were on the node that runs the conference.
        Some(uplink) => uplink.close(conn),
        None => {
            Box::pin(session.leave_all()).await;
            Box::pin(state.sfu.disconnect(conn)).await;
        }
    }
    let code = writer.await.ok().flatten();
    state.metrics.connection_closed(code);
    state.metrics.connections.decrement(1);
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
            Ok((reference, message)) => {
                // On a node that does not run the conference, a signed-in person's messages
                // go as they came to the node that does, which answers them.
                if let (Some(uplink), Some(_)) = (&self.state.uplink, &self.person) {
                    if !matches!(message, ClientMessage::Hello { .. }) {
                        return uplink.send(self.conn, text);
                    }
                }
                self.dispatch(reference, message).await
            }
            Err((reference, code, message)) => self.refuse(reference, code, message),
        }
    }

    async fn dispatch(&mut self, reference: Option<Ref>, message: ClientMessage) {
        let (limit, to) = match route(message) {
            Route::Hello { token, name } => return self.hello(reference, token, name),
            Route::SignedIn { limit, to } => (limit, to),
        };
        let Some(person) = self.person.clone() else {
            return self.refuse(reference, ErrorCode::Unauthorized, "say hello first".into());
        };
        if let Some(action) = limit {
            if !self
                .state
                .people
                .allow(&person.user.id, action, Instant::now())
            {
                self.state.metrics.rate_limited(action.as_str());
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
        match to {
            To::Agenda => self.agenda(reference, &caller.person).await,
            To::Sfu(signal) => self.rtc(reference, caller, signal).await,
            To::Room(request) => self.for_room(reference, caller, request).await,
        }
    }

    /// Find the room a request is for and send it there; what the room does not answer
    /// itself (no such room, session, question or poll) is `not_found`.
    async fn for_room(&mut self, reference: Option<Ref>, caller: Caller, request: ForRoom) {
        let hub = Arc::clone(&self.state.hub);
        let (handle, input) = match request {
            ForRoom::Join { room, since } => {
                let handle = hub.room(&room);
                if handle.is_some() {
                    self.joined.insert(room);
                }
                let input = Input::Join {
                    caller,
                    since,
                    reference: reference.clone(),
                };
                (handle, input)
            }
            ForRoom::Leave { room } => {
                self.joined.remove(&room);
                self.state.sfu.leave(self.conn, &room).await;
                let input = Input::Leave {
                    conn: self.conn,
                    reply: true,
                    reference: reference.clone(),
                };
                (hub.room(&room), input)
            }
            ForRoom::Act(target, action) => (target.room(&hub), act(caller, &reference, action)),
            ForRoom::Ask {
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
                    (Some(handle), act(caller, &reference, action))
                }
                None => {
                    let message = format!("no session {session}");
                    return self.refuse(reference, ErrorCode::NotFound, message);
                }
            },
            ForRoom::CreatePoll {
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
                    (Some(handle), act(caller, &reference, action))
                }
                None => {
                    return self.refuse(reference, ErrorCode::NotFound, format!("no room {room}"));
                }
            },
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

    /// Answer `agenda` from the store.
    async fn agenda(&self, reference: Option<Ref>, person: &Person) {
        match self.state.hub.agenda(&person.user.id).await {
            Ok(agenda) => self.send(&ServerMessage::Agenda {
                reference,
                bookmarks: agenda.bookmarks,
                registrations: agenda.registrations,
                seats: agenda.seats,
            }),
            Err(error) => {
                tracing::error!(%error, user = %person.user.id, "reading an agenda failed");
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

fn act(caller: Caller, reference: &Option<Ref>, action: Action) -> Input {
    Input::Act {
        caller,
        reference: reference.clone(),
        action,
    }
}
