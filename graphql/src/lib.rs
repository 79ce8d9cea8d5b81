//! The GraphQL API of Foldline: the nine read tables as Relay connections
//! under row-level security, and every command as a mutation.
//!
//! Each request is authenticated ([`auth`]) and resolved to a member of one
//! organization ([`caller`]) before the schema runs; resolvers read through
//! [`request::Request::read`], a connection of the non-owner `foldline_api`
//! role with the caller's settings ([`reads`]), so the database enforces tenancy and
//! visibility even where a resolver forgets a filter.

pub mod activity;
pub mod assignments;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod caller;
pub mod connection;
pub mod detail;
pub mod documents;
pub mod entities;
pub mod error;
pub mod flat;
pub mod input_checks;
pub mod inventory;
pub mod ledger;
pub mod locations;
pub mod me;
pub mod mutation;
pub mod operation;
pub mod page;
pub mod people;
pub mod query_shape;
pub mod reads;
pub mod reports;
pub mod request;
pub mod search;
pub mod socket;
pub mod status;
pub mod subscription;
pub mod workflows;

use async_graphql::{MergedObject, Schema};

pub use error::ApiError;

/// Every query, one area per module.
#[derive(MergedObject, Default)]
pub struct Query(
    calendar::CalendarQuery,
    activity::ActivityQuery,
    documents::DocumentQuery,
    ledger::LedgerQuery,
    people::PeopleQuery,
    assignments::AssignmentQuery,
    locations::LocationQuery,
    status::StatusQuery,
    inventory::InventoryQuery,
    detail::DetailQuery,
    entities::EntityListQuery,
    reports::ReportQuery,
    search::SearchQuery,
    audit::AuditQuery,
    me::MeQuery,
    workflows::WorkflowQuery,
);

/// The schema.
pub type FoldlineSchema = Schema<Query, mutation::Mutation, subscription::SubscriptionRoot>;

/// Limits on what a request may ask.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest selection.
    pub depth: usize,
    /// Most complex query: each field counts one, and the fields below a
    /// paged field count once per row its `first` may return
    /// ([`page::cost`]).
    pub complexity: usize,
    /// Most fields at an operation's root.
    pub root_fields: usize,
    /// Most aliases in a request.
    pub aliases: usize,
    /// Requests one user may have served at once (over HTTP).
    pub running_per_user: usize,
    /// Requests one user may have queued behind those; more are refused.
    pub queued_per_user: usize,
    /// Whether the schema may be introspected.
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: 12,
            // Four full pages of 100 rows, every field asked for.
            complexity: 10_000,
            root_fields: 10,
            aliases: 30,
            running_per_user: 4,
            queued_per_user: 64,
            introspection: true,
        }
    }
}

/// The schema HTTP requests run on, with `limits`. It has no extension,
/// so nothing is awaited around each field it resolves; a request's
/// operation is checked and timed by its handler instead
/// ([`operation::OperationChecks::check`]), which nothing may skip.
pub fn schema(limits: Limits) -> FoldlineSchema {
    finish(builder(limits), limits)
}

/// The schema socket operations run on, with `limits`: each operation is
/// admitted again ([`socket::SocketAdmission`]) and checked and timed by an
/// extension ([`operation::OperationChecks`]).
pub fn socket_schema(limits: Limits) -> FoldlineSchema {
    let builder = builder(limits)
        .extension(operation::OperationChecks::new(&limits))
        .extension(socket::SocketAdmission);
    finish(builder, limits)
}

type Builder =
    async_graphql::SchemaBuilder<Query, mutation::Mutation, subscription::SubscriptionRoot>;

fn builder(limits: Limits) -> Builder {
    let sink: std::sync::Arc<dyn foldline_aggregates::graphql::CommandSink> =
        std::sync::Arc::new(mutation::ApiSink);
    let nodes: std::sync::Arc<dyn foldline_aggregates::graphql::NodeSource> =
        std::sync::Arc::new(detail::ApiNodes);
    Schema::build(
        Query::default(),
        mutation::Mutation::default(),
        subscription::SubscriptionRoot,
    )
    .override_output_type_description::<chrono::DateTime<chrono::Utc>>(
        "An instant, RFC 3339 with its offset, e.g. `2027-04-10T19:00:00Z`.",
    )
    .data(sink)
    .data(nodes)
    .limit_depth(limits.depth)
    .limit_complexity(limits.complexity)
}

fn finish(builder: Builder, limits: Limits) -> FoldlineSchema {
    if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema's SDL, as checked in at `graphql/schema.graphql`.
pub fn sdl() -> String {
    schema(Limits::default()).sdl()
}
