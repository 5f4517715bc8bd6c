use super::ks::kolmogorov_sf;
use super::*;
use crate::StatsError;
use crate::reference::{DATA_A, DATA_B, assert_close};

const P: [f64; 5] = [0.1, 0.2, 0.4, 0.2, 0.1];
const Q: [f64; 5] = [0.3, 0.3, 0.2, 0.1, 0.1];
const P2: [f64; 4] = [0.5, 0.5, 0.0, 0.0];
const Q2: [f64; 4] = [0.0, 0.25, 0.25, 0.5];

// Hand: CDFs of P 0.1, 0.3, 0.7, 0.9 and of Q 0.3, 0.6, 0.8, 0.9; gaps 0.2 + 0.3 + 0.1 + 0 = 0.6,
// divided by N − 1 = 4 gives 0.15. Total variation ½(0.2 + 0.1 + 0.2 + 0.1 + 0) = 0.3.
#[test]
fn hand_computed() {
    assert_close(ordinal_wasserstein(&P, &Q).unwrap(), 0.15, 1e-12);
    assert_close(representativeness(&P, &Q).unwrap(), 0.85, 1e-12);
    assert_close(total_variation(&P, &Q).unwrap(), 0.3, 1e-12);
    // All mass at opposite ends: W1 = N − 1, normalised 1; JS distance 1.
    assert_close(
        ordinal_wasserstein(&[1.0, 0.0, 0.0], &[0.0, 0.0, 1.0]).unwrap(),
        1.0,
        1e-15,
    );
    assert_close(
        jensen_shannon_distance(&[1.0, 0.0], &[0.0, 1.0]).unwrap(),
        1.0,
        1e-15,
    );
    assert_eq!(jensen_shannon_distance(&P, &P).unwrap(), 0.0);
}

#[test]
fn against_scipy() {
    // st.wasserstein_distance(1..5, 1..5, P, Q) / 4
    assert_close(
        ordinal_wasserstein(&P, &Q).unwrap(),
        0.15000000000000005,
        1e-9,
    );
    // st.wasserstein_distance(1..4, 1..4, P2, Q2) / 3
    assert_close(
        ordinal_wasserstein(&P2, &Q2).unwrap(),
        0.5833333333333334,
        1e-9,
    );
    // 0.5 * sum|P - Q|
    assert_close(total_variation(&P, &Q).unwrap(), 0.3, 1e-9);
    // jensenshannon(P, Q, base=2)
    assert_close(
        jensen_shannon_distance(&P, &Q).unwrap(),
        0.28596083852511345,
        1e-9,
    );
    // jensenshannon(P2, Q2, base=2)
    assert_close(
        jensen_shannon_distance(&P2, &Q2).unwrap(),
        0.8097154205210412,
        1e-9,
    );
}

#[test]
fn not_a_distribution() {
    assert!(matches!(
        total_variation(&[0.5, 0.6], &[0.5, 0.5]),
        Err(StatsError::NotADistribution { .. })
    ));
    assert!(matches!(
        total_variation(&[1.5, -0.5], &[0.5, 0.5]),
        Err(StatsError::NotADistribution { .. })
    ));
    assert!(matches!(
        total_variation(&[1.0], &[0.5, 0.5]),
        Err(StatsError::LengthMismatch { .. })
    ));
    assert!(matches!(
        total_variation(&[], &[]),
        Err(StatsError::EmptyInput { .. })
    ));
    assert!(matches!(
        jensen_shannon_distance(&[f64::NAN, 1.0], &[0.5, 0.5]),
        Err(StatsError::NotFinite { .. })
    ));
    assert!(matches!(
        ordinal_wasserstein(&[1.0], &[1.0]),
        Err(StatsError::TooFew { .. })
    ));
}

#[test]
fn pmf_helpers() {
    // Hand: counts 1, 3, 0, 4 of 8.
    assert_eq!(
        pmf_from_counts(&[1.0, 3.0, 0.0, 4.0]).unwrap(),
        vec![0.125, 0.375, 0.0, 0.5]
    );
    assert_eq!(
        pmf_from_values(&["b", "a", "b", "b"], &["a", "b", "c"]).unwrap(),
        vec![0.25, 0.75, 0.0]
    );
    assert!(pmf_from_counts(&[0.0, 0.0]).is_err());
    assert!(pmf_from_counts(&[-1.0, 2.0]).is_err());
    assert!(pmf_from_counts(&[]).is_err());
    assert!(pmf_from_values(&[1, 9], &[1, 2, 3]).is_err());
    assert!(pmf_from_values::<i32>(&[], &[1]).is_err());
    assert!(pmf_from_values(&[1], &[]).is_err());
}

