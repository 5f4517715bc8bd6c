//! The OpenAI-compatible backend and the gateway against the fake server: every fault
//! kind, structured output and JSON mode, the cache, replay and the repair path.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agora_fake_openai::{EchoKey, FakeConfig, FakeServer, Faults};
use agora_llm::gateway::{CacheMode, CallCache, Gateway, PriceTable, RetryPolicy};
use agora_llm::openai::{OpenAiBackend, OpenAiSettings, ResponseFormat};
use agora_llm::{ChatModel, LlmError};
use serde_json::json;

use common::likert;

const KEY: &str = "sk-test-4f1d2c3b5a6978";

fn settings(server: &FakeServer) -> OpenAiSettings {
    OpenAiSettings {
        model: "gpt-4o-mini".into(),
        base_urls: vec![server.base_url()],
        api_key: KEY.into(),
        per_endpoint_in_flight: 64,
        response_format: ResponseFormat::JsonSchema,
    }
}

fn gateway(cache: Option<(Arc<CallCache>, CacheMode)>) -> Gateway {
    Gateway {
        retry: RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            timeout: Duration::from_millis(500),
        },
        prices: PriceTable::built_in(),
        cache,
        ..Gateway::default()
    }
}

fn answer_in_range(value: &serde_json::Value) -> bool {
    value["answer"]
        .as_i64()
        .is_some_and(|a| (1..=5).contains(&a))
}

#[tokio::test]
async fn structured_answers_come_back_with_usage_cost_and_the_key_sent() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let model = gateway(None).wrap(Arc::new(OpenAiBackend::new(settings(&server)).unwrap()));
    assert_eq!(model.name(), "openai:gpt-4o-mini");
    let r = model.complete(&likert(1)).await.unwrap();
    assert!(answer_in_range(&r.answer), "{}", r.answer);
    assert!(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
    assert!(r.meta.cost_usd.is_some_and(|c| c > 0.0));
    assert_eq!(r.meta.attempts, 1);
    assert_eq!(
        server.stats().authorizations(),
        vec![format!("Bearer {KEY}")]
    );
}

#[tokio::test]
async fn every_fault_kind_is_survived() {
    for (name, faults) in [
        (
            "429",
            Faults {
                rate_limited: 0.5,
                ..Faults::default()
            },
        ),
        (
            "500",
            Faults {
                server_error: 0.5,
                ..Faults::default()
            },
        ),
        (
            "malformed",
            Faults {
                malformed: 0.5,
                ..Faults::default()
            },
        ),
        // One repair only: at 20% invalid answers about 4% of calls fail validation twice.
        (
            "invalid answer",
            Faults {
                invalid_answer: 0.2,
                ..Faults::default()
            },
        ),
        (
            "hang",
            Faults {
                hang: 0.3,
                ..Faults::default()
            },
        ),
    ] {
        let server = FakeServer::start(FakeConfig {
            faults,
            seed: 3,
            ..FakeConfig::default()
        })
        .await
        .unwrap();
        let model = gateway(None).wrap(Arc::new(OpenAiBackend::new(settings(&server)).unwrap()));
        let calls = (0..40).map(|i| {
            let model = model.clone();
            async move { model.complete(&likert(i)).await }
        });
        let answers = futures::future::join_all(calls).await;
        let ok = answers
            .iter()
            .filter(|a| a.as_ref().is_ok_and(|r| answer_in_range(&r.answer)))
            .count();
        assert!(
            ok >= 34,
            "{name}: only {ok} of 40 calls succeeded: {:?}",
            answers.iter().find(|a| a.is_err())
        );
        assert!(
            server
                .stats()
                .faults
                .load(std::sync::atomic::Ordering::SeqCst)
                > 0,
            "{name}: no fault was injected"
        );
        if name == "invalid answer" {
            assert!(
                answers.iter().flatten().any(|r| r.meta.repaired.is_some()),
                "{name}: repairs are recorded"
            );
        }
        if name == "429" || name == "500" || name == "hang" || name == "malformed" {
            assert!(
                answers.iter().flatten().any(|r| r.meta.attempts > 1),
                "{name}: retries are recorded"
            );
        }
    }
}

#[tokio::test]
async fn client_errors_are_not_retried_and_never_show_the_key() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let mut s = settings(&server);
    s.model = "x".into();
    s.base_urls = vec![format!("{}/nowhere", server.base_url())];
    let model = gateway(None).wrap(Arc::new(OpenAiBackend::new(s).unwrap()));
    let err = model.complete(&likert(1)).await.unwrap_err();
    assert!(matches!(err, LlmError::Http { status: 404, .. }), "{err}");
    assert_eq!(server.stats().requests(), 1);
    assert!(!err.to_string().contains(KEY) && !format!("{err:?}").contains(KEY));
}

