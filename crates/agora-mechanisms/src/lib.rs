//! Interaction mechanisms: one module per kind of interaction.
//!
//! A mechanism owns its rules (who acts, what they see, what an answer does) and is
//! driven by the scheduler of `agora-core`. Each comes with its scenario settings, its
//! tables and a rule-based policy for the `rules` backend. Adding a mechanism means
//! adding a module and a [`MechanismSpec`] variant.

pub mod auction;
pub mod conversation;
pub mod debate;
pub mod drivers;
pub mod focus_group;
pub mod stats;
pub mod survey;

#[cfg(test)]
mod testing;

use serde::Deserialize;

/// The `mechanism:` block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub enum MechanismSpec {
    /// A questionnaire put to every agent.
    Survey(survey::SurveySpec),
    /// Lots sold one after another to bidders with budgets.
    Auction(auction::AuctionSpec),
    /// Agents argue about a motion, with public messages and private opinions.
    Debate(debate::DebateSpec),
    /// A moderator puts a script of questions about a product to a group.
    FocusGroup(focus_group::FocusGroupSpec),
}

impl MechanismSpec {
    /// The mechanism's name as used in tables and the manifest.
    pub fn name(&self) -> &'static str {
        match self {
            MechanismSpec::Survey(_) => "survey",
            MechanismSpec::Auction(_) => "auction",
            MechanismSpec::Debate(_) => "debate",
            MechanismSpec::FocusGroup(_) => "focus_group",
        }
    }

    /// Rounds the mechanism plays at most.
    pub fn max_rounds(&self) -> u32 {
        match self {
            MechanismSpec::Survey(s) => s.rounds(),
            MechanismSpec::Auction(a) => a.rounds(),
            MechanismSpec::Debate(d) => d.0.rounds,
            MechanismSpec::FocusGroup(f) => f.0.rounds,
        }
    }

    /// Names of population traits and attributes the mechanism's settings refer to,
    /// each with the text to search for in the scenario file to locate it.
    pub fn referenced_drivers(&self) -> Vec<&str> {
        match self {
            MechanismSpec::Survey(s) => s.driver_names().collect(),
            MechanismSpec::Auction(a) => a.driver_names().collect(),
            MechanismSpec::Debate(d) => d.0.driver_names().collect(),
            MechanismSpec::FocusGroup(f) => f.0.driver_names().collect(),
        }
    }

    /// A `rules` backend with the policies this mechanism asks for.
    pub fn rule_backend(&self) -> agora_model::RuleBackend {
        match self {
            MechanismSpec::Survey(s) => survey::rule_backend(s),
            MechanismSpec::Auction(a) => auction::rule_backend(a),
            MechanismSpec::Debate(d) => conversation::rule_backend(&d.0),
            MechanismSpec::FocusGroup(f) => conversation::rule_backend(&f.0),
        }
    }

    /// The social graph of a conversation, if the mechanism has one.
    pub fn audience(&self) -> Option<&agora_population::graph::GraphSpec> {
        match self {
            MechanismSpec::Debate(d) => Some(&d.0.audience),
            MechanismSpec::FocusGroup(f) => Some(&f.0.audience),
            MechanismSpec::Survey(_) | MechanismSpec::Auction(_) => None,
        }
    }

    /// Make relative file paths in the settings (a graph's edge list) relative to
    /// `base`, the scenario's folder.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        match self {
            MechanismSpec::Debate(d) => d.0.audience.resolve_paths(base),
            MechanismSpec::FocusGroup(f) => f.0.audience.resolve_paths(base),
            MechanismSpec::Survey(_) | MechanismSpec::Auction(_) => {}
        }
    }
}
