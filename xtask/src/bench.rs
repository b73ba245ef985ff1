//! `cargo xtask bench [--quick]`: this server against V2 (`alpaca-mcp-server==2.4.0` from PyPI),
//! one run on one machine, both talking to the same `alpaca-mock` on loopback.
//!
//! The Rust side builds the binaries, starts the mock, installs V2 into `target/bench/venv`,
//! runs `xtask/bench/driver.py` (the Python `mcp` client: start-up, memory, tools/list, call
//! latency over stdio) against each server, measures streamable HTTP throughput with its own
//! client ([`http`]), and times what only we have (binary sizes, the generator, a clean build).
//! It prints one table and writes it to `target/bench/latest.json`. Targets are reported, never
//! asserted: the exit code is 0 unless the bench itself breaks.

mod http;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use openapi_mcp_codegen::manifest::Manifest;
use openapi_mcp_codegen::{Generator, Settings, format_tokens};
use serde_json::{Value, json};

/// The V2 release we compare with.
const V2_PACKAGE: &str = "alpaca-mcp-server==2.4.0";
/// V2's market-data toolsets: V2's trading host is fixed, so calls compare on market data.
const MARKET_DATA_TOOLSETS: &str =
    "stock-data,crypto-data,options-data,corporate-actions,news,fixed-income-data";
const TOOL: &str = "get_stock_latest_quote";
const CONCURRENCY: [usize; 3] = [1, 8, 32];

/// How much to measure.
struct Plan {
    quick: bool,
    /// Cold starts per server.
    runs: usize,
    /// Sessions of `calls` sequential calls per server.
    call_runs: usize,
    calls: usize,
    /// Seconds per HTTP throughput window.
    http_secs: f64,
    /// Generator runs.
    gen_runs: usize,
}

/// Median, min and max of a figure's samples.
#[derive(Clone, Copy)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

impl Stat {
    fn of(samples: &[f64]) -> Option<Stat> {
        let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if s.is_empty() {
            return None;
        }
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: s[0],
            max: s[n - 1],
        })
    }

    fn one(x: f64) -> Option<Stat> {
        Stat::of(&[x])
    }

    fn json(&self) -> Value {
        json!({"median": self.median, "min": self.min, "max": self.max})
    }
}

/// One line of the table.
struct Row {
    figure: String,
    unit: &'static str,
    ours: Option<Stat>,
    v2: Option<Stat>,
    /// The ratio when it is not ours/V2 (binary sizes).
    ratio: Option<f64>,
    /// `("<=", 0.01)`: the ratio's target.
    target: Option<(&'static str, f64)>,
}

impl Row {
    fn new(
        figure: impl Into<String>,
        unit: &'static str,
        ours: Option<Stat>,
        v2: Option<Stat>,
    ) -> Row {
        Row {
            figure: figure.into(),
            unit,
            ours,
            v2,
            ratio: None,
            target: None,
        }
    }

    fn target(mut self, op: &'static str, value: f64) -> Row {
        self.target = Some((op, value));
        self
    }

    fn ratio(&self) -> Option<f64> {
        self.ratio.or_else(|| match (self.ours, self.v2) {
            (Some(o), Some(v)) if v.median != 0.0 => Some(o.median / v.median),
            _ => None,
        })
    }

