//! Roles, capabilities and the requirement a command places on its sender.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member's role in an organization, from most to least powerful.
///
/// The derived order follows the declaration order, so `Guest < Member < Admin < Owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads public rows only; sends no commands.
    Guest,
    /// The everyday user: creates and works on entities.
    Member,
    /// Manages members (except owners) and destructive actions.
    Admin,
    /// Full control, including ownership transfers.
    Owner,
}

impl Role {
    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "guest" => Ok(Role::Guest),
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(format!("unknown role `{other}`")),
        }
    }
}

/// An approval capability a member may hold on top of their role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Approves production advances above the automatic tier.
    ProductionManager,
    /// Approves production advances above 5,000.
    EventDirector,
    /// Approves the largest advances, sees restricted financial rows, records payments.
    Finance,
}

impl Capability {
    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::ProductionManager => "production_manager",
            Capability::EventDirector => "event_director",
            Capability::Finance => "finance",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Capability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "production_manager" => Ok(Capability::ProductionManager),
            "event_director" => Ok(Capability::EventDirector),
            "finance" => Ok(Capability::Finance),
            other => Err(format!("unknown capability `{other}`")),
        }
    }
}

/// Who sends a command, as established by the command bus from the membership
/// roster, never from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user's id (the JWT `sub`).
    pub user_id: Uuid,
    /// The user's role in the organization the command is sent to.
    pub role: Role,
    /// The approval capabilities the user holds there.
    pub capabilities: BTreeSet<Capability>,
}

impl Actor {
    /// Whether the actor holds `capability`.
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }
}

/// What a command asks of its sender: one row of the permission matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Any authenticated user, member or not (creating an organization).
    Authenticated,
    /// A member with at least this role.
    Role(Role),
    /// A member with at least this role, or any member holding the capability.
    RoleOr(Role, Capability),
}

impl Requirement {
    /// Whether `actor` (`None` when the user is not a member) meets the requirement.
    pub fn allows(self, actor: Option<&Actor>) -> bool {
        match (self, actor) {
            (Requirement::Authenticated, _) => true,
            (_, None) => false,
            (Requirement::Role(min), Some(actor)) => actor.role >= min,
            (Requirement::RoleOr(min, capability), Some(actor)) => {
                actor.role >= min || (actor.role >= Role::Member && actor.has(capability))
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Authenticated => f.write_str("an authenticated user"),
            Requirement::Role(role) => write!(f, "the {role} role or above"),
            Requirement::RoleOr(role, capability) => {
                write!(
                    f,
                    "the {role} role or above, or the {capability} capability"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, caps: &[Capability]) -> Actor {
        Actor {
            user_id: Uuid::nil(),
            role,
            capabilities: caps.iter().copied().collect(),
        }
    }

    #[test]
    fn roles_are_ordered_owner_first() {
        assert!(Role::Owner > Role::Admin);
        assert!(Role::Admin > Role::Member);
        assert!(Role::Member > Role::Guest);
    }

    #[test]
    fn requirements_follow_role_and_capability() {
        let member = actor(Role::Member, &[]);
        let finance = actor(Role::Member, &[Capability::Finance]);
        let guest_finance = actor(Role::Guest, &[Capability::Finance]);
        let admin = actor(Role::Admin, &[]);
        let rule = Requirement::RoleOr(Role::Admin, Capability::Finance);
        assert!(!rule.allows(Some(&member)));
        assert!(rule.allows(Some(&finance)));
        assert!(!rule.allows(Some(&guest_finance)), "guests never write");
        assert!(rule.allows(Some(&admin)));
        assert!(!Requirement::Role(Role::Member).allows(None));
        assert!(Requirement::Authenticated.allows(None));
    }

    #[test]
    fn names_round_trip() {
        for role in [Role::Guest, Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        for cap in [
            Capability::ProductionManager,
            Capability::EventDirector,
            Capability::Finance,
        ] {
            assert_eq!(cap.as_str().parse::<Capability>().unwrap(), cap);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
