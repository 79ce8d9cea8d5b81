//! The Company aggregate: clients, vendors and partners, how to reach them,
//! and where their office is.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::address::{Address, Coordinates};
use crate::contact::validate_email;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::visibility::Visibility;

const ENTITY: &str = "company";

/// What a company is to the organization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum CompanyKind {
    /// We bill them.
    #[default]
    Client,
    /// They bill us.
    Vendor,
    /// We work alongside them.
    Partner,
}

/// Where the organization stands with a company, as its CRM shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// Nothing settled with them yet.
    #[default]
    Prospect,
    /// A client that has paid us (set by the invoice follow-up workflow, or
    /// by hand).
    Active,
    /// Once active, now quiet.
    Dormant,
}

/// A company's office.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    foldline_derive::GraphqlInput,
    foldline_derive::GraphqlOutput,
)]
pub struct Office {
    /// Its postal address.
    pub address: Address,
    /// Where it is on the map.
    #[serde(default)]
    pub coordinates: Option<Coordinates>,
}

impl Office {
    /// Refuses an incomplete address or coordinates off the globe.
    pub fn validate(&self) -> Result<(), DomainError> {
        self.address.validate().map_err(|e| e.within("address"))?;
        if let Some(coordinates) = &self.coordinates {
            coordinates
                .validate()
                .map_err(|e| e.within("coordinates"))?;
        }
        Ok(())
    }
}

/// A company.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity)]
pub struct Company {
    /// The company id, once registered.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who registered it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// Client, vendor or partner.
    pub kind: CompanyKind,
    /// Name.
    pub name: String,
    /// Website.
    pub website: Option<String>,
    /// General email address.
    pub email: Option<String>,
    /// General phone number.
    pub phone: Option<String>,
    /// Its office.
    pub office: Option<Office>,
    /// Where the organization stands with it.
    #[serde(default)]
    pub relationship: Relationship,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`Company`].
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
pub enum CompanyCommand {
    /// Registers the company.
    RegisterCompany {
        /// Client, vendor or partner.
        kind: CompanyKind,
        /// Name; not blank.
        name: String,
        /// Website; a blank one is dropped.
        website: Option<String>,
        /// Email address (`local@domain.tld`); a blank one is dropped.
        email: Option<String>,
        /// Phone number; a blank one is dropped.
        phone: Option<String>,
        /// Its office, validated.
        office: Option<Office>,
        /// Row visibility; organization by default.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Changes any of name, kind, website, email and phone; at least one must
    /// be given. An empty website, email or phone removes it.
    UpdateCompany {
        /// The new name; not blank.
        name: Option<String>,
        /// The new kind.
        kind: Option<CompanyKind>,
        /// The new website.
        website: Option<String>,
        /// The new email address.
        email: Option<String>,
        /// The new phone number.
        phone: Option<String>,
    },
    /// Sets or removes the office.
    SetCompanyOffice {
        /// The new office, validated; `None` removes it.
        office: Option<Office>,
    },
    /// Soft-deletes the company.
    /// Sets where the organization stands with the company; setting the
    /// one it has appends nothing (the bus answers that the command changed
    /// nothing).
    SetCompanyRelationship {
        /// The new standing.
        relationship: Relationship,
    },
    DeleteCompany,
}

impl DomainCommand for CompanyCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        match self {
            CompanyCommand::DeleteCompany => Requirement::Role(Role::Admin),
            _ => Requirement::Role(Role::Member),
        }
    }
}

/// Events of a [`Company`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum CompanyEvent {
    /// The company was registered.
    CompanyRegistered {
        /// Its id.
        company_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who registered it.
        owner_id: Uuid,
        /// Client, vendor or partner.
        kind: CompanyKind,
        /// Name.
        name: String,
        /// Website.
        website: Option<String>,
        /// Email address.
        email: Option<String>,
        /// Phone number.
        phone: Option<String>,
        /// Its office.
        office: Option<Office>,
        /// Row visibility.
        visibility: Visibility,
    },
    /// Some details changed; absent fields are unchanged, and an empty
    /// website, email or phone means it was removed.
    CompanyUpdated {
        /// The new name.
        name: Option<String>,
        /// The new kind.
        kind: Option<CompanyKind>,
        /// The new website.
        website: Option<String>,
        /// The new email address.
        email: Option<String>,
        /// The new phone number.
        phone: Option<String>,
    },
    /// The office was set or removed.
    CompanyOfficeSet {
        /// The new office; `None` when removed.
        office: Option<Office>,
    },
    /// Soft-deleted.
    /// Where the organization stands with it changed.
    CompanyRelationshipChanged {
        /// The new standing.
        relationship: Relationship,
    },
    CompanyDeleted,
}

domain_event!(CompanyEvent);

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

