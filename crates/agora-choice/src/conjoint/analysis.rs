//! Part-worth tables, attribute importances and willingness to pay from a fit.

use serde::{Deserialize, Serialize};

use super::study::{AttributeKind, ConjointStudy};
use crate::error::{ChoiceError, Result};
use crate::mnl::MnlFit;
use crate::normal::z95;

/// One row of the part-worth table, with a 95% normal confidence interval
/// (`estimate ± 1.96·std_error`). Reference levels have estimate and error 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartWorth {
    /// Attribute name (`"none"` for the no-choice constant).
    pub attribute: String,
    /// Level label (`"per unit"` for the linear price slope).
    pub level: String,
    /// Estimated utility relative to the reference level.
    pub estimate: f64,
    /// Standard error from the inverse observed information.
    pub std_error: f64,
    /// Lower end of the 95% interval.
    pub ci_low: f64,
    /// Upper end of the 95% interval.
    pub ci_high: f64,
}

/// Relative importance of an attribute: its part-worth range over the sum of ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Attribute name.
    pub attribute: String,
    /// Share of the total range, between 0 and 1 (importances sum to 1).
    pub importance: f64,
}

/// Willingness to pay for a level relative to the reference level, in currency units:
/// `−(β_level − β_reference) / β_price` (β_reference = 0), with a delta-method standard
/// error and 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WillingnessToPay {
    /// Attribute name.
    pub attribute: String,
    /// Level label.
    pub level: String,
    /// Currency units a respondent would pay to get this level instead of the reference.
    pub estimate: f64,
    /// Delta-method standard error.
    pub std_error: f64,
    /// Lower end of the 95% interval.
    pub ci_low: f64,
    /// Upper end of the 95% interval.
    pub ci_high: f64,
}

fn check_fit(study: &ConjointStudy, fit: &MnlFit) -> Result<()> {
    let k = study.n_parameters();
    if fit.beta.len() != k
        || fit.std_errors.len() != k
        || fit.covariance.len() != k
        || fit.covariance.iter().any(|row| row.len() != k)
    {
        return Err(ChoiceError::dims(
            "the fit's coefficient vector (fit it with this study's coding)",
            k,
            fit.beta.len(),
        ));
    }
    Ok(())
}

fn row(attribute: &str, level: &str, estimate: f64, std_error: f64, z: f64) -> PartWorth {
    PartWorth {
        attribute: attribute.to_owned(),
        level: level.to_owned(),
        estimate,
        std_error,
        ci_low: estimate - z * std_error,
        ci_high: estimate + z * std_error,
    }
}

/// The part-worth table of a fit: every level of every attribute (reference levels at
/// 0), the price slope, and the "none" constant, each with a 95% interval.
pub fn part_worths(study: &ConjointStudy, fit: &MnlFit) -> Result<Vec<PartWorth>> {
    check_fit(study, fit)?;
    let z = z95();
    let mut table = Vec::new();
    for (a, attribute) in study.attributes().iter().enumerate() {
        match attribute.kind {
            AttributeKind::Categorical => {
                table.push(row(&attribute.name, &attribute.levels[0], 0.0, 0.0, z));
                for (l, label) in attribute.levels.iter().enumerate().skip(1) {
                    if let Some(p) = study.parameter_of(a, l) {
                        table.push(row(
                            &attribute.name,
                            label,
                            fit.beta[p],
                            fit.std_errors[p],
                            z,
                        ));
                    }
                }
            }
            AttributeKind::Price { .. } => {
                if let Some(p) = study.parameter_of(a, 0) {
                    table.push(row(
                        &attribute.name,
                        "per unit",
                        fit.beta[p],
                        fit.std_errors[p],
                        z,
                    ));
                }
            }
        }
    }
    if let Some(p) = study.none_parameter() {
        table.push(row("none", "none", fit.beta[p], fit.std_errors[p], z));
    }
    Ok(table)
}

