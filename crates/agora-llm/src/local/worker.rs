//! The generation worker: one OS thread that owns the model and decodes every request.
//!
//! Requests arrive on a channel from async tasks and leave on one-shot channels, so the
//! async runtime never blocks on inference. The worker keeps a fixed number of
//! *slots* (sequences of llama.cpp's KV cache), of which at most `WorkerConfig::slots`
//! are busy at once, and decodes all busy slots together in one batch per step
//! (continuous batching): prompt chunks of newly admitted requests and the next token of
//! those generating share every forward pass. Each slot keeps the tokens of its last
//! prompt in the cache, and idle slots outnumber busy ones, so an agent's persona card
//! and history usually survive until its next request even with more agents than busy
//! slots; when the cache runs short, the least recently used idle prefixes are dropped.
//! A new request takes the idle slot with the longest common prefix, or copies a longer
//! prefix (the shared instructions of a round) from any slot, so only the part that
//! differs is computed.
//!
//! With one slot (the default) the worker is *exact*: a request's answer depends only
//! on the request and its seed, never on which requests came before it or were waiting
//! beside it. llama.cpp's kernels pick their summation order from the shape of each
//! forward pass (how many tokens it holds, how many cache cells are in use, where in the
//! cache a sequence's cells lie), so the exact mode decodes one request at a time in a
//! cache that holds that request alone (cell *i* holds position *i*), feeds prompts in
//! chunks of [`EXACT_CHUNK`] tokens aligned to positions 0, 64, 128, ..., and reuses
//! a cached prefix only up to the last whole chunk that was computed the same way. Every
//! forward pass of a request then has the same shapes and inputs whatever the history,
//! and gives bit-identical logits. Earlier prompts' prefixes (an agent's persona card
//! and history) are kept as copies of their cache cells in host memory and copied back
//! into the cache, bit for bit and at the same cells, when a later prompt starts with
//! them. With more slots, requests share forward passes
//! (faster on many cores, but an answer can change with the company it was decoded in).
//!
//! Each request's time limit starts when it is admitted into a slot: the time it waits
//! in the queue for its turn does not count.
//!
//! The worker also computes embeddings (mean-pooled over the text's tokens and
//! L2-normalised) in a second context of the same model, one text per forward pass.
//!
//! Sampling is done here, from the request's seed: temperature and top-p over the
//! logits, with a PCG stream per request, under llama.cpp's grammar sampler built from
//! the request's JSON Schema. A token drawn without the grammar is kept when the
//! grammar accepts it (the common case, and cheap); otherwise the grammar masks the
//! whole vocabulary and the token is drawn again from what remains, which gives the
//! same distribution as masking first.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::{LlamaStateSeqFlags, SeqState};
use rand::{RngExt, SeedableRng};

use super::LocalError;
use crate::model::LlmError;
use crate::request::SamplingParams;

/// Prompt tokens per forward pass in the exact (one-slot) mode; cached prefixes are
/// reused in whole chunks of this size.
pub const EXACT_CHUNK: usize = 64;

/// How the worker uses the machine.
///
/// The default decodes one request at a time and is exact: the same request and seed
/// give the same answer on the same machine and thread count, whatever else is in
/// flight. [`WorkerConfig::batched`] decodes several requests together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// CPU threads for llama.cpp's kernels.
    pub threads: i32,
    /// Requests decoded together; 1 is the exact mode (see the module documentation).
    pub slots: u32,
    /// Earlier prompts kept for their prefixes to be reused: in batched mode as idle
    /// sequences of the KV cache (at least `slots`), in the exact mode as copies of
    /// their cache cells in host memory (at most 256 MiB together).
    pub sequences: u32,
    /// Tokens of KV cache per slot (prompt plus answer).
    pub slot_context: u32,
    /// Most tokens in one forward pass.
    pub batch: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(16));
        Self {
            threads: threads as i32,
            slots: 1,
            sequences: 24,
            slot_context: 2048,
            batch: 512,
        }
    }
}

impl WorkerConfig {
    /// Decode up to `slots` requests together (continuous batching), keeping three
    /// cached prompts per slot for prefix reuse; `slots` of 1 is the exact default.
    /// Faster with many requests in flight, but a request's logits then depend on
    /// which others share its forward passes, so an answer can differ from run to run.
    pub fn batched(slots: u32) -> Self {
        if slots <= 1 {
            return Self::default();
        }
        Self {
            slots,
            sequences: slots * 3,
            ..Self::default()
        }
    }

    /// Whether answers depend only on the request and its seed (one slot).
    pub fn is_exact(&self) -> bool {
        self.slots <= 1
    }
}

