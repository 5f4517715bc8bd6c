//! MaxDiff (best-worst scaling).
//!
//! Each task shows a subset of the items; the respondent picks the best and the worst.
//! Designs come from [`bibd_design`]; scores are either counts
//! (`(times best − times worst) / times shown`) or the sequential best-worst logit
//! fitted with [`crate::mnl`].

mod design;
mod scores;
mod simulate;

pub use design::{MaxDiffBalance, MaxDiffDesign, bibd_design};
pub use scores::{CountScore, ItemScore, MaxDiffFit, MaxDiffResponse, count_scores, maxdiff_logit};
pub use simulate::simulate_best_worst;
