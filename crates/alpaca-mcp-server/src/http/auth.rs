//! Bearer tokens with scopes, as a layer: without configured tokens every request passes
//! with the server's own scope; with them, a request without `Authorization: Bearer` or with a
//! token that is not configured gets 401 (with `WWW-Authenticate: Bearer`), and one with a
//! valid token passes with that token's [`Scope`] in its extensions, which the endpoint reads.
//! Tokens are compared in constant time (`subtle`); refused requests are counted and logged
//! once a minute.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::reply::{closing, plain};
use crate::SetupError;
use crate::oauth::{Access, OAuth, Rejected};

/// The environment variable of the one `read,trade` token.
pub const TOKEN_ENV: &str = "ALPACA_MCP_HTTP_TOKEN";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read-only tools only (as with `--read-only`).
    Read,
    /// Every tool the server exposes.
    ReadTrade,
}

impl Scope {
    /// As written in a token file.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadTrade => "read,trade",
        }
    }
}

/// One accepted token. The value is never logged or printed (`Debug` hides it).
struct Token {
    value: Vec<u8>,
    scope: Scope,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(<redacted>, {})", self.scope.name())
    }
}

/// The configured tokens, and the count of refusals.
#[derive(Debug, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
    failures: AuthFailures,
}

impl Tokens {
    /// `env_token` (`ALPACA_MCP_HTTP_TOKEN`, one `read,trade` token) and the tokens of
    /// `token_file`; each token once.
    pub fn new(env_token: Option<&str>, token_file: Option<&Path>) -> Result<Tokens, SetupError> {
        let mut tokens = Vec::new();
        if let Some(value) = env_token {
            let value = value.trim();
            if value.chars().any(char::is_whitespace) {
                return Err(SetupError(format!(
                    "{TOKEN_ENV} must be a single token without spaces (put scoped tokens in \
                     --http-token-file)"
                )));
            }
            tokens.push(Token {
                value: value.as_bytes().to_vec(),
                scope: Scope::ReadTrade,
            });
        }
        if let Some(path) = token_file {
            tokens.extend(read_token_file(path)?);
        }
        for (i, a) in tokens.iter().enumerate() {
            if tokens[..i].iter().any(|b| b.value == a.value) {
                return Err(SetupError(
                    "the same HTTP token is configured twice (in --http-token-file or also in \
                     ALPACA_MCP_HTTP_TOKEN); give each token one line"
                        .into(),
                ));
            }
        }
        if tokens.iter().any(|t| t.value.len() < 16) {
            tracing::warn!(
                "an HTTP bearer token is shorter than 16 characters; use a long random one \
                 (e.g. `openssl rand -hex 32`)"
            );
        }
        Ok(Tokens {
            tokens,
            failures: AuthFailures::default(),
        })
    }

    /// Whether any token is configured (then every request needs one).
    pub fn required(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Whether some token has only the `read` scope.
    pub fn has_read(&self) -> bool {
        self.tokens.iter().any(|t| t.scope == Scope::Read)
    }

    /// For the startup log (no token values).
    pub fn describe(&self) -> String {
        if !self.required() {
            return "no bearer token (loopback only)".into();
        }
        let read = self
            .tokens
            .iter()
            .filter(|t| t.scope == Scope::Read)
            .count();
        format!(
            "bearer tokens: {} ({read} read, {} read,trade)",
            self.tokens.len(),
            self.tokens.len() - read
        )
    }

    /// The scope of a configured token equal to `presented`. Every token is compared, in
    /// constant time, whatever matches.
    fn find(&self, presented: &str) -> Option<Scope> {
        let mut found = None;
        for t in &self.tokens {
            if bool::from(presented.as_bytes().ct_eq(&t.value)) {
                found = Some(t.scope);
            }
        }
        found
    }
}

/// What the token layer accepts: the static tokens, and OAuth access tokens when the server
/// is its own authorization server (`--auth owner`).
#[derive(Debug)]
pub struct Gate {
    /// Static bearer tokens.
    pub tokens: Arc<Tokens>,
    /// The authorization server, in `--auth owner` mode.
    pub oauth: Option<Arc<OAuth>>,
}

impl Gate {
    /// Whether every request needs a token.
    pub fn required(&self) -> bool {
        self.tokens.required() || self.oauth.is_some()
    }

