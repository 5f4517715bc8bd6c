//! Distributions of private values and budgets: checked while parsed, drawn from seed
//! streams, and with a CDF for the rule-based bidders' equilibrium bids.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;

use crate::stats::normal_cdf;

/// A distribution of money amounts (values, budgets, common-value components).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawValueDist")]
pub enum ValueDist {
    /// Uniform on `min..=max` (`min == max` gives a constant).
    Uniform {
        /// Lower end of the support.
        min: f64,
        /// Upper end of the support.
        max: f64,
    },
    /// Normal with `std_dev >= 0`; a value drawn below zero counts as zero.
    Normal {
        /// Centre.
        mean: f64,
        /// Spread.
        std_dev: f64,
    },
    /// `exp` of a Normal(`mu`, `sigma`): positive and right-skewed, like prices.
    LogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm, > 0.
        sigma: f64,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "dist")]
enum RawValueDist {
    Uniform { min: f64, max: f64 },
    Normal { mean: f64, std_dev: f64 },
    LogNormal { mu: f64, sigma: f64 },
}

impl TryFrom<RawValueDist> for ValueDist {
    type Error = String;

    fn try_from(raw: RawValueDist) -> Result<Self, String> {
        let dist = match raw {
            RawValueDist::Uniform { min, max } => ValueDist::Uniform { min, max },
            RawValueDist::Normal { mean, std_dev } => ValueDist::Normal { mean, std_dev },
            RawValueDist::LogNormal { mu, sigma } => ValueDist::LogNormal { mu, sigma },
        };
        dist.check()?;
        Ok(dist)
    }
}

fn finite(what: &str, x: f64, example: &str) -> Result<(), String> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(format!(
            "{what} must be a finite number, got {x}; use a value such as {example}"
        ))
    }
}

