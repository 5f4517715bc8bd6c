//! Multinomial logistic regression, a statistical baseline for simulated answers: fit on some
//! respondents' attributes and answers, predict the answer distribution of others.
//!
//! With classes `0..K` and class 0 as the reference, class `k ≥ 1` has linear predictor
//! `η_k = β_k · (1, x)` (an intercept is always added), `η_0 = 0`, and
//! `P(y = k | x) = exp(η_k) / Σ_j exp(η_j)`. The fit maximises the log-likelihood minus
//! `½ λ Σ slopes²` (the intercepts are not penalised) by Newton–Raphson: each step solves
//! `(−H + λI) Δ = g` by Cholesky and is halved until the penalised log-likelihood does not
//! decrease. With `λ = 0` this is the maximum-likelihood fit of statsmodels' `MNLogit` with a
//! constant column.

use nalgebra::{DMatrix, DVector};

use crate::check;
use crate::error::{Result, StatsError};

/// Newton iterations before giving up.
const MAX_ITERATIONS: usize = 100;
/// Step halvings per iteration before giving up.
const MAX_HALVINGS: usize = 40;
/// Convergence: largest coefficient change of a full step.
const TOLERANCE: f64 = 1e-10;

/// A fitted multinomial logit model.
#[derive(Debug, Clone, PartialEq)]
pub struct MultinomialLogit {
    classes: usize,
    features: usize,
    /// `(classes − 1) × (features + 1)`: row `k − 1` holds class k's intercept then slopes.
    coefficients: DMatrix<f64>,
    iterations: usize,
    log_likelihood: f64,
}

/// Fits a multinomial logit of `y` (class indices in `0..classes`) on the rows of `x` with L2
/// penalty `penalty ≥ 0` on the slopes (see the module documentation).
pub fn fit(x: &[Vec<f64>], y: &[usize], classes: usize, penalty: f64) -> Result<MultinomialLogit> {
    let design = validate(x, y, classes, penalty)?;
    let n = y.len();
    let p = design.ncols();
    let km1 = classes - 1;
    let dim = km1 * p;
    let mut theta = DVector::<f64>::zeros(dim);
    let mut current = penalised_ll(&design, y, &theta, km1, penalty);
    for iteration in 1..=MAX_ITERATIONS {
        let probs = probabilities(&design, &theta, km1);
        let mut grad = DVector::<f64>::zeros(dim);
        let mut info = DMatrix::<f64>::zeros(dim, dim);
        for i in 0..n {
            let row = design.row(i);
            for k in 0..km1 {
                let pik = probs[(i, k + 1)];
                let resid = f64::from(u8::from(y[i] == k + 1)) - pik;
                for a in 0..p {
                    grad[k * p + a] += resid * row[a];
                }
                for l in 0..km1 {
                    let w = pik * (f64::from(u8::from(k == l)) - probs[(i, l + 1)]);
                    for a in 0..p {
                        for b in 0..p {
                            info[(k * p + a, l * p + b)] += w * row[a] * row[b];
                        }
                    }
                }
            }
        }
        for k in 0..km1 {
            for a in 1..p {
                grad[k * p + a] -= penalty * theta[k * p + a];
                info[(k * p + a, k * p + a)] += penalty;
            }
        }
        let step = info
            .cholesky()
            .ok_or(StatsError::Singular {
                what: "multinomial logit Newton step",
            })?
            .solve(&grad);
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..MAX_HALVINGS {
            let candidate = &theta + &step * t;
            let value = penalised_ll(&design, y, &candidate, km1, penalty);
            if value.is_finite() && value >= current - 1e-12 * current.abs() {
                theta = candidate;
                current = value;
                accepted = true;
                break;
            }
            t /= 2.0;
        }
        if !accepted {
            return Err(StatsError::NoConvergence {
                what: "multinomial logit (step halving)",
                iterations: iteration,
            });
        }
        if step.amax() * t < TOLERANCE {
            let coefficients = DMatrix::from_row_slice(km1, p, theta.as_slice());
            return Ok(MultinomialLogit {
                classes,
                features: p - 1,
                coefficients,
                iterations: iteration,
                log_likelihood: penalised_ll(&design, y, &theta, km1, 0.0),
            });
        }
    }
    Err(StatsError::NoConvergence {
        what: "multinomial logit",
        iterations: MAX_ITERATIONS,
    })
}

impl MultinomialLogit {
    /// Class probabilities `P(y = k | x)` for one row of attributes (without the intercept).
    pub fn predict_proba(&self, x: &[f64]) -> Result<Vec<f64>> {
        check::same_length(
            "predict_proba (attributes vs fitted features)",
            x.len(),
            self.features,
        )?;
        check::finite("predict_proba", x)?;
        let mut eta = vec![0.0; self.classes];
        for (k, e) in eta.iter_mut().enumerate().skip(1) {
            let row = self.coefficients.row(k - 1);
            *e = row[0]
                + x.iter()
                    .zip(row.iter().skip(1))
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
        }
        Ok(softmax(&eta))
    }

