//! The Asset aggregate: equipment, vehicles and consumable stock, where they
//! are kept, who has them checked out, and their maintenance.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::money::{Currency, MinorUnits};
use crate::reference::References;
use crate::visibility::Visibility;

const ENTITY: &str = "asset";

/// What sort of thing an asset is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    /// Anything else that is owned and tracked.
    #[default]
    Asset,
    /// Stock that is used up (gaffer tape, batteries); only these are consumed.
    Consumable,
    /// Technical gear.
    Equipment,
    /// A vehicle.
    Vehicle,
}

/// The status of an asset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AssetStatus {
    /// In store, ready to use.
    #[default]
    Available,
    /// With a member.
    CheckedOut,
    /// Being serviced.
    InMaintenance,
    /// Out of service for good.
    Retired,
}

crate::stored_as_text!(AssetKind, AssetStatus);

/// A planned maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct Maintenance {
    /// When it is planned.
    pub scheduled_for: DateTime<Utc>,
    /// What is to be done.
    pub description: String,
}

/// An asset.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Asset {
    /// The asset id, once registered.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who registered it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// What sort of thing it is.
    pub kind: AssetKind,
    /// Name.
    pub name: String,
    /// Serial number or asset tag.
    pub tag: Option<String>,
    /// How many are held; never negative.
    pub quantity: i64,
    /// Value in minor units; never negative.
    pub value: MinorUnits,
    /// Currency of the value.
    pub currency: Currency,
    /// The venue where it is kept.
    pub location_id: Option<Uuid>,
    /// The member who has it checked out.
    pub holder: Option<Uuid>,
    /// When the holder is to bring it back.
    pub due_back: Option<DateTime<Utc>>,
    /// The next planned maintenance.
    pub next_maintenance: Option<Maintenance>,
    /// When it was last serviced.
    pub last_maintained_at: Option<DateTime<Utc>>,
    /// Status.
    pub status: AssetStatus,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on an [`Asset`].
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
pub enum AssetCommand {
    /// Registers the asset, `available`.
    RegisterAsset {
        /// What sort of thing it is.
        kind: AssetKind,
        /// Name; not blank.
        name: String,
        /// Serial number or asset tag; a blank one is dropped.
        tag: Option<String>,
        /// How many; not negative.
        quantity: i64,
        /// Value in minor units; not negative.
        value: MinorUnits,
        /// Currency of the value.
        #[serde(default)]
        currency: Currency,
        /// The venue where it is kept.
        location_id: Option<Uuid>,
        /// Row visibility; organization by default.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Changes name, tag and/or value; at least one must be given.
    UpdateAsset {
        /// The new name; not blank.
        name: Option<String>,
        /// The new tag; an empty string removes it.
        tag: Option<String>,
        /// The new value in minor units; not negative.
        value: Option<MinorUnits>,
    },
    /// Moves the asset to another venue, or to none. Not while checked out.
    MoveAsset {
        /// The new venue; `None` when it is kept nowhere in particular.
        location_id: Option<Uuid>,
    },
    /// Hands an `available` asset to a member.
    CheckOutAsset {
        /// The member who takes it.
        holder: Uuid,
        /// When it is to come back.
        due_back: Option<DateTime<Utc>>,
    },
    /// Takes a checked-out asset back.
    CheckInAsset,
    /// Uses up some of a consumable's stock.
    ConsumeAsset {
        /// How many; positive and at most the stock.
        quantity: i64,
    },
    /// Adds stock.
    RestockAsset {
        /// How many; positive.
        quantity: i64,
    },
    /// Plans the next maintenance, replacing any planned one. Not once retired.
    ScheduleMaintenance {
        /// When.
        scheduled_for: DateTime<Utc>,
        /// What is to be done; not blank.
        description: String,
    },
    /// Takes an `available` asset into maintenance.
    StartMaintenance,
    /// Records a maintenance done; the asset ends `available` and the planned
    /// maintenance is cleared.
    RecordMaintenance {
        /// When it was done.
        performed_at: DateTime<Utc>,
        /// What was done.
        notes: Option<String>,
    },
    /// Takes the asset out of service for good. Not while checked out.
    RetireAsset {
        /// Why; not blank.
        reason: String,
    },
    /// Soft-deletes the asset. Not while checked out.
    DeleteAsset,
}

impl DomainCommand for AssetCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        match self {
            AssetCommand::DeleteAsset => Requirement::Role(Role::Admin),
            _ => Requirement::Role(Role::Member),
        }
    }

    fn references(&self) -> References {
        use AssetCommand as C;
        match self {
            C::RegisterAsset { location_id, .. } | C::MoveAsset { location_id } => {
                References::none().aggregate("Venue", *location_id)
            }
            C::CheckOutAsset { holder, .. } => References::none().member(*holder),
            _ => References::none(),
        }
    }
}

