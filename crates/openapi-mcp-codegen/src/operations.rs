//! Per operation: the parameters struct, its request builder, the client method and the tool.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::doc::{Doc, pointer_token};
use crate::manifest::{Manifest, ToolEntry};
use crate::naming::{self, Unique};
use crate::schema_json::to_json_schema;
use crate::types::{TypeRef, TypeSpace, is_nullable};

/// HTTP methods an operation can use.
pub const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Where an argument goes in the request.
#[derive(Clone, Copy, PartialEq)]
enum Location {
    Path,
    Query { explode: bool },
    Body,
}

struct Arg {
    /// The argument's name in the tool and the arguments struct.
    name: String,
    /// The name on the wire (differs for a body property that shares a parameter's name).
    wire: String,
    field: String,
    location: Location,
    required: bool,
    ty: TypeRef,
    schema: Value,
}

/// One operation as found in a spec.
pub struct OpRef<'v> {
    /// The URL path template.
    pub path: &'v str,
    /// The lower-case HTTP method.
    pub method: &'v str,
    /// The operation id.
    pub operation_id: &'v str,
    /// The operation object.
    pub op: &'v Value,
    /// Parameters declared on the path item.
    pub path_params: Option<&'v Value>,
}

/// Lists a spec's operations in document order.
pub fn operations<'v>(doc: &'v Doc<'_>) -> Result<Vec<OpRef<'v>>, Error> {
    let mut out = Vec::new();
    let Some(paths) = doc.raw.get("paths").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (path, item) in paths {
        let item = doc.deref(item)?;
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                let at = format!("/paths/{}/{method}", pointer_token(path));
                let operation_id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| doc.error(&at, "operation without operationId"))?;
                out.push(OpRef {
                    path,
                    method,
                    operation_id,
                    op,
                    path_params: item.get("parameters"),
                });
            }
        }
    }
    Ok(out)
}

/// What one operation contributes to the generated code.
pub struct OpCode {
    /// The parameters struct and its request builder (for the `params` module).
    pub params: TokenStream,
    /// The typed client method (inside `impl Client`).
    pub client: TokenStream,
    /// The tool's call function (for the `tools` module), when exposed.
    pub tool_fn: Option<TokenStream>,
    /// The tool's registry entry, when exposed.
    pub tool_def: Option<TokenStream>,
    /// The tool's input schema, when exposed.
    pub input_schema: Option<Value>,
    /// Generated types the operation uses directly.
    pub roots: Vec<String>,
}

