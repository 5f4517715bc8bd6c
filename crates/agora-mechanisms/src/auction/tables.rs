//! The auction's tables: every decision, every lot's outcome, every bidder's totals.

use agora_core::record::keyed_table;
use agora_export::{Column, ColumnType, TableSpec};

/// `bids`: one row per decision (a sealed bid, or a stay/drop or accept/wait on a
/// clock); `round` is the lot's number.
pub fn bids_table() -> TableSpec {
    keyed_table(
        "bids",
        vec![
            Column::required("lot_id", ColumnType::Utf8),
            Column::required("format", ColumnType::Utf8),
            Column::required("step", ColumnType::U32),
            Column::optional("price", ColumnType::F64),
            Column::required("decision", ColumnType::Utf8),
            Column::optional("amount", ColumnType::F64),
            Column::required("value", ColumnType::F64),
            Column::required("signal", ColumnType::F64),
            Column::optional("budget_left", ColumnType::F64),
            Column::required("status", ColumnType::Utf8),
            Column::optional("fallback_reason", ColumnType::Utf8),
            Column::optional("reason", ColumnType::Utf8),
        ],
    )
}

/// `auction_outcomes`: one row per lot (`agent_id` is null; the winner is `winner_id`).
pub fn auction_outcomes_table() -> TableSpec {
    keyed_table(
        "auction_outcomes",
        vec![
            Column::required("lot_id", ColumnType::Utf8),
            Column::required("format", ColumnType::Utf8),
            Column::required("result", ColumnType::Utf8),
            Column::required("bidders", ColumnType::U32),
            Column::optional("winner_id", ColumnType::U32),
            Column::optional("price", ColumnType::F64),
            Column::required("reserve", ColumnType::F64),
            Column::required("revenue", ColumnType::F64),
            Column::required("highest_value", ColumnType::F64),
            Column::optional("second_highest_value", ColumnType::F64),
            Column::optional("winner_value", ColumnType::F64),
            Column::optional("winner_surplus", ColumnType::F64),
            Column::optional("efficiency", ColumnType::F64),
            Column::required("steps", ColumnType::U32),
            Column::optional("tied_ids", ColumnType::Utf8),
        ],
    )
}

/// `auction_bidders`: one row per bidder at the end of the run, with its totals.
pub fn auction_bidders_table() -> TableSpec {
    keyed_table(
        "auction_bidders",
        vec![
            Column::optional("budget", ColumnType::F64),
            Column::required("spent", ColumnType::F64),
            Column::optional("budget_left", ColumnType::F64),
            Column::required("lots_won", ColumnType::U32),
            Column::required("surplus", ColumnType::F64),
            Column::required("decisions", ColumnType::U32),
            Column::required("fallbacks", ColumnType::U32),
        ],
    )
}
