//! Distributions an attribute or trait is drawn from, validated as they are parsed.
//!
//! [`Dist`] is what a scenario writes after `dist:`. Its `Deserialize` implementation
//! checks every parameter (through a private mirror type and `TryFrom`), so a bad value
//! is reported by the RON parser with its line and column. The same checks are exposed
//! as [`Dist::check`] for specs built in code.

use serde::{Deserialize, Serialize};

use crate::categories::Categories;
use crate::error::with_hint;
use crate::moments;

/// Smallest share of a distribution that `min`/`max` may keep (5%).
///
/// Tighter bounds are rejected at parse time: rejection sampling would mostly fail and
/// the values would pile up at the bounds.
pub const MIN_TRUNCATED_MASS: f64 = 0.05;

/// Largest Poisson `lambda` accepted; larger counts are better modelled by a rounded
/// Normal.
pub const MAX_POISSON_LAMBDA: f64 = 1e9;

/// Largest magnitude a numeric distribution's values may reach (its mean plus or minus
/// ten standard deviations, `Uniform`'s ends): beyond it squares overflow `f64`, so
/// draws or the marginals report would be infinite or NaN.
pub const MAX_ABS_VALUE: f64 = 1e100;

/// Largest Beta shape parameter accepted; larger shapes give a spike no different
/// from a constant, and their moments overflow.
pub const MAX_BETA_SHAPE: f64 = 1e6;

/// Smallest Beta shape parameter accepted; smaller shapes put nearly all values on 0
/// or 1 and their truncated moments cannot be computed.
pub const MIN_BETA_SHAPE: f64 = 0.01;

/// Standard deviations from the centre that draws are assumed to reach.
const TAIL: f64 = 10.0;

