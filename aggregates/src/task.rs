//! The Task aggregate: a piece of work, optionally tied to an event or a
//! project, with an assignee, a due date, a priority and a small status machine.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::priority::Priority;
use crate::reference::References;
use crate::visibility::Visibility;

const ENTITY: &str = "task";

/// The status of a task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Not started.
    #[default]
    Todo,
    /// Being worked on.
    InProgress,
    /// Waiting on something; see the block reason.
    Blocked,
    /// Finished; may be reopened.
    Done,
}

/// A task.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Task {
    /// The task id, once created.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who created it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// What is to be done.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// The event the task is for, if any.
    pub event_id: Option<Uuid>,
    /// The project the task belongs to, by name.
    pub project: Option<String>,
    /// The member doing it.
    pub assignee: Option<Uuid>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// How urgent it is.
    pub priority: Priority,
    /// Why it is blocked, while it is.
    pub blocked_reason: Option<String>,
    /// Status.
    pub status: TaskStatus,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`Task`].
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
pub enum TaskCommand {
    /// Creates the task in `todo`.
    CreateTask {
        /// What is to be done; not blank.
        title: String,
        /// Details; a blank one is dropped.
        description: Option<String>,
        /// The event the task is for.
        event_id: Option<Uuid>,
        /// The project it belongs to; a blank one is dropped.
        project: Option<String>,
        /// The member doing it.
        assignee: Option<Uuid>,
        /// When it is due.
        due_at: Option<DateTime<Utc>>,
        /// How urgent it is; medium by default.
        #[serde(default)]
        priority: Priority,
        /// Row visibility; organization by default.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Changes the title and/or the description; at least one must be given.
    UpdateTask {
        /// The new title; not blank.
        title: Option<String>,
        /// The new description; an empty string removes it.
        description: Option<String>,
    },
    /// Assigns the task to a member, or unassigns it.
    AssignTask {
        /// The new assignee; `None` unassigns.
        assignee: Option<Uuid>,
    },
    /// Sets or removes the due date.
    SetTaskDueDate {
        /// The new due date; `None` removes it.
        due_at: Option<DateTime<Utc>>,
    },
    /// Changes the priority.
    ChangeTaskPriority {
        /// The new priority, different from the current one.
        priority: Priority,
    },
    /// Starts work on a `todo` or `blocked` task.
    StartTask,
    /// Marks a `todo` or `in_progress` task as blocked.
    BlockTask {
        /// What it waits on; not blank.
        reason: String,
    },
    /// Finishes a task that is not done yet.
    CompleteTask,
    /// Puts a done task back to `todo`.
    ReopenTask,
    /// Soft-deletes the task, in any status.
    DeleteTask,
}

impl DomainCommand for TaskCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        Requirement::Role(Role::Member)
    }

    fn references(&self) -> References {
        use TaskCommand as C;
        match self {
            C::CreateTask {
                assignee, event_id, ..
            } => References::none()
                .member(*assignee)
                .aggregate("Event", *event_id),
            C::AssignTask { assignee } => References::none().member(*assignee),
            _ => References::none(),
        }
    }
}

/// Events of a [`Task`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum TaskEvent {
    /// The task was created, in `todo`.
    TaskCreated {
        /// Its id.
        task_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who created it.
        owner_id: Uuid,
        /// What is to be done.
        title: String,
        /// Details.
        description: Option<String>,
        /// The event it is for.
        event_id: Option<Uuid>,
        /// The project it belongs to.
        project: Option<String>,
        /// The member doing it.
        assignee: Option<Uuid>,
        /// When it is due.
        due_at: Option<DateTime<Utc>>,
        /// How urgent it is.
        priority: Priority,
        /// Row visibility.
        visibility: Visibility,
    },
    /// The title and/or description changed; absent fields are unchanged.
    TaskUpdated {
        /// The new title.
        title: Option<String>,
        /// The new description; an empty string means it was removed.
        description: Option<String>,
    },
    /// The assignee changed.
    TaskAssigned {
        /// The new assignee; `None` when unassigned.
        assignee: Option<Uuid>,
    },
    /// The due date changed.
    TaskDueDateSet {
        /// The new due date; `None` when removed.
        due_at: Option<DateTime<Utc>>,
    },
    /// The priority changed.
    TaskPriorityChanged {
        /// The new priority.
        priority: Priority,
    },
    /// Work started.
    TaskStarted,
    /// The task is blocked.
    TaskBlocked {
        /// What it waits on.
        reason: String,
    },
    /// The task is done.
    TaskCompleted,
    /// The task went back to `todo`.
    TaskReopened,
    /// Soft-deleted.
    TaskDeleted,
}

