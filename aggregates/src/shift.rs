//! The Shift aggregate: a crew member working an event in a role, for a period.
//! A confirmed shift books its member for that period; a member's bookings may
//! not overlap.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::reference::{Claim, References};
use crate::visibility::Visibility;

const ENTITY: &str = "shift";

/// The aggregate type of the event a shift works on.
const EVENT: &str = "Event";

/// The status of a shift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ShiftStatus {
    /// Planned; the member is not booked yet.
    #[default]
    Scheduled,
    /// Agreed; the member is booked for the period.
    Confirmed,
    /// Called off for good.
    Cancelled,
}

/// A crew member's shift on an event.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Shift {
    /// The shift id, once scheduled.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who scheduled it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// The crew member working it.
    pub member_id: Option<Uuid>,
    /// The event it is for.
    pub event_id: Option<Uuid>,
    /// What the member does, e.g. `rigger`.
    pub role: String,
    /// When it starts.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends, after the start.
    pub ends_at: Option<DateTime<Utc>>,
    /// Status.
    pub status: ShiftStatus,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`Shift`].
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
    foldline_derive::GraphqlInput,
)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShiftCommand {
    /// Schedules the shift.
    ScheduleShift {
        /// The crew member; must be a member of the organization.
        member_id: Uuid,
        /// The event; must exist in the organization.
        event_id: Uuid,
        /// What the member does, e.g. `rigger`.
        role: String,
        /// When it starts.
        starts_at: DateTime<Utc>,
        /// When it ends, after the start.
        ends_at: DateTime<Utc>,
        /// Row visibility.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Moves the shift in time (not once cancelled).
    RescheduleShift {
        /// The new start.
        starts_at: DateTime<Utc>,
        /// The new end, after the start.
        ends_at: DateTime<Utc>,
    },
    /// Confirms the scheduled shift, booking the member.
    ConfirmShift,
    /// Calls the shift off, releasing the booking. Final.
    CancelShift {
        /// Why.
        reason: String,
    },
    /// Soft-deletes the shift, releasing the booking.
    DeleteShift,
}

impl DomainCommand for ShiftCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        use ShiftCommand as C;
        match self {
            C::ScheduleShift { .. }
            | C::RescheduleShift { .. }
            | C::ConfirmShift
            | C::CancelShift { .. } => Requirement::Role(Role::Member),
            C::DeleteShift => Requirement::Role(Role::Admin),
        }
    }

    fn references(&self) -> References {
        match self {
            ShiftCommand::ScheduleShift {
                member_id,
                event_id,
                ..
            } => References::none()
                .member(*member_id)
                .aggregate(EVENT, *event_id),
            _ => References::none(),
        }
    }
}

/// Events of a [`Shift`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum ShiftEvent {
    /// The shift was scheduled.
    ShiftScheduled {
        /// Its id.
        shift_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who scheduled it.
        owner_id: Uuid,
        /// The crew member.
        member_id: Uuid,
        /// The event.
        event_id: Uuid,
        /// What the member does.
        role: String,
        /// When it starts.
        starts_at: DateTime<Utc>,
        /// When it ends.
        ends_at: DateTime<Utc>,
        /// Row visibility.
        visibility: Visibility,
    },
    /// The shift moved in time.
    ShiftRescheduled {
        /// The new start.
        starts_at: DateTime<Utc>,
        /// The new end.
        ends_at: DateTime<Utc>,
    },
    /// Confirmed.
    ShiftConfirmed,
    /// Called off.
    ShiftCancelled {
        /// Why.
        reason: String,
    },
    /// Soft-deleted.
    ShiftDeleted,
}

domain_event!(ShiftEvent);

