//! The conversation tables: messages, opinions, per-round metrics, focus-group
//! answers, and how the conversation ended.

use agora_core::record::keyed_table;
use agora_export::{Column, ColumnType, TableSpec};

/// `messages`: one row per public message (text apart from the numeric tables).
pub fn messages_table() -> TableSpec {
    keyed_table(
        "messages",
        vec![
            Column::required("mechanism", ColumnType::Utf8),
            Column::required("turn", ColumnType::U32),
            Column::optional("question_id", ColumnType::Utf8),
            Column::optional("text", ColumnType::Utf8),
            Column::optional("public_stance", ColumnType::F64),
            Column::optional("reasoning", ColumnType::Utf8),
            Column::required("audience", ColumnType::U32),
            Column::optional("echo_score", ColumnType::F64),
            Column::optional("own_card_similarity", ColumnType::F64),
            Column::optional("other_cards_similarity", ColumnType::F64),
            Column::optional("persona_drift", ColumnType::F64),
            Column::optional("novelty", ColumnType::F64),
            Column::required("status", ColumnType::Utf8),
            Column::optional("fallback_reason", ColumnType::Utf8),
        ],
    )
}

/// `opinions`: one row per agent and round (round 0: before the first round).
pub fn opinions_table() -> TableSpec {
    keyed_table(
        "opinions",
        vec![
            Column::required("mechanism", ColumnType::Utf8),
            Column::optional("side", ColumnType::Utf8),
            Column::required("private_stance", ColumnType::F64),
            Column::required("confidence", ColumnType::F64),
            Column::optional("public_stance", ColumnType::F64),
            Column::required("status", ColumnType::Utf8),
            Column::optional("fallback_reason", ColumnType::Utf8),
            Column::optional("reasoning", ColumnType::Utf8),
        ],
    )
}

/// `debate_metrics`: one row per round of a debate or focus group (`agent_id` null).
pub fn metrics_table() -> TableSpec {
    keyed_table(
        "debate_metrics",
        vec![
            Column::required("mechanism", ColumnType::Utf8),
            Column::required("agents", ColumnType::U32),
            Column::required("speakers", ColumnType::U32),
            Column::required("opinion_mean", ColumnType::F64),
            Column::required("opinion_variance", ColumnType::F64),
            Column::required("polarisation", ColumnType::F64),
            Column::required("distance_from_initial", ColumnType::F64),
            Column::required("opinion_shift", ColumnType::F64),
            Column::optional("public_private_gap", ColumnType::F64),
            Column::optional("echo_score", ColumnType::F64),
            Column::optional("persona_drift", ColumnType::F64),
            Column::optional("novelty", ColumnType::F64),
            Column::optional("stop_reason", ColumnType::Utf8),
        ],
    )
}

/// `focus_group_answers`: one row per participant's answer to a moderator question.
pub fn focus_group_answers_table() -> TableSpec {
    keyed_table(
        "focus_group_answers",
        vec![
            Column::required("question_id", ColumnType::Utf8),
            Column::required("turn", ColumnType::U32),
            Column::optional("stimulus_id", ColumnType::Utf8),
            Column::optional("sentiment", ColumnType::F64),
            Column::optional("rating", ColumnType::F64),
            Column::optional("confidence", ColumnType::F64),
            Column::required("status", ColumnType::Utf8),
        ],
    )
}

/// `conversation_end`: one row per run: the last round and why the conversation stopped.
pub fn conversation_end_table() -> TableSpec {
    keyed_table(
        "conversation_end",
        vec![
            Column::required("mechanism", ColumnType::Utf8),
            Column::required("rounds", ColumnType::U32),
            Column::required("reason", ColumnType::Utf8),
            Column::required("detail", ColumnType::Utf8),
        ],
    )
}
