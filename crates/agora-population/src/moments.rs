//! Theoretical mean and standard deviation of what the sampler produces.
//!
//! Targets in the marginals report come from here. They account for truncation
//! (`min`/`max`), rounding and trait clamping, so a correct sampler matches them up to
//! sampling noise. Untruncated, unprocessed distributions use closed forms; the rest are
//! integrated numerically on a fine grid in a coordinate where the density is smooth
//! (log space for LogNormal, logit space for Beta) or summed exactly (Poisson).

use crate::dist::Dist;
use crate::draw::Post;

/// Grid points for numerical integration.
const GRID: usize = 20_000;
/// Grid half-width, in standard deviations, for Normal-shaped densities.
const TAIL_SD: f64 = 12.0;

/// Share of `dist` that lies within its truncation bounds (1 when unbounded, NaN for
/// categorical distributions).
pub(crate) fn truncated_mass(dist: &Dist) -> f64 {
    let (lo, hi) = dist.bounds();
    match dist {
        Dist::Poisson { lambda, .. } => {
            let (k0, w) = poisson_weights(*lambda);
            let total: f64 = w.iter().sum();
            let kept: f64 = w
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    let k = (k0 + i) as f64;
                    k >= lo && k <= hi
                })
                .map(|(_, w)| w)
                .sum();
            kept / total
        }
        Dist::Normal { mean, std_dev, .. } if *std_dev == 0.0 => {
            if *mean >= lo && *mean <= hi {
                1.0
            } else {
                0.0
            }
        }
        _ => match Continuous::of(dist) {
            Some(c) => {
                let (full_lo, full_hi) = c.range;
                let (t_lo, t_hi) = c.truncated_range(lo, hi);
                if t_lo >= t_hi {
                    return 0.0;
                }
                let full = c.integrate(full_lo, full_hi, &|_| 0.0).weight;
                let kept = c.integrate(t_lo, t_hi, &|_| 0.0).weight;
                (kept / full).min(1.0)
            }
            None => f64::NAN,
        },
    }
}

/// Mean and standard deviation of `post.apply(x)` for `x` drawn from `dist` truncated
/// to its bounds. `(NaN, NaN)` for categorical distributions.
pub(crate) fn moments(dist: &Dist, post: &Post) -> (f64, f64) {
    let (lo, hi) = dist.bounds();
    let plain = *post == Post::default() && lo == f64::NEG_INFINITY && hi == f64::INFINITY;
    match dist {
        Dist::Categorical(_) | Dist::Conditional { .. } => (f64::NAN, f64::NAN),
        Dist::Normal { mean, std_dev, .. } if plain || *std_dev == 0.0 => {
            if *std_dev == 0.0 {
                (post.apply(mean.max(lo).min(hi)), 0.0)
            } else {
                (*mean, *std_dev)
            }
        }
        Dist::LogNormal { mu, sigma, .. } if plain => {
            let s2 = sigma * sigma;
            let mean = (mu + s2 / 2.0).exp();
            (mean, ((s2.exp() - 1.0) * (2.0 * mu + s2).exp()).sqrt())
        }
        Dist::Beta {
            alpha: a, beta: b, ..
        } if plain => {
            let s = a + b;
            (a / s, (a * b / (s * s * (s + 1.0))).sqrt())
        }
        Dist::Uniform { min, max } if *post == Post::default() => {
            ((min + max) / 2.0, (max - min) / 12f64.sqrt())
        }
        Dist::Poisson { lambda, .. } if plain => (*lambda, lambda.sqrt()),
        Dist::Poisson { lambda, .. } => {
            let (k0, w) = poisson_weights(*lambda);
            let mut acc = Acc::default();
            for (i, w) in w.iter().enumerate() {
                let k = (k0 + i) as f64;
                if k >= lo && k <= hi {
                    acc.add(*w, post.apply(k));
                }
            }
            if acc.weight > 0.0 {
                acc.finish()
            } else {
                // Every draw is clamped to the bound nearest the mass.
                let x = if lo > *lambda { lo } else { hi };
                (post.apply(x), 0.0)
            }
        }
        _ => match Continuous::of(dist) {
            Some(c) => {
                let (t_lo, t_hi) = c.truncated_range(lo, hi);
                if t_lo >= t_hi {
                    let centre = (c.x)(c.centre);
                    return (post.apply(centre.max(lo).min(hi)), 0.0);
                }
                c.integrate(t_lo, t_hi, &|x| post.apply(x)).finish()
            }
            None => (f64::NAN, f64::NAN),
        },
    }
}

