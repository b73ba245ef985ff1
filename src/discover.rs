//! Tools on demand (`ALPACA_TOOL_MODE=discover`): `tools/list` holds a small core and two
//! meta tools, `find_tools` (words in, the best-matching enabled tools out, with their full
//! input schemas and annotations) and `run_tool` (a name and its arguments, run through
//! exactly the path a direct call takes). What a model pays for every turn shrinks from every
//! definition to the few it uses.
//!
//! The ranking is BM25 (Robertson and Spärck Jones' probabilistic relevance score, k1 = 1.2,
//! b = 0.75) over each tool's name, title, description and argument names, fields weighted by
//! repetition (a name word counts three times, a title word twice), with plural endings folded
//! and a short table of the words traders use for what the tools are named after ("IV" for
//! implied volatility, "holdings" for positions). It is written here rather than taken from a
//! crate: the corpus is a hundred short documents built once at start, and the whole scorer is
//! shorter than the glue a search crate would need (its tokenizer, stemmer and index types).

use std::collections::HashMap;

use rmcp::model::Tool;
use serde_json::{Map, Value, json};

/// How `tools/list` presents the enabled tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolMode {
    /// Every enabled tool, with its full schema (the default).
    #[default]
    All,
    /// The core tools, `find_tools` and `run_tool`.
    Discover,
}

impl ToolMode {
    /// Reads `all` or `discover` (any case).
    pub fn parse(v: &str) -> Option<ToolMode> {
        match v.trim().to_ascii_lowercase().as_str() {
            "all" => Some(ToolMode::All),
            "discover" => Some(ToolMode::Discover),
            _ => None,
        }
    }
}

/// The core a `discover` list holds unless `ALPACA_CORE_TOOLS` names others: the account,
/// positions, orders, a quote and bars, and placing, closing and cancelling (those not enabled
/// are left out).
pub const DEFAULT_CORE: &[&str] = &[
    "get_account_info",
    "get_all_positions",
    "get_orders",
    "get_stock_latest_quote",
    "get_stock_bars",
    "place_stock_order",
    "close_position",
    "cancel_order_by_id",
];

/// The meta tools' names.
pub const FIND: &str = "find_tools";
/// See [`FIND`].
pub const RUN: &str = "run_tool";

/// The most tools one `find_tools` call returns.
pub const MAX_RESULTS: usize = 10;

/// Words people use for what the tools call otherwise, added to a query's own.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("iv", &["implied", "volatility", "greeks", "option"]),
    ("greeks", &["delta", "gamma", "theta", "vega", "option"]),
    ("calls", &["option", "chain", "call"]),
    ("puts", &["option", "chain", "put"]),
    ("strike", &["option", "chain"]),
    ("expiration", &["option", "chain"]),
    ("own", &["positions", "holdings"]),
    ("holdings", &["positions"]),
    ("shares", &["position", "stock"]),
    ("owned", &["positions"]),
    ("buying", &["account", "power"]),
    ("cash", &["account", "balance"]),
    ("balance", &["account"]),
    ("equity", &["account"]),
    ("close", &["bars", "daily", "closing"]),
    ("closed", &["bars", "daily"]),
    ("yesterday", &["bars", "daily"]),
    ("chart", &["bars"]),
    ("history", &["bars", "historical"]),
    ("candles", &["bars"]),
    ("price", &["quote", "latest"]),
    ("bid", &["quote"]),
    ("ask", &["quote"]),
    ("spread", &["quote", "bid", "ask"]),
    ("bitcoin", &["crypto", "btc"]),
    ("btc", &["crypto"]),
    ("eth", &["crypto"]),
    ("ethereum", &["crypto", "eth"]),
    (
        "dividend",
        &["corporate", "actions", "announcements", "cash"],
    ),
    (
        "dividends",
        &["corporate", "actions", "announcements", "cash"],
    ),
    ("split", &["corporate", "actions"]),
    ("splits", &["corporate", "actions"]),
    ("gainers", &["movers", "market"]),
    ("losers", &["movers", "market"]),
    ("traded", &["most", "active", "volume"]),
    ("active", &["most"]),
    ("holiday", &["calendar", "market"]),
    ("holidays", &["calendar", "market"]),
    ("profit", &["portfolio", "history", "equity"]),
    ("loss", &["portfolio", "history", "equity"]),
    ("performance", &["portfolio", "history"]),
    ("buy", &["place", "order"]),
    ("sell", &["close", "position", "order"]),
    ("change", &["replace", "order"]),
    ("modify", &["replace", "order"]),
    ("fills", &["activities", "fill"]),
    ("fill", &["activities", "order"]),
    ("shortable", &["asset", "short", "easy", "borrow"]),
    ("short", &["asset", "shortable"]),
    ("headlines", &["news"]),
];

