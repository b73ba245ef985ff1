//! What a tool result looks like to the client: its text (compact tables or JSON), whether
//! `structuredContent` goes with it, and the budget that bounds every text a client may hand
//! to a model.
//!
//! - `compact` (the default): the text is [`crate::compact`]'s rendering and no
//!   `structuredContent` is sent when the text holds a table, because several clients (Claude
//!   Code, Codex, Copilot CLI) hand the model `structuredContent` instead of the text when both
//!   are present, which would undo the saving. A result without a table is JSON either way and
//!   keeps `structuredContent`.
//! - `json`: the text is the envelope's JSON and `structuredContent` the same value (as before
//!   compact rendering existed).
//! - `both`: compact text and the envelope as `structuredContent`, for clients that give the
//!   model the text (claude.ai, ChatGPT) while a program reads the JSON; the budget then bounds
//!   the JSON too.
//!
//! A result over the budget keeps whole rows, in Alpaca's order, and `meta.budget` says how
//! many were kept of how many Alpaca sent and how to get the rest.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use crate::compact::{self, Table};
use crate::settings::ConfigError;

/// The text a result's rows are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables for rows, no `structuredContent` beside them.
    Compact,
    /// The envelope's JSON as text and as `structuredContent`.
    Json,
    /// Compact text, and the envelope's JSON as `structuredContent`.
    Both,
}

/// How results are written and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputConfig {
    /// `ALPACA_RESULT_FORMAT`: `compact` (default), `json` or `both`.
    pub format: Format,
    /// `ALPACA_MAX_RESULT_CHARS`: the most characters of text a result may hand a model
    /// (default 40,000, or the client's from [`CLIENT_BUDGETS`]; 2,000 to 1,000,000). Counted
    /// in bytes of UTF-8, so a limit in bytes holds too.
    pub max_chars: usize,
    /// Whether the operator set `ALPACA_MAX_RESULT_CHARS`: then it holds for every client,
    /// and [`CLIENT_BUDGETS`] is not consulted.
    pub operator_set: bool,
}

/// A client that cuts tool results at a known size, and the budget that keeps a result whole
/// under that cut (so rows are left out by us, counted and continued, not lost from the middle).
#[derive(Debug, Clone, Copy)]
pub struct ClientBudget {
    /// The client, as people name it.
    pub client: &'static str,
    /// The `clientInfo.name` it sends (compared without case; a name that starts with one
    /// of these, followed by nothing or `-`/`_`/`/`, matches).
    pub names: &'static [&'static str],
    /// Our budget for it.
    pub max_chars: usize,
    /// Where it cuts, in characters (or bytes, whichever it counts; our budget counts bytes,
    /// which bounds both).
    pub cuts_at: usize,
    /// What it does with a long result.
    pub cut: &'static str,
    /// Where that figure comes from.
    pub source: &'static str,
}

/// The clients whose cut is known. A client not named here gets [`DEFAULT_MAX_CHARS`].
pub const CLIENT_BUDGETS: &[ClientBudget] = &[
    ClientBudget {
        client: "Codex CLI",
        names: &["codex-mcp-client", "codex"],
        max_chars: 10_000,
        cuts_at: 12_000,
        cut: "keeps about 12,000 characters of a tool result and drops the middle",
        source: "measured with Codex CLI 0.171.0 against the sandbox (this project's issue 37); its earlier 10 KiB / 256-line cap: openai/codex#6544",
    },
    ClientBudget {
        client: "fast-agent",
        names: &["fast-agent-mcp", "fast-agent"],
        max_chars: 14_000,
        cuts_at: 16_000,
        cut: "keeps 16,000 bytes of a tool result and drops the middle",
        source: "measured with fast-agent 0.10.48 against the sandbox (this project's issue 37)",
    },
    ClientBudget {
        client: "Claude Code",
        names: &["claude-code"],
        max_chars: DEFAULT_MAX_CHARS,
        cuts_at: 50_000,
        cut: "moves a result over about 50,000 characters out of the conversation into a file, and refuses one over MAX_MCP_OUTPUT_TOKENS (25,000 tokens by default)",
        source: "Claude Code's MCP documentation (\"MCP output limits\")",
    },
];