domain_event!(TaskEvent);

/// Drops a blank optional text.
fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl Task {
    fn decide(
        &self,
        command: TaskCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<TaskEvent>, DomainError> {
        use TaskCommand as C;
        use TaskEvent as E;
        use TaskStatus as S;

        if let C::CreateTask {
            title,
            description,
            event_id,
            project,
            assignee,
            due_at,
            priority,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&title, "title")?;
            return Ok(vec![E::TaskCreated {
                task_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                title,
                description: non_blank(description),
                event_id,
                project: non_blank(project),
                assignee,
                due_at,
                priority,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::CreateTask { .. } => unreachable!("handled above"),
            C::UpdateTask { title, description } => {
                if title.is_none() && description.is_none() {
                    return Err(DomainError::invalid(
                        "an update needs a title or a description",
                    ));
                }
                if let Some(title) = &title {
                    require_text(title, "title")?;
                }
                let description = description.map(|d| {
                    if d.trim().is_empty() {
                        String::new()
                    } else {
                        d
                    }
                });
                Ok(vec![E::TaskUpdated { title, description }])
            }
            C::AssignTask { assignee } => {
                if assignee == self.assignee {
                    return Err(DomainError::rule(match assignee {
                        Some(user) => format!("the task is already assigned to {user}"),
                        None => "the task is not assigned".to_owned(),
                    }));
                }
                Ok(vec![E::TaskAssigned { assignee }])
            }
            C::SetTaskDueDate { due_at } => Ok(vec![E::TaskDueDateSet { due_at }]),
            C::ChangeTaskPriority { priority } => {
                if priority == self.priority {
                    return Err(DomainError::rule("the task already has that priority"));
                }
                Ok(vec![E::TaskPriorityChanged { priority }])
            }
            C::StartTask => {
                require_status(ENTITY, self.status, "start", &[S::Todo, S::Blocked])?;
                Ok(vec![E::TaskStarted])
            }
            C::BlockTask { reason } => {
                require_status(ENTITY, self.status, "block", &[S::Todo, S::InProgress])?;
                require_text(&reason, "reason")?;
                Ok(vec![E::TaskBlocked { reason }])
            }
            C::CompleteTask => {
                require_status(
                    ENTITY,
                    self.status,
                    "complete",
                    &[S::Todo, S::InProgress, S::Blocked],
                )?;
                Ok(vec![E::TaskCompleted])
            }
            C::ReopenTask => {
                require_status(ENTITY, self.status, "reopen", &[S::Done])?;
                Ok(vec![E::TaskReopened])
            }
            C::DeleteTask => Ok(vec![E::TaskDeleted]),
        }
    }
}

event_sourced!(Task, "Task", TaskCommand, TaskEvent);

impl Task {
    /// Folds one event into the state.
    fn evolve(&mut self, event: TaskEvent) {
        use TaskEvent as E;
        use TaskStatus as S;
        match event {
            E::TaskCreated {
                task_id,
                organization_id,
                owner_id,
                title,
                description,
                event_id,
                project,
                assignee,
                due_at,
                priority,
                visibility,
            } => {
                self.id = Some(task_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.title = title;
                self.description = description;
                self.event_id = event_id;
                self.project = project;
                self.assignee = assignee;
                self.due_at = due_at;
                self.priority = priority;
                self.visibility = visibility;
            }
            E::TaskUpdated { title, description } => {
                if let Some(title) = title {
                    self.title = title;
                }
                if let Some(description) = description {
                    self.description = non_blank(Some(description));
                }
            }
            E::TaskAssigned { assignee } => self.assignee = assignee,
            E::TaskDueDateSet { due_at } => self.due_at = due_at,
            E::TaskPriorityChanged { priority } => self.priority = priority,
            E::TaskStarted => {
                self.status = S::InProgress;
                self.blocked_reason = None;
            }
            E::TaskBlocked { reason } => {
                self.status = S::Blocked;
                self.blocked_reason = Some(reason);
            }
            E::TaskCompleted => {
                self.status = S::Done;
                self.blocked_reason = None;
            }
            E::TaskReopened => self.status = S::Todo,
            E::TaskDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Task {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{ctx, ExpectErrorContaining, AGG, ALICE, BOB, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Task>;
    type C = TaskCommand;
    type E = TaskEvent;

    const SHOW: Uuid = Uuid::from_u128(0xe7);

    fn at(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, 9, 0, 0).unwrap()
    }

    fn created() -> E {
        E::TaskCreated {
            task_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            title: "Book the crew bus".into(),
            description: None,
            event_id: Some(SHOW),
            project: Some("Winter tour".into()),
            assignee: Some(BOB),
            due_at: Some(at(10)),
            priority: Priority::High,
            visibility: Visibility::Organization,
        }
    }

    fn with(events: &[E]) -> Vec<E> {
        let mut all = vec![created()];
        all.extend_from_slice(events);
        all
    }

    fn create_command() -> C {
        C::CreateTask {
            title: "Book the crew bus".into(),
            description: Some("  ".into()),
            event_id: Some(SHOW),
            project: Some("Winter tour".into()),
            assignee: Some(BOB),
            due_at: Some(at(10)),
            priority: Priority::High,
            visibility: Visibility::Organization,
        }
    }

    #[test]
    fn create() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(create_command())
            .then_expect_events(vec![created()]);
    }

    #[test]
    fn create_twice_or_blank_is_refused() {
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(create_command())
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::CreateTask {
                title: " ".into(),
                description: None,
                event_id: None,
                project: None,
                assignee: None,
                due_at: None,
                priority: Priority::default(),
                visibility: Visibility::default(),
            })
            .then_expect_error(DomainError::field("title", "`title` must not be empty"));
    }

    #[test]
    fn commands_need_a_live_task() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::StartTask)
            .then_expect_error(DomainError::NotCreated(ENTITY));
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskDeleted]))
            .when(C::UpdateTask {
                title: Some("x".into()),
                description: None,
            })
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn update() {
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::UpdateTask {
                title: Some("Book two crew buses".into()),
                description: Some(" ".into()),
            })
            .then_expect_events(vec![E::TaskUpdated {
                title: Some("Book two crew buses".into()),
                description: Some(String::new()),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::UpdateTask {
                title: None,
                description: None,
            })
            .then_expect_error_containing("needs a title or a description");
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::UpdateTask {
                title: Some("".into()),
                description: Some("x".into()),
            })
            .then_expect_error(DomainError::field("title", "`title` must not be empty"));
    }

    #[test]
    fn update_applies_and_clears_the_description() {
        let mut task = Task::default();
        task.apply(created());
        task.apply(E::TaskUpdated {
            title: None,
            description: Some("Two buses".into()),
        });
        assert_eq!(task.title, "Book the crew bus");
        assert_eq!(task.description.as_deref(), Some("Two buses"));
        task.apply(E::TaskUpdated {
            title: Some("New".into()),
            description: Some(String::new()),
        });
        assert_eq!(task.title, "New");
        assert_eq!(task.description, None);
    }

    #[test]
    fn assign_and_unassign() {
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::AssignTask {
                assignee: Some(ALICE),
            })
            .then_expect_events(vec![E::TaskAssigned {
                assignee: Some(ALICE),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::AssignTask { assignee: None })
            .then_expect_events(vec![E::TaskAssigned { assignee: None }]);
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::AssignTask {
                assignee: Some(BOB),
            })
            .then_expect_error_containing("already assigned");
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskAssigned { assignee: None }]))
            .when(C::AssignTask { assignee: None })
            .then_expect_error(DomainError::rule("the task is not assigned"));
    }

    #[test]
    fn due_date_and_priority() {
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::SetTaskDueDate {
                due_at: Some(at(12)),
            })
            .then_expect_events(vec![E::TaskDueDateSet {
                due_at: Some(at(12)),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::SetTaskDueDate { due_at: None })
            .then_expect_events(vec![E::TaskDueDateSet { due_at: None }]);
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::ChangeTaskPriority {
                priority: Priority::Critical,
            })
            .then_expect_events(vec![E::TaskPriorityChanged {
                priority: Priority::Critical,
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::ChangeTaskPriority {
                priority: Priority::High,
            })
            .then_expect_error_containing("already has that priority");
    }

    #[test]
    fn edits_are_allowed_on_done_tasks() {
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskCompleted]))
            .when(C::SetTaskDueDate { due_at: None })
            .then_expect_events(vec![E::TaskDueDateSet { due_at: None }]);
    }

    #[test]
    fn start_block_complete_reopen() {
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::StartTask)
            .then_expect_events(vec![E::TaskStarted]);
        let blocked = E::TaskBlocked {
            reason: "waiting for quote".into(),
        };
        Fx::with(ctx(Role::Member))
            .given(with(std::slice::from_ref(&blocked)))
            .when(C::StartTask)
            .then_expect_events(vec![E::TaskStarted]);
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskStarted]))
            .when(C::BlockTask {
                reason: "waiting for quote".into(),
            })
            .then_expect_events(vec![blocked.clone()]);
        for given in [vec![], vec![E::TaskStarted], vec![blocked]] {
            Fx::with(ctx(Role::Member))
                .given(with(&given))
                .when(C::CompleteTask)
                .then_expect_events(vec![E::TaskCompleted]);
        }
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskCompleted]))
            .when(C::ReopenTask)
            .then_expect_events(vec![E::TaskReopened]);
    }

    #[test]
    fn refused_transitions() {
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskStarted]))
            .when(C::StartTask)
            .then_expect_error_containing("cannot start the task: it is in_progress");
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskCompleted]))
            .when(C::StartTask)
            .then_expect_error_containing("cannot start the task: it is done");
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskBlocked { reason: "x".into() }]))
            .when(C::BlockTask { reason: "y".into() })
            .then_expect_error_containing("cannot block the task: it is blocked");
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskCompleted]))
            .when(C::BlockTask { reason: "y".into() })
            .then_expect_error_containing("cannot block the task: it is done");
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskCompleted]))
            .when(C::CompleteTask)
            .then_expect_error_containing("cannot complete the task: it is done");
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskStarted]))
            .when(C::ReopenTask)
            .then_expect_error_containing("cannot reopen the task: it is in_progress");
        Fx::with(ctx(Role::Member))
            .given(vec![created()])
            .when(C::BlockTask { reason: " ".into() })
            .then_expect_error(DomainError::field("reason", "`reason` must not be empty"));
    }

    #[test]
    fn status_and_block_reason_follow_events() {
        let mut task = Task::default();
        for event in with(&[E::TaskBlocked {
            reason: "rain".into(),
        }]) {
            task.apply(event);
        }
        assert_eq!(task.status, TaskStatus::Blocked);
        assert_eq!(task.blocked_reason.as_deref(), Some("rain"));
        task.apply(E::TaskStarted);
        assert_eq!(task.status, TaskStatus::InProgress);
        assert_eq!(task.blocked_reason, None);
        task.apply(E::TaskCompleted);
        task.apply(E::TaskReopened);
        assert_eq!(task.status, TaskStatus::Todo);
    }

    #[test]
    fn delete_in_any_status() {
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskStarted]))
            .when(C::DeleteTask)
            .then_expect_events(vec![E::TaskDeleted]);
        Fx::with(ctx(Role::Member))
            .given(with(&[E::TaskDeleted]))
            .when(C::DeleteTask)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn commands_deserialize_from_tagged_json() {
        let command: C = serde_json::from_value(serde_json::json!({
            "type": "create_task",
            "title": "Book the crew bus",
        }))
        .unwrap();
        assert_eq!(
            command,
            C::CreateTask {
                title: "Book the crew bus".into(),
                description: None,
                event_id: None,
                project: None,
                assignee: None,
                due_at: None,
                priority: Priority::Medium,
                visibility: Visibility::Organization,
            }
        );
        let command: C = serde_json::from_value(serde_json::json!({"type": "start_task"})).unwrap();
        assert_eq!(command, C::StartTask);
        assert_eq!(command.name(), "StartTask");
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(C::DeleteTask.requirement(), Requirement::Role(Role::Member));
        assert_eq!(C::StartTask.requirement(), Requirement::Role(Role::Member));
        assert_eq!(
            create_command().references(),
            References {
                members: vec![BOB],
                aggregates: vec![("Event".to_owned(), SHOW)],
                any_of: vec![],
            }
        );
        assert_eq!(
            C::AssignTask { assignee: None }.references(),
            References::none()
        );
        assert_eq!(
            C::AssignTask {
                assignee: Some(ALICE)
            }
            .references()
            .members,
            vec![ALICE]
        );
        assert!(C::CompleteTask.references().is_empty());
    }
}
