//! `calendarConflicts`: two events booked at one venue at once, and one
//! person booked on two shifts at once.

use async_graphql::{Context, Enum, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::ApiError;
use crate::request::Request;

/// The widest window one conflicts query may cover: the self-join it runs
/// grows with the square of what the window holds.
pub const WIDEST_WINDOW_DAYS: i64 = 400;
/// The most conflicts one query returns.
pub const MOST_CONFLICTS: i64 = 500;

/// What two bookings compete for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ConflictKind {
    /// Two events at one venue.
    Venue,
    /// Two shifts of one person.
    Person,
}

/// One side of a conflict.
#[derive(Debug, Clone, SimpleObject)]
pub struct Booking {
    /// `Event` or `Shift`.
    pub entity_type: String,
    /// Its id.
    pub entity_id: Uuid,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends; a booking without an end is a moment.
    pub ends_at: Option<DateTime<Utc>>,
}

/// Two bookings of one venue or one person that overlap.
#[derive(Debug, Clone, SimpleObject)]
pub struct Conflict {
    /// What they compete for.
    pub kind: ConflictKind,
    /// The venue's or the person's id.
    pub subject_id: Uuid,
    /// The venue's or the person's name, where the caller may see it.
    pub subject_name: Option<String>,
    /// The booking that starts first.
    pub first: Booking,
    /// The other.
    pub second: Booking,
}

/// The conflicts report.
#[derive(Default)]
pub struct ConflictQuery;

#[Object]
impl ConflictQuery {
    /// Overlapping bookings in `[from, to)`: events at one venue, and shifts
    /// of one person; cancelled ones do not count. Touching bookings (one
    /// ends as the next starts) do not conflict.
    async fn calendar_conflicts(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(desc = "Only the conflicts of this venue or person.")] subject_id: Option<Uuid>,
    ) -> async_graphql::Result<Vec<Conflict>> {
        let request = Request::of(ctx).map_err(|e| e.extend())?;
        calendar_conflicts(request, from, to, subject_id)
            .await
            .map_err(|e| e.extend())
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    kind: String,
    subject_id: Uuid,
    subject_name: Option<String>,
    first_entity_type: String,
    first_entity_id: Uuid,
    first_title: String,
    first_starts_at: DateTime<Utc>,
    first_ends_at: Option<DateTime<Utc>>,
    second_entity_type: String,
    second_entity_id: Uuid,
    second_title: String,
    second_starts_at: DateTime<Utc>,
    second_ends_at: Option<DateTime<Utc>>,
}

/// The overlapping bookings: `$1` the organization, `[$2, $3)` the
/// window, `$4` one subject or null, `$5` the most conflicts returned.
/// The window's events are found first, whatever the plan: a generic plan
/// (the statement is prepared) otherwise looked each of the organization's
/// event locations up in the calendar, 65 ms for a busy month against 2 ms.
pub const SQL: &str = "WITH event AS MATERIALIZED (
         SELECT entity_id, title, starts_at, ends_at
         FROM calendar_events
         WHERE organization_id = $1 AND source_type = 'event'
           AND status IS DISTINCT FROM 'cancelled'
           AND starts_at < $3 AND coalesce(ends_at, starts_at) >= $2
     ),
     booking AS (
         SELECT 'venue' AS kind, location.venue_id AS subject_id, 'Event' AS entity_type,
                event.entity_id, event.title, event.starts_at, event.ends_at
         FROM event
         JOIN location_registry location
           ON location.organization_id = $1
          AND location.location_type = 'event' AND location.entity_type = 'Event'
          AND location.entity_id = event.entity_id
         WHERE location.venue_id IS NOT NULL
         UNION ALL
         SELECT 'person', shift.user_id, 'Shift', shift.entity_id, shift.entity_name,
                shift.starts_at, shift.ends_at
         FROM assignments shift
         WHERE shift.organization_id = $1 AND shift.assignment_type = 'shift'
           AND shift.status IS DISTINCT FROM 'cancelled' AND shift.starts_at IS NOT NULL
           AND shift.starts_at < $3 AND coalesce(shift.ends_at, shift.starts_at) >= $2
     ),
     ranged AS (
         SELECT *, tstzrange(starts_at, coalesce(ends_at, starts_at),
                             CASE WHEN coalesce(ends_at, starts_at) = starts_at
                                  THEN '[]' ELSE '[)' END) AS span
         FROM booking
         WHERE $4::uuid IS NULL OR subject_id = $4
     )
     SELECT a.kind, a.subject_id,
            coalesce(venue.name, person.name) AS subject_name,
            a.entity_type AS first_entity_type, a.entity_id AS first_entity_id,
            a.title AS first_title, a.starts_at AS first_starts_at, a.ends_at AS first_ends_at,
            b.entity_type AS second_entity_type, b.entity_id AS second_entity_id,
            b.title AS second_title, b.starts_at AS second_starts_at,
            b.ends_at AS second_ends_at
     FROM ranged a
     JOIN ranged b
       ON a.kind = b.kind AND a.subject_id = b.subject_id AND a.span && b.span
      AND (a.starts_at, a.entity_id) < (b.starts_at, b.entity_id)
     LEFT JOIN location_registry venue
       ON a.kind = 'venue' AND venue.organization_id = $1
      AND venue.location_type = 'venue' AND venue.entity_id = a.subject_id
     LEFT JOIN people_directory person
       ON a.kind = 'person' AND person.organization_id = $1
      AND person.entity_type = 'Member' AND person.entity_id = a.subject_id
     ORDER BY a.starts_at, a.entity_id, b.starts_at, b.entity_id
     LIMIT $5";

impl From<Row> for Conflict {
    fn from(row: Row) -> Self {
        Conflict {
            kind: if row.kind == "venue" {
                ConflictKind::Venue
            } else {
                ConflictKind::Person
            },
            subject_id: row.subject_id,
            subject_name: row.subject_name,
            first: Booking {
                entity_type: row.first_entity_type,
                entity_id: row.first_entity_id,
                title: row.first_title,
                starts_at: row.first_starts_at,
                ends_at: row.first_ends_at,
            },
            second: Booking {
                entity_type: row.second_entity_type,
                entity_id: row.second_entity_id,
                title: row.second_title,
                starts_at: row.second_starts_at,
                ends_at: row.second_ends_at,
            },
        }
    }
}

async fn calendar_conflicts(
    request: &Request,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    subject_id: Option<Uuid>,
) -> Result<Vec<Conflict>, ApiError> {
    if to <= from {
        return Err(ApiError::BadUserInput(format!(
            "`to` ({to}) must be after `from` ({from})"
        )));
    }
    if to - from > Duration::days(WIDEST_WINDOW_DAYS) {
        return Err(ApiError::BadUserInput(format!(
            "a conflicts window may span {WIDEST_WINDOW_DAYS} days at most"
        )));
    }
    let mut conn = request.read().await?;
    // A booking is a range closed at its end only when it has no length, so
    // that a moment still collides with what spans it.
    let rows: Vec<Row> = sqlx::query_as(SQL)
        .bind(request.caller.organization_id)
        .bind(from)
        .bind(to)
        .bind(subject_id)
        .bind(MOST_CONFLICTS)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Conflict::from).collect())
}
