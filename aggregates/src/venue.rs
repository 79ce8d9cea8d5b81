//! The Venue aggregate: the places shows happen, gear is kept and people work,
//! with their address, map position, capacity and on-site contact.

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::address::{Address, Coordinates};
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::visibility::Visibility;

const ENTITY: &str = "venue";

/// The current version of [`VenueEvent::VenueRegistered`]; version 1 stored the
/// address as flat `street`, `city` and `country` fields.
const VENUE_REGISTERED_VERSION: &str = "2.0";

/// What a venue is used for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    /// A place where shows happen.
    #[default]
    Venue,
    /// Where gear is stored.
    Warehouse,
    /// Where the team works.
    Office,
}

/// The person to call at a venue.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    foldline_derive::GraphqlInput,
    foldline_derive::GraphqlOutput,
)]
pub struct VenueContact {
    /// Their name.
    pub name: String,
    /// Their email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Their phone number.
    #[serde(default)]
    pub phone: Option<String>,
}

impl VenueContact {
    /// Refuses a contact without a name or with a malformed email.
    pub fn validate(&self) -> Result<(), DomainError> {
        require_text(&self.name, "name")?;
        if let Some(email) = &self.email {
            if !email.contains('@') {
                return Err(DomainError::field(
                    "email",
                    format!("contact email `{email}` is not an email address"),
                ));
            }
        }
        Ok(())
    }
}

/// A venue, warehouse or office.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Venue {
    /// The venue id, once registered.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who registered it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// Its name.
    pub name: String,
    /// Venue, warehouse or office.
    pub kind: VenueKind,
    /// Where it is.
    pub address: Address,
    /// Where it is on the map.
    pub coordinates: Option<Coordinates>,
    /// How many people it holds.
    pub capacity: Option<i64>,
    /// Who to call there.
    pub contact: Option<VenueContact>,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`Venue`].
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
    foldline_derive::GraphqlInput,
)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum VenueCommand {
    /// Registers the venue.
    RegisterVenue {
        /// Its name.
        name: String,
        /// Venue, warehouse or office.
        kind: VenueKind,
        /// Where it is.
        address: Address,
        /// Where it is on the map.
        #[serde(default)]
        coordinates: Option<Coordinates>,
        /// How many people it holds, not negative.
        #[serde(default)]
        capacity: Option<i64>,
        /// Who to call there.
        #[serde(default)]
        contact: Option<VenueContact>,
        /// Row visibility.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Changes the given details; at least one must be given.
    UpdateVenue {
        /// The new name.
        #[serde(default)]
        name: Option<String>,
        /// The new kind.
        #[serde(default)]
        kind: Option<VenueKind>,
        /// The new capacity, not negative.
        #[serde(default)]
        capacity: Option<i64>,
        /// The new contact.
        #[serde(default)]
        contact: Option<VenueContact>,
    },
    /// Records a new address (and map position) for the venue.
    MoveVenue {
        /// The new address.
        address: Address,
        /// The new map position; `None` clears it.
        #[serde(default)]
        coordinates: Option<Coordinates>,
    },
    /// Soft-deletes the venue.
    DeleteVenue,
}

impl DomainCommand for VenueCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        use VenueCommand as C;
        match self {
            C::RegisterVenue { .. } | C::UpdateVenue { .. } | C::MoveVenue { .. } => {
                Requirement::Role(Role::Member)
            }
            C::DeleteVenue => Requirement::Role(Role::Admin),
        }
    }
}

/// Events of a [`Venue`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum VenueEvent {
    /// The venue was registered (version 2.0: structured address and coordinates).
    VenueRegistered {
        /// Its id.
        venue_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who registered it.
        owner_id: Uuid,
        /// Its name.
        name: String,
        /// Venue, warehouse or office.
        kind: VenueKind,
        /// Where it is.
        address: Address,
        /// Where it is on the map.
        coordinates: Option<Coordinates>,
        /// How many people it holds.
        capacity: Option<i64>,
        /// Who to call there.
        contact: Option<VenueContact>,
        /// Row visibility.
        visibility: Visibility,
    },
    /// Some details changed; `None` leaves a detail as it was.
    VenueUpdated {
        /// The new name.
        name: Option<String>,
        /// The new kind.
        kind: Option<VenueKind>,
        /// The new capacity.
        capacity: Option<i64>,
        /// The new contact.
        contact: Option<VenueContact>,
    },
    /// The venue has a new address.
    VenueMoved {
        /// The new address.
        address: Address,
        /// The new map position.
        coordinates: Option<Coordinates>,
    },
    /// Soft-deleted.
    VenueDeleted,
}

