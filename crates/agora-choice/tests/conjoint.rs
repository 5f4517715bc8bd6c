//! Tests of conjoint coding, designs, simulation and the tables derived from a fit.

use agora_choice::conjoint::simulate_choice;
use agora_choice::conjoint::{
    Attribute, ConjointStudy, Product, balanced_overlap_design, design_balance, importances,
    part_worths, random_design, share_of_preference, simulate_responses, willingness_to_pay,
    willingness_to_pay_table,
};
use agora_choice::{ChoiceError, MnlFit, MnlOptions, fit_mnl, probabilities};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

fn study(none: bool) -> ConjointStudy {
    ConjointStudy::new(
        vec![
            Attribute::categorical("brand", &["A", "B", "C"]),
            Attribute::categorical("feature", &["no", "yes"]),
            Attribute::price("price", &[1.0, 2.0, 3.0, 4.0]),
        ],
        none,
    )
    .unwrap()
}

/// Planted part-worths in the layout brand=B, brand=C, feature=yes, price, none.
const PLANTED: [f64; 5] = [0.5, -0.3, 0.8, -0.6, -1.0];

/// A fit with given coefficients and a diagonal covariance, for table arithmetic.
fn fake_fit(beta: &[f64], se: &[f64]) -> MnlFit {
    let k = beta.len();
    MnlFit {
        beta: beta.to_vec(),
        std_errors: se.to_vec(),
        covariance: (0..k)
            .map(|i| {
                (0..k)
                    .map(|j| if i == j { se[i] * se[i] } else { 0.0 })
                    .collect()
            })
            .collect(),
        log_likelihood: 0.0,
        iterations: 0,
        converged: true,
    }
}

#[test]
fn coding_by_hand() {
    let s = study(true);
    assert_eq!(s.n_parameters(), 5);
    assert_eq!(
        s.parameter_names(),
        ["brand=B", "brand=C", "feature=yes", "price", "none"]
    );
    // Brand C (level 2), feature yes (level 1), price level 2 = 3.0.
    assert_eq!(
        s.code_profile(&[2, 1, 2]).unwrap(),
        [0.0, 1.0, 1.0, 3.0, 0.0]
    );
    // Reference levels code to zeros; the price column carries the price.
    assert_eq!(
        s.code_profile(&[0, 0, 0]).unwrap(),
        [0.0, 0.0, 0.0, 1.0, 0.0]
    );
    assert_eq!(s.none_row().unwrap(), [0.0, 0.0, 0.0, 0.0, 1.0]);
    let task = s.code_task(&[vec![0, 0, 0], vec![1, 1, 1]], 2).unwrap();
    assert_eq!(task.alternatives.len(), 3);
    assert_eq!(task.chosen, 2);
    assert_eq!(
        s.profile_from_labels(&["C", "yes", "3"]).unwrap(),
        [2, 1, 2]
    );
    assert!(matches!(
        s.code_profile(&[3, 0, 0]),
        Err(ChoiceError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        s.profile_from_labels(&["Z", "yes", "3"]),
        Err(ChoiceError::UnknownName { .. })
    ));
}

#[test]
fn invalid_studies_are_rejected() {
    assert!(ConjointStudy::new(vec![], false).is_err());
    assert!(ConjointStudy::new(vec![Attribute::categorical("a", &["x"])], false).is_err());
    assert!(
        ConjointStudy::new(
            vec![
                Attribute::categorical("a", &["x", "y"]),
                Attribute::categorical("a", &["x", "y"])
            ],
            false
        )
        .is_err()
    );
    assert!(ConjointStudy::new(vec![Attribute::price("p", &[1.0, f64::NAN])], false).is_err());
    assert!(
        ConjointStudy::new(
            vec![
                Attribute::price("p", &[1.0, 2.0]),
                Attribute::price("q", &[1.0, 2.0])
            ],
            false
        )
        .is_err()
    );
}

#[test]
fn designs_are_deterministic_and_balanced() {
    let s = study(false);
    let a = balanced_overlap_design(&s, 50, 8, 3, 7).unwrap();
    let b = balanced_overlap_design(&s, 50, 8, 3, 7).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, balanced_overlap_design(&s, 50, 8, 3, 8).unwrap());
    assert_eq!(a.len(), 400);
    let balance = design_balance(&s, &a).unwrap();
    // 1200 profiles: brand levels 400 each, feature 600 each, price 300 each, give or take
    // the few levels left in a deck.
    assert!(balance.max_count_spread <= 4, "{balance:?}");
    assert_eq!(balance.excess_overlap, 0);
    assert_eq!(balance.duplicate_profile_tasks, 0);

    let r = random_design(&s, 50, 8, 3, 7).unwrap();
    assert_eq!(r, random_design(&s, 50, 8, 3, 7).unwrap());
    let rb = design_balance(&s, &r).unwrap();
    assert_eq!(rb.duplicate_profile_tasks, 0);
    // Random designs repeat levels within tasks much more often.
    assert!(rb.excess_overlap > 100, "{rb:?}");

    assert!(balanced_overlap_design(&s, 0, 8, 3, 1).is_err());
    assert!(balanced_overlap_design(&s, 1, 8, 1, 1).is_err());
    assert!(random_design(&s, 1, 1, 25, 1).is_err());
}

