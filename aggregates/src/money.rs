//! Amounts of money, kept as integer minor units so sums are exact.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// An amount in minor units (cents) of a currency given beside it. Signed and
/// 64-bit: sums stay exact, and GraphQL carries it as the `MinorUnits` scalar
/// because its `Int` is 32-bit.
pub type MinorUnits = i64;

/// An ISO 4217 currency code such as `USD`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// The three-letter code.
    pub fn code(&self) -> &str {
        &self.0
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency("USD".to_owned())
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(code))
        } else {
            Err(DomainError::invalid(format!(
                "currency `{code}` is not a three-letter ISO 4217 code"
            )))
        }
    }
}

impl TryFrom<&str> for Currency {
    type Error = DomainError;

    fn try_from(code: &str) -> Result<Self, Self::Error> {
        Currency::try_from(code.to_owned())
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.0
    }
}

/// `quantity × unit` in minor units, refusing overflow instead of wrapping.
pub fn line_total(quantity: i64, unit_minor: i64) -> Result<i64, DomainError> {
    quantity
        .checked_mul(unit_minor)
        .ok_or_else(|| DomainError::invalid("amount is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_validated() {
        assert_eq!(Currency::try_from("EUR").unwrap().code(), "EUR");
        assert!(Currency::try_from("eur").is_err());
        assert!(Currency::try_from("EURO").is_err());
        assert!(serde_json::from_str::<Currency>("\"US\"").is_err());
    }

    #[test]
    fn line_totals_refuse_overflow() {
        assert_eq!(line_total(3, 250).unwrap(), 750);
        assert!(line_total(i64::MAX, 2).is_err());
    }
}
