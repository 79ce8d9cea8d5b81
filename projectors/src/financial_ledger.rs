//! `financial_ledger`: one row per money movement or commitment.
//!
//! Sources: an Invoice once issued (a voided one stays, as void) and each of
//! its payments; an Expense of any kind; the committed cost of a
//! ProductionAdvance once approved (a cancelled one stays, as cancelled).
//! Deleting an invoice, an expense or an advance removes its rows. Amounts
//! are minor units of the row's currency.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use foldline_aggregates::expense::{Expense, ExpenseKind};
use foldline_aggregates::invoice::{Direction, Invoice, InvoiceStatus};
use foldline_aggregates::production_advance::{AdvanceStatus, ProductionAdvance};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{name_of, remove_rows, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// The financial ledger projection.
pub struct FinancialLedger;

/// Its name.
pub const NAME: &str = "financial_ledger";

#[async_trait::async_trait]
impl Projection for FinancialLedger {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["financial_ledger"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = Rows::default();
        for (id, invoice) in &fold_batch::<Invoice>(tx, store, events).await? {
            rows.invoice(id, invoice)?;
        }
        for (id, expense) in &fold_batch::<Expense>(tx, store, events).await? {
            rows.expense(id, expense);
        }
        let advances = fold_batch::<ProductionAdvance>(tx, store, events).await?;
        let approved_at = approvals(tx, &advances).await?;
        for (id, advance) in &advances {
            rows.advance_commitment(id, advance, approved_at.get(id).copied())?;
        }
        rows.write(tx).await
    }
}

/// When each advance that may have been approved was approved, from its
/// stream: the state keeps no date of approval, and the status's date moves
/// on when the advance completes or is cancelled.
async fn approvals(
    tx: &mut PgConnection,
    advances: &HashMap<String, Arc<Tracked<ProductionAdvance>>>,
) -> Result<HashMap<String, DateTime<Utc>>, ProjectionError> {
    let candidates: Vec<String> = advances
        .iter()
        .filter(|(_, tracked)| {
            let advance = &tracked.aggregate;
            advance.exists()
                && !advance.is_deleted()
                && matches!(
                    advance.status,
                    AdvanceStatus::Approved | AdvanceStatus::Completed | AdvanceStatus::Cancelled
                )
        })
        .map(|(id, _)| id.clone())
        .collect();
    if candidates.is_empty() {
        return Ok(HashMap::new());
    }
    let approved: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT aggregate_id, recorded_at FROM events
         WHERE aggregate_type = $1 AND aggregate_id = ANY($2) AND event_type = 'AdvanceApproved'
         ORDER BY sequence",
    )
    .bind(<ProductionAdvance as cqrs_es::Aggregate>::TYPE)
    .bind(&candidates)
    .fetch_all(&mut *tx)
    .await?;
    Ok(approved.into_iter().collect())
}

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum TransactionType {
    /// An invoice, issued or received.
    Invoice,
    /// A payment of an invoice.
    Payment,
    /// An expense.
    Expense,
    /// A purchase order.
    PurchaseOrder,
    /// Payroll.
    Payroll,
    /// A payment to talent.
    TalentPayment,
    /// The cost an approved production advance commits.
    Commitment,
}

/// Who is on the other side of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum CounterpartyType {
    /// A client we bill.
    Client,
    /// A vendor who bills us.
    Vendor,
    /// One of our staff.
    Employee,
    /// Talent we pay.
    Talent,
}

foldline_aggregates::stored_as_text!(TransactionType, CounterpartyType);

/// One ledger entry before it is written.
struct Entry<'a, A> {
    external_id: String,
    tracked: &'a Tracked<A>,
    transaction_type: TransactionType,
    direction: &'static str,
    entity_type: &'static str,
    amount: i64,
    currency: String,
    status: String,
    counterparty_type: CounterpartyType,
    counterparty_id: Option<Uuid>,
    counterparty_name: Option<String>,
    event_id: Option<Uuid>,
    transaction_date: NaiveDate,
    issued_date: Option<NaiveDate>,
    due_date: Option<NaiveDate>,
    paid_date: Option<NaiveDate>,
    description: String,
    reference: Option<String>,
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    standard: Standard,
    transaction_type: Vec<TransactionType>,
    direction: Vec<&'static str>,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    amount: Vec<i64>,
    currency: Vec<String>,
    status: Vec<String>,
    counterparty_type: Vec<CounterpartyType>,
    counterparty_id: Vec<Option<Uuid>>,
    counterparty_name: Vec<Option<String>>,
    event_id: Vec<Option<Uuid>>,
    transaction_date: Vec<NaiveDate>,
    issued_date: Vec<Option<NaiveDate>>,
    due_date: Vec<Option<NaiveDate>>,
    paid_date: Vec<Option<NaiveDate>>,
    description: Vec<String>,
    reference: Vec<Option<String>>,
}

