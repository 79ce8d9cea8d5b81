//! The ProductionAdvance aggregate: everything one event needs from vendors,
//! with its line items, their schedule and fulfillment, and tiered approval.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Capability, Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::money::{Currency, MinorUnits};
pub use crate::priority::Priority;
use crate::reference::References;
use crate::visibility::Visibility;

mod approval;
mod items;

pub use approval::required_approvals;
pub use items::{AdvanceItem, FulfillmentStage, ItemCategory, ItemSchedule, ItemStatus};

const ENTITY: &str = "production advance";

/// When in the life of an event the advance is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AdvanceType {
    /// Before the event.
    #[default]
    PreEvent,
    /// The load-in.
    LoadIn,
    /// Show day.
    ShowDay,
    /// The strike.
    Strike,
    /// After the event.
    PostEvent,
}

/// The status of a production advance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AdvanceStatus {
    /// Items are being added; costs may change.
    #[default]
    Draft,
    /// Submitted; waiting for the approvals its cost tier needs.
    PendingApproval,
    /// Approved; items move through delivery and installation.
    Approved,
    /// Every item is complete.
    Completed,
    /// Called off.
    Cancelled,
}

/// A given approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct Approval {
    /// The capability it was given under.
    pub capability: Capability,
    /// Who gave it.
    pub approver_id: Uuid,
}

/// A rating of a vendor's work on this advance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct VendorRating {
    /// The vendor (a company).
    pub vendor_id: Uuid,
    /// The item the rating is about, if one.
    pub item_id: Option<Uuid>,
    /// Whether it arrived on time.
    pub on_time: bool,
    /// Quality, 1 to 5.
    pub quality: u8,
    /// Communication, 1 to 5.
    pub communication: u8,
    /// Whether the rater would book them again.
    pub would_recommend: bool,
    /// Free text.
    pub comment: Option<String>,
    /// Who rated.
    pub rated_by: Uuid,
}

/// The kind of a document attached to an advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// An artist's rider.
    Rider,
    /// A technical specification.
    Spec,
    /// Anything else.
    Other,
}

/// A document attached to an advance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct Attachment {
    /// The document's id.
    pub document_id: Uuid,
    /// What it is.
    pub kind: AttachmentKind,
    /// Its title.
    pub name: String,
    /// Where it is stored.
    pub url: String,
}