/// A grammar ready for the worker: GBNF text and the answer's largest size.
#[derive(Debug)]
pub(crate) struct CompiledGrammar {
    /// GBNF with start rule `root`.
    pub gbnf: String,
    /// Most tokens an admitted answer can take (one per byte, plus end of text).
    pub max_tokens: u32,
    /// Whether text that parses as JSON is a complete answer.
    pub closes_itself: bool,
}

/// One request for the worker.
pub(crate) struct Job {
    /// The prompt, rendered with the model's chat template.
    pub prompt: String,
    /// Grammar of the answer.
    pub grammar: Arc<CompiledGrammar>,
    /// Sampling parameters.
    pub params: SamplingParams,
    /// Seed of the sampling stream.
    pub seed: u64,
    /// Longest time the request may take once admitted into a slot (`None`: no limit).
    pub limit: Option<Duration>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Generation, LlmError>>,
}

/// Texts to embed.
pub(crate) struct EmbedJob {
    /// The texts, each embedded on its own.
    pub texts: Vec<String>,
    /// Where the vectors go, one per text, in order.
    pub reply: oneshot::Sender<Result<Vec<Vec<f32>>, LlmError>>,
}

/// Work for the worker thread.
pub(crate) enum Work {
    /// Answer a chat request.
    Chat(Job),
    /// Embed texts.
    Embed(EmbedJob),
}

/// What the worker produced for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Generation {
    /// The answer text (JSON admitted by the grammar).
    pub text: String,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV came from the cache.
    pub cached_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
}

/// Facts about a loaded model, reported by the worker once it is ready.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    /// Text of the beginning-of-sequence token.
    pub bos: String,
    /// Text of the end-of-sequence token.
    pub eos: String,
    /// The model's own chat template, when llama.cpp reads one from the file.
    pub template: Option<String>,
    /// Parameters of the model.
    pub params: u64,
}

/// llama.cpp's process-wide initialisation, done once.
pub(crate) fn backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs a lot at load time; pass it on only when debugging.
            let logs = tracing::enabled!(tracing::Level::DEBUG);
            llama_cpp_2::send_logs_to_tracing(
                llama_cpp_2::LogOptions::default().with_logs_enabled(logs),
            );
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Start the worker thread for the model at `path`; returns once the model is loaded.
pub(crate) fn spawn(
    path: PathBuf,
    config: WorkerConfig,
) -> Result<(Sender<Work>, Loaded), LocalError> {
    let (jobs_tx, jobs_rx) = std::sync::mpsc::channel::<Work>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Loaded, LocalError>>();
    let thread_path = path.clone();
    std::thread::Builder::new()
        .name("agora-local-model".into())
        .spawn(move || run(thread_path, config, jobs_rx, ready_tx))
        .map_err(|e| LocalError::Load {
            path: path.clone(),
            reason: format!("cannot start the generation thread: {e}"),
        })?;
    let loaded = ready_rx.recv().map_err(|_| LocalError::Load {
        path: path.clone(),
        reason: "the generation thread stopped while loading".into(),
    })??;
    Ok((jobs_tx, loaded))
}

fn run(
    path: PathBuf,
    config: WorkerConfig,
    jobs: Receiver<Work>,
    ready: std::sync::mpsc::Sender<Result<Loaded, LocalError>>,
) {
    let fail = |reason: String| LocalError::Load {
        path: path.clone(),
        reason,
    };
    let backend = match backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(fail(e)));
            return;
        }
    };
    let model = match LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default()) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(fail(format!("llama.cpp could not load it ({e})"))));
            return;
        }
    };
    let slots = config.slots.max(1);
    // The exact mode keeps one sequence in the cache and earlier prompts elsewhere.
    let sequences = if config.is_exact() {
        1
    } else {
        config.sequences.max(slots)
    };
    let n_ctx = slots * config.slot_context.max(64);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(config.batch)
        .with_n_ubatch(config.batch)
        .with_n_seq_max(sequences)
        .with_n_threads(config.threads)
        .with_n_threads_batch(config.threads)
        .with_kv_unified(true);
    let ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(fail(format!(
                "cannot create a context of {n_ctx} tokens ({e})"
            ))));
            return;
        }
    };
    let vocab = model.vocab();
    let piece =
        |t: LlamaToken| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
    let loaded = Loaded {
        bos: piece(vocab.bos()),
        eos: piece(vocab.eos()),
        template: model
            .chat_template(None)
            .ok()
            .and_then(|t| t.to_string().ok()),
        params: model.n_params(),
    };
    let _ = ready.send(Ok(loaded));
    let mut engine = Engine::new(&model, backend, ctx, config, slots, sequences);
    engine.serve(&jobs);
}

