//! Small numeric helpers shared by mechanisms' rule-based policies.

/// The standard normal cumulative distribution function Φ(x).
///
/// Uses the Abramowitz & Stegun 7.1.26 approximation of erf (absolute error below
/// 1.5e-7), which is plenty for mapping latent scores to answer categories.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

/// Map a latent score to one of `k` ordered bins: `floor(k * Φ(score))`, clamped.
pub fn bin_of(score: f64, k: usize) -> usize {
    let k = k.max(1);
    ((normal_cdf(score) * k as f64).floor() as usize).min(k - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cdf_matches_known_values() {
        for (x, want) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.959_964, 0.025),
            (3.0, 0.998_650_102),
        ] {
            assert!(
                (normal_cdf(x) - want).abs() < 1e-6,
                "Φ({x}) = {}",
                normal_cdf(x)
            );
        }
    }

    proptest! {
        #[test]
        fn bins_are_monotone_and_in_range(a in -10.0f64..10.0, b in -10.0f64..10.0, k in 1usize..12) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(bin_of(lo, k) <= bin_of(hi, k));
            prop_assert!(bin_of(hi, k) < k);
        }
    }
}
