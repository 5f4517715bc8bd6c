//! Raw speed of the embedded engine, measured the way llama.cpp reports its own:
//! prompt tokens per second (one prompt decoded in one batch) and generation tokens
//! per second (greedy, one sequence, one token per forward pass).

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use super::{LocalError, gguf, worker};

/// Settings of a speed measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    /// CPU threads.
    pub threads: i32,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated after it.
    pub generated_tokens: usize,
    /// Repetitions; the best is reported.
    pub repeat: u32,
}

/// Tokens per second of one measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Speed {
    /// Prompt processing, tokens per second.
    pub prompt_per_s: f64,
    /// Generation, tokens per second.
    pub generated_per_s: f64,
}

/// A fixed English text, repeated to the prompt length asked for.
const TEXT: &str = "The survey asks every respondent how appealing a weekly meal-kit service is, what a fair price per serving would be, which plan they would choose and where they would like to hear about it. ";

/// Measure prompt and generation speed of the GGUF file at `path`.
pub fn measure(path: &Path, config: BenchConfig) -> Result<Speed, LocalError> {
    gguf::inspect(path)?;
    let fail = |reason: String| LocalError::Load {
        path: path.to_path_buf(),
        reason,
    };
    let backend = worker::backend().map_err(fail)?;
    let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
        .map_err(|e| fail(e.to_string()))?;
    let n_ctx = (config.prompt_tokens + config.generated_tokens + 64) as u32;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_ubatch(n_ctx.min(512))
        .with_n_threads(config.threads)
        .with_n_threads_batch(config.threads);
    let mut ctx = model
        .new_context(backend, params)
        .map_err(|e| fail(e.to_string()))?;
    let vocab = model.vocab();
    let mut prompt: Vec<LlamaToken> = Vec::new();
    while prompt.len() < config.prompt_tokens {
        prompt.extend(vocab.tokenize(TEXT.as_bytes(), false, false));
    }
    prompt.truncate(config.prompt_tokens.max(1));
    let n_vocab = usize::try_from(model.n_vocab()).unwrap_or(0);
    let mut best = Speed {
        prompt_per_s: 0.0,
        generated_per_s: 0.0,
    };
    let mut batch = LlamaBatch::new(n_ctx as usize, 1);
    for _ in 0..config.repeat.max(1) {
        ctx.clear_kv_cache();
        batch.clear();
        for (i, &t) in prompt.iter().enumerate() {
            batch
                .add(t, i as i32, &[0], i + 1 == prompt.len())
                .map_err(|e| fail(e.to_string()))?;
        }
        let started = Instant::now();
        ctx.decode(&mut batch).map_err(|e| fail(e.to_string()))?;
        let prompt_s = started.elapsed().as_secs_f64();
        let mut last = batch.n_tokens() - 1;
        let started = Instant::now();
        for k in 0..config.generated_tokens {
            let logits = ctx.get_logits_ith(last);
            let next = argmax(&logits[..n_vocab.min(logits.len())]);
            batch.clear();
            batch
                .add(next, (prompt.len() + k) as i32, &[0], true)
                .map_err(|e| fail(e.to_string()))?;
            ctx.decode(&mut batch).map_err(|e| fail(e.to_string()))?;
            last = 0;
        }
        let gen_s = started.elapsed().as_secs_f64();
        best.prompt_per_s = best.prompt_per_s.max(prompt.len() as f64 / prompt_s);
        best.generated_per_s = best
            .generated_per_s
            .max(config.generated_tokens as f64 / gen_s);
    }
    Ok(best)
}

fn argmax(logits: &[f32]) -> LlamaToken {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    LlamaToken(best as i32)
}
