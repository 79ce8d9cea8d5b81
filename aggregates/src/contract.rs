//! The Contract aggregate: an agreement with a counterparty, its signature,
//! its term, and its amendments as numbered versions.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Requirement, Role};
use crate::domain::require_status;
use crate::domain::{ensure_live, require_text, CommandContext, DomainAggregate, DomainCommand};
use crate::error::DomainError;
use crate::money::{Currency, MinorUnits};
use crate::reference::References;
use crate::visibility::Visibility;

const ENTITY: &str = "contract";

/// The status of a contract, in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    /// Being written.
    #[default]
    Draft,
    /// Sent to the counterparty.
    Sent,
    /// Signed by both sides.
    Signed,
    /// In force.
    Active,
    /// Ran out at the end of its term.
    Expired,
    /// Ended early.
    Terminated,
}

/// The terms one version of a contract states.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    foldline_derive::GraphqlInput,
    foldline_derive::GraphqlOutput,
)]
pub struct ContractTerms {
    /// Title.
    pub title: String,
    /// Value in minor units.
    pub value: MinorUnits,
    /// First day in force.
    pub starts_on: Option<NaiveDate>,
    /// Last day in force.
    pub expires_on: Option<NaiveDate>,
    /// The signed document.
    pub document_url: Option<String>,
    /// The event it is for: confirmed when the contract is signed.
    #[serde(default)]
    pub event_id: Option<Uuid>,
    /// How its value is paid: an invoice for each, drafted when the
    /// contract is signed.
    #[serde(default)]
    pub payment_terms: Vec<PaymentTerm>,
}

/// One payment of a contract's value.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    foldline_derive::GraphqlInput,
    foldline_derive::GraphqlOutput,
)]
pub struct PaymentTerm {
    /// What it is, e.g. "Deposit"; its invoice's line.
    pub label: String,
    /// Its share of the contract's value, in percent.
    pub percent: u32,
    /// Days after the signature that it is due.
    pub due_days: u32,
}

/// The most payment terms a contract states.
const MAX_PAYMENT_TERMS: usize = 24;
/// The furthest after the signature a payment may fall due, in days.
const MAX_DUE_DAYS: u32 = 3 * 366;

/// An invoice a signed contract calls for, from one of its payment terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installment {
    /// The payment term's position, from 0.
    pub index: usize,
    /// Its label.
    pub label: String,
    /// Its amount in minor units.
    pub amount: MinorUnits,
    /// Its due date.
    pub due_on: NaiveDate,
}

impl ContractTerms {
    fn validate(&self) -> Result<(), DomainError> {
        require_text(&self.title, "title")?;
        if self.payment_terms.len() > MAX_PAYMENT_TERMS {
            return Err(DomainError::field(
                "payment_terms",
                format!("at most {MAX_PAYMENT_TERMS} payment terms"),
            ));
        }
        for term in &self.payment_terms {
            require_text(&term.label, "payment_terms.label")?;
            if !(1..=100).contains(&term.percent) {
                return Err(DomainError::field(
                    "payment_terms.percent",
                    "a payment is 1 to 100 percent of the value",
                ));
            }
            if term.due_days > MAX_DUE_DAYS {
                return Err(DomainError::field(
                    "payment_terms.due_days",
                    format!("a payment falls due at most {MAX_DUE_DAYS} days after signing"),
                ));
            }
        }
        if self.payment_terms.iter().map(|t| t.percent).sum::<u32>() > 100 {
            return Err(DomainError::field(
                "payment_terms",
                "the payments add up to more than the value",
            ));
        }
        if self.value < 0 {
            return Err(DomainError::field(
                "value",
                "contract value must not be negative",
            ));
        }
        if let (Some(start), Some(end)) = (self.starts_on, self.expires_on) {
            if end < start {
                return Err(DomainError::field(
                    "expires_on",
                    "a contract cannot expire before it starts",
                ));
            }
        }
        Ok(())
    }
}

