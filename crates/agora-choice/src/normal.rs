//! Standard normal quantiles for confidence intervals.

use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{ChoiceError, Result};

/// Two-sided critical value `z` of the standard normal for a confidence `level`
/// (e.g. 1.959964 for 0.95), so that an interval is `estimate ± z·standard error`.
pub fn z_critical(level: f64) -> Result<f64> {
    if !(level.is_finite() && level > 0.0 && level < 1.0) {
        return Err(ChoiceError::invalid(
            "confidence level",
            format!("{level} is not strictly between 0 and 1; use e.g. 0.95"),
        ));
    }
    Ok(Normal::standard().inverse_cdf(0.5 + level / 2.0))
}

/// The 95% two-sided critical value, used by every table in the crate.
pub(crate) fn z95() -> f64 {
    Normal::standard().inverse_cdf(0.975)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_of_95_percent_matches_tables() {
        // scipy.stats.norm.ppf(0.975) = 1.959963984540054
        assert!((z_critical(0.95).unwrap() - 1.959_963_984_540_054).abs() < 1e-9);
        assert!((z95() - 1.959_963_984_540_054).abs() < 1e-9);
        assert!(z_critical(1.0).is_err());
        assert!(z_critical(f64::NAN).is_err());
    }
}
