//! Tests of MaxDiff designs and scores.

use agora_choice::maxdiff::{
    MaxDiffResponse, bibd_design, count_scores, maxdiff_logit, simulate_best_worst,
};
use agora_choice::{ChoiceError, MnlOptions};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

fn r(shown: &[usize], best: usize, worst: usize) -> MaxDiffResponse {
    MaxDiffResponse {
        shown: shown.to_vec(),
        best,
        worst,
    }
}

/// The `maxdiff_small` data set of `tests/reference/make_reference.py`.
fn small() -> Vec<MaxDiffResponse> {
    vec![
        r(&[0, 1, 2], 0, 2),
        r(&[1, 2, 3], 1, 3),
        r(&[0, 2, 3], 0, 3),
        r(&[0, 1, 3], 1, 3),
        r(&[0, 1, 2], 1, 2),
        r(&[1, 2, 3], 3, 2),
        r(&[0, 2, 3], 2, 0),
        r(&[0, 1, 3], 0, 1),
        r(&[0, 1, 2], 2, 0),
        r(&[1, 2, 3], 1, 2),
        r(&[0, 2, 3], 3, 2),
        r(&[0, 1, 3], 0, 3),
    ]
}

#[test]
fn count_scores_by_hand() {
    // Every item is shown 9 times. Best: item 0 in tasks 1, 3, 8, 12 (4); item 1 in
    // 2, 4, 5, 10 (4); item 2 in 7, 9 (2); item 3 in 6, 11 (2). Worst: item 0 in 7, 9 (2);
    // item 1 in 8 (1); item 2 in 1, 5, 6, 10, 11 (5); item 3 in 2, 3, 4, 12 (4).
    // Scores: 2/9, 3/9, −3/9, −2/9.
    let s = count_scores(4, &small()).unwrap();
    let expected = [
        (4, 2, 2.0 / 9.0),
        (4, 1, 3.0 / 9.0),
        (2, 5, -3.0 / 9.0),
        (2, 4, -2.0 / 9.0),
    ];
    for (score, (best, worst, value)) in s.iter().zip(expected) {
        assert_eq!(score.shown, 9);
        assert_eq!((score.best, score.worst), (best, worst));
        assert!((score.score.unwrap() - value).abs() < 1e-12);
    }
    // An item that never appears has no score.
    assert_eq!(count_scores(5, &small()).unwrap()[4].score, None);
}

#[test]
fn logit_scores_match_scipy_reference() {
    let fit = maxdiff_logit(4, &small(), &MnlOptions::default()).unwrap();
    assert!(fit.fit.converged);
    // make_reference.py, section maxdiff_small: scipy trust-exact on the sequential
    // best-worst log-likelihood, SEs from the numpy inverse of the analytic information.
    let utilities = [
        0.6764176912329442,
        0.8965068740580512,
        -0.2460429253453621,
        0.0,
    ];
    let se = [
        0.684139188027814,
        0.6838398701159873,
        0.704267385995157,
        0.0,
    ];
    let centred = [
        0.34469728124653587,
        0.5647864640716429,
        -0.5777633353317704,
        -0.3317204099864083,
    ];
    let centred_se = [
        0.4172358044763909,
        0.41733763709400945,
        0.4450417285852016,
        0.4207986186949007,
    ];
    for (i, s) in fit.scores.iter().enumerate() {
        assert!((s.utility - utilities[i]).abs() < 1e-8, "item {i}: {s:?}");
        assert!((s.std_error - se[i]).abs() < 1e-8, "item {i}");
        assert!((s.centred - centred[i]).abs() < 1e-8, "item {i}");
        assert!(
            (s.centred_std_error - centred_se[i]).abs() < 1e-8,
            "item {i}"
        );
    }
    assert!((fit.fit.log_likelihood - -19.62504519250435).abs() < 1e-9);
}

#[test]
fn two_item_logit_by_hand() {
    // With two items per task only the best choice is informative: a binary logit.
    // Item 0 best in 3 of 4 tasks: u_0 = ln 3 = 1.0986123 (u_1 = 0), SE = 1/√(4·¾·¼)
    // = 1.1547005; centred scores ±ln 3 / 2 with SE 1.1547005 / 2.
    let data = vec![
        r(&[0, 1], 0, 1),
        r(&[1, 0], 0, 1),
        r(&[0, 1], 0, 1),
        r(&[0, 1], 1, 0),
    ];
    let fit = maxdiff_logit(2, &data, &MnlOptions::default()).unwrap();
    let s = &fit.scores;
    assert!((s[0].utility - 3f64.ln()).abs() < 1e-9);
    assert!((s[0].std_error - 1.0 / 0.75f64.sqrt()).abs() < 1e-9);
    assert!((s[0].centred - 3f64.ln() / 2.0).abs() < 1e-9);
    assert!((s[1].centred + 3f64.ln() / 2.0).abs() < 1e-9);
    assert!((s[1].centred_std_error - 0.5 / 0.75f64.sqrt()).abs() < 1e-9);
}

