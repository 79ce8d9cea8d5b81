//! The Expense aggregate: money spent or owed (expenses, purchase orders,
//! payroll, talent payments), its review by finance and its payment.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Capability, Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::money::{Currency, MinorUnits};
use crate::reference::References;
use crate::visibility::Visibility;

const ENTITY: &str = "expense";

/// What kind of spending an expense records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ExpenseKind {
    /// A plain expense, often reimbursed.
    #[default]
    Expense,
    /// An order placed with a vendor.
    PurchaseOrder,
    /// Wages of staff.
    Payroll,
    /// A fee owed to performing talent.
    TalentPayment,
}

/// The status of an expense.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ExpenseStatus {
    /// Being written; may be revised.
    #[default]
    Draft,
    /// Waiting for finance.
    Submitted,
    /// Approved by finance, not yet paid.
    Approved,
    /// Paid. Final.
    Paid,
    /// Sent back by finance; a revision returns it to draft.
    Rejected,
}

/// An expense.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Expense {
    /// The expense id, once recorded.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who recorded it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// What kind of spending it is.
    pub kind: ExpenseKind,
    /// What the money is for.
    pub description: String,
    /// Amount in minor units, positive.
    pub amount: MinorUnits,
    /// Currency of the amount.
    pub currency: Currency,
    /// Who is paid, by name.
    pub payee: String,
    /// The company or contact paid, if known.
    pub payee_id: Option<Uuid>,
    /// The event it was spent for, if any.
    pub event_id: Option<Uuid>,
    /// When the cost was incurred.
    pub incurred_on: Option<NaiveDate>,
    /// Status.
    pub status: ExpenseStatus,
    /// Who last submitted it for approval.
    pub submitted_by: Option<Uuid>,
    /// Who approved it.
    pub approved_by: Option<Uuid>,
    /// Why finance last rejected it; cleared by a revision.
    pub rejection_reason: Option<String>,
    /// When it was paid.
    pub paid_on: Option<NaiveDate>,
    /// The bank's or processor's reference of the payment.
    pub payment_reference: Option<String>,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

fn restricted() -> Visibility {
    Visibility::Restricted
}

/// Commands on an [`Expense`].
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
pub enum ExpenseCommand {
    /// Records a draft expense.
    RecordExpense {
        /// What kind of spending it is.
        kind: ExpenseKind,
        /// What the money is for.
        description: String,
        /// Amount in minor units, positive.
        amount: MinorUnits,
        /// Currency.
        #[serde(default)]
        currency: Currency,
        /// Who is paid, by name.
        payee: String,
        /// The company or contact paid, if known; it must be the organization's.
        payee_id: Option<Uuid>,
        /// The event it was spent for, if any.
        event_id: Option<Uuid>,
        /// When the cost was incurred.
        incurred_on: NaiveDate,
        /// Row visibility; financial rows default to restricted.
        #[serde(default = "restricted")]
        visibility: Visibility,
    },
    /// Changes a draft or rejected expense; a rejected one goes back to draft.
    ReviseExpense {
        /// New description.
        description: Option<String>,
        /// New amount in minor units.
        amount: Option<MinorUnits>,
        /// New payee name.
        payee: Option<String>,
    },
    /// Sends the draft to finance.
    SubmitExpense,
    /// Approves a submitted expense (finance only, never one's own submission).
    ApproveExpense,
    /// Sends a submitted expense back (finance only).
    RejectExpense {
        /// Why.
        reason: String,
    },
    /// Records the payment of an approved expense (finance only).
    PayExpense {
        /// When it was paid.
        paid_on: NaiveDate,
        /// Bank reference.
        reference: Option<String>,
    },
    /// Soft-deletes a draft or rejected expense.
    DeleteExpense,
}

impl DomainCommand for ExpenseCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        use ExpenseCommand as C;
        match self {
            C::RecordExpense { .. }
            | C::ReviseExpense { .. }
            | C::SubmitExpense
            | C::DeleteExpense => Requirement::Role(Role::Member),
            C::ApproveExpense | C::RejectExpense { .. } | C::PayExpense { .. } => {
                Requirement::RoleOr(Role::Owner, Capability::Finance)
            }
        }
    }

    fn references(&self) -> References {
        match self {
            ExpenseCommand::RecordExpense {
                event_id, payee_id, ..
            } => References::none()
                .aggregate("Event", *event_id)
                .any_of(&["Company", "Contact"], *payee_id),
            _ => References::none(),
        }
    }
}

