//! `cargo xtask <command>`: argument parsing and dispatch. Commands live in the library
//! (`xtask::*`); add a variant to [`Command`] and a match arm to add one.

mod bench;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use xtask::drift;
use xtask::sync_specs::{self, SyncError};

#[derive(Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "Project automation for alpaca-mcp"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `drift --help`: the rule for what needs action, and the exit codes.
const DRIFT_HELP: &str = "\
Compare Alpaca's upstream OpenAPI documents with the committed specs/ and the tool manifest.

The upstream documents are normalized in memory exactly as `sync-specs` would write them, then:

  1. compared with the committed specs/<file>: if they differ at all, a sync is needed (one
     action item per spec) and the report lists what the sync would change: operations added,
     removed, renamed (same method+path with a new operationId, or same operationId at a new
     path) and changed, down to the property path, with $refs resolved;
  2. the manifest is checked against the UPSTREAM operations: each operation it does not
     mention, each operation it names (tool, replaced_by, excluded, a hand-written tool's
     `replaces`, or one wrapped by the relative-time tools) that upstream no longer has, and
     each tool argument that would have no description (or a description of an argument that
     is gone) is one action item: the build would fail;
  3. every change to an operation behind a hand-written tool is one action item, listed in its
     own section with the parameters and properties added or removed.

Changes to generated operations are details of the sync item, not items of their own.

Exit codes: 0 in sync (no item); 1 drift (N items need action: a manifest or code change, or a
sync); 2 the check itself failed (unreadable upstream, specs or manifest; bad arguments).

`--format json` is stable (see `schema_version`; every field is documented in
xtask/src/drift/report.rs); `--format markdown` is ready to paste into a pull request.";

/// The output format of `drift`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Plain text for terminals and CI logs; the summary line last.
    Text,
    /// Stable JSON (`schema_version` 1).
    Json,
    /// Markdown for a pull request or a job summary; the summary line first.
    Markdown,
}

#[derive(Subcommand)]
enum Command {
    /// Import the upstream OpenAPI documents (trading-api, market-data-api) into specs/ as
    /// normalized OpenAPI 3.0.3 JSON holding the API's facts only, then print what changed (the
    /// `drift` report of the specs before vs after, and the manifest checked against them).
    SyncSpecs {
        /// A folder holding trading-api.{json,yaml,yml} and market-data-api.{json,yaml,yml}, or
        /// an http(s) base URL serving <url>/trading-api.json and <url>/market-data-api.json.
        #[arg(long, value_name = "DIR|URL")]
        from: String,
        /// Output folder [default: <workspace root>/specs].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The manifest for the report [default: <out>/toolsets.toml]; without one, no report.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
    },
    /// Report how the upstream documents differ from the committed specs/ and the manifest
    /// (exit 0 in sync, 1 drift, 2 the check failed).
    #[command(long_about = DRIFT_HELP)]
    Drift {
        /// A folder holding trading-api.{json,yaml,yml} and market-data-api.{json,yaml,yml}, or
        /// an http(s) base URL serving <url>/trading-api.json and <url>/market-data-api.json.
        #[arg(long, value_name = "DIR|URL")]
        upstream: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The committed specs [default: <workspace root>/specs].
        #[arg(long, value_name = "DIR")]
        specs: Option<PathBuf>,
        /// The manifest [default: <specs>/toolsets.toml].
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
    },
    /// Build an MCP Bundle (.mcpb) of the release binary for this platform, for Claude
    /// Desktop: target/bundle/alpaca-mcp-<version>-<platform>.mcpb, and the staged folder
    /// beside it (target/bundle/stage).
    Bundle {
        /// The server binary to bundle [default: build target/release/alpaca-mcp-server].
        #[arg(long, value_name = "FILE")]
        binary: Option<PathBuf>,
        /// Output folder [default: <workspace root>/target/bundle].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Benchmark against V2 (alpaca-mcp-server 2.4.0 from PyPI) on a local alpaca-mock; prints
    /// a table and writes target/bench/latest.json (targets are reported, never asserted).
    Bench {
        /// Fewer runs, 2 s HTTP windows, no feature-variant or clean builds (the CI smoke test).
        #[arg(long)]
        quick: bool,
        /// A release build of the server to measure instead of building
        /// target/release/alpaca-mcp-server (CI passes the one `cargo install --git` made).
        #[arg(long, value_name = "FILE")]
        binary: Option<PathBuf>,
    },
}

/// Exit code for bad input (the upstream documents or the arguments).
const EXIT_INPUT: u8 = 2;
/// Exit code for any other failure.
const EXIT_OTHER: u8 = 1;
/// `drift`: drift found.
const EXIT_DRIFT: u8 = 1;
/// `drift`: the check itself failed.
const EXIT_CHECK_FAILED: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::SyncSpecs {
            from,
            out,
            manifest,
        } => sync_specs_command(&from, out, manifest),
        Command::Drift {
            upstream,
            format,
            specs,
            manifest,
        } => drift_command(&upstream, format, specs, manifest),
        Command::Bundle { binary, out } => match bundle_command(binary, out) {
            Ok(path) => {
                println!("{}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bundle: {e:#}");
                ExitCode::from(EXIT_OTHER)
            }
        },
        Command::Bench { quick, binary } => match bench::run(quick, binary) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench: {e:#}");
                ExitCode::from(EXIT_OTHER)
            }
        },
    }
}

