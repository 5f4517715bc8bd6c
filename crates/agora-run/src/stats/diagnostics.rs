//! Diagnostics: signs that answers are artefacts of the method rather than opinions.
//!
//! - `position_bias`: per single-choice item whose options were shuffled, the share
//!   choosing the option shown first, against 1/k for k options (exact binomial test,
//!   Wilson interval). A model that prefers the first option shows it here whatever
//!   the options say.
//! - `straight_lining`: the share of respondents giving the same answer to every
//!   rating item (at least three), with a Wilson interval.
//! - `test_retest`: when the scenario asks `retest: true`, the share of answers an arm's
//!   people repeat when asked again with new decision seeds (arm `NAME_retest`), per
//!   item and over all items, with a Wilson interval.
//! - `valid_rate`, `repaired_rate`, `fallback_rate`: per arm and task, the share of model
//!   calls answered validly, repaired, or replaced by a fallback (from `llm_calls`), and
//!   for survey items the share of valid and fallback answers per item.
//!
//! The `diagnostics` table holds one row per arm, item and diagnostic.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use agora_export::{
    Column, ColumnType, ExportError, TableBuffer, TableSpec, TextColumn, read_table,
};

use super::LEVEL;

/// One row of the `diagnostics` table.
#[derive(Clone, Debug, PartialEq)]
pub struct DiagnosticRow {
    /// Arm.
    pub arm: String,
    /// Item or task the row is about (`all` for the whole questionnaire).
    pub item: String,
    /// Which diagnostic.
    pub diagnostic: &'static str,
    /// Observed share.
    pub estimate: f64,
    /// What an unbiased respondent would give, when known.
    pub expected: Option<f64>,
    /// Lower end of the 95% interval.
    pub ci_low: Option<f64>,
    /// Upper end of the 95% interval.
    pub ci_high: Option<f64>,
    /// Observations.
    pub n: u64,
    /// p-value against `expected`.
    pub p_value: Option<f64>,
    /// The test.
    pub test: Option<String>,
    /// How the figure was computed.
    pub method: String,
}

/// The `diagnostics` table's columns.
pub fn diagnostics_table() -> TableSpec {
    TableSpec::new(
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
    )
}

/// A share with its Wilson interval and, against `expected`, an exact binomial test.
fn share_row(
    arm: &str,
    item: &str,
    diagnostic: &'static str,
    successes: u64,
    n: u64,
    expected: Option<f64>,
) -> Option<DiagnosticRow> {
    if n == 0 {
        return None;
    }
    let interval = agora_stats::wilson_interval(successes, n, LEVEL).ok();
    let test = expected.and_then(|p| agora_stats::binomial_test(successes, n, p).ok());
    Some(DiagnosticRow {
        arm: arm.to_string(),
        item: item.to_string(),
        diagnostic,
        estimate: successes as f64 / n as f64,
        expected,
        ci_low: interval.as_ref().map(|i| i.low),
        ci_high: interval.as_ref().map(|i| i.high),
        n,
        p_value: test.as_ref().map(|t| t.p_value),
        test: test.map(|t| t.test.to_string()),
        method: format!(
            "share of {n}, Wilson {:.0}% interval{}",
            LEVEL * 100.0,
            if expected.is_some() {
                ", exact binomial test against the expected share"
            } else {
                ""
            }
        ),
    })
}

