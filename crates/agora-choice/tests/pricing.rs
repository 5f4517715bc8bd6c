//! Tests of the Van Westendorp and Gabor–Granger estimators.

use agora_choice::ChoiceError;
use agora_choice::pricing::{
    VanWestendorpResponse, gabor_granger, next_price_index, van_westendorp, wilson_interval,
};
use proptest::prelude::*;

fn vw(too_cheap: f64, cheap: f64, expensive: f64, too_expensive: f64) -> VanWestendorpResponse {
    VanWestendorpResponse {
        too_cheap,
        cheap,
        expensive,
        too_expensive,
    }
}

#[test]
fn van_westendorp_by_hand() {
    // Kept respondents (too cheap, cheap, expensive, too expensive):
    //   (5, 10, 20, 30), (15, 15, 25, 35), (5, 15, 20, 20), (10, 20, 30, 40);
    // dropped: (20, 10, 30, 40) is unordered, (NaN, 10, 20, 30) is missing.
    // Grid 5, 10, 15, 20, 25, 30, 35, 40.
    //   too cheap (tc ≥ p):     1, .5, .25, 0, 0, 0, 0, 0
    //   cheap (c ≥ p):          1, 1, .75, .25, 0, 0, 0, 0   → not cheap 0, 0, .25, .75, 1, …
    //   expensive (e ≤ p):      0, 0, 0, .5, .75, 1, 1, 1    → not expensive 1, 1, 1, .5, .25, 0, …
    //   too expensive (te ≤ p): 0, 0, 0, .25, .25, .5, .75, 1
    // PMC: too cheap − not cheap = 1, .5, 0 → meets exactly at 15.
    // PME: not expensive − too expensive = 1, 1, 1, .25, 0 → meets exactly at 25.
    // OPP: too cheap − too expensive = …, .25 at 15, −.25 at 20 → 15 + 5·.25/.5 = 17.5.
    // IPP: cheap − expensive = …, .75 at 15, −.25 at 20 → 15 + 5·.75/1 = 18.75.
    // make_reference.py, section van_westendorp_small, gives the same curves and points.
    let data = [
        vw(5.0, 10.0, 20.0, 30.0),
        vw(15.0, 15.0, 25.0, 35.0),
        vw(5.0, 15.0, 20.0, 20.0),
        vw(10.0, 20.0, 30.0, 40.0),
        vw(20.0, 10.0, 30.0, 40.0),
        vw(f64::NAN, 10.0, 20.0, 30.0),
    ];
    let r = van_westendorp(&data).unwrap();
    assert_eq!((r.respondents, r.dropped), (4, 2));
    let grid: Vec<f64> = r.curves.iter().map(|c| c.price).collect();
    assert_eq!(grid, [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0]);
    let col = |f: fn(&agora_choice::pricing::PriceCurvePoint) -> f64| {
        r.curves.iter().map(f).collect::<Vec<_>>()
    };
    assert_eq!(
        col(|c| c.too_cheap),
        [1.0, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(col(|c| c.cheap), [1.0, 1.0, 0.75, 0.25, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(
        col(|c| c.expensive),
        [0.0, 0.0, 0.0, 0.5, 0.75, 1.0, 1.0, 1.0]
    );
    assert_eq!(
        col(|c| c.too_expensive),
        [0.0, 0.0, 0.0, 0.25, 0.25, 0.5, 0.75, 1.0]
    );
    assert_eq!(r.pmc, Some(15.0));
    assert_eq!(r.pme, Some(25.0));
    assert!((r.opp.unwrap() - 17.5).abs() < 1e-12);
    assert!((r.ipp.unwrap() - 18.75).abs() < 1e-12);
    assert_eq!(r.acceptable_range(), Some((15.0, 25.0)));
}

#[test]
fn van_westendorp_rejects_all_invalid() {
    assert!(matches!(
        van_westendorp(&[vw(3.0, 2.0, 1.0, 0.0)]),
        Err(ChoiceError::NoValidData { dropped: 1, .. })
    ));
    assert!(van_westendorp(&[]).is_err());
}

#[test]
fn gabor_granger_by_hand() {
    // Price 10: 3 of 4 buy (demand .75, revenue 7.5); price 20: 2 of 4 (.5, revenue 10);
    // price 30: 1 of 5 (.2, revenue 6). Revenue peaks at 20.
    // Wilson at 2 of 4, z = 1.959964: centre (.5 + z²/8)/(1 + z²/4) = .5, half-width
    // z·√(.0625 + z²/64)/(1 + z²/4) = 0.3499610 → (0.1500390, 0.8499610).
    let mut data = Vec::new();
    for (price, yes, n) in [(30.0, 1, 5), (10.0, 3, 4), (20.0, 2, 4)] {
        for i in 0..n {
            data.push((price, i < yes));
        }
    }
    let g = gabor_granger(&data).unwrap();
    assert_eq!(g.best_price, 20.0);
    assert_eq!(g.best_revenue, 10.0);
    // make_reference.py, section gabor_granger_small: statsmodels proportion_confint
    // (method "wilson", alpha 0.05).
    let expected = [
        (10.0, 4, 0.75, 0.30064184258240184, 0.9544127391902995, 7.5),
        (20.0, 4, 0.5, 0.15003898915214947, 0.8499610108478506, 10.0),
        (30.0, 5, 0.2, 0.036224108632430196, 0.6244653702374748, 6.0),
    ];
    for (p, (price, n, demand, lo, hi, revenue)) in g.points.iter().zip(expected) {
        assert_eq!((p.price, p.n), (price, n));
        assert!((p.demand - demand).abs() < 1e-12);
        assert!((p.ci_low - lo).abs() < 1e-9);
        assert!((p.ci_high - hi).abs() < 1e-9);
        assert!((p.revenue - revenue).abs() < 1e-12);
    }
    assert!(gabor_granger(&[]).is_err());
    assert!(gabor_granger(&[(f64::NAN, true)]).is_err());
    assert!(gabor_granger(&[(-1.0, true)]).is_err());
    assert!(wilson_interval(3, 2, 1.96).is_err());
}

#[test]
fn ladder_walk_by_hand() {
    // Ladder of 4 prices: yes at rung 1 → rung 2; no at 1 → 0; yes at the top or no at
    // the bottom ends the walk; a rung off the ladder ends it too.
    assert_eq!(next_price_index(4, 1, true), Some(2));
    assert_eq!(next_price_index(4, 1, false), Some(0));
    assert_eq!(next_price_index(4, 3, true), None);
    assert_eq!(next_price_index(4, 0, false), None);
    assert_eq!(next_price_index(4, 9, true), None);
    assert_eq!(next_price_index(0, 0, true), None);
}

proptest! {
    #[test]
    fn wilson_interval_contains_the_share(n in 1usize..500, frac in 0.0f64..=1.0) {
        let k = ((n as f64) * frac).floor() as usize;
        let (lo, hi) = wilson_interval(k, n, 1.959964).unwrap();
        let p = k as f64 / n as f64;
        prop_assert!(0.0 <= lo && lo <= p + 1e-12 && p <= hi + 1e-12 && hi <= 1.0);
    }

    #[test]
    fn van_westendorp_curves_are_monotone(
        answers in prop::collection::vec(prop::collection::vec(0.0f64..100.0, 4), 1..30)
    ) {
        let data: Vec<VanWestendorpResponse> = answers
            .iter()
            .map(|a| {
                let mut s = a.clone();
                s.sort_by(f64::total_cmp);
                vw(s[0], s[1], s[2], s[3])
            })
            .collect();
        let r = van_westendorp(&data).unwrap();
        prop_assert_eq!(r.dropped, 0);
        for w in r.curves.windows(2) {
            prop_assert!(w[1].too_cheap <= w[0].too_cheap && w[1].cheap <= w[0].cheap);
            prop_assert!(w[1].expensive >= w[0].expensive && w[1].too_expensive >= w[0].too_expensive);
        }
        if let Some((lo, hi)) = r.acceptable_range() {
            prop_assert!(lo.is_finite() && hi.is_finite());
        }
    }
}
