//! The engine's own tables: `agents`, `events`, `llm_calls`, `population_marginals`.
//!
//! Mechanisms add tables of their own with [`crate::record::keyed_table`].

use agora_export::{Column, ColumnType, ExportError, TableId, TableSpec};
use bevy_ecs::prelude::*;

use crate::components::{
    AgentId, AttrKind, AttrValue, BIG_FIVE, Demographics, Identity, PopulationSchema, Traits,
};
use crate::record::{Recorder, keyed_table};
use crate::world::Roster;

/// `events`: the canonical event log, one row per event.
pub fn events_table() -> TableSpec {
    keyed_table(
        "events",
        vec![
            Column::required("kind", ColumnType::Utf8),
            Column::optional("target_id", ColumnType::U32),
            Column::required("visibility", ColumnType::Utf8),
            Column::required("payload", ColumnType::Utf8),
        ],
    )
}

/// `llm_calls`: one row per decision call, whatever the backend.
pub fn llm_calls_table() -> TableSpec {
    keyed_table(
        "llm_calls",
        vec![
            Column::required("call_index", ColumnType::U32),
            Column::required("task", ColumnType::Utf8),
            Column::required("model", ColumnType::Utf8),
            Column::required("seed", ColumnType::U64),
            Column::required("status", ColumnType::Utf8),
            Column::optional("error", ColumnType::Utf8),
            Column::required("decision", ColumnType::Utf8),
            Column::optional("decision_reason", ColumnType::Utf8),
            Column::required("prompt_tokens", ColumnType::U32),
            Column::required("completion_tokens", ColumnType::U32),
            Column::required("cached_tokens", ColumnType::U32),
            Column::required("latency_ms", ColumnType::F64),
            Column::required("attempts", ColumnType::U32),
            Column::required("cache_hit", ColumnType::Bool),
            Column::optional("cost_usd", ColumnType::F64),
            Column::required("shared_prefix_tokens", ColumnType::U32),
            Column::optional("endpoint", ColumnType::Utf8),
        ],
    )
}

/// `transcripts`: one row per call of a run that records prompts: the messages the
/// model read (a JSON array of `{role, content}`; empty for rule-based answers), its
/// completion as written, the parsed answer, or the error. Never credentials.
pub fn transcripts_table() -> TableSpec {
    keyed_table(
        "transcripts",
        vec![
            Column::required("call_index", ColumnType::U32),
            Column::required("task", ColumnType::Utf8),
            Column::required("model", ColumnType::Utf8),
            Column::required("messages", ColumnType::Utf8),
            Column::optional("completion", ColumnType::Utf8),
            Column::optional("answer", ColumnType::Utf8),
            Column::optional("error", ColumnType::Utf8),
        ],
    )
}

/// `population_marginals`: sampled shares and moments against their targets.
pub fn marginals_table() -> TableSpec {
    keyed_table(
        "population_marginals",
        vec![
            Column::required("attribute", ColumnType::Utf8),
            Column::required("level", ColumnType::Utf8),
            Column::required("target", ColumnType::F64),
            Column::required("observed", ColumnType::F64),
        ],
    )
}

/// `agents`: one row per agent with its attributes and traits as typed columns.
pub fn agents_table(schema: &PopulationSchema) -> TableSpec {
    let mut columns = vec![
        Column::required("name", ColumnType::Utf8),
        Column::required("narrative", ColumnType::Utf8),
    ];
    for def in &schema.attributes {
        let ty = match def.kind {
            AttrKind::Numeric => ColumnType::F64,
            AttrKind::Categorical(_) | AttrKind::Text => ColumnType::Utf8,
        };
        columns.push(Column::optional(&def.name, ty));
    }
    for name in BIG_FIVE
        .iter()
        .copied()
        .map(String::from)
        .chain(schema.custom_traits.iter().cloned())
    {
        columns.push(Column::required(&name, ColumnType::F32));
    }
    keyed_table("agents", columns)
}

/// Write every agent of `world` to the `agents` table (round 0: the initial state).
pub fn write_agents(world: &World, recorder: &mut Recorder) -> Result<TableId, ExportError> {
    let schema = world
        .get_resource::<PopulationSchema>()
        .cloned()
        .unwrap_or_default();
    let roster = world.get_resource::<Roster>().cloned().unwrap_or_default();
    let table = recorder.open(agents_table(&schema))?;
    for &entity in &roster.0 {
        let (Some(id), Some(identity), Some(demo), Some(traits)) = (
            world.get::<AgentId>(entity),
            world.get::<Identity>(entity),
            world.get::<Demographics>(entity),
            world.get::<Traits>(entity),
        ) else {
            continue;
        };
        let mut row = recorder
            .row(table, 0, Some(*id))?
            .str(&identity.name)
            .str(&identity.narrative);
        for (i, def) in schema.attributes.iter().enumerate() {
            let value = demo.0.get(i).unwrap_or(&AttrValue::Missing);
            row = match (&def.kind, value) {
                (_, AttrValue::Missing) if matches!(def.kind, AttrKind::Numeric) => {
                    row.opt_f64(None)
                }
                (_, AttrValue::Missing) => row.opt_str(None),
                (AttrKind::Numeric, AttrValue::Number(x)) => row.f64(*x),
                (AttrKind::Numeric, _) => row.opt_f64(None),
                (_, v) => row.str(&schema.display_value(i, v)),
            };
        }
        for v in traits.big_five {
            row = row.f32(v);
        }
        for i in 0..schema.custom_traits.len() {
            row = row.f32(traits.custom.get(i).copied().unwrap_or(f32::NAN));
        }
        row.end();
    }
    Ok(table)
}