#[tokio::test]
async fn a_server_without_structured_output_is_switched_to_json_mode() {
    let server = FakeServer::start(FakeConfig {
        reject_json_schema: true,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let model = gateway(None).wrap(Arc::new(OpenAiBackend::new(settings(&server)).unwrap()));
    // In JSON mode the fake server answers {"answer": 1}; the gateway validates it.
    let r = model.complete(&likert(1)).await.unwrap();
    assert_eq!(r.answer, json!({ "answer": 1 }));
    let r = model.complete(&likert(2)).await.unwrap();
    assert_eq!(r.answer, json!({ "answer": 1 }));
    assert_eq!(
        server.stats().requests(),
        3,
        "one rejected request, then JSON mode for good"
    );
}

#[tokio::test]
async fn a_warm_cache_answers_identically_without_calls_and_replay_fails_loudly_on_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(CallCache::open(&dir.path().join("calls.sqlite")).unwrap());
    let server = FakeServer::start(FakeConfig {
        faults: Faults {
            server_error: 0.3,
            ..Faults::default()
        },
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let backend: Arc<dyn ChatModel> = Arc::new(OpenAiBackend::new(settings(&server)).unwrap());
    let cold = gateway(Some((cache.clone(), CacheMode::Write))).wrap(backend.clone());
    let mut first = Vec::new();
    for i in 0..10 {
        first.push(cold.complete(&likert(i)).await.unwrap());
    }
    let sent = server.stats().requests();
    let replay = gateway(Some((cache.clone(), CacheMode::Replay))).wrap(backend);
    for (i, before) in first.iter().enumerate() {
        let again = replay.complete(&likert(i as u64)).await.unwrap();
        assert!(again.meta.cache_hit);
        assert_eq!(
            (
                &again.answer,
                again.usage,
                again.latency,
                again.meta.attempts
            ),
            (
                &before.answer,
                before.usage,
                before.latency,
                before.meta.attempts
            )
        );
    }
    assert_eq!(
        server.stats().requests(),
        sent,
        "no call reached the server"
    );
    assert_eq!(
        replay.complete(&likert(99)).await.unwrap_err(),
        LlmError::CacheMiss
    );
    assert!(
        !cache_files_contain(dir.path(), KEY),
        "the key never reaches the cache file"
    );
}

/// Whether any file of the cache directory (the store, its log) contains `text`.
fn cache_files_contain(dir: &Path, text: &str) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|file| {
        let bytes = std::fs::read(file.path()).unwrap_or_default();
        bytes
            .windows(text.len())
            .any(|window| window == text.as_bytes())
    })
}

fn never_valid_server() -> FakeConfig {
    FakeConfig {
        faults: Faults {
            invalid_answer: 1.0,
            ..Faults::default()
        },
        ..FakeConfig::default()
    }
}

#[tokio::test]
async fn a_call_whose_answers_never_validate_counts_its_tokens_and_cost_and_is_replayed_free() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(CallCache::open(&dir.path().join("calls.sqlite")).unwrap());
    let server = FakeServer::start(never_valid_server()).await.unwrap();
    let backend: Arc<dyn ChatModel> = Arc::new(OpenAiBackend::new(settings(&server)).unwrap());
    let model = gateway(Some((cache.clone(), CacheMode::Write))).wrap(backend.clone());
    let err = model.complete(&likert(1)).await.unwrap_err();
    assert!(
        err.to_string().contains("does not match the schema"),
        "{err}"
    );
    assert_eq!(server.stats().requests(), 2, "the answer and one repair");
    let usage = err.usage();
    assert!(
        usage.prompt_tokens > 0 && usage.completion_tokens > 0,
        "{usage:?}"
    );
    let meta = err.meta().unwrap();
    assert!(meta.cost_usd.is_some_and(|c| c > 0.0), "{meta:?}");
    assert!(!meta.cache_hit);
    assert_eq!(err.attempts(), 2);
    // A rerun replays the same failure from the cache, at no cost to the server.
    let again = model.complete(&likert(1)).await.unwrap_err();
    assert_eq!(again.to_string(), err.to_string());
    assert!(again.meta().unwrap().cache_hit);
    assert_eq!((again.usage(), again.attempts()), (usage, 2));
    assert_eq!(server.stats().requests(), 2);
    // --retry-failed asks again.
    let retrying = Gateway {
        retry_failed: true,
        ..gateway(Some((cache.clone(), CacheMode::Write)))
    }
    .wrap(backend);
    retrying.complete(&likert(1)).await.unwrap_err();
    assert_eq!(server.stats().requests(), 4);
}

#[tokio::test]
async fn hostile_retry_after_values_are_capped_and_never_panic() {
    for header in [
        "1e300",
        "100000",
        "-3",
        "NaN",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let server = FakeServer::start(FakeConfig {
            faults: Faults {
                rate_limited: 1.0,
                ..Faults::default()
            },
            retry_after_header: Some(header.into()),
            ..FakeConfig::default()
        })
        .await
        .unwrap();
        let mut gateway = gateway(None);
        gateway.retry.max_attempts = 2;
        let model = gateway.wrap(Arc::new(OpenAiBackend::new(settings(&server)).unwrap()));
        let started = std::time::Instant::now();
        let err = model.complete(&likert(1)).await.unwrap_err();
        let waited = started.elapsed();
        assert!(err.to_string().contains("HTTP 429"), "{header}: {err}");
        assert_eq!(server.stats().requests(), 2, "{header}");
        // The wait is capped by the per-attempt timeout (500 ms here, below 60 s).
        assert!(
            waited < Duration::from_secs(3),
            "{header}: waited {waited:?}"
        );
    }
}

