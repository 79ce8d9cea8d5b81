use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;

use super::*;
use crate::testing::{ctx, ctx_for, ExpectErrorContaining, AGG, ALICE, BOB, ORG};

type Fx = TestFramework<ProductionAdvance>;
type C = ProductionAdvanceCommand;
type E = ProductionAdvanceEvent;

const EVENT: Uuid = Uuid::from_u128(0xe7);
const VENDOR: Uuid = Uuid::from_u128(0x7e4d);
const STAGE: Uuid = Uuid::from_u128(1);
const LIGHTS: Uuid = Uuid::from_u128(2);
const RIGGING: Uuid = Uuid::from_u128(3);

fn member() -> CommandContext {
    ctx(Role::Member)
}

fn created() -> E {
    E::AdvanceCreated {
        advance_id: AGG,
        organization_id: ORG,
        owner_id: ALICE,
        event_id: EVENT,
        code: "ADV-001".into(),
        advance_type: AdvanceType::LoadIn,
        priority: Priority::High,
        currency: Currency::default(),
        due_date: None,
        assignee: None,
        visibility: Visibility::Organization,
    }
}

fn item(item_id: Uuid, quantity: i64, unit_cost: i64, depends_on: &[Uuid]) -> E {
    E::ItemAdded {
        item_id,
        name: format!("item {item_id}"),
        category: ItemCategory::Technical,
        vendor_id: Some(VENDOR),
        quantity_required: quantity,
        unit_cost,
        schedule: ItemSchedule::default(),
        critical_path: false,
        depends_on: depends_on.iter().copied().collect(),
    }
}

fn add(item_id: Uuid, quantity: i64, unit_cost: i64, depends_on: &[Uuid]) -> C {
    C::AddItem {
        item_id,
        name: format!("item {item_id}"),
        category: ItemCategory::Technical,
        vendor_id: Some(VENDOR),
        quantity_required: quantity,
        unit_cost,
        schedule: ItemSchedule::default(),
        critical_path: false,
        depends_on: depends_on.iter().copied().collect(),
    }
}

/// A draft with a stage (2 × 1,000.00) and lights (depending on the stage, 10 × 150.00).
fn draft() -> Vec<E> {
    vec![
        created(),
        item(STAGE, 2, 1_000_00, &[]),
        item(LIGHTS, 10, 150_00, &[STAGE]),
    ]
}

fn approved() -> Vec<E> {
    let mut events = draft();
    events.extend([
        E::AdvanceSubmitted {
            total_cost: 3_500_00,
            required_approvals: vec![Capability::ProductionManager],
        },
        E::ApprovalGranted {
            capability: Capability::ProductionManager,
            approver_id: BOB,
        },
        E::AdvanceApproved { automatic: false },
    ]);
    events
}

fn time(hour: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    Utc.with_ymd_and_hms(2026, 12, 5, hour, 0, 0).unwrap()
}

#[test]
fn create() {
    Fx::with(member())
        .given_no_previous_events()
        .when(C::CreateAdvance {
            event_id: EVENT,
            code: "ADV-001".into(),
            advance_type: AdvanceType::LoadIn,
            priority: Priority::High,
            currency: Currency::default(),
            due_date: None,
            assignee: None,
            visibility: Visibility::Organization,
        })
        .then_expect_events(vec![created()]);
}

#[test]
fn create_twice_and_blank_code_are_refused() {
    let command = C::CreateAdvance {
        event_id: EVENT,
        code: "".into(),
        advance_type: AdvanceType::LoadIn,
        priority: Priority::High,
        currency: Currency::default(),
        due_date: None,
        assignee: None,
        visibility: Visibility::Organization,
    };
    Fx::with(member())
        .given(vec![created()])
        .when(command.clone())
        .then_expect_error(DomainError::AlreadyExists(ENTITY));
    Fx::with(member())
        .given_no_previous_events()
        .when(command)
        .then_expect_error(DomainError::field("code", "`code` must not be empty"));
}

