//! Validation against human answers: how far each arm's simulated answers are from the
//! reference respondents', per question and segment, with bootstrap intervals.
//!
//! Metrics (as defined in METHODS: OpinionQA, Park et al. 2024):
//!
//! - ordinal questions: `wasserstein` (Wasserstein-1 between the answer distributions on
//!   1..N divided by N − 1) and `representativeness` (1 − that);
//! - categorical questions: `total_variation` and `jensen_shannon` (distance, base 2);
//! - numeric questions: `ks` (two-sample Kolmogorov–Smirnov statistic), `mean_difference`
//!   and `median_difference` (simulated − human);
//! - digital twins (agent k answers for respondent k): `exact_match`, `within_one`
//!   (ordinal), `correlation` (Pearson, ordinal and numeric) and `normalised_accuracy`
//!   (exact match / the question's test-retest agreement, when the scenario gives it).
//!
//! Distribution intervals are percentile bootstraps resampling the simulated answers
//! (pooled over replicates) and the human answers independently; twin intervals
//! resample respondent pairs. Each row names its method. Besides the scenario's arms,
//! the `baseline_logit` rows score a multinomial logit of each answer on the
//! reference's baseline columns, fitted on the even rows and scored on the odd rows
//! (its simulated answers are draws from its predicted probabilities).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agora_core::outcome::{Question, Scale};
use agora_export::{Column, ColumnType, ExportError, TableBuffer, TableSpec, scan_table};
use agora_scenario::reference::{HumanAnswer, ReferenceData};
use agora_stats::Interval;
use rand::{RngExt, SeedableRng};

/// Bootstrap resamples of every interval.
pub const RESAMPLES: usize = 1000;
/// Confidence level.
const LEVEL: f64 = 0.95;
/// The arm name of the statistical baseline's rows.
pub const BASELINE_ARM: &str = "baseline_logit";

/// One row of the `validation` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationRow {
    /// Arm (or `baseline_logit`).
    pub arm: String,
    /// Question.
    pub item: String,
    /// `all` or `attribute=level`.
    pub segment: String,
    /// Metric name.
    pub metric: &'static str,
    /// Its value.
    pub estimate: f64,
    /// Lower end of the 95% interval.
    pub ci_low: f64,
    /// Upper end of the 95% interval.
    pub ci_high: f64,
    /// Simulated answers (pairs for twin metrics).
    pub n_sim: u64,
    /// Human answers.
    pub n_human: u64,
    /// How it was computed.
    pub method: String,
}

/// The `validation` table's columns.
pub fn validation_table() -> TableSpec {
    TableSpec::new(
        "validation",
        vec![
            Column::required("arm", ColumnType::Utf8),
            Column::required("item", ColumnType::Utf8),
            Column::required("segment", ColumnType::Utf8),
            Column::required("metric", ColumnType::Utf8),
            Column::required("estimate", ColumnType::F64),
            Column::required("ci_low", ColumnType::F64),
            Column::required("ci_high", ColumnType::F64),
            Column::required("n_sim", ColumnType::U64),
            Column::required("n_human", ColumnType::U64),
            Column::required("method", ColumnType::Utf8),
        ],
    )
}

/// An answer on a question's scale as a number: the scale point, the option's
/// position (categorical), or the number.
fn code(scale: &Scale, answer: &HumanAnswer) -> Option<f64> {
    match (scale, answer) {
        (Scale::Categorical(options), HumanAnswer::Label(l)) => {
            options.iter().position(|o| o == l).map(|i| i as f64)
        }
        (_, HumanAnswer::Number(x)) => Some(*x),
        _ => None,
    }
}

/// One simulated answer: replicate, agent (for the baseline: the respondent's row), coded
/// answer.
type SimAnswer = (u32, u32, f64);

/// Simulated answers of one question: (arm, replicate, agent) -> coded answer.
type Simulated = BTreeMap<(String, u32, u32), f64>;

