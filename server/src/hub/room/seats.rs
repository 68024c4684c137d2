//! Places in workshop sessions. A workshop room's capacity is the number of attendees a
//! session in it can take; attendees sign up (`register`) for a session, and the sign-ups are
//! kept in the order they came. The first `capacity` of them are registered, the others wait,
//! in order: when someone ahead gives their place up (`unregister`), the first in line moves
//! up and is told so wherever they are (`Output::ToPeople`). Because the standing is derived
//! from the order and the capacity, the room never holds more registered people than places,
//! and an organiser who changes the capacity moves the line (those who gain or lose a place
//! are told).
//!
//! The room is the one place sign-ups change, one command at a time, so concurrent requests
//! cannot overbook; each change is stored with the batch before it is answered.
//!
//! Doors: while a session of the room is open or live, the registered are always let in, and
//! so are the room's hosts, moderators and organisers (who never take a place). Anyone else
//! gets one of the places nobody registered for, while there is one; past that, `join` is
//! refused with `full`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use plenary_protocol::{
    ErrorCode, Ref, Registration, RegistrationStatus, RoomEvent, RoomKind, SeatCount,
    ServerMessage, SessionId, SessionPhase, UserId,
};

use super::common::{Members, Output, Public, Refusal};
use super::log::EventLog;
use super::phases::Phases;
use super::setup::RoomSetup;
use crate::hub::frame::encode;
use crate::hub::person::Person;
use crate::store::Change;

/// One request for a place.
#[derive(Debug, Clone)]
struct SignUp {
    /// Its rank among the session's sign-ups: later ones have higher numbers.
    number: u64,
    user: UserId,
}

/// Who signed up for which session of the room, in order.
#[derive(Debug, Default)]
pub(super) struct Seats {
    sign_ups: HashMap<SessionId, Vec<SignUp>>,
    /// Sessions whose counts changed since they were last published.
    changed: BTreeSet<SessionId>,
}

/// Attendee places of a room: a workshop room's capacity (`None`: no limit). A stage takes
/// everyone.
pub fn places_of(kind: RoomKind, capacity: Option<u32>) -> Option<u32> {
    match kind {
        RoomKind::Workshop => capacity,
        RoomKind::Stage => None,
    }
}

/// Where the sign-up at `index` (0 for the first to ask) stands in a room of `places`
/// (`None`: no limit): registered, or waitlisted with its position (1: next in line).
pub fn standing(index: usize, places: Option<u32>) -> (RegistrationStatus, Option<u32>) {
    match places.map(|places| places as usize) {
        Some(places) if index >= places => (
            RegistrationStatus::Waitlisted,
            Some(u32::try_from(index - places + 1).unwrap_or(u32::MAX)),
        ),
        _ => (RegistrationStatus::Registered, None),
    }
}

/// Attendee places of the room `setup` describes (`None`: no limit).
pub(super) fn places(setup: &RoomSetup) -> Option<u32> {
    places_of(setup.kind, setup.capacity)
}

impl Seats {
    /// Take in sign-ups as stored, (session, person, number): all of the room's when it
    /// starts, or those of sessions that moved into it (whose counts are then published).
    pub(super) fn absorb(&mut self, stored: Vec<(SessionId, UserId, u64)>, publish: bool) {
        for (session, user, number) in stored {
            let list = self.sign_ups.entry(session.clone()).or_default();
            if !list.iter().any(|sign_up| sign_up.user == user) {
                list.push(SignUp { number, user });
            }
            if publish {
                self.changed.insert(session);
            }
        }
        for list in self.sign_ups.values_mut() {
            list.sort_by_key(|sign_up| sign_up.number);
        }
    }

    /// Forget the sessions this room no longer holds.
    pub(super) fn retain(&mut self, here: impl Fn(&str) -> bool) {
        self.sign_ups.retain(|session, _| here(session));
        self.changed.retain(|session| here(session));
    }

    /// Where a person stands in a session of a room of `places`.
    fn standing_of(
        &self,
        places: Option<u32>,
        session: &str,
        user: &str,
    ) -> (RegistrationStatus, Option<u32>) {
        self.sign_ups
            .get(session)
            .and_then(|list| list.iter().position(|sign_up| sign_up.user == user))
            .map_or((RegistrationStatus::Unregistered, None), |index| {
                standing(index, places)
            })
    }

    fn has_place(&self, places: Option<u32>, session: &str, user: &str) -> bool {
        self.standing_of(places, session, user).0 == RegistrationStatus::Registered
    }

