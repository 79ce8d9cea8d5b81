//! `people`: members, contacts, talent and companies.

use async_graphql::{Context, ErrorExtensions, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{fetch, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;
use crate::request::Request;

/// A person or an organisation the organization works with.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct Person {
    /// The row's id.
    pub id: Uuid,
    /// `internal`, `company_contact`, `talent`, `client`, `vendor`, `partner`.
    pub person_type: String,
    /// `Member`, `Contact` or `Company`.
    pub entity_type: String,
    /// The member's user id, the contact's or the company's id.
    pub entity_id: Uuid,
    /// The name.
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// A member's role.
    pub role: Option<String>,
    /// A contact's company.
    pub company_id: Option<Uuid>,
    /// That company's name.
    pub company_name: Option<String>,
    /// Who may see it.
    pub visibility: String,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Paged for Person {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.updated_at,
            id: self.id,
        }
    }
}

/// Which people to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct PeopleFilter {
    /// Words in the name.
    pub search: Option<String>,
    /// Only this person type.
    pub person_type: Option<String>,
}

/// People queries.
#[derive(Default)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// The people directory, most recently changed first.
    async fn people(
        &self,
        ctx: &Context<'_>,
        filter: Option<PeopleFilter>,
        first: Option<i32>,
        after: Option<String>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<Person>> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        let listing = Listing {
            first,
            after,
            after_position,
        };
        people(request, filter.unwrap_or_default(), listing)
            .await
            .map_err(|e| e.extend())
    }
}

async fn people(
    request: &Request,
    filter: PeopleFilter,
    listing: Listing,
) -> Result<PageOf<Person>, ApiError> {
    let mut sql = QueryBuilder::<Postgres>::new(
        "SELECT id, person_type, entity_type, entity_id, name, email, phone, job_title, role,
                company_id, company_name, visibility, updated_at
         FROM people_directory WHERE organization_id = ",
    );
    sql.push_bind(request.caller.organization_id);
    if let Some(search) = filter.search.filter(|s| !s.trim().is_empty()) {
        sql.push(" AND to_tsvector('simple', name) @@ plainto_tsquery('simple', ")
            .push_bind(search)
            .push(")");
    }
    if let Some(person_type) = filter.person_type {
        sql.push(" AND person_type = ").push_bind(person_type);
    }
    let order = Order {
        column: "updated_at",
        descending: true,
    };
    fetch(request, "people_directory", listing, sql, order).await
}