/// A production advance.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity, extra = "crate::graphql::ProductionAdvanceFields")]
pub struct ProductionAdvance {
    /// The advance id, once created.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who created it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// The event it is for.
    pub event_id: Option<Uuid>,
    /// Human code, e.g. `ADV-2026-001`.
    pub code: String,
    /// Which phase of the event.
    pub advance_type: AdvanceType,
    /// Urgency.
    pub priority: Priority,
    /// The currency of every item's cost.
    pub currency: Currency,
    /// When it must be settled.
    pub due_date: Option<DateTime<Utc>>,
    /// Who is responsible.
    pub assignee: Option<Uuid>,
    /// Status.
    pub status: AdvanceStatus,
    /// Line items by id.
    #[output(skip)]
    pub items: BTreeMap<Uuid, AdvanceItem>,
    /// The capabilities whose approval the submitted cost needs, in order.
    pub required_approvals: Vec<Capability>,
    /// Approvals given so far, in order.
    pub approvals: Vec<Approval>,
    /// Vendor ratings.
    pub ratings: Vec<VendorRating>,
    /// Riders, specs and other documents.
    pub attachments: Vec<Attachment>,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`ProductionAdvance`].
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
pub enum ProductionAdvanceCommand {
    /// Opens an advance for an event.
    CreateAdvance {
        /// The event.
        event_id: Uuid,
        /// Human code.
        code: String,
        /// Phase.
        advance_type: AdvanceType,
        /// Urgency.
        #[serde(default)]
        priority: Priority,
        /// Currency of all costs.
        #[serde(default)]
        currency: Currency,
        /// Deadline.
        due_date: Option<DateTime<Utc>>,
        /// Responsible member.
        assignee: Option<Uuid>,
        /// Row visibility.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Changes priority, due date or assignee; absent fields stay as they are.
    UpdateAdvance {
        /// New priority.
        priority: Option<Priority>,
        /// New deadline.
        due_date: Option<DateTime<Utc>>,
        /// New responsible member.
        assignee: Option<Uuid>,
    },
    /// Adds a line item (draft only).
    AddItem {
        /// The new item's id.
        item_id: Uuid,
        /// What it is.
        name: String,
        /// Category.
        category: ItemCategory,
        /// Supplying vendor.
        vendor_id: Option<Uuid>,
        /// How many are needed.
        quantity_required: i64,
        /// Cost of one, in minor units of the advance's currency.
        unit_cost: MinorUnits,
        /// Delivery, load-in and strike.
        #[serde(default)]
        schedule: ItemSchedule,
        /// On the critical path.
        #[serde(default)]
        critical_path: bool,
        /// Items that must be done first.
        #[serde(default)]
        depends_on: BTreeSet<Uuid>,
    },
    /// Changes an item's quantity or unit cost (draft only).
    ChangeItemCost {
        /// The item.
        item_id: Uuid,
        /// New quantity.
        quantity_required: i64,
        /// New unit cost.
        unit_cost: MinorUnits,
    },
    /// Removes an item no other item depends on (draft only).
    RemoveItem {
        /// The item.
        item_id: Uuid,
    },
    /// Replaces an item's dependencies; cycles are refused.
    SetItemDependencies {
        /// The item.
        item_id: Uuid,
        /// Items it depends on.
        depends_on: BTreeSet<Uuid>,
    },
    /// Moves an item's delivery, load-in and strike times.
    RescheduleItem {
        /// The item.
        item_id: Uuid,
        /// The new schedule.
        schedule: ItemSchedule,
    },
    /// Records how many units the vendor confirmed.
    ConfirmItemQuantity {
        /// The item.
        item_id: Uuid,
        /// Confirmed units, at most the required quantity.
        quantity_confirmed: i64,
    },
    /// Moves an item forward in `pending → … → complete` (approved advances only).
    ChangeItemStatus {
        /// The item.
        item_id: Uuid,
        /// The later status.
        status: ItemStatus,
    },
    /// Records progress of one fulfillment stage of an item.
    RecordFulfillment {
        /// The item.
        item_id: Uuid,
        /// The stage.
        stage: FulfillmentStage,
        /// Percentage complete, 0 to 100.
        percentage: u8,
    },
    /// Submits the advance; its total cost decides who must approve.
    SubmitForApproval,
    /// Gives the next approval the cost tier needs.
    Approve,
    /// Sends a submitted advance back to draft.
    RejectApproval {
        /// Why.
        reason: String,
    },
    /// Rates a vendor of this advance.
    RateVendor {
        /// The vendor.
        vendor_id: Uuid,
        /// The item rated, if one.
        item_id: Option<Uuid>,
        /// Arrived on time.
        on_time: bool,
        /// 1 to 5.
        quality: u8,
        /// 1 to 5.
        communication: u8,
        /// Would book again.
        would_recommend: bool,
        /// Free text.
        comment: Option<String>,
    },
    /// Attaches a rider, spec or other document.
    AttachDocument {
        /// The document.
        document_id: Uuid,
        /// Its kind.
        kind: AttachmentKind,
        /// Its title.
        name: String,
        /// Its location.
        url: String,
    },
    /// Closes an approved advance whose items are all complete.
    CompleteAdvance,
    /// Calls the advance off.
    CancelAdvance {
        /// Why.
        reason: String,
    },
    /// Soft-deletes the advance.
    DeleteAdvance,
}

impl DomainCommand for ProductionAdvanceCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        match self {
            ProductionAdvanceCommand::DeleteAdvance => Requirement::Role(Role::Admin),
            // Approvals are open to members; the aggregate checks the capability
            // the next tier needs.
            _ => Requirement::Role(Role::Member),
        }
    }

    fn references(&self) -> References {
        use ProductionAdvanceCommand as C;
        match self {
            C::CreateAdvance {
                event_id, assignee, ..
            } => References::none()
                .aggregate("Event", *event_id)
                .member(*assignee),
            C::UpdateAdvance { assignee, .. } => References::none().member(*assignee),
            C::AddItem { vendor_id, .. } => References::none().aggregate("Company", *vendor_id),
            C::RateVendor { vendor_id, .. } => References::none().aggregate("Company", *vendor_id),
            C::AttachDocument { document_id, .. } => {
                References::none().aggregate("Document", *document_id)
            }
            _ => References::none(),
        }
    }
}

