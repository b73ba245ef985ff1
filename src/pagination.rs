//! Following a list tool's pages: what Alpaca answers one page at a time comes back as one
//! result, bounded by the tool's `limit` (items in all) and the server's page cap
//! ([`crate::Config::max_pages`]), and says whether more remains and the token to continue from.
//!
//! Pages are merged by shape: arrays are concatenated, maps of arrays (bars by symbol,
//! corporate actions by kind) are concatenated per key, maps of objects (snapshots by symbol)
//! gain the new keys, and scalars (`symbol`, `currency`) keep the first page's value.

use std::future::Future;

use serde_json::{Map, Value, json};

use crate::cache::Sent;
use crate::runtime::events;
use crate::runtime::{JsonObject, Paginate, ToolError};

/// The pages a call reads when no `limit` is given: one, as V2 does.
const PAGES_WITHOUT_LIMIT: u64 = 1;

/// What a list or history result's summary says when its pages stopped at the result budget.
pub(crate) const BUDGET_FILLED: &str =
    "The pages read fill the result budget, so no more were fetched.";

/// The items a merged value holds: an array's length; for a map, its arrays' lengths plus one
/// per other entry; nothing for a scalar.
/// What a result with more to read says, once: the token itself is in `meta`.
pub(crate) const CONTINUE: &str =
    "More remains: call again with the same arguments and page_token = meta.next_page_token.";

pub(crate) fn count(v: &Value) -> u64 {
    match v {
        Value::Array(a) => a.len() as u64,
        Value::Object(m) => m
            .values()
            .map(|x| x.as_array().map_or(1, |a| a.len() as u64))
            .sum(),
        _ => 0,
    }
}

/// Merges one page (without its `next_page_token`) into what was collected; returns the
/// items the page added.
pub(crate) fn merge(acc: &mut Map<String, Value>, page: Map<String, Value>) -> u64 {
    let mut added = 0;
    for (key, value) in page {
        match (acc.get_mut(&key), value) {
            (Some(Value::Array(have)), Value::Array(more)) => {
                added += more.len() as u64;
                have.extend(more);
            }
            (Some(Value::Object(have)), Value::Object(more)) => {
                for (k, v) in more {
                    added += v.as_array().map_or(1, |a| a.len() as u64);
                    match (have.get_mut(&k), v) {
                        (Some(Value::Array(a)), Value::Array(b)) => a.extend(b),
                        (_, v) => {
                            have.insert(k, v);
                        }
                    }
                }
            }
            (Some(_), _) => {}
            (None, value) => {
                added += count(&value);
                acc.insert(key, value);
            }
        }
    }
    added
}

/// How one call walks the pages.
struct Walk {
    /// Items wanted in all, when `limit` was given.
    total: Option<u64>,
    max_pages: u64,
    /// The page size the caller asked for (a cursor tool's `page_size`).
    size: Option<u64>,
    token: Option<String>,
}

impl Walk {
    /// `cap`: the most pages a call with a `limit` reads.
    fn new(p: &Paginate, args: &mut JsonObject, cap: u64) -> Walk {
        let int = |v: Option<Value>| v.and_then(|v| v.as_u64());
        let total = if p.cursor.is_some() {
            int(args.remove("limit"))
        } else {
            int(args.get("limit").cloned())
        };
        let max_pages = if total.is_some() {
            cap
        } else {
            PAGES_WITHOUT_LIMIT
        };
        let size = match p.cursor {
            Some(_) => int(args.get(p.size_param).cloned()),
            None => None,
        };
        let token = args
            .get("page_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        Walk {
            total,
            max_pages,
            size,
            token,
        }
    }

    /// The size to ask for on the next page, if one is to be sent.
    fn page_size(&self, p: &Paginate, collected: u64) -> Option<u64> {
        let most = self.size.unwrap_or(p.page_max).min(p.page_max);
        match self.total {
            Some(total) => Some(total.saturating_sub(collected).clamp(1, most)),
            None => self.size,
        }
    }
}

