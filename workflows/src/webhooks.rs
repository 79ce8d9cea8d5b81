//! The organizations' webhooks, and the sender that delivers the outbox to
//! them.
//!
//! Delivery is at least once: a message is sent until its endpoint answers
//! 2xx, with backoff between tries, and is `dead` after the configured
//! number of tries until an operator retries it. Every try carries the
//! message's key as `Idempotency-Key`, so a receiver that got it before (a
//! sender that stopped after sending and before recording it) can tell.
//!
//! Each request is signed as `Foldline-Signature: t=<unix seconds>,
//! v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook's secret>`: the
//! receiver recomputes it over the raw body and refuses a mismatch or an
//! old `t`.
//!
//! A sender claims what it sends for a lease (longer than a request's
//! timeout) with `FOR UPDATE SKIP LOCKED`, so two servers do not send the
//! same delivery at once, and one that stopped mid-send leaves it to be
//! sent again when the lease ends. No transaction is held during a request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::backoff::backoff;

/// The header carrying a delivery's signature.
pub const SIGNATURE_HEADER: &str = "foldline-signature";
/// Deliveries claimed per look.
const BATCH: i64 = 50;
/// Requests in flight at once, so that one slow endpoint does not hold
/// back the others.
const IN_FLIGHT: usize = 16;
/// How often an idle sender looks for deliveries.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The shortest secret accepted.
const MIN_SECRET: usize = 16;

/// How deliveries are tried.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tries before a delivery is dead.
    pub max_attempts: i32,
    /// How long one request may take.
    pub timeout: Duration,
    /// The wait after the first failed try; it doubles after each.
    pub first_backoff: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_attempts: 10,
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_secs(5),
        }
    }
}

/// Why a webhook cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not one deliveries may go to.
    #[error("webhook URL `{url}`: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The secret is too short to sign with.
    #[error("a webhook secret needs at least {MIN_SECRET} characters")]
    Secret,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A webhook as an operator sees it: never its secret.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Webhook {
    /// Its id.
    pub id: Uuid,
    /// Its organization.
    pub organization_id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// The topics it takes; none: all.
    pub topics: Vec<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// Deliveries waiting.
    pub pending: i64,
    /// Deliveries made.
    pub delivered: i64,
    /// Deliveries that ran out of tries.
    pub dead: i64,
}

/// Adds a webhook to `organization`; gives its id. The URL must be HTTPS,
/// or HTTP to this machine (a local receiver).
pub async fn add(
    pool: &PgPool,
    organization: Uuid,
    url: &str,
    secret: &str,
    topics: &[String],
) -> Result<Uuid, WebhookError> {
    check_url(url)?;
    if secret.chars().count() < MIN_SECRET {
        return Err(WebhookError::Secret);
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO webhooks (id, organization_id, url, secret, topics)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(organization)
    .bind(url)
    .bind(secret)
    .bind(topics)
    .execute(pool)
    .await?;
    Ok(id)
}

fn check_url(url: &str) -> Result<(), WebhookError> {
    let refuse = |reason| WebhookError::Url {
        url: url.to_owned(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| refuse("not a URL"))?;
    let local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        _ => Err(refuse("must be https (http only to this machine)")),
    }
}

/// The webhooks of `organization`, or of all, with their deliveries.
pub async fn list(pool: &PgPool, organization: Option<Uuid>) -> Result<Vec<Webhook>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.id, w.organization_id, w.url, w.topics, w.created_at,
                count(*) FILTER (WHERE d.status = 'pending') AS pending,
                count(*) FILTER (WHERE d.status = 'delivered') AS delivered,
                count(*) FILTER (WHERE d.status = 'dead') AS dead
         FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
         WHERE $1::uuid IS NULL OR w.organization_id = $1
         GROUP BY w.id
         ORDER BY w.organization_id, w.created_at",
    )
    .bind(organization)
    .fetch_all(pool)
    .await
}

/// Removes a webhook and what it had still to deliver; gives whether it
/// was there.
pub async fn remove(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let removed = sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(removed.rows_affected() == 1)
}

/// Puts a webhook's dead deliveries back to be tried now, with their tries
/// counted afresh; gives how many.
pub async fn retry(pool: &PgPool, id: Uuid) -> Result<u64, sqlx::Error> {
    let retried = sqlx::query(
        "UPDATE webhook_deliveries
         SET status = 'pending', attempts = 0, next_attempt_at = now()
         WHERE webhook_id = $1 AND status = 'dead'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(retried.rows_affected())
}

/// The signature of `body` sent at `timestamp` under `secret`, as the
/// [`SIGNATURE_HEADER`] carries it.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// A delivery claimed to be tried.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    message_key: String,
    webhook_id: Uuid,
    attempts: i32,
    url: String,
    secret: String,
    topic: String,
    organization_id: Uuid,
    payload: Value,
    caused_by: Uuid,
    correlation_id: Uuid,
    created_at: DateTime<Utc>,
}

/// What one try came to.
enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

/// Delivers the outbox.
#[derive(Debug, Clone)]
pub struct Sender {
    pool: PgPool,
    client: reqwest::Client,
    settings: Settings,
}

