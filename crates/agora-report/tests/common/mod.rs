//! A small synthetic experiment directory, written with agora-export the way `agora
//! run` writes one, with hostile strings in every place a user controls.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use agora_export::table::Row;
use agora_export::{
    Column, ColumnType, Constant, Manifest, RunRecord, SinkSet, TableId, TableSpec,
};

/// A string that would break the page if it reached it unescaped.
pub const HOSTILE: &str = "<script>alert(\"x\")</script>&<b>";

/// Arms of the synthetic experiment (the last one is the control).
pub const ARMS: [&str; 3] = ["ad_a", "ad_b", "control"];

fn keyed(name: &str, columns: Vec<Column>) -> TableSpec {
    let mut all = vec![
        Column::required("run_id", ColumnType::Utf8),
        Column::required("arm", ColumnType::Utf8),
        Column::required("replicate", ColumnType::I32),
        Column::required("round", ColumnType::U32),
        Column::optional("agent_id", ColumnType::U32),
    ];
    all.extend(columns);
    TableSpec::new(name, all)
}

/// Start a row of table `t` with its round and agent (the run keys are constants).
fn key(sinks: &mut SinkSet, t: TableId, round: u32, agent: Option<u32>) -> Row<'_> {
    sinks.row(t).unwrap().u32(round).opt_u32(agent)
}

fn partition(root: &Path, table: &str, arm: &str, replicate: u32) -> PathBuf {
    root.join(table)
        .join(format!("arm={arm}"))
        .join(format!("replicate={replicate}"))
}

/// What to include in the synthetic experiment.
#[derive(Clone, Copy)]
pub struct Parts {
    /// Survey answers and the agents table.
    pub survey: bool,
    /// Opinions and debate metrics.
    pub opinions: bool,
    /// Bids and auction outcomes.
    pub auction: bool,
    /// The `stats` table (with segments).
    pub stats: bool,
    /// The `diagnostics` table.
    pub diagnostics: bool,
}

impl Parts {
    /// Everything.
    pub fn all() -> Self {
        Self {
            survey: true,
            opinions: true,
            auction: true,
            stats: true,
            diagnostics: true,
        }
    }

    /// Only the manifest and the population marginals.
    pub fn minimal() -> Self {
        Self {
            survey: false,
            opinions: false,
            auction: false,
            stats: false,
            diagnostics: false,
        }
    }
}

