//! The hub: every live room, and the way connections reach them.
//!
//! Each room runs as one task (`actor`, on the rooms' own thread: [`room_thread`]) that owns
//! its [`room::Room`] state; connections talk to it through a bounded command channel
//! ([`RoomHandle`]) and hear back through the room's [`feed::Feed`] (events, read by every
//! member's writer) and their own bounded [`Outbox`] (replies, fenced among the events). The
//! [`Hub`] is a directory of handles only: no lock is ever held across an `.await`, and room
//! state is touched by its own task alone.
//!
//! No axum and no sockets here: the WebSocket layer (`ws`) turns frames into commands.
//!
//! This file is the directory and the programme edits; the rest lives beside it, each module
//! importing only those listed before it: `person` and `frame` (leaves), `kick` (a
//! connection's close signal and doorbell), `feed` (a room's ring), `outbox` (a connection's
//! delivery), `mirror` (copies of feeds of rooms that run on another node of a cluster),
//! `personal` (delivery to a person), `room` (the state machine), `handle` (the way into a
//! room's task), `actor` (the task), `thread` (where the tasks run). None imports this
//! file; other layers reach the hub through its re-exports.

mod actor;
pub mod feed;
pub mod frame;
mod handle;
mod kick;
pub mod mirror;
mod outbox;
pub mod person;
pub mod personal;
pub mod room;
mod thread;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use dashmap::DashMap;
use plenary_protocol::{
    PollId, QuestionId, Registration, RoomId, RoomKind, SeatCount, SessionId, SessionSeats,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::programme::Programme;
use crate::store::{Persister, RoomRecord, SessionPeople, Store, StoreError};
pub use feed::{Entry, FeedId, Fence, Tap};
pub use frame::{Frames, encode};
pub use handle::{Command, MediaRevoked, RoomClosed, RoomHandle};
pub use kick::{Bell, CloseReason};
pub use mirror::{Mirrors, Relayed};
pub use outbox::{Outbox, OutboxReceiver, Outgoing, RemoteSink};
pub use person::{ConnId, Person};
pub use personal::{Listing, PersonOutboxes};
pub use room::{Action, Caller, Input, Refusal, RoomLimits, RoomSetup, SessionPlan, checked_text};
pub use thread::{RoomThread, room_thread};

/// A person's agenda, as `agenda` answers it ([`Hub::agenda`]).
#[derive(Debug)]
pub struct Agenda {
    /// The sessions they bookmarked, in programme order.
    pub bookmarks: Vec<SessionId>,
    /// Where they stand in the workshop sessions they signed up for.
    pub registrations: Vec<Registration>,
    /// How the places of every workshop session with a capacity are taken, in programme order.
    pub seats: Vec<SessionSeats>,
}

/// How the hub is tuned.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    pub room: RoomLimits,
    /// Commands queued per room before senders wait.
    pub room_queue: usize,
    /// Commands a room takes from its queue in one turn, and commits together.
    pub room_batch: usize,
    /// Entries of a room's feed a member may fall behind before it is closed as lagged.
    pub room_feed: usize,
}

/// The directory of rooms, and the programme they run.
pub struct Hub {
    /// The rooms of the current programme.
    rooms: DashMap<RoomId, RoomHandle>,
    /// Rooms an imported programme dropped. Their tasks stay (idle), so that a later programme
    /// that brings a room back gets the same task: one task per room id for the life of the
    /// process, so two tasks never write the same room's log.
    retired: DashMap<RoomId, RoomHandle>,
    /// Which room each question lives in, so `vote` and `moderate` can be routed.
    questions: DashMap<QuestionId, RoomId>,
    next_question: AtomicU64,
    /// Which room each poll lives in.
    polls: DashMap<PollId, RoomId>,
    next_poll: AtomicU64,
    next_conn: AtomicU64,
    /// Swapped whole by [`Hub::edit_programme`]; readers clone the `Arc` and let go.
    programme: RwLock<Arc<Programme>>,
    /// What starting a room needs.
    spawner: RoomSpawner,
    /// Programme edits happen one at a time, each on the result of the last, so none is
    /// lost and the store and the rooms always end up with the same programme.
    replacing: Arc<tokio::sync::Mutex<()>>,
    /// Each person's live connections, for what rooms tell one person wherever they are.
    person_outboxes: Arc<PersonOutboxes>,
}

