//! The assignments, location_registry and inventory_registry projections over
//! a real event store: every source event lands in its row with the right
//! columns, deletes and unassignments take rows away, and a rebuild gives the
//! same rows.

use chrono::{DateTime, Utc};
use foldline_aggregates::address::{Address, Coordinates};
use foldline_aggregates::asset::{Asset, AssetCommand, AssetKind};
use foldline_aggregates::company::{Company, CompanyCommand, CompanyKind, Office};
use foldline_aggregates::event::{Event, EventCommand, EventKind};
use foldline_aggregates::money::Currency;
use foldline_aggregates::production_advance::{ProductionAdvance, ProductionAdvanceCommand};
use foldline_aggregates::shift::{Shift, ShiftCommand};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::venue::{Venue, VenueCommand, VenueContact, VenueKind};
use foldline_aggregates::{CommandBus, CommandOutcome, DomainAggregate, DomainCommand, Visibility};
use foldline_projectors::assignments::{self, Assignments};
use foldline_projectors::inventory_registry::{self, InventoryRegistry};
use foldline_projectors::location_registry::{self, LocationRegistry};
use foldline_projectors::{Engine, Projection};
use foldline_tests::commands::create_advance;
use foldline_tests::read_side::{at, catch_up, rebuild_from_scratch, table_json};
use foldline_tests::{Org, TestDb};
use sqlx::postgres::PgRow;
use uuid::Uuid;

/// Runs `command` on `A` `id` as `actor`; it must succeed.
async fn run<A>(bus: &CommandBus, org: &Org, actor: Uuid, id: Uuid, command: A::Command) -> i64
where
    A: DomainAggregate,
    A::Command: DomainCommand,
{
    let outcome: CommandOutcome = bus
        .execute::<A>(&org.request(actor), id, command, None)
        .await
        .unwrap();
    outcome.global_position
}

/// The row of `table` with `external_id`, if there is one.
async fn row<T>(db: &TestDb, table: &str, external_id: &str) -> Option<T>
where
    T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    sqlx::query_as(&format!("SELECT * FROM {table} WHERE external_id = $1"))
        .bind(external_id)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
}

/// When an aggregate's first and last events were recorded, and the last's
/// global position: a row's `created_at`, `updated_at` and `last_position`.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Span {
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_position: i64,
}

