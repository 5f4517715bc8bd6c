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

    fn build(
        settings: &ConceptSpec,
        build: agora_core::Build<'_>,
    ) -> Result<ConceptTest, agora_core::RunError> {
        ConceptTest::build(settings, build)
    }
}
