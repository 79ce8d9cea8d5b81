//! One enum over every aggregate's commands, for callers that pick the
//! aggregate at run time (fixtures, imports, the load generator).

use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::asset::{Asset, AssetCommand};
use crate::bus::{CommandBus, CommandOutcome};
use crate::comment::{Comment, CommentCommand};
use crate::company::{Company, CompanyCommand};
use crate::contact::{Contact, ContactCommand};
use crate::contract::{Contract, ContractCommand};
use crate::document::{Document, DocumentCommand};
use crate::domain::DomainCommand;
use crate::error::BusError;
use crate::event::{Event, EventCommand};
use crate::expense::{Expense, ExpenseCommand};
use crate::invoice::{Invoice, InvoiceCommand};
use crate::metadata::RequestContext;
use crate::organization::{Organization, OrganizationCommand};
use crate::production_advance::{ProductionAdvance, ProductionAdvanceCommand};
use crate::shift::{Shift, ShiftCommand};
use crate::task::{Task, TaskCommand};
use crate::venue::{Venue, VenueCommand};

/// A command for any aggregate, tagged with the aggregate type:
/// `{"aggregate": "Invoice", "command": {"type": "issue_invoice", …}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "aggregate", content = "command")]
pub enum Command {
    /// A command on an organization.
    Organization(OrganizationCommand),
    /// A command on a production advance.
    ProductionAdvance(ProductionAdvanceCommand),
    /// A command on an invoice.
    Invoice(InvoiceCommand),
    /// A command on a contract.
    Contract(ContractCommand),
    /// A command on an event (show, rehearsal, meeting).
    Event(EventCommand),
    /// A command on a venue.
    Venue(VenueCommand),
    /// A command on a task.
    Task(TaskCommand),
    /// A command on a shift.
    Shift(ShiftCommand),
    /// A command on an asset.
    Asset(AssetCommand),
    /// A command on a company.
    Company(CompanyCommand),
    /// A command on a contact.
    Contact(ContactCommand),
    /// A command on an expense.
    Expense(ExpenseCommand),
    /// A command on a document.
    Document(DocumentCommand),
    /// A command on a comment.
    Comment(CommentCommand),
}

/// Each aggregate's commands are a [`Command`].
macro_rules! commands_are_commands {
    ($($variant:ident($command:ty)),* $(,)?) => {$(
        impl From<$command> for Command {
            fn from(command: $command) -> Self {
                Command::$variant(command)
            }
        }
    )*};
}

commands_are_commands!(
    Organization(OrganizationCommand),
    ProductionAdvance(ProductionAdvanceCommand),
    Invoice(InvoiceCommand),
    Contract(ContractCommand),
    Event(EventCommand),
    Venue(VenueCommand),
    Task(TaskCommand),
    Shift(ShiftCommand),
    Asset(AssetCommand),
    Company(CompanyCommand),
    Contact(ContactCommand),
    Expense(ExpenseCommand),
    Document(DocumentCommand),
    Comment(CommentCommand),
);

impl Command {
    /// The aggregate type the command is for.
    pub fn aggregate_type(&self) -> &'static str {
        match self {
            Command::Organization(_) => Organization::TYPE,
            Command::ProductionAdvance(_) => ProductionAdvance::TYPE,
            Command::Invoice(_) => Invoice::TYPE,
            Command::Contract(_) => Contract::TYPE,
            Command::Event(_) => Event::TYPE,
            Command::Venue(_) => Venue::TYPE,
            Command::Task(_) => Task::TYPE,
            Command::Shift(_) => Shift::TYPE,
            Command::Asset(_) => Asset::TYPE,
            Command::Company(_) => Company::TYPE,
            Command::Contact(_) => Contact::TYPE,
            Command::Expense(_) => Expense::TYPE,
            Command::Document(_) => Document::TYPE,
            Command::Comment(_) => Comment::TYPE,
        }
    }

    /// The command's name, e.g. `IssueInvoice`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Organization(c) => c.name(),
            Command::ProductionAdvance(c) => c.name(),
            Command::Invoice(c) => c.name(),
            Command::Contract(c) => c.name(),
            Command::Event(c) => c.name(),
            Command::Venue(c) => c.name(),
            Command::Task(c) => c.name(),
            Command::Shift(c) => c.name(),
            Command::Asset(c) => c.name(),
            Command::Company(c) => c.name(),
            Command::Contact(c) => c.name(),
            Command::Expense(c) => c.name(),
            Command::Document(c) => c.name(),
            Command::Comment(c) => c.name(),
        }
    }
}

impl CommandBus {
    /// Executes a [`Command`] on the aggregate it names; see [`CommandBus::execute`].
    pub async fn dispatch(
        &self,
        request: &RequestContext,
        aggregate_id: Uuid,
        command: Command,
        expected_version: Option<u64>,
    ) -> Result<CommandOutcome, BusError> {
        match command {
            Command::Organization(c) => {
                self.execute::<Organization>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::ProductionAdvance(c) => {
                self.execute::<ProductionAdvance>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Invoice(c) => {
                self.execute::<Invoice>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Contract(c) => {
                self.execute::<Contract>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Event(c) => {
                self.execute::<Event>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Venue(c) => {
                self.execute::<Venue>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Task(c) => {
                self.execute::<Task>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Shift(c) => {
                self.execute::<Shift>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Asset(c) => {
                self.execute::<Asset>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Company(c) => {
                self.execute::<Company>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Contact(c) => {
                self.execute::<Contact>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Expense(c) => {
                self.execute::<Expense>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Document(c) => {
                self.execute::<Document>(request, aggregate_id, c, expected_version)
                    .await
            }
            Command::Comment(c) => {
                self.execute::<Comment>(request, aggregate_id, c, expected_version)
                    .await
            }
        }
    }
}
