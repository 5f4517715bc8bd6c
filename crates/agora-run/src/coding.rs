//! Open-answer coding of a complete experiment: the scenario's `coding:` block applied
//! to the free-text answers in its tables.
//!
//! For every coded source the answers are read back from the mechanism's table (the
//! columns its [`TextSource`] names, over every run, in a fixed order). The codebook is
//! the scenario's, or derived from a random sample of the answers (drawn from the
//! experiment's seed): by the coder model, or, on the rule-based backend, from the
//! words most sampled answers share. Every answer is then coded: by the model (the
//! list of codes that apply, as structured output through the gateway: cache, limits,
//! retries, budget), or by keywords. Written:
//!
//! - `coded_answers` (partitioned by arm and replicate like the runs' tables): one row
//!   per answer and code, `applies` 1 or 0 (null when the coder failed);
//! - `codebooks`: the codes of every source and where they came from;
//! - `theme_shares`: per source, code, arm and segment, the share with its interval
//!   ([`agora_coding::shares`]);
//! - `coding_calls`: one row per model call, with its tokens, cost and cache status.
//!
//! The `stats` table then compares the arms' theme shares (outcomes `SOURCE:CODE`)
//! like every other outcome.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agora_coding::derive::{frequent_words, sample_indices};
use agora_coding::prompt::{code_request, derive_request, parse_codebook, parse_codes};
use agora_coding::shares::{CodedAnswer, mix, theme_shares};
use agora_coding::{Codebook, CodebookSource, CodingSpec, KeywordCoder};
use agora_core::outcome::TextSource;
use agora_core::outcome::{Combine, OutcomeName, OutcomeSource, OutcomeUnit, OutcomeValue};
use agora_core::record::keyed_table;
use agora_export::{
    Column, ColumnType, Constant, ExportError, OutputLayout, Partition, SinkSet, TableBuffer,
    TableSpec, scan_table, write_experiment_table,
};
use agora_llm::{ChatModel, ChatRequest, ChatResponse, LlmError, SamplingParams};
use futures::StreamExt;

/// The coder of an experiment: a language model, or keywords.
#[derive(Clone)]
pub enum Coder {
    /// Codes by keywords; codebooks are derived from frequent words.
    Keywords,
    /// A language model behind the gateway.
    Model(Arc<dyn ChatModel>),
}

impl Coder {
    /// The name recorded in `coded_answers.coder`.
    pub fn name(&self) -> &str {
        match self {
            Coder::Keywords => "keywords",
            Coder::Model(m) => m.name(),
        }
    }
}

/// Sampling of coding calls: greedy, as coders should be.
fn coding_params(max_tokens: u32) -> SamplingParams {
    SamplingParams {
        temperature: 0.0,
        top_p: 1.0,
        max_tokens,
    }
}

/// What the coding of an experiment did.
#[derive(Clone, Debug, Default)]
pub struct CodingReport {
    /// A few lines for the run summary.
    pub lines: Vec<String>,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Model calls made (cache hits included).
    pub calls: u64,
    /// Their prompt tokens.
    pub prompt_tokens: u64,
    /// Their completion tokens.
    pub completion_tokens: u64,
    /// Their cost in US dollars, where priced.
    pub cost_usd: f64,
    /// Answers coded, over every source.
    pub answers: u64,
    /// Answers the coder failed on.
    pub failed: u64,
}

/// One free-text answer read back from a table.
#[derive(Clone, Debug)]
struct Answer {
    run_id: String,
    arm: String,
    replicate: u32,
    round: u32,
    agent: u32,
    text: String,
}