#[test]
fn update_needs_something_to_change() {
    Fx::with(member())
        .given(vec![created()])
        .when(C::UpdateAdvance {
            priority: Some(Priority::Critical),
            due_date: None,
            assignee: Some(BOB),
        })
        .then_expect_events(vec![E::AdvanceUpdated {
            priority: Some(Priority::Critical),
            due_date: None,
            assignee: Some(BOB),
        }]);
    Fx::with(member())
        .given(vec![created()])
        .when(C::UpdateAdvance {
            priority: None,
            due_date: None,
            assignee: None,
        })
        .then_expect_error(DomainError::invalid("nothing to update"));
}

#[test]
fn add_item() {
    Fx::with(member())
        .given(vec![created(), item(STAGE, 1, 10, &[])])
        .when(add(LIGHTS, 4, 25_00, &[STAGE]))
        .then_expect_events(vec![item(LIGHTS, 4, 25_00, &[STAGE])]);
}

#[test]
fn add_item_refuses_bad_values() {
    let given = vec![created(), item(STAGE, 1, 10, &[])];
    Fx::with(member())
        .given(given.clone())
        .when(add(LIGHTS, 0, 10, &[]))
        .then_expect_error(DomainError::field(
            "quantity_required",
            "quantity must be at least 1",
        ));
    Fx::with(member())
        .given(given.clone())
        .when(add(LIGHTS, 1, -1, &[]))
        .then_expect_error(DomainError::field(
            "unit_cost",
            "unit cost must not be negative",
        ));
    Fx::with(member())
        .given(given.clone())
        .when(add(STAGE, 1, 1, &[]))
        .then_expect_error_containing("already exists");
    Fx::with(member())
        .given(given.clone())
        .when(add(LIGHTS, 1, 1, &[RIGGING]))
        .then_expect_error_containing("is not on this advance");
    Fx::with(member())
        .given(given)
        .when(C::AddItem {
            item_id: LIGHTS,
            name: "lights".into(),
            category: ItemCategory::Technical,
            vendor_id: None,
            quantity_required: 1,
            unit_cost: 1,
            schedule: ItemSchedule {
                delivery: Some(time(12)),
                load_in: Some(time(9)),
                strike: None,
            },
            critical_path: true,
            depends_on: BTreeSet::new(),
        })
        .then_expect_error(DomainError::invalid("delivery must not be after load-in"));
}

#[test]
fn items_are_locked_once_submitted() {
    Fx::with(member())
        .given(approved())
        .when(add(RIGGING, 1, 1, &[]))
        .then_expect_error_containing("cannot add items to the production advance: it is approved");
    Fx::with(member())
        .given(approved())
        .when(C::ChangeItemCost {
            item_id: STAGE,
            quantity_required: 1,
            unit_cost: 1,
        })
        .then_expect_error_containing("cannot change costs of");
}

#[test]
fn totals_are_derived_from_items() {
    let mut advance = ProductionAdvance::default();
    for event in draft() {
        advance.apply(event);
    }
    assert_eq!(advance.total_cost().unwrap(), 3_500_00);
    advance.apply(E::ItemCostChanged {
        item_id: LIGHTS,
        quantity_required: 1,
        unit_cost: 1_00,
    });
    assert_eq!(advance.total_cost().unwrap(), 2_001_00);
}

#[test]
fn change_item_cost_and_remove() {
    Fx::with(member())
        .given(draft())
        .when(C::ChangeItemCost {
            item_id: LIGHTS,
            quantity_required: 3,
            unit_cost: 5,
        })
        .then_expect_events(vec![E::ItemCostChanged {
            item_id: LIGHTS,
            quantity_required: 3,
            unit_cost: 5,
        }]);
    Fx::with(member())
        .given(draft())
        .when(C::RemoveItem { item_id: LIGHTS })
        .then_expect_events(vec![E::ItemRemoved { item_id: LIGHTS }]);
}

#[test]
fn an_item_others_depend_on_cannot_be_removed() {
    Fx::with(member())
        .given(draft())
        .when(C::RemoveItem { item_id: STAGE })
        .then_expect_error_containing("depends on item");
}