/// Events of a [`ProductionAdvance`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum ProductionAdvanceEvent {
    /// The advance was opened.
    AdvanceCreated {
        /// Its id.
        advance_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who opened it.
        owner_id: Uuid,
        /// The event.
        event_id: Uuid,
        /// Human code.
        code: String,
        /// Phase.
        advance_type: AdvanceType,
        /// Urgency.
        priority: Priority,
        /// Currency.
        currency: Currency,
        /// Deadline.
        due_date: Option<DateTime<Utc>>,
        /// Responsible member.
        assignee: Option<Uuid>,
        /// Row visibility.
        visibility: Visibility,
    },
    /// Priority, due date or assignee changed (the fields given).
    AdvanceUpdated {
        /// New priority.
        priority: Option<Priority>,
        /// New deadline.
        due_date: Option<DateTime<Utc>>,
        /// New responsible member.
        assignee: Option<Uuid>,
    },
    /// An item was added.
    ItemAdded {
        /// Its id.
        item_id: Uuid,
        /// Name.
        name: String,
        /// Category.
        category: ItemCategory,
        /// Vendor.
        vendor_id: Option<Uuid>,
        /// Quantity needed.
        quantity_required: i64,
        /// Unit cost in minor units.
        unit_cost: MinorUnits,
        /// Schedule.
        schedule: ItemSchedule,
        /// Critical path.
        critical_path: bool,
        /// Dependencies.
        depends_on: BTreeSet<Uuid>,
    },
    /// An item's quantity or unit cost changed.
    ItemCostChanged {
        /// The item.
        item_id: Uuid,
        /// Quantity needed.
        quantity_required: i64,
        /// Unit cost.
        unit_cost: MinorUnits,
    },
    /// An item was removed.
    ItemRemoved {
        /// The item.
        item_id: Uuid,
    },
    /// An item's dependencies were replaced.
    ItemDependenciesSet {
        /// The item.
        item_id: Uuid,
        /// Its dependencies.
        depends_on: BTreeSet<Uuid>,
    },
    /// An item was rescheduled.
    ItemRescheduled {
        /// The item.
        item_id: Uuid,
        /// The new schedule.
        schedule: ItemSchedule,
    },
    /// The vendor confirmed a quantity.
    ItemQuantityConfirmed {
        /// The item.
        item_id: Uuid,
        /// Confirmed units.
        quantity_confirmed: i64,
    },
    /// An item moved forward.
    ItemStatusChanged {
        /// The item.
        item_id: Uuid,
        /// Before.
        from: ItemStatus,
        /// After.
        to: ItemStatus,
    },
    /// Progress on a fulfillment stage.
    FulfillmentRecorded {
        /// The item.
        item_id: Uuid,
        /// The stage.
        stage: FulfillmentStage,
        /// 0 to 100.
        percentage: u8,
    },
    /// Submitted for approval.
    AdvanceSubmitted {
        /// The total cost at submission, in minor units.
        total_cost: i64,
        /// The approvals that total needs, in order.
        required_approvals: Vec<Capability>,
    },
    /// One approval was given.
    ApprovalGranted {
        /// Under which capability.
        capability: Capability,
        /// By whom.
        approver_id: Uuid,
    },
    /// Every needed approval is in (none for the automatic tier).
    AdvanceApproved {
        /// True when the cost was within the automatic tier.
        automatic: bool,
    },
    /// A submission was sent back.
    ApprovalRejected {
        /// By whom.
        rejected_by: Uuid,
        /// Why.
        reason: String,
    },
    /// A vendor was rated.
    VendorRated(VendorRating),
    /// A document was attached.
    DocumentAttached(Attachment),
    /// Every item is complete.
    AdvanceCompleted,
    /// Called off.
    AdvanceCancelled {
        /// Why.
        reason: String,
    },
    /// Soft-deleted.
    AdvanceDeleted,
}

