//! One enum over every aggregate's commands, for callers that pick the
//! aggregate at run time (fixtures, imports).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::bus::{CommandBus, CommandOutcome};
use crate::contract::{Contract, ContractCommand};
use crate::error::BusError;
use crate::invoice::{Invoice, InvoiceCommand};
use crate::metadata::RequestContext;
use crate::organization::{Organization, OrganizationCommand};
use crate::production_advance::{ProductionAdvance, ProductionAdvanceCommand};

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
}

impl Command {
    /// The aggregate type the command is for.
    pub fn aggregate_type(&self) -> &'static str {
        use cqrs_es::Aggregate;
        match self {
            Command::Organization(_) => Organization::TYPE,
            Command::ProductionAdvance(_) => ProductionAdvance::TYPE,
            Command::Invoice(_) => Invoice::TYPE,
            Command::Contract(_) => Contract::TYPE,
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
        }
    }
}