#[test]
fn dependencies_without_cycles() {
    let mut given = draft();
    given.push(item(RIGGING, 1, 1, &[]));
    Fx::with(member())
        .given(given.clone())
        .when(C::SetItemDependencies {
            item_id: STAGE,
            depends_on: [RIGGING].into(),
        })
        .then_expect_events(vec![E::ItemDependenciesSet {
            item_id: STAGE,
            depends_on: [RIGGING].into(),
        }]);
    // lights → stage, so stage → lights would close a cycle.
    Fx::with(member())
        .given(given.clone())
        .when(C::SetItemDependencies {
            item_id: STAGE,
            depends_on: [LIGHTS].into(),
        })
        .then_expect_error_containing("would form a cycle");
    // A longer cycle: rigging → lights → stage → rigging.
    given.push(E::ItemDependenciesSet {
        item_id: STAGE,
        depends_on: [RIGGING].into(),
    });
    Fx::with(member())
        .given(given.clone())
        .when(C::SetItemDependencies {
            item_id: RIGGING,
            depends_on: [LIGHTS].into(),
        })
        .then_expect_error_containing("would form a cycle");
    Fx::with(member())
        .given(given)
        .when(C::SetItemDependencies {
            item_id: RIGGING,
            depends_on: [RIGGING].into(),
        })
        .then_expect_error_containing("would form a cycle");
}

#[test]
fn reschedule_and_confirm_quantity() {
    let schedule = ItemSchedule {
        delivery: Some(time(8)),
        load_in: Some(time(9)),
        strike: Some(time(23)),
    };
    Fx::with(member())
        .given(draft())
        .when(C::RescheduleItem {
            item_id: STAGE,
            schedule: schedule.clone(),
        })
        .then_expect_events(vec![E::ItemRescheduled {
            item_id: STAGE,
            schedule,
        }]);
    Fx::with(member())
        .given(draft())
        .when(C::ConfirmItemQuantity {
            item_id: STAGE,
            quantity_confirmed: 2,
        })
        .then_expect_events(vec![E::ItemQuantityConfirmed {
            item_id: STAGE,
            quantity_confirmed: 2,
        }]);
    Fx::with(member())
        .given(draft())
        .when(C::ConfirmItemQuantity {
            item_id: STAGE,
            quantity_confirmed: 3,
        })
        .then_expect_error(DomainError::field(
            "quantity_confirmed",
            "confirmed quantity must be between 0 and 2",
        ));
}

#[test]
fn submitting_an_empty_advance_is_refused() {
    Fx::with(member())
        .given(vec![created()])
        .when(C::SubmitForApproval)
        .then_expect_error_containing("at least one item");
}

#[test]
fn small_advances_are_approved_automatically() {
    Fx::with(member())
        .given(vec![created(), item(STAGE, 2, 250_00, &[])])
        .when(C::SubmitForApproval)
        .then_expect_events(vec![
            E::AdvanceSubmitted {
                total_cost: 500_00,
                required_approvals: vec![],
            },
            E::AdvanceApproved { automatic: true },
        ]);
}

#[test]
fn submission_computes_the_tier() {
    Fx::with(member())
        .given(draft())
        .when(C::SubmitForApproval)
        .then_expect_events(vec![E::AdvanceSubmitted {
            total_cost: 3_500_00,
            required_approvals: vec![Capability::ProductionManager],
        }]);
}

fn submitted_large() -> Vec<E> {
    vec![
        created(),
        item(STAGE, 1, 30_000_00, &[]),
        E::AdvanceSubmitted {
            total_cost: 30_000_00,
            required_approvals: vec![
                Capability::ProductionManager,
                Capability::EventDirector,
                Capability::Finance,
            ],
        },
    ]
}

