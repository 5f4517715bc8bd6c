use proptest::prelude::*;

use super::bootstrap::Replicates;
use super::*;
use crate::StatsError;
use crate::reference::{CLUSTER_OBS, DATA_A, assert_close};

// Hand: [1, 2, 3, 4]: mean 2.5, s² = 5/3, se = √(5/12) = 0.6454972243679028,
// t_{3, 0.975} = 3.1824463052837078 (st.t.ppf(0.975, 3)), half-width 2.0542602567605206,
// interval (0.4457397432394794, 4.554260256760521).
#[test]
fn t_interval_hand() {
    let iv = t_interval(&[1.0, 2.0, 3.0, 4.0], 0.95).unwrap();
    assert_close(iv.estimate, 2.5, 1e-15);
    assert_close(iv.low, 0.4457397432394794, 1e-9);
    assert_close(iv.high, 4.554260256760521, 1e-9);
}

#[test]
fn t_interval_scipy() {
    // st.t.interval(0.95, 7, mean(A), sem(A))
    let iv = t_interval(&DATA_A, 0.95).unwrap();
    assert_close(iv.low, 5.206762143815647, 1e-9);
    assert_close(iv.high, 6.018237856184353, 1e-9);
    // st.t.interval(0.9, 7, mean(A), sem(A))
    let iv = t_interval(&DATA_A, 0.9).unwrap();
    assert_close(iv.low, 5.287415682234007, 1e-9);
    assert_close(iv.high, 5.937584317765992, 1e-9);
    assert_eq!(iv.level, 0.9);
}

#[test]
fn t_interval_zero_spread_collapses() {
    let iv = t_interval(&[2.0, 2.0, 2.0], 0.95).unwrap();
    assert_eq!((iv.low, iv.high), (2.0, 2.0));
}

// Hand: 5 of 10, z = 1.959963984540054, z² = 3.8414588206941254, 1 + z²/n = 1.3841458820694126,
// centre (0.5 + z²/20)/1.38414… = 0.5, half-width z/1.38414… · √(0.025 + z²/400) = 0.263406909487436.
#[test]
fn wilson_hand() {
    let iv = wilson_interval(5, 10, 0.95).unwrap();
    assert_close(iv.low, 0.5 - 0.263406909487436, 1e-9);
    assert_close(iv.high, 0.5 + 0.263406909487436, 1e-9);
}

#[test]
fn wilson_statsmodels() {
    // proportion_confint(7, 20, alpha=0.05, method='wilson')
    let iv = wilson_interval(7, 20, 0.95).unwrap();
    assert_close(iv.estimate, 0.35, 1e-15);
    assert_close(iv.low, 0.18119182410108206, 1e-9);
    assert_close(iv.high, 0.5671457233147638, 1e-9);
    // proportion_confint(0, 10, alpha=0.05, method='wilson')
    let iv = wilson_interval(0, 10, 0.95).unwrap();
    assert!(iv.low.abs() < 1e-12);
    assert_close(iv.high, 0.2775327998628892, 1e-9);
    // proportion_confint(19, 25, alpha=0.10, method='wilson')
    let iv = wilson_interval(19, 25, 0.9).unwrap();
    assert_close(iv.low, 0.5987548452396152, 1e-9);
    assert_close(iv.high, 0.8704653316372382, 1e-9);
    // proportion_confint(5, 10, alpha=0.05, method='wilson')
    let iv = wilson_interval(5, 10, 0.95).unwrap();
    assert_close(iv.low, 0.236593090512564, 1e-9);
    assert_close(iv.high, 0.7634069094874361, 1e-9);
}

#[test]
fn wilson_bad_input() {
    assert!(matches!(
        wilson_interval(1, 0, 0.95),
        Err(StatsError::EmptyInput { .. })
    ));
    assert!(wilson_interval(11, 10, 0.95).is_err());
    assert!(matches!(
        wilson_interval(1, 10, 1.0),
        Err(StatsError::InvalidLevel(_))
    ));
    assert!(matches!(
        wilson_interval(1, 10, f64::NAN),
        Err(StatsError::InvalidLevel(_))
    ));
}

