//! The fixed list of assets the mock trades, and `/v2/assets`.

use axum::Json;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::ids::stable_uuid;
use crate::query::{Api, Query};

/// One tradable asset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AssetDef {
    pub(crate) symbol: &'static str,
    pub(crate) name: &'static str,
    pub(crate) class: &'static str,
    pub(crate) exchange: &'static str,
    pub(crate) easy_to_borrow: bool,
    pub(crate) has_options: bool,
    pub(crate) active: bool,
}

const fn equity(
    symbol: &'static str,
    name: &'static str,
    exchange: &'static str,
    has_options: bool,
) -> AssetDef {
    AssetDef {
        symbol,
        name,
        class: "us_equity",
        exchange,
        easy_to_borrow: true,
        has_options,
        active: true,
    }
}

const fn crypto(symbol: &'static str, name: &'static str) -> AssetDef {
    AssetDef {
        symbol,
        name,
        class: "crypto",
        exchange: "CRYPTO",
        easy_to_borrow: false,
        has_options: false,
        active: true,
    }
}

/// Every asset the mock knows.
pub(crate) const ASSETS: &[AssetDef] = &[
    equity("AAPL", "Apple Inc. Common Stock", "NASDAQ", true),
    equity(
        "AMD",
        "Advanced Micro Devices, Inc. Common Stock",
        "NASDAQ",
        false,
    ),
    equity("AMZN", "Amazon.com, Inc. Common Stock", "NASDAQ", false),
    equity(
        "GOOGL",
        "Alphabet Inc. Class A Common Stock",
        "NASDAQ",
        false,
    ),
    equity("IWM", "iShares Russell 2000 ETF", "ARCA", false),
    equity(
        "META",
        "Meta Platforms, Inc. Class A Common Stock",
        "NASDAQ",
        false,
    ),
    equity(
        "MSFT",
        "Microsoft Corporation Common Stock",
        "NASDAQ",
        false,
    ),
    equity("NVDA", "NVIDIA Corporation Common Stock", "NASDAQ", false),
    equity("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", false),
    equity("SPY", "SPDR S&P 500 ETF Trust", "ARCA", true),
    equity("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", false),
    AssetDef {
        easy_to_borrow: false,
        ..equity("GME", "GameStop Corp. Class A Common Stock", "NYSE", false)
    },
    AssetDef {
        active: false,
        ..equity(
            "TWTR",
            "Twitter, Inc. Common Stock (delisted)",
            "NYSE",
            false,
        )
    },
    crypto("BTC/USD", "Bitcoin / US Dollar"),
    crypto("ETH/USD", "Ethereum / US Dollar"),
    crypto("SOL/USD", "Solana / US Dollar"),
    crypto("DOGE/USD", "Dogecoin / US Dollar"),
    crypto("LTC/USD", "Litecoin / US Dollar"),
];

/// Finds an asset by symbol (case-insensitive; `BTCUSD` finds `BTC/USD`) or id, among the
/// named assets first, then the rest of the listing.
pub(crate) fn find(symbol_or_id: &str) -> Option<&'static AssetDef> {
    let s = symbol_or_id.trim().to_ascii_uppercase();
    let is = |a: &&AssetDef| a.symbol == s || a.symbol.replace('/', "") == s;
    ASSETS
        .iter()
        .find(is)
        .or_else(|| listing().iter().find(is))
        .or_else(|| {
            listing()
                .iter()
                .find(|a| stable_uuid(a.symbol) == symbol_or_id)
        })
}

/// US equities `/v2/assets` lists beyond the named ones: Alpaca lists about 11,000 active
/// ones, so an unfiltered call is megabytes, as it is for real.
const LISTED_EQUITIES: u64 = 11_400;

/// What `/v2/assets` lists: the named assets, then a fixed universe of generated US equities
/// (four-letter symbols, the usual exchanges, about one in ten inactive and a third with
/// options) and crypto pairs, the same in every run.
pub(crate) fn listing() -> &'static [AssetDef] {
    static LISTING: std::sync::LazyLock<Vec<AssetDef>> = std::sync::LazyLock::new(build_listing);
    &LISTING
}

