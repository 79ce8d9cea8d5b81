//! The Invoice aggregate: receivables and payables, their lines and payments.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Capability, Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::money::{line_total, Currency, MinorUnits};
use crate::reference::References;
use crate::visibility::Visibility;

const ENTITY: &str = "invoice";

/// Which way the money flows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// We bill a client.
    #[default]
    Receivable,
    /// A vendor bills us.
    Payable,
}

impl Direction {
    /// The name stored in the read tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Receivable => "receivable",
            Direction::Payable => "payable",
        }
    }
}

impl TryFrom<String> for Direction {
    type Error = String;

    /// The name stored in the read tables, back.
    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "receivable" => Ok(Direction::Receivable),
            "payable" => Ok(Direction::Payable),
            _ => Err(format!("unknown direction `{name}`")),
        }
    }
}

/// The status of an invoice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Being written; lines may change.
    #[default]
    Draft,
    /// Sent; nothing paid yet.
    Issued,
    /// Some of it paid.
    PartiallyPaid,
    /// Unpaid, in part or in full, after its due date.
    Overdue,
    /// Fully paid (reached only by payments).
    Paid,
    /// Cancelled for good.
    Void,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct InvoiceLine {
    /// The line's id.
    pub line_id: Uuid,
    /// What is billed.
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// Price of one, in minor units.
    pub unit_price: MinorUnits,
}

/// A payment against an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct Payment {
    /// The payment's id.
    pub payment_id: Uuid,
    /// Amount in minor units.
    pub amount: MinorUnits,
    /// When it was paid.
    pub paid_on: NaiveDate,
    /// Bank transfer, card…
    pub method: String,
    /// The bank's or processor's reference.
    pub reference: Option<String>,
}