impl DomainEvent for VenueEvent {
    fn event_type(&self) -> String {
        <&'static str>::from(self).to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            VenueEvent::VenueRegistered { .. } => VENUE_REGISTERED_VERSION.to_owned(),
            _ => "1.0".to_owned(),
        }
    }
}

/// Brings a stored `VenueRegistered` of version 1 to version 2.0.
///
/// Version 1 stored the address as top-level `street`, `city` and `country`
/// strings; version 2.0 has an `address` object (`street` becoming `line1`) and
/// `coordinates`, unknown for old venues. A payload of another shape is left as
/// it is, for the event store to report as unreadable.
pub fn venue_registered_v1_to_v2() -> SemanticVersionEventUpcaster {
    SemanticVersionEventUpcaster::new(
        "VenueRegistered",
        VENUE_REGISTERED_VERSION,
        Box::new(|mut payload: Value| {
            if let Some(Value::Object(fields)) = payload.get_mut("VenueRegistered") {
                let mut address = Map::new();
                for (old, new) in [
                    ("street", "line1"),
                    ("city", "city"),
                    ("country", "country"),
                ] {
                    if let Some(value) = fields.remove(old) {
                        address.insert(new.to_owned(), value);
                    }
                }
                fields.insert("address".to_owned(), Value::Object(address));
                fields
                    .entry("coordinates".to_owned())
                    .or_insert(Value::Null);
            }
            payload
        }),
    )
}