impl ValueDist {
    /// Check every parameter; the message says what is wrong, then how to fix it.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            ValueDist::Uniform { min, max } => {
                finite("Uniform min", min, "0.0")?;
                finite("Uniform max", max, "100.0")?;
                if min < 0.0 {
                    return Err(format!(
                        "Uniform min must be >= 0 for money amounts, got {min}; use 0.0 or more"
                    ));
                }
                if min > max {
                    return Err(format!(
                        "Uniform min ({min}) must be <= max ({max}); swap them: Uniform(min: {max}, max: {min})"
                    ));
                }
            }
            ValueDist::Normal { mean, std_dev } => {
                finite("Normal mean", mean, "100.0")?;
                finite("Normal std_dev", std_dev, "15.0")?;
                if std_dev < 0.0 {
                    return Err(format!(
                        "Normal std_dev must be >= 0, got {std_dev}; use a positive spread such as {}",
                        (mean.abs() / 5.0).max(1.0).round()
                    ));
                }
            }
            ValueDist::LogNormal { mu, sigma } => {
                finite("LogNormal mu", mu, "4.6")?;
                finite("LogNormal sigma", sigma, "0.3")?;
                if sigma <= 0.0 {
                    return Err(format!(
                        "LogNormal sigma must be > 0, got {sigma}; use a positive spread of the logarithm such as 0.3"
                    ));
                }
            }
        }
        Ok(())
    }

    /// One draw (unclamped: a Normal may give a negative amount).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            ValueDist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
            ValueDist::Normal { mean, std_dev } => {
                let z: f64 = StandardNormal.sample(rng);
                mean + std_dev * z
            }
            ValueDist::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
        }
    }

    /// The cumulative distribution function `P(X <= x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        match *self {
            ValueDist::Uniform { min, max } => {
                if x >= max {
                    1.0
                } else if x < min {
                    0.0
                } else {
                    (x - min) / (max - min)
                }
            }
            ValueDist::Normal { mean, std_dev } => {
                if std_dev == 0.0 {
                    f64::from(u8::from(x >= mean))
                } else {
                    normal_cdf((x - mean) / std_dev)
                }
            }
            ValueDist::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    normal_cdf((x.ln() - mu) / sigma)
                }
            }
        }
    }

    /// `∫ F(x)^k dx` over `lo..hi` (0 when `hi <= lo`): exact for `Uniform`, Simpson's
    /// rule on 256 intervals otherwise.
    pub fn cdf_power_integral(&self, k: u32, lo: f64, hi: f64) -> f64 {
        if hi <= lo {
            return 0.0;
        }
        let k = i32::try_from(k).unwrap_or(i32::MAX);
        match *self {
            ValueDist::Uniform { min, max } => {
                let above = hi - lo.max(max);
                let above = above.max(0.0);
                let (a, b) = (lo.max(min), hi.min(max));
                let inside = if b > a && max > min {
                    let w = max - min;
                    let p = |x: f64| ((x - min) / w).powi(k + 1) * w / f64::from(k + 1);
                    p(b) - p(a)
                } else {
                    0.0
                };
                inside + above
            }
            _ => {
                const N: u32 = 256;
                let h = (hi - lo) / f64::from(N);
                let f = |x: f64| self.cdf(x).powi(k);
                let mut sum = f(lo) + f(hi);
                for i in 1..N {
                    let w = if i % 2 == 1 { 4.0 } else { 2.0 };
                    sum += w * f(lo + h * f64::from(i));
                }
                sum * h / 3.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_core::seed::SeedStream;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<ValueDist, ron::error::SpannedError> {
        ron::from_str(text)
    }

    #[test]
    fn bad_parameters_are_rejected_with_a_fix() {
        for (text, needle) in [
            ("Uniform(min: 5.0, max: 1.0)", "swap them"),
            ("Uniform(min: -1.0, max: 1.0)", ">= 0"),
            ("Normal(mean: 5.0, std_dev: -1.0)", "positive spread"),
            ("LogNormal(mu: 5.0, sigma: 0.0)", "sigma must be > 0"),
            ("Uniform(min: 0.0, max: 1.0, mode: 0.5)", "mode"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
        assert_eq!(
            parse("Uniform(min: 0.0, max: 1.0)").unwrap(),
            ValueDist::Uniform { min: 0.0, max: 1.0 }
        );
    }

    #[test]
    fn draws_follow_the_distribution() {
        let mut rng = SeedStream::new(3).rng(&[1]);
        let d = ValueDist::Uniform {
            min: 10.0,
            max: 20.0,
        };
        let xs: Vec<f64> = (0..20_000).map(|_| d.sample(&mut rng)).collect();
        assert!(xs.iter().all(|x| (10.0..=20.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 15.0).abs() < 0.1, "{mean}");
        let ln = ValueDist::LogNormal {
            mu: 1.0,
            sigma: 0.5,
        };
        let below = (0..20_000)
            .filter(|_| ln.sample(&mut rng) <= 1f64.exp())
            .count();
        assert!(
            (9_600..10_400).contains(&below),
            "median of exp(mu): {below}"
        );
    }

    #[test]
    fn the_uniform_integral_is_exact_and_simpson_agrees_with_it() {
        let u = ValueDist::Uniform {
            min: 0.0,
            max: 100.0,
        };
        // ∫_0^v (x/100)^3 dx = v^4 / (4 * 100^3)
        let exact = 60f64.powi(4) / (4.0 * 1e6);
        assert!((u.cdf_power_integral(3, 0.0, 60.0) - exact).abs() < 1e-9);
        // Beyond the support F = 1.
        assert!((u.cdf_power_integral(2, 100.0, 110.0) - 10.0).abs() < 1e-12);
        let n = ValueDist::Normal {
            mean: 50.0,
            std_dev: 10.0,
        };
        let simpson = n.cdf_power_integral(1, 0.0, 50.0);
        // ∫_{-inf}^{mean} Φ((x-μ)/σ) dx = σ φ(0) = σ / sqrt(2π)
        let want = 10.0 / (2.0 * std::f64::consts::PI).sqrt();
        assert!((simpson - want).abs() < 1e-4, "{simpson} vs {want}");
        let point = ValueDist::Uniform { min: 5.0, max: 5.0 };
        assert_eq!(point.cdf_power_integral(3, 0.0, 8.0), 3.0);
    }

    proptest! {
        #[test]
        fn cdfs_are_monotone_within_0_and_1(a in -50.0f64..300.0, b in -50.0f64..300.0) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            for d in [
                ValueDist::Uniform { min: 10.0, max: 200.0 },
                ValueDist::Normal { mean: 100.0, std_dev: 30.0 },
                ValueDist::LogNormal { mu: 4.0, sigma: 0.4 },
            ] {
                prop_assert!(d.cdf(lo) <= d.cdf(hi));
                prop_assert!((0.0..=1.0).contains(&d.cdf(lo)));
            }
        }
    }
}