impl Company {
    fn decide(
        &self,
        command: CompanyCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<CompanyEvent>, DomainError> {
        use CompanyCommand as C;
        use CompanyEvent as E;

        if let C::RegisterCompany {
            kind,
            name,
            website,
            email,
            phone,
            office,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&name, "name")?;
            let email = non_blank(email);
            if let Some(email) = &email {
                validate_email(email)?;
            }
            if let Some(office) = &office {
                office.validate().map_err(|e| e.within("office"))?;
            }
            return Ok(vec![E::CompanyRegistered {
                company_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                kind,
                name,
                website: non_blank(website),
                email,
                phone: non_blank(phone),
                office,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::RegisterCompany { .. } => unreachable!("handled above"),
            C::UpdateCompany {
                name,
                kind,
                website,
                email,
                phone,
            } => {
                if name.is_none()
                    && kind.is_none()
                    && website.is_none()
                    && email.is_none()
                    && phone.is_none()
                {
                    return Err(DomainError::invalid(
                        "an update needs a name, kind, website, email or phone",
                    ));
                }
                if let Some(name) = &name {
                    require_text(name, "name")?;
                }
                let email = clearable(email);
                if let Some(email) = email.as_deref().filter(|e| !e.is_empty()) {
                    validate_email(email)?;
                }
                Ok(vec![E::CompanyUpdated {
                    name,
                    kind,
                    website: clearable(website),
                    email,
                    phone: clearable(phone),
                }])
            }
            C::SetCompanyOffice { office } => {
                if let Some(office) = &office {
                    office.validate().map_err(|e| e.within("office"))?;
                }
                if office == self.office {
                    return Err(DomainError::rule("the office is unchanged"));
                }
                Ok(vec![E::CompanyOfficeSet { office }])
            }
            C::SetCompanyRelationship { relationship } => {
                Ok(if relationship == self.relationship {
                    vec![]
                } else {
                    vec![E::CompanyRelationshipChanged { relationship }]
                })
            }
            C::DeleteCompany => Ok(vec![E::CompanyDeleted]),
        }
    }
}

event_sourced!(Company, "Company", CompanyCommand, CompanyEvent);

impl Company {
    /// Folds one event into the state.
    fn evolve(&mut self, event: CompanyEvent) {
        use CompanyEvent as E;
        match event {
            E::CompanyRegistered {
                company_id,
                organization_id,
                owner_id,
                kind,
                name,
                website,
                email,
                phone,
                office,
                visibility,
            } => {
                self.id = Some(company_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.kind = kind;
                self.name = name;
                self.website = website;
                self.email = email;
                self.phone = phone;
                self.office = office;
                self.visibility = visibility;
            }
            E::CompanyUpdated {
                name,
                kind,
                website,
                email,
                phone,
            } => {
                if let Some(name) = name {
                    self.name = name;
                }
                if let Some(kind) = kind {
                    self.kind = kind;
                }
                if let Some(website) = website {
                    self.website = non_blank(Some(website));
                }
                if let Some(email) = email {
                    self.email = non_blank(Some(email));
                }
                if let Some(phone) = phone {
                    self.phone = non_blank(Some(phone));
                }
            }
            E::CompanyOfficeSet { office } => self.office = office,
            E::CompanyRelationshipChanged { relationship } => self.relationship = relationship,
            E::CompanyDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Company {
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

    type Fx = TestFramework<Company>;
    type C = CompanyCommand;
    type E = CompanyEvent;

    fn office() -> Office {
        Office {
            address: Address {
                line1: "1 Quay Street".into(),
                city: "Dublin".into(),
                country: "IE".into(),
                ..Default::default()
            },
            coordinates: Some(Coordinates {
                latitude: 53.3,
                longitude: -6.2,
            }),
        }
    }

    fn registered() -> E {
        E::CompanyRegistered {
            company_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            kind: CompanyKind::Vendor,
            name: "Acme Staging".into(),
            website: Some("https://acme.example.com".into()),
            email: Some("hello@acme.example.com".into()),
            phone: None,
            office: Some(office()),
            visibility: Visibility::Organization,
        }
    }

    fn register_command(email: Option<&str>, office: Option<Office>) -> C {
        C::RegisterCompany {
            kind: CompanyKind::Vendor,
            name: "Acme Staging".into(),
            website: Some("https://acme.example.com".into()),
            email: email.map(Into::into),
            phone: Some("".into()),
            office,
            visibility: Visibility::Organization,
        }
    }

    fn update_with(name: Option<&str>, email: Option<&str>) -> C {
        C::UpdateCompany {
            name: name.map(Into::into),
            kind: None,
            website: None,
            email: email.map(Into::into),
            phone: None,
        }
    }

    fn update() -> C {
        update_with(None, None)
    }

    #[test]
    fn register() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(register_command(
                Some("hello@acme.example.com"),
                Some(office()),
            ))
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn register_refuses_bad_input_and_duplicates() {
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(register_command(None, None))
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(register_command(Some("hello"), None))
            .then_expect_error_containing("is not an email address");
        let mut bad = office();
        bad.address.country = "Ireland".into();
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(register_command(None, Some(bad)))
            .then_expect_error_containing("two-letter ISO 3166 code");
        let mut bad = office();
        bad.coordinates = Some(Coordinates {
            latitude: 95.0,
            longitude: 0.0,
        });
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(register_command(None, Some(bad)))
            .then_expect_error(DomainError::field(
                "office.coordinates.latitude",
                "latitude must be between -90 and 90",
            ));
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::RegisterCompany {
                kind: CompanyKind::Client,
                name: " ".into(),
                website: None,
                email: None,
                phone: None,
                office: None,
                visibility: Visibility::default(),
            })
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
    }

    #[test]
    fn commands_need_a_live_company() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::SetCompanyOffice { office: None })
            .then_expect_error(DomainError::NotCreated(ENTITY));
        Fx::with(ctx(Role::Admin))
            .given(vec![registered(), E::CompanyDeleted])
            .when(C::DeleteCompany)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn update_company() {
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::UpdateCompany {
                name: Some("Acme Staging Ltd".into()),
                kind: Some(CompanyKind::Partner),
                website: Some(" ".into()),
                email: Some("bookings@acme.example.com".into()),
                phone: Some("+353 1 555 0199".into()),
            })
            .then_expect_events(vec![E::CompanyUpdated {
                name: Some("Acme Staging Ltd".into()),
                kind: Some(CompanyKind::Partner),
                website: Some(String::new()),
                email: Some("bookings@acme.example.com".into()),
                phone: Some("+353 1 555 0199".into()),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(update_with(None, Some("")))
            .then_expect_events(vec![E::CompanyUpdated {
                name: None,
                kind: None,
                website: None,
                email: Some(String::new()),
                phone: None,
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(update())
            .then_expect_error_containing("an update needs");
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(update_with(Some(""), None))
            .then_expect_error(DomainError::field("name", "`name` must not be empty"));
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(update_with(None, Some("bookings@")))
            .then_expect_error_containing("is not an email address");
    }

    #[test]
    fn update_applies_and_clears() {
        let mut company = Company::default();
        company.apply(registered());
        company.apply(E::CompanyUpdated {
            name: None,
            kind: Some(CompanyKind::Client),
            website: Some(String::new()),
            email: None,
            phone: Some("+1 555 0100".into()),
        });
        assert_eq!(company.name, "Acme Staging");
        assert_eq!(company.kind, CompanyKind::Client);
        assert_eq!(company.website, None);
        assert_eq!(company.email.as_deref(), Some("hello@acme.example.com"));
        assert_eq!(company.phone.as_deref(), Some("+1 555 0100"));
    }

    #[test]
    fn set_and_remove_the_office() {
        let mut moved = office();
        moved.address.line1 = "2 Dock Road".into();
        moved.coordinates = None;
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::SetCompanyOffice {
                office: Some(moved.clone()),
            })
            .then_expect_events(vec![E::CompanyOfficeSet {
                office: Some(moved),
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::SetCompanyOffice { office: None })
            .then_expect_events(vec![E::CompanyOfficeSet { office: None }]);
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::SetCompanyOffice {
                office: Some(office()),
            })
            .then_expect_error(DomainError::rule("the office is unchanged"));
        let mut bad = office();
        bad.address.city = "".into();
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(C::SetCompanyOffice { office: Some(bad) })
            .then_expect_error(DomainError::field(
                "office.address.city",
                "`city` must not be empty",
            ));
        let mut company = Company::default();
        company.apply(registered());
        company.apply(E::CompanyOfficeSet { office: None });
        assert_eq!(company.office, None);
    }

    #[test]
    fn delete() {
        Fx::with(ctx(Role::Admin))
            .given(vec![registered()])
            .when(C::DeleteCompany)
            .then_expect_events(vec![E::CompanyDeleted]);
        Fx::with(ctx(Role::Admin))
            .given(vec![registered(), E::CompanyDeleted])
            .when(update())
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn commands_deserialize_from_tagged_json() {
        let command: C = serde_json::from_value(serde_json::json!({
            "type": "register_company",
            "kind": "vendor",
            "name": "Acme Staging",
            "office": {
                "address": {"line1": "1 Quay Street", "city": "Dublin", "country": "IE"},
            },
        }))
        .unwrap();
        let mut expected_office = office();
        expected_office.coordinates = None;
        assert_eq!(
            command,
            C::RegisterCompany {
                kind: CompanyKind::Vendor,
                name: "Acme Staging".into(),
                website: None,
                email: None,
                phone: None,
                office: Some(expected_office),
                visibility: Visibility::Organization,
            }
        );
        assert_eq!(command.name(), "RegisterCompany");
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(
            C::DeleteCompany.requirement(),
            Requirement::Role(Role::Admin)
        );
        assert_eq!(update().requirement(), Requirement::Role(Role::Member));
        assert!(register_command(None, Some(office()))
            .references()
            .is_empty());
    }

    #[test]
    fn the_relationship_changes_once() {
        let active = C::SetCompanyRelationship {
            relationship: Relationship::Active,
        };
        Fx::with(ctx(Role::Member))
            .given(vec![registered()])
            .when(active.clone())
            .then_expect_events(vec![E::CompanyRelationshipChanged {
                relationship: Relationship::Active,
            }]);
        Fx::with(ctx(Role::Member))
            .given(vec![
                registered(),
                E::CompanyRelationshipChanged {
                    relationship: Relationship::Active,
                },
            ])
            .when(active)
            .then_expect_events(vec![]);
    }
}