/// What the hub needs to start a room's task.
struct RoomSpawner {
    context: actor::RoomContext,
    limits: HubLimits,
    tasks: TaskTracker,
    rooms: RoomThread,
}

/// What a hub starts from, besides the programme.
pub struct HubParts {
    pub store: Arc<dyn Store>,
    pub persister: Persister,
    pub limits: HubLimits,
    pub clock: Clock,
    /// Where rooms report media rights they take away, for the SFU.
    pub media_revoked: mpsc::Sender<MediaRevoked>,
    /// Where the rooms' tasks run ([`room_thread`]).
    pub rooms: RoomThread,
    /// Where each room counts its members, events and deliveries.
    pub metrics: Arc<Metrics>,
    /// Where rooms' feeds are copied to the other nodes of a cluster, if it is one.
    pub tap: Option<Arc<dyn feed::Tap>>,
}

/// What a room needs to know of the programme: its kind, and its sessions with whether their
/// Q&A is moderated.
fn setup_of(programme: &Programme, room: &crate::programme::RoomDef) -> RoomSetup {
    RoomSetup {
        id: room.id.clone(),
        kind: room.kind,
        capacity: room.capacity,
        sessions: programme
            .sessions_in(&room.id)
            .map(|session| {
                let plan = SessionPlan {
                    moderated: session.qa_moderated,
                    start: session.start,
                    end: session.end,
                };
                (session.id.clone(), plan)
            })
            .collect(),
    }
}

/// Run a blocking store call off the async runtime.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|error| StoreError::Corrupt(format!("a store call failed: {error}")))?
}

