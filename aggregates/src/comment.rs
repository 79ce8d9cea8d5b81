//! The Comment aggregate: a comment or note on any entity, threaded by replies.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::reference::{EntityRef, References};
use crate::visibility::Visibility;

const ENTITY: &str = "comment";

/// The longest body a comment may have, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;

/// Whether a comment is part of the conversation or a standing note.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum CommentKind {
    /// A message in the conversation.
    #[default]
    Comment,
    /// A note kept on the entity.
    Note,
}

/// A comment.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Comment {
    /// The comment id, once posted.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// The author.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// The entity it is about, once posted.
    pub on: Option<EntityRef>,
    /// The comment it replies to, if any.
    pub parent_id: Option<Uuid>,
    /// Comment or note.
    pub kind: CommentKind,
    /// The text.
    pub body: String,
    /// Whether the author changed the body since posting.
    pub edited: bool,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`Comment`].
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
pub enum CommentCommand {
    /// Posts a comment on an entity, optionally as a reply.
    PostComment {
        /// The entity it is about; must exist in the organization.
        on: EntityRef,
        /// The comment it replies to; must exist in the organization.
        parent_id: Option<Uuid>,
        /// Comment or note.
        #[serde(default)]
        kind: CommentKind,
        /// The text, not blank, at most [`MAX_BODY_CHARS`] characters.
        body: String,
        /// Row visibility.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Changes the body (the author only).
    EditComment {
        /// The new text.
        body: String,
    },
    /// Soft-deletes the comment (the author, or an admin or owner moderating).
    DeleteComment,
}

impl DomainCommand for CommentCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        use CommentCommand as C;
        match self {
            C::PostComment { .. } | C::EditComment { .. } | C::DeleteComment => {
                Requirement::Role(Role::Member)
            }
        }
    }

    fn references(&self) -> References {
        match self {
            CommentCommand::PostComment { on, parent_id, .. } => References::none()
                .entity(on)
                .aggregate("Comment", *parent_id),
            _ => References::none(),
        }
    }
}

/// Events of a [`Comment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum CommentEvent {
    /// Posted.
    CommentPosted {
        /// Its id.
        comment_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// The author.
        owner_id: Uuid,
        /// The entity it is about.
        on: EntityRef,
        /// The comment it replies to.
        parent_id: Option<Uuid>,
        /// Comment or note.
        kind: CommentKind,
        /// The text.
        body: String,
        /// Row visibility.
        visibility: Visibility,
    },
    /// The author changed the body.
    CommentEdited {
        /// The new text.
        body: String,
    },
    /// Soft-deleted.
    CommentDeleted {
        /// The author or the moderator who deleted it.
        deleted_by: Uuid,
    },
}

domain_event!(CommentEvent);