    fn met(&self) -> Option<bool> {
        let (op, t) = self.target?;
        let r = self.ratio()?;
        Some(if op == "<=" { r <= t } else { r >= t })
    }
}

/// Kills and reaps a child process when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the benchmark; see the module docs.
pub fn run(quick: bool, binary: Option<PathBuf>) -> anyhow::Result<()> {
    let plan = if quick {
        Plan {
            quick,
            runs: 3,
            call_runs: 1,
            calls: 1000,
            http_secs: 2.0,
            gen_runs: 3,
        }
    } else {
        Plan {
            quick,
            runs: 10,
            call_runs: 3,
            calls: 1000,
            http_secs: 10.0,
            gen_runs: 10,
        }
    };
    let root = xtask::workspace_root();
    let target = xtask::target_dir()?;
    let out_dir = target.join("bench");
    std::fs::create_dir_all(&out_dir)?;
    let mut notes: Vec<String> = Vec::new();

    let ours_bin = match binary {
        Some(bin) => {
            let bin = std::fs::canonicalize(&bin)
                .with_context(|| format!("the server binary {}", bin.display()))?;
            eprintln!(
                "== building the release alpaca-mock (the server is {})",
                bin.display()
            );
            cargo(&root, &["build", "--release", "-p", "alpaca-mock"], None)?;
            bin
        }
        None => {
            eprintln!("== building release binaries");
            cargo(
                &root,
                &[
                    "build",
                    "--release",
                    "-p",
                    "alpaca-mcp-server",
                    "-p",
                    "alpaca-mock",
                ],
                None,
            )?;
            target.join("release/alpaca-mcp-server")
        }
    };
    let manifest = read_manifest(&root)?;
    let all_toolsets: Vec<&str> = manifest.toolsets.keys().map(String::as_str).collect();

    // The feature variants (full mode): their own target dirs, so the default build stays warm.
    let mut full_bin = None;
    let mut sizes = vec![("default", file_size(&ours_bin)?)];
    if !plan.quick {
        for (variant, features) in [("stock-data", "stock-data"), ("full", "full")] {
            eprintln!("== building the {variant} variant");
            let dir = target.join("bench-build").join(variant);
            let args = [
                "build",
                "--release",
                "-p",
                "alpaca-mcp-server",
                "--no-default-features",
                "--features",
                features,
            ];
            let bin = dir.join("release/alpaca-mcp-server");
            match cargo(&root, &args, Some(&dir)).and_then(|()| file_size(&bin)) {
                Ok(size) => {
                    sizes.push((variant, size));
                    if variant == "full" {
                        full_bin = Some(bin);
                    }
                }
                Err(e) => notes.push(format!("the {variant} variant: {e:#}")),
            }
        }
    } else {
        notes.push("quick: no feature-variant builds; \"every toolset\" for ours is the default build's toolsets".into());
    }

    eprintln!("== starting alpaca-mock");
    let (_mock, mock_url) = start_mock(&target.join("release/alpaca-mock"))?;
    let base_env = [
        ("ALPACA_API_KEY", "bench-key"),
        ("ALPACA_SECRET_KEY", "bench-secret"),
        ("DATA_API_URL", mock_url.as_str()),
        ("TRADING_API_URL", mock_url.as_str()),
    ];
    // Ours throttles to Alpaca's 200 calls a minute by default; V2 does not throttle.
    let ours_env: Vec<(&str, &str)> = base_env
        .iter()
        .copied()
        .chain([("ALPACA_RATE_LIMIT_PER_MINUTE", "0")])
        .collect();

    eprintln!("== V2 virtual environment");
    let venv = out_dir.join("venv");
    let v2_bin = match ensure_venv(&venv) {
        Ok(bin) => Some(bin),
        Err(e) => {
            notes.push(format!("V2 unavailable: {e:#}"));
            eprintln!("V2 unavailable: {e:#}");
            None
        }
    };
    let python = python_with_mcp(&venv);
    if python.is_none() {
        notes.push("no Python with the `mcp` package: stdio figures skipped".into());
    }
    let driver = root.join("xtask/bench/driver.py");
    let tool_args = json!({"symbols": "AAPL"});
    let run_driver = |name: &str,
                      bin: &Path,
                      env: &[(&str, &str)],
                      variants: Value,
                      measure: bool|
     -> Option<Value> {
        let python = python.as_ref()?;
        eprintln!("== {name}: stdio (mcp client)");
        let config = json!({
            "command": bin, "args": [],
            "env": env.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "runs": if measure { plan.runs } else { 0 },
            "call_runs": if measure { plan.call_runs } else { 0 },
            "calls": plan.calls, "tool": TOOL, "tool_args": tool_args,
            "toolset_variants": variants,
            "research": if measure { research_calls() } else { json!([]) },
        });
        match driver_output(python, &driver, &config) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("{name}: driver failed: {e:#}");
                None
            }
        }
    };
    let ours_default = manifest
        .toolsets
        .iter()
        .filter(|(_, t)| t.default)
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let ours = run_driver(
        "ours",
        &ours_bin,
        &ours_env,
        json!({
            "default": null,
            "market-data": MARKET_DATA_TOOLSETS,
            "every": ours_default,
            "discover": {"env": {"ALPACA_TOOL_MODE": "discover"}},
        }),
        true,
    );
    let ours_every = full_bin.as_ref().and_then(|bin| {
        run_driver(
            "ours (full build)",
            bin,
            &ours_env,
            json!({"every": all_toolsets.join(",")}),
            false,
        )
    });
    let v2 = v2_bin.as_ref().and_then(|bin| {
        run_driver(
            "V2",
            bin,
            &base_env,
            json!({"default": null, "market-data": MARKET_DATA_TOOLSETS}),
            true,
        )
    });
    if python.is_some() && (ours.is_none() || (v2_bin.is_some() && v2.is_none())) {
        notes.push("a driver run failed: see stderr".into());
    }

    // Streamable HTTP throughput.
    let mut http_rows = Vec::new();
    let ours_http = throughput_all(
        "ours",
        &ours_bin,
        &["--transport", "http"],
        &ours_env,
        &plan,
    );
    let v2_http = match &v2_bin {
        Some(bin) => throughput_all(
            "V2",
            bin,
            &["--transport", "streamable-http"],
            &base_env,
            &plan,
        ),
        None => vec![None; CONCURRENCY.len()],
    };
    for (i, n) in CONCURRENCY.iter().enumerate() {
        let row = Row::new(
            format!("HTTP {TOOL} calls/s, {n} clients"),
            "1/s",
            ours_http[i],
            v2_http[i],
        );
        http_rows.push(if *n == 32 {
            row.target(">=", 20.0)
        } else {
            row
        });
    }

    eprintln!("== generator");
    let gen_ms = time_generator(&root, &manifest, plan.gen_runs)?;

    let clean_build = if plan.quick {
        None
    } else {
        eprintln!("== clean release build");
        let dir = target.join("bench-build/clean");
        let _ = std::fs::remove_dir_all(&dir);
        let t0 = Instant::now();
        let args = ["build", "--release", "-p", "alpaca-mcp-server"];
        let built = cargo(&root, &args, Some(&dir)).map(|()| t0.elapsed().as_secs_f64());
        // Only the timing was wanted: do not keep a third copy of every dependency.
        let _ = std::fs::remove_dir_all(&dir);
        built
            .map_err(|e| notes.push(format!("clean build: {e:#}")))
            .ok()
    };

    // The table.
    let series = |v: &Option<Value>, key: &str| -> Option<Stat> {
        let samples: Vec<f64> = v
            .as_ref()?
            .get(key)?
            .as_array()?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        Stat::of(&samples)
    };
    let kib_to_mib = |s: Option<Stat>| {
        s.map(|s| Stat {
            median: s.median / 1024.0,
            min: s.min / 1024.0,
            max: s.max / 1024.0,
        })
    };
    let list = |v: &Option<Value>, label: &str| {
        v.as_ref().and_then(|v| v["tools_list"].get(label).cloned())
    };
    let wire =
        |l: &Option<Value>, key: &str| l.as_ref().and_then(|l| l[key].as_f64()).and_then(Stat::one);
    let mib = |v: &Option<Value>, key: &str| kib_to_mib(series(v, key));
    let calls = plan.calls;
    let mut rows = vec![
        Row::new(
            "start -> initialize answered",
            "ms",
            series(&ours, "init_ms"),
            series(&v2, "init_ms"),
        ),
        Row::new(
            "start -> tools/list answered",
            "ms",
            series(&ours, "list_ms"),
            series(&v2, "list_ms"),
        )
        .target("<=", 0.01),
        Row::new(
            "  same, raw stdio client",
            "ms",
            series(&ours, "raw_list_ms"),
            series(&v2, "raw_list_ms"),
        ),
        Row::new(
            "peak RSS after tools/list",
            "MiB",
            mib(&ours, "rss_list_kib"),
            mib(&v2, "rss_list_kib"),
        ),
        Row::new(
            format!("peak RSS after {calls} calls"),
            "MiB",
            mib(&ours, "rss_calls_kib"),
            mib(&v2, "rss_calls_kib"),
        )
        .target("<=", 0.1),
        Row::new(
            format!("  RSS after {calls} calls: anonymous"),
            "MiB",
            mib(&ours, "rss_anon_kib"),
            mib(&v2, "rss_anon_kib"),
        ),
        Row::new(
            format!("  RSS after {calls} calls: file-backed"),
            "MiB",
            mib(&ours, "rss_file_kib"),
            mib(&v2, "rss_file_kib"),
        ),
    ];
    // tools/list: default vs default, every toolset, and the same tools on both sides.
    let (ours_def, v2_def) = (list(&ours, "default"), list(&v2, "default"));
    let ours_all = list(&ours_every, "every").or_else(|| list(&ours, "every"));
    let (ours_md, v2_md) = (list(&ours, "market-data"), list(&v2, "market-data"));
    let count = |l: &Option<Value>| {
        l.as_ref()
            .map_or("-".to_string(), |l| l["tools"].to_string())
    };
    rows.push(Row::new(
        format!(
            "tools/list bytes, default toolsets ({} vs {} tools)",
            count(&ours_def),
            count(&v2_def)
        ),
        "B",
        wire(&ours_def, "bytes"),
        wire(&v2_def, "bytes"),
    ));
    rows.push(Row::new(
        format!(
            "tools/list bytes, every toolset ({} vs {} tools)",
            count(&ours_all),
            count(&v2_def)
        ),
        "B",
        wire(&ours_all, "bytes"),
        wire(&v2_def, "bytes"),
    ));
    rows.push(Row::new(
        format!(
            "tools/list bytes, market-data toolsets ({} vs {} tools)",
            count(&ours_md),
            count(&v2_md)
        ),
        "B",
        wire(&ours_md, "bytes"),
        wire(&v2_md, "bytes"),
    ));
    // Tools on demand: the default toolsets in discover mode, against V2's default list, and
    // as a share of the 8,000 bytes aimed for.
    let ours_disc = list(&ours, "discover");
    rows.push(Row::new(
        format!(
            "tools/list bytes, discover mode ({} vs {} tools)",
            count(&ours_disc),
            count(&v2_def)
        ),
        "B",
        wire(&ours_disc, "bytes"),
        wire(&v2_def, "bytes"),
    ));
    if let Some(bytes) = ours_disc.as_ref().and_then(|l| l["bytes"].as_f64()) {
        let mut aimed = Row::new(
            "  discover mode (ratio: share of the 8,000 bytes aimed for)",
            "B",
            Stat::one(bytes),
            None,
        )
        .target("<=", 1.0);
        aimed.ratio = Some(bytes / 8000.0);
        rows.push(aimed);
    }
    let (shared, ours_same, v2_same) = same_tools(&ours_md, &v2_md);
    rows.push(
        Row::new(
            format!("tools/list bytes, the same {shared} tools (compact JSON)"),
            "B",
            ours_same,
            v2_same,
        )
        .target("<=", 0.6),
    );
    rows.push(
        Row::new(
            format!("sequential {TOOL} p50"),
            "ms",
            series(&ours, "p50_ms"),
            series(&v2, "p50_ms"),
        )
        .target("<=", 0.125),
    );
    rows.push(Row::new(
        format!("sequential {TOOL} p99"),
        "ms",
        series(&ours, "p99_ms"),
        series(&v2, "p99_ms"),
    ));
    for q in ["p50", "p99"] {
        let key = format!("raw_{q}_ms");
        let (o, v) = (series(&ours, &key), series(&v2, &key));
        rows.push(Row::new(format!("  {q}, raw stdio client"), "ms", o, v));
    }
    rows.extend(http_rows);
    rows.extend(research_rows(&ours, &v2));
    for (variant, bytes) in &sizes {
        rows.push(Row::new(
            format!("release binary size, {variant}"),
            "MiB",
            Stat::one(*bytes as f64 / 1048576.0),
            None,
        ));
    }
    let size = |name: &str| {
        sizes
            .iter()
            .find(|(v, _)| *v == name)
            .map(|(_, b)| *b as f64)
    };
    if let (Some(stock), Some(full)) = (size("stock-data"), size("full")) {
        let mut row = Row::new(
            "binary size, stock-data only / full",
            "x",
            Stat::one(stock / full),
            None,
        )
        .target("<=", 0.4);
        row.ratio = Some(stock / full);
        rows.push(row);
    }
    rows.push(Row::new(
        "generator, both specs (parse, generate, format)",
        "ms",
        Stat::of(&gen_ms),
        None,
    ));
    if let Some(secs) = clean_build {
        rows.push(Row::new(
            "clean release build, default features",
            "s",
            Stat::one(secs),
            None,
        ));
    }

    eprintln!("== the response cache over a scripted session");
    match example(&root, "cache_session") {
        Ok(v) => rows.extend(cache_rows(&v)),
        Err(e) => notes.push(format!("cache session: {e:#}")),
    }

    eprintln!("== an order's wait behind 300 queued reads (the client-side rate limiter)");
    match example(&root, "order_wait") {
        Ok(v) => rows.extend(order_wait_rows(&v)),
        Err(e) => notes.push(format!("order wait: {e:#}")),
    }

    let machine = machine();
    print_table(&rows, &machine, &plan, &notes);
    let report = json!({
        "mode": if plan.quick { "quick" } else { "full" },
        "v2": V2_PACKAGE,
        "v2_available": v2.is_some(),
        "machine": machine,
        "notes": notes,
        "rows": rows.iter().map(|r| json!({
            "figure": r.figure, "unit": r.unit,
            "ours": r.ours.map(|s| s.json()), "v2": r.v2.map(|s| s.json()),
            "ratio": r.ratio(),
            "target": r.target.map(|(op, t)| format!("{op} {t}")),
            "met": r.met(),
        })).collect::<Vec<_>>(),
    });
    let path = out_dir.join("latest.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Runs one of the crate's examples (`cache_session`: the fake's request log counts what reached
/// Alpaca; `order_wait`: an order's latency behind queued reads). Its last line is a JSON
/// summary. The debug build the tests leave serves: the counts do not depend on the profile,
/// and the wait is the limiter's, not the code's.
fn example(root: &Path, name: &str) -> anyhow::Result<Value> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["run", "-q", "-p", "alpaca-mcp", "--example", name])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running the {name} example"))?;
    if !out.status.success() {
        bail!("the {name} example failed");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("{name} printed {last:?}"))
}

