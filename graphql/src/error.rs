//! The API's errors, each mapped once to its GraphQL `extensions.code`.

use foldline_aggregates::audit::AuditError;
use foldline_aggregates::store::StoreError;
use foldline_aggregates::{BusError, DomainError};

/// Why a request failed, as the client is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials that do not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing there (or nothing the caller may see).
    #[error("{0}")]
    NotFound(String),
    /// A stale expected version, or a competing write.
    #[error("{0}")]
    Conflict(String),
    /// Input that does not parse, or a command that breaks a rule.
    #[error("{0}")]
    BadUserInput(String),
    /// A value the request or the command refused, and where it is
    /// (`extensions.field`): an argument's path (`input.terms.title`), or a
    /// variable's (`$input.title`) when the value was checked as the request
    /// came in.
    #[error("{message}")]
    BadField {
        /// The field's path in the mutation's arguments, as the client
        /// wrote it.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The caller has as many requests in flight as allowed; the same
    /// request may succeed once one is answered.
    #[error("{0}")]
    TooManyRequests(String),
    /// The database cannot be reached now; the same request may succeed
    /// in a moment. Its cause is logged, never sent.
    #[error("the service cannot reach its database; retry shortly")]
    Unavailable(String),
    /// Anything else; its cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The `extensions.code` the client sees.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::BadUserInput(_) | ApiError::BadField { .. } => "BAD_USER_INPUT",
            ApiError::TooManyRequests(_) => "TOO_MANY_REQUESTS",
            ApiError::Unavailable(_) => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }
}

// Resolvers return `Result<_, ApiError>` from their inner functions and call
// `extend()` once: async-graphql's blanket `From<impl Display>` would drop the
// code.
impl async_graphql::ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        match self {
            ApiError::Internal(cause) => tracing::error!(%cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            _ => {}
        }
        let code = self.code();
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", code);
            if let ApiError::BadField { field, .. } = self {
                e.set("field", field.as_str());
            }
        })
    }
}

impl ApiError {
    /// The error as a request-level GraphQL error (one raised before any
    /// field resolves: in an extension), with its code.
    pub fn into_server_error(self) -> async_graphql::ServerError {
        let error = async_graphql::ErrorExtensions::extend(&self);
        async_graphql::ServerError {
            message: error.message,
            source: None,
            locations: Vec::new(),
            path: Vec::new(),
            extensions: error.extensions,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if is_unreachable(&error) {
            ApiError::Unavailable(error.to_string())
        } else {
            ApiError::Internal(error.to_string())
        }
    }
}

/// Whether `error` says the database cannot be reached or is going away,
/// rather than that this request went wrong: worth trying again.
pub fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            // 08: connection exception; 53: insufficient resources; 57P01-3:
            // the server shutting down, crashed, or not yet accepting.
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Database(error) => error.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<BusError> for ApiError {
    fn from(error: BusError) -> Self {
        match error {
            BusError::NotMember { .. } | BusError::Forbidden { .. } => {
                ApiError::Forbidden(error.to_string())
            }
            BusError::NotFound { .. } => ApiError::NotFound(error.to_string()),
            BusError::Conflict { .. } => ApiError::Conflict(error.to_string()),
            BusError::Domain(DomainError::MissingCapability(_) | DomainError::Forbidden(_)) => {
                ApiError::Forbidden(error.to_string())
            }
            BusError::Domain(DomainError::NotCreated(_)) => ApiError::NotFound(error.to_string()),
            BusError::Domain(DomainError::AlreadyExists(_)) => {
                ApiError::Conflict(error.to_string())
            }
            BusError::Domain(DomainError::InvalidField { ref field, .. }) => ApiError::BadField {
                field: input_path(field),
                message: error.to_string(),
            },
            BusError::Domain(_) => ApiError::BadUserInput(error.to_string()),
            BusError::Store(error) => error.into(),
        }
    }
}

/// Where a command's field (`terms.counterparty_name`) is in the mutation
/// that sent it: under `input`, each name in camelCase as the input types
/// derived from the command spell it (`input.terms.counterpartyName`).
fn input_path(field: &str) -> String {
    let mut path = String::from("input");
    for segment in field.split('.') {
        path.push('.');
        let mut upper = false;
        for c in segment.chars() {
            match c {
                '_' => upper = true,
                c if upper => {
                    path.push(c.to_ascii_uppercase());
                    upper = false;
                }
                c => path.push(c),
            }
        }
    }
    path
}

impl From<AuditError> for ApiError {
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::UnknownType(_) => ApiError::BadUserInput(error.to_string()),
            AuditError::Database(error) => error.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commands_field_is_named_as_the_mutation_input_spells_it() {
        assert_eq!(input_path("name"), "input.name");
        assert_eq!(
            input_path("terms.counterparty_name"),
            "input.terms.counterpartyName"
        );
        assert_eq!(input_path("lines.0.unit_price"), "input.lines.0.unitPrice");
    }
}
