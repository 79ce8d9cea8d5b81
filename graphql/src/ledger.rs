//! `ledger`: money owed, paid and committed.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::graphql::{Date, MinorUnitsScalar};
use foldline_aggregates::invoice::Direction;
use foldline_aggregates::{EntityType, Visibility};
use foldline_projectors::financial_ledger::{CounterpartyType, TransactionType};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// One money movement or commitment.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct LedgerEntry {
    /// The row's id.
    pub id: Uuid,
    /// What the entry records.
    pub transaction_type: TransactionType,
    /// Which way the money flows.
    #[sqlx(try_from = "String")]
    pub direction: Direction,
    /// The source entity's type.
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
    /// The source entity.
    pub entity_id: Uuid,
    /// In minor units of `currency`.
    #[sqlx(try_from = "i64")]
    pub amount: MinorUnitsScalar,
    /// ISO 4217 code.
    pub currency: String,
    /// The source's status.
    pub status: String,
    /// Who is on the other side.
    pub counterparty_type: CounterpartyType,
    /// The counterparty.
    pub counterparty_id: Option<Uuid>,
    /// The counterparty's name.
    pub counterparty_name: Option<String>,
    /// The event it is for.
    pub event_id: Option<Uuid>,
    /// When it happened.
    pub transaction_date: Date,
    /// When the invoice was issued.
    pub issued_date: Option<Date>,
    /// When it is due.
    pub due_date: Option<Date>,
    /// When it was paid.
    pub paid_date: Option<Date>,
    /// What it is.
    pub description: String,
    /// Invoice number, bank reference, advance code.
    pub reference: Option<String>,
    /// Who may see it.
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// Who created the source.
    pub owner_id: Option<Uuid>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its entity began: the list's order, which no change moves.
    pub created_at: DateTime<Utc>,
}

impl Paged for LedgerEntry {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

/// Which entries to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct LedgerFilter {
    /// Which way the money flows.
    pub direction: Option<Direction>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this counterparty.
    pub counterparty_id: Option<Uuid>,
    /// Only this event's.
    pub event_id: Option<Uuid>,
    /// Dated on or after.
    pub from: Option<Date>,
    /// Dated before.
    pub to: Option<Date>,
}

/// Ledger queries.
#[derive(Default)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    /// The financial ledger, newest first (by when each row's entity began; a row that changes keeps its place, so paging while rows change neither skips nor repeats one).
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        filter: Option<LedgerFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<LedgerEntry>> {
        let listing = Listing {
            first,
            after,
            last,
            before,
            after_position,
        };
        resolve(ctx, filter, listing).await
    }
}

impl Listed for LedgerFilter {
    type Row = LedgerEntry;
    const TABLE: &'static str = "financial_ledger";
    const COLUMNS: &'static str =
        "id, transaction_type, direction, entity_type, entity_id, amount, \
        currency, status, counterparty_type, counterparty_id, \
        counterparty_name, event_id, transaction_date, issued_date, due_date, \
        paid_date, description, reference, visibility, owner_id, updated_at, created_at";
    const ORDER: Order = Order {
        column: "created_at",
        descending: true,
    };

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        if let Some(direction) = self.direction {
            sql.push(" AND direction = ").push_bind(direction.as_str());
        }
        if let Some(status) = self.status {
            sql.push(" AND status = ").push_bind(status);
        }
        if let Some(counterparty_id) = self.counterparty_id {
            sql.push(" AND counterparty_id = ")
                .push_bind(counterparty_id);
        }
        if let Some(event_id) = self.event_id {
            sql.push(" AND event_id = ").push_bind(event_id);
        }
        if let Some(from) = self.from {
            sql.push(" AND transaction_date >= ").push_bind(from);
        }
        if let Some(to) = self.to {
            sql.push(" AND transaction_date < ").push_bind(to);
        }
        Ok(())
    }
}
