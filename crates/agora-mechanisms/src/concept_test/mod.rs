//! Concept and ad tests: monadic or sequential monadic ratings of product concepts on
//! the standard measures (purchase intent, appeal, uniqueness, believability, value
//! for money), purchase intent also in free text scored by semantic similarity rating
//! (SSR), and an optional forced choice among all concepts in a blind random order.

mod mechanism;
mod spec;

#[cfg(test)]
mod tests;

pub use mechanism::{
    ConceptAnswers, ConceptFacts, ConceptSummary, ConceptSummaryRow, ConceptTest, ConceptTestRules,
    Rating, concept_choices_table, concept_ratings_table, concept_summary_table, intent_sentence,
    rule_backend, ssr_of, summarise, validate_rating,
};
pub use spec::{
    Concept, ConceptDesign, ConceptRules, ConceptSpec, MEASURES, SsrSpec, default_anchors,
};

/// Task name of a concept rating.
pub const TASK_RATE: &str = "concept.rate";
/// Task name of the forced choice.
pub const TASK_CHOOSE: &str = "concept.choose";
/// Task name of an embedding call (anchors, or a free-text answer) for SSR.
pub const TASK_EMBED: &str = "concept.embed";

/// The concept test's entry in the mechanism registry.
pub struct ConceptTestDef;

impl agora_core::MechanismDef for ConceptTestDef {
    type Settings = ConceptSpec;
    type Mechanism = ConceptTest;

    const KEYWORD: &'static str = "ConceptTest";
    const NAME: &'static str = "concept_test";
    const TEMPLATE: Option<agora_core::Template> = Some(agora_core::Template {
        summary: "Concept and ad tests: monadic or sequential monadic ratings, SSR purchase intent, forced choice.",
        about: "Which of two meal-kit concepts people would buy, rated directly and in their own words.",
        agents: 200,
        replicates: 1,
        mechanism: include_str!("template.ron"),
    });

    fn max_rounds(settings: &ConceptSpec) -> u32 {
        settings.rounds()
    }

    fn drivers(settings: &ConceptSpec) -> Vec<String> {
        settings.driver_names().map(String::from).collect()
    }

    fn rule_backend(settings: &ConceptSpec) -> agora_model::RuleBackend {
        rule_backend(settings)
    }

    fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        types.resource::<ConceptAnswers>("concept_test.answers")
    }

    fn outcomes(settings: &ConceptSpec) -> Vec<agora_core::outcome::OutcomeSource> {
        use agora_core::outcome::{OutcomeSource, OutcomeUnit};
        // Per concept: the direct purchase intent, its top-two box and the SSR mean.
        let mut out = Vec::new();
        for c in &settings.concepts {
            for (name, column) in [
                ("purchase_intent", "purchase_intent"),
                ("top2_box", "purchase_intent_top2"),
                ("ssr_mean", "ssr_mean"),
            ] {
                out.push(
                    OutcomeSource::number(
                        "concept_ratings",
                        &format!("{}:{name}", c.id),
                        column,
                        OutcomeUnit::Agent,
                    )
                    .only("concept_id", &[c.id.as_str()])
                    .only("status", &["valid"]),
                );
            }
        }
        out
    }

    fn texts(settings: &ConceptSpec) -> Vec<agora_core::outcome::TextSource> {
        use agora_core::outcome::TextSource;
        let mut texts = vec![
            TextSource::new(
                "intent_text",
                "purchase intent in the respondents' words, every concept",
                "concept_ratings",
                "intent_text",
            )
            .only("status", &["valid"]),
        ];
        for c in &settings.concepts {
            texts.push(
                TextSource::new(
                    &format!("intent_text:{}", c.id),
                    format!(
                        "purchase intent in the respondents' words, concept `{}`",
                        c.id
                    ),
                    "concept_ratings",
                    "intent_text",
                )
                .only("status", &["valid"])
                .only("concept_id", &[c.id.as_str()]),
            );
        }
        texts
    }

    fn build(
        settings: &ConceptSpec,
        build: agora_core::Build<'_>,
    ) -> Result<ConceptTest, agora_core::RunError> {
        ConceptTest::build(settings, build)
    }
}
