//! The embedded local model: constrained answers from the real default model, an
//! end-to-end survey run on it, and clear errors for files it cannot run.
//!
//! Tests that need the default model skip with a printed reason when it is not cached
//! (`agora models fetch` downloads it), except under CI (`CI` set), where they fail.

mod common;

use std::sync::Arc;

use agora_llm::local::LocalModel;
use agora_llm::{ChatMessage, ChatModel, ChatRequest, SamplingParams};
use common::*;
use serde_json::{Value, json};

/// The default model; these tests need it (`just model` or `agora models fetch` gets it).
fn default_model() -> Arc<LocalModel> {
    LocalModel::shared(None, "local").unwrap_or_else(|e| {
        panic!("the default local model is needed for these tests (run `agora models fetch`): {e}")
    })
}

fn request(system: &str, user: &str, schema: &Value, seed: u64, temperature: f64) -> ChatRequest {
    ChatRequest {
        task: "test.answer",
        messages: vec![ChatMessage::system(system), ChatMessage::user(user)],
        schema: Arc::new(schema.clone()),
        params: SamplingParams {
            temperature,
            top_p: 1.0,
            max_tokens: 64,
        },
        seed,
        facts: None,
    }
}

fn bid_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "bid": {"type": "number", "minimum": 0, "maximum": 250},
            "reason": {"type": "string", "maxLength": 40}
        },
        "required": ["bid", "reason"],
        "additionalProperties": false
    })
}

fn likert_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"answer": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["answer"],
        "additionalProperties": false
    })
}

