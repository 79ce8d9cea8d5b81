//! The events table: what the database fills in, what it refuses, snapshots.

use foldline_aggregates::invoice::{Invoice, InvoiceStatus};
use foldline_aggregates::{EventStore, Loaded};
use foldline_tests::{Org, TestDb};
use uuid::Uuid;

use foldline_tests::commands::{draft_invoice, invoice_line};

#[tokio::test]
async fn append_then_reload() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Reload").await;
    let request = org.request(org.member);
    let id = Uuid::new_v4();
    bus.execute::<Invoice>(&request, id, draft_invoice("INV-1", org.client), None)
        .await
        .unwrap();
    let outcome = bus
        .execute::<Invoice>(&request, id, invoice_line(3), None)
        .await
        .unwrap();
    assert_eq!(outcome.version, 2);

    let loaded: Loaded<Invoice> = db_store(&db).load(&id.to_string()).await.unwrap();
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.aggregate.number, "INV-1");
    assert_eq!(loaded.aggregate.lines.len(), 1);
    assert_eq!(loaded.aggregate.total().unwrap(), 300);
    assert_eq!(loaded.aggregate.status, InvoiceStatus::Draft);
    assert_eq!(loaded.aggregate.organization_id, Some(org.id));
    assert_eq!(loaded.aggregate.owner_id, Some(org.member));
}

fn db_store(db: &TestDb) -> EventStore {
    EventStore::new(db.pool.clone())
}

#[tokio::test]
async fn every_row_has_position_transaction_time_and_organization() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Columns").await;
    let id = Uuid::new_v4();
    bus.execute::<Invoice>(
        &org.request(org.member),
        id,
        draft_invoice("INV-2", org.client),
        None,
    )
    .await
    .unwrap();
    let rows: Vec<(i64, String, chrono::DateTime<chrono::Utc>, Uuid)> = sqlx::query_as(
        "SELECT global_position, transaction_id::text, recorded_at, organization_id
         FROM events ORDER BY global_position",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    // The organization's creation (2 events), six members, a client, an
    // event, the invoice.
    assert_eq!(rows.len(), 11);
    let mut last_position = 0;
    for (position, xid, recorded_at, organization_id) in &rows {
        assert!(*position > last_position, "positions increase");
        last_position = *position;
        assert!(xid.parse::<u64>().unwrap() > 0);
        assert!((chrono::Utc::now() - *recorded_at).num_seconds() < 60);
        assert_eq!(*organization_id, org.id);
    }
    // Events of one command share a transaction; separate commands do not.
    assert_eq!(rows[0].1, rows[1].1);
    assert_ne!(rows[1].1, rows[2].1);
}