fn simulated(root: &Path, q: &Question) -> Result<Simulated, ExportError> {
    let categorical = matches!(q.scale, Scale::Categorical(_));
    let mut text = vec![q.id_column.as_str(), "status"];
    let mut numbers = Vec::new();
    if categorical {
        text.push(&q.answer_column);
    } else {
        numbers.push(q.answer_column.as_str());
    }
    let mut out = BTreeMap::new();
    // One segment file at a time: memory holds a file's rows, not the whole table.
    scan_table(root, &q.table, &text, &numbers, |f| {
        let (Some(ids), Some(status)) = (f.text(&q.id_column), f.text("status")) else {
            return Ok(());
        };
        for i in 0..f.len() {
            let is_item = ids.get(i) == Some(q.id.as_str());
            let answered = matches!(status.get(i), Some("valid" | "repaired"));
            let Some(agent) = f.agent[i].filter(|_| is_item && answered) else {
                continue;
            };
            let value = if categorical {
                f.text(&q.answer_column)
                    .and_then(|v| v.get(i))
                    .map(str::to_string)
                    .and_then(|l| code(&q.scale, &HumanAnswer::Label(l)))
            } else {
                f.number(&q.answer_column).and_then(|v| v[i])
            };
            if let Some(v) = value {
                out.insert((f.arm(i).to_string(), f.replicate[i], agent), v);
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// The pmf of coded answers over `k` categories (ordinal points are 1-based).
fn pmf(values: &[f64], scale: &Scale) -> agora_stats::Result<Vec<f64>> {
    let (k, offset) = match scale {
        Scale::Ordinal(n) => (usize::from(*n), 1.0),
        Scale::Categorical(o) => (o.len(), 0.0),
        Scale::Numeric => (0, 0.0),
    };
    let mut counts = vec![0.0; k];
    for v in values {
        let i = (v - offset).round();
        if i >= 0.0 && (i as usize) < k {
            counts[i as usize] += 1.0;
        }
    }
    agora_stats::pmf_from_counts(&counts)
}

/// Distribution metrics of one sample against the human one.
fn distribution_rows(
    scale: &Scale,
    sim: &[f64],
    human: &[f64],
    seed: u64,
) -> Vec<(&'static str, agora_stats::Result<Interval>)> {
    let boot = |metric: fn(&[f64], &[f64], &Scale) -> agora_stats::Result<f64>, salt: u64| {
        agora_stats::bootstrap_distance(
            sim,
            human,
            |s, h| metric(s, h, scale),
            RESAMPLES,
            seed ^ salt,
            LEVEL,
        )
    };
    match scale {
        Scale::Ordinal(_) => vec![
            (
                "wasserstein",
                boot(
                    |s, h, sc| agora_stats::ordinal_wasserstein(&pmf(s, sc)?, &pmf(h, sc)?),
                    1,
                ),
            ),
            (
                "representativeness",
                boot(
                    |s, h, sc| agora_stats::representativeness(&pmf(s, sc)?, &pmf(h, sc)?),
                    2,
                ),
            ),
        ],
        Scale::Categorical(_) => vec![
            (
                "total_variation",
                boot(
                    |s, h, sc| agora_stats::total_variation(&pmf(s, sc)?, &pmf(h, sc)?),
                    3,
                ),
            ),
            (
                "jensen_shannon",
                boot(
                    |s, h, sc| agora_stats::jensen_shannon_distance(&pmf(s, sc)?, &pmf(h, sc)?),
                    4,
                ),
            ),
        ],
        Scale::Numeric => vec![
            ("ks", boot(|s, h, _| agora_stats::ks_statistic(s, h), 5)),
            (
                "mean_difference",
                boot(|s, h, _| agora_stats::mean_difference(s, h), 6),
            ),
            (
                "median_difference",
                boot(|s, h, _| agora_stats::median_difference(s, h), 7),
            ),
        ],
    }
}

/// Person-by-person metrics of twin pairs `(simulated, human)`.
fn twin_rows(
    scale: &Scale,
    pairs: &[(f64, f64)],
    retest: Option<f64>,
    seed: u64,
) -> Vec<(&'static str, agora_stats::Result<Interval>)> {
    let sim: Vec<i64> = pairs.iter().map(|p| p.0.round() as i64).collect();
    let human: Vec<i64> = pairs.iter().map(|p| p.1.round() as i64).collect();
    let mut rows = Vec::new();
    if !matches!(scale, Scale::Numeric) {
        let exact = agora_stats::exact_match_rate(&sim, &human, RESAMPLES, seed ^ 11, LEVEL);
        if let (Some(ceiling), Ok(acc)) = (retest, &exact) {
            rows.push((
                "normalised_accuracy",
                agora_stats::normalised_accuracy(acc, ceiling),
            ));
        }
        rows.insert(0, ("exact_match", exact));
    }
    if matches!(scale, Scale::Ordinal(_)) {
        rows.push((
            "within_one",
            agora_stats::within_one_rate(&sim, &human, RESAMPLES, seed ^ 12, LEVEL),
        ));
    }
    if !matches!(scale, Scale::Categorical(_)) {
        let (x, y): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
        rows.push((
            "correlation",
            agora_stats::pearson_interval(&x, &y, RESAMPLES, seed ^ 13, LEVEL),
        ));
    }
    rows
}

/// Features of the baseline: numeric columns standardised, categorical ones as
/// indicators of every level but the first; `None` for rows missing any.
fn baseline_features(data: &ReferenceData) -> Vec<Option<Vec<f64>>> {
    let mut features: Vec<Option<Vec<f64>>> = vec![Some(Vec::new()); data.rows];
    for column in &data.spec.baseline {
        let Some(values) = data.columns.get(column) else {
            continue;
        };
        let numbers: Vec<Option<f64>> = values
            .iter()
            .map(|v| v.as_deref().and_then(|t| t.parse::<f64>().ok()))
            .collect();
        let numeric = values
            .iter()
            .zip(&numbers)
            .all(|(v, n)| v.is_none() || n.is_some());
        if numeric {
            let present: Vec<f64> = numbers.iter().flatten().copied().collect();
            let mean = agora_stats::mean(&present).unwrap_or(0.0);
            let sd = agora_stats::std_dev(&present).unwrap_or(1.0).max(1e-12);
            for (f, x) in features.iter_mut().zip(&numbers) {
                match (f.as_mut(), x) {
                    (Some(f), Some(x)) => f.push((x - mean) / sd),
                    _ => *f = None,
                }
            }
        } else {
            let mut levels: Vec<&str> = values.iter().flatten().map(String::as_str).collect();
            levels.sort_unstable();
            levels.dedup();
            for (f, v) in features.iter_mut().zip(values) {
                match (f.as_mut(), v) {
                    (Some(f), Some(v)) => {
                        f.extend(levels.iter().skip(1).map(|l| f64::from(u8::from(l == v))))
                    }
                    _ => *f = None,
                }
            }
        }
    }
    features
}

/// The baseline's simulated answers for the odd rows of one question (coded), or
/// `None` when it cannot be fitted.
fn baseline_answers(
    data: &ReferenceData,
    features: &[Option<Vec<f64>>],
    q: &Question,
    human: &[Option<f64>],
    seed: u64,
) -> Option<Vec<(usize, f64)>> {
    let (classes, offset) = match &q.scale {
        Scale::Ordinal(n) => (usize::from(*n), 1.0),
        Scale::Categorical(o) => (o.len(), 0.0),
        Scale::Numeric => return None,
    };
    let mut x = Vec::new();
    let mut y = Vec::new();
    for row in (0..data.rows).step_by(2) {
        if let (Some(f), Some(h)) = (&features[row], human[row]) {
            x.push(f.clone());
            y.push((h - offset) as usize);
        }
    }
    let model = agora_stats::regression::fit(&x, &y, classes, 1.0).ok()?;
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let mut out = Vec::new();
    for row in (1..data.rows).step_by(2) {
        if let Some(f) = &features[row] {
            let probs = model.predict_proba(f).ok()?;
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut class = classes - 1;
            for (k, p) in probs.iter().enumerate() {
                acc += p;
                if u < acc {
                    class = k;
                    break;
                }
            }
            out.push((row, class as f64 + offset));
        }
    }
    Some(out)
}

/// Compute the validation rows of the experiment below `root`.
pub fn compute(
    root: &Path,
    data: &ReferenceData,
    questions: &[Question],
    arms: &[String],
    segments: &[String],
    seed: u64,
) -> Result<Vec<ValidationRow>, ExportError> {
    let mut rows = Vec::new();
    let labels = crate::stats::segment_labels(root, segments)?;
    let features = baseline_features(data);
    for q in questions {
        let Some((_, answers)) = data.answers.get(&q.id) else {
            continue;
        };
        let human: Vec<Option<f64>> = answers
            .iter()
            .map(|a| a.as_ref().and_then(|a| code(&q.scale, a)))
            .collect();
        let sim = simulated(root, q)?;
        // Segments: `all`, and each level present in the reference's column.
        let mut segs: Vec<(String, Option<(usize, String)>)> = vec![("all".into(), None)];
        for (s, name) in segments.iter().enumerate() {
            if let Some(col) = data.columns.get(name) {
                let mut levels: Vec<&String> = col.iter().flatten().collect();
                levels.sort();
                levels.dedup();
                segs.extend(
                    levels
                        .into_iter()
                        .map(|l| (format!("{name}={l}"), Some((s, l.clone())))),
                );
            }
        }
        let mut groups: Vec<(String, Vec<SimAnswer>)> = arms
            .iter()
            .map(|arm| {
                let values = sim
                    .iter()
                    .filter(|((a, _, _), _)| a == arm)
                    .map(|((_, r, g), v)| (*r, *g, *v))
                    .collect();
                (arm.clone(), values)
            })
            .collect();
        if !data.spec.baseline.is_empty()
            && let Some(answers) = baseline_answers(data, &features, q, &human, seed ^ 0xba5e)
        {
            groups.push((
                BASELINE_ARM.to_string(),
                answers
                    .into_iter()
                    .map(|(row, v)| (0, row as u32, v))
                    .collect(),
            ));
        }
        for (arm, values) in &groups {
            let baseline = arm == BASELINE_ARM;
            for (segment, filter) in &segs {
                let human_in = |row: usize| match filter {
                    None => true,
                    Some((s, level)) => data
                        .columns
                        .get(&segments[*s])
                        .and_then(|c| c[row].as_ref())
                        .is_some_and(|v| v == level),
                };
                let sim_in = |replicate: u32, agent: u32| match filter {
                    None => true,
                    Some(_) if baseline => human_in(agent as usize),
                    Some((s, level)) => labels
                        .get(&(arm.clone(), replicate, agent))
                        .and_then(|l| l[*s].as_ref())
                        .is_some_and(|l| l == level),
                };
                let h: Vec<f64> = (0..data.rows)
                    .filter(|&r| !baseline || r % 2 == 1)
                    .filter(|&r| human_in(r))
                    .filter_map(|r| human[r])
                    .collect();
                let s: Vec<f64> = values
                    .iter()
                    .filter(|(r, g, _)| sim_in(*r, *g))
                    .map(|(_, _, v)| *v)
                    .collect();
                if h.is_empty() || s.is_empty() {
                    continue;
                }
                let row_seed = crate::stats::row_seed(seed, &[arm, &q.id, segment]);
                let mut push = |metric: &'static str,
                                result: agora_stats::Result<Interval>,
                                n_sim: usize,
                                n_human: usize| {
                    match result {
                        Ok(iv) => rows.push(ValidationRow {
                            arm: arm.clone(),
                            item: q.id.clone(),
                            segment: segment.clone(),
                            metric,
                            estimate: iv.estimate,
                            ci_low: iv.low,
                            ci_high: iv.high,
                            n_sim: n_sim as u64,
                            n_human: n_human as u64,
                            method: iv.method,
                        }),
                        Err(e) => {
                            tracing::debug!(arm, item = q.id, segment, metric, "not computed: {e}")
                        }
                    }
                };
                for (metric, result) in distribution_rows(&q.scale, &s, &h, row_seed) {
                    push(metric, result, s.len(), h.len());
                }
                if data.spec.twins || baseline {
                    // Agent k (or the baseline's draw for row k) against respondent k.
                    let pairs: Vec<(f64, f64)> = values
                        .iter()
                        .filter(|(r, g, _)| sim_in(*r, *g))
                        .filter_map(|(_, g, v)| {
                            let row = *g as usize;
                            (row < data.rows && human_in(row))
                                .then(|| human[row].map(|h| (*v, h)))
                                .flatten()
                        })
                        .collect();
                    if pairs.len() >= 2 {
                        let retest = data.spec.retest.get(&q.id).copied();
                        for (metric, result) in twin_rows(&q.scale, &pairs, retest, row_seed) {
                            push(metric, result, pairs.len(), pairs.len());
                        }
                    }
                }
            }
        }
    }
    Ok(rows)
}

/// Write `rows` as the experiment's `validation` table.
pub fn write_validation(root: &Path, rows: &[ValidationRow]) -> Result<PathBuf, ExportError> {
    let mut buffer = TableBuffer::new(validation_table(), rows.len().max(1));
    for r in rows {
        buffer
            .row()
            .str(&r.arm)
            .str(&r.item)
            .str(&r.segment)
            .str(r.metric)
            .f64(r.estimate)
            .f64(r.ci_low)
            .f64(r.ci_high)
            .u64(r.n_sim)
            .u64(r.n_human)
            .str(&r.method)
            .end();
    }
    agora_export::write_experiment_table(root, &mut buffer)
}

/// Headline lines of validation: per arm, the mean of each distance metric over the
/// questions (overall segment).
pub fn headline(rows: &[ValidationRow]) -> Vec<String> {
    let mut by: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| r.segment == "all") {
        if !order.contains(&r.arm.as_str()) {
            order.push(&r.arm);
        }
        by.entry((&r.arm, r.metric)).or_default().push(r.estimate);
    }
    order
        .iter()
        .map(|arm| {
            let parts: Vec<String> = by
                .iter()
                .filter(|((a, _), _)| a == arm)
                .map(|((_, m), v)| format!("{m} {:.3}", v.iter().sum::<f64>() / v.len() as f64))
                .collect();
            format!("{arm}: {}", parts.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_export::{OutputLayout, Partition, SinkSet};
    use agora_scenario::reference::ReferenceSpec;

    /// Four twins answer a 3-point question 1, 2, 2, 3 (status valid); the four people
    /// answered 1, 2, 3, 3, and a categorical question "x", "y", "x", "x" against the
    /// people's "x", "y", "y", "x".
    fn experiment(dir: &Path) -> Result<(), ExportError> {
        let layout = OutputLayout::new(dir);
        let spec = TableSpec::new(
            "survey_responses",
            vec![
                Column::required("round", ColumnType::U32),
                Column::optional("agent_id", ColumnType::U32),
                Column::required("item_id", ColumnType::Utf8),
                Column::optional("answer_value", ColumnType::F64),
                Column::optional("answer_label", ColumnType::Utf8),
                Column::required("status", ColumnType::Utf8),
            ],
        );
        let partition = Partition {
            arm: "a".into(),
            replicate: 0,
        };
        let mut sinks = SinkSet::new(16);
        let t = sinks.open(spec, layout.partition_dir("survey_responses", &partition))?;
        for (agent, (v, l)) in [(1.0, "x"), (2.0, "y"), (2.0, "x"), (3.0, "x")]
            .iter()
            .enumerate()
        {
            let agent = Some(agent as u32);
            sinks
                .row(t)?
                .u32(1)
                .opt_u32(agent)
                .str("lr")
                .opt_f64(Some(*v))
                .opt_str(None)
                .str("valid")
                .end();
            sinks
                .row(t)?
                .u32(1)
                .opt_u32(agent)
                .str("pick")
                .opt_f64(None)
                .opt_str(Some(l))
                .str("valid")
                .end();
        }
        sinks.seal(2)?;
        sinks.close()?;
        Ok(())
    }

    fn reference() -> ReferenceData {
        let number = |x: f64| Some(HumanAnswer::Number(x));
        let label = |l: &str| Some(HumanAnswer::Label(l.into()));
        ReferenceData {
            spec: ReferenceSpec {
                path: "people.csv".into(),
                items: BTreeMap::new(),
                twins: true,
                retest: [("lr".to_string(), 0.8)].into_iter().collect(),
                baseline: Vec::new(),
            },
            file: "people.csv".into(),
            rows: 4,
            answers: [
                (
                    "lr".to_string(),
                    (
                        "lr".to_string(),
                        vec![number(1.0), number(2.0), number(3.0), number(3.0)],
                    ),
                ),
                (
                    "pick".to_string(),
                    (
                        "pick".to_string(),
                        vec![label("x"), label("y"), label("y"), label("x")],
                    ),
                ),
            ]
            .into_iter()
            .collect(),
            columns: BTreeMap::new(),
        }
    }

    fn questions() -> Vec<Question> {
        let q = |id: &str, scale: Scale, answer: &str| Question {
            id: id.into(),
            scale,
            table: "survey_responses".into(),
            id_column: "item_id".into(),
            answer_column: answer.into(),
        };
        vec![
            q("lr", Scale::Ordinal(3), "answer_value"),
            q(
                "pick",
                Scale::Categorical(vec!["x".into(), "y".into()]),
                "answer_label",
            ),
        ]
    }

    #[test]
    fn metrics_match_hand_computed_values() -> Result<(), ExportError> {
        let dir = tempfile::tempdir().map_err(|source| ExportError::Io {
            path: "tmp".into(),
            source,
        })?;
        experiment(dir.path())?;
        let rows = compute(
            dir.path(),
            &reference(),
            &questions(),
            &["a".into()],
            &[],
            5,
        )?;
        let get = |item: &str, metric: &str| {
            rows.iter()
                .find(|r| r.item == item && r.metric == metric)
                .map(|r| r.estimate)
                .unwrap_or(f64::NAN)
        };
        // pmfs (1/4, 1/2, 1/4) and (1/4, 1/4, 1/2): CDF gaps 0 and 1/4, over N - 1 = 2.
        assert!((get("lr", "wasserstein") - 0.125).abs() < 1e-12);
        assert!((get("lr", "representativeness") - 0.875).abs() < 1e-12);
        // Twins: 3 of 4 exact, all within one; normalised by the retest agreement 0.8.
        assert_eq!(get("lr", "exact_match"), 0.75);
        assert_eq!(get("lr", "within_one"), 1.0);
        assert!((get("lr", "normalised_accuracy") - 0.75 / 0.8).abs() < 1e-12);
        // Pearson r of (1, 2, 2, 3) and (1, 2, 3, 3), by its definition.
        let r = {
            let (x, y) = ([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 3.0]);
            let (mx, my) = (2.0, 2.25);
            let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
            let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
            let syy: f64 = y.iter().map(|b| (b - my) * (b - my)).sum();
            sxy / (sxx * syy).sqrt()
        };
        assert!((get("lr", "correlation") - r).abs() < 1e-12);
        // Categorical: (3/4, 1/4) against (1/2, 1/2): total variation 1/4.
        assert!((get("pick", "total_variation") - 0.25).abs() < 1e-12);
        assert_eq!(get("pick", "exact_match"), 0.75);
        // scipy.spatial.distance.jensenshannon([.75, .25], [.5, .5], base=2)
        assert!((get("pick", "jensen_shannon") - 0.22089576884901735).abs() < 1e-12);
        for r in &rows {
            assert!(r.ci_low <= r.estimate && r.estimate <= r.ci_high, "{r:?}");
        }
        assert_eq!(
            rows,
            compute(
                dir.path(),
                &reference(),
                &questions(),
                &["a".into()],
                &[],
                5
            )?
        );
        Ok(())
    }
}