/// An invoice.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity, extra = "crate::graphql::InvoiceFields")]
pub struct Invoice {
    /// The invoice id, once drafted.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who drafted it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// Invoice number.
    pub number: String,
    /// Receivable or payable.
    pub direction: Direction,
    /// The company on the other side.
    pub counterparty_id: Option<Uuid>,
    /// Its name, as printed.
    pub counterparty_name: String,
    /// Currency of every amount.
    pub currency: Currency,
    /// When it was issued.
    pub issued_on: Option<NaiveDate>,
    /// When payment is due.
    pub due_on: Option<NaiveDate>,
    /// Lines, in order.
    pub lines: Vec<InvoiceLine>,
    /// Payments, in order.
    pub payments: Vec<Payment>,
    /// The attached PDF, if any.
    pub pdf_document_id: Option<Uuid>,
    /// Status.
    pub status: InvoiceStatus,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// The visibility of an invoice drafted without one: financial rows are
/// restricted unless said otherwise.
pub fn default_visibility() -> Visibility {
    Visibility::Restricted
}

/// Commands on an [`Invoice`].
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
pub enum InvoiceCommand {
    /// Starts a draft.
    DraftInvoice {
        /// Invoice number.
        number: String,
        /// Receivable or payable.
        direction: Direction,
        /// The company on the other side.
        counterparty_id: Uuid,
        /// Its name.
        counterparty_name: String,
        /// Currency.
        #[serde(default)]
        currency: Currency,
        /// Due date.
        due_on: NaiveDate,
        /// Row visibility; financial rows default to restricted.
        #[serde(default = "default_visibility")]
        visibility: Visibility,
        /// The member who holds the account (its reminders are theirs): the
        /// one drafting it when not given.
        #[serde(default)]
        owner_id: Option<Uuid>,
    },
    /// Adds a line (draft only).
    AddInvoiceLine {
        /// The new line's id.
        line_id: Uuid,
        /// What is billed.
        description: String,
        /// How many, at least 1.
        quantity: i64,
        /// Price of one in minor units, not negative.
        unit_price: MinorUnits,
    },
    /// Removes a line (draft only).
    RemoveInvoiceLine {
        /// The line.
        line_id: Uuid,
    },
    /// Moves the due date of an unpaid invoice.
    ChangeDueDate {
        /// The new date.
        due_on: NaiveDate,
    },
    /// Issues the draft.
    IssueInvoice {
        /// Date of issue; the due date may not be earlier.
        issued_on: NaiveDate,
    },
    /// Records a payment, at most the open balance.
    RecordPayment {
        /// The payment's id.
        payment_id: Uuid,
        /// Amount in minor units.
        amount: MinorUnits,
        /// When it was paid.
        paid_on: NaiveDate,
        /// How.
        method: String,
        /// Bank reference.
        reference: Option<String>,
    },
    /// Marks the invoice overdue if it is still unpaid after its due date
    /// as of `as_of`; on an invoice that is not (paid, void, not yet due,
    /// already overdue) it appends nothing (the bus answers that the
    /// command changed nothing), so that a reminder sent late is harmless.
    MarkInvoiceOverdue {
        /// The day it is judged on.
        as_of: NaiveDate,
    },
    /// Attaches the invoice's PDF.
    AttachInvoicePdf {
        /// The document.
        document_id: Uuid,
        /// Where it is stored.
        url: String,
    },
    /// Voids an invoice with no payments. Final.
    VoidInvoice {
        /// Why.
        reason: String,
    },
    /// Soft-deletes a draft or void invoice.
    DeleteInvoice,
}

impl DomainCommand for InvoiceCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        use InvoiceCommand as C;
        match self {
            C::DraftInvoice { .. }
            | C::AddInvoiceLine { .. }
            | C::RemoveInvoiceLine { .. }
            | C::AttachInvoicePdf { .. } => Requirement::Role(Role::Member),
            C::ChangeDueDate { .. }
            | C::IssueInvoice { .. }
            | C::RecordPayment { .. }
            | C::MarkInvoiceOverdue { .. } => Requirement::RoleOr(Role::Admin, Capability::Finance),
            C::VoidInvoice { .. } | C::DeleteInvoice => Requirement::Role(Role::Admin),
        }
    }

    fn references(&self) -> References {
        match self {
            InvoiceCommand::DraftInvoice {
                counterparty_id,
                owner_id,
                ..
            } => References::none()
                .aggregate("Company", *counterparty_id)
                .member(*owner_id),
            InvoiceCommand::AttachInvoicePdf { document_id, .. } => {
                References::none().aggregate("Document", *document_id)
            }
            _ => References::none(),
        }
    }
}

/// Events of an [`Invoice`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum InvoiceEvent {
    /// A draft was started.
    InvoiceDrafted {
        /// Its id.
        invoice_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who drafted it.
        owner_id: Uuid,
        /// Invoice number.
        number: String,
        /// Receivable or payable.
        direction: Direction,
        /// The company on the other side.
        counterparty_id: Uuid,
        /// Its name.
        counterparty_name: String,
        /// Currency.
        currency: Currency,
        /// Due date.
        due_on: NaiveDate,
        /// Row visibility.
        visibility: Visibility,
    },
    /// A line was added.
    InvoiceLineAdded(InvoiceLine),
    /// A line was removed.
    InvoiceLineRemoved {
        /// The line.
        line_id: Uuid,
    },
    /// The due date moved.
    DueDateChanged {
        /// The new date.
        due_on: NaiveDate,
    },
    /// The invoice was issued.
    InvoiceIssued {
        /// Date of issue.
        issued_on: NaiveDate,
        /// Total at issue, in minor units.
        total: i64,
    },
    /// A payment came in.
    PaymentRecorded(Payment),
    /// The balance reached zero.
    InvoicePaid,
    /// It was still unpaid after its due date.
    InvoiceOverdue {
        /// The day it was judged on.
        as_of: NaiveDate,
    },
    /// The PDF was attached.
    InvoicePdfAttached {
        /// The document.
        document_id: Uuid,
        /// Where it is stored.
        url: String,
    },
    /// Voided.
    InvoiceVoided {
        /// Why.
        reason: String,
    },
    /// Soft-deleted.
    InvoiceDeleted,
}

