//! Events as an earlier release stored them, written straight into the
//! store, for the upcasting tests.

use cqrs_es::DomainEvent;
use foldline_aggregates::contact::{ContactEvent, ContactKind};
use foldline_aggregates::Visibility;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{Org, TestDb};

/// A `VenueRegistered` of version 1.0 for a new venue of `org`, registered
/// by its member: the address flat, no coordinates. Returns the venue's id
/// and the stored payload.
pub async fn insert_v1_venue(db: &TestDb, org: &Org) -> (Uuid, Value) {
    let venue = Uuid::new_v4();
    let metadata = json!({
        "organization_id": org.id, "actor_id": org.member,
        "correlation_id": Uuid::new_v4(), "causation_id": Uuid::new_v4(),
        "command_id": Uuid::new_v4(), "command": "RegisterVenue",
        "source": "import", "request_id": "v1-import",
    });
    let payload = json!({"VenueRegistered": {
        "venue_id": venue, "organization_id": org.id, "owner_id": org.member,
        "name": "Harbour Hall", "kind": "venue",
        "street": "North Wall Quay", "city": "Dublin", "country": "IE",
        "capacity": 2400, "contact": null, "visibility": "organization",
    }});
    sqlx::query(
        "INSERT INTO events
             (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Venue', $1, 1, 'VenueRegistered', '1.0', $2, $3)",
    )
    .bind(venue.to_string())
    .bind(&payload)
    .bind(&metadata)
    .execute(&db.pool)
    .await
    .expect("insert a version 1 venue");
    (venue, payload)
}

/// A `ContactAdded` of a new talent contact of `org` named `name`, written
/// straight into the store on `conn` (in whatever transaction it has open),
/// as an import or an older release without limits would have. Returns the
/// contact's id and the event's global position.
pub async fn insert_contact_added(conn: &mut PgConnection, org: &Org, name: &str) -> (Uuid, i64) {
    let contact = Uuid::new_v4();
    let event = ContactEvent::ContactAdded {
        contact_id: contact,
        organization_id: org.id,
        owner_id: org.member,
        kind: ContactKind::Talent,
        name: name.to_owned(),
        email: format!("{}@example.com", contact.simple()),
        phone: None,
        title: None,
        company_id: None,
        visibility: Visibility::Organization,
    };
    let metadata = json!({
        "organization_id": org.id, "actor_id": org.member,
        "correlation_id": Uuid::new_v4(), "causation_id": Uuid::new_v4(),
        "command_id": Uuid::new_v4(), "command": "AddContact",
        "source": "import", "request_id": "import",
    });
    let position = sqlx::query_scalar(
        "INSERT INTO events
             (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Contact', $1, 1, $2, $3, $4, $5)
         RETURNING global_position",
    )
    .bind(contact.to_string())
    .bind(event.event_type())
    .bind(event.event_version())
    .bind(serde_json::to_value(&event).expect("an event serializes"))
    .bind(&metadata)
    .fetch_one(conn)
    .await
    .expect("insert a ContactAdded");
    (contact, position)
}