fn build_listing() -> Vec<AssetDef> {
    const FIRST: &[&str] = &[
        "Northfield",
        "Bluewater",
        "Cedar",
        "Granite",
        "Harbor",
        "Summit",
        "Lakeshore",
        "Ironwood",
        "Meridian",
        "Pioneer",
        "Redstone",
        "Silverline",
        "Trident",
        "Westbrook",
        "Keystone",
        "Oakmont",
        "Brightpath",
        "Clearview",
        "Evergreen",
        "Frontier",
    ];
    const SECOND: &[&str] = &[
        "Analytics",
        "Bancorp",
        "Biosciences",
        "Capital",
        "Energy",
        "Foods",
        "Holdings",
        "Industries",
        "Logistics",
        "Materials",
        "Medical",
        "Networks",
        "Pharmaceuticals",
        "Realty",
        "Semiconductor",
        "Software",
        "Therapeutics",
        "Utilities",
    ];
    const SUFFIX: &[&str] = &[
        "Inc. Common Stock",
        "Corp. Common Stock",
        "Ltd. Ordinary Shares",
        "Class A Common Stock",
        "Trust ETF",
    ];
    const EXCHANGES: &[&str] = &[
        "NASDAQ", "NASDAQ", "NASDAQ", "NASDAQ", "NASDAQ", "NASDAQ", "NASDAQ", "NASDAQ", "NASDAQ",
        "NYSE", "NYSE", "NYSE", "NYSE", "NYSE", "NYSE", "ARCA", "ARCA", "AMEX", "BATS", "OTC",
    ];
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let mut out: Vec<AssetDef> = ASSETS.to_vec();
    let mut seen: std::collections::HashSet<String> =
        ASSETS.iter().map(|a| a.symbol.to_string()).collect();
    let mut generated = Vec::new();
    let mut i = 0u64;
    while (generated.len() as u64) < LISTED_EQUITIES {
        let h = crate::hashing::hash_parts(&[b"listed", &i.to_le_bytes()]);
        i += 1;
        let mut n = h % (26 * 26 * 26 * 26);
        let mut sym = String::new();
        for _ in 0..4 {
            sym.insert(0, (b'A' + (n % 26) as u8) as char);
            n /= 26;
        }
        if !seen.insert(sym.clone()) {
            continue;
        }
        let pick =
            |list: &[&'static str], salt: u64| list[((h >> salt) % list.len() as u64) as usize];
        generated.push(AssetDef {
            symbol: leak(sym),
            name: leak(format!(
                "{} {} {}",
                pick(FIRST, 8),
                pick(SECOND, 16),
                pick(SUFFIX, 24)
            )),
            class: "us_equity",
            exchange: pick(EXCHANGES, 32),
            easy_to_borrow: !(h >> 40).is_multiple_of(5),
            has_options: (h >> 44).is_multiple_of(3),
            active: !(h >> 48).is_multiple_of(10),
        });
    }
    generated.sort_by_key(|a| a.symbol);
    out.extend(generated);
    const COINS: &[&str] = &[
        "AAVE", "AVAX", "BAT", "BCH", "CRV", "DOT", "GRT", "LINK", "MKR", "PEPE", "SHIB", "SUSHI",
        "UNI", "USDC", "USDT", "XRP", "XTZ", "YFI",
    ];
    for coin in COINS {
        for quote in ["USD", "USDT", "USDC", "BTC"] {
            if *coin == quote || (quote == "BTC" && coin.starts_with("USD")) {
                continue;
            }
            let symbol = format!("{coin}/{quote}");
            if seen.insert(symbol.clone()) {
                out.push(crypto(leak(symbol), leak(format!("{coin} / {quote}"))));
            }
        }
    }
    out
}

/// A deterministic CUSIP-shaped identifier for a symbol.
pub(crate) fn cusip(symbol: &str) -> String {
    let h = crate::hashing::hash_parts(&[b"cusip", symbol.as_bytes()]);
    format!("{:09}", h % 1_000_000_000)
}

impl AssetDef {
    pub(crate) fn id(&self) -> String {
        stable_uuid(self.symbol)
    }

    pub(crate) fn to_json(self) -> Value {
        let crypto = self.class == "crypto";
        let mut attributes: Vec<&str> = Vec::new();
        if self.has_options {
            attributes.push("has_options");
        }
        if !crypto {
            attributes.push("fractional_eh_enabled");
        }
        let mut v = json!({
            "id": self.id(),
            "class": self.class,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "name": self.name,
            "status": if self.active { "active" } else { "inactive" },
            "tradable": self.active,
            "marginable": !crypto,
            "maintenance_margin_requirement": if crypto { 100 } else { 30 },
            "margin_requirement_long": if crypto { "100" } else { "30" },
            "margin_requirement_short": "100",
            "shortable": !crypto,
            "easy_to_borrow": self.easy_to_borrow,
            "fractionable": true,
            "attributes": attributes,
        });
        if crypto {
            v["min_order_size"] = json!("0.000001");
            v["min_trade_increment"] = json!("0.000000001");
            v["price_increment"] = json!("0.01");
            v["cusip"] = Value::Null;
        } else {
            v["cusip"] = json!(cusip(self.symbol));
            v["borrow_status"] = json!(if self.easy_to_borrow {
                "easy_to_borrow"
            } else {
                "hard_to_borrow"
            });
        }
        v
    }
}

/// `GET /v2/assets`
pub(crate) async fn list(RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let status = q.one_of("status", &["active", "inactive"])?;
    let class = q.get("asset_class").map(str::to_string);
    let exchange = q.get("exchange").map(str::to_ascii_uppercase);
    let attributes = q.list("attributes");
    let out: Vec<Value> = listing()
        .iter()
        .filter(|a| {
            status
                .as_deref()
                .is_none_or(|s| (s == "active") == a.active)
        })
        .filter(|a| class.as_deref().is_none_or(|c| c == a.class))
        .filter(|a| exchange.as_deref().is_none_or(|e| e == a.exchange))
        .map(|a| a.to_json())
        .filter(|v| {
            attributes.iter().all(|want| {
                v["attributes"]
                    .as_array()
                    .is_some_and(|have| have.iter().any(|h| h == want.as_str()))
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

/// `GET /v2/assets/{symbol_or_asset_id}`
pub(crate) async fn get(Path(symbol): Path<String>) -> ApiResult {
    find(&symbol)
        .map(|a| Json(a.to_json()).into_response())
        .ok_or_else(|| ApiError::not_found(format!("asset not found for {symbol}")))
}

/// Answers a JSON value with 200.
pub(crate) fn ok(v: Value) -> Response {
    Json(v).into_response()
}