domain_event!(InvoiceEvent);

impl Invoice {
    /// The sum of its lines, in minor units.
    pub fn total(&self) -> Result<i64, DomainError> {
        self.lines.iter().try_fold(0i64, |sum, line| {
            sum.checked_add(line_total(line.quantity, line.unit_price)?)
                .ok_or_else(|| DomainError::invalid("total is too large"))
        })
    }

    /// What is left to pay, in minor units.
    pub fn balance(&self) -> Result<i64, DomainError> {
        let paid: i64 = self.payments.iter().map(|p| p.amount).sum();
        Ok(self.total()? - paid)
    }

    fn decide(
        &self,
        command: InvoiceCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<InvoiceEvent>, DomainError> {
        use InvoiceCommand as C;
        use InvoiceEvent as E;
        use InvoiceStatus as S;

        if let C::DraftInvoice {
            number,
            direction,
            counterparty_id,
            counterparty_name,
            currency,
            due_on,
            visibility,
            owner_id,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&number, "number")?;
            require_text(&counterparty_name, "counterparty_name")?;
            return Ok(vec![E::InvoiceDrafted {
                invoice_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: owner_id.unwrap_or(ctx.actor.user_id),
                number,
                direction,
                counterparty_id,
                counterparty_name,
                currency,
                due_on,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::DraftInvoice { .. } => unreachable!("handled above"),
            C::AddInvoiceLine {
                line_id,
                description,
                quantity,
                unit_price,
            } => {
                require_status(ENTITY, self.status, "add lines to", &[S::Draft])?;
                if self.lines.iter().any(|l| l.line_id == line_id) {
                    return Err(DomainError::rule(format!("line {line_id} already exists")));
                }
                require_text(&description, "description")?;
                if quantity <= 0 {
                    return Err(DomainError::field(
                        "quantity",
                        "quantity must be at least 1",
                    ));
                }
                if unit_price < 0 {
                    return Err(DomainError::field(
                        "unit_price",
                        "unit price must not be negative",
                    ));
                }
                line_total(quantity, unit_price)?;
                Ok(vec![E::InvoiceLineAdded(InvoiceLine {
                    line_id,
                    description,
                    quantity,
                    unit_price,
                })])
            }
            C::RemoveInvoiceLine { line_id } => {
                require_status(ENTITY, self.status, "remove lines from", &[S::Draft])?;
                if !self.lines.iter().any(|l| l.line_id == line_id) {
                    return Err(DomainError::rule(format!(
                        "line {line_id} is not on this invoice"
                    )));
                }
                Ok(vec![E::InvoiceLineRemoved { line_id }])
            }
            C::ChangeDueDate { due_on } => {
                require_status(
                    ENTITY,
                    self.status,
                    "change the due date of",
                    &[S::Draft, S::Issued, S::PartiallyPaid, S::Overdue],
                )?;
                if self.issued_on.is_some_and(|issued| due_on < issued) {
                    return Err(DomainError::field(
                        "due_on",
                        "due date must not be before the issue date",
                    ));
                }
                Ok(vec![E::DueDateChanged { due_on }])
            }
            C::IssueInvoice { issued_on } => {
                require_status(ENTITY, self.status, "issue", &[S::Draft])?;
                let total = self.total()?;
                if total <= 0 {
                    return Err(DomainError::rule(
                        "an invoice needs lines with a positive total",
                    ));
                }
                if self.due_on.is_some_and(|due| due < issued_on) {
                    return Err(DomainError::field(
                        "issued_on",
                        "due date must not be before the issue date",
                    ));
                }
                Ok(vec![E::InvoiceIssued { issued_on, total }])
            }
            C::RecordPayment {
                payment_id,
                amount,
                paid_on,
                method,
                reference,
            } => {
                require_status(
                    ENTITY,
                    self.status,
                    "record a payment on",
                    &[S::Issued, S::PartiallyPaid, S::Overdue],
                )?;
                if self.payments.iter().any(|p| p.payment_id == payment_id) {
                    return Err(DomainError::rule(format!(
                        "payment {payment_id} is already recorded"
                    )));
                }
                if amount <= 0 {
                    return Err(DomainError::field("amount", "a payment must be positive"));
                }
                require_text(&method, "method")?;
                let balance = self.balance()?;
                if amount > balance {
                    return Err(DomainError::rule(format!(
                        "payment of {amount} exceeds the open balance of {balance}"
                    )));
                }
                let mut events = vec![E::PaymentRecorded(Payment {
                    payment_id,
                    amount,
                    paid_on,
                    method,
                    reference,
                })];
                if amount == balance {
                    events.push(E::InvoicePaid);
                }
                Ok(events)
            }
            C::MarkInvoiceOverdue { as_of } => {
                let open = matches!(self.status, S::Issued | S::PartiallyPaid);
                let past_due = self.due_on.is_some_and(|due| due < as_of);
                Ok(if open && past_due {
                    vec![E::InvoiceOverdue { as_of }]
                } else {
                    vec![]
                })
            }
            C::AttachInvoicePdf { document_id, url } => {
                require_text(&url, "url")?;
                Ok(vec![E::InvoicePdfAttached { document_id, url }])
            }
            C::VoidInvoice { reason } => {
                require_status(
                    ENTITY,
                    self.status,
                    "void",
                    &[S::Draft, S::Issued, S::PartiallyPaid, S::Overdue],
                )?;
                if !self.payments.is_empty() {
                    return Err(DomainError::rule(
                        "an invoice with payments cannot be voided; refund them first",
                    ));
                }
                require_text(&reason, "reason")?;
                Ok(vec![E::InvoiceVoided { reason }])
            }
            C::DeleteInvoice => {
                require_status(ENTITY, self.status, "delete", &[S::Draft, S::Void])?;
                Ok(vec![E::InvoiceDeleted])
            }
        }
    }
}

event_sourced!(Invoice, "Invoice", InvoiceCommand, InvoiceEvent);

impl Invoice {
    /// Folds one event into the state.
    fn evolve(&mut self, event: InvoiceEvent) {
        use InvoiceEvent as E;
        match event {
            E::InvoiceDrafted {
                invoice_id,
                organization_id,
                owner_id,
                number,
                direction,
                counterparty_id,
                counterparty_name,
                currency,
                due_on,
                visibility,
            } => {
                self.id = Some(invoice_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.number = number;
                self.direction = direction;
                self.counterparty_id = Some(counterparty_id);
                self.counterparty_name = counterparty_name;
                self.currency = currency;
                self.due_on = Some(due_on);
                self.visibility = visibility;
            }
            E::InvoiceLineAdded(line) => self.lines.push(line),
            E::InvoiceLineRemoved { line_id } => self.lines.retain(|l| l.line_id != line_id),
            E::DueDateChanged { due_on } => {
                self.due_on = Some(due_on);
                // A new due date is judged anew: overdue again only when a
                // reminder finds it unpaid after that one too.
                if self.status == InvoiceStatus::Overdue {
                    self.status = self.unpaid_status();
                }
            }
            E::InvoiceIssued { issued_on, .. } => {
                self.issued_on = Some(issued_on);
                self.status = InvoiceStatus::Issued;
            }
            E::PaymentRecorded(payment) => {
                self.payments.push(payment);
                if self.status != InvoiceStatus::Overdue {
                    self.status = InvoiceStatus::PartiallyPaid;
                }
            }
            E::InvoicePaid => self.status = InvoiceStatus::Paid,
            E::InvoiceOverdue { .. } => self.status = InvoiceStatus::Overdue,
            E::InvoicePdfAttached { document_id, .. } => self.pdf_document_id = Some(document_id),
            E::InvoiceVoided { .. } => self.status = InvoiceStatus::Void,
            E::InvoiceDeleted => self.deleted = true,
        }
    }
}

impl Invoice {
    /// The status of an issued invoice not yet paid, before any due date.
    fn unpaid_status(&self) -> InvoiceStatus {
        if self.payments.is_empty() {
            InvoiceStatus::Issued
        } else {
            InvoiceStatus::PartiallyPaid
        }
    }
}

impl DomainAggregate for Invoice {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{ctx, ctx_for, ExpectErrorContaining, AGG, ALICE, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Invoice>;
    type C = InvoiceCommand;
    type E = InvoiceEvent;

    const CLIENT: Uuid = Uuid::from_u128(0xc1);
    const LINE: Uuid = Uuid::from_u128(0x11);

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    fn finance() -> CommandContext {
        ctx_for(ALICE, Role::Member, &[Capability::Finance])
    }

    fn drafted() -> E {
        E::InvoiceDrafted {
            invoice_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            number: "INV-001".into(),
            direction: Direction::Receivable,
            counterparty_id: CLIENT,
            counterparty_name: "Acme Festivals".into(),
            currency: Currency::default(),
            due_on: day(31),
            visibility: Visibility::Restricted,
        }
    }

    fn line(line_id: Uuid, quantity: i64, unit_price: i64) -> E {
        E::InvoiceLineAdded(InvoiceLine {
            line_id,
            description: "Stage hire".into(),
            quantity,
            unit_price,
        })
    }

    /// Issued for 2 × 500.00.
    fn issued() -> Vec<E> {
        vec![
            drafted(),
            line(LINE, 2, 500_00),
            E::InvoiceIssued {
                issued_on: day(1),
                total: 1_000_00,
            },
        ]
    }

    fn pay(id: u128, amount: i64) -> C {
        C::RecordPayment {
            payment_id: Uuid::from_u128(id),
            amount,
            paid_on: day(10),
            method: "bank transfer".into(),
            reference: None,
        }
    }

    fn paid(id: u128, amount: i64) -> E {
        E::PaymentRecorded(Payment {
            payment_id: Uuid::from_u128(id),
            amount,
            paid_on: day(10),
            method: "bank transfer".into(),
            reference: None,
        })
    }

    #[test]
    fn draft() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::DraftInvoice {
                number: "INV-001".into(),
                direction: Direction::Receivable,
                counterparty_id: CLIENT,
                counterparty_name: "Acme Festivals".into(),
                currency: Currency::default(),
                due_on: day(31),
                visibility: Visibility::Restricted,
                owner_id: None,
            })
            .then_expect_events(vec![drafted()]);
    }

    #[test]
    fn draft_twice_or_blank_is_refused() {
        let command = C::DraftInvoice {
            number: " ".into(),
            direction: Direction::Payable,
            counterparty_id: CLIENT,
            counterparty_name: "Acme".into(),
            currency: Currency::default(),
            due_on: day(31),
            visibility: Visibility::Restricted,
            owner_id: None,
        };
        Fx::with(ctx(Role::Member))
            .given(vec![drafted()])
            .when(command.clone())
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(command)
            .then_expect_error(DomainError::field("number", "`number` must not be empty"));
    }

    #[test]
    fn lines_are_added_and_removed_in_draft() {
        Fx::with(ctx(Role::Member))
            .given(vec![drafted()])
            .when(C::AddInvoiceLine {
                line_id: LINE,
                description: "Stage hire".into(),
                quantity: 2,
                unit_price: 500_00,
            })
            .then_expect_events(vec![line(LINE, 2, 500_00)]);
        Fx::with(ctx(Role::Member))
            .given(vec![drafted(), line(LINE, 1, 1)])
            .when(C::RemoveInvoiceLine { line_id: LINE })
            .then_expect_events(vec![E::InvoiceLineRemoved { line_id: LINE }]);
        Fx::with(ctx(Role::Member))
            .given(vec![drafted()])
            .when(C::AddInvoiceLine {
                line_id: LINE,
                description: "x".into(),
                quantity: 0,
                unit_price: 1,
            })
            .then_expect_error(DomainError::field(
                "quantity",
                "quantity must be at least 1",
            ));
        Fx::with(ctx(Role::Member))
            .given(issued())
            .when(C::AddInvoiceLine {
                line_id: Uuid::from_u128(5),
                description: "x".into(),
                quantity: 1,
                unit_price: 1,
            })
            .then_expect_error_containing("cannot add lines to the invoice: it is issued");
    }

    #[test]
    fn issue_needs_a_positive_total() {
        Fx::with(finance())
            .given(vec![drafted(), line(LINE, 2, 500_00)])
            .when(C::IssueInvoice { issued_on: day(1) })
            .then_expect_events(vec![E::InvoiceIssued {
                issued_on: day(1),
                total: 1_000_00,
            }]);
        Fx::with(finance())
            .given(vec![drafted()])
            .when(C::IssueInvoice { issued_on: day(1) })
            .then_expect_error_containing("positive total");
        Fx::with(finance())
            .given(vec![drafted(), line(LINE, 1, 1)])
            .when(C::IssueInvoice {
                issued_on: NaiveDate::from_ymd_opt(2027, 1, 5).unwrap(),
            })
            .then_expect_error_containing("due date must not be before the issue date");
    }

    #[test]
    fn payments_move_to_partially_paid_then_paid() {
        Fx::with(finance())
            .given(issued())
            .when(pay(1, 400_00))
            .then_expect_events(vec![paid(1, 400_00)]);
        let mut given = issued();
        given.push(paid(1, 400_00));
        Fx::with(finance())
            .given(given)
            .when(pay(2, 600_00))
            .then_expect_events(vec![paid(2, 600_00), E::InvoicePaid]);
    }

    #[test]
    fn payments_never_exceed_the_balance() {
        let mut given = issued();
        given.push(paid(1, 400_00));
        Fx::with(finance())
            .given(given.clone())
            .when(pay(2, 600_01))
            .then_expect_error_containing("exceeds the open balance of 60000");
        Fx::with(finance())
            .given(given.clone())
            .when(pay(1, 1))
            .then_expect_error_containing("already recorded");
        Fx::with(finance())
            .given(given)
            .when(pay(3, 0))
            .then_expect_error(DomainError::field("amount", "a payment must be positive"));
    }

    #[test]
    fn no_payment_before_issue_or_after_paid() {
        Fx::with(finance())
            .given(vec![drafted(), line(LINE, 1, 1)])
            .when(pay(1, 1))
            .then_expect_error_containing("cannot record a payment on the invoice: it is draft");
        let mut given = issued();
        given.extend([paid(1, 1_000_00), E::InvoicePaid]);
        Fx::with(finance())
            .given(given)
            .when(pay(2, 1))
            .then_expect_error_containing("it is paid");
    }

    #[test]
    fn void_is_final() {
        Fx::with(ctx(Role::Admin))
            .given(issued())
            .when(C::VoidInvoice {
                reason: "duplicate".into(),
            })
            .then_expect_events(vec![E::InvoiceVoided {
                reason: "duplicate".into(),
            }]);
        let mut voided = issued();
        voided.push(E::InvoiceVoided { reason: "x".into() });
        Fx::with(finance())
            .given(voided.clone())
            .when(pay(1, 1))
            .then_expect_error_containing("it is void");
        Fx::with(ctx(Role::Admin))
            .given(voided)
            .when(C::VoidInvoice { reason: "y".into() })
            .then_expect_error_containing("cannot void the invoice: it is void");
    }

    #[test]
    fn an_invoice_with_payments_cannot_be_voided() {
        let mut given = issued();
        given.push(paid(1, 1_00));
        Fx::with(ctx(Role::Admin))
            .given(given)
            .when(C::VoidInvoice { reason: "x".into() })
            .then_expect_error_containing("cannot be voided");
    }

    #[test]
    fn due_date_and_pdf() {
        Fx::with(finance())
            .given(issued())
            .when(C::ChangeDueDate { due_on: day(20) })
            .then_expect_events(vec![E::DueDateChanged { due_on: day(20) }]);
        Fx::with(ctx(Role::Member))
            .given(issued())
            .when(C::AttachInvoicePdf {
                document_id: Uuid::from_u128(0xd0c),
                url: "https://files.example.com/inv.pdf".into(),
            })
            .then_expect_events(vec![E::InvoicePdfAttached {
                document_id: Uuid::from_u128(0xd0c),
                url: "https://files.example.com/inv.pdf".into(),
            }]);
    }

    #[test]
    fn delete_only_drafts_and_voids() {
        Fx::with(ctx(Role::Admin))
            .given(vec![drafted()])
            .when(C::DeleteInvoice)
            .then_expect_events(vec![E::InvoiceDeleted]);
        Fx::with(ctx(Role::Admin))
            .given(issued())
            .when(C::DeleteInvoice)
            .then_expect_error_containing("cannot delete the invoice: it is issued");
        Fx::with(ctx(Role::Admin))
            .given(vec![drafted(), E::InvoiceDeleted])
            .when(C::IssueInvoice { issued_on: day(1) })
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn balance_is_derived() {
        let mut invoice = Invoice::default();
        for event in issued() {
            invoice.apply(event);
        }
        invoice.apply(paid(1, 250_00));
        assert_eq!(invoice.total().unwrap(), 1_000_00);
        assert_eq!(invoice.balance().unwrap(), 750_00);
        assert_eq!(invoice.status, InvoiceStatus::PartiallyPaid);
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(
            pay(1, 1).requirement(),
            Requirement::RoleOr(Role::Admin, Capability::Finance)
        );
        assert_eq!(
            C::DeleteInvoice.requirement(),
            Requirement::Role(Role::Admin)
        );
    }

    fn january(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, d).unwrap()
    }

    fn state_after(events: Vec<E>) -> Invoice {
        let mut invoice = Invoice::default();
        for event in events {
            invoice.apply(event);
        }
        invoice
    }

    #[test]
    fn an_unpaid_invoice_is_overdue_only_after_its_due_date() {
        Fx::with(finance())
            .given(issued())
            .when(C::MarkInvoiceOverdue { as_of: january(1) })
            .then_expect_events(vec![E::InvoiceOverdue { as_of: january(1) }]);
        // On its due date it is not late yet.
        Fx::with(finance())
            .given(issued())
            .when(C::MarkInvoiceOverdue { as_of: day(31) })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_late_reminder_on_a_settled_invoice_does_nothing() {
        let mut paid_in_full = issued();
        paid_in_full.extend([paid(1, 1_000_00), E::InvoicePaid]);
        let mut voided = issued();
        voided.push(E::InvoiceVoided {
            reason: "duplicate".into(),
        });
        let mut overdue = issued();
        overdue.push(E::InvoiceOverdue { as_of: january(1) });
        for given in [paid_in_full, voided, overdue, vec![drafted()]] {
            Fx::with(finance())
                .given(given)
                .when(C::MarkInvoiceOverdue { as_of: january(5) })
                .then_expect_events(vec![]);
        }
    }

    #[test]
    fn an_overdue_invoice_stays_overdue_until_paid_or_its_due_date_moves() {
        let mut events = issued();
        events.push(E::InvoiceOverdue { as_of: january(1) });
        events.push(paid(1, 400_00));
        assert_eq!(state_after(events.clone()).status, InvoiceStatus::Overdue);
        Fx::with(finance())
            .given(events.clone())
            .when(pay(2, 600_00))
            .then_expect_events(vec![paid(2, 600_00), E::InvoicePaid]);
        events.push(E::DueDateChanged {
            due_on: january(31),
        });
        assert_eq!(state_after(events).status, InvoiceStatus::PartiallyPaid);
    }

    #[test]
    fn marking_overdue_needs_finance() {
        assert_eq!(
            C::MarkInvoiceOverdue { as_of: january(1) }.requirement(),
            Requirement::RoleOr(Role::Admin, Capability::Finance)
        );
    }
}
