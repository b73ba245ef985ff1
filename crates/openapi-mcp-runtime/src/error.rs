//! Errors of API calls and of tool calls.

/// An API call that did not produce a success response.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with a non-success status.
    #[error("{}", api_message(*status, *code, message))]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's own error code, when it sent one.
        code: Option<i64>,
        /// The API's message (or the start of the body when it sent no message).
        message: String,
        /// `Retry-After` in seconds, when sent.
        retry_after: Option<u64>,
    },
    /// No response in time.
    #[error("the request timed out after it was sent; it may have reached the API")]
    Timeout,
    /// The connection failed.
    #[error("could not reach the API ({detail}); {}", if *sent { "the request may have reached it" } else { "the request was not sent" })]
    Connection {
        /// What failed.
        detail: String,
        /// Whether the request may have been sent before the failure.
        sent: bool,
    },
    /// A success response whose body does not have the expected shape.
    #[error("the response did not have the expected shape: {detail}")]
    Decode {
        /// What did not match.
        detail: String,
        /// The body as received.
        body: String,
    },
    /// The API answered with a redirect (3xx), which is never followed: credentials and
    /// bodies go only to the configured hosts.
    #[error("{}", redirect_message(*status, location_host.as_deref()))]
    Redirect {
        /// HTTP status (301, 302, 303, 307, 308, ...).
        status: u16,
        /// The host the `Location` header named (`None` when it named none, or a relative path).
        location_host: Option<String>,
    },
    /// The answer's body was larger than the transport's limit; reading stopped there.
    #[error("{}", too_large_message(*status, *limit))]
    BodyTooLarge {
        /// The answer's HTTP status.
        status: u16,
        /// The limit, in bytes.
        limit: usize,
    },
    /// An argument was refused before anything was sent: a blank path argument, a value that
    /// does not have the format the spec states, a symbol outside the symbol alphabet.
    #[error("argument `{argument}` {reason}")]
    InvalidArgument {
        /// The argument's name.
        argument: String,
        /// What is wrong with it, and what was expected.
        reason: String,
    },
    /// A caller's answer named another account than theirs (see
    /// [`crate::caller::AccountCheck`]): it was withheld, and their sign-in ended.
    #[error(
        "the API answered for another account than the one this sign-in connected; the answer was withheld and the sign-in ended"
    )]
    OtherAccount,
    /// The request could not be built or sent as it is (an argument that cannot travel in a
    /// URL or header, a URL over the length limit, no host for its API). Nothing was sent.
    #[error("the request was not sent: {0}")]
    InvalidRequest(String),
}

fn too_large_message(status: u16, limit: usize) -> String {
    format!(
        "HTTP {status} with a body too large to read (over the {} MiB limit of {limit} bytes); narrow the request (fewer symbols, a shorter time range or a smaller limit)",
        limit / (1024 * 1024)
    )
}

fn redirect_message(status: u16, host: Option<&str>) -> String {
    let target = match host {
        Some(h) => format!("to host `{h}`"),
        None => "without a usable Location".to_string(),
    };
    format!(
        "HTTP {status}: the API answered with a redirect {target}, which was not followed (API keys and request bodies are sent only to the configured host); nothing more was sent"
    )
}

impl Error {
    /// The error in a few words for a log line: its kind and status, never a body, a
    /// header or a message the API sent.
    pub fn brief(&self) -> String {
        match self {
            Error::Api { status, .. } => format!("HTTP {status}"),
            Error::Timeout => "no answer in time".into(),
            Error::Connection { .. } => "a connection failure".into(),
            Error::Decode { .. } => "an answer that could not be read".into(),
            Error::Redirect { status, .. } => format!("a redirect (HTTP {status})"),
            Error::OtherAccount => "an answer for another account".into(),
            _ => "an error".into(),
        }
    }
}

impl Error {
    /// Whether the request may have reached the API (and so a write may have been applied).
    /// `false` only when it certainly was not sent.
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Error::InvalidRequest(_) | Error::InvalidArgument { .. } => false,
            Error::Connection { sent, .. } => *sent,
            _ => true,
        }
    }
}

fn api_message(status: u16, code: Option<i64>, message: &str) -> String {
    match code {
        Some(code) => format!("HTTP {status} (code {code}): {message}"),
        None => format!("HTTP {status}: {message}"),
    }
}

/// A tool call that failed: bad arguments (nothing was sent) or a failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments were rejected before anything was sent.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The API call failed.
    #[error(transparent)]
    Api(Error),
}

impl From<Error> for ToolError {
    /// An argument refused while building the request is an argument error (nothing was sent);
    /// anything else is the API call's failure.
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument { .. } => ToolError::InvalidArguments(e.to_string()),
            e => ToolError::Api(e),
        }
    }
}
