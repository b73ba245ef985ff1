//! What the authorization server remembers: registered clients, authorization codes, grants
//! and the digests of their tokens, behind one interface ([`Store`]) so that another
//! database can stand in for the embedded one ([`super::sqlite::Sqlite`]). Every operation
//! that must not race (redeeming a code, rotating a refresh token) is one call, so an
//! implementation makes it atomic.

use std::future::Future;
use std::pin::Pin;

/// A boxed future of a store operation.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store failure (the database's message; never holds a token).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OAuth state store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// How a client came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// Dynamic Client Registration (RFC 7591).
    Registered,
    /// A Client ID Metadata Document: the id is the document's https URL.
    MetadataDocument,
}

impl ClientKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ClientKind::Registered => "registered",
            ClientKind::MetadataDocument => "metadata-document",
        }
    }

    pub(crate) fn parse(s: &str) -> ClientKind {
        if s == "metadata-document" {
            ClientKind::MetadataDocument
        } else {
            ClientKind::Registered
        }
    }
}

/// A client that may ask for authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    /// As the client calls itself (shown on the consent page, escaped).
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    /// SHA-256 of its secret, for confidential clients; `None` for public clients (PKCE only).
    pub secret_digest: Option<String>,
    pub kind: ClientKind,
    /// Unix seconds.
    pub created_at: i64,
}

/// An authorization code, stored as its digest until redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub digest: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub challenge: String,
    /// What was approved: `read` or `read trade`.
    pub scope: String,
    /// The resource the tokens are for (this server's MCP URL).
    pub resource: String,
    /// Toolsets the grant is narrowed to (comma-separated), `None` for all.
    pub toolsets: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// The user's Alpaca sign-in the grant will act with (`--auth alpaca`): its id.
    pub upstream: Option<String>,
}

/// A user's Alpaca sign-in (`--auth alpaca`): their Alpaca token, sealed
/// ([`super::seal`], bound to `id`), and the account it reaches.
#[derive(Clone, PartialEq, Eq)]
pub struct Upstream {
    pub id: String,
    /// The sealed Alpaca access token.
    pub sealed: String,
    /// `paper` or `live`.
    pub mode: String,
    /// Alpaca's id of the account.
    pub account: String,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("id", &self.id)
            .field("mode", &self.mode)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// A grant: what the owner approved for one client, until revoked or idle too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub scope: String,
    pub resource: String,
    pub toolsets: Option<String>,
    pub created_at: i64,
    pub last_used: i64,
    /// The Alpaca sign-in it acts with (`--auth alpaca`); `None` in owner mode.
    pub upstream: Option<Upstream>,
}

/// A grant as `auth list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantView {
    pub grant: Grant,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
}

/// The digests and expiries of a fresh access and refresh token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub access_digest: String,
    pub access_expires: i64,
    pub refresh_digest: String,
    pub refresh_expires: i64,
}

/// Redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeUse {
    /// First use, not expired: the code (now used up).
    Fresh(Code),
    /// Used before: the grant it started, which the caller revokes (OAuth 2.1 §4.1.2).
    Replayed { grant: Option<String> },
    /// Expired (and now removed).
    Expired,
    /// Never issued.
    Unknown,
}

/// Rotating a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The old token is spent; `Issued` belongs to this grant now.
    Rotated(Box<Grant>),
    /// A token that was already rotated: someone holds a copy. The grant is revoked.
    Replayed { grant: String },
    /// Unknown, expired, or its grant revoked or idle.
    Invalid,
}