/// The budget entry for a client's `clientInfo.name`, if its cut is known.
pub fn client_budget(name: &str) -> Option<&'static ClientBudget> {
    let name = name.trim().to_ascii_lowercase();
    CLIENT_BUDGETS.iter().find(|b| {
        b.names.iter().any(|n| {
            name.strip_prefix(n)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_', '/', ' ']))
        })
    })
}

/// The default budget: under the 50,000 characters past which Claude Code moves a result out
/// of the conversation, with room for the envelope.
pub const DEFAULT_MAX_CHARS: usize = 40_000;
/// Bounds of [`OutputConfig::max_chars`].
pub const MAX_CHARS_RANGE: std::ops::RangeInclusive<u64> = 2_000..=1_000_000;
/// The most characters of an error's text (clients cut long errors short, Claude Code at about
/// 11,000).
pub const MAX_ERROR_CHARS: usize = 4_000;

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            format: Format::Compact,
            max_chars: DEFAULT_MAX_CHARS,
            operator_set: false,
        }
    }
}

impl OutputConfig {
    /// Reads `ALPACA_RESULT_FORMAT` and `ALPACA_MAX_RESULT_CHARS` through `get`.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| get(name).filter(|v| crate::settings::is_set(v));
        let format = match set("ALPACA_RESULT_FORMAT") {
            None => Format::Compact,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "compact" => Format::Compact,
                "json" => Format::Json,
                "both" => Format::Both,
                _ => {
                    return Err(ConfigError::BadChoice {
                        name: "ALPACA_RESULT_FORMAT".into(),
                        value: v,
                        expected: "compact, json or both",
                    });
                }
            },
        };
        let max_chars = match set("ALPACA_MAX_RESULT_CHARS") {
            None => DEFAULT_MAX_CHARS,
            Some(v) => {
                crate::settings::parse_in_range("ALPACA_MAX_RESULT_CHARS", &v, MAX_CHARS_RANGE)?
                    as usize
            }
        };
        let operator_set = set("ALPACA_MAX_RESULT_CHARS").is_some();
        Ok(OutputConfig {
            format,
            max_chars,
            operator_set,
        })
    }

    /// The config for a call from the client named `client` (`clientInfo.name`): its budget
    /// from [`CLIENT_BUDGETS`] when its cut is known, unless the operator set one for all.
    pub fn for_client(&self, client: Option<&str>) -> OutputConfig {
        match client.and_then(client_budget) {
            Some(b) if !self.operator_set => OutputConfig {
                max_chars: b.max_chars,
                ..*self
            },
            _ => *self,
        }
    }
}

/// What the output needs to know of the tool a result came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct ToolShape {
    /// The tool's name (for the continuation hint).
    pub name: &'static str,
    /// Maps of records in its answer (see [`compact::extract`]).
    pub keyed: &'static [&'static [&'static str]],
    /// Arguments that narrow its answer.
    pub narrow: &'static [&'static str],
    /// Whether `limit` (items in all) and `page_token` continue its answer exactly.
    pub pages: bool,
}

/// A result written for the client, and whether it had to be cut to the budget.
pub struct Written {
    /// The result.
    pub result: CallToolResult,
    /// Rows kept when rows were cut: a paged tool called again with `limit` = this many gets
    /// an exact continuation token.
    pub cut_to: Option<usize>,
    /// The rows Alpaca's answer held.
    pub rows: usize,
}

impl OutputConfig {
    /// Writes `result` (an envelope in `structuredContent`, or an error) for the client.
    pub fn write(&self, result: CallToolResult, tool: &ToolShape) -> Written {
        if result.is_error == Some(true) {
            return Written {
                result: short_error(result),
                cut_to: None,
                rows: 0,
            };
        }
        let Some(Value::Object(envelope)) = result.structured_content.clone() else {
            return Written {
                result: self.cut_text(result),
                cut_to: None,
                rows: 0,
            };
        };
        if let Some(w) = self.fit_rows(&envelope, tool) {
            return w;
        }
        // Single values are too large (a huge field beside the rows, a huge cell, a huge
        // answer that is no table): long strings are shortened, then long lists cut, each
        // step tighter, until whole rows fit again.
        for (max_str, max_items) in shortening_steps(self.max_chars) {
            let mut cuts = Cuts::default();
            let mut env = Value::Object(envelope.clone());
            shorten(&mut env, max_str, max_items, &mut cuts);
            let Value::Object(mut env) = env else {
                continue;
            };
            if cuts.strings + cuts.arrays == 0 {
                continue;
            }
            note_values_cut(&mut env, self.max_chars, max_str, max_items, &cuts, tool);
            if let Some(w) = self.fit_rows(&env, tool) {
                return w;
            }
        }
        Written {
            result: self.left_out(&envelope, tool),
            cut_to: None,
            rows: 0,
        }
    }

