//! Distribution functions (quantiles and tail probabilities) used by intervals and tests.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::error::{Result, StatsError};

/// Quantile `t_{df, p}` of Student's t distribution.
pub(crate) fn t_quantile(df: f64, p: f64) -> Result<f64> {
    let t = StudentsT::new(0.0, 1.0, df).map_err(|e| StatsError::InvalidArgument {
        what: "Student t quantile",
        reason: format!("degrees of freedom {df} rejected ({e}); need df > 0"),
    })?;
    Ok(t.inverse_cdf(p))
}

/// Two-sided tail probability `2·P(T_df > |t|)`.
pub(crate) fn t_two_sided_p(t: f64, df: f64) -> Result<f64> {
    let dist = StudentsT::new(0.0, 1.0, df).map_err(|e| StatsError::InvalidArgument {
        what: "Student t p-value",
        reason: format!("degrees of freedom {df} rejected ({e}); need df > 0"),
    })?;
    Ok((2.0 * dist.sf(t.abs())).min(1.0))
}

/// Standard normal quantile.
pub(crate) fn z_quantile(p: f64) -> f64 {
    // Normal::standard() cannot fail.
    Normal::standard().inverse_cdf(p)
}
