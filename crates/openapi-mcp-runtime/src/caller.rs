//! Whose credentials a request goes out with, when one transport serves many users: a call
//! run [`as_caller`] sends every request with that caller's [`Auth`] instead of the
//! transport's own, and paces it with that caller's own rate limiters (an API's limits are
//! per account, so one user's burst never slows another). Outside such a call, requests use
//! the transport's configured credentials and its shared limiters, as before.

use std::future::Future;

use crate::transport::Auth;

/// A user of the transport: an id (what their limiters are kept under; never a secret) and
/// their credentials (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    /// Names the caller, for pacing; not a secret.
    pub id: String,
    /// What their requests are authenticated with.
    pub auth: Auth,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("id", &self.id)
            .field("auth", &self.auth)
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
