//! The embedded [`Store`]: one SQLite file (bundled SQLite through `rusqlite`) in the state
//! directory, created owner-only (0700 directory, 0600 file), its schema versioned by
//! `PRAGMA user_version` and migrated forward at open. SQLite calls are short and local, so
//! they run inline under one connection's lock; WAL mode lets `auth list`/`auth revoke` in
//! another process read and write while the server runs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::store::{
    Client, ClientKind, Code, CodeUse, Fut, Grant, GrantView, Issued, Refresh, Store, StoreError,
    Upstream,
};

/// The file in the state directory.
pub const FILE_NAME: &str = "oauth.sqlite3";

/// Each migration takes the schema from its index to the next version.
const MIGRATIONS: &[&str] = &[
    // 1: clients, codes, grants, tokens.
    "CREATE TABLE clients (
        id TEXT PRIMARY KEY,
        name TEXT,
        redirect_uris TEXT NOT NULL,
        secret_digest TEXT,
        kind TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE codes (
        digest TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        challenge TEXT NOT NULL,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        toolsets TEXT,
        expires_at INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        grant_id TEXT
    );
    CREATE TABLE grants (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        toolsets TEXT,
        created_at INTEGER NOT NULL,
        last_used INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tokens (
        digest TEXT PRIMARY KEY,
        grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
        expires_at INTEGER NOT NULL,
        rotated INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX tokens_grant ON tokens(grant_id);",
    // 2: users' Alpaca sign-ins (`--auth alpaca`), their tokens sealed.
    "CREATE TABLE upstream (
        id TEXT PRIMARY KEY,
        sealed TEXT NOT NULL,
        mode TEXT NOT NULL,
        account TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    ALTER TABLE codes ADD COLUMN upstream_id TEXT;
    ALTER TABLE grants ADD COLUMN upstream_id TEXT;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The SQLite store.
pub struct Sqlite {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sqlite({})", self.path.display())
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl Sqlite {
    /// Opens (creating if needed) the store in `dir`, migrating its schema.
    pub fn open(dir: &Path) -> Result<Sqlite, StoreError> {
        create_private_dir(dir)?;
        let path = dir.join(FILE_NAME);
        create_private_file(&path)?;
        let conn = Connection::open(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        let mut store = Sqlite {
            conn: Mutex::new(conn),
            path,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError(format!(
                "{} has schema version {version}, newer than this build's {SCHEMA_VERSION}: \
                 run a newer alpaca-mcp-server, or another --state-dir",
                self.path.display()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(err)
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        err(format!(
            "cannot create the state directory {}: {e}",
            dir.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A directory that existed before is left as it is (it may be shared), but said.
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                dir = %dir.display(),
                "the OAuth state directory is readable by other users; its database is owner-only, but consider `chmod 700`"
            );
        }
    }
    Ok(())
}

fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| err(format!("cannot create {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A file made by something else (or an older umask) is made private too.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| err(format!("cannot make {} private: {e}", path.display())))?;
    }
    Ok(())
}

fn ready<'a, T: Send + 'a>(r: Result<T, StoreError>) -> Fut<'a, T> {
    Box::pin(std::future::ready(r))
}

fn grant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        id: r.get("id")?,
        client_id: r.get("client_id")?,
        scope: r.get("scope")?,
        resource: r.get("resource")?,
        toolsets: r.get("toolsets")?,
        created_at: r.get("created_at")?,
        last_used: r.get("last_used")?,
        upstream: match r.get::<_, Option<String>>("upstream_id")? {
            Some(id) => Some(Upstream {
                id,
                sealed: r.get("u_sealed")?,
                mode: r.get("u_mode")?,
                account: r.get("u_account")?,
            }),
            None => None,
        },
    })
}

/// A grant's columns with its Alpaca sign-in's (`grants g`, `upstream u`), for
/// [`grant_row`].
const GRANT: &str = "g.*, u.sealed AS u_sealed, u.mode AS u_mode, u.account AS u_account";
/// The join that [`GRANT`] reads from.
const UPSTREAM_JOIN: &str = "LEFT JOIN upstream u ON u.id = g.upstream_id";

fn uris(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn insert_tokens(
    tx: &rusqlite::Transaction<'_>,
    grant: &str,
    issued: &Issued,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO tokens (digest, grant_id, kind, expires_at) VALUES (?1, ?2, 'access', ?3), (?4, ?2, 'refresh', ?5)",
        params![
            issued.access_digest,
            grant,
            issued.access_expires,
            issued.refresh_digest,
            issued.refresh_expires
        ],
    )?;
    Ok(())
}

fn end_grant(tx: &rusqlite::Transaction<'_>, grant: &str) -> rusqlite::Result<bool> {
    // The user's Alpaca token goes with the grant.
    tx.execute(
        "DELETE FROM upstream WHERE id = (SELECT upstream_id FROM grants WHERE id = ?1)",
        [grant],
    )?;
    let n = tx.execute(
        "UPDATE grants SET revoked = 1 WHERE id = ?1 AND revoked = 0",
        [grant],
    )?;
    tx.execute("DELETE FROM tokens WHERE grant_id = ?1", [grant])?;
    Ok(n > 0)
}

/// The condition of a live grant `g`: not revoked, used within `idle` seconds of `now`
/// (the numbers of those two parameters).
fn live_grant(now: u8, idle: u8) -> String {
    format!("g.revoked = 0 AND g.last_used > ?{now} - ?{idle}")
}

impl Store for Sqlite {
    fn put_client<'a>(&'a self, c: &'a Client) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            conn.execute(
                "INSERT OR REPLACE INTO clients (id, name, redirect_uris, secret_digest, kind, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    c.id,
                    c.name,
                    serde_json::to_string(&c.redirect_uris).unwrap_or_default(),
                    c.secret_digest,
                    c.kind.as_str(),
                    c.created_at
                ],
            )?;
            Ok(())
        }))
    }

    fn client<'a>(&'a self, id: &'a str) -> Fut<'a, Option<Client>> {
        ready(self.with(|conn| {
            conn.query_row(
                "SELECT id, name, redirect_uris, secret_digest, kind, created_at FROM clients WHERE id = ?1",
                [id],
                |r| {
                    Ok(Client {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        redirect_uris: uris(&r.get::<_, String>(2)?),
                        secret_digest: r.get(3)?,
                        kind: ClientKind::parse(&r.get::<_, String>(4)?),
                        created_at: r.get(5)?,
                    })
                },
            )
            .optional()
        }))
    }

    fn put_code<'a>(&'a self, c: &'a Code) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            conn.execute(
                "INSERT INTO codes (digest, client_id, redirect_uri, challenge, scope, resource, toolsets, expires_at, upstream_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    c.digest,
                    c.client_id,
                    c.redirect_uri,
                    c.challenge,
                    c.scope,
                    c.resource,
                    c.toolsets,
                    c.expires_at,
                    c.upstream
                ],
            )?;
            Ok(())
        }))
    }

    fn redeem_code<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, CodeUse> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            let row = tx
                .query_row(
                    "SELECT client_id, redirect_uri, challenge, scope, resource, toolsets, expires_at, used, grant_id, upstream_id
                     FROM codes WHERE digest = ?1",
                    [digest],
                    |r| {
                        Ok((
                            Code {
                                digest: digest.to_string(),
                                client_id: r.get(0)?,
                                redirect_uri: r.get(1)?,
                                challenge: r.get(2)?,
                                scope: r.get(3)?,
                                resource: r.get(4)?,
                                toolsets: r.get(5)?,
                                expires_at: r.get(6)?,
                                upstream: r.get(9)?,
                            },
                            r.get::<_, bool>(7)?,
                            r.get::<_, Option<String>>(8)?,
                        ))
                    },
                )
                .optional()?;
            let outcome = match row {
                None => CodeUse::Unknown,
                Some((_, true, grant)) => CodeUse::Replayed { grant },
                Some((code, false, _)) if code.expires_at <= now => {
                    tx.execute("DELETE FROM codes WHERE digest = ?1", [digest])?;
                    CodeUse::Expired
                }
                Some((code, false, _)) => {
                    tx.execute("UPDATE codes SET used = 1 WHERE digest = ?1", [digest])?;
                    CodeUse::Fresh(code)
                }
            };
            tx.commit()?;
            Ok(outcome)
        }))
    }

    fn start_grant<'a>(&'a self, code: &'a str, g: &'a Grant, issued: &'a Issued) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                // The grant acts with the Alpaca sign-in its code names, if any.
                "INSERT INTO grants (id, client_id, scope, resource, toolsets, created_at, last_used, upstream_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT upstream_id FROM codes WHERE digest = ?8))",
                params![
                    g.id,
                    g.client_id,
                    g.scope,
                    g.resource,
                    g.toolsets,
                    g.created_at,
                    g.last_used,
                    code
                ],
            )?;
            insert_tokens(&tx, &g.id, issued)?;
            tx.execute("UPDATE codes SET grant_id = ?2 WHERE digest = ?1", [code, &g.id])?;
            tx.commit()
        }))
    }

    fn access<'a>(&'a self, digest: &'a str, now: i64, idle: i64) -> Fut<'a, Option<Grant>> {
        ready(self.with(|conn| {
            conn.query_row(
                &format!(
                    "SELECT {GRANT} FROM tokens t JOIN grants g ON g.id = t.grant_id {UPSTREAM_JOIN}
                     WHERE t.digest = ?1 AND t.kind = 'access' AND t.expires_at > ?2 AND {}",
                    live_grant(2, 3)
                ),
                params![digest, now, idle],
                grant_row,
            )
            .optional()
        }))
    }

    fn touch<'a>(&'a self, grant: &'a str, now: i64) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            conn.execute(
                "UPDATE grants SET last_used = ?2 WHERE id = ?1 AND last_used < ?2",
                params![grant, now],
            )?;
            Ok(())
        }))
    }

    fn refresh<'a>(
        &'a self,
        digest: &'a str,
        client_id: &'a str,
        now: i64,
        idle: i64,
        issued: &'a Issued,
    ) -> Fut<'a, Refresh> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            let row = tx
                .query_row(
                    &format!(
                        "SELECT {GRANT}, t.rotated AS rotated FROM tokens t JOIN grants g ON g.id = t.grant_id {UPSTREAM_JOIN}
                         WHERE t.digest = ?1 AND t.kind = 'refresh' AND t.expires_at > ?2 AND {}",
                        live_grant(2, 3)
                    ),
                    params![digest, now, idle],
                    |r| Ok((grant_row(r)?, r.get::<_, bool>("rotated")?)),
                )
                .optional()?;
            let outcome = match row {
                None => Refresh::Invalid,
                Some((grant, _)) if grant.client_id != client_id => Refresh::Invalid,
                Some((grant, true)) => {
                    end_grant(&tx, &grant.id)?;
                    Refresh::Replayed { grant: grant.id }
                }
                Some((grant, false)) => {
                    // The spent token stays (marked) so that a replay is recognized; the
                    // grant's other access tokens stay valid until they expire.
                    tx.execute("UPDATE tokens SET rotated = 1 WHERE digest = ?1", [digest])?;
                    insert_tokens(&tx, &grant.id, issued)?;
                    tx.execute(
                        "UPDATE grants SET last_used = ?2 WHERE id = ?1",
                        params![grant.id, now],
                    )?;
                    Refresh::Rotated(Box::new(grant))
                }
            };
            tx.commit()?;
            Ok(outcome)
        }))
    }

    fn revoke_token<'a>(&'a self, digest: &'a str) -> Fut<'a, bool> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT grant_id, kind FROM tokens WHERE digest = ?1",
                    [digest],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let revoked = match row {
                None => false,
                Some((grant, kind)) if kind == "refresh" => {
                    end_grant(&tx, &grant)?;
                    true
                }
                Some(_) => tx.execute("DELETE FROM tokens WHERE digest = ?1", [digest])? > 0,
            };
            tx.commit()?;
            Ok(revoked)
        }))
    }

    fn revoke_grant<'a>(&'a self, id: &'a str) -> Fut<'a, bool> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            let found = end_grant(&tx, id)?;
            tx.commit()?;
            Ok(found)
        }))
    }

    fn revoke_all(&self) -> Fut<'_, usize> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            let n = tx.execute("UPDATE grants SET revoked = 1 WHERE revoked = 0", [])?;
            tx.execute("DELETE FROM tokens", [])?;
            tx.execute("DELETE FROM upstream", [])?;
            tx.commit()?;
            Ok(n)
        }))
    }

    fn grants(&self, now: i64, idle: i64) -> Fut<'_, Vec<GrantView>> {
        ready(self.with(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {GRANT}, c.name AS client_name, c.redirect_uris AS redirect_uris
                 FROM grants g LEFT JOIN clients c ON c.id = g.client_id {UPSTREAM_JOIN}
                 WHERE {} ORDER BY g.last_used DESC",
                live_grant(1, 2)
            ))?;
            let rows = stmt.query_map(params![now, idle], |r| {
                Ok(GrantView {
                    grant: grant_row(r)?,
                    client_name: r.get("client_name")?,
                    redirect_uris: r
                        .get::<_, Option<String>>("redirect_uris")?
                        .map(|j| uris(&j))
                        .unwrap_or_default(),
                })
            })?;
            rows.collect()
        }))
    }

    fn purge(&self, now: i64, idle: i64, unused_client_age: i64) -> Fut<'_, ()> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            // Used codes are kept until they expire, so that a replay is recognized.
            tx.execute("DELETE FROM codes WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "DELETE FROM tokens WHERE expires_at <= ?1 OR grant_id IN
                 (SELECT id FROM grants WHERE revoked = 1 OR last_used <= ?1 - ?2)",
                [now, idle],
            )?;
            tx.execute(
                "DELETE FROM grants WHERE revoked = 1 OR last_used <= ?1 - ?2",
                [now, idle],
            )?;
            // Sign-ins no grant or code names any more (a code expired unredeemed).
            tx.execute(
                "DELETE FROM upstream WHERE
                 id NOT IN (SELECT upstream_id FROM grants WHERE upstream_id IS NOT NULL)
                 AND id NOT IN (SELECT upstream_id FROM codes WHERE upstream_id IS NOT NULL)
                 AND created_at <= ?1 - 3600",
                [now],
            )?;
            tx.execute(
                "DELETE FROM clients WHERE created_at <= ?1 - ?2
                 AND id NOT IN (SELECT client_id FROM grants)
                 AND id NOT IN (SELECT client_id FROM codes)",
                [now, unused_client_age],
            )?;
            tx.commit()
        }))
    }

    fn put_upstream<'a>(&'a self, u: &'a Upstream, now: i64) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            conn.execute(
                "INSERT INTO upstream (id, sealed, mode, account, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![u.id, u.sealed, u.mode, u.account, now],
            )?;
            Ok(())
        }))
    }

    fn upstreams(&self) -> Fut<'_, Vec<Upstream>> {
        ready(self.with(|conn| {
            let mut stmt = conn.prepare("SELECT id, sealed, mode, account FROM upstream")?;
            let rows = stmt.query_map([], |r| {
                Ok(Upstream {
                    id: r.get(0)?,
                    sealed: r.get(1)?,
                    mode: r.get(2)?,
                    account: r.get(3)?,
                })
            })?;
            rows.collect()
        }))
    }

    fn reseal<'a>(&'a self, id: &'a str, sealed: &'a str) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            conn.execute(
                "UPDATE upstream SET sealed = ?2 WHERE id = ?1",
                params![id, sealed],
            )?;
            Ok(())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(f: Fut<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
            .unwrap()
    }

    fn issued(n: u8, now: i64) -> Issued {
        Issued {
            access_digest: format!("a{n}"),
            access_expires: now + 3600,
            refresh_digest: format!("r{n}"),
            refresh_expires: now + 86400,
        }
    }

    fn code(digest: &str, expires_at: i64) -> Code {
        Code {
            digest: digest.into(),
            client_id: "c1".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            challenge: "x".into(),
            scope: "read".into(),
            resource: "http://127.0.0.1:8000/mcp".into(),
            toolsets: None,
            expires_at,
            upstream: None,
        }
    }

    fn grant(now: i64) -> Grant {
        Grant {
            id: "g1".into(),
            client_id: "c1".into(),
            scope: "read".into(),
            resource: "http://127.0.0.1:8000/mcp".into(),
            toolsets: None,
            created_at: now,
            last_used: now,
            upstream: None,
        }
    }

    #[test]
    fn a_grant_acts_with_its_codes_alpaca_sign_in_which_ends_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sqlite::open(&dir.path().join("state")).unwrap();
        let now = 1_000_000;
        let up = Upstream {
            id: "u1".into(),
            sealed: "v1.abcd.SEALED".into(),
            mode: "live".into(),
            account: "acct-1".into(),
        };
        block(s.put_upstream(&up, now));
        block(s.put_code(&Code {
            upstream: Some("u1".into()),
            ..code("k1", now + 60)
        }));
        let CodeUse::Fresh(redeemed) = block(s.redeem_code("k1", now)) else {
            panic!("a fresh code");
        };
        assert_eq!(redeemed.upstream.as_deref(), Some("u1"));
        block(s.start_grant("k1", &grant(now), &issued(1, now)));
        assert_eq!(
            block(s.access("a1", now, 100)).unwrap().upstream,
            Some(up.clone())
        );
        // Rotation keeps it; `auth rekey` replaces its sealed token.
        let Refresh::Rotated(g) = block(s.refresh("r1", "c1", now, 100, &issued(2, now))) else {
            panic!("rotated");
        };
        assert_eq!(g.upstream.unwrap().account, "acct-1");
        block(s.reseal("u1", "v1.ef01.AGAIN"));
        assert_eq!(block(s.upstreams())[0].sealed, "v1.ef01.AGAIN");
        // Ending the grant deletes the user's Alpaca token with it.
        assert!(block(s.revoke_grant("g1")));
        assert!(block(s.upstreams()).is_empty());
        assert!(
            !format!("{up:?}").contains("SEALED"),
            "Debug leaves the token out"
        );
    }

    #[test]
    fn codes_redeem_once_and_grants_rotate_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sqlite::open(&dir.path().join("state")).unwrap();
        let now = 1_000_000;
        block(s.put_code(&code("k1", now + 60)));
        assert!(matches!(block(s.redeem_code("k1", now)), CodeUse::Fresh(_)));
        assert_eq!(
            block(s.redeem_code("k1", now)),
            CodeUse::Replayed { grant: None }
        );
        block(s.put_code(&code("k2", now)));
        assert_eq!(block(s.redeem_code("k2", now)), CodeUse::Expired);
        assert_eq!(block(s.redeem_code("nope", now)), CodeUse::Unknown);

        block(s.start_grant("k1", &grant(now), &issued(1, now)));
        assert_eq!(
            block(s.redeem_code("k1", now)),
            CodeUse::Replayed {
                grant: Some("g1".into())
            }
        );
        assert_eq!(block(s.access("a1", now, 100)).unwrap().id, "g1");
        assert!(
            block(s.access("r1", now, 100)).is_none(),
            "a refresh token is no access token"
        );
        assert!(
            block(s.access("a1", now + 3600, 100_000)).is_none(),
            "expired"
        );
        assert!(
            block(s.access("a1", now + 101, 100)).is_none(),
            "idle grant"
        );

        assert!(matches!(
            block(s.refresh("r1", "other", now, 100, &issued(2, now))),
            Refresh::Invalid
        ));
        assert!(matches!(
            block(s.refresh("r1", "c1", now, 100, &issued(2, now))),
            Refresh::Rotated(_)
        ));
        assert!(block(s.access("a2", now, 100)).is_some());
        // Reusing the rotated token ends the grant: every token of it stops working.
        assert_eq!(
            block(s.refresh("r1", "c1", now, 100, &issued(3, now))),
            Refresh::Replayed { grant: "g1".into() }
        );
        assert!(block(s.access("a2", now, 100)).is_none());
        assert!(matches!(
            block(s.refresh("r2", "c1", now, 100, &issued(4, now))),
            Refresh::Invalid
        ));
        assert!(block(s.grants(now, 100)).is_empty());
    }

    #[test]
    fn the_file_is_private_and_reopens_at_the_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let now = 1_000_000;
        {
            let s = Sqlite::open(&state).unwrap();
            block(s.start_grant("none", &grant(now), &issued(1, now)));
        }
        let s = Sqlite::open(&state).unwrap();
        assert_eq!(block(s.access("a1", now, 100)).unwrap().id, "g1");
        let version: i64 = s
            .with(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(s.path()), 0o600);
            assert_eq!(mode(&state), 0o700);
        }
        assert!(block(s.revoke_grant("g1")));
        assert!(!block(s.revoke_grant("g1")));
        assert!(block(s.access("a1", now, 100)).is_none());
    }
}
