//! Big Five personality: a correlated normal per agent, clamped to 0..1.
//!
//! Traits are drawn jointly as `mean + std_dev * (L z)` where `L` is the Cholesky factor
//! of the correlation matrix and `z` five independent standard normals; the result is
//! clamped to 0..1 and stored as `f32` in [`Traits::big_five`](agora_core::components::Traits).

use agora_core::components::BIG_FIVE;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::with_hint;

/// How the Big Five traits are distributed in the population.
///
/// Written as `big_five: (mean: (..5 values..), std_dev: (..), correlation: [[..], ..])`
/// with traits in [`BIG_FIVE`] order; every field is optional. The default is five
/// independent N(0.5, 0.15) traits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawBigFive")]
pub struct BigFiveSpec {
    /// Mean of each trait, in 0..1.
    pub mean: [f64; 5],
    /// Standard deviation of each trait before clamping, >= 0.
    pub std_dev: [f64; 5],
    /// Correlations between traits.
    pub correlation: Correlation,
}

impl Default for BigFiveSpec {
    fn default() -> Self {
        Self {
            mean: [0.5; 5],
            std_dev: [0.15; 5],
            correlation: Correlation::identity(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "big_five")]
struct RawBigFive {
    #[serde(default = "default_mean")]
    mean: [f64; 5],
    #[serde(default = "default_std_dev")]
    std_dev: [f64; 5],
    #[serde(default = "Correlation::identity")]
    correlation: Correlation,
}

fn default_mean() -> [f64; 5] {
    BigFiveSpec::default().mean
}

fn default_std_dev() -> [f64; 5] {
    BigFiveSpec::default().std_dev
}

impl TryFrom<RawBigFive> for BigFiveSpec {
    type Error = String;

    fn try_from(raw: RawBigFive) -> Result<Self, String> {
        let spec = Self {
            mean: raw.mean,
            std_dev: raw.std_dev,
            correlation: raw.correlation,
        };
        spec.check()?;
        Ok(spec)
    }
}

impl BigFiveSpec {
    /// Check means and standard deviations (the correlation is checked on creation).
    pub fn check(&self) -> Result<(), String> {
        for (i, trait_name) in BIG_FIVE.iter().enumerate() {
            let m = self.mean[i];
            if !(0.0..=1.0).contains(&m) {
                return Err(with_hint(
                    format!("big_five mean of {trait_name} must be between 0 and 1, got {m}"),
                    "traits are on a 0..1 scale where 0.5 is average",
                ));
            }
            let s = self.std_dev[i];
            if !s.is_finite() || s < 0.0 {
                return Err(with_hint(
                    format!("big_five std_dev of {trait_name} must be >= 0, got {s}"),
                    "use a positive spread such as 0.15",
                ));
            }
        }
        Ok(())
    }

    /// Draw `n` agents' traits.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Vec<[f32; 5]> {
        let l = &self.correlation.cholesky;
        (0..n)
            .map(|_| {
                let z: [f64; 5] = std::array::from_fn(|_| StandardNormal.sample(rng));
                std::array::from_fn(|i| {
                    let c: f64 = (0..=i).map(|j| l[i][j] * z[j]).sum();
                    (self.mean[i] + self.std_dev[i] * c).clamp(0.0, 1.0) as f32
                })
            })
            .collect()
    }
}

/// A validated 5x5 trait correlation matrix: symmetric, unit diagonal, entries in
/// -1..1, positive definite.
///
/// Written in RON as a list of five rows: `[[1.0, 0.2, 0.0, 0.0, 0.0], ...]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Vec<f64>>", into = "Vec<Vec<f64>>")]
pub struct Correlation {
    rows: [[f64; 5]; 5],
    cholesky: [[f64; 5]; 5],
}

impl Correlation {
    /// Independent traits.
    pub fn identity() -> Self {
        let rows = std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }));
        Self {
            rows,
            cholesky: rows,
        }
    }

    /// Validate a matrix given as rows; the error says what is wrong and how to fix it.
    pub fn new(rows: Vec<Vec<f64>>) -> Result<Self, String> {
        let order = BIG_FIVE.join(", ");
        if rows.len() != 5 {
            return Err(with_hint(
                format!("correlation must have 5 rows, got {}", rows.len()),
                format!("write a 5x5 matrix with one row per trait, in the order {order}"),
            ));
        }
        let mut m = [[0.0; 5]; 5];
        for (i, row) in rows.iter().enumerate() {
            if row.len() != 5 {
                return Err(with_hint(
                    format!(
                        "correlation row {} ({}) has {} entries, expected 5",
                        i + 1,
                        BIG_FIVE[i],
                        row.len()
                    ),
                    format!("give one entry per trait, in the order {order}"),
                ));
            }
            m[i].copy_from_slice(row);
        }
        for i in 0..5 {
            if m[i][i] != 1.0 {
                return Err(with_hint(
                    format!(
                        "correlation of {} with itself (row {}, column {}) must be 1, got {}",
                        BIG_FIVE[i],
                        i + 1,
                        i + 1,
                        m[i][i]
                    ),
                    "set every diagonal entry to 1.0",
                ));
            }
            for j in 0..5 {
                let v = m[i][j];
                if !v.is_finite() || !(-1.0..=1.0).contains(&v) {
                    return Err(with_hint(
                        format!(
                            "correlation of {} with {} (row {}, column {}) must be between -1 and 1, got {v}",
                            BIG_FIVE[i],
                            BIG_FIVE[j],
                            i + 1,
                            j + 1
                        ),
                        "correlations range from -1 (opposite) through 0 (unrelated) to 1 (identical)",
                    ));
                }
                if m[j][i] != v {
                    return Err(with_hint(
                        format!(
                            "correlation is not symmetric: row {}, column {} ({} with {}) is {v} but row {}, column {} is {}",
                            i + 1,
                            j + 1,
                            BIG_FIVE[i],
                            BIG_FIVE[j],
                            j + 1,
                            i + 1,
                            m[j][i]
                        ),
                        "make both entries equal",
                    ));
                }
            }
        }
        let cholesky = cholesky(&m).ok_or_else(|| {
            with_hint(
                "correlation is not positive definite: the correlations contradict each other",
                "reduce the strongest correlations towards 0 (e.g. A-B 0.9, B-C 0.9 but A-C -0.9 is impossible)",
            )
        })?;
        Ok(Self { rows: m, cholesky })
    }

    /// Correlation between traits `i` and `j` (indices into [`BIG_FIVE`]).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.rows[i][j]
    }
}

