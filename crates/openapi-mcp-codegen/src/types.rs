//! Rust types from JSON schemas: structs, string enums, untagged unions, maps and aliases.
//!
//! Types are lenient, since they describe what the API returns: unknown fields are accepted and
//! every property is optional (absent means `None`). Decimals that the API sends as strings stay
//! strings; `date`, `date-time` and `uuid` formats stay strings too, so a value the API formats
//! unusually never turns a good response into a decoding error. A `oneOf`/`anyOf` becomes an
//! untagged enum of its branches; a schema that says nothing about its type is
//! `serde_json::Value`.

use std::collections::{BTreeSet, HashMap};

use indexmap::IndexMap;
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

use crate::Error;
use crate::doc::{Doc, schema_ref_name};
use crate::naming::{self, Unique};

/// One generated type definition.
pub struct TypeDef {
    /// The definition's tokens (without its cfg attribute).
    pub tokens: TokenStream,
    /// Names of the generated types it refers to.
    pub deps: Vec<String>,
    /// The Cargo features of the operations that use it (filled in later).
    pub features: BTreeSet<String>,
    /// Whether values of the type print as one query-string word.
    pub displayable: bool,
}

impl TypeDef {
    fn new(tokens: TokenStream, deps: Vec<String>, displayable: bool) -> Self {
        TypeDef {
            tokens,
            deps,
            features: BTreeSet::new(),
            displayable,
        }
    }
}

/// All types of one spec.
pub struct TypeSpace<'d, 'a> {
    doc: &'d Doc<'a>,
    /// Definitions by type name, in creation order.
    pub defs: IndexMap<String, TypeDef>,
    by_ref: HashMap<String, String>,
    names: Unique,
}

/// A Rust type for a schema, with the generated types it names.
pub struct TypeRef {
    /// The type's tokens, e.g. `Vec<types::Bar>`.
    pub tokens: TokenStream,
    /// Generated type names it mentions.
    pub deps: Vec<String>,
    /// Whether the type has a `Default` (so a struct holding it can derive one).
    pub has_default: bool,
    /// Whether the value serializes as a single query-string word (`to_string()` is defined).
    pub displayable: bool,
    /// For arrays: whether the items are displayable.
    pub array_of_displayable: bool,
    /// For a scalar: the runtime's lenient deserializer of an optional value of it
    /// (`opt_string`, `opt_i64`, `opt_f64`, `opt_bool` in the runtime's `de` module).
    pub lenient: Option<&'static str>,
}

impl TypeRef {
    fn plain(tokens: TokenStream) -> Self {
        TypeRef {
            tokens,
            deps: vec![],
            has_default: true,
            displayable: true,
            array_of_displayable: false,
            lenient: None,
        }
    }

    fn scalar(tokens: TokenStream, lenient: &'static str) -> Self {
        TypeRef {
            lenient: Some(lenient),
            ..TypeRef::plain(tokens)
        }
    }
}

