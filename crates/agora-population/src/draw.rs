//! Drawing values: ready-to-sample numeric distributions and category pickers.
//!
//! Truncation is by rejection: a draw outside `min`/`max` is retried up to
//! [`MAX_TRUNCATION_TRIES`] times, then clamped into range. Rounding (for `round: true`)
//! and clamping to 0..1 (for traits) follow.

use rand::{Rng, RngExt};
use rand_distr::Distribution;

use crate::dist::Dist;

/// Truncated draws are retried this many times before the last draw is clamped.
///
/// Together with [`MIN_TRUNCATED_MASS`](crate::MIN_TRUNCATED_MASS) this keeps the clamped share below about
/// 3 in 100,000 draws.
pub const MAX_TRUNCATION_TRIES: u32 = 200;

/// What happens to a draw after truncation: rounding to whole numbers within the
/// bounds, and clamping to 0..1 for traits.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Post {
    /// Round to a whole number, then clamp into `(lo, hi)`.
    pub round: Option<(f64, f64)>,
    /// Clamp to 0..1.
    pub clamp01: bool,
}

impl Post {
    /// Rounding for an attribute with `round: true` and bounds `(min, max)`.
    pub fn rounding(round: bool, (min, max): (f64, f64)) -> Self {
        Self {
            round: round.then(|| (min.ceil(), max.floor())),
            clamp01: false,
        }
    }

    pub fn apply(&self, mut x: f64) -> f64 {
        if let Some((lo, hi)) = self.round {
            x = x.round().max(lo).min(hi);
        }
        if self.clamp01 {
            x = x.clamp(0.0, 1.0);
        }
        x
    }
}

/// Ready-to-draw form of a numeric [`Dist`].
#[derive(Clone, Debug)]
pub(crate) struct NumericSampler {
    shape: Shape,
    min: f64,
    max: f64,
    post: Post,
}

#[derive(Clone, Debug)]
enum Shape {
    Normal(rand_distr::Normal<f64>),
    LogNormal(rand_distr::LogNormal<f64>),
    Beta(rand_distr::Beta<f64>),
    Uniform { min: f64, width: f64 },
    Poisson(rand_distr::Poisson<f64>),
}

impl NumericSampler {
    /// Prepare `dist` for drawing; `None` for categorical distributions, `Err` when a
    /// parameter is invalid (only possible for specs built in code and not validated).
    pub fn new(dist: &Dist, post: Post) -> Result<Option<Self>, String> {
        dist.check()?;
        let invalid = |e: &dyn std::fmt::Display| format!("invalid distribution parameters: {e}");
        let shape = match dist {
            Dist::Normal { mean, std_dev, .. } => {
                Shape::Normal(rand_distr::Normal::new(*mean, *std_dev).map_err(|e| invalid(&e))?)
            }
            Dist::LogNormal { mu, sigma, .. } => {
                Shape::LogNormal(rand_distr::LogNormal::new(*mu, *sigma).map_err(|e| invalid(&e))?)
            }
            Dist::Beta { alpha, beta, .. } => {
                Shape::Beta(rand_distr::Beta::new(*alpha, *beta).map_err(|e| invalid(&e))?)
            }
            Dist::Uniform { min, max } => Shape::Uniform {
                min: *min,
                width: max - min,
            },
            Dist::Poisson { lambda, .. } => {
                Shape::Poisson(rand_distr::Poisson::new(*lambda).map_err(|e| invalid(&e))?)
            }
            Dist::Categorical(_) | Dist::Conditional { .. } => return Ok(None),
        };
        let (min, max) = match dist {
            Dist::Uniform { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            _ => dist.bounds(),
        };
        Ok(Some(Self {
            shape,
            min,
            max,
            post,
        }))
    }

    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.shape {
            Shape::Normal(d) => d.sample(rng),
            Shape::LogNormal(d) => d.sample(rng),
            Shape::Beta(d) => d.sample(rng),
            Shape::Uniform { min, width } => min + width * rng.random::<f64>(),
            Shape::Poisson(d) => d.sample(rng),
        }
    }

    /// One value: truncated by rejection (then clamped), then post-processed.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let mut x = self.draw(rng);
        let mut tries = 1;
        while !(x >= self.min && x <= self.max) && tries < MAX_TRUNCATION_TRIES {
            x = self.draw(rng);
            tries += 1;
        }
        self.post.apply(x.max(self.min).min(self.max))
    }
}

/// Draws a category index from cumulative shares.
pub(crate) struct CategoryDraw {
    cumulative: Vec<f64>,
    /// Last category with a positive share, for draws beyond the rounded total.
    last: u16,
}

impl CategoryDraw {
    pub fn new(shares: &[f64]) -> Self {
        let mut acc = 0.0;
        let cumulative = shares
            .iter()
            .map(|s| {
                acc += s;
                acc
            })
            .collect();
        let last = shares.iter().rposition(|s| *s > 0.0).unwrap_or(0) as u16;
        Self { cumulative, last }
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u16 {
        let u: f64 = rng.random();
        let k = self.cumulative.partition_point(|c| *c <= u);
        if k >= self.cumulative.len() {
            self.last
        } else {
            k as u16
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_sampler_stays_in_bounds_and_rounds() {
        use rand::SeedableRng;
        let dist = Dist::Normal {
            mean: 45.0,
            std_dev: 15.0,
            min: Some(18.5),
            max: Some(90.0),
        };
        let s = NumericSampler::new(&dist, Post::rounding(true, dist.bounds()))
            .ok()
            .flatten()
            .expect("numeric sampler");
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        for _ in 0..10_000 {
            let x = s.sample(&mut rng);
            assert!((19.0..=90.0).contains(&x) && x.fract() == 0.0, "{x}");
        }
    }
}
