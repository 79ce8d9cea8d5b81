//! The outbox delivered to webhooks, against a local receiver standing in
//! for the provider: delivery, its signature, retries after a 500, the dead
//! letter after the last try, a receiver that hangs, and no duplicate from
//! two senders at once or a second look, nor one the receiver cannot tell
//! from a sender that stopped mid-request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use foldline_aggregates::invoice::{Invoice, InvoiceCommand};
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_aggregates::CommandBus;
use foldline_tests::commands::{draft_invoice, invoice_line};
use foldline_tests::eventually::eventually;
use foldline_tests::{Org, TestDb};
use foldline_workflows::webhooks::{self, Sender, Settings, WebhookError};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

use crate::workflows::{run_workflows, switch_on};

const SECRET: &str = "a-secret-of-some-length";

/// What the receiver got, and how it answers.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<(HeaderMap, Bytes)>>,
    /// Requests answered 500 before it answers 200.
    failures: AtomicUsize,
    /// How long it takes to answer.
    delay: Mutex<Duration>,
}

impl Receiver {
    fn got(&self) -> Vec<(HeaderMap, Value)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(headers, body)| (headers.clone(), serde_json::from_slice(body).unwrap()))
            .collect()
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    // Recorded on arrival: a sender that stops while it waits for the
    // answer has still delivered.
    receiver.got.lock().unwrap().push((headers, body));
    let delay = *receiver.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let failing = receiver
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A receiver listening on this machine; gives it and its URL.
async fn receiver() -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (receiver, url)
}

/// Whether `header` signs `body` under `secret` within five minutes:
/// computed here, as a receiver would, not with the sender's code.
fn signed(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (Utc::now().timestamp() - t).abs() < 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    fresh && hex::decode(v1).is_ok_and(|v1| mac.verify_slice(&v1).is_ok())
}

fn settings(max_attempts: i32) -> Settings {
    Settings {
        max_attempts,
        timeout: Duration::from_secs(1),
        // Tried again at once: the tests look again rather than wait.
        first_backoff: Duration::ZERO,
    }
}

/// An invoice of `org` paid in full, with the follow-up workflow on: it
/// emits `invoice.paid`. Gives the invoice.
async fn paid_invoice(db: &TestDb, bus: &CommandBus, org: &Org) -> Uuid {
    switch_on(bus, org, WorkflowKind::InvoiceFollowUp).await;
    let id = Uuid::new_v4();
    let today = Utc::now().date_naive();
    for command in [
        draft_invoice("INV-HOOK", org.client),
        invoice_line(10),
        InvoiceCommand::IssueInvoice { issued_on: today },
        InvoiceCommand::ChangeDueDate { due_on: today },
        InvoiceCommand::RecordPayment {
            payment_id: Uuid::new_v4(),
            amount: 1000,
            paid_on: today,
            method: "card".into(),
            reference: None,
        },
    ] {
        bus.execute::<Invoice>(&org.request(org.finance), id, command, None)
            .await
            .unwrap();
    }
    run_workflows(db).await;
    id
}

/// A receiver, set up by `setup`, hooked to every topic of `org`, which
/// then pays an invoice (a message for it); gives the receiver and the
/// webhook.
async fn hooked_and_paid(
    db: &TestDb,
    bus: &CommandBus,
    org: &Org,
    setup: impl FnOnce(&Receiver),
) -> (Arc<Receiver>, Uuid) {
    let (receiver, url) = receiver().await;
    setup(&receiver);
    let hook = webhooks::add(&db.pool, org.id, &url, SECRET, &[])
        .await
        .unwrap();
    paid_invoice(db, bus, org).await;
    (receiver, hook)
}

