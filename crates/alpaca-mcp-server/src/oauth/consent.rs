//! `/authorize`: the consent page and its answer (in `--auth alpaca` mode the user's answer
//! goes on to Alpaca's sign-in instead of a passphrase check, see [`super::connect`]). Plain
//! HTML, no JavaScript, one form: it names the client, where approval returns to, what it
//! asks, and whether the account is paper or LIVE; the owner types the passphrase and picks
//! read only or read and trade.
//!
//! Before anything is shown, the client and its redirect URI are checked; a bad one gets an
//! error page and never a redirect (an open redirector otherwise). The form carries the id
//! of a request held in the store (ten minutes; so the answer may reach another replica than
//! the page came from, and only one answer is taken) and a CSRF value that must equal a cookie set with
//! the page (`HttpOnly; SameSite=Strict`); wrong passphrases are counted per address.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::register::redirect_matches;
use super::secret::{digest, random_id, random_token, same};
use super::store::{Code, ConsentForm, ConsentLimits};
use super::{CONSENT_TTL, OAuth, SCOPE_READ, SCOPE_TRADE, has_scope, now};
use crate::http::PeerAddr;

/// Consent forms open at once: per address, per client and in all. Past a bound the oldest
/// of its kind is dropped, so a flood of anonymous `GET /authorize` pushes out its own forms
/// and never keeps anyone else from signing in.
const PENDING: ConsentLimits = ConsentLimits {
    per_addr: 20,
    per_client: 50,
    total: 1000,
};

/// The cookie that marks a browser the owner approved from: its wrong passphrases are
/// counted on their own, so strangers' guesses cannot lock the owner out.
const DEVICE_COOKIE: &str = "amcp_device";
/// How long a device is remembered.
const DEVICE_TTL: i64 = 90 * 86_400;

/// A consent form in flight, as the store keeps it (JSON).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Pending {
    client_id: String,
    client_name: Option<String>,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    /// Whether `trade` was asked for (else only `read` is offered).
    offers_trade: bool,
    resource: String,
    cookie: String,
    csrf_digest: String,
}

/// HTML-escapes text for element content and quoted attributes. Characters that change how
/// text around them reads (bidirectional controls, zero-width characters, line and
/// paragraph separators) are shown visibly as their code point (`[U+202E]`), so a client
/// name cannot reorder or hide what the owner reads.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if alpaca_mcp::compact::is_invisible(c) => {
                out.push_str(&format!("[U+{:04X}]", c as u32));
            }
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        title = escape(title)
    );
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    r
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.45}\
.mode{padding:.6rem .8rem;border-radius:.4rem;font-weight:bold}.paper{background:#e6f4ea}.live{background:#fde2e1;border:2px solid #c00;color:#900}\
.error{color:#900;font-weight:bold}fieldset{border:1px solid #ccc;border-radius:.4rem}button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}\
code{word-break:break-all}";

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Authorization failed",
        &format!(
            "<h1>Cannot authorize this client</h1><p class=\"error\">{}</p>",
            escape(message)
        ),
    )
}