    /// `envelope` written with as many whole rows as fit, in order (`meta.budget` saying how
    /// many of how many); `None` when not even one row fits beside the rest, or the rest
    /// alone is over the budget.
    fn fit_rows(&self, envelope: &Map<String, Value>, tool: &ToolShape) -> Option<Written> {
        let mut rest = envelope.get("data").cloned().unwrap_or(Value::Null);
        let tables = compact::extract(&mut rest, tool.keyed);
        let total: usize = tables.iter().map(|t| t.rows.len()).sum();
        let written = self.emit(envelope, &rest, &tables);
        if self.fits(&written) {
            return Some(Written {
                result: written,
                cut_to: None,
                rows: total,
            });
        }
        if total == 0 || self.fixed_part_too_large(envelope, &rest) {
            return None;
        }
        // Whole rows, in order, until the budget; then fewer while the meta that says so
        // pushes the text over.
        let mut keep = self.rows_that_fit(envelope, &rest, &tables);
        while keep > 0 {
            let (kept, first_out) = cut(&tables, keep);
            let mut env = envelope.clone();
            add_budget_meta(&mut env, self.max_chars, keep, total, first_out, tool);
            let mut data = rest.clone();
            compact::insert(&mut data, kept.clone());
            env.insert("data".into(), data);
            let written = self.emit(&env, &rest, &kept);
            if self.fits(&written) {
                return Some(Written {
                    result: written,
                    cut_to: Some(keep),
                    rows: total,
                });
            }
            keep -= 1;
        }
        None
    }

    /// The last resort: nothing of the answer fits even shortened, so `data` is a sentence
    /// saying so (with the envelope's notice and mode kept).
    fn left_out(&self, envelope: &Map<String, Value>, tool: &ToolShape) -> CallToolResult {
        let mut env = Map::new();
        for key in ["notice", "mode"] {
            if let Some(Value::String(v)) = envelope.get(key)
                && v.len() < 1_000
            {
                env.insert(key.into(), Value::String(v.clone()));
            }
        }
        let data = Value::String(format!(
            "left out: Alpaca's answer is too large to show within {} characters even with its long values shortened; call {} with narrower arguments, or raise ALPACA_MAX_RESULT_CHARS",
            self.max_chars,
            tool_name(tool)
        ));
        env.insert("data".into(), data.clone());
        env.insert(
            "meta".into(),
            json!({"budget": {"max_chars": self.max_chars, "data_left_out": true}}),
        );
        self.emit(&env, &data, &[])
    }

    /// A result with no envelope (text only), its text blocks cut to the budget at a
    /// character boundary, saying so.
    fn cut_text(&self, mut result: CallToolResult) -> CallToolResult {
        if self.fits(&result) {
            return result;
        }
        let mut room = self.max_chars.saturating_sub(100);
        for c in &mut result.content {
            if let Some(t) = c.as_text() {
                let len = t.text.len();
                if len > room {
                    let mut end = room;
                    while !t.text.is_char_boundary(end) {
                        end -= 1;
                    }
                    *c = ContentBlock::text(format!(
                        "{} [... {} more bytes left out to stay within {} characters]",
                        &t.text[..end],
                        len - end,
                        self.max_chars
                    ));
                    room = 0;
                } else {
                    room -= len;
                }
            }
        }
        result.structured_content = None;
        result
    }

    /// Whether what is not rows (the envelope with its tables emptied) is over the budget on
    /// its own, so that leaving out more rows cannot help.
    fn fixed_part_too_large(&self, envelope: &Map<String, Value>, rest: &Value) -> bool {
        let mut env = envelope.clone();
        env.insert("data".into(), rest.clone());
        !self.fits(&self.emit(&env, rest, &[]))
    }

