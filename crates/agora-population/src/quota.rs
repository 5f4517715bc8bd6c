//! Exact category counts for quota attributes.
//!
//! A quota attribute gets exactly the largest-remainder rounding of `n x weight`
//! agents per category; which agents get which category is a seeded shuffle.

use rand::Rng;
use rand::seq::SliceRandom;

/// Split `n` into whole counts proportional to `weights` (largest-remainder method).
///
/// Each count is `floor(n * share)` or one more; the units left after flooring go to
/// the largest remainders, ties to the earlier category. Weights are divided by their
/// sum first, so they need not add up to exactly 1. Counts always sum to `n` (all to
/// the first category if every weight is 0).
pub fn largest_remainder(n: usize, weights: &[f64]) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if total <= 0.0 || !total.is_finite() {
        let mut counts = vec![0; weights.len()];
        counts[0] = n;
        return counts;
    }
    let exact: Vec<f64> = weights.iter().map(|w| n as f64 * w / total).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Stable sort keeps category order among equal remainders.
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra)
    });
    let assigned: usize = counts.iter().sum();
    if assigned <= n {
        for &i in order.iter().cycle().take(n - assigned) {
            counts[i] += 1;
        }
    } else {
        // Only reachable through floating-point error: take back from the smallest
        // remainders.
        let mut excess = assigned - n;
        for &i in order.iter().rev().cycle() {
            if excess == 0 {
                break;
            }
            if counts[i] > 0 {
                counts[i] -= 1;
                excess -= 1;
            }
        }
    }
    counts
}

/// `n` category indices with exact quota counts, in a seeded random order.
pub(crate) fn assign<R: Rng + ?Sized>(n: usize, weights: &[f64], rng: &mut R) -> Vec<u16> {
    let mut labels = Vec::with_capacity(n);
    for (i, c) in largest_remainder(n, weights).into_iter().enumerate() {
        labels.extend(std::iter::repeat_n(i as u16, c));
    }
    labels.shuffle(rng);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_largest_remainders() {
        assert_eq!(largest_remainder(10, &[0.3, 0.5, 0.2]), vec![3, 5, 2]);
        assert_eq!(largest_remainder(7, &[0.3, 0.5, 0.2]), vec![2, 4, 1]);
        // Equal remainders: the earlier category wins.
        assert_eq!(largest_remainder(1, &[0.5, 0.5]), vec![1, 0]);
        assert_eq!(largest_remainder(2, &[1.0 / 3.0; 3]), vec![1, 1, 0]);
        assert_eq!(largest_remainder(5, &[0.0, 0.0]), vec![5, 0]);
    }
}
