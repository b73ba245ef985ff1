//! The [`Store`] for several replicas: PostgreSQL (`--state postgres://...`), through
//! `tokio-postgres` with a `deadpool-postgres` pool. The schema is the SQLite store's, from
//! the same migrations ([`super::migrations`]); the version is kept in `alpaca_mcp_schema`,
//! and replicas starting together migrate one at a time (an advisory lock).
//!
//! Everything that must not race is one transaction whose rows are locked (`FOR UPDATE`):
//! two replicas redeeming one code, or rotating one refresh token, see one winner. Statements
//! are prepared once per connection, so a warm call is one round trip per statement.
//!
//! TLS: the URL's `sslmode` decides, as with libpq: `disable`; `prefer` (the default) and
//! `require` encrypt without checking the server's certificate; `verify-full` (or
//! `verify-ca`) encrypts and checks it against the platform's trusted roots (rustls with the
//! platform verifier), which is what a database across a network wants. The URL's
//! password is never shown: [`Postgres`]'s `Debug` and every message name the database by
//! its host, port and name only.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::migrations::{MIGRATIONS, SCHEMA_VERSION};
use super::store::{
    Client, ClientKind, Code, CodeUse, ConsentForm, ConsentLimits, Fut, Grant, GrantView, Issued,
    Refresh, Store, StoreError, Upstream,
};

/// Connections each replica keeps open at most.
pub const POOL_SIZE: usize = 16;

/// The advisory lock key migrations hold (any constant; "amcp" in ASCII).
const MIGRATION_LOCK: i64 = 0x616d_6370;

/// The PostgreSQL store.
pub struct Postgres {
    pool: Pool,
    /// `host:port/dbname`, for messages.
    shown: String,
    /// Statements run since start (tests check both replicas of a race did work).
    statements: AtomicU64,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Postgres({})", self.shown)
    }
}

/// Whether `value` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(value: &str) -> bool {
    let v = value.trim_start();
    v.starts_with("postgres://") || v.starts_with("postgresql://")
}

/// `host:port/dbname` of a parsed configuration: what messages show of it.
fn shown(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// `url` as tokio-postgres reads it, and whether the server's certificate is to be checked:
/// libpq's `verify-full` and `verify-ca` become `require` with checking, the rest stay.
fn ssl_mode(url: &str) -> (String, bool) {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return (url.to_string(), false);
    };
    let mut verify = false;
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            if k == "sslmode" && (v == "verify-full" || v == "verify-ca") {
                verify = true;
                (k.into_owned(), "require".to_string())
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    if !verify {
        return (url.to_string(), false);
    }
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    (parsed.to_string(), true)
}

/// TLS that encrypts without checking who the server is (libpq's `prefer` and `require`):
/// the handshake's signatures are still verified, the certificate's chain and name are not.
fn unverified_tls() -> Result<rustls::ClientConfig, StoreError> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("TLS for PostgreSQL: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(config)
}

/// The certificate check of [`unverified_tls`]: any certificate, properly signed handshakes.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// A database error said fully: tokio-postgres's `Display` says only "db error", its source
/// says what (never the password: the server does not echo it).
fn db(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => StoreError(format!("{}: {}", d.code().code(), d.message())),
        None => StoreError(
            std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}")),
        ),
    }
}

impl Postgres {
    /// Connects to `url` and migrates its schema. Errors name the database without its
    /// password.
    pub async fn connect(url: &str) -> Result<Postgres, StoreError> {
        let (url, verify) = ssl_mode(url.trim());
        let config = tokio_postgres::Config::from_str(&url).map_err(|_| {
            StoreError(
                "the PostgreSQL URL is not one (expected postgres://USER:PASSWORD@HOST:PORT/DB, \
                 sslmode disable, prefer, require or verify-full)"
                    .into(),
            )
        })?;
        let shown = shown(&config);
        let tls = {
            let config = if verify {
                use rustls_platform_verifier::ConfigVerifierExt;
                rustls::ClientConfig::with_platform_verifier()
                    .map_err(|e| err(format!("TLS for PostgreSQL: {e}")))?
            } else {
                unverified_tls()?
            };
            tokio_postgres_rustls::MakeRustlsConnect::new(config)
        };
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(err)?;
        let store = Postgres {
            pool,
            shown,
            statements: AtomicU64::new(0),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// `host:port/dbname`.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Statements run since start.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => {
                StoreError(format!("PostgreSQL at {}: {}", self.shown, db(e).0))
            }
            other => StoreError(format!("PostgreSQL at {}: {other}", self.shown)),
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS alpaca_mcp_schema (version BIGINT NOT NULL)")
            .await
            .map_err(db)?;
        let version: i64 = match tx
            .query_opt("SELECT version FROM alpaca_mcp_schema", &[])
            .await
            .map_err(db)?
        {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO alpaca_mcp_schema (version) VALUES (0)", &[])
                    .await
                    .map_err(db)?;
                0
            }
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError(format!(
                "the database {} has schema version {version}, newer than this build's \
                 {SCHEMA_VERSION}: run a newer alpaca-mcp-server",
                self.shown
            )));
        }
        for sql in MIGRATIONS.iter().skip(version as usize) {
            tx.batch_execute(sql).await.map_err(db)?;
        }
        tx.execute(
            "UPDATE alpaca_mcp_schema SET version = $1",
            &[&SCHEMA_VERSION],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    /// One statement outside a transaction, on a pooled connection.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.on().await?.execute(sql, params).await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        self.on().await?.query_opt(sql, params).await
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.on().await?.query(sql, params).await
    }

    /// A pooled connection's statements.
    async fn on(&self) -> Result<Tx<'_, deadpool_postgres::Client>, StoreError> {
        Ok(Tx {
            tx: self.client().await?,
            store: self,
        })
    }

    fn count(&self, n: u64) {
        self.statements.fetch_add(n, Ordering::Relaxed);
    }
}