#[test]
fn part_worth_table_importances_wtp_and_shares_by_hand() {
    let s = study(true);
    let fit = fake_fit(&PLANTED, &[0.1, 0.1, 0.2, 0.05, 0.3]);
    let table = part_worths(&s, &fit).unwrap();
    // Rows: brand A (reference), B, C, feature no (reference), yes, price slope, none.
    assert_eq!(table.len(), 7);
    assert_eq!(
        (
            table[0].level.as_str(),
            table[0].estimate,
            table[0].std_error
        ),
        ("A", 0.0, 0.0)
    );
    assert_eq!(table[1].estimate, 0.5);
    // 95% interval: 0.5 ± 1.959964·0.1 = [0.3040036, 0.6959964].
    assert!((table[1].ci_low - 0.304_003_601_545_994_6).abs() < 1e-9);
    assert!((table[1].ci_high - 0.695_996_398_454_005_4).abs() < 1e-9);
    assert_eq!(table[5].level, "per unit");
    assert_eq!(table[6].attribute, "none");

    // Ranges: brand max(0, .5, −.3) − min = 0.8; feature 0.8; price 0.6·(4 − 1) = 1.8.
    // Sum 3.4, importances 0.8/3.4, 0.8/3.4, 1.8/3.4.
    let imp = importances(&s, &fit.beta).unwrap();
    assert!((imp[0].importance - 0.8 / 3.4).abs() < 1e-12);
    assert!((imp[1].importance - 0.8 / 3.4).abs() < 1e-12);
    assert!((imp[2].importance - 1.8 / 3.4).abs() < 1e-12);

    // WTP for feature=yes: −0.8/−0.6 = 1.3333 currency units. Delta method with
    // independent errors: var = (1/0.6)²·0.2² + (0.8/0.36)²·0.05²
    //                        = 0.1111111 + 0.0123457 = 0.1234568, SE = 0.3513642.
    let w = willingness_to_pay(&s, &fit, "feature", "yes").unwrap();
    assert!((w.estimate - 4.0 / 3.0).abs() < 1e-12);
    assert!((w.std_error - 0.123_456_790_123_456_79f64.sqrt()).abs() < 1e-9);
    let all = willingness_to_pay_table(&s, &fit).unwrap();
    assert_eq!(all.len(), 5);
    assert!((all[2].estimate - (-0.3 / 0.6)).abs() < 1e-12); // brand C: −0.5
    assert!(willingness_to_pay(&s, &fit, "price", "1").is_err());
    assert!(
        willingness_to_pay(
            &study(false),
            &fake_fit(&[0.5, -0.3, 0.8, 0.6], &[0.1; 4]),
            "feature",
            "yes"
        )
        .is_err()
    );

    // Shares: product X = (B, yes, 2) has U = 0.5 + 0.8 − 1.2 = 0.1;
    // product Y = (A, no, 1) has U = −0.6; none has U = −1.0.
    // exp: 1.1051709, 0.5488116, 0.3678794; sum 2.0218620.
    let products = [
        Product {
            name: "X".into(),
            profile: vec![1, 1, 1],
        },
        Product {
            name: "Y".into(),
            profile: vec![0, 0, 0],
        },
    ];
    let shares = share_of_preference(&s, &fit.beta, &products, true).unwrap();
    let e = [0.1f64.exp(), (-0.6f64).exp(), (-1.0f64).exp()];
    let sum: f64 = e.iter().sum();
    assert_eq!(shares.len(), 3);
    for (sh, x) in shares.iter().zip(e) {
        assert!((sh.share - x / sum).abs() < 1e-12);
    }
    let two = share_of_preference(&s, &fit.beta, &products, false).unwrap();
    assert!((two[0].share - e[0] / (e[0] + e[1])).abs() < 1e-12);
    assert!(share_of_preference(&s, &fit.beta, &[], false).is_err());
}

