//! `#[derive(GraphqlInput)]`: the GraphQL input side of Foldline's write model,
//! derived from the command types themselves so that the API cannot drift from
//! the domain.
//!
//! On a command enum (`InvoiceCommand`), every variant with fields gets an input
//! object (`DraftInvoiceInput`) with the variant's fields and docs, and the enum
//! gets a mutation object (`InvoiceMutations`) with one mutation per variant that
//! converts its input into the command and sends it through
//! `crate::graphql::send`. On a struct used inside commands (`Address`), it
//! derives `AddressInput` and the conversion back.
//!
//! Field types are mapped so that GraphQL carries them without loss:
//! `MinorUnits` becomes the 64-bit `MinorUnits` scalar, `NaiveDate` the `Date`
//! scalar, `Option`, `Vec` and `BTreeSet` keep their shape, and every other type
//! goes through `crate::graphql::FromInput`. A field with `#[serde(default)]` or
//! `#[serde(default = "f")]` is optional in GraphQL and takes the same default
//! when absent or null; any other serde field attribute is refused, since the input would then no longer mean what the
//! command's JSON means. Everything generated sits behind the `graphql` feature
//! of the crate that derives it, which must be Foldline's aggregates crate.

mod output;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{
    parse_macro_input, Attribute, Data, DeriveInput, Fields, FieldsNamed, GenericArgument, Ident,
    LitStr, PathArguments, Type,
};

/// Derives the GraphQL input types (and, on a command enum, the mutations) of
/// a write-model type. See the crate docs.
#[proc_macro_derive(GraphqlInput)]
pub fn derive_graphql_input(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let expanded = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => nested(&input.ident, &input.attrs, fields),
            _ => Err(syn::Error::new_spanned(
                &input.ident,
                "GraphqlInput needs named fields",
            )),
        },
        Data::Enum(data) => commands(&input.ident, data),
        Data::Union(_) => Err(syn::Error::new_spanned(
            &input.ident,
            "GraphqlInput does not support unions",
        )),
    };
    expanded
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives the GraphQL output object of a write-model state type: its fields
/// (mapped as inputs are: `MinorUnits`, `NaiveDate`, containers), with
/// `#[output(skip)]` on a field to leave it out and `#[output(rename = "name")]`
/// to show it under another name; `#[output(entity)]` on an
/// aggregate's state makes the object `crate::graphql::Read<Self>`, with the
/// global `id` and the `version`; `#[output(extra = "Type")]` adds the fields
/// of the hand-written `Type<'a>(&'a …)` (derived values, keyed collections).
#[proc_macro_derive(GraphqlOutput, attributes(output))]
pub fn derive_graphql_output(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    output::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// A struct nested in commands: `<Name>Input` and its `FromInput`.
fn nested(ident: &Ident, attrs: &[Attribute], fields: &FieldsNamed) -> syn::Result<Tokens> {
    let input_ident = format_ident!("{}Input", ident);
    let docs = docs(attrs);
    let (definitions, conversions) = input_fields(fields)?;
    Ok(quote! {
        #[cfg(feature = "graphql")]
        #(#docs)*
        #[derive(async_graphql::InputObject)]
        pub struct #input_ident { #(#definitions)* }

        #[cfg(feature = "graphql")]
        impl crate::graphql::FromInput for #ident {
            type Input = #input_ident;

            fn from_input(input: #input_ident) -> Self {
                #ident { #(#conversions)* }
            }
        }
    })
}

