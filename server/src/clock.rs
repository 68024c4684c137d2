//! The server's clock. Rooms ask it the time instead of the system, so that tests can run a
//! whole conference day in milliseconds: a manual clock moves only when told, and wakes the
//! rooms at once when it does.

use std::sync::{Arc, Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

/// The time, from the system or set by hand.
#[derive(Clone)]
pub struct Clock {
    manual: Option<Arc<Manual>>,
}

struct Manual {
    now: Mutex<Timestamp>,
    /// Wakes whoever waits for the time to move.
    moved: watch::Sender<()>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => formatter.write_str("Clock::system"),
            Some(_) => write!(formatter, "Clock::manual({})", self.now()),
        }
    }
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that shows `start` until it is moved.
    pub fn manual(start: Timestamp) -> Clock {
        let (moved, _) = watch::channel(());
        Clock {
            manual: Some(Arc::new(Manual {
                now: Mutex::new(start),
                moved,
            })),
        }
    }

    pub fn now(&self) -> Timestamp {
        match &self.manual {
            None => Timestamp::now(),
            Some(manual) => *manual.now.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Move a manual clock forward and wake the rooms. Returns false for the system clock,
    /// which nobody moves.
    pub fn advance(&self, by: SignedDuration) -> bool {
        let Some(manual) = &self.manual else {
            return false;
        };
        {
            let mut now = manual.now.lock().unwrap_or_else(PoisonError::into_inner);
            *now += by;
        }
        manual.moved.send_replace(());
        true
    }

    /// For a manual clock, a receiver that changes whenever the clock is moved.
    pub fn subscribe(&self) -> Option<watch::Receiver<()>> {
        self.manual.as_ref().map(|manual| manual.moved.subscribe())
    }
}