/// One numbered version of a contract's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, foldline_derive::GraphqlOutput)]
pub struct ContractVersion {
    /// 1 for the draft, then one more per amendment.
    pub number: u32,
    /// The terms of this version.
    pub terms: ContractTerms,
    /// What the amendment changed (empty for version 1).
    pub summary: String,
    /// Who wrote this version.
    pub author_id: Uuid,
}

/// A contract.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, foldline_derive::GraphqlOutput,
)]
#[output(entity, extra = "crate::graphql::ContractFields")]
pub struct Contract {
    /// The contract id, once drafted.
    #[output(skip)]
    pub id: Option<Uuid>,
    /// The owning organization.
    #[output(skip)]
    pub organization_id: Option<Uuid>,
    /// Who drafted it.
    pub owner_id: Option<Uuid>,
    /// Who may see its rows.
    pub visibility: Visibility,
    /// The company on the other side.
    pub counterparty_id: Option<Uuid>,
    /// Its name.
    pub counterparty_name: String,
    /// Currency of its value.
    pub currency: Currency,
    /// Every version, oldest first; the last is in force.
    pub versions: Vec<ContractVersion>,
    /// Who signed for the counterparty, and when.
    #[output(skip)]
    pub signature: Option<(String, NaiveDate)>,
    /// Status.
    pub status: ContractStatus,
    /// Soft-deleted.
    #[output(skip)]
    pub deleted: bool,
}

/// Commands on a [`Contract`].
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
pub enum ContractCommand {
    /// Drafts version 1.
    DraftContract {
        /// The company on the other side.
        counterparty_id: Uuid,
        /// Its name.
        counterparty_name: String,
        /// Currency.
        #[serde(default)]
        currency: Currency,
        /// The terms.
        terms: ContractTerms,
        /// Row visibility.
        #[serde(default)]
        visibility: Visibility,
    },
    /// Replaces the terms with a new numbered version.
    AmendContract {
        /// The new terms.
        terms: ContractTerms,
        /// What changed and why.
        summary: String,
    },
    /// Sends the draft to the counterparty.
    SendContract,
    /// Records the counterparty's signature.
    SignContract {
        /// Who signed.
        signed_by: String,
        /// When.
        signed_on: NaiveDate,
    },
    /// Puts the signed contract in force.
    ActivateContract,
    /// Ends an active contract at the end of its term.
    ExpireContract,
    /// Ends a signed or active contract early.
    TerminateContract {
        /// Why.
        reason: String,
    },
    /// Soft-deletes a contract that is not in force.
    DeleteContract,
}

impl DomainCommand for ContractCommand {
    fn name(&self) -> &'static str {
        self.into()
    }

    fn requirement(&self) -> Requirement {
        use ContractCommand as C;
        match self {
            C::DraftContract { .. } | C::AmendContract { .. } | C::SendContract => {
                Requirement::Role(Role::Member)
            }
            C::SignContract { .. }
            | C::ActivateContract
            | C::ExpireContract
            | C::TerminateContract { .. }
            | C::DeleteContract => Requirement::Role(Role::Admin),
        }
    }

    fn references(&self) -> References {
        match self {
            ContractCommand::DraftContract {
                counterparty_id,
                terms,
                ..
            } => References::none()
                .aggregate("Company", *counterparty_id)
                .aggregate("Event", terms.event_id),
            ContractCommand::AmendContract { terms, .. } => {
                References::none().aggregate("Event", terms.event_id)
            }
            _ => References::none(),
        }
    }
}

/// Events of a [`Contract`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum ContractEvent {
    /// Version 1 was drafted.
    ContractDrafted {
        /// Its id.
        contract_id: Uuid,
        /// Its organization.
        organization_id: Uuid,
        /// Who drafted it.
        owner_id: Uuid,
        /// The company on the other side.
        counterparty_id: Uuid,
        /// Its name.
        counterparty_name: String,
        /// Currency.
        currency: Currency,
        /// The terms of version 1.
        terms: ContractTerms,
        /// Row visibility.
        visibility: Visibility,
    },
    /// A new version replaced the terms.
    ContractAmended {
        /// The new version's number.
        version: u32,
        /// Its terms.
        terms: ContractTerms,
        /// What changed.
        summary: String,
        /// Who amended it.
        author_id: Uuid,
    },
    /// Sent to the counterparty.
    ContractSent,
    /// Signed.
    ContractSigned {
        /// Who signed.
        signed_by: String,
        /// When.
        signed_on: NaiveDate,
    },
    /// In force.
    ContractActivated,
    /// Ran out.
    ContractExpired,
    /// Ended early.
    ContractTerminated {
        /// Why.
        reason: String,
    },
    /// Soft-deleted.
    ContractDeleted,
}

