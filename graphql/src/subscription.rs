//! `activityAdded`: an organization's activity as it is projected, over
//! graphql-ws.
//!
//! Projection workers announce every batch they commit on the
//! `projection_checkpoints` channel (`migrations/0008`). One listener per
//! process turns those announcements into a [`watch`] of the activity feed's
//! position; each subscription then reads what is new *as its own caller*,
//! under row-level security, so no subscriber can be sent a row it could not
//! have queried.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{Context, ErrorExtensions, Subscription};
use futures::stream::{self, Stream};
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Postgres, QueryBuilder};
use tokio::sync::{watch, OnceCell};
use uuid::Uuid;

use foldline_projectors::{activity_feed, people_directory};

use crate::activity::{Activity, ActivityFilter, COLUMNS};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::reads::Reads;
use crate::request::Request;

/// The channel projection workers announce their commits on.
pub const CHANNEL: &str = "projection_checkpoints";
/// How often a subscription looks for new rows when no announcement comes:
/// announcements are lost while the listener reconnects.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often a subscription checks that its caller is still a member when
/// no change of the memberships is announced (announcements are lost while
/// the listener reconnects).
pub const MEMBERSHIP_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// Rows read per query.
const BATCH: i64 = 100;

/// The positions the activity feed and the memberships have been committed
/// to, as announced; the listener starts with the first subscription and
/// stops once the watch and every subscription are gone.
#[derive(Clone)]
pub struct ActivityWatch {
    pool: PgPool,
    watches: Arc<OnceCell<Watches>>,
}

/// What a subscription waits on.
#[derive(Clone)]
struct Watches {
    /// The activity feed's position: new rows to read.
    activity: watch::Receiver<i64>,
    /// The people directory's, which holds the memberships: callers to
    /// admit again.
    memberships: watch::Receiver<i64>,
}

impl ActivityWatch {
    /// A watch over `pool`'s announcements; nothing listens until a
    /// subscription starts.
    pub fn new(pool: PgPool) -> Self {
        ActivityWatch {
            pool,
            watches: Arc::new(OnceCell::new()),
        }
    }

    async fn subscribe(&self) -> Watches {
        self.watches
            .get_or_init(|| async {
                let (activity, activity_watch) = watch::channel(0);
                let (memberships, memberships_watch) = watch::channel(0);
                tokio::spawn(listen(self.pool.clone(), activity, memberships));
                Watches {
                    activity: activity_watch,
                    memberships: memberships_watch,
                }
            })
            .await
            .clone()
    }
}

/// Forwards the announcements of the activity feed and of the memberships
/// to their watches, reconnecting after failures, until no one is watching.
async fn listen(pool: PgPool, activity: watch::Sender<i64>, memberships: watch::Sender<i64>) {
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            connected = connected => connected,
            () = activity.closed() => return,
        };
        match &mut listener {
            Ok(listener) => loop {
                let notification = tokio::select! {
                    notification = listener.recv() => notification,
                    () = activity.closed() => return,
                };
                match notification {
                    Ok(notification) => {
                        let Some((projection, position)) = announced(notification.payload()) else {
                            continue;
                        };
                        let sender = match projection {
                            activity_feed::NAME => &activity,
                            people_directory::NAME => &memberships,
                            _ => continue,
                        };
                        sender.send_if_modified(|seen| {
                            let newer = position > *seen;
                            *seen = (*seen).max(position);
                            newer
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, "lost the projection announcements; reconnecting");
                        break;
                    }
                }
            },
            Err(error) => tracing::warn!(%error, "cannot listen for projection announcements"),
        }
        tokio::select! {
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            () = activity.closed() => return,
        }
    }
}

/// The projection and position of an announcement.
fn announced(payload: &str) -> Option<(&str, i64)> {
    let (projection, position) = payload.rsplit_once(':')?;
    Some((projection, position.parse().ok()?))
}

/// Every subscription.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Activity of the caller's organization, new or changed, as the
    /// projection commits it, in the feed's order (the order transactions
    /// committed; positions may come out of order). Without `afterPosition`
    /// it starts with what is committed next; with it, it first replays
    /// what came after that position (a reconnecting client passes the
    /// last `position` it saw).
    async fn activity_added(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Activity>>> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        let watch = ctx
            .data::<ActivityWatch>()
            .map_err(|_| ApiError::Internal("no activity watch".into()).extend())?;
        let follower = Follower::start(request, watch, filter.unwrap_or_default(), after_position)
            .await
            .map_err(|e| e.extend())?;
        Ok(follower.into_stream())
    }
}

/// A place in the activity feed, in the order the projection commits it:
/// the event's transaction id (as text), its position, the row's id.
type Place = (String, i64, Uuid);

/// An activity row with its place in the feed.
#[derive(sqlx::FromRow)]
struct Followed {
    #[sqlx(flatten)]
    activity: Activity,
    feed_transaction_id: String,
}

/// One subscription's place in the feed.
struct Follower {
    caller: Caller,
    reads: Reads,
    filter: ActivityFilter,
    watches: Watches,
    /// Whether the memberships changed since the caller was last admitted.
    readmit: bool,
    /// The last row sent.
    seen: Place,
    pending: VecDeque<Activity>,
    checked_at: Instant,
    ended: bool,
}

