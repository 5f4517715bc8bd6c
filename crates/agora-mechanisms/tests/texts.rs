//! The free texts and outcomes mechanisms declare, parsed from scenario blocks.

use std::path::Path;

fn settings(block: &str) -> agora_core::MechanismSettings {
    agora_mechanisms::registry()
        .parse(block, Path::new("."))
        .unwrap_or_else(|e| panic!("{block}: {e:?}"))
}

#[test]
fn surveys_declare_each_free_text_item_and_nothing_else() {
    let s = settings(
        r#"Survey((items: [
            (id: "like", text: "Like it?", kind: Likert(points: 5)),
            (id: "why", text: "Why?", kind: FreeText(max_chars: 100)),
            (id: "else", text: "Anything else?", kind: FreeText()),
        ]))"#,
    );
    let texts = s.texts();
    let ids: Vec<&str> = texts.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["why", "else"]);
    assert_eq!(
        (texts[0].table.as_str(), texts[0].column.as_str()),
        ("survey_responses", "answer_label")
    );
    assert!(
        texts[0]
            .only
            .contains(&("item_id".into(), vec!["why".into()]))
    );
}

#[test]
fn concept_tests_declare_texts_and_outcomes_per_concept() {
    let s = settings(
        r#"ConceptTest((concepts: [
            (id: "a", title: "A", text: "Concept A"),
            (id: "b", title: "B", text: "Concept B"),
        ]))"#,
    );
    let ids: Vec<String> = s.texts().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["intent_text", "intent_text:a", "intent_text:b"]);
    let outcomes: Vec<String> = s
        .outcomes()
        .into_iter()
        .map(|o| match o.name {
            agora_core::outcome::OutcomeName::Fixed(n) => n,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "a:purchase_intent",
            "a:top2_box",
            "a:ssr_mean",
            "b:purchase_intent",
            "b:top2_box",
            "b:ssr_mean"
        ]
    );
}

#[test]
fn price_tests_declare_answers_and_price_points() {
    let s = settings(
        r#"PriceTest((product: "a kit", van_westendorp: (min: 0.0, max: 100.0), rules: (median_wtp: 50.0)))"#,
    );
    let tables: Vec<String> = s.outcomes().into_iter().map(|o| o.table).collect();
    assert_eq!(tables, ["price_answers", "price_sensitivity"]);
    assert!(s.texts().is_empty());
}
