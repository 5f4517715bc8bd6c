//! The conjoint study's scenario settings, validated while they are parsed.

use agora_choice::conjoint::{Attribute, AttributeKind, ConjointStudy};
use serde::Deserialize;

use crate::market::first_duplicate;

/// Columns of `conjoint_choices` an attribute may not be named after.
pub const RESERVED_COLUMNS: [&str; 11] = [
    "run_id",
    "arm",
    "replicate",
    "round",
    "agent_id",
    "task",
    "alternative",
    "is_none",
    "chosen",
    "status",
    "fallback_reason",
];

/// How the profiles of the choice tasks are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum DesignKind {
    /// Every level drawn independently and uniformly; profiles of a task differ.
    Random,
    /// Levels dealt from shuffled decks: balanced counts, minimal overlap in a task.
    #[default]
    BalancedOverlap,
}

/// One attribute as written in a scenario: `levels` (categorical, the first is the
/// reference) or `prices` (numeric, entering the utility linearly).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    /// Name shown to respondents and in tables.
    pub name: String,
    /// Level labels of a categorical attribute.
    #[serde(default)]
    pub levels: Vec<String>,
    /// Prices of a price attribute, in currency units.
    #[serde(default)]
    pub prices: Vec<f64>,
}

/// A product of the share-of-preference simulator: one level per attribute, in the
/// attributes' order (a price written as its number).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSpec {
    /// Name in `conjoint_estimates`.
    pub name: String,
    /// One level label (or price) per attribute.
    pub levels: Vec<String>,
}

/// A driver that moves one part-worth with a persona trait or attribute.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartWorthDriver {
    /// The parameter moved (`brand=GreenChef`, `price`, `none`).
    pub parameter: String,
    /// The trait or attribute (see [`crate::drivers`]).
    pub driver: String,
    /// Change of the part-worth per standard deviation of the driver.
    pub weight: f64,
}

/// The rule-based respondents' planted utilities.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConjointRules {
    /// Planted part-worths by parameter name (`brand=GreenChef`, `price` per currency
    /// unit, `none`); parameters not listed are 0, reference levels are 0.
    #[serde(default)]
    pub part_worths: Vec<(String, f64)>,
    /// Persona drivers of individual part-worths.
    #[serde(default)]
    pub drivers: Vec<PartWorthDriver>,
}

/// The `Conjoint(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawConjointSpec")]
pub struct ConjointSpec {
    /// What is being studied, as told to respondents.
    pub product: String,
    /// Fixed instructions at the top of every prompt.
    pub instructions: String,
    /// Currency of price levels (`$`, `€`, `EUR`).
    pub currency: String,
    /// The attributes, in the order profiles show them.
    pub attributes: Vec<AttributeSpec>,
    /// How profiles are drawn.
    pub design: DesignKind,
    /// Choice tasks per respondent (one per round).
    pub tasks: u32,
    /// Profiles per task (not counting "none").
    pub alternatives: u32,
    /// Whether every task offers "none of these".
    pub none_option: bool,
    /// Categorical attributes of the population to estimate separately by category.
    pub segments: Vec<String>,
    /// Products whose shares of preference are reported.
    pub products: Vec<ProductSpec>,
    /// The rule-based respondents' utilities.
    pub rules: ConjointRules,
    /// The coded study (attributes, coding, "none").
    pub study: ConjointStudy,
    /// Planted part-worths in the study's parameter layout.
    pub planted: Vec<f64>,
    /// Per product: its level indices.
    pub product_profiles: Vec<Vec<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "ConjointSpec")]
struct RawConjointSpec {
    product: String,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default = "default_currency")]
    currency: String,
    attributes: Vec<AttributeSpec>,
    #[serde(default)]
    design: DesignKind,
    #[serde(default = "default_tasks")]
    tasks: u32,
    #[serde(default = "default_alternatives")]
    alternatives: u32,
    #[serde(default = "yes")]
    none_option: bool,
    #[serde(default)]
    segments: Vec<String>,
    #[serde(default)]
    products: Vec<ProductSpec>,
    #[serde(default)]
    rules: ConjointRules,
}

fn default_currency() -> String {
    "$".into()
}

fn default_tasks() -> u32 {
    8
}

fn default_alternatives() -> u32 {
    3
}

fn yes() -> bool {
    true
}

/// The default instructions for a study of `product`.
pub fn default_instructions(product: &str) -> String {
    format!(
        "You are taking part in a market research study about {product}. In each task you \
         see a few versions of it; choose the one you would really buy, as the person \
         described below, or none of them if that is allowed and you would buy none. \
         Reply with JSON only."
    )
}

