//! `expiringDocuments`: documents that have expired or soon will.

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use chrono::{Days, Utc};
use foldline_aggregates::graphql::Date;

use crate::documents::{DocumentRow, COLUMNS};
use crate::error::ApiError;
use crate::page::{Page, MAX_PAGE};
use crate::request::Request;

/// How far ahead the report looks when not told.
pub const DEFAULT_WITHIN_DAYS: i32 = 30;

/// A document and how long it has left.
#[derive(Debug, Clone, SimpleObject)]
pub struct ExpiringDocument {
    /// The document.
    pub document: DocumentRow,
    /// Days from `asOf` to its expiry; negative once expired.
    pub days_left: i32,
}

/// The expiring documents report.
#[derive(Default)]
pub struct ExpiringQuery;

#[Object]
impl ExpiringQuery {
    /// Documents expiring within `withinDays` (30 by default) of `asOf`
    /// (today by default), those already expired included, soonest first;
    /// at most `first` (up to 100).
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn expiring_documents(
        &self,
        ctx: &Context<'_>,
        as_of: Option<Date>,
        within_days: Option<i32>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<ExpiringDocument>> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        expiring_documents(request, as_of, within_days, first)
            .await
            .map_err(|e| e.extend())
    }
}

async fn expiring_documents(
    request: &Request,
    as_of: Option<Date>,
    within_days: Option<i32>,
    first: Option<i32>,
) -> Result<Vec<ExpiringDocument>, ApiError> {
    let as_of = as_of.map_or_else(|| Utc::now().date_naive(), |date| date.0);
    let within = within_days.unwrap_or(DEFAULT_WITHIN_DAYS);
    let horizon = u64::try_from(within)
        .ok()
        .and_then(|days| as_of.checked_add_days(Days::new(days)))
        .ok_or_else(|| {
            ApiError::BadUserInput(format!("`withinDays` must be 0 or more, not {within}"))
        })?;
    let first = Page::new(Some(first.unwrap_or(MAX_PAGE)), None)?.first;
    let mut conn = request.read().await?;
    let documents: Vec<DocumentRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM document_registry
         WHERE organization_id = $1 AND expires_on <= $2
         ORDER BY expires_on, id
         LIMIT $3"
    ))
    .bind(request.caller.organization_id)
    .bind(horizon)
    .bind(i64::from(first))
    .fetch_all(&mut *conn)
    .await?;
    Ok(documents
        .into_iter()
        .map(|document| ExpiringDocument {
            days_left: document
                .expires_on
                .map_or(0, |expires_on| (expires_on.0 - as_of).num_days() as i32),
            document,
        })
        .collect())
}