domain_event!(ProductionAdvanceEvent);

impl ProductionAdvance {
    /// The capability of the approval the advance waits for: the first
    /// required step not yet given, while it is pending approval.
    pub fn awaiting_capability(&self) -> Option<Capability> {
        if self.status != AdvanceStatus::PendingApproval {
            return None;
        }
        self.required_approvals.get(self.approvals.len()).copied()
    }

    /// The step an approval or a rejection answers.
    fn awaiting(&self) -> Result<Capability, DomainError> {
        self.awaiting_capability()
            .ok_or_else(|| DomainError::rule("the advance waits for no approval"))
    }

    /// The total cost of all items in minor units, derived from quantities and unit costs.
    pub fn total_cost(&self) -> Result<i64, DomainError> {
        self.items.values().try_fold(0i64, |sum, item| {
            sum.checked_add(item.total_cost()?)
                .ok_or_else(|| DomainError::invalid("total cost is too large"))
        })
    }

    fn item(&self, item_id: Uuid) -> Result<&AdvanceItem, DomainError> {
        self.items
            .get(&item_id)
            .ok_or_else(|| DomainError::rule(format!("item {item_id} is not on this advance")))
    }

    fn decide(
        &self,
        command: ProductionAdvanceCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<ProductionAdvanceEvent>, DomainError> {
        use AdvanceStatus as S;
        use ProductionAdvanceCommand as C;
        use ProductionAdvanceEvent as E;

        if let C::CreateAdvance {
            event_id,
            code,
            advance_type,
            priority,
            currency,
            due_date,
            assignee,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&code, "code")?;
            return Ok(vec![E::AdvanceCreated {
                advance_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                event_id,
                code,
                advance_type,
                priority,
                currency,
                due_date,
                assignee,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        let open = [S::Draft, S::PendingApproval, S::Approved];
        match command {
            C::CreateAdvance { .. } => unreachable!("handled above"),
            C::UpdateAdvance {
                priority,
                due_date,
                assignee,
            } => {
                require_status(ENTITY, self.status, "update", &open)?;
                if priority.is_none() && due_date.is_none() && assignee.is_none() {
                    return Err(DomainError::invalid("nothing to update"));
                }
                Ok(vec![E::AdvanceUpdated {
                    priority,
                    due_date,
                    assignee,
                }])
            }
            C::AddItem {
                item_id,
                name,
                category,
                vendor_id,
                quantity_required,
                unit_cost,
                schedule,
                critical_path,
                depends_on,
            } => {
                require_status(ENTITY, self.status, "add items to", &[S::Draft])?;
                if self.items.contains_key(&item_id) {
                    return Err(DomainError::rule(format!("item {item_id} already exists")));
                }
                require_text(&name, "name")?;
                items::validate_cost(quantity_required, unit_cost)?;
                schedule.validate()?;
                for dependency in &depends_on {
                    self.item(*dependency)?;
                }
                Ok(vec![E::ItemAdded {
                    item_id,
                    name,
                    category,
                    vendor_id,
                    quantity_required,
                    unit_cost,
                    schedule,
                    critical_path,
                    depends_on,
                }])
            }
            C::ChangeItemCost {
                item_id,
                quantity_required,
                unit_cost,
            } => {
                require_status(ENTITY, self.status, "change costs of", &[S::Draft])?;
                self.item(item_id)?;
                items::validate_cost(quantity_required, unit_cost)?;
                Ok(vec![E::ItemCostChanged {
                    item_id,
                    quantity_required,
                    unit_cost,
                }])
            }
            C::RemoveItem { item_id } => {
                require_status(ENTITY, self.status, "remove items from", &[S::Draft])?;
                self.item(item_id)?;
                if let Some((dependent, _)) = self
                    .items
                    .iter()
                    .find(|(_, item)| item.depends_on.contains(&item_id))
                {
                    return Err(DomainError::rule(format!(
                        "item {dependent} depends on item {item_id}"
                    )));
                }
                Ok(vec![E::ItemRemoved { item_id }])
            }
            C::SetItemDependencies {
                item_id,
                depends_on,
            } => {
                require_status(ENTITY, self.status, "change dependencies of", &open)?;
                self.item(item_id)?;
                for dependency in &depends_on {
                    self.item(*dependency)?;
                }
                items::ensure_acyclic(&self.items, item_id, &depends_on)?;
                Ok(vec![E::ItemDependenciesSet {
                    item_id,
                    depends_on,
                }])
            }
            C::RescheduleItem { item_id, schedule } => {
                require_status(ENTITY, self.status, "reschedule items of", &open)?;
                self.item(item_id)?;
                schedule.validate()?;
                Ok(vec![E::ItemRescheduled { item_id, schedule }])
            }
            C::ConfirmItemQuantity {
                item_id,
                quantity_confirmed,
            } => {
                require_status(ENTITY, self.status, "confirm quantities of", &open)?;
                let item = self.item(item_id)?;
                if !(0..=item.quantity_required).contains(&quantity_confirmed) {
                    return Err(DomainError::field(
                        "quantity_confirmed",
                        format!(
                            "confirmed quantity must be between 0 and {}",
                            item.quantity_required
                        ),
                    ));
                }
                Ok(vec![E::ItemQuantityConfirmed {
                    item_id,
                    quantity_confirmed,
                }])
            }
            C::ChangeItemStatus { item_id, status } => {
                require_status(ENTITY, self.status, "move items of", &[S::Approved])?;
                let item = self.item(item_id)?;
                if status <= item.status {
                    return Err(DomainError::rule(format!(
                        "item status only moves forward: {} cannot become {}",
                        item.status.as_str(),
                        status.as_str()
                    )));
                }
                if status >= ItemStatus::Installed {
                    if let Some(blocker) = item
                        .depends_on
                        .iter()
                        .find(|d| self.items[d].status < ItemStatus::Installed)
                    {
                        return Err(DomainError::rule(format!(
                            "item {item_id} cannot be {} before item {blocker} is installed",
                            status.as_str()
                        )));
                    }
                }
                Ok(vec![E::ItemStatusChanged {
                    item_id,
                    from: item.status,
                    to: status,
                }])
            }
            C::RecordFulfillment {
                item_id,
                stage,
                percentage,
            } => {
                require_status(ENTITY, self.status, "record fulfillment of", &[S::Approved])?;
                self.item(item_id)?;
                if percentage > 100 {
                    return Err(DomainError::field(
                        "percentage",
                        "percentage must be between 0 and 100",
                    ));
                }
                Ok(vec![E::FulfillmentRecorded {
                    item_id,
                    stage,
                    percentage,
                }])
            }
            C::SubmitForApproval => {
                require_status(ENTITY, self.status, "submit", &[S::Draft])?;
                if self.items.is_empty() {
                    return Err(DomainError::rule("an advance needs at least one item"));
                }
                let total_cost = self.total_cost()?;
                let required = required_approvals(total_cost);
                let automatic = required.is_empty();
                let mut events = vec![E::AdvanceSubmitted {
                    total_cost,
                    required_approvals: required,
                }];
                if automatic {
                    events.push(E::AdvanceApproved { automatic: true });
                }
                Ok(events)
            }
            C::Approve => {
                require_status(ENTITY, self.status, "approve", &[S::PendingApproval])?;
                let next = self.awaiting()?;
                if !ctx.actor.has(next) {
                    return Err(DomainError::MissingCapability(next));
                }
                let mut events = vec![E::ApprovalGranted {
                    capability: next,
                    approver_id: ctx.actor.user_id,
                }];
                if self.approvals.len() + 1 == self.required_approvals.len() {
                    events.push(E::AdvanceApproved { automatic: false });
                }
                Ok(events)
            }
            C::RejectApproval { reason } => {
                require_status(ENTITY, self.status, "reject", &[S::PendingApproval])?;
                require_text(&reason, "reason")?;
                let next = self.awaiting()?;
                if !ctx.actor.has(next) {
                    return Err(DomainError::MissingCapability(next));
                }
                Ok(vec![E::ApprovalRejected {
                    rejected_by: ctx.actor.user_id,
                    reason,
                }])
            }
            C::RateVendor {
                vendor_id,
                item_id,
                on_time,
                quality,
                communication,
                would_recommend,
                comment,
            } => {
                require_status(
                    ENTITY,
                    self.status,
                    "rate vendors of",
                    &[S::Approved, S::Completed],
                )?;
                for (name, rating) in [("quality", quality), ("communication", communication)] {
                    if !(1..=5).contains(&rating) {
                        return Err(DomainError::field(
                            name,
                            format!("{name} rating must be between 1 and 5"),
                        ));
                    }
                }
                let supplies = match item_id {
                    Some(item_id) => self.item(item_id)?.vendor_id == Some(vendor_id),
                    None => self
                        .items
                        .values()
                        .any(|item| item.vendor_id == Some(vendor_id)),
                };
                if !supplies {
                    return Err(DomainError::rule(format!(
                        "vendor {vendor_id} supplies no rated item of this advance"
                    )));
                }
                Ok(vec![E::VendorRated(VendorRating {
                    vendor_id,
                    item_id,
                    on_time,
                    quality,
                    communication,
                    would_recommend,
                    comment,
                    rated_by: ctx.actor.user_id,
                })])
            }
            C::AttachDocument {
                document_id,
                kind,
                name,
                url,
            } => {
                require_text(&name, "name")?;
                require_text(&url, "url")?;
                if self
                    .attachments
                    .iter()
                    .any(|a| a.document_id == document_id)
                {
                    return Err(DomainError::rule(format!(
                        "document {document_id} is already attached"
                    )));
                }
                Ok(vec![E::DocumentAttached(Attachment {
                    document_id,
                    kind,
                    name,
                    url,
                })])
            }
            C::CompleteAdvance => {
                require_status(ENTITY, self.status, "complete", &[S::Approved])?;
                if let Some((id, item)) = self
                    .items
                    .iter()
                    .find(|(_, item)| item.status != ItemStatus::Complete)
                {
                    return Err(DomainError::rule(format!(
                        "item {id} is {}, not complete",
                        item.status.as_str()
                    )));
                }
                Ok(vec![E::AdvanceCompleted])
            }
            C::CancelAdvance { reason } => {
                require_status(ENTITY, self.status, "cancel", &open)?;
                require_text(&reason, "reason")?;
                Ok(vec![E::AdvanceCancelled { reason }])
            }
            C::DeleteAdvance => Ok(vec![E::AdvanceDeleted]),
        }
    }
}

event_sourced!(
    ProductionAdvance,
    "ProductionAdvance",
    ProductionAdvanceCommand,
    ProductionAdvanceEvent
);

impl ProductionAdvance {
    /// Folds one event into the state.
    fn evolve(&mut self, event: ProductionAdvanceEvent) {
        use ProductionAdvanceEvent as E;
        match event {
            E::AdvanceCreated {
                advance_id,
                organization_id,
                owner_id,
                event_id,
                code,
                advance_type,
                priority,
                currency,
                due_date,
                assignee,
                visibility,
            } => {
                self.id = Some(advance_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.event_id = Some(event_id);
                self.code = code;
                self.advance_type = advance_type;
                self.priority = priority;
                self.currency = currency;
                self.due_date = due_date;
                self.assignee = assignee;
                self.visibility = visibility;
            }
            E::AdvanceUpdated {
                priority,
                due_date,
                assignee,
            } => {
                self.priority = priority.unwrap_or(self.priority);
                self.due_date = due_date.or(self.due_date);
                self.assignee = assignee.or(self.assignee);
            }
            E::ItemAdded {
                item_id,
                name,
                category,
                vendor_id,
                quantity_required,
                unit_cost,
                schedule,
                critical_path,
                depends_on,
            } => {
                self.items.insert(
                    item_id,
                    AdvanceItem {
                        name,
                        category,
                        vendor_id,
                        quantity_required,
                        quantity_confirmed: 0,
                        unit_cost,
                        schedule,
                        critical_path,
                        depends_on,
                        status: ItemStatus::Pending,
                        fulfillment: BTreeMap::new(),
                    },
                );
            }
            E::ItemCostChanged {
                item_id,
                quantity_required,
                unit_cost,
            } => {
                if let Some(item) = self.items.get_mut(&item_id) {
                    item.quantity_required = quantity_required;
                    item.unit_cost = unit_cost;
                }
            }
            E::ItemRemoved { item_id } => {
                self.items.remove(&item_id);
            }
            E::ItemDependenciesSet {
                item_id,
                depends_on,
            } => {
                if let Some(item) = self.items.get_mut(&item_id) {
                    item.depends_on = depends_on;
                }
            }
            E::ItemRescheduled { item_id, schedule } => {
                if let Some(item) = self.items.get_mut(&item_id) {
                    item.schedule = schedule;
                }
            }
            E::ItemQuantityConfirmed {
                item_id,
                quantity_confirmed,
            } => {
                if let Some(item) = self.items.get_mut(&item_id) {
                    item.quantity_confirmed = quantity_confirmed;
                }
            }
            E::ItemStatusChanged { item_id, to, .. } => {
                if let Some(item) = self.items.get_mut(&item_id) {
                    item.status = to;
                }
            }
            E::FulfillmentRecorded {
                item_id,
                stage,
                percentage,
            } => {
                if let Some(item) = self.items.get_mut(&item_id) {
                    item.fulfillment.insert(stage, percentage);
                }
            }
            E::AdvanceSubmitted {
                required_approvals, ..
            } => {
                self.status = AdvanceStatus::PendingApproval;
                self.required_approvals = required_approvals;
                self.approvals.clear();
            }
            E::ApprovalGranted {
                capability,
                approver_id,
            } => self.approvals.push(Approval {
                capability,
                approver_id,
            }),
            E::AdvanceApproved { .. } => self.status = AdvanceStatus::Approved,
            E::ApprovalRejected { .. } => {
                self.status = AdvanceStatus::Draft;
                self.approvals.clear();
                self.required_approvals.clear();
            }
            E::VendorRated(rating) => self.ratings.push(rating),
            E::DocumentAttached(attachment) => self.attachments.push(attachment),
            E::AdvanceCompleted => self.status = AdvanceStatus::Completed,
            E::AdvanceCancelled { .. } => self.status = AdvanceStatus::Cancelled,
            E::AdvanceDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for ProductionAdvance {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }
}

#[cfg(test)]
mod tests;
