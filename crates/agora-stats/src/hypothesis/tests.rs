use super::*;
use crate::StatsError;
use crate::reference::{CLUSTER_OBS, CONTROL, DATA_A, DATA_B, TREATED, assert_close};

// Hand: a = [1, 2, 3], b = [4, 5, 6, 7]: means 2 and 5.5, variances 1 and 5/3;
// s²/n = 1/3 and 5/12, se² = 0.75, t = −3.5/√0.75 = −4.041451884327381;
// df = 0.75² / ((1/3)²/2 + (5/12)²/3) = 0.5625 / (0.0555556 + 0.0578704) = 4.959183673469387.
#[test]
fn welch_hand() {
    let r = welch_t_test(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0]).unwrap();
    assert_close(r.statistic, -4.041451884327381, 1e-12);
    assert_close(r.df.unwrap(), 4.959183673469387, 1e-12);
    assert_eq!(r.test, "Welch two-sample t test");
}

#[test]
fn welch_scipy() {
    // st.ttest_ind(A, B, equal_var=False)
    let r = welch_t_test(&DATA_A, &DATA_B).unwrap();
    assert_close(r.statistic, 3.226344614998797, 1e-9);
    assert_close(r.p_value, 0.00851458571253555, 1e-8);
    assert_close(r.df.unwrap(), 10.52677422720459, 1e-9);
}

// Hand: [1, 2, 3, 4] against mu = 1: t = 1.5 / √(5/12) = 2.32379000772445, 3 df.
#[test]
fn one_sample_hand() {
    let r = one_sample_t_test(&[1.0, 2.0, 3.0, 4.0], 1.0).unwrap();
    assert_close(r.statistic, 2.32379000772445, 1e-12);
    assert_eq!(r.df, Some(3.0));
}

#[test]
fn one_sample_and_paired_scipy() {
    // st.ttest_1samp(A, 5.5)
    let r = one_sample_t_test(&DATA_A, 5.5).unwrap();
    assert_close(r.statistic, 0.6556455707778905, 1e-9);
    assert_close(r.p_value, 0.533000712085451, 1e-8);
    // st.ttest_rel(TREATED, CONTROL)
    let r = paired_t_test(&TREATED, &CONTROL).unwrap();
    assert_close(r.statistic, 3.0275753556369067, 1e-9);
    assert_close(r.p_value, 0.016369684264449173, 1e-8);
    assert_eq!(r.test, "paired t test");
}

#[test]
fn t_tests_bad_input() {
    assert!(matches!(
        welch_t_test(&[1.0, 1.0], &[2.0, 2.0]),
        Err(StatsError::ZeroVariance { .. })
    ));
    assert!(matches!(
        welch_t_test(&[1.0], &[2.0, 3.0]),
        Err(StatsError::TooFew { .. })
    ));
    assert!(matches!(
        one_sample_t_test(&[3.0, 3.0], 0.0),
        Err(StatsError::ZeroVariance { .. })
    ));
    assert!(matches!(
        one_sample_t_test(&[1.0, 3.0], f64::NAN),
        Err(StatsError::NotFinite { .. })
    ));
    assert!(matches!(
        paired_t_test(&[1.0, 2.0], &[1.0]),
        Err(StatsError::LengthMismatch { .. })
    ));
}

// Hand: differences [1, 2, 3]; the 8 signed sums are ±6, ±4, ±2, 0, 0; only ±6 reach |6|, so
// p = 2/8 = 0.25.
#[test]
fn sign_flip_hand() {
    let r = sign_flip_test(&[1.0, 2.0, 3.0], 0, 0).unwrap();
    assert_close(r.p_value, 0.25, 1e-15);
    assert_close(r.statistic, 2.0, 1e-15);
    assert_eq!(r.test, "sign-flip permutation test, exact");
    // All differences zero: every arrangement ties, p = 1.
    assert_eq!(sign_flip_test(&[0.0, 0.0], 0, 0).unwrap().p_value, 1.0);
}

#[test]
fn sign_flip_scipy_exact() {
    let d: Vec<f64> = TREATED.iter().zip(&CONTROL).map(|(t, c)| t - c).collect();
    // st.permutation_test((TREATED, CONTROL), mean(x-y), samples, inf, two-sided)
    let r = sign_flip_test(&d, 0, 0).unwrap();
    assert_close(r.statistic, 0.3222222222222222, 1e-12);
    assert_close(r.p_value, 0.01953125, 1e-12);
}

