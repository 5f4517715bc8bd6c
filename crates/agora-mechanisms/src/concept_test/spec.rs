//! The concept test's scenario settings, validated while they are parsed.

use serde::Deserialize;

use crate::market::first_duplicate;

/// The rated measures, in the order of `concept_ratings`' columns: key and question.
pub const MEASURES: [(&str, &str); 5] = [
    (
        "purchase_intent",
        "How likely would you be to buy it? (1 = definitely would not buy, 5 = definitely would buy)",
    ),
    (
        "appeal",
        "How appealing is it to you? (1 = not at all appealing, 5 = extremely appealing)",
    ),
    (
        "uniqueness",
        "How new and different is it from what is available today? (1 = not at all, 5 = extremely)",
    ),
    (
        "believability",
        "How believable are its claims? (1 = not at all believable, 5 = completely believable)",
    ),
    (
        "value_for_money",
        "How good a value for the money is it? (1 = very poor value, 5 = excellent value)",
    ),
];

/// The default anchor statements of semantic similarity rating: two sets of five
/// purchase-intent statements, from "definitely not" to "definitely".
pub fn default_anchors() -> Vec<Vec<String>> {
    [
        [
            "I would definitely not buy it.",
            "I probably would not buy it.",
            "I might or might not buy it.",
            "I would probably buy it.",
            "I would definitely buy it.",
        ],
        [
            "It is very unlikely that I would purchase this product.",
            "It is unlikely that I would purchase this product.",
            "I am not sure whether I would purchase this product.",
            "It is likely that I would purchase this product.",
            "It is very likely that I would purchase this product.",
        ],
    ]
    .iter()
    .map(|set| set.iter().map(|s| (*s).to_string()).collect())
    .collect()
}

/// How concepts are assigned to respondents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum ConceptDesign {
    /// Each respondent rates one concept, assigned at random (balanced: concepts are
    /// dealt in shuffled rounds so counts differ by at most one).
    #[default]
    Monadic,
    /// Each respondent rates every concept, one per round, in its own random order.
    SequentialMonadic,
}

/// The rule-based respondents' planted liking of a concept.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConceptRules {
    /// Shift of the latent liking of this concept (0 = the scale's middle).
    #[serde(default)]
    pub liking: f64,
    /// Persona drivers of the liking (see [`crate::drivers`]).
    #[serde(default)]
    pub drivers: Vec<(String, f64)>,
}

/// One concept (a product idea or an ad).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concept {
    /// Short identifier used in tables.
    pub id: String,
    /// Its name, as shown.
    pub title: String,
    /// The concept board or ad copy, as shown.
    pub text: String,
    /// Rule-based respondents' liking.
    #[serde(default)]
    pub rules: ConceptRules,
}

/// Semantic similarity rating settings.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsrSpec {
    /// Anchor sets: each five statements, from lowest to highest purchase intent.
    #[serde(default = "default_anchors")]
    pub anchors: Vec<Vec<String>>,
    /// Dimensions of the lexical embedding.
    #[serde(default = "default_dims")]
    pub dims: u32,
    /// The SSR constant ε added to the least similar anchor (0 by default).
    #[serde(default)]
    pub epsilon: f64,
    /// The embedding model of the run's server (`text-embedding-3-small`): used when
    /// the run's model offers embeddings (an OpenAI-compatible server); the lexical
    /// embedding otherwise.
    #[serde(default)]
    pub embedding_model: Option<String>,
    /// Dimensions to ask the embedding model for (when it can shorten its vectors).
    #[serde(default)]
    pub embedding_dims: Option<u32>,
}

impl Default for SsrSpec {
    fn default() -> Self {
        Self {
            anchors: default_anchors(),
            dims: default_dims(),
            epsilon: 0.0,
            embedding_model: None,
            embedding_dims: None,
        }
    }
}

fn default_dims() -> u32 {
    256
}

