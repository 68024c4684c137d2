//! Who is connected: how many connections each person holds, and the per-person rate limits
//! that all of their connections share (two tabs do not double anyone's allowance).
//!
//! Plain data behind a `DashMap`; every method takes the current [`Instant`] so the logic is
//! tested without sleeping. No guard is held beyond one method call.

use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;
use plenary_protocol::UserId;

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub const fn new(per_second: f64, burst: f64) -> Rate {
        Rate { per_second, burst }
    }
}

/// A token bucket: `burst` tokens, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: Rate,
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    pub fn new(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: rate.burst,
            refilled: now,
        }
    }

    /// Take one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate.per_second).min(self.rate.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The actions limited per person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Chat,
    Ask,
    Vote,
    React,
}

impl Limited {
    /// Its name, as `/metrics` labels it.
    pub fn as_str(self) -> &'static str {
        match self {
            Limited::Chat => "chat",
            Limited::Ask => "ask",
            Limited::Vote => "vote",
            Limited::React => "react",
        }
    }
}

/// Per-person limits. `None` rates switch that limit off (for load tests).
#[derive(Debug, Clone, Copy)]
pub struct PersonLimits {
    pub chat: Option<Rate>,
    pub ask: Option<Rate>,
    pub vote: Option<Rate>,
    pub react: Option<Rate>,
    /// Connections one person may hold at once.
    pub max_connections: usize,
}

impl Default for PersonLimits {
    fn default() -> PersonLimits {
        PersonLimits {
            chat: Some(Rate::new(2.0, 10.0)),
            ask: Some(Rate::new(0.2, 5.0)),
            vote: Some(Rate::new(5.0, 30.0)),
            react: Some(Rate::new(5.0, 20.0)),
            max_connections: 8,
        }
    }
}

impl PersonLimits {
    fn rate(&self, action: Limited) -> Option<Rate> {
        match action {
            Limited::Chat => self.chat,
            Limited::Ask => self.ask,
            Limited::Vote => self.vote,
            Limited::React => self.react,
        }
    }
}

struct Entry {
    connections: usize,
    /// Buckets per limited action, created on first use.
    buckets: Vec<(Limited, Bucket)>,
}

/// Everyone connected.
pub struct People {
    entries: DashMap<UserId, Entry>,
    limits: PersonLimits,
}

/// One of a person's connections; dropping it frees the place. When a person's last
/// connection closes their allowances are forgotten: reconnecting costs a handshake and is
/// itself bounded by the connection limit and the per-connection frame limit.
pub struct Slot {
    people: Arc<People>,
    user: UserId,
}

/// The person already holds as many connections as allowed.
#[derive(Debug, thiserror::Error)]
#[error("{0} connections are open for this person already; close one first")]
pub struct TooManyConnections(pub usize);

impl People {
    pub fn new(limits: PersonLimits) -> Arc<People> {
        Arc::new(People {
            entries: DashMap::new(),
            limits,
        })
    }

    /// Take a connection place for `user`.
    pub fn connect(self: &Arc<Self>, user: &str) -> Result<Slot, TooManyConnections> {
        let mut entry = self
            .entries
            .entry(user.to_owned())
            .or_insert_with(|| Entry {
                connections: 0,
                buckets: Vec::new(),
            });
        if entry.connections >= self.limits.max_connections {
            return Err(TooManyConnections(entry.connections));
        }
        entry.connections += 1;
        Ok(Slot {
            people: Arc::clone(self),
            user: user.to_owned(),
        })
    }

    /// Whether `user` may do `action` now (spending from their allowance if so).
    pub fn allow(&self, user: &str, action: Limited, now: Instant) -> bool {
        let Some(rate) = self.limits.rate(action) else {
            return true;
        };
        let Some(mut entry) = self.entries.get_mut(user) else {
            return false;
        };
        let buckets = &mut entry.buckets;
        let index = match buckets.iter().position(|(kind, _)| *kind == action) {
            Some(index) => index,
            None => {
                buckets.push((action, Bucket::new(rate, now)));
                buckets.len() - 1
            }
        };
        buckets[index].1.take(now)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.people.entries.remove_if_mut(&self.user, |_, entry| {
            entry.connections -= 1;
            entry.connections == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(Rate::new(2.0, 3.0), start);
        assert!((0..3).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_millis(500)));
        assert!(!bucket.take(start + Duration::from_millis(500)));
    }

    #[test]
    fn a_persons_tabs_share_one_allowance_and_are_counted() {
        let people = People::new(PersonLimits {
            chat: Some(Rate::new(1.0, 2.0)),
            max_connections: 2,
            ..PersonLimits::default()
        });
        let now = Instant::now();
        let first = people.connect("ada").expect("first tab");
        let second = people.connect("ada").expect("second tab");
        assert!(people.connect("ada").is_err(), "a third is refused");
        assert!(people.allow("ada", Limited::Chat, now));
        assert!(people.allow("ada", Limited::Chat, now));
        assert!(
            !people.allow("ada", Limited::Chat, now),
            "the tabs share the bucket"
        );
        assert!(
            people.allow("ada", Limited::Vote, now),
            "other actions have their own"
        );
        drop(first);
        let _third = people.connect("ada").expect("a place freed");
        drop(second);
    }
}