/// The answers of `source` below `root`, in the tables' order.
fn read_answers(root: &Path, source: &TextSource) -> Result<Vec<Answer>, ExportError> {
    let mut text: Vec<&str> = vec!["run_id", source.column.as_str()];
    text.extend(source.only.iter().map(|(c, _)| c.as_str()));
    text.sort();
    text.dedup();
    let mut answers = Vec::new();
    // One segment file at a time: memory holds a file's rows, not the whole table.
    scan_table(root, &source.table, &text, &[], |frame| {
        for i in 0..frame.len() {
            let kept = source.only.iter().all(|(column, allowed)| {
                frame
                    .text(column)
                    .and_then(|v| v.get(i))
                    .is_some_and(|v| allowed.iter().any(|a| a == v))
            });
            let Some(agent) = frame.agent[i] else {
                continue;
            };
            let Some(body) = frame
                .text(&source.column)
                .and_then(|v| v.get(i))
                .filter(|t| !t.trim().is_empty())
            else {
                continue;
            };
            if !kept {
                continue;
            }
            answers.push(Answer {
                run_id: frame
                    .text("run_id")
                    .and_then(|v| v.get(i))
                    .unwrap_or_default()
                    .to_string(),
                arm: frame.arm(i).to_string(),
                replicate: frame.replicate[i],
                round: frame.round[i],
                agent,
                text: body.to_string(),
            });
        }
        Ok(())
    })?;
    Ok(answers)
}

/// One model call of the coding, for `coding_calls`.
#[derive(Clone, Debug)]
struct CallRow {
    source: String,
    task: &'static str,
    answer: Option<(String, String, u32, u32)>,
    status: &'static str,
    error: Option<String>,
    prompt_tokens: u32,
    completion_tokens: u32,
    attempts: u32,
    cache_hit: bool,
    cost_usd: Option<f64>,
}

impl CallRow {
    fn of(
        source: &str,
        request: &ChatRequest,
        answer: Option<(String, String, u32, u32)>,
        result: &Result<ChatResponse, LlmError>,
    ) -> Self {
        match result {
            Ok(r) => Self {
                source: source.into(),
                task: request.task,
                answer,
                status: "ok",
                error: None,
                prompt_tokens: r.usage.prompt_tokens,
                completion_tokens: r.usage.completion_tokens,
                attempts: r.meta.attempts,
                cache_hit: r.meta.cache_hit,
                cost_usd: r.meta.cost_usd,
            },
            Err(e) => Self {
                source: source.into(),
                task: request.task,
                answer,
                status: "error",
                error: Some(e.to_string()),
                prompt_tokens: e.usage().prompt_tokens,
                completion_tokens: e.usage().completion_tokens,
                attempts: e.attempts(),
                cache_hit: e.meta().is_some_and(|m| m.cache_hit),
                cost_usd: e.meta().and_then(|m| m.cost_usd),
            },
        }
    }
}

/// Where a codebook came from, for the `codebooks` table.
struct BookOrigin {
    origin: String,
    sample: Option<u32>,
}

/// The outcomes the `stats` table reads from `coded_answers`: each theme's share per
/// agent, named `SOURCE:CODE`.
pub fn outcome_sources() -> Vec<OutcomeSource> {
    vec![
        OutcomeSource {
            table: "coded_answers".into(),
            name: OutcomeName::Column("theme".into()),
            value: OutcomeValue::Number("applies".into()),
            unit: OutcomeUnit::Agent,
            combine: Combine::Mean,
            only: Vec::new(),
        }
        .only("status", &["valid"]),
    ]
}

/// `coded_answers`: one row per answer and code.
pub fn coded_answers_table() -> TableSpec {
    keyed_table(
        "coded_answers",
        vec![
            Column::required("source", ColumnType::Utf8),
            Column::required("answer", ColumnType::U32),
            Column::required("theme", ColumnType::Utf8),
            Column::required("code", ColumnType::Utf8),
            Column::required("label", ColumnType::Utf8),
            Column::optional("applies", ColumnType::U32),
            Column::required("coder", ColumnType::Utf8),
            Column::required("status", ColumnType::Utf8),
            Column::optional("fallback_reason", ColumnType::Utf8),
        ],
    )
}

/// `codebooks`: the codes of every coded source.
pub fn codebooks_table() -> TableSpec {
    TableSpec::new(
        "codebooks",
        vec![
            Column::required("source", ColumnType::Utf8),
            Column::required("code", ColumnType::Utf8),
            Column::required("label", ColumnType::Utf8),
            Column::required("description", ColumnType::Utf8),
            Column::required("keywords", ColumnType::Utf8),
            Column::required("origin", ColumnType::Utf8),
            Column::optional("sample", ColumnType::U32),
        ],
    )
}

