//! The demo fixture, loaded through the command bus.

use foldline_aggregates::contract::{Contract, ContractStatus};
use foldline_aggregates::invoice::{Invoice, InvoiceStatus};
use foldline_aggregates::production_advance::{AdvanceStatus, ProductionAdvance};
use foldline_aggregates::Loaded;
use foldline_server::fixture::{self, Fixture, FixtureError};
use foldline_tests::TestDb;

#[tokio::test]
async fn the_demo_loads_once_and_a_second_load_appends_nothing() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let demo = Fixture::load("demo").unwrap();
    let first = fixture::seed(&bus, &demo).await.unwrap();
    assert_eq!(first.applied, demo.steps.len());
    assert_eq!(first.skipped, 0);
    let events = db.event_count().await;
    assert_eq!(events as usize, first.events);

    let second = fixture::seed(&bus, &demo).await.unwrap();
    assert_eq!(second.applied, 0);
    assert_eq!(second.skipped, demo.steps.len());
    assert_eq!(db.event_count().await, events);

    // Every event came through the bus with the fixture as its source.
    let sources: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT metadata ->> 'source' FROM events")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(sources, vec!["fixture".to_owned()]);
}

#[tokio::test]
async fn the_demo_walks_its_entities_through_their_lifecycles() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let demo = Fixture::load("demo").unwrap();
    fixture::seed(&bus, &demo).await.unwrap();
    let id_of = |aggregate: &str| {
        demo.steps
            .iter()
            .find(|s| s.command.aggregate_type() == aggregate)
            .map(|s| s.aggregate_id.to_string())
            .unwrap()
    };
    let advance: Loaded<ProductionAdvance> =
        bus.store().load(&id_of("ProductionAdvance")).await.unwrap();
    assert_eq!(advance.aggregate.status, AdvanceStatus::Approved);
    assert_eq!(advance.aggregate.approvals.len(), 3);
    assert_eq!(advance.aggregate.items.len(), 12);
    let contract: Loaded<Contract> = bus.store().load(&id_of("Contract")).await.unwrap();
    assert_eq!(contract.aggregate.status, ContractStatus::Active);
    assert_eq!(contract.aggregate.versions.len(), 2);

    let invoices: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'Invoice'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for id in invoices {
        let invoice: Loaded<Invoice> = bus.store().load(&id).await.unwrap();
        statuses.push(invoice.aggregate.status);
    }
    for status in [
        InvoiceStatus::Draft,
        InvoiceStatus::PartiallyPaid,
        InvoiceStatus::Paid,
    ] {
        assert!(statuses.contains(&status), "{statuses:?}");
    }
}

#[test]
fn a_malformed_fixture_is_a_clear_error() {
    let error = Fixture::parse(
        "inline",
        r#"{"name": "x", "organization": "@o", "steps": [
        {"actor": "@a", "id": "@o", "aggregate": "Organization",
         "command": {"type": "make_coffee"}}]}"#,
    )
    .unwrap_err();
    assert!(matches!(error, FixtureError::Malformed { .. }));
    assert!(
        error.to_string().contains("step 0 (make_coffee)"),
        "{error}"
    );
    assert!(Fixture::load("no-such-fixture").is_err());
}

#[tokio::test]
async fn a_refused_step_names_its_index() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let bad = Fixture::parse(
        "inline",
        r#"{"name": "bad", "organization": "@o", "steps": [
            {"actor": "@a", "id": "@o", "aggregate": "Organization",
             "command": {"type": "create_organization", "name": "O",
                         "founder_name": "A", "founder_email": "a@example.com"}},
            {"actor": "@stranger", "id": "@o", "aggregate": "Organization",
             "command": {"type": "rename_organization", "name": "Mine"}}]}"#,
    )
    .unwrap();
    let error = fixture::seed(&bus, &bad).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("fixture step 1 (Organization rename_organization)"),
        "{error}"
    );
}