async fn span(db: &TestDb, id: Uuid) -> Span {
    sqlx::query_as(
        "SELECT min(recorded_at) AS created_at, max(recorded_at) AS updated_at,
                max(global_position) AS last_position
         FROM events WHERE aggregate_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

fn span_of(created_at: DateTime<Utc>, updated_at: DateTime<Utc>, last_position: i64) -> Span {
    Span {
        created_at,
        updated_at,
        last_position,
    }
}

// ---------------------------------------------------------------- assignments

#[derive(Debug, sqlx::FromRow)]
struct AssignmentRow {
    id: Uuid,
    organization_id: Uuid,
    assignment_type: String,
    entity_type: String,
    entity_id: Uuid,
    entity_name: String,
    user_id: Uuid,
    role: String,
    status: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    project: Option<String>,
    event_id: Option<Uuid>,
    visibility: String,
    owner_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_position: i64,
}

impl AssignmentRow {
    fn span(&self) -> Span {
        span_of(self.created_at, self.updated_at, self.last_position)
    }
}

async fn assignment(db: &TestDb, external_id: &str) -> Option<AssignmentRow> {
    row(db, "assignments", external_id).await
}

fn create_task(assignee: Option<Uuid>, event_id: Option<Uuid>) -> TaskCommand {
    TaskCommand::CreateTask {
        title: "Book the crew bus".into(),
        description: None,
        event_id,
        project: Some("Winter tour".into()),
        assignee,
        due_at: Some(at("2026-12-10T09:00:00Z")),
        priority: Default::default(),
        visibility: Visibility::Private,
    }
}

#[tokio::test]
async fn task_assignees_come_and_go_with_the_assignment() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Task assignments").await;
    let task = Uuid::new_v4();
    let key = format!("Task:{task}");

    run::<Task>(
        &bus,
        &org,
        org.admin,
        task,
        create_task(Some(org.member), Some(org.event)),
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    let first = assignment(&db, &key)
        .await
        .expect("an assigned task has a row");
    assert_eq!(first.id, foldline_projectors::rows::row_id(&key));
    assert_eq!(first.organization_id, org.id);
    assert_eq!(first.assignment_type, "task");
    assert_eq!(first.entity_type, "Task");
    assert_eq!(first.entity_id, task);
    assert_eq!(first.entity_name, "Book the crew bus");
    assert_eq!(first.user_id, org.member);
    assert_eq!(first.role, "assignee");
    assert_eq!(first.status.as_deref(), Some("todo"));
    assert_eq!(first.starts_at, Some(at("2026-12-10T09:00:00Z")));
    assert_eq!(first.ends_at, None);
    assert_eq!(first.project.as_deref(), Some("Winter tour"));
    assert_eq!(first.event_id, Some(org.event));
    assert_eq!(first.visibility, "private");
    assert_eq!(first.owner_id, Some(org.admin));
    assert_eq!(first.span(), span(&db, task).await);

    // Reassigning, a new due date, a rename and a status change all land in
    // the one row.
    for command in [
        TaskCommand::AssignTask {
            assignee: Some(org.production_manager),
        },
        TaskCommand::SetTaskDueDate {
            due_at: Some(at("2026-12-11T15:00:00Z")),
        },
        TaskCommand::UpdateTask {
            title: Some("Book the sleeper bus".into()),
            description: None,
        },
        TaskCommand::StartTask,
    ] {
        run::<Task>(&bus, &org, org.member, task, command).await;
        catch_up(&db, &engine, &[&Assignments]).await;
    }
    let moved = assignment(&db, &key).await.unwrap();
    assert_eq!(moved.user_id, org.production_manager);
    assert_eq!(moved.starts_at, Some(at("2026-12-11T15:00:00Z")));
    assert_eq!(moved.entity_name, "Book the sleeper bus");
    assert_eq!(moved.status.as_deref(), Some("in_progress"));
    assert_eq!(moved.owner_id, Some(org.admin));
    assert_eq!(moved.created_at, first.created_at);
    assert_eq!(moved.span(), span(&db, task).await);

    // Unassigning removes the row; assigning again brings it back.
    run::<Task>(
        &bus,
        &org,
        org.member,
        task,
        TaskCommand::AssignTask { assignee: None },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(assignment(&db, &key).await.is_none());
    run::<Task>(
        &bus,
        &org,
        org.member,
        task,
        TaskCommand::AssignTask {
            assignee: Some(org.member),
        },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert_eq!(assignment(&db, &key).await.unwrap().user_id, org.member);

    // A finished task keeps its assignee's row; a deleted one does not.
    run::<Task>(&bus, &org, org.member, task, TaskCommand::CompleteTask).await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert_eq!(
        assignment(&db, &key).await.unwrap().status.as_deref(),
        Some("done")
    );
    run::<Task>(&bus, &org, org.member, task, TaskCommand::DeleteTask).await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(assignment(&db, &key).await.is_none());

    // A task nobody is assigned to has no row.
    let unassigned = Uuid::new_v4();
    run::<Task>(&bus, &org, org.member, unassigned, create_task(None, None)).await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(assignment(&db, &format!("Task:{unassigned}"))
        .await
        .is_none());
}

#[tokio::test]
async fn shifts_stay_when_cancelled_and_leave_when_deleted() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Shift assignments").await;
    let shift = Uuid::new_v4();
    let key = format!("Shift:{shift}");

    run::<Shift>(
        &bus,
        &org,
        org.admin,
        shift,
        ShiftCommand::ScheduleShift {
            member_id: org.member,
            event_id: org.event,
            role: "rigger".into(),
            starts_at: at("2026-12-12T14:00:00Z"),
            ends_at: at("2026-12-12T23:00:00Z"),
            visibility: Visibility::Restricted,
        },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    let scheduled = assignment(&db, &key).await.expect("a shift has a row");
    assert_eq!(scheduled.organization_id, org.id);
    assert_eq!(scheduled.assignment_type, "shift");
    assert_eq!(scheduled.entity_type, "Shift");
    assert_eq!(scheduled.entity_id, shift);
    assert_eq!(scheduled.entity_name, "rigger");
    assert_eq!(scheduled.user_id, org.member);
    assert_eq!(scheduled.role, "rigger");
    assert_eq!(scheduled.status.as_deref(), Some("scheduled"));
    assert_eq!(scheduled.starts_at, Some(at("2026-12-12T14:00:00Z")));
    assert_eq!(scheduled.ends_at, Some(at("2026-12-12T23:00:00Z")));
    assert_eq!(scheduled.project, None);
    assert_eq!(scheduled.event_id, Some(org.event));
    assert_eq!(scheduled.visibility, "restricted");
    assert_eq!(scheduled.owner_id, Some(org.admin));
    assert_eq!(scheduled.span(), span(&db, shift).await);

    run::<Shift>(&bus, &org, org.member, shift, ShiftCommand::ConfirmShift).await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert_eq!(
        assignment(&db, &key).await.unwrap().status.as_deref(),
        Some("confirmed")
    );
    run::<Shift>(
        &bus,
        &org,
        org.member,
        shift,
        ShiftCommand::RescheduleShift {
            starts_at: at("2026-12-12T12:00:00Z"),
            ends_at: at("2026-12-12T22:00:00Z"),
        },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    let moved = assignment(&db, &key).await.unwrap();
    assert_eq!(moved.starts_at, Some(at("2026-12-12T12:00:00Z")));
    assert_eq!(moved.ends_at, Some(at("2026-12-12T22:00:00Z")));
    assert_eq!(moved.span(), span(&db, shift).await);

    run::<Shift>(
        &bus,
        &org,
        org.member,
        shift,
        ShiftCommand::CancelShift {
            reason: "crew cut".into(),
        },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    let cancelled = assignment(&db, &key)
        .await
        .expect("a cancelled shift stays");
    assert_eq!(cancelled.status.as_deref(), Some("cancelled"));
    assert_eq!(cancelled.user_id, org.member);

    run::<Shift>(&bus, &org, org.admin, shift, ShiftCommand::DeleteShift).await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(assignment(&db, &key).await.is_none());
}

#[tokio::test]
async fn advance_assignees_have_a_row_until_the_advance_is_deleted() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Advance assignments").await;
    let advance = Uuid::new_v4();
    let key = format!("ProductionAdvance:{advance}");

    run::<ProductionAdvance>(
        &bus,
        &org,
        org.member,
        advance,
        create_advance("ADV-2026-001", org.event),
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(
        assignment(&db, &key).await.is_none(),
        "nobody is assigned yet"
    );

    run::<ProductionAdvance>(
        &bus,
        &org,
        org.member,
        advance,
        ProductionAdvanceCommand::UpdateAdvance {
            priority: None,
            due_date: Some(at("2026-12-01T17:00:00Z")),
            assignee: Some(org.production_manager),
        },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    let assigned = assignment(&db, &key).await.expect("an assignee has a row");
    assert_eq!(assigned.organization_id, org.id);
    assert_eq!(assigned.assignment_type, "production_advance");
    assert_eq!(assigned.entity_type, "ProductionAdvance");
    assert_eq!(assigned.entity_id, advance);
    assert_eq!(assigned.entity_name, "ADV-2026-001");
    assert_eq!(assigned.user_id, org.production_manager);
    assert_eq!(assigned.role, "assignee");
    assert_eq!(assigned.status.as_deref(), Some("draft"));
    assert_eq!(assigned.starts_at, Some(at("2026-12-01T17:00:00Z")));
    assert_eq!(assigned.ends_at, None);
    assert_eq!(assigned.event_id, Some(org.event));
    assert_eq!(assigned.visibility, "organization");
    assert_eq!(assigned.owner_id, Some(org.member));
    assert_eq!(assigned.span(), span(&db, advance).await);

    run::<ProductionAdvance>(
        &bus,
        &org,
        org.member,
        advance,
        ProductionAdvanceCommand::CancelAdvance {
            reason: "show moved".into(),
        },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert_eq!(
        assignment(&db, &key).await.unwrap().status.as_deref(),
        Some("cancelled")
    );

    run::<ProductionAdvance>(
        &bus,
        &org,
        org.admin,
        advance,
        ProductionAdvanceCommand::DeleteAdvance,
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(assignment(&db, &key).await.is_none());
}

fn register_asset(kind: AssetKind, quantity: i64, location_id: Option<Uuid>) -> AssetCommand {
    AssetCommand::RegisterAsset {
        kind,
        name: "Chain hoist".into(),
        tag: Some("CH-07".into()),
        quantity,
        value: 2_400_00,
        currency: Currency::try_from("EUR").unwrap(),
        location_id,
        visibility: Visibility::Restricted,
    }
}

/// When the asset's last check-out was recorded.
async fn checked_out_at(db: &TestDb, asset: Uuid) -> DateTime<Utc> {
    sqlx::query_scalar(
        "SELECT recorded_at FROM events
         WHERE aggregate_id = $1 AND event_type = 'AssetCheckedOut'
         ORDER BY sequence DESC LIMIT 1",
    )
    .bind(asset.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn asset_holders_are_assigned_while_the_asset_is_checked_out() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Holders").await;
    let asset = Uuid::new_v4();
    let key = format!("Asset:{asset}:holder");

    run::<Asset>(
        &bus,
        &org,
        org.admin,
        asset,
        register_asset(AssetKind::Equipment, 1, None),
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(assignment(&db, &key).await.is_none(), "not checked out yet");

    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::CheckOutAsset {
            holder: org.member,
            due_back: Some(at("2026-12-14T10:00:00Z")),
        },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    let held = assignment(&db, &key).await.expect("a holder has a row");
    assert_eq!(held.organization_id, org.id);
    assert_eq!(held.assignment_type, "asset");
    assert_eq!(held.entity_type, "Asset");
    assert_eq!(held.entity_id, asset);
    assert_eq!(held.entity_name, "Chain hoist");
    assert_eq!(held.user_id, org.member);
    assert_eq!(held.role, "holder");
    assert_eq!(held.status.as_deref(), Some("checked_out"));
    assert_eq!(held.starts_at, Some(checked_out_at(&db, asset).await));
    assert_eq!(held.ends_at, Some(at("2026-12-14T10:00:00Z")));
    assert_eq!(held.event_id, None);
    assert_eq!(held.visibility, "restricted");
    assert_eq!(held.owner_id, Some(org.admin));
    assert_eq!(held.span(), span(&db, asset).await);

    run::<Asset>(&bus, &org, org.member, asset, AssetCommand::CheckInAsset).await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(assignment(&db, &key).await.is_none(), "checked in");

    // A second check-out to someone else, with its own time, then back and deleted.
    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::CheckOutAsset {
            holder: org.production_manager,
            due_back: None,
        },
    )
    .await;
    catch_up(&db, &engine, &[&Assignments]).await;
    let again = assignment(&db, &key).await.unwrap();
    assert_eq!(again.user_id, org.production_manager);
    assert_eq!(again.starts_at, Some(checked_out_at(&db, asset).await));
    assert_eq!(again.ends_at, None);
    assert_eq!(again.id, held.id);

    run::<Asset>(&bus, &org, org.member, asset, AssetCommand::CheckInAsset).await;
    run::<Asset>(&bus, &org, org.admin, asset, AssetCommand::DeleteAsset).await;
    catch_up(&db, &engine, &[&Assignments]).await;
    assert!(assignment(&db, &key).await.is_none());
}

// ----------------------------------------------------------- location registry

#[derive(Debug, sqlx::FromRow)]
struct LocationRow {
    organization_id: Uuid,
    location_type: String,
    entity_type: String,
    entity_id: Uuid,
    name: String,
    address_line_1: Option<String>,
    address_line_2: Option<String>,
    city: Option<String>,
    state_province: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    capacity: Option<i64>,
    contact_name: Option<String>,
    contact_phone: Option<String>,
    contact_email: Option<String>,
    venue_id: Option<Uuid>,
    visibility: String,
    owner_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_position: i64,
}

impl LocationRow {
    fn span(&self) -> Span {
        span_of(self.created_at, self.updated_at, self.last_position)
    }
}

async fn location(db: &TestDb, external_id: &str) -> Option<LocationRow> {
    row(db, "location_registry", external_id).await
}

fn harbour_hall() -> VenueCommand {
    VenueCommand::RegisterVenue {
        name: "Harbour Hall".into(),
        kind: VenueKind::Venue,
        address: Address {
            line1: "1 Quay Street".into(),
            line2: Some("Stage door, rear".into()),
            city: "Dublin".into(),
            region: Some("Leinster".into()),
            postal_code: Some("D02 X285".into()),
            country: "IE".into(),
        },
        coordinates: Some(Coordinates {
            latitude: 53.3458,
            longitude: -6.2575,
        }),
        capacity: Some(1_200),
        contact: Some(VenueContact {
            name: "Mary Byrne".into(),
            email: Some("mary@harbourhall.example".into()),
            phone: Some("+353 1 555 0100".into()),
        }),
        visibility: Visibility::Public,
    }
}

fn cork_office() -> Office {
    Office {
        address: Address {
            line1: "5 Lapp's Quay".into(),
            line2: None,
            city: "Cork".into(),
            region: None,
            postal_code: Some("T12 RX3F".into()),
            country: "IE".into(),
        },
        coordinates: Some(Coordinates {
            latitude: 51.8979,
            longitude: -8.4706,
        }),
    }
}

#[tokio::test]
async fn venues_are_places_with_address_position_capacity_and_contact() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Venues").await;
    let venue = Uuid::new_v4();
    let key = format!("Venue:{venue}");

    run::<Venue>(&bus, &org, org.member, venue, harbour_hall()).await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    let hall = location(&db, &key).await.expect("a venue has a row");
    assert_eq!(hall.organization_id, org.id);
    assert_eq!(hall.location_type, "venue");
    assert_eq!(hall.entity_type, "Venue");
    assert_eq!(hall.entity_id, venue);
    assert_eq!(hall.name, "Harbour Hall");
    assert_eq!(hall.address_line_1.as_deref(), Some("1 Quay Street"));
    assert_eq!(hall.address_line_2.as_deref(), Some("Stage door, rear"));
    assert_eq!(hall.city.as_deref(), Some("Dublin"));
    assert_eq!(hall.state_province.as_deref(), Some("Leinster"));
    assert_eq!(hall.postal_code.as_deref(), Some("D02 X285"));
    assert_eq!(hall.country.as_deref(), Some("IE"));
    assert_eq!(hall.latitude, Some(53.3458));
    assert_eq!(hall.longitude, Some(-6.2575));
    assert_eq!(hall.capacity, Some(1_200));
    assert_eq!(hall.contact_name.as_deref(), Some("Mary Byrne"));
    assert_eq!(hall.contact_phone.as_deref(), Some("+353 1 555 0100"));
    assert_eq!(
        hall.contact_email.as_deref(),
        Some("mary@harbourhall.example")
    );
    assert_eq!(hall.venue_id, None);
    assert_eq!(hall.visibility, "public");
    assert_eq!(hall.owner_id, Some(org.member));
    assert_eq!(hall.span(), span(&db, venue).await);

    // Found by a word of its name.
    let found: Vec<Uuid> = sqlx::query_scalar(
        "SELECT entity_id FROM location_registry
         WHERE organization_id = $1
           AND to_tsvector('simple', name) @@ plainto_tsquery('simple', 'harbour')",
    )
    .bind(org.id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(found, vec![venue]);

    run::<Venue>(
        &bus,
        &org,
        org.member,
        venue,
        VenueCommand::UpdateVenue {
            name: Some("Harbour Depot".into()),
            kind: Some(VenueKind::Warehouse),
            capacity: Some(0),
            contact: None,
        },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    let depot = location(&db, &key).await.unwrap();
    assert_eq!(depot.name, "Harbour Depot");
    assert_eq!(depot.location_type, "warehouse");
    assert_eq!(depot.capacity, Some(0));
    // Details the update did not name are kept.
    assert_eq!(depot.contact_name.as_deref(), Some("Mary Byrne"));
    assert_eq!(depot.city.as_deref(), Some("Dublin"));

    let cork = cork_office().address;
    run::<Venue>(
        &bus,
        &org,
        org.member,
        venue,
        VenueCommand::MoveVenue {
            address: cork,
            coordinates: None,
        },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    let moved = location(&db, &key).await.unwrap();
    assert_eq!(moved.address_line_1.as_deref(), Some("5 Lapp's Quay"));
    assert_eq!(moved.address_line_2, None);
    assert_eq!(moved.city.as_deref(), Some("Cork"));
    assert_eq!(moved.state_province, None);
    assert_eq!(moved.postal_code.as_deref(), Some("T12 RX3F"));
    assert_eq!((moved.latitude, moved.longitude), (None, None));
    assert_eq!(moved.name, "Harbour Depot");
    assert_eq!(moved.span(), span(&db, venue).await);

    run::<Venue>(&bus, &org, org.admin, venue, VenueCommand::DeleteVenue).await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    assert!(location(&db, &key).await.is_none());
}

#[tokio::test]
async fn company_offices_are_places_while_the_company_has_one() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Offices").await;
    let company = Uuid::new_v4();
    let key = format!("Company:{company}:office");

    run::<Company>(
        &bus,
        &org,
        org.member,
        company,
        CompanyCommand::RegisterCompany {
            kind: CompanyKind::Vendor,
            name: "Acme Staging".into(),
            website: None,
            email: Some("hello@acme.example.com".into()),
            phone: Some("+353 21 555 0199".into()),
            office: Some(cork_office()),
            visibility: Visibility::Private,
        },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    let office = location(&db, &key).await.expect("an office has a row");
    assert_eq!(office.organization_id, org.id);
    assert_eq!(office.location_type, "office");
    assert_eq!(office.entity_type, "Company");
    assert_eq!(office.entity_id, company);
    assert_eq!(office.name, "Acme Staging");
    assert_eq!(office.address_line_1.as_deref(), Some("5 Lapp's Quay"));
    assert_eq!(office.city.as_deref(), Some("Cork"));
    assert_eq!(office.postal_code.as_deref(), Some("T12 RX3F"));
    assert_eq!(office.country.as_deref(), Some("IE"));
    assert_eq!(office.latitude, Some(51.8979));
    assert_eq!(office.longitude, Some(-8.4706));
    assert_eq!(office.capacity, None);
    assert_eq!(office.contact_name, None);
    assert_eq!(office.contact_phone.as_deref(), Some("+353 21 555 0199"));
    assert_eq!(
        office.contact_email.as_deref(),
        Some("hello@acme.example.com")
    );
    assert_eq!(office.visibility, "private");
    assert_eq!(office.owner_id, Some(org.member));
    assert_eq!(office.span(), span(&db, company).await);
    // The organization's client was registered without an office.
    assert!(location(&db, &format!("Company:{}:office", org.client))
        .await
        .is_none());

    run::<Company>(
        &bus,
        &org,
        org.member,
        company,
        CompanyCommand::UpdateCompany {
            name: Some("Acme Staging Ltd".into()),
            kind: None,
            website: None,
            email: None,
            phone: Some("".into()),
        },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    let renamed = location(&db, &key).await.unwrap();
    assert_eq!(renamed.name, "Acme Staging Ltd");
    assert_eq!(renamed.contact_phone, None);
    assert_eq!(renamed.span(), span(&db, company).await);

    run::<Company>(
        &bus,
        &org,
        org.member,
        company,
        CompanyCommand::SetCompanyOffice { office: None },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    assert!(
        location(&db, &key).await.is_none(),
        "the office was removed"
    );

    run::<Company>(
        &bus,
        &org,
        org.member,
        company,
        CompanyCommand::SetCompanyOffice {
            office: Some(cork_office()),
        },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    assert!(location(&db, &key).await.is_some());

    run::<Company>(
        &bus,
        &org,
        org.admin,
        company,
        CompanyCommand::DeleteCompany,
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    assert!(location(&db, &key).await.is_none());
}

#[tokio::test]
async fn event_locations_point_at_their_venue() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Event locations").await;
    let (hall, depot) = (Uuid::new_v4(), Uuid::new_v4());
    run::<Venue>(&bus, &org, org.member, hall, harbour_hall()).await;
    run::<Venue>(&bus, &org, org.member, depot, harbour_hall()).await;
    let event = Uuid::new_v4();
    let key = format!("Event:{event}:location");

    run::<Event>(
        &bus,
        &org,
        org.member,
        event,
        EventCommand::PlanEvent {
            title: "Spring Gala".into(),
            kind: EventKind::Show,
            starts_at: at("2027-04-10T19:00:00Z"),
            ends_at: at("2027-04-10T23:00:00Z"),
            venue_id: Some(hall),
            visibility: Visibility::Restricted,
        },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    let at_hall = location(&db, &key)
        .await
        .expect("an event with a venue has a row");
    assert_eq!(at_hall.organization_id, org.id);
    assert_eq!(at_hall.location_type, "event");
    assert_eq!(at_hall.entity_type, "Event");
    assert_eq!(at_hall.entity_id, event);
    assert_eq!(at_hall.name, "Spring Gala");
    assert_eq!(at_hall.venue_id, Some(hall));
    assert_eq!(at_hall.address_line_1, None);
    assert_eq!(at_hall.latitude, None);
    assert_eq!(at_hall.visibility, "restricted");
    assert_eq!(at_hall.owner_id, Some(org.member));
    assert_eq!(at_hall.span(), span(&db, event).await);
    // The organization's own event has no venue, so no location.
    assert!(location(&db, &format!("Event:{}:location", org.event))
        .await
        .is_none());

    run::<Event>(
        &bus,
        &org,
        org.member,
        event,
        EventCommand::RenameEvent {
            title: "Spring Gala 2027".into(),
        },
    )
    .await;
    run::<Event>(
        &bus,
        &org,
        org.member,
        event,
        EventCommand::ChangeEventVenue {
            venue_id: Some(depot),
        },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    let at_depot = location(&db, &key).await.unwrap();
    assert_eq!(at_depot.name, "Spring Gala 2027");
    assert_eq!(at_depot.venue_id, Some(depot));
    assert_eq!(at_depot.span(), span(&db, event).await);

    run::<Event>(
        &bus,
        &org,
        org.member,
        event,
        EventCommand::ChangeEventVenue { venue_id: None },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    assert!(location(&db, &key).await.is_none(), "no venue, no location");

    run::<Event>(
        &bus,
        &org,
        org.member,
        event,
        EventCommand::ChangeEventVenue {
            venue_id: Some(hall),
        },
    )
    .await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    assert_eq!(location(&db, &key).await.unwrap().venue_id, Some(hall));

    run::<Event>(&bus, &org, org.admin, event, EventCommand::DeleteEvent).await;
    catch_up(&db, &engine, &[&LocationRegistry]).await;
    assert!(location(&db, &key).await.is_none());
    // The venues are places of their own and stay.
    assert!(location(&db, &format!("Venue:{hall}")).await.is_some());
}

// ---------------------------------------------------------- inventory registry

#[derive(Debug, sqlx::FromRow)]
struct InventoryRow {
    organization_id: Uuid,
    item_type: String,
    entity_type: String,
    entity_id: Uuid,
    name: String,
    tag: Option<String>,
    quantity: i64,
    value: i64,
    currency: String,
    location_id: Option<Uuid>,
    current_holder_id: Option<Uuid>,
    status: String,
    due_back_at: Option<DateTime<Utc>>,
    next_maintenance_at: Option<DateTime<Utc>>,
    last_maintained_at: Option<DateTime<Utc>>,
    visibility: String,
    owner_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_position: i64,
}

impl InventoryRow {
    fn span(&self) -> Span {
        span_of(self.created_at, self.updated_at, self.last_position)
    }
}

async fn item(db: &TestDb, external_id: &str) -> Option<InventoryRow> {
    row(db, "inventory_registry", external_id).await
}

#[tokio::test]
async fn assets_are_items_through_check_out_maintenance_and_retirement() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Inventory").await;
    let (store, hall) = (Uuid::new_v4(), Uuid::new_v4());
    run::<Venue>(&bus, &org, org.member, store, harbour_hall()).await;
    run::<Venue>(&bus, &org, org.member, hall, harbour_hall()).await;
    let asset = Uuid::new_v4();
    let key = format!("Asset:{asset}");

    run::<Asset>(
        &bus,
        &org,
        org.admin,
        asset,
        register_asset(AssetKind::Equipment, 2, Some(store)),
    )
    .await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    let registered = item(&db, &key).await.expect("an asset has a row");
    assert_eq!(registered.organization_id, org.id);
    assert_eq!(registered.item_type, "equipment");
    assert_eq!(registered.entity_type, "Asset");
    assert_eq!(registered.entity_id, asset);
    assert_eq!(registered.name, "Chain hoist");
    assert_eq!(registered.tag.as_deref(), Some("CH-07"));
    assert_eq!(registered.quantity, 2);
    assert_eq!(registered.value, 2_400_00);
    assert_eq!(registered.currency, "EUR");
    assert_eq!(registered.location_id, Some(store));
    assert_eq!(registered.current_holder_id, None);
    assert_eq!(registered.status, "available");
    assert_eq!(registered.due_back_at, None);
    assert_eq!(registered.next_maintenance_at, None);
    assert_eq!(registered.last_maintained_at, None);
    assert_eq!(registered.visibility, "restricted");
    assert_eq!(registered.owner_id, Some(org.admin));
    assert_eq!(registered.span(), span(&db, asset).await);

    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::UpdateAsset {
            name: Some("Chain hoist 1t".into()),
            tag: Some("".into()),
            value: Some(2_600_00),
        },
    )
    .await;
    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::MoveAsset {
            location_id: Some(hall),
        },
    )
    .await;
    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::RestockAsset { quantity: 3 },
    )
    .await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    let updated = item(&db, &key).await.unwrap();
    assert_eq!(updated.name, "Chain hoist 1t");
    assert_eq!(updated.tag, None);
    assert_eq!(updated.value, 2_600_00);
    assert_eq!(updated.location_id, Some(hall));
    assert_eq!(updated.quantity, 5);
    assert_eq!(updated.created_at, registered.created_at);
    assert_eq!(updated.span(), span(&db, asset).await);

    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::CheckOutAsset {
            holder: org.member,
            due_back: Some(at("2026-12-14T10:00:00Z")),
        },
    )
    .await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    let out = item(&db, &key).await.unwrap();
    assert_eq!(out.status, "checked_out");
    assert_eq!(out.current_holder_id, Some(org.member));
    assert_eq!(out.due_back_at, Some(at("2026-12-14T10:00:00Z")));

    run::<Asset>(&bus, &org, org.member, asset, AssetCommand::CheckInAsset).await;
    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::ScheduleMaintenance {
            scheduled_for: at("2027-01-15T08:00:00Z"),
            description: "Annual load test".into(),
        },
    )
    .await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    let planned = item(&db, &key).await.unwrap();
    assert_eq!(planned.status, "available");
    assert_eq!(planned.current_holder_id, None);
    assert_eq!(planned.due_back_at, None);
    assert_eq!(
        planned.next_maintenance_at,
        Some(at("2027-01-15T08:00:00Z"))
    );

    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::StartMaintenance,
    )
    .await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    assert_eq!(item(&db, &key).await.unwrap().status, "in_maintenance");

    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::RecordMaintenance {
            performed_at: at("2027-01-15T12:00:00Z"),
            notes: Some("Passed".into()),
        },
    )
    .await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    let serviced = item(&db, &key).await.unwrap();
    assert_eq!(serviced.status, "available");
    assert_eq!(serviced.next_maintenance_at, None);
    assert_eq!(
        serviced.last_maintained_at,
        Some(at("2027-01-15T12:00:00Z"))
    );

    run::<Asset>(
        &bus,
        &org,
        org.member,
        asset,
        AssetCommand::RetireAsset {
            reason: "Replaced".into(),
        },
    )
    .await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    let retired = item(&db, &key).await.expect("a retired asset stays");
    assert_eq!(retired.status, "retired");
    assert_eq!(retired.span(), span(&db, asset).await);

    run::<Asset>(&bus, &org, org.admin, asset, AssetCommand::DeleteAsset).await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    assert!(item(&db, &key).await.is_none(), "a deleted asset leaves");
}

#[tokio::test]
async fn consumables_show_their_stock() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let engine = Engine::new(db.pool.clone());
    let org = Org::create(&bus, "Stock").await;
    let tape = Uuid::new_v4();
    let key = format!("Asset:{tape}");

    run::<Asset>(
        &bus,
        &org,
        org.member,
        tape,
        register_asset(AssetKind::Consumable, 40, None),
    )
    .await;
    run::<Asset>(
        &bus,
        &org,
        org.member,
        tape,
        AssetCommand::ConsumeAsset { quantity: 15 },
    )
    .await;
    catch_up(&db, &engine, &[&InventoryRegistry]).await;
    let stock = item(&db, &key).await.unwrap();
    assert_eq!(stock.item_type, "consumable");
    assert_eq!(stock.quantity, 25);
    assert_eq!(stock.location_id, None);
    assert_eq!(stock.owner_id, Some(org.member));
    assert_eq!(stock.span(), span(&db, tape).await);
}

// -------------------------------------------------------------------- rebuild

/// Commands touching every source of the three tables, with updates, removals
/// and deletions along the way.
async fn busy_day(bus: &CommandBus, org: &Org) {
    let (hall, depot) = (Uuid::new_v4(), Uuid::new_v4());
    run::<Venue>(bus, org, org.member, hall, harbour_hall()).await;
    run::<Venue>(bus, org, org.member, depot, harbour_hall()).await;
    run::<Venue>(
        bus,
        org,
        org.member,
        depot,
        VenueCommand::UpdateVenue {
            name: Some("North Depot".into()),
            kind: Some(VenueKind::Warehouse),
            capacity: None,
            contact: None,
        },
    )
    .await;
    let gone_venue = Uuid::new_v4();
    run::<Venue>(bus, org, org.member, gone_venue, harbour_hall()).await;
    run::<Venue>(bus, org, org.admin, gone_venue, VenueCommand::DeleteVenue).await;

    let company = Uuid::new_v4();
    run::<Company>(
        bus,
        org,
        org.member,
        company,
        CompanyCommand::RegisterCompany {
            kind: CompanyKind::Partner,
            name: "Lights Co".into(),
            website: None,
            email: None,
            phone: None,
            office: Some(cork_office()),
            visibility: Visibility::Public,
        },
    )
    .await;
    run::<Company>(
        bus,
        org,
        org.member,
        org.client,
        CompanyCommand::SetCompanyOffice {
            office: Some(cork_office()),
        },
    )
    .await;

    let event = Uuid::new_v4();
    run::<Event>(
        bus,
        org,
        org.member,
        event,
        EventCommand::PlanEvent {
            title: "Spring Gala".into(),
            kind: EventKind::Show,
            starts_at: at("2027-04-10T19:00:00Z"),
            ends_at: at("2027-04-10T23:00:00Z"),
            venue_id: Some(hall),
            visibility: Visibility::Organization,
        },
    )
    .await;
    run::<Event>(
        bus,
        org,
        org.member,
        org.event,
        EventCommand::ChangeEventVenue {
            venue_id: Some(depot),
        },
    )
    .await;

    let (task, gone_task) = (Uuid::new_v4(), Uuid::new_v4());
    run::<Task>(
        bus,
        org,
        org.member,
        task,
        create_task(Some(org.member), Some(event)),
    )
    .await;
    run::<Task>(
        bus,
        org,
        org.member,
        task,
        TaskCommand::AssignTask {
            assignee: Some(org.admin),
        },
    )
    .await;
    run::<Task>(
        bus,
        org,
        org.member,
        gone_task,
        create_task(Some(org.member), None),
    )
    .await;
    run::<Task>(
        bus,
        org,
        org.member,
        gone_task,
        TaskCommand::AssignTask { assignee: None },
    )
    .await;

    let (shift, cancelled) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [shift, cancelled] {
        run::<Shift>(
            bus,
            org,
            org.member,
            id,
            ShiftCommand::ScheduleShift {
                member_id: org.member,
                event_id: org.event,
                role: "stagehand".into(),
                starts_at: at("2026-12-12T14:00:00Z"),
                ends_at: at("2026-12-12T23:00:00Z"),
                visibility: Visibility::Organization,
            },
        )
        .await;
    }
    run::<Shift>(bus, org, org.member, shift, ShiftCommand::ConfirmShift).await;
    run::<Shift>(
        bus,
        org,
        org.member,
        cancelled,
        ShiftCommand::CancelShift {
            reason: "crew cut".into(),
        },
    )
    .await;

    let advance = Uuid::new_v4();
    run::<ProductionAdvance>(
        bus,
        org,
        org.member,
        advance,
        create_advance("ADV-1", org.event),
    )
    .await;
    run::<ProductionAdvance>(
        bus,
        org,
        org.member,
        advance,
        ProductionAdvanceCommand::UpdateAdvance {
            priority: None,
            due_date: Some(at("2026-12-01T17:00:00Z")),
            assignee: Some(org.production_manager),
        },
    )
    .await;

    let (hoist, tape, gone_asset) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    run::<Asset>(
        bus,
        org,
        org.member,
        hoist,
        register_asset(AssetKind::Equipment, 1, Some(hall)),
    )
    .await;
    run::<Asset>(
        bus,
        org,
        org.member,
        hoist,
        AssetCommand::CheckOutAsset {
            holder: org.member,
            due_back: Some(at("2026-12-14T10:00:00Z")),
        },
    )
    .await;
    run::<Asset>(
        bus,
        org,
        org.member,
        tape,
        register_asset(AssetKind::Consumable, 40, None),
    )
    .await;
    run::<Asset>(
        bus,
        org,
        org.member,
        tape,
        AssetCommand::ScheduleMaintenance {
            scheduled_for: at("2027-01-15T08:00:00Z"),
            description: "Count".into(),
        },
    )
    .await;
    run::<Asset>(
        bus,
        org,
        org.member,
        tape,
        AssetCommand::ConsumeAsset { quantity: 5 },
    )
    .await;
    run::<Asset>(
        bus,
        org,
        org.member,
        gone_asset,
        register_asset(AssetKind::Vehicle, 1, None),
    )
    .await;
    run::<Asset>(bus, org, org.admin, gone_asset, AssetCommand::DeleteAsset).await;
}

#[tokio::test]
async fn a_rebuild_gives_exactly_the_same_rows() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Rebuild").await;
    busy_day(&bus, &org).await;
    // Each table, its projection's name, and how many rows the day leaves.
    let projections: [(&dyn Projection, &str, &str, usize); 3] = [
        // Two tasks' assignees, one left; two shifts, one cancelled; the
        // advance's assignee; the hoist's holder.
        (&Assignments, "assignments", assignments::NAME, 5),
        // Two venues (one deleted), two offices, two events with a venue.
        (
            &LocationRegistry,
            "location_registry",
            location_registry::NAME,
            6,
        ),
        // The hoist and the tape; the van was deleted.
        (
            &InventoryRegistry,
            "inventory_registry",
            inventory_registry::NAME,
            2,
        ),
    ];
    // Caught up a batch at a time, as a running engine would, with the
    // states carried from batch to batch.
    let small = Engine::new(db.pool.clone()).with_batch_size(4);
    let mut before = Vec::new();
    for (projection, table, name, count) in projections {
        assert_eq!(projection.name(), name);
        catch_up(&db, &small, &[projection]).await;
        let rows = table_json(&db, table).await;
        assert_eq!(
            rows.as_array().map(Vec::len),
            Some(count),
            "{table}: {rows}"
        );
        before.push(rows);
    }

    for ((projection, table, _, _), before) in projections.into_iter().zip(before) {
        rebuild_from_scratch(&db, projection, 1_000).await;
        assert_eq!(
            table_json(&db, table).await,
            before,
            "{table} after a rebuild"
        );
    }
}
