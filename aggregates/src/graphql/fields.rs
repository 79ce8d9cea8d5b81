//! What an entity's GraphQL object shows beyond its state's own fields: the
//! global id and version ([`Read`]), values derived from the state (totals,
//! balances, approval steps), and keyed collections as lists, since GraphQL
//! has no maps.

use async_graphql::{Object, SimpleObject, ID};
use chrono::NaiveDate;
use uuid::Uuid;

use super::{Date, MinorUnitsScalar};
use crate::access::{Capability, Role};
use crate::contract::{Contract, ContractTerms};
use crate::invoice::Invoice;
use crate::organization::{Member, Organization};
use crate::production_advance::{AdvanceItem, FulfillmentStage, ProductionAdvance};

/// An aggregate's state as read at `version`: the object its GraphQL type
/// (`Invoice`, `Task`…) is derived on.
#[derive(Debug, Clone)]
pub struct Read<A> {
    /// The aggregate's id.
    pub id: Uuid,
    /// The sequence of its last event.
    pub version: u64,
    /// Its state, folded from its events.
    pub state: A,
}

impl<A> Read<A> {
    /// The Relay global id: the UUID itself, since no two aggregates of any
    /// type share one.
    pub fn global_id(&self) -> ID {
        ID(self.id.to_string())
    }
}

/// A derived amount, or `None` where it no longer fits 64 bits (which the
/// commands refuse to reach).
fn amount(value: Result<i64, crate::DomainError>) -> Option<MinorUnitsScalar> {
    value.ok().map(MinorUnitsScalar)
}

/// An organization's members, as a list.
pub struct OrganizationFields<'a>(pub &'a Read<Organization>);

#[Object]
impl OrganizationFields<'_> {
    /// Every member, by user id.
    async fn members(&self) -> Vec<OrganizationMember<'_>> {
        self.0
            .state
            .members
            .iter()
            .map(|(user_id, member)| OrganizationMember {
                user_id: *user_id,
                member,
            })
            .collect()
    }
}

/// A member of an organization.
pub struct OrganizationMember<'a> {
    user_id: Uuid,
    member: &'a Member,
}

#[Object]
impl OrganizationMember<'_> {
    /// The member's user id.
    async fn user_id(&self) -> Uuid {
        self.user_id
    }

    /// How they are shown.
    async fn display_name(&self) -> &str {
        &self.member.display_name
    }

    /// Their e-mail address.
    async fn email(&self) -> &str {
        &self.member.email
    }

    /// Their role.
    async fn role(&self) -> Role {
        self.member.role
    }

    /// The approvals they may give.
    async fn capabilities(&self) -> Vec<Capability> {
        self.member.capabilities.iter().copied().collect()
    }
}

/// An advance's items as a list, its total and its approval steps.
pub struct ProductionAdvanceFields<'a>(pub &'a Read<ProductionAdvance>);

#[Object]
impl ProductionAdvanceFields<'_> {
    /// Its items, by id.
    async fn items(&self) -> Vec<AdvanceItemEntry<'_>> {
        self.0
            .state
            .items
            .iter()
            .map(|(id, item)| AdvanceItemEntry { id: *id, item })
            .collect()
    }

    /// The sum of its items' costs, in minor units of `currency`.
    async fn total_cost(&self) -> Option<MinorUnitsScalar> {
        amount(self.0.state.total_cost())
    }

    /// The approvals its total requires, in the order they must be given,
    /// each with who gave it.
    async fn approval_steps(&self) -> Vec<ApprovalStep> {
        let state = &self.0.state;
        state
            .required_approvals
            .iter()
            .map(|capability| ApprovalStep {
                capability: *capability,
                approved_by: state
                    .approvals
                    .iter()
                    .find(|approval| approval.capability == *capability)
                    .map(|approval| approval.approver_id),
            })
            .collect()
    }

    /// The capability of the next approval it waits for, while it is
    /// pending approval.
    async fn awaiting_capability(&self) -> Option<Capability> {
        self.0.state.awaiting_capability()
    }
}

/// One approval an advance requires.
#[derive(Debug, Clone, SimpleObject)]
pub struct ApprovalStep {
    /// The capability that gives it.
    pub capability: Capability,
    /// Who gave it, once given.
    pub approved_by: Option<Uuid>,
}

/// An item of an advance, with its id.
pub struct AdvanceItemEntry<'a> {
    id: Uuid,
    item: &'a AdvanceItem,
}

#[Object(name = "AdvanceItemEntry")]
impl AdvanceItemEntry<'_> {
    /// The item's id.
    async fn id(&self) -> Uuid {
        self.id
    }

    /// The item.
    async fn item(&self) -> &AdvanceItem {
        self.item
    }

    /// Quantity × unit cost, in minor units of the advance's currency.
    async fn total_cost(&self) -> Option<MinorUnitsScalar> {
        amount(self.item.total_cost())
    }

    /// Progress of each fulfillment stage begun, in percent.
    async fn fulfillment(&self) -> Vec<StageProgress> {
        self.item
            .fulfillment
            .iter()
            .map(|(stage, percent)| StageProgress {
                stage: *stage,
                percent: *percent,
            })
            .collect()
    }
}

/// How far one fulfillment stage of an item is.
#[derive(Debug, Clone, SimpleObject)]
pub struct StageProgress {
    /// The stage.
    pub stage: FulfillmentStage,
    /// Percent complete.
    pub percent: u8,
}

/// An invoice's derived amounts.
pub struct InvoiceFields<'a>(pub &'a Read<Invoice>);

#[Object]
impl InvoiceFields<'_> {
    /// The sum of its lines, in minor units of `currency`.
    async fn total(&self) -> Option<MinorUnitsScalar> {
        amount(self.0.state.total())
    }

    /// What its payments cover, in minor units of `currency`.
    async fn paid(&self) -> MinorUnitsScalar {
        MinorUnitsScalar(self.0.state.payments.iter().map(|p| p.amount).sum())
    }

    /// What is left to pay, in minor units of `currency`.
    async fn balance(&self) -> Option<MinorUnitsScalar> {
        amount(self.0.state.balance())
    }
}

/// A contract's signature and terms in force.
pub struct ContractFields<'a>(pub &'a Read<Contract>);

#[Object]
impl ContractFields<'_> {
    /// The counterparty's signature, once signed.
    async fn signature(&self) -> Option<Signature> {
        self.0
            .state
            .signature
            .as_ref()
            .map(|(signed_by, signed_on): &(String, NaiveDate)| Signature {
                signed_by: signed_by.clone(),
                signed_on: Date(*signed_on),
            })
    }

    /// The terms of its latest version.
    async fn current_terms(&self) -> Option<&ContractTerms> {
        self.0.state.versions.last().map(|version| &version.terms)
    }
}

/// Who signed a contract, and when.
#[derive(Debug, Clone, SimpleObject)]
pub struct Signature {
    /// The signatory's name.
    pub signed_by: String,
    /// The day of signature.
    pub signed_on: Date,
}