    /// The characters the rows of `data` (one page of a list) add to a result, by this
    /// format's measure: a list stops following pages once their sum reaches the budget.
    pub fn measure(&self, data: &Value, keyed: &[&[&str]]) -> usize {
        match self.format {
            Format::Compact => {
                let mut rest = data.clone();
                let tables = compact::extract(&mut rest, keyed);
                tables
                    .iter()
                    .map(|t| compact::render_table(t).len())
                    .sum::<usize>()
                    + rest.to_string().len()
            }
            Format::Json | Format::Both => data.to_string().len(),
        }
    }

    fn fits(&self, r: &CallToolResult) -> bool {
        let text: usize = r
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.len()))
            .sum();
        let structured = match (self.format, &r.structured_content) {
            (Format::Both, Some(v)) => v.to_string().len(),
            _ => 0,
        };
        text.max(structured) <= self.max_chars
    }

    /// The rows (in order) whose lines fit beside everything else, by the format's measure.
    fn rows_that_fit(
        &self,
        envelope: &Map<String, Value>,
        rest: &Value,
        tables: &[Table],
    ) -> usize {
        // What is not rows: the text with every table empty, plus room for `meta.budget`.
        let fixed = match self.format {
            Format::Compact => compact::render_parts(envelope, rest, &[]).len(),
            Format::Json | Format::Both => {
                let mut fixed_env = envelope.clone();
                fixed_env.insert("data".into(), rest.clone());
                Value::Object(fixed_env).to_string().len()
            }
        } + 600;
        let mut room = self.max_chars.saturating_sub(fixed);
        let mut kept = 0;
        // A row as JSON: the record, and its key (or the comma) beside it.
        let json_len = |(k, r): &(Option<String>, Map<String, Value>)| {
            serde_json::to_string(r).map_or(0, |s| s.len()) + k.as_ref().map_or(1, |k| k.len() + 4)
        };
        for t in tables {
            let (head, lines) = compact::row_lengths(t);
            let head = match self.format {
                Format::Compact => head,
                _ => 16 + t.path.iter().map(|k| k.len() + 3).sum::<usize>(),
            };
            if head > room {
                return kept;
            }
            room -= head;
            for (row, line) in t.rows.iter().zip(lines) {
                let cost = match self.format {
                    Format::Compact => line,
                    Format::Json => json_len(row),
                    Format::Both => json_len(row).max(line),
                };
                if cost > room {
                    return kept;
                }
                room -= cost;
                kept += 1;
            }
        }
        kept
    }

    /// The result for an envelope whose `data` is `rest` with `tables` put back.
    fn emit(
        &self,
        envelope: &Map<String, Value>,
        rest: &Value,
        tables: &[Table],
    ) -> CallToolResult {
        let structured = Value::Object(envelope.clone());
        let compact_text = || compact::render_parts(envelope, rest, tables);
        let (text, with_structured) = match self.format {
            Format::Json => (compact::json_text(&structured), true),
            Format::Compact if tables.is_empty() => (compact::json_text(&structured), true),
            Format::Compact => (compact_text(), false),
            Format::Both => (compact_text(), true),
        };
        let mut result = CallToolResult::structured(structured);
        result.content = vec![ContentBlock::text(text)];
        if !with_structured {
            result.structured_content = None;
        }
        result
    }
}

/// The first `keep` rows of `tables`, in order, and a name for the first row left out (its key,
/// `id`, `symbol` or time).
fn cut(tables: &[Table], keep: usize) -> (Vec<Table>, Option<String>) {
    let mut left = keep;
    let mut out = Vec::new();
    let mut first_out = None;
    for t in tables {
        let n = left.min(t.rows.len());
        if n < t.rows.len() && first_out.is_none() {
            let (key, row) = &t.rows[n];
            let field = |f: &str| {
                row.get(f).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            };
            first_out = key
                .clone()
                .or_else(|| match (field("symbol"), field("id")) {
                    (Some(s), Some(id)) => Some(format!("{s} (id {id})")),
                    (s, id) => s
                        .or(id)
                        .or_else(|| ["t", "timestamp", "date"].iter().find_map(|f| field(f))),
                });
            if !t.path.is_empty() && first_out.is_some() && !t.keyed {
                let at = t.path.join(".");
                first_out = first_out.map(|f| format!("{f} in {at}"));
            }
        }
        if n > 0 {
            out.push(Table {
                path: t.path.clone(),
                keyed: t.keyed,
                rows: t.rows[..n].to_vec(),
            });
        }
        left -= n;
    }
    (out, first_out)
}