/// What walking a list tool's pages gave.
pub(crate) enum Walked {
    /// The first page decided alone (an error, a stale answer, a body that is not JSON): the
    /// call's result is that page's.
    First(Result<Sent, ToolError>),
    /// The first page's JSON was not shaped like a list: passed on as it is.
    Unshaped(Value),
    /// The pages read, merged, with a one-line summary and `meta` (pages, items, whether more
    /// remains and the token to continue from).
    Merged {
        /// The merged pages, in the API's shape (with the remaining `next_page_token`).
        data: Value,
        /// Why a later page was not read and how to continue (none when all was read).
        summary: Option<String>,
        /// `{pages, items, more_available, next_page_token}`.
        meta: Value,
    },
}

/// Reads a list tool's pages with `send_page` (one request per call: the arguments of one
/// page) and merges them, bounded by the call's `limit`, `cap` pages and the result budget:
/// no page is fetched once `measure` says those read so far fill `budget` characters.
pub(crate) async fn walk<F, Fut>(
    p: &Paginate,
    mut args: JsonObject,
    cap: u64,
    (budget, measure): (usize, &(dyn Fn(&Value) -> usize + Sync)),
    mut send_page: F,
) -> Walked
where
    F: FnMut(JsonObject) -> Fut,
    Fut: Future<Output = Result<Sent, ToolError>>,
{
    let mut walk = Walk::new(p, &mut args, cap);
    let mut merged_object = Map::new();
    let mut merged_array: Vec<Value> = Vec::new();
    let mut collected = 0u64;
    let mut pages = 0u64;
    let mut stopped_by: Option<String> = None;
    let mut filled = 0usize;
    loop {
        let mut page = args.clone();
        let size = walk.page_size(p, collected);
        if let Some(n) = size {
            page.insert(p.size_param.into(), json!(n));
        }
        match &walk.token {
            Some(t) => page.insert("page_token".into(), Value::String(t.clone())),
            None => page.remove("page_token"),
        };
        let response = match send_page(page).await {
            Ok(Sent::Fresh(r)) => r,
            // The first page decides alone: an error or a stale answer is the result.
            first if pages == 0 => return Walked::First(first),
            Ok(Sent::Stale(_, e)) => {
                stopped_by = Some(e.to_string());
                break;
            }
            Err(e) => {
                stopped_by = Some(e.to_string());
                break;
            }
        };
        let body = match response.json() {
            Ok(v) => v,
            Err(_) if pages == 0 => return Walked::First(Ok(Sent::Fresh(response))),
            Err(e) => {
                stopped_by = Some(e.to_string());
                break;
            }
        };
        pages += 1;
        filled += measure(&body);
        walk.token = match (p.cursor, body) {
            (None, Value::Object(mut m)) => {
                let next = m
                    .remove("next_page_token")
                    .and_then(|t| t.as_str().map(str::to_string));
                collected += merge(&mut merged_object, m);
                next
            }
            (Some(field), Value::Array(items)) => {
                let full = size.or(p.page_default).unwrap_or(p.page_max);
                let next = if items.len() as u64 >= full {
                    items.last().and_then(|i| match i.get(field) {
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(other) if !other.is_null() => Some(other.to_string()),
                        _ => None,
                    })
                } else {
                    None
                };
                collected += items.len() as u64;
                merged_array.extend(items);
                next
            }
            // Not the shape a list has: passed on as it is, like any other answer.
            (_, other) if pages == 1 => return Walked::Unshaped(other),
            (_, _) => {
                stopped_by = Some("a page was not shaped like the first".into());
                break;
            }
        };
        let done = walk.total.is_some_and(|t| collected >= t);
        events::progress(
            collected,
            walk.total,
            format!("{pages} page(s) read, {collected} items"),
        );
        if walk.token.is_none() || done || pages >= walk.max_pages || filled >= budget {
            break;
        }
        // The caller gave up: no more pages are fetched for nobody.
        if events::cancelled() {
            stopped_by = Some("the request was cancelled".into());
            break;
        }
    }
    let more = walk.token.is_some();
    // The token that continues is in `meta` only (Alpaca's own `next_page_token` field
    // leaves `data`): a result says each value once.
    let data = match p.cursor {
        None => Value::Object(merged_object),
        Some(_) => Value::Array(merged_array),
    };
    // Counts are in meta; the summary is there only when something needs saying.
    let mut said = Vec::new();
    if let Some(why) = &stopped_by {
        said.push(format!("Page {} could not be read: {why}.", pages + 1));
    }
    if filled >= budget && walk.token.is_some() {
        said.push(BUDGET_FILLED.into());
    }
    if walk.token.is_some() {
        said.push(CONTINUE.into());
    }
    let summary = (!said.is_empty()).then(|| said.join(" "));
    let mut meta = json!({
        "pages": pages,
        "items": collected,
        "more_available": more,
    });
    if let Some(t) = &walk.token {
        meta["next_page_token"] = Value::String(t.clone());
    }
    Walked::Merged {
        data,
        summary,
        meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn arrays_concatenate_and_scalars_keep_the_first_page() {
        let mut acc = Map::new();
        let n1 = merge(
            &mut acc,
            obj(json!({"symbol": "AAPL", "bars": [{"t": 1}, {"t": 2}]})),
        );
        let n2 = merge(&mut acc, obj(json!({"symbol": "MSFT", "bars": [{"t": 3}]})));
        assert_eq!((n1, n2), (2, 1));
        assert_eq!(
            Value::Object(acc),
            json!({"symbol": "AAPL", "bars": [{"t": 1}, {"t": 2}, {"t": 3}]})
        );
    }

    #[test]
    fn maps_of_arrays_concatenate_per_key_and_maps_of_objects_gain_keys() {
        let mut acc = Map::new();
        merge(
            &mut acc,
            obj(json!({"bars": {"AAPL": [1, 2]}, "snapshots": {"A": {"p": 1}}})),
        );
        let added = merge(
            &mut acc,
            obj(json!({"bars": {"AAPL": [3], "MSFT": [4, 5]}, "snapshots": {"B": {"p": 2}}})),
        );
        assert_eq!(added, 3 + 1);
        assert_eq!(
            Value::Object(acc.clone()),
            json!({"bars": {"AAPL": [1, 2, 3], "MSFT": [4, 5]}, "snapshots": {"A": {"p": 1}, "B": {"p": 2}}})
        );
        assert_eq!(count(&acc["bars"]), 5);
        assert_eq!(count(&acc["snapshots"]), 2);
        assert_eq!(count(&json!("USD")), 0);
    }

    #[test]
    fn page_sizes_stay_within_alpacas_bound_and_the_total() {
        let p = Paginate {
            size_param: "limit",
            page_max: 50,
            page_default: None,
            cursor: None,
        };
        let mut args = obj(json!({"limit": 120}));
        let walk = Walk::new(&p, &mut args, 7);
        assert_eq!(walk.max_pages, 7);
        let sizes: Vec<_> = [0, 50, 100, 119]
            .iter()
            .map(|c| walk.page_size(&p, *c))
            .collect();
        assert_eq!(sizes, [Some(50), Some(50), Some(20), Some(1)]);
        let mut none = Map::new();
        let walk = Walk::new(&p, &mut none, 7);
        assert_eq!((walk.max_pages, walk.page_size(&p, 0)), (1, None));
    }

    #[test]
    fn a_cursor_tool_reads_its_own_limit_and_page_size() {
        let p = Paginate {
            size_param: "page_size",
            page_max: 100,
            page_default: Some(100),
            cursor: Some("id"),
        };
        let mut args = obj(json!({"limit": 30, "page_size": 20}));
        let walk = Walk::new(&p, &mut args, 5);
        assert!(!args.contains_key("limit"));
        assert_eq!(walk.max_pages, 5);
        assert_eq!(walk.page_size(&p, 0), Some(20));
        assert_eq!(walk.page_size(&p, 20), Some(10));
    }
}
