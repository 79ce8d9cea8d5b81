//! How long each operation takes, as a histogram labelled by the first
//! field it asks of the root (`calendarEvents`, `createTask`): the schema's
//! fields bound the labels, whatever operation names clients send. Two
//! hooks a request, none a field: nothing is added to resolving a page.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, Selection};
use async_graphql::{Response, ServerResult, Variables};

/// The extension that times operations.
pub struct OperationTimings;

impl ExtensionFactory for OperationTimings {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationTimingsExtension::default())
    }
}

/// One request's: the root field its operation starts with.
#[derive(Default)]
struct OperationTimingsExtension {
    field: Mutex<Option<String>>,
}

/// The first root field of the document's first operation.
fn first_root_field(document: &ExecutableDocument) -> Option<String> {
    let (_, operation) = document.operations.iter().next()?;
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
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationTimingsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Ok(mut field) = self.field.lock() {
            *field = first_root_field(&document);
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
            .field
            .lock()
            .ok()
            .and_then(|field| field.clone())
            .unwrap_or_else(|| "unknown".into());
        let outcome = if response.is_ok() { "ok" } else { "error" };
        metrics::histogram!(
            "foldline_graphql_operation_duration_seconds",
            "field" => field,
            "outcome" => outcome
        )
        .record(started.elapsed().as_secs_f64());
        response
    }
}