domain_event!(ContractEvent);

impl Contract {
    /// The version in force.
    pub fn current(&self) -> Option<&ContractVersion> {
        self.versions.last()
    }

    /// The invoices the terms in force call for once signed on `signed_on`:
    /// each payment term's share of the value, rounded down, and the
    /// remainder on the last when the terms cover the whole value, so that
    /// the invoices add up to it exactly.
    pub fn installments(&self, signed_on: NaiveDate) -> Vec<Installment> {
        let Some(version) = self.current() else {
            return Vec::new();
        };
        let terms = &version.terms;
        let value = terms.value;
        let whole = terms.payment_terms.iter().map(|t| t.percent).sum::<u32>() == 100;
        let mut billed = 0;
        let count = terms.payment_terms.len();
        terms
            .payment_terms
            .iter()
            .enumerate()
            .map(|(index, term)| {
                let amount = if whole && index + 1 == count {
                    value - billed
                } else {
                    // A share of at most the value always fits; the product
                    // before the division may not.
                    i64::try_from(i128::from(value) * i128::from(term.percent) / 100)
                        .expect("a percent of at most 100 of an i64 fits an i64")
                };
                billed += amount;
                Installment {
                    index,
                    label: term.label.clone(),
                    amount,
                    due_on: signed_on + chrono::Days::new(u64::from(term.due_days)),
                }
            })
            .collect()
    }

    fn decide(
        &self,
        command: ContractCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<ContractEvent>, DomainError> {
        use ContractCommand as C;
        use ContractEvent as E;
        use ContractStatus as S;

        if let C::DraftContract {
            counterparty_id,
            counterparty_name,
            currency,
            terms,
            visibility,
        } = command
        {
            if self.id.is_some() {
                return Err(DomainError::AlreadyExists(ENTITY));
            }
            require_text(&counterparty_name, "counterparty_name")?;
            terms.validate().map_err(|e| e.within("terms"))?;
            return Ok(vec![E::ContractDrafted {
                contract_id: ctx.aggregate_id,
                organization_id: ctx.organization_id,
                owner_id: ctx.actor.user_id,
                counterparty_id,
                counterparty_name,
                currency,
                terms,
                visibility,
            }]);
        }
        ensure_live(self.id.is_some(), self.deleted, ENTITY)?;
        match command {
            C::DraftContract { .. } => unreachable!("handled above"),
            C::AmendContract { terms, summary } => {
                require_status(
                    ENTITY,
                    self.status,
                    "amend",
                    &[S::Draft, S::Sent, S::Signed, S::Active],
                )?;
                terms.validate().map_err(|e| e.within("terms"))?;
                require_text(&summary, "summary")?;
                if self.current().is_some_and(|v| v.terms == terms) {
                    return Err(DomainError::rule("the amendment changes nothing"));
                }
                Ok(vec![E::ContractAmended {
                    version: self.versions.len() as u32 + 1,
                    terms,
                    summary,
                    author_id: ctx.actor.user_id,
                }])
            }
            C::SendContract => {
                require_status(ENTITY, self.status, "send", &[S::Draft])?;
                Ok(vec![E::ContractSent])
            }
            C::SignContract {
                signed_by,
                signed_on,
            } => {
                require_status(ENTITY, self.status, "sign", &[S::Sent])?;
                require_text(&signed_by, "signed_by")?;
                Ok(vec![E::ContractSigned {
                    signed_by,
                    signed_on,
                }])
            }
            C::ActivateContract => {
                require_status(ENTITY, self.status, "activate", &[S::Signed])?;
                Ok(vec![E::ContractActivated])
            }
            C::ExpireContract => {
                require_status(ENTITY, self.status, "expire", &[S::Active])?;
                Ok(vec![E::ContractExpired])
            }
            C::TerminateContract { reason } => {
                require_status(ENTITY, self.status, "terminate", &[S::Signed, S::Active])?;
                require_text(&reason, "reason")?;
                Ok(vec![E::ContractTerminated { reason }])
            }
            C::DeleteContract => {
                if self.status == S::Active || self.status == S::Signed {
                    return Err(DomainError::transition(ENTITY, "delete", self.status));
                }
                Ok(vec![E::ContractDeleted])
            }
        }
    }
}

event_sourced!(Contract, "Contract", ContractCommand, ContractEvent);

impl Contract {
    /// Folds one event into the state.
    fn evolve(&mut self, event: ContractEvent) {
        use ContractEvent as E;
        use ContractStatus as S;
        match event {
            E::ContractDrafted {
                contract_id,
                organization_id,
                owner_id,
                counterparty_id,
                counterparty_name,
                currency,
                terms,
                visibility,
            } => {
                self.id = Some(contract_id);
                self.organization_id = Some(organization_id);
                self.owner_id = Some(owner_id);
                self.counterparty_id = Some(counterparty_id);
                self.counterparty_name = counterparty_name;
                self.currency = currency;
                self.visibility = visibility;
                self.versions = vec![ContractVersion {
                    number: 1,
                    terms,
                    summary: String::new(),
                    author_id: owner_id,
                }];
            }
            E::ContractAmended {
                version,
                terms,
                summary,
                author_id,
            } => self.versions.push(ContractVersion {
                number: version,
                terms,
                summary,
                author_id,
            }),
            E::ContractSent => self.status = S::Sent,
            E::ContractSigned {
                signed_by,
                signed_on,
            } => {
                self.signature = Some((signed_by, signed_on));
                self.status = S::Signed;
            }
            E::ContractActivated => self.status = S::Active,
            E::ContractExpired => self.status = S::Expired,
            E::ContractTerminated { .. } => self.status = S::Terminated,
            E::ContractDeleted => self.deleted = true,
        }
    }
}

impl DomainAggregate for Contract {
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

