//! Whose credentials a request goes out with, when one transport serves many users: a call
//! run [`as_caller`] sends every request with that caller's [`Auth`] instead of the
//! transport's own, to that caller's own hosts where they differ (a user of a paper account
//! and one of a live account reach different trading hosts), and paces it with that caller's
//! own rate limiters (an API's limits are per account, so one user's burst never slows
//! another). When the API answers 401 to a caller's credentials, the caller's
//! [`Caller::on_unauthorized`] hook runs (a server ends that user's sign-in). Outside such a
//! call, requests use the transport's configured credentials and its shared limiters, as
//! before.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use url::Url;

use crate::transport::Auth;

/// What runs when the API refuses a caller's credentials (401), or answers for another
/// account than theirs.
pub type OnUnauthorized = Arc<dyn Fn() + Send + Sync>;

/// The account an answer names, if it names one (`None` for answers that say nothing of
/// whose they are): the API's own knowledge, given by the product.
pub type NamesAccount = fn(&crate::ApiRequest, &[u8]) -> Option<String>;

/// Whose answers a caller must get: every answer that names an account must name
/// `account`; one that names another is withheld ([`crate::Error::OtherAccount`]) and
/// `on_mismatch` runs (a server ends that sign-in: its credentials reach someone else).
#[derive(Clone)]
pub struct AccountCheck {
    /// The caller's account, as recorded when they signed in.
    pub account: String,
    /// Reads the account an answer names.
    pub names: NamesAccount,
    /// Runs when an answer names another account.
    pub on_mismatch: OnUnauthorized,
}

/// A user of the transport: an id (what their limiters are kept under; never a secret),
/// their credentials (never printed), and the hosts their requests go to where those differ
/// from the transport's.
#[derive(Clone)]
pub struct Caller {
    /// Names the caller, for pacing; not a secret.
    pub id: String,
    /// What their requests are authenticated with.
    pub auth: Auth,
    /// Base URLs by API name that replace the transport's for this caller.
    pub base_urls: BTreeMap<String, Url>,
    /// Called (once per refused request) when the API answers 401 to these credentials.
    pub on_unauthorized: Option<OnUnauthorized>,
    /// The account every answer that names one must name.
    pub account: Option<AccountCheck>,
}

impl Caller {
    /// A caller with the transport's hosts and no 401 hook.
    pub fn new(id: impl Into<String>, auth: Auth) -> Self {
        Caller {
            id: id.into(),
            auth,
            base_urls: BTreeMap::new(),
            on_unauthorized: None,
            account: None,
        }
    }

    /// This caller's requests to `api` go to `base` instead of the transport's host.
    pub fn with_base_url(mut self, api: impl Into<String>, base: Url) -> Self {
        self.base_urls.insert(api.into(), base);
        self
    }

    /// `hook` runs when the API answers 401 to this caller's credentials.
    pub fn on_unauthorized(mut self, hook: OnUnauthorized) -> Self {
        self.on_unauthorized = Some(hook);
        self
    }

    /// Every answer that names an account must name this caller's (see [`AccountCheck`]).
    pub fn checking_account(mut self, check: AccountCheck) -> Self {
        self.account = Some(check);
        self
    }
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("id", &self.id)
            .field("auth", &self.auth)
            .field("base_urls", &self.base_urls)
            .field("on_unauthorized", &self.on_unauthorized.is_some())
            .field("account", &self.account.as_ref().map(|c| &c.account))
            .finish()
    }
}

tokio::task_local! {
    static CALLER: Caller;
}

/// Runs `call` as `caller`: every request it sends carries their credentials. Tasks `call`
/// spawns are not followed (they would send with the transport's own).
pub async fn as_caller<F: Future>(caller: Caller, call: F) -> F::Output {
    CALLER.scope(caller, call).await
}

/// The id of the caller of the call in progress, if it runs [`as_caller`] (what a cache of
/// answers keys them by, so one caller's answers never serve another).
pub fn current_id() -> Option<String> {
    CALLER.try_with(|c| c.id.clone()).ok()
}

/// The caller of the call in progress, if it runs [`as_caller`].
pub(crate) fn current() -> Option<Caller> {
    CALLER.try_with(Clone::clone).ok()
}