#[tokio::test]
async fn an_api_key_echoed_by_the_server_is_scrubbed_from_answers_errors_and_the_cache() {
    let schema = json!({
        "type": "object",
        "properties": {
            "answer": { "type": "integer", "minimum": 1, "maximum": 5 },
            "reason": { "type": "string" }
        },
        "required": ["answer", "reason"],
        "additionalProperties": false
    });
    for key in [KEY, "q~Z"] {
        for echo in [
            EchoKey::InAnswer,
            EchoKey::InInvalidAnswer,
            EchoKey::InMalformedAnswer,
            EchoKey::InError,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let cache = Arc::new(CallCache::open(&dir.path().join("calls.sqlite")).unwrap());
            let server = FakeServer::start(FakeConfig {
                echo_key: Some(echo),
                ..FakeConfig::default()
            })
            .await
            .unwrap();
            let mut s = settings(&server);
            s.api_key = key.into();
            let model = gateway(Some((cache.clone(), CacheMode::Write)))
                .wrap(Arc::new(OpenAiBackend::new(s).unwrap()));
            let mut request = likert(1);
            request.schema = Arc::new(schema.clone());
            let mut seen = Vec::new();
            for _ in 0..2 {
                match model.complete(&request).await {
                    Ok(r) => seen.push(format!("{} {:?}", r.answer, r)),
                    Err(e) => seen.push(format!("{e} {e:?}")),
                }
            }
            assert!(
                server.stats().authorizations()[0].ends_with(key),
                "the key was sent"
            );
            for text in &seen {
                assert!(!text.contains(key), "{echo:?}, key {key}: {text}");
            }
            if echo == EchoKey::InAnswer {
                assert!(seen[0].contains("[redacted]"), "{}", seen[0]);
            }
            drop(model);
            assert!(
                !cache_files_contain(dir.path(), key),
                "{echo:?}, key {key}: the key reached the cache"
            );
        }
    }
}

/// The child process of the next test: stores one answer in the cache directory
/// named by `AGORA_TEST_CACHE_DIR`, then dies without any cleanup.
#[tokio::test]
#[ignore = "run by a_killed_process_keeps_its_answers_while_another_shares_the_cache"]
async fn child_stores_one_answer_then_aborts() {
    let Some(dir) = std::env::var_os("AGORA_TEST_CACHE_DIR") else {
        return;
    };
    let cache = Arc::new(CallCache::open(&Path::new(&dir).join("calls.sqlite")).unwrap());
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let model = gateway(Some((cache, CacheMode::Write)))
        .wrap(Arc::new(OpenAiBackend::new(settings(&server)).unwrap()));
    model.complete(&likert(7)).await.unwrap();
    std::process::abort();
}

#[tokio::test]
async fn a_killed_process_keeps_its_answers_while_another_shares_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    // This process holds the cache open (and writes to it) while the child uses it.
    let cache = Arc::new(CallCache::open(&dir.path().join("calls.sqlite")).unwrap());
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let backend: Arc<dyn ChatModel> = Arc::new(OpenAiBackend::new(settings(&server)).unwrap());
    let model = gateway(Some((cache.clone(), CacheMode::Write))).wrap(backend.clone());
    model.complete(&likert(1)).await.unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_stores_one_answer_then_aborts",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("AGORA_TEST_CACHE_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child crashed on purpose");
    model.complete(&likert(2)).await.unwrap();
    let replay = gateway(Some((cache, CacheMode::Replay))).wrap(backend);
    for seed in [1, 2, 7] {
        let r = replay.complete(&likert(seed)).await.unwrap();
        assert!(r.meta.cache_hit, "seed {seed}");
    }
    assert_eq!(
        server.stats().requests(),
        2,
        "the child used its own server"
    );
}

#[tokio::test]
async fn sampling_parameters_reach_the_server_as_written() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let model = gateway(None).wrap(Arc::new(OpenAiBackend::new(settings(&server)).unwrap()));
    let mut request = likert(7);
    request.params.temperature = 0.8;
    request.params.top_p = 0.9;
    model.complete(&request).await.unwrap();
    let body = server
        .stats()
        .last_body()
        .expect("the server saw a request");
    // An f32 0.8 would be written 0.800000011920929.
    assert!(
        !body.contains("0.80000") && !body.contains("0.89999"),
        "{body}"
    );
    let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sent["temperature"].as_f64(), Some(0.8));
    assert_eq!(sent["top_p"].as_f64(), Some(0.9));
}
