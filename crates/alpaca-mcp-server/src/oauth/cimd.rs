//! Client ID Metadata Documents: a client whose id is an https URL publishes its metadata
//! there, and we fetch it instead of asking it to register. The fetch is a request this
//! server makes to an address a stranger chose, so it is fenced (against SSRF): https only;
//! the host's every address must be public (nothing in IANA's special-purpose registries:
//! see [`is_forbidden`]) and the connection is pinned to
//! the checked address, so a second DNS answer cannot swap it; no redirects; 5 s in all; 64
//! KiB at most. `--oauth-allow-local-client-metadata` lifts the address and scheme rules for
//! local testing only. Documents are cached for ten minutes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

use super::register::check_redirect_uri;
use super::store::{Client, ClientKind};
use super::{OAuth, now};

/// Largest document fetched.
const MAX_BYTES: usize = 64 * 1024;
/// Time for the whole fetch.
const TIMEOUT: Duration = Duration::from_secs(5);
/// A fetched document is used this long before it is fetched again.
const CACHE_SECS: i64 = 600;

/// Whether a client id is a metadata document URL (as opposed to a registered id).
pub fn is_document_url(id: &str) -> bool {
    id.starts_with("https://") || id.starts_with("http://")
}

/// Whether an address is one a stranger's URL may not make us connect to: anything in
/// IANA's IPv4 and IPv6 special-purpose address registries (`iprfc`'s pinned snapshot of
/// them: loopback, private, link-local, CGNAT, documentation, benchmarking, reserved,
/// IPv4-mapped `::ffff:0:0/96`, IPv4-translated `64:ff9b::/96`, Teredo `2001::/32`, 6to4 and
/// the rest), multicast, and any IPv6 address that carries an IPv4 address which is itself
/// forbidden.
pub fn is_forbidden(ip: IpAddr) -> bool {
    if iprfc::RFC6890.contains(&ip) || ip.is_multicast() || ip.is_unspecified() {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4.octets()[0] == 0,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // Site-local (deprecated, still routed by some stacks), and the IPv4 forms.
            (s[0] & 0xffc0) == 0xfec0
                || v6.to_ipv4_mapped().is_some_and(|v4| is_forbidden(IpAddr::V4(v4)))
                || (s[0..6] == [0, 0, 0, 0, 0, 0])
                // IPv4-translated ::ffff:0:0:0/96 (RFC 2765), outside the registry.
                || (s[0..6] == [0, 0, 0, 0, 0xffff, 0])
        }
    }
}

#[derive(Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
}

impl OAuth {
    /// The client with this id: a registered one from the store, or a metadata document
    /// (cached, else fetched). The error is shown on the consent page.
    pub(crate) async fn find_client(&self, id: &str, ip: IpAddr) -> Result<Client, String> {
        let stored = self.store.client(id).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read an OAuth client");
            "the server cannot read its client records now".to_string()
        })?;
        if !is_document_url(id) {
            return stored.ok_or_else(|| {
                "this client is not registered here (its registration may have expired: remove and add the connector again)".into()
            });
        }
        if let Some(c) = stored
            && c.kind == ClientKind::MetadataDocument
            && now() - c.created_at < CACHE_SECS
        {
            return Ok(c);
        }
        // A fetch is counted with registrations: strangers cannot make this server fetch
        // without bound (from /authorize or from the unauthenticated /token).
        if self
            .registrations
            .take(&*self.store, &ip.to_string())
            .await
            .is_none()
        {
            return Err("too many client registrations or client metadata fetches from this address; try again later".into());
        }
        let client = self.fetch_document(id).await?;
        if let Err(e) = self.store.put_client(&client).await {
            tracing::warn!(error = %e, "cannot cache a client metadata document");
        }
        Ok(client)
    }

    async fn fetch_document(&self, id: &str) -> Result<Client, String> {
        let local = self.settings.allow_local_client_metadata;
        let url = url::Url::parse(id).map_err(|e| format!("the client id is not a URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if local => {}
            _ => return Err("a client id URL must be https".into()),
        }
        if url.path() == "/" || url.fragment().is_some() || !url.username().is_empty() {
            return Err("a client id URL must have a path and no fragment or credentials".into());
        }
        let host = url
            .host_str()
            .ok_or("the client id URL has no host")?
            .to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((bare.as_str(), port)))
                .await
                .map_err(|_| "resolving the client id's host timed out".to_string())?
                .map_err(|e| format!("cannot resolve the client id's host ({e})"))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err("the client id's host has no address".into());
        }
        if !local && addrs.iter().any(|a| is_forbidden(a.ip())) {
            return Err(
                "the client id URL points at a private, loopback or reserved address; this server does not fetch from those"
                    .into(),
            );
        }
        let pinned = addrs[0];
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .resolve(&bare, pinned)
            .user_agent(concat!("alpaca-mcp-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot fetch the client metadata document ({e})"))?;
        let fetch = async {
            let mut response = http
                .get(url.clone())
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "cannot fetch the client metadata document ({})",
                        e.without_url()
                    )
                })?;
            if !response.status().is_success() {
                return Err(format!(
                    "the client metadata document answered HTTP {}",
                    response.status().as_u16()
                ));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| {
                format!(
                    "cannot read the client metadata document ({})",
                    e.without_url()
                )
            })? {
                if body.len() + chunk.len() > MAX_BYTES {
                    return Err(format!(
                        "the client metadata document is larger than {MAX_BYTES} bytes"
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        let body = tokio::time::timeout(TIMEOUT, fetch)
            .await
            .map_err(|_| "fetching the client metadata document timed out".to_string())??;
        let doc: Document = serde_json::from_slice(&body).map_err(|e| {
            format!("the client metadata document is not valid client metadata ({e})")
        })?;
        if doc.client_id != id {
            return Err("the client metadata document's client_id is not its own URL".into());
        }
        if doc.redirect_uris.is_empty() {
            return Err("the client metadata document has no redirect_uris".into());
        }
        for uri in &doc.redirect_uris {
            check_redirect_uri(uri)?;
        }
        if !matches!(
            doc.token_endpoint_auth_method.as_deref(),
            None | Some("none")
        ) {
            return Err("a client metadata document client must be public (token_endpoint_auth_method none)".into());
        }
        Ok(Client {
            id: id.to_string(),
            name: doc
                .client_name
                .as_deref()
                .and_then(super::register::display_name),
            redirect_uris: doc.redirect_uris,
            secret_digest: None,
            kind: ClientKind::MetadataDocument,
            created_at: now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
            // The probe's: IPv4-translated and Teredo, and every IPv4 form inside IPv6.
            "::ffff:0:a00:1",
            "::ffff:0:7f00:1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "64:ff9b:1::a00:1",
            "::ffff:8.8.8.8",
            "100.64.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "ff02::1",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }
}
