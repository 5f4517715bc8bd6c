//! The conjoint study through the round scheduler with rule-based respondents.

use super::*;
use crate::testing::{personas, run_in_process};

fn spec(text: &str) -> ConjointSpec {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
        .unwrap()
}

const STUDY: &str = r#"(
    product: "a weekly meal kit",
    attributes: [
        (name: "brand", levels: ["A", "B", "C"]),
        (name: "recipes", levels: ["3 per week", "5 per week"]),
        (name: "price", prices: [8.0, 10.0, 12.0, 14.0]),
    ],
    tasks: 8,
    alternatives: 3,
    products: [(name: "ours", levels: ["B", "5 per week", "10"]), (name: "theirs", levels: ["A", "3 per week", "8"])],
    rules: (part_worths: [("brand=B", 0.5), ("brand=C", -0.4), ("recipes=5 per week", 0.6), ("price", -0.25), ("none", -2.5)]),
)"#;

fn play(spec: &ConjointSpec, agents: usize, replicate: u32) -> Vec<EstimateRow> {
    let model = rule_backend(spec);
    let finished = run_in_process(
        |b| Conjoint::build(spec, b),
        personas("r", agents),
        (11, replicate),
        &model,
        spec.tasks,
    );
    assert_eq!(finished.outcome.fallbacks, 0);
    assert_eq!(
        finished.rows["conjoint_choices"],
        (agents * spec.tasks as usize * 4) as u64
    );
    finished
        .world
        .get_resource::<ConjointEstimates>()
        .expect("estimates after the run")
        .0
        .clone()
}

#[test]
fn a_run_reports_part_worths_importances_wtp_and_shares() {
    let spec = spec(STUDY);
    let rows = play(&spec, 200, 0);
    let kinds = |k: &str| rows.iter().filter(|r| r.kind == k).count();
    // Fit, 3 + 2 levels, price slope, none.
    assert_eq!(kinds("fit"), 1);
    assert_eq!(kinds("part_worth"), 7);
    assert_eq!(kinds("importance"), 3);
    assert_eq!(kinds("wtp"), 5);
    assert_eq!(kinds("share"), 3, "two products and none");
    let importance: f64 = rows
        .iter()
        .filter(|r| r.kind == "importance")
        .filter_map(|r| r.estimate)
        .sum();
    assert!((importance - 1.0).abs() < 1e-9);
    let share = |name: &str| {
        rows.iter()
            .find(|r| r.kind == "share" && r.attribute.as_deref() == Some(name))
            .and_then(|r| r.estimate)
            .unwrap()
    };
    assert!(
        share("ours") > share("theirs"),
        "B with 5 recipes at $10 wins"
    );
    assert!(
        rows.iter()
            .all(|r| r.respondents == 200 && r.choices == 1600)
    );
}

#[test]
fn the_same_seed_gives_the_same_estimates() {
    let spec = spec(STUDY);
    assert_eq!(play(&spec, 40, 3), play(&spec, 40, 3));
    assert_ne!(play(&spec, 40, 3), play(&spec, 40, 4));
}

/// Over 100 replicates, the 95% intervals of the estimated part-worths cover the
/// planted values in 90% to 99% of cases (95% expected).
#[test]
fn intervals_cover_the_planted_part_worths() {
    let spec = spec(STUDY);
    let names = spec.study.parameter_names();
    let (mut covered, mut total) = (0, 0);
    for replicate in 0..100 {
        let rows = play(&spec, 150, replicate);
        for (name, &truth) in names.iter().zip(&spec.planted) {
            let row = rows
                .iter()
                .find(|r| {
                    r.kind == "part_worth"
                        && match name.split_once('=') {
                            Some((a, l)) => {
                                r.attribute.as_deref() == Some(a) && r.level.as_deref() == Some(l)
                            }
                            None => r.attribute.as_deref() == Some(name.as_str()),
                        }
                })
                .unwrap_or_else(|| panic!("no estimate of {name}"));
            let (lo, hi) = (row.ci_low.unwrap(), row.ci_high.unwrap());
            total += 1;
            if lo <= truth && truth <= hi {
                covered += 1;
            }
        }
    }
    let rate = f64::from(covered) / f64::from(total);
    assert!(
        (0.90..=0.99).contains(&rate),
        "coverage {rate} ({covered}/{total})"
    );
}

#[test]
fn a_random_design_without_none_and_without_price_estimates_too() {
    let spec = spec(
        r#"(product: "a phone",
            attributes: [(name: "brand", levels: ["A", "B"]), (name: "colour", levels: ["red", "blue", "green"])],
            design: Random, tasks: 6, alternatives: 2, none_option: false,
            rules: (part_worths: [("brand=B", 1.0), ("colour=green", -1.0)]))"#,
    );
    let model = rule_backend(&spec);
    let finished = run_in_process(
        |b| Conjoint::build(&spec, b),
        personas("r", 300),
        (2, 0),
        &model,
        spec.tasks,
    );
    assert_eq!(finished.outcome.fallbacks, 0);
    assert_eq!(finished.rows["conjoint_choices"], 300 * 6 * 2);
    let rows = &finished
        .world
        .get_resource::<ConjointEstimates>()
        .unwrap()
        .0;
    assert!(rows.iter().all(|r| r.kind != "wtp" && r.kind != "share"));
    assert!(rows.iter().all(|r| r.attribute.as_deref() != Some("none")));
    let b = rows
        .iter()
        .find(|r| r.kind == "part_worth" && r.level.as_deref() == Some("B"))
        .unwrap();
    assert!(b.ci_low.unwrap() < 1.0 && 1.0 < b.ci_high.unwrap(), "{b:?}");
}