/// Statements on `C`, a pooled connection or a transaction on one: prepared through the
/// pool's statement cache (once per connection), then run, and counted.
struct Tx<'a, C> {
    tx: C,
    store: &'a Postgres,
}

/// A transaction's statements.
type InTx<'a> = Tx<'a, deadpool_postgres::Transaction<'a>>;

impl<C: GenericClient> Tx<'_, C> {
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let stmt = self.tx.prepare_cached(sql).await.map_err(db)?;
        self.store.count(1);
        self.tx.execute(&stmt, params).await.map_err(db)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let stmt = self.tx.prepare_cached(sql).await.map_err(db)?;
        self.store.count(1);
        self.tx.query_opt(&stmt, params).await.map_err(db)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let stmt = self.tx.prepare_cached(sql).await.map_err(db)?;
        self.store.count(1);
        self.tx.query(&stmt, params).await.map_err(db)
    }
}

impl InTx<'_> {
    async fn commit(self) -> Result<(), StoreError> {
        self.store.count(1);
        self.tx.commit().await.map_err(db)
    }
}

/// Runs `f` in a transaction on a pooled connection (committed when `f` returns `Ok`).
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut client = $store.client().await?;
        let inner = client.transaction().await.map_err(db)?;
        $store.count(1);
        let $tx = Tx {
            tx: inner,
            store: $store,
        };
        let out = $body;
        $tx.commit().await?;
        Ok(out)
    }};
}

fn grant_row(r: &Row) -> Result<Grant, StoreError> {
    let get_s = |c: &str| r.try_get::<_, String>(c).map_err(err);
    let get_i = |c: &str| r.try_get::<_, i64>(c).map_err(err);
    Ok(Grant {
        id: get_s("id")?,
        client_id: get_s("client_id")?,
        scope: get_s("scope")?,
        resource: get_s("resource")?,
        toolsets: r.try_get("toolsets").map_err(err)?,
        created_at: get_i("created_at")?,
        last_used: get_i("last_used")?,
        upstream: match r.try_get::<_, Option<String>>("upstream_id").map_err(err)? {
            Some(id) => Some(Upstream {
                id,
                sealed: get_s("u_sealed")?,
                mode: get_s("u_mode")?,
                account: get_s("u_account")?,
            }),
            None => None,
        },
    })
}

/// A grant's columns with its Alpaca sign-in's (`grants g`, `upstream u`).
const GRANT: &str = "g.*, u.sealed AS u_sealed, u.mode AS u_mode, u.account AS u_account";
/// The join that [`GRANT`] reads from.
const UPSTREAM_JOIN: &str = "LEFT JOIN upstream u ON u.id = g.upstream_id";

fn uris(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

async fn insert_tokens(tx: &InTx<'_>, grant: &str, issued: &Issued) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO tokens (digest, grant_id, kind, expires_at) VALUES ($1, $2, 'access', $3), ($4, $2, 'refresh', $5)",
        &[
            &issued.access_digest,
            &grant,
            &issued.access_expires,
            &issued.refresh_digest,
            &issued.refresh_expires,
        ],
    )
    .await?;
    Ok(())
}

async fn end_grant(tx: &InTx<'_>, grant: &str) -> Result<bool, StoreError> {
    // The user's Alpaca token goes with the grant.
    tx.execute(
        "DELETE FROM upstream WHERE id = (SELECT upstream_id FROM grants WHERE id = $1)",
        &[&grant],
    )
    .await?;
    let n = tx
        .execute(
            "UPDATE grants SET revoked = 1 WHERE id = $1 AND revoked = 0",
            &[&grant],
        )
        .await?;
    tx.execute("DELETE FROM tokens WHERE grant_id = $1", &[&grant])
        .await?;
    Ok(n > 0)
}

/// The condition of a live grant `g`: not revoked, used within `idle` seconds of `now`
/// (the numbers of those two parameters).
fn live_grant(now: u8, idle: u8) -> String {
    format!("g.revoked = 0 AND g.last_used > ${now}::BIGINT - ${idle}::BIGINT")
}

