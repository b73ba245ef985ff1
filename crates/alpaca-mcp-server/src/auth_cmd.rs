//! `alpaca-mcp-server auth list|revoke|hash-passphrase|rekey`: the operator's view of
//! connected OAuth clients (and, with `--auth alpaca`, of their users' Alpaca sign-ins), on the
//! state in `--state-dir` or `--state` (the running server sees a revocation on the
//! client's next request, since it checks the store on every request).

use std::io::Read;
use std::process::ExitCode;

use alpaca_mcp::settings::Lookup;
use alpaca_mcp_server::cli::{AuthCommand, Settings};
use alpaca_mcp_server::http::settings::{
    self, grant_idle, no_token_key, state_dir, state_url, token_keys,
};
use alpaca_mcp_server::oauth::secret::hash_passphrase;
use alpaca_mcp_server::oauth::sqlite::{FILE_NAME, Sqlite};
use alpaca_mcp_server::oauth::{self, Store};
use serde_json::json;

use crate::SetupError;

pub async fn run(
    action: AuthCommand,
    settings: &Settings,
    lookup: &Lookup,
) -> anyhow::Result<ExitCode> {
    let (list_json, revoke) = match action {
        AuthCommand::HashPassphrase => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            let passphrase = text.lines().next().unwrap_or_default();
            let phc = hash_passphrase(passphrase).map_err(SetupError)?;
            println!("{phc}");
            return Ok(ExitCode::SUCCESS);
        }
        AuthCommand::List { json } => (Some(json), None),
        AuthCommand::Revoke { id, all } => (None, Some((id, all))),
        AuthCommand::Rekey => return rekey(settings, lookup).await,
    };
    let store = open_store(settings, lookup).await?;
    let idle = grant_idle(settings, lookup)?.as_secs() as i64;
    if let Some(json) = list_json {
        let grants = store.grants(oauth::now(), idle).await?;
        if json {
            let rows: Vec<_> = grants
                .iter()
                .map(|g| {
                    json!({
                        "id": g.grant.id,
                        "client_id": g.grant.client_id,
                        "client_name": g.client_name,
                        "redirect_hosts": redirect_hosts(&g.redirect_uris),
                        "scope": g.grant.scope,
                        "toolsets": g.grant.toolsets,
                        "created_at": g.grant.created_at,
                        "last_used": g.grant.last_used,
                        "account_mode": g.grant.upstream.as_ref().map(|u| &u.mode),
                        "alpaca_account": g.grant.upstream.as_ref().map(|u| &u.account),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else if grants.is_empty() {
            println!("No connected clients.");
        } else {
            println!(
                "{:<16}  {:<28}  {:<24}  {:<10}  {:<19}  LAST USED (UTC)",
                "ID", "CLIENT", "REDIRECT HOST", "SCOPE", "ALPACA ACCOUNT"
            );
            for g in &grants {
                // Shown as the owner must read it: controls as spaces, invisible characters
                // (bidi, zero-width, separators) as their code points.
                let name: String = g
                    .client_name
                    .as_deref()
                    .and_then(alpaca_mcp_server::oauth::register::display_name)
                    .unwrap_or_else(|| "(unnamed)".into())
                    .chars()
                    .take(28)
                    .collect();
                // An Alpaca sign-in's mode and the start of its account id.
                let account = g.grant.upstream.as_ref().map_or("-".to_string(), |u| {
                    format!(
                        "{} {}",
                        u.mode,
                        u.account.chars().take(13).collect::<String>()
                    )
                });
                println!(
                    "{:<16}  {:<28}  {:<24}  {:<10}  {:<19}  {}",
                    g.grant.id,
                    name,
                    redirect_hosts(&g.redirect_uris).join(","),
                    g.grant.scope,
                    account,
                    timestamp(g.grant.last_used)
                );
            }
        }
    }
    if let Some((id, all)) = revoke {
        if all {
            let n = store.revoke_all().await?;
            println!("Revoked {n} grant(s).");
        } else if let Some(id) = id {
            if !store.revoke_grant(&id).await? {
                return Err(SetupError(format!("no live grant {id:?} (see `auth list`)")).into());
            }
            println!("Revoked grant {id}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The state: in PostgreSQL with `--state`, else in `--state-dir`, which must exist (a
/// mistyped directory is not made empty).
async fn open_store(
    settings: &Settings,
    lookup: &Lookup,
) -> Result<std::sync::Arc<dyn Store>, SetupError> {
    if state_url(settings, lookup)?.is_some() {
        return settings::open_store(settings, lookup).await;
    }
    let dir = state_dir(settings, lookup)?;
    if !dir.join(FILE_NAME).exists() {
        return Err(SetupError(format!(
            "no OAuth state in {} (the server creates it when it runs with --auth owner or --auth alpaca; pass the same --state-dir)",
            dir.display()
        )));
    }
    let store = Sqlite::open(&dir).map_err(|e| SetupError(e.to_string()))?;
    Ok(std::sync::Arc::new(store))
}

/// `auth rekey`: every stored Alpaca token not sealed with the first key is opened with the
/// ring and sealed again with the first key. One that opens with no key given is reported by
/// its sign-in's id (its user must sign in again), and the rest go on.
async fn rekey(settings: &Settings, lookup: &Lookup) -> anyhow::Result<ExitCode> {
    let keys = token_keys(lookup)?
        .ok_or_else(|| no_token_key("`auth rekey` seals the stored Alpaca tokens again"))?;
    let store = open_store(settings, lookup).await?;
    let (mut resealed, mut current, mut lost) = (0, 0, Vec::new());
    for up in store.upstreams().await? {
        if keys.is_current(&up.sealed) {
            current += 1;
            continue;
        }
        match keys.open(&up.sealed, &up.id) {
            Ok(token) => {
                store.reseal(&up.id, &keys.seal(&token, &up.id)).await?;
                resealed += 1;
            }
            Err(why) => lost.push(format!("{} ({why})", up.id)),
        }
    }
    println!(
        "Sealed {resealed} Alpaca token(s) again with key {}; {current} already were.",
        keys.sealing_id()
    );
    if !lost.is_empty() {
        println!(
            "{} could not be opened with any key given; their users must sign in again: {}",
            lost.len(),
            lost.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn redirect_hosts(uris: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = uris
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| {
            u.host_str()
                .map_or_else(|| u.scheme().to_string(), str::to_string)
        })
        .collect();
    hosts.dedup();
    hosts
}

fn timestamp(unix: i64) -> String {
    let (days, rem) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = alpaca_mcp::runtime::checks::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}
