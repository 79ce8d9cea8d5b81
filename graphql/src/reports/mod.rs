//! The seeds' reports, as queries over the read tables under the caller's
//! row-level security: what a report counts is only what the caller may see.

pub mod aging;
pub mod conflicts;
pub mod expiring;
pub mod workload;

use async_graphql::MergedObject;

pub use aging::{AgingBucket, AgingBucketName, InvoiceAging};
pub use conflicts::{Booking, Conflict, ConflictKind};
pub use expiring::ExpiringDocument;
pub use workload::Workload;

/// Every report.
#[derive(MergedObject, Default)]
pub struct ReportQuery(
    aging::AgingQuery,
    conflicts::ConflictQuery,
    workload::WorkloadQuery,
    expiring::ExpiringQuery,
);
