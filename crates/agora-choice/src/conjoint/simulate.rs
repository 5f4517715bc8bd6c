//! Rule-based respondents: planted part-worths plus Gumbel noise.

use rand::RngExt;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use super::design::DesignTask;
use super::study::ConjointStudy;
use crate::error::{ChoiceError, Result};
use crate::mnl::ChoiceTask;

/// One draw from the standard Gumbel distribution, `−ln(−ln U)` with `U` uniform on (0, 1).
pub fn gumbel<R: RngExt + ?Sized>(rng: &mut R) -> f64 {
    loop {
        let u: f64 = rng.random();
        if u > 0.0 {
            return -(-u.ln()).ln();
        }
    }
}

/// Index of the alternative with the highest `x_j·β + Gumbel(0,1)` utility: a
/// rule-based respondent's choice.
///
/// If utility is `x_j·β + ε_j` with independent standard Gumbel `ε_j`, the probability
/// that `j` has the highest utility is exactly the logit `exp(x_j·β)/Σ_k exp(x_k·β)`,
/// so such respondents follow the multinomial logit model and its estimates must
/// recover the planted `β`.
pub fn simulate_choice<R: RngExt + ?Sized>(
    part_worths: &[f64],
    alternatives: &[Vec<f64>],
    rng: &mut R,
) -> Result<usize> {
    if alternatives.is_empty() {
        return Err(ChoiceError::empty(
            "the list of alternatives",
            "alternative",
        ));
    }
    let mut best = 0;
    let mut best_utility = f64::NEG_INFINITY;
    for (j, row) in alternatives.iter().enumerate() {
        if row.len() != part_worths.len() {
            return Err(ChoiceError::dims(
                format!("alternative {j}"),
                part_worths.len(),
                row.len(),
            ));
        }
        let u: f64 = row.iter().zip(part_worths).map(|(x, b)| x * b).sum::<f64>() + gumbel(rng);
        if !u.is_finite() {
            return Err(ChoiceError::non_finite(
                format!("the utility of alternative {j}"),
                u,
            ));
        }
        if u > best_utility {
            best_utility = u;
            best = j;
        }
    }
    Ok(best)
}

/// Answers every task of a design as a rule-based respondent with the planted
/// `part_worths` (in the study's parameter layout) and returns the coded choices.
/// Deterministic for a given `seed`.
pub fn simulate_responses(
    study: &ConjointStudy,
    design: &[DesignTask],
    part_worths: &[f64],
    seed: u64,
) -> Result<Vec<ChoiceTask>> {
    if part_worths.len() != study.n_parameters() {
        return Err(ChoiceError::dims(
            "the planted part-worths",
            study.n_parameters(),
            part_worths.len(),
        ));
    }
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    design
        .iter()
        .map(|task| {
            let alternatives = study.code_alternatives(&task.profiles)?;
            let chosen = simulate_choice(part_worths, &alternatives, &mut rng)?;
            Ok(ChoiceTask {
                alternatives,
                chosen,
            })
        })
        .collect()
}
