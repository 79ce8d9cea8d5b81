//! `people_directory`: one row per person or organisation the organization
//! deals with — its members, its contacts (at a company, or talent) and its
//! companies (clients, vendors, partners) — and, in the same transaction, the
//! projected `organizations` and `memberships` that API authorization reads.
//!
//! A member's row is the member as of the organization's state, with the
//! times and position of the last event about that member (not of the whole
//! organization), so adding one member rewrites one row. A contact's row shows
//! its company's name while the company is listed. Removing a member and
//! deleting a contact or company remove their rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use foldline_aggregates::company::{Company, CompanyKind};
use foldline_aggregates::contact::{Contact, ContactKind};
use foldline_aggregates::organization::{Member, Organization, OrganizationEvent};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::feed::StoredEvent;
use crate::projection::{Projection, ProjectionError};
use crate::rows::{remove_rows, Stamp, Standard};
use crate::state::{Entity, Tracked};
use crate::state_store::{fold_batch, StateStore};

/// The people directory projection.
pub struct PeopleDirectory;

/// Its name.
pub const NAME: &str = "people_directory";

#[async_trait::async_trait]
impl Projection for PeopleDirectory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["people_directory", "organizations", "memberships"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        store: &mut StateStore,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = Rows::default();
        let mut tenants = Tenants::default();
        let organizations = fold_batch::<Organization>(tx, store, events).await?;
        for tracked in organizations.values() {
            tenants.organization(tracked);
        }
        for ((organization, user_id), touch) in member_touches(events)? {
            let Some(tracked) = organizations.get(&organization) else {
                continue;
            };
            let Some(organization_id) = tracked.aggregate.id else {
                continue;
            };
            let external_id = format!("Member:{organization_id}:{user_id}");
            if touch.removed {
                // Removed in this batch (and maybe added again): the row goes
                // first, so a member who comes back is a new row, as on rebuild.
                rows.deleted.push(external_id.clone());
                tenants.removed.push((organization_id, user_id));
            }
            if let Some(member) = tracked.aggregate.members.get(&user_id) {
                rows.member(external_id, organization_id, user_id, member, &touch);
                tenants.membership(organization_id, user_id, member);
            }
        }
        let companies = fold_batch::<Company>(tx, store, events).await?;
        for (id, company) in &companies {
            rows.company(id, company);
        }
        for (id, contact) in &fold_batch::<Contact>(tx, store, events).await? {
            rows.contact(id, contact);
        }
        rows.companies_touched = companies.keys().filter_map(|id| id.parse().ok()).collect();
        rows.write(tx).await?;
        tenants.write(tx).await
    }
}

/// What a batch did to one member.
#[derive(Default)]
struct Touch {
    /// When and by whom the member was last added in the batch.
    added: Option<(DateTime<Utc>, Option<Uuid>)>,
    /// Whether the member was removed in the batch.
    removed: bool,
    /// When the last event about the member was recorded.
    updated_at: Option<DateTime<Utc>>,
    /// Its global position.
    last_position: i64,
}

/// The members each Organization event of the batch is about, by
/// organization (aggregate id) and user.
fn member_touches(
    events: &[StoredEvent],
) -> Result<BTreeMap<(String, Uuid), Touch>, ProjectionError> {
    use OrganizationEvent as E;
    let mut touches: BTreeMap<(String, Uuid), Touch> = BTreeMap::new();
    for event in events
        .iter()
        .filter(|event| event.aggregate_type == <Organization as cqrs_es::Aggregate>::TYPE)
    {
        let decoded = event
            .decode::<Organization>()
            .map_err(|error| ProjectionError::Poison {
                position: event.position.global_position,
                message: error.to_string(),
            })?;
        let user_id = match &decoded {
            E::MemberAdded { user_id, .. }
            | E::MemberRoleChanged { user_id, .. }
            | E::MemberCapabilitiesChanged { user_id, .. }
            | E::MemberRemoved { user_id } => *user_id,
            E::OrganizationCreated { .. }
            | E::OrganizationRenamed { .. }
            | E::WorkflowEnabled { .. }
            | E::WorkflowDisabled { .. } => continue,
        };
        let touch = touches
            .entry((event.aggregate_id.clone(), user_id))
            .or_default();
        match decoded {
            E::MemberAdded { .. } => touch.added = Some((event.recorded_at, event.actor_id())),
            E::MemberRemoved { .. } => touch.removed = true,
            _ => {}
        }
        touch.updated_at = Some(event.recorded_at);
        touch.last_position = event.position.global_position;
    }
    Ok(touches)
}