// Hand: CLUSTER_OBS, N = 11, G = 4, mean 17.4/11 = 1.5818181818…; cluster residual sums
// −0.2454545, 1.9363636, −2.1272727, 0.4363636; squares sum 8.5254545;
// V = 4/3 · 8.5254545 / 11² = 0.0939449, SE = 0.3065035.
#[test]
fn cluster_robust_statsmodels() {
    let cm = cluster_robust_mean(&CLUSTER_OBS).unwrap();
    // OLS(y, ones).fit(cov_type='cluster').params[0]
    assert_close(cm.mean, 1.5818181818181816, 1e-12);
    // OLS(y, ones).fit(cov_type='cluster').bse[0]
    assert_close(cm.std_error, 0.3065035117331173, 1e-9);
    assert_close(
        cm.std_error,
        (4.0 / 3.0 * 8.525454545454545f64).sqrt() / 11.0,
        1e-6,
    );
    assert_eq!((cm.clusters, cm.n, cm.df), (4, 11, 3.0));
    // mean -+ st.t.ppf(0.975, 3) * bse
    let iv = cluster_robust_interval(&CLUSTER_OBS, 0.95).unwrap();
    assert_close(iv.low, 0.6063872133466408, 1e-9);
    assert_close(iv.high, 2.5572491502897226, 1e-9);
}

#[test]
fn cluster_robust_needs_two_clusters() {
    let one = [(3, 1.0), (3, 2.0)];
    assert!(matches!(
        cluster_robust_mean(&one),
        Err(StatsError::TooFewClusters { got: 1, .. })
    ));
    assert!(matches!(
        cluster_robust_mean(&[]),
        Err(StatsError::EmptyInput { .. })
    ));
    assert!(matches!(
        cluster_robust_mean(&[(0, 1.0), (1, f64::INFINITY)]),
        Err(StatsError::NotFinite { .. })
    ));
}

// Hand: replicates 1..=100, level 0.9: low at h = 99·0.05 = 4.95 → 5 + 0.95 = 5.95;
// high at h = 99·0.95 = 94.05 → 95 + 0.05 = 95.05.
#[test]
fn percentile_rule_hand() {
    let reps = Replicates {
        values: (1..=100).rev().map(f64::from).collect(),
        skipped: 0,
    };
    let iv = percentile_interval(reps, 50.5, 0.9, "test".into()).unwrap();
    assert_close(iv.low, 5.95, 1e-12);
    assert_close(iv.high, 95.05, 1e-12);
    assert_eq!(iv.method, "test, 100 resamples, percentile");
}

/// Deterministic pseudo-normal data: sums of uniforms from a seeded generator.
fn synthetic_clusters(g: usize, per: usize, seed: u64) -> Vec<Vec<f64>> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    (0..g)
        .map(|_| {
            let shift: f64 = rng.random_range(-1.0..1.0);
            (0..per)
                .map(|_| shift + rng.random_range(-1.0..1.0))
                .collect()
        })
        .collect()
}