impl Sender {
    /// A sender reading `pool`, trying as `settings` say.
    pub fn new(pool: PgPool, settings: Settings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("foldline/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender {
            pool,
            client,
            settings,
        })
    }

    /// Tries every delivery due now; gives how many it tried.
    pub async fn deliver_due(&self) -> Result<usize, sqlx::Error> {
        let lease = self.settings.timeout * 2 + Duration::from_secs(5);
        let claimed: Vec<Claimed> = sqlx::query_as(
            "WITH due AS (
                 SELECT message_key, webhook_id FROM webhook_deliveries
                 WHERE status = 'pending' AND next_attempt_at <= now()
                 ORDER BY next_attempt_at
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE webhook_deliveries d
             SET next_attempt_at = now() + $2 * interval '1 millisecond'
             FROM due, outbox o, webhooks w
             WHERE d.message_key = due.message_key AND d.webhook_id = due.webhook_id
               AND o.key = d.message_key AND w.id = d.webhook_id
             RETURNING d.message_key, d.webhook_id, d.attempts, w.url, w.secret, o.topic,
                       o.organization_id, o.payload, o.caused_by, o.correlation_id,
                       o.created_at",
        )
        .bind(BATCH)
        .bind(lease.as_millis() as f64)
        .fetch_all(&self.pool)
        .await?;
        let tried = claimed.len();
        let results: Vec<Result<(), sqlx::Error>> = futures::stream::iter(claimed)
            .map(|delivery| async move {
                let outcome = self.post(&delivery).await;
                self.record(&delivery, outcome).await
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), _>>()?;
        Ok(tried)
    }

    async fn post(&self, delivery: &Claimed) -> Outcome {
        let body = json!({
            "key": delivery.message_key,
            "topic": delivery.topic,
            "organization_id": delivery.organization_id,
            "created_at": delivery.created_at,
            "caused_by": delivery.caused_by,
            "correlation_id": delivery.correlation_id,
            "payload": delivery.payload,
        })
        .to_string()
        .into_bytes();
        let signed = signature(&delivery.secret, Utc::now().timestamp(), &body);
        let sent = self
            .client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", &delivery.message_key)
            .header("foldline-topic", &delivery.topic)
            .header(SIGNATURE_HEADER, signed)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                Outcome::Delivered(response.status().as_u16())
            }
            Ok(response) => Outcome::Failed {
                status: Some(response.status().as_u16()),
                error: format!("answered {}", response.status()),
            },
            Err(error) => Outcome::Failed {
                status: None,
                error: if error.is_timeout() {
                    format!("no answer within {:?}", self.settings.timeout)
                } else {
                    format!("could not be reached: {error}")
                },
            },
        }
    }

    async fn record(&self, delivery: &Claimed, outcome: Outcome) -> Result<(), sqlx::Error> {
        let (status, error) = match outcome {
            Outcome::Delivered(status) => {
                sqlx::query(
                    "UPDATE webhook_deliveries
                     SET status = 'delivered', attempts = attempts + 1, last_status = $3,
                         last_error = NULL, delivered_at = now()
                     WHERE message_key = $1 AND webhook_id = $2",
                )
                .bind(&delivery.message_key)
                .bind(delivery.webhook_id)
                .bind(i32::from(status))
                .execute(&self.pool)
                .await?;
                metrics::counter!("foldline_webhook_deliveries_total", "outcome" => "delivered")
                    .increment(1);
                return Ok(());
            }
            Outcome::Failed { status, error } => (status, error),
        };
        let attempts = delivery.attempts + 1;
        let dead = attempts >= self.settings.max_attempts;
        let wait = backoff(self.settings.first_backoff, delivery.attempts, MAX_BACKOFF);
        tracing::warn!(key = %delivery.message_key, url = %delivery.url, %error, attempts, dead,
                       "webhook delivery failed");
        sqlx::query(
            "UPDATE webhook_deliveries
             SET status = CASE WHEN $4 THEN 'dead' ELSE 'pending' END,
                 attempts = $3, last_status = $5, last_error = $6,
                 next_attempt_at = now() + $7 * interval '1 millisecond'
             WHERE message_key = $1 AND webhook_id = $2",
        )
        .bind(&delivery.message_key)
        .bind(delivery.webhook_id)
        .bind(attempts)
        .bind(dead)
        .bind(status.map(i32::from))
        .bind(error)
        .bind(wait.as_millis() as f64)
        .execute(&self.pool)
        .await?;
        let outcome = if dead { "dead" } else { "failed" };
        metrics::counter!("foldline_webhook_deliveries_total", "outcome" => outcome).increment(1);
        Ok(())
    }

    /// Runs the sender until `shutdown` says stop. A failed look (the
    /// database restarting) is logged and tried again.
    pub fn spawn(self, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if *shutdown.borrow() {
                    return;
                }
                let wait = match self.deliver_due().await {
                    Ok(n) if n as i64 == BATCH => Duration::ZERO,
                    Ok(_) => POLL_INTERVAL,
                    Err(error) => {
                        tracing::warn!(%error, "webhook sender could not look for deliveries");
                        Duration::from_secs(1)
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_this_machine() {
        assert!(check_url("https://hooks.example.com/foldline").is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("http://localhost/hook").is_ok());
        assert!(check_url("http://hooks.example.com/foldline").is_err());
        assert!(check_url("ftp://127.0.0.1/").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        let a = signature("0123456789abcdef", 1_700_000_000, b"{}");
        assert!(a.starts_with("t=1700000000,v1="));
        assert_eq!(a.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(a, signature("0123456789abcdef", 1_700_000_001, b"{}"));
        assert_ne!(a, signature("0123456789abcdef", 1_700_000_000, b"{ }"));
        assert_ne!(a, signature("0123456789abcdeX", 1_700_000_000, b"{}"));
    }
}
