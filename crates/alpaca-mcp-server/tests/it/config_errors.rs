//! Setup errors: each exits with code 2 and a message that says what to do, before anything
//! starts.

use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(crate::common::BIN);
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("ALPACA_") || k == "TRADING_API_URL" || k == "DATA_API_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.stdin(std::process::Stdio::null());
    cmd.output().expect("runs the binary")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn missing_keys_say_how_to_set_them_or_use_the_sandbox() {
    let o = run(&[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("ALPACA_API_KEY") && e.contains("ALPACA_SECRET_KEY"),
        "{e}"
    );
    assert!(e.contains("--sandbox"), "{e}");
    assert!(o.stdout.is_empty(), "stdout belongs to the transport");
}

#[test]
fn the_sandbox_switch_from_the_environment_is_a_checked_boolean() {
    // `tools` needs no keys either way; `doctor` does unless the sandbox is on.
    let on = run(&["doctor"], &[("ALPACA_MCP_SANDBOX", "yes")]);
    assert!(stderr(&on).contains("SANDBOX mode"), "{}", stderr(&on));
    for off in ["false", "0", " "] {
        let o = run(&["doctor"], &[("ALPACA_MCP_SANDBOX", off)]);
        assert_eq!(o.status.code(), Some(2), "{off:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("ALPACA_API_KEY"),
            "{off:?}: {}",
            stderr(&o)
        );
    }
    let bad = run(&["doctor"], &[("ALPACA_MCP_SANDBOX", "maybe")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("ALPACA_MCP_SANDBOX=\"maybe\" is not a boolean"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn unknown_toolset_lists_the_valid_ones() {
    let o = run(&["--sandbox", "--toolsets", "stock-data,stonks"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("unknown toolset `stonks`"), "{e}");
    assert!(
        e.contains("stock-data") && e.contains("crypto-data") && e.contains("news"),
        "{e}"
    );
}

#[test]
fn unknown_toolset_from_the_environment_too() {
    let o = run(&["--sandbox"], &[("ALPACA_TOOLSETS", "nope")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown toolset `nope`"));
}

#[cfg(not(feature = "forex"))]
#[test]
fn toolset_not_compiled_names_the_feature() {
    let o = run(&["--sandbox", "--toolsets", "forex"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("not compiled") && e.contains("--features forex"),
        "{e}"
    );
}

#[test]
fn malformed_url_is_named() {
    let o = run(
        &[],
        &[
            ("ALPACA_API_KEY", "k"),
            ("ALPACA_SECRET_KEY", "s"),
            ("DATA_API_URL", "ftp://example.com"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("DATA_API_URL") && e.contains("not a valid URL"),
        "{e}"
    );
    assert!(!e.contains("\"s\""), "the secret must not be echoed");
}

#[test]
fn paper_trade_must_be_a_boolean_never_a_silent_live() {
    let o = run(
        &[],
        &[
            ("ALPACA_API_KEY", "k"),
            ("ALPACA_SECRET_KEY", "s"),
            ("ALPACA_PAPER_TRADE", "paper"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("ALPACA_PAPER_TRADE=\"paper\" is not a boolean"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn env_file_is_read_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alpaca.env");
    std::fs::write(
        &file,
        "# settings\nexport ALPACA_TOOLSETS=\"news\"\nALPACA_READ_ONLY=yes\n",
    )
    .unwrap();
    let o = run(
        &["tools", "--json", "--env-file", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let tools: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["get_news"]);

    let o = run(
        &["tools", "--json", "--env-file", file.to_str().unwrap()],
        &[("ALPACA_TOOLSETS", "corporate-actions")],
    );
    let tools: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(tools[0]["name"], "get_corporate_actions");

    let o = run(
        &[
            "tools",
            "--json",
            "--env-file",
            file.to_str().unwrap(),
            "--toolsets",
            "fixed-income-data",
        ],
        &[("ALPACA_TOOLSETS", "corporate-actions")],
    );
    let tools: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        tools[0]["name"], "get_fixed_income_latest_quotes",
        "flags win over the environment"
    );

    let o = run(
        &[
            "--env-file",
            dir.path().join("missing.env").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.env"));
}

#[test]
fn tools_lists_without_keys_and_read_only_drops_writes() {
    let o = run(&["tools", "--json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let o = run(&["tools", "--json", "--read-only"], &[]);
    let ro: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(ro.as_array().unwrap().len() < all.as_array().unwrap().len());
    assert!(
        ro.as_array()
            .unwrap()
            .iter()
            .all(|t| t["annotations"]["readOnlyHint"] == true)
    );
}

#[test]
fn version_and_help() {
    let o = run(&["--version"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
    let o = run(&["--help"], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("--sandbox") && out.contains("doctor") && out.contains("--transport"),
        "{out}"
    );
}

#[test]
fn confirm_orders_adds_the_confirmation_tools() {
    let names = |o: &Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let plain = run(&["tools", "--json", "--toolsets", "trading"], &[]);
    assert!(!names(&plain).contains(&"confirm_order".to_string()));
    let flag = run(
        &[
            "tools",
            "--json",
            "--toolsets",
            "trading",
            "--confirm-orders",
        ],
        &[],
    );
    let env = run(
        &["tools", "--json", "--toolsets", "trading"],
        &[("ALPACA_CONFIRM_ORDERS", "true")],
    );
    for o in [&flag, &env] {
        let n = names(o);
        assert!(
            n.contains(&"confirm_order".to_string())
                && n.contains(&"cancel_confirmation".to_string()),
            "{n:?}"
        );
    }
}

#[test]
fn doctor_checks_keys_endpoint_and_feeds() {
    let o = run(&["doctor", "--sandbox"], &[]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("ok    keys accepted by the paper trading API"),
        "{out}"
    );
    assert!(
        out.contains("ok    market data feed `iex` answers"),
        "{out}"
    );
    assert!(out.contains("`sip` needs a paid plan"), "{out}");
    assert!(out.ends_with("all good\n"), "{out}");

    let o = run(
        &["doctor"],
        &[
            ("ALPACA_API_KEY", "k"),
            ("ALPACA_SECRET_KEY", "s"),
            ("TRADING_API_URL", "http://127.0.0.1:9"),
            ("DATA_API_URL", "http://127.0.0.1:9"),
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FIX   cannot reach the trading API"), "{out}");
    assert!(out.contains("problem(s) to fix"), "{out}");
}

#[test]
fn a_state_that_is_no_postgresql_url_or_given_twice_or_unreachable_is_said_without_its_password() {
    // Keys that reach nothing (the sandbox refuses a PostgreSQL state outright).
    let http = ["--transport", "http", "--port", "0"];
    let keys = [("ALPACA_API_KEY", "k"), ("ALPACA_SECRET_KEY", "s")];
    fn with<'a>(http: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [http, extra].concat()
    }
    let o = run(&with(&http, &["--state", "sqlite:///tmp/x"]), &keys);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("must be a PostgreSQL URL"),
        "{}",
        stderr(&o)
    );

    let dir = tempfile::tempdir().unwrap();
    let o = run(
        &with(&http, &["--state-dir", dir.path().to_str().unwrap()]),
        &[
            keys[0],
            keys[1],
            ("ALPACA_MCP_STATE", "postgres://u:pw-4c1e@127.0.0.1:1/db"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("both given"), "{}", stderr(&o));

    // Nothing listens on port 1: the error names the database, never the password (from
    // the variable, or from the file ALPACA_MCP_STATE_FILE names).
    let file = dir.path().join("state-url");
    std::fs::write(&file, "postgres://u:pw-77aa@127.0.0.1:1/db\n").unwrap();
    for env in [
        ("ALPACA_MCP_STATE", "postgres://u:pw-4c1e@127.0.0.1:1/db"),
        ("ALPACA_MCP_STATE_FILE", file.to_str().unwrap()),
    ] {
        let o = run(&http, &[keys[0], keys[1], env]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(e.contains("127.0.0.1:1/db"), "{e}");
        assert!(!e.contains("pw-4c1e") && !e.contains("pw-77aa"), "{e}");
    }
}

#[test]
fn a_bad_number_says_what_the_setting_counts() {
    for (name, value, says) in [
        (
            "ALPACA_MAX_ORDER_NOTIONAL",
            "abc",
            "is not a positive amount of US dollars",
        ),
        (
            "ALPACA_MAX_ORDER_NOTIONAL",
            "-5",
            "is not a positive amount of US dollars",
        ),
        (
            "ALPACA_MAX_ORDERS_PER_MINUTE",
            "abc",
            "is not a whole number of orders, 1 or more",
        ),
        (
            "ALPACA_MAX_ORDERS_PER_MINUTE",
            "2.5",
            "is not a whole number of orders, 1 or more",
        ),
        (
            "ALPACA_CONFIRM_TTL_SECONDS",
            "soon",
            "is not a positive number of seconds",
        ),
        (
            "ALPACA_CACHE_MAX_ENTRIES",
            "many",
            "is not a whole number of entries",
        ),
    ] {
        let o = run(&["--sandbox", "doctor"], &[(name, value)]);
        assert_eq!(o.status.code(), Some(2), "{name}={value}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(&format!("{name}=\"{value}\" {says}")), "{e}");
        assert!(!e.contains("seconds") || name.contains("SECONDS"), "{e}");
    }
}

#[test]
fn a_sandbox_date_that_is_not_one_is_a_setup_error() {
    for (args, env, named) in [
        (
            &["--sandbox", "--sandbox-now", "yesterday"][..],
            &[][..],
            "--sandbox-now",
        ),
        (
            &["--sandbox"][..],
            &[("ALPACA_MCP_SANDBOX_NOW", "2025-13-01")][..],
            "ALPACA_MCP_SANDBOX_NOW",
        ),
    ] {
        let o = run(args, env);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(named) && e.contains("RFC 3339") && e.contains("2025-01-15"),
            "{e}"
        );
    }
}

#[test]
fn the_sandbox_refuses_a_shared_postgresql_state() {
    let url = "postgres://mcp@127.0.0.1:1/mcp";
    for (args, env) in [
        (
            &["--sandbox", "--transport", "http", "--state", url][..],
            &[][..],
        ),
        (
            &["--sandbox", "--transport", "http"][..],
            &[("ALPACA_MCP_STATE", url)][..],
        ),
        (
            &["--transport", "http"][..],
            &[("ALPACA_MCP_SANDBOX", "true"), ("ALPACA_MCP_STATE", url)][..],
        ),
    ] {
        let o = run(args, env);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("--sandbox with a PostgreSQL state") && e.contains("--state-dir"),
            "{e}"
        );
        // Refused before anything starts: no fake, no connection attempt.
        assert!(!e.contains("SANDBOX mode"), "{e}");
    }
}
