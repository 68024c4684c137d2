//! A store that fails on demand: the server's real SQLite store in the test's data
//! directory, whose commits fail while a test says so, to see what the server does when a
//! durable write fails.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use plenary_protocol::{ChatId, ChatMessage, PollId, QuestionId};
use plenary_server::programme::Programme;
use plenary_server::store::{
    Change, LoadLimits, RoomRecord, SessionPeople, SqliteStore, Store, StoreError, StoredAgenda,
};

/// The real store, with a switch that makes every [`Store::commit`] fail (and write nothing)
/// while it is on. Reads always go through.
pub struct FailingStore {
    inner: SqliteStore,
    failing: AtomicBool,
}

impl FailingStore {
    /// Open the data directory's database as the server does, with commits going through.
    pub fn open(data_dir: &Path) -> Result<Arc<FailingStore>, StoreError> {
        Ok(Arc::new(FailingStore {
            inner: SqliteStore::open(data_dir)?,
            failing: AtomicBool::new(false),
        }))
    }

    /// Make commits fail (`true`) or go through again (`false`).
    pub fn fail_commits(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl Store for FailingStore {
    fn load_programme(&self) -> Result<Option<Programme>, StoreError> {
        self.inner.load_programme()
    }

    fn save_programme(&self, programme: &Programme) -> Result<(), StoreError> {
        self.inner.save_programme(programme)
    }

    fn load_room(&self, room: &str, limits: LoadLimits) -> Result<RoomRecord, StoreError> {
        self.inner.load_room(room, limits)
    }

    fn max_question_id(&self) -> Result<QuestionId, StoreError> {
        self.inner.max_question_id()
    }

    fn max_poll_id(&self) -> Result<PollId, StoreError> {
        self.inner.max_poll_id()
    }

    fn chat_before(
        &self,
        room: &str,
        before: ChatId,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        self.inner.chat_before(room, before, limit)
    }

    fn agenda_of(&self, user: &str) -> Result<StoredAgenda, StoreError> {
        self.inner.agenda_of(user)
    }

    fn session_people(&self, session: &str) -> Result<SessionPeople, StoreError> {
        self.inner.session_people(session)
    }

    fn commit(&self, changes: &[&Change]) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt("the test made this commit fail".into()));
        }
        self.inner.commit(changes)
    }
}