#[test]
fn sign_flip_random_flips() {
    // 30 differences all of one sign: the exact p is 2/2³⁰; with B random flips almost surely
    // b = 0, so p = 1/(B + 1).
    let d: Vec<f64> = (1..=30).map(f64::from).collect();
    let r = sign_flip_test(&d, 999, 3).unwrap();
    assert_eq!(r.test, "sign-flip permutation test, random flips");
    assert_close(r.p_value, 1.0 / 1000.0, 1e-12);
    assert_eq!(r, sign_flip_test(&d, 999, 3).unwrap());
    // Symmetric differences: statistic 0, every flip reaches it, p = 1.
    let sym: Vec<f64> = (1..=15)
        .flat_map(|i| [f64::from(i), -f64::from(i)])
        .collect();
    assert_eq!(sign_flip_test(&sym, 500, 1).unwrap().p_value, 1.0);
    assert!(sign_flip_test(&d, 1, 3).is_err());
}

// Hand: CLUSTER_OBS read as differences; cluster means 1.5, 2.55, 1.05, 1.8 (mean 1.725), all
// positive, so only the all-plus and all-minus of 16 arrangements reach |1.725|: p = 2/16.
#[test]
fn clustered_sign_flip_hand_and_scipy() {
    let clusters = crate::interval::group_by_cluster(&CLUSTER_OBS);
    let r = clustered_sign_flip_test(&clusters, 0, 0).unwrap();
    // st.permutation_test((cluster means, zeros), ...)
    assert_close(r.statistic, 1.7249999999999999, 1e-12);
    assert_close(r.p_value, 0.125, 1e-15);
    assert_eq!(r.test, "clustered sign-flip permutation test, exact");
    assert!(matches!(
        clustered_sign_flip_test(&[vec![1.0, 2.0]], 0, 0),
        Err(StatsError::TooFewClusters { .. })
    ));
}

// Hand: 3 of 10 at p = 0.5: P(X ≤ 3) = (1 + 10 + 45 + 120)/1024 = 176/1024; by symmetry the
// two-sided p is 352/1024 = 0.34375.
#[test]
fn binomial_hand_and_scipy() {
    assert_close(
        binomial_test(3, 10, 0.5).unwrap().p_value,
        352.0 / 1024.0,
        1e-12,
    );
    let cases = [
        // st.binomtest(k, n, p).pvalue
        (3, 10, 0.5, 0.34375),
        (7, 20, 0.3, 0.6294979666766769),
        (0, 5, 0.2, 0.5904),
        (12, 40, 0.5, 0.01658900337497471),
        (9, 10, 0.7, 0.2995766785),
        (19, 20, 0.5, 4.00543212890625e-05),
        (2, 30, 0.25, 0.0187750627148012),
        (6, 20, 0.3, 1.0),
    ];
    for (k, n, p, expected) in cases {
        let r = binomial_test(k, n, p).unwrap();
        assert_close(r.p_value, expected, 1e-9);
        assert_close(r.statistic, k as f64 / n as f64, 1e-15);
    }
}

#[test]
fn binomial_bad_input() {
    assert!(matches!(
        binomial_test(0, 0, 0.5),
        Err(StatsError::EmptyInput { .. })
    ));
    assert!(binomial_test(5, 4, 0.5).is_err());
    assert!(binomial_test(1, 4, 1.5).is_err());
    assert!(binomial_test(1, 4, f64::NAN).is_err());
    // Degenerate p: an impossible outcome has p-value 0, the certain one 1.
    assert_eq!(binomial_test(1, 4, 0.0).unwrap().p_value, 0.0);
    assert_eq!(binomial_test(4, 4, 1.0).unwrap().p_value, 1.0);
}

// Hand: [18, 22, 30, 30], expected 25 each: (49 + 9 + 25 + 25)/25 = 4.32 with 3 df.
#[test]
fn chi_square_hand_and_scipy() {
    // st.chisquare([18, 22, 30, 30])
    let r = chi_square_goodness_of_fit(&[18.0, 22.0, 30.0, 30.0], None).unwrap();
    assert_close(r.statistic, 4.32, 1e-12);
    assert_close(r.p_value, 0.22891886433610517, 1e-9);
    assert_eq!(r.df, Some(3.0));
    // st.chisquare([10, 20, 30], f_exp=[15, 25, 20]); hand: 25/15 + 25/25 + 100/20 = 7.6667.
    let r = chi_square_goodness_of_fit(&[10.0, 20.0, 30.0], Some(&[15.0, 25.0, 20.0])).unwrap();
    assert_close(r.statistic, 7.666666666666667, 1e-12);
    assert_close(r.p_value, 0.021637370719493086, 1e-9);
}