fn bundle_command(binary: Option<PathBuf>, out: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let root = xtask::workspace_root();
    // Where cargo builds (CARGO_TARGET_DIR or a config's target-dir), not a guess.
    let target = xtask::target_dir()?;
    let binary = match binary {
        Some(b) => b,
        None => {
            eprintln!("== building the release binary");
            let status = std::process::Command::new(env!("CARGO"))
                .args(["build", "--release", "-p", "alpaca-mcp-server"])
                .current_dir(&root)
                .status()?;
            anyhow::ensure!(status.success(), "cargo build --release failed");
            target
                .join("release/alpaca-mcp-server")
                .with_extension(std::env::consts::EXE_EXTENSION)
        }
    };
    let out = out.unwrap_or_else(|| target.join("bundle"));
    std::fs::create_dir_all(&out)?;
    xtask::bundle::write(&binary, env!("CARGO_PKG_VERSION"), &out)
}

fn sync_specs_command(from: &str, out: Option<PathBuf>, manifest: Option<PathBuf>) -> ExitCode {
    let out = out.unwrap_or_else(|| relative_to_cwd(sync_specs::default_out_dir()));
    // The specs as they are before the sync, for the report; a missing manifest only skips it.
    let manifest = manifest.unwrap_or_else(|| out.join("toolsets.toml"));
    let baseline = if manifest.is_file() {
        drift::sync_baseline(&out, &manifest)
            .map_err(|e| eprintln!("note: no drift report: {e}"))
            .ok()
    } else {
        eprintln!(
            "note: no drift report: no manifest at {}",
            manifest.display()
        );
        None
    };
    match sync_specs::run(from, &out) {
        Ok(imported) => {
            for doc in imported {
                eprintln!(
                    "{}: {} operations, {} schemas (OpenAPI {} from {}) -> {}{}",
                    doc.name,
                    doc.summary.operations,
                    doc.summary.schemas,
                    doc.source_version,
                    doc.source,
                    doc.path.display(),
                    if doc.changed { "" } else { " (unchanged)" },
                );
            }
            if let Some(baseline) = baseline {
                print!("{}", drift::sync_report(&baseline, from, &out).to_text());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                SyncError::Input(_) => EXIT_INPUT,
                SyncError::Output { .. } => EXIT_OTHER,
            })
        }
    }
}

/// `path` relative to the current folder when it lies below it (shorter paths in reports).
fn relative_to_cwd(path: PathBuf) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(path)
}

fn drift_command(
    upstream: &str,
    format: Format,
    specs: Option<PathBuf>,
    manifest: Option<PathBuf>,
) -> ExitCode {
    let specs = specs.unwrap_or_else(|| relative_to_cwd(sync_specs::default_out_dir()));
    let manifest = manifest.unwrap_or_else(|| specs.join("toolsets.toml"));
    match drift::check(upstream, &specs, &manifest) {
        Ok(report) => {
            let text = match format {
                Format::Text => report.to_text(),
                Format::Json => report.to_json(),
                Format::Markdown => report.to_markdown(),
            };
            print!("{text}");
            if report.in_sync {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_DRIFT)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_CHECK_FAILED)
        }
    }
}