/// Write a synthetic experiment of three arms and two replicates of six agents to `root`.
pub fn write_experiment(root: &Path, parts: Parts) {
    let replicates = 2u32;
    let agents = 6u32;

    let mut runs = Vec::new();
    for (a, arm) in ARMS.iter().enumerate() {
        for r in 0..replicates {
            let run_id = format!("run-{arm}-{r}");
            let mut sinks = SinkSet::new(1024);
            let rid = run_id.as_str();
            let constants = || {
                vec![
                    Constant::Utf8(rid.to_string()),
                    Constant::Utf8(arm.to_string()),
                    Constant::I32(r as i32),
                ]
            };
            let m = sinks
                .open_with_constants(
                    keyed(
                        "population_marginals",
                        vec![
                            Column::required("attribute", ColumnType::Utf8),
                            Column::required("level", ColumnType::Utf8),
                            Column::required("target", ColumnType::F64),
                            Column::required("observed", ColumnType::F64),
                        ],
                    ),
                    partition(root, "population_marginals", arm, r),
                    constants(),
                    0,
                )
                .unwrap();
            for (attr, level, target, observed) in [
                ("region", "urban", 0.5, 0.5 + 0.05 * r as f64),
                ("region", HOSTILE, 0.5, 0.5 - 0.05 * r as f64),
                ("age", "mean", 40.0, 41.0 + r as f64),
                ("age", "std_dev", 10.0, 9.0),
            ] {
                key(&mut sinks, m, 0, None)
                    .str(attr)
                    .str(level)
                    .f64(target)
                    .f64(observed)
                    .end();
            }
            let calls = sinks
                .open_with_constants(
                    keyed(
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
                        ],
                    ),
                    partition(root, "llm_calls", arm, r),
                    constants(),
                    0,
                )
                .unwrap();
            for i in 0..agents {
                key(&mut sinks, calls, 1, Some(i))
                    .u32(i)
                    .str("survey.answer")
                    .str("openai:fake")
                    .u64(7)
                    .str("ok")
                    .opt_str(None)
                    .str(if i == 0 { "fallback" } else { "valid" })
                    .opt_str(None)
                    .u32(120)
                    .u32(30)
                    .u32(60)
                    .f64(12.5)
                    .u32(1)
                    .bool(i % 2 == 0)
                    .opt_f64(Some(0.0001))
                    .end();
            }
            if parts.survey {
                let agents_t = sinks
                    .open_with_constants(
                        keyed(
                            "agents",
                            vec![
                                Column::required("name", ColumnType::Utf8),
                                Column::required("narrative", ColumnType::Utf8),
                                Column::optional("region", ColumnType::Utf8),
                                Column::optional("age", ColumnType::F64),
                            ],
                        ),
                        partition(root, "agents", arm, r),
                        constants(),
                        0,
                    )
                    .unwrap();
                for i in 0..agents {
                    key(&mut sinks, agents_t, 0, Some(i))
                        .str(&format!("Agent {i}"))
                        .str(HOSTILE)
                        .opt_str(Some(if i % 2 == 0 { "urban" } else { "rural" }))
                        .opt_f64(Some(30.0 + i as f64))
                        .end();
                }
                let s = sinks
                    .open_with_constants(
                        keyed(
                            "survey_responses",
                            vec![
                                Column::required("item_id", ColumnType::Utf8),
                                Column::required("item_kind", ColumnType::Utf8),
                                Column::optional("answer_value", ColumnType::F64),
                                Column::optional("answer_label", ColumnType::Utf8),
                                Column::optional("option_order", ColumnType::Utf8),
                                Column::optional("shown_position", ColumnType::U32),
                                Column::required("status", ColumnType::Utf8),
                                Column::optional("fallback_reason", ColumnType::Utf8),
                            ],
                        ),
                        partition(root, "survey_responses", arm, r),
                        constants(),
                        0,
                    )
                    .unwrap();
                let options = ["yes", HOSTILE, "no"];
                for i in 0..agents {
                    let choice = ((i as usize) + a) % 3;
                    key(&mut sinks, s, 1, Some(i))
                        .str("plan")
                        .str("single_choice")
                        .opt_f64(Some(choice as f64 + 1.0))
                        .opt_str(Some(options[choice]))
                        .opt_str(Some("[1,2,3]"))
                        .opt_u32(Some(choice as u32 + 1))
                        .str("valid")
                        .opt_str(None)
                        .end();
                    // A Likert item without labels, one abstention.
                    let (value, status) = if i == 0 {
                        (None, "fallback")
                    } else {
                        (Some(1.0 + ((i + a as u32) % 5) as f64), "valid")
                    };
                    key(&mut sinks, s, 2, Some(i))
                        .str(HOSTILE)
                        .str("likert")
                        .opt_f64(value)
                        .opt_str(None)
                        .opt_str(None)
                        .opt_u32(None)
                        .str(status)
                        .opt_str(None)
                        .end();
                    key(&mut sinks, s, 3, Some(i))
                        .str("wtp")
                        .str("numeric")
                        .opt_f64(Some(5.0 + i as f64 * 1.5 + a as f64))
                        .opt_str(None)
                        .opt_str(None)
                        .opt_u32(None)
                        .str("valid")
                        .opt_str(None)
                        .end();
                    key(&mut sinks, s, 4, Some(i))
                        .str("comment")
                        .str("free_text")
                        .opt_f64(None)
                        .opt_str(Some(HOSTILE))
                        .opt_str(None)
                        .opt_u32(None)
                        .str("valid")
                        .opt_str(None)
                        .end();
                }
            }
            if parts.opinions {
                let o = sinks
                    .open_with_constants(
                        keyed(
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
                        ),
                        partition(root, "opinions", arm, r),
                        constants(),
                        0,
                    )
                    .unwrap();
                let metrics = sinks
                    .open_with_constants(
                        keyed(
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
                        ),
                        partition(root, "debate_metrics", arm, r),
                        constants(),
                        0,
                    )
                    .unwrap();
                let events = sinks
                    .open_with_constants(
                        keyed(
                            "events",
                            vec![
                                Column::required("kind", ColumnType::Utf8),
                                Column::optional("target_id", ColumnType::U32),
                                Column::required("visibility", ColumnType::Utf8),
                                Column::required("payload", ColumnType::Utf8),
                            ],
                        ),
                        partition(root, "events", arm, r),
                        constants(),
                        0,
                    )
                    .unwrap();
                for round in 1..5u32 {
                    key(&mut sinks, events, round, Some(0))
                        .str("message")
                        .opt_u32(None)
                        .str("public")
                        .str("{\"text\":\"hello\"}")
                        .end();
                    // The treated arms get a fact-check at round 3.
                    if round == 3 && *arm != "control" {
                        let payload = serde_json::json!({
                            "action": "broadcast",
                            "id": "fact_check",
                            "reached": 3,
                            "text": HOSTILE,
                        });
                        key(&mut sinks, events, round, None)
                            .str("intervention")
                            .opt_u32(None)
                            .str("private")
                            .str(&payload.to_string())
                            .end();
                    }
                }
                for round in 0..5u32 {
                    for i in 0..agents {
                        let stance = 3.0 + 0.2 * round as f64 * a as f64 + 0.1 * i as f64;
                        key(&mut sinks, o, round, Some(i))
                            .str("debate")
                            .opt_str(None)
                            .f64(stance)
                            .f64(0.5)
                            .opt_f64(None)
                            .str("valid")
                            .opt_str(None)
                            .opt_str(Some(HOSTILE))
                            .end();
                    }
                    if round > 0 {
                        key(&mut sinks, metrics, round, None)
                            .str("debate")
                            .u32(agents)
                            .u32(agents)
                            .f64(3.5)
                            .f64(0.4)
                            .f64(0.3 - 0.02 * round as f64 * a as f64)
                            .f64(0.1)
                            .f64(0.05)
                            .opt_f64(None)
                            .opt_f64(None)
                            .opt_f64(None)
                            .opt_f64(None)
                            .opt_str(None)
                            .end();
                    }
                }
            }
            if parts.auction {
                let b = sinks
                    .open_with_constants(
                        keyed(
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
                        ),
                        partition(root, "bids", arm, r),
                        constants(),
                        0,
                    )
                    .unwrap();
                for i in 0..agents {
                    let value = 100.0 * (i + 1) as f64;
                    key(&mut sinks, b, 1, Some(i))
                        .str("lot-1")
                        .str("first_price")
                        .u32(1)
                        .opt_f64(None)
                        .str(if i == 0 { "no_bid" } else { "bid" })
                        .opt_f64(if i == 0 { None } else { Some(value * 0.8) })
                        .f64(value)
                        .f64(value)
                        .opt_f64(None)
                        .str("valid")
                        .opt_str(None)
                        .opt_str(Some(HOSTILE))
                        .end();
                }
                let out = sinks
                    .open_with_constants(
                        keyed(
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
                        ),
                        partition(root, "auction_outcomes", arm, r),
                        constants(),
                        0,
                    )
                    .unwrap();
                key(&mut sinks, out, 1, None)
                    .str("lot-1")
                    .str("first_price")
                    .str("sold")
                    .u32(agents)
                    .opt_u32(Some(5))
                    .opt_f64(Some(480.0))
                    .f64(0.0)
                    .f64(480.0)
                    .f64(600.0)
                    .opt_f64(Some(500.0))
                    .opt_f64(Some(600.0))
                    .opt_f64(Some(120.0))
                    .opt_f64(Some(1.0))
                    .u32(1)
                    .opt_str(None)
                    .end();
            }
            let summaries = sinks.close().unwrap();
            runs.push(RunRecord {
                run_id: run_id.clone(),
                arm: arm.to_string(),
                replicate: r,
                seed: 1000 + r as u64,
                model: if *arm == "control" {
                    "rules".to_string()
                } else {
                    "openai:fake".to_string()
                },
                agents: agents as u64,
                rounds: 4,
                stop_reason: "questionnaire_complete".to_string(),
                decisions: agents as u64,
                fallbacks: 1,
                repaired: 0,
                errors: 0,
                cache_hits: 3,
                cost_usd: 0.0006,
                prompt_tokens: 720,
                completion_tokens: 180,
                prompt_estimate_tokens: 700,
                shared_prefix_tokens: 350,
                tables: summaries.iter().map(|s| (s.name.clone(), s.rows)).collect(),
            });
        }
    }
    if parts.stats {
        write_stats(root);
    }
    if parts.diagnostics {
        write_diagnostics(root);
    }
    let manifest = Manifest {
        scenario: format!("Concept test {HOSTILE}"),
        scenario_path: "scenarios/concept-test.ron".to_string(),
        scenario_hash: "0".repeat(64),
        settings_hash: "1".repeat(64),
        seed: 42,
        mechanism: "survey".to_string(),
        versions: [("agora".to_string(), "0.1.0".to_string())].into(),
        status: "complete".to_string(),
        reason: None,
        pid: None,
        branched_from: None,
        shard: None,
        runs,
    };
    manifest.write(&root.join("manifest.json")).unwrap();
    // A description and per-arm settings, as a manifest may carry them.
    let path = root.join("manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["description"] = serde_json::Value::String(format!("Which ad works? {HOSTILE}"));
    json["arms"] = serde_json::json!([{ "name": "ad_a", "stimuli": { "ad": HOSTILE } }]);
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
}