impl Store for Postgres {
    fn put_client<'a>(&'a self, c: &'a Client) -> Fut<'a, ()> {
        Box::pin(async move {
            let uris = serde_json::to_string(&c.redirect_uris).unwrap_or_default();
            self.execute(
                "INSERT INTO clients (id, name, redirect_uris, secret_digest, kind, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                   redirect_uris = EXCLUDED.redirect_uris, secret_digest = EXCLUDED.secret_digest,
                   kind = EXCLUDED.kind, created_at = EXCLUDED.created_at",
                &[
                    &c.id,
                    &c.name,
                    &uris,
                    &c.secret_digest,
                    &c.kind.as_str(),
                    &c.created_at,
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn client<'a>(&'a self, id: &'a str) -> Fut<'a, Option<Client>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT id, name, redirect_uris, secret_digest, kind, created_at FROM clients WHERE id = $1",
                    &[&id],
                )
                .await?;
            row.map(|r| {
                Ok(Client {
                    id: r.try_get(0).map_err(err)?,
                    name: r.try_get(1).map_err(err)?,
                    redirect_uris: uris(&r.try_get::<_, String>(2).map_err(err)?),
                    secret_digest: r.try_get(3).map_err(err)?,
                    kind: ClientKind::parse(&r.try_get::<_, String>(4).map_err(err)?),
                    created_at: r.try_get(5).map_err(err)?,
                })
            })
            .transpose()
        })
    }

    fn put_code<'a>(&'a self, c: &'a Code) -> Fut<'a, ()> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO codes (digest, client_id, redirect_uri, challenge, scope, resource, toolsets, expires_at, upstream_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &c.digest,
                    &c.client_id,
                    &c.redirect_uri,
                    &c.challenge,
                    &c.scope,
                    &c.resource,
                    &c.toolsets,
                    &c.expires_at,
                    &c.upstream,
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn redeem_code<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, CodeUse> {
        Box::pin(async move {
            in_tx!(self, |tx| {
                let row = tx
                    .query_opt(
                        "SELECT client_id, redirect_uri, challenge, scope, resource, toolsets, expires_at, used, grant_id, upstream_id
                         FROM codes WHERE digest = $1 FOR UPDATE",
                        &[&digest],
                    )
                    .await?;
                match row {
                    None => CodeUse::Unknown,
                    Some(r) if r.try_get::<_, i64>(7).map_err(err)? != 0 => CodeUse::Replayed {
                        grant: r.try_get(8).map_err(err)?,
                    },
                    Some(r) => {
                        let code = Code {
                            digest: digest.to_string(),
                            client_id: r.try_get(0).map_err(err)?,
                            redirect_uri: r.try_get(1).map_err(err)?,
                            challenge: r.try_get(2).map_err(err)?,
                            scope: r.try_get(3).map_err(err)?,
                            resource: r.try_get(4).map_err(err)?,
                            toolsets: r.try_get(5).map_err(err)?,
                            expires_at: r.try_get(6).map_err(err)?,
                            upstream: r.try_get(9).map_err(err)?,
                        };
                        if code.expires_at <= now {
                            tx.execute("DELETE FROM codes WHERE digest = $1", &[&digest])
                                .await?;
                            CodeUse::Expired
                        } else {
                            tx.execute("UPDATE codes SET used = 1 WHERE digest = $1", &[&digest])
                                .await?;
                            CodeUse::Fresh(code)
                        }
                    }
                }
            })
        })
    }

    fn start_grant<'a>(&'a self, code: &'a str, g: &'a Grant, issued: &'a Issued) -> Fut<'a, ()> {
        Box::pin(async move {
            in_tx!(self, |tx| {
                tx.execute(
                    // The grant acts with the Alpaca sign-in its code names, if any.
                    "INSERT INTO grants (id, client_id, scope, resource, toolsets, created_at, last_used, upstream_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT upstream_id FROM codes WHERE digest = $8))",
                    &[
                        &g.id,
                        &g.client_id,
                        &g.scope,
                        &g.resource,
                        &g.toolsets,
                        &g.created_at,
                        &g.last_used,
                        &code,
                    ],
                )
                .await?;
                insert_tokens(&tx, &g.id, issued).await?;
                tx.execute(
                    "UPDATE codes SET grant_id = $2 WHERE digest = $1",
                    &[&code, &g.id],
                )
                .await?;
            })
        })
    }

    fn access<'a>(&'a self, digest: &'a str, now: i64, idle: i64) -> Fut<'a, Option<Grant>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {GRANT} FROM tokens t JOIN grants g ON g.id = t.grant_id {UPSTREAM_JOIN}
                 WHERE t.digest = $1 AND t.kind = 'access' AND t.expires_at > $2 AND {}",
                live_grant(2, 3)
            );
            let row = self.query_opt(&sql, &[&digest, &now, &idle]).await?;
            row.as_ref().map(grant_row).transpose()
        })
    }

    fn touch<'a>(&'a self, grant: &'a str, now: i64) -> Fut<'a, ()> {
        Box::pin(async move {
            self.execute(
                "UPDATE grants SET last_used = $2 WHERE id = $1 AND last_used < $2",
                &[&grant, &now],
            )
            .await?;
            Ok(())
        })
    }

    fn refresh<'a>(
        &'a self,
        digest: &'a str,
        client_id: &'a str,
        now: i64,
        idle: i64,
        issued: &'a Issued,
    ) -> Fut<'a, Refresh> {
        Box::pin(async move {
            in_tx!(self, |tx| {
                let sql = format!(
                    "SELECT {GRANT}, t.rotated AS rotated FROM tokens t JOIN grants g ON g.id = t.grant_id {UPSTREAM_JOIN}
                     WHERE t.digest = $1 AND t.kind = 'refresh' AND t.expires_at > $2 AND {}
                     FOR UPDATE OF t",
                    live_grant(2, 3)
                );
                let row = tx.query_opt(&sql, &[&digest, &now, &idle]).await?;
                let row = match row {
                    None => None,
                    Some(r) => Some((
                        grant_row(&r)?,
                        r.try_get::<_, i64>("rotated").map_err(err)? != 0,
                    )),
                };
                match row {
                    None => Refresh::Invalid,
                    Some((grant, _)) if grant.client_id != client_id => Refresh::Invalid,
                    Some((grant, true)) => {
                        end_grant(&tx, &grant.id).await?;
                        Refresh::Replayed { grant: grant.id }
                    }
                    Some((grant, false)) => {
                        // The spent token stays (marked) so that a replay is recognized.
                        tx.execute(
                            "UPDATE tokens SET rotated = 1 WHERE digest = $1",
                            &[&digest],
                        )
                        .await?;
                        insert_tokens(&tx, &grant.id, issued).await?;
                        tx.execute(
                            "UPDATE grants SET last_used = $2 WHERE id = $1",
                            &[&grant.id, &now],
                        )
                        .await?;
                        Refresh::Rotated(Box::new(grant))
                    }
                }
            })
        })
    }

    fn revoke_token<'a>(&'a self, digest: &'a str, client_id: &'a str) -> Fut<'a, bool> {
        Box::pin(async move {
            in_tx!(self, |tx| {
                let row = tx
                    .query_opt(
                        "SELECT t.grant_id, t.kind FROM tokens t JOIN grants g ON g.id = t.grant_id \
                         WHERE t.digest = $1 AND g.client_id = $2 FOR UPDATE OF t",
                        &[&digest, &client_id],
                    )
                    .await?;
                match row {
                    None => false,
                    Some(r) => {
                        let grant: String = r.try_get(0).map_err(err)?;
                        let kind: String = r.try_get(1).map_err(err)?;
                        if kind == "refresh" {
                            end_grant(&tx, &grant).await?;
                            true
                        } else {
                            tx.execute("DELETE FROM tokens WHERE digest = $1", &[&digest])
                                .await?
                                > 0
                        }
                    }
                }
            })
        })
    }

    fn revoke_grant<'a>(&'a self, id: &'a str) -> Fut<'a, bool> {
        Box::pin(async move { in_tx!(self, |tx| { end_grant(&tx, id).await? }) })
    }

    fn revoke_all(&self) -> Fut<'_, usize> {
        Box::pin(async move {
            in_tx!(self, |tx| {
                let n = tx
                    .execute("UPDATE grants SET revoked = 1 WHERE revoked = 0", &[])
                    .await?;
                tx.execute("DELETE FROM tokens", &[]).await?;
                tx.execute("DELETE FROM upstream", &[]).await?;
                n as usize
            })
        })
    }

    fn grants(&self, now: i64, idle: i64) -> Fut<'_, Vec<GrantView>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {GRANT}, c.name AS client_name, c.redirect_uris AS redirect_uris
                 FROM grants g LEFT JOIN clients c ON c.id = g.client_id {UPSTREAM_JOIN}
                 WHERE {} ORDER BY g.last_used DESC",
                live_grant(1, 2)
            );
            let rows = self.query(&sql, &[&now, &idle]).await?;
            rows.iter()
                .map(|r| {
                    Ok(GrantView {
                        grant: grant_row(r)?,
                        client_name: r.try_get("client_name").map_err(err)?,
                        redirect_uris: r
                            .try_get::<_, Option<String>>("redirect_uris")
                            .map_err(err)?
                            .map(|j| uris(&j))
                            .unwrap_or_default(),
                    })
                })
                .collect()
        })
    }

    fn purge(&self, now: i64, idle: i64, unused_client_age: i64) -> Fut<'_, ()> {
        Box::pin(async move {
            in_tx!(self, |tx| {
                // Used codes are kept until they expire, so that a replay is recognized.
                tx.execute("DELETE FROM codes WHERE expires_at <= $1", &[&now])
                    .await?;
                tx.execute(
                    "DELETE FROM tokens WHERE expires_at <= $1 OR grant_id IN
                     (SELECT id FROM grants WHERE revoked = 1 OR last_used <= $1::BIGINT - $2::BIGINT)",
                    &[&now, &idle],
                )
                .await?;
                tx.execute(
                    "DELETE FROM grants WHERE revoked = 1 OR last_used <= $1::BIGINT - $2::BIGINT",
                    &[&now, &idle],
                )
                .await?;
                tx.execute(
                    "DELETE FROM upstream WHERE
                     id NOT IN (SELECT upstream_id FROM grants WHERE upstream_id IS NOT NULL)
                     AND id NOT IN (SELECT upstream_id FROM codes WHERE upstream_id IS NOT NULL)
                     AND created_at <= $1::BIGINT - 3600",
                    &[&now],
                )
                .await?;
                tx.execute(
                    "DELETE FROM clients WHERE created_at <= $1::BIGINT - $2::BIGINT
                     AND id NOT IN (SELECT client_id FROM grants)
                     AND id NOT IN (SELECT client_id FROM codes)",
                    &[&now, &unused_client_age],
                )
                .await?;
                tx.execute("DELETE FROM consents WHERE expires_at <= $1", &[&now])
                    .await?;
            })
        })
    }

    fn put_upstream<'a>(&'a self, u: &'a Upstream, now: i64) -> Fut<'a, ()> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO upstream (id, sealed, mode, account, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&u.id, &u.sealed, &u.mode, &u.account, &now],
            )
            .await?;
            Ok(())
        })
    }

    fn upstreams(&self) -> Fut<'_, Vec<Upstream>> {
        Box::pin(async move {
            let rows = self
                .query("SELECT id, sealed, mode, account FROM upstream", &[])
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Upstream {
                        id: r.try_get(0).map_err(err)?,
                        sealed: r.try_get(1).map_err(err)?,
                        mode: r.try_get(2).map_err(err)?,
                        account: r.try_get(3).map_err(err)?,
                    })
                })
                .collect()
        })
    }

    fn reseal<'a>(&'a self, id: &'a str, sealed: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.execute(
                "UPDATE upstream SET sealed = $2 WHERE id = $1",
                &[&id, &sealed],
            )
            .await?;
            Ok(())
        })
    }

    fn put_consent<'a>(
        &'a self,
        form: &'a ConsentForm,
        now: i64,
        expires_at: i64,
        limits: ConsentLimits,
    ) -> Fut<'a, ()> {
        Box::pin(async move {
            in_tx!(self, |tx| {
                // One at a time, so that the counts hold across replicas.
                tx.execute("LOCK TABLE consents IN SHARE ROW EXCLUSIVE MODE", &[])
                    .await?;
                tx.execute("DELETE FROM consents WHERE expires_at <= $1", &[&now])
                    .await?;
                // The oldest of the form's address, then of its client, then of everyone,
                // until each is under its bound with room for this one.
                for (filter, value, bound) in [
                    ("addr = $1", form.addr.as_str(), limits.per_addr),
                    ("client_id = $1", form.client_id.as_str(), limits.per_client),
                    ("$1::text = $1::text", "", limits.total),
                ] {
                    let n: i64 = tx
                        .query_opt(
                            &format!("SELECT count(*) FROM consents WHERE {filter}"),
                            &[&value],
                        )
                        .await?
                        .map_or(Ok(0), |r| r.try_get(0).map_err(err))?;
                    let over = n + 1 - bound.max(1) as i64;
                    if over > 0 {
                        tx.execute(
                            &format!(
                                "DELETE FROM consents WHERE digest IN (SELECT digest FROM consents \
                                 WHERE {filter} ORDER BY created_at, digest LIMIT $2)"
                            ),
                            &[&value, &over],
                        )
                        .await?;
                    }
                }
                tx.execute(
                    "INSERT INTO consents (digest, body, expires_at, client_id, addr, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &form.digest,
                        &form.body,
                        &expires_at,
                        &form.client_id,
                        &form.addr,
                        &now,
                    ],
                )
                .await?;
            })
        })
    }

    fn consent<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT body FROM consents WHERE digest = $1 AND expires_at > $2",
                    &[&digest, &now],
                )
                .await?;
            row.map(|r| r.try_get(0).map_err(err)).transpose()
        })
    }

    fn take_consent<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "DELETE FROM consents WHERE digest = $1 RETURNING body, expires_at",
                    &[&digest],
                )
                .await?;
            match row {
                Some(r) if r.try_get::<_, i64>(1).map_err(err)? > now => {
                    r.try_get(0).map(Some).map_err(err)
                }
                _ => Ok(None),
            }
        })
    }

    fn count_events<'a>(&'a self, kind: &'a str, ip: &'a str, since: i64) -> Fut<'a, (u64, u64)> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT count(*) FILTER (WHERE ip = $2), count(*) FROM limit_events
                     WHERE kind = $1 AND at >= $3",
                    &[&kind, &ip, &since],
                )
                .await?;
            let get = |i| {
                row.as_ref()
                    .map_or(Ok(0), |r| r.try_get::<_, i64>(i).map_err(err))
            };
            Ok((get(0)? as u64, get(1)? as u64))
        })
    }

    fn take_event<'a>(
        &'a self,
        kind: &'a str,
        key: &'a str,
        now: i64,
        since: i64,
        (per_key, total): (u64, u64),
    ) -> Fut<'a, bool> {
        Box::pin(async move {
            in_tx!(self, |tx| {
                // One at a time over every replica: the count and the insert are one step.
                tx.execute("LOCK TABLE limit_events IN SHARE ROW EXCLUSIVE MODE", &[])
                    .await?;
                tx.execute(
                    "DELETE FROM limit_events WHERE kind = $1 AND at < $2",
                    &[&kind, &since],
                )
                .await?;
                let row = tx
                    .query_opt(
                        "SELECT count(*) FILTER (WHERE ip = $2), count(*) FROM limit_events \
                         WHERE kind = $1",
                        &[&kind, &key],
                    )
                    .await?;
                let get = |i| {
                    row.as_ref()
                        .map_or(Ok(0), |r| r.try_get::<_, i64>(i).map_err(err))
                };
                let (mine, all) = (get(0)? as u64, get(1)? as u64);
                let room = mine < per_key && (total == 0 || all < total);
                if room {
                    tx.execute(
                        "INSERT INTO limit_events (kind, ip, at) VALUES ($1, $2, $3)",
                        &[&kind, &key, &now],
                    )
                    .await?;
                }
                room
            })
        })
    }

    fn forget_event<'a>(&'a self, kind: &'a str, key: &'a str, at: i64) -> Fut<'a, ()> {
        Box::pin(async move {
            self.execute(
                "DELETE FROM limit_events WHERE ctid = (SELECT ctid FROM limit_events \
                 WHERE kind = $1 AND ip = $2 AND at = $3 LIMIT 1)",
                &[&kind, &key, &at],
            )
            .await?;
            Ok(())
        })
    }

    fn put_device<'a>(&'a self, digest: &'a str, expires_at: i64) -> Fut<'a, ()> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO devices (digest, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                &[&digest, &expires_at],
            )
            .await?;
            Ok(())
        })
    }

    fn device<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, bool> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT count(*) FROM devices WHERE digest = $1 AND expires_at > $2",
                    &[&digest, &now],
                )
                .await?;
            let n: i64 = row.map_or(Ok(0), |r| r.try_get(0).map_err(err))?;
            Ok(n > 0)
        })
    }
}