/// A total that cannot be computed stops the projection at the entity's
/// last event (the write side never lets one through).
fn amount(
    total: Result<i64, foldline_aggregates::DomainError>,
    position: i64,
) -> Result<i64, ProjectionError> {
    total.map_err(|error| ProjectionError::Poison {
        position,
        message: error.to_string(),
    })
}

impl Rows {
    /// The invoice's row once issued, and a row per payment.
    fn invoice(&mut self, id: &str, tracked: &Tracked<Invoice>) -> Result<(), ProjectionError> {
        let invoice = &tracked.aggregate;
        let external_id = format!("Invoice:{id}");
        let payment_ids = invoice
            .payments
            .iter()
            .map(|payment| format!("{external_id}:payment:{}", payment.payment_id));
        let issued_on = match (invoice.issued_on, invoice.is_deleted() || !invoice.exists()) {
            (Some(issued_on), false) => issued_on,
            _ => {
                self.deleted.extend(payment_ids);
                self.deleted.push(external_id);
                return Ok(());
            }
        };
        let (direction, counterparty_type) = match invoice.direction {
            Direction::Receivable => ("receivable", CounterpartyType::Client),
            Direction::Payable => ("payable", CounterpartyType::Vendor),
        };
        let paid_date = match invoice.status {
            InvoiceStatus::Paid => invoice.payments.iter().map(|p| p.paid_on).max(),
            _ => None,
        };
        let entry = |external_id: String, transaction_type| Entry {
            external_id,
            tracked,
            transaction_type,
            direction,
            entity_type: "Invoice",
            amount: 0,
            currency: invoice.currency.code().to_owned(),
            status: String::new(),
            counterparty_type,
            counterparty_id: invoice.counterparty_id,
            counterparty_name: Some(invoice.counterparty_name.clone()),
            event_id: None,
            transaction_date: issued_on,
            issued_date: None,
            due_date: None,
            paid_date: None,
            description: String::new(),
            reference: None,
        };
        for (payment, external_id) in invoice.payments.iter().zip(payment_ids) {
            self.push(
                Entry {
                    amount: payment.amount,
                    status: "paid".to_owned(),
                    transaction_date: payment.paid_on,
                    paid_date: Some(payment.paid_on),
                    description: format!(
                        "Payment of invoice {} by {}",
                        invoice.number, payment.method
                    ),
                    reference: payment.reference.clone(),
                    ..entry(external_id, TransactionType::Payment)
                },
                invoice.id,
                invoice.organization_id,
                invoice.visibility.as_str(),
                invoice.owner_id,
            );
        }
        self.push(
            Entry {
                amount: amount(invoice.total(), tracked.last_position)?,
                status: invoice.status_name().unwrap_or_default(),
                issued_date: Some(issued_on),
                due_date: invoice.due_on,
                paid_date,
                description: format!("Invoice {}", invoice.number),
                reference: Some(invoice.number.clone()),
                ..entry(external_id, TransactionType::Invoice)
            },
            invoice.id,
            invoice.organization_id,
            invoice.visibility.as_str(),
            invoice.owner_id,
        );
        Ok(())
    }

    /// The expense's row, whatever its status.
    fn expense(&mut self, id: &str, tracked: &Tracked<Expense>) {
        let expense = &tracked.aggregate;
        let external_id = format!("Expense:{id}");
        let incurred_on = match (
            expense.incurred_on,
            expense.is_deleted() || !expense.exists(),
        ) {
            (Some(incurred_on), false) => incurred_on,
            _ => return self.deleted.push(external_id),
        };
        let (transaction_type, counterparty_type) = match expense.kind {
            ExpenseKind::Expense => (TransactionType::Expense, CounterpartyType::Vendor),
            ExpenseKind::PurchaseOrder => {
                (TransactionType::PurchaseOrder, CounterpartyType::Vendor)
            }
            ExpenseKind::Payroll => (TransactionType::Payroll, CounterpartyType::Employee),
            ExpenseKind::TalentPayment => {
                (TransactionType::TalentPayment, CounterpartyType::Talent)
            }
        };
        self.push(
            Entry {
                external_id,
                tracked,
                transaction_type,
                direction: "payable",
                entity_type: "Expense",
                amount: expense.amount,
                currency: expense.currency.code().to_owned(),
                status: expense.status_name().unwrap_or_default(),
                counterparty_type,
                counterparty_id: expense.payee_id,
                counterparty_name: Some(expense.payee.clone()),
                event_id: expense.event_id,
                transaction_date: incurred_on,
                issued_date: None,
                due_date: None,
                paid_date: expense.paid_on,
                description: expense.description.clone(),
                reference: expense.payment_reference.clone(),
            },
            expense.id,
            expense.organization_id,
            expense.visibility.as_str(),
            expense.owner_id,
        );
    }