async fn deliveries(db: &TestDb, webhook: Uuid) -> Vec<(String, i32, Option<i32>)> {
    sqlx::query_as(
        "SELECT status, attempts, last_status FROM webhook_deliveries WHERE webhook_id = $1",
    )
    .bind(webhook)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_message_is_delivered_signed_to_the_webhooks_that_take_it_once() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Hooked").await;
    let other = Org::create(&bus, "Other hooks").await;
    let (ledger, ledger_url) = receiver().await;
    let (mail, mail_url) = receiver().await;
    let (theirs, theirs_url) = receiver().await;
    let topics = |t: &str| vec![t.to_owned()];
    let hook = webhooks::add(
        &db.pool,
        org.id,
        &ledger_url,
        SECRET,
        &topics("invoice.paid"),
    )
    .await
    .unwrap();
    webhooks::add(
        &db.pool,
        org.id,
        &mail_url,
        SECRET,
        &topics("invoice.overdue"),
    )
    .await
    .unwrap();
    webhooks::add(&db.pool, other.id, &theirs_url, SECRET, &[])
        .await
        .unwrap();
    let invoice = paid_invoice(&db, &bus, &org).await;

    let sender = Sender::new(db.pool.clone(), settings(3)).unwrap();
    assert_eq!(sender.deliver_due().await.unwrap(), 1);
    assert_eq!(sender.deliver_due().await.unwrap(), 0, "delivered once");
    let got = ledger.got();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    let raw = ledger.got.lock().unwrap()[0].1.clone();
    assert!(
        signed(
            SECRET,
            headers["foldline-signature"].to_str().unwrap(),
            &raw
        ),
        "{headers:?}"
    );
    assert!(!signed(
        "another-secret-entirely",
        headers["foldline-signature"].to_str().unwrap(),
        &raw
    ));
    assert_eq!(body["topic"], "invoice.paid");
    assert_eq!(headers["idempotency-key"].to_str().unwrap(), body["key"]);
    assert_eq!(body["organization_id"], org.id.to_string());
    assert_eq!(body["payload"]["invoice_id"], invoice.to_string());
    assert_eq!(body["payload"]["number"], "INV-HOOK");
    assert_eq!(body["payload"]["total_minor_units"], 1000);
    assert_eq!(
        deliveries(&db, hook).await,
        [("delivered".into(), 1, Some(200))]
    );
    // Not the other topic's hook, nor the other organization's.
    assert!(mail.got().is_empty());
    assert!(theirs.got().is_empty());

    // Running the workflows again emits nothing new.
    run_workflows(&db).await;
    assert_eq!(sender.deliver_due().await.unwrap(), 0);
    let listed = webhooks::list(&db.pool, Some(org.id)).await.unwrap();
    assert_eq!(listed.len(), 2);
    let listed = listed.iter().find(|w| w.id == hook).unwrap();
    assert_eq!((listed.pending, listed.delivered, listed.dead), (0, 1, 0));
}

#[tokio::test]
async fn a_refused_delivery_is_tried_again_then_dead_until_retried() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Flaky hooks").await;
    let (flaky, hook) = hooked_and_paid(&db, &bus, &org, |r| {
        r.failures.store(usize::MAX, Ordering::SeqCst);
    })
    .await;

    let sender = Sender::new(db.pool.clone(), settings(3)).unwrap();
    for tries in 1..=3 {
        assert_eq!(sender.deliver_due().await.unwrap(), 1);
        let expected = if tries < 3 { "pending" } else { "dead" };
        assert_eq!(
            deliveries(&db, hook).await,
            [(expected.into(), tries, Some(500))]
        );
    }
    assert_eq!(sender.deliver_due().await.unwrap(), 0, "dead is not tried");
    let got = flaky.got();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|(headers, _)| headers["idempotency-key"] == got[0].0["idempotency-key"]),
        "every try under the one key"
    );

    // The receiver mends: retried, it is delivered.
    flaky.failures.store(0, Ordering::SeqCst);
    assert_eq!(webhooks::retry(&db.pool, hook).await.unwrap(), 1);
    assert_eq!(sender.deliver_due().await.unwrap(), 1);
    assert_eq!(
        deliveries(&db, hook).await,
        [("delivered".into(), 1, Some(200))]
    );

    // One 500, then delivered on the next try.
    let second = Org::create(&bus, "Once flaky").await;
    let (once, hook) = hooked_and_paid(&db, &bus, &second, |r| {
        r.failures.store(1, Ordering::SeqCst);
    })
    .await;
    sender.deliver_due().await.unwrap();
    sender.deliver_due().await.unwrap();
    assert_eq!(
        deliveries(&db, hook).await,
        [("delivered".into(), 2, Some(200))]
    );
    assert_eq!(once.got().len(), 2);
}