/// The order-wait rows: an order's latency (median of the orders placed) while 300 reads are
/// queued at the limiter. The ratio column holds the milliseconds; the target is 50 ms.
fn order_wait_rows(v: &Value) -> Vec<Row> {
    let ms = |k: &str| -> Option<Stat> {
        let xs: Vec<f64> = v[k].as_array()?.iter().filter_map(Value::as_f64).collect();
        Stat::of(&xs)
    };
    let mut out = Vec::new();
    for (key, queued, what) in [
        ("data_ms", "data_still_queued", "market-data"),
        ("trading_ms", "trading_still_queued", "trading"),
    ] {
        let Some(stat) = ms(key) else { continue };
        let mut row = Row::new(
            format!(
                "order latency with 300 {what} reads queued ({} still waiting; ratio: median ms)",
                v[queued]
            ),
            "ms",
            Some(stat),
            None,
        );
        row.ratio = Some(stat.median);
        out.push(row.target("<=", 50.0));
    }
    out
}

/// The scripted research session of issue 19: nine typical market-data calls, then four whose
/// answers are large on real data. Dates fall where the fake has data.
fn research_calls() -> Value {
    json!([
        ["get_stock_latest_quote", {"symbols": "AAPL,MSFT,NVDA"}],
        ["get_stock_snapshot", {"symbols": "AAPL,MSFT,NVDA"}],
        ["get_stock_bars", {"symbols": "AAPL", "timeframe": "1Day", "start": "2024-12-02", "end": "2025-01-15"}],
        ["get_stock_bars", {"symbols": "AAPL", "timeframe": "1Hour", "start": "2025-01-06", "end": "2025-01-10"}],
        ["get_crypto_latest_quote", {"symbols": "BTC/USD"}],
        ["get_option_chain", {"underlying_symbol": "AAPL"}],
        ["get_news", {"symbols": "AAPL"}],
        ["get_most_active_stocks", {}],
        ["get_market_movers", {"market_type": "stocks"}],
        ["get_all_assets", {}],
        ["get_option_chain", {"underlying_symbol": "SPY", "limit": 1000}],
        ["get_stock_bars", {"symbols": "AAPL", "timeframe": "1Min", "start": "2025-01-06", "end": "2025-01-10", "limit": 10000}],
        ["get_news", {"symbols": "AAPL", "limit": 50, "include_content": true}],
    ])
}

