//! Interaction mechanisms: one module per kind of interaction.
//!
//! A mechanism owns its rules (who acts, what they see, what an answer does) and is
//! driven by the scheduler of `agora-core`. Each comes with its scenario settings, its
//! tables and a rule-based policy for the `rules` backend, and describes itself once
//! through [`agora_core::MechanismDef`]. [`registry`] is the one list of them.

pub mod auction;
pub mod concept_test;
pub mod conjoint;
pub mod conversation;
pub mod debate;
pub mod drivers;
pub mod focus_group;
pub mod market;
pub mod maxdiff;
pub mod price_test;
pub mod stats;
pub mod survey;

#[cfg(test)]
mod testing;

use agora_core::Registry;

/// Every mechanism this crate ships, in the order `agora init --list` shows them.
/// Adding a mechanism is one module and one line here.
pub fn registry() -> Registry {
    Registry::new()
        .add::<survey::SurveyDef>()
        .add::<auction::AuctionDef>()
        .add::<debate::DebateDef>()
        .add::<focus_group::FocusGroupDef>()
        .add::<conjoint::ConjointDef>()
        .add::<maxdiff::MaxDiffDef>()
        .add::<price_test::PriceTestDef>()
        .add::<concept_test::ConceptTestDef>()
}
