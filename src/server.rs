//! The MCP handler: an rmcp `ServerHandler` that serves the engine's tools, resources and
//! prompts to one MCP session. It holds no tool logic: every call goes to
//! [`AlpacaTools`], the engine.

use std::sync::Arc;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    CompletionInfo, Icon, Implementation, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, Reference, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::completion::Source;
use crate::engine::AlpacaTools;
use crate::logging::SessionLog;
use crate::runtime::events::{Progress, Watch};

/// An rmcp server for the tools. Cheap to clone (one per session shares the same tools).
#[derive(Clone)]
pub struct AlpacaServer {
    tools: Arc<AlpacaTools>,
    /// This MCP session's number (order confirmations are bound to it).
    session: u64,
    /// This session's log level (see [`crate::logging`]).
    log: SessionLog,
}

impl AlpacaServer {
    /// A server for `tools`: one per MCP session (each gets its own session number).
    pub fn new(tools: Arc<AlpacaTools>) -> Self {
        AlpacaServer {
            tools,
            session: crate::engine::next_session(),
            log: SessionLog::default(),
        }
    }

    /// The shared tools.
    pub fn tools(&self) -> &Arc<AlpacaTools> {
        &self.tools
    }
}

/// How long a client may keep the tool, resource and prompt lists: they change only with the
/// server's configuration (toolsets, read-only, what an OAuth grant is narrowed to), which
/// never changes while it runs, so an hour is safe; the lists are in a fixed order. Tools and
/// resources are private (a grant narrowed to some toolsets sees fewer), prompts public.
pub const LIST_TTL_MS: u64 = 3_600_000;

/// The server's icon: a small SVG written for this project, as a `data:` URI.
pub fn icon() -> Icon {
    use base64::Engine;
    let svg = include_str!("../assets/icon.svg");
    let data = base64::engine::general_purpose::STANDARD.encode(svg.trim_end());
    Icon::new(format!("data:image/svg+xml;base64,{data}"))
        .with_mime_type("image/svg+xml")
        .with_sizes(vec!["any".into()])
}

impl AlpacaServer {
    /// [`ServerHandler::get_info`] with the instructions for the request's user (whose
    /// account may be paper or live, [`crate::user`]), else for the server's own account.
    fn info_for(&self, context: &RequestContext<RoleServer>) -> ServerConfig {
        let mut info = self.get_info();
        if let Some(user) = crate::user::of_request(context) {
            info.instructions = Some(self.tools.instructions_for(user.mode).to_string());
        }
        info
    }
}

impl ServerHandler for AlpacaServer {
    async fn initialize(
        &self,
        request: rmcp::model::InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        tracing::info!(
            client = ?request.client_info.name,
            version = ?request.client_info.version,
            protocol = %request.protocol_version,
            "an MCP client initialized"
        );
        let mut info = self.negotiate_initialize(&request)?;
        if let Some(user) = crate::user::of_request(&context) {
            info.instructions = Some(self.tools.instructions_for(user.mode).to_string());
        }
        Ok(info)
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::DiscoverResult, ErrorData> {
        let client = context.client_info();
        tracing::info!(
            client = ?client.as_ref().map(|c| &c.name),
            version = ?client.as_ref().map(|c| &c.version),
            "an MCP client discovered the server (2026-07-28)"
        );
        Ok(rmcp::model::DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            self.info_for(&context),
        ))
    }

