//! Line items of a production advance: cost, schedule, status, fulfillment and
//! the dependency graph between them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;
use crate::money::{line_total, MinorUnits};

/// The category of an item (the seeds' advance categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ItemCategory {
    /// Audio, lighting, video, staging, power.
    Technical,
    /// Transport, freight, equipment.
    Logistics,
    /// Catering, riders, accommodation, guest lists.
    Hospitality,
    /// Crew and labour.
    Staffing,
    /// Security, medical, permits, insurance.
    Safety,
    /// Signage, print, promotion.
    Marketing,
}

/// Where an item is in its life, in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Not yet confirmed by the vendor.
    #[default]
    Pending,
    /// Confirmed by the vendor.
    Confirmed,
    /// On its way.
    InTransit,
    /// On site.
    Delivered,
    /// Set up.
    Installed,
    /// Taken down.
    Struck,
    /// Done and returned.
    Complete,
}

impl ItemStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Confirmed => "confirmed",
            ItemStatus::InTransit => "in_transit",
            ItemStatus::Delivered => "delivered",
            ItemStatus::Installed => "installed",
            ItemStatus::Struck => "struck",
            ItemStatus::Complete => "complete",
        }
    }
}

/// A fulfillment stage tracked with a percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStage {
    /// Ordered from the vendor.
    Ordered,
    /// Confirmed by the vendor.
    Confirmed,
    /// Being made.
    InProduction,
    /// Shipped.
    Shipped,
    /// On the road.
    InTransit,
    /// Arrived.
    Delivered,
    /// Set up.
    Installed,
    /// Tested on site.
    Tested,
    /// Finished.
    Complete,
}

/// When an item arrives, goes in and comes out. Each time is optional, but the
/// ones given must be in that order.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    foldline_derive::GraphqlInput,
    foldline_derive::GraphqlOutput,
)]
pub struct ItemSchedule {
    /// Scheduled delivery.
    pub delivery: Option<DateTime<Utc>>,
    /// Load-in.
    pub load_in: Option<DateTime<Utc>>,
    /// Strike.
    pub strike: Option<DateTime<Utc>>,
}

impl ItemSchedule {
    /// Refuses a schedule whose given times are out of order.
    pub fn validate(&self) -> Result<(), DomainError> {
        let times = [
            ("delivery", self.delivery),
            ("load-in", self.load_in),
            ("strike", self.strike),
        ];
        let given: Vec<_> = times
            .iter()
            .filter_map(|(name, time)| time.map(|t| (*name, t)))
            .collect();
        for pair in given.windows(2) {
            if pair[0].1 > pair[1].1 {
                return Err(DomainError::invalid(format!(
                    "{} must not be after {}",
                    pair[0].0, pair[1].0
                )));
            }
        }
        Ok(())
    }
}

/// A line item of a production advance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct AdvanceItem {
    /// What it is.
    pub name: String,
    /// Category.
    pub category: ItemCategory,
    /// Supplying vendor.
    pub vendor_id: Option<Uuid>,
    /// Units needed.
    pub quantity_required: i64,
    /// Units the vendor confirmed.
    pub quantity_confirmed: i64,
    /// Cost of one unit, in minor units.
    pub unit_cost: MinorUnits,
    /// Delivery, load-in, strike.
    pub schedule: ItemSchedule,
    /// On the critical path.
    pub critical_path: bool,
    /// Items that must be done first.
    pub depends_on: BTreeSet<Uuid>,
    /// Where it is in its life.
    pub status: ItemStatus,
    /// Percentage complete per fulfillment stage.
    #[output(skip)]
    pub fulfillment: BTreeMap<FulfillmentStage, u8>,
}

impl AdvanceItem {
    /// Quantity × unit cost: derived, never stored.
    pub fn total_cost(&self) -> Result<i64, DomainError> {
        line_total(self.quantity_required, self.unit_cost)
    }
}

/// Refuses a non-positive quantity or a negative unit cost.
pub(super) fn validate_cost(quantity_required: i64, unit_cost: i64) -> Result<(), DomainError> {
    if quantity_required <= 0 {
        return Err(DomainError::field(
            "quantity_required",
            "quantity must be at least 1",
        ));
    }
    if unit_cost < 0 {
        return Err(DomainError::field(
            "unit_cost",
            "unit cost must not be negative",
        ));
    }
    line_total(quantity_required, unit_cost).map(|_| ())
}

/// Refuses `item_id → depends_on` if it would close a cycle: that is, if any
/// new dependency already (transitively) depends on `item_id`.
pub(super) fn ensure_acyclic(
    items: &BTreeMap<Uuid, AdvanceItem>,
    item_id: Uuid,
    depends_on: &BTreeSet<Uuid>,
) -> Result<(), DomainError> {
    let mut stack: Vec<Uuid> = depends_on.iter().copied().collect();
    let mut seen = BTreeSet::new();
    while let Some(current) = stack.pop() {
        if current == item_id {
            return Err(DomainError::rule(format!(
                "dependencies of item {item_id} would form a cycle"
            )));
        }
        if seen.insert(current) {
            if let Some(item) = items.get(&current) {
                stack.extend(item.depends_on.iter().copied());
            }
        }
    }
    Ok(())
}
