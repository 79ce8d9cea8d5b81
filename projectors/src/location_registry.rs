//! `location_registry`: one row per place.
//!
//! Sources: Venue (a venue, warehouse or office, with address, coordinates,
//! capacity and contact), a Company's office (while it has one), and an
//! Event's location (while it has a venue). An event holds only its venue's
//! id: its row names the event and points at the venue, and is not joined
//! with the venue's state, which belongs to another stream.

use foldline_aggregates::address::{Address, Coordinates};
use foldline_aggregates::company::Company;
use foldline_aggregates::event::Event;
use foldline_aggregates::venue::{Venue, VenueKind};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{remove_rows, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// The location registry projection.
pub struct LocationRegistry;

/// Its name.
pub const NAME: &str = "location_registry";

#[async_trait::async_trait]
impl Projection for LocationRegistry {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["location_registry"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = Rows::default();
        for (id, venue) in &fold_batch::<Venue>(tx, store, events).await? {
            rows.venue(id, venue);
        }
        for (id, company) in &fold_batch::<Company>(tx, store, events).await? {
            rows.company_office(id, company);
        }
        for (id, event) in &fold_batch::<Event>(tx, store, events).await? {
            rows.event_location(id, event);
        }
        rows.write(tx).await
    }
}

/// Who to call at a place.
#[derive(Default)]
struct Contact {
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

/// What a place is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum LocationType {
    /// A venue.
    Venue,
    /// A warehouse.
    Warehouse,
    /// An office: a venue of that kind, or a company's address.
    Office,
    /// An event's own address.
    Event,
}

foldline_aggregates::stored_as_text!(LocationType);

impl From<VenueKind> for LocationType {
    fn from(kind: VenueKind) -> Self {
        match kind {
            VenueKind::Venue => LocationType::Venue,
            VenueKind::Warehouse => LocationType::Warehouse,
            VenueKind::Office => LocationType::Office,
        }
    }
}

/// One place before it is written.
struct Entry<'a, A> {
    external_id: String,
    tracked: &'a Tracked<A>,
    location_type: LocationType,
    entity_type: &'static str,
    entity_id: Option<Uuid>,
    name: String,
    address: Option<&'a Address>,
    coordinates: Option<Coordinates>,
    capacity: Option<i64>,
    contact: Contact,
    venue_id: Option<Uuid>,
    organization_id: Option<Uuid>,
    visibility: &'static str,
    owner_id: Option<Uuid>,
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    standard: Standard,
    location_type: Vec<LocationType>,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    name: Vec<String>,
    address_line_1: Vec<Option<String>>,
    address_line_2: Vec<Option<String>>,
    city: Vec<Option<String>>,
    state_province: Vec<Option<String>>,
    postal_code: Vec<Option<String>>,
    country: Vec<Option<String>>,
    latitude: Vec<Option<f64>>,
    longitude: Vec<Option<f64>>,
    capacity: Vec<Option<i64>>,
    contact_name: Vec<Option<String>>,
    contact_phone: Vec<Option<String>>,
    contact_email: Vec<Option<String>>,
    venue_id: Vec<Option<Uuid>>,
}

impl Rows {
    fn venue(&mut self, id: &str, tracked: &Tracked<Venue>) {
        let venue = &tracked.aggregate;
        let external_id = format!("Venue:{id}");
        if venue.is_deleted() || !venue.exists() {
            self.deleted.push(external_id);
            return;
        }
        let contact = venue
            .contact
            .as_ref()
            .map(|contact| Contact {
                name: Some(contact.name.clone()),
                phone: contact.phone.clone(),
                email: contact.email.clone(),
            })
            .unwrap_or_default();
        self.push(Entry {
            external_id,
            tracked,
            location_type: venue.kind.into(),
            entity_type: "Venue",
            entity_id: venue.id,
            name: venue.name.clone(),
            address: Some(&venue.address),
            coordinates: venue.coordinates,
            capacity: venue.capacity,
            contact,
            venue_id: None,
            organization_id: venue.organization_id,
            visibility: venue.visibility.as_str(),
            owner_id: venue.owner_id,
        });
    }

    fn company_office(&mut self, id: &str, tracked: &Tracked<Company>) {
        let company = &tracked.aggregate;
        let external_id = format!("Company:{id}:office");
        match (&company.office, company.is_deleted() || !company.exists()) {
            (Some(office), false) => self.push(Entry {
                external_id,
                tracked,
                location_type: LocationType::Office,
                entity_type: "Company",
                entity_id: company.id,
                name: company.name.clone(),
                address: Some(&office.address),
                coordinates: office.coordinates,
                capacity: None,
                contact: Contact {
                    name: None,
                    phone: company.phone.clone(),
                    email: company.email.clone(),
                },
                venue_id: None,
                organization_id: company.organization_id,
                visibility: company.visibility.as_str(),
                owner_id: company.owner_id,
            }),
            _ => self.deleted.push(external_id),
        }
    }