    type Fx = TestFramework<Contract>;
    type C = ContractCommand;
    type E = ContractEvent;

    const VENUE_CO: Uuid = Uuid::from_u128(0xc0);

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    fn terms(value: i64) -> ContractTerms {
        ContractTerms {
            title: "Venue hire".into(),
            value,
            starts_on: Some(day(1)),
            expires_on: Some(day(31)),
            document_url: None,
            event_id: None,
            payment_terms: Vec::new(),
        }
    }

    fn drafted() -> E {
        drafted_with(terms(10_000_00))
    }

    fn drafted_with(terms: ContractTerms) -> E {
        E::ContractDrafted {
            contract_id: AGG,
            organization_id: ORG,
            owner_id: ALICE,
            counterparty_id: VENUE_CO,
            counterparty_name: "Harbour Hall".into(),
            currency: Currency::default(),
            terms,
            visibility: Visibility::Organization,
        }
    }

    fn through(status: ContractStatus) -> Vec<E> {
        let steps = [
            (ContractStatus::Sent, E::ContractSent),
            (
                ContractStatus::Signed,
                E::ContractSigned {
                    signed_by: "M. Harbour".into(),
                    signed_on: day(2),
                },
            ),
            (ContractStatus::Active, E::ContractActivated),
        ];
        let mut events = vec![drafted()];
        for (reached, event) in steps {
            events.push(event);
            if reached == status {
                break;
            }
        }
        events
    }

    #[test]
    fn draft() {
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::DraftContract {
                counterparty_id: VENUE_CO,
                counterparty_name: "Harbour Hall".into(),
                currency: Currency::default(),
                terms: terms(10_000_00),
                visibility: Visibility::Organization,
            })
            .then_expect_events(vec![drafted()]);
    }