impl Venue {
    fn decide(
        &self,
        command: VenueCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<VenueEvent>, DomainError> {
        use VenueCommand as C;
        use VenueEvent as E;

        if let C::RegisterVenue {
            name,
            kind,
            address,
            coordinates,
            capacity,
            contact,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&name, "name")?;
            validate_location(&address, coordinates.as_ref())?;
            validate_capacity(capacity)?;
            if let Some(contact) = &contact {
                contact.validate().map_err(|e| e.within("contact"))?;
            }
            return Ok(vec![E::VenueRegistered {
                venue_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                name,
                kind,
                address,
                coordinates,
                capacity,
                contact,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::RegisterVenue { .. } => unreachable!("handled above"),
            C::UpdateVenue {
                name,
                kind,
                capacity,
                contact,
            } => {
                if name.is_none() && kind.is_none() && capacity.is_none() && contact.is_none() {
                    return Err(DomainError::invalid("nothing to update"));
                }
                if let Some(name) = &name {
                    require_text(name, "name")?;
                }
                validate_capacity(capacity)?;
                if let Some(contact) = &contact {
                    contact.validate().map_err(|e| e.within("contact"))?;
                }
                Ok(vec![E::VenueUpdated {
                    name,
                    kind,
                    capacity,
                    contact,
                }])
            }
            C::MoveVenue {
                address,
                coordinates,
            } => {
                validate_location(&address, coordinates.as_ref())?;
                Ok(vec![E::VenueMoved {
                    address,
                    coordinates,
                }])
            }
            C::DeleteVenue => Ok(vec![E::VenueDeleted]),
        }
    }
}

fn validate_location(
    address: &Address,
    coordinates: Option<&Coordinates>,
) -> Result<(), DomainError> {
    address.validate().map_err(|e| e.within("address"))?;
    if let Some(coordinates) = coordinates {
        coordinates
            .validate()
            .map_err(|e| e.within("coordinates"))?;
    }
    Ok(())
}

fn validate_capacity(capacity: Option<i64>) -> Result<(), DomainError> {
    if capacity.is_some_and(|c| c < 0) {
        return Err(DomainError::field(
            "capacity",
            "capacity must not be negative",
        ));
    }
    Ok(())
}

event_sourced!(Venue, "Venue", VenueCommand, VenueEvent);

impl Venue {
    /// Folds one event into the state.
    fn evolve(&mut self, event: VenueEvent) {
        use VenueEvent as E;
        match event {
            E::VenueRegistered {
                venue_id,
                organization_id,
                owner_id,
                name,
                kind,
                address,
                coordinates,
                capacity,
                contact,
                visibility,
            } => {
                self.id = Some(venue_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.name = name;
                self.kind = kind;
                self.address = address;
                self.coordinates = coordinates;
                self.capacity = capacity;
                self.contact = contact;
                self.visibility = visibility;
            }
            E::VenueUpdated {
                name,
                kind,
                capacity,
                contact,
            } => {
                if let Some(name) = name {
                    self.name = name;
                }
                if let Some(kind) = kind {
                    self.kind = kind;
                }
                if capacity.is_some() {
                    self.capacity = capacity;
                }
                if contact.is_some() {
                    self.contact = contact;
                }
            }
            E::VenueMoved {
                address,
                coordinates,
            } => {
                self.address = address;
                self.coordinates = coordinates;
            }
            E::VenueDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Venue {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }

    fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
        vec![Box::new(venue_registered_v1_to_v2())]
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::persist::SerializedEvent;
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    use super::*;
    use crate::testing::{ctx, ExpectErrorContaining, AGG, ALICE, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Venue>;
    type C = VenueCommand;
    type E = VenueEvent;

    fn address() -> Address {
        Address {
            line1: "1 Quay Street".into(),
            city: "Dublin".into(),
            country: "IE".into(),
            ..Default::default()
        }
    }

    fn dublin() -> Coordinates {
        Coordinates {
            latitude: 53.35,
            longitude: -6.26,
        }
    }

    fn contact() -> VenueContact {
        VenueContact {
            name: "Mary Harbour".into(),
            email: Some("mary@harbourhall.example".into()),
            phone: None,
        }
    }

    fn register() -> C {
        C::RegisterVenue {
            name: "Harbour Hall".into(),
            kind: VenueKind::Venue,
            address: address(),
            coordinates: Some(dublin()),
            capacity: Some(1_200),
            contact: Some(contact()),
            visibility: Visibility::Organization,
        }
    }

    fn registered() -> E {
        E::VenueRegistered {
            venue_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            name: "Harbour Hall".into(),
            kind: VenueKind::Venue,
            address: address(),
            coordinates: Some(dublin()),
            capacity: Some(1_200),
            contact: Some(contact()),
            visibility: Visibility::Organization,
        }
    }

    fn update() -> C {
        C::UpdateVenue {
            name: None,
            kind: None,
            capacity: None,
            contact: None,
        }
    }

    #[test]
    fn register_a_venue() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(register())
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn register_twice_or_with_bad_details_is_refused() {
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(register())
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
        let C::RegisterVenue {
            kind,
            address,
            coordinates,
            capacity,
            contact,
            visibility,
            ..
        } = register()
        else {
            unreachable!()
        };
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RegisterVenue {
                name: "  ".into(),
                kind,
                address: address.clone(),
                coordinates,
                capacity,
                contact: contact.clone(),
                visibility,
            })
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RegisterVenue {
                name: "Harbour Hall".into(),
                kind,
                address: address.clone(),
                coordinates,
                capacity: Some(-1),
                contact: contact.clone(),
                visibility,
            })
            .then_expect_error(DomainError::field(
                "capacity",
                "capacity must not be negative",
            ));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RegisterVenue {
                name: "Harbour Hall".into(),
                kind,
                address: Address {
                    country: "Ireland".into(),
                    ..address.clone()
                },
                coordinates,
                capacity,
                contact: contact.clone(),
                visibility,
            })
            .then_expect_error_containing("not a two-letter ISO 3166 code");
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RegisterVenue {
                name: "Harbour Hall".into(),
                kind,
                address: address.clone(),
                coordinates: Some(Coordinates {
                    latitude: 95.0,
                    longitude: 0.0,
                }),
                capacity,
                contact: contact.clone(),
                visibility,
            })
            .then_expect_error(DomainError::field(
                "coordinates.latitude",
                "latitude must be between -90 and 90",
            ));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RegisterVenue {
                name: "Harbour Hall".into(),
                kind,
                address,
                coordinates,
                capacity,
                contact: Some(VenueContact {
                    name: " ".into(),
                    email: None,
                    phone: None,
                }),
                visibility,
            })
            .then_expect_error(DomainError::field(
                "contact.name",
                "`name` must not be empty",
            ));
    }

    #[test]
    fn register_accepts_a_minimal_venue() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RegisterVenue {
                name: "Depot".into(),
                kind: VenueKind::Warehouse,
                address: address(),
                coordinates: None,
                capacity: None,
                contact: None,
                visibility: Visibility::Private,
            })
            .then_expect_events(vec![E::VenueRegistered {
                venue_id: AGG,
                organization_id: ORG,
                owner_id: ALICE,
                name: "Depot".into(),
                kind: VenueKind::Warehouse,
                address: address(),
                coordinates: None,
                capacity: None,
                contact: None,
                visibility: Visibility::Private,
            }]);
    }

