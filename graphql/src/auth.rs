//! Who is calling: bearer JWTs, checked before anything else runs.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// How tokens are signed and what they must say.
#[derive(Clone)]
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
}

/// The key tokens are checked with.
#[derive(Debug, Clone)]
pub enum VerifyingKey {
    /// HS256 with a shared secret (development; `foldline token` mints).
    Secret(Vec<u8>),
    /// RS256 with the issuer's public key, PEM-encoded.
    RsaPublicPem(Vec<u8>),
}

/// The claims foldline reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The organization to act in, when the `X-Organization-Id` header is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<Uuid>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Not valid before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// A verified caller: the user and the organization their token names, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The user.
    pub user_id: Uuid,
    /// The organization named by the token.
    pub organization_id: Option<Uuid>,
}

impl Authenticator {
    /// Checks tokens with `key`, and their issuer and audience when given.
    pub fn new(
        key: &VerifyingKey,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        let (key, algorithm) = match key {
            VerifyingKey::Secret(secret) => (DecodingKey::from_secret(secret), Algorithm::HS256),
            VerifyingKey::RsaPublicPem(pem) => (DecodingKey::from_rsa_pem(pem)?, Algorithm::RS256),
        };
        // Only the configured algorithm is accepted: never `none`, never HS256
        // with an RSA public key as its secret.
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.validate_nbf = true;
        // A configured issuer or audience is required, not only checked when
        // present: a token that leaves it out was not minted for this service.
        let mut required = vec!["exp", "sub"];
        required.extend(issuer.map(|_| "iss"));
        required.extend(audience.map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        match issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Authenticator { key, validation })
    }

    /// Verifies the value of an `Authorization` header.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Verified, ApiError> {
        let unauthenticated = |why: &str| ApiError::Unauthenticated(why.to_owned());
        let header = authorization.ok_or_else(|| unauthenticated("a bearer token is required"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        let claims = decode::<Claims>(token.trim(), &self.key, &self.validation)
            .map_err(|error| ApiError::Unauthenticated(format!("invalid token: {error}")))?
            .claims;
        let user_id = claims
            .sub
            .parse()
            .map_err(|_| unauthenticated("the token's subject is not a user id"))?;
        Ok(Verified {
            user_id,
            organization_id: claims.org,
        })
    }
}

/// Mints an HS256 token for `user` (and `organization`), valid for
/// `lifetime_seconds`: for development and tests.
pub fn mint(
    secret: &[u8],
    user: Uuid,
    organization: Option<Uuid>,
    lifetime_seconds: u64,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: user.to_string(),
        org: organization,
        exp: now + lifetime_seconds,
        nbf: Some(now),
        iss: issuer.map(str::to_owned),
        aud: audience.map(str::to_owned),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}
