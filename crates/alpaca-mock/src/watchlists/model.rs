//! The watchlist model: a watchlist as the book keeps it and as the API prints it.

use serde_json::{Value, json};

use crate::assets;
use crate::time::Timestamp;

/// One watchlist.
#[derive(Debug, Clone)]
pub(crate) struct Watchlist {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) symbols: Vec<String>,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
}

impl Watchlist {
    pub(crate) fn to_json(&self, with_assets: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "account_id": crate::ids::account_id(),
            "name": self.name,
            "created_at": self.created_at.rfc3339_micros(),
            "updated_at": self.updated_at.rfc3339_micros(),
        });
        if with_assets {
            v["assets"] = Value::Array(
                self.symbols
                    .iter()
                    .filter_map(|s| assets::find(s))
                    .map(|a| a.to_json())
                    .collect(),
            );
        }
        v
    }
}