/// Words that ask for a change: without one, a query asks to read, and the tools that write
/// count half (so "show my open orders" finds the list, not "cancel every open order").
const ACTION_WORDS: &[&str] = &[
    "buy",
    "sell",
    "place",
    "cancel",
    "close",
    "replace",
    "change",
    "modify",
    "update",
    "add",
    "remove",
    "delete",
    "create",
    "exercise",
    "liquidate",
    "exit",
    "short",
    "order",
    "rename",
    "set",
    "submit",
    "trade",
    "make",
    "new",
    "stop",
    "put",
];

/// Words that say nothing of which tool is meant.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "my", "me", "i", "what", "whats", "did", "do", "does", "at", "is",
    "are", "was", "for", "to", "in", "on", "and", "or", "with", "by", "show", "how", "much",
    "many", "this", "that", "it", "its", "now", "right", "please", "get", "give", "tell", "can",
    "you", "from", "about", "be", "any", "all", "when", "which", "there", "have", "has", "last",
];

/// One word, folded: lowercase ASCII letters and digits, plural endings off.
fn fold(word: &str) -> String {
    let w = word.to_ascii_lowercase();
    if w.len() > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..w.len() - 3]);
    }
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        return w[..w.len() - 1].to_string();
    }
    w
}

/// The words of `text` (split at anything not a letter or digit, `snake_case` too), folded,
/// stopwords out.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| !STOPWORDS.contains(&w.to_ascii_lowercase().as_str()))
        .map(fold)
        .collect()
}

/// A query's words with the words traders mean by them.
fn query_words(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in query
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let lower = raw.to_ascii_lowercase();
        if let Some((_, more)) = SYNONYMS.iter().find(|(w, _)| *w == lower) {
            out.extend(more.iter().map(|m| fold(m)));
        }
        if !STOPWORDS.contains(&lower.as_str()) {
            out.push(fold(&lower));
        }
    }
    out
}

/// The ranking over the enabled tools.
pub struct Index {
    /// Per tool: its name, its term frequencies, its length and whether it only reads.
    docs: Vec<(String, HashMap<String, f64>, f64, bool)>,
    /// Documents holding each term.
    df: HashMap<String, usize>,
    avg_len: f64,
}

impl Index {
    /// Indexes `tools` (the enabled ones, in listing order).
    pub fn new(tools: &[Tool]) -> Index {
        let mut docs = Vec::with_capacity(tools.len());
        let mut df: HashMap<String, usize> = HashMap::new();
        for t in tools {
            let mut tf: HashMap<String, f64> = HashMap::new();
            let mut add = |text: &str, weight: f64| {
                for w in words(text) {
                    *tf.entry(w).or_default() += weight;
                }
            };
            add(&t.name, 3.0);
            if let Some(title) = &t.title {
                add(title, 2.0);
            }
            if let Some(d) = &t.description {
                add(d, 1.0);
            }
            if let Some(Value::Object(props)) = t.input_schema.get("properties") {
                for name in props.keys() {
                    add(name, 1.0);
                }
            }
            for term in tf.keys() {
                *df.entry(term.clone()).or_default() += 1;
            }
            let len = tf.values().sum();
            let reads = t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true);
            docs.push((t.name.to_string(), tf, len, reads));
        }
        let avg_len = docs.iter().map(|d| d.2).sum::<f64>() / docs.len().max(1) as f64;
        Index { docs, df, avg_len }
    }

    /// The names of the tools that best match `query`, best first, at most `limit`, only
    /// those scoring above zero.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&str> {
        const K1: f64 = 1.2;
        const B: f64 = 0.75;
        let n = self.docs.len() as f64;
        let terms = query_words(query);
        let acts = query
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| ACTION_WORDS.contains(&w.to_ascii_lowercase().as_str()));
        let mut scored: Vec<(f64, usize)> = self
            .docs
            .iter()
            .enumerate()
            .map(|(i, (_, tf, len, reads))| {
                let weight = if acts || *reads { 1.0 } else { 0.5 };
                let score = weight
                    * terms
                        .iter()
                        .map(|t| {
                            let Some(f) = tf.get(t) else { return 0.0 };
                            let df = *self.df.get(t).unwrap_or(&0) as f64;
                            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                            idf * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * len / self.avg_len))
                        })
                        .sum::<f64>();
                (score, i)
            })
            .filter(|(s, _)| *s > 0.0)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, i)| self.docs[i].0.as_str())
            .collect()
    }
}

