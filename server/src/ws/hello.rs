//! Saying hello: a connection learns who it is. A personal token names a person; an invite
//! token or none at all makes a new person (a guest attendee, unless the server admits no
//! guests, or the invite's role) with a personal token to come back with. Welcomed, the connection takes its place among the
//! person's connections and lists its outbox with the hub.

use std::sync::Arc;

use plenary_protocol::{ErrorCode, MAX_NAME_CHARS, Ref, ServerMessage};

use super::Session;
use crate::auth::{Claims, PERSONAL_TOKEN_DAYS, random_hex, unix_now};
use crate::hub::Person;
use crate::hub::checked_text;

impl Session {
    /// Answer `hello`: a personal token names who this is; an invite or no token makes a new
    /// person. Said twice, it is a `conflict`.
    pub(super) fn hello(
        &mut self,
        reference: Option<Ref>,
        token: Option<String>,
        name: Option<String>,
    ) {
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
            None if !self.state.config.guests => {
                return self.refuse(
                    reference,
                    ErrorCode::InviteRequired,
                    "this conference admits invited people only: open your invite link".into(),
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

    /// Welcome `person` (with their new personal token, if they are new): this connection
    /// takes its place among theirs (refused past the per-person bound) and lists its outbox.
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
        if let Some(uplink) = &self.state.uplink {
            uplink.open(self.conn, &person, &self.outbox);
        }
        self.person = Some(Arc::new(person));
    }
}