/// `theme_shares`: per source, code, arm and segment.
pub fn theme_shares_table() -> TableSpec {
    TableSpec::new(
        "theme_shares",
        vec![
            Column::required("source", ColumnType::Utf8),
            Column::required("theme", ColumnType::Utf8),
            Column::required("code", ColumnType::Utf8),
            Column::required("label", ColumnType::Utf8),
            Column::required("arm", ColumnType::Utf8),
            Column::required("segment", ColumnType::Utf8),
            Column::required("share", ColumnType::F64),
            Column::optional("ci_low", ColumnType::F64),
            Column::optional("ci_high", ColumnType::F64),
            Column::required("agents", ColumnType::U64),
            Column::required("answers", ColumnType::U64),
            Column::required("replicates", ColumnType::U32),
            Column::required("method", ColumnType::Utf8),
        ],
    )
}

/// `coding_calls`: one row per model call of the coding.
pub fn coding_calls_table() -> TableSpec {
    TableSpec::new(
        "coding_calls",
        vec![
            Column::required("source", ColumnType::Utf8),
            Column::required("task", ColumnType::Utf8),
            Column::optional("run_id", ColumnType::Utf8),
            Column::optional("arm", ColumnType::Utf8),
            Column::optional("replicate", ColumnType::U32),
            Column::optional("agent_id", ColumnType::U32),
            Column::required("model", ColumnType::Utf8),
            Column::required("status", ColumnType::Utf8),
            Column::optional("error", ColumnType::Utf8),
            Column::required("prompt_tokens", ColumnType::U32),
            Column::required("completion_tokens", ColumnType::U32),
            Column::required("attempts", ColumnType::U32),
            Column::required("cache_hit", ColumnType::Bool),
            Column::optional("cost_usd", ColumnType::F64),
        ],
    )
}

/// Why the coding of an experiment could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CodingRunError {
    /// Reading the answers or writing a table failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The scenario names a source no arm's mechanism records.
    #[error("coding: {0}")]
    Source(String),
}

