//! `agora run --dry-run`: what an experiment would cost, before spending anything.
//!
//! A small sample of the population (replicate 0, at most 20 agents) plays every round
//! against a probe that renders each prompt as a language model would see it and
//! answers with the mechanism's rule policy. Calls per agent and tokens per call from
//! the sample are scaled to the whole experiment and priced. No model is called and
//! nothing is written outside a temporary directory.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use agora_core::Play;
use agora_core::scheduler::{RunControl, SchedulerLimits, Silent};
use agora_export::OutputLayout;
use agora_llm::{ChatModel, ChatRequest, ChatResponse, LlmError, ModelSpec, RuleBackend};
use agora_scenario::{ExperimentPlan, Scenario};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::ExperimentError;
use crate::backends::{CallOptions, default_model};
use crate::setup::{RunIdentity, prepare_run};

/// Agents of the sample that is played.
const SAMPLE: usize = 20;

/// Characters of framing a chat API adds around each message (role, quotes, braces).
const MESSAGE_FRAMING: usize = 32;

/// Renders prompts like a language model would receive them, counts their size, and
/// answers with rule policies.
struct Probe {
    rules: RuleBackend,
    calls: AtomicU64,
    prompt_chars: AtomicU64,
    answer_chars: AtomicU64,
}

impl Probe {
    fn answer(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        // What a server counts as the prompt: the messages, a little framing for each,
        // and the answer's JSON Schema sent as the response format.
        let chars: usize = request
            .messages
            .iter()
            .map(|m| m.content.len() + MESSAGE_FRAMING)
            .sum::<usize>()
            + request.schema.to_string().len();
        self.prompt_chars.fetch_add(chars as u64, Ordering::Relaxed);
        let answer = self
            .rules
            .answer_now(request)
            .unwrap_or_else(|| Err(LlmError::Backend("no rule".into())))?;
        self.answer_chars
            .fetch_add(answer.answer.to_string().len() as u64, Ordering::Relaxed);
        Ok(answer)
    }
}

impl ChatModel for Probe {
    fn name(&self) -> &str {
        "dry-run"
    }

    fn reads_messages(&self) -> bool {
        true
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        futures::future::ready(self.answer(request)).boxed()
    }

    fn answer_now(&self, request: &ChatRequest) -> Option<Result<ChatResponse, LlmError>> {
        Some(self.answer(request))
    }
}

/// The estimate for `plan`, as a Markdown report.
pub fn estimate(
    scenario: &Scenario,
    plan: &ExperimentPlan,
    calls: &CallOptions,
) -> Result<String, ExperimentError> {
    let agents = plan.agents.clamp(1, SAMPLE);
    let scratch = tempfile::tempdir().map_err(|source| ExperimentError::Io {
        context: "creating a scratch directory".into(),
        source,
    })?;
    let identity = RunIdentity {
        run_id: "dry-run",
        arm: "dry-run",
        replicate: 0,
        seed: plan.seed,
        retest: false,
    };
    let mut setup = prepare_run(
        &scenario.file.population,
        agents,
        scenario.base_dir(),
        &scenario.path,
        &identity,
        &OutputLayout::new(scratch.path()),
        None,
    )?;
    let probe = Probe {
        rules: scenario.file.mechanism.rule_backend(),
        calls: AtomicU64::new(0),
        prompt_chars: AtomicU64::new(0),
        answer_chars: AtomicU64::new(0),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ExperimentError::Io {
            context: "starting the async runtime".into(),
            source,
        })?;
    runtime
        .block_on(scenario.file.mechanism.play(Play {
            params: plan.params,
            world: &mut setup.world,
            recorder: &mut setup.recorder,
            model: &probe,
            max_rounds: plan.max_rounds,
            limits: SchedulerLimits::default(),
            progress: &mut Silent,
            control: RunControl::default(),
        }))
        .map_err(|source| ExperimentError::Run {
            arm: "dry-run".into(),
            replicate: 0,
            source: Box::new(source),
        })?;
    setup.recorder.close()?;

    let sampled_calls = probe.calls.load(Ordering::Relaxed).max(1) as f64;
    let per_agent = sampled_calls / agents as f64;
    let prompt_per_call = probe.prompt_chars.load(Ordering::Relaxed) as f64 / sampled_calls / 4.0;
    let answer_per_call =
        (probe.answer_chars.load(Ordering::Relaxed) as f64 / sampled_calls / 4.0).max(1.0);
    let prices = calls.price_table()?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: dry run on {agents} sampled agents; {:.1} calls per agent, about {:.0} prompt tokens per call",
        scenario.file.name, per_agent, prompt_per_call
    );
    let _ = writeln!(
        out,
        "| arm | model | runs | calls | prompt tokens | completion tokens (typical / at most) | cost (typical / at most) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    let mut arms: Vec<(&str, String)> = Vec::new();
    for run in &plan.runs {
        let model = run.model.clone().unwrap_or_else(default_model).to_string();
        if !arms.iter().any(|(a, _)| *a == run.arm) {
            arms.push((&run.arm, model));
        }
    }
    for (arm, model) in arms {
        let runs = plan.runs.iter().filter(|r| r.arm == arm).count() as f64;
        let n_calls = per_agent * plan.agents as f64 * runs;
        let prompt = n_calls * prompt_per_call;
        let typical = n_calls * answer_per_call;
        let most = n_calls * f64::from(plan.params.max_tokens);
        let is_rules = ModelSpec::parse(&model).is_ok_and(|m| m == ModelSpec::Rules);
        let cost = |completion: f64| match prices.get(&model) {
            _ if is_rules => "$0 (rules)".to_string(),
            Some(p) => format!("${:.4}", (prompt * p.input + completion * p.output) / 1e6),
            None => "no price".to_string(),
        };
        let _ = writeln!(
            out,
            "| {arm} | {model} | {runs} | {n_calls:.0} | {prompt:.0} | {typical:.0} / {most:.0} | {} / {} |",
            cost(typical),
            cost(most)
        );
    }
    let _ = writeln!(
        out,
        "Assumptions: {agents} sampled agents play every round with the rule-based policies, so later prompts hold answers as long as the rules' (a model's may be longer or shorter); a prompt token is 4 characters of the messages, their framing and the answer's JSON Schema; the typical answer is as long as the rules' answer, at most `max_tokens`; calls, tokens and cost scale with agents and runs."
    );
    if let Some(coding) = &scenario.file.coding {
        let coder = crate::coding::coder_spec(scenario, plan);
        let _ = writeln!(
            out,
            "Not in these figures: the coding of free-text answers ({} source(s)) by {coder}{}.",
            coding.sources.len(),
            if coder == ModelSpec::Rules {
                " (keywords, no calls)"
            } else {
                ", one call per answer and source, plus one per derived codebook"
            }
        );
    }
    let _ = writeln!(
        out,
        "Nothing was called or written. Prices: built-in table{}.",
        if calls.prices.is_some() {
            " and --prices"
        } else {
            ""
        }
    );
    Ok(out)
}
