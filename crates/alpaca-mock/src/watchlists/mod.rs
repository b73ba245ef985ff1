//! Watchlists, addressed by id or by name.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value};

use crate::assets::{self, ok};
use crate::errors::{ApiError, ApiResult, json_object};
use crate::query::{Api, Query};
use crate::state::{Book, MockState};

pub(crate) mod model;

pub(crate) use model::Watchlist;

/// How a route names its watchlist.
enum Key {
    Id(String),
    Name(String),
}

fn locate(book: &Book, key: &Key) -> Result<usize, ApiError> {
    let found = match key {
        Key::Id(id) => book.watchlists.iter().position(|w| &w.id == id),
        Key::Name(n) => book.watchlists.iter().position(|w| &w.name == n),
    };
    found.ok_or_else(|| ApiError::not_found("watchlist not found"))
}

fn name_key(q: Option<String>) -> Result<Key, ApiError> {
    let q = Query::parse(q.as_deref(), Api::Trading);
    Ok(Key::Name(q.required("name")?.to_string()))
}

fn canonical_symbols(v: &Value) -> Result<Vec<String>, ApiError> {
    let list = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        _ => {
            return Err(ApiError::unprocessable(
                "symbols must be an array of strings",
            ));
        }
    };
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let s = s
            .as_str()
            .ok_or_else(|| ApiError::unprocessable("symbols must be an array of strings"))?;
        let a = assets::find(s)
            .ok_or_else(|| ApiError::unprocessable(format!("asset not found: {s}")))?;
        if !out.iter().any(|x| x == a.symbol) {
            out.push(a.symbol.to_string());
        }
    }
    Ok(out)
}

fn name_field(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match m.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 64 => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::unprocessable(
            "name must be a non-empty string of at most 64 characters",
        )),
    }
}

fn ensure_unique_name(book: &Book, name: &str, except: Option<usize>) -> Result<(), ApiError> {
    if book
        .watchlists
        .iter()
        .enumerate()
        .any(|(i, w)| w.name == name && Some(i) != except)
    {
        return Err(ApiError::unprocessable(format!(
            "watchlist name \"{name}\" is already used"
        )));
    }
    Ok(())
}

/// `GET /v2/watchlists`
pub(crate) async fn list(State(s): State<MockState>) -> ApiResult {
    let book = s.book();
    Ok(ok(Value::Array(
        book.watchlists.iter().map(|w| w.to_json(false)).collect(),
    )))
}

/// `POST /v2/watchlists`
pub(crate) async fn create(State(s): State<MockState>, body: Bytes) -> ApiResult {
    let m = json_object(&body)?;
    let name = name_field(&m)?.ok_or_else(|| ApiError::unprocessable("name is required"))?;
    let symbols = canonical_symbols(m.get("symbols").unwrap_or(&Value::Null))?;
    let now = s.now();
    let mut book = s.book();
    ensure_unique_name(&book, &name, None)?;
    let id = s.next_uuid(&mut book);
    let w = Watchlist {
        id,
        name,
        symbols,
        created_at: now,
        updated_at: now,
    };
    let v = w.to_json(true);
    book.watchlists.push(w);
    Ok(ok(v))
}

fn get_impl(s: &MockState, key: Key) -> ApiResult {
    let book = s.book();
    let i = locate(&book, &key)?;
    Ok(ok(book.watchlists[i].to_json(true)))
}

fn add_impl(s: &MockState, key: Key, body: &[u8]) -> ApiResult {
    let m = json_object(body)?;
    let sym = m
        .get("symbol")
        .and_then(Value::as_str)
        .filter(|x| !x.is_empty())
        .ok_or_else(|| ApiError::unprocessable("symbol is required"))?;
    let a = assets::find(sym)
        .ok_or_else(|| ApiError::unprocessable(format!("asset not found: {sym}")))?;
    let now = s.now();
    let mut book = s.book();
    let i = locate(&book, &key)?;
    let w = &mut book.watchlists[i];
    if w.symbols.iter().any(|x| x == a.symbol) {
        return Err(ApiError::unprocessable(format!(
            "{} is already in the watchlist",
            a.symbol
        )));
    }
    w.symbols.push(a.symbol.to_string());
    w.updated_at = now;
    Ok(ok(w.to_json(true)))
}

fn update_impl(s: &MockState, key: Key, body: &[u8]) -> ApiResult {
    let m = json_object(body)?;
    let name = name_field(&m)?;
    let symbols = match m.get("symbols") {
        None | Some(Value::Null) => None,
        Some(v) => Some(canonical_symbols(v)?),
    };
    if name.is_none() && symbols.is_none() {
        return Err(ApiError::unprocessable("name or symbols is required"));
    }
    let now = s.now();
    let mut book = s.book();
    let i = locate(&book, &key)?;
    if let Some(n) = &name {
        ensure_unique_name(&book, n, Some(i))?;
    }
    let w = &mut book.watchlists[i];
    if let Some(n) = name {
        w.name = n;
    }
    if let Some(syms) = symbols {
        w.symbols = syms;
    }
    w.updated_at = now;
    Ok(ok(w.to_json(true)))
}

fn delete_impl(s: &MockState, key: Key) -> ApiResult {
    let mut book = s.book();
    let i = locate(&book, &key)?;
    book.watchlists.remove(i);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v2/watchlists/{watchlist_id}`
pub(crate) async fn get(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    get_impl(&s, Key::Id(id))
}

/// `POST /v2/watchlists/{watchlist_id}`
pub(crate) async fn add(
    State(s): State<MockState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    add_impl(&s, Key::Id(id), &body)
}

/// `PUT /v2/watchlists/{watchlist_id}`
pub(crate) async fn update(
    State(s): State<MockState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    update_impl(&s, Key::Id(id), &body)
}

/// `DELETE /v2/watchlists/{watchlist_id}`
pub(crate) async fn delete(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    delete_impl(&s, Key::Id(id))
}

/// `DELETE /v2/watchlists/{watchlist_id}/{symbol}`
pub(crate) async fn remove_symbol(
    State(s): State<MockState>,
    Path((id, symbol)): Path<(String, String)>,
) -> ApiResult {
    let now = s.now();
    let mut book = s.book();
    let i = locate(&book, &Key::Id(id))?;
    let want = assets::find(&symbol)
        .map(|a| a.symbol.to_string())
        .unwrap_or(symbol.clone());
    let w = &mut book.watchlists[i];
    let pos = w
        .symbols
        .iter()
        .position(|x| *x == want)
        .ok_or_else(|| ApiError::not_found(format!("{symbol} is not in the watchlist")))?;
    w.symbols.remove(pos);
    w.updated_at = now;
    Ok(ok(w.to_json(true)))
}

/// `GET /v2/watchlists:by_name`
pub(crate) async fn get_by_name(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    get_impl(&s, name_key(q)?)
}

/// `POST /v2/watchlists:by_name`
pub(crate) async fn add_by_name(
    State(s): State<MockState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    add_impl(&s, name_key(q)?, &body)
}

/// `PUT /v2/watchlists:by_name`
pub(crate) async fn update_by_name(
    State(s): State<MockState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    update_impl(&s, name_key(q)?, &body)
}

/// `DELETE /v2/watchlists:by_name`
pub(crate) async fn delete_by_name(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    delete_impl(&s, name_key(q)?)
}