/// Where the client's redirect goes, with `params` added to its query.
pub(crate) fn redirect_to(uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else {
        return error_page(StatusCode::BAD_REQUEST, "the redirect URI is not a URL");
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An error sent back to the client (the redirect URI is known good by then).
fn redirect_error(
    oauth: &OAuth,
    uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let issuer = oauth.issuer();
    let mut params = vec![
        ("error", error),
        ("error_description", description),
        ("iss", issuer.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    redirect_to(uri, &params)
}

/// `GET /authorize`: checks the request and shows the consent page.
pub(crate) async fn authorize(
    State(oauth): State<Arc<OAuth>>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerAddr>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(client_id) = q.get("client_id").filter(|c| !c.is_empty()) else {
        return error_page(StatusCode::BAD_REQUEST, "client_id is missing");
    };
    let ip = super::client_ip(
        &headers,
        peer.as_ref().map(|p| &p.0),
        &oauth.settings.trusted_proxies,
    );
    let client = match oauth.find_client(client_id, ip).await {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let redirect_uri = match q.get("redirect_uri") {
        Some(uri)
            if client
                .redirect_uris
                .iter()
                .any(|r| redirect_matches(r, uri)) =>
        {
            uri.clone()
        }
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "redirect_uri is not one this client registered (they must match exactly)",
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return error_page(StatusCode::BAD_REQUEST, "redirect_uri is missing"),
    };
    let state = q.get("state").cloned();
    // Until the owner (or user) has answered, an error is a page here, never a redirect:
    // anyone may register a client with any https redirect URI, so redirecting its errors
    // would lend this server's origin to whatever page that is (RFC 9700 4.11.2).
    let fail = |error: &str, description: &str| {
        error_page(
            StatusCode::BAD_REQUEST,
            &format!("{description} ({error}); the client asked for this authorization wrongly"),
        )
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let Some(challenge) = q.get("code_challenge").filter(|c| !c.is_empty()) else {
        return fail(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        );
    };
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return fail(
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)",
        );
    }
    if !(43..=128).contains(&challenge.len()) {
        return fail(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 (43 characters)",
        );
    }
    let resource = match q.get("resource") {
        Some(r) if !oauth.is_our_resource(r) => {
            return fail(
                "invalid_target",
                "resource must be this server's MCP endpoint",
            );
        }
        _ => oauth.resource(),
    };
    // Unknown scopes are left out; `trade` is offered only when asked for (or nothing was).
    let scope = q.get("scope").map(String::as_str).unwrap_or("");
    let offers_trade = has_scope(scope, SCOPE_TRADE) || !has_scope(scope, SCOPE_READ);

    let id = random_token("");
    let csrf = random_token("");
    let cookie = format!("amcp_consent_{}", random_id());
    let pending = Pending {
        client_id: client.id.clone(),
        client_name: client.name.clone(),
        redirect_uri: redirect_uri.clone(),
        state,
        challenge: challenge.clone(),
        offers_trade,
        resource,
        cookie: cookie.clone(),
        csrf_digest: digest(&csrf),
    };
    let form = ConsentForm {
        digest: digest(&id),
        body: serde_json::to_string(&pending).unwrap_or_default(),
        client_id: client.id.clone(),
        addr: ip.to_string(),
    };
    let now = now();
    if let Err(e) = oauth
        .store
        .put_consent(&form, now, now + CONSENT_TTL.as_secs() as i64, PENDING)
        .await
    {
        tracing::error!(error = %e, "cannot keep a consent form");
        return unavailable();
    }
    let mut response = consent_page(&oauth, &pending, &id, &csrf, None, StatusCode::OK);
    let secure = if oauth.settings.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{cookie}={csrf}; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        CONSENT_TTL.as_secs()
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn consent_page(
    oauth: &OAuth,
    p: &Pending,
    id: &str,
    csrf: &str,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let name = p.client_name.as_deref().unwrap_or("An unnamed client");
    let returns_to = returns_to(&p.redirect_uri);
    let live = oauth.settings.account_mode.eq_ignore_ascii_case("live");
    // The account mode: a banner above the form, or (users of Alpaca sign-in, where the
    // operator allows both) a choice inside it.
    const PAPER: &str = "<p class=\"mode paper\">Paper account: simulated money.</p>";
    const LIVE: &str = "<p class=\"mode live\">LIVE account: orders use real money.</p>";
    let (mode, choice) = match oauth.connect.as_ref().map(|c| c.modes()) {
        Some(modes) if modes.len() > 1 => (
            "",
            "<fieldset><legend>Account</legend>\
             <label class=\"mode paper\"><input type=\"radio\" name=\"account\" value=\"paper\" checked> Paper account: simulated money</label><br>\
             <label class=\"mode live\"><input type=\"radio\" name=\"account\" value=\"live\"> LIVE account: orders use real money</label></fieldset>",
        ),
        Some(modes) if modes == [alpaca_mcp::Mode::Live] => (LIVE, ""),
        Some(_) => (PAPER, ""),
        None if live => (LIVE, ""),
        None => (PAPER, ""),
    };
    let (proof, approve, revoke) = if oauth.connect.is_some() {
        (
            "<p>Next you sign in at Alpaca and allow this server to use the account you picked.</p>",
            "Continue to Alpaca",
            "You can disconnect at any time: in your client, or in Alpaca's dashboard under OAuth apps.",
        )
    } else {
        (
            "<p><label for=\"passphrase\">Owner passphrase</label><br>\
             <input type=\"password\" id=\"passphrase\" name=\"passphrase\" autocomplete=\"current-password\" size=\"32\"></p>",
            "Approve",
            "You can revoke access at any time with <code>alpaca-mcp-server auth revoke</code>.",
        )
    };
    let problem = problem
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    let trade = if p.offers_trade {
        "<label><input type=\"radio\" name=\"access\" value=\"trade\"> Read and trade: also place, \
         replace and cancel orders and close positions</label>"
    } else {
        "<p>This client asked for read access only.</p>"
    };
    let toolsets = &oauth.settings.toolsets;
    let toolsets = if toolsets.len() > 1 {
        let boxes: String = toolsets
            .iter()
            .map(|t| {
                format!(
                    "<label><input type=\"checkbox\" name=\"toolset\" value=\"{t}\" checked> {t}</label><br>",
                    t = escape(t)
                )
            })
            .collect();
        format!(
            "<fieldset><legend>Toolsets</legend><p>Uncheck any this client should not use.</p>{boxes}</fieldset>"
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Connect {name} to this Alpaca MCP server?</h1>\
         {mode}\
         <p><strong>{name}</strong> (client <code>{id_shown}</code>) asks for access. After you \
         answer, you return to {returns_to}.</p>\
         {problem}\
         <form method=\"post\" action=\"/authorize\">\
         <input type=\"hidden\" name=\"request\" value=\"{id}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         {choice}\
         <fieldset><legend>Access</legend>\
         <label><input type=\"radio\" name=\"access\" value=\"read\" checked> Read only: account, \
         positions, orders and market data</label><br>{trade}</fieldset>{toolsets}\
         {proof}\
         <p><button type=\"submit\" name=\"decision\" value=\"approve\">{approve}</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></p>\
         </form>\
         <p>{revoke}</p>",
        name = escape(name),
        id_shown = escape(&p.client_id),
        id = escape(id),
        csrf = escape(csrf),
    );
    page(status, "Authorize access to your Alpaca account", &body)
}

/// Where approval returns to, as HTML for the consent page: the host of an https or
/// loopback redirect; for an app's own scheme, the scheme, said to be an app (`evilapp://
/// claude.ai/cb` is the app that handles `evilapp:` links, not claude.ai).
fn returns_to(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => match u.host_str() {
            Some(host) => format!("<strong>{}</strong>", escape(host)),
            None => format!("<code>{}</code>", escape(redirect_uri)),
        },
        Ok(u) => format!(
            "the app on your device that opens <strong>{}:</strong> links (<code>{}</code>)",
            escape(u.scheme()),
            escape(redirect_uri)
        ),
        Err(_) => format!("<code>{}</code>", escape(redirect_uri)),
    }
}

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `POST /authorize`: the owner's answer.
pub(crate) async fn decide(
    State(oauth): State<Arc<OAuth>>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerAddr>>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| {
        form.iter()
            .find(|(name, _)| name == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let id = field("request");
    let csrf = field("csrf");
    // The request must be one we showed, with the CSRF value of the page's cookie.
    let pending = match oauth.store.consent(&digest(id), now()).await {
        Ok(body) => body.and_then(|b| serde_json::from_str::<Pending>(&b).ok()),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a consent form");
            return unavailable();
        }
    };
    let pending = pending.filter(|p| {
        !csrf.is_empty()
            && same(&digest(csrf), &p.csrf_digest)
            && cookie_value(&headers, &p.cookie).is_some_and(|c| same(c, csrf))
    });
    let Some(pending) = pending else {
        oauth
            .refused_consents
            .record(&"a form that expired or did not come from the consent page (403)");
        return error_page(
            StatusCode::FORBIDDEN,
            "this form has expired or did not come from this server's consent page; start the connection again from your client",
        );
    };
    if field("decision") == "deny" {
        let p = take(&oauth, id).await;
        return match p {
            Some(p) => redirect_error(
                &oauth,
                &p.redirect_uri,
                p.state.as_deref(),
                "access_denied",
                "the owner denied access",
            ),
            None => answered(),
        };
    }
    if let Some(connect) = oauth.connect.as_ref() {
        return to_alpaca(&oauth, connect, &pending, id, csrf, &form).await;
    }
    let ip = super::client_ip(
        &headers,
        peer.as_ref().map(|p| &p.0),
        &oauth.settings.trusted_proxies,
    );
    // A browser the owner approved from before has a budget of its own; everyone else
    // shares the per-address and overall ones. The attempt is counted before the check, in
    // one step with the count, so concurrent guesses never pass the bound together.
    let now_s = now();
    let device = match cookie_value(&headers, DEVICE_COOKIE).map(digest) {
        Some(d) => match oauth.store.device(&d, now_s).await {
            Ok(true) => Some(d),
            Ok(false) => None,
            Err(e) => {
                tracing::error!(error = %e, "cannot read a remembered device");
                return unavailable();
            }
        },
        None => None,
    };
    let (limiter, key) = match &device {
        Some(d) => (&oauth.device_attempts, format!("device {d}")),
        None => (&oauth.attempts, ip.to_string()),
    };
    let Some(taken_at) = limiter.take(&*oauth.store, &key).await else {
        oauth
            .refused_consents
            .record(&format!("too many wrong passphrases from {ip} (429)"));
        return error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "too many wrong passphrases; wait 15 minutes and try again",
        );
    };
    // argon2 is slow on purpose: off the async thread, and only a few at once.
    let Ok(_permit) = oauth.verifying.acquire().await else {
        return unavailable();
    };
    let passphrase = field("passphrase").to_string();
    let oauth2 = oauth.clone();
    let right = tokio::task::spawn_blocking(move || {
        oauth2
            .owner
            .as_ref()
            .is_some_and(|owner| owner.verify(&passphrase))
    })
    .await
    .unwrap_or(false);
    drop(_permit);
    if !right {
        oauth
            .refused_consents
            .record(&format!("a wrong owner passphrase from {ip} (403)"));
        return again(
            &oauth,
            &pending,
            id,
            csrf,
            "Wrong passphrase.",
            StatusCode::FORBIDDEN,
        );
    }
    // The right one does not count against anyone.
    limiter.forget(&*oauth.store, &key, taken_at).await;
    let toolsets = match chosen_toolsets(&oauth.settings.toolsets, &form) {
        Ok(t) => t,
        Err(problem) => {
            return again(&oauth, &pending, id, csrf, problem, StatusCode::BAD_REQUEST);
        }
    };
    let Some(p) = take(&oauth, id).await else {
        return answered();
    };
    let Some(scope) = chosen_scope(&p, field("access")) else {
        return error_page(StatusCode::BAD_REQUEST, "access must be read or trade");
    };
    let code = random_token("amcp_code_");
    let record = Code {
        digest: digest(&code),
        client_id: p.client_id.clone(),
        redirect_uri: p.redirect_uri.clone(),
        challenge: p.challenge.clone(),
        scope: scope.clone(),
        resource: p.resource.clone(),
        toolsets,
        expires_at: now() + oauth.settings.code_ttl.as_secs() as i64,
        upstream: None,
    };
    if let Err(e) = oauth.store.put_code(&record).await {
        tracing::error!(error = %e, "cannot store an authorization code");
        return redirect_error(
            &oauth,
            &p.redirect_uri,
            p.state.as_deref(),
            "server_error",
            "the server cannot store the authorization now",
        );
    }
    tracing::info!(client = %p.client_id, %scope, "the owner approved an OAuth client");
    let issuer = oauth.issuer();
    let mut params = vec![("code", code.as_str()), ("iss", issuer.as_str())];
    if let Some(s) = p.state.as_deref() {
        params.push(("state", s));
    }
    let mut response = redirect_to(&p.redirect_uri, &params);
    remember_device(&oauth, device.is_some(), &mut response).await;
    response
}

/// Marks the browser the owner just approved from (unless it is marked already), so that
/// its wrong passphrases are counted on their own from now on.
async fn remember_device(oauth: &OAuth, known: bool, response: &mut Response) {
    if known {
        return;
    }
    let token = random_token("");
    if let Err(e) = oauth
        .store
        .put_device(&digest(&token), now() + DEVICE_TTL)
        .await
    {
        tracing::error!(error = %e, "cannot remember the owner's device");
        return;
    }
    let secure = if oauth.settings.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{DEVICE_COOKIE}={token}; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age={DEVICE_TTL}{secure}"
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The scope answered on the form: `read`, or `read trade` when trade was offered and picked.
fn chosen_scope(p: &Pending, access: &str) -> Option<String> {
    match access {
        "trade" if p.offers_trade => Some(format!("{SCOPE_READ} {SCOPE_TRADE}")),
        "read" | "" => Some(SCOPE_READ.to_string()),
        _ => None,
    }
}

/// `--auth alpaca`: the user's answer sends them on to Alpaca to sign in ([`super::connect`]).
async fn to_alpaca(
    oauth: &OAuth,
    connect: &super::connect::ConnectSettings,
    pending: &Pending,
    id: &str,
    csrf: &str,
    form: &[(String, String)],
) -> Response {
    let field = |k: &str| {
        form.iter()
            .find(|(name, _)| name == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let modes = connect.modes();
    let mode = match field("account") {
        "" => modes.first().copied(),
        m => super::connect::parse_mode(m).filter(|m| modes.contains(m)),
    };
    let Some(mode) = mode else {
        return again(
            oauth,
            pending,
            id,
            csrf,
            "That account is not one this server connects.",
            StatusCode::BAD_REQUEST,
        );
    };
    let toolsets = match chosen_toolsets(&oauth.settings.toolsets, form) {
        Ok(t) => t,
        Err(problem) => return again(oauth, pending, id, csrf, problem, StatusCode::BAD_REQUEST),
    };
    let Some(p) = take(oauth, id).await else {
        return answered();
    };
    let Some(scope) = chosen_scope(&p, field("access")) else {
        return error_page(StatusCode::BAD_REQUEST, "access must be read or trade");
    };
    super::connect::begin(
        oauth,
        connect,
        super::connect::SignIn {
            client_id: p.client_id,
            redirect_uri: p.redirect_uri,
            client_state: p.state,
            challenge: p.challenge,
            scope,
            resource: p.resource,
            toolsets,
            mode: mode.as_str().to_string(),
            expires_at: 0,
            browser: String::new(),
        },
    )
}

/// The toolsets the owner left checked: `None` for all of them (or when the server has one),
/// else those, in the server's order; an error when none or an unknown one is sent.
fn chosen_toolsets(
    offered: &[String],
    form: &[(String, String)],
) -> Result<Option<String>, &'static str> {
    if offered.len() < 2 {
        return Ok(None);
    }
    let sent: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "toolset")
        .map(|(_, v)| v.as_str())
        .collect();
    if sent.iter().any(|t| !offered.iter().any(|o| o == t)) {
        return Err("That toolset is not one this server offers.");
    }
    let chosen: Vec<&str> = offered
        .iter()
        .map(String::as_str)
        .filter(|o| sent.contains(o))
        .collect();
    match chosen.len() {
        0 => Err("Choose at least one toolset."),
        n if n == offered.len() => Ok(None),
        _ => Ok(Some(chosen.join(","))),
    }
}

/// The page for a form that is no longer pending.
fn answered() -> Response {
    error_page(StatusCode::FORBIDDEN, "this form has already been answered")
}

/// The same consent form again, with `problem` said on it (it stays pending).
fn again(
    oauth: &OAuth,
    p: &Pending,
    id: &str,
    csrf: &str,
    problem: &str,
    status: StatusCode,
) -> Response {
    consent_page(oauth, p, id, csrf, Some(problem), status)
}

/// The page for a store that cannot be reached.
fn unavailable() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server cannot reach its state store now; try again in a minute",
    )
}

/// Takes the form `id` (one answer only): `None` when it was answered already or expired.
async fn take(oauth: &OAuth, id: &str) -> Option<Pending> {
    match oauth.store.take_consent(&digest(id), now()).await {
        Ok(body) => body.and_then(|b| serde_json::from_str(&b).ok()),
        Err(e) => {
            tracing::error!(error = %e, "cannot take a consent form");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