#[test]
fn approvals_come_in_tier_order() {
    let pm = ctx_for(BOB, Role::Member, &[Capability::ProductionManager]);
    let director = ctx_for(BOB, Role::Member, &[Capability::EventDirector]);
    let finance = ctx_for(BOB, Role::Member, &[Capability::Finance]);
    // The director cannot go first.
    Fx::with(director.clone())
        .given(submitted_large())
        .when(C::Approve)
        .then_expect_error(DomainError::MissingCapability(
            Capability::ProductionManager,
        ));
    Fx::with(pm)
        .given(submitted_large())
        .when(C::Approve)
        .then_expect_events(vec![E::ApprovalGranted {
            capability: Capability::ProductionManager,
            approver_id: BOB,
        }]);
    let mut after_pm = submitted_large();
    after_pm.push(E::ApprovalGranted {
        capability: Capability::ProductionManager,
        approver_id: BOB,
    });
    // Finance cannot skip the director.
    Fx::with(finance.clone())
        .given(after_pm.clone())
        .when(C::Approve)
        .then_expect_error(DomainError::MissingCapability(Capability::EventDirector));
    let mut after_director = after_pm;
    after_director.push(E::ApprovalGranted {
        capability: Capability::EventDirector,
        approver_id: BOB,
    });
    Fx::with(finance)
        .given(after_director)
        .when(C::Approve)
        .then_expect_events(vec![
            E::ApprovalGranted {
                capability: Capability::Finance,
                approver_id: BOB,
            },
            E::AdvanceApproved { automatic: false },
        ]);
}

#[test]
fn approve_is_refused_unless_pending() {
    Fx::with(ctx_for(BOB, Role::Owner, &[Capability::ProductionManager]))
        .given(draft())
        .when(C::Approve)
        .then_expect_error_containing("cannot approve the production advance: it is draft");
}

#[test]
fn rejection_sends_back_to_draft() {
    let pm = ctx_for(BOB, Role::Member, &[Capability::ProductionManager]);
    Fx::with(pm)
        .given(submitted_large())
        .when(C::RejectApproval {
            reason: "too expensive".into(),
        })
        .then_expect_events(vec![E::ApprovalRejected {
            rejected_by: BOB,
            reason: "too expensive".into(),
        }]);
    Fx::with(member())
        .given(submitted_large())
        .when(C::RejectApproval {
            reason: "no".into(),
        })
        .then_expect_error(DomainError::MissingCapability(
            Capability::ProductionManager,
        ));
    let mut rejected = submitted_large();
    rejected.push(E::ApprovalRejected {
        rejected_by: BOB,
        reason: "x".into(),
    });
    Fx::with(member())
        .given(rejected)
        .when(add(RIGGING, 1, 1, &[]))
        .then_expect_events(vec![item(RIGGING, 1, 1, &[])]);
}

#[test]
fn item_status_moves_forward_only() {
    Fx::with(member())
        .given(approved())
        .when(C::ChangeItemStatus {
            item_id: STAGE,
            status: ItemStatus::Delivered,
        })
        .then_expect_events(vec![E::ItemStatusChanged {
            item_id: STAGE,
            from: ItemStatus::Pending,
            to: ItemStatus::Delivered,
        }]);
    let mut given = approved();
    given.push(E::ItemStatusChanged {
        item_id: STAGE,
        from: ItemStatus::Pending,
        to: ItemStatus::Delivered,
    });
    Fx::with(member())
        .given(given)
        .when(C::ChangeItemStatus {
            item_id: STAGE,
            status: ItemStatus::Confirmed,
        })
        .then_expect_error_containing("only moves forward");
    Fx::with(member())
        .given(draft())
        .when(C::ChangeItemStatus {
            item_id: STAGE,
            status: ItemStatus::Confirmed,
        })
        .then_expect_error_containing("cannot move items of");
}

#[test]
fn an_item_is_not_installed_before_its_dependencies() {
    Fx::with(member())
        .given(approved())
        .when(C::ChangeItemStatus {
            item_id: LIGHTS,
            status: ItemStatus::Installed,
        })
        .then_expect_error_containing("before item");
}

#[test]
fn fulfillment_percentage_is_bounded() {
    Fx::with(member())
        .given(approved())
        .when(C::RecordFulfillment {
            item_id: STAGE,
            stage: FulfillmentStage::Shipped,
            percentage: 100,
        })
        .then_expect_events(vec![E::FulfillmentRecorded {
            item_id: STAGE,
            stage: FulfillmentStage::Shipped,
            percentage: 100,
        }]);
    Fx::with(member())
        .given(approved())
        .when(C::RecordFulfillment {
            item_id: STAGE,
            stage: FulfillmentStage::Shipped,
            percentage: 101,
        })
        .then_expect_error(DomainError::field(
            "percentage",
            "percentage must be between 0 and 100",
        ));
}