    fn event_location(&mut self, id: &str, tracked: &Tracked<Event>) {
        let event = &tracked.aggregate;
        let external_id = format!("Event:{id}:location");
        match (event.venue_id, event.is_deleted() || !event.exists()) {
            (Some(venue_id), false) => self.push(Entry {
                external_id,
                tracked,
                location_type: LocationType::Event,
                entity_type: "Event",
                entity_id: event.id,
                name: event.title.clone(),
                address: None,
                coordinates: None,
                capacity: None,
                contact: Contact::default(),
                venue_id: Some(venue_id),
                organization_id: event.organization_id,
                visibility: event.visibility.as_str(),
                owner_id: event.owner_id,
            }),
            _ => self.deleted.push(external_id),
        }
    }

    fn push<A>(&mut self, entry: Entry<'_, A>)
    where
        A: Entity,
        A::Command: foldline_aggregates::DomainCommand,
    {
        let tracked = entry.tracked;
        let (Some(entity_id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            entry.entity_id,
            entry.organization_id,
            tracked.created_at,
            tracked.updated_at,
        ) else {
            return;
        };
        let address = entry.address;
        self.location_type.push(entry.location_type);
        self.entity_type.push(entry.entity_type);
        self.entity_id.push(entity_id);
        self.name.push(entry.name);
        self.address_line_1.push(address.map(|a| a.line1.clone()));
        self.address_line_2
            .push(address.and_then(|a| a.line2.clone()));
        self.city.push(address.map(|a| a.city.clone()));
        self.state_province
            .push(address.and_then(|a| a.region.clone()));
        self.postal_code
            .push(address.and_then(|a| a.postal_code.clone()));
        self.country.push(address.map(|a| a.country.clone()));
        self.latitude.push(entry.coordinates.map(|c| c.latitude));
        self.longitude.push(entry.coordinates.map(|c| c.longitude));
        self.capacity.push(entry.capacity);
        self.contact_name.push(entry.contact.name);
        self.contact_phone.push(entry.contact.phone);
        self.contact_email.push(entry.contact.email);
        self.venue_id.push(entry.venue_id);
        self.standard.push(Stamp {
            external_id: entry.external_id,
            organization_id,
            visibility: entry.visibility,
            owner_id: entry.owner_id,
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        remove_rows(tx, "location_registry", &self.deleted).await?;
        if self.standard.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO location_registry (
                 id, organization_id, location_type, entity_type, entity_id, name,
                 address_line_1, address_line_2, city, state_province, postal_code, country,
                 latitude, longitude, capacity, contact_name, contact_phone, contact_email,
                 venue_id, visibility, owner_id, external_id, created_at, updated_at,
                 last_position)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],
                 $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                 $13::double precision[], $14::double precision[], $15::bigint[], $16::text[],
                 $17::text[], $18::text[], $19::uuid[], $20::text[], $21::uuid[], $22::text[],
                 $23::timestamptz[], $24::timestamptz[], $25::bigint[])
             ON CONFLICT (external_id) DO UPDATE SET
                 location_type = EXCLUDED.location_type,
                 name = EXCLUDED.name,
                 address_line_1 = EXCLUDED.address_line_1,
                 address_line_2 = EXCLUDED.address_line_2,
                 city = EXCLUDED.city,
                 state_province = EXCLUDED.state_province,
                 postal_code = EXCLUDED.postal_code,
                 country = EXCLUDED.country,
                 latitude = EXCLUDED.latitude,
                 longitude = EXCLUDED.longitude,
                 capacity = EXCLUDED.capacity,
                 contact_name = EXCLUDED.contact_name,
                 contact_phone = EXCLUDED.contact_phone,
                 contact_email = EXCLUDED.contact_email,
                 venue_id = EXCLUDED.venue_id,
                 visibility = EXCLUDED.visibility,
                 owner_id = EXCLUDED.owner_id,
                 updated_at = EXCLUDED.updated_at,
                 last_position = EXCLUDED.last_position",
        )
        .bind(&self.standard.id)
        .bind(&self.standard.organization_id)
        .bind(&self.location_type)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.name)
        .bind(&self.address_line_1)
        .bind(&self.address_line_2)
        .bind(&self.city)
        .bind(&self.state_province)
        .bind(&self.postal_code)
        .bind(&self.country)
        .bind(&self.latitude)
        .bind(&self.longitude)
        .bind(&self.capacity)
        .bind(&self.contact_name)
        .bind(&self.contact_phone)
        .bind(&self.contact_email)
        .bind(&self.venue_id)
        .bind(&self.standard.visibility)
        .bind(&self.standard.owner_id)
        .bind(&self.standard.external_id)
        .bind(&self.standard.created_at)
        .bind(&self.standard.updated_at)
        .bind(&self.standard.last_position)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
