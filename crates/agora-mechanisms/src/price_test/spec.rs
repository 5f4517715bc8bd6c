//! The price test's scenario settings, validated while they are parsed.

use serde::Deserialize;

/// The Van Westendorp block: bounds of the four price answers.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VanWestendorpSpec {
    /// Smallest price an answer may give.
    #[serde(default)]
    pub min: f64,
    /// Largest price an answer may give.
    pub max: f64,
}

/// How Gabor–Granger prices are put to a respondent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Ladder {
    /// Start at a random rung; one rung up after "yes", one down after "no", until the
    /// walk leaves the ladder or would ask a rung again.
    #[default]
    Walk,
    /// One price per respondent, drawn at random from the ladder.
    RandomPrice,
}

/// The Gabor–Granger block: the price ladder.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaborGrangerSpec {
    /// Prices, ascending.
    pub prices: Vec<f64>,
    /// Walk or a random price per respondent.
    #[serde(default)]
    pub ladder: Ladder,
}

/// The rule-based respondents' planted willingness to pay:
/// `w = median · exp(spread · (Σ w_k z_k + e))`, `e ~ N(0, 1)` per respondent.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceRules {
    /// Median willingness to pay with no drivers.
    pub median_wtp: f64,
    /// Spread on the log scale.
    #[serde(default = "default_spread")]
    pub spread: f64,
    /// Persona drivers of willingness to pay (see [`crate::drivers`]).
    #[serde(default)]
    pub drivers: Vec<(String, f64)>,
}

fn default_spread() -> f64 {
    0.3
}

/// The `PriceTest(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawPriceSpec")]
pub struct PriceSpec {
    /// The product, as described to respondents.
    pub product: String,
    /// Fixed instructions at the top of every prompt.
    pub instructions: String,
    /// Currency of prices (`$`, `€`, `EUR`).
    pub currency: String,
    /// The Van Westendorp questions (round 1), if asked.
    pub van_westendorp: Option<VanWestendorpSpec>,
    /// The Gabor–Granger ladder (the following rounds), if asked.
    pub gabor_granger: Option<GaborGrangerSpec>,
    /// The rule-based respondents' willingness to pay.
    pub rules: PriceRules,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPriceSpec {
    product: String,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default = "default_currency")]
    currency: String,
    #[serde(default)]
    van_westendorp: Option<VanWestendorpSpec>,
    #[serde(default)]
    gabor_granger: Option<GaborGrangerSpec>,
    rules: PriceRules,
}

fn default_currency() -> String {
    "$".into()
}

impl TryFrom<RawPriceSpec> for PriceSpec {
    type Error = String;

    fn try_from(raw: RawPriceSpec) -> Result<Self, String> {
        if raw.van_westendorp.is_none() && raw.gabor_granger.is_none() {
            return Err("a price test needs van_westendorp: (max: ...) or gabor_granger: (prices: [...]), or both".into());
        }
        if let Some(vw) = &raw.van_westendorp
            && !(vw.min.is_finite() && vw.max.is_finite() && 0.0 <= vw.min && vw.min < vw.max)
        {
            return Err(format!(
                "van_westendorp needs 0 <= min < max, got min {}, max {}; for example (min: 0.0, max: 200.0)",
                vw.min, vw.max
            ));
        }
        if let Some(gg) = &raw.gabor_granger {
            if !(2..=50).contains(&gg.prices.len()) {
                return Err(format!(
                    "gabor_granger needs 2 to 50 prices, got {}",
                    gg.prices.len()
                ));
            }
            if gg.prices.iter().any(|p| !p.is_finite() || *p < 0.0)
                || gg.prices.windows(2).any(|w| w[0] >= w[1])
            {
                return Err("gabor_granger prices must be finite, >= 0 and strictly ascending, e.g. [39.0, 45.0, 49.0]".into());
            }
        }
        let r = &raw.rules;
        let valid = r.median_wtp.is_finite()
            && r.median_wtp > 0.0
            && r.spread.is_finite()
            && r.spread >= 0.0;
        if !valid {
            return Err(format!(
                "rules need median_wtp > 0 and spread >= 0, got {} and {}",
                r.median_wtp, r.spread
            ));
        }
        if let Some((name, w)) = r.drivers.iter().find(|(_, w)| !w.is_finite()) {
            return Err(format!(
                "rules: driver \"{name}\" has weight {w}; use a finite number"
            ));
        }
        Ok(PriceSpec {
            instructions: raw.instructions.unwrap_or_else(|| {
                "You are taking part in a market research study about prices. Answer as the \
                 person described below would, honestly and in character. Reply with JSON only."
                    .into()
            }),
            product: raw.product,
            currency: raw.currency,
            van_westendorp: raw.van_westendorp,
            gabor_granger: raw.gabor_granger,
            rules: raw.rules,
        })
    }
}

impl PriceSpec {
    /// Rounds played at most: one for Van Westendorp, one per rung of a walk (or one
    /// for a random price).
    pub fn rounds(&self) -> u32 {
        self.vw_rounds()
            + self.gabor_granger.as_ref().map_or(0, |g| match g.ladder {
                Ladder::Walk => g.prices.len() as u32,
                Ladder::RandomPrice => 1,
            })
    }

    /// Rounds of the Van Westendorp questions (0 or 1).
    pub fn vw_rounds(&self) -> u32 {
        u32::from(self.van_westendorp.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PriceSpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn rounds_follow_the_methods_asked() {
        let spec = parse(
            r#"(product: "p", van_westendorp: (max: 100.0), gabor_granger: (prices: [1.0, 2.0, 3.0]), rules: (median_wtp: 2.0))"#,
        )
        .unwrap();
        assert_eq!(spec.rounds(), 4);
        let spec = parse(
            r#"(product: "p", gabor_granger: (prices: [1.0, 2.0], ladder: RandomPrice), rules: (median_wtp: 2.0))"#,
        )
        .unwrap();
        assert_eq!(spec.rounds(), 1);
    }

    #[test]
    fn bad_tests_are_refused_with_a_fix() {
        for (text, needle) in [
            (r#"(product: "p", rules: (median_wtp: 2.0))"#, "or both"),
            (
                r#"(product: "p", van_westendorp: (min: 5.0, max: 1.0), rules: (median_wtp: 2.0))"#,
                "min < max",
            ),
            (
                r#"(product: "p", gabor_granger: (prices: [3.0, 2.0]), rules: (median_wtp: 2.0))"#,
                "ascending",
            ),
            (
                r#"(product: "p", gabor_granger: (prices: [1.0, 2.0]), rules: (median_wtp: 0.0))"#,
                "median_wtp > 0",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }
}
