//! `documents`: every document, wherever it is attached.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use foldline_aggregates::document::DocumentKind;
use foldline_aggregates::graphql::Date;
use foldline_aggregates::{EntityType, Visibility};
use foldline_projectors::document_registry::DocumentSource;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::connection::{resolve, Listed, Listing, Order, PageOf, Paged};
use crate::error::ApiError;
use crate::page::Cursor;

/// The columns of a [`DocumentRow`].
pub(crate) const COLUMNS: &str = "id, document_type, source_type, document_id, entity_type, \
    entity_id, title, file_url, file_type, file_size, status, expires_on, visibility, owner_id, \
    uploaded_by, updated_at, created_at";

/// A document: an upload, a contract's file, an invoice PDF, an advance's rider.
#[derive(Debug, Clone, SimpleObject, sqlx::FromRow)]
pub struct DocumentRow {
    /// The row's id.
    pub id: Uuid,
    /// What the document is.
    pub document_type: DocumentKind,
    /// Where it comes from.
    pub source_type: DocumentSource,
    /// The Document aggregate, when the file is one.
    pub document_id: Option<Uuid>,
    /// The type of the entity it is attached to.
    #[sqlx(try_from = "String")]
    pub entity_type: EntityType,
    /// The entity it is attached to.
    pub entity_id: Uuid,
    /// Its title.
    pub title: String,
    /// Where the file is.
    pub file_url: Option<String>,
    /// The file's type.
    pub file_type: Option<String>,
    /// The file's size in bytes.
    pub file_size: Option<i64>,
    /// Its status.
    pub status: Option<String>,
    /// When it expires.
    pub expires_on: Option<Date>,
    /// Who may see it.
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    /// Who created it.
    pub owner_id: Option<Uuid>,
    /// Who uploaded the file.
    pub uploaded_by: Option<Uuid>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// When its entity began: the list's order, which no change moves.
    pub created_at: DateTime<Utc>,
}

impl Paged for DocumentRow {
    fn cursor(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

/// Which documents to list.
#[derive(Debug, Clone, Default, InputObject)]
pub struct DocumentFilter {
    /// Only this document type.
    pub document_type: Option<DocumentKind>,
    /// Only this status.
    pub status: Option<String>,
    /// Only those expiring before this day.
    pub expiring_before: Option<Date>,
    /// Only those attached to this entity.
    pub entity_id: Option<Uuid>,
}

/// Document queries.
#[derive(Default)]
pub struct DocumentQuery;

#[Object]
impl DocumentQuery {
    /// Documents, newest first (by when each row's entity began; a row that changes keeps its place, so paging while rows change neither skips nor repeats one).
    #[graphql(complexity = "crate::page::cost(first.or(last), child_complexity)")]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        filter: Option<DocumentFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        after_position: Option<i64>,
    ) -> async_graphql::Result<PageOf<DocumentRow>> {
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

impl Listed for DocumentFilter {
    type Row = DocumentRow;
    const TABLE: &'static str = "document_registry";
    const COLUMNS: &'static str = COLUMNS;
    const ORDER: Order = Order {
        column: "created_at",
        descending: true,
    };

    fn push(self, sql: &mut QueryBuilder<'static, Postgres>) -> Result<(), ApiError> {
        if let Some(document_type) = self.document_type {
            sql.push(" AND document_type = ").push_bind(document_type);
        }
        if let Some(status) = self.status {
            sql.push(" AND status = ").push_bind(status);
        }
        if let Some(before) = self.expiring_before {
            sql.push(" AND expires_on < ").push_bind(before);
        }
        if let Some(entity_id) = self.entity_id {
            sql.push(" AND entity_id = ").push_bind(entity_id);
        }
        Ok(())
    }
}
