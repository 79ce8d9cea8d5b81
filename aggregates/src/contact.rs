//! The Contact aggregate: a person at a company, or talent, reachable by an
//! email address that is unique within the organization.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::reference::{Claim, References};
use crate::visibility::Visibility;

const ENTITY: &str = "contact";

/// The scope of the unique claim on a contact's email.
pub const EMAIL_SCOPE: &str = "contact_email";

/// Who a contact is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// A person at a company; always belongs to one.
    #[default]
    CompanyContact,
    /// An artist or performer; never belongs to a company.
    Talent,
}

/// A contact.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Contact {
    /// The contact id, once added.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who added it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// Company contact or talent.
    pub kind: ContactKind,
    /// Full name.
    pub name: String,
    /// Email address, as entered; unique (case-insensitively) in the organization.
    pub email: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// The company a company contact works at; `None` for talent.
    pub company_id: Option<Uuid>,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`Contact`].
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
pub enum ContactCommand {
    /// Adds the contact.
    AddContact {
        /// Company contact or talent.
        kind: ContactKind,
        /// Full name; not blank.
        name: String,
        /// Email address (`local@domain.tld`), unique in the organization.
        email: String,
        /// Phone number; a blank one is dropped.
        phone: Option<String>,
        /// Job title; a blank one is dropped.
        title: Option<String>,
        /// The company: required for a company contact, refused for talent.
        company_id: Option<Uuid>,
        /// Row visibility; organization by default.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Changes name, phone and/or title; at least one must be given.
    UpdateContact {
        /// The new name; not blank.
        name: Option<String>,
        /// The new phone number; an empty string removes it.
        phone: Option<String>,
        /// The new job title; an empty string removes it.
        title: Option<String>,
    },
    /// Changes the email address.
    ChangeContactEmail {
        /// The new address, different from the current one.
        email: String,
    },
    /// Moves a company contact to another company.
    MoveContactToCompany {
        /// The new company.
        company_id: Uuid,
    },
    /// Soft-deletes the contact, freeing its email address.
    DeleteContact,
}

impl DomainCommand for ContactCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        match self {
            ContactCommand::DeleteContact => Requirement::Role(Role::Admin),
            _ => Requirement::Role(Role::Member),
        }
    }

    fn references(&self) -> References {
        use ContactCommand as C;
        match self {
            C::AddContact { company_id, .. } => {
                References::none().aggregate("Company", *company_id)
            }
            C::MoveContactToCompany { company_id } => {
                References::none().aggregate("Company", *company_id)
            }
            _ => References::none(),
        }
    }
}

/// Events of a [`Contact`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum ContactEvent {
    /// The contact was added.
    ContactAdded {
        /// Its id.
        contact_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who added it.
        owner_id: Uuid,
        /// Company contact or talent.
        kind: ContactKind,
        /// Full name.
        name: String,
        /// Email address.
        email: String,
        /// Phone number.
        phone: Option<String>,
        /// Job title.
        title: Option<String>,
        /// The company, for a company contact.
        company_id: Option<Uuid>,
        /// Row visibility.
        visibility: Visibility,
    },
    /// Name, phone and/or title changed; absent fields are unchanged.
    ContactUpdated {
        /// The new name.
        name: Option<String>,
        /// The new phone number; an empty string means it was removed.
        phone: Option<String>,
        /// The new job title; an empty string means it was removed.
        title: Option<String>,
    },
    /// The email address changed.
    ContactEmailChanged {
        /// The new address.
        email: String,
    },
    /// The contact moved to another company.
    ContactMovedToCompany {
        /// The new company.
        company_id: Uuid,
    },
    /// Soft-deleted.
    ContactDeleted,
}

domain_event!(ContactEvent);

/// Refuses anything but `local@domain.tld`: one `@`, no whitespace, a
/// non-empty local part and a dotted domain without empty labels.
pub(crate) fn validate_email(email: &str) -> Result<(), DomainError> {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && domain.split('.').all(|label| !label.is_empty())
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(DomainError::field(
            "email",
            format!("`{email}` is not an email address"),
        ))
    }
}