/// Events of an [`Asset`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum AssetEvent {
    /// The asset was registered, `available`.
    AssetRegistered {
        /// Its id.
        asset_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who registered it.
        owner_id: Uuid,
        /// What sort of thing it is.
        kind: AssetKind,
        /// Name.
        name: String,
        /// Serial number or asset tag.
        tag: Option<String>,
        /// How many.
        quantity: i64,
        /// Value in minor units.
        value: MinorUnits,
        /// Currency of the value.
        currency: Currency,
        /// The venue where it is kept.
        location_id: Option<Uuid>,
        /// Row visibility.
        visibility: Visibility,
    },
    /// Name, tag and/or value changed; absent fields are unchanged.
    AssetUpdated {
        /// The new name.
        name: Option<String>,
        /// The new tag; an empty string means it was removed.
        tag: Option<String>,
        /// The new value in minor units.
        value: Option<MinorUnits>,
    },
    /// The asset moved.
    AssetMoved {
        /// The new venue, if any.
        location_id: Option<Uuid>,
    },
    /// A member took it.
    AssetCheckedOut {
        /// The member.
        holder: Uuid,
        /// When it is to come back.
        due_back: Option<DateTime<Utc>>,
    },
    /// It came back.
    AssetCheckedIn {
        /// The member who had it.
        holder: Uuid,
    },
    /// Stock was used up.
    AssetConsumed {
        /// How many were used.
        quantity: i64,
        /// The stock left.
        remaining: i64,
    },
    /// Stock was added.
    AssetRestocked {
        /// How many were added.
        quantity: i64,
        /// The stock now.
        remaining: i64,
    },
    /// The next maintenance was planned.
    MaintenanceScheduled {
        /// When.
        scheduled_for: DateTime<Utc>,
        /// What is to be done.
        description: String,
    },
    /// The asset went into maintenance.
    MaintenanceStarted,
    /// A maintenance was done; the asset is `available` and nothing is planned.
    MaintenanceRecorded {
        /// When it was done.
        performed_at: DateTime<Utc>,
        /// What was done.
        notes: Option<String>,
    },
    /// Out of service for good.
    AssetRetired {
        /// Why.
        reason: String,
    },
    /// Soft-deleted.
    AssetDeleted,
}

domain_event!(AssetEvent);

