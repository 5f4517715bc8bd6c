//! Focus groups: a moderator puts a script of questions about a product to a group.
//!
//! One question per round; participants answer in turn, each seeing the answers
//! given before it (as far as the audience graph lets it hear them). Stimuli (a
//! product concept, an ad) are shown at the rounds the script names. After each
//! round, and once before the first, every participant rates the product privately on
//! the rating scale, in a call nobody else sees. The conversation engine in
//! [`crate::conversation`] plays it; this module holds the scenario block and the
//! rule-based voice.

mod spec;
mod voice;

pub use spec::FocusGroupSpec;
pub use voice::focus_group_line;