/// Who a person or company in the directory is to the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum PersonType {
    /// A member of the organization.
    Internal,
    /// A client company.
    Client,
    /// A vendor company.
    Vendor,
    /// A partner company.
    Partner,
    /// A contact at a company.
    CompanyContact,
    /// Talent.
    Talent,
}

foldline_aggregates::stored_as_text!(PersonType);

impl From<CompanyKind> for PersonType {
    fn from(kind: CompanyKind) -> Self {
        match kind {
            CompanyKind::Client => PersonType::Client,
            CompanyKind::Vendor => PersonType::Vendor,
            CompanyKind::Partner => PersonType::Partner,
        }
    }
}

impl From<ContactKind> for PersonType {
    fn from(kind: ContactKind) -> Self {
        match kind {
            ContactKind::CompanyContact => PersonType::CompanyContact,
            ContactKind::Talent => PersonType::Talent,
        }
    }
}

/// One directory entry before it is written.
struct Entry {
    external_id: String,
    organization_id: Uuid,
    person_type: PersonType,
    entity_type: &'static str,
    entity_id: Uuid,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    job_title: Option<String>,
    role: Option<&'static str>,
    company_id: Option<Uuid>,
    visibility: &'static str,
    owner_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_position: i64,
}

/// A batch's rows, column by column, for one UNNEST upsert.
#[derive(Default)]
struct Rows {
    deleted: Vec<String>,
    /// Companies the batch touched: their contacts' company names follow.
    companies_touched: Vec<Uuid>,
    /// Contacts the batch wrote: their company names are looked up.
    contacts: Vec<String>,
    standard: Standard,
    person_type: Vec<PersonType>,
    entity_type: Vec<&'static str>,
    entity_id: Vec<Uuid>,
    name: Vec<String>,
    email: Vec<Option<String>>,
    phone: Vec<Option<String>>,
    job_title: Vec<Option<String>>,
    role: Vec<Option<&'static str>>,
    company_id: Vec<Option<Uuid>>,
}

impl Rows {
    /// A member, as of the organization's state. Its owner is who added it;
    /// when the batch did not add it, the row keeps the owner and creation
    /// time it has.
    fn member(
        &mut self,
        external_id: String,
        organization_id: Uuid,
        user_id: Uuid,
        member: &Member,
        touch: &Touch,
    ) {
        let Some(updated_at) = touch.updated_at else {
            return;
        };
        let (created_at, owner_id) = touch.added.unwrap_or((updated_at, None));
        self.push(Entry {
            external_id,
            organization_id,
            person_type: PersonType::Internal,
            entity_type: "Member",
            entity_id: user_id,
            name: member.display_name.clone(),
            email: Some(member.email.clone()),
            phone: None,
            job_title: None,
            role: Some(member.role.as_str()),
            company_id: None,
            visibility: "organization",
            owner_id,
            created_at,
            updated_at,
            last_position: touch.last_position,
        });
    }

