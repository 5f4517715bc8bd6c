//! Choice-based conjoint analysis.
//!
//! A study is a list of attributes, each with levels. Categorical attributes are dummy
//! coded against their first level (level 0 has part-worth 0 by construction); an
//! optional price attribute enters linearly with its numeric value; an optional "none"
//! alternative gets its own constant. Respondents choose among profiles; the choices
//! are fitted with the multinomial logit of [`crate::mnl`].

mod analysis;
mod design;
mod shares;
mod simulate;
mod study;

pub use analysis::{
    Importance, PartWorth, WillingnessToPay, importances, part_worths, willingness_to_pay,
    willingness_to_pay_table,
};
pub use design::{
    DesignBalance, DesignTask, balanced_overlap_design, design_balance, random_design,
};
pub use shares::{Product, Share, share_of_preference};
pub use simulate::{gumbel, simulate_choice, simulate_responses};
pub use study::{Attribute, AttributeKind, ConjointStudy};
