//! The Organization aggregate: a tenant, its members, their roles and capabilities.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Capability, Requirement, Role};
use crate::domain::{
    ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand, RosterEntry,
};
use crate::error::DomainError;
use crate::workflow_kind::WorkflowKind;

const ENTITY: &str = "organization";

/// A tenant. Its aggregate id is the organization id.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity, extra = "crate::graphql::OrganizationFields")]
pub struct Organization {
    /// The organization's id, once created.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// Display name.
    pub name: String,
    /// Members by user id.
    #[output(skip)]
    pub members: BTreeMap<Uuid, Member>,
    /// The workflows switched on.
    #[output(skip)]
    #[serde(default)]
    pub workflows: BTreeSet<WorkflowKind>,
}

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct Member {
    /// Name shown in the people directory.
    pub display_name: String,
    /// Contact email.
    pub email: String,
    /// Role in the organization.
    pub role: Role,
    /// Approval capabilities.
    pub capabilities: BTreeSet<Capability>,
}

/// Commands on an [`Organization`].
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
pub enum OrganizationCommand {
    /// Creates the organization with its sender as the first owner.
    CreateOrganization {
        /// Display name.
        name: String,
        /// The founder's name in the directory.
        founder_name: String,
        /// The founder's email.
        founder_email: String,
    },
    /// Renames the organization.
    RenameOrganization {
        /// The new name.
        name: String,
    },
    /// Adds a user as a member.
    AddMember {
        /// The user to add.
        user_id: Uuid,
        /// Their name in the directory.
        display_name: String,
        /// Their email.
        email: String,
        /// Their role; only an owner may grant `owner`.
        role: Role,
        /// Their approval capabilities.
        #[serde(default)]
        capabilities: BTreeSet<Capability>,
    },
    /// Changes a member's role.
    ChangeMemberRole {
        /// The member.
        user_id: Uuid,
        /// The new role.
        role: Role,
    },
    /// Replaces a member's approval capabilities.
    SetMemberCapabilities {
        /// The member.
        user_id: Uuid,
        /// The full new set.
        capabilities: BTreeSet<Capability>,
    },
    /// Removes a member; members may remove themselves (leave).
    RemoveMember {
        /// The member.
        user_id: Uuid,
    },
    /// Switches a workflow on: it runs for the organization, acting as a
    /// system member with the role and capabilities it needs.
    EnableWorkflow {
        /// The workflow.
        workflow: WorkflowKind,
    },
    /// Switches a workflow off, and with it its system member.
    DisableWorkflow {
        /// The workflow.
        workflow: WorkflowKind,
    },
}

impl DomainCommand for OrganizationCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        match self {
            OrganizationCommand::CreateOrganization { .. } => Requirement::Authenticated,
            // Leaving is open to every member; removing someone else is checked inside.
            OrganizationCommand::RemoveMember { .. } => Requirement::Role(Role::Guest),
            _ => Requirement::Role(Role::Admin),
        }
    }
}

/// Events of an [`Organization`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum OrganizationEvent {
    /// The organization was created.
    OrganizationCreated {
        /// Its id.
        organization_id: Uuid,
        /// Its name.
        name: String,
        /// The user who created it.
        founder_id: Uuid,
    },
    /// It was renamed.
    OrganizationRenamed {
        /// The new name.
        name: String,
    },
    /// A member joined.
    MemberAdded {
        /// The user.
        user_id: Uuid,
        /// Their name.
        display_name: String,
        /// Their email.
        email: String,
        /// Their role.
        role: Role,
        /// Their capabilities.
        capabilities: BTreeSet<Capability>,
    },
    /// A member's role changed.
    MemberRoleChanged {
        /// The member.
        user_id: Uuid,
        /// The role before.
        from: Role,
        /// The role after.
        to: Role,
    },
    /// A member's capabilities were replaced.
    MemberCapabilitiesChanged {
        /// The member.
        user_id: Uuid,
        /// The new set.
        capabilities: BTreeSet<Capability>,
    },
    /// A member left or was removed.
    MemberRemoved {
        /// The member.
        user_id: Uuid,
    },
    /// A workflow was switched on.
    WorkflowEnabled {
        /// The workflow.
        workflow: WorkflowKind,
    },
    /// A workflow was switched off.
    WorkflowDisabled {
        /// The workflow.
        workflow: WorkflowKind,
    },
}

domain_event!(OrganizationEvent);

