//! Market-research estimators of Agora.
//!
//! The simulated persona agents answer the same instruments that researchers give to
//! people; this crate turns their answers into the numbers researchers report:
//!
//! - [`mnl`]: multinomial logit by maximum likelihood, the engine behind the choice models;
//! - [`conjoint`]: choice-based conjoint studies (coding, designs, simulation, part-worths,
//!   importances, willingness to pay, share of preference);
//! - [`maxdiff`]: best-worst scaling designs, count scores and logit scores;
//! - [`pricing`]: Van Westendorp price sensitivity meter and Gabor–Granger demand curves;
//! - [`ssr`]: semantic similarity rating, mapping free-text answers to Likert distributions.
//!
//! Every random draw comes from a seeded `Pcg64Mcg`, so results are reproducible.
//!
//! A conjoint study end to end, with rule-based respondents whose utilities are
//! planted part-worths plus Gumbel noise:
//!
//! ```
//! use agora_choice::conjoint::{
//!     Attribute, ConjointStudy, balanced_overlap_design, part_worths, simulate_responses,
//!     willingness_to_pay,
//! };
//! use agora_choice::{MnlOptions, fit_mnl};
//!
//! # fn main() -> agora_choice::Result<()> {
//! let study = ConjointStudy::new(
//!     vec![
//!         Attribute::categorical("brand", &["A", "B"]),
//!         Attribute::price("price", &[1.0, 2.0, 3.0]),
//!     ],
//!     true, // offer "none" in every task
//! )?;
//! // brand=B, price (per unit), none
//! let planted = [0.6, -0.8, -1.0];
//! let design = balanced_overlap_design(&study, 200, 8, 2, 1)?;
//! let tasks = simulate_responses(&study, &design, &planted, 2)?;
//! let fit = fit_mnl(&tasks, &MnlOptions::default())?;
//! let table = part_worths(&study, &fit)?;
//! assert_eq!(table.len(), 4); // A (reference), B, price slope, none
//! let wtp = willingness_to_pay(&study, &fit, "brand", "B")?;
//! assert!(wtp.ci_low < 0.75 && 0.75 < wtp.ci_high); // planted −0.6/−0.8
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod conjoint;
pub mod error;
pub mod maxdiff;
pub mod mnl;
pub mod normal;
pub mod pricing;
mod random;
pub mod ssr;

pub use error::{ChoiceError, Result};
pub use mnl::{ChoiceTask, MnlFit, MnlOptions, fit_mnl, log_likelihood, probabilities};
pub use normal::z_critical;