/// A request being answered in a slot.
struct Active {
    job: Job,
    prompt: Vec<LlamaToken>,
    /// Tokens of `prompt` already in the KV cache (or in the batch being decoded).
    fed: usize,
    cached: usize,
    generated: Vec<u8>,
    n_generated: u32,
    limit: u32,
    grammar: LlamaSampler,
    rng: rand_pcg::Pcg64,
    /// The token sampled last, to be fed in the next step.
    next: Option<LlamaToken>,
    /// Index in the current batch whose logits this slot samples from.
    logits_at: Option<i32>,
    /// When the request runs out of time (its limit counted from admission).
    deadline: Option<Instant>,
}

struct Slot {
    /// Tokens whose KV is in the cache for this slot's sequence, in order from position 0.
    cached: Vec<LlamaToken>,
    active: Option<Active>,
    /// When the slot was last given a request (for dropping the stalest prefix first).
    used: u64,
    /// Exact mode: leading cached tokens computed in whole aligned prompt chunks, the
    /// only ones a later request may reuse.
    exact_len: usize,
}

/// Exact mode: a canonical prompt prefix copied out of the KV cache.
struct Snapshot {
    tokens: Vec<LlamaToken>,
    state: SeqState,
    /// Admission clock of its last use.
    used: u64,
}

/// Most host memory the exact mode's prefix copies take together.
const SNAPSHOT_BYTES: usize = 256 << 20;

struct Engine<'m> {
    /// Exact mode: copies of earlier prompts' prefixes, most `keep_snapshots`.
    snapshots: Vec<Snapshot>,
    keep_snapshots: usize,
    model: &'m LlamaModel,
    backend: &'static LlamaBackend,
    ctx: LlamaContext<'m>,
    /// Context for embeddings, made on first use.
    embedder: Option<LlamaContext<'m>>,
    threads: i32,
    /// One request at a time with canonical prompt chunks (see the module documentation).
    exact: bool,
    slots: Vec<Slot>,
    /// Most slots busy at once.
    max_active: usize,
    /// Tokens the KV cache holds across all sequences.
    n_ctx: usize,
    /// Requests admitted so far (the clock of `Slot::used`).
    admitted: u64,
    queue: VecDeque<Job>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    slot_context: usize,
    n_vocab: usize,
    /// Token texts, indexed by token id.
    pieces: Vec<Vec<u8>>,
    add_bos: bool,
    /// Prefixes can be shared and truncated (false for recurrent models).
    reuse: bool,
    /// Scratch logits of the full vocabulary.
    scratch: Vec<LlamaTokenData>,
}

impl<'m> Engine<'m> {
    fn new(
        model: &'m LlamaModel,
        backend: &'static LlamaBackend,
        ctx: LlamaContext<'m>,
        config: WorkerConfig,
        slots: u32,
        sequences: u32,
    ) -> Self {
        let vocab = model.vocab();
        let n_vocab = usize::try_from(model.n_vocab()).unwrap_or(0);
        let pieces = (0..n_vocab)
            .map(|t| vocab.token_to_piece(LlamaToken(t as i32), false, None))
            .collect();
        let n_ctx = ctx.n_ctx() as usize;
        Self {
            model,
            backend,
            ctx,
            embedder: None,
            snapshots: Vec::new(),
            keep_snapshots: config.sequences as usize,
            threads: config.threads,
            exact: config.is_exact(),
            slots: (0..sequences)
                .map(|_| Slot {
                    cached: Vec::new(),
                    active: None,
                    used: 0,
                    exact_len: 0,
                })
                .collect(),
            max_active: slots as usize,
            n_ctx,
            admitted: 0,
            queue: VecDeque::new(),
            batch: LlamaBatch::new(config.batch as usize, slots as i32),
            batch_size: config.batch as usize,
            slot_context: config.slot_context as usize,
            n_vocab,
            pieces,
            add_bos: vocab.should_add_bos(),
            reuse: !model.is_recurrent() && !model.is_hybrid(),
            scratch: Vec::with_capacity(n_vocab),
        }
    }

