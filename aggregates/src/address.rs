//! Postal addresses and map coordinates, for venues and company offices.

use serde::{Deserialize, Serialize};

use crate::domain::require_text;
use crate::error::DomainError;

/// A postal address.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    foldline_derive::GraphqlInput,
    foldline_derive::GraphqlOutput,
)]
pub struct Address {
    /// Street and number.
    pub line1: String,
    /// Building, floor, unit.
    #[serde(default)]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// State, county or region.
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code, e.g. `IE`.
    pub country: String,
}

impl Address {
    /// Refuses an address without street, city or a two-letter country code.
    pub fn validate(&self) -> Result<(), DomainError> {
        require_text(&self.line1, "line1")?;
        require_text(&self.city, "city")?;
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(DomainError::field(
                "country",
                format!(
                    "country `{}` is not a two-letter ISO 3166 code",
                    self.country
                ),
            ));
        }
        Ok(())
    }
}

/// A point on the map, in degrees.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Serialize,
    Deserialize,
    foldline_derive::GraphqlInput,
    foldline_derive::GraphqlOutput,
)]
pub struct Coordinates {
    /// Latitude, -90 to 90.
    pub latitude: f64,
    /// Longitude, -180 to 180.
    pub longitude: f64,
}

impl Coordinates {
    /// Refuses coordinates outside the globe.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(-90.0..=90.0).contains(&self.latitude) {
            return Err(DomainError::field(
                "latitude",
                "latitude must be between -90 and 90",
            ));
        }
        if !(-180.0..=180.0).contains(&self.longitude) {
            return Err(DomainError::field(
                "longitude",
                "longitude must be between -180 and 180",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> Address {
        Address {
            line1: "1 Quay Street".into(),
            city: "Dublin".into(),
            country: "IE".into(),
            ..Default::default()
        }
    }

    #[test]
    fn addresses_need_street_city_and_country() {
        assert!(address().validate().is_ok());
        let mut bad = address();
        bad.country = "Ireland".into();
        assert!(bad.validate().is_err());
        let mut bad = address();
        bad.city = " ".into();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn coordinates_stay_on_the_globe() {
        assert!(Coordinates {
            latitude: 53.3,
            longitude: -6.2
        }
        .validate()
        .is_ok());
        assert!(Coordinates {
            latitude: 91.0,
            longitude: 0.0
        }
        .validate()
        .is_err());
        assert!(Coordinates {
            latitude: 0.0,
            longitude: -180.5
        }
        .validate()
        .is_err());
        assert!(Coordinates {
            latitude: f64::NAN,
            longitude: 0.0
        }
        .validate()
        .is_err());
    }
}