/// What a model may read of one result: its text or its structuredContent, the larger.
fn research_chars(call: &Value) -> Option<f64> {
    (call["ok"] == true).then(|| {
        call["text_chars"]
            .as_f64()
            .unwrap_or(0.0)
            .max(call["structured_chars"].as_f64().unwrap_or(0.0))
    })
}

/// The research session's rows: characters of the calls both answered (the compact-rendering
/// target, ours at most half of V2's), of all calls each answered, the largest result and how
/// many exceed 50,000 characters.
fn research_rows(ours: &Option<Value>, v2: &Option<Value>) -> Vec<Row> {
    let calls = |side: &Option<Value>| -> Vec<Option<f64>> {
        side.as_ref()
            .and_then(|v| v["research"].as_array())
            .map(|a| a.iter().map(research_chars).collect())
            .unwrap_or_default()
    };
    let (o, v) = (calls(ours), calls(v2));
    if o.is_empty() {
        return vec![];
    }
    let cut = |side: &Option<Value>, i: usize| {
        side.as_ref()
            .and_then(|v| v["research"][i]["cut"].as_bool())
            .unwrap_or(false)
    };
    let both: Vec<usize> = (0..o.len())
        .filter(|i| o[*i].is_some() && v.get(*i).copied().flatten().is_some())
        .collect();
    // The compact-rendering target counts only calls where nothing is trimmed on either side:
    // ours not cut, V2's answer within our default budget.
    let whole: Vec<usize> = both
        .iter()
        .copied()
        .filter(|i| !cut(ours, *i) && v[*i].is_some_and(|c| c <= 40_000.0))
        .collect();
    let sum = |side: &[Option<f64>], idx: &[usize]| -> f64 {
        idx.iter().map(|i| side[*i].unwrap_or(0.0)).sum()
    };
    let stat_if = |present: bool, x: f64| if present { Stat::one(x) } else { None };
    let mut rows = vec![];
    rows.push(
        Row::new(
            format!(
                "research session, characters of the {} calls that fit the budget on both sides",
                whole.len()
            ),
            "chars",
            Stat::one(sum(&o, &whole)),
            stat_if(!v.is_empty(), sum(&v, &whole)),
        )
        .target("<=", 0.5),
    );
    rows.push(Row::new(
        format!(
            "  all {} calls both answered (ours within the budget)",
            both.len()
        ),
        "chars",
        Stat::one(sum(&o, &both)),
        stat_if(!v.is_empty(), sum(&v, &both)),
    ));
    let answered = |side: &[Option<f64>]| side.iter().flatten().count() as f64;
    rows.push(Row::new(
        format!("  calls answered of {}", o.len()),
        "calls",
        Stat::one(answered(&o)),
        stat_if(!v.is_empty(), answered(&v)),
    ));
    let largest = |side: &[Option<f64>]| side.iter().flatten().fold(0.0, |a: f64, b| a.max(*b));
    rows.push(Row::new(
        "  largest single result",
        "chars",
        Stat::one(largest(&o)),
        stat_if(!v.is_empty(), largest(&v)),
    ));
    let over =
        |side: &[Option<f64>]| side.iter().flatten().filter(|c| **c > 50_000.0).count() as f64;
    rows.push(Row::new(
        "  results over 50,000 characters",
        "results",
        Stat::one(over(&o)),
        stat_if(!v.is_empty(), over(&v)),
    ));
    rows
}