const PERSONAS: [&str; 5] = [
    "You are Ana, 34, a nurse in a large city who cooks rarely.",
    "You are Bob, 61, a retired farmer who grows his own vegetables.",
    "You are Chen, 22, a student on a tight budget.",
    "You are Dana, 45, a lawyer with two children and little time.",
    "You are Eli, 29, a software developer who loves trying new gadgets.",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_constrained_bids_and_likert_answers_parse_and_respect_their_bounds() {
    let model = default_model();
    let bid = bid_schema();
    let likert = likert_schema();
    let mut requests = Vec::new();
    for i in 0..50u64 {
        let persona = PERSONAS[i as usize % PERSONAS.len()];
        requests.push(request(
            persona,
            "A sealed-bid auction sells a used road bike. What is the most you bid, in dollars? Reply with JSON {\"bid\": number, \"reason\": text}.",
            &bid,
            1000 + i,
            1.0,
        ));
        requests.push(request(
            persona,
            "A meal kit would save me time during the week. Answer from 1 (disagree) to 7 (agree). Reply with JSON {\"answer\": ...}.",
            &likert,
            2000 + i,
            1.0,
        ));
    }
    let answers = futures::future::join_all(requests.iter().map(|r| model.complete(r))).await;
    let mut bids = Vec::new();
    let mut points = Vec::new();
    for (request, answer) in requests.iter().zip(answers) {
        let response = answer.unwrap_or_else(|e| panic!("seed {}: {e}", request.seed));
        assert!(response.usage.prompt_tokens > 0 && response.usage.completion_tokens > 0);
        let value = &response.answer;
        if request.schema.as_ref() == &bid {
            let b = value["bid"]
                .as_f64()
                .unwrap_or_else(|| panic!("no bid: {value}"));
            assert!((0.0..=250.0).contains(&b), "bid out of bounds: {value}");
            let reason = value["reason"]
                .as_str()
                .unwrap_or_else(|| panic!("no reason: {value}"));
            assert!(reason.chars().count() <= 40, "reason too long: {value}");
            assert_eq!(value.as_object().map(|o| o.len()), Some(2), "{value}");
            bids.push(b);
        } else {
            let p = value["answer"]
                .as_i64()
                .unwrap_or_else(|| panic!("not an integer: {value}"));
            assert!((1..=7).contains(&p), "Likert answer out of bounds: {value}");
            assert_eq!(value.as_object().map(|o| o.len()), Some(1), "{value}");
            points.push(p);
        }
    }
    assert_eq!((bids.len(), points.len()), (50, 50));
    // Sampling at temperature 1 with 50 seeds gives more than one answer.
    points.sort_unstable();
    points.dedup();
    assert!(
        points.len() > 1,
        "every Likert answer was the same: {points:?}"
    );
}

/// What an agent remembers: enough text that its prompt spans several 64-token chunks.
const MEMORY: &str = "Last month you bought a used road bike for 180 dollars after comparing \
    three offers online, and you rode it to work every day since. You care about value for \
    money, you dislike haggling, and you read reviews before every purchase. Your budget \
    for hobbies is about 100 dollars a month, and you keep a list of what you spent. \
    On weekends you ride with a club of twelve people along the river, and you often lend \
    tools to friends who are new to cycling.";

/// Prompt tokens the exact mode reuses from a cached prompt of `prompt_tokens`: every
/// whole 64-token chunk before the one holding the last token.
fn whole_chunks(prompt_tokens: u32) -> u32 {
    (prompt_tokens - 1) / 64 * 64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_prompt_is_served_from_the_prefix_cache() {
    let schema = bid_schema();
    let make = |seed| {
        request(
            &format!("{} {MEMORY}", PERSONAS[0]),
            "What is the most you would pay for a used road bike, in dollars? Reply with JSON.",
            &schema,
            seed,
            0.0,
        )
    };
    // Exact (the default): whole aligned chunks come from the cache.
    let model = default_model();
    let first = model.complete(&make(7)).await.expect("an answer");
    let again = model.complete(&make(7)).await.expect("an answer");
    assert_eq!(first.answer, again.answer);
    assert_eq!(first.usage.prompt_tokens, again.usage.prompt_tokens);
    assert!(again.usage.prompt_tokens > 128, "{:?}", again.usage);
    assert_eq!(
        again.usage.cached_tokens,
        whole_chunks(again.usage.prompt_tokens),
        "{:?}",
        again.usage
    );
    // Batched: all but the last prompt token.
    let batched = fresh_model(agora_llm::local::WorkerConfig::batched(8));
    batched.complete(&make(7)).await.expect("an answer");
    let again = batched.complete(&make(7)).await.expect("an answer");
    assert!(again.answer["bid"].is_number(), "{}", again.answer);
    assert!(
        again.usage.cached_tokens + 1 >= again.usage.prompt_tokens,
        "all but the last prompt token come from the cache: {:?}",
        again.usage
    );
}

#[tokio::test]
async fn an_agents_prefix_survives_more_agents_than_decode_slots() {
    let model = default_model();
    let schema = bid_schema();
    let ask = |agent: usize| {
        request(
            &format!(
                "You are bidder number {agent}. {} {MEMORY}",
                PERSONAS[agent % PERSONAS.len()]
            ),
            "What is the most you would pay for a used road bike, in dollars? Reply with JSON.",
            &schema,
            7,
            0.0,
        )
    };
    // Twenty agents, more than the one request decoded at a time, ask at once...
    let asks: Vec<ChatRequest> = (0..20).map(ask).collect();
    let answers = futures::future::join_all(asks.iter().map(|r| model.complete(r))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    // ...and the first agent's next request still finds its own prompt's prefix.
    let again = model.complete(&ask(0)).await.expect("an answer");
    assert_eq!(
        again.usage.cached_tokens,
        whole_chunks(again.usage.prompt_tokens),
        "{:?}",
        again.usage
    );
    assert!(again.usage.cached_tokens >= 128, "{:?}", again.usage);
}

#[test]
fn a_survey_runs_end_to_end_on_the_local_model() {
    default_model();
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let r = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "local",
            "--agents",
            "3",
            "--out",
            "out",
        ],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let out = dir.path().join("out");
    assert_eq!(
        parquet_rows(&table_file(&out, "survey_responses", "base", 0)),
        3 * 4
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let run = &manifest["runs"][0];
    assert_eq!(run["model"], "local");
    assert!(run["prompt_tokens"].as_u64().unwrap() > 100, "{run}");
    assert!(run["completion_tokens"].as_u64().unwrap() > 10, "{run}");
    // Constrained decoding: every answer parses; only the mechanism's own checks
    // (none expected here) could turn one into a fallback.
    assert_eq!(run["fallbacks"], 0, "{run}");
}

#[test]
fn files_the_backend_cannot_run_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    std::fs::write(
        dir.path().join("notes.gguf"),
        b"not a model, just some text",
    )
    .unwrap();
    let mut truncated = b"GGUF".to_vec();
    truncated.extend(3u32.to_le_bytes());
    truncated.extend(200u64.to_le_bytes());
    truncated.extend(5u64.to_le_bytes());
    truncated.extend([0u8; 40]);
    std::fs::write(dir.path().join("cut.gguf"), &truncated).unwrap();
    for (file, words) in [
        ("missing.gguf", &["missing.gguf", "not found"][..]),
        ("notes.gguf", &["notes.gguf", "not a GGUF model file"][..]),
        ("cut.gguf", &["cut.gguf", "corrupt or truncated"][..]),
    ] {
        let spec = format!("local:{file}");
        let r = agora(
            dir.path(),
            &[
                "run",
                scenario.to_str().unwrap(),
                "--model",
                &spec,
                "--out",
                "out",
            ],
        );
        assert_eq!(r.status.code(), Some(1), "{file}: {}", stderr(&r));
        for word in words {
            assert!(
                stderr(&r).contains(word),
                "{file}: expected {word:?} in {}",
                stderr(&r)
            );
        }
        assert!(!stderr(&r).contains("panicked"), "{}", stderr(&r));
        assert!(!dir.path().join("out").exists(), "nothing is written");
    }
}

#[test]
fn the_default_model_is_announced_when_no_model_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    // An empty cache: the run stops before writing and says how to get the model.
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .args(["run", scenario.to_str().unwrap(), "--out", "out"])
        .env("AGORA_CACHE_DIR", dir.path().join("cache"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("using the embedded local model"), "{err}");
    assert_eq!(err.matches("no model named").count(), 1, "{err}");
    assert!(err.contains("agora models fetch"), "{err}");
    assert!(!dir.path().join("out").exists());
}

/// The default model, loaded afresh (its own worker and an empty prompt cache) with
/// `config`.
fn fresh_model(config: agora_llm::local::WorkerConfig) -> LocalModel {
    let path = agora_llm::local::default_model_path().expect("a cache directory");
    default_model();
    LocalModel::load(&path, "local", config).expect("the default model loads")
}

/// Twelve requests at temperature 1 with free-text reasons: many sampled tokens, so
/// any change in the logits shows in the answers.
fn varied_requests() -> Vec<ChatRequest> {
    let schema = bid_schema();
    (0..12u64)
        .map(|i| {
            request(
                PERSONAS[i as usize % PERSONAS.len()],
                if i % 2 == 0 {
                    "A sealed-bid auction sells a used road bike. What is the most you bid, in dollars? Reply with JSON {\"bid\": number, \"reason\": text}."
                } else {
                    "A sealed-bid auction sells a box of vintage records. What is the most you bid, in dollars, and why? Reply with JSON."
                },
                &schema,
                500 + i,
                1.0,
            )
        })
        .collect()
}

fn texts(answers: Vec<Result<agora_llm::ChatResponse, agora_llm::LlmError>>) -> Vec<String> {
    answers
        .into_iter()
        .map(|a| {
            let a = a.expect("an answer");
            format!("{} ({} tokens)", a.answer, a.usage.completion_tokens)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_answers_do_not_depend_on_order_history_or_company() {
    let config = agora_llm::local::WorkerConfig::default();
    assert!(config.is_exact());
    let requests = varied_requests();
    // One model answers the requests one by one, in order...
    let alone = fresh_model(config);
    let mut one_by_one = Vec::new();
    for r in &requests {
        one_by_one.push(alone.complete(r).await);
    }
    let one_by_one = texts(one_by_one);
    // ...another gets them all at once, in reverse order, after other work that
    // leaves different prompts in its cache.
    let busy = fresh_model(config);
    let warmup = request(
        "You are a market researcher.",
        "Rate this study from 1 to 7.",
        &likert_schema(),
        1,
        1.0,
    );
    busy.complete(&warmup).await.expect("an answer");
    let reversed: Vec<&ChatRequest> = requests.iter().rev().collect();
    let mut together =
        texts(futures::future::join_all(reversed.iter().map(|r| busy.complete(r))).await);
    together.reverse();
    assert_eq!(one_by_one, together);
    // The prefix cache was used, and the reuse did not change the answers.
    let again = busy.complete(&requests[0]).await.expect("an answer");
    assert!(again.usage.cached_tokens > 0, "{:?}", again.usage);
    assert_eq!(texts(vec![Ok(again)]), one_by_one[..1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_requests_are_timed_from_their_turn_and_long_ones_time_out() {
    use agora_llm::gateway::{Gateway, RetryPolicy};
    let model: Arc<dyn ChatModel> = Arc::new(fresh_model(Default::default()));
    let requests = varied_requests();
    // The first answer also pages the model's weights in: it is not a measure of one
    // request's time.
    model.complete(&requests[0]).await.expect("an answer");
    // How long each of twelve requests takes on its own here (answers differ in length,
    // and a shared machine in speed); asked again, each answers the same way.
    let asked = &requests[..];
    let mut longest = std::time::Duration::ZERO;
    let mut alone = std::time::Duration::ZERO;
    for r in asked {
        let started = std::time::Instant::now();
        model.complete(r).await.expect("an answer");
        longest = longest.max(started.elapsed());
        alone += started.elapsed();
    }
    // Twelve at once wait in the queue longer than a timeout of four times the longest
    // answer's time (room for a machine busy with other tests), and none times out:
    // each one's clock starts at its turn.
    let timeout = longest * 4;
    assert!(
        alone > timeout,
        "{alone:?} for twelve, {longest:?} the longest"
    );
    let gateway = |timeout| {
        Gateway {
            retry: RetryPolicy {
                max_attempts: 1,
                timeout,
                ..RetryPolicy::default()
            },
            ..Gateway::default()
        }
        .wrap(model.clone())
    };
    let patient = gateway(timeout);
    let started = std::time::Instant::now();
    let answers = futures::future::join_all(asked.iter().map(|r| patient.complete(r))).await;
    let all = started.elapsed();
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert!(
        all > timeout,
        "{all:?} for twelve, {longest:?} the longest alone"
    );
    // The last answers waited longer than the timeout from their arrival.
    let waited = answers
        .iter()
        .flatten()
        .map(|a| a.latency)
        .max()
        .unwrap_or_default();
    assert!(waited > timeout, "{waited:?}, timeout {timeout:?}");
    // A limit shorter than any answer: the worker stops the request and says so.
    let hasty = gateway(std::time::Duration::from_millis(1));
    let err = hasty.complete(&requests[1]).await.unwrap_err();
    assert!(
        matches!(err.last(), agora_llm::LlmError::Timeout(_)),
        "{err}"
    );
    // The worker is free again afterwards.
    assert!(patient.complete(&requests[2]).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_are_unit_length_deterministic_and_closer_for_similar_texts() {
    let model = default_model();
    let texts: Vec<String> = [
        "I would definitely buy this meal kit; it saves me a lot of time.",
        "I'd surely purchase this meal kit because it would save me time.",
        "The stock market fell sharply after the central bank raised interest rates.",
    ]
    .map(String::from)
    .to_vec();
    let vectors = model.embed(&texts).await.expect("embeddings");
    assert_eq!(vectors.len(), 3);
    let dim = vectors[0].len();
    assert!(dim >= 64, "{dim}");
    for v in &vectors {
        assert_eq!(v.len(), dim);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let similar = cos(&vectors[0], &vectors[1]);
    let unrelated = cos(&vectors[0], &vectors[2]);
    assert!(
        similar > unrelated,
        "similar {similar}, unrelated {unrelated}"
    );
    // The same text gives the same vector, alone, in another batch and while chat
    // requests are being decoded.
    let alone = model.embed(&texts[2..]).await.expect("an embedding");
    assert_eq!(alone[0], vectors[2]);
    let chat = request(
        PERSONAS[1],
        "Rate the meal kit from 1 to 7.",
        &likert_schema(),
        3,
        1.0,
    );
    let (answer, during) = tokio::join!(model.complete(&chat), model.embed(&texts));
    answer.expect("an answer");
    assert_eq!(during.expect("embeddings"), vectors);
    // Mechanisms ask through the gateway with an embedding request: the same vectors.
    let asked = model
        .complete(&agora_llm::embedding_request(
            "concept.embed",
            agora_llm::EmbeddingQuery {
                model: "any".into(),
                inputs: texts.clone(),
                dimensions: None,
            },
        ))
        .await
        .expect("embeddings through the chat interface");
    let asked = agora_llm::embeddings_of(&asked.answer).expect("an embeddings answer");
    assert_eq!(asked.len(), 3);
    for (got, want) in asked.iter().zip(&vectors) {
        assert!(got.iter().zip(want).all(|(g, w)| *g == f64::from(*w)));
    }
    // Empty input is refused with the reason.
    let err = model.embed(&[String::new()]).await.unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    assert!(model.embed(&[]).await.expect("nothing").is_empty());
}

#[test]
fn two_runs_of_a_survey_without_the_cache_write_identical_tables() {
    default_model();
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let mut tables = Vec::new();
    for out in ["one", "two"] {
        let r = agora(
            dir.path(),
            &[
                "run",
                scenario.to_str().unwrap(),
                "--model",
                "local",
                "--agents",
                "4",
                "--cache",
                "off",
                "--out",
                out,
            ],
        );
        assert!(r.status.success(), "{}", stderr(&r));
        let files = parts(&table_file(
            &dir.path().join(out),
            "survey_responses",
            "base",
            0,
        ));
        assert!(!files.is_empty());
        tables.push(
            files
                .iter()
                .map(|f| std::fs::read(f).unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        parquet_rows(&table_file(
            &dir.path().join("one"),
            "survey_responses",
            "base",
            0
        )),
        4 * 4
    );
    assert!(tables[0] == tables[1], "the two runs' survey tables differ");
}