    /// The scope of a request's bearer token (and its OAuth grant, for an OAuth token).
    async fn authorize(&self, headers: &HeaderMap) -> Result<(Scope, Option<Access>), Denied> {
        if !self.required() {
            return Ok((Scope::ReadTrade, None));
        }
        let presented = bearer(headers).ok_or(Denied::Missing)?;
        if let Some(scope) = self.tokens.find(presented) {
            return Ok((scope, None));
        }
        let Some(oauth) = &self.oauth else {
            return Err(Denied::Invalid);
        };
        match oauth.verify(presented).await {
            Ok(access) => {
                let scope = if access.trade {
                    Scope::ReadTrade
                } else {
                    Scope::Read
                };
                Ok((scope, Some(access)))
            }
            Err(Rejected::Invalid) => Err(Denied::Invalid),
            Err(Rejected::Unavailable) => Err(Denied::Unavailable),
        }
    }

    /// The `resource_metadata` parameter of challenges, in OAuth mode.
    pub fn resource_metadata(&self) -> Option<String> {
        self.oauth.as_ref().map(|o| o.resource_metadata_url())
    }
}

/// The bearer token of `Authorization`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim())
                .filter(|t| !t.is_empty())
        })
}

/// The token layer: 401 without a valid token; otherwise the request goes on with its
/// [`Scope`] (and, for an OAuth token, its [`Access`]) and its
/// [`Principal`](alpaca_mcp::input::Principal) as extensions.
pub async fn require_token(
    State(gate): State<Arc<Gate>>,
    mut request: Request,
    next: Next,
) -> Response {
    match gate.authorize(request.headers()).await {
        Ok((scope, access)) => {
            request.extensions_mut().insert(scope);
            // Who the call is for: confirmation state sealed for one grant does not open for
            // another (the owner's static tokens are one principal).
            let principal = match &access {
                Some(access) => format!("grant {}", access.grant),
                None => "token".to_string(),
            };
            request
                .extensions_mut()
                .insert(alpaca_mcp::input::Principal(principal));
            if let Some(access) = access {
                // `--auth alpaca`: the request runs as the user who signed in.
                if let Some(user) = access.user.clone() {
                    request.extensions_mut().insert(user);
                }
                request.extensions_mut().insert(access);
            }
            next.run(request).await
        }
        Err(denied) => {
            gate.tokens.failures.0.record(&denied);
            denied.reply(gate.resource_metadata().as_deref())
        }
    }
}

/// 403 for a request its token's scope does not cover, naming the scope that would
/// (`insufficient_scope`, so that OAuth clients can ask for it).
pub fn insufficient_scope(resource_metadata: Option<&str>, what: &str) -> Response {
    let r = plain(
        StatusCode::FORBIDDEN,
        format!("Forbidden: {what} needs the `trade` scope; this token has `read` only"),
    );
    challenge(
        r,
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"{} {}\"",
            crate::oauth::SCOPE_READ,
            crate::oauth::SCOPE_TRADE
        ),
        resource_metadata,
    )
}

/// `r` with `WWW-Authenticate: <challenge>`, plus `resource_metadata` in OAuth mode.
fn challenge(mut r: Response, mut challenge: String, resource_metadata: Option<&str>) -> Response {
    if let Some(url) = resource_metadata {
        challenge.push_str(&format!(", resource_metadata=\"{url}\""));
    }
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// Refused authentications, logged at most once a minute with a count, so a flood of bad
/// tokens cannot flood the log.
#[derive(Debug)]
struct AuthFailures(crate::summary::Summarized);

impl Default for AuthFailures {
    fn default() -> Self {
        AuthFailures(crate::summary::Summarized::new(
            "refused requests without a valid bearer token (401)",
        ))
    }
}

/// Why a request has no scope: 401 with `WWW-Authenticate: Bearer` (503 when the OAuth
/// store cannot be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denied {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is not configured (or not a live OAuth token for this server).
    Invalid,
    /// The OAuth store failed.
    Unavailable,
}