#[test]
fn chi_square_bad_input() {
    assert!(chi_square_goodness_of_fit(&[1.0], None).is_err());
    assert!(chi_square_goodness_of_fit(&[-1.0, 2.0], None).is_err());
    assert!(chi_square_goodness_of_fit(&[0.0, 0.0], None).is_err());
    assert!(chi_square_goodness_of_fit(&[1.0, 2.0], Some(&[1.0, 1.0])).is_err());
    assert!(chi_square_goodness_of_fit(&[1.0, 2.0], Some(&[3.0])).is_err());
    assert!(chi_square_goodness_of_fit(&[1.0, 2.0], Some(&[3.0, 0.0])).is_err());
}

#[test]
fn sign_flip_exact_at_the_limit() {
    // 20 positive differences: only the all-plus and all-minus arrangements reach |T|, p = 2/2²⁰.
    let d: Vec<f64> = (1..=EXACT_MAX).map(|i| i as f64 / 7.0).collect();
    let r = sign_flip_test(&d, 0, 0).unwrap();
    assert_eq!(r.test, "sign-flip permutation test, exact");
    assert_close(r.p_value, 2.0 / f64::from(1u32 << 20), 1e-12);
}

#[test]
fn sign_flip_random_flips_approach_the_exact_p() {
    // 22 differences: random flips against the exact enumeration (4 194 304 arrangements).
    let d: Vec<f64> = (0..22)
        .map(|i| f64::from(i % 7) - 2.2 + f64::from(i) * 0.05)
        .collect();
    let abs_sum: f64 = d.iter().map(|x| x.abs()).sum();
    let exact = super::sign_flip::exact_p(&d, d.iter().sum::<f64>().abs() - 1e-12 * abs_sum);
    let r = sign_flip_test(&d, 20_000, 5).unwrap();
    assert_eq!(r.test, "sign-flip permutation test, random flips");
    assert!(
        exact > 0.01 && exact < 0.99,
        "pick data with a middling p: {exact}"
    );
    assert!(
        (r.p_value - exact).abs() < 0.015,
        "{} vs exact {exact}",
        r.p_value
    );
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn p_values_are_probabilities(d in prop::collection::vec(-1e3f64..1e3, 1..26), seed in any::<u64>()) {
            let r = sign_flip_test(&d, 200, seed).unwrap();
            prop_assert!(r.p_value > 0.0 && r.p_value <= 1.0);
            if d.len() >= 2 {
                let clusters: Vec<Vec<f64>> = d.chunks(2).map(<[f64]>::to_vec).collect();
                if clusters.len() >= 2 {
                    let r = clustered_sign_flip_test(&clusters, 200, seed).unwrap();
                    prop_assert!(r.p_value > 0.0 && r.p_value <= 1.0);
                }
            }
        }

        #[test]
        fn welch_is_antisymmetric(a in prop::collection::vec(-10f64..10.0, 2..12), b in prop::collection::vec(-10f64..10.0, 2..12)) {
            if let (Ok(x), Ok(y)) = (welch_t_test(&a, &b), welch_t_test(&b, &a)) {
                prop_assert!((x.statistic + y.statistic).abs() <= 1e-9 * x.statistic.abs().max(1.0));
                prop_assert!((x.p_value - y.p_value).abs() <= 1e-9);
                prop_assert!((0.0..=1.0).contains(&x.p_value));
            }
        }

        #[test]
        fn binomial_p_is_a_probability(n in 1u64..200, k_frac in 0.0f64..=1.0, p in 0.0f64..=1.0) {
            let k = ((n as f64) * k_frac).round() as u64;
            let r = binomial_test(k, n, p).unwrap();
            prop_assert!((0.0..=1.0).contains(&r.p_value), "{r:?}");
        }

        #[test]
        fn arbitrary_floats_never_panic(v in prop::collection::vec(any::<f64>(), 0..6), w in prop::collection::vec(any::<f64>(), 0..6)) {
            let _ = welch_t_test(&v, &w);
            let _ = one_sample_t_test(&v, 0.0);
            let _ = paired_t_test(&v, &w);
            let _ = sign_flip_test(&v, 10, 1);
            let _ = chi_square_goodness_of_fit(&v, Some(&w));
            let _ = crate::describe::quantile(&v, 0.3);
            let _ = crate::interval::t_interval(&v, 0.95);
            let _ = crate::interval::design_interval(&[v.clone(), w.clone()], 0.95, 1);
            let _ = crate::effect::cohens_d(&v, &w);
            let _ = crate::distance::ks_test(&v, &w);
            let _ = crate::distance::jensen_shannon_distance(&v, &w);
            let _ = crate::distance::ordinal_wasserstein(&v, &w);
            let _ = crate::twins::pearson_r(&v, &w);
        }
    }
}
