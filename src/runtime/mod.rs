//! The runtime the generated code calls: HTTP transport, requests and responses, errors, tool
//! definitions and strict argument parsing. Nothing here knows about particular operations.

pub mod checks;
pub mod de;
mod defs;
mod error;
mod request;
mod transport;
pub mod validate;

pub use checks::{DayEdge, check_format, check_pattern, comma_list, date_time, path_segment};
pub use defs::{
    Annotations, HandwrittenDef, Paginate, RequestFn, Risk, ToolDef, ToolFn, ToolsetDef,
};
pub use error::{Error, ToolError};
pub use request::{
    ApiRequest, ApiResponse, Method, encode_path, json_to_query, parse_args, take_pager_arg,
    to_json,
};
pub use transport::{Credentials, RateLimit, Transport, TransportConfig};

/// A JSON object: tool arguments and the like.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// A boxed future that is `Send`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
