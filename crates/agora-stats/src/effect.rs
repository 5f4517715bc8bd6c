//! Standardised effect sizes and the risk difference.

use crate::check;
use crate::describe::{mean_unchecked, variance_unchecked};
use crate::error::{Result, StatsError};

/// Cohen's d for two independent samples, the mean difference in units of the pooled SD:
/// `d = (x̄_a − x̄_b) / s_p` with `s_p = √(((n_a−1)s²_a + (n_b−1)s²_b) / (n_a + n_b − 2))`.
pub fn cohens_d(a: &[f64], b: &[f64]) -> Result<f64> {
    check::at_least("cohens_d (first sample)", a, 2)?;
    check::at_least("cohens_d (second sample)", b, 2)?;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled =
        ((na - 1.0) * variance_unchecked(a) + (nb - 1.0) * variance_unchecked(b)) / (na + nb - 2.0);
    if pooled <= 0.0 {
        return Err(StatsError::ZeroVariance { what: "cohens_d" });
    }
    Ok((mean_unchecked(a) - mean_unchecked(b)) / pooled.sqrt())
}

/// Hedges' g, Cohen's d with the small-sample bias correction
/// `g = d · (1 − 3 / (4(n_a + n_b) − 9))`.
pub fn hedges_g(a: &[f64], b: &[f64]) -> Result<f64> {
    let d = cohens_d(a, b)?;
    let n = (a.len() + b.len()) as f64;
    Ok(d * (1.0 - 3.0 / (4.0 * n - 9.0)))
}

/// Cohen's d_z for paired differences, the mean difference in units of the SD of the
/// differences: `d_z = d̄ / s_d`.
pub fn cohens_dz(differences: &[f64]) -> Result<f64> {
    check::at_least("cohens_dz", differences, 2)?;
    let sd = variance_unchecked(differences).sqrt();
    if sd <= 0.0 {
        return Err(StatsError::ZeroVariance { what: "cohens_dz" });
    }
    Ok(mean_unchecked(differences) / sd)
}

/// Risk difference `k_a/n_a − k_b/n_b` between two proportions.
pub fn risk_difference(successes_a: u64, n_a: u64, successes_b: u64, n_b: u64) -> Result<f64> {
    for (k, n) in [(successes_a, n_a), (successes_b, n_b)] {
        if n == 0 {
            return Err(StatsError::EmptyInput {
                what: "risk_difference (n = 0 trials)",
            });
        }
        if k > n {
            return Err(StatsError::InvalidArgument {
                what: "risk_difference",
                reason: format!("{k} successes out of {n} trials; successes must not exceed n"),
            });
        }
    }
    Ok(successes_a as f64 / n_a as f64 - successes_b as f64 / n_b as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{CONTROL, DATA_A, DATA_B, TREATED, assert_close};

    // Hand: a = [1, 2, 3], b = [4, 5, 6, 7]: variances 1 and 5/3, pooled (2·1 + 3·5/3)/5 = 7/5,
    // d = −3.5/√1.4 = −2.958039891549808; J = 1 − 3/(4·7 − 9) = 16/19, g = −2.4909809613051013.
    #[test]
    fn hand_computed() {
        let (a, b) = ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]);
        assert_close(cohens_d(&a, &b).unwrap(), -2.958039891549808, 1e-12);
        assert_close(
            hedges_g(&a, &b).unwrap(),
            -2.958039891549808 * 16.0 / 19.0,
            1e-12,
        );
        // d_z of [1, 2, 3, 6]: mean 3, variance (4 + 1 + 0 + 9)/3 = 14/3, d_z = 1.3887301496588271.
        assert_close(
            cohens_dz(&[1.0, 2.0, 3.0, 6.0]).unwrap(),
            1.3887301496588271,
            1e-12,
        );
        // 30/100 − 20/80 = 0.05.
        assert_close(risk_difference(30, 100, 20, 80).unwrap(), 0.05, 1e-12);
    }

    // numpy formulas in make_reference.py.
    #[test]
    fn against_numpy() {
        // cohen_d(A, B)
        assert_close(
            cohens_d(&DATA_A, &DATA_B).unwrap(),
            1.5990674568610461,
            1e-9,
        );
        // hedges_g(A, B)
        assert_close(
            hedges_g(&DATA_A, &DATA_B).unwrap(),
            1.5050046652809845,
            1e-9,
        );
        let d: Vec<f64> = TREATED.iter().zip(&CONTROL).map(|(t, c)| t - c).collect();
        // d_z(TREATED - CONTROL)
        assert_close(cohens_dz(&d).unwrap(), 1.0091917852123022, 1e-9);
    }

    #[test]
    fn bad_input() {
        assert!(matches!(
            cohens_d(&[1.0, 1.0], &[2.0, 2.0]),
            Err(StatsError::ZeroVariance { .. })
        ));
        assert!(matches!(
            cohens_d(&[1.0], &[2.0, 3.0]),
            Err(StatsError::TooFew { .. })
        ));
        assert!(matches!(
            cohens_dz(&[2.0, 2.0]),
            Err(StatsError::ZeroVariance { .. })
        ));
        assert!(matches!(
            cohens_dz(&[f64::NAN, 2.0]),
            Err(StatsError::NotFinite { .. })
        ));
        assert!(risk_difference(1, 0, 1, 2).is_err());
        assert!(risk_difference(3, 2, 1, 2).is_err());
    }
}
