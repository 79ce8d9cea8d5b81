//! Enums kept in PostgreSQL as text, by the names serde gives their values:
//! the names the events carry are the names the read tables hold, so a
//! value is named in one place, its serde attributes.

use serde::de::value::{Error, StrDeserializer};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Serialize;

/// The value named `name`, as serde reads it.
pub fn parse<T: DeserializeOwned>(name: &str) -> Result<T, Error> {
    let deserializer: StrDeserializer<'_, Error> = name.into_deserializer();
    T::deserialize(deserializer)
}

/// The name serde gives `value`, which must serialize as a string.
pub fn name_of<T: Serialize>(value: &T) -> Result<String, String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        Ok(other) => Err(format!("{other} is not stored as a name")),
        Err(error) => Err(error.to_string()),
    }
}

/// Lets each of the given enums be bound to and read from a `text` column
/// (and `text[]`) by its serde names, through [`parse`] and [`name_of`]. The
/// calling crate depends on `sqlx`; the enums must be its own.
#[macro_export]
macro_rules! stored_as_text {
    ($($ty:ty),* $(,)?) => {$(
        impl ::sqlx::Type<::sqlx::Postgres> for $ty {
            fn type_info() -> ::sqlx::postgres::PgTypeInfo {
                <&str as ::sqlx::Type<::sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <&str as ::sqlx::Type<::sqlx::Postgres>>::compatible(ty)
            }
        }

        impl ::sqlx::postgres::PgHasArrayType for $ty {
            fn array_type_info() -> ::sqlx::postgres::PgTypeInfo {
                <&str as ::sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl<'r> ::sqlx::Decode<'r, ::sqlx::Postgres> for $ty {
            fn decode(
                value: ::sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, ::sqlx::error::BoxDynError> {
                let name = <&str as ::sqlx::Decode<::sqlx::Postgres>>::decode(value)?;
                Ok($crate::stored_name::parse(name)?)
            }
        }

        impl ::sqlx::Encode<'_, ::sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut ::sqlx::postgres::PgArgumentBuffer,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                let name = $crate::stored_name::name_of(self)?;
                <String as ::sqlx::Encode<::sqlx::Postgres>>::encode_by_ref(&name, buf)
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::DocumentKind;
    use crate::Priority;

    #[test]
    fn a_value_reads_back_from_its_name() {
        assert_eq!(name_of(&Priority::Critical).unwrap(), "critical");
        assert_eq!(parse::<Priority>("critical").unwrap(), Priority::Critical);
        assert_eq!(name_of(&DocumentKind::Insurance).unwrap(), "insurance");
        assert!(parse::<Priority>("urgent").is_err());
        assert!(name_of(&1).is_err());
    }
}
