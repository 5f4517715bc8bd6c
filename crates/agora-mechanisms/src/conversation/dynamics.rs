//! Opinion dynamics of rule-based agents: plain functions, independent of any model.
//!
//! Opinions are shares `x` of the scale, 0 (its lowest point) to 1 (its highest).
//!
//! - **Initial opinion**: `x0 = Φ(intercept + side * side_shift + sum(w_k z_k) + e)`,
//!   with `side` = +1 for the first side of a two-sided debate, -1 for the second, 0
//!   otherwise, `z_k` the standardised drivers and `e ~ N(0, 1)` from the call's seed.
//! - **Bounded confidence** (Hegselmann–Krause with a convergence rate, the Deffuant
//!   rate applied to the mean): after a round an agent listens only to the public
//!   stances `s_j` it heard that lie within `ε` of its own opinion, takes their mean
//!   together with its own opinion, `m = mean({x} ∪ {s_j : |s_j - x| <= ε})`, and moves
//!   `x' = x + μ (m - x)`. Stances farther than `ε` are ignored, so an agent moves at
//!   most `μ ε` per round and never beyond the opinions it listened to.
//! - **Confidence**: `c' = clamp(c + 0.2 (a - 0.5), 0.05, 0.99)`, where `a` is the share
//!   of heard stances within `ε` (unchanged when nothing was heard).
//! - **Public stance**: what an agent says leans towards what it heard:
//!   `s = x + κ (g - x)`, with `g` the mean of the stances heard since its last turn
//!   (`s = x` when none) and `κ = min(1, conformity * (0.5 + agreeableness))`. The
//!   difference `|s - x|` is the public/private gap.
//! - **Stimulus** (focus groups): when a stimulus is shown, `x' = clamp(x + effect +
//!   sum(w_k z_k), 0, 1)` before the bounded-confidence step.

use crate::stats::normal_cdf;

/// The initial opinion share from a latent score and a standard normal draw.
pub fn initial_opinion(score: f64, noise: f64) -> f64 {
    normal_cdf(score + noise)
}

/// The bounded-confidence update of opinion `x` after hearing `heard` (see the module
/// documentation); `epsilon` and `mu` in 0..1.
pub fn bounded_confidence(x: f64, heard: &[f64], epsilon: f64, mu: f64) -> f64 {
    let (sum, count) = heard
        .iter()
        .filter(|s| (*s - x).abs() <= epsilon)
        .fold((x, 1usize), |(sum, n), s| (sum + s, n + 1));
    let mean = sum / count as f64;
    (x + mu * (mean - x)).clamp(0.0, 1.0)
}

/// The confidence after hearing `heard` with opinion `x` (see the module documentation).
pub fn updated_confidence(confidence: f64, x: f64, heard: &[f64], epsilon: f64) -> f64 {
    if heard.is_empty() {
        return confidence;
    }
    let close = heard.iter().filter(|s| (*s - x).abs() <= epsilon).count();
    let share = close as f64 / heard.len() as f64;
    (confidence + 0.2 * (share - 0.5)).clamp(0.05, 0.99)
}

/// The stance an agent with opinion `x` states in public after hearing `heard`.
pub fn public_stance(x: f64, heard: &[f64], conformity: f64, agreeableness: f64) -> f64 {
    if heard.is_empty() {
        return x;
    }
    let g = heard.iter().sum::<f64>() / heard.len() as f64;
    let kappa = (conformity * (0.5 + agreeableness)).clamp(0.0, 1.0);
    (x + kappa * (g - x)).clamp(0.0, 1.0)
}

/// A stimulus's push on opinion `x`: `clamp(x + shift, 0, 1)`.
pub fn after_stimulus(x: f64, shift: f64) -> f64 {
    (x + shift).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hegselmann_krause_with_full_rate_jumps_to_the_mean_of_close_stances() {
        let x = bounded_confidence(0.5, &[0.6, 0.7, 0.95], 0.25, 1.0);
        assert!((x - 0.6).abs() < 1e-12, "{x}");
        assert_eq!(
            bounded_confidence(0.5, &[0.9], 0.2, 1.0),
            0.5,
            "far stances are ignored"
        );
        assert_eq!(public_stance(0.2, &[], 0.5, 0.5), 0.2);
        assert!((public_stance(0.2, &[0.6], 0.5, 0.5) - 0.4).abs() < 1e-12);
        assert_eq!(updated_confidence(0.5, 0.5, &[0.5, 0.9], 0.1), 0.5);
        assert!(updated_confidence(0.5, 0.5, &[0.5], 0.1) > 0.5);
    }

    proptest! {
        #[test]
        fn updates_stay_within_what_was_listened_to(
            x in 0.0f64..=1.0,
            heard in proptest::collection::vec(0.0f64..=1.0, 0..12),
            epsilon in 0.0f64..=1.0,
            mu in 0.0f64..=1.0,
        ) {
            let y = bounded_confidence(x, &heard, epsilon, mu);
            let close: Vec<f64> = heard.iter().copied().filter(|s| (s - x).abs() <= epsilon).chain([x]).collect();
            let lo = close.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = close.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(y >= lo - 1e-12 && y <= hi + 1e-12, "{y} outside [{lo}, {hi}]");
            prop_assert!((y - x).abs() <= mu * epsilon + 1e-12, "moves at most mu * epsilon");
            prop_assert_eq!(bounded_confidence(x, &heard, epsilon, 0.0), x);
            let far: Vec<f64> = heard.iter().copied().filter(|s| (s - x).abs() > epsilon).collect();
            prop_assert_eq!(bounded_confidence(x, &far, epsilon, mu), x, "nobody outside epsilon moves anyone");
        }

        #[test]
        fn a_consensus_is_a_fixed_point(x in 0.0f64..=1.0, n in 0usize..10, epsilon in 0.0f64..=1.0, mu in 0.0f64..=1.0) {
            let y = bounded_confidence(x, &vec![x; n], epsilon, mu);
            prop_assert!((y - x).abs() < 1e-12);
        }

        #[test]
        fn public_stances_lie_between_opinion_and_what_was_heard(
            x in 0.0f64..=1.0,
            heard in proptest::collection::vec(0.0f64..=1.0, 1..8),
            conformity in 0.0f64..=1.0,
            agreeableness in 0.0f64..=1.0,
            c in 0.05f64..=0.99,
        ) {
            let g = heard.iter().sum::<f64>() / heard.len() as f64;
            let s = public_stance(x, &heard, conformity, agreeableness);
            prop_assert!(s >= x.min(g) - 1e-12 && s <= x.max(g) + 1e-12);
            let c2 = updated_confidence(c, x, &heard, 0.2);
            prop_assert!((0.05..=0.99).contains(&c2));
            prop_assert!((0.0..=1.0).contains(&initial_opinion(x * 6.0 - 3.0, c - 0.5)));
        }
    }
}