/// Refuses a period that does not end after it starts.
fn validate_period(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<(), DomainError> {
    if starts_at >= ends_at {
        return Err(DomainError::field(
            "ends_at",
            "a shift must end after it starts",
        ));
    }
    Ok(())
}

impl Shift {
    fn decide(
        &self,
        command: ShiftCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<ShiftEvent>, DomainError> {
        use ShiftCommand as C;
        use ShiftEvent as E;
        use ShiftStatus as S;

        if let C::ScheduleShift {
            member_id,
            event_id,
            role,
            starts_at,
            ends_at,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&role, "role")?;
            validate_period(starts_at, ends_at)?;
            return Ok(vec![E::ShiftScheduled {
                shift_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                member_id,
                event_id,
                role,
                starts_at,
                ends_at,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::ScheduleShift { .. } => unreachable!("handled above"),
            C::RescheduleShift { starts_at, ends_at } => {
                require_status(
                    ENTITY,
                    self.status,
                    "reschedule",
                    &[S::Scheduled, S::Confirmed],
                )?;
                validate_period(starts_at, ends_at)?;
                Ok(vec![E::ShiftRescheduled { starts_at, ends_at }])
            }
            C::ConfirmShift => {
                require_status(ENTITY, self.status, "confirm", &[S::Scheduled])?;
                Ok(vec![E::ShiftConfirmed])
            }
            C::CancelShift { reason } => {
                require_status(ENTITY, self.status, "cancel", &[S::Scheduled, S::Confirmed])?;
                require_text(&reason, "reason")?;
                Ok(vec![E::ShiftCancelled { reason }])
            }
            C::DeleteShift => Ok(vec![E::ShiftDeleted]),
        }
    }
}

event_sourced!(Shift, "Shift", ShiftCommand, ShiftEvent);

impl Shift {
    /// Folds one event into the state.
    fn evolve(&mut self, event: ShiftEvent) {
        use ShiftEvent as E;
        use ShiftStatus as S;
        match event {
            E::ShiftScheduled {
                shift_id,
                organization_id,
                owner_id,
                member_id,
                event_id,
                role,
                starts_at,
                ends_at,
                visibility,
            } => {
                self.id = Some(shift_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.member_id = Some(member_id);
                self.event_id = Some(event_id);
                self.role = role;
                self.starts_at = Some(starts_at);
                self.ends_at = Some(ends_at);
                self.visibility = visibility;
            }
            E::ShiftRescheduled { starts_at, ends_at } => {
                self.starts_at = Some(starts_at);
                self.ends_at = Some(ends_at);
            }
            E::ShiftConfirmed => self.status = S::Confirmed,
            E::ShiftCancelled { .. } => self.status = S::Cancelled,
            E::ShiftDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Shift {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }

    /// A confirmed, live shift books its member for its period; any other
    /// shift (not yet created, scheduled, cancelled, deleted) holds nothing.
    fn claims(&self) -> Option<Vec<Claim>> {
        if self.deleted || self.status != ShiftStatus::Confirmed {
            return Some(Vec::new());
        }
        match (self.member_id, self.starts_at, self.ends_at) {
            (Some(member_id), Some(starts_at), Some(ends_at)) => Some(vec![Claim::Booking {
                member_id,
                starts_at,
                ends_at,
            }]),
            _ => Some(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    use super::*;
    use crate::testing::{ctx, ExpectErrorContaining, AGG, ALICE, BOB, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Shift>;
    type C = ShiftCommand;
    type E = ShiftEvent;

    const GALA: Uuid = Uuid::from_u128(0x9a1a);

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    fn schedule() -> C {
        C::ScheduleShift {
            member_id: BOB,
            event_id: GALA,
            role: "rigger".into(),
            starts_at: at(12, 14),
            ends_at: at(12, 23),
            visibility: Visibility::Organization,
        }
    }

    fn scheduled() -> E {
        E::ShiftScheduled {
            shift_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            member_id: BOB,
            event_id: GALA,
            role: "rigger".into(),
            starts_at: at(12, 14),
            ends_at: at(12, 23),
            visibility: Visibility::Organization,
        }
    }

    fn confirmed() -> Vec<E> {
        vec![scheduled(), E::ShiftConfirmed]
    }

    fn cancelled() -> Vec<E> {
        vec![
            scheduled(),
            E::ShiftCancelled {
                reason: "crew cut".into(),
            },
        ]
    }

    fn reschedule() -> C {
        C::RescheduleShift {
            starts_at: at(12, 12),
            ends_at: at(12, 22),
        }
    }

    fn shift(events: Vec<E>) -> Shift {
        let mut shift = Shift::default();
        for event in events {
            shift.apply(event);
        }
        shift
    }

    #[test]
    fn schedule_a_shift() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(schedule())
            .then_expect_events(vec![scheduled()]);
    }

    #[test]
    fn schedule_twice_blank_or_backwards_is_refused() {
        Fx::with(ctx(Role::Member))
            .given(vec![scheduled()])
            .when(schedule())
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::ScheduleShift {
                member_id: BOB,
                event_id: GALA,
                role: " ".into(),
                starts_at: at(12, 14),
                ends_at: at(12, 23),
                visibility: Visibility::Organization,
            })
            .then_expect_error(DomainError::field("role", "`role` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::ScheduleShift {
                member_id: BOB,
                event_id: GALA,
                role: "rigger".into(),
                starts_at: at(12, 23),
                ends_at: at(12, 14),
                visibility: Visibility::Organization,
            })
            .then_expect_error(DomainError::field(
                "ends_at",
                "a shift must end after it starts",
            ));
    }

    #[test]
    fn reschedule_until_cancelled() {
        for given in [vec![scheduled()], confirmed()] {
            Fx::with(ctx(Role::Member))
                .given(given)
                .when(reschedule())
                .then_expect_events(vec![E::ShiftRescheduled {
                    starts_at: at(12, 12),
                    ends_at: at(12, 22),
                }]);
        }
        Fx::with(ctx(Role::Member))
            .given(vec![scheduled()])
            .when(C::RescheduleShift {
                starts_at: at(12, 12),
                ends_at: at(12, 12),
            })
            .then_expect_error(DomainError::field(
                "ends_at",
                "a shift must end after it starts",
            ));
        Fx::with(ctx(Role::Member))
            .given(cancelled())
            .when(reschedule())
            .then_expect_error_containing("cannot reschedule the shift: it is cancelled");
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(reschedule())
            .then_expect_error(DomainError::NotCreated(ENTITY));
    }

    #[test]
    fn confirm_only_a_scheduled_shift() {
        Fx::with(ctx(Role::Member))
            .given(vec![scheduled()])
            .when(C::ConfirmShift)
            .then_expect_events(vec![E::ShiftConfirmed]);
        Fx::with(ctx(Role::Member))
            .given(confirmed())
            .when(C::ConfirmShift)
            .then_expect_error_containing("cannot confirm the shift: it is confirmed");
        Fx::with(ctx(Role::Member))
            .given(cancelled())
            .when(C::ConfirmShift)
            .then_expect_error_containing("cannot confirm the shift: it is cancelled");
    }

    #[test]
    fn cancel_is_final() {
        for given in [vec![scheduled()], confirmed()] {
            Fx::with(ctx(Role::Member))
                .given(given)
                .when(C::CancelShift {
                    reason: "crew cut".into(),
                })
                .then_expect_events(vec![E::ShiftCancelled {
                    reason: "crew cut".into(),
                }]);
        }
        Fx::with(ctx(Role::Member))
            .given(vec![scheduled()])
            .when(C::CancelShift { reason: "".into() })
            .then_expect_error(DomainError::field("reason", "`reason` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given(cancelled())
            .when(C::CancelShift { reason: "x".into() })
            .then_expect_error_containing("cannot cancel the shift: it is cancelled");
    }

    #[test]
    fn delete_is_soft_and_final() {
        Fx::with(ctx(Role::Admin))
            .given(confirmed())
            .when(C::DeleteShift)
            .then_expect_events(vec![E::ShiftDeleted]);
        Fx::with(ctx(Role::Admin))
            .given(vec![scheduled(), E::ShiftDeleted])
            .when(C::DeleteShift)
            .then_expect_error(DomainError::Deleted(ENTITY));
        Fx::with(ctx(Role::Member))
            .given(vec![scheduled(), E::ShiftDeleted])
            .when(C::ConfirmShift)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn only_a_confirmed_live_shift_books_its_member() {
        let booking = |starts_at, ends_at| {
            Some(vec![Claim::Booking {
                member_id: BOB,
                starts_at,
                ends_at,
            }])
        };
        assert_eq!(Shift::default().claims(), Some(vec![]));
        assert_eq!(shift(vec![scheduled()]).claims(), Some(vec![]));
        assert_eq!(shift(confirmed()).claims(), booking(at(12, 14), at(12, 23)));

        let mut moved = confirmed();
        moved.push(E::ShiftRescheduled {
            starts_at: at(12, 12),
            ends_at: at(12, 22),
        });
        assert_eq!(shift(moved).claims(), booking(at(12, 12), at(12, 22)));

        let mut released = confirmed();
        released.push(E::ShiftCancelled { reason: "x".into() });
        assert_eq!(shift(released).claims(), Some(vec![]));

        let mut deleted = confirmed();
        deleted.push(E::ShiftDeleted);
        assert_eq!(shift(deleted).claims(), Some(vec![]));
    }

    #[test]
    fn state_follows_the_events() {
        let shift = shift(confirmed());
        assert_eq!(shift.id, Some(AGG));
        assert_eq!(shift.member_id, Some(BOB));
        assert_eq!(shift.event_id, Some(GALA));
        assert_eq!(shift.role, "rigger");
        assert_eq!(shift.status, ShiftStatus::Confirmed);
    }

    #[test]
    fn commands_deserialize_from_their_wire_shape() {
        let command: C = serde_json::from_value(json!({
            "type": "schedule_shift",
            "member_id": BOB,
            "event_id": GALA,
            "role": "rigger",
            "starts_at": "2026-12-12T14:00:00Z",
            "ends_at": "2026-12-12T23:00:00Z",
        }))
        .unwrap();
        assert_eq!(command, schedule());
        let command: C = serde_json::from_value(json!({"type": "delete_shift"})).unwrap();
        assert_eq!(command, C::DeleteShift);
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(schedule().requirement(), Requirement::Role(Role::Member));
        assert_eq!(
            C::ConfirmShift.requirement(),
            Requirement::Role(Role::Member)
        );
        assert_eq!(C::DeleteShift.requirement(), Requirement::Role(Role::Admin));
        assert_eq!(
            schedule().references(),
            References::none().member(BOB).aggregate("Event", GALA)
        );
        assert!(C::ConfirmShift.references().is_empty());
        assert_eq!(C::CancelShift { reason: "x".into() }.name(), "CancelShift");
    }
}