    /// The advance's committed cost, once approved.
    fn advance_commitment(
        &mut self,
        id: &str,
        tracked: &Tracked<ProductionAdvance>,
        approved_at: Option<DateTime<Utc>>,
    ) -> Result<(), ProjectionError> {
        let advance = &tracked.aggregate;
        let external_id = format!("ProductionAdvance:{id}:committed");
        let approved_at = match (approved_at, advance.is_deleted() || !advance.exists()) {
            (Some(approved_at), false) => approved_at,
            _ => {
                self.deleted.push(external_id);
                return Ok(());
            }
        };
        // The vendor, when every item with a vendor has the same one.
        let mut vendors = advance.items.values().filter_map(|item| item.vendor_id);
        let vendor = vendors
            .next()
            .filter(|first| vendors.all(|other| other == *first));
        self.push(
            Entry {
                external_id,
                tracked,
                transaction_type: TransactionType::Commitment,
                direction: "payable",
                entity_type: "ProductionAdvance",
                amount: amount(advance.total_cost(), tracked.last_position)?,
                currency: advance.currency.code().to_owned(),
                status: advance.status_name().unwrap_or_default(),
                counterparty_type: CounterpartyType::Vendor,
                counterparty_id: vendor,
                counterparty_name: None,
                event_id: advance.event_id,
                transaction_date: approved_at.date_naive(),
                issued_date: None,
                due_date: advance.due_date.map(|due| due.date_naive()),
                paid_date: None,
                description: format!(
                    "Advance {} ({})",
                    advance.code,
                    name_of(advance.advance_type).unwrap_or_default()
                ),
                reference: Some(advance.code.clone()),
            },
            advance.id,
            advance.organization_id,
            advance.visibility.as_str(),
            advance.owner_id,
        );
        Ok(())
    }

    fn push<A>(
        &mut self,
        entry: Entry<'_, A>,
        entity_id: Option<Uuid>,
        organization_id: Option<Uuid>,
        visibility: &'static str,
        owner_id: Option<Uuid>,
    ) {
        let tracked = entry.tracked;
        let (Some(entity_id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            entity_id,
            organization_id,
            tracked.created_at,
            tracked.updated_at,
        ) else {
            return;
        };
        self.transaction_type.push(entry.transaction_type);
        self.direction.push(entry.direction);
        self.entity_type.push(entry.entity_type);
        self.entity_id.push(entity_id);
        self.amount.push(entry.amount);
        self.currency.push(entry.currency);
        self.status.push(entry.status);
        self.counterparty_type.push(entry.counterparty_type);
        self.counterparty_id.push(entry.counterparty_id);
        self.counterparty_name.push(entry.counterparty_name);
        self.event_id.push(entry.event_id);
        self.transaction_date.push(entry.transaction_date);
        self.issued_date.push(entry.issued_date);
        self.due_date.push(entry.due_date);
        self.paid_date.push(entry.paid_date);
        self.description.push(entry.description);
        self.reference.push(entry.reference);
        self.standard.push(Stamp {
            external_id: entry.external_id,
            organization_id,
            visibility,
            owner_id,
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        remove_rows(tx, "financial_ledger", &self.deleted).await?;
        if self.standard.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO financial_ledger (
                 id, organization_id, transaction_type, direction, entity_type, entity_id, amount,
                 currency, status, counterparty_type, counterparty_id, counterparty_name, event_id,
                 transaction_date, issued_date, due_date, paid_date, description, reference,
                 visibility, owner_id, external_id, created_at, updated_at, last_position)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[],
                 $7::bigint[], $8::text[], $9::text[], $10::text[], $11::uuid[], $12::text[],
                 $13::uuid[], $14::date[], $15::date[], $16::date[], $17::date[], $18::text[],
                 $19::text[], $20::text[], $21::uuid[], $22::text[], $23::timestamptz[],
                 $24::timestamptz[], $25::bigint[])
             ON CONFLICT (external_id) DO UPDATE SET
                 direction = EXCLUDED.direction,
                 amount = EXCLUDED.amount,
                 currency = EXCLUDED.currency,
                 status = EXCLUDED.status,
                 counterparty_type = EXCLUDED.counterparty_type,
                 counterparty_id = EXCLUDED.counterparty_id,
                 counterparty_name = EXCLUDED.counterparty_name,
                 event_id = EXCLUDED.event_id,
                 transaction_date = EXCLUDED.transaction_date,
                 issued_date = EXCLUDED.issued_date,
                 due_date = EXCLUDED.due_date,
                 paid_date = EXCLUDED.paid_date,
                 description = EXCLUDED.description,
                 reference = EXCLUDED.reference,
                 visibility = EXCLUDED.visibility,
                 owner_id = EXCLUDED.owner_id,
                 updated_at = EXCLUDED.updated_at,
                 last_position = EXCLUDED.last_position",
        )
        .bind(&self.standard.id)
        .bind(&self.standard.organization_id)
        .bind(&self.transaction_type)
        .bind(&self.direction)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.amount)
        .bind(&self.currency)
        .bind(&self.status)
        .bind(&self.counterparty_type)
        .bind(&self.counterparty_id)
        .bind(&self.counterparty_name)
        .bind(&self.event_id)
        .bind(&self.transaction_date)
        .bind(&self.issued_date)
        .bind(&self.due_date)
        .bind(&self.paid_date)
        .bind(&self.description)
        .bind(&self.reference)
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
