//! One of several users of one server: each signed in with their own Alpaca account (Alpaca
//! Connect), so each request carries whose account it acts on. A [`User`] is their
//! [`Caller`] (credentials, hosts, pacing; see [`crate::runtime::caller`]) and the account's
//! [`Mode`], which results and the instructions state instead of the server's own.
//!
//! An HTTP layer that knows the user puts a `User` in the request's extensions; the handler
//! ([`crate::AlpacaServer`]) runs the request [`as_user`]. An embedding server does the same
//! around its own calls.

use std::future::Future;

use rmcp::RoleServer;
use rmcp::service::RequestContext;

use crate::config::Mode;
use crate::runtime::caller::{Caller, as_caller};

/// A signed-in user: whose credentials requests carry, and whether the account is paper or
/// live.
#[derive(Clone, Debug)]
pub struct User {
    /// Credentials, hosts and pacing of their requests.
    pub caller: Caller,
    /// Their account's mode.
    pub mode: Mode,
}

tokio::task_local! {
    static MODE: Mode;
}

/// Runs `call` as `user`: every request it sends is theirs, and results name their mode.
pub async fn as_user<F: Future>(user: &User, call: F) -> F::Output {
    MODE.scope(user.mode, as_caller(user.caller.clone(), call))
        .await
}

/// Runs `call` as the user an HTTP layer put in the request's extensions, if any; else as
/// the server's own account.
pub async fn as_user_of<F: Future>(context: &RequestContext<RoleServer>, call: F) -> F::Output {
    match of_request(context) {
        Some(user) => as_user(&user, call).await,
        None => call.await,
    }
}

/// The user of a request, as an HTTP layer put them in its extensions.
pub fn of_request(context: &RequestContext<RoleServer>) -> Option<User> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<User>())
        .cloned()
}

/// The mode of the account the call in progress acts on: its user's, else `default` (the
/// server's own).
pub(crate) fn mode_or(default: Mode) -> Mode {
    MODE.try_with(|m| *m).unwrap_or(default)
}
