//! The Event aggregate: a show, rehearsal or meeting, its time and place, and
//! its way from planning to completion.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::reference::References;
use crate::visibility::Visibility;

const ENTITY: &str = "event";

/// The aggregate type of the venue an event takes place at.
const VENUE: &str = "Venue";

/// What kind of gathering an event is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A performance in front of an audience.
    #[default]
    Show,
    /// A rehearsal.
    Rehearsal,
    /// A meeting.
    Meeting,
}

/// The status of an event, in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Being planned; time and place may change.
    #[default]
    Planning,
    /// Going ahead; time and place may still change.
    Confirmed,
    /// Happening now.
    Live,
    /// Over.
    Completed,
    /// Called off for good.
    Cancelled,
}

/// A show, rehearsal or meeting.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Event {
    /// The event id, once planned.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who planned it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// Its title.
    pub title: String,
    /// Show, rehearsal or meeting.
    pub kind: EventKind,
    /// When it starts.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends, after the start.
    pub ends_at: Option<DateTime<Utc>>,
    /// Where it takes place, if decided.
    pub venue_id: Option<Uuid>,
    /// Status.
    pub status: EventStatus,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on an [`Event`].
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
pub enum EventCommand {
    /// Plans the event.
    PlanEvent {
        /// Its title.
        title: String,
        /// Show, rehearsal or meeting.
        kind: EventKind,
        /// When it starts.
        starts_at: DateTime<Utc>,
        /// When it ends, after the start.
        ends_at: DateTime<Utc>,
        /// Where it takes place, if decided; the venue must exist in the organization.
        #[serde(default)]
        venue_id: Option<Uuid>,
        /// Row visibility.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Gives the event a new title.
    RenameEvent {
        /// The new title.
        title: String,
    },
    /// Moves the event in time (planning or confirmed only).
    RescheduleEvent {
        /// The new start.
        starts_at: DateTime<Utc>,
        /// The new end, after the start.
        ends_at: DateTime<Utc>,
    },
    /// Moves the event to another venue, or to none (not once it is over).
    ChangeEventVenue {
        /// The new venue; `None` leaves the place undecided.
        #[serde(default)]
        venue_id: Option<Uuid>,
    },
    /// Confirms the planned event.
    ConfirmEvent,
    /// Marks the confirmed event as happening.
    StartEvent,
    /// Marks the live event as over.
    CompleteEvent,
    /// Calls the event off. Final.
    CancelEvent {
        /// Why.
        reason: String,
    },
    /// Soft-deletes the event.
    DeleteEvent,
}

impl DomainCommand for EventCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        use EventCommand as C;
        match self {
            C::PlanEvent { .. }
            | C::RenameEvent { .. }
            | C::RescheduleEvent { .. }
            | C::ChangeEventVenue { .. }
            | C::ConfirmEvent
            | C::StartEvent
            | C::CompleteEvent
            | C::CancelEvent { .. } => Requirement::Role(Role::Member),
            C::DeleteEvent => Requirement::Role(Role::Admin),
        }
    }

    fn references(&self) -> References {
        use EventCommand as C;
        match self {
            C::PlanEvent { venue_id, .. } | C::ChangeEventVenue { venue_id } => {
                References::none().aggregate(VENUE, *venue_id)
            }
            _ => References::none(),
        }
    }
}

/// Events of an [`Event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum EventEvent {
    /// The event was planned.
    EventPlanned {
        /// Its id.
        event_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who planned it.
        owner_id: Uuid,
        /// Its title.
        title: String,
        /// Show, rehearsal or meeting.
        kind: EventKind,
        /// When it starts.
        starts_at: DateTime<Utc>,
        /// When it ends.
        ends_at: DateTime<Utc>,
        /// Where it takes place.
        venue_id: Option<Uuid>,
        /// Row visibility.
        visibility: Visibility,
    },
    /// The event was renamed.
    EventRenamed {
        /// The new title.
        title: String,
    },
    /// The event moved in time.
    EventRescheduled {
        /// The new start.
        starts_at: DateTime<Utc>,
        /// The new end.
        ends_at: DateTime<Utc>,
    },
    /// The event moved to another venue, or to none.
    EventVenueChanged {
        /// The new venue.
        venue_id: Option<Uuid>,
    },
    /// Confirmed.
    EventConfirmed,
    /// Happening.
    EventStarted,
    /// Over.
    EventCompleted,
    /// Called off.
    EventCancelled {
        /// Why.
        reason: String,
    },
    /// Soft-deleted.
    EventDeleted,
}