    #[test]
    fn draft_refuses_bad_terms_and_duplicates() {
        let mut bad = terms(1);
        bad.expires_on = Some(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        Fx::with(ctx(Role::Member))
            .given_no_previous_events()
            .when(C::DraftContract {
                counterparty_id: VENUE_CO,
                counterparty_name: "Harbour Hall".into(),
                currency: Currency::default(),
                terms: bad,
                visibility: Visibility::Organization,
            })
            .then_expect_error(DomainError::field(
                "terms.expires_on",
                "a contract cannot expire before it starts",
            ));
        Fx::with(ctx(Role::Member))
            .given(vec![drafted()])
            .when(C::DraftContract {
                counterparty_id: VENUE_CO,
                counterparty_name: "Harbour Hall".into(),
                currency: Currency::default(),
                terms: terms(-1),
                visibility: Visibility::Organization,
            })
            .then_expect_error(DomainError::AlreadyExists(ENTITY));
    }

    #[test]
    fn status_follows_its_order() {
        Fx::with(ctx(Role::Member))
            .given(vec![drafted()])
            .when(C::SendContract)
            .then_expect_events(vec![E::ContractSent]);
        Fx::with(ctx(Role::Admin))
            .given(through(ContractStatus::Sent))
            .when(C::SignContract {
                signed_by: "M. Harbour".into(),
                signed_on: day(2),
            })
            .then_expect_events(vec![E::ContractSigned {
                signed_by: "M. Harbour".into(),
                signed_on: day(2),
            }]);
        Fx::with(ctx(Role::Admin))
            .given(through(ContractStatus::Signed))
            .when(C::ActivateContract)
            .then_expect_events(vec![E::ContractActivated]);
        Fx::with(ctx(Role::Admin))
            .given(through(ContractStatus::Active))
            .when(C::ExpireContract)
            .then_expect_events(vec![E::ContractExpired]);
        Fx::with(ctx(Role::Admin))
            .given(through(ContractStatus::Active))
            .when(C::TerminateContract {
                reason: "breach".into(),
            })
            .then_expect_events(vec![E::ContractTerminated {
                reason: "breach".into(),
            }]);
    }

    #[test]
    fn steps_cannot_be_skipped() {
        Fx::with(ctx(Role::Admin))
            .given(vec![drafted()])
            .when(C::SignContract {
                signed_by: "x".into(),
                signed_on: day(2),
            })
            .then_expect_error_containing("cannot sign the contract: it is draft");
        Fx::with(ctx(Role::Admin))
            .given(through(ContractStatus::Sent))
            .when(C::ActivateContract)
            .then_expect_error_containing("cannot activate the contract: it is sent");
        Fx::with(ctx(Role::Admin))
            .given(through(ContractStatus::Signed))
            .when(C::ExpireContract)
            .then_expect_error_containing("cannot expire the contract: it is signed");
        let mut expired = through(ContractStatus::Active);
        expired.push(E::ContractExpired);
        Fx::with(ctx(Role::Admin))
            .given(expired)
            .when(C::TerminateContract { reason: "x".into() })
            .then_expect_error_containing("cannot terminate the contract: it is expired");
    }

    #[test]
    fn amendments_keep_numbered_versions() {
        Fx::with(ctx(Role::Member))
            .given(through(ContractStatus::Signed))
            .when(C::AmendContract {
                terms: terms(12_000_00),
                summary: "extra day".into(),
            })
            .then_expect_events(vec![E::ContractAmended {
                version: 2,
                terms: terms(12_000_00),
                summary: "extra day".into(),
                author_id: ALICE,
            }]);
        let mut contract = Contract::default();
        for event in through(ContractStatus::Signed) {
            contract.apply(event);
        }
        contract.apply(E::ContractAmended {
            version: 2,
            terms: terms(12_000_00),
            summary: "extra day".into(),
            author_id: ALICE,
        });
        assert_eq!(contract.versions.len(), 2);
        assert_eq!(contract.versions[0].terms.value, 10_000_00);
        assert_eq!(contract.current().unwrap().number, 2);
        assert_eq!(contract.current().unwrap().terms.value, 12_000_00);
    }

    #[test]
    fn amendments_must_change_something_and_not_after_the_end() {
        Fx::with(ctx(Role::Member))
            .given(vec![drafted()])
            .when(C::AmendContract {
                terms: terms(10_000_00),
                summary: "nothing".into(),
            })
            .then_expect_error_containing("changes nothing");
        let mut ended = through(ContractStatus::Active);
        ended.push(E::ContractTerminated { reason: "x".into() });
        Fx::with(ctx(Role::Member))
            .given(ended)
            .when(C::AmendContract {
                terms: terms(1),
                summary: "late".into(),
            })
            .then_expect_error_containing("cannot amend the contract: it is terminated");
    }

    #[test]
    fn delete_is_refused_while_in_force() {
        Fx::with(ctx(Role::Admin))
            .given(through(ContractStatus::Active))
            .when(C::DeleteContract)
            .then_expect_error_containing("cannot delete the contract: it is active");
        Fx::with(ctx(Role::Admin))
            .given(vec![drafted()])
            .when(C::DeleteContract)
            .then_expect_events(vec![E::ContractDeleted]);
        Fx::with(ctx(Role::Admin))
            .given(vec![drafted(), E::ContractDeleted])
            .when(C::SendContract)
            .then_expect_error(DomainError::Deleted(ENTITY));
    }

    #[test]
    fn matrix_rows() {
        assert_eq!(
            C::SendContract.requirement(),
            Requirement::Role(Role::Member)
        );
        assert_eq!(
            C::ActivateContract.requirement(),
            Requirement::Role(Role::Admin)
        );
    }
    fn pay(label: &str, percent: u32, due_days: u32) -> PaymentTerm {
        PaymentTerm {
            label: label.into(),
            percent,
            due_days,
        }
    }

    #[test]
    fn installments_add_up_to_the_value_when_the_terms_cover_it() {
        let mut contract = Contract::default();
        let mut terms = terms(1_000_01);
        terms.payment_terms = vec![pay("Deposit", 33, 0), pay("Balance", 67, 30)];
        contract.apply(drafted_with(terms));
        let installments = contract.installments(day(2));
        let amounts: Vec<i64> = installments.iter().map(|i| i.amount).collect();
        assert_eq!(amounts, [33_000, 67_001]);
        assert_eq!(
            installments[1].due_on,
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
        assert_eq!(installments[0].label, "Deposit");

        // Terms that cover part of the value bill only their shares.
        let mut part = contract.clone();
        part.versions[0].terms.payment_terms = vec![pay("Deposit", 50, 0)];
        assert_eq!(part.installments(day(2))[0].amount, 50_000);
    }

    #[test]
    fn installments_of_the_largest_value_neither_overflow_nor_lose_a_cent() {
        let mut contract = Contract::default();
        let mut terms = terms(i64::MAX);
        terms.payment_terms = vec![pay("Deposit", 30, 0), pay("Balance", 70, 30)];
        contract.apply(drafted_with(terms));
        let amounts: Vec<i64> = contract
            .installments(day(2))
            .iter()
            .map(|i| i.amount)
            .collect();
        assert_eq!(amounts[0], 2_767_011_611_056_432_742);
        assert_eq!(
            amounts.iter().map(|a| i128::from(*a)).sum::<i128>(),
            i128::from(i64::MAX)
        );
    }

    #[test]
    fn payment_terms_must_make_sense() {
        for (bad, field) in [
            (
                vec![pay("Deposit", 60, 0), pay("Balance", 50, 30)],
                "terms.payment_terms",
            ),
            (vec![pay("Deposit", 0, 0)], "terms.payment_terms.percent"),
            (vec![pay(" ", 10, 0)], "terms.payment_terms.label"),
            (
                vec![pay("Later", 10, 5_000)],
                "terms.payment_terms.due_days",
            ),
        ] {
            let mut terms = terms(100);
            terms.payment_terms = bad;
            let error = Fx::with(ctx(Role::Member))
                .given(vec![drafted()])
                .when(C::AmendContract {
                    terms,
                    summary: "payments".into(),
                })
                .inspect_result()
                .unwrap_err();
            assert!(format!("{error:?}").contains(field), "{field}: {error:?}");
        }
    }
}