/// The interface of the authorization server's state. Times are Unix seconds; `idle` is how
/// long a grant may go unused before it ends.
pub trait Store: Send + Sync {
    /// Adds or replaces a client.
    fn put_client<'a>(&'a self, client: &'a Client) -> Fut<'a, ()>;
    /// A client by id.
    fn client<'a>(&'a self, id: &'a str) -> Fut<'a, Option<Client>>;
    /// Stores a new code.
    fn put_code<'a>(&'a self, code: &'a Code) -> Fut<'a, ()>;
    /// Redeems a code, atomically: only one caller ever gets [`CodeUse::Fresh`].
    fn redeem_code<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, CodeUse>;
    /// Starts `grant` with its first tokens, remembering that `code` started it; the grant
    /// acts with the Alpaca sign-in the code names (its `upstream` field is not read).
    fn start_grant<'a>(
        &'a self,
        code: &'a str,
        grant: &'a Grant,
        issued: &'a Issued,
    ) -> Fut<'a, ()>;
    /// The live grant of an unexpired access token.
    fn access<'a>(&'a self, digest: &'a str, now: i64, idle: i64) -> Fut<'a, Option<Grant>>;
    /// Records that a grant was used.
    fn touch<'a>(&'a self, grant: &'a str, now: i64) -> Fut<'a, ()>;
    /// Rotates a refresh token, atomically: the old one is spent, `issued` replaces it.
    fn refresh<'a>(
        &'a self,
        digest: &'a str,
        client_id: &'a str,
        now: i64,
        idle: i64,
        issued: &'a Issued,
    ) -> Fut<'a, Refresh>;
    /// Revokes a token (RFC 7009) issued to `client_id` (another client's is left alone): a
    /// refresh token ends its grant, an access token itself. Whether anything was revoked.
    fn revoke_token<'a>(&'a self, digest: &'a str, client_id: &'a str) -> Fut<'a, bool>;
    /// Revokes a grant and all its tokens; whether it existed.
    fn revoke_grant<'a>(&'a self, id: &'a str) -> Fut<'a, bool>;
    /// Revokes every grant; how many.
    fn revoke_all(&self) -> Fut<'_, usize>;
    /// The live grants, most recently used first.
    fn grants(&self, now: i64, idle: i64) -> Fut<'_, Vec<GrantView>>;
    /// Removes expired codes and tokens, ended grants (and their Alpaca sign-ins), and
    /// clients registered more than `unused_client_age` seconds ago that never got a grant.
    fn purge(&self, now: i64, idle: i64, unused_client_age: i64) -> Fut<'_, ()>;
    /// Stores a user's Alpaca sign-in (before the code that names it).
    fn put_upstream<'a>(&'a self, upstream: &'a Upstream, now: i64) -> Fut<'a, ()>;
    /// Every stored Alpaca sign-in (for `auth rekey`).
    fn upstreams(&self) -> Fut<'_, Vec<Upstream>>;
    /// Replaces the sealed token of a sign-in (sealed again with another key).
    fn reseal<'a>(&'a self, id: &'a str, sealed: &'a str) -> Fut<'a, ()>;
    /// Keeps a consent form in flight until `expires_at`. Expired forms are dropped first;
    /// then, where the form's address, its client or everyone is at its bound in `limits`,
    /// the oldest forms of that kind are dropped to make room, so a flood of forms pushes
    /// out its own, never blocks the next sign-in.
    fn put_consent<'a>(
        &'a self,
        form: &'a ConsentForm,
        now: i64,
        expires_at: i64,
        limits: ConsentLimits,
    ) -> Fut<'a, ()>;
    /// The consent form in flight under `digest`, if it has not expired.
    fn consent<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, Option<String>>;
    /// Takes (removes) the consent form under `digest`: `Some` for one caller only, and only
    /// while it has not expired.
    fn take_consent<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, Option<String>>;
    /// How many events of `kind` there were at `since` or later: from `ip`, and from anyone.
    fn count_events<'a>(&'a self, kind: &'a str, ip: &'a str, since: i64) -> Fut<'a, (u64, u64)>;
    /// Records an event of `kind` from `key` at `now`, forgetting those of `kind` before
    /// `since`, only if, counting from `since`, `key` has had fewer than `per_key` and
    /// everyone fewer than `total` (`total` 0: no total):
    /// the count and the record are one step, so concurrent callers (on any replica) never
    /// pass the bound together. Whether it was recorded.
    fn take_event<'a>(
        &'a self,
        kind: &'a str,
        key: &'a str,
        now: i64,
        since: i64,
        bounds: (u64, u64),
    ) -> Fut<'a, bool>;
    /// Forgets one event of `kind` from `key` at `at` (an attempt that turned out right).
    fn forget_event<'a>(&'a self, kind: &'a str, key: &'a str, at: i64) -> Fut<'a, ()>;
    /// Remembers a device (the digest of its cookie) the owner signed in from, until
    /// `expires_at`.
    fn put_device<'a>(&'a self, digest: &'a str, expires_at: i64) -> Fut<'a, ()>;
    /// Whether a device the owner signed in from is remembered and unexpired.
    fn device<'a>(&'a self, digest: &'a str, now: i64) -> Fut<'a, bool>;
}

/// A consent form to keep (see [`Store::put_consent`]).
pub struct ConsentForm {
    /// The digest of the form's request id.
    pub digest: String,
    /// The form, as JSON.
    pub body: String,
    /// The client it is for.
    pub client_id: String,
    /// The address it was asked from.
    pub addr: String,
}

/// How many consent forms may be in flight (see [`Store::put_consent`]).
#[derive(Debug, Clone, Copy)]
pub struct ConsentLimits {
    /// From one address.
    pub per_addr: usize,
    /// For one client.
    pub per_client: usize,
    /// In all.
    pub total: usize,
}
