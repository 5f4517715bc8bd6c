//! Per-round conversation metrics: plain functions over opinions and messages.
//!
//! Opinions enter as shares `x` of the scale (0 = lowest point, 1 = highest); `n` is
//! the number of agents with a private opinion.
//!
//! - `opinion_mean` and `opinion_variance`: mean and population variance of private
//!   opinions, in scale units.
//! - `polarisation`: mean absolute difference between two different agents' private
//!   opinions, `sum_{i<j} |x_i - x_j| / (n (n-1) / 2)`, in 0..1 (1 only for two agents at
//!   opposite ends; about 0.5 for a group split evenly between the two ends).
//! - `distance_from_initial`: mean `|x_i(t) - x_i(0)|` against the opinion elicited
//!   before round 1.
//! - `public_private_gap`: mean `|s_i - x_i|` over the round's speakers, between the
//!   stance a message took in public and the private opinion given after the round.
//! - `echo_score`: mean similarity of each message to the message spoken just before
//!   it (the previous speaker's), by word-count cosine ([`agora_core::text`]).
//! - `persona_drift`: per message, its mean similarity to the other agents' persona
//!   cards minus its similarity to its speaker's own card; positive values mean an
//!   agent sounds more like the others than like itself.
//! - `novelty`: per message, 1 minus its highest similarity to any message of the
//!   previous rounds the detector looks back on; the stagnation detector reads it.

use agora_core::text::WordCounts;

/// Mean and population variance of `xs` (0 and 0 when empty).
pub fn mean_variance(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

/// Mean absolute difference over pairs of agents (see the module documentation).
pub fn polarisation(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 2 {
        return 0.0;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    // sum_{i<j} (x_(j) - x_(i)) = sum_k x_(k) (2k - n + 1) over the sorted order.
    let total: f64 = sorted
        .iter()
        .enumerate()
        .map(|(k, x)| x * (2.0 * k as f64 - n as f64 + 1.0))
        .sum();
    total / (n as f64 * (n as f64 - 1.0) / 2.0)
}

/// Mean absolute difference of paired values (0 when empty).
pub fn mean_abs_difference(pairs: impl IntoIterator<Item = (f64, f64)>) -> Option<f64> {
    let (sum, n) = pairs
        .into_iter()
        .fold((0.0, 0usize), |(s, n), (a, b)| (s + (a - b).abs(), n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Persona drift of one message: mean similarity to the other cards minus similarity
/// to the speaker's own card (`cards[speaker]`).
pub fn persona_drift(message: &WordCounts, cards: &[WordCounts], speaker: usize) -> (f64, f64) {
    let own = cards.get(speaker).map_or(0.0, |c| message.cosine(c));
    let others: Vec<f64> = cards
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != speaker)
        .map(|(_, c)| message.cosine(c))
        .collect();
    let others = if others.is_empty() {
        0.0
    } else {
        others.iter().sum::<f64>() / others.len() as f64
    };
    (own, others)
}

/// Novelty of a message against `earlier` messages: 1 minus the highest similarity.
pub fn novelty<'a>(message: &WordCounts, earlier: impl IntoIterator<Item = &'a WordCounts>) -> f64 {
    1.0 - earlier
        .into_iter()
        .map(|e| message.cosine(e))
        .fold(0.0, f64::max)
}

/// Mean of `xs`, `None` when empty.
pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_polarisation(xs: &[f64]) -> f64 {
        let n = xs.len();
        let mut s = 0.0;
        for i in 0..n {
            for j in i + 1..n {
                s += (xs[i] - xs[j]).abs();
            }
        }
        s / (n * (n - 1) / 2) as f64
    }

    #[test]
    fn known_values() {
        assert_eq!(mean_variance(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(polarisation(&[0.0, 1.0]), 1.0);
        assert!(polarisation(&[0.3; 5]).abs() < 1e-12);
        assert!((polarisation(&[0.0, 0.0, 1.0, 1.0]) - 4.0 / 6.0).abs() < 1e-12);
        assert!((mean_abs_difference([(0.2, 0.5), (0.5, 0.5)]).unwrap() - 0.15).abs() < 1e-12);
        assert_eq!(mean_abs_difference(std::iter::empty()), None);
        let cards = [
            WordCounts::of("farmer rural tractor"),
            WordCounts::of("banker city office"),
        ];
        let (own, others) = persona_drift(&WordCounts::of("my tractor"), &cards, 0);
        assert!(own > 0.0 && others == 0.0);
        let m = WordCounts::of("trains are cheap");
        assert!(novelty(&m, [&m]).abs() < 1e-12);
        assert_eq!(novelty(&m, []), 1.0);
    }

    proptest! {
        #[test]
        fn polarisation_matches_its_definition_and_is_bounded(xs in proptest::collection::vec(0.0f64..=1.0, 2..30)) {
            let p = polarisation(&xs);
            prop_assert!((p - naive_polarisation(&xs)).abs() < 1e-9);
            prop_assert!((0.0..=1.0 + 1e-12).contains(&p));
            let (_, var) = mean_variance(&xs);
            prop_assert!((0.0..=0.25 + 1e-12).contains(&var));
        }
    }
}
