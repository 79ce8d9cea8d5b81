//! A limit on the requests one user has in flight, so that one caller's
//! burst waits its own turn instead of taking every read connection.
//!
//! Each user may have `running` requests served at once; up to `waiting`
//! more queue, first come first served, for at most `wait`; any beyond those,
//! and any that waited longer, are refused (HTTP 429). A request's slot is taken before admission, which
//! itself takes a read connection, and held until its response is built.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use foldline_graphql::ApiError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// The requests of each user, served and queued.
#[derive(Debug)]
pub struct InFlight {
    running: usize,
    waiting: usize,
    wait: Duration,
    users: Mutex<HashMap<Uuid, Arc<User>>>,
}

#[derive(Debug)]
struct User {
    /// One permit per request that may run.
    running: Arc<Semaphore>,
    /// Requests running or queued.
    requests: AtomicUsize,
}

/// A request's place: running once [`InFlight::enter`] returns it; the
/// place is given up when it is dropped.
#[derive(Debug)]
pub struct Slot<'a> {
    limits: &'a InFlight,
    user: Uuid,
    entry: Arc<User>,
    _permit: OwnedSemaphorePermit,
}

impl InFlight {
    /// `running` requests per user at once (at least one), and up to
    /// `waiting` queued behind them for at most `wait`.
    pub fn new(running: usize, waiting: usize, wait: Duration) -> InFlight {
        InFlight {
            running: running.max(1),
            waiting,
            wait,
            users: Mutex::default(),
        }
    }

    /// Waits for `user`'s turn; refused at once if `user` already has as
    /// many requests running and queued as allowed, or once it has waited
    /// `wait`.
    pub async fn enter(&self, user: Uuid) -> Result<Slot<'_>, ApiError> {
        let entry = {
            let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            let entry = users.entry(user).or_insert_with(|| {
                Arc::new(User {
                    running: Arc::new(Semaphore::new(self.running)),
                    requests: AtomicUsize::new(0),
                })
            });
            if entry.requests.load(Ordering::Relaxed) >= self.running + self.waiting {
                return Err(ApiError::TooManyRequests(format!(
                    "this user already has {} requests in flight; retry when one has been answered",
                    self.running + self.waiting
                )));
            }
            entry.requests.fetch_add(1, Ordering::Relaxed);
            Arc::clone(entry)
        };
        // Counted before waiting, so that a request dropped while queued
        // (its client gone) is uncounted by `leave`.
        let mut leaving = Leaving {
            limits: self,
            user,
            entry: Some(Arc::clone(&entry)),
        };
        let permit = tokio::time::timeout(self.wait, Arc::clone(&entry.running).acquire_owned())
            .await
            .map_err(|_| {
                ApiError::TooManyRequests(format!(
                    "this user's earlier requests held every place for {:?}",
                    self.wait
                ))
            })?
            .map_err(|_| ApiError::Internal("the in-flight limit was closed".into()))?;
        leaving.entry = None;
        Ok(Slot {
            limits: self,
            user,
            entry,
            _permit: permit,
        })
    }

    /// Uncounts one request of `user`, and forgets a user with none left.
    fn leave(&self, user: Uuid, entry: &User) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        // Under the map's lock, so that no request counts itself in
        // between the decrement and the removal.
        if entry.requests.fetch_sub(1, Ordering::Relaxed) == 1 {
            users.remove(&user);
        }
    }

    /// How many requests `user` has running and queued.
    pub fn requests(&self, user: Uuid) -> usize {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .get(&user)
            .map_or(0, |entry| entry.requests.load(Ordering::Relaxed))
    }

    /// How many users have requests in flight.
    pub fn users(&self) -> usize {
        self.users.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Uncounts a queued request that never ran.
struct Leaving<'a> {
    limits: &'a InFlight,
    user: Uuid,
    entry: Option<Arc<User>>,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.limits.leave(self.user, &entry);
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.limits.leave(self.user, &self.entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_user_runs_so_many_queues_so_many_and_is_refused_beyond() {
        let limits = InFlight::new(2, 1, Duration::from_secs(60));
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let first = limits.enter(alice).await.expect("runs");
        let second = limits.enter(alice).await.expect("runs");
        // The third queues behind the two.
        let mut third = Box::pin(limits.enter(alice));
        assert!(futures::poll!(&mut third).is_pending());
        // A fourth is refused, with the code clients retry on.
        let refused = limits.enter(alice).await.expect_err("over the limit");
        assert_eq!(refused.code(), "TOO_MANY_REQUESTS");
        // Another user is not held up by any of it.
        let other = limits.enter(bob).await.expect("bob runs");
        drop(first);
        let third = third.await.expect("runs once the first has left");
        drop((second, third, other));
        assert_eq!(
            limits.users(),
            0,
            "users with nothing in flight are forgotten"
        );
    }

    #[tokio::test]
    async fn a_request_dropped_while_queued_gives_its_place_back() {
        let limits = InFlight::new(1, 1, Duration::from_secs(60));
        let user = Uuid::new_v4();
        let running = limits.enter(user).await.expect("runs");
        let mut queued = Box::pin(limits.enter(user));
        assert!(futures::poll!(&mut queued).is_pending());
        drop(queued);
        // Its place in the queue is free again.
        let mut next = Box::pin(limits.enter(user));
        assert!(futures::poll!(&mut next).is_pending());
        drop(running);
        drop(next.await.expect("runs"));
        assert_eq!(limits.users(), 0);
    }

    #[tokio::test]
    async fn a_request_queued_longer_than_it_may_wait_is_refused() {
        let limits = InFlight::new(1, 1, Duration::from_millis(50));
        let user = Uuid::new_v4();
        let running = limits.enter(user).await.expect("runs");
        let refused = limits.enter(user).await.expect_err("waited too long");
        assert_eq!(refused.code(), "TOO_MANY_REQUESTS");
        assert!(
            refused.to_string().contains("held every place"),
            "{refused}"
        );
        // It gave its place back: only the running request is counted.
        assert_eq!(limits.requests(user), 1);
        drop(running);
        assert_eq!(limits.users(), 0);
    }
}