/// Generates one operation.
pub fn generate(
    doc: &Doc<'_>,
    space: &mut TypeSpace<'_, '_>,
    manifest: &Manifest,
    opref: &OpRef<'_>,
    tool: Option<&ToolEntry<'_>>,
) -> Result<OpCode, Error> {
    let op_id = opref.operation_id;
    let at = format!("/paths/{}/{}", pointer_token(opref.path), opref.method);
    let type_name = naming::camel(op_id);
    let mut fields = Unique::default();
    let mut args: Vec<Arg> = Vec::new();

    // Parameters: the path item's, overridden by the operation's own (same name and place).
    let mut raw_params: Vec<(String, Value)> = Vec::new();
    for (source, list) in [
        ("path item", opref.path_params),
        ("operation", opref.op.get("parameters")),
    ] {
        let Some(list) = list.and_then(Value::as_array) else {
            continue;
        };
        for (i, p) in list.iter().enumerate() {
            let p = doc.deref(p)?.clone();
            let key = format!(
                "{}:{}",
                p.get("in").and_then(Value::as_str).unwrap_or(""),
                p.get("name").and_then(Value::as_str).unwrap_or("")
            );
            let where_ = format!("{at}/parameters/{i} ({source})");
            raw_params.retain(|(k, _)| *k != key);
            raw_params.push((where_, p));
        }
    }
    for (where_, p) in &raw_params {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| doc.error(where_, "parameter without name"))?;
        let place = p.get("in").and_then(Value::as_str).unwrap_or("");
        let location = match place {
            "path" => Location::Path,
            "query" => {
                let style = p.get("style").and_then(Value::as_str).unwrap_or("form");
                if style != "form" {
                    return Err(
                        doc.error(where_, format!("query style `{style}` is not supported"))
                    );
                }
                Location::Query {
                    explode: p.get("explode").and_then(Value::as_bool).unwrap_or(true),
                }
            }
            // Credentials travel as headers set by the transport; other headers are not arguments.
            "header" | "cookie" => continue,
            other => return Err(doc.error(where_, format!("unknown parameter location `{other}`"))),
        };
        let schema = p.get("schema").cloned().unwrap_or(json!({}));
        let required = location == Location::Path
            || p.get("required").and_then(Value::as_bool).unwrap_or(false);
        let ty = space.type_for(
            &schema,
            &format!("{type_name}{}", naming::camel(name)),
            where_,
        )?;
        args.push(Arg {
            name: name.to_string(),
            wire: name.to_string(),
            field: fields.take(naming::snake(name)),
            location,
            required,
            ty,
            schema,
        });
    }

    // Request body: a JSON object whose properties become arguments.
    let mut has_body = false;
    if let Some(body) = opref.op.get("requestBody") {
        let body = doc.deref(body)?;
        let body_required = body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let schema = body
            .pointer("/content/application~1json/schema")
            .ok_or_else(|| {
                doc.error(
                    format!("{at}/requestBody"),
                    "request body without an application/json schema",
                )
            })?;
        let props = space.object_properties(schema, &format!("{at}/requestBody"))?;
        if props.is_empty() {
            return Err(doc.error(
                format!("{at}/requestBody"),
                "request body is not an object with properties",
            ));
        }
        has_body = true;
        for (wire, prop_schema, required) in props {
            // A body property that shares a parameter's name becomes `body_<name>`.
            let name = if args.iter().any(|a| a.name == wire) {
                format!("body_{wire}")
            } else {
                wire.clone()
            };
            if args.iter().any(|a| a.name == name) {
                return Err(doc.error(
                    format!("{at}/requestBody"),
                    format!("two arguments would be named `{name}`"),
                ));
            }
            let ty = space.type_for(
                &prop_schema,
                &format!("{type_name}{}", naming::camel(&name)),
                &format!("{at}/requestBody/{wire}"),
            )?;
            let field = fields.take(naming::snake(&name));
            args.push(Arg {
                name,
                wire,
                field,
                location: Location::Body,
                required: required && body_required,
                ty,
                schema: prop_schema,
            });
        }
    }

    let roots: Vec<String> = args
        .iter()
        .flat_map(|a| a.ty.deps.iter().cloned())
        .collect();
    let mut code = OpCode {
        params: TokenStream::new(),
        client: TokenStream::new(),
        tool_fn: None,
        tool_def: None,
        input_schema: None,
        roots,
    };

    // The parameters struct.
    let params_ident = naming::ident(&type_name);
    let derive_default = args.iter().all(|a| !a.required || a.ty.has_default);
    let default = derive_default.then(|| quote!(Default,));
    let mut field_items = Vec::new();
    for a in &args {
        let ident = naming::ident(&a.field);
        let ty = &a.ty.tokens;
        let json_name = &a.name;
        let rename = (a.field != a.name).then(|| quote!(#[serde(rename = #json_name)]));
        let doc_text = tool
            // The typed client reads one page, so `limit` keeps its per-page meaning here.
            .and_then(|t| manifest.param_description(t.params, &a.name, false))
            .map(str::to_string)
            .unwrap_or_else(|| format!("The `{}` argument.", a.name));
        if a.required && !is_nullable(&a.schema) {
            field_items.push(quote!(#[doc = #doc_text] #rename pub #ident: #ty));
        } else {
            field_items.push(quote! {
                #[doc = #doc_text]
                #rename
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub #ident: Option<#ty>
            });
        }
    }
    let request = request_builder(doc, manifest, opref, &args, has_body)?;
    let mut unlisted = Vec::new();
    for a in &args {
        let Some(list) = enum_shape(doc, &a.schema)? else {
            continue;
        };
        let f = naming::ident(&a.field);
        let n = &a.name;
        let optional = !a.required || is_nullable(&a.schema);
        let find = match (list, optional) {
            (false, false) => quote!(self.#f.unlisted()),
            (false, true) => quote!(self.#f.as_ref().and_then(|v| v.unlisted())),
            (true, false) => quote!(self.#f.iter().find_map(|v| v.unlisted())),
            (true, true) => {
                quote!(self.#f.as_ref().and_then(|items| items.iter().find_map(|v| v.unlisted())))
            }
        };
        unlisted.push(quote!(if let Some(v) = #find { return Some((#n, v.to_string())); }));
    }
    let unlisted_fn = (!unlisted.is_empty()).then(|| {
        quote! {
            /// The first argument holding a value its enum does not list, if any: the typed
            /// client may send one on purpose, a tool never does.
            pub fn unlisted_value(&self) -> Option<(&'static str, String)> {
                #(#unlisted)*
                None
            }
        }
    });
    let refuse_unlisted = unlisted_fn.is_some().then(|| {
        quote! {
            if let Some((name, value)) = params.unlisted_value() {
                return Err(rt::ToolError::InvalidArguments(format!("argument `{name}` is {value:?}, which is not one of its listed values")));
            }
        }
    });
    let params_doc = format!(
        "Arguments of `{op_id}` ({} {}).",
        opref.method.to_uppercase(),
        opref.path
    );
    code.params = quote! {
        #[doc = #params_doc]
        #[derive(Debug, Clone, PartialEq, #default ::serde::Serialize, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct #params_ident { #(#field_items,)* }
        impl #params_ident {
            /// The HTTP request these arguments make, after checking them: path arguments are
            /// never blank, and the formats the spec states (and the manifest's patterns) hold.
            /// Nothing is sent.
            pub fn to_request(&self) -> Result<rt::ApiRequest, rt::Error> { #request }
            #unlisted_fn
        }
    };

    // The typed client method.
    let method_ident = naming::ident(&naming::snake(op_id));
    let (ret, decode, ret_roots) = response_type(doc, space, opref, &type_name, &at)?;
    code.roots.extend(ret_roots);
    let method_doc = format!(
        "`{} {}` (`{op_id}`).",
        opref.method.to_uppercase(),
        opref.path
    );
    code.client = if args.is_empty() {
        quote! {
            #[doc = #method_doc]
            pub async fn #method_ident(&self) -> Result<#ret, rt::Error> {
                let response = self.transport().send(params::#params_ident {}.to_request()?).await?;
                #decode
            }
        }
    } else {
        quote! {
            #[doc = #method_doc]
            pub async fn #method_ident(&self, params: &params::#params_ident) -> Result<#ret, rt::Error> {
                let response = self.transport().send(params.to_request()?).await?;
                #decode
            }
        }
    };

    if let Some(tool) = tool {
        let paging = paging(doc, opref, &args, tool, &at)?;
        let schema = input_schema(
            doc,
            manifest,
            tool,
            opref.method,
            &args,
            paging.as_ref(),
            &at,
        )?;
        let problems = crate::lint::lint(&schema);
        if !problems.is_empty() {
            return Err(Error::ClientLint {
                tool: tool.name.to_string(),
                problems,
            });
        }
        // A cursor list's `limit` (items in all) is the pager's alone: Alpaca is not sent it.
        let strip = paging.as_ref().filter(|p| p.cursor.is_some()).map(|_| {
            let most = u64::MAX;
            quote! {
                // Read by the pager, not sent: this function makes one page's request.
                let mut args = args;
                rt::take_pager_arg(&mut args, "limit", 1, #most)?;
            }
        });
        let paginate = match &paging {
            Some(p) => {
                let size = p.size_param.as_str();
                let page_max = p.page_max.unwrap_or(u64::MAX);
                let page_default = match p.page_default {
                    Some(d) => quote!(Some(#d)),
                    None => quote!(None),
                };
                let cursor = match &p.cursor {
                    Some(c) => quote!(Some(#c)),
                    None => quote!(None),
                };
                quote!(Some(rt::Paginate { size_param: #size, page_max: #page_max, page_default: #page_default, cursor: #cursor }))
            }
            None => quote!(None),
        };
        // Arguments with a manifest default are filled in before the strict parse.
        let fill: Vec<TokenStream> = args
            .iter()
            .filter_map(|a| {
                let d = manifest.arguments.defaults.get(&a.name)?;
                let (n, v) = (&a.name, &d.value);
                Some(quote!(rt::fill_default(&mut args, #n, #v);))
            })
            .collect();
        let fill = (!fill.is_empty()).then(|| quote!(let mut args = args; #(#fill)*));
        let call_ident = naming::ident(&format!("call_{}", tool.name));
        let request_ident = naming::ident(&format!("request_{}", tool.name));
        code.tool_fn = Some(quote! {
            /// Parses the tool's arguments strictly into the request they make (nothing is sent).
            pub fn #request_ident(args: rt::JsonObject) -> Result<rt::ApiRequest, rt::ToolError> {
                #strip
                #fill
                let params: params::#params_ident = rt::parse_args(args)?;
                #refuse_unlisted
                Ok(params.to_request()?)
            }
            /// Parses the tool's arguments strictly, then calls the API.
            pub fn #call_ident<'a>(client: &'a Client, args: rt::JsonObject) -> rt::BoxFuture<'a, Result<rt::ApiResponse, rt::ToolError>> {
                Box::pin(async move {
                    let request = #request_ident(args)?;
                    Ok(client.transport().send(request).await?)
                })
            }
        });
        let name = tool.name;
        let cache_ttl = tool.cache_ttl;
        let toolset = tool.toolset;
        let description = tool.description.trim();
        let api = doc.key;
        let schema_text =
            serde_json::to_string(&schema).map_err(|e| doc.error(&at, e.to_string()))?;
        let a = tool.annotations;
        let (ro, de, id, ow) = (a.read_only, a.destructive, a.idempotent, a.open_world);
        let risk = match tool.risk {
            crate::manifest::Risk::ApiData => quote!(rt::Risk::ApiData),
            crate::manifest::Risk::ExternalText => quote!(rt::Risk::ExternalText),
        };
        let spec_mod = naming::ident(&naming::snake(doc.key));
        let guard = match tool.guard {
            Some(g) => quote!(Some(#g)),
            None => quote!(None),
        };
        let keyed: Vec<TokenStream> = keyed_maps(doc, opref)?
            .iter()
            .map(|path| quote!(&[#(#path),*]))
            .collect();
        for n in tool.narrow {
            if !args.iter().any(|a| &a.name == n) {
                return Err(doc.error(
                    &at,
                    format!(
                        "tool `{}`: `narrow` names `{n}`, which is not one of its arguments",
                        tool.name
                    ),
                ));
            }
        }
        let narrow = tool.narrow.iter().map(String::as_str);
        code.tool_def = Some(quote! {
            rt::ToolDef {
                name: #name,
                toolset: #toolset,
                api: #api,
                operation_id: #op_id,
                description: #description,
                input_schema: #schema_text,
                annotations: rt::Annotations { read_only: #ro, destructive: #de, idempotent: #id, open_world: #ow },
                risk: #risk,
                request: #spec_mod::tools::#request_ident,
                call: #spec_mod::tools::#call_ident,
                cache_ttl: #cache_ttl,
                paginate: #paginate,
                guard: #guard,
                keyed: &[#(#keyed),*],
                narrow: &[#(#narrow),*],
            }
        });
        code.input_schema = Some(schema);
    }
    Ok(code)
}

/// What an argument's value is checked against before it is sent.
struct Checks<'m> {
    /// The spec's `format`, when it is one the runtime checks.
    format: Option<String>,
    /// A comma-separated list (manifest `arguments.comma_lists`).
    list: bool,
    /// A pattern and what it expects, in words (manifest `arguments.patterns`).
    pattern: Option<(&'m str, &'m str)>,
}

/// Whether an argument's type is a generated enum (`Some(false)`) or a list of one
/// (`Some(true)`): such enums keep values the spec does not list, which a tool refuses.
fn enum_shape(doc: &Doc<'_>, schema: &Value) -> Result<Option<bool>, Error> {
    fn is_enum(doc: &Doc<'_>, s: &Value) -> Result<bool, Error> {
        let s = doc.deref(s)?;
        if s.get("enum").is_some() {
            return Ok(s.get("type").and_then(Value::as_str) == Some("string"));
        }
        // `allOf: [$ref]` (or a type beside it) is the referenced schema.
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            let parts: Vec<&Value> = all
                .iter()
                .filter(|p| p.get("$ref").is_some() || p.get("enum").is_some())
                .collect();
            if parts.len() == 1 {
                return is_enum(doc, parts[0]);
            }
        }
        Ok(false)
    }
    if is_enum(doc, schema)? {
        return Ok(Some(false));
    }
    let s = doc.deref(schema)?;
    if s.get("type").and_then(Value::as_str) == Some("array")
        && let Some(items) = s.get("items")
        && is_enum(doc, items)?
    {
        return Ok(Some(true));
    }
    Ok(None)
}

/// Formats the runtime checks (`rt::check_format`, `rt::date_time`).
const CHECKED_FORMATS: &[&str] = &["uuid", "date", "date-time"];

impl<'m> Checks<'m> {
    fn for_arg(doc: &Doc<'_>, manifest: &'m Manifest, a: &Arg) -> Result<Checks<'m>, Error> {
        let schema = doc.deref(&a.schema)?;
        let plain_string = |s: &Value| {
            s.get("type").and_then(Value::as_str) == Some("string") && s.get("enum").is_none()
        };
        let (scalar, items) = if plain_string(schema) {
            (true, false)
        } else if schema.get("type").and_then(Value::as_str) == Some("array")
            && let Some(item) = schema.get("items")
            && plain_string(doc.deref(item)?)
        {
            (false, true)
        } else {
            (false, false)
        };
        if !scalar && !items {
            return Ok(Checks {
                format: None,
                list: false,
                pattern: None,
            });
        }
        let format_of = |s: &Value| {
            s.get("format")
                .and_then(Value::as_str)
                .filter(|f| CHECKED_FORMATS.contains(f))
                .map(str::to_string)
        };
        let format = if scalar {
            format_of(schema)
        } else {
            schema
                .get("items")
                .map(|i| doc.deref(i))
                .transpose()?
                .and_then(format_of)
        };
        let format = format.filter(|_| !manifest.arguments.unformatted.contains_key(&a.name));
        Ok(Checks {
            format,
            list: scalar && manifest.arguments.is_comma_list(&a.name),
            pattern: manifest.arguments.pattern_for(&a.name),
        })
    }

    fn none(&self) -> bool {
        self.format.is_none() && !self.list && self.pattern.is_none()
    }

    /// An expression of type `String`: the checked value of the `&String` expression `v`, in
    /// the form it is sent. Uses `?` on the runtime's error.
    fn checked(&self, name: &str, v: TokenStream) -> TokenStream {
        let pattern = match self.pattern {
            Some((p, what)) => quote!(Some((#p, #what))),
            None => quote!(None),
        };
        if self.list {
            return quote!(rt::comma_list(#name, #v, #pattern)?);
        }
        let mut steps = Vec::new();
        if let Some((p, what)) = self.pattern {
            steps.push(quote!(rt::check_pattern(#name, #v, #p, #what)?;));
        }
        match self.format.as_deref() {
            Some("date-time") => {
                quote!({ #(#steps)* rt::date_time(#name, #v, rt::DayEdge::for_name(#name))? })
            }
            Some(f) => quote!({ #(#steps)* rt::check_format(#name, #v, #f)?; (#v).to_string() }),
            None => quote!({ #(#steps)* (#v).to_string() }),
        }
    }
}

/// The body of `to_request`: the checks of every argument, then the request.
fn request_builder(
    doc: &Doc<'_>,
    manifest: &Manifest,
    opref: &OpRef<'_>,
    args: &[Arg],
    has_body: bool,
) -> Result<TokenStream, Error> {
    // Path template: literal pieces and `{name}` placeholders.
    let mut format = String::new();
    let mut path_args = Vec::new();
    let mut rest = opref.path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| doc.error(opref.path, "unclosed `{` in path"))?;
        format.push_str(&rest[..open].replace('{', "{{").replace('}', "}}"));
        format.push_str("{}");
        let name = &rest[open + 1..close];
        let arg = args
            .iter()
            .find(|a| a.location == Location::Path && a.name == name)
            .ok_or_else(|| {
                doc.error(
                    opref.path,
                    format!("path parameter `{name}` is not declared"),
                )
            })?;
        let f = naming::ident(&arg.field);
        let n = &arg.name;
        let text = if arg.ty.displayable {
            quote!(self.#f.to_string())
        } else {
            quote!(rt::json_to_query(&rt::to_json(&self.#f)))
        };
        let checks = Checks::for_arg(doc, manifest, arg)?;
        // A path argument is never empty or blank, whatever its type: an empty segment would
        // address the collection instead.
        let checked = if checks.none() {
            quote!(#text)
        } else {
            let c = checks.checked(n, quote!(value));
            quote!({ let value = &#text; #c })
        };
        path_args.push(quote!(rt::path_segment(#n, &#checked)?));
        rest = &rest[close + 1..];
    }
    format.push_str(&rest.replace('{', "{{").replace('}', "}}"));

    let mut pushes = Vec::new();
    for a in args {
        if a.location == Location::Path {
            continue;
        }
        let f = naming::ident(&a.field);
        let n = &a.wire;
        let checks = Checks::for_arg(doc, manifest, a)?;
        let arg_name = &a.name;
        let is_array = a.ty.array_of_displayable || a.ty.tokens.to_string().starts_with("Vec");
        let inner = if !checks.none() && !is_array {
            // A checked string: the value as it is sent.
            let c = checks.checked(arg_name, quote!(value));
            match a.location {
                Location::Body => {
                    quote!(body.insert(#n.to_string(), ::serde_json::Value::String(#c));)
                }
                _ => quote!(query.push((#n, #c));),
            }
        } else {
            let check_items = (!checks.none() && is_array).then(|| {
                let c = checks.checked(arg_name, quote!(item));
                quote!(for item in value.iter() { let _ = #c; })
            });
            let push = match a.location {
                Location::Query { explode } if a.ty.array_of_displayable => {
                    if explode {
                        quote!(for item in value { query.push((#n, item.to_string())); })
                    } else {
                        quote!(query.push((#n, value.iter().map(|item| item.to_string()).collect::<Vec<_>>().join(",")));)
                    }
                }
                Location::Query { .. } if a.ty.displayable => {
                    quote!(query.push((#n, value.to_string()));)
                }
                Location::Query { .. } => {
                    quote!(query.push((#n, rt::json_to_query(&rt::to_json(value))));)
                }
                Location::Body => quote!(body.insert(#n.to_string(), rt::to_json(value));),
                Location::Path => quote!(),
            };
            quote!(#check_items #push)
        };
        if a.required && !is_nullable(&a.schema) {
            pushes.push(quote!({ let value = &self.#f; #inner }));
        } else {
            pushes.push(quote!(if let Some(value) = &self.#f { #inner }));
        }
    }
    let path_expr = if path_args.is_empty() {
        quote!(#format.to_string())
    } else {
        quote!(format!(#format, #(#path_args),*))
    };
    let method = naming::ident(&naming::camel(opref.method));
    let api = doc.key;
    let op_id = opref.operation_id;
    let body_expr = if has_body {
        quote!(Some(::serde_json::Value::Object(body)))
    } else {
        quote!(None)
    };
    let body_decl = has_body.then(|| quote!(let mut body = ::serde_json::Map::new();));
    Ok(quote! {
        #[allow(unused_mut)]
        let mut query: Vec<(&'static str, String)> = Vec::new();
        #body_decl
        #(#pushes)*
        Ok(rt::ApiRequest {
            api: #api,
            operation_id: #op_id,
            method: rt::Method::#method,
            path: #path_expr,
            query,
            body: #body_expr,
        })
    })
}

/// The success response's type, and how to decode it.
fn response_type(
    doc: &Doc<'_>,
    space: &mut TypeSpace<'_, '_>,
    opref: &OpRef<'_>,
    type_name: &str,
    at: &str,
) -> Result<(TokenStream, TokenStream, Vec<String>), Error> {
    let responses = opref.op.get("responses").and_then(Value::as_object);
    let success = responses.and_then(|r| {
        let mut codes: Vec<&String> = r.keys().filter(|k| k.starts_with('2')).collect();
        codes.sort();
        codes.first().map(|k| (k.to_string(), &r[*k]))
    });
    let Some((code, response)) = success else {
        return Ok((
            quote!(()),
            quote!({
                let _ = response;
                Ok(())
            }),
            vec![],
        ));
    };
    let response = doc.deref(response)?;
    match response.pointer("/content/application~1json/schema") {
        Some(schema) => {
            let t = space.type_for(
                schema,
                &format!("{type_name}Response"),
                &format!("{at}/responses/{code}"),
            )?;
            let ty = t.tokens;
            Ok((ty, quote!(response.decode()), t.deps))
        }
        None => Ok((
            quote!(()),
            quote!({
                let _ = response;
                Ok(())
            }),
            vec![],
        )),
    }
}

/// The tool's input schema: a plain object whose properties are the arguments (and nothing
/// else, which the runtime enforces).
fn input_schema(
    doc: &Doc<'_>,
    manifest: &Manifest,
    tool: &ToolEntry<'_>,
    method: &str,
    args: &[Arg],
    paging: Option<&Paging>,
    at: &str,
) -> Result<Value, Error> {
    let mut names: BTreeSet<&str> = args.iter().map(|a| a.name.as_str()).collect();
    if paging.is_some() {
        names.insert("limit");
    }
    for p in tool.params.keys() {
        if !names.contains(p.as_str()) {
            return Err(Error::Manifest(format!(
                "tool `{}` describes parameter `{p}`, which the operation does not have",
                tool.name
            )));
        }
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    for a in args {
        let mut schema = to_json_schema(doc, &a.schema, &format!("{at}/{}", a.name))?;
        if let (Some(p), Some(obj)) = (paging, schema.as_object_mut())
            && a.name == "limit"
            && p.size_param == "limit"
        {
            // `limit` counts items across pages; the pager keeps each page within Alpaca's bound.
            obj.remove("maximum");
            obj.remove("default");
        }
        if manifest.arguments.unformatted.contains_key(&a.name)
            && let Some(obj) = schema.as_object_mut()
        {
            obj.remove("format");
        }
        if let (Some(b), Some(obj)) = (
            manifest.arguments.bounds.get(&a.name),
            schema.as_object_mut(),
        ) && obj
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t == "number" || t == "integer")
        {
            // Where the spec bounds a side already, its bound stands.
            let has_lower = obj.contains_key("minimum") || obj.contains_key("exclusiveMinimum");
            let has_upper = obj.contains_key("maximum") || obj.contains_key("exclusiveMaximum");
            for (key, bound, spec_has) in [
                ("exclusiveMinimum", b.exclusive_minimum, has_lower),
                ("minimum", b.minimum, has_lower),
                ("maximum", b.maximum, has_upper),
            ] {
                if let (Some(v), false) = (bound, spec_has) {
                    // Whole bounds as integers, as the spec writes them.
                    let v = if v.fract() == 0.0 && v.abs() < 1e15 {
                        json!(v as i64)
                    } else {
                        json!(v)
                    };
                    obj.insert(key.into(), v);
                }
            }
        }
        // A nullable argument is written without `null` where `null` can only mean absent (a
        // path or query parameter, or a field of a body that creates something): leaving it
        // out says the same, and strict clients (the Inspector's `--strict`) warn on type
        // arrays. A field of a body that changes something keeps `null` (it may clear).
        let null_is_absent = !matches!(a.location, Location::Body) || method == "post";
        if null_is_absent
            && let Some(obj) = schema.as_object_mut()
            && let Some(Value::Array(types)) = obj.get("type")
            && types.iter().any(|t| t == "null")
        {
            let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            let collapsed = match rest.len() {
                1 => rest[0].clone(),
                _ => Value::Array(rest),
            };
            obj.insert("type".into(), collapsed);
        }
        let default = manifest.arguments.defaults.get(&a.name);
        if let (Some(d), Some(obj)) = (default, schema.as_object_mut()) {
            if let Some(listed) = obj.get("enum").and_then(Value::as_array)
                && !listed.iter().any(|v| v.as_str() == Some(d.value.as_str()))
            {
                return Err(Error::Manifest(format!(
                    "tool `{}`: the default {:?} of `{}` is not one of its listed values",
                    tool.name, d.value, a.name
                )));
            }
            obj.insert("default".into(), Value::String(d.value.clone()));
        }
        properties.insert(a.name.clone(), schema);
        if a.required && default.is_none() {
            required.push(Value::String(a.name.clone()));
        }
    }
    if paging.is_some_and(|p| p.cursor.is_some()) {
        properties.insert("limit".into(), json!({"type": "integer", "minimum": 1}));
    }
    for (name, schema) in properties.iter_mut() {
        let description = manifest
            .param_description(tool.params, name, paging.is_some())
            .ok_or_else(|| {
            Error::Manifest(format!(
                "tool `{}`: parameter `{name}` has no description (add it to the tool's params or the glossary)",
                tool.name
            ))
        })?;
        if let Some(obj) = schema.as_object_mut() {
            obj.insert(
                "description".into(),
                Value::String(description.trim().to_string()),
            );
        }
    }
    let mut root = Map::new();
    root.insert("type".into(), json!("object"));
    root.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        root.insert("required".into(), Value::Array(required));
    }
    // The root is closed, but the schema does not say so: `tools/list` is paid for in every
    // conversation, and the server rejects an unknown argument by name before anything else.
    Ok(Value::Object(root))
}

/// How a list tool's pages are followed.
struct Paging {
    /// The query parameter that sets a page's size (`limit` or `page_size`).
    size_param: String,
    /// The largest page the spec allows, if it says.
    page_max: Option<u64>,
    /// The page size Alpaca uses when none is sent, if the spec says.
    page_default: Option<u64>,
    /// For a bare-array answer: the item field holding the next page's token.
    cursor: Option<String>,
}

/// Where the success answer holds maps of records (`additionalProperties` whose schema is an
/// object with properties), as keys from the root; `*` stands for every key of a map of maps.
/// Arrays need no such hint: an array of objects is a table wherever it is.
fn keyed_maps(doc: &Doc<'_>, opref: &OpRef<'_>) -> Result<Vec<Vec<String>>, Error> {
    let Some(response) = opref.op.pointer("/responses/200") else {
        return Ok(vec![]);
    };
    let Some(schema) = doc
        .deref(response)?
        .pointer("/content/application~1json/schema")
    else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    keyed_walk(doc, schema, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn keyed_walk(
    doc: &Doc<'_>,
    schema: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> Result<(), Error> {
    if path.len() > 4 {
        return Ok(());
    }
    let schema = doc.deref(schema)?;
    let props = schema.get("properties").and_then(Value::as_object);
    if let Some(props) = props {
        for (name, sub) in props {
            path.push(name.clone());
            keyed_walk(doc, sub, path, out)?;
            path.pop();
        }
        return Ok(());
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        let values = doc.deref(values)?;
        if values.get("properties").is_some_and(Value::is_object) {
            out.push(path.clone());
        } else if values
            .get("additionalProperties")
            .is_some_and(Value::is_object)
        {
            path.push("*".into());
            keyed_walk(doc, values, path, out)?;
            path.pop();
        }
    }
    Ok(())
}

/// Whether (and how) a tool is paginated: a GET with a `page_token` query parameter whose
/// answer is an object with `next_page_token` and that takes a `limit`; or, when the manifest
/// names a `page_cursor`, one whose answer is a bare array and that takes `page_size` or
/// `limit`.
fn paging(
    doc: &Doc<'_>,
    opref: &OpRef<'_>,
    args: &[Arg],
    tool: &ToolEntry<'_>,
    at: &str,
) -> Result<Option<Paging>, Error> {
    let query = |name: &str| {
        args.iter()
            .find(|a| a.name == name && matches!(a.location, Location::Query { .. }))
    };
    let takes_token = opref.method == "get" && query("page_token").is_some();
    let response = match opref.op.pointer("/responses/200") {
        Some(r) => doc
            .deref(r)?
            .pointer("/content/application~1json/schema")
            .map(|s| doc.deref(s))
            .transpose()?,
        None => None,
    };
    let answers_token = response
        .and_then(|s| s.pointer("/properties/next_page_token"))
        .is_some();
    let answers_array = response.and_then(|s| s.get("type")) == Some(&json!("array"));
    let size_of = |a: &Arg| -> Option<Paging> {
        let schema = doc.deref(&a.schema).ok()?;
        (schema.get("type") == Some(&json!("integer"))).then(|| Paging {
            size_param: a.name.clone(),
            page_max: schema.get("maximum").and_then(Value::as_u64),
            page_default: schema.get("default").and_then(Value::as_u64),
            cursor: None,
        })
    };
    let fail = |msg: String| Err(doc.error(at, format!("tool `{}`: {msg}", tool.name)));
    if let Some(cursor) = tool.page_cursor {
        if !takes_token || !answers_array {
            return fail(format!(
                "page_cursor `{cursor}` needs a GET with a `page_token` query parameter that answers an array"
            ));
        }
        let Some(mut p) = query("page_size")
            .or_else(|| query("limit"))
            .and_then(size_of)
        else {
            return fail(
                "page_cursor needs an integer `page_size` or `limit` query parameter".into(),
            );
        };
        if p.size_param == "limit" {
            return fail("page_cursor with a `limit` page size is not supported".into());
        }
        p.cursor = Some(cursor.to_string());
        return Ok(Some(p));
    }
    if !(takes_token && answers_token) {
        return Ok(None);
    }
    match query("limit").and_then(size_of) {
        Some(p) => Ok(Some(p)),
        None => {
            fail("a paginated list (page_token, next_page_token) needs an integer `limit`".into())
        }
    }
}
