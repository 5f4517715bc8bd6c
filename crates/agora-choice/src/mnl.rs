//! Multinomial logit (conditional logit) estimation by maximum likelihood.
//!
//! A task shows `J` alternatives with coded attribute rows `x_j`; the probability of
//! choosing `j` is `exp(x_j·β) / Σ_k exp(x_k·β)`. The log-likelihood
//! `ℓ(β) = Σ_tasks [x_c·β − ln Σ_k exp(x_k·β)]` is concave, so Newton–Raphson with
//! step halving finds the maximum. Its gradient is `Σ (x_c − x̄)` and the observed
//! information (minus the Hessian) is `Σ_tasks Σ_j p_j (x_j − x̄)(x_j − x̄)ᵀ` with
//! `x̄ = Σ_j p_j x_j`; standard errors are the square roots of the diagonal of its
//! inverse at the maximum.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use serde::{Deserialize, Serialize};

use crate::error::{ChoiceError, Result};

/// One observed choice: the coded alternatives shown and the index of the one chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceTask {
    /// One row of coded attributes per alternative; all rows have the same length.
    pub alternatives: Vec<Vec<f64>>,
    /// Index into `alternatives` of the chosen alternative.
    pub chosen: usize,
}

/// Controls for the Newton–Raphson iterations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MnlOptions {
    /// Upper bound on Newton steps before giving up (the fit then reports `converged = false`).
    pub max_iterations: usize,
    /// Stop when the Newton decrement `gᵀ I⁻¹ g` falls below this value.
    pub tolerance: f64,
}

impl Default for MnlOptions {
    fn default() -> Self {
        Self {
            max_iterations: 100,
            tolerance: 1e-12,
        }
    }
}

/// The result of [`fit_mnl`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MnlFit {
    /// Maximum-likelihood coefficients, one per column of the coded rows.
    pub beta: Vec<f64>,
    /// Standard errors from the inverse observed information.
    pub std_errors: Vec<f64>,
    /// Inverse observed information (asymptotic covariance of `beta`), row by row.
    pub covariance: Vec<Vec<f64>>,
    /// Log-likelihood at `beta`.
    pub log_likelihood: f64,
    /// Number of Newton steps taken.
    pub iterations: usize,
    /// Whether the Newton decrement fell below the tolerance.
    pub converged: bool,
}

/// Tasks copied into one contiguous buffer so that the estimation loop never allocates.
struct Packed {
    k: usize,
    rows: Vec<f64>,
    /// Row index where each task starts, with one extra entry at the end.
    starts: Vec<usize>,
    chosen: Vec<usize>,
    max_alternatives: usize,
}

impl Packed {
    fn new(tasks: &[ChoiceTask]) -> Result<Self> {
        let first = tasks
            .first()
            .ok_or_else(|| ChoiceError::empty("the list of choice tasks", "task"))?;
        let k = first.alternatives.first().map_or(0, Vec::len);
        if k == 0 {
            return Err(ChoiceError::invalid(
                "alternatives",
                "the first task has no coded columns; give every alternative at least one attribute value",
            ));
        }
        let total: usize = tasks.iter().map(|t| t.alternatives.len()).sum();
        let mut rows = Vec::with_capacity(total * k);
        let mut starts = Vec::with_capacity(tasks.len() + 1);
        let mut chosen = Vec::with_capacity(tasks.len());
        let mut max_alternatives = 0;
        let mut row_index = 0;
        for (t, task) in tasks.iter().enumerate() {
            let j = task.alternatives.len();
            if j < 2 {
                return Err(ChoiceError::invalid(
                    "choice task",
                    format!("task {t} has {j} alternative(s); a choice needs at least two"),
                ));
            }
            if task.chosen >= j {
                return Err(ChoiceError::index(
                    format!("the chosen index of task {t}"),
                    task.chosen,
                    j,
                ));
            }
            starts.push(row_index);
            for (a, row) in task.alternatives.iter().enumerate() {
                if row.len() != k {
                    return Err(ChoiceError::dims(
                        format!("alternative {a} of task {t}"),
                        k,
                        row.len(),
                    ));
                }
                for (c, &v) in row.iter().enumerate() {
                    if !v.is_finite() {
                        return Err(ChoiceError::non_finite(
                            format!("column {c} of alternative {a} of task {t}"),
                            v,
                        ));
                    }
                }
                rows.extend_from_slice(row);
            }
            row_index += j;
            chosen.push(task.chosen);
            max_alternatives = max_alternatives.max(j);
        }
        starts.push(row_index);
        Ok(Self {
            k,
            rows,
            starts,
            chosen,
            max_alternatives,
        })
    }

    fn task_rows(&self, t: usize) -> &[f64] {
        &self.rows[self.starts[t] * self.k..self.starts[t + 1] * self.k]
    }