fn validate_body(body: &str) -> Result<(), DomainError> {
    require_text(body, "body")?;
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(DomainError::field(
            "body",
            format!("comment body must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok(())
}

impl Comment {
    fn decide(
        &self,
        command: CommentCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<CommentEvent>, DomainError> {
        use CommentCommand as C;
        use CommentEvent as E;

        if let C::PostComment {
            on,
            parent_id,
            kind,
            body,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&on.entity_type, "on.entity_type")?;
            if parent_id == Some(ctx.aggregate_id) {
                return Err(DomainError::invalid("a comment cannot reply to itself"));
            }
            validate_body(&body)?;
            return Ok(vec![E::CommentPosted {
                comment_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                on,
                parent_id,
                kind,
                body,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        let author = self.owner_id == Some(ctx.actor.user_id);
        match command {
            C::PostComment { .. } => unreachable!("handled above"),
            C::EditComment { body } => {
                if !author {
                    return Err(DomainError::Forbidden(
                        "only the author can edit a comment".into(),
                    ));
                }
                validate_body(&body)?;
                if body == self.body {
                    return Err(DomainError::rule("the comment already says this"));
                }
                Ok(vec![E::CommentEdited { body }])
            }
            C::DeleteComment => {
                if !author && ctx.actor.role < Role::Admin {
                    return Err(DomainError::Forbidden(
                        "only the author, an admin or an owner can delete a comment".into(),
                    ));
                }
                Ok(vec![E::CommentDeleted {
                    deleted_by: ctx.actor.user_id,
                }])
            }
        }
    }
}

event_sourced!(Comment, "Comment", CommentCommand, CommentEvent);

impl Comment {
    /// Folds one event into the state.
    fn evolve(&mut self, event: CommentEvent) {
        use CommentEvent as E;
        match event {
            E::CommentPosted {
                comment_id,
                organization_id,
                owner_id,
                on,
                parent_id,
                kind,
                body,
                visibility,
            } => {
                self.id = Some(comment_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.on = Some(on);
                self.parent_id = parent_id;
                self.kind = kind;
                self.body = body;
                self.visibility = visibility;
            }
            E::CommentEdited { body } => {
                self.body = body;
                self.edited = true;
            }
            E::CommentDeleted { .. } => self.deleted = true,
        }
    }
}

impl DomainAggregate for Comment {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{ctx, ctx_for, ExpectErrorContaining, AGG, ALICE, BOB, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Comment>;
    type C = CommentCommand;
    type E = CommentEvent;

    const TASK: Uuid = Uuid::from_u128(0x7a5c);
    const PARENT: Uuid = Uuid::from_u128(0xc0de);

    fn task() -> EntityRef {
        EntityRef {
            entity_type: "Task".into(),
            entity_id: TASK,
        }
    }

    fn post(parent_id: Option<Uuid>, body: &str) -> C {
        C::PostComment {
            on: task(),
            parent_id,
            kind: CommentKind::Comment,
            body: body.into(),
            visibility: Visibility::Organization,
        }
    }

    fn posted() -> E {
        E::CommentPosted {
            comment_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            on: task(),
            parent_id: Some(PARENT),
            kind: CommentKind::Comment,
            body: "Truck arrives at 9.".into(),
            visibility: Visibility::Organization,
        }
    }

    fn edit(body: &str) -> C {
        C::EditComment { body: body.into() }
    }

    #[test]
    fn post_a_reply() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(post(Some(PARENT), "Truck arrives at 9."))
            .then_expect_events(vec![posted()]);
        let mut comment = Comment::default();
        comment.apply(posted());
        assert_eq!(comment.owner_id, Some(ALICE));
        assert_eq!(comment.on, Some(task()));
        assert_eq!(comment.parent_id, Some(PARENT));
        assert!(!comment.edited);
    }

    #[test]
    fn post_defaults_to_a_comment_visible_to_the_organization() {
        let command: C = serde_json::from_value(serde_json::json!({
            "type": "post_comment",
            "on": {"entity_type": "Task", "entity_id": TASK},
            "parent_id": null,
            "body": "hello",
        }))
        .unwrap();
        assert_eq!(command, post(None, "hello"));
        let note: C = serde_json::from_value(serde_json::json!({
            "type": "post_comment",
            "on": {"entity_type": "Task", "entity_id": TASK},
            "parent_id": null,
            "kind": "note",
            "body": "gate code 1234",
            "visibility": "private",
        }))
        .unwrap();
        assert!(matches!(
            note,
            C::PostComment {
                kind: CommentKind::Note,
                visibility: Visibility::Private,
                ..
            }
        ));
    }

    #[test]
    fn post_refuses_bad_bodies_and_duplicates() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(post(None, " \n "))
            .then_expect_error(DomainError::field("body", "`body` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(post(None, &"é".repeat(MAX_BODY_CHARS + 1)))
            .then_expect_error_containing("at most 10000 characters");
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(post(None, &"é".repeat(MAX_BODY_CHARS)))
            .inspect_result()
            .expect("a body of exactly the limit is accepted");
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(post(Some(AGG), "me again"))
            .then_expect_error(DomainError::invalid("a comment cannot reply to itself"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::PostComment {
                on: EntityRef {
                    entity_type: " ".into(),
                    entity_id: TASK,
                },
                parent_id: None,
                kind: CommentKind::Note,
                body: "x".into(),
                visibility: Visibility::Organization,
            })
            .then_expect_error(DomainError::field(
                "on.entity_type",
                "`on.entity_type` must not be empty",
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![posted()])
            .when(post(None, "again"))
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
    }

    #[test]
    fn commands_need_a_live_comment() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(edit("x"))
            .then_expect_error(DomainError::NotCreated(ENTITY));
        Fx::with(ctx(Role::Member))
            .given(vec![posted(), E::CommentDeleted { deleted_by: ALICE }])
            .when(edit("x"))
            .then_expect_error(DomainError::Deleted(ENTITY));
        Fx::with(ctx(Role::Owner))
            .given(vec![posted(), E::CommentDeleted { deleted_by: ALICE }])
            .when(C::DeleteComment)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn the_author_edits() {
        Fx::with(ctx(Role::Member))
            .given(vec![posted()])
            .when(edit("Truck arrives at 10."))
            .then_expect_events(vec![E::CommentEdited {
                body: "Truck arrives at 10.".into(),
            }]);
        let mut comment = Comment::default();
        comment.apply(posted());
        comment.apply(E::CommentEdited {
            body: "Truck arrives at 10.".into(),
        });
        assert!(comment.edited);
        assert_eq!(comment.body, "Truck arrives at 10.");
    }

    #[test]
    fn edit_refuses_others_unchanged_and_bad_bodies() {
        Fx::with(ctx_for(BOB, Role::Owner, &[]))
            .given(vec![posted()])
            .when(edit("rewritten"))
            .then_expect_error(DomainError::Forbidden(
                "only the author can edit a comment".into(),
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![posted()])
            .when(edit("Truck arrives at 9."))
            .then_expect_error(DomainError::rule("the comment already says this"));
        Fx::with(ctx(Role::Member))
            .given(vec![posted()])
            .when(edit(""))
            .then_expect_error(DomainError::field("body", "`body` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given(vec![posted()])
            .when(edit(&"x".repeat(MAX_BODY_CHARS + 1)))
            .then_expect_error_containing("at most 10000 characters");
    }

    #[test]
    fn the_author_or_a_moderator_deletes() {
        Fx::with(ctx(Role::Member))
            .given(vec![posted()])
            .when(C::DeleteComment)
            .then_expect_events(vec![E::CommentDeleted { deleted_by: ALICE }]);
        for role in [Role::Admin, Role::Owner] {
            Fx::with(ctx_for(BOB, role, &[]))
                .given(vec![posted()])
                .when(C::DeleteComment)
                .then_expect_events(vec![E::CommentDeleted { deleted_by: BOB }]);
        }
        Fx::with(ctx_for(BOB, Role::Member, &[]))
            .given(vec![posted()])
            .when(C::DeleteComment)
            .then_expect_error_containing("not allowed: only the author");
    }

    #[test]
    fn matrix_rows() {
        let member = Requirement::Role(Role::Member);
        assert_eq!(post(None, "x").requirement(), member);
        assert_eq!(edit("x").requirement(), member);
        assert_eq!(C::DeleteComment.requirement(), member);
        assert_eq!(
            post(Some(PARENT), "x").references(),
            References::none()
                .aggregate("Task", TASK)
                .aggregate("Comment", PARENT)
        );
        assert_eq!(
            post(None, "x").references(),
            References::none().aggregate("Task", TASK)
        );
        assert!(C::DeleteComment.references().is_empty());
        assert_eq!(
            C::PostComment {
                on: task(),
                parent_id: None,
                kind: CommentKind::Note,
                body: "x".into(),
                visibility: Visibility::Public
            }
            .name(),
            "PostComment"
        );
    }
}
