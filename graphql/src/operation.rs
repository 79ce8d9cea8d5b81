//! What every operation passes before it runs, and what is recorded of it
//! after: its values in range ([`input_checks`](crate::input_checks)), its
//! shape within the limits ([`QueryShape`]), and how long it took.
//!
//! An HTTP request is checked by its handler ([`OperationChecks::check`])
//! and runs on a schema with no extension: the executor awaits every
//! extension's `resolve` hook, implemented or not, for every field of every
//! row, which was 20–30 % of a page's time (BENCHMARKS.md, step 7). A socket's
//! operations run on a schema where the same checks are an extension
//! ([`OperationChecks`] as an [`ExtensionFactory`]), since graphql-ws runs
//! them past any handler of ours.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, Selection};
use async_graphql::{Response, ServerError, ServerResult, Variables};

use crate::error::ApiError;
use crate::query_shape::QueryShape;
use crate::Limits;

/// The checks of an operation's document, and its timing.
#[derive(Debug, Clone, Copy)]
pub struct OperationChecks {
    shape: QueryShape,
}

/// An operation that passed its checks.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The first field it asks of the root, which labels its duration.
    pub root_field: String,
}

impl OperationChecks {
    /// The checks of a schema with `limits`.
    pub fn new(limits: &Limits) -> Self {
        OperationChecks {
            shape: QueryShape {
                root_fields: limits.root_fields,
                aliases: limits.aliases,
            },
        }
    }

    /// Parses `request`'s query, kept in it so that the schema does not
    /// parse it again, and checks it.
    pub fn check(&self, request: &mut async_graphql::Request) -> Result<Checked, ServerError> {
        let variables = std::mem::take(&mut request.variables);
        let checked = request.parsed_query().and_then(|document| {
            self.check_document(document, &variables)
                .map_err(ApiError::into_server_error)?;
            Ok(Checked {
                root_field: root_field(document),
            })
        });
        request.variables = variables;
        checked
    }

    fn check_document(
        &self,
        document: &ExecutableDocument,
        variables: &Variables,
    ) -> Result<(), ApiError> {
        crate::input_checks::check_document(document, variables)?;
        self.shape.check(document)
    }
}

/// Records how long an operation on `root_field` took and how it ended, as
/// a histogram labelled by that field (`calendarEvents`, `createTask`): the
/// schema's fields bound the labels, whatever operation names clients send.
pub fn record(root_field: String, response: &Response, took: Duration) {
    let outcome = if response.is_ok() { "ok" } else { "error" };
    metrics::histogram!(
        "foldline_graphql_operation_duration_seconds",
        "field" => root_field,
        "outcome" => outcome
    )
    .record(took.as_secs_f64());
}

/// The first field `document` asks of the root, or `unknown`.
fn root_field(document: &ExecutableDocument) -> String {
    document
        .operations
        .iter()
        .next()
        .and_then(|(_, operation)| {
            operation
                .node
                .selection_set
                .node
                .items
                .iter()
                .find_map(|selection| match &selection.node {
                    Selection::Field(field) => Some(field.node.name.node.to_string()),
                    _ => None,
                })
        })
        .unwrap_or_else(|| "unknown".into())
}

impl ExtensionFactory for OperationChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationExtension {
            checks: *self,
            root_field: Mutex::new(None),
        })
    }
}

/// The checks and timing of one socket operation.
struct OperationExtension {
    checks: OperationChecks,
    root_field: Mutex<Option<String>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.checks
            .check_document(&document, variables)
            .map_err(ApiError::into_server_error)?;
        if let Ok(mut field) = self.root_field.lock() {
            *field = Some(root_field(&document));
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let started = Instant::now();
        let response = next.run(ctx, operation_name).await;
        let field = self
            .root_field
            .lock()
            .ok()
            .and_then(|field| field.clone())
            .unwrap_or_else(|| "unknown".into());
        record(field, &response, started.elapsed());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, variables: serde_json::Value) -> Result<Checked, ServerError> {
        let mut request =
            async_graphql::Request::new(query).variables(Variables::from_json(variables.clone()));
        let checked = OperationChecks::new(&Limits::default()).check(&mut request);
        // The variables stay for the schema, whatever the outcome.
        assert_eq!(request.variables, Variables::from_json(variables));
        checked
    }

    #[test]
    fn a_checked_operation_is_named_by_its_first_root_field() {
        let checked = check(
            "query($q: String) { ...F search(text: $q) { title } } fragment F on Query { people { edges { cursor } } }",
            serde_json::json!({"q": "gala"}),
        )
        .expect("passes");
        assert_eq!(checked.root_field, "search");
    }

    #[test]
    fn values_shape_and_syntax_are_each_refused() {
        let nul = check(
            "query($q: String) { search(text: $q) { title } }",
            serde_json::json!({"q": "ga\u{0}la"}),
        );
        assert!(nul.unwrap_err().message.contains("NUL"));
        let aliases: Vec<String> = (0..31)
            .map(|n| format!("a{n}: people {{ edges {{ cursor }} }}"))
            .collect();
        let shape = check(
            &format!("{{ {} }}", aliases.join(" ")),
            serde_json::json!({}),
        );
        assert!(shape.unwrap_err().message.contains("at most"));
        assert!(check("{ people {", serde_json::json!({})).is_err());
    }
}
