//! Debates: agents argue about a motion over rounds, taking sides or free positions.
//!
//! Each round the speakers (in a fixed, random or moderated order) state a public
//! message; after the round every agent gives its private opinion of the motion (a
//! point on the scale and a confidence) in a separate call that nobody else sees, and
//! once before round 1 as well. The conversation engine in [`crate::conversation`]
//! plays it; this module holds the scenario block and the rule-based voice.

mod spec;
mod voice;

pub use spec::DebateSpec;
pub use voice::debate_line;
