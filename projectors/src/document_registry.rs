//! `document_registry`: one row per document, wherever it is attached.
//!
//! Sources: Document (the uploaded file, on the entity it is linked to),
//! Contract (the document of the version in force), Invoice (its PDF) and
//! ProductionAdvance (each rider, spec or other attachment). Deleting the
//! source entity removes its rows.
//!
//! Two facts live only in events, not in the entities' state: the URL of an
//! invoice's PDF and who attached a file to an advance or an invoice (and
//! when). They are read from the batch's events and written when the row is
//! inserted or the file replaced; the upsert keeps them otherwise.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use foldline_aggregates::contract::Contract;
use foldline_aggregates::document::{Document, DocumentKind};
use foldline_aggregates::invoice::{Invoice, InvoiceEvent};
use foldline_aggregates::production_advance::{
    AttachmentKind, ProductionAdvance, ProductionAdvanceEvent,
};
use foldline_aggregates::DomainCommand;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{remove_rows, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// The document registry projection.
pub struct DocumentRegistry;

/// Its name.
pub const NAME: &str = "document_registry";

#[async_trait::async_trait]
impl Projection for DocumentRegistry {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["document_registry"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let uploads = Uploads::read(events)?;
        let mut rows = Rows::default();
        for (id, document) in &fold_batch::<Document>(tx, store, events).await? {
            rows.document(id, document);
        }
        for (id, contract) in &fold_batch::<Contract>(tx, store, events).await? {
            rows.contract(id, contract);
        }
        for (id, invoice) in &fold_batch::<Invoice>(tx, store, events).await? {
            rows.invoice_pdf(id, invoice, uploads.pdfs.get(id));
        }
        for (id, advance) in &fold_batch::<ProductionAdvance>(tx, store, events).await? {
            rows.attachments(id, advance, &uploads);
        }
        rows.write(tx).await
    }
}

/// A file attached by an event of the batch.
struct Upload {
    /// Where it is stored (invoice PDFs only; attachments keep theirs).
    url: Option<String>,
    /// Who attached it last.
    uploaded_by: Option<Uuid>,
    /// When it was first attached.
    attached_at: DateTime<Utc>,
}

/// What the batch's events say of attached files beyond the entities' state.
#[derive(Default)]
struct Uploads {
    /// Invoice PDFs by invoice id: the last URL and uploader, the first time.
    pdfs: HashMap<String, Upload>,
    /// Advance attachments by advance id and document id.
    attachments: HashMap<(String, Uuid), Upload>,
}

impl Uploads {
    fn read(events: &[StoredEvent]) -> Result<Uploads, ProjectionError> {
        let mut uploads = Uploads::default();
        for event in events {
            match (event.aggregate_type.as_str(), event.event_type.as_str()) {
                ("Invoice", "InvoicePdfAttached") => {
                    if let InvoiceEvent::InvoicePdfAttached { url, .. } = decode::<Invoice>(event)?
                    {
                        let upload =
                            uploads
                                .pdfs
                                .entry(event.aggregate_id.clone())
                                .or_insert(Upload {
                                    url: None,
                                    uploaded_by: None,
                                    attached_at: event.recorded_at,
                                });
                        upload.url = Some(url);
                        upload.uploaded_by = event.actor_id();
                    }
                }
                ("ProductionAdvance", "DocumentAttached") => {
                    if let ProductionAdvanceEvent::DocumentAttached(attachment) =
                        decode::<ProductionAdvance>(event)?
                    {
                        uploads.attachments.insert(
                            (event.aggregate_id.clone(), attachment.document_id),
                            Upload {
                                url: None,
                                uploaded_by: event.actor_id(),
                                attached_at: event.recorded_at,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(uploads)
    }
}

/// Decodes an event, poisoning the batch when it cannot be read.
fn decode<A>(event: &StoredEvent) -> Result<A::Event, ProjectionError>
where
    A: Entity,
    A::Command: DomainCommand,
{
    event
        .decode::<A>()
        .map_err(|error| ProjectionError::Poison {
            position: event.position.global_position,
            message: error.to_string(),
        })
}

/// The file type of a URL (its path's extension), else of a MIME type.
fn file_type(url: &str, mime_type: Option<&str>) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .split(['?', '#'])
        .next()
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, path)| path)
        .unwrap_or_default();
    let file_name = path.rsplit('/').next().unwrap_or_default();
    file_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .filter(|extension| {
            (1..=8).contains(&extension.len())
                && extension.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .or_else(|| {
            mime_type
                .and_then(|mime| mime.rsplit('/').next())
                .filter(|subtype| !subtype.is_empty())
                .map(str::to_ascii_lowercase)
        })
}

/// Where a document row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum DocumentSource {
    /// An uploaded document, on the entity it is linked to.
    Document,
    /// The document of a contract's version in force.
    ContractDocument,
    /// An invoice's PDF.
    InvoicePdf,
    /// A file attached to a production advance.
    AdvanceAttachment,
}

foldline_aggregates::stored_as_text!(DocumentSource);

/// What an advance's attachment is, among documents.
fn kind_of(attachment: AttachmentKind) -> DocumentKind {
    match attachment {
        AttachmentKind::Rider => DocumentKind::Rider,
        AttachmentKind::Spec => DocumentKind::Spec,
        AttachmentKind::Other => DocumentKind::Other,
    }
}

/// One document row before it is written.
struct Entry {
    external_id: String,
    document_type: DocumentKind,
    source_type: DocumentSource,
    document_id: Option<Uuid>,
    entity_type: String,
    entity_id: Option<Uuid>,
    title: String,
    file_url: Option<String>,
    file_type: Option<String>,
    file_size: Option<i64>,
    expires_on: Option<NaiveDate>,
    uploaded_by: Option<Uuid>,
    /// When the row is inserted; kept by later upserts.
    created_at: Option<DateTime<Utc>>,
}

/// What a row takes from its source entity.
struct Source<'a, A> {
    tracked: &'a Tracked<A>,
    organization_id: Option<Uuid>,
    visibility: &'static str,
    owner_id: Option<Uuid>,
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    standard: Standard,
    document_type: Vec<DocumentKind>,
    source_type: Vec<DocumentSource>,
    document_id: Vec<Option<Uuid>>,
    entity_type: Vec<String>,
    entity_id: Vec<Uuid>,
    title: Vec<String>,
    file_url: Vec<Option<String>>,
    file_type: Vec<Option<String>>,
    file_size: Vec<Option<i64>>,
    status: Vec<Option<String>>,
    expires_on: Vec<Option<NaiveDate>>,
    uploaded_by: Vec<Option<Uuid>>,
}

impl Rows {
    fn document(&mut self, id: &str, tracked: &Tracked<Document>) {
        let document = &tracked.aggregate;
        let external_id = format!("Document:{id}");
        match (
            &document.linked_to,
            document.is_deleted() || !document.exists(),
        ) {
            (Some(linked_to), false) => self.push(
                Entry {
                    external_id,
                    document_type: document.kind,
                    source_type: DocumentSource::Document,
                    document_id: document.id,
                    entity_type: linked_to.entity_type.clone(),
                    entity_id: Some(linked_to.entity_id),
                    title: document.title.clone(),
                    file_url: Some(document.url.clone()),
                    file_type: file_type(&document.url, document.mime_type.as_deref()),
                    file_size: Some(document.size_bytes),
                    expires_on: document.expires_on,
                    uploaded_by: document.owner_id,
                    created_at: tracked.created_at,
                },
                Source {
                    tracked,
                    organization_id: document.organization_id,
                    visibility: document.visibility.as_str(),
                    owner_id: document.owner_id,
                },
            ),
            _ => self.deleted.push(external_id),
        }
    }

    fn contract(&mut self, id: &str, tracked: &Tracked<Contract>) {
        let contract = &tracked.aggregate;
        let external_id = format!("Contract:{id}:document");
        let current = contract.current();
        let url = current.and_then(|version| version.terms.document_url.clone());
        match (current, url, contract.is_deleted() || !contract.exists()) {
            (Some(current), Some(url), false) => {
                // Who brought the document in force: the author of the first of
                // the latest versions that carry it.
                let uploaded_by = contract
                    .versions
                    .iter()
                    .rev()
                    .take_while(|version| version.terms.document_url.as_deref() == Some(&url))
                    .last()
                    .map(|version| version.author_id);
                self.push(
                    Entry {
                        external_id,
                        document_type: DocumentKind::Contract,
                        source_type: DocumentSource::ContractDocument,
                        document_id: None,
                        entity_type: "Contract".into(),
                        entity_id: contract.id,
                        title: current.terms.title.clone(),
                        file_type: file_type(&url, None),
                        file_url: Some(url),
                        file_size: None,
                        expires_on: current.terms.expires_on,
                        uploaded_by,
                        created_at: tracked.created_at,
                    },
                    Source {
                        tracked,
                        organization_id: contract.organization_id,
                        visibility: contract.visibility.as_str(),
                        owner_id: contract.owner_id,
                    },
                )
            }
            _ => self.deleted.push(external_id),
        }
    }

    fn invoice_pdf(&mut self, id: &str, tracked: &Tracked<Invoice>, upload: Option<&Upload>) {
        let invoice = &tracked.aggregate;
        let external_id = format!("Invoice:{id}:pdf");
        match (
            invoice.pdf_document_id,
            invoice.is_deleted() || !invoice.exists(),
        ) {
            (Some(document_id), false) => self.push(
                Entry {
                    external_id,
                    document_type: DocumentKind::Invoice,
                    source_type: DocumentSource::InvoicePdf,
                    document_id: Some(document_id),
                    entity_type: "Invoice".into(),
                    entity_id: invoice.id,
                    title: format!("Invoice {}", invoice.number),
                    // Only in the event: set when attached, kept afterwards.
                    file_url: upload.and_then(|upload| upload.url.clone()),
                    file_type: Some("pdf".into()),
                    file_size: None,
                    expires_on: None,
                    uploaded_by: upload.and_then(|upload| upload.uploaded_by),
                    created_at: upload
                        .map(|upload| upload.attached_at)
                        .or(tracked.updated_at),
                },
                Source {
                    tracked,
                    organization_id: invoice.organization_id,
                    visibility: invoice.visibility.as_str(),
                    owner_id: invoice.owner_id,
                },
            ),
            _ => self.deleted.push(external_id),
        }
    }

    fn attachments(&mut self, id: &str, tracked: &Tracked<ProductionAdvance>, uploads: &Uploads) {
        let advance = &tracked.aggregate;
        let gone = advance.is_deleted() || !advance.exists();
        for attachment in &advance.attachments {
            let external_id = format!(
                "ProductionAdvance:{id}:attachment:{}",
                attachment.document_id
            );
            if gone {
                self.deleted.push(external_id);
                continue;
            }
            let upload = uploads
                .attachments
                .get(&(id.to_owned(), attachment.document_id));
            self.push(
                Entry {
                    external_id,
                    document_type: kind_of(attachment.kind),
                    source_type: DocumentSource::AdvanceAttachment,
                    document_id: Some(attachment.document_id),
                    entity_type: "ProductionAdvance".into(),
                    entity_id: advance.id,
                    title: attachment.name.clone(),
                    file_url: Some(attachment.url.clone()),
                    file_type: file_type(&attachment.url, None),
                    file_size: None,
                    expires_on: None,
                    // Only in the event: set when attached, kept afterwards.
                    uploaded_by: upload.and_then(|upload| upload.uploaded_by),
                    created_at: upload
                        .map(|upload| upload.attached_at)
                        .or(tracked.updated_at),
                },
                Source {
                    tracked,
                    organization_id: advance.organization_id,
                    visibility: advance.visibility.as_str(),
                    owner_id: advance.owner_id,
                },
            );
        }
    }

    fn push<A>(&mut self, entry: Entry, source: Source<'_, A>)
    where
        A: Entity,
        A::Command: DomainCommand,
    {
        let tracked = source.tracked;
        let (Some(entity_id), Some(organization_id), Some(created_at), Some(updated_at)) = (
            entry.entity_id,
            source.organization_id,
            entry.created_at,
            tracked.updated_at,
        ) else {
            return;
        };
        self.document_type.push(entry.document_type);
        self.source_type.push(entry.source_type);
        self.document_id.push(entry.document_id);
        self.entity_type.push(entry.entity_type);
        self.entity_id.push(entity_id);
        self.title.push(entry.title);
        self.file_url.push(entry.file_url);
        self.file_type.push(entry.file_type);
        self.file_size.push(entry.file_size);
        self.status.push(tracked.aggregate.status_name());
        self.expires_on.push(entry.expires_on);
        self.uploaded_by.push(entry.uploaded_by);
        self.standard.push(Stamp {
            external_id: entry.external_id,
            organization_id,
            visibility: source.visibility,
            owner_id: source.owner_id,
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        remove_rows(tx, "document_registry", &self.deleted).await?;
        if self.standard.is_empty() {
            return Ok(());
        }
        // created_at is the row's insertion; a file URL or uploader the batch
        // does not know (NULL) keeps the row's.
        sqlx::query(
            "INSERT INTO document_registry (
                 id, organization_id, document_type, source_type, document_id, entity_type,
                 entity_id, title, file_url, file_type, file_size, status, expires_on,
                 visibility, owner_id, uploaded_by, external_id, created_at, updated_at,
                 last_position)
             SELECT * FROM UNNEST(
                 $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],
                 $7::uuid[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[],
                 $13::date[], $14::text[], $15::uuid[], $16::uuid[], $17::text[],
                 $18::timestamptz[], $19::timestamptz[], $20::bigint[])
             ON CONFLICT (external_id) DO UPDATE SET
                 document_type = EXCLUDED.document_type,
                 document_id = EXCLUDED.document_id,
                 entity_type = EXCLUDED.entity_type,
                 entity_id = EXCLUDED.entity_id,
                 title = EXCLUDED.title,
                 file_url = COALESCE(EXCLUDED.file_url, document_registry.file_url),
                 file_type = EXCLUDED.file_type,
                 file_size = EXCLUDED.file_size,
                 status = EXCLUDED.status,
                 expires_on = EXCLUDED.expires_on,
                 visibility = EXCLUDED.visibility,
                 owner_id = EXCLUDED.owner_id,
                 uploaded_by = COALESCE(EXCLUDED.uploaded_by, document_registry.uploaded_by),
                 updated_at = EXCLUDED.updated_at,
                 last_position = EXCLUDED.last_position",
        )
        .bind(&self.standard.id)
        .bind(&self.standard.organization_id)
        .bind(&self.document_type)
        .bind(&self.source_type)
        .bind(&self.document_id)
        .bind(&self.entity_type)
        .bind(&self.entity_id)
        .bind(&self.title)
        .bind(&self.file_url)
        .bind(&self.file_type)
        .bind(&self.file_size)
        .bind(&self.status)
        .bind(&self.expires_on)
        .bind(&self.standard.visibility)
        .bind(&self.standard.owner_id)
        .bind(&self.uploaded_by)
        .bind(&self.standard.external_id)
        .bind(&self.standard.created_at)
        .bind(&self.standard.updated_at)
        .bind(&self.standard.last_position)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_types_come_from_the_path_else_the_mime_type() {
        let pdf = file_type("https://files.example.com/a/rider.PDF?v=2", None);
        assert_eq!(pdf.as_deref(), Some("pdf"));
        let host_only = file_type("https://files.example.com", Some("image/png"));
        assert_eq!(host_only.as_deref(), Some("png"));
        assert_eq!(file_type("https://files.example.com/blob", None), None);
    }
}
