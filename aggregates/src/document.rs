//! The Document aggregate: an uploaded file attached to any entity, its
//! replacements as numbered versions, its signature and its expiry.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::reference::{EntityRef, References};
use crate::visibility::Visibility;

const ENTITY: &str = "document";

/// What a document is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A contract or agreement.
    Contract,
    /// An invoice or bill.
    Invoice,
    /// A technical or hospitality rider.
    Rider,
    /// A specification or drawing.
    Spec,
    /// A permit or licence.
    Permit,
    /// An insurance certificate.
    Insurance,
    /// Anything else.
    #[default]
    Other,
}

crate::stored_as_text!(DocumentKind);

/// The status of a document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Current; its file may be replaced.
    #[default]
    Active,
    /// Signed; its file is frozen.
    Signed,
    /// No longer valid. Final.
    Expired,
}

/// A document.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Document {
    /// The document id, once uploaded.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who uploaded it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// The entity it is attached to, once uploaded.
    pub linked_to: Option<EntityRef>,
    /// What it is.
    pub kind: DocumentKind,
    /// Title.
    pub title: String,
    /// Where the current file is stored.
    pub url: String,
    /// Size of the current file in bytes.
    pub size_bytes: i64,
    /// MIME type of the file, if known.
    pub mime_type: Option<String>,
    /// Last day it is valid, if it expires.
    pub expires_on: Option<NaiveDate>,
    /// Status.
    pub status: DocumentStatus,
    /// Who signed it.
    pub signed_by: Option<String>,
    /// When it was signed.
    pub signed_on: Option<NaiveDate>,
    /// 1 on upload, one more per replaced file.
    #[output(rename = "file_version")]
    pub version: u32,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`Document`].
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
    foldline_derive::GraphqlInput,
)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DocumentCommand {
    /// Uploads version 1, attached to an entity.
    UploadDocument {
        /// The entity it is attached to; must exist in the organization.
        linked_to: EntityRef,
        /// What it is.
        kind: DocumentKind,
        /// Title.
        title: String,
        /// Where the file is stored.
        url: String,
        /// Size in bytes, positive.
        size_bytes: i64,
        /// MIME type, if known.
        mime_type: Option<String>,
        /// Last day it is valid, if it expires.
        expires_on: Option<NaiveDate>,
        /// Row visibility.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Changes the title.
    RenameDocument {
        /// The new title.
        title: String,
    },
    /// Replaces the file of an active document with a new version.
    ReplaceDocumentFile {
        /// Where the new file is stored.
        url: String,
        /// Its size in bytes, positive.
        size_bytes: i64,
    },
    /// Sets or clears the expiry date of a document that has not expired.
    SetDocumentExpiry {
        /// Last day it is valid; `None` for never.
        expires_on: Option<NaiveDate>,
    },
    /// Records the signature of an active document.
    SignDocument {
        /// Who signed.
        signed_by: String,
        /// When.
        signed_on: NaiveDate,
    },
    /// Marks an active or signed document expired. Final.
    ExpireDocument,
    /// Soft-deletes the document.
    DeleteDocument,
}

impl DomainCommand for DocumentCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        use DocumentCommand as C;
        match self {
            C::UploadDocument { .. }
            | C::RenameDocument { .. }
            | C::ReplaceDocumentFile { .. }
            | C::SetDocumentExpiry { .. }
            | C::SignDocument { .. }
            | C::ExpireDocument => Requirement::Role(Role::Member),
            C::DeleteDocument => Requirement::Role(Role::Admin),
        }
    }

    fn references(&self) -> References {
        match self {
            DocumentCommand::UploadDocument { linked_to, .. } => {
                References::none().entity(linked_to)
            }
            _ => References::none(),
        }
    }
}

/// Events of a [`Document`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum DocumentEvent {
    /// Version 1 was uploaded.
    DocumentUploaded {
        /// Its id.
        document_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who uploaded it.
        owner_id: Uuid,
        /// The entity it is attached to.
        linked_to: EntityRef,
        /// What it is.
        kind: DocumentKind,
        /// Title.
        title: String,
        /// Where the file is stored.
        url: String,
        /// Size in bytes.
        size_bytes: i64,
        /// MIME type.
        mime_type: Option<String>,
        /// Last day it is valid.
        expires_on: Option<NaiveDate>,
        /// Row visibility.
        visibility: Visibility,
    },
    /// The title changed.
    DocumentRenamed {
        /// The new title.
        title: String,
    },
    /// A new file replaced the current one.
    DocumentFileReplaced {
        /// Where the new file is stored.
        url: String,
        /// Its size in bytes.
        size_bytes: i64,
        /// The new version's number.
        version: u32,
    },
    /// The expiry date was set or cleared.
    DocumentExpirySet {
        /// Last day it is valid; `None` for never.
        expires_on: Option<NaiveDate>,
    },
    /// Signed.
    DocumentSigned {
        /// Who signed.
        signed_by: String,
        /// When.
        signed_on: NaiveDate,
    },
    /// Expired.
    DocumentExpired,
    /// Soft-deleted.
    DocumentDeleted,
}

