//! Mutations: one per command of every aggregate. Each takes the aggregate's
//! id (a new one for a command that creates), the command's fields as a JSON
//! object in `input`, and optionally the version the client based it on; the
//! command bus authorizes, decides and appends it.

use async_graphql::{Context, ErrorExtensions, Json, Object, SimpleObject};
use foldline_aggregates::{Command, RequestContext, Source};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::request::Request;

/// What a command did.
#[derive(Debug, Clone, SimpleObject)]
pub struct CommandResult {
    /// The aggregate it went to.
    pub id: Uuid,
    /// The aggregate's version after it.
    pub version: u64,
    /// The global position of its last event: pass it as `afterPosition` to a
    /// query to read this write.
    pub position: i64,
    /// How many events it appended.
    pub events: usize,
}

/// Sends `command` (with `input`'s fields) to `aggregate` `id`.
async fn send(
    ctx: &Context<'_>,
    aggregate: &str,
    command: &str,
    id: Uuid,
    input: Option<Json<Value>>,
    expected_version: Option<u64>,
) -> Result<CommandResult, ApiError> {
    let request = Request::of(ctx)?;
    let mut fields = match input.map(|Json(value)| value) {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(fields)) => fields,
        Some(_) => {
            return Err(ApiError::BadUserInput(
                "`input` must be an object of the command's fields".into(),
            ))
        }
    };
    fields.insert("type".into(), Value::String(command.to_owned()));
    let envelope = serde_json::json!({"aggregate": aggregate, "command": fields});
    let command: Command = serde_json::from_value(envelope)
        .map_err(|error| ApiError::BadUserInput(format!("invalid input for {command}: {error}")))?;
    let context = RequestContext::new(
        request.caller.organization_id,
        request.caller.user_id,
        Source::Api,
    )
    .with_request_id(request.request_id.clone());
    let outcome = request
        .bus
        .dispatch(&context, id, command, expected_version)
        .await?;
    Ok(CommandResult {
        id: outcome.aggregate_id,
        version: outcome.version,
        position: outcome.global_position,
        events: outcome.events,
    })
}

/// Defines [`Mutation`] with one field per command.
macro_rules! mutations {
    ($($aggregate:ident { $($command:ident => $doc:literal),* $(,)? })*) => {
        /// Every command of every aggregate.
        #[derive(Default)]
        pub struct Mutation;

        #[Object]
        impl Mutation {
            $($(
                #[doc = $doc]
                async fn $command(
                    &self,
                    ctx: &Context<'_>,
                    id: Uuid,
                    input: Option<Json<Value>>,
                    expected_version: Option<u64>,
                ) -> async_graphql::Result<CommandResult> {
                    send(ctx, stringify!($aggregate), stringify!($command), id, input, expected_version)
                        .await
                        .map_err(|e| e.extend())
                }
            )*)*
        }

        /// The commands with a mutation, by aggregate type.
        pub const COMMANDS: &[(&str, &[&str])] = &[
            $((stringify!($aggregate), &[$(stringify!($command)),*]),)*
        ];
    };
}

