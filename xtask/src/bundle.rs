//! `cargo xtask bundle`: an MCP Bundle (`.mcpb`, the zip format Claude Desktop installs with a
//! double click) of the release binary for this platform.
//!
//! The bundle holds `manifest.json`, the binary under `server/` and `icon.png`. The manifest
//! (format version [`MANIFEST_VERSION`] of the `@anthropic-ai/mcpb` tooling) declares a binary
//! server started with no arguments, and a `user_config` entry for each setting a trader
//! chooses at install time; each one reaches the server as the environment variable the server
//! already reads ([`USER_CONFIG`]). Its tools list is what the binary itself prints for its
//! default toolsets (`alpaca-mcp-server tools --json`), so it is generated from the manifest
//! the build compiled, as the README's table is.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

/// The MCPB manifest format written.
/// 0.2 is the version `@anthropic-ai/mcpb` (2.1.2) writes for new packages, the one Claude
/// Desktop installs everywhere; later ones add nothing this bundle uses (0.3 localisation and
/// icons, 0.4 the uv runtime).
pub const MANIFEST_VERSION: &str = "0.2";

/// The bundle's package name.
pub const NAME: &str = "alpaca-mcp";

/// One install-time setting: its `user_config` key, the environment variable it sets, and how
/// the install dialog shows it.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The `user_config` key.
    pub key: &'static str,
    /// The variable the server reads.
    pub env: &'static str,
    /// `string`, `boolean` or `number`.
    pub kind: &'static str,
    /// The dialog's label.
    pub title: &'static str,
    /// The dialog's help text.
    pub description: &'static str,
    /// Whether the value is a secret (stored in the OS keychain, shown as dots).
    pub sensitive: bool,
    /// The default, when there is one.
    pub default: Option<&'static str>,
}

/// Every install-time setting, in the order the dialog shows them.
pub const USER_CONFIG: &[Setting] = &[
    Setting {
        key: "api_key",
        env: "ALPACA_API_KEY",
        kind: "string",
        title: "Alpaca API key ID",
        description: "Your Alpaca API key ID (from the Alpaca dashboard). Required unless Sandbox is on.",
        sensitive: true,
        default: Some(""),
    },
    Setting {
        key: "secret_key",
        env: "ALPACA_SECRET_KEY",
        kind: "string",
        title: "Alpaca API secret key",
        description: "The secret key that goes with the key ID. Required unless Sandbox is on.",
        sensitive: true,
        default: Some(""),
    },
    Setting {
        key: "paper_trade",
        env: "ALPACA_PAPER_TRADE",
        kind: "boolean",
        title: "Paper trading",
        description: "On: orders go to your paper account (simulated money). Turn it off only to trade real money with live keys.",
        sensitive: false,
        default: Some("true"),
    },
    Setting {
        key: "toolsets",
        env: "ALPACA_TOOLSETS",
        kind: "string",
        title: "Toolsets",
        description: "Comma-separated toolsets to enable (e.g. account,trading,stock-data); empty for the defaults.",
        sensitive: false,
        default: Some(""),
    },
    Setting {
        key: "read_only",
        env: "ALPACA_READ_ONLY",
        kind: "boolean",
        title: "Read only",
        description: "On: only tools that read are offered; nothing can place, change or cancel an order.",
        sensitive: false,
        default: Some("false"),
    },
    Setting {
        key: "confirm_orders",
        env: "ALPACA_CONFIRM_ORDERS",
        kind: "boolean",
        title: "Confirm every order",
        description: "On: every order, replace, close, cancel and exercise is held until you approve it.",
        sensitive: false,
        default: Some("false"),
    },
    Setting {
        key: "max_order_notional",
        env: "ALPACA_MAX_ORDER_NOTIONAL",
        kind: "number",
        title: "Largest order value (USD)",
        description: "Refuse any order worth more than this many US dollars; empty for no cap.",
        sensitive: false,
        default: None,
    },
    Setting {
        key: "sandbox",
        env: "ALPACA_MCP_SANDBOX",
        kind: "boolean",
        title: "Sandbox (no keys, nothing real)",
        description: "On: every tool runs against a built-in fake Alpaca, to try the server without an account.",
        sensitive: false,
        default: Some("false"),
    },
];

/// A tool as the bundle lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
}

