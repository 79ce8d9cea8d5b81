//! The member behind a request: the organization they act in and what their
//! membership allows, read from the projected `memberships` table and never
//! from the client.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::auth::Verified;
use crate::error::ApiError;

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
    /// `X-Organization-Id` header, else by the token. A user with no
    /// membership anywhere is unknown: UNAUTHENTICATED; one who is not a
    /// member of that organization: FORBIDDEN.
    pub async fn resolve(
        pool: &PgPool,
        verified: Verified,
        header: Option<&str>,
    ) -> Result<Caller, ApiError> {
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
        let rows: Vec<(Uuid, String, Vec<String>)> = sqlx::query_as(
            "SELECT organization_id, role, capabilities FROM memberships WHERE user_id = $1",
        )
        .bind(verified.user_id)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Err(ApiError::Unauthenticated(
                "the token's user is not known here".into(),
            ));
        }
        let (_, role, capabilities) = rows
            .into_iter()
            .find(|(organization, ..)| *organization == organization_id)
            .ok_or_else(|| {
                ApiError::Forbidden(format!(
                    "you are not a member of organization {organization_id}"
                ))
            })?;
        Ok(Caller {
            user_id: verified.user_id,
            organization_id,
            role,
            capabilities,
        })
    }

    /// The caller as the membership table has them now: a long-lived
    /// subscription calls this so that a member removed from the
    /// organization, or given another role, is treated as such.
    pub async fn refresh(&self, pool: &PgPool) -> Result<Caller, ApiError> {
        let row: Option<(String, Vec<String>)> = sqlx::query_as(
            "SELECT role, capabilities FROM memberships WHERE user_id = $1 AND organization_id = $2",
        )
        .bind(self.user_id)
        .bind(self.organization_id)
        .fetch_optional(pool)
        .await?;
        let (role, capabilities) = row.ok_or_else(|| {
            ApiError::Forbidden(format!(
                "you are no longer a member of organization {}",
                self.organization_id
            ))
        })?;
        Ok(Caller {
            role,
            capabilities,
            ..self.clone()
        })
    }

    /// Whether the caller may see a row or entity with `visibility`, created
    /// by `owner`; `financial` rows are also shown restricted to holders of
    /// `finance`. The same rule as the row-level security policies
    /// (`migrations/0007_api_row_security.sql`), for entities read from
    /// their streams.
    pub fn may_see(&self, visibility: &str, owner: Option<Uuid>, financial: bool) -> bool {
        let role = self.role.as_str();
        match visibility {
            "public" => true,
            "organization" => matches!(role, "owner" | "admin" | "member"),
            "restricted" => {
                matches!(role, "owner" | "admin")
                    || (financial && self.capabilities.iter().any(|c| c == "finance"))
            }
            "private" => owner == Some(self.user_id) || role == "owner",
            _ => false,
        }
    }

    /// Begins a read-only transaction as `foldline_api` with the caller's
    /// settings, so row-level security shows only what the caller may see.
    pub async fn read(&self, pool: &PgPool) -> Result<Transaction<'static, Postgres>, ApiError> {
        let mut tx = pool.begin().await?;
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "SELECT set_config('app.organization_id', $1, true), set_config('app.user_id', $2, true),
                    set_config('app.role', $3, true), set_config('app.capabilities', $4, true),
                    set_config('role', 'foldline_api', true)",
        )
        .bind(self.organization_id.to_string())
        .bind(self.user_id.to_string())
        .bind(&self.role)
        .bind(self.capabilities.join(","))
        .execute(&mut *tx)
        .await?;
        Ok(tx)
    }
}