/// A distribution to draw one attribute or trait from.
///
/// Numeric variants (`Normal`, `LogNormal`, `Beta`, `Poisson`) take optional truncation
/// bounds `min`/`max`: a draw outside them is retried up to [`MAX_TRUNCATION_TRIES`](crate::MAX_TRUNCATION_TRIES)
/// times, then clamped into range. Bounds must keep at least [`MIN_TRUNCATED_MASS`] of
/// the distribution, so clamping is practically never needed. `Uniform`'s `min`/`max`
/// are its support, not truncation bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawDist")]
pub enum Dist {
    /// Normal (Gaussian) with `std_dev >= 0` (0 gives the constant `mean`).
    Normal {
        /// Centre of the distribution.
        mean: f64,
        /// Spread; must be >= 0.
        std_dev: f64,
        /// Optional lower truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Optional upper truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// Log-normal: `exp` of a Normal(`mu`, `sigma`); for incomes, prices, sizes.
    LogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm; must be > 0.
        sigma: f64,
        /// Optional lower truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Optional upper truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// Beta on 0..1; for shares, propensities and traits.
    Beta {
        /// First shape parameter; must be > 0.
        alpha: f64,
        /// Second shape parameter; must be > 0.
        beta: f64,
        /// Optional lower truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Optional upper truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// Uniform on `min..max` (`min == max` gives a constant).
    Uniform {
        /// Lower end of the support.
        min: f64,
        /// Upper end of the support.
        max: f64,
    },
    /// Poisson counts (whole numbers) with average `lambda`.
    Poisson {
        /// Average count; must be > 0 and at most [`MAX_POISSON_LAMBDA`].
        lambda: f64,
        /// Optional lower truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Optional upper truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// One of a list of labelled categories with given shares.
    Categorical(Categories),
    /// Categories whose shares depend on the category of an earlier attribute `given`.
    ///
    /// `table` holds one row per category of `given`; every row lists the same child
    /// categories (weight `0.0` where one does not occur), and the first row's order is
    /// the attribute's category order.
    Conditional {
        /// Name of an earlier categorical attribute.
        given: String,
        /// `(parent category, child shares)` rows.
        table: Vec<(String, Categories)>,
    },
}

/// Mirror of [`Dist`] without validation; parsed first, then checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "dist")]
enum RawDist {
    Normal {
        mean: f64,
        std_dev: f64,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    Beta {
        alpha: f64,
        beta: f64,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    Poisson {
        lambda: f64,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    Categorical(Categories),
    Conditional {
        given: String,
        table: Vec<(String, Categories)>,
    },
}

impl TryFrom<RawDist> for Dist {
    type Error = String;

    fn try_from(raw: RawDist) -> Result<Self, String> {
        let dist = match raw {
            RawDist::Normal {
                mean,
                std_dev,
                min,
                max,
            } => Dist::Normal {
                mean,
                std_dev,
                min,
                max,
            },
            RawDist::LogNormal {
                mu,
                sigma,
                min,
                max,
            } => Dist::LogNormal {
                mu,
                sigma,
                min,
                max,
            },
            RawDist::Beta {
                alpha,
                beta,
                min,
                max,
            } => Dist::Beta {
                alpha,
                beta,
                min,
                max,
            },
            RawDist::Uniform { min, max } => Dist::Uniform { min, max },
            RawDist::Poisson { lambda, min, max } => Dist::Poisson { lambda, min, max },
            RawDist::Categorical(c) => Dist::Categorical(c),
            RawDist::Conditional { given, table } => Dist::Conditional { given, table },
        };
        dist.check()?;
        Ok(dist)
    }
}

impl Dist {
    /// Check every parameter; the error says what is wrong and how to fix it.
    ///
    /// Runs automatically when a `Dist` is deserialized. Checks that need the rest of
    /// the population (does `given` exist?) are in
    /// [`PopulationSpec::validate`](crate::PopulationSpec::validate).
    pub fn check(&self) -> Result<(), String> {
        match self {
            Dist::Normal {
                mean,
                std_dev,
                min,
                max,
            } => {
                finite("Normal mean", *mean, "45.0")?;
                finite("Normal std_dev", *std_dev, "15.0")?;
                if *std_dev < 0.0 {
                    return Err(with_hint(
                        format!("Normal std_dev must be >= 0, got {std_dev}"),
                        format!("use a positive spread such as {}", suggest_spread(*mean)),
                    ));
                }
                check_bounds("Normal", *min, *max, false)?;
            }
            Dist::LogNormal {
                mu,
                sigma,
                min,
                max,
            } => {
                finite("LogNormal mu", *mu, "10.5")?;
                finite("LogNormal sigma", *sigma, "0.5")?;
                if *sigma <= 0.0 {
                    return Err(with_hint(
                        format!("LogNormal sigma must be > 0, got {sigma}"),
                        "use a positive spread of the logarithm such as 0.5",
                    ));
                }
                check_bounds("LogNormal", *min, *max, false)?;
                if let Some(hi) = max
                    && *hi <= 0.0
                {
                    return Err(with_hint(
                        format!("LogNormal max must be > 0, got {hi}"),
                        "LogNormal values are always positive: use a positive max or leave it out",
                    ));
                }
            }
            Dist::Beta {
                alpha,
                beta,
                min,
                max,
            } => {
                for (field, v) in [("alpha", alpha), ("beta", beta)] {
                    finite(&format!("Beta {field}"), *v, "2.0")?;
                    if *v <= 0.0 {
                        return Err(with_hint(
                            format!("Beta {field} must be > 0, got {v}"),
                            "use a positive shape such as 2.0 (alpha: 2.0, beta: 5.0 gives values around 0.3)",
                        ));
                    }
                }
                check_bounds("Beta", *min, *max, false)?;
                if min.is_some_and(|lo| lo >= 1.0) || max.is_some_and(|hi| hi <= 0.0) {
                    return Err(with_hint(
                        format!(
                            "Beta min/max ({}..{}) lie outside 0..1",
                            opt(*min),
                            opt(*max)
                        ),
                        "Beta values lie between 0 and 1: use bounds inside that range",
                    ));
                }
            }
            Dist::Uniform { min, max } => {
                finite("Uniform min", *min, "0.0")?;
                finite("Uniform max", *max, "1.0")?;
                if min > max {
                    return Err(with_hint(
                        format!("Uniform min ({min}) must be <= max ({max})"),
                        format!("swap them: Uniform(min: {max}, max: {min})"),
                    ));
                }
            }
            Dist::Poisson { lambda, min, max } => {
                finite("Poisson lambda", *lambda, "1.5")?;
                if *lambda <= 0.0 {
                    return Err(with_hint(
                        format!("Poisson lambda must be > 0, got {lambda}"),
                        "use the average count, such as 1.5",
                    ));
                }
                if *lambda > MAX_POISSON_LAMBDA {
                    return Err(with_hint(
                        format!(
                            "Poisson lambda must be at most {MAX_POISSON_LAMBDA:e}, got {lambda:e}"
                        ),
                        "for counts this large use Normal(mean: lambda, std_dev: sqrt(lambda)) with round: true",
                    ));
                }
                check_bounds("Poisson", *min, *max, true)?;
                let lo = min.unwrap_or(0.0).max(0.0).ceil();
                let hi = max.unwrap_or(f64::INFINITY).floor();
                if lo > hi {
                    return Err(with_hint(
                        format!(
                            "Poisson min/max ({}..{}) contain no whole number of 0 or more",
                            opt(*min),
                            opt(*max)
                        ),
                        "Poisson draws whole counts: make the range include at least one, e.g. min: 0.0",
                    ));
                }
            }
            Dist::Categorical(_) => {}
            Dist::Conditional { given, table } => check_table(given, table)?,
        }
        self.check_overflow()?;
        self.check_mass()
    }

    /// Reject finite parameters whose draws or moments overflow `f64` (see
    /// [`MAX_ABS_VALUE`] and [`MAX_BETA_SHAPE`]).
    fn check_overflow(&self) -> Result<(), String> {
        let max_ln = MAX_ABS_VALUE.ln();
        match self {
            Dist::Normal { mean, std_dev, .. } => {
                if mean.abs() + TAIL * std_dev > MAX_ABS_VALUE {
                    return Err(with_hint(
                        format!(
                            "Normal(mean: {mean:e}, std_dev: {std_dev:e}) gives values beyond ±{MAX_ABS_VALUE:e}, too large to compute with"
                        ),
                        "express the attribute in a larger unit (thousands, millions) so mean and std_dev stay below 1e99",
                    ));
                }
            }
            Dist::LogNormal { mu, sigma, .. } => {
                if mu + TAIL * sigma > max_ln
                    || mu + sigma * sigma > max_ln / 2.0
                    || sigma * sigma > max_ln
                {
                    let hint = if *mu > max_ln / 4.0 {
                        format!(
                            "mu is on the log scale: for values around {mu} use mu: ln({mu}) ≈ {:.1} (an income around 50000 has mu ≈ 10.8)",
                            mu.ln()
                        )
                    } else {
                        "sigma is the spread of the logarithm: values from 0.1 to 2 are typical (0.5 spreads values by a factor of about 1.6)".to_string()
                    };
                    return Err(with_hint(
                        format!(
                            "LogNormal(mu: {mu}, sigma: {sigma}) gives values or a variance beyond {MAX_ABS_VALUE:e}, too large to compute with (values are exp(mu ± {TAIL} sigma))"
                        ),
                        hint,
                    ));
                }
            }
            Dist::Beta { alpha, beta, .. } => {
                for (field, v) in [("alpha", alpha), ("beta", beta)] {
                    if !(MIN_BETA_SHAPE..=MAX_BETA_SHAPE).contains(v) {
                        return Err(with_hint(
                            format!(
                                "Beta {field} must be between {MIN_BETA_SHAPE} and {MAX_BETA_SHAPE:e}, got {v:e}"
                            ),
                            "use shapes such as alpha: 2.0, beta: 5.0; for a near-constant value use Normal with a small std_dev",
                        ));
                    }
                }
            }
            Dist::Uniform { min, max } => {
                if min.abs() > MAX_ABS_VALUE || max.abs() > MAX_ABS_VALUE {
                    return Err(with_hint(
                        format!(
                            "Uniform(min: {min:e}, max: {max:e}) reaches beyond ±{MAX_ABS_VALUE:e}, too large to compute with"
                        ),
                        "narrow the range, or express the attribute in a larger unit so both ends lie within ±1e99",
                    ));
                }
            }
            Dist::Poisson { .. } | Dist::Categorical(_) | Dist::Conditional { .. } => {}
        }
        Ok(())
    }

    /// Reject bounds that keep too little of the distribution for rejection sampling.
    fn check_mass(&self) -> Result<(), String> {
        let (name, min, max) = match self {
            Dist::Normal { min, max, .. } => ("Normal", min, max),
            Dist::LogNormal { min, max, .. } => ("LogNormal", min, max),
            Dist::Beta { min, max, .. } => ("Beta", min, max),
            Dist::Poisson { min, max, .. } => ("Poisson", min, max),
            _ => return Ok(()),
        };
        if min.is_none() && max.is_none() {
            return Ok(());
        }
        let mass = moments::truncated_mass(self);
        if mass < MIN_TRUNCATED_MASS {
            return Err(with_hint(
                format!(
                    "{name} min/max ({}..{}) keep only {:.2}% of the distribution, so most draws would be clamped to a bound",
                    opt(*min),
                    opt(*max),
                    mass * 100.0
                ),
                format!(
                    "bounds must keep at least {}%: move min/max towards the centre of the distribution or shift the distribution into the range",
                    MIN_TRUNCATED_MASS * 100.0
                ),
            ));
        }
        Ok(())
    }

    /// Whether values are category indices (`Categorical` and `Conditional`).
    pub fn is_categorical(&self) -> bool {
        matches!(self, Dist::Categorical(_) | Dist::Conditional { .. })
    }

    /// Category labels in index order, or `None` for numeric distributions.
    ///
    /// For `Conditional` these are the child categories, in the first row's order.
    pub fn categories(&self) -> Option<Vec<&str>> {
        match self {
            Dist::Categorical(c) => Some(c.labels().collect()),
            Dist::Conditional { table, .. } => Some(
                table
                    .first()
                    .map(|(_, row)| row.labels().collect())
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }

    /// Truncation bounds (`Uniform`'s support), `-inf`/`+inf` when absent.
    pub fn bounds(&self) -> (f64, f64) {
        let (min, max) = match self {
            Dist::Normal { min, max, .. }
            | Dist::LogNormal { min, max, .. }
            | Dist::Beta { min, max, .. }
            | Dist::Poisson { min, max, .. } => (*min, *max),
            Dist::Uniform { min, max } => (Some(*min), Some(*max)),
            Dist::Categorical(_) | Dist::Conditional { .. } => (None, None),
        };
        (
            min.unwrap_or(f64::NEG_INFINITY),
            max.unwrap_or(f64::INFINITY),
        )
    }

    /// Whether every value is a whole number without rounding (`Poisson`).
    pub fn is_integer(&self) -> bool {
        matches!(self, Dist::Poisson { .. })
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| v.to_string())
}

fn suggest_spread(mean: f64) -> String {
    let s = (mean.abs() / 3.0).max(1.0).round();
    format!("{s:.1}")
}

fn finite(what: &str, v: f64, example: &str) -> Result<(), String> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(with_hint(
            format!("{what} must be a finite number, got {v}"),
            format!("write a plain number such as {example}"),
        ))
    }
}

fn check_bounds(
    name: &str,
    min: Option<f64>,
    max: Option<f64>,
    allow_equal: bool,
) -> Result<(), String> {
    for (field, v) in [("min", min), ("max", max)] {
        if let Some(v) = v
            && !v.is_finite()
        {
            return Err(with_hint(
                format!("{name} {field} must be a finite number, got {v}"),
                format!("write a plain number or leave {field} out for no bound"),
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        let bad = if allow_equal { lo > hi } else { lo >= hi };
        if bad {
            let relation = if allow_equal { "<=" } else { "less than" };
            return Err(with_hint(
                format!("{name} min ({lo}) must be {relation} max ({hi})"),
                if lo > hi {
                    format!("swap them: min: {hi}, max: {lo}")
                } else {
                    "widen the range, or use a constant such as Uniform(min: x, max: x)".to_string()
                },
            ));
        }
    }
    Ok(())
}

fn check_table(given: &str, table: &[(String, Categories)]) -> Result<(), String> {
    if given.is_empty() {
        return Err(with_hint(
            "Conditional given is empty",
            "name an earlier categorical attribute, e.g. given: \"region\"",
        ));
    }
    let Some((first_label, first)) = table.first() else {
        return Err(with_hint(
            "Conditional table is empty",
            format!(
                "add one row per category of {given:?}, e.g. (\"north\", [(\"yes\", 0.4), (\"no\", 0.6)])"
            ),
        ));
    };
    for (i, (label, row)) in table.iter().enumerate() {
        if table[..i].iter().any(|(l, _)| l == label) {
            return Err(with_hint(
                format!("row {label:?} appears twice in the Conditional table"),
                format!("keep one row per category of {given:?}"),
            ));
        }
        if let Some(missing) = first.labels().find(|l| row.position(l).is_none()) {
            return Err(with_hint(
                format!(
                    "row {label:?} of the Conditional table lacks category {missing:?}, which row {first_label:?} lists"
                ),
                format!(
                    "list the same categories in every row; add ({missing:?}, 0.0) if it never occurs"
                ),
            ));
        }
        if let Some(extra) = row.labels().find(|l| first.position(l).is_none()) {
            return Err(with_hint(
                format!(
                    "row {label:?} of the Conditional table lists category {extra:?}, which row {first_label:?} lacks"
                ),
                format!("check the spelling, or add ({extra:?}, 0.0) to the rows without it"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Dist, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(src)
    }

    /// Parse `src` (after a blank first line so positions are nontrivial), expect an
    /// error containing `needle`, located by the parser, and carrying a hint.
    pub(crate) fn rejects(src: &str, needle: &str) {
        let src = format!("\n{src}");
        let err = match parse(&src) {
            Ok(d) => panic!("{src} parsed as {d:?}, expected error containing {needle:?}"),
            Err(e) => e,
        };
        let msg = err.code.to_string();
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        assert!(err.span.start.line > 0, "no position for {msg:?}");
        assert!(
            crate::split_hint(&msg).1.is_some_and(|h| !h.is_empty()),
            "no hint in {msg:?}"
        );
    }

    #[test]
    fn valid_distributions_parse() {
        for src in [
            "Normal(mean: 45.0, std_dev: 15.0, min: 18.0, max: 90.0)",
            "Normal(mean: 45.0, std_dev: 0.0)",
            "LogNormal(mu: 10.5, sigma: 0.6)",
            "Beta(alpha: 2.0, beta: 5.0)",
            "Uniform(min: 0.0, max: 40.0)",
            "Uniform(min: 3.0, max: 3.0)",
            "Poisson(lambda: 1.2, max: 8.0)",
            r#"Categorical([("a", 0.3), ("b", 0.7)])"#,
            r#"Conditional(given: "r", table: [("x", [("a", 1.0), ("b", 0.0)]), ("y", [("b", 0.5), ("a", 0.5)])])"#,
        ] {
            assert!(parse(src).is_ok(), "{src}: {:?}", parse(src));
        }
    }

    #[test]
    fn normal_rejects_negative_std_dev() {
        rejects(
            "Normal(mean: 45.0, std_dev: -3.0)",
            "Normal std_dev must be >= 0, got -3",
        );
        rejects(
            "Normal(mean: 45.0, std_dev: -3.0)",
            "use a positive spread such as 15.0",
        );
    }

    #[test]
    fn normal_rejects_inverted_and_narrow_bounds() {
        rejects(
            "Normal(mean: 45.0, std_dev: 15.0, min: 90.0, max: 18.0)",
            "Normal min (90) must be less than max (18); swap them",
        );
        rejects(
            "Normal(mean: 45.0, std_dev: 15.0, min: 200.0)",
            "keep only 0.00% of the distribution",
        );
        rejects("Normal(mean: 45.0, std_dev: 0.0, min: 50.0)", "keep only");
    }

    #[test]
    fn lognormal_rejects_non_positive_sigma_and_max() {
        rejects(
            "LogNormal(mu: 10.0, sigma: 0.0)",
            "LogNormal sigma must be > 0, got 0",
        );
        rejects(
            "LogNormal(mu: 10.0, sigma: 1.0, max: -1.0)",
            "LogNormal max must be > 0",
        );
    }

    #[test]
    fn beta_rejects_non_positive_shapes_and_bounds_outside_unit_interval() {
        rejects(
            "Beta(alpha: 0.0, beta: 2.0)",
            "Beta alpha must be > 0, got 0",
        );
        rejects(
            "Beta(alpha: 2.0, beta: -1.0)",
            "Beta beta must be > 0, got -1",
        );
        rejects("Beta(alpha: 2.0, beta: 2.0, min: 1.5)", "lie outside 0..1");
    }

    #[test]
    fn uniform_rejects_inverted_range() {
        rejects(
            "Uniform(min: 5.0, max: 1.0)",
            "Uniform min (5) must be <= max (1); swap them",
        );
    }

    #[test]
    fn poisson_rejects_bad_lambda_and_empty_range() {
        rejects("Poisson(lambda: 0.0)", "Poisson lambda must be > 0, got 0");
        rejects("Poisson(lambda: -2.0)", "use the average count");
        rejects("Poisson(lambda: 1e12)", "at most");
        rejects(
            "Poisson(lambda: 2.0, min: 2.2, max: 2.8)",
            "contain no whole number",
        );
    }

    #[test]
    fn non_finite_parameters_are_rejected() {
        rejects(
            "Normal(mean: inf, std_dev: 1.0)",
            "Normal mean must be a finite number",
        );
        rejects(
            "Normal(mean: 1.0, std_dev: 1.0, min: NaN)",
            "Normal min must be a finite number",
        );
    }

    #[test]
    fn parameters_whose_values_overflow_are_rejected() {
        rejects(
            "LogNormal(mu: 1000.0, sigma: 0.5)",
            "mu is on the log scale",
        );
        rejects("LogNormal(mu: 50000.0, sigma: 0.5)", "ln(50000) ≈ 10.8");
        rejects("LogNormal(mu: 10.0, sigma: 40.0)", "sigma is the spread");
        rejects(
            "Uniform(min: -1e308, max: 1e308)",
            "too large to compute with",
        );
        rejects(
            "Normal(mean: 1e300, std_dev: 1.0)",
            "express the attribute in a larger unit",
        );
        rejects("Normal(mean: 0.0, std_dev: 1e200)", "beyond");
        rejects(
            "Beta(alpha: 1e300, beta: 2.0)",
            "Beta alpha must be between",
        );
        rejects("Beta(alpha: 2.0, beta: 1e-16)", "Beta beta must be between");
        assert!(parse("LogNormal(mu: 10.8, sigma: 1.0)").is_ok());
        assert!(parse("Uniform(min: -1e100, max: 1e100)").is_ok());
    }

    /// Any finite parameter, from tiny to huge magnitudes, either way round.
    fn wide() -> impl proptest::strategy::Strategy<Value = f64> {
        use proptest::prelude::*;
        prop_oneof![
            -10.0..10.0f64,
            (-320i32..=308, any::<bool>(), 1.0..10.0f64).prop_map(|(e, neg, m)| if neg {
                -m * 10f64.powi(e)
            } else {
                m * 10f64.powi(e)
            }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Every distribution that passes its checks draws finite values and has a
        /// finite mean and standard deviation.
        #[test]
        fn accepted_distributions_draw_finite_values(
            kind in 0..5u8,
            a in wide(),
            b in wide(),
            lo in proptest::option::of(wide()),
            hi in proptest::option::of(wide()),
            seed in 0..u64::MAX,
        ) {
            use rand::SeedableRng;
            let dist = match kind {
                0 => Dist::Normal { mean: a, std_dev: b, min: lo, max: hi },
                1 => Dist::LogNormal { mu: a, sigma: b, min: lo, max: hi },
                2 => Dist::Beta { alpha: a, beta: b, min: lo, max: hi },
                3 => Dist::Uniform { min: a, max: b },
                _ => Dist::Poisson { lambda: a, min: lo, max: hi },
            };
            if dist.check().is_ok() {
                let post = crate::draw::Post::default();
                let sampler = crate::draw::NumericSampler::new(&dist, post)
                    .ok()
                    .flatten();
                proptest::prop_assert!(sampler.is_some(), "{:?} has no sampler", dist);
                let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
                for _ in 0..50 {
                    let x = sampler.as_ref().map_or(f64::NAN, |s| s.sample(&mut rng));
                    proptest::prop_assert!(x.is_finite(), "{:?} drew {}", dist, x);
                }
                let (mean, sd) = crate::moments::moments(&dist, &post);
                proptest::prop_assert!(mean.is_finite() && sd.is_finite(), "{:?}: moments {} {}", dist, mean, sd);
            }
        }
    }

    #[test]
    fn conditional_rejects_inconsistent_rows() {
        rejects(
            r#"Conditional(given: "r", table: [])"#,
            "Conditional table is empty",
        );
        rejects(
            r#"Conditional(given: "", table: [("x", [("a", 1.0)])])"#,
            "given is empty",
        );
        rejects(
            r#"Conditional(given: "r", table: [("x", [("a", 1.0)]), ("x", [("a", 1.0)])])"#,
            r#"row "x" appears twice"#,
        );
        rejects(
            r#"Conditional(given: "r", table: [("x", [("a", 0.5), ("b", 0.5)]), ("y", [("a", 1.0)])])"#,
            r#"row "y" of the Conditional table lacks category "b""#,
        );
        rejects(
            r#"Conditional(given: "r", table: [("x", [("a", 1.0)]), ("y", [("a", 0.5), ("c", 0.5)])])"#,
            r#"lists category "c""#,
        );
        rejects(
            r#"Conditional(given: "r", table: [("x", [("a", 0.5), ("b", 0.4)])])"#,
            "sum to 0.9",
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = parse("Normal(mean: 1.0, std_dev: 1.0, sd: 2.0)").err();
        assert!(err.is_some_and(|e| e.to_string().contains("sd")));
    }
}