impl TryFrom<Vec<Vec<f64>>> for Correlation {
    type Error = String;

    fn try_from(rows: Vec<Vec<f64>>) -> Result<Self, String> {
        Self::new(rows)
    }
}

impl From<Correlation> for Vec<Vec<f64>> {
    fn from(c: Correlation) -> Self {
        c.rows.iter().map(|r| r.to_vec()).collect()
    }
}

/// Lower-triangular `L` with `L L^T = m`, or `None` when `m` is not positive definite.
fn cholesky(m: &[[f64; 5]; 5]) -> Option<[[f64; 5]; 5]> {
    let mut l = [[0.0; 5]; 5];
    for i in 0..5 {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = m[i][i] - s;
                if d <= 1e-10 {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - s) / l[j][j];
            }
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<BigFiveSpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(&format!("\n{src}"))
    }

    fn rejects(src: &str, needle: &str) {
        match parse(src) {
            Ok(s) => panic!("{src} parsed as {s:?}"),
            Err(e) => {
                let msg = e.code.to_string();
                assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
                assert!(e.span.start.line > 0);
                assert!(crate::split_hint(&msg).1.is_some());
            }
        }
    }

    const ID: &str = "[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0]";

    #[test]
    fn defaults_and_valid_specs_parse() {
        assert_eq!(parse("()").ok(), Some(BigFiveSpec::default()));
        let src = format!(
            "(mean: (0.6, 0.5, 0.5, 0.5, 0.4), correlation: [{ID}, [0.0, 0.0, 0.0, 0.0, 1.0]])"
        );
        assert!(parse(&src).is_ok(), "{:?}", parse(&src));
    }

    #[test]
    fn correlation_shape_and_values_are_checked() {
        rejects(
            &format!("(correlation: [{ID}])"),
            "correlation must have 5 rows, got 4",
        );
        rejects(
            &format!("(correlation: [{ID}, [0.0, 1.0]])"),
            "row 5 (neuroticism) has 2 entries, expected 5",
        );
        rejects(
            &format!("(correlation: [{ID}, [0.0, 0.0, 0.0, 0.0, 0.9]])"),
            "must be 1, got 0.9",
        );
        rejects(
            &format!("(correlation: [{ID}, [0.3, 0.0, 0.0, 0.0, 1.0]])"),
            "correlation is not symmetric",
        );
    }

    #[test]
    fn correlation_must_be_positive_definite() {
        let rows = "[1.0, 0.9, -0.9, 0.0, 0.0], [0.9, 1.0, 0.9, 0.0, 0.0], [-0.9, 0.9, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]";
        rejects(&format!("(correlation: [{rows}])"), "not positive definite");
        rejects(
            "(correlation: [[1.0, 1.5, 0.0, 0.0, 0.0], [1.5, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]])",
            "between -1 and 1, got 1.5",
        );
    }

    #[test]
    fn means_and_spreads_are_checked() {
        rejects(
            "(mean: (1.5, 0.5, 0.5, 0.5, 0.5))",
            "big_five mean of openness must be between 0 and 1, got 1.5",
        );
        rejects(
            "(std_dev: (0.1, 0.1, 0.1, 0.1, -0.1))",
            "big_five std_dev of neuroticism must be >= 0, got -0.1",
        );
    }
}