/// The safety ledger ([`alpaca_mcp::ledger`]) in the same database, sharing the store's
/// pool: what makes a call held at one replica confirmable at another exactly once, and a
/// caller's order limit count every replica's orders.
#[derive(Clone)]
pub struct PgLedger(Arc<Postgres>);

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgLedger({})", self.0.shown)
    }
}

impl PgLedger {
    /// The ledger in `store`'s database.
    pub fn new(store: Arc<Postgres>) -> PgLedger {
        PgLedger(store)
    }
}

fn said(e: StoreError) -> String {
    e.0
}

impl alpaca_mcp::ledger::Ledger for PgLedger {
    fn hold<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        body: &'a str,
        expires_at: i64,
    ) -> alpaca_mcp::ledger::LedgerFut<'a, ()> {
        Box::pin(async move {
            let now = alpaca_mcp::ledger::now_ms();
            let s = &*self.0;
            let r: Result<(), StoreError> = async {
                in_tx!(s, |tx| {
                    tx.execute("DELETE FROM held WHERE expires_at <= $1", &[&now])
                        .await?;
                    tx.execute(
                        "INSERT INTO held (id, owner, body, expires_at) VALUES ($1, $2, $3, $4)",
                        &[&id, &owner, &body, &expires_at],
                    )
                    .await?;
                })
            }
            .await;
            r.map_err(said)
        })
    }

    fn take<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        now: i64,
    ) -> alpaca_mcp::ledger::LedgerFut<'a, alpaca_mcp::ledger::Taken> {
        use alpaca_mcp::ledger::Taken;
        Box::pin(async move {
            let s = &*self.0;
            let r: Result<Taken, StoreError> = async {
                in_tx!(s, |tx| {
                    let row = tx
                        .query_opt(
                            "SELECT owner, body, expires_at FROM held WHERE id = $1 FOR UPDATE",
                            &[&id],
                        )
                        .await?;
                    match row {
                        None => Taken::Missing,
                        Some(r) => {
                            let held_by: String = r.try_get(0).map_err(err)?;
                            let body: String = r.try_get(1).map_err(err)?;
                            let until: i64 = r.try_get(2).map_err(err)?;
                            if held_by != owner {
                                Taken::NotYours
                            } else {
                                tx.execute("DELETE FROM held WHERE id = $1", &[&id]).await?;
                                if until <= now {
                                    Taken::Expired
                                } else {
                                    Taken::Held(body)
                                }
                            }
                        }
                    }
                })
            }
            .await;
            r.map_err(said)
        })
    }

    fn spend<'a>(
        &'a self,
        nonce: &'a str,
        now: i64,
        until: i64,
    ) -> alpaca_mcp::ledger::LedgerFut<'a, bool> {
        Box::pin(async move {
            let s = &*self.0;
            let r: Result<bool, StoreError> = async {
                s.execute("DELETE FROM spent WHERE until_at <= $1", &[&now])
                    .await?;
                // A row comes back when this call spent it (or it had lapsed): one winner.
                let row = s
                    .query_opt(
                        "INSERT INTO spent (nonce, until_at) VALUES ($1, $2)
                         ON CONFLICT (nonce) DO UPDATE SET until_at = EXCLUDED.until_at
                         WHERE spent.until_at <= $3
                         RETURNING nonce",
                        &[&nonce, &until, &now],
                    )
                    .await?;
                Ok(row.is_some())
            }
            .await;
            r.map_err(said)
        })
    }

    fn take_slots<'a>(
        &'a self,
        caller: &'a str,
        n: u32,
        max: u32,
        now: i64,
    ) -> alpaca_mcp::ledger::LedgerFut<'a, alpaca_mcp::ledger::Slots> {
        use alpaca_mcp::ledger::{Slots, WINDOW_MS, wait_secs};
        Box::pin(async move {
            let s = &*self.0;
            let r: Result<Slots, StoreError> = async {
                in_tx!(s, |tx| {
                    // One replica at a time per caller.
                    tx.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                        &[&caller],
                    )
                    .await?;
                    let since = now - WINDOW_MS;
                    tx.execute(
                        "DELETE FROM order_slots WHERE caller = $1 AND sent_at <= $2",
                        &[&caller, &since],
                    )
                    .await?;
                    let sent: Vec<i64> = tx
                        .query(
                            "SELECT sent_at FROM order_slots WHERE caller = $1 ORDER BY sent_at",
                            &[&caller],
                        )
                        .await?
                        .iter()
                        .map(|r| r.try_get(0).map_err(err))
                        .collect::<Result<_, _>>()?;
                    if sent.len() + n as usize > max as usize {
                        let needed = sent.len() + n as usize - max as usize;
                        Slots::Full {
                            wait_secs: wait_secs(&sent, needed, now),
                        }
                    } else {
                        let n = i64::from(n);
                        tx.execute(
                            "INSERT INTO order_slots (caller, sent_at)
                             SELECT $1, $2 FROM generate_series(1, $3::BIGINT)",
                            &[&caller, &now, &n],
                        )
                        .await?;
                        Slots::Taken
                    }
                })
            }
            .await;
            r.map_err(said)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::super::store_suite::{self, code, grant, issued};
    use super::*;

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set ALPACA_MCP_TEST_POSTGRES (see .ci/run)"]
    async fn does_what_every_store_does() {
        let databases = Mutex::new(Vec::new());
        store_suite::all(|| async {
            let db = support::postgres::database("store_suite").await;
            let store = Postgres::connect(&db.url).await.unwrap();
            databases.lock().unwrap().push(db);
            store
        })
        .await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set ALPACA_MCP_TEST_POSTGRES (see .ci/run)"]
    async fn an_older_schema_is_migrated_keeping_its_rows_and_a_newer_one_is_refused() {
        let db = support::postgres::database("schema").await;
        // A database as the build before the last migration left it, with a grant in it.
        let now = 1_000_000;
        {
            let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute("CREATE TABLE alpaca_mcp_schema (version BIGINT NOT NULL)")
                .await
                .unwrap();
            for sql in &MIGRATIONS[..MIGRATIONS.len() - 1] {
                client.batch_execute(sql).await.unwrap();
            }
            let older = SCHEMA_VERSION - 1;
            client
                .execute(
                    "INSERT INTO alpaca_mcp_schema (version) VALUES ($1)",
                    &[&older],
                )
                .await
                .unwrap();
        }
        {
            let s = Postgres::connect(&db.url).await.unwrap();
            s.start_grant("none", &grant(now), &issued(1, now))
                .await
                .unwrap();
        }
        let s = Postgres::connect(&db.url).await.unwrap();
        assert_eq!(s.access("a1", now, 100).await.unwrap().unwrap().id, "g1");
        assert!(
            s.take_event("registration", "10.0.0.1", now, now - 60, (u64::MAX, 0))
                .await
                .unwrap()
        );
        assert_eq!(
            s.count_events("registration", "10.0.0.1", 0).await.unwrap(),
            (1, 1)
        );
        // A later build's database: refused, saying what to do, and left as it is.
        let newer = SCHEMA_VERSION + 1;
        s.execute("UPDATE alpaca_mcp_schema SET version = $1", &[&newer])
            .await
            .unwrap();
        let Err(e) = Postgres::connect(&db.url).await else {
            panic!("a newer schema is refused");
        };
        assert!(e.0.contains("newer than this build's"), "{e}");
        let row = s
            .query_opt("SELECT version FROM alpaca_mcp_schema", &[])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), newer);
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set ALPACA_MCP_TEST_POSTGRES (see .ci/run)"]
    async fn replicas_racing_for_one_code_or_one_refresh_token_see_one_winner() {
        let db = support::postgres::database("race").await;
        // Two replicas: two pools on one database, migrating at once.
        let (a, b) = tokio::join!(Postgres::connect(&db.url), Postgres::connect(&db.url));
        let (a, b) = (Arc::new(a.unwrap()), Arc::new(b.unwrap()));
        let now = 1_000_000;
        a.put_code(&code("k1", now + 60)).await.unwrap();
        let mut racers = Vec::new();
        for i in 0..24 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            racers.push(tokio::spawn(async move { s.redeem_code("k1", now).await }));
        }
        let mut fresh = 0;
        for r in racers {
            match r.await.unwrap().unwrap() {
                CodeUse::Fresh(_) => fresh += 1,
                CodeUse::Replayed { grant: None } => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(fresh, 1, "one redemption of one code");

        b.start_grant("k1", &grant(now), &issued(1, now))
            .await
            .unwrap();
        let mut racers = Vec::new();
        for i in 0..24u8 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            racers.push(tokio::spawn(async move {
                s.refresh("r1", "c1", now, 100, &issued(10 + i, now)).await
            }));
        }
        let mut rotated = 0;
        for r in racers {
            match r.await.unwrap().unwrap() {
                Refresh::Rotated(_) => rotated += 1,
                Refresh::Replayed { .. } | Refresh::Invalid => {}
            }
        }
        assert_eq!(rotated, 1, "one rotation of one refresh token");
        // The others were replays of a rotated token: the grant is over, on both.
        assert!(a.grants(now, 100).await.unwrap().is_empty());
        assert!(b.access("a1", now, 100).await.unwrap().is_none());

        // Consent forms: one answer, whichever replica it reaches.
        a.put_consent(
            &store_suite::form("f1", "c", "a"),
            now,
            now + 600,
            store_suite::LIMITS,
        )
        .await
        .unwrap();
        let (x, y) = tokio::join!(a.take_consent("f1", now), b.take_consent("f1", now));
        assert_eq!(
            [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|t| t.is_some())
                .count(),
            1
        );
        assert!(a.statements() > 0 && b.statements() > 0);
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set ALPACA_MCP_TEST_POSTGRES (see .ci/run)"]
    async fn the_ledger_does_what_every_ledger_does_and_holds_across_replicas() {
        use alpaca_mcp::ledger::{Ledger, Slots, Taken, suite};
        let db = support::postgres::database("ledger").await;
        let fresh = || async {
            let db = support::postgres::database("ledger_case").await;
            let l = PgLedger::new(Arc::new(Postgres::connect(&db.url).await.unwrap()));
            (l, db)
        };
        let (l, _d) = fresh().await;
        suite::held_calls(&l).await;
        let (l, _d) = fresh().await;
        suite::spent_states(&l).await;
        let (l, _d) = fresh().await;
        suite::order_slots(&l).await;

        // Two replicas on one database: one taker of a held call, one spender of a state,
        // and one window per caller however the orders are spread.
        let a = PgLedger::new(Arc::new(Postgres::connect(&db.url).await.unwrap()));
        let b = PgLedger::new(Arc::new(Postgres::connect(&db.url).await.unwrap()));
        let now = alpaca_mcp::ledger::now_ms();
        a.hold("c1", "alice", "{}", now + 60_000).await.unwrap();
        let mut racers = Vec::new();
        for i in 0..16 {
            let l = if i % 2 == 0 { a.clone() } else { b.clone() };
            racers.push(tokio::spawn(async move {
                let taken = l.take("c1", "alice", now).await.unwrap();
                let spent = l.spend("n1", now, now + 60_000).await.unwrap();
                let slots = l.take_slots("alice", 1, 5, now).await.unwrap();
                (taken, spent, slots)
            }));
        }
        let (mut held, mut spent, mut slots) = (0, 0, 0);
        for r in racers {
            let (t, s, o) = r.await.unwrap();
            held += usize::from(matches!(t, Taken::Held(_)));
            spent += usize::from(s);
            slots += usize::from(o == Slots::Taken);
        }
        assert_eq!((held, spent, slots), (1, 1, 5));
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set ALPACA_MCP_TEST_POSTGRES (see .ci/run)"]
    async fn errors_never_show_the_password() {
        let admin = support::postgres::admin_url();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_password(Some("not-the-password-4f1d")).unwrap();
        let e = Postgres::connect(url.as_str())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("28P01") || e.contains("password"), "{e}");
        assert!(!e.contains("not-the-password-4f1d"), "{e}");
        let e = Postgres::connect("postgres://u:secret-pass@127.0.0.1:1/db")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("127.0.0.1:1/db") && !e.contains("secret-pass"),
            "{e}"
        );
        let db = support::postgres::database("debug").await;
        let store = Postgres::connect(&db.url).await.unwrap();
        let shown = format!("{store:?}");
        let password = url::Url::parse(&db.url)
            .unwrap()
            .password()
            .unwrap()
            .to_string();
        assert!(!shown.contains(&password), "{shown}");
    }
}
