//! A throwaway PostgreSQL database per test, on the server `ALPACA_MCP_TEST_POSTGRES` names
//! (an admin URL whose role may create databases, e.g.
//! `postgres://amcp:PASSWORD@127.0.0.1:5432/postgres`; `.ci/run` starts one). Dropped,
//! with its connections, when the guard goes.

/// The variable naming the test server.
pub const ENV: &str = "ALPACA_MCP_TEST_POSTGRES";

/// A database made for one test; dropped on drop.
pub struct Database {
    admin: String,
    name: String,
    /// The URL of the database (the admin URL's role and password, this database).
    pub url: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({})", self.name)
    }
}

/// The admin URL, or a panic saying how to get one: the tests that call this are ignored
/// unless asked for, and asking for them without a server is a mistake to say loudly.
pub fn admin_url() -> String {
    std::env::var(ENV).unwrap_or_else(|_| {
        panic!(
            "{ENV} is not set: these tests need a PostgreSQL server (an admin URL, e.g. \
             postgres://amcp:PASSWORD@127.0.0.1:5432/postgres; see .ci/run)"
        )
    })
}

/// A fresh, empty database named after `hint`.
pub async fn database(hint: &str) -> Database {
    let admin = admin_url();
    let suffix: String = uuid_like();
    let clean: String = hint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let name = format!("amcp_{clean}_{suffix}");
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {ENV}: {e}"));
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    drop(client);
    let _ = task.await;
    let url = with_dbname(&admin, &name);
    Database { admin, name, url }
}

/// `url` with its database replaced by `name` (the query string kept).
fn with_dbname(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("the admin URL parses");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// 12 hex digits that differ between calls and processes.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mixed = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ N.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!("{:012x}", mixed & 0xffff_ffff_ffff)
}

impl Drop for Database {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Off any runtime the test runs on: a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}