/// The two meta tools, as `tools/list` shows them.
pub fn meta_tools() -> [Tool; 2] {
    let find = json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "The task in words, e.g. option greeks."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS, "default": 5},
        },
        "required": ["query"],
    });
    let run = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "From find_tools."},
            "arguments": {"type": "object", "description": "As its inputSchema says."},
        },
        "required": ["name"],
    });
    let schema = |v: Value| match v {
        Value::Object(m) => std::sync::Arc::new(m),
        _ => unreachable!("an object literal"),
    };
    let mut find_tool = Tool::new(
        FIND,
        "Finds tools for a task among all enabled ones (market data, options, news, corporate actions, watchlists, assets, calendar, activities): best first, with inputSchema and annotations. Then call run_tool.",
        schema(find),
    );
    find_tool.annotations = Some(
        rmcp::model::ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false),
    );
    let mut run_tool = Tool::new(
        RUN,
        "Runs a tool find_tools found, as a direct call would: the same checks, guards and confirmations. It reads or writes as that tool does.",
        schema(run),
    );
    run_tool.annotations = Some(
        rmcp::model::ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(false)
            .open_world(true),
    );
    [find_tool, run_tool]
}

/// What `find_tools` answers for `found` (tools, best first): each one's name, title,
/// description, annotations and input schema, as `tools/list` would give them.
pub fn found(query: &str, found: &[&Tool]) -> Value {
    let tools: Vec<Value> = found
        .iter()
        .map(|t| {
            let mut m = Map::new();
            m.insert("name".into(), json!(t.name));
            if let Some(title) = &t.title {
                m.insert("title".into(), json!(title));
            }
            if let Some(d) = &t.description {
                m.insert("description".into(), json!(d));
            }
            if let Some(a) = &t.annotations {
                m.insert(
                    "annotations".into(),
                    serde_json::to_value(a).unwrap_or(Value::Null),
                );
            }
            m.insert(
                "inputSchema".into(),
                Value::Object((*t.input_schema).clone()),
            );
            Value::Object(m)
        })
        .collect();
    json!({"query": query, "tools": tools})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fold_plurals_split_names_and_drop_stopwords() {
        assert_eq!(words("get_all_positions"), ["position"]);
        assert_eq!(words("What are my Orders?"), ["order"]);
        assert_eq!(words("companies"), ["company"]);
        assert_eq!(words("class"), ["class"]);
        assert!(query_words("IV of SPY").contains(&"volatility".to_string()));
    }

    #[test]
    fn a_query_ranks_the_tool_named_for_it_first_and_nonsense_finds_nothing() {
        let tool = |name: &str, d: &str| {
            Tool::new(
                name.to_string(),
                d.to_string(),
                std::sync::Arc::new(Map::new()),
            )
        };
        let tools = [
            tool("get_orders", "Lists the account's orders."),
            tool("get_news", "News articles for symbols."),
            tool("get_clock", "Whether the market is open."),
        ];
        let index = Index::new(&tools);
        assert_eq!(index.search("latest news on tesla", 3), ["get_news"]);
        assert_eq!(index.search("is the market open", 3)[0], "get_clock");
        assert!(index.search("zzzz qqqq", 3).is_empty());
        assert!(index.search("", 3).is_empty());
    }
}
