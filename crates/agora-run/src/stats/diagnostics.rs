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

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};

use agora_export::{Column, ColumnType, ExportError, Frame, TableBuffer, TableSpec, TextColumn};

use super::LEVEL;
use super::observe::TableReader;

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
    let mut responses = ResponseDiagnostics::new(retests);
    let mut calls = CallDiagnostics::default();
    // No outcomes: the shared reading loop feeds just the two readers.
    super::observe::for_each_outcome_with(root, &[], &mut [&mut responses, &mut calls], |_, _| {})?;
    Ok(finish(arms, responses, calls))
}

/// The diagnostics' rows from their tallies, arms in `arms` order.
pub fn finish(
    arms: &[String],
    responses: ResponseDiagnostics,
    calls: CallDiagnostics,
) -> Vec<DiagnosticRow> {
    let mut rows = responses.rows();
    rows.extend(calls.rows());
    let order = |arm: &str| arms.iter().position(|a| a == arm).unwrap_or(usize::MAX);
    rows.sort_by(|a, b| {
        (order(&a.arm), &a.arm, a.diagnostic, &a.item).cmp(&(
            order(&b.arm),
            &b.arm,
            b.diagnostic,
            &b.item,
        ))
    });
    rows
}

/// One respondent's rating answers: how many, the first, whether all equal the first.
type Ratings = (u32, f64, bool);

/// Tallies of `survey_responses` for position bias, straight-lining, test-retest and
/// the valid share per item. Keys hold the text columns' codes (arm, item); names are
/// looked up once per key at the end.
#[derive(Debug, Default)]
pub struct ResponseDiagnostics {
    retests: bool,
    /// (arm, item) -> (first shown, answered, options).
    first: HashMap<(u32, u32), (u64, u64, usize)>,
    /// (arm, item) -> (valid, all).
    status: HashMap<(u32, u32), (u64, u64)>,
    /// (arm, replicate) -> per agent its rating answers: how many, the first, all equal.
    ratings: BTreeMap<(u32, u32), Vec<Ratings>>,
    /// (arm, replicate, agent, item) -> the answer, for test-retest agreement.
    given: BTreeMap<(u32, u32, u32, u32), String>,
    arm_names: Vec<String>,
    item_names: Vec<String>,
}

/// What the response diagnostics do with a row, by its item's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowKind {
    FreeText,
    SingleChoice,
    Likert,
    Other,
}

impl RowKind {
    fn of(kind: &str) -> Self {
        match kind {
            "free_text" => RowKind::FreeText,
            "single_choice" => RowKind::SingleChoice,
            "likert" => RowKind::Likert,
            _ => RowKind::Other,
        }
    }
}

/// The counts of a run of rows of one (arm, item), added to the tallies when it ends.
#[derive(Default)]
struct ItemRun {
    key: Option<(u32, u32)>,
    valid: u64,
    all: u64,
    first_shown: u64,
    answered: u64,
    /// The options of the run's last single-choice answer with an order (none: the run
    /// has no such answer).
    options: Option<usize>,
}

impl ItemRun {
    fn flush(
        &mut self,
        status: &mut HashMap<(u32, u32), (u64, u64)>,
        first: &mut HashMap<(u32, u32), (u64, u64, usize)>,
    ) {
        let Some(key) = self.key else {
            return;
        };
        let s = status.entry(key).or_default();
        s.0 += self.valid;
        s.1 += self.all;
        if let Some(options) = self.options {
            let e = first.entry(key).or_default();
            e.0 += self.first_shown;
            e.1 += self.answered;
            e.2 = options;
        }
        *self = ItemRun::default();
    }
}

impl ResponseDiagnostics {
    /// Empty tallies; `retests`: whether the experiment has retest arms.
    pub fn new(retests: bool) -> Self {
        ResponseDiagnostics {
            retests,
            ..Default::default()
        }
    }

