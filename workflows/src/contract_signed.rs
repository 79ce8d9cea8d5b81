//! Contract signed: the event it is for is confirmed, if it is still being
//! planned, and an invoice is drafted for each of its payment terms, due
//! the term's days after the signature, with one line for the term's share
//! of the value (seed 002, "on signed: activate project + invoice plan").
//! The drafts are restricted, as invoices are by default, for finance to
//! check and issue; the contract's owner holds their account.

use cqrs_es::Aggregate;
use foldline_aggregates::contract::{Contract, ContractEvent};
use foldline_aggregates::event::EventCommand;
use foldline_aggregates::invoice::{self, Direction, InvoiceCommand};
use foldline_aggregates::workflow_kind::WorkflowKind;
use foldline_projectors::StoredEvent;

use crate::workflow::{fold, Context, Intent, Reaction, Workflow};

/// The workflow.
pub struct ContractSigned;

impl Workflow for ContractSigned {
    const KIND: WorkflowKind = WorkflowKind::ContractSigned;
    const ROOT: &'static str = Contract::TYPE;
    type State = Contract;

    fn react(
        &self,
        contract: &mut Contract,
        event: &StoredEvent,
        _: &Context,
    ) -> Result<Reaction, String> {
        let ContractEvent::ContractSigned { signed_on, .. } = fold(contract, event)? else {
            return Ok(Reaction::none());
        };
        let Some(version) = contract.current() else {
            return Ok(Reaction::none());
        };
        let mut send = Vec::new();
        if let Some(event_id) = version.terms.event_id {
            // An event confirmed already, or under way, needs nothing.
            send.push(Intent::now(event_id, EventCommand::ConfirmEvent).unless_done());
        }
        let Some(counterparty_id) = contract.counterparty_id else {
            return Ok(Reaction::send(send));
        };
        // The contract's id in the numbers keeps them apart from the
        // organization's own series and from another contract's.
        let series = event.aggregate_id.get(..8).unwrap_or(&event.aggregate_id);
        for installment in contract.installments(signed_on) {
            let n = installment.index + 1;
            let invoice = Intent::derived_id(event, &format!("invoice {n}"));
            send.push(Intent::now(
                invoice,
                InvoiceCommand::DraftInvoice {
                    number: format!("C-{series}-{n}"),
                    direction: Direction::Receivable,
                    counterparty_id,
                    counterparty_name: contract.counterparty_name.clone(),
                    currency: contract.currency.clone(),
                    due_on: installment.due_on,
                    visibility: invoice::default_visibility(),
                    owner_id: contract.owner_id,
                },
            ));
            // Sent after the draft: one aggregate's commands go in order.
            send.push(Intent::now(
                invoice,
                InvoiceCommand::AddInvoiceLine {
                    line_id: Intent::derived_id(event, &format!("invoice {n} line")),
                    description: format!("{}: {}", version.terms.title, installment.label),
                    quantity: 1,
                    unit_price: installment.amount,
                },
            ));
        }
        Ok(Reaction::send(send))
    }
}