impl Hub {
    /// Load every room of the programme from the store and start its task.
    pub fn start(
        parts: HubParts,
        programme: Programme,
        tasks: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Result<Arc<Hub>, StoreError> {
        let HubParts {
            store,
            persister,
            limits,
            clock,
            media_revoked,
            rooms,
            metrics,
            tap,
        } = parts;
        let person_outboxes = Arc::new(PersonOutboxes::default());
        let hub = Hub {
            rooms: DashMap::new(),
            retired: DashMap::new(),
            questions: DashMap::new(),
            next_question: AtomicU64::new(store.max_question_id()? + 1),
            polls: DashMap::new(),
            next_poll: AtomicU64::new(store.max_poll_id()? + 1),
            next_conn: AtomicU64::new(1),
            programme: RwLock::new(Arc::new(programme)),
            spawner: RoomSpawner {
                context: actor::RoomContext {
                    batch: limits.room_batch.max(1),
                    feed: limits.room_feed,
                    persister,
                    store,
                    clock,
                    media_revoked,
                    person_outboxes: Arc::clone(&person_outboxes),
                    metrics,
                    tap,
                    shutdown: shutdown.clone(),
                },
                limits,
                tasks: tasks.clone(),
                rooms,
            },
            replacing: Arc::new(tokio::sync::Mutex::new(())),
            person_outboxes,
        };
        let programme = hub.programme();
        for room_def in &programme.rooms {
            let record = hub
                .spawner
                .context
                .store
                .load_room(&room_def.id, limits.room.load_limits())?;
            hub.start_room(setup_of(&programme, room_def), record);
        }
        Ok(Arc::new(hub))
    }

    /// Start a room's task from its stored record and list it in the directory.
    fn start_room(&self, setup: RoomSetup, record: RoomRecord) {
        let id = setup.id.clone();
        for question in &record.questions {
            self.questions.insert(question.question.id, id.clone());
        }
        for poll in &record.polls {
            self.polls.insert(poll.poll.id, id.clone());
        }
        let spawner = &self.spawner;
        let room = room::Room::restore(setup, record, spawner.limits.room);
        let (commands, queue) = mpsc::channel(spawner.limits.room_queue);
        let counts = spawner.context.metrics.room(&id);
        let room = actor::run(room, counts, queue, spawner.context.clone());
        spawner.tasks.spawn_on(
            spawner.rooms.tasks.track_future(room),
            &spawner.rooms.handle,
        );
        self.rooms.insert(id, RoomHandle { commands });
    }

    /// Change the programme: `edit` gets the current one and returns the new one with an
    /// answer, or refuses (and nothing changes). Edits run one at a time, each on the result
    /// of the last, so concurrent edits never lose each other. The new programme is stored
    /// (all or nothing; on failure nothing changes) before it is installed: a task starts for
    /// each new room, every room hears which sessions it now holds, and dropped rooms leave
    /// the directory. Sessions keep their questions when they keep their ids.
    ///
    /// Once the new programme is decided, storing and installing it run in a task of their
    /// own (holding the lock): a caller that goes away (an HTTP client hanging up) cannot
    /// leave the store with one programme and the rooms with another.
    pub async fn edit_programme<T, E: From<StoreError>>(
        self: &Arc<Self>,
        edit: impl FnOnce(&Programme) -> Result<(Programme, T), E>,
    ) -> Result<T, E> {
        let one_at_a_time = Arc::clone(&self.replacing).lock_owned().await;
        let (programme, answer) = edit(&self.programme())?;
        let hub = Arc::clone(self);
        self.spawner
            .tasks
            .spawn(async move {
                let installed = hub.install(programme).await;
                drop(one_at_a_time);
                installed
            })
            .await
            .map_err(|error| {
                StoreError::Corrupt(format!("installing a programme failed: {error}"))
            })??;
        Ok(answer)
    }

    /// Make an imported programme the conference's, keeping what a schedule file cannot say
    /// (see [`Programme::inherit`]).
    pub async fn import(self: &Arc<Self>, mut programme: Programme) -> Result<(), StoreError> {
        self.edit_programme(|current| {
            programme.inherit(current);
            Ok::<_, StoreError>((programme, ()))
        })
        .await
    }

    /// Store `programme` and make it the one the rooms run. Only under the edit lock.
    async fn install(&self, programme: Programme) -> Result<(), StoreError> {
        let before = self.programme();
        let programme = Arc::new(programme);
        let store = Arc::clone(&self.spawner.context.store);
        let saved = Arc::clone(&programme);
        blocking(move || store.save_programme(&saved)).await?;

        for room_def in &programme.rooms {
            let setup = setup_of(&programme, room_def);
            let known = self
                .room(&room_def.id)
                .or_else(|| self.retired.remove(&room_def.id).map(|(_, handle)| handle));
            match known {
                Some(handle) => {
                    // Sessions that moved here bring their bookmarks and sign-ups along.
                    let arrived: Vec<SessionId> = programme
                        .sessions_in(&room_def.id)
                        .filter(|session| {
                            before
                                .session(&session.id)
                                .is_none_or(|was| was.room != room_def.id)
                        })
                        .map(|session| session.id.clone())
                        .collect();
                    let store = Arc::clone(&self.spawner.context.store);
                    let people = if arrived.is_empty() {
                        SessionPeople::default()
                    } else {
                        blocking(move || {
                            let mut people = SessionPeople::default();
                            for session in arrived {
                                let one = store.session_people(&session)?;
                                people.bookmarks.extend(one.bookmarks);
                                people.reminded.extend(one.reminded);
                                people.sign_ups.extend(one.sign_ups);
                            }
                            Ok(people)
                        })
                        .await?
                    };
                    // A closed room means the server is shutting down; nothing to update.
                    let _ = handle.tell(Input::Setup(setup, people)).await;
                    self.rooms.insert(room_def.id.clone(), handle);
                }
                None => {
                    let store = Arc::clone(&self.spawner.context.store);
                    let id = room_def.id.clone();
                    let limits = self.spawner.limits.room.load_limits();
                    let record = blocking(move || store.load_room(&id, limits)).await?;
                    self.start_room(setup, record);
                }
            }
        }
        let dropped: Vec<RoomId> = self
            .rooms
            .iter()
            .map(|entry| entry.key().clone())
            .filter(|id| !programme.rooms.iter().any(|room| &room.id == id))
            .collect();
        for id in dropped {
            if let Some((id, handle)) = self.rooms.remove(&id) {
                let setup = RoomSetup {
                    id: id.clone(),
                    kind: RoomKind::Stage,
                    capacity: None,
                    sessions: HashMap::new(),
                };
                let _ = handle
                    .tell(Input::Setup(setup, SessionPeople::default()))
                    .await;
                self.retired.insert(id, handle);
            }
        }
        *self
            .programme
            .write()
            .unwrap_or_else(PoisonError::into_inner) = programme;
        Ok(())
    }

    /// The room with this id, if the current programme has it.
    pub fn room(&self, id: &str) -> Option<RoomHandle> {
        self.rooms.get(id).map(|entry| entry.value().clone())
    }

    /// The room a question lives in.
    pub fn room_of_question(&self, question: QuestionId) -> Option<RoomHandle> {
        let room = self.questions.get(&question)?.value().clone();
        self.room(&room)
    }

    /// A new question id in the room holding `session`, or `None` if there is no such
    /// session.
    pub fn new_question(&self, session: &str) -> Option<(QuestionId, RoomHandle)> {
        let room_id = self.programme().session(session)?.room.clone();
        let room = self.room(&room_id)?;
        let id = self.next_question.fetch_add(1, Ordering::Relaxed);
        self.questions.insert(id, room_id);
        Some((id, room))
    }

    /// The room a poll lives in.
    pub fn room_of_poll(&self, poll: PollId) -> Option<RoomHandle> {
        let room = self.polls.get(&poll)?.value().clone();
        self.room(&room)
    }

    /// A new poll id in `room`, if there is such a room.
    pub fn new_poll(&self, room: &str) -> Option<(PollId, RoomHandle)> {
        let handle = self.room(room)?;
        let id = self.next_poll.fetch_add(1, Ordering::Relaxed);
        self.polls.insert(id, room.to_owned());
        Some((id, handle))
    }

    /// The room holding a session.
    pub fn room_of_session(&self, session: &str) -> Option<RoomHandle> {
        let room_id = self.programme().session(session)?.room.clone();
        self.room(&room_id)
    }

    /// A person's agenda: the sessions they bookmarked, in programme order, where they stand
    /// in the workshop sessions they signed up for, and how every workshop session's places
    /// are taken. Read from the store, which holds everything rooms have acknowledged.
    pub async fn agenda(&self, user: &str) -> Result<Agenda, StoreError> {
        let store = Arc::clone(&self.spawner.context.store);
        let user = user.to_owned();
        let stored = blocking(move || store.agenda_of(&user)).await?;
        let programme = self.programme();
        let places = |session: &str| {
            let room = programme.room_of(session)?;
            room::seats::places_of(room.kind, room.capacity)
        };
        let bookmarks = programme
            .sessions
            .iter()
            .filter(|session| stored.bookmarks.contains(&session.id))
            .map(|session| session.id.clone())
            .collect();
        let registrations = stored
            .sign_ups
            .into_iter()
            .filter_map(|(session, index)| {
                programme.room_of(&session)?;
                let (status, position) = room::seats::standing(index, places(&session));
                Some(Registration {
                    session,
                    status,
                    position,
                })
            })
            .collect();
        let signed_up: HashMap<SessionId, usize> = stored.sign_up_counts.into_iter().collect();
        let seats = programme
            .sessions
            .iter()
            .filter_map(|session| {
                let capacity = places(&session.id)?;
                let count = u32::try_from(signed_up.get(&session.id).copied().unwrap_or(0))
                    .unwrap_or(u32::MAX);
                let registered = count.min(capacity);
                Some(SessionSeats {
                    session: session.id.clone(),
                    count: SeatCount {
                        capacity,
                        registered,
                        waitlisted: count - registered,
                    },
                })
            })
            .collect();
        Ok(Agenda {
            bookmarks,
            registrations,
            seats,
        })
    }

    /// Each person's live connections: a connection lists itself once it knows who it is.
    pub fn person_outboxes(&self) -> &Arc<PersonOutboxes> {
        &self.person_outboxes
    }

    /// A new connection number.
    pub fn new_conn(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// The current programme.
    pub fn programme(&self) -> Arc<Programme> {
        // A panic while holding the lock cannot leave a half-written `Arc` behind.
        Arc::clone(
            &self
                .programme
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}