/// The `ConceptTest(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawConceptSpec")]
pub struct ConceptSpec {
    /// Fixed instructions at the top of every prompt.
    pub instructions: String,
    /// Monadic or sequential monadic.
    pub design: ConceptDesign,
    /// The concepts.
    pub concepts: Vec<Concept>,
    /// Whether a last round asks for one concept among all, in a blind random order.
    pub forced_choice: bool,
    /// Semantic similarity rating of the free-text purchase intent.
    pub ssr: SsrSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "ConceptSpec")]
struct RawConceptSpec {
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    design: ConceptDesign,
    concepts: Vec<Concept>,
    #[serde(default)]
    forced_choice: bool,
    #[serde(default)]
    ssr: SsrSpec,
}

impl TryFrom<RawConceptSpec> for ConceptSpec {
    type Error = String;

    fn try_from(raw: RawConceptSpec) -> Result<Self, String> {
        if !(1..=26).contains(&raw.concepts.len()) {
            return Err(format!(
                "a concept test needs 1 to 26 concepts, got {}; add concepts: [(id: \"a\", title: \"...\", text: \"...\")]",
                raw.concepts.len()
            ));
        }
        let ids: Vec<String> = raw.concepts.iter().map(|c| c.id.clone()).collect();
        if let Some(dup) = first_duplicate(&ids) {
            return Err(format!(
                "concept id \"{dup}\" is used twice; give every concept its own id"
            ));
        }
        for c in &raw.concepts {
            if c.id.trim().is_empty() || c.text.trim().is_empty() {
                return Err(format!("concept \"{}\" needs an id and a text", c.id));
            }
            if !c.rules.liking.is_finite() || c.rules.drivers.iter().any(|(_, w)| !w.is_finite()) {
                return Err(format!(
                    "concept \"{}\": rules must be finite numbers",
                    c.id
                ));
            }
        }
        if raw.forced_choice && raw.concepts.len() < 2 {
            return Err("a forced choice needs at least 2 concepts".into());
        }
        if raw.ssr.anchors.is_empty() || raw.ssr.anchors.iter().any(|s| s.len() != 5) {
            return Err(
                "ssr anchors are sets of exactly five statements, lowest intent first".into(),
            );
        }
        if !(8..=65_536).contains(&raw.ssr.dims) {
            return Err(format!(
                "ssr dims must be between 8 and 65536, got {}",
                raw.ssr.dims
            ));
        }
        if raw
            .ssr
            .embedding_model
            .as_ref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err(
                "ssr embedding_model must name a model, e.g. \"text-embedding-3-small\"".into(),
            );
        }
        if raw
            .ssr
            .embedding_dims
            .is_some_and(|d| !(1..=65_536).contains(&d))
        {
            return Err("ssr embedding_dims must be between 1 and 65536".into());
        }
        if !(raw.ssr.epsilon.is_finite() && raw.ssr.epsilon >= 0.0) {
            return Err(format!("ssr epsilon must be >= 0, got {}", raw.ssr.epsilon));
        }
        Ok(ConceptSpec {
            instructions: raw.instructions.unwrap_or_else(|| {
                "You are taking part in a market research study. You will see a product \
                 concept; read it and answer as the person described below would, honestly \
                 and in character. Reply with JSON only."
                    .into()
            }),
            design: raw.design,
            concepts: raw.concepts,
            forced_choice: raw.forced_choice,
            ssr: raw.ssr,
        })
    }
}

impl ConceptSpec {
    /// Rating rounds: one (monadic) or one per concept (sequential monadic).
    pub fn rating_rounds(&self) -> u32 {
        match self.design {
            ConceptDesign::Monadic => 1,
            ConceptDesign::SequentialMonadic => self.concepts.len() as u32,
        }
    }

    /// All rounds: the rating rounds and the forced choice.
    pub fn rounds(&self) -> u32 {
        self.rating_rounds() + u32::from(self.forced_choice)
    }

    /// Every driver name the rules refer to.
    pub fn driver_names(&self) -> impl Iterator<Item = &str> {
        self.concepts
            .iter()
            .flat_map(|c| c.rules.drivers.iter().map(|(n, _)| n.as_str()))
    }
}