/// The platform as MCPB names it (`darwin`, `win32`, `linux`) and as file names do
/// (`linux-x86_64`).
pub fn platform() -> (&'static str, String) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    (
        os,
        format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
    )
}

/// The binary's file name on `os` (MCPB's name).
fn binary_name(os: &str) -> &'static str {
    if os == "win32" {
        "alpaca-mcp-server.exe"
    } else {
        "alpaca-mcp-server"
    }
}

/// The manifest for `version` on `os`, listing `tools`.
pub fn manifest(version: &str, os: &str, tools: &[Tool]) -> Value {
    let binary = binary_name(os);
    let mut env = Map::new();
    let mut user_config = Map::new();
    for s in USER_CONFIG {
        env.insert(
            s.env.to_string(),
            Value::String(format!("${{user_config.{}}}", s.key)),
        );
        let mut entry = json!({
            "type": s.kind,
            "title": s.title,
            "description": s.description,
            "required": false,
        });
        if s.sensitive {
            entry["sensitive"] = json!(true);
        }
        if let Some(d) = s.default {
            entry["default"] = match s.kind {
                "boolean" => json!(d == "true"),
                "number" => d.parse::<f64>().map_or(Value::Null, |n| json!(n)),
                _ => json!(d),
            };
        }
        if s.kind == "number" {
            entry["min"] = json!(0);
        }
        user_config.insert(s.key.to_string(), entry);
    }
    json!({
        "manifest_version": MANIFEST_VERSION,
        "name": NAME,
        "display_name": format!("Alpaca (trading and market data), {}", arch_label(os)),
        "version": version,
        "description": "Your Alpaca account, orders and market data as MCP tools: buying power, positions, orders with guards, quotes, bars, options and news.",
        "long_description": "Ask about your Alpaca account in plain words: buying power, positions, open orders; place, replace and cancel orders with symbol guards, a value cap and optional confirmation of every order; read quotes, bars, trades, snapshots, option chains, crypto and news. Paper trading is on by default, and Sandbox mode tries every tool against a built-in fake Alpaca without keys.",
        "author": {"name": "alpaca-mcp contributors"},
        "repository": {"type": "git", "url": env!("CARGO_PKG_REPOSITORY")},
        "license": env!("CARGO_PKG_LICENSE"),
        "icon": "icon.png",
        "keywords": ["alpaca", "trading", "stocks", "crypto", "options", "market data"],
        "server": {
            "type": "binary",
            "entry_point": format!("server/{binary}"),
            "mcp_config": {
                "command": format!("${{__dirname}}/server/{binary}"),
                "args": [],
                "env": env,
            },
        },
        "user_config": user_config,
        "tools": tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description}))
            .collect::<Vec<_>>(),
        "compatibility": {"platforms": [os]},
    })
}

/// The platform a bundle's binary runs on, in words for its name (`Linux x86_64`): a download
/// for the wrong machine says so before it is installed.
pub fn arch_label(os: &str) -> String {
    let os = match os {
        "darwin" => "macOS",
        "win32" => "Windows",
        "linux" => "Linux",
        other => other,
    };
    format!("{os} {}", std::env::consts::ARCH)
}

