//! Reference tables (condition and exchange codes) and logos.

use axum::extract::{Path, RawQuery};
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::assets::ok;
use crate::errors::{ApiError, ApiResult};
use crate::query::{Api, Query};

/// `GET /v2/stocks/meta/exchanges`
pub(crate) async fn stock_exchanges() -> ApiResult {
    Ok(ok(json!({
        "A": "NYSE American (AMEX)",
        "B": "NASDAQ OMX BX",
        "C": "National Stock Exchange",
        "D": "FINRA ADF",
        "E": "Market Independent",
        "H": "MIAX",
        "I": "International Securities Exchange",
        "J": "Cboe EDGA",
        "K": "Cboe EDGX",
        "L": "Long Term Stock Exchange",
        "M": "Chicago Stock Exchange",
        "N": "New York Stock Exchange",
        "P": "NYSE Arca",
        "Q": "NASDAQ OMX",
        "S": "NASDAQ Small Cap",
        "T": "NASDAQ Int",
        "U": "Members Exchange",
        "V": "IEX",
        "W": "CBOE",
        "X": "NASDAQ OMX PSX",
        "Y": "Cboe BYX",
        "Z": "Cboe BZX",
    })))
}

/// `GET /v2/stocks/meta/conditions/{ticktype}`
pub(crate) async fn stock_conditions(
    Path(ticktype): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    q.required("tape")?;
    q.one_of("tape", &["A", "B", "C"])?;
    let v: Value = match ticktype.as_str() {
        "trade" => json!({
            " ": "Regular Sale",
            "@": "Regular Sale",
            "B": "Average Price Trade",
            "C": "Cash Sale",
            "F": "Intermarket Sweep",
            "I": "Odd Lot Trade",
            "M": "Market Center Official Close",
            "O": "Opening Prints",
            "Q": "Market Center Official Open",
            "T": "Extended Trading Hours",
            "U": "Extended Trading Hours (Sold Out of Sequence)",
            "Z": "Sold (Out of Sequence)",
            "6": "Closing Prints",
        }),
        "quote" => json!({
            "A": "Manual Ask Automated Bid",
            "B": "Manual Bid Automated Ask",
            "F": "Fast Trading",
            "H": "Manual Bid And Ask",
            "L": "Closed Quote",
            "O": "Opening Quote Automated",
            "R": "Regular Two-Sided Open",
            "X": "Manual Bid And Ask (Non-Firm)",
            "Y": "Regular One-Sided Open",
            "Z": "No Open/No Resume",
        }),
        _ => return Err(q.invalid(format!("invalid ticktype: {ticktype}"))),
    };
    Ok(ok(v))
}

/// `GET /v1beta1/options/meta/exchanges`
pub(crate) async fn option_exchanges() -> ApiResult {
    Ok(ok(json!({
        "A": "AMEX - NYSE American Options",
        "B": "BOX - Boston Options Exchange",
        "C": "CBOE - Cboe Options Exchange",
        "H": "MIAX Emerald",
        "I": "ISE - International Securities Exchange",
        "M": "MIAX Options",
        "N": "NYSE Arca Options",
        "Q": "NASDAQ Options Market",
        "X": "PHLX - Nasdaq PHLX",
        "Z": "BATS - Cboe BZX Options",
    })))
}

/// `GET /v1beta1/options/meta/conditions/{ticktype}`
pub(crate) async fn option_conditions(Path(ticktype): Path<String>) -> ApiResult {
    match ticktype.as_str() {
        "trade" => Ok(ok(json!({
            "I": "Auto Execution",
            "J": "Cancel",
            "a": "Single Leg Auction Non ISO",
            "e": "Single Leg Floor Trade",
            "f": "Single Leg Auction ISO",
            "g": "Single Leg Cross Non ISO",
            "S": "ISO",
        }))),
        "quote" => Ok(ok(json!({
            "A": "Regular Trading",
            "B": "Bid Quote Not Firm",
            "F": "Fast Market",
            "O": "Opening Quote",
            "R": "Rotation",
            "T": "Trading Halt",
        }))),
        other => Err(ApiError::bad_request(format!("invalid ticktype: {other}"))),
    }
}

/// A 1x1 transparent PNG.
pub(crate) const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

/// `GET /v1beta1/logos/{symbol}`
pub(crate) async fn logo(Path(symbol): Path<String>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let placeholder = q.bool("placeholder")?.unwrap_or(true);
    let known = crate::assets::find(&symbol).is_some();
    if !known && !placeholder {
        return Err(ApiError::not_found(format!("no logo for {symbol}")));
    }
    Ok(([(header::CONTENT_TYPE, "image/png")], PNG).into_response())
}