domain_event!(EventEvent);

/// Refuses a period that does not end after it starts.
fn validate_period(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<(), DomainError> {
    if starts_at >= ends_at {
        return Err(DomainError::field(
            "ends_at",
            "an event must end after it starts",
        ));
    }
    Ok(())
}

impl Event {
    fn decide(
        &self,
        command: EventCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<EventEvent>, DomainError> {
        use EventCommand as C;
        use EventEvent as E;
        use EventStatus as S;

        if let C::PlanEvent {
            title,
            kind,
            starts_at,
            ends_at,
            venue_id,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&title, "title")?;
            validate_period(starts_at, ends_at)?;
            return Ok(vec![E::EventPlanned {
                event_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                title,
                kind,
                starts_at,
                ends_at,
                venue_id,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::PlanEvent { .. } => unreachable!("handled above"),
            C::RenameEvent { title } => {
                require_text(&title, "title")?;
                Ok(vec![E::EventRenamed { title }])
            }
            C::RescheduleEvent { starts_at, ends_at } => {
                require_status(
                    ENTITY,
                    self.status,
                    "reschedule",
                    &[S::Planning, S::Confirmed],
                )?;
                validate_period(starts_at, ends_at)?;
                Ok(vec![E::EventRescheduled { starts_at, ends_at }])
            }
            C::ChangeEventVenue { venue_id } => {
                require_status(
                    ENTITY,
                    self.status,
                    "change the venue of",
                    &[S::Planning, S::Confirmed, S::Live],
                )?;
                Ok(vec![E::EventVenueChanged { venue_id }])
            }
            C::ConfirmEvent => {
                require_status(ENTITY, self.status, "confirm", &[S::Planning])?;
                Ok(vec![E::EventConfirmed])
            }
            C::StartEvent => {
                require_status(ENTITY, self.status, "start", &[S::Confirmed])?;
                Ok(vec![E::EventStarted])
            }
            C::CompleteEvent => {
                require_status(ENTITY, self.status, "complete", &[S::Live])?;
                Ok(vec![E::EventCompleted])
            }
            C::CancelEvent { reason } => {
                require_status(
                    ENTITY,
                    self.status,
                    "cancel",
                    &[S::Planning, S::Confirmed, S::Live],
                )?;
                require_text(&reason, "reason")?;
                Ok(vec![E::EventCancelled { reason }])
            }
            C::DeleteEvent => Ok(vec![E::EventDeleted]),
        }
    }
}

event_sourced!(Event, "Event", EventCommand, EventEvent);

impl Event {
    /// Folds one event into the state.
    fn evolve(&mut self, event: EventEvent) {
        use EventEvent as E;
        use EventStatus as S;
        match event {
            E::EventPlanned {
                event_id,
                organization_id,
                owner_id,
                title,
                kind,
                starts_at,
                ends_at,
                venue_id,
                visibility,
            } => {
                self.id = Some(event_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.title = title;
                self.kind = kind;
                self.starts_at = Some(starts_at);
                self.ends_at = Some(ends_at);
                self.venue_id = venue_id;
                self.visibility = visibility;
            }
            E::EventRenamed { title } => self.title = title,
            E::EventRescheduled { starts_at, ends_at } => {
                self.starts_at = Some(starts_at);
                self.ends_at = Some(ends_at);
            }
            E::EventVenueChanged { venue_id } => self.venue_id = venue_id,
            E::EventConfirmed => self.status = S::Confirmed,
            E::EventStarted => self.status = S::Live,
            E::EventCompleted => self.status = S::Completed,
            E::EventCancelled { .. } => self.status = S::Cancelled,
            E::EventDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Event {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    use super::*;
    use crate::testing::{ctx, ExpectErrorContaining, AGG, ALICE, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Event>;
    type C = EventCommand;
    type E = EventEvent;

    const HALL: Uuid = Uuid::from_u128(0x4a11);
    const DEPOT: Uuid = Uuid::from_u128(0xde9);

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    fn plan() -> C {
        C::PlanEvent {
            title: "Winter Gala".into(),
            kind: EventKind::Show,
            starts_at: at(12, 19),
            ends_at: at(12, 23),
            venue_id: Some(HALL),
            visibility: Visibility::Organization,
        }
    }

    fn planned() -> E {
        E::EventPlanned {
            event_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            title: "Winter Gala".into(),
            kind: EventKind::Show,
            starts_at: at(12, 19),
            ends_at: at(12, 23),
            venue_id: Some(HALL),
            visibility: Visibility::Organization,
        }
    }

    /// The events that bring a planned event to `status`.
    fn through(status: EventStatus) -> Vec<E> {
        let mut events = vec![planned()];
        let steps = [
            (EventStatus::Confirmed, E::EventConfirmed),
            (EventStatus::Live, E::EventStarted),
            (EventStatus::Completed, E::EventCompleted),
        ];
        if status == EventStatus::Planning {
            return events;
        }
        if status == EventStatus::Cancelled {
            events.push(E::EventCancelled {
                reason: "storm".into(),
            });
            return events;
        }
        for (reached, event) in steps {
            events.push(event);
            if reached == status {
                break;
            }
        }
        events
    }

    fn reschedule() -> C {
        C::RescheduleEvent {
            starts_at: at(13, 19),
            ends_at: at(13, 23),
        }
    }

    #[test]
    fn plan_an_event() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(plan())
            .then_expect_events(vec![planned()]);
    }

    #[test]
    fn plan_twice_blank_or_backwards_is_refused() {
        Fx::with(ctx(Role::Member))
            .given(vec![planned()])
            .when(plan())
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::PlanEvent {
                title: " ".into(),
                kind: EventKind::Meeting,
                starts_at: at(1, 9),
                ends_at: at(1, 10),
                venue_id: None,
                visibility: Visibility::Private,
            })
            .then_expect_error(DomainError::field("title", "`title` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::PlanEvent {
                title: "Tech run".into(),
                kind: EventKind::Rehearsal,
                starts_at: at(1, 10),
                ends_at: at(1, 10),
                venue_id: None,
                visibility: Visibility::Organization,
            })
            .then_expect_error(DomainError::field(
                "ends_at",
                "an event must end after it starts",
            ));
    }

    #[test]
    fn rename() {
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Live))
            .when(C::RenameEvent {
                title: "Winter Gala 2026".into(),
            })
            .then_expect_events(vec![E::EventRenamed {
                title: "Winter Gala 2026".into(),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![planned()])
            .when(C::RenameEvent { title: "".into() })
            .then_expect_error(DomainError::field("title", "`title` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RenameEvent { title: "x".into() })
            .then_expect_error(DomainError::NotCreated(ENTITY));
    }

    #[test]
    fn reschedule_before_it_goes_live() {
        for status in [EventStatus::Planning, EventStatus::Confirmed] {
            Fx::with(ctx(Role::Member))
                .given(through(status))
                .when(reschedule())
                .then_expect_events(vec![E::EventRescheduled {
                    starts_at: at(13, 19),
                    ends_at: at(13, 23),
                }]);
        }
        Fx::with(ctx(Role::Member))
            .given(vec![planned()])
            .when(C::RescheduleEvent {
                starts_at: at(13, 23),
                ends_at: at(13, 19),
            })
            .then_expect_error(DomainError::field(
                "ends_at",
                "an event must end after it starts",
            ));
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Live))
            .when(reschedule())
            .then_expect_error_containing("cannot reschedule the event: it is live");
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Cancelled))
            .when(reschedule())
            .then_expect_error_containing("cannot reschedule the event: it is cancelled");
    }

    #[test]
    fn change_venue_until_it_is_over() {
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Live))
            .when(C::ChangeEventVenue {
                venue_id: Some(DEPOT),
            })
            .then_expect_events(vec![E::EventVenueChanged {
                venue_id: Some(DEPOT),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![planned()])
            .when(C::ChangeEventVenue { venue_id: None })
            .then_expect_events(vec![E::EventVenueChanged { venue_id: None }]);
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Completed))
            .when(C::ChangeEventVenue { venue_id: None })
            .then_expect_error_containing("cannot change the venue of the event: it is completed");
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Cancelled))
            .when(C::ChangeEventVenue { venue_id: None })
            .then_expect_error_containing("it is cancelled");
    }

    #[test]
    fn status_follows_its_order() {
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Planning))
            .when(C::ConfirmEvent)
            .then_expect_events(vec![E::EventConfirmed]);
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Confirmed))
            .when(C::StartEvent)
            .then_expect_events(vec![E::EventStarted]);
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Live))
            .when(C::CompleteEvent)
            .then_expect_events(vec![E::EventCompleted]);

        let mut event = Event::default();
        for e in through(EventStatus::Completed) {
            event.apply(e);
        }
        assert_eq!(event.status, EventStatus::Completed);
    }

    #[test]
    fn status_steps_are_not_skipped_or_repeated() {
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Confirmed))
            .when(C::ConfirmEvent)
            .then_expect_error_containing("cannot confirm the event: it is confirmed");
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Planning))
            .when(C::StartEvent)
            .then_expect_error_containing("cannot start the event: it is planning");
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Confirmed))
            .when(C::CompleteEvent)
            .then_expect_error_containing("cannot complete the event: it is confirmed");
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Cancelled))
            .when(C::StartEvent)
            .then_expect_error_containing("cannot start the event: it is cancelled");
    }

    #[test]
    fn cancel_until_it_is_over() {
        for status in [
            EventStatus::Planning,
            EventStatus::Confirmed,
            EventStatus::Live,
        ] {
            Fx::with(ctx(Role::Member))
                .given(through(status))
                .when(C::CancelEvent {
                    reason: "storm".into(),
                })
                .then_expect_events(vec![E::EventCancelled {
                    reason: "storm".into(),
                }]);
        }
        Fx::with(ctx(Role::Member))
            .given(vec![planned()])
            .when(C::CancelEvent { reason: " ".into() })
            .then_expect_error(DomainError::field("reason", "`reason` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Completed))
            .when(C::CancelEvent { reason: "x".into() })
            .then_expect_error_containing("cannot cancel the event: it is completed");
        Fx::with(ctx(Role::Member))
            .given(through(EventStatus::Cancelled))
            .when(C::CancelEvent { reason: "x".into() })
            .then_expect_error_containing("cannot cancel the event: it is cancelled");
    }

    #[test]
    fn delete_is_soft_and_final() {
        Fx::with(ctx(Role::Admin))
            .given(through(EventStatus::Completed))
            .when(C::DeleteEvent)
            .then_expect_events(vec![E::EventDeleted]);
        Fx::with(ctx(Role::Admin))
            .given(vec![planned(), E::EventDeleted])
            .when(C::DeleteEvent)
            .then_expect_error(DomainError::Deleted(ENTITY));
        Fx::with(ctx(Role::Member))
            .given(vec![planned(), E::EventDeleted])
            .when(C::ConfirmEvent)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn state_follows_the_events() {
        let mut event = Event::default();
        event.apply(planned());
        event.apply(E::EventRescheduled {
            starts_at: at(13, 19),
            ends_at: at(13, 23),
        });
        event.apply(E::EventVenueChanged { venue_id: None });
        assert_eq!(event.id, Some(AGG));
        assert_eq!(event.starts_at, Some(at(13, 19)));
        assert_eq!(event.ends_at, Some(at(13, 23)));
        assert_eq!(event.venue_id, None);
        assert_eq!(event.status, EventStatus::Planning);
    }

    #[test]
    fn commands_deserialize_from_their_wire_shape() {
        let command: C = serde_json::from_value(json!({
            "type": "plan_event",
            "title": "Winter Gala",
            "kind": "show",
            "starts_at": "2026-12-12T19:00:00Z",
            "ends_at": "2026-12-12T23:00:00Z",
            "venue_id": HALL,
        }))
        .unwrap();
        assert_eq!(command, plan());
        let command: C = serde_json::from_value(json!({"type": "confirm_event"})).unwrap();
        assert_eq!(command, C::ConfirmEvent);
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(plan().requirement(), Requirement::Role(Role::Member));
        assert_eq!(C::StartEvent.requirement(), Requirement::Role(Role::Member));
        assert_eq!(C::DeleteEvent.requirement(), Requirement::Role(Role::Admin));
        assert_eq!(
            plan().references(),
            References::none().aggregate("Venue", HALL)
        );
        assert_eq!(
            C::ChangeEventVenue {
                venue_id: Some(DEPOT)
            }
            .references(),
            References::none().aggregate("Venue", DEPOT)
        );
        assert!(C::ChangeEventVenue { venue_id: None }
            .references()
            .is_empty());
        assert!(reschedule().references().is_empty());
    }
}