/// Drops a blank optional text.
fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl Asset {
    fn refuse_status(
        &self,
        action: &'static str,
        refused: &[AssetStatus],
    ) -> Result<(), DomainError> {
        if refused.contains(&self.status) {
            Err(DomainError::transition(ENTITY, action, self.status))
        } else {
            Ok(())
        }
    }

    fn decide(
        &self,
        command: AssetCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<AssetEvent>, DomainError> {
        use AssetCommand as C;
        use AssetEvent as E;
        use AssetStatus as S;

        if let C::RegisterAsset {
            kind,
            name,
            tag,
            quantity,
            value,
            currency,
            location_id,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&name, "name")?;
            if quantity < 0 {
                return Err(DomainError::field(
                    "quantity",
                    "quantity must not be negative",
                ));
            }
            if value < 0 {
                return Err(DomainError::field("value", "value must not be negative"));
            }
            return Ok(vec![E::AssetRegistered {
                asset_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                kind,
                name,
                tag: non_blank(tag),
                quantity,
                value,
                currency,
                location_id,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::RegisterAsset { .. } => unreachable!("handled above"),
            C::UpdateAsset { name, tag, value } => {
                if name.is_none() && tag.is_none() && value.is_none() {
                    return Err(DomainError::invalid(
                        "an update needs a name, a tag or a value",
                    ));
                }
                if let Some(name) = &name {
                    require_text(name, "name")?;
                }
                if value.is_some_and(|v| v < 0) {
                    return Err(DomainError::field("value", "value must not be negative"));
                }
                let tag = tag.map(|t| {
                    if t.trim().is_empty() {
                        String::new()
                    } else {
                        t
                    }
                });
                Ok(vec![E::AssetUpdated { name, tag, value }])
            }
            C::MoveAsset { location_id } => {
                self.refuse_status("move", &[S::CheckedOut])?;
                if location_id == self.location_id {
                    return Err(DomainError::rule("the asset is already there"));
                }
                Ok(vec![E::AssetMoved { location_id }])
            }
            C::CheckOutAsset { holder, due_back } => {
                require_status(ENTITY, self.status, "check out", &[S::Available])?;
                Ok(vec![E::AssetCheckedOut { holder, due_back }])
            }
            C::CheckInAsset => {
                require_status(ENTITY, self.status, "check in", &[S::CheckedOut])?;
                let holder = self
                    .holder
                    .ok_or_else(|| DomainError::rule("the asset has no holder"))?;
                Ok(vec![E::AssetCheckedIn { holder }])
            }
            C::ConsumeAsset { quantity } => {
                if self.kind != AssetKind::Consumable {
                    return Err(DomainError::rule("only consumables can be consumed"));
                }
                self.refuse_status("consume", &[S::Retired])?;
                if quantity <= 0 {
                    return Err(DomainError::field(
                        "quantity",
                        "quantity must be at least 1",
                    ));
                }
                if quantity > self.quantity {
                    return Err(DomainError::rule(format!(
                        "cannot consume {quantity}: only {} in stock",
                        self.quantity
                    )));
                }
                Ok(vec![E::AssetConsumed {
                    quantity,
                    remaining: self.quantity - quantity,
                }])
            }
            C::RestockAsset { quantity } => {
                self.refuse_status("restock", &[S::Retired])?;
                if quantity <= 0 {
                    return Err(DomainError::field(
                        "quantity",
                        "quantity must be at least 1",
                    ));
                }
                let remaining = self
                    .quantity
                    .checked_add(quantity)
                    .ok_or_else(|| DomainError::invalid("quantity is too large"))?;
                Ok(vec![E::AssetRestocked {
                    quantity,
                    remaining,
                }])
            }
            C::ScheduleMaintenance {
                scheduled_for,
                description,
            } => {
                self.refuse_status("schedule maintenance for", &[S::Retired])?;
                require_text(&description, "description")?;
                Ok(vec![E::MaintenanceScheduled {
                    scheduled_for,
                    description,
                }])
            }
            C::StartMaintenance => {
                require_status(ENTITY, self.status, "start maintenance on", &[S::Available])?;
                Ok(vec![E::MaintenanceStarted])
            }
            C::RecordMaintenance {
                performed_at,
                notes,
            } => {
                require_status(
                    ENTITY,
                    self.status,
                    "record maintenance on",
                    &[S::Available, S::InMaintenance],
                )?;
                Ok(vec![E::MaintenanceRecorded {
                    performed_at,
                    notes: non_blank(notes),
                }])
            }
            C::RetireAsset { reason } => {
                require_status(
                    ENTITY,
                    self.status,
                    "retire",
                    &[S::Available, S::InMaintenance],
                )?;
                require_text(&reason, "reason")?;
                Ok(vec![E::AssetRetired { reason }])
            }
            C::DeleteAsset => {
                self.refuse_status("delete", &[S::CheckedOut])?;
                Ok(vec![E::AssetDeleted])
            }
        }
    }
}

event_sourced!(Asset, "Asset", AssetCommand, AssetEvent);

impl Asset {
    /// Folds one event into the state.
    fn evolve(&mut self, event: AssetEvent) {
        use AssetEvent as E;
        use AssetStatus as S;
        match event {
            E::AssetRegistered {
                asset_id,
                organization_id,
                owner_id,
                kind,
                name,
                tag,
                quantity,
                value,
                currency,
                location_id,
                visibility,
            } => {
                self.id = Some(asset_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.kind = kind;
                self.name = name;
                self.tag = tag;
                self.quantity = quantity;
                self.value = value;
                self.currency = currency;
                self.location_id = location_id;
                self.visibility = visibility;
            }
            E::AssetUpdated { name, tag, value } => {
                if let Some(name) = name {
                    self.name = name;
                }
                if let Some(tag) = tag {
                    self.tag = non_blank(Some(tag));
                }
                if let Some(value) = value {
                    self.value = value;
                }
            }
            E::AssetMoved { location_id } => self.location_id = location_id,
            E::AssetCheckedOut { holder, due_back } => {
                self.holder = Some(holder);
                self.due_back = due_back;
                self.status = S::CheckedOut;
            }
            E::AssetCheckedIn { .. } => {
                self.holder = None;
                self.due_back = None;
                self.status = S::Available;
            }
            E::AssetConsumed { remaining, .. } | E::AssetRestocked { remaining, .. } => {
                self.quantity = remaining;
            }
            E::MaintenanceScheduled {
                scheduled_for,
                description,
            } => {
                self.next_maintenance = Some(Maintenance {
                    scheduled_for,
                    description,
                });
            }
            E::MaintenanceStarted => self.status = S::InMaintenance,
            E::MaintenanceRecorded { performed_at, .. } => {
                self.next_maintenance = None;
                self.last_maintained_at = Some(performed_at);
                self.status = S::Available;
            }
            E::AssetRetired { .. } => self.status = S::Retired,
            E::AssetDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Asset {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{ctx, ExpectErrorContaining, AGG, ALICE, BOB, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Asset>;
    type C = AssetCommand;
    type E = AssetEvent;

    const STORE: Uuid = Uuid::from_u128(0x5701);
    const HALL: Uuid = Uuid::from_u128(0x4a11);

    fn at(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, 9, 0, 0).unwrap()
    }

    fn registered(kind: AssetKind, quantity: i64) -> E {
        E::AssetRegistered {
            asset_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            kind,
            name: "Gaffer tape".into(),
            tag: Some("GT-01".into()),
            quantity,
            value: 12_00,
            currency: Currency::default(),
            location_id: Some(STORE),
            visibility: Visibility::Organization,
        }
    }

    fn equipment(events: &[E]) -> Vec<E> {
        let mut all = vec![registered(AssetKind::Equipment, 1)];
        all.extend_from_slice(events);
        all
    }

    fn register_command(kind: AssetKind, quantity: i64, value: i64) -> C {
        C::RegisterAsset {
            kind,
            name: "Gaffer tape".into(),
            tag: Some("GT-01".into()),
            quantity,
            value,
            currency: Currency::default(),
            location_id: Some(STORE),
            visibility: Visibility::Organization,
        }
    }

    fn checked_out() -> E {
        E::AssetCheckedOut {
            holder: BOB,
            due_back: Some(at(5)),
        }
    }

    #[test]
    fn register() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(register_command(AssetKind::Consumable, 40, 12_00))
            .then_expect_events(vec![registered(AssetKind::Consumable, 40)]);
    }

    #[test]
    fn register_refuses_bad_input_and_duplicates() {
        Fx::with(ctx(Role::Member))
            .given(vec![registered(AssetKind::Asset, 1)])
            .when(register_command(AssetKind::Asset, 1, 1))
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(register_command(AssetKind::Asset, -1, 1))
            .then_expect_error(DomainError::field(
                "quantity",
                "quantity must not be negative",
            ));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(register_command(AssetKind::Asset, 1, -1))
            .then_expect_error(DomainError::field("value", "value must not be negative"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RegisterAsset {
                kind: AssetKind::Vehicle,
                name: "".into(),
                tag: None,
                quantity: 1,
                value: 0,
                currency: Currency::default(),
                location_id: None,
                visibility: Visibility::default(),
            })
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
    }

    #[test]
    fn commands_need_a_live_asset() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::CheckInAsset)
            .then_expect_error(DomainError::NotCreated(ENTITY));
        Fx::with(ctx(Role::Member))
            .given(equipment(&[E::AssetDeleted]))
            .when(C::RestockAsset { quantity: 1 })
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn update() {
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::UpdateAsset {
                name: Some("Tape".into()),
                tag: Some("".into()),
                value: Some(15_00),
            })
            .then_expect_events(vec![E::AssetUpdated {
                name: Some("Tape".into()),
                tag: Some(String::new()),
                value: Some(15_00),
            }]);
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::UpdateAsset {
                name: None,
                tag: None,
                value: None,
            })
            .then_expect_error_containing("an update needs");
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::UpdateAsset {
                name: Some(" ".into()),
                tag: None,
                value: None,
            })
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::UpdateAsset {
                name: None,
                tag: None,
                value: Some(-5),
            })
            .then_expect_error(DomainError::field("value", "value must not be negative"));
        let mut asset = Asset::default();
        asset.apply(registered(AssetKind::Equipment, 1));
        asset.apply(E::AssetUpdated {
            name: None,
            tag: Some(String::new()),
            value: None,
        });
        assert_eq!(asset.tag, None);
        assert_eq!(asset.name, "Gaffer tape");
    }

    #[test]
    fn move_but_not_while_checked_out() {
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::MoveAsset {
                location_id: Some(HALL),
            })
            .then_expect_events(vec![E::AssetMoved {
                location_id: Some(HALL),
            }]);
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::MoveAsset { location_id: None })
            .then_expect_events(vec![E::AssetMoved { location_id: None }]);
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::MoveAsset {
                location_id: Some(STORE),
            })
            .then_expect_error_containing("already there");
        Fx::with(ctx(Role::Member))
            .given(equipment(&[checked_out()]))
            .when(C::MoveAsset {
                location_id: Some(HALL),
            })
            .then_expect_error_containing("cannot move the asset: it is checked_out");
    }

    #[test]
    fn check_out_and_in() {
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::CheckOutAsset {
                holder: BOB,
                due_back: Some(at(5)),
            })
            .then_expect_events(vec![checked_out()]);
        Fx::with(ctx(Role::Member))
            .given(equipment(&[checked_out()]))
            .when(C::CheckInAsset)
            .then_expect_events(vec![E::AssetCheckedIn { holder: BOB }]);
        let mut asset = Asset::default();
        for event in equipment(&[checked_out()]) {
            asset.apply(event);
        }
        assert_eq!(asset.status, AssetStatus::CheckedOut);
        assert_eq!(asset.holder, Some(BOB));
        asset.apply(E::AssetCheckedIn { holder: BOB });
        assert_eq!(asset.status, AssetStatus::Available);
        assert_eq!((asset.holder, asset.due_back), (None, None));
    }

    #[test]
    fn never_out_twice_nor_in_twice() {
        Fx::with(ctx(Role::Member))
            .given(equipment(&[checked_out()]))
            .when(C::CheckOutAsset {
                holder: ALICE,
                due_back: None,
            })
            .then_expect_error_containing("cannot check out the asset: it is checked_out");
        Fx::with(ctx(Role::Member))
            .given(equipment(&[E::MaintenanceStarted]))
            .when(C::CheckOutAsset {
                holder: ALICE,
                due_back: None,
            })
            .then_expect_error_containing("cannot check out the asset: it is in_maintenance");
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::CheckInAsset)
            .then_expect_error_containing("cannot check in the asset: it is available");
    }

    #[test]
    fn consume_only_consumables_within_stock() {
        let tape = vec![registered(AssetKind::Consumable, 10)];
        Fx::with(ctx(Role::Member))
            .given(tape.clone())
            .when(C::ConsumeAsset { quantity: 4 })
            .then_expect_events(vec![E::AssetConsumed {
                quantity: 4,
                remaining: 6,
            }]);
        Fx::with(ctx(Role::Member))
            .given(tape.clone())
            .when(C::ConsumeAsset { quantity: 10 })
            .then_expect_events(vec![E::AssetConsumed {
                quantity: 10,
                remaining: 0,
            }]);
        Fx::with(ctx(Role::Member))
            .given(tape.clone())
            .when(C::ConsumeAsset { quantity: 11 })
            .then_expect_error(DomainError::rule("cannot consume 11: only 10 in stock"));
        Fx::with(ctx(Role::Member))
            .given(tape.clone())
            .when(C::ConsumeAsset { quantity: 0 })
            .then_expect_error(DomainError::field(
                "quantity",
                "quantity must be at least 1",
            ));
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::ConsumeAsset { quantity: 1 })
            .then_expect_error_containing("only consumables");
        let mut retired = tape;
        retired.push(E::AssetRetired { reason: "x".into() });
        Fx::with(ctx(Role::Member))
            .given(retired)
            .when(C::ConsumeAsset { quantity: 1 })
            .then_expect_error_containing("cannot consume the asset: it is retired");
    }

    #[test]
    fn restock() {
        Fx::with(ctx(Role::Member))
            .given(vec![registered(AssetKind::Consumable, 10)])
            .when(C::RestockAsset { quantity: 5 })
            .then_expect_events(vec![E::AssetRestocked {
                quantity: 5,
                remaining: 15,
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![registered(AssetKind::Consumable, 10)])
            .when(C::RestockAsset { quantity: -1 })
            .then_expect_error(DomainError::field(
                "quantity",
                "quantity must be at least 1",
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![registered(AssetKind::Consumable, i64::MAX)])
            .when(C::RestockAsset { quantity: 1 })
            .then_expect_error(DomainError::invalid("quantity is too large"));
        Fx::with(ctx(Role::Member))
            .given(equipment(&[E::AssetRetired { reason: "x".into() }]))
            .when(C::RestockAsset { quantity: 1 })
            .then_expect_error_containing("cannot restock the asset: it is retired");
        let mut asset = Asset::default();
        asset.apply(registered(AssetKind::Consumable, 10));
        asset.apply(E::AssetConsumed {
            quantity: 3,
            remaining: 7,
        });
        asset.apply(E::AssetRestocked {
            quantity: 1,
            remaining: 8,
        });
        assert_eq!(asset.quantity, 8);
    }

    #[test]
    fn maintenance_cycle() {
        let scheduled = E::MaintenanceScheduled {
            scheduled_for: at(20),
            description: "Annual service".into(),
        };
        Fx::with(ctx(Role::Member))
            .given(equipment(&[checked_out()]))
            .when(C::ScheduleMaintenance {
                scheduled_for: at(20),
                description: "Annual service".into(),
            })
            .then_expect_events(vec![scheduled.clone()]);
        Fx::with(ctx(Role::Member))
            .given(equipment(std::slice::from_ref(&scheduled)))
            .when(C::StartMaintenance)
            .then_expect_events(vec![E::MaintenanceStarted]);
        let recorded = E::MaintenanceRecorded {
            performed_at: at(20),
            notes: Some("new belts".into()),
        };
        Fx::with(ctx(Role::Member))
            .given(equipment(&[scheduled.clone(), E::MaintenanceStarted]))
            .when(C::RecordMaintenance {
                performed_at: at(20),
                notes: Some("new belts".into()),
            })
            .then_expect_events(vec![recorded.clone()]);
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::RecordMaintenance {
                performed_at: at(20),
                notes: Some(" ".into()),
            })
            .then_expect_events(vec![E::MaintenanceRecorded {
                performed_at: at(20),
                notes: None,
            }]);

        let mut asset = Asset::default();
        for event in equipment(&[scheduled, E::MaintenanceStarted]) {
            asset.apply(event);
        }
        assert_eq!(asset.status, AssetStatus::InMaintenance);
        assert_eq!(
            asset.next_maintenance.as_ref().map(|m| m.scheduled_for),
            Some(at(20))
        );
        asset.apply(recorded);
        assert_eq!(asset.status, AssetStatus::Available);
        assert_eq!(asset.next_maintenance, None);
        assert_eq!(asset.last_maintained_at, Some(at(20)));
    }

    #[test]
    fn maintenance_refusals() {
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::ScheduleMaintenance {
                scheduled_for: at(20),
                description: " ".into(),
            })
            .then_expect_error(DomainError::field(
                "description",
                "`description` must not be empty",
            ));
        Fx::with(ctx(Role::Member))
            .given(equipment(&[E::AssetRetired { reason: "x".into() }]))
            .when(C::ScheduleMaintenance {
                scheduled_for: at(20),
                description: "service".into(),
            })
            .then_expect_error_containing(
                "cannot schedule maintenance for the asset: it is retired",
            );
        Fx::with(ctx(Role::Member))
            .given(equipment(&[checked_out()]))
            .when(C::StartMaintenance)
            .then_expect_error_containing(
                "cannot start maintenance on the asset: it is checked_out",
            );
        Fx::with(ctx(Role::Member))
            .given(equipment(&[E::MaintenanceStarted]))
            .when(C::StartMaintenance)
            .then_expect_error_containing("it is in_maintenance");
        Fx::with(ctx(Role::Member))
            .given(equipment(&[checked_out()]))
            .when(C::RecordMaintenance {
                performed_at: at(20),
                notes: None,
            })
            .then_expect_error_containing(
                "cannot record maintenance on the asset: it is checked_out",
            );
    }

    #[test]
    fn retire() {
        for given in [vec![], vec![E::MaintenanceStarted]] {
            Fx::with(ctx(Role::Member))
                .given(equipment(&given))
                .when(C::RetireAsset {
                    reason: "worn out".into(),
                })
                .then_expect_events(vec![E::AssetRetired {
                    reason: "worn out".into(),
                }]);
        }
        Fx::with(ctx(Role::Member))
            .given(equipment(&[checked_out()]))
            .when(C::RetireAsset {
                reason: "worn out".into(),
            })
            .then_expect_error_containing("cannot retire the asset: it is checked_out");
        Fx::with(ctx(Role::Member))
            .given(equipment(&[E::AssetRetired { reason: "x".into() }]))
            .when(C::RetireAsset { reason: "y".into() })
            .then_expect_error_containing("cannot retire the asset: it is retired");
        Fx::with(ctx(Role::Member))
            .given(equipment(&[]))
            .when(C::RetireAsset { reason: "".into() })
            .then_expect_error(DomainError::field("reason", "`reason` must not be empty"));
    }

    #[test]
    fn delete_but_not_while_checked_out() {
        Fx::with(ctx(Role::Admin))
            .given(equipment(&[E::AssetRetired { reason: "x".into() }]))
            .when(C::DeleteAsset)
            .then_expect_events(vec![E::AssetDeleted]);
        Fx::with(ctx(Role::Admin))
            .given(equipment(&[checked_out()]))
            .when(C::DeleteAsset)
            .then_expect_error_containing("cannot delete the asset: it is checked_out");
        Fx::with(ctx(Role::Admin))
            .given(equipment(&[E::AssetDeleted]))
            .when(C::DeleteAsset)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn commands_deserialize_from_tagged_json() {
        let command: C = serde_json::from_value(serde_json::json!({
            "type": "register_asset",
            "kind": "consumable",
            "name": "Gaffer tape",
            "quantity": 40,
            "value": 1200,
        }))
        .unwrap();
        assert_eq!(
            command,
            C::RegisterAsset {
                kind: AssetKind::Consumable,
                name: "Gaffer tape".into(),
                tag: None,
                quantity: 40,
                value: 12_00,
                currency: Currency::default(),
                location_id: None,
                visibility: Visibility::Organization,
            }
        );
        let command: C =
            serde_json::from_value(serde_json::json!({"type": "check_in_asset"})).unwrap();
        assert_eq!(command.name(), "CheckInAsset");
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(C::DeleteAsset.requirement(), Requirement::Role(Role::Admin));
        assert_eq!(
            C::CheckInAsset.requirement(),
            Requirement::Role(Role::Member)
        );
        assert_eq!(
            register_command(AssetKind::Asset, 1, 1).references(),
            References::none().aggregate("Venue", STORE)
        );
        assert_eq!(
            C::MoveAsset {
                location_id: Some(HALL)
            }
            .references()
            .aggregates,
            vec![("Venue".to_owned(), HALL)]
        );
        assert!(C::MoveAsset { location_id: None }.references().is_empty());
        assert_eq!(
            C::CheckOutAsset {
                holder: BOB,
                due_back: None
            }
            .references(),
            References::none().member(BOB)
        );
        assert!(C::CheckInAsset.references().is_empty());
    }
}
