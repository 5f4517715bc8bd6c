//! Descriptive statistics: mean, sample variance, standard deviation, median, quantiles.
//!
//! Quantiles use linear interpolation between order statistics (Hyndman & Fan type 7,
//! numpy's default `"linear"` method): for sorted values `x[0..n]` and probability `q`,
//! `h = (n - 1) q`, and the quantile is `x[⌊h⌋] + (h - ⌊h⌋)(x[⌊h⌋+1] - x[⌊h⌋])`.

use crate::check;
use crate::error::{Result, StatsError};

/// Arithmetic mean `Σx / n`; the centre of every interval in the crate.
pub fn mean(values: &[f64]) -> Result<f64> {
    check::finite_nonempty("mean", values)?;
    Ok(mean_unchecked(values))
}

/// Sample variance with `n - 1` in the denominator (ddof = 1), the unbiased estimate.
pub fn variance(values: &[f64]) -> Result<f64> {
    check::at_least("variance", values, 2)?;
    Ok(variance_unchecked(values))
}

/// Sample standard deviation, the square root of [`variance`].
pub fn std_dev(values: &[f64]) -> Result<f64> {
    check::at_least("std_dev", values, 2)?;
    Ok(variance_unchecked(values).sqrt())
}

/// Median: the type-7 quantile at 0.5 (mean of the two middle values for even `n`).
pub fn median(values: &[f64]) -> Result<f64> {
    quantile(values, 0.5)
}

/// Quantile at probability `q` in [0, 1] with type-7 linear interpolation.
pub fn quantile(values: &[f64], q: f64) -> Result<f64> {
    check::finite_nonempty("quantile", values)?;
    if !(0.0..=1.0).contains(&q) {
        return Err(StatsError::InvalidArgument {
            what: "quantile",
            reason: format!("probability {q} is outside [0, 1]; pass a value such as 0.5"),
        });
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(quantile_sorted(&sorted, q))
}

/// Mean of values already checked to be finite and non-empty.
pub(crate) fn mean_unchecked(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample variance (two-pass) of values already checked; needs at least two.
pub(crate) fn variance_unchecked(values: &[f64]) -> f64 {
    let m = mean_unchecked(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    ss / (values.len() as f64 - 1.0)
}

/// Type-7 quantile of a sorted, non-empty slice; `q` must lie in [0, 1].
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() as f64 - 1.0) * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{DATA_A, assert_close};

    // Hand: [1, 2, 3, 4]: mean 2.5; squared deviations 2.25+0.25+0.25+2.25 = 5, variance 5/3;
    // median (2+3)/2 = 2.5; quantile 0.1: h = 3·0.1 = 0.3 → 1 + 0.3·(2−1) = 1.3.
    #[test]
    fn hand_computed() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_close(mean(&x).unwrap(), 2.5, 1e-15);
        assert_close(variance(&x).unwrap(), 5.0 / 3.0, 1e-12);
        assert_close(std_dev(&x).unwrap(), (5.0f64 / 3.0).sqrt(), 1e-12);
        assert_close(median(&x).unwrap(), 2.5, 1e-15);
        assert_close(quantile(&x, 0.1).unwrap(), 1.3, 1e-12);
        assert_close(quantile(&x, 0.0).unwrap(), 1.0, 1e-15);
        assert_close(quantile(&x, 1.0).unwrap(), 4.0, 1e-15);
    }

    // numpy on DATA_A, printed by make_reference.py.
    #[test]
    fn against_numpy() {
        // np.mean(A)
        assert_close(mean(&DATA_A).unwrap(), 5.6125, 1e-12);
        // np.var(A, ddof=1)
        assert_close(variance(&DATA_A).unwrap(), 0.23553571428571426, 1e-9);
        // np.std(A, ddof=1)
        assert_close(std_dev(&DATA_A).unwrap(), 0.485320218294802, 1e-9);
        // np.median(A)
        assert_close(median(&DATA_A).unwrap(), 5.65, 1e-12);
        // np.quantile(A, 0.1)
        assert_close(quantile(&DATA_A, 0.1).unwrap(), 5.04, 1e-9);
        // np.quantile(A, 0.9)
        assert_close(quantile(&DATA_A, 0.9).unwrap(), 6.13, 1e-9);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(mean(&[]), Err(StatsError::EmptyInput { .. })));
        assert!(matches!(
            mean(&[1.0, f64::NAN]),
            Err(StatsError::NotFinite { .. })
        ));
        assert!(matches!(variance(&[1.0]), Err(StatsError::TooFew { .. })));
        assert!(quantile(&[1.0], 1.5).is_err());
        assert!(quantile(&[1.0], f64::NAN).is_err());
    }
}
