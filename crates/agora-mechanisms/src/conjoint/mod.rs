//! Choice-based conjoint: respondents choose among product profiles, task after task;
//! part-worths are estimated by multinomial logit at the end of the run.
//!
//! The study's attributes and levels are in the scenario. Every respondent gets its own
//! `tasks` choice tasks of `alternatives` profiles (plus "none" when offered), drawn by
//! a random or balanced-overlap design from the run's seed, one task per round. At the
//! end of the run the valid choices are fitted (overall and per segment) and
//! `conjoint_estimates` holds part-worths with standard errors and 95% intervals,
//! attribute importances, willingness to pay (when price is an attribute) and shares of
//! preference of the products the scenario names.

mod estimate;
mod mechanism;
mod policy;
mod spec;

#[cfg(test)]
mod tests;

pub use estimate::{Answer, EstimateRow, estimate, estimate_all};
pub use mechanism::{
    Conjoint, ConjointAnswers, ConjointEstimates, conjoint_choices_table, conjoint_estimates_table,
    parse_choice,
};
pub use policy::{ConjointFacts, ConjointRules, choice_label, rule_backend};
pub use spec::{
    AttributeSpec, ConjointRules as ConjointRuleSettings, ConjointSpec, DesignKind,
    PartWorthDriver, ProductSpec,
};

/// Task name of conjoint choices in requests and `llm_calls`.
pub const TASK: &str = "conjoint.choose";

/// The conjoint study's entry in the mechanism registry.
pub struct ConjointDef;

impl agora_core::MechanismDef for ConjointDef {
    type Settings = ConjointSpec;
    type Mechanism = Conjoint;

    const KEYWORD: &'static str = "Conjoint";
    const NAME: &'static str = "conjoint";
    const TEMPLATE: Option<agora_core::Template> = Some(agora_core::Template {
        summary: "Choice-based conjoint: part-worths by multinomial logit, importances, willingness to pay, shares of preference.",
        about: "Which meal-kit features and price people choose, and what they would pay for them.",
        agents: 200,
        replicates: 1,
        mechanism: include_str!("template.ron"),
    });

    fn max_rounds(settings: &ConjointSpec) -> u32 {
        settings.tasks
    }

    fn drivers(settings: &ConjointSpec) -> Vec<String> {
        settings.driver_names().map(String::from).collect()
    }

    fn segments(settings: &ConjointSpec) -> Vec<String> {
        settings.segments.clone()
    }

    fn rule_backend(settings: &ConjointSpec) -> agora_model::RuleBackend {
        rule_backend(settings)
    }

    fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        types.resource::<ConjointAnswers>("conjoint.answers")
    }

    fn build(
        settings: &ConjointSpec,
        build: agora_core::Build<'_>,
    ) -> Result<Conjoint, agora_core::RunError> {
        Conjoint::build(settings, build)
    }
}
