//! Caps on a query's shape that complexity does not see: how many fields it
//! asks for at its root, and how many aliases it uses. Each root field is a
//! statement, and aliases are how one request repeats the same costly field;
//! both are refused before anything runs.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};

use crate::error::ApiError;

/// The most root fields and aliases a query may have.
#[derive(Debug, Clone, Copy)]
pub struct QueryShape {
    /// Most fields at an operation's root, fragments spread.
    pub root_fields: usize,
    /// Most aliases in the whole document.
    pub aliases: usize,
}

type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// The fields at the root of `set`, through its fragments; a fragment that
/// spreads itself (refused by validation later) is not followed twice.
fn root_fields(set: &SelectionSet, fragments: &Fragments, seen: &mut Vec<Name>) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(fragment) => {
                root_fields(&fragment.node.selection_set.node, fragments, seen)
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                match fragments.get(name) {
                    Some(fragment) if !seen.contains(name) => {
                        seen.push(name.clone());
                        root_fields(&fragment.node.selection_set.node, fragments, seen)
                    }
                    _ => 0,
                }
            }
        })
        .sum()
}

/// The aliases written in `set` and below it (fragments are counted once,
/// where they are defined).
fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

impl QueryShape {
    /// What is wrong with `document`'s shape, if anything.
    pub fn check(&self, document: &ExecutableDocument) -> Result<(), ApiError> {
        for (_, operation) in document.operations.iter() {
            let fields = root_fields(
                &operation.node.selection_set.node,
                &document.fragments,
                &mut Vec::new(),
            );
            if fields > self.root_fields {
                return Err(ApiError::BadUserInput(format!(
                    "an operation may ask for at most {} fields at its root; this one asks for {fields}",
                    self.root_fields
                )));
            }
        }
        let used: usize = document
            .operations
            .iter()
            .map(|(_, operation)| aliases(&operation.node.selection_set.node))
            .chain(
                document
                    .fragments
                    .values()
                    .map(|fragment| aliases(&fragment.node.selection_set.node)),
            )
            .sum();
        if used > self.aliases {
            return Err(ApiError::BadUserInput(format!(
                "a request may use at most {} aliases; this one uses {used}",
                self.aliases
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: QueryShape = QueryShape {
        root_fields: 3,
        aliases: 2,
    };

    fn check(query: &str) -> Result<(), ApiError> {
        SHAPE.check(&async_graphql::parser::parse_query(query).expect("parses"))
    }

    #[test]
    fn root_fields_are_counted_through_fragments() {
        assert!(check("{ a b c }").is_ok());
        assert!(check("{ a b c d }").is_err());
        assert!(check("query { a ...F } fragment F on Query { b c }").is_ok());
        let error = check("query { a ...F ... on Query { d } } fragment F on Query { b c }")
            .expect_err("four root fields");
        assert!(error.to_string().contains("at most 3 fields"), "{error}");
        // Fields below the root are not root fields.
        assert!(check("{ a { b c d e } }").is_ok());
        // A fragment that spreads itself is counted once, and refused later
        // by validation.
        assert!(check("query { ...F } fragment F on Query { a ...F }").is_ok());
    }

    #[test]
    fn aliases_are_counted_everywhere() {
        assert!(check("{ x: a { y: b } }").is_ok());
        assert!(check("{ x: a { y: b z: c } }").is_err());
        let error = check("query { x: a ...F } fragment F on Query { y: b { z: c } }")
            .expect_err("three aliases");
        assert!(error.to_string().contains("at most 2 aliases"), "{error}");
    }
}
