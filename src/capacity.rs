//! How many connections the daemon serves and how they may be used, shared by the listener (which
//! hands each request its [`Connection`]) and the routes that keep a connection past one exchange
//! (a WebSocket, an event stream).
//!
//! Every connection holds one of `max_connections` slots from accept to close — also after a
//! WebSocket upgrade, because the upgraded session keeps a clone of its [`Connection`]. Long-lived
//! sessions also need a [`LongLived`] claim: at most [`Budget::long_lived`] of them (the rest of the
//! slots stay free for short requests), and at most [`Budget::per_origin`] for any one Origin
//! (one page cannot take them all).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits derived from `max_connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// All connections at once (`max_connections`).
    pub connections: usize,
    /// WebSockets and event streams together.
    pub long_lived: usize,
    /// Long-lived sessions of one Origin (requests without one count as one origin).
    pub per_origin: usize,
}

impl Budget {
    /// A quarter of the slots (at least one) is kept for short requests; one origin gets at most
    /// a quarter of the long-lived share (at least one).
    pub fn for_connections(connections: usize) -> Budget {
        let connections = connections.max(1);
        let reserve = (connections / 4).max(1);
        let long_lived = connections.saturating_sub(reserve).max(1);
        Budget {
            connections,
            long_lived,
            per_origin: (long_lived / 4).max(1),
        }
    }
}

/// Refused WebSockets open at once (each says `4041` and closes within its first-message
/// deadline): a pool of their own, so they never take the places allowed pages need.
pub const REFUSED_PLACES: usize = 8;

/// The long-lived sessions open now.
pub struct Capacity {
    budget: Budget,
    long: Arc<Semaphore>,
    refused: Arc<Semaphore>,
    per_origin: Mutex<HashMap<String, usize>>,
}

/// Why a long-lived session was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// All long-lived places are taken.
    Total,
    /// This origin has its share.
    Origin,
}

impl Capacity {
    /// An empty set of places under `budget`.
    pub fn new(budget: Budget) -> Arc<Capacity> {
        Arc::new(Capacity {
            budget,
            long: Arc::new(Semaphore::new(budget.long_lived)),
            refused: Arc::new(Semaphore::new(REFUSED_PLACES)),
            per_origin: Mutex::new(HashMap::new()),
        })
    }

    /// The limits.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    fn origins(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.per_origin.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits one long-lived session of `origin` ("" when there is none), or says why not.
    pub fn claim(self: &Arc<Self>, origin: &str) -> Result<LongLived, Full> {
        let mut origins = self.origins();
        let used = origins.get(origin).copied().unwrap_or(0);
        if used >= self.budget.per_origin {
            return Err(Full::Origin);
        }
        let permit = self
            .long
            .clone()
            .try_acquire_owned()
            .map_err(|_| Full::Total)?;
        origins.insert(origin.to_owned(), used + 1);
        Ok(LongLived {
            _permit: permit,
            capacity: self.clone(),
            origin: Some(origin.to_owned()),
        })
    }

    /// Admits one refused session into its own pool ([`REFUSED_PLACES`]).
    pub fn claim_refused(self: &Arc<Self>) -> Result<LongLived, Full> {
        let permit = self
            .refused
            .clone()
            .try_acquire_owned()
            .map_err(|_| Full::Total)?;
        Ok(LongLived {
            _permit: permit,
            capacity: self.clone(),
            origin: None,
        })
    }

    /// Long-lived sessions open now (for tests and the self-check).
    pub fn long_lived_open(&self) -> usize {
        self.budget.long_lived - self.long.available_permits()
    }
}

/// One admitted long-lived session; its place is given back when it is dropped.
pub struct LongLived {
    _permit: OwnedSemaphorePermit,
    capacity: Arc<Capacity>,
    /// `None` for a refused session's place.
    origin: Option<String>,
}

impl Drop for LongLived {
    fn drop(&mut self) {
        let Some(origin) = &self.origin else {
            return;
        };
        let mut origins = self.capacity.origins();
        if let Some(n) = origins.get_mut(origin) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                origins.remove(origin);
            }
        }
    }
}

/// What one accepted connection carries into each of its requests (a request extension): its slot,
/// which lives as long as any clone, the long-lived budget, and its time limits.
#[derive(Clone)]
pub struct Connection {
    _slot: Arc<OwnedSemaphorePermit>,
    /// The long-lived places, shared by all connections.
    pub capacity: Arc<Capacity>,
    /// A long-lived session with no traffic from the client for this long is closed.
    pub idle_timeout: Duration,
    /// A refused WebSocket gets this long to send the command it is refused for.
    pub first_message_timeout: Duration,
}

impl Connection {
    /// The claim of a connection that holds `slot`.
    pub fn new(
        slot: OwnedSemaphorePermit,
        capacity: Arc<Capacity>,
        idle_timeout: Duration,
        first_message_timeout: Duration,
    ) -> Connection {
        Connection {
            _slot: Arc::new(slot),
            capacity,
            idle_timeout,
            first_message_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_keep_room_for_short_requests() {
        assert_eq!(
            Budget::for_connections(256),
            Budget {
                connections: 256,
                long_lived: 192,
                per_origin: 48
            }
        );
        let small = Budget::for_connections(4);
        assert_eq!((small.long_lived, small.per_origin), (3, 1));
        let one = Budget::for_connections(1);
        assert_eq!((one.long_lived, one.per_origin), (1, 1));
    }

    #[test]
    fn claims_are_bounded_per_origin_and_in_total_and_given_back() {
        let cap = Capacity::new(Budget::for_connections(16)); // 12 long-lived, 3 per origin
        let a: Vec<_> = (0..3).map(|_| cap.claim("https://a").unwrap()).collect();
        assert_eq!(cap.claim("https://a").err(), Some(Full::Origin));
        let mut others = Vec::new();
        for i in 0..9 {
            others.push(cap.claim(&format!("https://o{i}")).unwrap());
        }
        assert_eq!(cap.long_lived_open(), 12);
        assert_eq!(cap.claim("https://new").err(), Some(Full::Total));
        drop(a);
        assert_eq!(cap.long_lived_open(), 9);
        assert!(cap.claim("https://a").is_ok());
    }

    #[test]
    fn refused_sessions_never_take_an_allowed_pages_place() {
        let cap = Capacity::new(Budget::for_connections(16));
        let refused: Vec<_> = (0..REFUSED_PLACES)
            .map(|_| cap.claim_refused().unwrap())
            .collect();
        assert_eq!(cap.claim_refused().err(), Some(Full::Total));
        assert_eq!(cap.long_lived_open(), 0);
        assert!(cap.claim("https://cloudicweb.nhi.gov.tw").is_ok());
        drop(refused);
        assert!(cap.claim_refused().is_ok());
    }
}
