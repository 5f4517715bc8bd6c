//! Price tests: the Van Westendorp price sensitivity meter (four open price questions
//! in round 1) and Gabor–Granger (a randomised price ladder, one price per round),
//! analysed at the end of the run into `price_sensitivity`.

mod analysis;
mod mechanism;
mod policy;
mod spec;

pub use analysis::{SensitivityRow, analyse, impute_walk};
pub use mechanism::{
    PriceAnswers, PriceResults, PriceTest, Walk, price_answers_table, price_sensitivity_table,
    validate_buy, validate_van_westendorp,
};
pub use policy::{PriceFacts, PriceQuestion, PriceTestRules, rule_backend};
pub use spec::{GaborGrangerSpec, Ladder, PriceRules, PriceSpec, VanWestendorpSpec};

/// Task name of the Van Westendorp questions.
pub const TASK_VW: &str = "price.van_westendorp";
/// Task name of a Gabor–Granger question.
pub const TASK_GG: &str = "price.gabor_granger";

/// The price test's entry in the mechanism registry.
pub struct PriceTestDef;

impl agora_core::MechanismDef for PriceTestDef {
    type Settings = PriceSpec;
    type Mechanism = PriceTest;

    const KEYWORD: &'static str = "PriceTest";
    const NAME: &'static str = "price_test";
    const TEMPLATE: Option<agora_core::Template> = Some(agora_core::Template {
        summary: "Price research: Van Westendorp's price sensitivity meter and a Gabor-Granger price ladder.",
        about: "The acceptable price range and the revenue-maximising price of a meal kit.",
        agents: 300,
        replicates: 1,
        mechanism: include_str!("template.ron"),
    });

    fn max_rounds(settings: &PriceSpec) -> u32 {
        settings.rounds()
    }

    fn drivers(settings: &PriceSpec) -> Vec<String> {
        settings
            .rules
            .drivers
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn rule_backend(settings: &PriceSpec) -> agora_model::RuleBackend {
        rule_backend(settings)
    }

    fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        types.resource::<PriceAnswers>("price_test.answers")
    }

    fn outcomes(_settings: &PriceSpec) -> Vec<agora_core::outcome::OutcomeSource> {
        use agora_core::outcome::{Combine, OutcomeName, OutcomeSource, OutcomeUnit, OutcomeValue};
        vec![
            // Each respondent's four Van Westendorp prices (valid answers).
            OutcomeSource {
                table: "price_answers".into(),
                name: OutcomeName::Column("question".into()),
                value: OutcomeValue::Number("price".into()),
                unit: OutcomeUnit::Agent,
                combine: Combine::Mean,
                only: Vec::new(),
            }
            .only("method", &["van_westendorp"])
            .only("status", &["valid"]),
            // Each run's price points: PMC, PME, OPP, IPP and the revenue-maximising price.
            OutcomeSource {
                table: "price_sensitivity".into(),
                name: OutcomeName::Column("name".into()),
                value: OutcomeValue::Number("price".into()),
                unit: OutcomeUnit::Run,
                combine: Combine::Last,
                only: Vec::new(),
            }
            .only("row", &["price_point"]),
        ]
    }

    fn build(
        settings: &PriceSpec,
        build: agora_core::Build<'_>,
    ) -> Result<PriceTest, agora_core::RunError> {
        PriceTest::build(settings, build)
    }
}