/// The limits [`shorten`] tries, loosest first: strings alone, then lists as well.
fn shortening_steps(max_chars: usize) -> Vec<(usize, usize)> {
    let strings = [max_chars / 4, max_chars / 10, max_chars / 40, 200, 80, 32];
    let mut steps: Vec<(usize, usize)> = strings.iter().map(|s| (*s, usize::MAX)).collect();
    for items in [1_000, 200, 50, 20, 5, 1] {
        steps.push((32, items));
    }
    steps.retain(|(s, _)| *s >= 16);
    steps
}

/// A tool's name for a hint, or words for it.
fn tool_name(tool: &ToolShape) -> &'static str {
    if tool.name.is_empty() {
        "the tool"
    } else {
        tool.name
    }
}

/// What [`shorten`] cut: how many strings and arrays, and where the first of each was.
#[derive(Default)]
struct Cuts {
    strings: usize,
    arrays: usize,
    first: Option<String>,
}

/// Shortens every string (and object key) of `v` longer than `max_str` characters and cuts
/// every array longer than `max_items`, marking each: a string ends with how many characters
/// were left out, an array's last item is a string saying how many items were.
fn shorten(v: &mut Value, max_str: usize, max_items: usize, cuts: &mut Cuts) {
    fn walk(v: &mut Value, max_str: usize, max_items: usize, cuts: &mut Cuts, at: &str) {
        match v {
            Value::String(s) => {
                if let Some(short) = shorten_str(s, max_str) {
                    *s = short;
                    cuts.strings += 1;
                    cuts.first.get_or_insert_with(|| at.to_string());
                }
            }
            Value::Array(items) => {
                if items.len() > max_items {
                    let left = items.len() - max_items;
                    items.truncate(max_items);
                    items.push(Value::String(format!("… ({left} more items left out)")));
                    cuts.arrays += 1;
                    cuts.first.get_or_insert_with(|| at.to_string());
                }
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, max_str, max_items, cuts, &format!("{at}[{i}]"));
                }
            }
            Value::Object(map) => {
                let long_keys = map.keys().any(|k| k.chars().count() > max_str);
                if long_keys {
                    let old = std::mem::take(map);
                    for (i, (k, val)) in old.into_iter().enumerate() {
                        let key = match shorten_str(&k, max_str) {
                            Some(short) => {
                                cuts.strings += 1;
                                cuts.first.get_or_insert_with(|| at.to_string());
                                format!("{short} #{i}")
                            }
                            None => k,
                        };
                        map.insert(key, val);
                    }
                }
                for (k, val) in map.iter_mut() {
                    let at = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    walk(val, max_str, max_items, cuts, &at);
                }
            }
            _ => {}
        }
    }
    walk(v, max_str, max_items, cuts, "");
}

/// `s` cut to `max` characters with a mark saying how many were left out, when it is longer.
fn shorten_str(s: &str, max: usize) -> Option<String> {
    let n = s.chars().count();
    if n <= max {
        return None;
    }
    let keep: String = s.chars().take(max).collect();
    Some(format!("{keep}… ({} more characters left out)", n - max))
}