    /// Log-likelihood only (used by the line search).
    fn log_likelihood(&self, beta: &[f64], utilities: &mut [f64]) -> f64 {
        let mut ll = 0.0;
        for t in 0..self.chosen.len() {
            let rows = self.task_rows(t);
            let j = rows.len() / self.k;
            let (max, log_sum) = log_sum_exp(rows, beta, &mut utilities[..j]);
            ll += utilities[self.chosen[t]] - max - log_sum;
        }
        ll
    }

    /// Log-likelihood, gradient and observed information (row-major `k×k`).
    fn evaluate(&self, beta: &[f64], work: &mut Workspace) -> f64 {
        let k = self.k;
        work.gradient.fill(0.0);
        work.information.fill(0.0);
        let mut ll = 0.0;
        for t in 0..self.chosen.len() {
            let rows = self.task_rows(t);
            let j = rows.len() / k;
            let probs = &mut work.utilities[..j];
            let (max, log_sum) = log_sum_exp(rows, beta, probs);
            let c = self.chosen[t];
            ll += probs[c] - max - log_sum;
            for p in probs.iter_mut() {
                *p = (*p - max - log_sum).exp();
            }
            work.mean.fill(0.0);
            for (row, &p) in rows.chunks_exact(k).zip(probs.iter()) {
                for (m, &x) in work.mean.iter_mut().zip(row) {
                    *m += p * x;
                }
            }
            let chosen_row = &rows[c * k..(c + 1) * k];
            for ((g, &x), &m) in work.gradient.iter_mut().zip(chosen_row).zip(&work.mean) {
                *g += x - m;
            }
            for (row, &p) in rows.chunks_exact(k).zip(probs.iter()) {
                for a in 0..k {
                    let da = row[a] - work.mean[a];
                    if da == 0.0 {
                        continue;
                    }
                    let w = p * da;
                    let info_row = &mut work.information[a * k..(a + 1) * k];
                    for b in a..k {
                        info_row[b] += w * (row[b] - work.mean[b]);
                    }
                }
            }
        }
        for a in 0..k {
            for b in 0..a {
                work.information[a * k + b] = work.information[b * k + a];
            }
        }
        ll
    }
}

/// Scratch buffers reused across iterations.
struct Workspace {
    utilities: Vec<f64>,
    mean: Vec<f64>,
    gradient: Vec<f64>,
    information: Vec<f64>,
}

/// Fills `utilities` with `x_j·β` and returns `(max, ln Σ exp(u_j − max))`.
fn log_sum_exp(rows: &[f64], beta: &[f64], utilities: &mut [f64]) -> (f64, f64) {
    let k = beta.len();
    let mut max = f64::NEG_INFINITY;
    for (u, row) in utilities.iter_mut().zip(rows.chunks_exact(k)) {
        *u = row.iter().zip(beta).map(|(x, b)| x * b).sum();
        max = max.max(*u);
    }
    let sum: f64 = utilities.iter().map(|u| (u - max).exp()).sum();
    (max, sum.ln())
}

/// Cholesky factor of the information matrix, refusing singular or nearly singular ones.
///
/// Column `i` is rejected when the squared pivot `L_ii²` (its information left after
/// conditioning on the earlier columns) is below `1e-10 · I_ii`, a scale-free test.
pub(crate) fn factor_information(information: &[f64], k: usize) -> Result<Cholesky<f64, Dyn>> {
    let matrix = DMatrix::from_row_slice(k, k, information);
    for i in 0..k {
        let d = matrix[(i, i)];
        if d.is_nan() || d <= 0.0 {
            return Err(ChoiceError::NotIdentified {
                detail: format!(
                    "parameter {i} carries no information (it never varies within a task)"
                ),
            });
        }
    }
    let chol = Cholesky::new(matrix.clone()).ok_or_else(|| ChoiceError::NotIdentified {
        detail: "the information matrix is not positive definite".to_owned(),
    })?;
    let l = chol.l_dirty();
    for i in 0..k {
        let pivot = l[(i, i)];
        if pivot.is_nan() || pivot * pivot <= 1e-10 * matrix[(i, i)] {
            return Err(ChoiceError::NotIdentified {
                detail: format!(
                    "parameter {i} is (almost) a linear combination of the parameters before it"
                ),
            });
        }
    }
    Ok(chol)
}

