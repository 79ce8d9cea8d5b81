//! Lists of the entities of each aggregate type (`productionAdvances`,
//! `invoices`, `shifts`…): typed objects, the same as `node` gives, read a
//! page at a time from `entity_directory` and filtered by status, by what
//! they belong to, and by words of their name.
//!
//! Each list is newest first by when the entity began, then id: keys no
//! change moves, so a client paging while entities change neither skips
//! nor repeats one. A list shows what its projection has folded; after a
//! mutation, `afterPosition` waits for it.

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{
    Context, ContextSelectionSet, InputObject, Object, OutputType, Positioned, ServerResult, Value,
};
use chrono::{DateTime, Utc};
use foldline_aggregates::asset::{Asset, AssetStatus};
use foldline_aggregates::comment::Comment;
use foldline_aggregates::company::Company;
use foldline_aggregates::contact::Contact;
use foldline_aggregates::contract::{Contract, ContractStatus};
use foldline_aggregates::document::{Document, DocumentStatus};
use foldline_aggregates::event::{Event, EventStatus};
use foldline_aggregates::expense::{Expense, ExpenseStatus};
use foldline_aggregates::graphql::Read;
use foldline_aggregates::invoice::{Invoice, InvoiceStatus};
use foldline_aggregates::production_advance::{AdvanceStatus, ProductionAdvance};
use foldline_aggregates::shift::{Shift, ShiftStatus};
use foldline_aggregates::task::{Task, TaskStatus};
use foldline_aggregates::venue::Venue;
use foldline_aggregates::{DomainAggregate, DomainCommand};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// The table the lists read, written by the projection of the same name.
const TABLE: &str = "entity_directory";

/// One entity of a list: its typed object, shown to clients exactly as
/// `Read<A>` is, and where it sits in the list.
pub struct Entry<A> {
    read: Read<A>,
    cursor: Cursor,
}

impl<'r, A: DeserializeOwned> FromRow<'r, PgRow> for Entry<A> {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let sqlx::types::Json(state): sqlx::types::Json<A> = row.try_get("state")?;
        let version: i64 = row.try_get("version")?;
        let created_at: DateTime<Utc> = row.try_get("created_at")?;
        Ok(Entry {
            read: Read {
                id: row.try_get("entity_id")?,
                version: version.unsigned_abs(),
                state,
            },
            cursor: Cursor {
                at: created_at,
                id: row.try_get("id")?,
            },
        })
    }
}

impl<A> Paged for Entry<A> {
    fn cursor(&self) -> Cursor {
        self.cursor
    }
}

impl<A: Send + Sync> OutputType for Entry<A>
where
    Read<A>: OutputType + ContainerType,
{
    fn type_name() -> Cow<'static, str> {
        Read::<A>::type_name()
    }

    fn qualified_type_name() -> String {
        Read::<A>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Read::<A>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        self.read.resolve(ctx, field).await
    }
}

impl<A: Send + Sync> ContainerType for Entry<A>
where
    Read<A>: OutputType + ContainerType,
{
    async fn resolve_field(&self, ctx: &async_graphql::Context<'_>) -> ServerResult<Option<Value>> {
        self.read.resolve_field(ctx).await
    }
}

/// One way a filter narrows a list.
#[derive(Debug, Clone)]
enum Condition {
    /// In one of these statuses (by their stored names).
    Status(Vec<String>),
    /// Belonging to this entity, through this column.
    Belongs(&'static str, Uuid),
    /// Waiting for an approval the caller's capabilities may give.
    AwaitingCaller,
    /// With every word, as a prefix, in its name.
    Search(String),
}

impl Condition {
    /// Statuses asked for, if any.
    fn statuses<S: Serialize>(statuses: Option<Vec<S>>) -> Option<Condition> {
        let names = statuses?
            .into_iter()
            .filter_map(foldline_projectors::rows::name_of)
            .collect();
        Some(Condition::Status(names))
    }

    /// Belonging to `id` through `column`, if asked.
    fn belongs(column: &'static str, id: Option<Uuid>) -> Option<Condition> {
        id.map(|id| Condition::Belongs(column, id))
    }

