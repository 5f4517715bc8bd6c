//! The Batch API path of the OpenAI-compatible backend against the fake server: one
//! batch for requests that arrive together, the answers of direct calls, failed lines
//! through the gateway's repair, and a recorded batch polled instead of resubmitted.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agora_fake_openai::{FakeConfig, FakeServer, Faults};
use agora_llm::gateway::Gateway;
use agora_llm::openai::batch::BatchSettings;
use agora_llm::openai::{OpenAiSettings, ResponseFormat, backend, batched_backend};
use agora_llm::{ChatModel, ChatRequest};

use common::likert;

fn settings(server: &FakeServer) -> OpenAiSettings {
    OpenAiSettings {
        model: "gpt-4o-mini".into(),
        base_urls: vec![server.base_url()],
        api_key: "sk-test-batch-0123456789".into(),
        per_endpoint_in_flight: 64,
        response_format: ResponseFormat::JsonSchema,
    }
}

fn quick(state_dir: Option<std::path::PathBuf>) -> BatchSettings {
    BatchSettings {
        poll: Duration::from_millis(20),
        window: Duration::from_millis(50),
        state_dir,
    }
}

async fn answers(model: &Arc<dyn ChatModel>, n: u64) -> Vec<serde_json::Value> {
    let requests: Vec<ChatRequest> = (0..n).map(likert).collect();
    let results = futures::future::join_all(requests.iter().map(|r| model.complete(r))).await;
    results.into_iter().map(|r| r.unwrap().answer).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_arriving_together_go_as_one_batch_with_the_answers_of_direct_calls() {
    let direct_server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let batch_server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let direct = backend(settings(&direct_server)).unwrap();
    let batched = batched_backend(settings(&batch_server), quick(None)).unwrap();
    assert!(
        batched.times_own_attempts(),
        "the batch wait is not timed out"
    );
    let want = answers(&direct, 12).await;
    let got = answers(&batched, 12).await;
    assert_eq!(got, want);
    let stats = batch_server.stats();
    assert_eq!(stats.chat_calls.load(Ordering::SeqCst), 0);
    assert_eq!(stats.batches_created.load(Ordering::SeqCst), 1);
    assert!(stats.batch_polls.load(Ordering::SeqCst) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_lines_go_through_the_gateway_repair_in_a_later_batch() {
    let config = FakeConfig {
        faults: Faults {
            invalid_answer: 0.5,
            ..Faults::default()
        },
        ..FakeConfig::default()
    };
    let server = FakeServer::start(config).await.unwrap();
    let batched = batched_backend(settings(&server), quick(None)).unwrap();
    let model = Gateway::default().wrap(batched);
    let requests: Vec<ChatRequest> = (0..16).map(likert).collect();
    let results = futures::future::join_all(requests.iter().map(|r| model.complete(r))).await;
    let stats = server.stats();
    assert!(
        stats.faults.load(Ordering::SeqCst) > 0,
        "some lines broke the schema"
    );
    assert!(
        stats.batches_created.load(Ordering::SeqCst) >= 2,
        "the repair re-asks went out as another batch"
    );
    assert_eq!(stats.chat_calls.load(Ordering::SeqCst), 0);
    for result in results {
        match result {
            Ok(r) => assert!(r.answer["answer"].is_u64(), "{}", r.answer),
            Err(e) => assert!(
                e.to_string().contains("schema") || e.to_string().contains("answer"),
                "{e}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_batch_is_polled_instead_of_submitted_again() {
    let server = FakeServer::start(FakeConfig {
        batch_delay: Duration::from_millis(300),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("batches");
    // The first backend is dropped while its batch is in flight, as a killed run is.
    let slow_poll = BatchSettings {
        poll: Duration::from_secs(600),
        ..quick(Some(state.clone()))
    };
    let first = batched_backend(settings(&server), slow_poll).unwrap();
    let request = likert(1);
    let abandoned =
        tokio::time::timeout(Duration::from_millis(200), first.complete(&request)).await;
    assert!(abandoned.is_err(), "the batch was still in flight");
    assert_eq!(
        std::fs::read_dir(&state).unwrap().count(),
        1,
        "the batch is recorded"
    );
    drop(first);
    let second = batched_backend(settings(&server), quick(Some(state.clone()))).unwrap();
    let again = answers(&second, 2).await;
    let stats = server.stats();
    // Request 0 is new (one new batch); request 1 was in the recorded batch.
    assert_eq!(stats.batches_created.load(Ordering::SeqCst), 2);
    let direct_server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let direct = backend(settings(&direct_server)).unwrap();
    assert_eq!(again, answers(&direct, 2).await);
    assert_eq!(
        std::fs::read_dir(&state).unwrap().count(),
        0,
        "records are removed once answered"
    );
}