    fn serve(&mut self, jobs: &Receiver<Work>) {
        loop {
            let busy = self.slots.iter().any(|s| s.active.is_some()) || !self.queue.is_empty();
            if !busy {
                match jobs.recv_timeout(Duration::from_secs(3600)) {
                    Ok(work) => self.take(work),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            loop {
                match jobs.try_recv() {
                    Ok(work) => self.take(work),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        if self.queue.is_empty() && self.slots.iter().all(|s| s.active.is_none()) {
                            return;
                        }
                        break;
                    }
                }
            }
            self.admit();
            self.step();
            self.expire();
        }
    }

    /// Queue a chat request; embed texts at once (a short forward pass each).
    fn take(&mut self, work: Work) {
        match work {
            Work::Chat(job) => self.queue.push_back(job),
            Work::Embed(job) => {
                if job.reply.is_canceled() {
                    return;
                }
                let result = self.embed(&job.texts);
                let _ = job.reply.send(result);
            }
        }
    }

    /// End the requests whose time is up or whose caller stopped waiting.
    fn expire(&mut self) {
        let now = Instant::now();
        for slot in &mut self.slots {
            let Some(active) = slot.active.as_ref() else {
                continue;
            };
            let late = active.deadline.is_some_and(|d| now >= d);
            if !(late || active.job.reply.is_canceled()) {
                continue;
            }
            let Some(active) = slot.active.take() else {
                continue;
            };
            if late {
                let limit = active.job.limit.unwrap_or_default();
                tracing::debug!(
                    ?limit,
                    generated = active.n_generated,
                    "a local request ran out of time"
                );
                let _ = active.job.reply.send(Err(LlmError::Timeout(limit)));
            }
        }
    }

    /// Mean-pooled, L2-normalised embeddings of `texts`, one forward pass per text in a
    /// cache of its own, so a text's vector does not depend on the others.
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let n_ctx = self.slot_context.max(64) as u32;
        if self.embedder.is_none() {
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(n_ctx))
                .with_n_batch(n_ctx)
                .with_n_ubatch(n_ctx)
                .with_n_seq_max(1)
                .with_n_threads(self.threads)
                .with_n_threads_batch(self.threads)
                .with_embeddings(true)
                .with_pooling_type(LlamaPoolingType::Mean);
            let ctx = self.model.new_context(self.backend, params).map_err(|e| {
                LlmError::Backend(format!(
                    "cannot create the local model's embedding context: {e}"
                ))
            })?;
            self.embedder = Some(ctx);
        }
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            let tokens = self.tokenize(text);
            if tokens.is_empty() {
                return Err(LlmError::InvalidRequest(
                    "an empty text has no embedding".into(),
                ));
            }
            if tokens.len() > n_ctx as usize {
                return Err(LlmError::InvalidRequest(format!(
                    "a text of {} tokens is longer than the {n_ctx} tokens the local model embeds at once; shorten it",
                    tokens.len()
                )));
            }
            let Some(ctx) = self.embedder.as_mut() else {
                return Err(LlmError::Backend(
                    "the local model's embedding context is missing".into(),
                ));
            };
            ctx.clear_kv_cache();
            let mut batch = LlamaBatch::new(tokens.len(), 1);
            batch
                .add_sequence(&tokens, 0, false)
                .map_err(|e| LlmError::Backend(format!("cannot batch the text: {e}")))?;
            ctx.decode(&mut batch)
                .map_err(|e| LlmError::Backend(format!("llama.cpp decode failed: {e}")))?;
            let pooled = ctx
                .embeddings_seq_ith(0)
                .map_err(|e| LlmError::Backend(format!("llama.cpp returned no embedding: {e}")))?;
            out.push(normalized(pooled));
        }
        Ok(out)
    }

    /// Move queued jobs into free slots, reusing cached prefixes.
    fn admit(&mut self) {
        loop {
            let busy = self.slots.iter().filter(|s| s.active.is_some()).count();
            if busy >= self.max_active {
                return;
            }
            let Some(job) = self.queue.pop_front() else {
                return;
            };
            if job.reply.is_canceled() {
                continue;
            }
            let prompt = self.tokenize(&job.prompt);
            // The grammar's bound assumes one byte per token; real answers are far
            // shorter, so a long prompt only narrows the room left for the answer.
            let room = self.slot_context.saturating_sub(prompt.len());
            if prompt.is_empty() || room < 16 {
                let _ = job.reply.send(Err(LlmError::InvalidRequest(format!(
                    "the prompt ({} tokens) does not fit the local model's context of {} tokens per request",
                    prompt.len(),
                    self.slot_context
                ))));
                continue;
            }
            let limit = job.grammar.max_tokens.min(room as u32);
            // How much of the prompt each slot's cache already holds.
            let shared: Vec<usize> = self
                .slots
                .iter()
                .map(|s| common_prefix(&s.cached, &prompt))
                .collect();
            // A request sharing a long prefix with one still reading its prompt waits
            // a step or two, so that the prefix is computed once and then copied.
            if self.reuse && !self.exact {
                let cached = shared.iter().copied().max().unwrap_or(0);
                let reading = self
                    .slots
                    .iter()
                    .filter_map(|s| s.active.as_ref())
                    .map(|a| common_prefix(&a.prompt, &prompt))
                    .max()
                    .unwrap_or(0)
                    .min(prompt.len().saturating_sub(1));
                if reading > cached + 32 {
                    self.queue.push_front(job);
                    return;
                }
            }
            let grammar = match LlamaSampler::grammar(self.model, &job.grammar.gbnf, "root") {
                Ok(g) => g,
                Err(e) => {
                    let _ = job.reply.send(Err(LlmError::Backend(format!(
                        "llama.cpp rejected the answer grammar: {e}"
                    ))));
                    continue;
                }
            };
            let Some((slot, mut keep)) = self.choose_slot(&shared) else {
                // Unreachable while fewer slots are busy than there are sequences.
                self.queue.push_front(job);
                return;
            };
            // Any slot may hold a longer prefix (the round's shared instructions).
            let donor = (0..self.slots.len())
                .filter(|&i| i != slot)
                .map(|i| (i, shared[i]))
                .max_by_key(|&(i, n)| (n, std::cmp::Reverse(i)));
            // Always compute at least the last prompt token, for its logits.
            let cap = prompt.len() - 1;
            if !self.reuse {
                keep = 0;
            }
            keep = keep.min(cap);
            if self.exact && self.reuse {
                keep = self.exact_prefix(slot, &prompt, keep);
            }
            let seq = slot as i32;
            let copy_from = match donor {
                Some((d, n)) if self.reuse && !self.exact && n.min(cap) > keep + 16 => {
                    Some((d, n.min(cap)))
                }
                _ => None,
            };
            if let Some((d, n)) = copy_from {
                let _ = self.ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
                let _ = self
                    .ctx
                    .copy_kv_cache_seq(d as i32, seq, Some(0), Some(n as u32));
                keep = n;
            } else {
                let ok = self
                    .ctx
                    .clear_kv_cache_seq(Some(slot as u32), Some(keep as u32), None)
                    .unwrap_or(false);
                if !ok {
                    let _ = self.ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
                    keep = 0;
                }
            }
            self.slots[slot].cached = prompt[..keep].to_vec();
            self.slots[slot].exact_len = keep;
            self.admitted += 1;
            self.slots[slot].used = self.admitted;
            self.make_room(slot, prompt.len() + limit as usize + 1);
            self.slots[slot].active = Some(Active {
                rng: rand_pcg::Pcg64::seed_from_u64(job.seed),
                deadline: job.limit.map(|limit| Instant::now() + limit),
                job,
                fed: keep,
                cached: keep,
                generated: Vec::new(),
                n_generated: 0,
                limit,
                grammar,
                next: None,
                logits_at: None,
                prompt,
            });
        }
    }

    /// Exact mode: the longest prefix of `prompt` (at most `common` tokens, its common
    /// prefix with the live cache, when that holds the most) covered by whole canonical
    /// chunks, live in slot `slot` or restored there from a snapshot; the live
    /// canonical prefix is saved as a snapshot before it is cut.
    fn exact_prefix(&mut self, slot: usize, prompt: &[LlamaToken], common: usize) -> usize {
        let cap = prompt.len().saturating_sub(1);
        let align = |n: usize| n - n % EXACT_CHUNK;
        let exact_len = self.slots[slot].exact_len;
        let live = align(common.min(exact_len).min(cap));
        let best = |snapshots: &[Snapshot]| {
            snapshots
                .iter()
                .enumerate()
                .map(|(i, s)| (i, align(common_prefix(&s.tokens, prompt).min(cap))))
                .max_by_key(|&(i, n)| (n, std::cmp::Reverse(i)))
        };
        let better = best(&self.snapshots).is_some_and(|(_, n)| n > live);
        if live < exact_len || better {
            self.save_snapshot(slot);
        }
        let Some((i, n)) = best(&self.snapshots).filter(|&(_, n)| n > live) else {
            return live;
        };
        let _ = self.ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
        let restored = self
            .ctx
            .state_seq_set(&self.snapshots[i].state, slot as i32);
        let target = &mut self.slots[slot];
        match restored {
            Ok(()) => {
                target.cached = self.snapshots[i].tokens.clone();
                target.exact_len = target.cached.len();
                self.snapshots[i].used = self.admitted + 1;
                n
            }
            Err(e) => {
                tracing::warn!(%e, "could not restore a cached prompt prefix; computing it again");
                let _ = self.ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
                target.cached.clear();
                target.exact_len = 0;
                0
            }
        }
    }

    /// Exact mode: keep a copy of slot `slot`'s canonical prefix (its KV cells, in host
    /// memory), dropping the least recently used copies beyond the limits.
    fn save_snapshot(&mut self, slot: usize) {
        let len = self.slots[slot]
            .exact_len
            .min(self.slots[slot].cached.len());
        if len < EXACT_CHUNK {
            return;
        }
        let tokens = &self.slots[slot].cached[..len];
        if let Some(known) = self.snapshots.iter_mut().find(|s| s.tokens == tokens) {
            known.used = known.used.max(self.slots[slot].used);
            return;
        }
        let tokens = tokens.to_vec();
        // Only the canonical prefix is copied: the rest goes first.
        let _ = self
            .ctx
            .clear_kv_cache_seq(Some(slot as u32), Some(len as u32), None);
        self.slots[slot].cached.truncate(len);
        match self
            .ctx
            .state_seq_get(slot as i32, LlamaStateSeqFlags::empty())
        {
            Ok(state) => self.snapshots.push(Snapshot {
                tokens,
                state,
                used: self.slots[slot].used,
            }),
            Err(e) => tracing::warn!(%e, "could not copy a prompt prefix out of the KV cache"),
        }
        loop {
            let bytes: usize = self.snapshots.iter().map(|s| s.state.byte_len()).sum();
            if self.snapshots.len() <= self.keep_snapshots && bytes <= SNAPSHOT_BYTES {
                break;
            }
            let Some(stalest) = (0..self.snapshots.len()).min_by_key(|&i| self.snapshots[i].used)
            else {
                break;
            };
            self.snapshots.remove(stalest);
        }
    }

    /// The idle slot for a prompt and how much of its cache the prompt shares, given
    /// `shared`, the prompt's common prefix with each slot's cache. A slot whose prefix
    /// no other slot matches (an agent's own persona card and history) is taken; a
    /// prefix other slots share too (the round's instructions) can be copied, so the
    /// request then takes an empty slot, or the least recently used one, and keeps the
    /// other slots' histories for their next requests.
    fn choose_slot(&self, shared: &[usize]) -> Option<(usize, usize)> {
        let idle = |i: &usize| self.slots[*i].active.is_none();
        let (best, n) = (0..self.slots.len())
            .filter(idle)
            .map(|i| (i, shared[i]))
            .max_by_key(|&(i, n)| (n, std::cmp::Reverse(i)))?;
        let elsewhere = (0..self.slots.len())
            .filter(|&i| i != best)
            .map(|i| shared[i])
            .max()
            .unwrap_or(0);
        if n > elsewhere {
            return Some((best, n));
        }
        let spare = (0..self.slots.len())
            .filter(idle)
            .min_by_key(|&i| (!self.slots[i].cached.is_empty(), self.slots[i].used, i))?;
        Some((spare, shared[spare]))
    }

    /// Drop the least recently used idle prefixes until the busy slots (each counted at
    /// the most it can grow to: its prompt and answer limit) and the idle prefixes fit
    /// the KV cache. Cells shared by copied prefixes are counted once per sequence, so
    /// this errs on the safe side; with every idle prefix dropped the busy slots always
    /// fit, as none can grow beyond `slot_context`.
    fn make_room(&mut self, slot: usize, need: usize) {
        let size = |i: usize, s: &Slot| match &s.active {
            _ if i == slot => need,
            Some(a) => a.prompt.len() + a.limit as usize + 1,
            None => s.cached.len(),
        };
        let mut used: usize = self.slots.iter().enumerate().map(|(i, s)| size(i, s)).sum();
        while used > self.n_ctx {
            let Some(stalest) = self
                .slots
                .iter()
                .enumerate()
                .filter(|&(i, s)| i != slot && s.active.is_none() && !s.cached.is_empty())
                .min_by_key(|&(i, s)| (s.used, i))
                .map(|(i, _)| i)
            else {
                return;
            };
            used -= self.slots[stalest].cached.len();
            self.slots[stalest].cached.clear();
            let _ = self
                .ctx
                .clear_kv_cache_seq(Some(stalest as u32), None, None);
        }
    }

    fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let mut tokens = Vec::with_capacity(text.len() / 3 + 2);
        if self.add_bos {
            tokens.push(vocab.bos());
        }
        let body = vocab.tokenize(text.as_bytes(), false, true);
        // A template that prints the BOS text itself must not get a second one.
        if self.add_bos && body.first() == Some(&vocab.bos()) {
            tokens.clear();
        }
        tokens.extend(body);
        tokens
    }

    /// One forward pass over every busy slot, then sampling where logits are ready.
    fn step(&mut self) {
        self.batch.clear();
        let mut room = self.batch_size;
        // Generating slots first: one token each.
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            active.logits_at = None;
            if let Some(token) = active.next.take() {
                let pos = slot.cached.len() as i32;
                if self.batch.add(token, pos, &[i as i32], true).is_ok() {
                    active.logits_at = Some(self.batch.n_tokens() - 1);
                    slot.cached.push(token);
                    room -= 1;
                } else {
                    active.next = Some(token);
                }
            }
        }
        // Then prompt chunks, in slot order, while the batch has room; in the exact
        // mode one aligned chunk per pass.
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            let end = if self.exact {
                (active.fed - active.fed % EXACT_CHUNK + EXACT_CHUNK).min(active.prompt.len())
            } else {
                active.prompt.len()
            };
            while active.fed < end && room > 0 {
                let token = active.prompt[active.fed];
                let last = active.fed + 1 == active.prompt.len();
                let pos = slot.cached.len() as i32;
                if self.batch.add(token, pos, &[i as i32], last).is_err() {
                    room = 0;
                    break;
                }
                if last {
                    active.logits_at = Some(self.batch.n_tokens() - 1);
                }
                slot.cached.push(token);
                active.fed += 1;
                room -= 1;
            }
        }
        if self.batch.n_tokens() == 0 {
            return;
        }
        if let Err(e) = self.ctx.decode(&mut self.batch) {
            // The batch's sequences are in an unknown state: fail them and start afresh.
            for (i, slot) in self.slots.iter_mut().enumerate() {
                if let Some(active) = slot.active.take() {
                    let _ = active.job.reply.send(Err(LlmError::Backend(format!(
                        "llama.cpp decode failed: {e}"
                    ))));
                }
                slot.cached.clear();
                slot.exact_len = 0;
                let _ = self.ctx.clear_kv_cache_seq(Some(i as u32), None, None);
            }
            return;
        }
        if self.exact {
            // A whole chunk before the prompt's last one is reusable as computed.
            for slot in &mut self.slots {
                if let Some(active) = &slot.active
                    && active.fed < active.prompt.len()
                    && active.fed % EXACT_CHUNK == 0
                {
                    slot.exact_len = active.fed;
                }
            }
        }
        for i in 0..self.slots.len() {
            let Some(at) = self.slots[i].active.as_ref().and_then(|a| a.logits_at) else {
                continue;
            };
            let token = self.sample(i, at);
            self.advance(i, token);
        }
    }

    /// Draw the next token of slot `i` from the logits at batch index `at`.
    fn sample(&mut self, i: usize, at: i32) -> LlamaToken {
        let logits = self.ctx.get_logits_ith(at);
        let n = logits.len().min(self.n_vocab);
        let active = self.slots[i].active.as_mut().expect("sampling a busy slot");
        let params = active.job.params;
        // 1. Draw without the grammar and keep the token if the grammar accepts it.
        self.scratch.clear();
        self.scratch
            .extend((0..n).map(|t| LlamaTokenData::new(LlamaToken(t as i32), logits[t], 0.0)));
        let mut draws = active.rng.clone();
        let first = draw(&mut self.scratch, params, &mut draws);
        let mut single =
            LlamaTokenDataArray::new(vec![LlamaTokenData::new(first, 0.0, 0.0)], false);
        active.grammar.apply(&mut single);
        if single.data[0].logit().is_finite() {
            active.rng = draws;
            return first;
        }
        // 2. Mask the vocabulary with the grammar and draw from what remains.
        self.scratch.clear();
        self.scratch
            .extend((0..n).map(|t| LlamaTokenData::new(LlamaToken(t as i32), logits[t], 0.0)));
        let mut all = LlamaTokenDataArray::new(std::mem::take(&mut self.scratch), false);
        active.grammar.apply(&mut all);
        let mut allowed = all.data;
        allowed.retain(|d| d.logit().is_finite());
        let token = if allowed.is_empty() {
            // Nothing fits: the grammar is complete or stuck; end the answer.
            self.model.vocab().eos()
        } else {
            draw(&mut allowed, params, &mut active.rng)
        };
        self.scratch = allowed;
        token
    }

    /// Record `token` for slot `i` and finish the request when its answer is complete.
    fn advance(&mut self, i: usize, token: LlamaToken) {
        let slot = &mut self.slots[i];
        let Some(active) = slot.active.as_mut() else {
            return;
        };
        let eog = self.model.vocab().is_eog(token);
        if !eog {
            active.grammar.accept(token);
            active.n_generated += 1;
            if let Some(p) = self.pieces.get(token.0 as usize) {
                active.generated.extend_from_slice(p);
            }
        }
        let complete = eog
            || (active.job.grammar.closes_itself
                && active
                    .generated
                    .last()
                    .is_some_and(|b| matches!(b, b'}' | b']' | b'"'))
                && serde_json::from_slice::<serde::de::IgnoredAny>(&active.generated).is_ok());
        let out_of_room =
            active.n_generated >= active.limit || slot.cached.len() + 1 >= self.slot_context;
        if !(complete || out_of_room) {
            active.next = Some(token);
            return;
        }
        let Some(active) = slot.active.take() else {
            return;
        };
        let text = String::from_utf8_lossy(&active.generated).into_owned();
        let result = if complete || serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok() {
            Ok(Generation {
                text,
                prompt_tokens: active.prompt.len() as u32,
                cached_tokens: active.cached as u32,
                completion_tokens: active.n_generated + u32::from(eog),
            })
        } else {
            Err(LlmError::Malformed(format!(
                "the answer did not close within {} tokens: {text}",
                active.limit
            )))
        };
        let _ = active.job.reply.send(result);
    }
}