impl TryFrom<RawConjointSpec> for ConjointSpec {
    type Error = String;

    fn try_from(raw: RawConjointSpec) -> Result<Self, String> {
        if raw.attributes.is_empty() {
            return Err("a conjoint study needs at least one attribute; add attributes: [(name: \"brand\", levels: [\"A\", \"B\"])]".into());
        }
        let names: Vec<String> = raw.attributes.iter().map(|a| a.name.clone()).collect();
        if let Some(dup) = first_duplicate(&names) {
            return Err(format!(
                "attribute \"{dup}\" is listed twice; give every attribute its own name"
            ));
        }
        let mut attributes = Vec::with_capacity(raw.attributes.len());
        for a in &raw.attributes {
            if a.name.trim().is_empty() {
                return Err("an attribute has an empty name; name it, e.g. \"brand\"".into());
            }
            if RESERVED_COLUMNS.contains(&a.name.as_str()) {
                return Err(format!(
                    "attribute \"{}\" has the name of a column of conjoint_choices; rename it (reserved: {})",
                    a.name,
                    RESERVED_COLUMNS.join(", ")
                ));
            }
            attributes.push(match (a.levels.is_empty(), a.prices.is_empty()) {
                (false, true) => {
                    if let Some(dup) = first_duplicate(&a.levels) {
                        return Err(format!(
                            "attribute \"{}\" lists level \"{dup}\" twice; make level labels unique",
                            a.name
                        ));
                    }
                    Attribute {
                        name: a.name.clone(),
                        levels: a.levels.clone(),
                        kind: AttributeKind::Categorical,
                    }
                }
                (true, false) => {
                    if let Some(p) = a.prices.iter().find(|p| !p.is_finite() || **p < 0.0) {
                        return Err(format!(
                            "attribute \"{}\" has price {p}; prices must be finite and >= 0",
                            a.name
                        ));
                    }
                    let mut sorted = a.prices.clone();
                    sorted.sort_by(f64::total_cmp);
                    if sorted.windows(2).any(|w| w[0] == w[1]) {
                        return Err(format!(
                            "attribute \"{}\" lists a price twice; make prices distinct",
                            a.name
                        ));
                    }
                    Attribute::price(&a.name, &a.prices)
                }
                _ => {
                    return Err(format!(
                        "attribute \"{}\" needs either levels: [\"...\", ...] or prices: [9.0, 12.0], not both and not neither",
                        a.name
                    ));
                }
            });
        }
        let study = ConjointStudy::new(attributes, raw.none_option).map_err(|e| e.to_string())?;
        if !(1..=100).contains(&raw.tasks) {
            return Err(format!(
                "tasks must be between 1 and 100, got {}; 8 to 12 is usual",
                raw.tasks
            ));
        }
        let distinct: u64 = study
            .attributes()
            .iter()
            .map(|a| a.levels.len() as u64)
            .fold(1u64, u64::saturating_mul);
        if !(2..=10).contains(&raw.alternatives) || u64::from(raw.alternatives) > distinct {
            return Err(format!(
                "alternatives must be between 2 and 10 and at most the {distinct} distinct profiles, got {}; 3 is usual",
                raw.alternatives
            ));
        }
        let parameters = study.parameter_names();
        let mut planted = vec![0.0; parameters.len()];
        for (name, value) in &raw.rules.part_worths {
            let index = parameters.iter().position(|p| p == name).ok_or_else(|| {
                format!(
                    "rules: part-worth \"{name}\" names no parameter of the study; use one of {}",
                    parameters.join(", ")
                )
            })?;
            if !value.is_finite() {
                return Err(format!(
                    "rules: part-worth \"{name}\" is {value}; use a finite number"
                ));
            }
            planted[index] = *value;
        }
        for d in &raw.rules.drivers {
            if !parameters.contains(&d.parameter) {
                return Err(format!(
                    "rules: driver of \"{}\" names no parameter of the study; use one of {}",
                    d.parameter,
                    parameters.join(", ")
                ));
            }
            if !d.weight.is_finite() {
                return Err(format!(
                    "rules: driver \"{}\" has weight {}; use a finite number",
                    d.driver, d.weight
                ));
            }
        }
        let product_names: Vec<String> = raw.products.iter().map(|p| p.name.clone()).collect();
        if let Some(dup) = first_duplicate(&product_names) {
            return Err(format!(
                "product \"{dup}\" is listed twice; give every product its own name"
            ));
        }
        let mut product_profiles = Vec::with_capacity(raw.products.len());
        for p in &raw.products {
            product_profiles.push(product_profile(&study, p)?);
        }
        if let Some(dup) = first_duplicate(&raw.segments) {
            return Err(format!("segment \"{dup}\" is listed twice"));
        }
        Ok(ConjointSpec {
            instructions: raw
                .instructions
                .unwrap_or_else(|| default_instructions(&raw.product)),
            product: raw.product,
            currency: raw.currency,
            attributes: raw.attributes,
            design: raw.design,
            tasks: raw.tasks,
            alternatives: raw.alternatives,
            none_option: raw.none_option,
            segments: raw.segments,
            products: raw.products,
            rules: raw.rules,
            study,
            planted,
            product_profiles,
        })
    }
}