#[test]
fn simulated_respondents_recover_planted_part_worths() {
    let s = study(true);
    let design = balanced_overlap_design(&s, 1000, 10, 3, 11).unwrap();
    let tasks = simulate_responses(&s, &design, &PLANTED, 12).unwrap();
    let fit = fit_mnl(&tasks, &MnlOptions::default()).unwrap();
    assert!(fit.converged);
    for (i, row) in fit.beta.iter().enumerate() {
        let z = (row - PLANTED[i]) / fit.std_errors[i];
        assert!(
            z.abs() < 4.0,
            "parameter {i}: {row} vs {} (z = {z})",
            PLANTED[i]
        );
    }
}

#[test]
fn interval_coverage_over_100_replicates() {
    // 100 replicate studies of 300 respondents × 8 tasks × 3 profiles + none. Each 95%
    // interval should cover its planted value in about 95 of 100 replicates; require 90.
    let s = study(true);
    let mut covered = [0usize; 5];
    let replicates = 100;
    for rep in 0..replicates {
        let design = balanced_overlap_design(&s, 300, 8, 3, 1000 + rep).unwrap();
        let tasks = simulate_responses(&s, &design, &PLANTED, 5000 + rep).unwrap();
        let fit = fit_mnl(&tasks, &MnlOptions::default()).unwrap();
        assert!(fit.converged);
        let table = part_worths(&s, &fit).unwrap();
        // Non-reference rows in parameter order: B, C, yes, price, none.
        let rows = [&table[1], &table[2], &table[4], &table[5], &table[6]];
        for (i, row) in rows.iter().enumerate() {
            if row.ci_low <= PLANTED[i] && PLANTED[i] <= row.ci_high {
                covered[i] += 1;
            }
        }
    }
    let total: usize = covered.iter().sum();
    println!("covered of {replicates} per parameter (B, C, yes, price, none): {covered:?}");
    for (i, c) in covered.iter().enumerate() {
        assert!(*c >= 90, "parameter {i} covered {c} of {replicates}");
    }
    assert!(total as f64 / 500.0 >= 0.92, "overall coverage {total}/500");
}

#[test]
fn gumbel_choices_follow_logit_probabilities() {
    // argmax of x·β + Gumbel(0,1) is chosen with the logit probability: compare the
    // frequencies of 200,000 draws with `probabilities` (4 binomial standard errors).
    let beta = [0.7, -0.4];
    let rows = vec![
        vec![1.0, 0.0],
        vec![0.0, 1.0],
        vec![0.0, 0.0],
        vec![1.0, 1.0],
    ];
    let p = probabilities(&beta, &rows).unwrap();
    let mut rng = Pcg64Mcg::seed_from_u64(9);
    let n = 200_000;
    let mut counts = [0usize; 4];
    for _ in 0..n {
        counts[simulate_choice(&beta, &rows, &mut rng).unwrap()] += 1;
    }
    for (c, p) in counts.iter().zip(p) {
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((*c as f64 / n as f64 - p).abs() < 4.0 * se, "{c} vs {p}");
    }
    assert!(simulate_choice(&beta, &[], &mut rng).is_err());
    assert!(simulate_choice(&beta, &[vec![1.0]], &mut rng).is_err());
}
