//! The short report printed after a run.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use agora_export::RunRecord;
use agora_population::MarginalRow;

/// What one run did.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The manifest record of the run.
    pub record: RunRecord,
    /// Sampled population against its targets.
    pub marginals: Vec<MarginalRow>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// What an experiment did.
#[derive(Clone, Debug, Default)]
pub struct ExperimentSummary {
    /// Scenario name.
    pub name: String,
    /// Output directory.
    pub output: PathBuf,
    /// One entry per run.
    pub runs: Vec<RunSummary>,
    /// Why the experiment stopped before its last run, if it did.
    pub stopped: Option<String>,
    /// What each arm used (model, persona, sampling, stimuli), one line per arm.
    pub arms: Vec<String>,
    /// Statistics of a complete experiment.
    pub statistics: Option<crate::stats::Statistics>,
    /// The manifest written, when it is not the experiment's `manifest.json` (a
    /// shard's).
    pub manifest: Option<PathBuf>,
}

/// One line per arm of `plan`: the model it used, its persona view, sampling and
/// stimuli.
pub fn arm_lines(
    scenario: &agora_scenario::Scenario,
    plan: &agora_scenario::ExperimentPlan,
) -> Vec<String> {
    let file = &scenario.file;
    let control = file.control_arm().name.0.clone();
    file.arms
        .iter()
        .filter_map(|arm| {
            let run = plan.runs.iter().find(|r| r.arm == arm.name.0)?;
            let model = run
                .model
                .clone()
                .unwrap_or_else(crate::default_model)
                .to_string();
            let mut line = format!(
                "arm {}{}: model {model}, persona {}, temperature {}",
                arm.name.0,
                if arm.name.0 == control && file.arms.len() > 1 {
                    " (control)"
                } else {
                    ""
                },
                arm.persona.as_str(),
                run.params.temperature
            );
            if !arm.stimuli.is_empty() {
                let names: Vec<&str> = arm.stimuli.keys().map(String::as_str).collect();
                let _ = write!(line, ", stimuli {}", names.join(", "));
            }
            Some(line)
        })
        .collect()
}

impl ExperimentSummary {
    fn decisions(&self) -> u64 {
        self.runs.iter().map(|r| r.record.decisions).sum()
    }

