//! `invoiceAging`: what is still owed on issued invoices, by how late it is.

use async_graphql::{Context, Enum, ErrorExtensions, Object, SimpleObject};
use chrono::Utc;
use foldline_aggregates::graphql::{Date, MinorUnitsScalar};
use foldline_aggregates::invoice::Direction;

use crate::error::ApiError;
use crate::request::Request;

/// How late an invoice's outstanding amount is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AgingBucketName {
    /// Not yet due.
    Current,
    /// 1 to 30 days past due.
    #[graphql(name = "DAYS_1_30")]
    Days1To30,
    /// 31 to 60 days past due.
    #[graphql(name = "DAYS_31_60")]
    Days31To60,
    /// 61 to 90 days past due.
    #[graphql(name = "DAYS_61_90")]
    Days61To90,
    /// More than 90 days past due.
    #[graphql(name = "OVER_90")]
    Over90,
}

impl AgingBucketName {
    const ALL: [AgingBucketName; 5] = [
        AgingBucketName::Current,
        AgingBucketName::Days1To30,
        AgingBucketName::Days31To60,
        AgingBucketName::Days61To90,
        AgingBucketName::Over90,
    ];

    fn of(days_late: i32) -> AgingBucketName {
        match days_late {
            ..=0 => AgingBucketName::Current,
            1..=30 => AgingBucketName::Days1To30,
            31..=60 => AgingBucketName::Days31To60,
            61..=90 => AgingBucketName::Days61To90,
            _ => AgingBucketName::Over90,
        }
    }
}

/// The invoices of one currency in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct AgingBucket {
    /// How late.
    pub bucket: AgingBucketName,
    /// The currency (ISO 4217).
    pub currency: String,
    /// Invoices with something outstanding.
    pub invoices: i64,
    /// What is outstanding, in minor units: totals less payments.
    pub outstanding: MinorUnitsScalar,
}

/// Outstanding invoices by lateness.
#[derive(Debug, Clone, SimpleObject)]
pub struct InvoiceAging {
    /// The day lateness is counted to.
    pub as_of: Date,
    /// Receivable (owed to the organization) or payable (owed by it).
    pub direction: Direction,
    /// Every bucket of every currency with an outstanding invoice, zeros
    /// included, by currency then lateness.
    pub buckets: Vec<AgingBucket>,
}

/// The aging report.
#[derive(Default)]
pub struct AgingQuery;

/// The outstanding invoices: `$1` the organization, `$2` the day, `$3`
/// the direction; each row's currency, days past due and amount left.
pub const SQL: &str = "SELECT invoice.currency,
            $2::date - coalesce(invoice.due_date, invoice.issued_date, invoice.transaction_date),
            invoice.amount - coalesce(paid.amount, 0)
     FROM financial_ledger invoice
     LEFT JOIN LATERAL (
         SELECT sum(payment.amount)::bigint AS amount FROM financial_ledger payment
         WHERE payment.organization_id = invoice.organization_id
           AND payment.entity_type = 'Invoice' AND payment.entity_id = invoice.entity_id
           AND payment.transaction_type = 'payment'
     ) paid ON true
     WHERE invoice.organization_id = $1 AND invoice.transaction_type = 'invoice'
       AND invoice.direction = $3
       AND invoice.status IN ('issued', 'partially_paid', 'overdue')";

#[Object]
impl AgingQuery {
    /// Issued and partly paid invoices' outstanding amounts, by how many
    /// days past due they are on `asOf` (today by default). An invoice
    /// without a due date is due on issue.
    async fn invoice_aging(
        &self,
        ctx: &Context<'_>,
        as_of: Option<Date>,
        #[graphql(desc = "Receivable (by default) or payable.")] direction: Option<Direction>,
    ) -> async_graphql::Result<InvoiceAging> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        invoice_aging(request, as_of, direction)
            .await
            .map_err(|e| e.extend())
    }
}

async fn invoice_aging(
    request: &Request,
    as_of: Option<Date>,
    direction: Option<Direction>,
) -> Result<InvoiceAging, ApiError> {
    let as_of = as_of.map_or_else(|| Utc::now().date_naive(), |date| date.0);
    let direction = direction.unwrap_or_default();
    let mut conn = request.read().await?;
    let invoices: Vec<(String, i32, i64)> = sqlx::query_as(SQL)
        .bind(request.caller.organization_id)
        .bind(as_of)
        .bind(direction.as_str())
        .fetch_all(&mut *conn)
        .await?;
    Ok(InvoiceAging {
        as_of: Date(as_of),
        direction,
        buckets: buckets(invoices),
    })
}

/// Sums `(currency, days late, outstanding)` into every bucket of each
/// currency that has something outstanding.
fn buckets(invoices: Vec<(String, i32, i64)>) -> Vec<AgingBucket> {
    let mut currencies: Vec<String> = invoices
        .iter()
        .filter(|(.., outstanding)| *outstanding > 0)
        .map(|(currency, ..)| currency.clone())
        .collect();
    currencies.sort();
    currencies.dedup();
    let mut buckets: Vec<AgingBucket> = currencies
        .iter()
        .flat_map(|currency| {
            AgingBucketName::ALL.map(|bucket| AgingBucket {
                bucket,
                currency: currency.clone(),
                invoices: 0,
                outstanding: MinorUnitsScalar(0),
            })
        })
        .collect();
    for (currency, days_late, outstanding) in invoices {
        if outstanding <= 0 {
            continue;
        }
        let bucket = AgingBucketName::of(days_late);
        if let Some(row) = buckets
            .iter_mut()
            .find(|row| row.currency == currency && row.bucket == bucket)
        {
            row.invoices += 1;
            row.outstanding.0 += outstanding;
        }
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_falls_in_the_right_bucket_at_each_edge() {
        let cases = [
            (-5, AgingBucketName::Current),
            (0, AgingBucketName::Current),
            (1, AgingBucketName::Days1To30),
            (30, AgingBucketName::Days1To30),
            (31, AgingBucketName::Days31To60),
            (60, AgingBucketName::Days31To60),
            (61, AgingBucketName::Days61To90),
            (90, AgingBucketName::Days61To90),
            (91, AgingBucketName::Over90),
        ];
        for (days, bucket) in cases {
            assert_eq!(AgingBucketName::of(days), bucket, "{days} days late");
        }
    }

    #[test]
    fn every_bucket_of_a_currency_is_listed_and_paid_invoices_are_left_out() {
        let rows = buckets(vec![
            ("EUR".into(), 10, 500),
            ("EUR".into(), 12, 250),
            ("EUR".into(), 100, 1_000),
            ("USD".into(), -3, 0),
        ]);
        assert_eq!(rows.len(), 5, "USD has nothing outstanding: {rows:?}");
        let late = rows
            .iter()
            .find(|row| row.bucket == AgingBucketName::Days1To30)
            .unwrap();
        assert_eq!((late.invoices, late.outstanding.0), (2, 750));
        let over = rows
            .iter()
            .find(|row| row.bucket == AgingBucketName::Over90)
            .unwrap();
        assert_eq!((over.invoices, over.outstanding.0), (1, 1_000));
        assert_eq!(rows[0].bucket, AgingBucketName::Current);
        assert_eq!(rows[0].invoices, 0);
    }
}