fn rate(vendor_id: Uuid, quality: u8) -> C {
    C::RateVendor {
        vendor_id,
        item_id: Some(STAGE),
        on_time: true,
        quality,
        communication: 4,
        would_recommend: true,
        comment: None,
    }
}

#[test]
fn vendor_ratings() {
    Fx::with(member())
        .given(approved())
        .when(rate(VENDOR, 5))
        .then_expect_events(vec![E::VendorRated(VendorRating {
            vendor_id: VENDOR,
            item_id: Some(STAGE),
            on_time: true,
            quality: 5,
            communication: 4,
            would_recommend: true,
            comment: None,
            rated_by: ALICE,
        })]);
    for quality in [0, 6] {
        Fx::with(member())
            .given(approved())
            .when(rate(VENDOR, quality))
            .then_expect_error(DomainError::field(
                "quality",
                "quality rating must be between 1 and 5",
            ));
    }
    Fx::with(member())
        .given(approved())
        .when(rate(Uuid::from_u128(99), 3))
        .then_expect_error_containing("supplies no rated item");
}

#[test]
fn attach_document_once() {
    let attach = C::AttachDocument {
        document_id: Uuid::from_u128(0xd0c),
        kind: AttachmentKind::Rider,
        name: "Hospitality rider".into(),
        url: "https://files.example.com/rider.pdf".into(),
    };
    Fx::with(member())
        .given(vec![created()])
        .when(attach.clone())
        .then_expect_events(vec![E::DocumentAttached(Attachment {
            document_id: Uuid::from_u128(0xd0c),
            kind: AttachmentKind::Rider,
            name: "Hospitality rider".into(),
            url: "https://files.example.com/rider.pdf".into(),
        })]);
    let mut given = vec![created()];
    given.push(E::DocumentAttached(Attachment {
        document_id: Uuid::from_u128(0xd0c),
        kind: AttachmentKind::Rider,
        name: "x".into(),
        url: "y".into(),
    }));
    Fx::with(member())
        .given(given)
        .when(attach)
        .then_expect_error_containing("already attached");
}

#[test]
fn completion_needs_every_item_complete() {
    Fx::with(member())
        .given(approved())
        .when(C::CompleteAdvance)
        .then_expect_error_containing("not complete");
    let mut given = approved();
    for item_id in [STAGE, LIGHTS] {
        given.push(E::ItemStatusChanged {
            item_id,
            from: ItemStatus::Pending,
            to: ItemStatus::Complete,
        });
    }
    Fx::with(member())
        .given(given)
        .when(C::CompleteAdvance)
        .then_expect_events(vec![E::AdvanceCompleted]);
}

#[test]
fn cancel_then_nothing_moves() {
    Fx::with(member())
        .given(draft())
        .when(C::CancelAdvance {
            reason: "show cancelled".into(),
        })
        .then_expect_events(vec![E::AdvanceCancelled {
            reason: "show cancelled".into(),
        }]);
    let mut given = draft();
    given.push(E::AdvanceCancelled { reason: "x".into() });
    Fx::with(member())
        .given(given)
        .when(C::SubmitForApproval)
        .then_expect_error_containing("cannot submit the production advance: it is cancelled");
}

#[test]
fn deleted_advances_refuse_commands() {
    Fx::with(ctx(Role::Admin))
        .given(draft())
        .when(C::DeleteAdvance)
        .then_expect_events(vec![E::AdvanceDeleted]);
    let mut given = draft();
    given.push(E::AdvanceDeleted);
    Fx::with(member())
        .given(given)
        .when(C::SubmitForApproval)
        .then_expect_error(DomainError::Deleted(ENTITY));
}

#[test]
fn commands_before_creation_are_refused() {
    Fx::with(member())
        .given_no_previous_events()
        .when(C::SubmitForApproval)
        .then_expect_error(DomainError::NotCreated(ENTITY));
}

#[test]
fn matrix_rows() {
    assert_eq!(
        C::DeleteAdvance.requirement(),
        Requirement::Role(Role::Admin)
    );
    assert_eq!(C::Approve.requirement(), Requirement::Role(Role::Member));
    assert_eq!(C::SubmitForApproval.name(), "SubmitForApproval");
}
