//! Client ids: a message that carries one and repeats an earlier one (a retry) is answered
//! like the first, with what the first created, and changes nothing. The room remembers the
//! newest ones, bounded, and stores each with the batch that carried it out.

use std::collections::{HashMap, VecDeque};

use plenary_protocol::{ErrorCode, UserId};

use super::common::{Output, Refusal};
use crate::hub::person::Person;
use crate::store::Change;

/// The newest client ids, bounded, so a retried message is answered like the first.
pub(super) struct ClientIds {
    created: HashMap<(UserId, String), u64>,
    order: VecDeque<(UserId, String)>,
    /// Client ids remembered, at most (`RoomLimits::client_ids`).
    capacity: usize,
}

impl ClientIds {
    /// The client ids as stored: (person, client id, what it created), oldest first.
    pub(super) fn restore(stored: Vec<(UserId, String, u64)>, capacity: usize) -> ClientIds {
        let mut client_ids = ClientIds {
            created: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        };
        for (user, client_id, created) in stored {
            client_ids.insert(user, client_id, created);
        }
        client_ids
    }

    fn get(&self, user: &str, client_id: &str) -> Option<u64> {
        // A tuple key cannot be borrowed as (&str, &str); client ids are short.
        self.created
            .get(&(user.to_owned(), client_id.to_owned()))
            .copied()
    }

    fn insert(&mut self, user: UserId, client_id: String, created: u64) {
        let key = (user, client_id);
        if self.created.insert(key.clone(), created).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.created.remove(&oldest);
            }
        }
    }

    /// If this message repeats a `client_id` already carried out, what it created.
    pub(super) fn answered_before(
        &self,
        person: &Person,
        client_id: &Option<String>,
    ) -> Result<Option<u64>, Refusal> {
        let Some(client_id) = client_id else {
            return Ok(None);
        };
        if client_id.chars().count() > plenary_protocol::MAX_CLIENT_ID_CHARS {
            return Err((
                ErrorCode::BadRequest,
                format!(
                    "client_id is longer than {} characters",
                    plenary_protocol::MAX_CLIENT_ID_CHARS
                ),
            ));
        }
        Ok(self.get(&person.user.id, client_id))
    }

    /// Remember (and store) what a message with `client_id` in `room` created.
    pub(super) fn remember(
        &mut self,
        room: &str,
        person: &Person,
        client_id: Option<String>,
        created: u64,
        out: &mut Vec<Output>,
    ) {
        let Some(client_id) = client_id else {
            return;
        };
        out.push(Output::Persist(Change::ClientId {
            room: room.to_owned(),
            user: person.user.id.clone(),
            client_id: client_id.clone(),
            created,
        }));
        self.insert(person.user.id.clone(), client_id, created);
    }
}