/// Sample a token from `cands` (logits, in token order) with temperature and top-p.
fn draw(
    cands: &mut [LlamaTokenData],
    params: SamplingParams,
    rng: &mut rand_pcg::Pcg64,
) -> LlamaToken {
    let greedy = |c: &[LlamaTokenData]| {
        c.iter()
            .fold(None::<&LlamaTokenData>, |best, d| match best {
                Some(b) if b.logit() >= d.logit() => Some(b),
                _ => Some(d),
            })
            .map_or(LlamaToken(0), |d| d.id())
    };
    if params.temperature <= 0.0 || cands.len() == 1 {
        return greedy(cands);
    }
    let t = params.temperature as f32;
    let max = cands
        .iter()
        .map(|d| d.logit())
        .fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0f64;
    for d in cands.iter_mut() {
        let p = (((d.logit() - max) / t) as f64).exp();
        d.set_p(p as f32);
        total += p;
    }
    let mut kept: &mut [LlamaTokenData] = cands;
    if params.top_p < 1.0 && params.top_p > 0.0 {
        // Most mass sits in few tokens: sort the likely ones, stop at top_p.
        kept.sort_unstable_by(|a, b| b.p().total_cmp(&a.p()).then(a.id().0.cmp(&b.id().0)));
        let target = params.top_p * total;
        let mut acc = 0.0;
        let mut n = kept.len();
        for (k, d) in kept.iter().enumerate() {
            acc += f64::from(d.p());
            if acc >= target {
                n = k + 1;
                break;
            }
        }
        kept = &mut kept[..n];
        total = kept.iter().map(|d| f64::from(d.p())).sum();
    }
    let mut u = rng.random::<f64>() * total;
    for d in kept.iter() {
        u -= f64::from(d.p());
        if u <= 0.0 {
            return d.id();
        }
    }
    kept.last().map_or(LlamaToken(0), |d| d.id())
}