#[test]
fn cluster_bootstrap_converges_to_normal_theory() {
    let clusters = synthetic_clusters(300, 4, 7);
    let iv = cluster_bootstrap(&clusters, pooled_mean, 10_000, 11, 0.95).unwrap();
    // Normal theory with equal cluster sizes: mean of cluster means ± z · sd(cluster means)/√G.
    let means: Vec<f64> = clusters
        .iter()
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect();
    let g = means.len() as f64;
    let m = means.iter().sum::<f64>() / g;
    let sd = (means.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (g - 1.0)).sqrt();
    let half = 1.959963984540054 * sd / g.sqrt();
    assert_close(iv.estimate, m, 1e-12);
    assert!(
        (iv.low - (m - half)).abs() < 0.05 * half,
        "{iv:?} vs ±{half}"
    );
    assert!(
        (iv.high - (m + half)).abs() < 0.05 * half,
        "{iv:?} vs ±{half}"
    );
    assert_eq!(
        iv.method,
        "cluster bootstrap over 300 clusters, 10000 resamples, percentile"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn bootstrap_contains_mean_of_symmetric_sample(half in prop::collection::vec(0.1f64..10.0, 5..15), seed in any::<u64>()) {
        let clusters: Vec<Vec<f64>> = half.iter().flat_map(|&v| [vec![v], vec![-v]]).collect();
        let iv = cluster_bootstrap(&clusters, pooled_mean, 400, seed, 0.9).unwrap();
        prop_assert!(iv.estimate.abs() < 1e-9);
        prop_assert!(iv.contains(iv.estimate), "{iv:?}");
    }

    #[test]
    fn bootstrap_same_seed_same_interval(values in prop::collection::vec(-5.0f64..5.0, 2..30), seed in any::<u64>()) {
        let clusters: Vec<Vec<f64>> = values.chunks(2).map(<[f64]>::to_vec).collect();
        prop_assume!(clusters.len() >= 2);
        let a = cluster_bootstrap(&clusters, pooled_mean, 200, seed, 0.95).unwrap();
        let b = cluster_bootstrap(&clusters, pooled_mean, 200, seed, 0.95).unwrap();
        prop_assert_eq!(a, b);
        let c = bootstrap_mean(&values, 200, seed, 0.95).unwrap();
        let d = bootstrap_mean(&values, 200, seed, 0.95).unwrap();
        prop_assert_eq!(c, d);
    }
}

#[test]
fn cluster_bootstrap_bad_input() {
    let ok = vec![vec![1.0, 2.0], vec![3.0]];
    assert!(matches!(
        cluster_bootstrap(&[], pooled_mean, 100, 1, 0.95),
        Err(StatsError::EmptyInput { .. })
    ));
    assert!(matches!(
        cluster_bootstrap(&ok, pooled_mean, 100, 1, 0.0),
        Err(StatsError::InvalidLevel(_))
    ));
    assert!(cluster_bootstrap(&ok, pooled_mean, 1, 1, 0.95).is_err());
    assert!(matches!(
        cluster_bootstrap(&[vec![f64::NAN]], pooled_mean, 100, 1, 0.95),
        Err(StatsError::NotFinite { .. })
    ));
    // A statistic that is always undefined is an error, not a panic.
    assert!(cluster_bootstrap(&ok, |_| f64::NAN, 100, 1, 0.95).is_err());
}

#[test]
fn design_interval_picks_the_method() {
    // 2 ≤ G < 10: cluster-robust t, identical to the statsmodels-checked interval above.
    let clusters = group_by_cluster(&CLUSTER_OBS);
    let iv = design_interval(&clusters, 0.95, 1).unwrap();
    assert_close(iv.low, 0.6063872133466408, 1e-9);
    assert_close(iv.high, 2.5572491502897226, 1e-9);
    assert_eq!(
        iv.method,
        "cluster-robust (CR1) t interval over 4 replicates, 3 df"
    );

    // G ≥ 10: cluster bootstrap; empty clusters do not count.
    let mut many = synthetic_clusters(30, 3, 3);
    many.push(Vec::new());
    let iv = design_interval(&many, 0.95, 5).unwrap();
    assert_eq!(
        iv.method,
        "cluster bootstrap over 30 replicates, 2000 resamples, percentile"
    );
    assert!(iv.contains(iv.estimate));
    assert_eq!(iv, design_interval(&many, 0.95, 5).unwrap());

    // G = 1: bootstrap over observations.
    let iv = design_interval(&[DATA_A.to_vec()], 0.95, 5).unwrap();
    assert_eq!(
        iv.method,
        "bootstrap over 8 observations in 1 replicate, 2000 resamples, percentile"
    );
    assert_close(iv.estimate, 5.6125, 1e-12);
    assert!(iv.low > 5.0 && iv.high < 6.2, "{iv:?}");
}

#[test]
fn design_interval_bad_input() {
    assert!(matches!(
        design_interval(&[], 0.95, 1),
        Err(StatsError::EmptyInput { .. })
    ));
    assert!(matches!(
        design_interval(&[vec![], vec![]], 0.95, 1),
        Err(StatsError::EmptyInput { .. })
    ));
    assert!(matches!(
        design_interval(&[vec![1.0]], 0.95, 1),
        Err(StatsError::TooFew { .. })
    ));
    assert!(matches!(
        design_interval(&[vec![1.0, 2.0]], 1.5, 1),
        Err(StatsError::InvalidLevel(_))
    ));
}

#[test]
fn interval_serialises() {
    fn assert_serialize<T: serde::Serialize>(_: &T) {}
    assert_serialize(&t_interval(&DATA_A, 0.95).unwrap());
}