/// What a client's user does with a server that takes a static token (a challenge's
/// `error_description`, and the discovery answers of [`no_oauth_router`]).
pub const TOKEN_HOW_TO: &str = "this server takes a bearer token, not an OAuth sign-in: add the header Authorization: Bearer <token> to this server in your MCP client's configuration";

/// Without OAuth, the places OAuth-capable clients look for it (protected resource and
/// authorization server metadata, registration) answer what to do instead of a bare 404, in
/// the JSON error shape those clients read.
pub fn no_oauth_router() -> axum::Router {
    use axum::routing::any;
    let answer = || async {
        (
            StatusCode::NOT_FOUND,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"error": "invalid_request", "error_description": TOKEN_HOW_TO})
                .to_string(),
        )
    };
    axum::Router::new()
        .route("/.well-known/oauth-protected-resource", any(answer))
        .route("/.well-known/oauth-protected-resource/{*rest}", any(answer))
        .route("/.well-known/oauth-authorization-server", any(answer))
        .route(
            "/.well-known/oauth-authorization-server/{*rest}",
            any(answer),
        )
        .route("/.well-known/openid-configuration", any(answer))
        .route("/register", any(answer))
}

impl Denied {
    fn reply(self, resource_metadata: Option<&str>) -> Response {
        if self == Denied::Unavailable {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: the server cannot check tokens now",
            );
        }
        let mut bearer = String::from("Bearer realm=\"alpaca-mcp\"");
        if self == Denied::Invalid {
            bearer.push_str(", error=\"invalid_token\"");
        }
        if resource_metadata.is_none() {
            // No OAuth here: say what a person does, so a client that shows the challenge
            // (or its body) does not send its user looking for a sign-in that does not exist.
            bearer.push_str(&format!(", error_description=\"{TOKEN_HOW_TO}\""));
        }
        let message = match (self, resource_metadata.is_some()) {
            (Denied::Missing, false) => {
                "Unauthorized: this server takes a bearer token, not an OAuth sign-in: add the \
                 header `Authorization: Bearer <token>` to this server in your MCP client's \
                 configuration (the token is the server's ALPACA_MCP_HTTP_TOKEN, or a line of \
                 its --http-token-file). The README's client sections show where each client \
                 takes a header."
            }
            (Denied::Missing, true) => {
                "Unauthorized: this server requires `Authorization: Bearer <token>`: connect \
                 through OAuth (see the resource metadata in WWW-Authenticate) or send a \
                 configured token"
            }
            _ => {
                "Unauthorized: the bearer token is not valid for this server (expired, revoked or unknown)"
            }
        };
        // The request's body was never read, so the connection cannot carry another request
        // reliably: say it closes, or a client reusing it (for the discovery that a 401
        // starts) may find it gone.
        challenge(
            closing(StatusCode::UNAUTHORIZED, message),
            bearer,
            resource_metadata,
        )
    }
}

fn read_token_file(path: &Path) -> Result<Vec<Token>, SetupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SetupError(format!("--http-token-file {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                "the HTTP token file is readable by other users; consider `chmod 600`"
            );
        }
    }
    let tokens = parse_tokens(&text)
        .map_err(|e| SetupError(format!("--http-token-file {}: {e}", path.display())))?;
    if tokens.is_empty() {
        return Err(SetupError(format!(
            "--http-token-file {}: no tokens in it (one per line: `TOKEN` or `TOKEN read` or \
             `TOKEN read,trade`)",
            path.display()
        )));
    }
    Ok(tokens)
}