impl Follower {
    async fn start(
        request: &Request,
        watch: &ActivityWatch,
        filter: ActivityFilter,
        after_position: Option<i64>,
    ) -> Result<Follower, ApiError> {
        // Subscribe before reading the checkpoint, so that no commit falls
        // between the two unannounced.
        let watches = watch.subscribe().await;
        let (transaction_id, position) = match after_position {
            // Only an event of the caller's organization is a place to resume
            // after: any other position is answered as one no event has.
            Some(position) => sqlx::query_scalar::<_, String>(
                "SELECT transaction_id::text FROM events
                 WHERE global_position = $1 AND organization_id = $2",
            )
            .bind(position)
            .bind(request.caller.organization_id)
            .fetch_optional(&request.pool)
            .await?
            .map(|transaction_id| (transaction_id, position))
            .ok_or_else(|| ApiError::BadUserInput(format!("no event at position {position}")))?,
            None => sqlx::query_as::<_, (String, i64)>(
                "SELECT transaction_id::text, global_position FROM projection_checkpoints
                 WHERE projection = $1",
            )
            .bind(activity_feed::NAME)
            .fetch_optional(&request.pool)
            .await?
            .unwrap_or_else(|| ("0".into(), 0)),
        };
        Ok(Follower {
            caller: request.caller.clone(),
            reads: request.reads.clone(),
            filter,
            watches,
            readmit: false,
            seen: (transaction_id, position, Uuid::max()),
            pending: VecDeque::new(),
            checked_at: Instant::now(),
            ended: false,
        })
    }

    fn into_stream(self) -> impl Stream<Item = async_graphql::Result<Activity>> {
        stream::unfold(self, |mut follower| async move {
            let next = follower.next().await?;
            Some((next.map_err(|e| e.extend()), follower))
        })
    }

    /// The next row, waiting as long as it takes; `None` once an error has
    /// been sent.
    async fn next(&mut self) -> Option<Result<Activity, ApiError>> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                return Some(Ok(row));
            }
            if self.ended {
                return None;
            }
            if let Err(error) = self.fill().await {
                self.ended = true;
                return Some(Err(error));
            }
            if self.pending.is_empty() {
                // A closed watch means the service is shutting down: the
                // poll carries on until the connection closes.
                let watches = &mut self.watches;
                let woken = tokio::time::timeout(POLL_INTERVAL, async {
                    tokio::select! {
                        _ = watches.activity.changed() => false,
                        _ = watches.memberships.changed() => true,
                    }
                })
                .await;
                // Waiting took the change in: remember it for the next read.
                self.readmit |= woken.unwrap_or(false);
            }
        }
    }

    /// Reads what came after the last row sent, as the caller.
    async fn fill(&mut self) -> Result<(), ApiError> {
        let mut sql = QueryBuilder::<Postgres>::new(format!(
            "SELECT {COLUMNS}, transaction_id::text AS feed_transaction_id
             FROM activity_feed WHERE organization_id = "
        ));
        sql.push_bind(self.caller.organization_id)
            .push(" AND (transaction_id, last_position, id) > (")
            .push_bind(self.seen.0.clone())
            .push("::xid8, ")
            .push_bind(self.seen.1)
            .push(", ")
            .push_bind(self.seen.2)
            .push(")");
        self.filter.clone().push_conditions(&mut sql);
        sql.push(" ORDER BY transaction_id, last_position, id LIMIT ")
            .push_bind(BATCH);
        // When the memberships change (and now and then besides) the read
        // is admitted afresh, as a request is: a member removed from the
        // organization, or given another role, is treated as such at once.
        self.readmit |= self.watches.memberships.has_changed().unwrap_or(false);
        let mut conn = if self.readmit || self.checked_at.elapsed() >= MEMBERSHIP_CHECK_INTERVAL {
            self.watches.memberships.mark_unchanged();
            self.readmit = false;
            let admission = self
                .reads
                .admit(self.caller.user_id, self.caller.organization_id)
                .await?;
            let (role, capabilities) = admission.membership.ok_or_else(|| {
                ApiError::Forbidden(format!(
                    "you are no longer a member of organization {}",
                    self.caller.organization_id
                ))
            })?;
            self.caller.role = role;
            self.caller.capabilities = capabilities;
            self.checked_at = Instant::now();
            admission.connection
        } else {
            self.reads.as_caller(&self.caller).await?
        };
        let rows: Vec<Followed> = sql.build_query_as().fetch_all(&mut *conn).await?;
        if let Some(last) = rows.last() {
            self.seen = (
                last.feed_transaction_id.clone(),
                last.activity.last_position,
                last.activity.id,
            );
        }
        self.pending
            .extend(rows.into_iter().map(|row| row.activity));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::announced;

    #[test]
    fn announcements_name_a_projection_and_a_position() {
        assert_eq!(announced("activity_feed:42"), Some(("activity_feed", 42)));
        assert_eq!(
            announced("people_directory:7"),
            Some(("people_directory", 7))
        );
        assert_eq!(announced("activity_feed:x"), None);
        assert_eq!(announced("activity_feed"), None);
    }
}