/// Estimates `β` by maximum likelihood (Newton–Raphson with step halving from `β = 0`).
///
/// Errors on empty input, rows of unequal length, non-finite values, invalid chosen
/// indices, tasks with fewer than two alternatives, and non-identified designs
/// (a singular information matrix).
pub fn fit_mnl(tasks: &[ChoiceTask], options: &MnlOptions) -> Result<MnlFit> {
    if !(options.tolerance.is_finite() && options.tolerance > 0.0) {
        return Err(ChoiceError::invalid(
            "tolerance",
            format!(
                "{} must be a positive number such as 1e-10",
                options.tolerance
            ),
        ));
    }
    let packed = Packed::new(tasks)?;
    let k = packed.k;
    let mut work = Workspace {
        utilities: vec![0.0; packed.max_alternatives],
        mean: vec![0.0; k],
        gradient: vec![0.0; k],
        information: vec![0.0; k * k],
    };
    let mut beta = vec![0.0; k];
    let mut candidate = vec![0.0; k];
    let mut iterations = 0;
    let mut converged = false;
    let (log_likelihood, chol) = loop {
        let ll = packed.evaluate(&beta, &mut work);
        let chol = factor_information(&work.information, k)?;
        let direction = chol.solve(&DVector::from_column_slice(&work.gradient));
        let decrement: f64 = direction
            .iter()
            .zip(&work.gradient)
            .map(|(d, g)| d * g)
            .sum();
        if !decrement.is_finite() {
            return Err(ChoiceError::NotIdentified {
                detail: "the Newton step is not finite".to_owned(),
            });
        }
        if decrement <= options.tolerance {
            converged = true;
            // One last full Newton step sharpens β quadratically at negligible cost; the
            // covariance is then taken at the polished β.
            for ((c, b), d) in candidate.iter_mut().zip(&beta).zip(direction.iter()) {
                *c = b + d;
            }
            let ll_new = packed.log_likelihood(&candidate, &mut work.utilities);
            if ll_new.is_finite() && ll_new >= ll - 1e-12 * (1.0 + ll.abs()) {
                let ll_polished = packed.evaluate(&candidate, &mut work);
                if let Ok(chol_polished) = factor_information(&work.information, k) {
                    std::mem::swap(&mut beta, &mut candidate);
                    break (ll_polished, chol_polished);
                }
            }
            break (ll, chol);
        }
        if iterations >= options.max_iterations {
            break (ll, chol);
        }
        iterations += 1;
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            for ((c, b), d) in candidate.iter_mut().zip(&beta).zip(direction.iter()) {
                *c = b + step * d;
            }
            let ll_new = packed.log_likelihood(&candidate, &mut work.utilities);
            if ll_new.is_finite() && ll_new >= ll - 1e-12 * (1.0 + ll.abs()) {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            // No step improves the likelihood: β is at the optimum to machine precision.
            converged = decrement < 1e-6;
            break (ll, chol);
        }
        std::mem::swap(&mut beta, &mut candidate);
    };
    let inverse = chol.inverse();
    let covariance: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| inverse[(i, j)]).collect())
        .collect();
    let std_errors = (0..k).map(|i| inverse[(i, i)].max(0.0).sqrt()).collect();
    Ok(MnlFit {
        beta,
        std_errors,
        covariance,
        log_likelihood,
        iterations,
        converged,
    })
}

/// Log-likelihood of `beta` on `tasks`, for likelihood-ratio tests and checks.
pub fn log_likelihood(beta: &[f64], tasks: &[ChoiceTask]) -> Result<f64> {
    let packed = Packed::new(tasks)?;
    check_beta(beta, packed.k)?;
    let mut utilities = vec![0.0; packed.max_alternatives];
    Ok(packed.log_likelihood(beta, &mut utilities))
}

fn check_beta(beta: &[f64], k: usize) -> Result<()> {
    if beta.len() != k {
        return Err(ChoiceError::dims("the coefficient vector", k, beta.len()));
    }
    for (i, &b) in beta.iter().enumerate() {
        if !b.is_finite() {
            return Err(ChoiceError::non_finite(format!("coefficient {i}"), b));
        }
    }
    Ok(())
}

/// Logit choice probabilities `exp(x_j·β) / Σ_k exp(x_k·β)` of each alternative, used for
/// prediction and share-of-preference simulation.
pub fn probabilities(beta: &[f64], alternatives: &[Vec<f64>]) -> Result<Vec<f64>> {
    if alternatives.is_empty() {
        return Err(ChoiceError::empty(
            "the list of alternatives",
            "alternative",
        ));
    }
    check_beta(beta, beta.len())?;
    let mut utilities = Vec::with_capacity(alternatives.len());
    for (a, row) in alternatives.iter().enumerate() {
        if row.len() != beta.len() {
            return Err(ChoiceError::dims(
                format!("alternative {a}"),
                beta.len(),
                row.len(),
            ));
        }
        let u: f64 = row.iter().zip(beta).map(|(x, b)| x * b).sum();
        if !u.is_finite() {
            return Err(ChoiceError::non_finite(
                format!("the utility of alternative {a}"),
                u,
            ));
        }
        utilities.push(u);
    }
    let max = utilities.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for u in &mut utilities {
        *u = (*u - max).exp();
        sum += *u;
    }
    for u in &mut utilities {
        *u /= sum;
    }
    Ok(utilities)
}