/// Importances of all attributes (the "none" constant is not an attribute).
///
/// The range of a categorical attribute is max − min of its part-worths including the
/// reference 0; the range of a linear price is `|β_price|·(max price − min price)`.
pub fn importances(study: &ConjointStudy, beta: &[f64]) -> Result<Vec<Importance>> {
    if beta.len() != study.n_parameters() {
        return Err(ChoiceError::dims(
            "the coefficient vector",
            study.n_parameters(),
            beta.len(),
        ));
    }
    if let Some((i, &b)) = beta.iter().enumerate().find(|(_, b)| !b.is_finite()) {
        return Err(ChoiceError::non_finite(format!("coefficient {i}"), b));
    }
    let mut ranges = Vec::with_capacity(study.attributes().len());
    for (a, attribute) in study.attributes().iter().enumerate() {
        let range = match &attribute.kind {
            AttributeKind::Categorical => {
                let (mut lo, mut hi) = (0.0f64, 0.0f64);
                for l in 1..attribute.levels.len() {
                    if let Some(p) = study.parameter_of(a, l) {
                        lo = lo.min(beta[p]);
                        hi = hi.max(beta[p]);
                    }
                }
                hi - lo
            }
            AttributeKind::Price { values } => {
                let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                study
                    .parameter_of(a, 0)
                    .map_or(0.0, |p| beta[p].abs() * (hi - lo))
            }
        };
        ranges.push(range);
    }
    let total: f64 = ranges.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return Err(ChoiceError::invalid(
            "part-worths",
            "every attribute has a part-worth range of 0, so importances are undefined; \
             check that the fit is not all zeros",
        ));
    }
    Ok(study
        .attributes()
        .iter()
        .zip(ranges)
        .map(|(a, r)| Importance {
            attribute: a.name.clone(),
            importance: r / total,
        })
        .collect())
}

fn wtp_for(
    study: &ConjointStudy,
    fit: &MnlFit,
    a: usize,
    l: usize,
    price: usize,
) -> WillingnessToPay {
    let attribute = &study.attributes()[a];
    let (estimate, std_error) = match study.parameter_of(a, l) {
        Some(p) => {
            let (bl, bp) = (fit.beta[p], fit.beta[price]);
            // w = −β_l/β_p; ∂w/∂β_l = −1/β_p; ∂w/∂β_p = β_l/β_p².
            let (dl, dp) = (-1.0 / bp, bl / (bp * bp));
            let var = dl * dl * fit.covariance[p][p]
                + 2.0 * dl * dp * fit.covariance[p][price]
                + dp * dp * fit.covariance[price][price];
            (-bl / bp, var.max(0.0).sqrt())
        }
        None => (0.0, 0.0),
    };
    let z = z95();
    WillingnessToPay {
        attribute: attribute.name.clone(),
        level: attribute.levels[l].clone(),
        estimate,
        std_error,
        ci_low: estimate - z * std_error,
        ci_high: estimate + z * std_error,
    }
}

fn price_parameter(study: &ConjointStudy, fit: &MnlFit) -> Result<usize> {
    check_fit(study, fit)?;
    let price = study
        .price_attribute()
        .and_then(|a| study.parameter_of(a, 0))
        .ok_or_else(|| {
            ChoiceError::invalid(
                "study",
                "willingness to pay needs a price attribute; add one with Attribute::price",
            )
        })?;
    let bp = fit.beta[price];
    if bp.is_nan() || bp >= 0.0 {
        return Err(ChoiceError::invalid(
            "price coefficient",
            format!(
                "it is {bp}, not negative, so utility does not fall with price and willingness \
                 to pay is undefined; check the price coding or collect more data"
            ),
        ));
    }
    Ok(price)
}

/// Willingness to pay for one level of a categorical attribute, named by labels.
pub fn willingness_to_pay(
    study: &ConjointStudy,
    fit: &MnlFit,
    attribute: &str,
    level: &str,
) -> Result<WillingnessToPay> {
    let price = price_parameter(study, fit)?;
    let a = study.attribute_index(attribute)?;
    if !matches!(study.attributes()[a].kind, AttributeKind::Categorical) {
        return Err(ChoiceError::invalid(
            "attribute",
            format!("\"{attribute}\" is the price itself; ask for a categorical attribute"),
        ));
    }
    let l = study.level_index(a, level)?;
    Ok(wtp_for(study, fit, a, l, price))
}

/// Willingness to pay for every level of every categorical attribute (references at 0).
pub fn willingness_to_pay_table(
    study: &ConjointStudy,
    fit: &MnlFit,
) -> Result<Vec<WillingnessToPay>> {
    let price = price_parameter(study, fit)?;
    let mut table = Vec::new();
    for (a, attribute) in study.attributes().iter().enumerate() {
        if matches!(attribute.kind, AttributeKind::Categorical) {
            for l in 0..attribute.levels.len() {
                table.push(wtp_for(study, fit, a, l, price));
            }
        }
    }
    Ok(table)
}
