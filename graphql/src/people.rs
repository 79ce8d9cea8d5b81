//! `people`: members, contacts, talent and companies.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::{EntityType, Visibility};
use foldline_projectors::people_directory::PersonType;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// A person or an organisation the organization works with.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct Person {
    /// The row's id.
    pub id: Uuid,
    /// Who they are to the organization.
    pub person_type: PersonType,
    /// `Member`, `Contact` or `Company`.
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
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
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its entity began: the list's order, which no change moves.
    pub created_at: DateTime<Utc>,
}

impl Paged for Person {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

/// Which people to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct PeopleFilter {
    /// Words in the name, each the start of a word: `car` finds Carol.
    pub search: Option<String>,
    /// Only this person type.
    pub person_type: Option<PersonType>,
}

/// People queries.
#[derive(Default)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// The people directory, newest first (by when each row's entity began; a row that changes keeps its place, so paging while rows change neither skips nor repeats one).
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn people(
        &self,
        ctx: &Context<'_>,
        filter: Option<PeopleFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<Person>> {
        let listing = Listing {
            first,
            after,
            last,
            before,
            after_position,
        };
        resolve(ctx, filter, listing).await
    }
}

impl Listed for PeopleFilter {
    type Row = Person;
    const TABLE: &'static str = "people_directory";
    const COLUMNS: &'static str = "id, person_type, entity_type, entity_id, name, email, phone, \
        job_title, role, company_id, company_name, visibility, updated_at, created_at";
    const ORDER: Order = Order {
        column: "created_at",
        descending: true,
    };

    fn take_search(&mut self) -> Option<String> {
        self.search.take().filter(|text| !text.trim().is_empty())
    }

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        if let Some(search) = self.search.filter(|s| !s.trim().is_empty()) {
            crate::search::push_matching(sql, Self::TABLE, search);
        }
        if let Some(person_type) = self.person_type {
            sql.push(" AND person_type = ").push_bind(person_type);
        }
        Ok(())
    }
}