/// Code the experiment below `root` as `spec` says, with `coder`; `texts` are the free
/// texts the mechanism records, `arms` the arms in scenario order, `segments` the
/// scenario's segment attributes, `seed` the experiment's seed, `concurrency` the
/// most coding calls in flight.
#[allow(clippy::too_many_arguments)]
pub async fn code_experiment(
    root: &Path,
    spec: &CodingSpec,
    texts: &[TextSource],
    coder: &Coder,
    arms: &[String],
    segments: &[String],
    seed: u64,
    concurrency: usize,
) -> Result<CodingReport, CodingRunError> {
    let labels = crate::stats::segment_labels(root, segments)?;
    let mut report = CodingReport::default();
    let mut calls: Vec<CallRow> = Vec::new();
    let mut books = TableBuffer::new(codebooks_table(), 64);
    let mut shares = TableBuffer::new(theme_shares_table(), 256);
    // (arm, replicate) -> (run id, rows: (round, agent, source, answer, codes or error)).
    type Coded = (u32, u32, usize, u32, Result<Vec<usize>, String>);
    let mut by_partition: BTreeMap<(String, u32), (String, Vec<Coded>)> = BTreeMap::new();
    // The codebook of each source, in spec order (`None`: not coded).
    let mut codebooks: Vec<Option<Codebook>> = Vec::new();
    for (s, source) in spec.sources.iter().enumerate() {
        let text = texts
            .iter()
            .find(|t| t.id == source.source)
            .ok_or_else(|| {
                CodingRunError::Source(format!(
                    "no free-text source \"{}\" in this mechanism",
                    source.source
                ))
            })?;
        let answers = read_answers(root, text)?;
        let about = text.description.clone();
        if answers.is_empty() {
            report.lines.push(format!(
                "{}: no answers to code (no valid {} in the tables)",
                source.source, text.description
            ));
            codebooks.push(None);
            continue;
        }
        let source_seed = mix(seed, &["coding", &source.source]);
        // The codebook.
        let (book, origin) = match &source.codebook {
            CodebookSource::Given(book) => (
                book.clone(),
                BookOrigin {
                    origin: "scenario".into(),
                    sample: None,
                },
            ),
            CodebookSource::Derive(d) => {
                let picked = sample_indices(answers.len(), d.sample as usize, source_seed);
                let sample: Vec<&str> = picked.iter().map(|&i| answers[i].text.as_str()).collect();
                let derived = match coder {
                    Coder::Keywords => frequent_words(&sample, d.codes as usize)
                        .map(|b| (b, "derived from frequent words".to_string()))
                        .map_err(|e| e.to_string()),
                    Coder::Model(model) => {
                        let request = derive_request(
                            &sample,
                            &about,
                            d.codes,
                            coding_params(1500),
                            source_seed,
                        );
                        let result = model.complete(&request).await;
                        calls.push(CallRow::of(&source.source, &request, None, &result));
                        match result {
                            Ok(r) => parse_codebook(&r.answer, d.codes)
                                .map(|b| (b, format!("derived by {}", model.name())))
                                .map_err(|e| e.to_string()),
                            Err(e) => Err(format!("the coder could not derive a codebook: {e}")),
                        }
                    }
                };
                match derived {
                    Ok((book, origin)) => (
                        book,
                        BookOrigin {
                            origin,
                            sample: Some(sample.len() as u32),
                        },
                    ),
                    Err(why) => {
                        report.lines.push(format!(
                            "{}: not coded ({} answers): {why}",
                            source.source,
                            answers.len()
                        ));
                        codebooks.push(None);
                        continue;
                    }
                }
            }
        };
        for c in book.codes() {
            books
                .row()
                .str(&source.source)
                .str(&c.id)
                .str(c.name())
                .str(&c.description)
                .str(&c.keywords.join("; "))
                .str(&origin.origin)
                .opt_u32(origin.sample)
                .end();
        }
        // Code every answer, in order.
        let coded: Vec<Result<Vec<usize>, String>> = match coder {
            Coder::Keywords => {
                let keywords = KeywordCoder::new(&book);
                answers.iter().map(|a| Ok(keywords.code(&a.text))).collect()
            }
            Coder::Model(model) => {
                let requests: Vec<ChatRequest> = answers
                    .iter()
                    .enumerate()
                    .map(|(k, a)| {
                        let seed = mix(
                            source_seed,
                            &[
                                &a.arm,
                                &a.replicate.to_string(),
                                &a.agent.to_string(),
                                &a.round.to_string(),
                                &k.to_string(),
                            ],
                        );
                        code_request(&book, &about, &a.text, coding_params(200), seed)
                    })
                    .collect();
                let results: Vec<Result<ChatResponse, LlmError>> =
                    futures::stream::iter(requests.iter().map(|r| model.complete(r)))
                        .buffered(concurrency.max(1))
                        .collect()
                        .await;
                let mut coded = Vec::with_capacity(results.len());
                for ((request, result), a) in requests.iter().zip(results).zip(&answers) {
                    calls.push(CallRow::of(
                        &source.source,
                        request,
                        Some((a.run_id.clone(), a.arm.clone(), a.replicate, a.agent)),
                        &result,
                    ));
                    coded.push(match result {
                        Ok(r) => parse_codes(&r.answer, &book).map_err(|e| e.to_string()),
                        Err(e) => Err(format!("no answer: {e}")),
                    });
                }
                coded
            }
        };
        let failed = coded.iter().filter(|c| c.is_err()).count();
        report.answers += answers.len() as u64;
        report.failed += failed as u64;
        // Theme shares over the answers coded.
        let for_shares: Vec<CodedAnswer> = answers
            .iter()
            .zip(&coded)
            .filter_map(|(a, c)| {
                c.as_ref().ok().map(|codes| CodedAnswer {
                    arm: a.arm.clone(),
                    replicate: a.replicate,
                    agent: a.agent,
                    codes: codes.clone(),
                })
            })
            .collect();
        let rows = theme_shares(
            &for_shares,
            book.len(),
            arms,
            segments,
            &labels,
            source_seed,
        )
        .map_err(|e| CodingRunError::Source(e.to_string()))?;
        for r in &rows {
            let code = &book.codes()[r.code];
            shares
                .row()
                .str(&source.source)
                .str(&format!("{}:{}", source.source, code.id))
                .str(&code.id)
                .str(code.name())
                .str(&r.arm)
                .str(&r.segment)
                .f64(r.share)
                .opt_f64(r.ci_low)
                .opt_f64(r.ci_high)
                .u64(r.agents)
                .u64(r.answers)
                .u32(r.replicates)
                .str(&r.method)
                .end();
        }
        report.lines.push(summary_line(
            &source.source,
            &book,
            &rows,
            answers.len(),
            failed,
            arms,
        ));
        // Rows of `coded_answers`, numbered per run.
        let mut numbers: BTreeMap<(String, u32), u32> = BTreeMap::new();
        for (a, c) in answers.iter().zip(coded) {
            let key = (a.arm.clone(), a.replicate);
            let n = numbers.entry(key.clone()).or_default();
            let entry = by_partition
                .entry(key)
                .or_insert_with(|| (a.run_id.clone(), Vec::new()));
            entry.1.push((a.round, a.agent, s, *n, c));
            *n += 1;
        }
        codebooks.push(Some(book));
    }
    // Write `coded_answers` partitioned like the runs' tables.
    if !by_partition.is_empty() {
        let layout = OutputLayout::new(root);
        let mut sinks = SinkSet::new(8192);
        let spec_table = coded_answers_table();
        for ((arm, replicate), (run_id, rows)) in &by_partition {
            let partition = Partition {
                arm: arm.clone(),
                replicate: *replicate,
            };
            remove_old(&layout.partition_dir("coded_answers", &partition))?;
            let id = sinks.open_with_constants(
                spec_table.clone(),
                layout.partition_dir("coded_answers", &partition),
                vec![
                    Constant::Utf8(run_id.clone()),
                    Constant::Utf8(arm.clone()),
                    Constant::I32(i32::try_from(*replicate).unwrap_or(i32::MAX)),
                ],
                0,
            )?;
            for (round, agent, s, n, codes) in rows {
                let source = &spec.sources[*s].source;
                let Some(book) = &codebooks[*s] else {
                    continue;
                };
                for (k, code) in book.codes().iter().enumerate() {
                    let (applies, status, reason) = match codes {
                        Ok(found) => (Some(u32::from(found.contains(&k))), "valid", None),
                        Err(why) => (None, "fallback", Some(why.as_str())),
                    };
                    sinks
                        .row(id)?
                        .u32(*round)
                        .opt_u32(Some(*agent))
                        .str(source)
                        .u32(*n)
                        .str(&format!("{source}:{}", code.id))
                        .str(&code.id)
                        .str(code.name())
                        .opt_u32(applies)
                        .str(coder.name())
                        .str(status)
                        .opt_str(reason)
                        .end();
                }
            }
        }
        sinks.seal(1)?;
        sinks.close()?;
        report.files.push(root.join("coded_answers"));
    }
    report.files.push(write_experiment_table(root, &mut books)?);
    report
        .files
        .push(write_experiment_table(root, &mut shares)?);
    let mut call_table = TableBuffer::new(coding_calls_table(), calls.len().max(1));
    for c in &calls {
        let (run_id, arm, replicate, agent) = match &c.answer {
            Some((run, arm, replicate, agent)) => (
                Some(run.as_str()),
                Some(arm.as_str()),
                Some(*replicate),
                Some(*agent),
            ),
            None => (None, None, None, None),
        };
        call_table
            .row()
            .str(&c.source)
            .str(c.task)
            .opt_str(run_id)
            .opt_str(arm)
            .opt_u32(replicate)
            .opt_u32(agent)
            .str(coder.name())
            .str(c.status)
            .opt_str(c.error.as_deref())
            .u32(c.prompt_tokens)
            .u32(c.completion_tokens)
            .u32(c.attempts)
            .bool(c.cache_hit)
            .opt_f64(c.cost_usd)
            .end();
        report.calls += 1;
        report.prompt_tokens += u64::from(c.prompt_tokens);
        report.completion_tokens += u64::from(c.completion_tokens);
        report.cost_usd += c.cost_usd.unwrap_or(0.0);
    }
    report
        .files
        .push(write_experiment_table(root, &mut call_table)?);
    if report.calls > 0 {
        report.lines.push(format!(
            "coding calls: {} ({} failed); tokens {} prompt + {} completion; cost ${:.4}",
            report.calls,
            calls.iter().filter(|c| c.status == "error").count(),
            report.prompt_tokens,
            report.completion_tokens,
            report.cost_usd
        ));
    }
    Ok(report)
}

