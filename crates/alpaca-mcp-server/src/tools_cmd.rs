//! `alpaca-mcp-server tools`: what this build and these settings expose.

use std::process::ExitCode;

use alpaca_mcp::Config;
use alpaca_mcp::registry::{self, ToolFilter};
use serde_json::json;

pub fn run(config: Config, json: bool, markdown: bool) -> anyhow::Result<ExitCode> {
    let tools = registry::enabled(&ToolFilter::for_config(&config))?;
    if json {
        let list: Vec<_> = tools
            .iter()
            .map(|t| {
                json!({
                    "name": t.name(),
                    "toolset": t.toolset(),
                    "description": t.description(),
                    "annotations": {
                        "readOnlyHint": t.annotations().read_only,
                        "destructiveHint": t.annotations().destructive,
                        "idempotentHint": t.annotations().idempotent,
                        "openWorldHint": t.annotations().open_world,
                    },
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if markdown {
        println!("| Tool | Toolset | Access | Description |");
        println!("|---|---|---|---|");
        for t in &tools {
            println!(
                "| `{}` | {} | {} | {} |",
                t.name(),
                t.toolset(),
                access(t.annotations()),
                t.description().replace('|', "\\|")
            );
        }
    } else {
        for t in &tools {
            println!(
                "{:<40} {:<20} {:<12} {}",
                t.name(),
                t.toolset(),
                access(t.annotations()),
                t.description()
            );
        }
        eprintln!("{} tools", tools.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn access(a: alpaca_mcp::runtime::Annotations) -> &'static str {
    match (a.read_only, a.destructive) {
        (true, _) => "read",
        (false, false) => "write",
        (false, true) => "destructive",
    }
}