/// The cache's rows: requests that reached Alpaca over the session with and without it. V2 has
/// no cache: like ours with `ALPACA_CACHE=off`, it sends one request per call.
fn cache_rows(v: &Value) -> Vec<Row> {
    let n = |k: &str| v[k].as_f64();
    let (Some(calls), Some(on), Some(off)) = (n("tool_calls"), n("with_cache"), n("without_cache"))
    else {
        return vec![];
    };
    let mut saved = Row::new(
        "  requests saved by the cache (ratio: share of off)",
        "n",
        Stat::one(off - on),
        None,
    );
    saved.ratio = (off > 0.0).then(|| (off - on) / off);
    vec![
        Row::new(
            format!("scripted session: {calls} tool calls, requests to Alpaca with the cache"),
            "n",
            Stat::one(on),
            None,
        ),
        Row::new(
            "  requests to Alpaca, ALPACA_CACHE=off (V2 has no cache: one per call)",
            "n",
            Stat::one(off),
            None,
        ),
        saved,
    ]
}

/// The summed compact-JSON size of the tools both lists have.
fn same_tools(ours: &Option<Value>, v2: &Option<Value>) -> (usize, Option<Stat>, Option<Stat>) {
    let (Some(ours), Some(v2)) = (ours, v2) else {
        return (0, None, None);
    };
    let (o, v) = (&ours["tool_bytes"], &v2["tool_bytes"]);
    let Some(names) = o.as_object() else {
        return (0, None, None);
    };
    let shared: Vec<&String> = names
        .keys()
        .filter(|n| v.get(n.as_str()).is_some())
        .collect();
    let sum = |m: &Value| {
        shared
            .iter()
            .filter_map(|n| m[n.as_str()].as_f64())
            .sum::<f64>()
    };
    (shared.len(), Stat::one(sum(o)), Stat::one(sum(v)))
}

