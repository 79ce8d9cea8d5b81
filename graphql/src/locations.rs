//! `locations`: venues, warehouses, offices and events' places.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::{EntityType, Visibility};
use foldline_projectors::location_registry::LocationType;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// A place.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct Location {
    /// The row's id.
    pub id: Uuid,
    /// What the place is.
    pub location_type: LocationType,
    /// The entity's type.
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
    /// The entity.
    pub entity_id: Uuid,
    /// Its name.
    pub name: String,
    /// Street address.
    pub address_line_1: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// How many people it holds.
    pub capacity: Option<i64>,
    /// An event's venue.
    pub venue_id: Option<Uuid>,
    /// Who may see it.
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its entity began: the list's order, which no change moves.
    pub created_at: DateTime<Utc>,
}

impl Paged for Location {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

/// A circle on the map.
#[derive(Debug, Clone, InputObject)]
pub struct Radius {
    /// Centre latitude in degrees, -90 to 90.
    pub latitude: f64,
    /// Centre longitude in degrees, -180 to 180.
    pub longitude: f64,
    /// Radius in kilometres, 0 to 20,000.
    pub kilometres: f64,
}

/// Which locations to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct LocationFilter {
    /// Only this location type.
    pub location_type: Option<LocationType>,
    /// Words in the name, each the start of a word: `amst` finds Amsterdam.
    pub search: Option<String>,
    /// Only those within this circle.
    pub within: Option<Radius>,
}

/// Location queries.
#[derive(Default)]
pub struct LocationQuery;

#[Object]
impl LocationQuery {
    /// The location registry, newest first (by when each row's entity began; a row that changes keeps its place, so paging while rows change neither skips nor repeats one).
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        filter: Option<LocationFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<Location>> {
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

impl Listed for LocationFilter {
    type Row = Location;
    const TABLE: &'static str = "location_registry";
    const COLUMNS: &'static str =
        "id, location_type, entity_type, entity_id, name, address_line_1, \
        city, country, latitude, longitude, capacity, venue_id, visibility, \
        updated_at, created_at";
    const ORDER: Order = Order {
        column: "created_at",
        descending: true,
    };

    fn take_search(&mut self) -> Option<String> {
        self.search.take().filter(|text| !text.trim().is_empty())
    }

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        if let Some(location_type) = self.location_type {
            sql.push(" AND location_type = ").push_bind(location_type);
        }
        if let Some(search) = self.search.filter(|s| !s.trim().is_empty()) {
            crate::search::push_matching(sql, Self::TABLE, search);
        }
        if let Some(within) = self.within {
            for (name, value, bound) in [
                ("latitude", within.latitude, 90.0),
                ("longitude", within.longitude, 180.0),
            ] {
                if !(-bound..=bound).contains(&value) {
                    return Err(ApiError::BadUserInput(format!(
                        "`{name}` must be between -{bound} and {bound}"
                    )));
                }
            }
            if !(0.0..=20_000.0).contains(&within.kilometres) {
                return Err(ApiError::BadUserInput(
                    "`kilometres` must be between 0 and 20000".into(),
                ));
            }
            // Great-circle distance (haversine), Earth radius 6371 km; the box
            // first lets the coordinates' index narrow the rows.
            let degrees = within.kilometres / 111.0;
            sql.push(" AND latitude BETWEEN ")
                .push_bind(within.latitude - degrees)
                .push(" AND ")
                .push_bind(within.latitude + degrees)
                .push(" AND 2 * 6371 * asin(sqrt(power(sin(radians(latitude - ")
                .push_bind(within.latitude)
                .push(") / 2), 2) + cos(radians(")
                .push_bind(within.latitude)
                .push(")) * cos(radians(latitude)) * power(sin(radians(longitude - ")
                .push_bind(within.longitude)
                .push(") / 2), 2))) <= ")
                .push_bind(within.kilometres);
        }
        Ok(())
    }
}
