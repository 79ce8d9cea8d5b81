//! Helpers for the aggregates' unit tests.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::access::{Actor, Capability, Role};
use crate::domain::CommandContext;

/// The organization every unit-test scenario runs in.
pub const ORG: Uuid = Uuid::from_u128(0x0f01);
/// The aggregate every unit-test scenario commands.
pub const AGG: Uuid = Uuid::from_u128(0xa66);
/// The default acting user.
pub const ALICE: Uuid = Uuid::from_u128(0xa11ce);
/// A second user.
pub const BOB: Uuid = Uuid::from_u128(0xb0b);
/// A third user.
pub const CAROL: Uuid = Uuid::from_u128(0xca401);

/// A context for `user` acting with `role` and `capabilities` in [`ORG`].
pub fn ctx_for(user: Uuid, role: Role, capabilities: &[Capability]) -> CommandContext {
    CommandContext {
        aggregate_id: AGG,
        organization_id: ORG,
        actor: Actor {
            user_id: user,
            role,
            capabilities: capabilities.iter().copied().collect::<BTreeSet<_>>(),
        },
    }
}

/// [`ALICE`] acting with `role` and no capabilities.
pub fn ctx(role: Role) -> CommandContext {
    ctx_for(ALICE, role, &[])
}

/// Asserts on part of an error message, where the exact text is not the point.
pub trait ExpectErrorContaining {
    /// Panics unless the command failed with an error whose message contains `needle`.
    fn then_expect_error_containing(self, needle: &str);
}

impl<A> ExpectErrorContaining for cqrs_es::test::AggregateResultValidator<A>
where
    A: cqrs_es::Aggregate,
{
    fn then_expect_error_containing(self, needle: &str) {
        match self.inspect_result() {
            Ok(events) => panic!("expected an error containing `{needle}`, got events {events:?}"),
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains(needle),
                    "error `{message}` does not contain `{needle}`"
                );
            }
        }
    }
}
