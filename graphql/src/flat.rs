//! Rows resolved in one pass.
//!
//! The executor resolves each field of an object as a future of its own,
//! boxed and gathered in a `FuturesUnordered`, so that fields that wait on
//! something can wait together. A row of a page waits on nothing: its
//! fields are columns already read. [`Flat`] resolves such a row's fields
//! one after another inside its own future, through the row type's own
//! derived resolver, so the schema, the field names and the values are
//! still the derive's; only the per-field future is gone, which was most of
//! what the executor spent on a page (BENCHMARKS.md, step 7).

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value};

/// A row whose fields are resolved in one pass: shown to clients exactly as
/// `T` is.
#[derive(Debug, Clone)]
pub struct Flat<T>(pub T);

impl<T: ContainerType + OutputType> OutputType for Flat<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut fields = Vec::with_capacity(ctx.item.node.items.len());
        for selection in &ctx.item.node.items {
            match &selection.node {
                Selection::Field(field) => fields.push(field),
                // Fragments are rare on a row; the executor's own way
                // resolves them.
                _ => return resolve_container(ctx, &self.0).await,
            }
        }
        let mut object = IndexMap::with_capacity(fields.len());
        for field in fields {
            let key = &field.node.response_key().node;
            // The same key twice is the same field asked again (validation
            // refuses anything else); as the executor does, the first stays.
            if object.contains_key(key) {
                continue;
            }
            let value = if field.node.name.node == "__typename" {
                Value::String(self.0.introspection_type_name().into_owned())
            } else {
                match self.0.resolve_field(&ctx.with_field(field)).await {
                    Ok(value) => value.unwrap_or_default(),
                    Err(error) => {
                        ctx.add_error(error);
                        continue;
                    }
                }
            };
            object.insert(key.clone(), value);
        }
        Ok(Value::Object(object))
    }
}