/// Says in `meta.budget` that long values were shortened to fit the budget.
fn note_values_cut(
    env: &mut Map<String, Value>,
    max_chars: usize,
    max_str: usize,
    max_items: usize,
    cuts: &Cuts,
    tool: &ToolShape,
) {
    let meta = env.entry("meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    let budget = meta
        .as_object_mut()
        .map(|m| m.entry("budget").or_insert_with(|| json!({})));
    let Some(budget) = budget else { return };
    if !budget.is_object() {
        *budget = json!({});
    }
    budget["max_chars"] = json!(max_chars);
    let mut what = Vec::new();
    if cuts.strings > 0 {
        what.push(format!(
            "{} values longer than {max_str} characters were shortened (each ends saying how much was left out)",
            cuts.strings
        ));
    }
    if cuts.arrays > 0 {
        what.push(format!(
            "{} lists longer than {max_items} items were cut (the last item says how many were left out)",
            cuts.arrays
        ));
    }
    budget["values_cut"] = json!(what.join("; "));
    if let Some(first) = &cuts.first
        && !first.is_empty()
    {
        budget["first_cut_at"] = json!(shorten_str(first, 120).unwrap_or_else(|| first.clone()));
    }
    if budget.get("rest").is_none() {
        budget["rest"] = json!(format!(
            "the full values are not shown: call {} with narrower arguments, or raise ALPACA_MAX_RESULT_CHARS",
            tool_name(tool)
        ));
    }
}

/// Says in a result's `meta.budget` that it holds the first `kept` of `total` rows Alpaca sent,
/// called again with `limit` = `kept` so that its page token continues exactly after them.
pub fn note_cut_pages(
    result: &mut CallToolResult,
    max_chars: usize,
    kept: usize,
    total: usize,
    tool: &ToolShape,
) {
    if let Some(Value::Object(env)) = result.structured_content.as_mut() {
        add_budget_meta(env, max_chars, kept, total, None, tool);
    }
}

fn add_budget_meta(
    env: &mut Map<String, Value>,
    max_chars: usize,
    kept: usize,
    total: usize,
    first_out: Option<String>,
    tool: &ToolShape,
) {
    // Where Alpaca has more beyond this answer: a page token (the walk's `meta` or the
    // answer's own), or the walk saying so.
    let token = env
        .get("meta")
        .and_then(|m| m.get("next_page_token"))
        .or_else(|| env.get("data").and_then(|d| d.get("next_page_token")))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    let more_at_alpaca = token.is_some()
        || env
            .get("meta")
            .and_then(|m| m.get("more_available"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let rest = if let (true, Some(token)) = (tool.pages, token) {
        format!(
            "call {} again with the same arguments and page_token={token}: it continues right after the last row returned",
            tool.name
        )
    } else if tool.pages {
        format!(
            "call {} again with a smaller limit, or narrower arguments, or raise ALPACA_MAX_RESULT_CHARS",
            tool.name
        )
    } else if tool.narrow.is_empty() {
        format!(
            "the rows left out are not shown: call {} with narrower arguments, or raise ALPACA_MAX_RESULT_CHARS",
            tool.name
        )
    } else {
        format!(
            "call {} again narrowed with {} (each call returns at most {max_chars} characters)",
            tool.name,
            tool.narrow.join(", ")
        )
    };
    let mut budget = json!({
        "max_chars": max_chars,
        "rows_returned": kept,
        "rows_received": total,
    });
    if more_at_alpaca {
        budget["alpaca_has_more"] = json!(true);
    }
    if let Some(f) = first_out {
        // A name for the row, never the row's whole cell: a hostile symbol could be huge.
        budget["first_left_out"] = json!(shorten_str(&f, 120).unwrap_or(f));
    }
    budget["rest"] = json!(rest);
    let meta = env.entry("meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    // What shortening said of long values stays beside the rows' count.
    if let Some(earlier) = meta.get("budget").and_then(Value::as_object) {
        for key in ["values_cut", "first_cut_at"] {
            if let Some(v) = earlier.get(key) {
                budget[key] = v.clone();
            }
        }
    }
    meta["budget"] = budget;
}

/// An error's text cut to [`MAX_ERROR_CHARS`] at a character boundary, saying how much was
/// left out.
fn short_error(mut result: CallToolResult) -> CallToolResult {
    for c in &mut result.content {
        if let Some(t) = c.as_text()
            && t.text.len() > MAX_ERROR_CHARS
        {
            let mut end = MAX_ERROR_CHARS - 60;
            while !t.text.is_char_boundary(end) {
                end -= 1;
            }
            let left = t.text.len() - end;
            *c = ContentBlock::text(format!(
                "{} [... {left} more bytes left out]",
                &t.text[..end]
            ));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> Result<OutputConfig, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OutputConfig::from_lookup(&|name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn settings_are_read_and_bad_values_named() {
        assert_eq!(lookup(&[]).unwrap(), OutputConfig::default());
        let c = lookup(&[
            ("ALPACA_RESULT_FORMAT", " JSON "),
            ("ALPACA_MAX_RESULT_CHARS", "100_000"),
        ])
        .unwrap();
        assert_eq!((c.format, c.max_chars), (Format::Json, 100_000));
        assert_eq!(
            lookup(&[("ALPACA_RESULT_FORMAT", "both")]).unwrap().format,
            Format::Both
        );
        let e = lookup(&[("ALPACA_RESULT_FORMAT", "xml")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ALPACA_RESULT_FORMAT=\"xml\"") && e.contains("compact, json or both"),
            "{e}"
        );
        let e = lookup(&[("ALPACA_MAX_RESULT_CHARS", "10")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ALPACA_MAX_RESULT_CHARS") && e.contains("2000 to 1000000"),
            "{e}"
        );
    }

    #[test]
    fn a_known_client_gets_its_budget_unless_the_operator_set_one() {
        for (name, budget) in [
            ("codex-mcp-client", Some(10_000)),
            ("Codex", Some(10_000)),
            ("fast-agent-mcp", Some(14_000)),
            ("fast-agent", Some(14_000)),
            ("claude-code", Some(DEFAULT_MAX_CHARS)),
            ("codexplorer", None),
            ("rmcp", None),
            ("", None),
        ] {
            assert_eq!(client_budget(name).map(|b| b.max_chars), budget, "{name}");
            let chosen = OutputConfig::default().for_client(Some(name)).max_chars;
            assert_eq!(chosen, budget.unwrap_or(DEFAULT_MAX_CHARS), "{name}");
        }
        assert_eq!(
            OutputConfig::default().for_client(None).max_chars,
            DEFAULT_MAX_CHARS
        );
        let env = |k: &str| (k == "ALPACA_MAX_RESULT_CHARS").then(|| "60000".to_string());
        let set = OutputConfig::from_lookup(&env).unwrap();
        assert!(set.operator_set);
        assert_eq!(set.for_client(Some("codex-mcp-client")).max_chars, 60_000);
        // Every known budget is within the bounds an operator may set, and under its cut.
        for b in CLIENT_BUDGETS {
            assert!(
                MAX_CHARS_RANGE.contains(&(b.max_chars as u64)),
                "{}",
                b.client
            );
            assert!(b.max_chars < b.cuts_at, "{}", b.client);
        }
    }

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        let long = "é".repeat(5_000);
        let r = OutputConfig::default().write(
            CallToolResult::error(vec![ContentBlock::text(long)]),
            &ToolShape::default(),
        );
        let t = &r.result.content[0].as_text().unwrap().text;
        assert!(t.len() <= MAX_ERROR_CHARS, "{}", t.len());
        assert!(t.ends_with("more bytes left out]"), "{t}");
        assert_eq!(r.result.is_error, Some(true));
    }

    #[test]
    fn rows_are_cut_whole_in_order_and_the_meta_says_how_many() {
        let rows: Vec<Value> = (0..500)
            .map(|i| json!({"id": format!("a{i}"), "symbol": format!("S{i}"), "tradable": true}))
            .collect();
        let env = json!({"notice": "n", "mode": "paper", "data": rows});
        let shape = ToolShape {
            name: "get_all_assets",
            narrow: &["status", "exchange"],
            ..ToolShape::default()
        };
        for format in [Format::Compact, Format::Json, Format::Both] {
            let out = OutputConfig {
                format,
                max_chars: 2_000,
                ..OutputConfig::default()
            };
            let w = out.write(CallToolResult::structured(env.clone()), &shape);
            let kept = w.cut_to.expect("cut");
            assert!(out.fits(&w.result), "{format:?}");
            let text = &w.result.content[0].as_text().unwrap().text;
            let back = if text.starts_with('{') {
                serde_json::from_str::<Map<String, Value>>(text).unwrap()
            } else {
                compact::parse(text).unwrap()
            };
            let data = back["data"].as_array().unwrap();
            assert_eq!(data.len(), kept);
            assert_eq!(
                data[..],
                env["data"].as_array().unwrap()[..kept],
                "{format:?}: the first rows, whole"
            );
            let b = &back["meta"]["budget"];
            assert_eq!(
                (b["rows_returned"].as_u64(), b["rows_received"].as_u64()),
                (Some(kept as u64), Some(500))
            );
            assert_eq!(b["first_left_out"], format!("S{kept} (id a{kept})"));
            assert!(
                b["rest"].as_str().unwrap().contains("status, exchange"),
                "{b}"
            );
        }
    }
}