    /// The words typed, if any but blanks.
    fn search(text: Option<String>) -> Option<Condition> {
        text.filter(|text| !text.trim().is_empty())
            .map(Condition::Search)
    }

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        match self {
            Condition::Status(mut names) if names.len() == 1 => {
                sql.push(" AND status = ").push_bind(names.remove(0));
            }
            Condition::Status(names) => {
                sql.push(" AND status = ANY(").push_bind(names).push(")");
            }
            Condition::Belongs(column, id) => {
                sql.push(format!(" AND {column} = ")).push_bind(id);
            }
            Condition::AwaitingCaller => {
                // The caller's capabilities, as the read connection was set
                // up with them (`reads.rs`).
                sql.push(
                    " AND awaiting_capability = ANY (string_to_array(\
                     current_setting('app.capabilities', true), ','))",
                );
            }
            Condition::Search(text) => crate::search::push_matching(sql, TABLE, text),
        }
        Ok(())
    }
}

/// Defines a filter's input object and its conditions: `status` of the
/// type's status enum where it has one, "awaiting my approval" where the
/// type has approvals, an id per column it belongs through, and `search`.
macro_rules! filter {
    (
        $(#[$doc:meta])*
        $filter:ident {
            $(@status $status:ty;)?
            $(@awaiting $awaiting:ident;)?
            $($(#[$field_doc:meta])* $field:ident => $column:literal,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, InputObject)]
        pub struct $filter {
            $(
                /// Only those in one of these statuses.
                pub status: Option<Vec<$status>>,
            )?
            $(
                /// Only those pending an approval the caller's capabilities
                /// may give next (`true`); `false` does not narrow.
                pub $awaiting: Option<bool>,
            )?
            $($(#[$field_doc])* pub $field: Option<Uuid>,)*
            /// Only those with each of these words, as a prefix, in their
            /// name.
            pub search: Option<String>,
        }

        impl $filter {
            /// The conditions it sets.
            fn conditions(self) -> Vec<Condition> {
                [
                    $(Condition::statuses::<$status>(self.status),)?
                    $(self.$awaiting.filter(|yes| *yes).map(|_| Condition::AwaitingCaller),)?
                    $(Condition::belongs($column, self.$field),)*
                    Condition::search(self.search),
                ]
                .into_iter()
                .flatten()
                .collect()
            }
        }
    };
}

filter! {
    /// Which production advances to list.
    ProductionAdvanceFilter {
        @status AdvanceStatus;
        @awaiting awaiting_my_approval;
        /// Only those of this event.
        event_id => "event_id",
        /// Only those assigned to this member.
        assignee_id => "assignee_id",
    }
}
filter! {
    /// Which invoices to list.
    InvoiceFilter {
        @status InvoiceStatus;
        /// Only those with this company.
        company_id => "company_id",
    }
}
filter! {
    /// Which contracts to list.
    ContractFilter {
        @status ContractStatus;
        /// Only those with this company.
        company_id => "company_id",
    }
}
filter! {
    /// Which events to list.
    EventFilter {
        @status EventStatus;
        /// Only those at this venue.
        venue_id => "venue_id",
    }
}
filter! {
    /// Which venues to list.
    VenueFilter {}
}
filter! {
    /// Which tasks to list.
    TaskFilter {
        @status TaskStatus;
        /// Only those of this event.
        event_id => "event_id",
        /// Only those assigned to this member.
        assignee_id => "assignee_id",
    }
}
filter! {
    /// Which shifts to list.
    ShiftFilter {
        @status ShiftStatus;
        /// Only those of this event.
        event_id => "event_id",
        /// Only those of this member.
        assignee_id => "assignee_id",
    }
}
filter! {
    /// Which assets to list.
    AssetFilter {
        @status AssetStatus;
        /// Only those kept at this venue.
        venue_id => "venue_id",
        /// Only those this member holds.
        assignee_id => "assignee_id",
    }
}
filter! {
    /// Which companies to list.
    CompanyFilter {}
}
filter! {
    /// Which contacts to list.
    ContactFilter {
        /// Only those of this company.
        company_id => "company_id",
    }
}
filter! {
    /// Which expenses to list.
    ExpenseFilter {
        @status ExpenseStatus;
        /// Only those of this event.
        event_id => "event_id",
    }
}
filter! {
    /// Which documents to list.
    DocumentEntityFilter {
        @status DocumentStatus;
        /// Only those attached to this entity.
        attached_to => "attached_to",
    }
}
filter! {
    /// Which comments to list.
    CommentFilter {
        /// Only those on this entity.
        attached_to => "attached_to",
    }
}

/// Defines [`EntityListQuery`], one list per aggregate type, and each
/// filter's [`Listed`] implementation.
macro_rules! lists {
    ($($field:ident: $aggregate:ident, $filter:ident => $doc:literal,)*) => {
        /// Lists of entities by type.
        #[derive(Default)]
        pub struct EntityListQuery;

        #[Object]
        impl EntityListQuery {
            $(
                #[doc = $doc]
                #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
                async fn $field(
                    &self,
                    ctx: &Context<'_>,
                    filter: Option<$filter>,
                    first: Option<i32>,
                    after: Option<String>,
                    last: Option<i32>,
                    before: Option<String>,
                    #[graphql(
                        desc = "Wait (a few seconds at most) until the list shows the event at this position, a mutation's `position`."
                    )]
                    after_position: Option<i64>,
                ) -> async_graphql::Result<PageOf<Entry<$aggregate>>> {
                    let listing = Listing {
                        first,
                        after,
                        last,
                        before,
                        after_position,
                    };
                    resolve(ctx, filter, listing).await
                }
            )*
        }

        $(
            impl Listed for $filter {
                type Row = Entry<$aggregate>;
                const TABLE: &'static str = TABLE;
                const COLUMNS: &'static str = "id, entity_id, version, state, created_at";
                const ORDER: Order = Order {
                    column: "created_at",
                    descending: true,
                };

                fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
                    push::<$aggregate>(self.conditions(), sql)
                }

                fn ordered(&self) -> bool {
                    ordered(&self.clone().conditions())
                }

                fn take_search(&mut self) -> Option<String> {
                    self.search.take().filter(|text| !text.trim().is_empty())
                }
            }
        )*
    };
}

lists! {
    production_advances: ProductionAdvance, ProductionAdvanceFilter => "Production advances, newest first.",
    invoices: Invoice, InvoiceFilter => "Invoices, newest first.",
    contracts: Contract, ContractFilter => "Contracts, newest first.",
    events: Event, EventFilter => "Events, newest first.",
    venues: Venue, VenueFilter => "Venues, newest first.",
    tasks: Task, TaskFilter => "Tasks, newest first.",
    shifts: Shift, ShiftFilter => "Shifts, newest first.",
    assets: Asset, AssetFilter => "Assets, newest first.",
    companies: Company, CompanyFilter => "Companies, newest first.",
    contacts: Contact, ContactFilter => "Contacts, newest first.",
    expenses: Expense, ExpenseFilter => "Expenses, newest first.",
    document_entities: Document, DocumentEntityFilter => "Documents as entities, newest first (`documents` is the registry, which also shows other entities' files).",
    comments: Comment, CommentFilter => "Comments, newest first.",
}

/// Adds the type and the conditions to a page of `A`'s list.
fn push<A>(
    conditions: Vec<Condition>,
    sql: &mut QueryBuilder<'static, Postgres>,
) -> Result<(), ApiError>
where
    A: DomainAggregate,
    A::Command: DomainCommand,
{
    // A constant of the code, written into the text so that the planner
    // knows the type's share of the table.
    sql.push(format!(" AND entity_type = '{}'", A::TYPE));
    for condition in conditions {
        condition.push(sql)?;
    }
    Ok(())
}

/// Whether a page with `conditions` is one index range read in order,
/// whatever the values: only the type's list alone. A condition has an
/// index led by its column (`migrations/0021_entity_directory.sql`), but
/// how many of a type's rows one value keeps varies (one status is most of
/// the list, another none; values are shared across types), and a generic
/// plan, made without the value, guessed a handful and sorted them all
/// (the plan test). Those pages are planned for their values.
fn ordered(conditions: &[Condition]) -> bool {
    conditions.is_empty()
}