/// Whether a schema is marked nullable.
pub fn is_nullable(schema: &Value) -> bool {
    schema
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

impl<'d, 'a> TypeSpace<'d, 'a> {
    /// An empty type space for `doc`.
    pub fn new(doc: &'d Doc<'a>) -> Self {
        TypeSpace {
            doc,
            defs: IndexMap::new(),
            by_ref: HashMap::new(),
            names: Unique::default(),
        }
    }

    /// The Rust type for `schema`; inline structs and enums are named from `hint`.
    pub fn type_for(&mut self, schema: &Value, hint: &str, at: &str) -> Result<TypeRef, Error> {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return self.named_ref(r, at);
        }
        // `allOf: [$ref]` is how a nullable or annotated reference is written.
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            if let Some(only) = single_substantive(all) {
                return self.type_for(only, hint, at);
            }
            let name = self.names.take(naming::camel(hint));
            self.define_struct(&name, schema, at)?;
            return Ok(self.named(name));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                return self.union(branches, hint, &format!("{at}/{key}"));
            }
        }
        let ty = schema.get("type").and_then(Value::as_str);
        match ty {
            Some("string") => {
                let values: Vec<&str> = schema
                    .get("enum")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if values.is_empty() {
                    Ok(TypeRef::scalar(quote!(String), "opt_string"))
                } else {
                    let name = self.names.take(naming::camel(hint));
                    self.define_enum(&name, &values);
                    let mut t = self.named(name);
                    t.has_default = false;
                    t.displayable = true;
                    Ok(t)
                }
            }
            Some("integer") => Ok(TypeRef::scalar(quote!(i64), "opt_i64")),
            Some("number") => Ok(TypeRef::scalar(quote!(f64), "opt_f64")),
            Some("boolean") => Ok(TypeRef::scalar(quote!(bool), "opt_bool")),
            Some("array") => {
                let item = match schema.get("items") {
                    Some(items) => {
                        self.type_for(items, &format!("{hint}Item"), &format!("{at}/items"))?
                    }
                    None => TypeRef::plain(quote!(::serde_json::Value)),
                };
                let inner = &item.tokens;
                Ok(TypeRef {
                    tokens: quote!(Vec<#inner>),
                    deps: item.deps,
                    has_default: true,
                    displayable: false,
                    array_of_displayable: item.displayable,
                    lenient: None,
                })
            }
            Some("object") | None
                if schema
                    .get("properties")
                    .is_some_and(|p| p.as_object().is_some_and(|m| !m.is_empty())) =>
            {
                let name = self.names.take(naming::camel(hint));
                self.define_struct(&name, schema, at)?;
                Ok(self.named(name))
            }
            Some("object") => match schema.get("additionalProperties") {
                Some(ap) if ap.is_object() && !ap.as_object().is_some_and(|m| m.is_empty()) => {
                    let value = self.type_for(
                        ap,
                        &format!("{hint}Value"),
                        &format!("{at}/additionalProperties"),
                    )?;
                    let inner = &value.tokens;
                    Ok(TypeRef {
                        tokens: quote!(::std::collections::BTreeMap<String, #inner>),
                        deps: value.deps,
                        has_default: true,
                        displayable: false,
                        array_of_displayable: false,
                        lenient: None,
                    })
                }
                _ => Ok(TypeRef {
                    tokens: quote!(::serde_json::Map<String, ::serde_json::Value>),
                    deps: vec![],
                    has_default: true,
                    displayable: false,
                    array_of_displayable: false,
                    lenient: None,
                }),
            },
            _ => Ok(TypeRef {
                tokens: quote!(::serde_json::Value),
                deps: vec![],
                has_default: true,
                displayable: false,
                array_of_displayable: false,
                lenient: None,
            }),
        }
    }

    fn named(&self, name: String) -> TypeRef {
        let ident = naming::ident(&name);
        TypeRef {
            tokens: quote!(types::#ident),
            deps: vec![name],
            has_default: false,
            displayable: false,
            array_of_displayable: false,
            lenient: None,
        }
    }

    /// A component schema by `$ref`, generated once.
    fn named_ref(&mut self, reference: &str, at: &str) -> Result<TypeRef, Error> {
        let component = schema_ref_name(reference).ok_or_else(|| {
            self.doc
                .error(at, format!("unsupported schema $ref `{reference}`"))
        })?;
        if let Some(name) = self.by_ref.get(reference) {
            let name = name.clone();
            if !self.defs.contains_key(&name) {
                return Err(self.doc.error(
                    at,
                    format!("`{reference}` refers to itself without an object in between"),
                ));
            }
            return Ok(self.shape_of(name));
        }
        let schema = self.doc.lookup(reference)?.clone();
        // A component that is itself a plain scalar, array or map is used structurally.
        let structural = schema.get("$ref").is_none()
            && schema.get("allOf").is_none()
            && schema.get("oneOf").is_none()
            && schema.get("anyOf").is_none()
            && schema.get("enum").is_none()
            && schema
                .get("properties")
                .is_none_or(|p| p.as_object().is_none_or(|m| m.is_empty()));
        if structural {
            return self.type_for(&schema, component, reference);
        }
        let name = self.names.take(naming::camel(component));
        self.by_ref.insert(reference.to_string(), name.clone());
        self.type_for_component(&schema, &name, reference)
    }

    fn type_for_component(
        &mut self,
        schema: &Value,
        name: &str,
        at: &str,
    ) -> Result<TypeRef, Error> {
        // Define the component under its own name; the inner call would otherwise pick a fresh
        // name, so build the definition directly.
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            if let Some(only) = single_substantive(all) {
                let inner = self.type_for(only, &format!("{name}Inner"), at)?;
                self.define_alias(name, &inner);
                return Ok(self.shape_of(name.to_string()));
            }
            self.define_struct(name, schema, at)?;
            return Ok(self.named(name.to_string()));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                self.define_union(name, branches, &format!("{at}/{key}"))?;
                return Ok(self.named(name.to_string()));
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let strings: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            if schema.get("type").and_then(Value::as_str) == Some("string") && !strings.is_empty() {
                self.define_enum(name, &strings);
                return Ok(self.shape_of(name.to_string()));
            }
            let inner = self.type_for(&strip_enum(schema), &format!("{name}Value"), at)?;
            self.define_alias(name, &inner);
            return Ok(self.shape_of(name.to_string()));
        }
        self.define_struct(name, schema, at)?;
        Ok(self.named(name.to_string()))
    }

    /// A reference to an already defined type, with the right flags.
    fn shape_of(&self, name: String) -> TypeRef {
        let def = self.defs.get(&name);
        let displayable = def.is_some_and(|d| d.displayable);
        // A definition still being built refers to itself: box it to keep the size finite.
        let in_progress = def.is_some_and(|d| d.tokens.is_empty());
        let mut t = self.named(name);
        t.displayable = displayable;
        if in_progress {
            let inner = &t.tokens;
            t.tokens = quote!(Box<#inner>);
        }
        t
    }

    fn define_alias(&mut self, name: &str, inner: &TypeRef) {
        let ident = naming::ident(name);
        let tokens = &inner.tokens;
        let doc = format!("Alias for the `{name}` schema.");
        self.defs.insert(
            name.to_string(),
            TypeDef::new(
                quote!(#[doc = #doc] pub type #ident = #tokens;),
                inner.deps.clone(),
                inner.displayable,
            ),
        );
    }

    /// A string enum. Read case-insensitively; with two or more values, a value the spec does
    /// not list is kept in a catch-all variant instead of failing the whole answer. A
    /// one-value enum is a type tag (how the branches of a union tell themselves apart), so it
    /// stays strict.
    fn define_enum(&mut self, name: &str, values: &[&str]) {
        let ident = naming::ident(name);
        let mut seen = BTreeSet::new();
        let mut lower_seen = BTreeSet::new();
        let mut variants = Unique::default();
        let mut items = Vec::new();
        let mut arms = Vec::new();
        let mut exact = Vec::new();
        let mut folded = Vec::new();
        for v in values {
            if !seen.insert(*v) {
                continue;
            }
            let variant = naming::ident(&variants.take(naming::camel(v)));
            let doc = format!("`{v}`");
            items.push(quote!(#[doc = #doc] #variant));
            arms.push(quote!(Self::#variant => #v));
            exact.push(quote!(#v => Some(Self::#variant)));
            let lower = v.to_ascii_lowercase();
            if lower_seen.insert(lower.clone()) {
                folded.push(quote!(#lower => Some(Self::#variant)));
            }
        }
        let lenient = seen.len() > 1;
        let doc = format!("One of the `{name}` values.");
        let known = quote! {
            /// The variant of a listed value: an exact match, else a case-insensitive one.
            pub fn listed(s: &str) -> Option<Self> {
                match s {
                    #(#exact,)*
                    _ => match s.to_ascii_lowercase().as_str() {
                        #(#folded,)*
                        _ => None,
                    },
                }
            }
        };
        let tokens = if lenient {
            let other = naming::ident(&variants.take("Other".to_string()));
            quote! {
                #[doc = #doc]
                ///
                /// Read case-insensitively; a value the spec does not list is kept in the last
                /// variant rather than failing the whole answer.
                #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
                pub enum #ident {
                    #(#items,)*
                    /// A value the spec does not list, as received.
                    #other(String),
                }
                impl #ident {
                    /// The value as the API spells it.
                    pub fn as_str(&self) -> &str { match self { #(#arms,)* Self::#other(s) => s.as_str() } }
                    /// The value, when it is one the spec does not list.
                    pub fn unlisted(&self) -> Option<&str> { match self { Self::#other(s) => Some(s.as_str()), _ => None } }
                    #known
                    /// The variant for a value, the catch-all for one the spec does not list.
                    pub fn from_wire(s: &str) -> Self { Self::listed(s).unwrap_or_else(|| Self::#other(s.to_string())) }
                }
                impl<'de> ::serde::Deserialize<'de> for #ident {
                    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                        Ok(Self::from_wire(&s))
                    }
                }
            }
        } else {
            quote! {
                #[doc = #doc]
                ///
                /// A type tag: read case-insensitively, and nothing else is accepted.
                #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
                pub enum #ident { #(#items,)* }
                impl #ident {
                    /// The value as the API spells it.
                    pub fn as_str(&self) -> &str { match self { #(#arms,)* } }
                    /// Always `None`: a tag holds only its listed value.
                    pub fn unlisted(&self) -> Option<&str> { None }
                    #known
                }
                impl<'de> ::serde::Deserialize<'de> for #ident {
                    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                        Self::listed(&s).ok_or_else(|| ::serde::de::Error::unknown_variant(&s, &[#(#values),*]))
                    }
                }
            }
        };
        let tokens = quote! {
            #tokens
            impl ::std::fmt::Display for #ident {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
            }
            impl ::serde::Serialize for #ident {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
            }
        };
        self.defs
            .insert(name.to_string(), TypeDef::new(tokens, vec![], true));
    }

    fn union(&mut self, branches: &[Value], hint: &str, at: &str) -> Result<TypeRef, Error> {
        let real: Vec<&Value> = branches.iter().filter(|b| !is_null_type(b)).collect();
        if real.len() == 1 {
            return self.type_for(real[0], hint, at);
        }
        let name = self.names.take(naming::camel(hint));
        self.define_union(&name, branches, at)?;
        Ok(self.named(name))
    }

    fn define_union(&mut self, name: &str, branches: &[Value], at: &str) -> Result<(), Error> {
        // Reserve the name first: a branch may refer back to it.
        self.defs.insert(
            name.to_string(),
            TypeDef::new(TokenStream::new(), vec![], false),
        );
        let mut variants = Unique::default();
        let mut items = Vec::new();
        let mut deps = Vec::new();
        for (i, branch) in branches.iter().filter(|b| !is_null_type(b)).enumerate() {
            let label = match branch
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(schema_ref_name)
            {
                Some(r) => naming::camel(r),
                None => match branch.get("type").and_then(Value::as_str) {
                    Some(t) => naming::camel(t),
                    None => format!("Variant{i}"),
                },
            };
            let t = self.type_for(branch, &format!("{name}{label}"), &format!("{at}/{i}"))?;
            let variant = naming::ident(&variants.take(label));
            let ty = &t.tokens;
            items.push(quote!(#variant(#ty)));
            deps.extend(t.deps);
        }
        let ident = naming::ident(name);
        let doc = format!("Any of the shapes of `{name}` (tried in order).");
        let tokens = quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
            #[serde(untagged)]
            pub enum #ident { #(#items,)* }
        };
        self.defs
            .insert(name.to_string(), TypeDef::new(tokens, deps, false));
        Ok(())
    }

    /// Collects an object's properties, merging `allOf` parts.
    pub fn object_properties(
        &self,
        schema: &Value,
        at: &str,
    ) -> Result<Vec<(String, Value, bool)>, Error> {
        let mut props: IndexMap<String, (Value, bool)> = IndexMap::new();
        self.collect_properties(schema, at, &mut props, 0)?;
        Ok(props.into_iter().map(|(k, (v, r))| (k, v, r)).collect())
    }

    fn collect_properties(
        &self,
        schema: &Value,
        at: &str,
        out: &mut IndexMap<String, (Value, bool)>,
        depth: usize,
    ) -> Result<(), Error> {
        if depth > 16 {
            return Err(self.doc.error(at, "allOf nests too deeply"));
        }
        let schema = self.doc.deref(schema)?;
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for (i, part) in all.iter().enumerate() {
                self.collect_properties(part, &format!("{at}/allOf/{i}"), out, depth + 1)?;
            }
        }
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                out.insert(
                    name.clone(),
                    (prop.clone(), required.contains(name.as_str())),
                );
            }
        }
        // `required` in one allOf part may name a property defined in another.
        for name in required {
            if let Some(entry) = out.get_mut(name) {
                entry.1 = true;
            }
        }
        Ok(())
    }

    fn define_struct(&mut self, name: &str, schema: &Value, at: &str) -> Result<(), Error> {
        self.defs.insert(
            name.to_string(),
            TypeDef::new(TokenStream::new(), vec![], false),
        );
        let props = self.object_properties(schema, at)?;
        let mut fields = Unique::default();
        let mut items = Vec::new();
        let mut deps = Vec::new();
        for (prop, prop_schema, _required) in props {
            let field = fields.take(naming::snake(&prop));
            let t = self.type_for(
                &prop_schema,
                &format!("{name}{}", naming::camel(&prop)),
                &format!("{at}/properties/{prop}"),
            )?;
            deps.extend(t.deps);
            let ident = naming::ident(&field);
            let ty = &t.tokens;
            let rename = (field != prop).then(|| quote!(#[serde(rename = #prop)]));
            // What the API sends drifts from its spec (a number where a decimal string is
            // specified, a numeric string where an integer is): scalars are read leniently.
            let lenient = t.lenient.map(|f| {
                let path = format!("rt::de::{f}");
                quote!(#[serde(deserialize_with = #path)])
            });
            items.push(quote! {
                #rename
                #lenient
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub #ident: Option<#ty>
            });
        }
        let ident = naming::ident(name);
        let doc = format!("The `{name}` object.");
        let tokens = quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
            pub struct #ident { #(#items,)* }
        };
        self.defs
            .insert(name.to_string(), TypeDef::new(tokens, deps, false));
        Ok(())
    }

    /// Marks `names` (and everything they refer to) as used by `feature`.
    pub fn mark_used(&mut self, names: &[String], feature: &str) {
        let mut stack: Vec<String> = names.to_vec();
        while let Some(name) = stack.pop() {
            if let Some(def) = self.defs.get_mut(&name)
                && def.features.insert(feature.to_string())
            {
                stack.extend(def.deps.iter().cloned());
            }
        }
    }
}

/// Whether an `allOf` part only restates a type or bounds (`{type: string}` beside a `$ref`).
fn is_trivial(part: &Value) -> bool {
    const SUBSTANTIVE: &[&str] = &[
        "$ref",
        "properties",
        "enum",
        "allOf",
        "oneOf",
        "anyOf",
        "items",
        "additionalProperties",
    ];
    part.as_object()
        .is_none_or(|o| !SUBSTANTIVE.iter().any(|k| o.contains_key(*k)))
}

/// The one part of an `allOf` that says anything beyond a type, if there is exactly one (or
/// the first part when none does). `allOf: [{type: string}, {$ref: Enum}]` is the enum.
fn single_substantive(all: &[Value]) -> Option<&Value> {
    let mut substantive = all.iter().filter(|p| !is_trivial(p));
    match (substantive.next(), substantive.next()) {
        (Some(only), None) => Some(only),
        (None, _) => all.first(),
        _ => None,
    }
}

fn is_null_type(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

fn strip_enum(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Some(m) = s.as_object_mut() {
        m.remove("enum");
    }
    s
}