/// Weighted running sums for mean and variance.
#[derive(Default)]
struct Acc {
    weight: f64,
    sum: f64,
    sum_sq: f64,
}

impl Acc {
    fn add(&mut self, w: f64, g: f64) {
        self.weight += w;
        self.sum += w * g;
        self.sum_sq += w * g * g;
    }

    fn finish(&self) -> (f64, f64) {
        let mean = self.sum / self.weight;
        let var = (self.sum_sq / self.weight - mean * mean).max(0.0);
        (mean, var.sqrt())
    }
}

/// A continuous density expressed in a smooth coordinate `y`.
struct Continuous {
    /// Log density in `y`, up to a constant, at most about 0.
    log_w: Box<dyn Fn(f64) -> f64>,
    /// Value of the variable at `y`.
    x: Box<dyn Fn(f64) -> f64>,
    /// Inverse of `x`, for mapping bounds.
    y: Box<dyn Fn(f64) -> f64>,
    /// Range of `y` holding all but a negligible share of the mass.
    range: (f64, f64),
    /// A `y` near the mode.
    centre: f64,
}

impl Continuous {
    fn of(dist: &Dist) -> Option<Self> {
        Some(match *dist {
            Dist::Normal { mean, std_dev, .. } => Self {
                log_w: Box::new(move |y| -0.5 * ((y - mean) / std_dev).powi(2)),
                x: Box::new(|y| y),
                y: Box::new(|x| x),
                range: (mean - TAIL_SD * std_dev, mean + TAIL_SD * std_dev),
                centre: mean,
            },
            Dist::LogNormal { mu, sigma, .. } => Self {
                log_w: Box::new(move |y| -0.5 * ((y - mu) / sigma).powi(2)),
                x: Box::new(f64::exp),
                y: Box::new(|x| if x > 0.0 { x.ln() } else { f64::NEG_INFINITY }),
                range: (mu - TAIL_SD * sigma, mu + TAIL_SD * sigma),
                centre: mu,
            },
            Dist::Beta {
                alpha: a, beta: b, ..
            } => {
                // In y = logit(x) the density is x^a (1-x)^b: smooth, peaked at
                // x = a / (a + b), with exponential tails of rates a and b.
                let m = a / (a + b);
                let peak = a * m.ln() + b * (1.0 - m).ln();
                let centre = (a / b).ln();
                let spread = TAIL_SD * (1.0 / a + 1.0 / b).sqrt();
                Self {
                    log_w: Box::new(move |y| -a * softplus(-y) - b * softplus(y) - peak),
                    x: Box::new(sigmoid),
                    y: Box::new(logit),
                    range: (centre - 40.0 / a - spread, centre + 40.0 / b + spread),
                    centre,
                }
            }
            Dist::Uniform { min, max } => Self {
                log_w: Box::new(|_| 0.0),
                x: Box::new(|y| y),
                y: Box::new(|x| x),
                range: (min, max),
                centre: (min + max) / 2.0,
            },
            _ => return None,
        })
    }

    fn truncated_range(&self, lo: f64, hi: f64) -> (f64, f64) {
        let (r_lo, r_hi) = self.range;
        (r_lo.max((self.y)(lo)), r_hi.min((self.y)(hi)))
    }

    /// Midpoint rule over `lo..hi` for the moments of `g(x)`.
    fn integrate(&self, lo: f64, hi: f64, g: &dyn Fn(f64) -> f64) -> Acc {
        let h = (hi - lo) / GRID as f64;
        let mut acc = Acc::default();
        for i in 0..GRID {
            let y = lo + (i as f64 + 0.5) * h;
            let w = (self.log_w)(y).exp() * h;
            if w > 0.0 {
                acc.add(w, g((self.x)(y)));
            }
        }
        acc
    }
}

fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn sigmoid(y: f64) -> f64 {
    if y >= 0.0 {
        1.0 / (1.0 + (-y).exp())
    } else {
        let e = y.exp();
        e / (1.0 + e)
    }
}

fn logit(x: f64) -> f64 {
    if x <= 0.0 {
        f64::NEG_INFINITY
    } else if x >= 1.0 {
        f64::INFINITY
    } else {
        (x / (1.0 - x)).ln()
    }
}

/// Unnormalised Poisson probabilities over the range holding all but a negligible
/// share of the mass: `(first k, weights)`.
fn poisson_weights(lambda: f64) -> (usize, Vec<f64>) {
    let spread = 40.0 * lambda.sqrt() + 40.0;
    let k0 = (lambda - spread).max(0.0).floor() as usize;
    let k1 = (lambda + spread).ceil() as usize;
    let ln_lambda = lambda.ln();
    let mut log_w = Vec::with_capacity(k1 - k0 + 1);
    let mut lw = 0.0;
    for k in k0..=k1 {
        if k > k0 {
            lw += ln_lambda - (k as f64).ln();
        }
        log_w.push(lw);
    }
    let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (k0, log_w.into_iter().map(|lw| (lw - top).exp()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64), tol: f64) {
        assert!(
            (a.0 - b.0).abs() < tol && (a.1 - b.1).abs() < tol,
            "{a:?} vs {b:?}"
        );
    }

    #[test]
    fn numerical_moments_match_closed_forms() {
        let round_off = Post {
            round: None,
            clamp01: true,
        };
        // Clamping Beta to 0..1 changes nothing, but forces the numerical path.
        let beta = Dist::Beta {
            alpha: 2.0,
            beta: 5.0,
            min: None,
            max: None,
        };
        close(
            moments(&beta, &round_off),
            moments(&beta, &Post::default()),
            1e-6,
        );
        let beta = Dist::Beta {
            alpha: 0.5,
            beta: 0.5,
            min: None,
            max: None,
        };
        close(
            moments(&beta, &round_off),
            moments(&beta, &Post::default()),
            1e-6,
        );
        let normal = Dist::Normal {
            mean: 0.5,
            std_dev: 0.01,
            min: None,
            max: None,
        };
        close(moments(&normal, &round_off), (0.5, 0.01), 1e-6);
        let ln = Dist::LogNormal {
            mu: 1.0,
            sigma: 0.5,
            min: Some(1e-9),
            max: None,
        };
        close(
            moments(&ln, &Post::default()),
            moments(
                &Dist::LogNormal {
                    mu: 1.0,
                    sigma: 0.5,
                    min: None,
                    max: None,
                },
                &Post::default(),
            ),
            1e-5,
        );
        let p = Dist::Poisson {
            lambda: 3.0,
            min: Some(0.0),
            max: None,
        };
        close(moments(&p, &Post::default()), (3.0, 3f64.sqrt()), 1e-9);
    }

    #[test]
    fn truncation_moves_the_moments() {
        // Half-normal: mean sqrt(2/pi), sd sqrt(1 - 2/pi).
        let d = Dist::Normal {
            mean: 0.0,
            std_dev: 1.0,
            min: Some(0.0),
            max: None,
        };
        let half = (2.0 / std::f64::consts::PI).sqrt();
        close(
            moments(&d, &Post::default()),
            (half, (1.0 - half * half).sqrt()),
            1e-6,
        );
        assert!((truncated_mass(&d) - 0.5).abs() < 1e-6);
        let p = Dist::Poisson {
            lambda: 2.0,
            min: None,
            max: Some(0.0),
        };
        assert!((truncated_mass(&p) - (-2f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn rounding_adds_about_a_twelfth_to_the_variance() {
        let d = Dist::Normal {
            mean: 45.0,
            std_dev: 15.0,
            min: None,
            max: None,
        };
        let post = Post::rounding(true, d.bounds());
        let (m, sd) = moments(&d, &post);
        assert!((m - 45.0).abs() < 1e-6);
        assert!((sd * sd - (225.0 + 1.0 / 12.0)).abs() < 1e-3, "{sd}");
    }
}
