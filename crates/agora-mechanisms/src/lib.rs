//! Interaction mechanisms: one module per kind of interaction.
//!
//! A mechanism owns its rules (who acts, what they see, what an answer does) and is
//! driven by the scheduler of `agora-core`. Each comes with its scenario settings, its
//! tables and a rule-based policy for the `rules` backend. Adding a mechanism means
//! adding a module and a [`MechanismSpec`] variant.

pub mod auction;
pub mod drivers;
pub mod stats;
pub mod survey;

use serde::Deserialize;

/// The `mechanism:` block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub enum MechanismSpec {
    /// A questionnaire put to every agent.
    Survey(survey::SurveySpec),
    /// Lots sold one after another to bidders with budgets.
    Auction(auction::AuctionSpec),
}

impl MechanismSpec {
    /// The mechanism's name as used in tables and the manifest.
    pub fn name(&self) -> &'static str {
        match self {
            MechanismSpec::Survey(_) => "survey",
            MechanismSpec::Auction(_) => "auction",
        }
    }

    /// Rounds the mechanism plays at most.
    pub fn max_rounds(&self) -> u32 {
        match self {
            MechanismSpec::Survey(s) => s.rounds(),
            MechanismSpec::Auction(a) => a.rounds(),
        }
    }

    /// Names of population traits and attributes the mechanism's settings refer to,
    /// each with the text to search for in the scenario file to locate it.
    pub fn referenced_drivers(&self) -> Vec<&str> {
        match self {
            MechanismSpec::Survey(s) => s.driver_names().collect(),
            MechanismSpec::Auction(a) => a.driver_names().collect(),
        }
    }

    /// A `rules` backend with the policies this mechanism asks for.
    pub fn rule_backend(&self) -> agora_llm::RuleBackend {
        match self {
            MechanismSpec::Survey(s) => survey::rule_backend(s),
            MechanismSpec::Auction(a) => auction::rule_backend(a),
        }
    }
}
