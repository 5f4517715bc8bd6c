//! Pearson chi-square goodness-of-fit test.
//!
//! `χ² = Σ (Oᵢ − Eᵢ)² / Eᵢ` with `k − 1` degrees of freedom; without expected counts every
//! category expects the mean count. Expected counts must total the observed ones (relative
//! tolerance 1e-8, as scipy requires).

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::TestResult;
use crate::check;
use crate::error::{Result, StatsError};

/// Chi-square goodness of fit of observed counts to expected counts (uniform when `None`).
pub fn chi_square_goodness_of_fit(
    observed: &[f64],
    expected: Option<&[f64]>,
) -> Result<TestResult> {
    check::at_least("chi_square_goodness_of_fit (observed)", observed, 2)?;
    if let Some(&bad) = observed.iter().find(|o| **o < 0.0) {
        return Err(StatsError::InvalidArgument {
            what: "chi_square_goodness_of_fit",
            reason: format!("observed count {bad} is negative; counts must be ≥ 0"),
        });
    }
    let total: f64 = observed.iter().sum();
    let uniform;
    let expected = match expected {
        Some(e) => {
            check::same_length("chi_square_goodness_of_fit", observed.len(), e.len())?;
            check::finite("chi_square_goodness_of_fit (expected)", e)?;
            let etotal: f64 = e.iter().sum();
            if (etotal - total).abs() > 1e-8 * total.abs().max(etotal.abs()) {
                return Err(StatsError::InvalidArgument {
                    what: "chi_square_goodness_of_fit",
                    reason: format!(
                        "expected counts total {etotal} but observed total {total}; scale the expected counts to the observed total"
                    ),
                });
            }
            e
        }
        None => {
            uniform = vec![total / observed.len() as f64; observed.len()];
            &uniform[..]
        }
    };
    if let Some(&bad) = expected.iter().find(|e| **e <= 0.0) {
        return Err(StatsError::InvalidArgument {
            what: "chi_square_goodness_of_fit",
            reason: format!("expected count {bad} is not positive; merge empty categories"),
        });
    }
    let stat: f64 = observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (o - e) * (o - e) / e)
        .sum();
    let df = observed.len() as f64 - 1.0;
    let dist = ChiSquared::new(df).map_err(|e| StatsError::InvalidArgument {
        what: "chi_square_goodness_of_fit",
        reason: format!("chi-square with {df} df rejected: {e}"),
    })?;
    Ok(TestResult {
        statistic: stat,
        p_value: dist.sf(stat),
        df: Some(df),
        test: "chi-square goodness-of-fit test",
    })
}