mutations! {
    Organization {
        create_organization => "Creates the organization with its sender as the first owner.",
        rename_organization => "Renames the organization.",
        add_member => "Adds a user as a member.",
        change_member_role => "Changes a member's role.",
        set_member_capabilities => "Replaces a member's approval capabilities.",
        remove_member => "Removes a member; members may remove themselves (leave).",
    }
    ProductionAdvance {
        create_advance => "Opens an advance for an event.",
        update_advance => "Changes priority, due date or assignee; absent fields stay as they are.",
        add_item => "Adds a line item (draft only).",
        change_item_cost => "Changes an item's quantity or unit cost (draft only).",
        remove_item => "Removes an item no other item depends on (draft only).",
        set_item_dependencies => "Replaces an item's dependencies; cycles are refused.",
        reschedule_item => "Moves an item's delivery, load-in and strike times.",
        confirm_item_quantity => "Records how many units the vendor confirmed.",
        change_item_status => "Moves an item forward in `pending → … → complete` (approved advances only).",
        record_fulfillment => "Records progress of one fulfillment stage of an item.",
        submit_for_approval => "Submits the advance; its total cost decides who must approve.",
        approve => "Gives the next approval the cost tier needs.",
        reject_approval => "Sends a submitted advance back to draft.",
        rate_vendor => "Rates a vendor of this advance.",
        attach_document => "Attaches a rider, spec or other document.",
        complete_advance => "Closes an approved advance whose items are all complete.",
        cancel_advance => "Calls the advance off.",
        delete_advance => "Soft-deletes the advance.",
    }
    Invoice {
        draft_invoice => "Starts a draft.",
        add_invoice_line => "Adds a line (draft only).",
        remove_invoice_line => "Removes a line (draft only).",
        change_due_date => "Moves the due date of an unpaid invoice.",
        issue_invoice => "Issues the draft.",
        record_payment => "Records a payment, at most the open balance.",
        attach_invoice_pdf => "Attaches the invoice's PDF.",
        void_invoice => "Voids an invoice with no payments. Final.",
        delete_invoice => "Soft-deletes a draft or void invoice.",
    }
    Contract {
        draft_contract => "Drafts version 1.",
        amend_contract => "Replaces the terms with a new numbered version.",
        send_contract => "Sends the draft to the counterparty.",
        sign_contract => "Records the counterparty's signature.",
        activate_contract => "Puts the signed contract in force.",
        expire_contract => "Ends an active contract at the end of its term.",
        terminate_contract => "Ends a signed or active contract early.",
        delete_contract => "Soft-deletes a contract that is not in force.",
    }
    Event {
        plan_event => "Plans the event.",
        rename_event => "Gives the event a new title.",
        reschedule_event => "Moves the event in time (planning or confirmed only).",
        change_event_venue => "Moves the event to another venue, or to none (not once it is over).",
        confirm_event => "Confirms the planned event.",
        start_event => "Marks the confirmed event as happening.",
        complete_event => "Marks the live event as over.",
        cancel_event => "Calls the event off. Final.",
        delete_event => "Soft-deletes the event.",
    }
    Venue {
        register_venue => "Registers the venue.",
        update_venue => "Changes the given details; at least one must be given.",
        move_venue => "Records a new address (and map position) for the venue.",
        delete_venue => "Soft-deletes the venue.",
    }
    Task {
        create_task => "Creates the task in `todo`.",
        update_task => "Changes the title and/or the description; at least one must be given.",
        assign_task => "Assigns the task to a member, or unassigns it.",
        set_task_due_date => "Sets or removes the due date.",
        change_task_priority => "Changes the priority.",
        start_task => "Starts work on a `todo` or `blocked` task.",
        block_task => "Marks a `todo` or `in_progress` task as blocked.",
        complete_task => "Finishes a task that is not done yet.",
        reopen_task => "Puts a done task back to `todo`.",
        delete_task => "Soft-deletes the task, in any status.",
    }
    Shift {
        schedule_shift => "Schedules the shift.",
        reschedule_shift => "Moves the shift in time (not once cancelled).",
        confirm_shift => "Confirms the scheduled shift, booking the member.",
        cancel_shift => "Calls the shift off, releasing the booking. Final.",
        delete_shift => "Soft-deletes the shift, releasing the booking.",
    }
    Asset {
        register_asset => "Registers the asset, `available`.",
        update_asset => "Changes name, tag and/or value; at least one must be given.",
        move_asset => "Moves the asset to another venue, or to none. Not while checked out.",
        check_out_asset => "Hands an `available` asset to a member.",
        check_in_asset => "Takes a checked-out asset back.",
        consume_asset => "Uses up some of a consumable's stock.",
        restock_asset => "Adds stock.",
        schedule_maintenance => "Plans the next maintenance, replacing any planned one. Not once retired.",
        start_maintenance => "Takes an `available` asset into maintenance.",
        record_maintenance => "Records a maintenance done; the asset ends `available` and the planned maintenance is cleared.",
        retire_asset => "Takes the asset out of service for good. Not while checked out.",
        delete_asset => "Soft-deletes the asset. Not while checked out.",
    }
    Company {
        register_company => "Registers the company.",
        update_company => "Changes any of name, kind, website, email and phone; at least one must be given. An empty website, email or phone removes it.",
        set_company_office => "Sets or removes the office.",
        delete_company => "Soft-deletes the company.",
    }
    Contact {
        add_contact => "Adds the contact.",
        update_contact => "Changes name, phone and/or title; at least one must be given.",
        change_contact_email => "Changes the email address.",
        move_contact_to_company => "Moves a company contact to another company.",
        delete_contact => "Soft-deletes the contact, freeing its email address.",
    }
    Expense {
        record_expense => "Records a draft expense.",
        revise_expense => "Changes a draft or rejected expense; a rejected one goes back to draft.",
        submit_expense => "Sends the draft to finance.",
        approve_expense => "Approves a submitted expense (finance only, never one's own submission).",
        reject_expense => "Sends a submitted expense back (finance only).",
        pay_expense => "Records the payment of an approved expense (finance only).",
        delete_expense => "Soft-deletes a draft or rejected expense.",
    }
    Document {
        upload_document => "Uploads version 1, attached to an entity.",
        rename_document => "Changes the title.",
        replace_document_file => "Replaces the file of an active document with a new version.",
        set_document_expiry => "Sets or clears the expiry date of a document that has not expired.",
        sign_document => "Records the signature of an active document.",
        expire_document => "Marks an active or signed document expired. Final.",
        delete_document => "Soft-deletes the document.",
    }
    Comment {
        post_comment => "Posts a comment on an entity, optionally as a reply.",
        edit_comment => "Changes the body (the author only).",
        delete_comment => "Soft-deletes the comment (the author, or an admin or owner moderating).",
    }
}
