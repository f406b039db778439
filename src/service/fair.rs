//! The card's turn, shared fairly between the pages that want it: waiters are queued per origin
//! and, when the card is free, the next turn goes to the oldest waiter of an origin *other than*
//! the one that just had it (round robin over the origins waiting). So a page flooding the
//! component with H_Sign or reads delays another page by at most the operation under way — not
//! by its whole queue, as one first-come-first-served lock did.
//!
//! Which origin an operation is queued under is the caller's, set for the request's task by the
//! api layer with [`as_caller`] (the service's own reads — prefetch at insertion — count as one
//! origin of their own, `""`). A waiter that gives up (its deadline passed) simply drops out; the
//! turn it would have had goes to the next.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

tokio::task_local! {
    static CALLER: String;
}

/// Runs `fut` with card operations queued under `origin`.
pub async fn as_caller<F: Future>(origin: &str, fut: F) -> F::Output {
    CALLER.scope(origin.to_owned(), fut).await
}

fn current_caller() -> String {
    CALLER.try_with(Clone::clone).unwrap_or_default()
}

#[derive(Default)]
struct State {
    held: bool,
    /// Origins with waiters, in the order their turn comes; each with its waiters, oldest first.
    queues: VecDeque<(String, VecDeque<oneshot::Sender<Turn>>)>,
}

/// The lock on the card.
#[derive(Default)]
pub struct FairLock {
    state: Mutex<State>,
}

/// One turn with the card; the next waiter's turn starts when it is dropped.
pub struct Turn {
    lock: Arc<FairLock>,
    origin: String,
    armed: bool,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.armed {
            self.lock.release(&self.origin);
        }
    }
}

impl FairLock {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the card's turn for the current caller (see [`as_caller`]).
    pub async fn lock(self: &Arc<Self>) -> Turn {
        self.lock_as(&current_caller()).await
    }

    /// Waits for the card's turn for `origin`.
    pub async fn lock_as(self: &Arc<Self>, origin: &str) -> Turn {
        loop {
            let rx = {
                let mut st = self.state();
                if !st.held {
                    st.held = true;
                    return Turn {
                        lock: self.clone(),
                        origin: origin.to_owned(),
                        armed: true,
                    };
                }
                let (tx, rx) = oneshot::channel();
                match st.queues.iter_mut().find(|(o, _)| o == origin) {
                    Some((_, q)) => q.push_back(tx),
                    None => st
                        .queues
                        .push_back((origin.to_owned(), VecDeque::from([tx]))),
                }
                rx
            };
            if let Ok(turn) = rx.await {
                return turn;
            }
        }
    }

    /// Hands the card to the next waiter: another origin's first, if any waits.
    fn release(self: &Arc<Self>, holder: &str) {
        let mut st = self.state();
        loop {
            let next = st
                .queues
                .iter()
                .position(|(o, q)| o != holder && !q.is_empty())
                .or_else(|| st.queues.iter().position(|(_, q)| !q.is_empty()));
            let Some(i) = next else {
                st.queues.clear();
                st.held = false;
                return;
            };
            let Some((origin, mut waiters)) = st.queues.remove(i) else {
                continue;
            };
            let Some(tx) = waiters.pop_front() else {
                continue;
            };
            if !waiters.is_empty() {
                // This origin's next waiter comes after the others waiting now.
                st.queues.push_back((origin.clone(), waiters));
            }
            let turn = Turn {
                lock: self.clone(),
                origin,
                armed: true,
            };
            match tx.send(turn) {
                Ok(()) => return,
                // That waiter gave up: its turn is not released twice, the next one gets it.
                Err(mut t) => t.armed = false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Queues `n` operations of `origin`, each recording its origin when it gets the card.
    fn flood(
        lock: &Arc<FairLock>,
        origin: &'static str,
        n: usize,
        log: &Arc<Mutex<Vec<&'static str>>>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..n)
            .map(|_| {
                let (lock, log) = (lock.clone(), log.clone());
                tokio::spawn(async move {
                    let _turn = lock.lock_as(origin).await;
                    log.lock().unwrap().push(origin);
                    tokio::task::yield_now().await;
                })
            })
            .collect()
    }

    #[tokio::test]
    async fn a_flooding_origin_delays_another_by_one_operation_at_most() {
        let lock = Arc::new(FairLock::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let first = lock.lock_as("https://a").await;
        let mut tasks = flood(&lock, "https://a", 50, &log);
        // Let the flood queue up before the other page asks.
        while lock
            .state()
            .queues
            .iter()
            .map(|(_, q)| q.len())
            .sum::<usize>()
            < 50
        {
            tokio::task::yield_now().await;
        }
        tasks.extend(flood(&lock, "https://b", 1, &log));
        while lock.state().queues.len() < 2 {
            tokio::task::yield_now().await;
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 51);
        assert_eq!(log[0], "https://b", "b waited behind a's queue: {log:?}");
        assert!(!lock.state().held, "the card is free again");
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_passes_its_turn_on() {
        let lock = Arc::new(FairLock::default());
        let held = lock.lock_as("https://a").await;
        let gave_up =
            tokio::time::timeout(Duration::from_millis(10), lock.lock_as("https://b")).await;
        assert!(gave_up.is_err());
        let next = {
            let lock = lock.clone();
            tokio::spawn(async move { lock.lock_as("https://c").await.origin.clone() })
        };
        while lock.state().queues.iter().all(|(o, _)| o != "https://c") {
            tokio::task::yield_now().await;
        }
        drop(held);
        assert_eq!(next.await.unwrap(), "https://c");
        assert!(!lock.state().held);
        // And the caller's origin comes from the task it runs in.
        let origin = as_caller("https://d", async { current_caller() }).await;
        assert_eq!(origin, "https://d");
    }
}