/// The `stats` table's columns.
pub fn stats_spec() -> TableSpec {
    TableSpec::new(
        "stats",
        vec![
            Column::required("arm", ColumnType::Utf8),
            Column::required("outcome", ColumnType::Utf8),
            Column::required("segment", ColumnType::Utf8),
            Column::required("kind", ColumnType::Utf8),
            Column::optional("control", ColumnType::Utf8),
            Column::required("unit", ColumnType::Utf8),
            Column::required("estimate", ColumnType::F64),
            Column::required("ci_low", ColumnType::F64),
            Column::required("ci_high", ColumnType::F64),
            Column::required("n", ColumnType::U64),
            Column::required("replicates", ColumnType::U32),
            Column::required("method", ColumnType::Utf8),
            Column::optional("p_value", ColumnType::F64),
            Column::optional("test", ColumnType::Utf8),
            Column::optional("effect_size", ColumnType::F64),
            Column::optional("effect_measure", ColumnType::Utf8),
        ],
    )
}

/// Write `DIR/stats/part-00000.parquet`: levels for every arm, differences from the
/// control, overall and by region.
pub fn write_stats(root: &Path) {
    let mut sinks = SinkSet::new(1024);
    let t = sinks.open(stats_spec(), root.join("stats")).unwrap();
    let outcomes = ["plan=yes", "wtp", HOSTILE];
    for outcome in outcomes {
        for segment in ["all", "region=urban", "region=rural"] {
            for (a, arm) in ARMS.iter().enumerate() {
                let est = 0.3 + 0.1 * a as f64;
                sinks
                    .row(t)
                    .unwrap()
                    .str(arm)
                    .str(outcome)
                    .str(segment)
                    .str("level")
                    .opt_str(None)
                    .str("agent")
                    .f64(est)
                    .f64(est - 0.05)
                    .f64(est + 0.05)
                    .u64(12)
                    .u32(2)
                    .str("percentile bootstrap over replicates (2000 resamples)")
                    .opt_f64(None)
                    .opt_str(None)
                    .opt_f64(None)
                    .opt_str(None)
                    .end();
                if *arm != "control" {
                    let diff = est - 0.5;
                    sinks
                        .row(t)
                        .unwrap()
                        .str(arm)
                        .str(outcome)
                        .str(segment)
                        .str("difference")
                        .opt_str(Some("control"))
                        .str("agent")
                        .f64(diff)
                        .f64(diff - 0.04)
                        .f64(diff + 0.04)
                        .u64(24)
                        .u32(2)
                        .str("paired percentile bootstrap over replicates")
                        .opt_f64(Some(if a == 0 { 0.0004 } else { 0.2 }))
                        .opt_str(Some("paired permutation"))
                        .opt_f64(Some(diff * 2.0))
                        .opt_str(Some("cohen_dz"))
                        .end();
                }
            }
        }
    }
    sinks.close().unwrap();
}