    fn get_info(&self) -> ServerConfig {
        #[allow(deprecated)] // logging: see crate::logging
        let mut capabilities = ServerCapabilities::builder()
            .enable_completions()
            .enable_logging()
            .enable_prompts()
            .enable_resources()
            .enable_tools()
            .build();
        if !crate::resources::any(&self.tools) {
            capabilities.resources = None;
        }
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("alpaca-mcp", env!("CARGO_PKG_VERSION"))
                    .with_title("Alpaca")
                    .with_icons(vec![icon()]),
            )
            .with_instructions(self.tools.instructions().to_string())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, ErrorData> {
        Ok(
            rmcp::model::ListResourcesResult::with_all_items(crate::resources::list(&self.tools))
                .with_ttl_ms(LIST_TTL_MS)
                .with_cache_scope(CacheScope::Private),
        )
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, ErrorData> {
        Ok(
            rmcp::model::ListResourceTemplatesResult::with_all_items(crate::resources::templates(
                &self.tools,
            ))
            .with_ttl_ms(LIST_TTL_MS)
            .with_cache_scope(CacheScope::Private),
        )
    }

    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, ErrorData> {
        let read = crate::resources::read(&self.tools, &request.uri);
        Ok(crate::user::as_user_of(&context, read).await?.into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, ErrorData> {
        // The same prompts for every caller of every build.
        Ok(
            rmcp::model::ListPromptsResult::with_all_items(crate::prompts::list())
                .with_ttl_ms(LIST_TTL_MS)
                .with_cache_scope(CacheScope::Public),
        )
    }

    async fn get_prompt(
        &self,
        request: rmcp::model::GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, ErrorData> {
        Ok(crate::prompts::get(&self.tools, &request.name, request.arguments.as_ref())?.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let source = completion_source(&self.tools, &request.r#ref, &request.argument.name)?;
        let found = self.tools.complete(source, &request.argument.value);
        let found = crate::user::as_user_of(&context, found).await;
        let has_more = found.has_more();
        let mut info =
            CompletionInfo::new(found.values).map_err(|e| ErrorData::internal_error(e, None))?;
        info.total = Some(u32::try_from(found.total).unwrap_or(u32::MAX));
        info.has_more = Some(has_more);
        Ok(CompleteResult::new(info))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.tools().to_vec())
            .with_ttl_ms(LIST_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let call = self.tools.call_for_request(
            self.session,
            &context,
            &request.name,
            request.arguments,
            request.request_state,
            request.input_responses,
        );
        // Progress goes out as it is made, when the request asked for it; a cancelled
        // request stops following pages.
        let ct = context.ct.clone();
        let mut watch = Watch::default().cancel_with(Arc::new(move || ct.is_cancelled()));
        let mut forward = None;
        if let Some(token) = context.meta.get_progress_token() {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
            watch = watch.progress(tx);
            let peer = context.peer.clone();
            forward = Some(tokio::spawn(async move {
                while let Some(p) = rx.recv().await {
                    let mut param = ProgressNotificationParam::new(token.clone(), p.done as f64);
                    param.total = p.total.map(|t| t as f64);
                    param.message = Some(p.message);
                    if peer.notify_progress(param).await.is_err() {
                        break;
                    }
                }
            }));
        }
        let (answer, events) = watch.run(crate::user::as_user_of(&context, call)).await;
        if let Some(forward) = forward {
            // Every report out before the result.
            let _ = forward.await;
        }
        self.log.deliver(events, &context).await;
        answer.ok_or_else(|| {
            ErrorData::invalid_params(format!("unknown tool `{}`", request.name), None)
        })
    }

    #[allow(deprecated)] // logging: see crate::logging
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if self.log.set(request.level, &context) {
            Ok(())
        } else {
            Err(ErrorData::method_not_found::<
                rmcp::model::SetLevelRequestMethod,
            >())
        }
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.tool(name).cloned()
    }
}

/// What the argument `argument` of `reference` completes from; an error naming what can be
/// completed when it is neither the checklist's `symbol` nor the position template's.
fn completion_source(
    tools: &AlpacaTools,
    reference: &Reference,
    argument: &str,
) -> Result<Source, ErrorData> {
    let (source, what) = match reference {
        Reference::Prompt(p) if p.name == crate::prompts::PRE_TRADE_CHECKLIST => {
            (Source::Symbols, format!("prompt `{}`", p.name))
        }
        Reference::Prompt(p) => {
            return Err(ErrorData::invalid_params(
                format!(
                    "no prompt `{}` takes arguments to complete: `{}` takes `symbol`",
                    p.name,
                    crate::prompts::PRE_TRADE_CHECKLIST
                ),
                None,
            ));
        }
        Reference::Resource(r)
            if r.uri == crate::resources::POSITION_TEMPLATE
                && !crate::resources::templates(tools).is_empty() =>
        {
            (Source::Positions, format!("template `{}`", r.uri))
        }
        Reference::Resource(r) => {
            return Err(ErrorData::invalid_params(
                format!(
                    "`{}` is not a resource template this server offers (see resources/templates/list)",
                    r.uri
                ),
                None,
            ));
        }
        _ => {
            return Err(ErrorData::invalid_params(
                "completions are offered for prompts and resource templates only",
                None,
            ));
        }
    };
    if argument != "symbol" {
        return Err(ErrorData::invalid_params(
            format!("{what} has no argument `{argument}` to complete: it takes `symbol`"),
            None,
        ));
    }
    Ok(source)
}
