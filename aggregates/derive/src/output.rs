//! `#[derive(GraphqlOutput)]`: a state type's GraphQL object.

use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{Attribute, Data, DeriveInput, Fields, LitStr, Type};

use crate::{docs, newtype_scalar, single_argument};

/// What `#[output(…)]` on the struct asks for.
#[derive(Default)]
struct Container {
    entity: bool,
    extra: Option<syn::Path>,
}

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            ident,
            "GraphqlOutput needs a struct",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            ident,
            "GraphqlOutput needs named fields",
        ));
    };
    let container = container(&input.attrs)?;
    let this = if container.entity {
        quote! { self.state }
    } else {
        quote! { self }
    };
    let mut resolvers = Vec::new();
    if container.entity {
        resolvers.push(quote! {
            /// The global id: the aggregate's UUID, unique across every type.
            pub async fn id(&self) -> async_graphql::ID {
                self.global_id()
            }

            /// The sequence of its last event: pass it as `expectedVersion`.
            pub async fn version(&self) -> u64 {
                self.version
            }
        });
    }
    for field in &fields.named {
        let options = self::field(&field.attrs)?;
        if options.skip {
            continue;
        }
        let ident = field.ident.as_ref().expect("named field");
        let name = options.rename.as_ref().unwrap_or(ident);
        let docs = docs(&field.attrs);
        let value = quote! { #this.#ident };
        let resolver = match map_type(&field.ty, value.clone())? {
            Some((ty, conversion)) => quote! {
                #(#docs)*
                async fn #name(&self) -> #ty { #conversion }
            },
            None => {
                let ty = &field.ty;
                quote! {
                    #(#docs)*
                    async fn #name(&self) -> &#ty { &#value }
                }
            }
        };
        resolvers.push(resolver);
    }
    if let Some(extra) = &container.extra {
        resolvers.push(quote! {
            #[graphql(flatten)]
            async fn derived_fields(&self) -> #extra<'_> {
                #extra(self)
            }
        });
    }
    let docs = docs(&input.attrs);
    let name = LitStr::new(&ident.to_string(), ident.span());
    let target = if container.entity {
        quote! { crate::graphql::Read<#ident> }
    } else {
        quote! { #ident }
    };
    Ok(quote! {
        #[cfg(feature = "graphql")]
        #(#docs)*
        #[async_graphql::Object(name = #name)]
        impl #target {
            #(#resolvers)*
        }
    })
}

fn container(attrs: &[Attribute]) -> syn::Result<Container> {
    let mut container = Container::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("output")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("entity") {
                container.entity = true;
            } else if meta.path.is_ident("extra") {
                container.extra = Some(meta.value()?.parse::<LitStr>()?.parse()?);
            } else {
                return Err(meta.error("expected `entity` or `extra = \"Type\"`"));
            }
            Ok(())
        })?;
    }
    Ok(container)
}

/// What `#[output(…)]` on a field asks for.
#[derive(Default)]
struct Field {
    skip: bool,
    rename: Option<syn::Ident>,
}

fn field(attrs: &[Attribute]) -> syn::Result<Field> {
    let mut field = Field::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("output")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                field.skip = true;
            } else if meta.path.is_ident("rename") {
                field.rename = Some(meta.value()?.parse::<LitStr>()?.parse()?);
            } else {
                return Err(meta.error("expected `skip` or `rename = \"name\"`"));
            }
            Ok(())
        })?;
    }
    Ok(field)
}

/// The GraphQL output type of a field of type `ty` read as `value`, and the
/// expression making it, when it is not the field itself by reference.
fn map_type(ty: &Type, value: Tokens) -> syn::Result<Option<(Tokens, Tokens)>> {
    let Type::Path(path) = ty else {
        return Err(syn::Error::new_spanned(
            ty,
            "GraphqlOutput cannot show this type: `#[output(skip)]` it and show it through `extra`",
        ));
    };
    let last = path.path.segments.last().expect("a path has a segment");
    let name = last.ident.to_string();
    Ok(match name.as_str() {
        "Option" | "Vec" | "BTreeSet" => {
            let inner = single_argument(&last.arguments)
                .ok_or_else(|| syn::Error::new_spanned(ty, "expected one type argument"))?;
            let item = format_ident!("item");
            match map_type(inner, quote! { #item })? {
                None => None,
                Some((inner_ty, conversion)) if name == "Option" => Some((
                    quote! { Option<#inner_ty> },
                    quote! { #value.map(|#item| #conversion) },
                )),
                Some((inner_ty, conversion)) => Some((
                    quote! { Vec<#inner_ty> },
                    quote! { #value.iter().copied().map(|#item| #conversion).collect() },
                )),
            }
        }
        "BTreeMap" | "HashMap" => {
            return Err(syn::Error::new_spanned(
                ty,
                "GraphQL has no maps: `#[output(skip)]` it and show it as a list through `extra`",
            ))
        }
        _ => newtype_scalar(&name).map(|scalar| (scalar.clone(), quote! { #scalar(#value) })),
    })
}