    /// The most probable class for one row of attributes.
    pub fn predict(&self, x: &[f64]) -> Result<usize> {
        let probs = self.predict_proba(x)?;
        Ok(probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(k, _)| k))
    }

    /// Coefficients per non-reference class: `result[k − 1] = [intercept, slope₁, …]` for class k.
    pub fn coefficients(&self) -> Vec<Vec<f64>> {
        self.coefficients
            .row_iter()
            .map(|r| r.iter().copied().collect())
            .collect()
    }

    /// Unpenalised log-likelihood at the fitted coefficients.
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }

    /// Newton iterations the fit took.
    pub fn iterations(&self) -> usize {
        self.iterations
    }
}

/// Checks the inputs and builds the design matrix with a leading column of ones.
fn validate(x: &[Vec<f64>], y: &[usize], classes: usize, penalty: f64) -> Result<DMatrix<f64>> {
    if x.is_empty() {
        return Err(StatsError::EmptyInput {
            what: "multinomial logit fit",
        });
    }
    check::same_length("multinomial logit fit (rows of x vs y)", x.len(), y.len())?;
    if classes < 2 {
        return Err(StatsError::InvalidArgument {
            what: "multinomial logit fit",
            reason: format!("{classes} classes; need at least 2"),
        });
    }
    if let Some(&bad) = y.iter().find(|&&c| c >= classes) {
        return Err(StatsError::InvalidArgument {
            what: "multinomial logit fit",
            reason: format!("class {bad} is not below the number of classes {classes}"),
        });
    }
    if !(penalty.is_finite() && penalty >= 0.0) {
        return Err(StatsError::InvalidArgument {
            what: "multinomial logit fit",
            reason: format!("penalty {penalty} must be finite and ≥ 0"),
        });
    }
    let features = x[0].len();
    for row in x {
        check::same_length("multinomial logit fit (row lengths)", row.len(), features)?;
        check::finite("multinomial logit fit", row)?;
    }
    Ok(DMatrix::from_fn(x.len(), features + 1, |i, j| {
        if j == 0 { 1.0 } else { x[i][j - 1] }
    }))
}

/// `n × K` matrix of class probabilities for coefficients `theta`.
fn probabilities(design: &DMatrix<f64>, theta: &DVector<f64>, km1: usize) -> DMatrix<f64> {
    let p = design.ncols();
    let mut out = DMatrix::zeros(design.nrows(), km1 + 1);
    let mut eta = vec![0.0; km1 + 1];
    for i in 0..design.nrows() {
        for k in 0..km1 {
            eta[k + 1] = (0..p).map(|a| design[(i, a)] * theta[k * p + a]).sum();
        }
        for (k, v) in softmax(&eta).into_iter().enumerate() {
            out[(i, k)] = v;
        }
    }
    out
}

/// Log-likelihood minus `½ penalty Σ slopes²`.
fn penalised_ll(
    design: &DMatrix<f64>,
    y: &[usize],
    theta: &DVector<f64>,
    km1: usize,
    penalty: f64,
) -> f64 {
    let p = design.ncols();
    let mut eta = vec![0.0; km1 + 1];
    let mut ll = 0.0;
    for (i, &yi) in y.iter().enumerate() {
        for k in 0..km1 {
            eta[k + 1] = (0..p).map(|a| design[(i, a)] * theta[k * p + a]).sum();
        }
        ll += eta[yi] - log_sum_exp(&eta);
    }
    let slopes: f64 = (0..km1)
        .flat_map(|k| (1..p).map(move |a| k * p + a))
        .map(|j| theta[j] * theta[j])
        .sum();
    ll - 0.5 * penalty * slopes
}

