//! `me`: who the caller is here, and what they may do, so that a screen
//! can show or hide what the caller could not do anyway.

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use uuid::Uuid;

use crate::error::ApiError;
use crate::request::Request;

/// The caller, as admitted for this request.
#[derive(Debug, Clone, SimpleObject)]
pub struct Me {
    /// Their user id (the token's subject).
    pub user_id: Uuid,
    /// The organization the request acts in.
    pub organization_id: Uuid,
    /// Their role in it: `owner`, `admin`, `member` or `guest`.
    pub role: String,
    /// Their approval capabilities in it.
    pub capabilities: Vec<String>,
    /// Every organization they belong to, by name: where else they may
    /// act, with `X-Organization-Id`.
    pub organizations: Vec<Membership>,
}

/// One organization the caller belongs to.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct Membership {
    /// The organization.
    pub organization_id: Uuid,
    /// Its name, once its projection has it.
    pub name: Option<String>,
    /// The caller's role there.
    pub role: String,
    /// The caller's approval capabilities there.
    pub capabilities: Vec<String>,
}

/// The `me` query.
#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// The caller: their role and capabilities in this organization, and
    /// the organizations they belong to. Read at admission, so a role
    /// changed since shows at the next request.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        me(request).await.map_err(|e| e.extend())
    }
}

async fn me(request: &Request) -> Result<Me, ApiError> {
    let mut conn = request.read().await?;
    let organizations =
        sqlx::query_as("SELECT organization_id, name, role, capabilities FROM api_memberships()")
            .fetch_all(&mut *conn)
            .await?;
    let caller = &request.caller;
    Ok(Me {
        user_id: caller.user_id,
        organization_id: caller.organization_id,
        role: caller.role.clone(),
        capabilities: caller.capabilities.clone(),
        organizations,
    })
}
