//! Several endpoints behind one backend: calls are spread by weight, and a server that
//! dies mid-run leaves the rotation while the others answer every call.

mod common;

use std::sync::Arc;
use std::time::Duration;

use agora_fake_openai::{FakeConfig, FakeServer};
use agora_llm::ChatModel;
use agora_llm::gateway::{Gateway, PriceTable, RetryPolicy};
use agora_llm::openai::{OpenAiBackend, OpenAiSettings, ResponseFormat};

use common::likert;

fn settings(base_urls: Vec<String>) -> OpenAiSettings {
    OpenAiSettings {
        model: "gpt-4o-mini".into(),
        base_urls,
        api_key: String::new(),
        per_endpoint_in_flight: 8,
        response_format: ResponseFormat::JsonSchema,
    }
}

fn gateway() -> Gateway {
    Gateway {
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            timeout: Duration::from_millis(2000),
        },
        prices: PriceTable::built_in(),
        ..Gateway::default()
    }
}

#[tokio::test]
async fn calls_are_spread_by_weight() {
    let a = FakeServer::start(FakeConfig::default()).await.unwrap();
    let b = FakeServer::start(FakeConfig::default()).await.unwrap();
    let backend =
        OpenAiBackend::new(settings(vec![format!("{}|3", a.base_url()), b.base_url()])).unwrap();
    let mut served = std::collections::BTreeMap::new();
    for seed in 0..40 {
        let answer = backend.complete(&likert(seed)).await.unwrap();
        let endpoint = answer.meta.endpoint.expect("the answering server is named");
        *served.entry(endpoint).or_insert(0) += 1;
    }
    assert_eq!(a.stats().requests(), 30);
    assert_eq!(b.stats().requests(), 10);
    assert_eq!(served.get(a.base_url().trim_end_matches('/')), Some(&30));
    assert_eq!(served.get(b.base_url().trim_end_matches('/')), Some(&10));
    let bad = OpenAiBackend::new(settings(vec![format!("{}|0", a.base_url())]))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(bad.contains("from 1 to 1000"), "{bad}");
}

#[tokio::test]
async fn a_server_killed_mid_run_leaves_the_rotation_and_every_call_is_answered() {
    let a = FakeServer::start(FakeConfig::default()).await.unwrap();
    let b = FakeServer::start(FakeConfig::default()).await.unwrap();
    let model = gateway().wrap(Arc::new(
        OpenAiBackend::new(settings(vec![a.base_url(), b.base_url()])).unwrap(),
    ));
    for seed in 0..20 {
        model.complete(&likert(seed)).await.unwrap();
    }
    assert_eq!(a.stats().requests(), 10);
    assert_eq!(b.stats().requests(), 10);
    // Server b dies; calls fail over to a, and b is out of rotation, so it is not
    // asked again on every other call.
    drop(b);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = a.stats().requests();
    for seed in 20..60 {
        let answer = model.complete(&likert(seed)).await;
        assert!(answer.is_ok(), "call {seed}: {answer:?}");
    }
    assert_eq!(
        a.stats().requests() - before,
        40,
        "server a answered every call after b died"
    );
    // The answers are those a single server gives: the same request, the same answer.
    let alone = FakeServer::start(FakeConfig::default()).await.unwrap();
    let single = OpenAiBackend::new(settings(vec![alone.base_url()])).unwrap();
    for seed in 100..104 {
        let spread = model.complete(&likert(seed)).await.unwrap();
        let direct = single.complete(&likert(seed)).await.unwrap();
        assert_eq!(spread.answer, direct.answer, "seed {seed}");
    }
}
