//! The guards, by the manifest's `guard` names.

/// The safety mechanism of a tool, by the manifest's `guard` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// `place_*_order`.
    PlaceOrder,
    /// Replaces an open order.
    ReplaceOrder,
    /// Closes (part of) one position.
    ClosePosition,
    /// Closes every position.
    CloseAllPositions,
    /// Exercises an option position.
    Exercise,
    /// Cancels one order.
    CancelOrder,
    /// Cancels every open order.
    CancelAllOrders,
    /// Withdraws exercise at expiry.
    DoNotExercise,
    /// Sends a held call.
    Confirm,
    /// Drops a held call.
    DropConfirmation,
}

impl Guard {
    /// Every guard, by its manifest name.
    pub const ALL: &'static [(&'static str, Guard)] = &[
        ("place_order", Guard::PlaceOrder),
        ("replace_order", Guard::ReplaceOrder),
        ("close_position", Guard::ClosePosition),
        ("close_all_positions", Guard::CloseAllPositions),
        ("exercise", Guard::Exercise),
        ("cancel_order", Guard::CancelOrder),
        ("cancel_all_orders", Guard::CancelAllOrders),
        ("do_not_exercise", Guard::DoNotExercise),
        ("confirm", Guard::Confirm),
        ("drop_confirmation", Guard::DropConfirmation),
    ];

    /// The guard a manifest name stands for.
    pub fn parse(name: &str) -> Option<Guard> {
        Guard::ALL.iter().find(|(n, _)| *n == name).map(|(_, g)| *g)
    }

    /// Its manifest name.
    pub fn name(self) -> &'static str {
        Guard::ALL
            .iter()
            .find(|(_, g)| *g == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Whether the call creates an order whose outcome is looked up by `client_order_id`.
    pub(super) fn makes_order(self) -> bool {
        matches!(self, Guard::PlaceOrder | Guard::ReplaceOrder)
    }

    /// The tool that shows whether a call whose answer was lost took effect.
    pub(super) fn check_with(self) -> &'static str {
        match self {
            Guard::ClosePosition | Guard::CloseAllPositions | Guard::Exercise => {
                "get_all_positions and get_orders"
            }
            Guard::DoNotExercise => "get_all_positions",
            _ => "get_orders",
        }
    }
}