/// Segment files of an earlier coding in `dir`, removed so a new coding replaces it.
fn remove_old(dir: &Path) -> Result<(), ExportError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if agora_export::segment_of(&name).is_some() {
            std::fs::remove_file(&path).map_err(|source| ExportError::Io {
                path: path.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

/// `why: 412 answers, 5 codes; base: price 31% [27%, 35%], ...` (the top three themes
/// of each arm over everyone).
fn summary_line(
    source: &str,
    book: &Codebook,
    rows: &[agora_coding::shares::ThemeShare],
    answers: usize,
    failed: usize,
    arms: &[String],
) -> String {
    let mut parts = Vec::new();
    for arm in arms {
        let mut top: Vec<&agora_coding::shares::ThemeShare> = rows
            .iter()
            .filter(|r| &r.arm == arm && r.segment == "all")
            .collect();
        if top.is_empty() {
            continue;
        }
        top.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.code.cmp(&b.code)));
        let themes: Vec<String> = top
            .iter()
            .take(3)
            .map(|r| {
                let ci = match (r.ci_low, r.ci_high) {
                    (Some(l), Some(h)) => format!(" [{:.0}%, {:.0}%]", l * 100.0, h * 100.0),
                    _ => String::new(),
                };
                format!("{} {:.0}%{ci}", book.codes()[r.code].id, r.share * 100.0)
            })
            .collect();
        parts.push(format!("{arm}: {}", themes.join(", ")));
    }
    let failed = if failed > 0 {
        format!(", {failed} not coded")
    } else {
        String::new()
    };
    format!(
        "{source}: {answers} answers, {} codes{failed}; {}",
        book.len(),
        parts.join("; ")
    )
}

/// The coder of `scenario`'s experiment `plan`: the `coding:` block's model, else the
/// control arm's model (as run, after the command line's `--model`).
pub fn coder_spec(
    scenario: &agora_scenario::Scenario,
    plan: &agora_scenario::ExperimentPlan,
) -> agora_llm::ModelSpec {
    let control = &scenario.file.control_arm().name.0;
    scenario
        .file
        .coding
        .as_ref()
        .and_then(|c| c.model.clone())
        .or_else(|| {
            plan.runs
                .iter()
                .find(|r| &r.arm == control)
                .and_then(|r| r.model.clone())
        })
        .unwrap_or_else(crate::backends::default_model)
}

/// Code the complete experiment `plan` of `scenario` (when it has a `coding:` block)
/// with the coder [`coder_spec`] names, built by `backends` (the experiment's gateway:
/// cache, limits, budget). A failure is reported in the lines, not raised: the runs'
/// tables stand.
pub async fn code_plan(
    scenario: &agora_scenario::Scenario,
    plan: &agora_scenario::ExperimentPlan,
    backends: &mut crate::Backends,
) -> Option<CodingReport> {
    let spec = scenario.file.coding.as_ref()?;
    let model = coder_spec(scenario, plan);
    let coder = match &model {
        agora_llm::ModelSpec::Rules => Coder::Keywords,
        other => match backends.build(other, &scenario.file.mechanism) {
            Ok(m) => Coder::Model(m),
            Err(e) => {
                return Some(CodingReport {
                    lines: vec![format!("answers not coded: {e}")],
                    ..Default::default()
                });
            }
        },
    };
    let mut texts: Vec<TextSource> = Vec::new();
    for arm in &scenario.file.arms {
        for t in arm.mechanism.texts() {
            if !texts.iter().any(|x| x.id == t.id) {
                texts.push(t);
            }
        }
    }
    let arms: Vec<String> = plan
        .runs
        .iter()
        .map(|r| r.arm.clone())
        .fold(Vec::new(), |mut v, a| {
            if !v.contains(&a) {
                v.push(a);
            }
            v
        });
    let result = code_experiment(
        &plan.output,
        spec,
        &texts,
        &coder,
        &arms,
        &scenario.file.segments,
        plan.seed,
        plan.concurrency,
    )
    .await;
    let _ = backends.sync();
    Some(match result {
        Ok(report) => report,
        Err(e) => {
            tracing::warn!("answers not coded: {e}");
            CodingReport {
                lines: vec![format!("answers not coded: {e}")],
                ..Default::default()
            }
        }
    })
}