    #[test]
    fn update_changes_the_given_details() {
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::UpdateVenue {
                name: Some("Harbour Hall Annex".into()),
                kind: Some(VenueKind::Office),
                capacity: Some(0),
                contact: None,
            })
            .then_expect_events(vec![E::VenueUpdated {
                name: Some("Harbour Hall Annex".into()),
                kind: Some(VenueKind::Office),
                capacity: Some(0),
                contact: None,
            }]);

        let mut venue = Venue::default();
        venue.apply(registered());
        venue.apply(E::VenueUpdated {
            name: None,
            kind: None,
            capacity: Some(800),
            contact: None,
        });
        assert_eq!(venue.name, "Harbour Hall");
        assert_eq!(venue.capacity, Some(800));
        assert_eq!(venue.contact, Some(contact()));
    }

    #[test]
    fn update_refuses_nothing_and_bad_values() {
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(update())
            .then_expect_error(DomainError::invalid("nothing to update"));
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::UpdateVenue {
                name: Some("".into()),
                kind: None,
                capacity: None,
                contact: None,
            })
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::UpdateVenue {
                name: None,
                kind: None,
                capacity: Some(-5),
                contact: None,
            })
            .then_expect_error(DomainError::field(
                "capacity",
                "capacity must not be negative",
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::UpdateVenue {
                name: None,
                kind: None,
                capacity: None,
                contact: Some(VenueContact {
                    name: "Mary".into(),
                    email: Some("mary.example".into()),
                    phone: None,
                }),
            })
            .then_expect_error_containing("is not an email address");
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::UpdateVenue {
                name: Some("x".into()),
                kind: None,
                capacity: None,
                contact: None,
            })
            .then_expect_error(DomainError::NotCreated(ENTITY));
    }

    #[test]
    fn move_records_the_new_address() {
        let cork = Address {
            line1: "5 Lapp's Quay".into(),
            city: "Cork".into(),
            postal_code: Some("T12".into()),
            country: "IE".into(),
            ..Default::default()
        };
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::MoveVenue {
                address: cork.clone(),
                coordinates: None,
            })
            .then_expect_events(vec![E::VenueMoved {
                address: cork.clone(),
                coordinates: None,
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::MoveVenue {
                address: Address {
                    line1: " ".into(),
                    ..cork.clone()
                },
                coordinates: None,
            })
            .then_expect_error(DomainError::field(
                "address.line1",
                "`line1` must not be empty",
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::MoveVenue {
                address: cork,
                coordinates: Some(Coordinates {
                    latitude: 51.9,
                    longitude: 181.0,
                }),
            })
            .then_expect_error(DomainError::field(
                "coordinates.longitude",
                "longitude must be between -180 and 180",
            ));
    }

    #[test]
    fn delete_is_soft_and_final() {
        Fx::with(ctx(Role::Admin))
            .given(vec![registered()])
            .when(C::DeleteVenue)
            .then_expect_events(vec![E::VenueDeleted]);
        Fx::with(ctx(Role::Admin))
            .given(vec![registered(), E::VenueDeleted])
            .when(C::DeleteVenue)
            .then_expect_error(DomainError::Deleted(ENTITY));
        Fx::with(ctx(Role::Member))
            .given(vec![registered(), E::VenueDeleted])
            .when(C::MoveVenue {
                address: address(),
                coordinates: None,
            })
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn commands_deserialize_from_their_wire_shape() {
        let command: C = serde_json::from_value(json!({
            "type": "register_venue",
            "name": "Depot",
            "kind": "warehouse",
            "address": {"line1": "1 Quay Street", "city": "Dublin", "country": "IE"},
        }))
        .unwrap();
        assert_eq!(
            command,
            C::RegisterVenue {
                name: "Depot".into(),
                kind: VenueKind::Warehouse,
                address: address(),
                coordinates: None,
                capacity: None,
                contact: None,
                visibility: Visibility::Organization,
            }
        );
        let command: C =
            serde_json::from_value(json!({"type": "update_venue", "capacity": 10})).unwrap();
        assert_eq!(
            command,
            C::UpdateVenue {
                name: None,
                kind: None,
                capacity: Some(10),
                contact: None,
            }
        );
    }

    #[test]
    fn event_versions() {
        assert_eq!(registered().event_version(), "2.0");
        assert_eq!(E::VenueDeleted.event_version(), "1.0");
        assert_eq!(registered().event_type(), "VenueRegistered");
    }

    fn stored(event_version: &str, payload: Value) -> SerializedEvent {
        SerializedEvent {
            aggregate_id: AGG.to_string(),
            sequence: 1,
            aggregate_type: Venue::TYPE.to_owned(),
            event_type: "VenueRegistered".to_owned(),
            event_version: event_version.to_owned(),
            payload,
            metadata: Value::Null,
        }
    }

    #[test]
    fn version_1_registrations_are_upcast() {
        let v1 = json!({
            "VenueRegistered": {
                "venue_id": AGG,
                "organization_id": ORG,
                "owner_id": ALICE,
                "name": "Harbour Hall",
                "kind": "venue",
                "street": "1 Quay Street",
                "city": "Dublin",
                "country": "IE",
                "capacity": 1200,
                "contact": null,
                "visibility": "public",
            }
        });
        let upcaster = venue_registered_v1_to_v2();
        assert!(upcaster.can_upcast("VenueRegistered", "1.0"));
        assert!(upcaster.can_upcast("VenueRegistered", "1"));
        assert!(!upcaster.can_upcast("VenueRegistered", "2.0"));
        assert!(!upcaster.can_upcast("VenueMoved", "1.0"));

        let upcast = upcaster.upcast(stored("1.0", v1));
        // The upcaster writes the full semantic version.
        assert_eq!(upcast.event_version, "2.0.0");
        assert_eq!(
            upcast.payload["VenueRegistered"]["address"],
            json!({"line1": "1 Quay Street", "city": "Dublin", "country": "IE"})
        );
        assert!(upcast.payload["VenueRegistered"].get("street").is_none());
        let event: VenueEvent = serde_json::from_value(upcast.payload).unwrap();
        assert_eq!(
            event,
            E::VenueRegistered {
                venue_id: AGG,
                organization_id: ORG,
                owner_id: ALICE,
                name: "Harbour Hall".into(),
                kind: VenueKind::Venue,
                address: address(),
                coordinates: None,
                capacity: Some(1_200),
                contact: None,
                visibility: Visibility::Public,
            }
        );
    }

    #[test]
    fn the_aggregate_declares_its_upcaster() {
        let current = serde_json::to_value(registered()).unwrap();
        let upcasters = Venue::upcasters();
        assert_eq!(upcasters.len(), 1);
        assert!(!upcasters[0].can_upcast("VenueRegistered", &registered().event_version()));
        // A current event is read back unchanged.
        let event: VenueEvent = serde_json::from_value(stored("2.0", current).payload).unwrap();
        assert_eq!(event, registered());
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(register().requirement(), Requirement::Role(Role::Member));
        assert_eq!(update().requirement(), Requirement::Role(Role::Member));
        assert_eq!(C::DeleteVenue.requirement(), Requirement::Role(Role::Admin));
        assert_eq!(C::DeleteVenue.name(), "DeleteVenue");
        assert!(register().references().is_empty());
    }
}
