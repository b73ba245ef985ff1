//! The schema of the state (OAuth, the safety ledger replicas share, the per-address limits'
//! counts), one list of migrations for both stores (SQLite and PostgreSQL). The SQL keeps to
//! what both read the same way: `TEXT` and `BIGINT` columns (flags are 0 or 1, times Unix
//! seconds), primary keys, `REFERENCES ... ON DELETE CASCADE`, `CHECK`, and `ALTER TABLE ...
//! ADD COLUMN`. SQLite records the version in `PRAGMA user_version`, PostgreSQL in the table
//! `alpaca_mcp_schema`.

/// Each migration takes the schema from its index to the next version.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: clients, codes, grants, tokens.
    "CREATE TABLE clients (
        id TEXT PRIMARY KEY,
        name TEXT,
        redirect_uris TEXT NOT NULL,
        secret_digest TEXT,
        kind TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE codes (
        digest TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        challenge TEXT NOT NULL,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        toolsets TEXT,
        expires_at BIGINT NOT NULL,
        used BIGINT NOT NULL DEFAULT 0,
        grant_id TEXT
    );
    CREATE TABLE grants (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        toolsets TEXT,
        created_at BIGINT NOT NULL,
        last_used BIGINT NOT NULL,
        revoked BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE tokens (
        digest TEXT PRIMARY KEY,
        grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
        expires_at BIGINT NOT NULL,
        rotated BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX tokens_grant ON tokens(grant_id);",
    // 2: users' Alpaca sign-ins (`--auth alpaca`), their tokens sealed.
    "CREATE TABLE upstream (
        id TEXT PRIMARY KEY,
        sealed TEXT NOT NULL,
        mode TEXT NOT NULL,
        account TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    ALTER TABLE codes ADD COLUMN upstream_id TEXT;
    ALTER TABLE grants ADD COLUMN upstream_id TEXT;",
    // 3: consent forms in flight (shown by one replica, answered at another), by the digest
    // of the form's request id.
    "CREATE TABLE consents (
        digest TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );",
    // 4: the safety ledger replicas share (`alpaca_mcp::ledger`): calls held for
    // confirm_order, answered confirmation states, each caller's orders of the last minute.
    // Times in Unix milliseconds.
    "CREATE TABLE held (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        body TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE TABLE spent (
        nonce TEXT PRIMARY KEY,
        until_at BIGINT NOT NULL
    );
    CREATE TABLE order_slots (
        caller TEXT NOT NULL,
        sent_at BIGINT NOT NULL
    );
    CREATE INDEX order_slots_caller ON order_slots(caller, sent_at);",
    // 5: events the per-address limits count (wrong owner passphrases, registrations), so
    // that the limits hold over every replica and across restarts.
    "CREATE TABLE limit_events (
        kind TEXT NOT NULL,
        ip TEXT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX limit_events_kind ON limit_events(kind, at);",
    // 6: consent forms know their client and address (each bounded, the oldest pushed out
    // first), and devices the owner signed in from (their wrong passphrases are counted
    // apart from strangers').
    "ALTER TABLE consents ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE consents ADD COLUMN addr TEXT NOT NULL DEFAULT '';
    ALTER TABLE consents ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX consents_created ON consents(created_at);
    CREATE TABLE devices (
        digest TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
    );",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