// Hand: [1, 2, 3] vs [4, 5]: the CDFs are 1 and 0 at x = 3, D = 1. Mean difference 2 − 4.5;
// median difference 2 − 4.5.
#[test]
fn ks_and_location_hand() {
    assert_eq!(ks_statistic(&[3.0, 1.0, 2.0], &[5.0, 4.0]).unwrap(), 1.0);
    assert_close(
        mean_difference(&[1.0, 2.0, 3.0], &[4.0, 5.0]).unwrap(),
        -2.5,
        1e-15,
    );
    assert_close(
        median_difference(&[1.0, 2.0, 3.0], &[4.0, 5.0]).unwrap(),
        -2.5,
        1e-15,
    );
    // Q(1) = 2(e⁻² − e⁻⁸ + e⁻¹⁸ − …) = 0.26999967167735456.
    assert_close(kolmogorov_sf(1.0), 0.26999967167735456, 1e-12);
    assert_eq!(kolmogorov_sf(0.0), 1.0);
}

#[test]
fn ks_scipy() {
    // st.ks_2samp(A, B).statistic
    assert_close(ks_statistic(&DATA_A, &DATA_B).unwrap(), 0.625, 1e-12);
    // st.ks_2samp(KS_A, KS_B).statistic (ties across samples)
    let (a, b) = ([1.0, 2.0, 2.0, 3.0, 3.0, 3.0], [2.0, 3.0, 3.0, 4.0, 4.0]);
    assert_close(ks_statistic(&a, &b).unwrap(), 0.4, 1e-12);
    // st.kstwobign.sf(sqrt(en) * D) for A, B
    assert_close(
        ks_test(&DATA_A, &DATA_B).unwrap().p_value,
        0.10821038257539575,
        1e-9,
    );
    // st.kstwobign.sf(sqrt(en) * D) for KS_A, KS_B
    assert_close(ks_test(&a, &b).unwrap().p_value, 0.7754489529545198, 1e-9);
    assert!(ks_statistic(&[], &[1.0]).is_err());
    assert!(ks_statistic(&[f64::NAN], &[1.0]).is_err());
}

#[test]
fn bootstrap_distance_is_deterministic_and_covers() {
    let cats = [1, 2, 3, 4, 5];
    let sim: Vec<i32> = (0..60).map(|i| 1 + (i * 7 % 5)).collect();
    let human: Vec<i32> = (0..80).map(|i| 1 + (i * i % 5)).collect();
    let metric = |s: &[i32], h: &[i32]| {
        ordinal_wasserstein(&pmf_from_values(s, &cats)?, &pmf_from_values(h, &cats)?)
    };
    let iv = bootstrap_distance(&sim, &human, metric, 500, 9, 0.95).unwrap();
    assert_close(iv.estimate, metric(&sim, &human).unwrap(), 1e-15);
    assert!(
        iv.low <= iv.high && iv.low >= 0.0 && iv.high <= 1.0,
        "{iv:?}"
    );
    assert_eq!(
        iv,
        bootstrap_distance(&sim, &human, metric, 500, 9, 0.95).unwrap()
    );
    assert_eq!(
        iv.method,
        "bootstrap over 60 simulated and 80 human respondents, resampled separately, 500 resamples, percentile"
    );
    // Mean difference of two shifted samples: the interval lies around the shift.
    let a: Vec<f64> = (0..200).map(|i| f64::from(i % 10)).collect();
    let b: Vec<f64> = a.iter().map(|x| x - 3.0).collect();
    let iv = bootstrap_distance(&a, &b, mean_difference, 1000, 2, 0.95).unwrap();
    assert_close(iv.estimate, 3.0, 1e-12);
    assert!(iv.contains(3.0) && iv.width() < 2.0, "{iv:?}");
}

#[test]
fn bootstrap_distance_bad_input() {
    let m = |s: &[f64], h: &[f64]| mean_difference(s, h);
    assert!(bootstrap_distance(&[], &[1.0], m, 100, 1, 0.95).is_err());
    assert!(bootstrap_distance(&[1.0], &[], m, 100, 1, 0.95).is_err());
    assert!(bootstrap_distance(&[1.0], &[2.0], m, 100, 1, 1.0).is_err());
    assert!(bootstrap_distance(&[f64::NAN], &[2.0], m, 100, 1, 0.95).is_err());
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    fn pmf(len: usize) -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(0.0f64..10.0, len)
            .prop_filter_map("some mass", |c| pmf_from_counts(&c).ok())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn distances_are_symmetric_and_bounded((p, q) in (2usize..8).prop_flat_map(|n| (pmf(n), pmf(n)))) {
            for f in [ordinal_wasserstein, total_variation, jensen_shannon_distance] {
                let d = f(&p, &q).unwrap();
                prop_assert!((-1e-12..=1.0 + 1e-12).contains(&d), "{d}");
                prop_assert!((d - f(&q, &p).unwrap()).abs() < 1e-12);
                prop_assert!(f(&p, &p).unwrap().abs() < 1e-7);
            }
        }

        #[test]
        fn ks_is_bounded(a in prop::collection::vec(-5f64..5.0, 1..20), b in prop::collection::vec(-5f64..5.0, 1..20)) {
            let d = ks_statistic(&a, &b).unwrap();
            prop_assert!((0.0..=1.0).contains(&d));
            prop_assert_eq!(d, ks_statistic(&b, &a).unwrap());
            prop_assert_eq!(ks_statistic(&a, &a).unwrap(), 0.0);
        }
    }
}
