//! The Relay `Node` interface over every aggregate's object, and the hook by
//! which a read reaches the API's visibility rule.

use async_graphql::{Context, Interface, ID};
use uuid::Uuid;

use super::Read;
use crate::asset::Asset;
use crate::comment::Comment;
use crate::company::Company;
use crate::contact::Contact;
use crate::contract::Contract;
use crate::document::Document;
use crate::event::Event;
use crate::expense::Expense;
use crate::invoice::Invoice;
use crate::organization::Organization;
use crate::production_advance::ProductionAdvance;
use crate::shift::Shift;
use crate::task::Task;
use crate::venue::Venue;

/// An object with a global id: any aggregate, as `node(id:)` finds it.
#[derive(Interface, Debug, Clone)]
#[graphql(
    field(name = "id", ty = "ID", desc = "The global id: the aggregate's UUID."),
    field(
        name = "version",
        ty = "u64",
        desc = "The sequence of its last event: pass it as `expectedVersion`."
    )
)]
#[allow(clippy::large_enum_variant)]
pub enum Node {
    /// An organization.
    Organization(Read<Organization>),
    /// A production advance.
    ProductionAdvance(Read<ProductionAdvance>),
    /// An invoice.
    Invoice(Read<Invoice>),
    /// A contract.
    Contract(Read<Contract>),
    /// An event.
    Event(Read<Event>),
    /// A venue.
    Venue(Read<Venue>),
    /// A task.
    Task(Read<Task>),
    /// A shift.
    Shift(Read<Shift>),
    /// An asset.
    Asset(Read<Asset>),
    /// A company.
    Company(Read<Company>),
    /// A contact.
    Contact(Read<Contact>),
    /// An expense.
    Expense(Read<Expense>),
    /// A document.
    Document(Read<Document>),
    /// A comment.
    Comment(Read<Comment>),
}

/// Where reads of one aggregate go: the API puts one in the schema's data,
/// which applies the caller's visibility.
#[async_trait::async_trait]
pub trait NodeSource: Send + Sync {
    /// The aggregate `id` of `aggregate_type` as the caller of `ctx` may see
    /// it, or `None` if it does not exist for them.
    async fn node(
        &self,
        ctx: &Context<'_>,
        aggregate_type: &str,
        id: Uuid,
    ) -> async_graphql::Result<Option<Node>>;
}