fn cargo(root: &Path, args: &[&str], target_dir: Option<&Path>) -> anyhow::Result<()> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(root);
    if let Some(dir) = target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    let status = cmd.status().context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn file_size(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| path.display().to_string())?
        .len())
}

fn read_manifest(root: &Path) -> anyhow::Result<Manifest> {
    let path = root.join("specs/toolsets.toml");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    Manifest::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Runs the generator as `build.rs` does (read the specs, generate, format), `runs` times.
fn time_generator(root: &Path, manifest: &Manifest, runs: usize) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut docs = Vec::new();
        for (key, entry) in &manifest.specs {
            let text = std::fs::read_to_string(root.join("specs").join(&entry.file))?;
            docs.push((
                key.as_str(),
                serde_json::from_str::<openapiv3::OpenAPI>(&text)?,
            ));
        }
        let refs: Vec<(&str, &openapiv3::OpenAPI)> = docs.iter().map(|(k, a)| (*k, a)).collect();
        let tokens = Generator::new(&Settings::default())
            .generate_tokens(&refs, manifest)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = format_tokens(tokens).map_err(|e| anyhow::anyhow!("{e}"))?;
        std::hint::black_box(text);
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

fn start_mock(bin: &Path) -> anyhow::Result<(Guard, String)> {
    let mut child = Command::new(bin)
        .args(["--port", "0", "--host", "127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| bin.display().to_string())?;
    let stdout = child.stdout.take().context("mock stdout")?;
    let guard = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .with_context(|| format!("alpaca-mock printed no URL: {line:?}"))?
        .trim_end_matches('/')
        .to_string();
    Ok((guard, url))
}

/// V2's console script in `venv`, installing it first if absent.
fn ensure_venv(venv: &Path) -> anyhow::Result<PathBuf> {
    let bin = venv.join("bin/alpaca-mcp-server");
    if bin.is_file() {
        return Ok(bin);
    }
    let run = |cmd: &mut Command| -> anyhow::Result<()> {
        let status = cmd.status().with_context(|| format!("{cmd:?}"))?;
        if !status.success() {
            bail!("{cmd:?} failed");
        }
        Ok(())
    };
    run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "-q",
        "--disable-pip-version-check",
        V2_PACKAGE,
    ]))?;
    Ok(bin)
}