impl Organization {
    fn owners(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.role == Role::Owner)
            .count()
    }

    fn member(&self, user_id: Uuid) -> Result<&Member, DomainError> {
        self.members
            .get(&user_id)
            .ok_or_else(|| DomainError::rule(format!("user {user_id} is not a member")))
    }

    fn decide(
        &self,
        command: OrganizationCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<OrganizationEvent>, DomainError> {
        use OrganizationCommand as C;
        use OrganizationEvent as E;

        if let C::CreateOrganization {
            name,
            founder_name,
            founder_email,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&name, "name")?;
            require_text(&founder_name, "founder_name")?;
            validate_email(&founder_email)?;
            return Ok(vec![
                E::OrganizationCreated {
                    organization_id: ctx.organization_id,
                    name,
                    founder_id: ctx.actor.user_id,
                },
                E::MemberAdded {
                    user_id: ctx.actor.user_id,
                    display_name: founder_name,
                    email: founder_email,
                    role: Role::Owner,
                    capabilities: BTreeSet::new(),
                },
            ]);
        }
        ensure_live(self.id.is_some(), false, ENTITY)?;
        let actor = &ctx.actor;
        match command {
            C::CreateOrganization { .. } => unreachable!("handled above"),
            C::RenameOrganization { name } => {
                require_text(&name, "name")?;
                Ok(vec![E::OrganizationRenamed { name }])
            }
            C::AddMember {
                user_id,
                display_name,
                email,
                role,
                capabilities,
            } => {
                if self.members.contains_key(&user_id) {
                    return Err(DomainError::rule(format!(
                        "user {user_id} is already a member"
                    )));
                }
                require_text(&display_name, "display_name")?;
                validate_email(&email)?;
                if role == Role::Owner && actor.role != Role::Owner {
                    return Err(DomainError::Forbidden(
                        "only an owner can make someone an owner".into(),
                    ));
                }
                Ok(vec![E::MemberAdded {
                    user_id,
                    display_name,
                    email,
                    role,
                    capabilities,
                }])
            }
            C::ChangeMemberRole { user_id, role } => {
                let from = self.member(user_id)?.role;
                if from == role {
                    return Err(DomainError::rule(format!("the member is already {role}")));
                }
                if (role == Role::Owner || from == Role::Owner) && actor.role != Role::Owner {
                    return Err(DomainError::Forbidden(
                        "only an owner can grant or take the owner role".into(),
                    ));
                }
                if from == Role::Owner && self.owners() == 1 {
                    return Err(DomainError::rule(
                        "the last owner cannot be demoted; make another owner first",
                    ));
                }
                Ok(vec![E::MemberRoleChanged {
                    user_id,
                    from,
                    to: role,
                }])
            }
            C::SetMemberCapabilities {
                user_id,
                capabilities,
            } => {
                let member = self.member(user_id)?;
                if member.role == Role::Owner && actor.role != Role::Owner {
                    return Err(DomainError::Forbidden(
                        "only an owner can change an owner's capabilities".into(),
                    ));
                }
                if member.capabilities == capabilities {
                    return Err(DomainError::rule(
                        "the member already has these capabilities",
                    ));
                }
                Ok(vec![E::MemberCapabilitiesChanged {
                    user_id,
                    capabilities,
                }])
            }
            C::RemoveMember { user_id } => {
                let member = self.member(user_id)?;
                let leaving = user_id == actor.user_id;
                if !leaving && actor.role < Role::Admin {
                    return Err(DomainError::Forbidden(
                        "only admins and owners can remove other members".into(),
                    ));
                }
                if member.role == Role::Owner && !leaving && actor.role != Role::Owner {
                    return Err(DomainError::Forbidden(
                        "only an owner can remove an owner".into(),
                    ));
                }
                if member.role == Role::Owner && self.owners() == 1 {
                    return Err(DomainError::rule(
                        "the last owner cannot leave; make another owner first",
                    ));
                }
                Ok(vec![E::MemberRemoved { user_id }])
            }
            C::EnableWorkflow { workflow } => {
                if self.workflows.contains(&workflow) {
                    return Err(DomainError::rule(format!(
                        "workflow {} is already on",
                        workflow.name()
                    )));
                }
                Ok(vec![E::WorkflowEnabled { workflow }])
            }
            C::DisableWorkflow { workflow } => {
                if !self.workflows.contains(&workflow) {
                    return Err(DomainError::rule(format!(
                        "workflow {} is not on",
                        workflow.name()
                    )));
                }
                Ok(vec![E::WorkflowDisabled { workflow }])
            }
        }
    }
}

fn validate_email(email: &str) -> Result<(), DomainError> {
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => Ok(()),
        _ => Err(DomainError::invalid(format!(
            "`{email}` is not an email address"
        ))),
    }
}

event_sourced!(
    Organization,
    "Organization",
    OrganizationCommand,
    OrganizationEvent
);