/// The tools `binary` exposes with its defaults: `tools --json` with a clean environment.
pub fn tools_of(binary: &Path) -> anyhow::Result<Vec<Tool>> {
    let out = Command::new(binary)
        .args(["tools", "--json"])
        .env_clear()
        .output()
        .with_context(|| format!("running {} tools --json", binary.display()))?;
    if !out.status.success() {
        bail!(
            "{} tools --json failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).context("tools --json output")?;
    Ok(list
        .iter()
        .map(|t| Tool {
            name: t["name"].as_str().unwrap_or_default().to_string(),
            description: t["description"].as_str().unwrap_or_default().to_string(),
        })
        .collect())
}

/// Writes the bundle of `binary` into `out_dir`: the staged folder (`stage/`, what the zip
/// holds) and `alpaca-mcp-<version>-<platform>.mcpb`, whose path is returned.
pub fn write(binary: &Path, version: &str, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let (os, platform) = platform();
    let tools = tools_of(binary)?;
    if tools.is_empty() {
        bail!("{} lists no tools", binary.display());
    }
    let manifest = serde_json::to_string_pretty(&manifest(version, os, &tools))?;
    let stage = out_dir.join("stage");
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    std::fs::create_dir_all(stage.join("server"))?;
    std::fs::write(stage.join("manifest.json"), &manifest)?;
    let icon = icon_png()?;
    std::fs::write(stage.join("icon.png"), &icon)?;
    let staged_binary = stage.join("server").join(binary_name(os));
    std::fs::copy(binary, &staged_binary)?;

    let path = out_dir.join(format!("{NAME}-{version}-{platform}.mcpb"));
    let file = std::fs::File::create(&path)?;
    let mut zip = zip::ZipWriter::new(file);
    let text = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    zip.start_file("manifest.json", text)?;
    zip.write_all(manifest.as_bytes())?;
    zip.start_file("icon.png", text)?;
    zip.write_all(&icon)?;
    zip.start_file(
        format!("server/{}", binary_name(os)),
        text.unix_permissions(0o755),
    )?;
    zip.write_all(&std::fs::read(&staged_binary)?)?;
    zip.finish()?;
    Ok(path)
}

/// The bundle's icon: 512x512 (the size Claude Desktop recommends), a rising line of five
/// candles on a dark rounded square, drawn here on a 128-unit grid.
pub fn icon_png() -> anyhow::Result<Vec<u8>> {
    const N: u32 = 128;
    const SCALE: u32 = 4;
    const SIDE: u32 = N * SCALE;
    let mut pixels = vec![0u8; (SIDE * SIDE * 4) as usize];
    let mut put = |x: u32, y: u32, rgba: [u8; 4]| {
        for sy in 0..SCALE {
            for sx in 0..SCALE {
                let i = (((y * SCALE + sy) * SIDE + x * SCALE + sx) * 4) as usize;
                pixels[i..i + 4].copy_from_slice(&rgba);
            }
        }
    };
    let radius = 20i64;
    for y in 0..N {
        for x in 0..N {
            // Rounded corners: outside the corner circles stays transparent.
            let (cx, cy) = (
                (x as i64).clamp(radius, N as i64 - 1 - radius),
                (y as i64).clamp(radius, N as i64 - 1 - radius),
            );
            let (dx, dy) = (x as i64 - cx, y as i64 - cy);
            if dx * dx + dy * dy <= radius * radius {
                put(x, y, [0x14, 0x1b, 0x2d, 0xff]);
            }
        }
    }
    // Five candles, each higher than the one before: (body top, body bottom).
    let candles = [(84u32, 100u32), (72, 92), (64, 84), (46, 70), (28, 54)];
    for (i, (top, bottom)) in candles.into_iter().enumerate() {
        let x0 = 20 + i as u32 * 19;
        let color = if i == 2 {
            [0xf2, 0x5f, 0x5c, 0xff]
        } else {
            [0x3d, 0xd6, 0x8c, 0xff]
        };
        for y in top.saturating_sub(8)..(bottom + 8).min(N) {
            put(x0 + 5, y, color);
            put(x0 + 6, y, color);
        }
        for y in top..bottom {
            for x in x0..x0 + 12 {
                put(x, y, color);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, SIDE, SIDE);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_its_variable_and_secrets_are_marked() {
        let m = manifest(
            "1.2.3",
            "linux",
            &[Tool {
                name: "get_account_info".into(),
                description: "x".into(),
            }],
        );
        let env = m["server"]["mcp_config"]["env"].as_object().unwrap();
        let config = m["user_config"].as_object().unwrap();
        assert_eq!(env.len(), USER_CONFIG.len());
        for s in USER_CONFIG {
            assert_eq!(env[s.env], format!("${{user_config.{}}}", s.key));
            assert_eq!(
                config[s.key]["sensitive"].as_bool().unwrap_or(false),
                s.sensitive
            );
        }
        assert!(config["secret_key"]["sensitive"].as_bool().unwrap());
        assert_eq!(config["paper_trade"]["default"], json!(true));
        assert_eq!(m["server"]["entry_point"], "server/alpaca-mcp-server");
        assert_eq!(m["tools"][0]["name"], "get_account_info");
        let windows = manifest("1.2.3", "win32", &[]);
        assert_eq!(
            windows["server"]["entry_point"],
            "server/alpaca-mcp-server.exe"
        );
    }

    #[test]
    fn the_icon_is_a_png() {
        let png = icon_png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (512, 512));
    }
}