#[tokio::test]
async fn events_are_append_only() {
    let db = TestDb::new().await;
    let bus = db.bus();
    Org::create(&bus, "Append only").await;
    let before = db.event_count().await;
    for statement in [
        "UPDATE events SET payload = '{}'::jsonb",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let error = sqlx::query(statement)
            .execute(&db.pool)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    assert_eq!(db.event_count().await, before);
}

#[tokio::test]
async fn the_metadata_carries_who_why_and_through_what() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Metadata").await;
    let correlation = Uuid::new_v4();
    let cause = Uuid::new_v4();
    let request = org
        .request(org.member)
        .with_correlation_id(correlation)
        .caused_by(cause)
        .with_request_id("req-42");
    let id = Uuid::new_v4();
    bus.execute::<Invoice>(&request, id, draft_invoice("INV-3", org.client), None)
        .await
        .unwrap();
    let metadata: serde_json::Value =
        sqlx::query_scalar("SELECT metadata FROM events WHERE aggregate_id = $1 AND sequence = 1")
            .bind(id.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(metadata["organization_id"], org.id.to_string());
    assert_eq!(metadata["actor_id"], org.member.to_string());
    assert_eq!(metadata["correlation_id"], correlation.to_string());
    assert_eq!(metadata["causation_id"], cause.to_string());
    assert_eq!(metadata["source"], "api");
    assert_eq!(metadata["request_id"], "req-42");
    assert_eq!(metadata["command"], "DraftInvoice");
    assert!(metadata["command_id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .is_ok());
}

#[tokio::test]
async fn a_long_stream_loads_through_its_snapshot() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Long stream").await;
    let request = org.request(org.member);
    let id = Uuid::new_v4();
    bus.execute::<Invoice>(&request, id, draft_invoice("INV-LONG", org.client), None)
        .await
        .unwrap();
    // 9,998 more lines appended in bulk, as an import would, then one command
    // through the bus: it crosses a multiple of 100 and writes the snapshot.
    sqlx::query(
        "INSERT INTO events
             (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'Invoice', $1, n, 'InvoiceLineAdded', '1.0',
                jsonb_build_object('InvoiceLineAdded', jsonb_build_object(
                    'line_id', gen_random_uuid(), 'description', 'Crew day ' || n,
                    'quantity', 1, 'unit_price', 100)),
                (SELECT metadata FROM events WHERE aggregate_id = $1 AND sequence = 1)
         FROM generate_series(2, 9999) AS n",
    )
    .bind(id.to_string())
    .execute(&db.pool)
    .await
    .unwrap();
    let outcome = bus
        .execute::<Invoice>(&request, id, invoice_line(1), Some(9_999))
        .await
        .unwrap();
    assert_eq!(outcome.version, 10_000);
    let store = db_store(&db);
    let with_snapshot: Loaded<Invoice> = store.load(&id.to_string()).await.unwrap();
    assert_eq!(with_snapshot.version, 10_000);
    assert_eq!(with_snapshot.snapshot_version, Some(10_000));
    assert_eq!(with_snapshot.aggregate.lines.len(), 9_999);

    // Without the snapshot the full replay gives the same state.
    sqlx::query("DELETE FROM snapshots")
        .execute(&db.pool)
        .await
        .unwrap();
    let replayed: Loaded<Invoice> = store.load(&id.to_string()).await.unwrap();
    assert_eq!(replayed.snapshot_version, None);
    assert_eq!(replayed.version, 10_000);
    assert_eq!(replayed.aggregate, with_snapshot.aggregate);
}

#[tokio::test]
async fn a_snapshot_that_no_longer_reads_is_ignored() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Stale snapshot").await;
    let request = org.request(org.member);
    let id = Uuid::new_v4();
    bus.execute::<Invoice>(&request, id, draft_invoice("INV-S", org.client), None)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, payload)
         VALUES ('Invoice', $1, 1, '{\"shape\": \"from an older release\"}')",
    )
    .bind(id.to_string())
    .execute(&db.pool)
    .await
    .unwrap();
    let loaded: Loaded<Invoice> = db_store(&db).load(&id.to_string()).await.unwrap();
    assert_eq!(loaded.snapshot_version, None);
    assert_eq!(loaded.aggregate.number, "INV-S");
}

#[tokio::test]
async fn a_cached_state_still_sees_another_process_appends() {
    let db = TestDb::new().await;
    let here = db.bus();
    // A second bus with its own store and cache, as another server would have.
    let there = db.bus();
    let org = Org::create(&here, "Two processes").await;
    let request = org.request(org.member);
    let id = Uuid::new_v4();
    here.execute::<Invoice>(&request, id, draft_invoice("INV-2P", org.client), None)
        .await
        .unwrap();
    here.execute::<Invoice>(&request, id, invoice_line(1), None)
        .await
        .unwrap();
    // `here` caches version 2; `there` appends version 3.
    let outcome = there
        .execute::<Invoice>(&request, id, invoice_line(2), None)
        .await
        .unwrap();
    assert_eq!(outcome.version, 3);
    // `here` decides on the state with both lines, not on its cached one.
    let loaded: Loaded<Invoice> = here.store().load(&id.to_string()).await.unwrap();
    assert_eq!(loaded.version, 3);
    assert_eq!(loaded.aggregate.total().unwrap(), 300);
    let outcome = here
        .execute::<Invoice>(&request, id, invoice_line(3), None)
        .await
        .unwrap();
    assert_eq!(outcome.version, 4);
}