    /// Human-readable summary.
    pub fn render(&self, elapsed: Duration) -> String {
        let mut out = String::new();
        let decisions = self.decisions();
        let fallbacks: u64 = self.runs.iter().map(|r| r.record.fallbacks).sum();
        let secs = elapsed.as_secs_f64();
        let _ = writeln!(
            out,
            "{}: {} run(s) in {:.2} s",
            self.name,
            self.runs.len(),
            secs
        );
        for r in &self.runs {
            let rec = &r.record;
            let _ = writeln!(
                out,
                "  arm {} replicate {}: {} agents, {} rounds ({}), {} decisions, {} fallbacks, model {}, {:.2} s",
                rec.arm,
                rec.replicate,
                rec.agents,
                rec.rounds,
                rec.stop_reason,
                rec.decisions,
                rec.fallbacks,
                rec.model,
                r.elapsed.as_secs_f64()
            );
        }
        for line in &self.arms {
            let _ = writeln!(out, "{line}");
        }
        let replicates: Vec<&RunSummary> = {
            // Arms of a replicate share its people: one run per replicate shows the fit.
            let mut seen = std::collections::BTreeSet::new();
            self.runs
                .iter()
                .filter(|r| seen.insert(r.record.replicate))
                .collect()
        };
        if !replicates.is_empty() {
            let _ = writeln!(
                out,
                "population vs targets ({} replicate{}, largest gap of each attribute):",
                replicates.len(),
                if replicates.len() == 1 { "" } else { "s" }
            );
            let all: Vec<(u32, &MarginalRow)> = replicates
                .iter()
                .flat_map(|r| r.marginals.iter().map(move |m| (r.record.replicate, m)))
                .collect();
            for line in marginal_lines(&all, replicates.len() > 1) {
                let _ = writeln!(out, "  {line}");
            }
        }
        let rate = if secs > 0.0 {
            decisions as f64 / secs
        } else {
            0.0
        };
        // Slow models answer a few times a second: show two decimals below 100.
        let digits = if rate >= 100.0 { 0 } else { 2 };
        let _ = writeln!(
            out,
            "decisions: {decisions} ({fallbacks} fallbacks), {rate:.digits$} per second"
        );
        let sum = |f: fn(&RunRecord) -> u64| self.runs.iter().map(|r| f(&r.record)).sum::<u64>();
        let (prompt, completion) = (sum(|r| r.prompt_tokens), sum(|r| r.completion_tokens));
        if prompt + completion > 0 {
            let cost: f64 = self.runs.iter().map(|r| r.record.cost_usd).sum();
            let _ = writeln!(
                out,
                "model calls: {} repaired, {} failed, {} from the cache; tokens {prompt} prompt + {completion} completion; cost ${cost:.4}",
                sum(|r| r.repaired),
                sum(|r| r.errors),
                sum(|r| r.cache_hits),
            );
        }
        let (estimate, shared) = (
            sum(|r| r.prompt_estimate_tokens),
            sum(|r| r.shared_prefix_tokens),
        );
        if estimate > 0 {
            let _ = writeln!(
                out,
                "prompt prefixes: {:.1}% of about {estimate} prompt tokens repeat an earlier prompt of the same round (reusable by a server's prefix cache)",
                100.0 * shared as f64 / estimate as f64
            );
        }
        if let Some(why) = &self.stopped {
            let _ = writeln!(out, "{why}");
        }
        if let Some(stats) = &self.statistics {
            if let Some(e) = &stats.error {
                let _ = writeln!(out, "statistics could not be computed: {e}");
            } else if !stats.headline.is_empty() {
                let _ = writeln!(
                    out,
                    "results (mean or share, 95% interval; differences paired with the control):"
                );
                for line in &stats.headline {
                    let _ = writeln!(out, "  {line}");
                }
            }
            if !stats.validation.is_empty() {
                let _ = writeln!(
                    out,
                    "distance to the human reference (mean over questions; see the validation table):"
                );
                for line in &stats.validation {
                    let _ = writeln!(out, "  {line}");
                }
            }
            if !stats.coding.is_empty() {
                let _ = writeln!(
                    out,
                    "coded answers (top themes per arm, share of answers, 95% interval; see theme_shares):"
                );
                for line in &stats.coding {
                    let _ = writeln!(out, "  {line}");
                }
            }
            for w in &stats.warnings {
                let _ = writeln!(out, "warning: {w}");
            }
        }
        let tables = self
            .runs
            .first()
            .map(|r| {
                r.record
                    .tables
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let experiment_tables = self
            .statistics
            .as_ref()
            .filter(|s| !s.files.is_empty())
            .map(|s| {
                let mut names = String::from(", and for the experiment: stats, diagnostics");
                if !s.validation.is_empty() {
                    names.push_str(", validation");
                }
                if !s.coding.is_empty() {
                    names.push_str(", coded_answers, codebooks, theme_shares, coding_calls");
                }
                names
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "tables ({tables}{experiment_tables}) in {}",
            self.output.display()
        );
        let _ = writeln!(
            out,
            "manifest: {}",
            self.manifest
                .clone()
                .unwrap_or_else(|| self.output.join("manifest.json"))
                .display()
        );
        out
    }

    /// One JSON line of figures for scripts and `agora bench`: `agents` per run, `runs`,
    /// totals over the experiment (`decisions`, `fallbacks`, tokens, `cost_usd`,
    /// `prompt_estimate_tokens`, `shared_prefix_tokens` and their ratio
    /// `shared_prefix_share`), `seconds` of wall time, `peak_rss_kib`, and `per_run` with
    /// each run's own figures.
    pub fn stats_json(&self, elapsed: Duration) -> String {
        let sum = |f: fn(&RunRecord) -> u64| self.runs.iter().map(|r| f(&r.record)).sum::<u64>();
        let (estimate, shared) = (
            sum(|r| r.prompt_estimate_tokens),
            sum(|r| r.shared_prefix_tokens),
        );
        let per_run: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|r| {
                let rec = &r.record;
                serde_json::json!({
                    "arm": rec.arm,
                    "replicate": rec.replicate,
                    "agents": rec.agents,
                    "rounds": rec.rounds,
                    "stop_reason": rec.stop_reason,
                    "decisions": rec.decisions,
                    "fallbacks": rec.fallbacks,
                    "prompt_tokens": rec.prompt_tokens,
                    "completion_tokens": rec.completion_tokens,
                    "prompt_estimate_tokens": rec.prompt_estimate_tokens,
                    "shared_prefix_tokens": rec.shared_prefix_tokens,
                    "cost_usd": rec.cost_usd,
                    "seconds": r.elapsed.as_secs_f64(),
                })
            })
            .collect();
        serde_json::json!({
            "agents": self.runs.first().map_or(0, |r| r.record.agents),
            "runs": self.runs.len(),
            "decisions": self.decisions(),
            "fallbacks": sum(|r| r.fallbacks),
            "prompt_tokens": sum(|r| r.prompt_tokens),
            "completion_tokens": sum(|r| r.completion_tokens),
            "prompt_estimate_tokens": estimate,
            "shared_prefix_tokens": shared,
            "shared_prefix_share": if estimate > 0 { shared as f64 / estimate as f64 } else { 0.0 },
            "cost_usd": self.runs.iter().map(|r| r.record.cost_usd).sum::<f64>(),
            "seconds": elapsed.as_secs_f64(),
            "peak_rss_kib": peak_rss_kib(),
            "per_run": per_run,
        })
        .to_string()
    }
}

/// Per attribute, the level furthest from its target over every replicate (named when
/// `name_replicate`).
fn marginal_lines(rows: &[(u32, &MarginalRow)], name_replicate: bool) -> Vec<String> {
    let mut order: Vec<&str> = Vec::new();
    let mut worst: std::collections::HashMap<&str, &MarginalRow> = Default::default();
    let mut replicate_of: std::collections::HashMap<&str, u32> = Default::default();
    for &(replicate, row) in rows {
        if !row.target.is_finite() {
            continue;
        }
        let gap = (row.observed - row.target).abs();
        match worst.get(row.attribute.as_str()) {
            Some(w) if (w.observed - w.target).abs() >= gap => {}
            _ => {
                if !worst.contains_key(row.attribute.as_str()) {
                    order.push(&row.attribute);
                }
                worst.insert(&row.attribute, row);
                replicate_of.insert(&row.attribute, replicate);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|a| worst.get(a))
        .map(|r| {
            let at = if name_replicate {
                format!(
                    " (replicate {})",
                    replicate_of.get(r.attribute.as_str()).copied().unwrap_or(0)
                )
            } else {
                String::new()
            };
            format!(
                "{:<24} largest gap at {:<20} target {:>10.4}  observed {:>10.4}{at}",
                r.attribute, r.level, r.target, r.observed
            )
        })
        .collect()
}

/// Peak resident memory of this process in KiB (Linux), if known.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
