//! The concept test's rules, SSR scoring and a run with rule-based respondents.

use agora_choice::ssr::{cosine, lexical_embedding};
use serde_json::json;

use super::*;
use crate::testing::{personas, run_in_process};

fn spec(text: &str) -> ConceptSpec {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
        .unwrap()
}

#[test]
fn ratings_are_validated() {
    let ok = json!({"purchase_intent": 4, "appeal": 5, "uniqueness": 1, "believability": 3,
                    "value_for_money": 2.0, "intent_text": "Maybe."});
    assert_eq!(validate_rating(&ok), Ok(([4, 5, 1, 3, 2], "Maybe.".into())));
    let mut bad = ok.clone();
    bad["appeal"] = json!(6);
    assert!(validate_rating(&bad).unwrap_err().contains("appeal"));
    let mut bad = ok.clone();
    bad["intent_text"] = json!(null);
    assert!(validate_rating(&bad).is_err());
}

/// Hand-computed SSR: five one-word anchors whose embeddings are orthogonal unit
/// vectors. "four" matches anchor 4 exactly: γ = (0, 0, 0, 1, 0), p = (0, 0, 0, 1, 0).
/// "three four" has cosine 1/√2 with anchors 3 and 4 and 0 with the rest:
/// p = (0, 0, ½, ½, 0), mean rating 3.5.
#[test]
fn ssr_matches_a_hand_computed_case() {
    let dims = 65_536;
    let words = ["one", "two", "three", "four", "five"];
    let anchors: Vec<Vec<f64>> = words
        .iter()
        .map(|w| lexical_embedding(w, dims).unwrap())
        .collect();
    for i in 0..5 {
        for j in 0..i {
            assert_eq!(
                cosine(&anchors[i], &anchors[j]).unwrap(),
                0.0,
                "orthogonal anchors"
            );
        }
    }
    let sets = vec![anchors];
    assert_eq!(
        ssr_of("four", &sets, dims, 0.0),
        Some([0.0, 0.0, 0.0, 1.0, 0.0])
    );
    let p = ssr_of("Three, four!", &sets, dims, 0.0).unwrap();
    for (got, want) in p.iter().zip([0.0, 0.0, 0.5, 0.5, 0.0]) {
        assert!((got - want).abs() < 1e-12, "{p:?}");
    }
    assert!((agora_choice::ssr::mean_rating(&p).unwrap() - 3.5).abs() < 1e-12);
    assert_eq!(ssr_of("", &sets, dims, 0.0), None, "no words, no score");
}

/// A rule-based respondent states its intent in the words of its point's anchors, so
/// the SSR distribution of its sentence has its mode at that point (the lexical
/// embedding shares words across anchors, so the rest of the mass spreads widely).
#[test]
fn rule_sentences_score_highest_on_their_own_anchor() {
    let dims = 256;
    let statements = default_anchors();
    let anchors: Vec<Vec<Vec<f64>>> = statements
        .iter()
        .map(|set| {
            set.iter()
                .map(|a| lexical_embedding(a, dims).unwrap())
                .collect()
        })
        .collect();
    for p in 1..=5u8 {
        let pmf = ssr_of(
            &intent_sentence(p, "FreshBox", &statements),
            &anchors,
            dims,
            0.0,
        )
        .unwrap();
        let mode = (0..5).max_by(|&a, &b| pmf[a].total_cmp(&pmf[b])).unwrap();
        assert_eq!(mode + 1, usize::from(p), "{pmf:?}");
    }
}

const CONCEPTS: &str = r#"concepts: [
    (id: "a", title: "Alpha", text: "The first idea.", rules: (liking: 0.8)),
    (id: "b", title: "Beta", text: "The second idea.", rules: (liking: 0.0)),
    (id: "c", title: "Gamma", text: "The third idea.", rules: (liking: -0.8)),
]"#;

fn play(spec: &ConceptSpec, agents: usize) -> (ConceptAnswers, Vec<ConceptSummaryRow>, u64) {
    let model = rule_backend(spec);
    let finished = run_in_process(
        |b| ConceptTest::build(spec, b),
        personas("c", agents),
        (9, 0),
        &model,
        spec.rounds(),
    );
    assert_eq!(finished.outcome.fallbacks, 0);
    (
        finished
            .world
            .get_resource::<ConceptAnswers>()
            .unwrap()
            .clone(),
        finished
            .world
            .get_resource::<ConceptSummary>()
            .unwrap()
            .0
            .clone(),
        finished.rows["concept_ratings"],
    )
}

#[test]
fn monadic_tests_assign_concepts_evenly_and_rank_them_by_liking() {
    let spec = spec(&format!(
        "(design: Monadic, forced_choice: true, {CONCEPTS})"
    ));
    let (answers, summary, rows) = play(&spec, 900);
    assert_eq!(rows, 900);
    for c in 0..3 {
        let n = answers.ratings.iter().filter(|r| r.concept == c).count();
        assert_eq!(n, 300, "concept {c}");
    }
    let get = |c: usize, m: &str| {
        summary
            .iter()
            .find(|r| r.concept == c && r.measure == m)
            .unwrap()
    };
    for m in [
        "purchase_intent",
        "appeal",
        "purchase_intent_ssr",
        "forced_choice",
    ] {
        assert!(
            get(0, m).mean > get(1, m).mean && get(1, m).mean > get(2, m).mean,
            "{m}"
        );
    }
    // Direct top-two box and SSR agree on the order, and every row has its interval.
    let ssr = get(0, "purchase_intent_ssr");
    let (lo, hi) = ssr.mean_ci.unwrap();
    assert!(lo < ssr.mean.unwrap() && ssr.mean.unwrap() < hi);
    let t2 = get(0, "purchase_intent");
    let (lo, hi) = t2.top2_ci.unwrap();
    assert!(lo < t2.top2.unwrap() && t2.top2.unwrap() < hi);
    let shares: f64 = (0..3).map(|c| get(c, "forced_choice").mean.unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-12);
}

#[test]
fn sequential_monadic_tests_rate_every_concept_in_a_recorded_order() {
    let spec = spec(&format!("(design: SequentialMonadic, {CONCEPTS})"));
    let (answers, summary, rows) = play(&spec, 120);
    assert_eq!(rows, 360);
    assert_eq!(answers.ratings.len(), 360);
    for r in 0..120u32 {
        let mut seen: Vec<u16> = answers
            .ratings
            .iter()
            .filter(|x| x.respondent == r)
            .map(|x| x.concept)
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2]);
    }
    assert!(summary.iter().all(|r| r.measure != "forced_choice"));
}

#[test]
fn bad_tests_are_refused() {
    for (text, needle) in [
        ("(concepts: [])", "1 to 26"),
        (
            r#"(forced_choice: true, concepts: [(id: "a", title: "A", text: "x")])"#,
            "at least 2",
        ),
        (
            r#"(concepts: [(id: "a", title: "A", text: "x")], ssr: (anchors: [["a", "b"]]))"#,
            "exactly five",
        ),
    ] {
        let err = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str::<ConceptSpec>(text)
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{text}: {err}");
    }
}