/// Drops a blank optional text.
fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// Keeps an optional text, turning a blank one into the empty string that
/// means "remove it".
fn clearable(value: Option<String>) -> Option<String> {
    value.map(|v| {
        if v.trim().is_empty() {
            String::new()
        } else {
            v
        }
    })
}

impl Contact {
    fn decide(
        &self,
        command: ContactCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<ContactEvent>, DomainError> {
        use ContactCommand as C;
        use ContactEvent as E;

        if let C::AddContact {
            kind,
            name,
            email,
            phone,
            title,
            company_id,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&name, "name")?;
            validate_email(&email)?;
            match (kind, company_id) {
                (ContactKind::CompanyContact, None) => {
                    return Err(DomainError::invalid("a company contact needs a company"));
                }
                (ContactKind::Talent, Some(_)) => {
                    return Err(DomainError::invalid("talent does not belong to a company"));
                }
                _ => {}
            }
            return Ok(vec![E::ContactAdded {
                contact_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                kind,
                name,
                email,
                phone: non_blank(phone),
                title: non_blank(title),
                company_id,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::AddContact { .. } => unreachable!("handled above"),
            C::UpdateContact { name, phone, title } => {
                if name.is_none() && phone.is_none() && title.is_none() {
                    return Err(DomainError::invalid(
                        "an update needs a name, a phone number or a title",
                    ));
                }
                if let Some(name) = &name {
                    require_text(name, "name")?;
                }
                Ok(vec![E::ContactUpdated {
                    name,
                    phone: clearable(phone),
                    title: clearable(title),
                }])
            }
            C::ChangeContactEmail { email } => {
                validate_email(&email)?;
                if email == self.email {
                    return Err(DomainError::rule("the email address is unchanged"));
                }
                Ok(vec![E::ContactEmailChanged { email }])
            }
            C::MoveContactToCompany { company_id } => {
                if self.kind != ContactKind::CompanyContact {
                    return Err(DomainError::rule(
                        "only company contacts belong to a company",
                    ));
                }
                if self.company_id == Some(company_id) {
                    return Err(DomainError::rule("the contact is already at that company"));
                }
                Ok(vec![E::ContactMovedToCompany { company_id }])
            }
            C::DeleteContact => Ok(vec![E::ContactDeleted]),
        }
    }
}

event_sourced!(Contact, "Contact", ContactCommand, ContactEvent);

impl Contact {
    /// Folds one event into the state.
    fn evolve(&mut self, event: ContactEvent) {
        use ContactEvent as E;
        match event {
            E::ContactAdded {
                contact_id,
                organization_id,
                owner_id,
                kind,
                name,
                email,
                phone,
                title,
                company_id,
                visibility,
            } => {
                self.id = Some(contact_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.kind = kind;
                self.name = name;
                self.email = email;
                self.phone = phone;
                self.title = title;
                self.company_id = company_id;
                self.visibility = visibility;
            }
            E::ContactUpdated { name, phone, title } => {
                if let Some(name) = name {
                    self.name = name;
                }
                if let Some(phone) = phone {
                    self.phone = non_blank(Some(phone));
                }
                if let Some(title) = title {
                    self.title = non_blank(Some(title));
                }
            }
            E::ContactEmailChanged { email } => self.email = email,
            E::ContactMovedToCompany { company_id } => self.company_id = Some(company_id),
            E::ContactDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Contact {
    fn organization_id(&self) -> Option<Uuid> {
        self.organization_id
    }

    /// The lower-cased email while the contact is live; nothing once deleted.
    fn claims(&self) -> Option<Vec<Claim>> {
        if self.id.is_some() && !self.deleted {
            Some(vec![Claim::Unique {
                scope: EMAIL_SCOPE.into(),
                value: self.email.to_lowercase(),
            }])
        } else {
            Some(vec![])
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::testing::{ctx, ExpectErrorContaining, AGG, ALICE, ORG};
    use cqrs_es::Aggregate;

    type Fx = TestFramework<Contact>;
    type C = ContactCommand;
    type E = ContactEvent;

    const ACME: Uuid = Uuid::from_u128(0xac3e);
    const GLOBEX: Uuid = Uuid::from_u128(0x610be);

    fn added() -> E {
        E::ContactAdded {
            contact_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            kind: ContactKind::CompanyContact,
            name: "Dana Reyes".into(),
            email: "Dana@Acme.example.com".into(),
            phone: Some("+353 1 555 0100".into()),
            title: None,
            company_id: Some(ACME),
            visibility: Visibility::Organization,
        }
    }

    fn talent() -> E {
        E::ContactAdded {
            contact_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            kind: ContactKind::Talent,
            name: "DJ Kestrel".into(),
            email: "kestrel@example.com".into(),
            phone: None,
            title: None,
            company_id: None,
            visibility: Visibility::Private,
        }
    }

    fn add(kind: ContactKind, email: &str, company_id: Option<Uuid>) -> C {
        C::AddContact {
            kind,
            name: "Dana Reyes".into(),
            email: email.into(),
            phone: Some("+353 1 555 0100".into()),
            title: Some(" ".into()),
            company_id,
            visibility: Visibility::Organization,
        }
    }

    fn state(events: Vec<E>) -> Contact {
        let mut contact = Contact::default();
        for event in events {
            contact.apply(event);
        }
        contact
    }

    fn email_claim(value: &str) -> Option<Vec<Claim>> {
        Some(vec![Claim::Unique {
            scope: "contact_email".into(),
            value: value.into(),
        }])
    }

    #[test]
    fn add_contact() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(add(
                ContactKind::CompanyContact,
                "Dana@Acme.example.com",
                Some(ACME),
            ))
            .then_expect_events(vec![added()]);
    }

    #[test]
    fn add_refuses_bad_input_and_duplicates() {
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(add(ContactKind::CompanyContact, "a@b.co", Some(ACME)))
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
        for bad in [
            "dana",
            "@acme.com",
            "dana@acme",
            "dana@acme.",
            "da na@acme.com",
            "a@b@c.com",
            "a@.com",
        ] {
            Fx::with(ctx(Role::Member))
                .given_no_previous_events()
                .when(add(ContactKind::CompanyContact, bad, Some(ACME)))
                .then_expect_error_containing("is not an email address");
        }
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(add(ContactKind::CompanyContact, "a@b.co", None))
            .then_expect_error(DomainError::invalid("a company contact needs a company"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(add(ContactKind::Talent, "a@b.co", Some(ACME)))
            .then_expect_error(DomainError::invalid("talent does not belong to a company"));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::AddContact {
                kind: ContactKind::Talent,
                name: " ".into(),
                email: "a@b.co".into(),
                phone: None,
                title: None,
                company_id: None,
                visibility: Visibility::default(),
            })
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
    }

    #[test]
    fn commands_need_a_live_contact() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::DeleteContact)
            .then_expect_error(DomainError::NotCreated(ENTITY));
        Fx::with(ctx(Role::Member))
            .given(vec![added(), E::ContactDeleted])
            .when(C::ChangeContactEmail {
                email: "x@y.com".into(),
            })
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn update() {
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::UpdateContact {
                name: None,
                phone: Some("".into()),
                title: Some("Promoter".into()),
            })
            .then_expect_events(vec![E::ContactUpdated {
                name: None,
                phone: Some(String::new()),
                title: Some("Promoter".into()),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::UpdateContact {
                name: None,
                phone: None,
                title: None,
            })
            .then_expect_error_containing("an update needs");
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::UpdateContact {
                name: Some("\t".into()),
                phone: None,
                title: None,
            })
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
        let contact = state(vec![
            added(),
            E::ContactUpdated {
                name: Some("Dana R.".into()),
                phone: Some(String::new()),
                title: Some("Promoter".into()),
            },
        ]);
        assert_eq!(contact.name, "Dana R.");
        assert_eq!(contact.phone, None);
        assert_eq!(contact.title.as_deref(), Some("Promoter"));
    }

    #[test]
    fn change_email() {
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::ChangeContactEmail {
                email: "dana@globex.example.com".into(),
            })
            .then_expect_events(vec![E::ContactEmailChanged {
                email: "dana@globex.example.com".into(),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::ChangeContactEmail {
                email: "dana@acme.example.com".into(),
            })
            .then_expect_events(vec![E::ContactEmailChanged {
                email: "dana@acme.example.com".into(),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::ChangeContactEmail {
                email: "Dana@Acme.example.com".into(),
            })
            .then_expect_error(DomainError::rule("the email address is unchanged"));
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::ChangeContactEmail {
                email: "not-an-email".into(),
            })
            .then_expect_error_containing("is not an email address");
    }

    #[test]
    fn move_to_company() {
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::MoveContactToCompany { company_id: GLOBEX })
            .then_expect_events(vec![E::ContactMovedToCompany { company_id: GLOBEX }]);
        Fx::with(ctx(Role::Member))
            .given(vec![added()])
            .when(C::MoveContactToCompany { company_id: ACME })
            .then_expect_error_containing("already at that company");
        Fx::with(ctx(Role::Member))
            .given(vec![talent()])
            .when(C::MoveContactToCompany { company_id: ACME })
            .then_expect_error_containing("only company contacts");
        let contact = state(vec![
            added(),
            E::ContactMovedToCompany { company_id: GLOBEX },
        ]);
        assert_eq!(contact.company_id, Some(GLOBEX));
    }

    #[test]
    fn delete() {
        Fx::with(ctx(Role::Admin))
            .given(vec![talent()])
            .when(C::DeleteContact)
            .then_expect_events(vec![E::ContactDeleted]);
        Fx::with(ctx(Role::Admin))
            .given(vec![talent(), E::ContactDeleted])
            .when(C::DeleteContact)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn claims_follow_the_email() {
        assert_eq!(Contact::default().claims(), Some(vec![]));
        assert_eq!(
            state(vec![added()]).claims(),
            email_claim("dana@acme.example.com")
        );
        assert_eq!(state(vec![added()]).email, "Dana@Acme.example.com");
        assert_eq!(
            state(vec![
                added(),
                E::ContactEmailChanged {
                    email: "D.Reyes@Globex.example.com".into()
                }
            ])
            .claims(),
            email_claim("d.reyes@globex.example.com")
        );
        assert_eq!(
            state(vec![added(), E::ContactDeleted]).claims(),
            Some(vec![])
        );
    }

    #[test]
    fn commands_deserialize_from_tagged_json() {
        let command: C = serde_json::from_value(serde_json::json!({
            "type": "add_contact",
            "kind": "talent",
            "name": "DJ Kestrel",
            "email": "kestrel@example.com",
        }))
        .unwrap();
        assert_eq!(
            command,
            C::AddContact {
                kind: ContactKind::Talent,
                name: "DJ Kestrel".into(),
                email: "kestrel@example.com".into(),
                phone: None,
                title: None,
                company_id: None,
                visibility: Visibility::Organization,
            }
        );
        let command: C =
            serde_json::from_value(serde_json::json!({"type": "delete_contact"})).unwrap();
        assert_eq!(command.name(), "DeleteContact");
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(
            C::DeleteContact.requirement(),
            Requirement::Role(Role::Admin)
        );
        assert_eq!(
            C::ChangeContactEmail {
                email: "a@b.co".into()
            }
            .requirement(),
            Requirement::Role(Role::Member)
        );
        assert_eq!(
            add(ContactKind::CompanyContact, "a@b.co", Some(ACME)).references(),
            References::none().aggregate("Company", ACME)
        );
        assert!(add(ContactKind::Talent, "a@b.co", None)
            .references()
            .is_empty());
        assert_eq!(
            C::MoveContactToCompany { company_id: GLOBEX }.references(),
            References::none().aggregate("Company", GLOBEX)
        );
        assert!(C::DeleteContact.references().is_empty());
    }
}
