//! Events as an earlier release stored them, written straight into the
//! store, for the upcasting tests.

use serde_json::{json, Value};
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
