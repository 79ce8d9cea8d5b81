//! Rules that reach beyond one aggregate: references to members and entities,
//! claims the database keeps unique, and old event versions read through
//! upcasters.

use foldline_aggregates::contact::{Contact, ContactCommand, ContactKind};
use foldline_aggregates::event::{Event, EventCommand, EventKind};
use foldline_aggregates::shift::{Shift, ShiftCommand};
use foldline_aggregates::task::{Task, TaskCommand};
use foldline_aggregates::venue::{Venue, VenueCommand};
use foldline_aggregates::{BusError, CommandBus, DomainError, Loaded};
use foldline_tests::legacy::insert_v1_venue;
use foldline_tests::read_side::at;
use foldline_tests::{Org, TestDb};
use uuid::Uuid;

fn add_contact(email: &str) -> ContactCommand {
    ContactCommand::AddContact {
        kind: ContactKind::Talent,
        name: "Mara Quinn".into(),
        email: email.into(),
        phone: None,
        title: None,
        company_id: None,
        visibility: Default::default(),
    }
}

async fn plan_event(bus: &CommandBus, org: &Org) -> Uuid {
    let id = Uuid::new_v4();
    bus.execute::<Event>(
        &org.request(org.member),
        id,
        EventCommand::PlanEvent {
            title: "Gala".into(),
            kind: EventKind::Show,
            starts_at: at("2026-12-12T19:00:00Z"),
            ends_at: at("2026-12-13T00:30:00Z"),
            venue_id: None,
            visibility: Default::default(),
        },
        None,
    )
    .await
    .unwrap();
    id
}

fn expect_rule(error: BusError, needle: &str) {
    match &error {
        BusError::Domain(DomainError::Rule(message) | DomainError::Invalid(message))
            if message.contains(needle) => {}
        other => panic!("expected a refusal mentioning `{needle}`, got {other}"),
    }
}

#[tokio::test]
async fn contact_emails_are_unique_per_organization() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Emails").await;
    let other = Org::create(&bus, "Elsewhere").await;
    let request = org.request(org.member);
    let first = Uuid::new_v4();
    bus.execute::<Contact>(&request, first, add_contact("mara@example.com"), None)
        .await
        .unwrap();
    let before = db.event_count().await;
    let error = bus
        .execute::<Contact>(
            &request,
            Uuid::new_v4(),
            add_contact("Mara@Example.com"),
            None,
        )
        .await
        .unwrap_err();
    expect_rule(error, "mara@example.com");
    assert_eq!(db.event_count().await, before);

    // Another organization may use the same address.
    bus.execute::<Contact>(
        &other.request(other.member),
        Uuid::new_v4(),
        add_contact("mara@example.com"),
        None,
    )
    .await
    .unwrap();

    // Once the first contact is deleted, the address is free again.
    bus.execute::<Contact>(
        &org.request(org.admin),
        first,
        ContactCommand::DeleteContact,
        None,
    )
    .await
    .unwrap();
    bus.execute::<Contact>(
        &request,
        Uuid::new_v4(),
        add_contact("mara@example.com"),
        None,
    )
    .await
    .unwrap();
}

fn schedule(member: Uuid, event: Uuid, from: &str, to: &str) -> ShiftCommand {
    ShiftCommand::ScheduleShift {
        member_id: member,
        event_id: event,
        role: "Rigger".into(),
        starts_at: at(from),
        ends_at: at(to),
        visibility: Default::default(),
    }
}

