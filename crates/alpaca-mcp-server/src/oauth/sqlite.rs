//! The embedded [`Store`]: one SQLite file (bundled SQLite through `rusqlite`) in the state
//! directory, created owner-only (0700 directory, 0600 file), its schema versioned by
//! `PRAGMA user_version` and migrated forward at open. SQLite calls are short and local, so
//! they run inline under one connection's lock; WAL mode lets `auth list`/`auth revoke` in
//! another process read and write while the server runs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::store::{
    Client, ClientKind, Code, CodeUse, ConsentForm, ConsentLimits, Fut, Grant, GrantView, Issued,
    Refresh, Store, StoreError, Upstream,
};

/// The file in the state directory.
pub const FILE_NAME: &str = "oauth.sqlite3";

use super::migrations::MIGRATIONS;
pub use super::migrations::SCHEMA_VERSION;

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

    fn revoke_token<'a>(&'a self, digest: &'a str, client_id: &'a str) -> Fut<'a, bool> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT t.grant_id, t.kind FROM tokens t JOIN grants g ON g.id = t.grant_id \
                     WHERE t.digest = ?1 AND g.client_id = ?2",
                    [digest, client_id],
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
            tx.execute("DELETE FROM consents WHERE expires_at <= ?1", [now])?;
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

    fn put_consent<'a>(
        &'a self,
        form: &'a ConsentForm,
        now: i64,
        expires_at: i64,
        limits: ConsentLimits,
    ) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM consents WHERE expires_at <= ?1", [now])?;
            // The oldest of the form's address, then of its client, then of everyone, until
            // each is under its bound with room for this one.
            for (filter, value, bound) in [
                ("addr = ?1", form.addr.as_str(), limits.per_addr),
                ("client_id = ?1", form.client_id.as_str(), limits.per_client),
                ("?1 = ?1", "", limits.total),
            ] {
                let n: i64 = tx.query_row(
                    &format!("SELECT count(*) FROM consents WHERE {filter}"),
                    [value],
                    |r| r.get(0),
                )?;
                let over = n + 1 - bound.max(1) as i64;
                if over > 0 {
                    tx.execute(
                        &format!(
                            "DELETE FROM consents WHERE digest IN (SELECT digest FROM consents \
                             WHERE {filter} ORDER BY created_at, digest LIMIT ?2)"
                        ),
                        params![value, over],
                    )?;
                }
            }
            tx.execute(
                "INSERT INTO consents (digest, body, expires_at, client_id, addr, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    form.digest,
                    form.body,
                    expires_at,
                    form.client_id,
                    form.addr,
                    now
                ],
            )?;
            tx.commit()
        }))
    }

    fn consent<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, Option<String>> {
        ready(self.with(|conn| {
            conn.query_row(
                "SELECT body FROM consents WHERE digest = ?1 AND expires_at > ?2",
                params![digest, now],
                |r| r.get(0),
            )
            .optional()
        }))
    }

    fn take_consent<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, Option<String>> {
        ready(self.with(|conn| {
            let row: Option<(String, i64)> = conn
                .query_row(
                    "DELETE FROM consents WHERE digest = ?1 RETURNING body, expires_at",
                    [digest],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(row.filter(|(_, exp)| *exp > now).map(|(b, _)| b))
        }))
    }

    fn count_events<'a>(&'a self, kind: &'a str, ip: &'a str, since: i64) -> Fut<'a, (u64, u64)> {
        ready(self.with(|conn| {
            conn.query_row(
                "SELECT coalesce(sum(ip = ?2), 0), count(*) FROM limit_events
                 WHERE kind = ?1 AND at >= ?3",
                params![kind, ip, since],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        }))
    }

    fn take_event<'a>(
        &'a self,
        kind: &'a str,
        key: &'a str,
        now: i64,
        since: i64,
        (per_key, total): (u64, u64),
    ) -> Fut<'a, bool> {
        // One connection behind a lock: the count and the insert are one step.
        ready(self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM limit_events WHERE kind = ?1 AND at < ?2",
                params![kind, since],
            )?;
            let (mine, all): (i64, i64) = tx.query_row(
                "SELECT coalesce(sum(ip = ?2), 0), count(*) FROM limit_events WHERE kind = ?1",
                params![kind, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let room = (mine as u64) < per_key && (total == 0 || (all as u64) < total);
            if room {
                tx.execute(
                    "INSERT INTO limit_events (kind, ip, at) VALUES (?1, ?2, ?3)",
                    params![kind, key, now],
                )?;
            }
            tx.commit()?;
            Ok(room)
        }))
    }

    fn forget_event<'a>(&'a self, kind: &'a str, key: &'a str, at: i64) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            conn.execute(
                "DELETE FROM limit_events WHERE rowid = (SELECT rowid FROM limit_events \
                 WHERE kind = ?1 AND ip = ?2 AND at = ?3 LIMIT 1)",
                params![kind, key, at],
            )?;
            Ok(())
        }))
    }

    fn put_device<'a>(&'a self, digest: &'a str, expires_at: i64) -> Fut<'a, ()> {
        ready(self.with(|conn| {
            conn.execute(
                "INSERT INTO devices (digest, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (digest) DO UPDATE SET expires_at = excluded.expires_at",
                params![digest, expires_at],
            )?;
            Ok(())
        }))
    }

    fn device<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, bool> {
        ready(self.with(|conn| {
            conn.query_row(
                "SELECT count(*) FROM devices WHERE digest = ?1 AND expires_at > ?2",
                params![digest, now],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::store_suite::{self, grant, issued};
    use super::*;

    fn block<T>(f: Fut<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
            .unwrap()
    }

    #[tokio::test]
    async fn does_what_every_store_does() {
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicUsize::new(0);
        store_suite::all(|| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = dir.path().join(format!("state{i}"));
            async move { Sqlite::open(&path).unwrap() }
        })
        .await;
    }

    #[test]
    fn an_older_schema_is_migrated_keeping_its_rows_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        create_private_dir(&state).unwrap();
        // A database as the build before the last migration left it, with a grant in it.
        let now = 1_000_000;
        {
            let mut conn = Connection::open(state.join(FILE_NAME)).unwrap();
            for (i, sql) in MIGRATIONS[..MIGRATIONS.len() - 1].iter().enumerate() {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", (i + 1) as i64)
                    .unwrap();
                tx.commit().unwrap();
            }
        }
        {
            let s = Sqlite::open(&state).unwrap();
            block(s.start_grant("none", &grant(now), &issued(1, now)));
        }
        let s = Sqlite::open(&state).unwrap();
        assert_eq!(block(s.access("a1", now, 100)).unwrap().id, "g1");
        assert!(block(s.take_event(
            "registration",
            "10.0.0.1",
            now,
            now - 60,
            (u64::MAX, 0)
        )));
        assert_eq!(block(s.count_events("registration", "10.0.0.1", 0)), (1, 1));
        // A later build's database: refused, saying what to do, and left as it is.
        s.with(|c| c.pragma_update(None, "user_version", SCHEMA_VERSION + 1))
            .unwrap();
        drop(s);
        let Err(e) = Sqlite::open(&state) else {
            panic!("a newer schema is refused");
        };
        assert!(e.0.contains("newer than this build's"), "{e}");
        let conn = Connection::open(state.join(FILE_NAME)).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION + 1);
    }

    #[test]
    fn debug_leaves_the_sealed_token_out() {
        let up = Upstream {
            id: "u1".into(),
            sealed: "v1.abcd.SEALED".into(),
            mode: "live".into(),
            account: "acct-1".into(),
        };
        assert!(!format!("{up:?}").contains("SEALED"));
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
