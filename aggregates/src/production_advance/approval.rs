//! Approval tiers: who must approve an advance, given its total cost.

use crate::access::Capability;

/// Totals up to this many minor units (500.00) are approved automatically.
const AUTOMATIC_LIMIT: i64 = 500_00;
/// Up to 5,000.00 a production manager approves.
const PRODUCTION_MANAGER_LIMIT: i64 = 5_000_00;
/// Up to 25,000.00 the event director approves after the production manager;
/// above that, finance approves last.
const EVENT_DIRECTOR_LIMIT: i64 = 25_000_00;

/// The capabilities whose approvals a total cost (in minor units) needs, in the
/// order they must be given. Empty for the automatic tier.
pub fn required_approvals(total_cost: i64) -> Vec<Capability> {
    let tiers = [
        (AUTOMATIC_LIMIT, None),
        (
            PRODUCTION_MANAGER_LIMIT,
            Some(Capability::ProductionManager),
        ),
        (EVENT_DIRECTOR_LIMIT, Some(Capability::EventDirector)),
        (i64::MAX, Some(Capability::Finance)),
    ];
    let mut required = Vec::new();
    for (limit, capability) in tiers {
        required.extend(capability);
        if total_cost <= limit {
            break;
        }
    }
    required
}

#[cfg(test)]
mod tests {
    use super::*;
    use Capability::*;

    #[test]
    fn tiers_at_their_edges() {
        assert_eq!(required_approvals(0), vec![]);
        assert_eq!(required_approvals(500_00), vec![]);
        assert_eq!(required_approvals(500_01), vec![ProductionManager]);
        assert_eq!(required_approvals(5_000_00), vec![ProductionManager]);
        assert_eq!(
            required_approvals(5_000_01),
            vec![ProductionManager, EventDirector]
        );
        assert_eq!(
            required_approvals(25_000_00),
            vec![ProductionManager, EventDirector]
        );
        assert_eq!(
            required_approvals(25_000_01),
            vec![ProductionManager, EventDirector, Finance]
        );
    }
}