impl Organization {
    /// Folds one event into the state.
    fn evolve(&mut self, event: OrganizationEvent) {
        use OrganizationEvent as E;
        match event {
            E::OrganizationCreated {
                organization_id,
                name,
                ..
            } => {
                self.id = Some(organization_id);
                self.name = name;
            }
            E::OrganizationRenamed { name } => self.name = name,
            E::MemberAdded {
                user_id,
                display_name,
                email,
                role,
                capabilities,
            } => {
                self.members.insert(
                    user_id,
                    Member {
                        display_name,
                        email,
                        role,
                        capabilities,
                    },
                );
            }
            E::MemberRoleChanged { user_id, to, .. } => {
                if let Some(member) = self.members.get_mut(&user_id) {
                    member.role = to;
                }
            }
            E::MemberCapabilitiesChanged {
                user_id,
                capabilities,
            } => {
                if let Some(member) = self.members.get_mut(&user_id) {
                    member.capabilities = capabilities;
                }
            }
            E::MemberRemoved { user_id } => {
                self.members.remove(&user_id);
            }
            E::WorkflowEnabled { workflow } => {
                self.workflows.insert(workflow);
            }
            E::WorkflowDisabled { workflow } => {
                self.workflows.remove(&workflow);
            }
        }
    }
}

impl DomainAggregate for Organization {
    fn organization_id(&self) -> Option<Uuid> {
        self.id
    }