domain_event!(DocumentEvent);

fn validate_file(url: &str, size_bytes: i64) -> Result<(), DomainError> {
    require_text(url, "url")?;
    if size_bytes <= 0 {
        return Err(DomainError::invalid("file size must be positive"));
    }
    Ok(())
}

impl Document {
    fn decide(
        &self,
        command: DocumentCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<DocumentEvent>, DomainError> {
        use DocumentCommand as C;
        use DocumentEvent as E;
        use DocumentStatus as S;

        if let C::UploadDocument {
            linked_to,
            kind,
            title,
            url,
            size_bytes,
            mime_type,
            expires_on,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&linked_to.entity_type, "linked_to.entity_type")?;
            require_text(&title, "title")?;
            validate_file(&url, size_bytes)?;
            if let Some(mime_type) = &mime_type {
                require_text(mime_type, "mime_type")?;
            }
            return Ok(vec![E::DocumentUploaded {
                document_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                linked_to,
                kind,
                title,
                url,
                size_bytes,
                mime_type,
                expires_on,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::UploadDocument { .. } => unreachable!("handled above"),
            C::RenameDocument { title } => {
                require_text(&title, "title")?;
                if title == self.title {
                    return Err(DomainError::rule("the document already has this title"));
                }
                Ok(vec![E::DocumentRenamed { title }])
            }
            C::ReplaceDocumentFile { url, size_bytes } => {
                require_status(ENTITY, self.status, "replace the file of", &[S::Active])?;
                validate_file(&url, size_bytes)?;
                if url == self.url && size_bytes == self.size_bytes {
                    return Err(DomainError::rule("the new file is the current one"));
                }
                Ok(vec![E::DocumentFileReplaced {
                    url,
                    size_bytes,
                    version: self.version + 1,
                }])
            }
            C::SetDocumentExpiry { expires_on } => {
                require_status(
                    ENTITY,
                    self.status,
                    "set the expiry of",
                    &[S::Active, S::Signed],
                )?;
                if expires_on == self.expires_on {
                    return Err(DomainError::rule("the document already has this expiry"));
                }
                Ok(vec![E::DocumentExpirySet { expires_on }])
            }
            C::SignDocument {
                signed_by,
                signed_on,
            } => {
                require_status(ENTITY, self.status, "sign", &[S::Active])?;
                require_text(&signed_by, "signed_by")?;
                Ok(vec![E::DocumentSigned {
                    signed_by,
                    signed_on,
                }])
            }
            C::ExpireDocument => {
                require_status(ENTITY, self.status, "expire", &[S::Active, S::Signed])?;
                Ok(vec![E::DocumentExpired])
            }
            C::DeleteDocument => Ok(vec![E::DocumentDeleted]),
        }
    }
}

event_sourced!(Document, "Document", DocumentCommand, DocumentEvent);

impl Document {
    /// Folds one event into the state.
    fn evolve(&mut self, event: DocumentEvent) {
        use DocumentEvent as E;
        use DocumentStatus as S;
        match event {
            E::DocumentUploaded {
                document_id,
                organization_id,
                owner_id,
                linked_to,
                kind,
                title,
                url,
                size_bytes,
                mime_type,
                expires_on,
                visibility,
            } => {
                self.id = Some(document_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.linked_to = Some(linked_to);
                self.kind = kind;
                self.title = title;
                self.url = url;
                self.size_bytes = size_bytes;
                self.mime_type = mime_type;
                self.expires_on = expires_on;
                self.visibility = visibility;
                self.version = 1;
            }
            E::DocumentRenamed { title } => self.title = title,
            E::DocumentFileReplaced {
                url,
                size_bytes,
                version,
            } => {
                self.url = url;
                self.size_bytes = size_bytes;
                self.version = version;
            }
            E::DocumentExpirySet { expires_on } => self.expires_on = expires_on,
            E::DocumentSigned {
                signed_by,
                signed_on,
            } => {
                self.signed_by = Some(signed_by);
                self.signed_on = Some(signed_on);
                self.status = S::Signed;
            }
            E::DocumentExpired => self.status = S::Expired,
            E::DocumentDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Document {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{ctx, ExpectErrorContaining, AGG, ALICE, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Document>;
    type C = DocumentCommand;
    type E = DocumentEvent;

    const GIG: Uuid = Uuid::from_u128(0xe7);
    const URL: &str = "https://files.example.com/permit-v1.pdf";
    const URL_2: &str = "https://files.example.com/permit-v2.pdf";

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    fn gig() -> EntityRef {
        EntityRef {
            entity_type: "Event".into(),
            entity_id: GIG,
        }
    }

    fn upload() -> C {
        C::UploadDocument {
            linked_to: gig(),
            kind: DocumentKind::Permit,
            title: "Noise permit".into(),
            url: URL.into(),
            size_bytes: 120_000,
            mime_type: Some("application/pdf".into()),
            expires_on: Some(day(31)),
            visibility: Visibility::Organization,
        }
    }

    fn uploaded() -> E {
        E::DocumentUploaded {
            document_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            linked_to: gig(),
            kind: DocumentKind::Permit,
            title: "Noise permit".into(),
            url: URL.into(),
            size_bytes: 120_000,
            mime_type: Some("application/pdf".into()),
            expires_on: Some(day(31)),
            visibility: Visibility::Organization,
        }
    }

    fn signed() -> E {
        E::DocumentSigned {
            signed_by: "City Council".into(),
            signed_on: day(2),
        }
    }

    fn replace(url: &str, size_bytes: i64) -> C {
        C::ReplaceDocumentFile {
            url: url.into(),
            size_bytes,
        }
    }

    #[test]
    fn upload_version_one() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(upload())
            .then_expect_events(vec![uploaded()]);
        let mut document = Document::default();
        document.apply(uploaded());
        assert_eq!(document.version, 1);
        assert_eq!(document.status, DocumentStatus::Active);
        assert_eq!(document.linked_to, Some(gig()));
    }

    #[test]
    fn upload_refuses_bad_input_and_duplicates() {
        let with = |entity_type: &str, title: &str, url: &str, size_bytes: i64| C::UploadDocument {
            linked_to: EntityRef {
                entity_type: entity_type.into(),
                entity_id: GIG,
            },
            kind: DocumentKind::Other,
            title: title.into(),
            url: url.into(),
            size_bytes,
            mime_type: None,
            expires_on: None,
            visibility: Visibility::Organization,
        };
        let empty = |field: &str| DomainError::field(field, format!("`{field}` must not be empty"));
        let cases = [
            (with("Event", "Permit", " ", 1), empty("url")),
            (
                with("Event", "Permit", URL, 0),
                DomainError::invalid("file size must be positive"),
            ),
            (with("Event", "", URL, 1), empty("title")),
            (with("", "Permit", URL, 1), empty("linked_to.entity_type")),
        ];
        for (command, error) in cases {
            Fx::with(ctx(Role::Member))
                .given_no_previous_events()
                .when(command)
                .then_expect_error(error);
        }
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::UploadDocument {
                linked_to: gig(),
                kind: DocumentKind::Spec,
                title: "Stage plot".into(),
                url: URL.into(),
                size_bytes: 1,
                mime_type: Some("".into()),
                expires_on: None,
                visibility: Visibility::Public,
            })
            .then_expect_error(DomainError::field(
                "mime_type",
                "`mime_type` must not be empty",
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(upload())
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
    }

    #[test]
    fn upload_defaults_to_organization_visibility() {
        let command: C = serde_json::from_value(serde_json::json!({
            "type": "upload_document",
            "linked_to": {"entity_type": "Event", "entity_id": GIG},
            "kind": "rider",
            "title": "Tech rider",
            "url": URL,
            "size_bytes": 10,
            "mime_type": null,
            "expires_on": null,
        }))
        .unwrap();
        match command {
            C::UploadDocument {
                kind, visibility, ..
            } => {
                assert_eq!(kind, DocumentKind::Rider);
                assert_eq!(visibility, Visibility::Organization);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn commands_need_a_live_document() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::ExpireDocument)
            .then_expect_error(DomainError::NotCreated(ENTITY));
        Fx::with(ctx(Role::Admin))
            .given(vec![uploaded(), E::DocumentDeleted])
            .when(C::RenameDocument { title: "x".into() })
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn rename() {
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(C::RenameDocument {
                title: "Noise permit (final)".into(),
            })
            .then_expect_events(vec![E::DocumentRenamed {
                title: "Noise permit (final)".into(),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(C::RenameDocument {
                title: "Noise permit".into(),
            })
            .then_expect_error(DomainError::rule("the document already has this title"));
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(C::RenameDocument { title: " ".into() })
            .then_expect_error(DomainError::field("title", "`title` must not be empty"));
    }

    #[test]
    fn replacing_the_file_numbers_versions() {
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(replace(URL_2, 130_000))
            .then_expect_events(vec![E::DocumentFileReplaced {
                url: URL_2.into(),
                size_bytes: 130_000,
                version: 2,
            }]);
        let second = E::DocumentFileReplaced {
            url: URL_2.into(),
            size_bytes: 130_000,
            version: 2,
        };
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), second.clone()])
            .when(replace(URL, 1))
            .then_expect_events(vec![E::DocumentFileReplaced {
                url: URL.into(),
                size_bytes: 1,
                version: 3,
            }]);
        let mut document = Document::default();
        document.apply(uploaded());
        document.apply(second);
        assert_eq!(document.version, 2);
        assert_eq!(document.url, URL_2);
        assert_eq!(document.size_bytes, 130_000);
    }

    #[test]
    fn replace_refuses_bad_files_and_frozen_documents() {
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(replace(URL, 120_000))
            .then_expect_error(DomainError::rule("the new file is the current one"));
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(replace(URL_2, -1))
            .then_expect_error(DomainError::invalid("file size must be positive"));
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(replace("", 1))
            .then_expect_error(DomainError::field("url", "`url` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), signed()])
            .when(replace(URL_2, 1))
            .then_expect_error_containing("cannot replace the file of the document: it is signed");
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), E::DocumentExpired])
            .when(replace(URL_2, 1))
            .then_expect_error_containing("it is expired");
    }

    #[test]
    fn expiry_is_set_or_cleared_until_expired() {
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(C::SetDocumentExpiry { expires_on: None })
            .then_expect_events(vec![E::DocumentExpirySet { expires_on: None }]);
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), signed()])
            .when(C::SetDocumentExpiry {
                expires_on: Some(day(30)),
            })
            .then_expect_events(vec![E::DocumentExpirySet {
                expires_on: Some(day(30)),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(C::SetDocumentExpiry {
                expires_on: Some(day(31)),
            })
            .then_expect_error(DomainError::rule("the document already has this expiry"));
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), E::DocumentExpired])
            .when(C::SetDocumentExpiry { expires_on: None })
            .then_expect_error_containing("cannot set the expiry of the document: it is expired");
    }

    #[test]
    fn sign_an_active_document() {
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(C::SignDocument {
                signed_by: "City Council".into(),
                signed_on: day(2),
            })
            .then_expect_events(vec![signed()]);
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(C::SignDocument {
                signed_by: "".into(),
                signed_on: day(2),
            })
            .then_expect_error(DomainError::field(
                "signed_by",
                "`signed_by` must not be empty",
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), signed()])
            .when(C::SignDocument {
                signed_by: "Again".into(),
                signed_on: day(3),
            })
            .then_expect_error_containing("cannot sign the document: it is signed");
        let mut document = Document::default();
        document.apply(uploaded());
        document.apply(signed());
        assert_eq!(document.status, DocumentStatus::Signed);
        assert_eq!(document.signed_by.as_deref(), Some("City Council"));
        assert_eq!(document.signed_on, Some(day(2)));
    }

    #[test]
    fn expire_is_final() {
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded()])
            .when(C::ExpireDocument)
            .then_expect_events(vec![E::DocumentExpired]);
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), signed()])
            .when(C::ExpireDocument)
            .then_expect_events(vec![E::DocumentExpired]);
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), E::DocumentExpired])
            .when(C::ExpireDocument)
            .then_expect_error_containing("cannot expire the document: it is expired");
        Fx::with(ctx(Role::Member))
            .given(vec![uploaded(), E::DocumentExpired])
            .when(C::SignDocument {
                signed_by: "x".into(),
                signed_on: day(2),
            })
            .then_expect_error_containing("cannot sign the document: it is expired");
    }

    #[test]
    fn delete_in_any_status() {
        for given in [
            vec![uploaded()],
            vec![uploaded(), signed()],
            vec![uploaded(), E::DocumentExpired],
        ] {
            Fx::with(ctx(Role::Admin))
                .given(given)
                .when(C::DeleteDocument)
                .then_expect_events(vec![E::DocumentDeleted]);
        }
        Fx::with(ctx(Role::Admin))
            .given(vec![uploaded(), E::DocumentDeleted])
            .when(C::DeleteDocument)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn matrix_rows() {
        let member = Requirement::Role(Role::Member);
        assert_eq!(upload().requirement(), member);
        assert_eq!(
            C::RenameDocument { title: "x".into() }.requirement(),
            member
        );
        assert_eq!(replace(URL, 1).requirement(), member);
        assert_eq!(
            C::SetDocumentExpiry { expires_on: None }.requirement(),
            member
        );
        assert_eq!(
            C::SignDocument {
                signed_by: "x".into(),
                signed_on: day(1)
            }
            .requirement(),
            member
        );
        assert_eq!(C::ExpireDocument.requirement(), member);
        assert_eq!(
            C::DeleteDocument.requirement(),
            Requirement::Role(Role::Admin)
        );
        assert_eq!(
            upload().references(),
            References::none().aggregate("Event", GIG)
        );
        assert!(C::ExpireDocument.references().is_empty());
        assert_eq!(C::DeleteDocument.name(), "DeleteDocument");
    }
}
