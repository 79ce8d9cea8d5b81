//! The write model's GraphQL face (feature `graphql`): the scalars its
//! commands need, the conversion the derived inputs go through, and the hook by
//! which the derived mutations reach the API's command bus.
//!
//! The input objects and mutations themselves are derived from the command
//! types by `foldline_derive::GraphqlInput`, next to each command enum.

mod fields;
mod node;

use std::sync::Arc;

use async_graphql::{
    Context, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value,
};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::command::Command;
use crate::money::{Currency, MinorUnits};

pub use fields::{
    AdvanceItemEntry, ApprovalStep, ContractFields, InvoiceFields, OrganizationFields,
    OrganizationMember, ProductionAdvanceFields, Read, Signature, StageProgress,
};
pub use node::{Node, NodeSource};

/// A type a GraphQL input converts into: the identity for types GraphQL
/// carries as they are, a derived `…Input` object for structs inside commands.
pub trait FromInput {
    /// What the client sends.
    type Input: async_graphql::InputType;

    /// The model value the input stands for.
    fn from_input(input: Self::Input) -> Self;
}

/// Types whose GraphQL input is the type itself.
macro_rules! as_is {
    ($($ty:ty),* $(,)?) => {$(
        impl FromInput for $ty {
            type Input = $ty;

            fn from_input(input: $ty) -> $ty {
                input
            }
        }
    )*};
}

as_is!(
    String,
    bool,
    u8,
    u16,
    u32,
    i32,
    i64,
    f64,
    Uuid,
    DateTime<Utc>,
    Currency,
    crate::Visibility,
    crate::Priority,
    crate::Role,
    crate::Capability,
    crate::invoice::Direction,
    crate::production_advance::AdvanceType,
    crate::production_advance::AttachmentKind,
    crate::production_advance::ItemCategory,
    crate::production_advance::ItemStatus,
    crate::production_advance::FulfillmentStage,
    crate::document::DocumentKind,
    crate::comment::CommentKind,
    crate::expense::ExpenseKind,
    crate::asset::AssetKind,
    crate::contact::ContactKind,
    crate::event::EventKind,
    crate::venue::VenueKind,
    crate::company::CompanyKind,
    crate::company::Relationship,
    crate::workflow_kind::WorkflowKind,
);

/// An amount of money in minor units (cents) of the currency given beside
/// it: a signed 64-bit integer, written as a string of decimal digits
/// (`"3000000000"`) because GraphQL's `Int` is 32-bit and JavaScript numbers
/// lose integers above 2^53. An integer literal is accepted on input too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MinorUnitsScalar(pub MinorUnits);

impl From<MinorUnits> for MinorUnitsScalar {
    fn from(minor: MinorUnits) -> Self {
        MinorUnitsScalar(minor)
    }
}

/// A signed 64-bit amount of minor units (cents) of the currency beside it,
/// as a string of decimal digits, e.g. `"3000000000"` for 30,000,000.00; an
/// integer literal is accepted on input.
#[Scalar(name = "MinorUnits")]
impl ScalarType for MinorUnitsScalar {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(digits) => digits.parse::<i64>().map(MinorUnitsScalar).map_err(|_| {
                InputValueError::custom(format!(
                    "`{digits}` is not a 64-bit integer of minor units"
                ))
            }),
            Value::Number(number) => number.as_i64().map(MinorUnitsScalar).ok_or_else(|| {
                InputValueError::custom(format!("{number} is not a whole number of minor units"))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    // Checked in validation too, so that the error names the field's path.
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date without a time zone, `YYYY-MM-DD` (ISO 8601).
#[Scalar(
    name = "Date",
    specified_by_url = "https://www.iso.org/iso-8601-date-and-time-format.html"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| {
                    InputValueError::custom(format!("`{text}` is not a date (YYYY-MM-DD)"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    // Checked in validation too, so that the error names the field's path.
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }

    fn to_value(&self) -> Value {
        // Display is ISO 8601 already, without parsing a format per value.
        Value::String(self.0.to_string())
    }
}

// Read rows carry dates as `Date` straight from PostgreSQL's `date`.
impl sqlx::Type<sqlx::Postgres> for Date {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <NaiveDate as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Date {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <NaiveDate as sqlx::Decode<'r, sqlx::Postgres>>::decode(value).map(Date)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Date {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <NaiveDate as sqlx::Encode<'_, sqlx::Postgres>>::encode_by_ref(&self.0, buf)
    }
}

/// A three-letter ISO 4217 currency code such as `USD`.
#[Scalar(
    name = "Currency",
    specified_by_url = "https://www.iso.org/iso-4217-currency-codes.html"
)]
impl ScalarType for Currency {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(code) => Currency::try_from(code.as_str())
                .map_err(|error| InputValueError::custom(error.to_string())),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    // Checked in validation too, so that the error names the field's path.
    fn is_valid(value: &Value) -> bool {
        Self::parse(value.clone()).is_ok()
    }

    fn to_value(&self) -> Value {
        Value::String(self.code().to_owned())
    }
}

/// What a command did.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct CommandResult {
    /// The aggregate it went to.
    pub id: Uuid,
    /// Its type.
    #[graphql(skip)]
    pub aggregate_type: &'static str,
    /// The aggregate's version after it.
    pub version: u64,
    /// The global position of its last event: pass it as `afterPosition` to a
    /// query to read this write.
    pub position: i64,
    /// How many events it appended.
    pub events: usize,
}

#[async_graphql::ComplexObject]
impl CommandResult {
    /// The aggregate as it is now, for a client cache to update in place;
    /// `null` if the caller may no longer see it (it was deleted, or made
    /// private to someone else).
    async fn node(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        let source = ctx.data::<Arc<dyn NodeSource>>()?;
        source.node(ctx, self.aggregate_type, self.id).await
    }
}

/// Where the derived mutations send their commands: the API puts one in the
/// schema's data, carrying its caller and command bus.
#[async_trait::async_trait]
pub trait CommandSink: Send + Sync {
    /// Authorizes and executes `command` on aggregate `id` for the caller of
    /// the request `ctx` belongs to.
    async fn send(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        command: Command,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<CommandResult>;
}

/// Sends `command` through the schema's [`CommandSink`].
pub async fn send(
    ctx: &Context<'_>,
    id: Uuid,
    command: Command,
    expected_version: Option<u64>,
) -> async_graphql::Result<CommandResult> {
    let sink = ctx.data::<Arc<dyn CommandSink>>()?;
    sink.send(ctx, id, command, expected_version).await
}
