//! Who may see the rows an entity projects into the read tables.

use serde::{Deserialize, Serialize};

/// The visibility of an entity's rows (`visibility_type` in the seeds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Every member, guests included.
    Public,
    /// Members, admins and owners.
    #[default]
    Organization,
    /// Admins and owners, plus holders of `finance` for financial rows.
    Restricted,
    /// The entity's owner and the organization's owners.
    Private,
}

impl TryFrom<String> for Visibility {
    type Error = String;

    /// The name stored in the read tables, back.
    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "public" => Ok(Visibility::Public),
            "organization" => Ok(Visibility::Organization),
            "restricted" => Ok(Visibility::Restricted),
            "private" => Ok(Visibility::Private),
            _ => Err(format!("unknown visibility `{name}`")),
        }
    }
}

impl Visibility {
    /// The name stored in the read tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Organization => "organization",
            Visibility::Restricted => "restricted",
            Visibility::Private => "private",
        }
    }
}

/// The aggregate types whose rows are financial, wherever they appear:
/// restricted ones are also shown to holders of `finance` (DOMAIN.md).
/// Row-level security lists the same types (`migrations/0014`).
pub const FINANCIAL_TYPES: [&str; 2] = ["Invoice", "Expense"];

/// Whether the rows of `aggregate_type` are financial.
pub fn is_financial(aggregate_type: &str) -> bool {
    FINANCIAL_TYPES.contains(&aggregate_type)
}