/// Events of an [`Expense`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum ExpenseEvent {
    /// A draft expense was recorded.
    ExpenseRecorded {
        /// Its id.
        expense_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who recorded it.
        owner_id: Uuid,
        /// What kind of spending it is.
        kind: ExpenseKind,
        /// What the money is for.
        description: String,
        /// Amount in minor units.
        amount: MinorUnits,
        /// Currency.
        currency: Currency,
        /// Who is paid, by name.
        payee: String,
        /// The company or contact paid.
        payee_id: Option<Uuid>,
        /// The event it was spent for.
        event_id: Option<Uuid>,
        /// When the cost was incurred.
        incurred_on: NaiveDate,
        /// Row visibility.
        visibility: Visibility,
    },
    /// Fields changed; the expense is a draft again.
    ExpenseRevised {
        /// New description, if changed.
        description: Option<String>,
        /// New amount, if changed.
        amount: Option<MinorUnits>,
        /// New payee name, if changed.
        payee: Option<String>,
    },
    /// Sent to finance.
    ExpenseSubmitted {
        /// Who submitted it.
        submitted_by: Uuid,
    },
    /// Approved by finance.
    ExpenseApproved {
        /// Who approved it.
        approved_by: Uuid,
    },
    /// Sent back by finance.
    ExpenseRejected {
        /// Who rejected it.
        rejected_by: Uuid,
        /// Why.
        reason: String,
    },
    /// Paid.
    ExpensePaid {
        /// When.
        paid_on: NaiveDate,
        /// Bank reference.
        reference: Option<String>,
    },
    /// Soft-deleted.
    ExpenseDeleted,
}

domain_event!(ExpenseEvent);

fn require_positive(amount: i64) -> Result<(), DomainError> {
    if amount <= 0 {
        Err(DomainError::field("amount", "amount must be positive"))
    } else {
        Ok(())
    }
}