/// `log Σ exp(v)` without overflow.
fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// `exp(v) / Σ exp(v)` without overflow.
fn softmax(v: &[f64]) -> Vec<f64> {
    let lse = log_sum_exp(v);
    v.iter().map(|x| (x - lse).exp()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::assert_close;

    const MN_X: [[f64; 2]; 30] = [
        [-0.01, 1.05],
        [0.74, 0.72],
        [1.62, -1.21],
        [-0.63, -1.32],
        [-0.11, 1.0],
        [-0.02, 0.5],
        [-1.91, 0.15],
        [-0.91, 1.78],
        [0.89, 0.95],
        [-0.06, 0.61],
        [0.66, -0.34],
        [-0.5, -0.11],
        [-0.61, -0.59],
        [-0.28, -0.73],
        [0.77, -1.6],
        [0.82, -0.63],
        [-0.55, -1.35],
        [-0.14, -0.25],
        [0.19, -0.53],
        [0.09, 1.82],
        [0.41, -0.57],
        [0.95, -0.13],
        [0.59, 0.61],
        [-0.39, -1.93],
        [-0.35, 0.55],
        [-0.38, 0.44],
        [0.98, -0.54],
        [1.23, 1.62],
        [1.08, 1.17],
        [1.1, 2.25],
    ];
    const MN_Y: [usize; 30] = [
        2, 1, 1, 1, 2, 1, 2, 2, 2, 0, 1, 2, 2, 2, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 2, 1, 2, 1, 2,
    ];

    fn rows() -> Vec<Vec<f64>> {
        MN_X.iter().map(|r| r.to_vec()).collect()
    }

    // Hand: intercept only, class counts 2, 3, 5: the MLE reproduces the shares 0.2, 0.3, 0.5,
    // so β₁ = ln(3/2) = 0.4054651081081644 and β₂ = ln(5/2) = 0.9162907318741551.
    #[test]
    fn intercept_only_hand() {
        let y = [0, 0, 1, 1, 1, 2, 2, 2, 2, 2];
        let x = vec![Vec::new(); y.len()];
        let m = fit(&x, &y, 3, 0.0).unwrap();
        let c = m.coefficients();
        assert_close(c[0][0], 0.4054651081081644, 1e-9);
        assert_close(c[1][0], 0.9162907318741551, 1e-9);
        let p = m.predict_proba(&[]).unwrap();
        assert_close(p[0], 0.2, 1e-9);
        assert_close(p[1], 0.3, 1e-9);
        assert_close(p[2], 0.5, 1e-9);
        assert_eq!(m.predict(&[]).unwrap(), 2);
    }

    #[test]
    fn statsmodels_mnlogit() {
        let m = fit(&rows(), &MN_Y, 3, 0.0).unwrap();
        // sm.MNLogit(MN_Y, add_constant(MN_X)).fit().params.T (rows: class 1, class 2)
        let expected = [
            [0.5852205780921191, 1.4476053678060332, -0.6155604068303221],
            [0.383392541491792, -0.8070516016661071, 1.0420206045291902],
        ];
        for (got, want) in m.coefficients().iter().zip(expected) {
            for (g, w) in got.iter().zip(want) {
                assert_close(*g, w, 1e-7);
            }
        }
        // sm.MNLogit(...).fit().llf
        assert_close(m.log_likelihood(), -23.487078821987303, 1e-10);
        // sm.MNLogit(...).fit().predict([[1, 0.3, -0.2]])
        let p = m.predict_proba(&[0.3, -0.2]).unwrap();
        for (g, w) in p
            .iter()
            .zip([0.19723750497744447, 0.6183303622637352, 0.18443213275882028])
        {
            assert_close(*g, w, 1e-7);
        }
    }

    #[test]
    fn l2_penalty_matches_scipy_minimize() {
        let m = fit(&rows(), &MN_Y, 3, 2.0).unwrap();
        // minimize(penalised_nll, lambda=2).x (rows: class 1, class 2); BFGS, so 1e-6.
        let expected = [
            [0.8250290131762896, 0.7007874551115997, -0.3987542456641043],
            [0.591486692602141, -0.47684093985476594, 0.634003315069753],
        ];
        for (got, want) in m.coefficients().iter().zip(expected) {
            for (g, w) in got.iter().zip(want) {
                assert_close(*g, w, 1e-6);
            }
        }
    }

    #[test]
    fn separated_classes_need_a_penalty() {
        let x: Vec<Vec<f64>> = (0..10).map(|i| vec![f64::from(i)]).collect();
        let y: Vec<usize> = (0..10).map(|i| usize::from(i >= 5)).collect();
        let err = fit(&x, &y, 2, 0.0).unwrap_err();
        assert!(
            matches!(
                err,
                StatsError::NoConvergence { .. } | StatsError::Singular { .. }
            ),
            "{err}"
        );
        let m = fit(&x, &y, 2, 0.1).unwrap();
        assert!(m.predict_proba(&[9.0]).unwrap()[1] > 0.9);
        assert_eq!(m.predict(&[0.0]).unwrap(), 0);
    }

    #[test]
    fn bad_input() {
        assert!(matches!(
            fit(&[], &[], 2, 0.0),
            Err(StatsError::EmptyInput { .. })
        ));
        assert!(fit(&[vec![1.0]], &[0, 1], 2, 0.0).is_err());
        assert!(fit(&[vec![1.0], vec![2.0]], &[0, 2], 2, 0.0).is_err());
        assert!(fit(&[vec![1.0], vec![2.0]], &[0, 1], 1, 0.0).is_err());
        assert!(fit(&[vec![1.0], vec![2.0]], &[0, 1], 2, -1.0).is_err());
        assert!(fit(&[vec![1.0], vec![f64::NAN]], &[0, 1], 2, 0.0).is_err());
        assert!(fit(&[vec![1.0], vec![2.0, 3.0]], &[0, 1], 2, 0.0).is_err());
        let m = fit(&rows(), &MN_Y, 3, 0.0).unwrap();
        assert!(m.predict_proba(&[1.0]).is_err());
        assert!(m.predict_proba(&[1.0, f64::INFINITY]).is_err());
    }
}