/// Every diagnostic the tables below `root` allow, arms in `arms` order.
/// `retests`: whether the experiment has retest arms.
pub fn diagnostics(
    root: &Path,
    arms: &[String],
    retests: bool,
) -> Result<Vec<DiagnosticRow>, ExportError> {
    let mut rows = Vec::new();
    let order = |arm: &str| arms.iter().position(|a| a == arm).unwrap_or(usize::MAX);
    // The answers themselves are read only to compare a retest with its original.
    let mut text_columns = vec!["item_id", "item_kind", "option_order", "status"];
    if retests {
        text_columns.push("answer_label");
    }
    if let Some(f) = read_table(
        root,
        "survey_responses",
        &text_columns,
        &["shown_position", "answer_value"],
    )? {
        let empty = TextColumn::default();
        let column = |c: &str| f.text(c).unwrap_or(&empty);
        let (items, kinds, orders, statuses) = (
            column("item_id"),
            column("item_kind"),
            column("option_order"),
            column("status"),
        );
        let labels = column("answer_label");
        let shown = f.number("shown_position");
        let values = f.number("answer_value");
        // Keys hold the codes of the text columns (arm, item); names are looked up once
        // per key at the end. (arm, item) -> (first shown, answered, options).
        let mut first: HashMap<(u32, u32), (u64, u64, usize)> = HashMap::new();
        // (arm, item) -> (valid, all).
        let mut status: HashMap<(u32, u32), (u64, u64)> = HashMap::new();
        // (arm, replicate, agent) -> rating answers: how many, the first, all equal.
        let mut ratings: HashMap<(u32, u32, u32), (u32, f64, bool)> = HashMap::new();
        // (arm, replicate, agent, item) -> the answer, for test-retest agreement.
        let mut given: BTreeMap<(String, u32, u32, String), String> = BTreeMap::new();
        for i in 0..f.len() {
            let (Some(item), Some(kind)) = (items.code(i), kinds.get(i)) else {
                continue;
            };
            let arm = f.arm.code(i).unwrap_or(u32::MAX);
            let valid = matches!(statuses.get(i), Some("valid" | "repaired"));
            let s = status.entry((arm, item)).or_default();
            s.1 += 1;
            if valid {
                s.0 += 1;
            }
            if retests
                && valid
                && kind != "free_text"
                && let Some(agent) = f.agent[i]
            {
                let answer = labels
                    .get(i)
                    .map(str::to_string)
                    .or_else(|| values.and_then(|v| v[i]).map(|x| x.to_string()));
                if let Some(answer) = answer {
                    given.insert(
                        (
                            f.arm(i).to_string(),
                            f.replicate[i],
                            agent,
                            items.get(i).unwrap_or_default().to_string(),
                        ),
                        answer,
                    );
                }
            }
            if kind == "single_choice"
                && valid
                && let (Some(order), Some(Some(shown))) = (orders.get(i), shown.map(|v| v[i]))
            {
                let e = first.entry((arm, item)).or_default();
                e.1 += 1;
                e.2 = order.split(',').count();
                if shown == 1.0 {
                    e.0 += 1;
                }
            }
            if kind == "likert"
                && valid
                && let (Some(agent), Some(Some(v))) = (f.agent[i], values.map(|v| v[i]))
            {
                let e = ratings
                    .entry((arm, f.replicate[i], agent))
                    .or_insert((0, v, true));
                e.0 += 1;
                e.2 &= v == e.1;
            }
        }
        let arm_name = |code: u32| f.arm.value(code).unwrap_or_default().to_string();
        let item_name = |code: u32| items.value(code).unwrap_or_default().to_string();
        for ((arm, item), (hits, n, options)) in &first {
            rows.extend(share_row(
                &arm_name(*arm),
                &item_name(*item),
                "position_bias",
                *hits,
                *n,
                Some(1.0 / (*options).max(1) as f64),
            ));
        }
        let mut lines: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for ((arm, _, _), (_, _, same)) in ratings.iter().filter(|(_, a)| a.0 >= 3) {
            let e = lines.entry(*arm).or_default();
            e.1 += 1;
            if *same {
                e.0 += 1;
            }
        }
        for (arm, (same, n)) in &lines {
            rows.extend(share_row(
                &arm_name(*arm),
                "all",
                "straight_lining",
                *same,
                *n,
                None,
            ));
        }
        // Test-retest: an arm's answers against its retest arm's, person by person.
        let mut agree: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for ((arm, replicate, agent, item), answer) in &given {
            let Some(original) = arm.strip_suffix(agora_scenario::RETEST_SUFFIX) else {
                continue;
            };
            let key = (original.to_string(), *replicate, *agent, item.clone());
            if let Some(first) = given.get(&key) {
                for scope in [item.as_str(), "all"] {
                    let e = agree
                        .entry((original.to_string(), scope.to_string()))
                        .or_default();
                    e.1 += 1;
                    if first == answer {
                        e.0 += 1;
                    }
                }
            }
        }
        for ((arm, item), (same, n)) in &agree {
            rows.extend(share_row(arm, item, "test_retest", *same, *n, None));
        }
        for ((arm, item), (valid, n)) in &status {
            let (arm, item) = (arm_name(*arm), item_name(*item));
            rows.extend(share_row(&arm, &item, "valid_rate", *valid, *n, None));
            rows.extend(share_row(&arm, &item, "fallback_rate", n - valid, *n, None));
        }
    }
    if let Some(f) = read_table(root, "llm_calls", &["task", "decision"], &[])? {
        let empty = TextColumn::default();
        let tasks = f.text("task").unwrap_or(&empty);
        let outcomes = f.text("decision").unwrap_or(&empty);
        // (arm code, task code) -> (valid, repaired, fallback, all).
        let mut decisions: HashMap<(u32, Option<u32>), [u64; 4]> = HashMap::new();
        for i in 0..f.len() {
            let arm = f.arm.code(i).unwrap_or(u32::MAX);
            let e = decisions.entry((arm, tasks.code(i))).or_default();
            e[3] += 1;
            match outcomes.get(i) {
                Some("valid") => e[0] += 1,
                Some("repaired") => e[1] += 1,
                Some("fallback") => e[2] += 1,
                _ => {}
            }
        }
        for ((arm, task), [valid, repaired, fallback, n]) in &decisions {
            let arm = f.arm.value(*arm).unwrap_or_default();
            let task = task.and_then(|t| tasks.value(t)).unwrap_or_default();
            let item = format!("calls:{task}");
            rows.extend(share_row(arm, &item, "valid_rate", *valid, *n, None));
            rows.extend(share_row(arm, &item, "repaired_rate", *repaired, *n, None));
            rows.extend(share_row(arm, &item, "fallback_rate", *fallback, *n, None));
        }
    }
    rows.sort_by(|a, b| {
        (order(&a.arm), &a.arm, a.diagnostic, &a.item).cmp(&(
            order(&b.arm),
            &b.arm,
            b.diagnostic,
            &b.item,
        ))
    });
    Ok(rows)
}

/// Write `rows` as the experiment's `diagnostics` table.
pub fn write_diagnostics(root: &Path, rows: &[DiagnosticRow]) -> Result<PathBuf, ExportError> {
    let mut buffer = TableBuffer::new(diagnostics_table(), rows.len().max(1));
    for r in rows {
        buffer
            .row()
            .str(&r.arm)
            .str(&r.item)
            .str(r.diagnostic)
            .f64(r.estimate)
            .opt_f64(r.expected)
            .opt_f64(r.ci_low)
            .opt_f64(r.ci_high)
            .u64(r.n)
            .opt_f64(r.p_value)
            .opt_str(r.test.as_deref())
            .str(&r.method)
            .end();
    }
    agora_export::write_experiment_table(root, &mut buffer)
}