/// Write `DIR/diagnostics/part-00000.parquet`.
pub fn write_diagnostics(root: &Path) {
    let spec = TableSpec::new(
        "diagnostics",
        vec![
            Column::required("arm", ColumnType::Utf8),
            Column::required("item", ColumnType::Utf8),
            Column::required("diagnostic", ColumnType::Utf8),
            Column::required("estimate", ColumnType::F64),
            Column::optional("expected", ColumnType::F64),
            Column::optional("ci_low", ColumnType::F64),
            Column::optional("ci_high", ColumnType::F64),
            Column::required("n", ColumnType::U64),
            Column::optional("p_value", ColumnType::F64),
            Column::optional("test", ColumnType::Utf8),
            Column::required("method", ColumnType::Utf8),
        ],
    );
    let mut sinks = SinkSet::new(1024);
    let t = sinks.open(spec, root.join("diagnostics")).unwrap();
    for arm in ARMS {
        sinks
            .row(t)
            .unwrap()
            .str(arm)
            .str("plan")
            .str("position_bias")
            .f64(0.4)
            .opt_f64(Some(0.2))
            .opt_f64(Some(0.27))
            .opt_f64(Some(0.54))
            .u64(40)
            .opt_f64(Some(0.004))
            .opt_str(Some("exact binomial"))
            .str("share choosing the first shown option")
            .end();
        sinks
            .row(t)
            .unwrap()
            .str(arm)
            .str(HOSTILE)
            .str("fallback_rate")
            .f64(0.1)
            .opt_f64(None)
            .opt_f64(None)
            .opt_f64(None)
            .u64(12)
            .opt_f64(None)
            .opt_str(None)
            .str("share of answers")
            .end();
    }
    sinks.close().unwrap();
}
