//! The member behind a request: the organization they act in and what their
//! membership allows, read from the projected `memberships` table and never
//! from the client.

use foldline_aggregates::visibility::is_financial;
use sqlx::pool::PoolConnection;
use sqlx::Postgres;
use uuid::Uuid;

use crate::auth::Verified;
use crate::error::ApiError;
use crate::reads::Reads;

/// An authenticated member of the organization a request acts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user.
    pub user_id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// `owner`, `admin`, `member` or `guest`.
    pub role: String,
    /// Approval capabilities (`production_manager`, `event_director`, `finance`).
    pub capabilities: Vec<String>,
}

impl Caller {
    /// The member `verified` is in the organization named by the
    /// `X-Organization-Id` header, else by the token, with a read
    /// connection already set up as them. A user with no membership
    /// anywhere is unknown: UNAUTHENTICATED; one who is not a member of that
    /// organization: FORBIDDEN.
    pub async fn resolve(
        reads: &Reads,
        verified: Verified,
        header: Option<&str>,
    ) -> Result<(Caller, PoolConnection<Postgres>), ApiError> {
        let organization_id = match header {
            Some(header) => header.trim().parse().map_err(|_| {
                ApiError::BadUserInput(format!("X-Organization-Id `{header}` is not a UUID"))
            })?,
            None => verified.organization_id.ok_or_else(|| {
                ApiError::BadUserInput(
                    "name the organization in an X-Organization-Id header or the token's `org` claim"
                        .into(),
                )
            })?,
        };
        let admission = reads.admit(verified.user_id, organization_id).await?;
        if admission.memberships_anywhere == 0 {
            return Err(ApiError::Unauthenticated(
                "the token's user is not known here".into(),
            ));
        }
        let (role, capabilities) = admission.membership.ok_or_else(|| {
            ApiError::Forbidden(format!(
                "you are not a member of organization {organization_id}"
            ))
        })?;
        let caller = Caller {
            user_id: verified.user_id,
            organization_id,
            role,
            capabilities,
        };
        Ok((caller, admission.connection))
    }

    /// Whether the caller may see an entity of `aggregate_type` with
    /// `visibility`, created by `owner`, read from its stream: the rule the
    /// row-level security policies apply to its rows
    /// (`migrations/0007_api_row_security.sql`, `0014_financial_rows.sql`),
    /// so that its detail, audit and rows agree.
    pub fn may_see_entity(
        &self,
        aggregate_type: &str,
        visibility: &str,
        owner: Option<Uuid>,
    ) -> bool {
        let role = self.role.as_str();
        match visibility {
            "public" => true,
            "organization" => matches!(role, "owner" | "admin" | "member"),
            "restricted" => {
                matches!(role, "owner" | "admin")
                    || (is_financial(aggregate_type)
                        && self.capabilities.iter().any(|c| c == "finance"))
            }
            "private" => owner == Some(self.user_id) || role == "owner",
            _ => false,
        }
    }
}
