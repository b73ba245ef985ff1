//! `cargo xtask <command>`: argument parsing and dispatch. Commands live in the library
//! (`xtask::*`); add a variant to [`Command`] and a match arm to add one.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
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

#[derive(Subcommand)]
enum Command {
    /// Import the upstream OpenAPI documents (trading-api, market-data-api) into specs/ as
    /// normalized OpenAPI 3.0.3 JSON holding the API's facts only.
    SyncSpecs {
        /// A folder holding trading-api.{json,yaml,yml} and market-data-api.{json,yaml,yml}, or
        /// an http(s) base URL serving <url>/trading-api.json and <url>/market-data-api.json.
        #[arg(long, value_name = "DIR|URL")]
        from: String,
        /// Output folder [default: <workspace root>/specs].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Exit code for bad input (the upstream documents or the arguments).
const EXIT_INPUT: u8 = 2;
/// Exit code for any other failure.
const EXIT_OTHER: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::SyncSpecs { from, out } => sync_specs_command(&from, out),
    }
}

fn sync_specs_command(from: &str, out: Option<PathBuf>) -> ExitCode {
    let out = out.unwrap_or_else(sync_specs::default_out_dir);
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