/// A command enum: an input object per variant with fields, and the
/// aggregate's mutations.
fn commands(ident: &Ident, data: &syn::DataEnum) -> syn::Result<Tokens> {
    let name = ident.to_string();
    let aggregate = name
        .strip_suffix("Command")
        .ok_or_else(|| syn::Error::new_spanned(ident, "a command enum's name ends in `Command`"))?;
    let aggregate = format_ident!("{}", aggregate);
    let mutations = format_ident!("{}Mutations", aggregate);
    let mut items = Vec::new();
    let mut methods = Vec::new();
    for variant in &data.variants {
        let variant_ident = &variant.ident;
        let docs = docs(&variant.attrs);
        let method = format_ident!("{}", snake_case(&variant_ident.to_string()));
        let (input_argument, command) = match &variant.fields {
            Fields::Named(fields) => {
                let input_ident = format_ident!("{}Input", variant_ident);
                let (definitions, conversions) = input_fields(fields)?;
                let description = format!("The fields of `{variant_ident}`.");
                items.push(quote! {
                    #[cfg(feature = "graphql")]
                    #(#docs)*
                    #[derive(async_graphql::InputObject)]
                    pub struct #input_ident { #(#definitions)* }

                    #[cfg(feature = "graphql")]
                    impl From<#input_ident> for #ident {
                        fn from(input: #input_ident) -> Self {
                            #ident::#variant_ident { #(#conversions)* }
                        }
                    }
                });
                (
                    quote! { #[graphql(desc = #description)] input: #input_ident, },
                    quote! { #ident::from(input) },
                )
            }
            Fields::Unit => (quote! {}, quote! { #ident::#variant_ident }),
            Fields::Unnamed(_) => {
                return Err(syn::Error::new_spanned(
                    variant,
                    "a command's fields must be named",
                ))
            }
        };
        methods.push(quote! {
            #(#docs)*
            async fn #method(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The aggregate's id; a new one for a command that creates it.")]
                id: uuid::Uuid,
                #input_argument
                #[graphql(desc = "The version the client based the command on; it is refused if the aggregate has moved on since.")]
                expected_version: Option<u64>,
            ) -> async_graphql::Result<crate::graphql::CommandResult> {
                crate::graphql::send(
                    ctx,
                    id,
                    crate::command::Command::#aggregate(#command),
                    expected_version,
                )
                .await
            }
        });
    }
    let mutations_doc = format!("The mutations of {aggregate}: one per command.");
    Ok(quote! {
        #(#items)*

        #[cfg(feature = "graphql")]
        #[doc = #mutations_doc]
        #[derive(Default)]
        pub struct #mutations;

        #[cfg(feature = "graphql")]
        #[async_graphql::Object]
        impl #mutations {
            #(#methods)*
        }
    })
}

/// The input object's field definitions and the conversions back, for
/// `Name { field: conversion, … }`.
fn input_fields(fields: &FieldsNamed) -> syn::Result<(Vec<Tokens>, Vec<Tokens>)> {
    let mut definitions = Vec::new();
    let mut conversions = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named field");
        let docs = docs(&field.attrs);
        let (ty, conversion) = match default(&field.attrs)? {
            // Optional in GraphQL, the model's default when absent or null.
            Some(default) if !is_option(&field.ty) => {
                let (ty, conversion) = map_type(&field.ty, quote! { item })?;
                let value = quote! { input.#ident.map(|item| #conversion) };
                let conversion = match default {
                    Default::Trait => quote! { #value.unwrap_or_default() },
                    Default::Function(function) => quote! { #value.unwrap_or_else(#function) },
                };
                (quote! { Option<#ty> }, conversion)
            }
            _ => map_type(&field.ty, quote! { input.#ident })?,
        };
        definitions.push(quote! { #(#docs)* pub #ident: #ty, });
        conversions.push(quote! { #ident: #conversion, });
    }
    Ok((definitions, conversions))
}

/// The GraphQL input type for `ty` and the expression turning `value` of it
/// back into `ty`.
fn map_type(ty: &Type, value: Tokens) -> syn::Result<(Tokens, Tokens)> {
    if let Type::Path(path) = ty {
        let last = path.path.segments.last().expect("a path has a segment");
        let name = last.ident.to_string();
        match name.as_str() {
            "Option" | "Vec" | "BTreeSet" => {
                let inner = single_argument(&last.arguments)
                    .ok_or_else(|| syn::Error::new_spanned(ty, "expected one type argument"))?;
                let (inner_ty, conversion) = map_type(inner, quote! { item })?;
                let container = &last.ident;
                let convert = if name == "Option" {
                    quote! { #value.map(|item| #conversion) }
                } else {
                    quote! { #value.into_iter().map(|item| #conversion).collect() }
                };
                return Ok((quote! { #container<#inner_ty> }, convert));
            }
            _ => {
                if let Some(scalar) = newtype_scalar(&name) {
                    return Ok((scalar, quote! { #value.0 }));
                }
            }
        }
    }
    Ok((
        quote! { <#ty as crate::graphql::FromInput>::Input },
        quote! { crate::graphql::FromInput::from_input(#value) },
    ))
}

/// The newtype scalar GraphQL carries a model type in, where that is not
/// the type itself; the one table both derives read.
pub(crate) fn newtype_scalar(name: &str) -> Option<Tokens> {
    match name {
        "MinorUnits" => Some(quote! { crate::graphql::MinorUnitsScalar }),
        "NaiveDate" => Some(quote! { crate::graphql::Date }),
        _ => None,
    }
}

pub(crate) fn single_argument(arguments: &PathArguments) -> Option<&Type> {
    match arguments {
        PathArguments::AngleBracketed(arguments) if arguments.args.len() == 1 => {
            match arguments.args.first() {
                Some(GenericArgument::Type(ty)) => Some(ty),
                _ => None,
            }
        }
        _ => None,
    }
}

/// How a field with `#[serde(default)]` gets its value when absent.
enum Default {
    /// `#[serde(default)]`: the type's `Default`.
    Trait,
    /// `#[serde(default = "f")]`: the function `f`.
    Function(syn::Path),
}

/// The field's serde default, if any; other serde field attributes are refused.
fn default(attrs: &[Attribute]) -> syn::Result<Option<Default>> {
    let mut default = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("default") {
                return Err(meta
                    .error("GraphqlInput supports only `default` among serde's field attributes"));
            }
            default = Some(match meta.value() {
                Ok(value) => Default::Function(value.parse::<LitStr>()?.parse()?),
                Err(_) => Default::Trait,
            });
            Ok(())
        })?;
    }
    Ok(default)
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|last| last.ident == "Option"))
}

pub(crate) fn docs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .collect()
}

/// `DraftInvoice` → `draft_invoice` (async-graphql then names it `draftInvoice`).
fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (index, ch) in name.chars().enumerate() {
        if ch.is_uppercase() {
            if index > 0 {
                snake.push('_');
            }
            snake.extend(ch.to_lowercase());
        } else {
            snake.push(ch);
        }
    }
    snake
}
