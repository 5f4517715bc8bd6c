//! MaxDiff scores: counts and the sequential best-worst logit.

use serde::{Deserialize, Serialize};

use crate::error::{ChoiceError, Result};
use crate::mnl::{ChoiceTask, MnlFit, MnlOptions, fit_mnl};
use crate::normal::z95;

/// One answered MaxDiff task, with items named by their index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxDiffResponse {
    /// Items shown (distinct indices).
    pub shown: Vec<usize>,
    /// Item picked as best (one of `shown`).
    pub best: usize,
    /// Item picked as worst (one of `shown`, not `best`).
    pub worst: usize,
}

/// Count score of one item: `(best − worst) / shown`, between −1 and 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountScore {
    /// Item index.
    pub item: usize,
    /// Times shown.
    pub shown: usize,
    /// Times picked as best.
    pub best: usize,
    /// Times picked as worst.
    pub worst: usize,
    /// `(best − worst) / shown`, or `None` if the item was never shown.
    pub score: Option<f64>,
}

/// Logit score of one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemScore {
    /// Item index.
    pub item: usize,
    /// Utility with the last item fixed at 0.
    pub utility: f64,
    /// Standard error of `utility` (0 for the last item).
    pub std_error: f64,
    /// Utility minus the mean utility of all items.
    pub centred: f64,
    /// Standard error of `centred`.
    pub centred_std_error: f64,
    /// Lower end of the 95% interval of `centred`.
    pub ci_low: f64,
    /// Upper end of the 95% interval of `centred`.
    pub ci_high: f64,
}

/// The sequential best-worst logit fit: item scores and the underlying logit fit
/// (parameters are the utilities of items `0..n−1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxDiffFit {
    /// One score per item, in item order.
    pub scores: Vec<ItemScore>,
    /// The multinomial logit fit behind the scores.
    pub fit: MnlFit,
}

fn check_response(items: usize, r: &MaxDiffResponse, index: usize) -> Result<()> {
    if r.shown.len() < 2 {
        return Err(ChoiceError::invalid(
            "MaxDiff response",
            format!(
                "response {index} shows {} item(s); a task shows at least two",
                r.shown.len()
            ),
        ));
    }
    for (a, &i) in r.shown.iter().enumerate() {
        if i >= items {
            return Err(ChoiceError::index(
                format!("an item shown in response {index}"),
                i,
                items,
            ));
        }
        if r.shown[..a].contains(&i) {
            return Err(ChoiceError::invalid(
                "MaxDiff response",
                format!("response {index} shows item {i} twice; show distinct items"),
            ));
        }
    }
    if !r.shown.contains(&r.best) || !r.shown.contains(&r.worst) {
        return Err(ChoiceError::invalid(
            "MaxDiff response",
            format!(
                "in response {index} the best or worst item was not shown; pick among the items shown"
            ),
        ));
    }
    if r.best == r.worst {
        return Err(ChoiceError::invalid(
            "MaxDiff response",
            format!(
                "in response {index} the same item is best and worst; pick two different items"
            ),
        ));
    }
    Ok(())
}

fn check_all(items: usize, responses: &[MaxDiffResponse]) -> Result<()> {
    if items < 2 {
        return Err(ChoiceError::invalid(
            "items",
            format!("{items} item(s); MaxDiff needs at least two"),
        ));
    }
    if responses.is_empty() {
        return Err(ChoiceError::empty(
            "the list of MaxDiff responses",
            "response",
        ));
    }
    responses
        .iter()
        .enumerate()
        .try_for_each(|(i, r)| check_response(items, r, i))
}

/// Count scores of all `items`: `(times best − times worst) / times shown`.
pub fn count_scores(items: usize, responses: &[MaxDiffResponse]) -> Result<Vec<CountScore>> {
    check_all(items, responses)?;
    let mut scores: Vec<CountScore> = (0..items)
        .map(|item| CountScore {
            item,
            shown: 0,
            best: 0,
            worst: 0,
            score: None,
        })
        .collect();
    for r in responses {
        for &i in &r.shown {
            scores[i].shown += 1;
        }
        scores[r.best].best += 1;
        scores[r.worst].worst += 1;
    }
    for s in &mut scores {
        if s.shown > 0 {
            s.score = Some((s.best as f64 - s.worst as f64) / s.shown as f64);
        }
    }
    Ok(scores)
}

/// Row coding item `i` with sign `sign` (the last item is the zero reference).
fn item_row(items: usize, i: usize, sign: f64) -> Vec<f64> {
    let mut row = vec![0.0; items - 1];
    if i < items - 1 {
        row[i] = sign;
    }
    row
}

/// Sequential best-worst logit scores.
///
/// Each response gives two logit choices: the best among the shown items with utility
/// `+u`, then the worst among the remaining shown items with utility `−u` (skipped when
/// only one item remains). The last item's utility is fixed at 0 for identification;
/// scores are also reported centred on the mean of all items, with standard errors from
/// the covariance `Var(aᵀu)` of the centring contrast `a`.
pub fn maxdiff_logit(
    items: usize,
    responses: &[MaxDiffResponse],
    options: &MnlOptions,
) -> Result<MaxDiffFit> {
    check_all(items, responses)?;
    let mut tasks = Vec::with_capacity(2 * responses.len());
    for r in responses {
        let best = r.shown.iter().position(|&i| i == r.best).unwrap_or(0);
        tasks.push(ChoiceTask {
            alternatives: r.shown.iter().map(|&i| item_row(items, i, 1.0)).collect(),
            chosen: best,
        });
        if r.shown.len() > 2 {
            let remaining: Vec<usize> = r.shown.iter().copied().filter(|&i| i != r.best).collect();
            let worst = remaining.iter().position(|&i| i == r.worst).unwrap_or(0);
            tasks.push(ChoiceTask {
                alternatives: remaining
                    .iter()
                    .map(|&i| item_row(items, i, -1.0))
                    .collect(),
                chosen: worst,
            });
        }
    }
    let fit = fit_mnl(&tasks, options)?;
    let k = items - 1;
    let utility = |i: usize| if i < k { fit.beta[i] } else { 0.0 };
    let mean = (0..items).map(utility).sum::<f64>() / items as f64;
    let z = z95();
    let scores = (0..items)
        .map(|i| {
            // Contrast a with a_j = [j = i] − 1/n over the free parameters.
            let a = |j: usize| f64::from(u8::from(j == i)) - 1.0 / items as f64;
            let mut var = 0.0;
            for p in 0..k {
                for q in 0..k {
                    var += a(p) * a(q) * fit.covariance[p][q];
                }
            }
            let centred = utility(i) - mean;
            let centred_std_error = var.max(0.0).sqrt();
            ItemScore {
                item: i,
                utility: utility(i),
                std_error: if i < k { fit.std_errors[i] } else { 0.0 },
                centred,
                centred_std_error,
                ci_low: centred - z * centred_std_error,
                ci_high: centred + z * centred_std_error,
            }
        })
        .collect();
    Ok(MaxDiffFit { scores, fit })
}