#[tokio::test]
async fn a_member_cannot_hold_two_overlapping_confirmed_shifts() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Shifts").await;
    let event = plan_event(&bus, &org).await;
    let lead = org.request(org.admin);
    let crew = org.member;

    let morning = Uuid::new_v4();
    let overlapping = Uuid::new_v4();
    let evening = Uuid::new_v4();
    for (id, from, to) in [
        (morning, "2026-12-10T06:00:00Z", "2026-12-10T14:00:00Z"),
        (overlapping, "2026-12-10T12:00:00Z", "2026-12-10T20:00:00Z"),
        (evening, "2026-12-10T14:00:00Z", "2026-12-10T22:00:00Z"),
    ] {
        bus.execute::<Shift>(&lead, id, schedule(crew, event, from, to), None)
            .await
            .unwrap();
    }
    bus.execute::<Shift>(&lead, morning, ShiftCommand::ConfirmShift, None)
        .await
        .unwrap();
    // Back to back is not an overlap.
    bus.execute::<Shift>(&lead, evening, ShiftCommand::ConfirmShift, None)
        .await
        .unwrap();
    let before = db.event_count().await;
    let error = bus
        .execute::<Shift>(&lead, overlapping, ShiftCommand::ConfirmShift, None)
        .await
        .unwrap_err();
    expect_rule(error, "overlapping");
    assert_eq!(db.event_count().await, before);

    // Cancel the two confirmed ones: now the overlapping shift can be confirmed.
    for id in [morning, evening] {
        bus.execute::<Shift>(
            &lead,
            id,
            ShiftCommand::CancelShift {
                reason: "swap".into(),
            },
            None,
        )
        .await
        .unwrap();
    }
    bus.execute::<Shift>(&lead, overlapping, ShiftCommand::ConfirmShift, None)
        .await
        .unwrap();

    // Another member's shift at the same time is fine.
    let other = Uuid::new_v4();
    bus.execute::<Shift>(
        &lead,
        other,
        schedule(
            org.finance,
            event,
            "2026-12-10T12:00:00Z",
            "2026-12-10T20:00:00Z",
        ),
        None,
    )
    .await
    .unwrap();
    bus.execute::<Shift>(&lead, other, ShiftCommand::ConfirmShift, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn references_must_exist_in_the_organization() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "References").await;
    let other = Org::create(&bus, "Other").await;
    let foreign_event = plan_event(&bus, &other).await;
    let own_event = plan_event(&bus, &org).await;
    let before = db.event_count().await;
    let task = |assignee: Option<Uuid>, event_id: Option<Uuid>| TaskCommand::CreateTask {
        title: "Book hotel".into(),
        description: None,
        event_id,
        project: None,
        assignee,
        due_at: None,
        priority: Default::default(),
        visibility: Default::default(),
    };
    let request = org.request(org.member);

    // An assignee from another organization.
    let error = bus
        .execute::<Task>(
            &request,
            Uuid::new_v4(),
            task(Some(other.member), None),
            None,
        )
        .await
        .unwrap_err();
    expect_rule(error, "is not a member of the organization");
    // Another organization's event.
    let error = bus
        .execute::<Task>(
            &request,
            Uuid::new_v4(),
            task(None, Some(foreign_event)),
            None,
        )
        .await
        .unwrap_err();
    expect_rule(error, "does not exist in the organization");
    // A venue that does not exist.
    let error = bus
        .execute::<Event>(
            &request,
            Uuid::new_v4(),
            EventCommand::PlanEvent {
                title: "Nowhere".into(),
                kind: EventKind::Meeting,
                starts_at: at("2026-12-01T10:00:00Z"),
                ends_at: at("2026-12-01T11:00:00Z"),
                venue_id: Some(Uuid::new_v4()),
                visibility: Default::default(),
            },
            None,
        )
        .await
        .unwrap_err();
    expect_rule(error, "Venue");
    assert_eq!(db.event_count().await, before);

    // With a member and an event of its own organization it goes through.
    bus.execute::<Task>(
        &request,
        Uuid::new_v4(),
        task(Some(org.finance), Some(own_event)),
        None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_stored_v1_venue_event_is_read_as_v2() {
    let db = TestDb::new().await;
    let bus = db.bus();
    let org = Org::create(&bus, "Upcasting").await;
    let (venue, _) = insert_v1_venue(&db, &org).await;

    let loaded: Loaded<Venue> = bus.store().load(&venue.to_string()).await.unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.aggregate.name, "Harbour Hall");
    assert_eq!(loaded.aggregate.address.line1, "North Wall Quay");
    assert_eq!(loaded.aggregate.address.city, "Dublin");
    assert_eq!(loaded.aggregate.address.country, "IE");
    assert_eq!(loaded.aggregate.coordinates, None);

    // The stored row is left as it was; new commands build on the upcasted state.
    let stored_version: String =
        sqlx::query_scalar("SELECT event_version FROM events WHERE aggregate_id = $1")
            .bind(venue.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(stored_version, "1.0");
    let outcome = bus
        .execute::<Venue>(
            &org.request(org.member),
            venue,
            VenueCommand::UpdateVenue {
                name: None,
                kind: None,
                capacity: Some(2600),
                contact: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome.version, 2);
}
