//! `me`: who the caller is here, and what they may do, so that a screen
//! can show or hide what the caller could not do anyway.

use std::str::FromStr;

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use foldline_aggregates::{Capability, Role};
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
    /// Their role in it.
    pub role: Role,
    /// Their approval capabilities in it.
    pub capabilities: Vec<Capability>,
    /// Every organization they belong to, by name: where else they may
    /// act, with `X-Organization-Id`.
    pub organizations: Vec<Membership>,
}

/// One organization the caller belongs to.
#[derive(Debug, Clone, SimpleObject)]
pub struct Membership {
    /// The organization.
    pub organization_id: Uuid,
    /// Its name, once its projection has it.
    pub name: Option<String>,
    /// The caller's role there.
    pub role: Role,
    /// The caller's approval capabilities there.
    pub capabilities: Vec<Capability>,
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
    let rows: Vec<(Uuid, Option<String>, String, Vec<String>)> =
        sqlx::query_as("SELECT organization_id, name, role, capabilities FROM api_memberships()")
            .fetch_all(&mut *conn)
            .await?;
    let organizations = rows
        .into_iter()
        .map(|(organization_id, name, role, capabilities)| {
            Ok(Membership {
                organization_id,
                name,
                role: parse(&role)?,
                capabilities: parse_all(&capabilities)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let caller = &request.caller;
    Ok(Me {
        user_id: caller.user_id,
        organization_id: caller.organization_id,
        role: parse(&caller.role)?,
        capabilities: parse_all(&caller.capabilities)?,
        organizations,
    })
}

/// A role or capability as the memberships table names it; anything else
/// there is a bug, not the caller's doing.
fn parse<T: FromStr<Err = String>>(name: &str) -> Result<T, ApiError> {
    name.parse().map_err(ApiError::Internal)
}

fn parse_all<T: FromStr<Err = String>>(names: &[String]) -> Result<Vec<T>, ApiError> {
    names.iter().map(|name| parse(name)).collect()
}