/// Parses a token file: one token per line, optionally followed by whitespace and its scopes
/// (`read` or `read,trade`; a bare token is `read,trade`); blank lines and lines starting with
/// `#` are skipped. Errors name the line, never the token.
fn parse_tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let value = parts.next().unwrap_or_default();
        let scopes: Vec<&str> = parts.collect();
        // Nothing from a token file line is ever echoed: a line written the wrong way round
        // would otherwise print its token as an "unknown scope".
        if parse_scope(value).is_ok() {
            return Err(format!(
                "line {}: the token comes first, then its scopes (`TOKEN read` or `TOKEN read,trade`)",
                n + 1
            ));
        }
        let scope = match scopes.as_slice() {
            [] => Scope::ReadTrade,
            [s] => parse_scope(s).map_err(|e| format!("line {}: {e}", n + 1))?,
            _ => {
                return Err(format!(
                    "line {}: expected `TOKEN` or `TOKEN SCOPES` with SCOPES `read` or \
                     `read,trade` (no spaces inside SCOPES)",
                    n + 1
                ));
            }
        };
        tokens.push(Token {
            value: value.as_bytes().to_vec(),
            scope,
        });
    }
    Ok(tokens)
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    let mut read = false;
    let mut trade = false;
    for part in s.split(',').map(str::trim) {
        match part.to_ascii_lowercase().as_str() {
            "read" => read = true,
            "trade" => trade = true,
            _ => {
                return Err(
                    "unknown scope (the scopes are `read` and `read,trade`; the text is not repeated here in case it is a token)".into(),
                );
            }
        }
    }
    match (read, trade) {
        (true, false) => Ok(Scope::Read),
        (true, true) => Ok(Scope::ReadTrade),
        _ => Err("`trade` needs `read` too: write `read,trade`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens {
            tokens: parse_tokens("# comment\n\nalpha-token-0123456789 read\nbravo-token-0123456789\ncharlie-token-012345 read,trade\n").unwrap(),
            failures: AuthFailures::default(),
        }
    }

    fn with_bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn token_file_scopes() {
        let gate = Gate {
            tokens: Arc::new(tokens()),
            oauth: None,
        };
        assert_eq!(gate.tokens.tokens.len(), 3);
        let scope = |t: &str| {
            let h = with_bearer(t);
            let gate = &gate;
            async move { gate.authorize(&h).await.map(|(s, _)| s) }
        };
        assert_eq!(scope("alpha-token-0123456789").await.unwrap(), Scope::Read);
        assert_eq!(
            scope("bravo-token-0123456789").await.unwrap(),
            Scope::ReadTrade
        );
        assert_eq!(
            scope("charlie-token-012345").await.unwrap(),
            Scope::ReadTrade
        );
        let denied = scope("alpha-token-012345678").await.unwrap_err();
        assert_eq!(denied, Denied::Invalid);
        assert_eq!(denied.reply(None).status(), StatusCode::UNAUTHORIZED);
        let none = gate.authorize(&HeaderMap::new()).await.unwrap_err();
        assert_eq!(none, Denied::Missing);
        let none = none.reply(Some(
            "https://mcp.example/.well-known/oauth-protected-resource/mcp",
        ));
        let challenge = none.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(
            challenge.contains(
                "resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\""
            ),
            "{challenge}"
        );
    }

    #[test]
    fn token_file_errors_name_the_line_not_the_token() {
        let e = parse_tokens("ok-token\nsecret-value write\n")
            .map(|_| ())
            .unwrap_err();
        assert!(e.contains("line 2") && e.contains("unknown scope"), "{e}");
        assert!(!e.contains("secret-value"), "{e}");
        // The scope is not echoed either: it may be a token on a line written backwards.
        let e = parse_tokens("ok-token read,trade\nread secret-value\n")
            .map(|_| ())
            .unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("token comes first"),
            "{e}"
        );
        assert!(!e.contains("secret-value"), "{e}");
        let e = parse_tokens("ok-token secret-value")
            .map(|_| ())
            .unwrap_err();
        assert!(!e.contains("secret-value"), "{e}");
        let e = parse_tokens("secret-value trade").map(|_| ()).unwrap_err();
        assert!(
            e.contains("read,trade") && !e.contains("secret-value"),
            "{e}"
        );
        let e = parse_tokens("secret-value read trade")
            .map(|_| ())
            .unwrap_err();
        assert!(!e.contains("secret-value"), "{e}");
        assert!(format!("{:?}", parse_tokens("secret-value").unwrap()).contains("redacted"));
    }
}