    fn rows(self) -> Vec<DiagnosticRow> {
        let mut rows = Vec::new();
        let arm_name = |code: u32| self.arm_names.get(code as usize).map_or("", String::as_str);
        let item_name = |code: u32| {
            self.item_names
                .get(code as usize)
                .map_or("", String::as_str)
        };
        for ((arm, item), (hits, n, options)) in &self.first {
            rows.extend(share_row(
                arm_name(*arm),
                item_name(*item),
                "position_bias",
                *hits,
                *n,
                Some(1.0 / (*options).max(1) as f64),
            ));
        }
        let mut lines: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for ((arm, _), agents) in &self.ratings {
            for (_, _, same) in agents.iter().filter(|a| a.0 >= 3) {
                let e = lines.entry(*arm).or_default();
                e.1 += 1;
                if *same {
                    e.0 += 1;
                }
            }
        }
        for (arm, (same, n)) in &lines {
            rows.extend(share_row(
                arm_name(*arm),
                "all",
                "straight_lining",
                *same,
                *n,
                None,
            ));
        }
        // Test-retest: an arm's answers against its retest arm's, person by person.
        let code_of = |name: &str| self.arm_names.iter().position(|a| a == name);
        let mut agree: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for ((arm, replicate, agent, item), answer) in &self.given {
            let Some(original) = arm_name(*arm).strip_suffix(agora_scenario::RETEST_SUFFIX) else {
                continue;
            };
            let Some(original_code) = code_of(original) else {
                continue;
            };
            let key = (original_code as u32, *replicate, *agent, *item);
            if let Some(first) = self.given.get(&key) {
                for scope in [item_name(*item), "all"] {
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
        for ((arm, item), (valid, n)) in &self.status {
            let (arm, item) = (arm_name(*arm), item_name(*item));
            rows.extend(share_row(arm, item, "valid_rate", *valid, *n, None));
            rows.extend(share_row(arm, item, "fallback_rate", n - valid, *n, None));
        }
        rows
    }
}

impl TableReader for ResponseDiagnostics {
    fn table(&self) -> &str {
        "survey_responses"
    }

    fn text_columns(&self) -> Vec<&str> {
        let mut text = vec!["item_id", "item_kind", "option_order", "status"];
        // The answers themselves are read only to compare a retest with its original.
        if self.retests {
            text.push("answer_label");
        }
        text
    }

    fn number_columns(&self) -> Vec<&str> {
        vec!["shown_position", "answer_value"]
    }

    fn add(&mut self, f: &Frame) {
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
        // Per code of the status column: whether it counts as a valid answer; per code
        // of the kind and order columns, what the rows below ask of them.
        let valid_codes: Vec<bool> = statuses
            .values()
            .iter()
            .map(|s| matches!(s.as_str(), "valid" | "repaired"))
            .collect();
        let kind_codes: Vec<RowKind> = kinds.values().iter().map(|k| RowKind::of(k)).collect();
        let option_counts: Vec<usize> = orders
            .values()
            .iter()
            .map(|o| o.split(',').count())
            .collect();
        // Rows come in long runs of one arm and item (a round's item in one file): their
        // counts are summed over the run and added to the maps once per run.
        let mut run = ItemRun::default();
        for i in 0..f.len() {
            let (Some(item), Some(kind)) = (items.code(i), kinds.code(i)) else {
                continue;
            };
            let kind = kind_codes
                .get(kind as usize)
                .copied()
                .unwrap_or(RowKind::Other);
            let arm = f.arm.code(i).unwrap_or(u32::MAX);
            let valid = statuses
                .code(i)
                .is_some_and(|c| valid_codes.get(c as usize).copied().unwrap_or(false));
            if run.key != Some((arm, item)) {
                run.flush(&mut self.status, &mut self.first);
                run.key = Some((arm, item));
            }
            run.all += 1;
            if valid {
                run.valid += 1;
            }
            if self.retests
                && valid
                && kind != RowKind::FreeText
                && let Some(agent) = f.agent[i]
            {
                let answer = labels
                    .get(i)
                    .map(str::to_string)
                    .or_else(|| values.and_then(|v| v[i]).map(|x| x.to_string()));
                if let Some(answer) = answer {
                    self.given
                        .insert((arm, f.replicate[i], agent, item), answer);
                }
            }
            if kind == RowKind::SingleChoice
                && valid
                && let (Some(order), Some(Some(shown))) = (orders.code(i), shown.map(|v| v[i]))
            {
                run.answered += 1;
                run.options = option_counts.get(order as usize).copied();
                if shown == 1.0 {
                    run.first_shown += 1;
                }
            }
            if kind == RowKind::Likert
                && valid
                && let (Some(agent), Some(Some(v))) = (f.agent[i], values.map(|v| v[i]))
            {
                let agents = self.ratings.entry((arm, f.replicate[i])).or_default();
                if agents.len() <= agent as usize {
                    agents.resize(agent as usize + 1, (0, 0.0, true));
                }
                let e = &mut agents[agent as usize];
                if e.0 == 0 {
                    e.1 = v;
                }
                e.0 += 1;
                e.2 &= v == e.1;
            }
        }
        run.flush(&mut self.status, &mut self.first);
        self.arm_names = f.arm.values().to_vec();
        self.item_names = items.values().to_vec();
    }
}

/// Tallies of `llm_calls`: per arm and task, the calls answered validly, repaired, or
/// replaced by a fallback.
#[derive(Debug, Default)]
pub struct CallDiagnostics {
    /// (arm code, task code) -> (valid, repaired, fallback, all).
    decisions: HashMap<(u32, Option<u32>), [u64; 4]>,
    arm_names: Vec<String>,
    task_names: Vec<String>,
}

impl CallDiagnostics {
    fn rows(self) -> Vec<DiagnosticRow> {
        let mut rows = Vec::new();
        for ((arm, task), [valid, repaired, fallback, n]) in &self.decisions {
            let arm = self.arm_names.get(*arm as usize).map_or("", String::as_str);
            let task = task
                .and_then(|t| self.task_names.get(t as usize))
                .map_or("", String::as_str);
            let item = format!("calls:{task}");
            rows.extend(share_row(arm, &item, "valid_rate", *valid, *n, None));
            rows.extend(share_row(arm, &item, "repaired_rate", *repaired, *n, None));
            rows.extend(share_row(arm, &item, "fallback_rate", *fallback, *n, None));
        }
        rows
    }
}

impl TableReader for CallDiagnostics {
    fn table(&self) -> &str {
        "llm_calls"
    }

    fn text_columns(&self) -> Vec<&str> {
        vec!["task", "decision"]
    }

    fn number_columns(&self) -> Vec<&str> {
        Vec::new()
    }

    fn add(&mut self, f: &Frame) {
        let empty = TextColumn::default();
        let tasks = f.text("task").unwrap_or(&empty);
        let outcomes = f.text("decision").unwrap_or(&empty);
        // Per code of the decision column: which tally it adds to.
        let slots: Vec<Option<usize>> = outcomes
            .values()
            .iter()
            .map(|d| match d.as_str() {
                "valid" => Some(0),
                "repaired" => Some(1),
                "fallback" => Some(2),
                _ => None,
            })
            .collect();
        for i in 0..f.len() {
            let arm = f.arm.code(i).unwrap_or(u32::MAX);
            let e = self.decisions.entry((arm, tasks.code(i))).or_default();
            e[3] += 1;
            if let Some(slot) = outcomes
                .code(i)
                .and_then(|c| slots.get(c as usize).copied().flatten())
            {
                e[slot] += 1;
            }
        }
        self.arm_names = f.arm.values().to_vec();
        self.task_names = tasks.values().to_vec();
    }
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
