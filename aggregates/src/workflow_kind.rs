//! The workflows an organization can switch on, and what each may do in it.
//!
//! A workflow sends its commands as a system actor of the organization: a
//! roster entry of its own, there only while the organization has the
//! workflow on, with the role and capabilities its commands need and no
//! more. Switching a workflow on or off (an Organization command) is what
//! grants and takes that membership.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Capability, Role};

/// A workflow of the domain (its engine is in `workflows/`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum WorkflowKind {
    /// A completed task is written on its event's timeline as a comment.
    TaskTimeline,
    /// An issued invoice still unpaid the day after it is due is marked
    /// overdue, and its owner gets a task to chase it.
    InvoiceReminders,
    /// A paid invoice gets a follow-up task for its owner 7 days later, and
    /// its company becomes a client.
    InvoiceFollowUp,
    /// A document's owner gets a renewal task 30 days before it expires.
    DocumentRenewal,
    /// An approved advance whose items are all complete is completed.
    AdvanceCompletion,
    /// A submitted advance gets an approval task for each member who can
    /// give its next step; the tasks close when the step is given.
    AdvanceApproval,
    /// A signed contract confirms the event it is for and drafts an invoice
    /// for each of its payment terms.
    ContractSigned,
}

impl WorkflowKind {
    /// Its name, as stored and as its checkpoint is keyed.
    pub fn name(self) -> &'static str {
        match self {
            WorkflowKind::TaskTimeline => "task_timeline",
            WorkflowKind::InvoiceReminders => "invoice_reminders",
            WorkflowKind::InvoiceFollowUp => "invoice_follow_up",
            WorkflowKind::DocumentRenewal => "document_renewal",
            WorkflowKind::AdvanceCompletion => "advance_completion",
            WorkflowKind::AdvanceApproval => "advance_approval",
            WorkflowKind::ContractSigned => "contract_signed",
        }
    }

    /// The user id it acts as in `organization_id`: derived, so that each
    /// organization's actor is its own and the same after every restart.
    pub fn actor_id(self, organization_id: Uuid) -> Uuid {
        Uuid::new_v5(
            &organization_id,
            format!("foldline/workflow/{}", self.name()).as_bytes(),
        )
    }

    /// The role its commands need.
    pub fn role(self) -> Role {
        // Each sends only what a member may: comments, tasks, a company's
        // relationship, an advance's completion, an event's confirmation,
        // draft invoices; marking an invoice overdue takes the finance
        // capability besides.
        Role::Member
    }

    /// The approval capabilities its commands need.
    pub fn capabilities(self) -> BTreeSet<Capability> {
        match self {
            WorkflowKind::InvoiceReminders => BTreeSet::from([Capability::Finance]),
            WorkflowKind::TaskTimeline
            | WorkflowKind::InvoiceFollowUp
            | WorkflowKind::DocumentRenewal
            | WorkflowKind::AdvanceCompletion
            | WorkflowKind::AdvanceApproval
            | WorkflowKind::ContractSigned => BTreeSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn each_workflow_acts_as_its_own_user_in_each_organization() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        for kind in WorkflowKind::iter() {
            assert_eq!(kind.actor_id(a), kind.actor_id(a));
            assert_ne!(kind.actor_id(a), kind.actor_id(b));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.name())
            );
        }
    }
}