/// The venv's Python if it can import `mcp`, else a system `python3` that can.
fn python_with_mcp(venv: &Path) -> Option<PathBuf> {
    [venv.join("bin/python"), PathBuf::from("python3")]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import mcp.client.stdio"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

fn driver_output(python: &Path, driver: &Path, config: &Value) -> anyhow::Result<Value> {
    let out = Command::new(python)
        .arg(driver)
        .arg(config.to_string())
        .stderr(Stdio::inherit())
        .output()
        .context("running the driver")?;
    if !out.status.success() {
        bail!("driver exited with {}", out.status);
    }
    serde_json::from_slice(&out.stdout).context("driver output")
}

/// Throughput at each of [`CONCURRENCY`] against one HTTP server; `None` where it failed.
fn throughput_all(
    name: &str,
    bin: &Path,
    transport: &[&str],
    env: &[(&str, &str)],
    plan: &Plan,
) -> Vec<Option<Stat>> {
    eprintln!("== {name}: streamable HTTP");
    let result = (|| -> anyhow::Result<Vec<Option<Stat>>> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(bin)
            .args(transport)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let _server = Guard(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("no listener on port {port} after 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let url = format!("http://127.0.0.1:{port}/mcp");
        let args = json!({"symbols": "AAPL"});
        let mut out = Vec::new();
        for n in CONCURRENCY {
            let (rates, failed) = http::throughput(&url, n, plan.http_secs, TOOL, &args)?;
            if failed > 0 {
                eprintln!("{name}: {failed} failed calls at {n} clients");
            }
            // The rate over the whole window, with the slowest and fastest tenth of it.
            let mean = rates.iter().sum::<f64>() / rates.len() as f64;
            out.push(
                Stat::of(&rates)
                    .filter(|_| mean > 0.0)
                    .map(|s| Stat { median: mean, ..s }),
            );
        }
        Ok(out)
    })();
    result.unwrap_or_else(|e| {
        eprintln!("{name}: HTTP throughput failed: {e:#}");
        vec![None; CONCURRENCY.len()]
    })
}

/// nproc, the CPU model and the memory, from /proc.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({"nproc": nproc, "cpu": cpu, "memory_gib": (mem_kib / 1048576.0 * 10.0).round() / 10.0})
}

fn fmt(s: &Option<Stat>) -> String {
    let Some(s) = s else { return "n/a".into() };
    let f = |x: f64| {
        if x.abs() >= 100.0 {
            format!("{x:.0}")
        } else if x.abs() >= 1.0 {
            format!("{x:.2}")
        } else {
            format!("{x:.3}")
        }
    };
    if s.min == s.max {
        f(s.median)
    } else {
        format!("{} [{}-{}]", f(s.median), f(s.min), f(s.max))
    }
}

fn print_table(rows: &[Row], machine: &Value, plan: &Plan, notes: &[String]) {
    println!(
        "\nalpaca-mcp vs {V2_PACKAGE} ({} mode; {} x {}, {} GiB); median [min-max]; HTTP: mean rate [slowest-fastest tenth of the window]\n",
        if plan.quick { "quick" } else { "full" },
        machine["nproc"],
        machine["cpu"].as_str().unwrap_or("?"),
        machine["memory_gib"],
    );
    println!("| figure | unit | ours | V2 | ratio | target |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let ratio = r.ratio().map_or("-".into(), |x| format!("{x:.3}"));
        let target = match (r.target, r.met()) {
            (Some((op, t)), Some(met)) => {
                format!("{op} {t} {}", if met { "met" } else { "MISSED" })
            }
            (Some((op, t)), None) => format!("{op} {t}"),
            _ => String::new(),
        };
        let v2 = if r.v2.is_none() && r.ratio.is_some() {
            "-".into()
        } else {
            fmt(&r.v2)
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.figure,
            r.unit,
            fmt(&r.ours),
            v2,
            ratio,
            target
        );
    }
    for n in notes {
        println!("\nnote: {n}");
    }
}