impl Expense {
    fn decide(
        &self,
        command: ExpenseCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<ExpenseEvent>, DomainError> {
        use ExpenseCommand as C;
        use ExpenseEvent as E;
        use ExpenseStatus as S;

        if let C::RecordExpense {
            kind,
            description,
            amount,
            currency,
            payee,
            payee_id,
            event_id,
            incurred_on,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&description, "description")?;
            require_positive(amount)?;
            require_text(&payee, "payee")?;
            return Ok(vec![E::ExpenseRecorded {
                expense_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                kind,
                description,
                amount,
                currency,
                payee,
                payee_id,
                event_id,
                incurred_on,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::RecordExpense { .. } => unreachable!("handled above"),
            C::ReviseExpense {
                description,
                amount,
                payee,
            } => {
                require_status(ENTITY, self.status, "revise", &[S::Draft, S::Rejected])?;
                if description.is_none() && amount.is_none() && payee.is_none() {
                    return Err(DomainError::invalid("a revision needs at least one field"));
                }
                if let Some(description) = &description {
                    require_text(description, "description")?;
                }
                if let Some(amount) = amount {
                    require_positive(amount)?;
                }
                if let Some(payee) = &payee {
                    require_text(payee, "payee")?;
                }
                let unchanged = description.as_ref().is_none_or(|d| *d == self.description)
                    && amount.is_none_or(|a| a == self.amount)
                    && payee.as_ref().is_none_or(|p| *p == self.payee);
                if unchanged {
                    return Err(DomainError::rule("the revision changes nothing"));
                }
                Ok(vec![E::ExpenseRevised {
                    description,
                    amount,
                    payee,
                }])
            }
            C::SubmitExpense => {
                require_status(ENTITY, self.status, "submit", &[S::Draft])?;
                Ok(vec![E::ExpenseSubmitted {
                    submitted_by: ctx.actor.user_id,
                }])
            }
            C::ApproveExpense => {
                require_status(ENTITY, self.status, "approve", &[S::Submitted])?;
                require_finance(ctx)?;
                if self.submitted_by == Some(ctx.actor.user_id) {
                    return Err(DomainError::Forbidden(
                        "an expense cannot be approved by the member who submitted it".into(),
                    ));
                }
                Ok(vec![E::ExpenseApproved {
                    approved_by: ctx.actor.user_id,
                }])
            }
            C::RejectExpense { reason } => {
                require_status(ENTITY, self.status, "reject", &[S::Submitted])?;
                require_finance(ctx)?;
                require_text(&reason, "reason")?;
                Ok(vec![E::ExpenseRejected {
                    rejected_by: ctx.actor.user_id,
                    reason,
                }])
            }
            C::PayExpense { paid_on, reference } => {
                require_status(ENTITY, self.status, "pay", &[S::Approved])?;
                require_finance(ctx)?;
                if let Some(reference) = &reference {
                    require_text(reference, "reference")?;
                }
                Ok(vec![E::ExpensePaid { paid_on, reference }])
            }
            C::DeleteExpense => {
                require_status(ENTITY, self.status, "delete", &[S::Draft, S::Rejected])?;
                Ok(vec![E::ExpenseDeleted])
            }
        }
    }
}

/// Approval and payment are finance's job, whatever the actor's role.
fn require_finance(ctx: &CommandContext) -> Result<(), DomainError> {
    if ctx.actor.has(Capability::Finance) {
        Ok(())
    } else {
        Err(DomainError::MissingCapability(Capability::Finance))
    }
}

event_sourced!(Expense, "Expense", ExpenseCommand, ExpenseEvent);

impl Expense {
    /// Folds one event into the state.
    fn evolve(&mut self, event: ExpenseEvent) {
        use ExpenseEvent as E;
        use ExpenseStatus as S;
        match event {
            E::ExpenseRecorded {
                expense_id,
                organization_id,
                owner_id,
                kind,
                description,
                amount,
                currency,
                payee,
                payee_id,
                event_id,
                incurred_on,
                visibility,
            } => {
                self.id = Some(expense_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.kind = kind;
                self.description = description;
                self.amount = amount;
                self.currency = currency;
                self.payee = payee;
                self.payee_id = payee_id;
                self.event_id = event_id;
                self.incurred_on = Some(incurred_on);
                self.visibility = visibility;
            }
            E::ExpenseRevised {
                description,
                amount,
                payee,
            } => {
                if let Some(description) = description {
                    self.description = description;
                }
                if let Some(amount) = amount {
                    self.amount = amount;
                }
                if let Some(payee) = payee {
                    self.payee = payee;
                }
                self.rejection_reason = None;
                self.status = S::Draft;
            }
            E::ExpenseSubmitted { submitted_by } => {
                self.submitted_by = Some(submitted_by);
                self.status = S::Submitted;
            }
            E::ExpenseApproved { approved_by } => {
                self.approved_by = Some(approved_by);
                self.status = S::Approved;
            }
            E::ExpenseRejected { reason, .. } => {
                self.rejection_reason = Some(reason);
                self.status = S::Rejected;
            }
            E::ExpensePaid { paid_on, reference } => {
                self.paid_on = Some(paid_on);
                self.payment_reference = reference;
                self.status = S::Paid;
            }
            E::ExpenseDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Expense {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{ctx, ctx_for, ExpectErrorContaining, AGG, ALICE, BOB, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Expense>;
    type C = ExpenseCommand;
    type E = ExpenseEvent;

    const VENDOR: Uuid = Uuid::from_u128(0x7e4d);
    const GIG: Uuid = Uuid::from_u128(0xe7);

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    /// Bob, a member holding finance.
    fn finance() -> CommandContext {
        ctx_for(BOB, Role::Member, &[Capability::Finance])
    }

    fn record(amount: i64) -> C {
        C::RecordExpense {
            kind: ExpenseKind::PurchaseOrder,
            description: "Barrier hire".into(),
            amount,
            currency: Currency::default(),
            payee: "Crowd Control Ltd".into(),
            payee_id: Some(VENDOR),
            event_id: Some(GIG),
            incurred_on: day(3),
            visibility: Visibility::Restricted,
        }
    }

    fn recorded() -> E {
        E::ExpenseRecorded {
            expense_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            kind: ExpenseKind::PurchaseOrder,
            description: "Barrier hire".into(),
            amount: 800_00,
            currency: Currency::default(),
            payee: "Crowd Control Ltd".into(),
            payee_id: Some(VENDOR),
            event_id: Some(GIG),
            incurred_on: day(3),
            visibility: Visibility::Restricted,
        }
    }

    /// Recorded by Alice and taken up to `status` (Bob approves and rejects).
    fn through(status: ExpenseStatus) -> Vec<E> {
        let mut events = vec![recorded()];
        match status {
            ExpenseStatus::Draft => {}
            ExpenseStatus::Submitted => events.push(submitted()),
            ExpenseStatus::Rejected => events.extend([submitted(), rejected()]),
            ExpenseStatus::Approved => events.extend([submitted(), approved()]),
            ExpenseStatus::Paid => events.extend([submitted(), approved(), paid()]),
        }
        events
    }

    fn submitted() -> E {
        E::ExpenseSubmitted {
            submitted_by: ALICE,
        }
    }

    fn approved() -> E {
        E::ExpenseApproved { approved_by: BOB }
    }

    fn rejected() -> E {
        E::ExpenseRejected {
            rejected_by: BOB,
            reason: "no receipt".into(),
        }
    }

    fn paid() -> E {
        E::ExpensePaid {
            paid_on: day(20),
            reference: Some("TX-42".into()),
        }
    }

    fn revise_amount(amount: i64) -> C {
        C::ReviseExpense {
            description: None,
            amount: Some(amount),
            payee: None,
        }
    }

    #[test]
    fn record_a_draft() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(record(800_00))
            .then_expect_events(vec![recorded()]);
    }

    #[test]
    fn record_refuses_bad_input_and_duplicates() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(record(0))
            .then_expect_error(DomainError::field("amount", "amount must be positive"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RecordExpense {
                kind: ExpenseKind::Expense,
                description: "Taxi".into(),
                amount: 1,
                currency: Currency::default(),
                payee: "  ".into(),
                payee_id: None,
                event_id: None,
                incurred_on: day(1),
                visibility: Visibility::Restricted,
            })
            .then_expect_error(DomainError::field("payee", "`payee` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RecordExpense {
                kind: ExpenseKind::Expense,
                description: "".into(),
                amount: 1,
                currency: Currency::default(),
                payee: "Cab Co".into(),
                payee_id: None,
                event_id: None,
                incurred_on: day(1),
                visibility: Visibility::Restricted,
            })
            .then_expect_error(DomainError::field(
                "description",
                "`description` must not be empty",
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![recorded()])
            .when(record(800_00))
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
    }

    #[test]
    fn record_defaults_to_restricted_and_usd() {
        let command: C = serde_json::from_value(serde_json::json!({
            "type": "record_expense",
            "kind": "talent_payment",
            "description": "Headliner fee",
            "amount": 5_000_00,
            "payee": "DJ Example",
            "payee_id": null,
            "event_id": null,
            "incurred_on": "2026-12-03",
        }))
        .unwrap();
        match command {
            C::RecordExpense {
                kind,
                currency,
                visibility,
                ..
            } => {
                assert_eq!(kind, ExpenseKind::TalentPayment);
                assert_eq!(currency, Currency::default());
                assert_eq!(visibility, Visibility::Restricted);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn commands_need_a_live_expense() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::SubmitExpense)
            .then_expect_error(DomainError::NotCreated(ENTITY));
        Fx::with(finance())
            .given(vec![recorded(), E::ExpenseDeleted])
            .when(C::SubmitExpense)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn revise_a_draft() {
        Fx::with(ctx(Role::Member))
            .given(vec![recorded()])
            .when(C::ReviseExpense {
                description: Some("Barrier and fencing hire".into()),
                amount: Some(950_00),
                payee: None,
            })
            .then_expect_events(vec![E::ExpenseRevised {
                description: Some("Barrier and fencing hire".into()),
                amount: Some(950_00),
                payee: None,
            }]);
    }

    #[test]
    fn revising_a_rejected_expense_returns_it_to_draft() {
        Fx::with(ctx(Role::Member))
            .given(through(ExpenseStatus::Rejected))
            .when(revise_amount(700_00))
            .then_expect_events(vec![E::ExpenseRevised {
                description: None,
                amount: Some(700_00),
                payee: None,
            }]);
        let mut expense = Expense::default();
        for event in through(ExpenseStatus::Rejected) {
            expense.apply(event);
        }
        assert_eq!(expense.status, ExpenseStatus::Rejected);
        assert_eq!(expense.rejection_reason.as_deref(), Some("no receipt"));
        expense.apply(E::ExpenseRevised {
            description: None,
            amount: Some(700_00),
            payee: Some("Fences R Us".into()),
        });
        assert_eq!(expense.status, ExpenseStatus::Draft);
        assert_eq!(expense.amount, 700_00);
        assert_eq!(expense.payee, "Fences R Us");
        assert_eq!(expense.description, "Barrier hire");
        assert_eq!(expense.rejection_reason, None);
    }

    #[test]
    fn revise_refuses_empty_unchanged_or_bad_revisions() {
        Fx::with(ctx(Role::Member))
            .given(vec![recorded()])
            .when(C::ReviseExpense {
                description: None,
                amount: None,
                payee: None,
            })
            .then_expect_error(DomainError::invalid("a revision needs at least one field"));
        Fx::with(ctx(Role::Member))
            .given(vec![recorded()])
            .when(revise_amount(800_00))
            .then_expect_error(DomainError::rule("the revision changes nothing"));
        Fx::with(ctx(Role::Member))
            .given(vec![recorded()])
            .when(revise_amount(-5))
            .then_expect_error(DomainError::field("amount", "amount must be positive"));
        Fx::with(ctx(Role::Member))
            .given(vec![recorded()])
            .when(C::ReviseExpense {
                description: None,
                amount: None,
                payee: Some(" ".into()),
            })
            .then_expect_error(DomainError::field("payee", "`payee` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given(through(ExpenseStatus::Submitted))
            .when(revise_amount(1))
            .then_expect_error_containing("cannot revise the expense: it is submitted");
        Fx::with(ctx(Role::Member))
            .given(through(ExpenseStatus::Approved))
            .when(revise_amount(1))
            .then_expect_error_containing("cannot revise the expense: it is approved");
    }

    #[test]
    fn submit_a_draft_only() {
        Fx::with(ctx(Role::Member))
            .given(vec![recorded()])
            .when(C::SubmitExpense)
            .then_expect_events(vec![submitted()]);
        Fx::with(ctx(Role::Member))
            .given(through(ExpenseStatus::Submitted))
            .when(C::SubmitExpense)
            .then_expect_error_containing("cannot submit the expense: it is submitted");
        Fx::with(ctx(Role::Member))
            .given(through(ExpenseStatus::Rejected))
            .when(C::SubmitExpense)
            .then_expect_error_containing("cannot submit the expense: it is rejected");
    }

    #[test]
    fn finance_approves_a_submitted_expense() {
        Fx::with(finance())
            .given(through(ExpenseStatus::Submitted))
            .when(C::ApproveExpense)
            .then_expect_events(vec![approved()]);
        Fx::with(finance())
            .given(vec![recorded()])
            .when(C::ApproveExpense)
            .then_expect_error_containing("cannot approve the expense: it is draft");
        Fx::with(finance())
            .given(through(ExpenseStatus::Approved))
            .when(C::ApproveExpense)
            .then_expect_error_containing("cannot approve the expense: it is approved");
    }

    #[test]
    fn approval_needs_finance_even_for_owners() {
        Fx::with(ctx_for(BOB, Role::Owner, &[]))
            .given(through(ExpenseStatus::Submitted))
            .when(C::ApproveExpense)
            .then_expect_error(DomainError::MissingCapability(Capability::Finance));
        Fx::with(ctx_for(BOB, Role::Admin, &[]))
            .given(through(ExpenseStatus::Submitted))
            .when(C::RejectExpense {
                reason: "no".into(),
            })
            .then_expect_error(DomainError::MissingCapability(Capability::Finance));
        Fx::with(ctx_for(BOB, Role::Owner, &[]))
            .given(through(ExpenseStatus::Approved))
            .when(C::PayExpense {
                paid_on: day(20),
                reference: None,
            })
            .then_expect_error(DomainError::MissingCapability(Capability::Finance));
    }

    #[test]
    fn nobody_approves_their_own_submission() {
        let submitter = ctx_for(ALICE, Role::Owner, &[Capability::Finance]);
        Fx::with(submitter)
            .given(through(ExpenseStatus::Submitted))
            .when(C::ApproveExpense)
            .then_expect_error_containing("not allowed: an expense cannot be approved");
    }

    #[test]
    fn finance_rejects_with_a_reason() {
        Fx::with(finance())
            .given(through(ExpenseStatus::Submitted))
            .when(C::RejectExpense {
                reason: "no receipt".into(),
            })
            .then_expect_events(vec![rejected()]);
        Fx::with(finance())
            .given(through(ExpenseStatus::Submitted))
            .when(C::RejectExpense { reason: "".into() })
            .then_expect_error(DomainError::field("reason", "`reason` must not be empty"));
        Fx::with(finance())
            .given(through(ExpenseStatus::Approved))
            .when(C::RejectExpense { reason: "x".into() })
            .then_expect_error_containing("cannot reject the expense: it is approved");
    }

    #[test]
    fn finance_pays_an_approved_expense() {
        Fx::with(finance())
            .given(through(ExpenseStatus::Approved))
            .when(C::PayExpense {
                paid_on: day(20),
                reference: Some("TX-42".into()),
            })
            .then_expect_events(vec![paid()]);
        Fx::with(finance())
            .given(through(ExpenseStatus::Approved))
            .when(C::PayExpense {
                paid_on: day(20),
                reference: Some(" ".into()),
            })
            .then_expect_error(DomainError::field(
                "reference",
                "`reference` must not be empty",
            ));
        Fx::with(finance())
            .given(through(ExpenseStatus::Submitted))
            .when(C::PayExpense {
                paid_on: day(20),
                reference: None,
            })
            .then_expect_error_containing("cannot pay the expense: it is submitted");
        Fx::with(finance())
            .given(through(ExpenseStatus::Paid))
            .when(C::PayExpense {
                paid_on: day(21),
                reference: None,
            })
            .then_expect_error_containing("cannot pay the expense: it is paid");
        let mut expense = Expense::default();
        for event in through(ExpenseStatus::Paid) {
            expense.apply(event);
        }
        assert_eq!(expense.status, ExpenseStatus::Paid);
        assert_eq!(expense.submitted_by, Some(ALICE));
        assert_eq!(expense.approved_by, Some(BOB));
        assert_eq!(expense.paid_on, Some(day(20)));
        assert_eq!(expense.payment_reference.as_deref(), Some("TX-42"));
    }

    #[test]
    fn delete_only_drafts_and_rejections() {
        Fx::with(ctx(Role::Member))
            .given(vec![recorded()])
            .when(C::DeleteExpense)
            .then_expect_events(vec![E::ExpenseDeleted]);
        Fx::with(ctx(Role::Member))
            .given(through(ExpenseStatus::Rejected))
            .when(C::DeleteExpense)
            .then_expect_events(vec![E::ExpenseDeleted]);
        Fx::with(ctx(Role::Member))
            .given(through(ExpenseStatus::Approved))
            .when(C::DeleteExpense)
            .then_expect_error_containing("cannot delete the expense: it is approved");
        Fx::with(ctx(Role::Member))
            .given(vec![recorded(), E::ExpenseDeleted])
            .when(C::DeleteExpense)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn matrix_rows() {
        let finance_row = Requirement::RoleOr(Role::Owner, Capability::Finance);
        let member = Requirement::Role(Role::Member);
        assert_eq!(record(1).requirement(), member);
        assert_eq!(revise_amount(1).requirement(), member);
        assert_eq!(C::SubmitExpense.requirement(), member);
        assert_eq!(C::DeleteExpense.requirement(), member);
        assert_eq!(C::ApproveExpense.requirement(), finance_row);
        assert_eq!(
            C::RejectExpense { reason: "x".into() }.requirement(),
            finance_row
        );
        assert_eq!(
            C::PayExpense {
                paid_on: day(1),
                reference: None
            }
            .requirement(),
            finance_row
        );
        assert_eq!(
            record(1).references(),
            References::none()
                .aggregate("Event", GIG)
                .any_of(&["Company", "Contact"], VENDOR)
        );
        assert!(C::SubmitExpense.references().is_empty());
        assert_eq!(C::ApproveExpense.name(), "ApproveExpense");
    }
}
