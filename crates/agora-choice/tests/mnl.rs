//! Tests of the multinomial logit estimator.

use agora_choice::{ChoiceError, ChoiceTask, MnlOptions, fit_mnl, log_likelihood, probabilities};
use proptest::prelude::*;

fn task(rows: &[[f64; 3]], chosen: usize) -> ChoiceTask {
    ChoiceTask {
        alternatives: rows.iter().map(|r| r.to_vec()).collect(),
        chosen,
    }
}

/// The `mnl_small` data set of `tests/reference/make_reference.py`.
fn small_data() -> Vec<ChoiceTask> {
    vec![
        task(&[[1., 0., 1.], [0., 1., 2.], [0., 0., 3.]], 0),
        task(&[[0., 1., 1.], [1., 1., 3.], [0., 0., 2.]], 1),
        task(&[[1., 1., 2.], [0., 0., 1.], [0., 1., 3.]], 0),
        task(&[[0., 0., 1.], [1., 0., 2.], [1., 1., 3.]], 0),
        task(&[[1., 0., 3.], [0., 1., 1.], [0., 0., 2.]], 1),
        task(&[[0., 1., 2.], [1., 0., 1.], [1., 1., 3.]], 2),
        task(&[[1., 1., 1.], [0., 1., 3.], [0., 0., 2.]], 0),
        task(&[[0., 0., 3.], [1., 0., 1.], [0., 1., 2.]], 2),
        task(&[[1., 0., 2.], [1., 1., 1.], [0., 0., 3.]], 1),
        task(&[[0., 1., 3.], [0., 0., 1.], [1., 0., 2.]], 1),
        task(&[[1., 1., 3.], [0., 1., 2.], [1., 0., 1.]], 1),
        task(&[[0., 0., 2.], [1., 1., 2.], [0., 1., 1.]], 0),
    ]
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn binary_logit_matches_closed_form() {
    // Hand-computed case: two alternatives with a single column, x = (1, 0), and the
    // first alternative chosen in 3 of 4 tasks. The model is a binary logit with
    // P(first) = e^β / (1 + e^β), so the MLE sets P = 3/4: β = ln(3/1) = 1.0986123.
    // Information = n·p·(1−p) = 4·0.75·0.25 = 0.75, so SE = 1/√0.75 = 1.1547005.
    // Log-likelihood = 3·ln 0.75 + ln 0.25 = −0.8630462 − 1.3862944 = −2.2493406.
    let rows = vec![vec![1.0], vec![0.0]];
    let tasks: Vec<ChoiceTask> = [0, 0, 0, 1]
        .iter()
        .map(|&c| ChoiceTask {
            alternatives: rows.clone(),
            chosen: c,
        })
        .collect();
    let fit = fit_mnl(&tasks, &MnlOptions::default()).unwrap();
    assert!(fit.converged);
    assert!(close(fit.beta[0], 3f64.ln(), 1e-9));
    assert!(close(fit.std_errors[0], 1.0 / 0.75f64.sqrt(), 1e-9));
    assert!(close(
        fit.log_likelihood,
        3.0 * 0.75f64.ln() + 0.25f64.ln(),
        1e-9
    ));
}

#[test]
fn small_data_matches_scipy_reference() {
    let fit = fit_mnl(&small_data(), &MnlOptions::default()).unwrap();
    assert!(fit.converged);
    // make_reference.py, section mnl_small: scipy.optimize.minimize (trust-exact, gtol
    // 1e-12) on the same log-likelihood with its analytic gradient and Hessian;
    // covariance = numpy inverse of the analytic information at the optimum.
    let beta = [0.32864491559619097, 1.0969032955368005, -0.6746705051562016];
    let se = [0.6626160407324708, 0.7422676190420988, 0.4386451066590882];
    let cov = [
        [
            0.43906001743597545,
            0.09802479736566162,
            -0.03008043325256161,
        ],
        [0.09802479736566164, 0.5509612182784263, -0.1240333100409655],
        [
            -0.03008043325256162,
            -0.12403331004096553,
            0.19240952959596283,
        ],
    ];
    let ll = -10.954976133926111;
    for i in 0..3 {
        assert!(
            close(fit.beta[i], beta[i], 1e-9),
            "beta {i}: {}",
            fit.beta[i]
        );
        assert!(close(fit.std_errors[i], se[i], 1e-9), "se {i}");
        for (j, expected) in cov[i].iter().enumerate() {
            assert!(close(fit.covariance[i][j], *expected, 1e-9), "cov {i} {j}");
        }
    }
    assert!(close(fit.log_likelihood, ll, 1e-10));
    assert!(close(
        log_likelihood(&fit.beta, &small_data()).unwrap(),
        ll,
        1e-10
    ));
    // Same section: probabilities of the first task at the estimate.
    let p = probabilities(&fit.beta, &small_data()[0].alternatives).unwrap();
    let expected = [0.437664185826918, 0.48060214769526244, 0.0817336664778195];
    for (a, b) in p.iter().zip(expected) {
        assert!(close(*a, b, 1e-9));
    }
}

#[test]
fn probabilities_by_hand() {
    // Utilities 0, ln 2, ln 3 give weights 1 : 2 : 3, so probabilities 1/6, 2/6, 3/6.
    let p = probabilities(&[1.0], &[vec![0.0], vec![2f64.ln()], vec![3f64.ln()]]).unwrap();
    assert!(close(p[0], 1.0 / 6.0, 1e-12));
    assert!(close(p[1], 2.0 / 6.0, 1e-12));
    assert!(close(p[2], 3.0 / 6.0, 1e-12));
}

#[test]
fn bad_input_is_rejected_with_typed_errors() {
    let opts = MnlOptions::default();
    assert!(matches!(
        fit_mnl(&[], &opts),
        Err(ChoiceError::Empty { .. })
    ));
    let mut data = small_data();
    data[3].chosen = 7;
    assert!(matches!(
        fit_mnl(&data, &opts),
        Err(ChoiceError::IndexOutOfRange { .. })
    ));
    let mut data = small_data();
    data[2].alternatives[1][2] = f64::NAN;
    assert!(matches!(
        fit_mnl(&data, &opts),
        Err(ChoiceError::NonFinite { .. })
    ));
    let mut data = small_data();
    data[5].alternatives[0].pop();
    assert!(matches!(
        fit_mnl(&data, &opts),
        Err(ChoiceError::DimensionMismatch { .. })
    ));
    let mut data = small_data();
    data[0].alternatives.truncate(1);
    assert!(matches!(
        fit_mnl(&data, &opts),
        Err(ChoiceError::InvalidArgument { .. })
    ));
}

#[test]
fn non_identified_designs_are_errors_not_panics() {
    // A column that is constant within every task carries no information.
    let constant: Vec<ChoiceTask> = small_data()
        .into_iter()
        .map(|mut t| {
            for row in &mut t.alternatives {
                row[1] = 1.0;
            }
            t
        })
        .collect();
    assert!(matches!(
        fit_mnl(&constant, &MnlOptions::default()),
        Err(ChoiceError::NotIdentified { .. })
    ));
    // Two identical columns are not separately identified.
    let collinear: Vec<ChoiceTask> = small_data()
        .into_iter()
        .map(|mut t| {
            for row in &mut t.alternatives {
                row[1] = row[0];
            }
            t
        })
        .collect();
    assert!(matches!(
        fit_mnl(&collinear, &MnlOptions::default()),
        Err(ChoiceError::NotIdentified { .. })
    ));
}

#[test]
fn perfectly_separated_data_do_not_panic() {
    // The alternative with x = 1 is always chosen: the MLE runs off to +∞.
    let tasks: Vec<ChoiceTask> = (0..5)
        .map(|_| ChoiceTask {
            alternatives: vec![vec![1.0], vec![0.0]],
            chosen: 0,
        })
        .collect();
    match fit_mnl(&tasks, &MnlOptions::default()) {
        Ok(fit) => assert!(!fit.converged || fit.beta[0] > 10.0),
        Err(e) => assert!(matches!(e, ChoiceError::NotIdentified { .. })),
    }
}

proptest! {
    #[test]
    fn probabilities_sum_to_one(
        beta in prop::collection::vec(-30.0f64..30.0, 3),
        rows in prop::collection::vec(prop::collection::vec(-5.0f64..5.0, 3), 2..6),
    ) {
        let p = probabilities(&beta, &rows).unwrap();
        let sum: f64 = p.iter().sum();
        prop_assert!((sum - 1.0).abs() < 1e-12);
        prop_assert!(p.iter().all(|&x| (0.0..=1.0).contains(&x)));
    }
}

/// The size the project needs: 10,000 respondents × 12 tasks × 3 profiles + "none",
/// 10 parameters. Timing is only meaningful optimised:
/// `cargo test --release -p agora-choice --test mnl -- --ignored`.
#[test]
#[ignore = "timing check; run in release with --ignored"]
fn large_estimation_is_fast_in_release() {
    use agora_choice::conjoint::{
        Attribute, ConjointStudy, balanced_overlap_design, simulate_responses,
    };
    let study = ConjointStudy::new(
        vec![
            Attribute::categorical("brand", &["A", "B", "C", "D"]),
            Attribute::categorical("size", &["S", "M", "L"]),
            Attribute::categorical("colour", &["red", "green", "blue"]),
            Attribute::categorical("warranty", &["no", "yes"]),
            Attribute::price("price", &[1.0, 1.5, 2.0, 2.5, 3.0]),
        ],
        true,
    )
    .unwrap();
    let planted = [0.4, -0.2, 0.1, 0.3, 0.5, -0.4, 0.2, 0.6, -0.9, -1.5];
    let design = balanced_overlap_design(&study, 10_000, 12, 3, 1).unwrap();
    let tasks = simulate_responses(&study, &design, &planted, 2).unwrap();
    let start = std::time::Instant::now();
    let fit = fit_mnl(&tasks, &MnlOptions::default()).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{} tasks: {seconds:.3} s, {} Newton steps",
        tasks.len(),
        fit.iterations
    );
    assert!(fit.converged);
    for (b, (p, se)) in fit.beta.iter().zip(planted.iter().zip(&fit.std_errors)) {
        assert!((b - p).abs() < 4.0 * se, "{b} vs planted {p}");
    }
    if !cfg!(debug_assertions) {
        assert!(seconds < 2.0, "estimation took {seconds} s");
    }
}