#[tokio::test]
async fn a_receiver_that_hangs_is_a_failed_try_not_a_stuck_sender() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Hanging hook").await;
    let (_hanging, hook) = hooked_and_paid(&db, &bus, &org, |r| {
        *r.delay.lock().unwrap() = Duration::from_secs(30);
    })
    .await;

    let sender = Sender::new(db.pool.clone(), settings(3)).unwrap();
    let tried = tokio::time::timeout(Duration::from_secs(10), sender.deliver_due())
        .await
        .expect("the request timed out, not the sender");
    assert_eq!(tried.unwrap(), 1);
    let (status, attempts, error): (String, i32, String) = sqlx::query_as(
        "SELECT status, attempts, last_error FROM webhook_deliveries WHERE webhook_id = $1",
    )
    .bind(hook)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(error.contains("no answer within"), "{error}");
}

#[tokio::test]
async fn two_senders_at_once_deliver_a_message_once() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Two senders").await;
    let (slow, hook) = hooked_and_paid(&db, &bus, &org, |r| {
        // Slow enough that both senders look while the first request is out.
        *r.delay.lock().unwrap() = Duration::from_millis(300);
    })
    .await;

    let a = Sender::new(db.pool.clone(), settings(3)).unwrap();
    let b = Sender::new(db.pool.clone(), settings(3)).unwrap();
    let (tried_a, tried_b) = tokio::join!(a.deliver_due(), b.deliver_due());
    assert_eq!(tried_a.unwrap() + tried_b.unwrap(), 1);
    // Restarted, neither sends it again.
    assert_eq!(a.deliver_due().await.unwrap(), 0);
    assert_eq!(slow.got().len(), 1);
    assert_eq!(
        deliveries(&db, hook).await,
        [("delivered".into(), 1, Some(200))]
    );
}

#[tokio::test]
async fn a_sender_stopped_mid_request_sends_again_after_its_lease_under_the_same_key() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Crashing sender").await;
    let (receiver, hook) = hooked_and_paid(&db, &bus, &org, |r| {
        *r.delay.lock().unwrap() = Duration::from_secs(30);
    })
    .await;

    // The sender stops (its process killed) once the request is out.
    let stopping = {
        let sender = Sender::new(db.pool.clone(), settings(3)).unwrap();
        tokio::spawn(async move { sender.deliver_due().await })
    };
    eventually("the request never arrived", || async {
        (!receiver.got().is_empty()).then_some(())
    })
    .await;
    assert_eq!(receiver.got().len(), 1, "the request never arrived");
    stopping.abort();
    assert!(stopping.await.unwrap_err().is_cancelled());

    // Started again, it leaves the delivery alone while the lease lasts…
    *receiver.delay.lock().unwrap() = Duration::ZERO;
    let sender = Sender::new(db.pool.clone(), settings(3)).unwrap();
    assert_eq!(sender.deliver_due().await.unwrap(), 0);
    assert_eq!(deliveries(&db, hook).await, [("pending".into(), 0, None)]);
    // …and sends it when the lease has run out, under the same key, so
    // the receiver can tell it got it before. Then never again.
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE webhook_id = $1")
        .bind(hook)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(sender.deliver_due().await.unwrap(), 1);
    assert_eq!(sender.deliver_due().await.unwrap(), 0);
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0["idempotency-key"], got[1].0["idempotency-key"]);
    assert_eq!(got[0].1["key"], got[1].1["key"]);
    assert_eq!(got[0].1["payload"], got[1].1["payload"]);
    assert_eq!(
        deliveries(&db, hook).await,
        [("delivered".into(), 1, Some(200))]
    );
}

#[tokio::test]
async fn a_webhook_needs_https_and_a_real_secret() {
    let db = TestDb::new().await;
    let org = Uuid::new_v4();
    let refused = webhooks::add(&db.pool, org, "http://hooks.example.com/x", SECRET, &[]).await;
    assert!(
        matches!(refused, Err(WebhookError::Url { .. })),
        "{refused:?}"
    );
    let refused = webhooks::add(&db.pool, org, "https://hooks.example.com/x", "short", &[]).await;
    assert!(matches!(refused, Err(WebhookError::Secret)), "{refused:?}");
    assert!(webhooks::list(&db.pool, Some(org))
        .await
        .unwrap()
        .is_empty());
    let added = webhooks::add(&db.pool, org, "https://hooks.example.com/x", SECRET, &[])
        .await
        .unwrap();
    assert!(webhooks::remove(&db.pool, added).await.unwrap());
    assert!(!webhooks::remove(&db.pool, added).await.unwrap());
}