/// `v` scaled to unit Euclidean length (a zero vector stays zero).
fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return v.to_vec();
    }
    v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits() -> Vec<LlamaTokenData> {
        [2.0f32, 1.5, 0.3, -1.0, 1.9, 0.0]
            .iter()
            .enumerate()
            .map(|(i, &l)| LlamaTokenData::new(LlamaToken(i as i32), l, 0.0))
            .collect()
    }

    fn params(temperature: f64, top_p: f64) -> SamplingParams {
        SamplingParams {
            temperature,
            top_p,
            max_tokens: 16,
        }
    }

    fn draws(seed: u64, p: SamplingParams) -> Vec<i32> {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        (0..200)
            .map(|_| draw(&mut logits(), p, &mut rng).0)
            .collect()
    }

    #[test]
    fn sampling_is_reproducible_from_the_seed() {
        let p = params(0.8, 1.0);
        assert_eq!(draws(42, p), draws(42, p));
        assert_ne!(draws(42, p), draws(43, p));
        // Every token with a finite logit can be drawn at a high temperature.
        let mut seen = draws(1, params(5.0, 1.0));
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn temperature_zero_is_greedy_and_top_p_cuts_the_tail() {
        assert!(draws(3, params(0.0, 1.0)).iter().all(|&t| t == 0));
        // The two most likely tokens (logits 2.0 and 1.9) hold more than 50%.
        let mut seen = draws(4, params(1.0, 0.5));
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, vec![0, 4]);
    }
}