    fn registration_message(
        &self,
        places: Option<u32>,
        reference: Option<Ref>,
        session: &str,
        user: &str,
        promoted: bool,
    ) -> ServerMessage {
        let (status, position) = self.standing_of(places, session, user);
        ServerMessage::Registration {
            reference,
            session: session.to_owned(),
            status,
            position,
            promoted,
        }
    }

    /// Sign a person up for a session of this workshop room (`on`): a place if one is left,
    /// else the end of the waitlist; or take their sign-up back, and if it held a place the
    /// first in line gets it and is told. Asking twice changes nothing; the answer, returned
    /// for the person, says where they stand. `phase` is the session's.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn register(
        &mut self,
        setup: &RoomSetup,
        phase: SessionPhase,
        person: &Person,
        session: SessionId,
        on: bool,
        reference: &Option<Ref>,
        out: &mut Vec<Output>,
    ) -> Result<ServerMessage, Refusal> {
        if setup.kind != RoomKind::Workshop {
            return Err((
                ErrorCode::Conflict,
                "only workshop sessions take registrations: the stage is open to everyone".into(),
            ));
        }
        let places = places(setup);
        if on {
            self.take_place(&setup.id, phase, person, &session, out)?;
        } else {
            self.give_up_place(places, &person.user.id, &session, out);
        }
        Ok(self.registration_message(places, reference.clone(), &session, &person.user.id, false))
    }

    fn take_place(
        &mut self,
        room: &str,
        phase: SessionPhase,
        person: &Person,
        session: &SessionId,
        out: &mut Vec<Output>,
    ) -> Result<(), Refusal> {
        if person.may_moderate(room) {
            return Err((
                ErrorCode::Conflict,
                "hosts, moderators and organisers need no place: a full room still lets them in"
                    .into(),
            ));
        }
        if phase == SessionPhase::Ended {
            return Err((ErrorCode::Conflict, "this session has ended".into()));
        }
        let user = &person.user.id;
        let list = self.sign_ups.entry(session.clone()).or_default();
        if !list.iter().any(|sign_up| &sign_up.user == user) {
            let number = list.last().map_or(1, |last| last.number + 1);
            list.push(SignUp {
                number,
                user: user.clone(),
            });
            out.push(Output::Persist(Change::SignUp {
                session: session.clone(),
                user: user.clone(),
                number,
            }));
            self.changed.insert(session.clone());
        }
        Ok(())
    }

    fn give_up_place(
        &mut self,
        places: Option<u32>,
        user: &UserId,
        session: &SessionId,
        out: &mut Vec<Output>,
    ) {
        let Some(list) = self.sign_ups.get_mut(session) else {
            return;
        };
        let Some(index) = list.iter().position(|sign_up| &sign_up.user == user) else {
            return;
        };
        list.remove(index);
        // The person now at the last place was first in line until this moment.
        let promoted = places
            .map(|places| places as usize)
            .filter(|places| index < *places && list.len() >= *places)
            .map(|places| list[places - 1].user.clone());
        out.push(Output::Persist(Change::SignUpWithdrawn {
            session: session.clone(),
            user: user.clone(),
        }));
        self.changed.insert(session.clone());
        if let Some(promoted) = promoted {
            self.tell_standing(places, session, promoted, out);
        }
    }

    /// Tell a person, on every connection they have, where they now stand in a session
    /// they did nothing about.
    fn tell_standing(
        &self,
        places: Option<u32>,
        session: &str,
        user: UserId,
        out: &mut Vec<Output>,
    ) {
        let promoted = self.has_place(places, session, &user);
        let frame = encode(&self.registration_message(places, None, session, &user, promoted));
        out.push(Output::ToPeople {
            users: vec![user],
            frame,
        });
    }

    /// The room's places changed from `before` (an imported programme said so, and `setup`
    /// is what it says now): those who gained or lost a place are told.
    pub(super) fn places_changed(
        &mut self,
        setup: &RoomSetup,
        before: Option<u32>,
        out: &mut Vec<Output>,
    ) {
        let after = places(setup);
        if before == after {
            return;
        }
        let limit = |places: Option<u32>| places.map_or(usize::MAX, |places| places as usize);
        let (low, high) = (
            limit(before).min(limit(after)),
            limit(before).max(limit(after)),
        );
        let moved: Vec<(SessionId, UserId)> = self
            .sign_ups
            .iter()
            .filter(|(session, _)| setup.sessions.contains_key(*session))
            .flat_map(|(session, list)| {
                list.iter()
                    .take(high)
                    .skip(low)
                    .map(|sign_up| (session.clone(), sign_up.user.clone()))
            })
            .collect();
        for (session, user) in moved {
            self.tell_standing(after, &session, user, out);
            self.changed.insert(session);
        }
    }

    /// How the places of each session of the room are taken (rooms with a capacity).
    pub(super) fn seat_counts(&self, setup: &RoomSetup) -> BTreeMap<SessionId, SeatCount> {
        let Some(places) = places(setup) else {
            return BTreeMap::new();
        };
        setup
            .sessions
            .keys()
            .map(|session| (session.clone(), self.seat_count(session, places)))
            .collect()
    }

    fn seat_count(&self, session: &str, places: u32) -> SeatCount {
        let signed_up = self
            .sign_ups
            .get(session)
            .map_or(0, |list| u32::try_from(list.len()).unwrap_or(u32::MAX));
        let registered = signed_up.min(places);
        SeatCount {
            capacity: places,
            registered,
            waitlisted: signed_up - registered,
        }
    }

    /// A person's registrations for the room's sessions.
    pub(super) fn registrations_of(&self, setup: &RoomSetup, user: &str) -> Vec<Registration> {
        let places = places(setup);
        let mut registrations: Vec<Registration> = self
            .sign_ups
            .keys()
            .filter(|session| setup.sessions.contains_key(*session))
            .filter_map(|session| {
                let (status, position) = self.standing_of(places, session, user);
                (status != RegistrationStatus::Unregistered).then(|| Registration {
                    session: session.clone(),
                    status,
                    position,
                })
            })
            .collect();
        registrations.sort_by(|a, b| a.session.cmp(&b.session));
        registrations
    }

    /// Publish the new counts of the sessions whose places changed since the last tick.
    pub(super) fn publish_counts(
        &mut self,
        setup: &RoomSetup,
        events: &mut EventLog,
        out: &mut Vec<Output>,
    ) {
        let changed = std::mem::take(&mut self.changed);
        let Some(places) = places(setup) else {
            return;
        };
        for session in changed {
            if !setup.sessions.contains_key(&session) {
                continue;
            }
            let count = self.seat_count(&session, places);
            let event = RoomEvent::Seats {
                session,
                capacity: count.capacity,
                registered: count.registered,
                waitlisted: count.waitlisted,
            };
            events.publish(event, Public::Same, None, out);
        }
    }

    /// Whether a person may come in: always, unless a session of this workshop room is open
    /// or live (as `phases` say), the person is neither registered for it nor staff here,
    /// and the places nobody registered for are taken by others like them (of `members`).
    pub(super) fn admit(
        &self,
        setup: &RoomSetup,
        phases: &Phases,
        members: &Members,
        person: &Person,
    ) -> Result<(), Refusal> {
        let Some(places) = places(setup) else {
            return Ok(());
        };
        let user = &person.user.id;
        let current: Vec<&SessionId> = setup
            .sessions
            .keys()
            .filter(|session| {
                matches!(
                    phases.phase_of(session),
                    SessionPhase::Open | SessionPhase::Live
                )
            })
            .collect();
        let has_place_now = |user: &str| {
            current
                .iter()
                .any(|session| self.has_place(Some(places), session, user))
        };
        // The session that opened last decides: at doors-open it is the one people come for.
        let Some(session) = current.iter().max_by_key(|session| {
            (
                phases
                    .times_of(&setup.sessions, session)
                    .map(|(start, _)| start),
                **session,
            )
        }) else {
            return Ok(());
        };
        let here_already = members.values().any(|member| &member.user.id == user);
        if here_already || person.may_moderate(&setup.id) || has_place_now(user) {
            return Ok(());
        }
        let others: HashSet<&UserId> = members
            .values()
            .filter(|member| !member.may_moderate(&setup.id))
            .map(|member| &member.user.id)
            .filter(|other| !has_place_now(other))
            .collect();
        let registered = self.seat_count(session, places).registered;
        let others = u32::try_from(others.len()).unwrap_or(u32::MAX);
        if registered.saturating_add(others) < places {
            return Ok(());
        }
        Err((
            ErrorCode::Full,
            format!(
                "room {} is full for session {session}: every one of its {places} places is \
                 taken. Register for the session to get the next place that frees.",
                setup.id
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_to_ask_get_the_places_and_the_rest_wait_in_order() {
        assert_eq!(standing(0, Some(2)), (RegistrationStatus::Registered, None));
        assert_eq!(standing(1, Some(2)), (RegistrationStatus::Registered, None));
        assert_eq!(
            standing(2, Some(2)),
            (RegistrationStatus::Waitlisted, Some(1))
        );
        assert_eq!(
            standing(5, Some(2)),
            (RegistrationStatus::Waitlisted, Some(4))
        );
        assert_eq!(
            standing(0, Some(0)),
            (RegistrationStatus::Waitlisted, Some(1))
        );
        assert_eq!(
            standing(1_000, None),
            (RegistrationStatus::Registered, None)
        );
    }
}