    fn company(&mut self, id: &str, tracked: &Tracked<Company>) {
        let company = &tracked.aggregate;
        let external_id = format!("Company:{id}");
        let (Some(entity_id), Some(organization_id), Some(created_at), Some(updated_at), false) = (
            company.id,
            company.organization_id,
            tracked.created_at,
            tracked.updated_at,
            company.is_deleted(),
        ) else {
            return self.deleted.push(external_id);
        };
        self.push(Entry {
            external_id,
            organization_id,
            person_type: company.kind.into(),
            entity_type: "Company",
            entity_id,
            name: company.name.clone(),
            email: company.email.clone(),
            phone: company.phone.clone(),
            job_title: None,
            role: None,
            company_id: None,
            visibility: company.visibility.as_str(),
            owner_id: company.owner_id,
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
    }

    fn contact(&mut self, id: &str, tracked: &Tracked<Contact>) {
        let contact = &tracked.aggregate;
        let external_id = format!("Contact:{id}");
        let (Some(entity_id), Some(organization_id), Some(created_at), Some(updated_at), false) = (
            contact.id,
            contact.organization_id,
            tracked.created_at,
            tracked.updated_at,
            contact.is_deleted(),
        ) else {
            return self.deleted.push(external_id);
        };
        self.contacts.push(external_id.clone());
        self.push(Entry {
            external_id,
            organization_id,
            person_type: contact.kind.into(),
            entity_type: "Contact",
            entity_id,
            name: contact.name.clone(),
            email: Some(contact.email.clone()),
            phone: contact.phone.clone(),
            job_title: contact.title.clone(),
            role: None,
            company_id: contact.company_id,
            visibility: contact.visibility.as_str(),
            owner_id: contact.owner_id,
            created_at,
            updated_at,
            last_position: tracked.last_position,
        });
    }

    fn push(&mut self, entry: Entry) {
        self.person_type.push(entry.person_type);
        self.entity_type.push(entry.entity_type);
        self.entity_id.push(entry.entity_id);
        self.name.push(entry.name);
        self.email.push(entry.email);
        self.phone.push(entry.phone);
        self.job_title.push(entry.job_title);
        self.role.push(entry.role);
        self.company_id.push(entry.company_id);
        self.standard.push(Stamp {
            external_id: entry.external_id,
            organization_id: entry.organization_id,
            visibility: entry.visibility,
            owner_id: entry.owner_id,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
            last_position: entry.last_position,
        });
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        remove_rows(tx, "people_directory", &self.deleted).await?;
        if !self.standard.is_empty() {
            // A member's row keeps its creation time and owner when the batch
            // did not add it (LEAST and COALESCE); every other row's are its
            // entity's, which never change.
            sqlx::query(
                "INSERT INTO people_directory (
                     id, organization_id, person_type, entity_type, entity_id, name, email, phone,
                     job_title, role, company_id, visibility, owner_id, external_id, created_at,
                     updated_at, last_position)
                 SELECT * FROM UNNEST(
                     $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::uuid[], $12::text[],
                     $13::uuid[], $14::text[], $15::timestamptz[], $16::timestamptz[],
                     $17::bigint[])
                 ON CONFLICT (external_id) DO UPDATE SET
                     person_type = EXCLUDED.person_type,
                     name = EXCLUDED.name,
                     email = EXCLUDED.email,
                     phone = EXCLUDED.phone,
                     job_title = EXCLUDED.job_title,
                     role = EXCLUDED.role,
                     company_id = EXCLUDED.company_id,
                     visibility = EXCLUDED.visibility,
                     owner_id = coalesce(EXCLUDED.owner_id, people_directory.owner_id),
                     created_at = least(EXCLUDED.created_at, people_directory.created_at),
                     updated_at = EXCLUDED.updated_at,
                     last_position = EXCLUDED.last_position",
            )
            .bind(&self.standard.id)
            .bind(&self.standard.organization_id)
            .bind(&self.person_type)
            .bind(&self.entity_type)
            .bind(&self.entity_id)
            .bind(&self.name)
            .bind(&self.email)
            .bind(&self.phone)
            .bind(&self.job_title)
            .bind(&self.role)
            .bind(&self.company_id)
            .bind(&self.standard.visibility)
            .bind(&self.standard.owner_id)
            .bind(&self.standard.external_id)
            .bind(&self.standard.created_at)
            .bind(&self.standard.updated_at)
            .bind(&self.standard.last_position)
            .execute(&mut *tx)
            .await?;
        }
        if !self.companies_touched.is_empty() || !self.contacts.is_empty() {
            // A contact shows its company's name while the company is listed:
            // looked up once the batch's companies are written, and followed
            // when a company is renamed or deleted.
            sqlx::query(
                "UPDATE people_directory AS contact
                 SET company_name = (SELECT company.name FROM people_directory AS company
                                     WHERE company.external_id = 'Company:' || contact.company_id)
                 WHERE contact.entity_type = 'Contact'
                   AND (contact.company_id = ANY($1) OR contact.external_id = ANY($2))",
            )
            .bind(&self.companies_touched)
            .bind(&self.contacts)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

/// The batch's organizations and memberships, for API authorization.
#[derive(Default)]
struct Tenants {
    id: Vec<Uuid>,
    name: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    last_position: Vec<i64>,
    removed: Vec<(Uuid, Uuid)>,
    member_organization: Vec<Uuid>,
    member_user: Vec<Uuid>,
    member_role: Vec<&'static str>,
    /// Comma-separated: UNNEST cannot take an array of arrays of different lengths.
    member_capabilities: Vec<String>,
    member_name: Vec<String>,
    member_email: Vec<String>,
}

impl Tenants {
    fn organization(&mut self, tracked: &Tracked<Organization>) {
        let organization = &tracked.aggregate;
        let (Some(id), Some(created_at), Some(updated_at)) =
            (organization.id, tracked.created_at, tracked.updated_at)
        else {
            return;
        };
        self.id.push(id);
        self.name.push(organization.name.clone());
        self.created_at.push(created_at);
        self.updated_at.push(updated_at);
        self.last_position.push(tracked.last_position);
    }

    fn membership(&mut self, organization_id: Uuid, user_id: Uuid, member: &Member) {
        self.member_organization.push(organization_id);
        self.member_user.push(user_id);
        self.member_role.push(member.role.as_str());
        self.member_capabilities.push(
            member
                .capabilities
                .iter()
                .map(|capability| capability.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        self.member_name.push(member.display_name.clone());
        self.member_email.push(member.email.clone());
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        if !self.id.is_empty() {
            sqlx::query(
                "INSERT INTO organizations (id, name, created_at, updated_at, last_position)
                 SELECT * FROM UNNEST(
                     $1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[])
                 ON CONFLICT (id) DO UPDATE SET
                     name = EXCLUDED.name,
                     updated_at = EXCLUDED.updated_at,
                     last_position = EXCLUDED.last_position",
            )
            .bind(&self.id)
            .bind(&self.name)
            .bind(&self.created_at)
            .bind(&self.updated_at)
            .bind(&self.last_position)
            .execute(&mut *tx)
            .await?;
        }
        if !self.removed.is_empty() {
            let (organizations, users): (Vec<Uuid>, Vec<Uuid>) = self.removed.into_iter().unzip();
            sqlx::query(
                "DELETE FROM memberships
                 WHERE (organization_id, user_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))",
            )
            .bind(&organizations)
            .bind(&users)
            .execute(&mut *tx)
            .await?;
        }
        if !self.member_user.is_empty() {
            sqlx::query(
                "INSERT INTO memberships
                     (organization_id, user_id, role, capabilities, display_name, email)
                 SELECT m.organization_id, m.user_id, m.role, string_to_array(m.capabilities, ','),
                        m.display_name, m.email
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
                      AS m(organization_id, user_id, role, capabilities, display_name, email)
                 ON CONFLICT (organization_id, user_id) DO UPDATE SET
                     role = EXCLUDED.role,
                     capabilities = EXCLUDED.capabilities,
                     display_name = EXCLUDED.display_name,
                     email = EXCLUDED.email",
            )
            .bind(&self.member_organization)
            .bind(&self.member_user)
            .bind(&self.member_role)
            .bind(&self.member_capabilities)
            .bind(&self.member_name)
            .bind(&self.member_email)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}