    fn roster(&self) -> Option<Vec<RosterEntry>> {
        let members = self.members.iter().map(|(user_id, member)| RosterEntry {
            user_id: *user_id,
            role: member.role,
            capabilities: member.capabilities.clone(),
        });
        // Each workflow switched on is a system member while it is on.
        let organization_id = self.id.unwrap_or_default();
        let workflows = self.workflows.iter().map(|workflow| RosterEntry {
            user_id: workflow.actor_id(organization_id),
            role: workflow.role(),
            capabilities: workflow.capabilities(),
        });
        Some(members.chain(workflows).collect())
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{ctx, ctx_for, ExpectErrorContaining, ALICE, BOB, CAROL, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Organization>;

    fn created() -> Vec<OrganizationEvent> {
        vec![
            OrganizationEvent::OrganizationCreated {
                organization_id: ORG,
                name: "Northwind Live".into(),
                founder_id: ALICE,
            },
            member_added(ALICE, Role::Owner),
        ]
    }

    fn member_added(user_id: Uuid, role: Role) -> OrganizationEvent {
        OrganizationEvent::MemberAdded {
            user_id,
            display_name: format!("user {user_id}"),
            email: "someone@example.com".into(),
            role,
            capabilities: BTreeSet::new(),
        }
    }

    fn add(user_id: Uuid, role: Role) -> OrganizationCommand {
        OrganizationCommand::AddMember {
            user_id,
            display_name: format!("user {user_id}"),
            email: "someone@example.com".into(),
            role,
            capabilities: BTreeSet::new(),
        }
    }

    #[test]
    fn create_makes_the_founder_owner() {
        Fx::with(ctx(Role::Guest))
            .given_no_previous_events()
            .when(OrganizationCommand::CreateOrganization {
                name: "Northwind Live".into(),
                founder_name: format!("user {ALICE}"),
                founder_email: "someone@example.com".into(),
            })
            .then_expect_events(created());
    }

    #[test]
    fn create_twice_is_refused() {
        Fx::with(ctx(Role::Owner))
            .given(created())
            .when(OrganizationCommand::CreateOrganization {
                name: "Again".into(),
                founder_name: "A".into(),
                founder_email: "a@example.com".into(),
            })
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
    }

    #[test]
    fn create_needs_a_name_and_an_email() {
        Fx::with(ctx(Role::Guest))
            .given_no_previous_events()
            .when(OrganizationCommand::CreateOrganization {
                name: " ".into(),
                founder_name: "A".into(),
                founder_email: "a@example.com".into(),
            })
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
        Fx::with(ctx(Role::Guest))
            .given_no_previous_events()
            .when(OrganizationCommand::CreateOrganization {
                name: "N".into(),
                founder_name: "A".into(),
                founder_email: "not-an-email".into(),
            })
            .then_expect_error_containing("not an email address");
    }

    #[test]
    fn commands_before_creation_are_refused() {
        Fx::with(ctx(Role::Owner))
            .given_no_previous_events()
            .when(add(BOB, Role::Member))
            .then_expect_error(DomainError::NotCreated(ENTITY));
    }

    #[test]
    fn rename() {
        Fx::with(ctx(Role::Admin))
            .given(created())
            .when(OrganizationCommand::RenameOrganization {
                name: "Southwind".into(),
            })
            .then_expect_events(vec![OrganizationEvent::OrganizationRenamed {
                name: "Southwind".into(),
            }]);
    }

    #[test]
    fn admins_add_members() {
        Fx::with(ctx_for(BOB, Role::Admin, &[]))
            .given(created())
            .when(add(CAROL, Role::Member))
            .then_expect_events(vec![member_added(CAROL, Role::Member)]);
    }

    #[test]
    fn adding_a_member_twice_is_refused() {
        Fx::with(ctx(Role::Owner))
            .given(created())
            .and(vec![member_added(BOB, Role::Member)])
            .when(add(BOB, Role::Admin))
            .then_expect_error_containing("already a member");
    }

    #[test]
    fn an_admin_cannot_make_an_owner() {
        let mut events = created();
        events.push(member_added(BOB, Role::Admin));
        events.push(member_added(CAROL, Role::Member));
        Fx::with(ctx_for(BOB, Role::Admin, &[]))
            .given(events.clone())
            .when(add(Uuid::from_u128(7), Role::Owner))
            .then_expect_error_containing("only an owner");
        Fx::with(ctx_for(BOB, Role::Admin, &[]))
            .given(events)
            .when(OrganizationCommand::ChangeMemberRole {
                user_id: CAROL,
                role: Role::Owner,
            })
            .then_expect_error_containing("only an owner");
    }

    #[test]
    fn an_owner_can_make_an_owner() {
        Fx::with(ctx(Role::Owner))
            .given(created())
            .and(vec![member_added(BOB, Role::Admin)])
            .when(OrganizationCommand::ChangeMemberRole {
                user_id: BOB,
                role: Role::Owner,
            })
            .then_expect_events(vec![OrganizationEvent::MemberRoleChanged {
                user_id: BOB,
                from: Role::Admin,
                to: Role::Owner,
            }]);
    }

    #[test]
    fn the_last_owner_cannot_be_demoted_or_leave() {
        Fx::with(ctx(Role::Owner))
            .given(created())
            .when(OrganizationCommand::ChangeMemberRole {
                user_id: ALICE,
                role: Role::Admin,
            })
            .then_expect_error_containing("last owner cannot be demoted");
        Fx::with(ctx(Role::Owner))
            .given(created())
            .when(OrganizationCommand::RemoveMember { user_id: ALICE })
            .then_expect_error_containing("last owner cannot leave");
    }

    #[test]
    fn an_owner_may_leave_when_another_owner_remains() {
        Fx::with(ctx(Role::Owner))
            .given(created())
            .and(vec![member_added(BOB, Role::Owner)])
            .when(OrganizationCommand::RemoveMember { user_id: ALICE })
            .then_expect_events(vec![OrganizationEvent::MemberRemoved { user_id: ALICE }]);
    }

    #[test]
    fn members_may_leave_but_not_remove_others() {
        let mut events = created();
        events.push(member_added(BOB, Role::Member));
        events.push(member_added(CAROL, Role::Member));
        Fx::with(ctx_for(BOB, Role::Member, &[]))
            .given(events.clone())
            .when(OrganizationCommand::RemoveMember { user_id: BOB })
            .then_expect_events(vec![OrganizationEvent::MemberRemoved { user_id: BOB }]);
        Fx::with(ctx_for(BOB, Role::Member, &[]))
            .given(events)
            .when(OrganizationCommand::RemoveMember { user_id: CAROL })
            .then_expect_error_containing("only admins and owners");
    }

    #[test]
    fn an_admin_cannot_remove_an_owner() {
        Fx::with(ctx_for(BOB, Role::Admin, &[]))
            .given(created())
            .and(vec![member_added(BOB, Role::Admin)])
            .when(OrganizationCommand::RemoveMember { user_id: ALICE })
            .then_expect_error_containing("only an owner can remove an owner");
    }

    #[test]
    fn capabilities_are_replaced() {
        let caps: BTreeSet<_> = [Capability::Finance].into();
        Fx::with(ctx(Role::Owner))
            .given(created())
            .and(vec![member_added(BOB, Role::Member)])
            .when(OrganizationCommand::SetMemberCapabilities {
                user_id: BOB,
                capabilities: caps.clone(),
            })
            .then_expect_events(vec![OrganizationEvent::MemberCapabilitiesChanged {
                user_id: BOB,
                capabilities: caps,
            }]);
    }

    #[test]
    fn unknown_members_are_refused() {
        Fx::with(ctx(Role::Owner))
            .given(created())
            .when(OrganizationCommand::SetMemberCapabilities {
                user_id: BOB,
                capabilities: BTreeSet::new(),
            })
            .then_expect_error_containing("is not a member");
    }

    #[test]
    fn roster_reflects_members() {
        let mut org = Organization::default();
        for event in created() {
            org.apply(event);
        }
        org.apply(member_added(BOB, Role::Guest));
        let roster = org.roster().unwrap();
        assert_eq!(roster.len(), 2);
        assert!(roster
            .iter()
            .any(|entry| entry.user_id == BOB && entry.role == Role::Guest));
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(
            add(BOB, Role::Member).requirement(),
            Requirement::Role(Role::Admin)
        );
        assert_eq!(add(BOB, Role::Member).name(), "AddMember");
    }
}
