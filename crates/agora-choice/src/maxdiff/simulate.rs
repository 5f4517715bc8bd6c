//! Rule-based MaxDiff respondents following the sequential best-worst logit.

use rand::RngExt;

use crate::conjoint::gumbel;
use crate::error::{ChoiceError, Result};

/// Picks `(best, worst)` among `shown` for a respondent with item `utilities`:
/// best = argmax of `u_i + Gumbel`, then worst = argmax of `−u_i + Gumbel` among the
/// remaining items, which is exactly the sequential best-worst logit.
pub fn simulate_best_worst<R: RngExt + ?Sized>(
    utilities: &[f64],
    shown: &[usize],
    rng: &mut R,
) -> Result<(usize, usize)> {
    if shown.len() < 2 {
        return Err(ChoiceError::invalid(
            "shown items",
            format!(
                "{} item(s) shown; a MaxDiff task shows at least two",
                shown.len()
            ),
        ));
    }
    for &i in shown {
        if i >= utilities.len() {
            return Err(ChoiceError::index("a shown item", i, utilities.len()));
        }
        if !utilities[i].is_finite() {
            return Err(ChoiceError::non_finite(
                format!("the utility of item {i}"),
                utilities[i],
            ));
        }
    }
    let pick = |sign: f64, exclude: Option<usize>, rng: &mut R| {
        let mut best = (f64::NEG_INFINITY, shown[0]);
        for &i in shown {
            if Some(i) == exclude {
                continue;
            }
            let u = sign * utilities[i] + gumbel(rng);
            if u > best.0 {
                best = (u, i);
            }
        }
        best.1
    };
    let best = pick(1.0, None, rng);
    let worst = pick(-1.0, Some(best), rng);
    Ok((best, worst))
}
