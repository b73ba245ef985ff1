//! The position model: a holding as the book keeps it.

/// One open position.
#[derive(Debug, Clone)]
pub(crate) struct Position {
    pub(crate) symbol: String,
    pub(crate) asset_id: String,
    pub(crate) asset_class: String,
    pub(crate) exchange: String,
    /// Signed: negative for a short.
    pub(crate) qty: f64,
    pub(crate) avg_entry_price: f64,
    /// 100 for option contracts, 1 otherwise.
    pub(crate) multiplier: f64,
}