#[test]
fn bibd_is_balanced_and_deterministic() {
    // 12 items, 4 per task, 24 tasks: 96 slots, so every item appears exactly 8 times.
    let d = bibd_design(12, 4, 24, 3).unwrap();
    assert_eq!(d, bibd_design(12, 4, 24, 3).unwrap());
    assert_eq!(d.tasks.len(), 24);
    assert!(d.balance.item_counts.iter().all(|&c| c == 8));
    // 24·6 = 144 pairs over 66 item pairs: mean 2.18; greedy balancing keeps the spread small.
    assert!((d.balance.mean_pair_count - 144.0 / 66.0).abs() < 1e-12);
    assert!(
        d.balance.max_pair_count - d.balance.min_pair_count <= 2,
        "{:?}",
        d.balance
    );
    for t in &d.tasks {
        let mut sorted = t.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
    }
    // 7 items, 3 per task, 7 tasks: a true BIBD (Fano plane) exists, every pair once.
    let fano = bibd_design(7, 3, 7, 1).unwrap();
    assert!(fano.balance.item_counts.iter().all(|&c| c == 3));
    assert!(fano.balance.max_pair_count <= 2);
    // Not a multiple: counts differ by at most one.
    let odd = bibd_design(10, 4, 7, 5).unwrap();
    assert!(odd.balance.max_item_count - odd.balance.min_item_count <= 1);
    assert!(bibd_design(5, 6, 3, 1).is_err());
    assert!(bibd_design(1, 1, 3, 1).is_err());
    assert!(bibd_design(5, 3, 0, 1).is_err());
}

#[test]
fn planted_utilities_are_recovered_in_order() {
    let planted = [1.5, 1.0, 0.6, 0.3, 0.0, -0.4, -0.8, -1.2];
    let mut rng = Pcg64Mcg::seed_from_u64(42);
    let mut responses = Vec::new();
    for respondent in 0..300 {
        let design = bibd_design(8, 4, 6, 1000 + respondent).unwrap();
        for shown in design.tasks {
            let (best, worst) = simulate_best_worst(&planted, &shown, &mut rng).unwrap();
            responses.push(MaxDiffResponse { shown, best, worst });
        }
    }
    let fit = maxdiff_logit(8, &responses, &MnlOptions::default()).unwrap();
    let counts = count_scores(8, &responses).unwrap();
    for i in 1..8 {
        assert!(
            fit.scores[i - 1].centred > fit.scores[i].centred,
            "logit order at {i}"
        );
        assert!(counts[i - 1].score > counts[i].score, "count order at {i}");
    }
    // Planted values relative to the last item lie within their 95% intervals (±4 SE).
    for (i, s) in fit.scores.iter().enumerate() {
        let truth = planted[i] - planted[7];
        assert!(
            (s.utility - truth).abs() < 4.0 * s.std_error.max(1e-12) || i == 7,
            "item {i}"
        );
    }
}

#[test]
fn invalid_responses_are_rejected() {
    let opts = MnlOptions::default();
    assert!(matches!(
        maxdiff_logit(4, &[], &opts),
        Err(ChoiceError::Empty { .. })
    ));
    assert!(maxdiff_logit(4, &[r(&[0, 1, 2], 1, 1)], &opts).is_err());
    assert!(maxdiff_logit(4, &[r(&[0, 1, 2], 3, 1)], &opts).is_err());
    assert!(maxdiff_logit(4, &[r(&[0, 1, 9], 0, 1)], &opts).is_err());
    assert!(maxdiff_logit(4, &[r(&[0, 0, 2], 0, 2)], &opts).is_err());
    assert!(count_scores(4, &[r(&[0], 0, 0)]).is_err());
    // Item 3 never shown: its utility is not identified.
    assert!(matches!(
        maxdiff_logit(4, &[r(&[0, 1, 2], 0, 2), r(&[0, 1, 2], 1, 0)], &opts),
        Err(ChoiceError::NotIdentified { .. })
    ));
}