/// The level indices of a product, its price matched by value.
fn product_profile(study: &ConjointStudy, product: &ProductSpec) -> Result<Vec<usize>, String> {
    let attributes = study.attributes();
    if product.levels.len() != attributes.len() {
        return Err(format!(
            "product \"{}\" gives {} levels for {} attributes; give one level per attribute, in order",
            product.name,
            product.levels.len(),
            attributes.len()
        ));
    }
    product
        .levels
        .iter()
        .zip(attributes)
        .map(|(label, a)| {
            let found = match &a.kind {
                AttributeKind::Categorical => a.levels.iter().position(|l| l == label),
                AttributeKind::Price { values } => label
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|x| values.iter().position(|v| *v == x)),
            };
            found.ok_or_else(|| {
                format!(
                    "product \"{}\": \"{label}\" is not a level of \"{}\"; use one of {}",
                    product.name,
                    a.name,
                    a.levels.join(", ")
                )
            })
        })
        .collect()
}

impl ConjointSpec {
    /// Every persona driver the rules refer to.
    pub fn driver_names(&self) -> impl Iterator<Item = &str> {
        self.rules.drivers.iter().map(|d| d.driver.as_str())
    }

    /// Index of parameter `name` in the study's layout.
    pub fn parameter_index(&self, name: &str) -> Option<usize> {
        self.study.parameter_names().iter().position(|p| p == name)
    }

    /// How level `level` of attribute `attribute` reads in a prompt.
    pub fn level_text(&self, attribute: usize, level: usize) -> String {
        let a = &self.study.attributes()[attribute];
        match &a.kind {
            AttributeKind::Categorical => a.levels[level].clone(),
            AttributeKind::Price { values } => crate::market::money(&self.currency, values[level]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn parse(text: &str) -> Result<ConjointSpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn a_study_parses_with_planted_values_in_the_coding_order() {
        let spec = parse(
            r#"(product: "a meal kit",
                attributes: [(name: "brand", levels: ["A", "B", "C"]), (name: "price", prices: [8.0, 10.0])],
                products: [(name: "ours", levels: ["B", "10"])],
                rules: (part_worths: [("price", -0.3), ("brand=C", 0.5), ("none", -1.0)]))"#,
        )
        .unwrap();
        assert_eq!(
            spec.study.parameter_names(),
            ["brand=B", "brand=C", "price", "none"]
        );
        assert_eq!(spec.planted, [0.0, 0.5, -0.3, -1.0]);
        assert_eq!(spec.product_profiles, [vec![1, 1]]);
        assert_eq!(spec.tasks, 8);
        assert_eq!(spec.level_text(1, 1), "$10");
    }

    #[test]
    fn bad_studies_are_refused_with_a_fix() {
        for (text, needle) in [
            (
                r#"(product: "p", attributes: [])"#,
                "at least one attribute",
            ),
            (
                r#"(product: "p", attributes: [(name: "a", levels: ["x"])])"#,
                "at least two",
            ),
            (
                r#"(product: "p", attributes: [(name: "a", levels: ["x", "y"], prices: [1.0])])"#,
                "not both",
            ),
            (
                r#"(product: "p", attributes: [(name: "task", levels: ["x", "y"])])"#,
                "reserved",
            ),
            (
                r#"(product: "p", attributes: [(name: "a", levels: ["x", "y"])], alternatives: 2, rules: (part_worths: [("a=z", 1.0)]))"#,
                "names no parameter",
            ),
            (
                r#"(product: "p", attributes: [(name: "a", levels: ["x", "y"])], alternatives: 3)"#,
                "distinct profiles",
            ),
            (
                r#"(product: "p", attributes: [(name: "a", levels: ["x", "y"])], alternatives: 2, products: [(name: "q", levels: ["w"])])"#,
                "not a level",
            ),
            (
                r#"(product: "p", attributes: [(name: "a", levels: ["x", "y"])], taks: 3)"#,
                "taks",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }
}
