//! Van Westendorp price sensitivity meter.

use serde::{Deserialize, Serialize};

use crate::error::{ChoiceError, Result};

/// One respondent's four price answers, in currency units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VanWestendorpResponse {
    /// "At what price would it be so cheap that you would doubt its quality?"
    pub too_cheap: f64,
    /// "At what price would it be a bargain?"
    pub cheap: f64,
    /// "At what price would it start to get expensive?"
    pub expensive: f64,
    /// "At what price would it be too expensive to consider?"
    pub too_expensive: f64,
}

impl VanWestendorpResponse {
    fn is_valid(&self) -> bool {
        [
            self.too_cheap,
            self.cheap,
            self.expensive,
            self.too_expensive,
        ]
        .iter()
        .all(|p| p.is_finite())
            && self.too_cheap <= self.cheap
            && self.cheap <= self.expensive
            && self.expensive <= self.too_expensive
    }
}

/// The four cumulative curves (and two complements) at one grid price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriceCurvePoint {
    /// Grid price.
    pub price: f64,
    /// Share with `too_cheap ≥ price`.
    pub too_cheap: f64,
    /// Share with `cheap ≥ price`.
    pub cheap: f64,
    /// Share with `expensive ≤ price`.
    pub expensive: f64,
    /// Share with `too_expensive ≤ price`.
    pub too_expensive: f64,
    /// `1 − cheap`.
    pub not_cheap: f64,
    /// `1 − expensive`.
    pub not_expensive: f64,
}

/// Result of [`van_westendorp`]: the curves, the four price points and the counts.
///
/// Conventions. Respondents whose four prices are not finite or not ordered
/// `too_cheap ≤ cheap ≤ expensive ≤ too_expensive` are dropped and counted. The curves
/// are evaluated on the grid of all distinct prices answered by the kept respondents,
/// sorted ascending:
///
/// - too cheap(p) = share with `too_cheap ≥ p` (decreasing);
/// - cheap(p) = share with `cheap ≥ p` (decreasing);
/// - expensive(p) = share with `expensive ≤ p` (increasing);
/// - too expensive(p) = share with `too_expensive ≤ p` (increasing);
/// - not cheap = 1 − cheap, not expensive = 1 − expensive.
///
/// Each price point is where a decreasing curve meets an increasing one. With
/// `d_i = decreasing(p_i) − increasing(p_i)` (non-increasing in `i`), the point is the
/// first grid price with `d_i = 0`, or else the linear interpolation
/// `p_i + (p_{i+1} − p_i)·d_i/(d_i − d_{i+1})` on the first segment where `d` changes
/// sign from positive to negative. It is `None` when the curves do not cross inside the
/// grid (`d` is negative at the lowest price or positive at the highest).
///
/// - PMC (point of marginal cheapness): too cheap meets not cheap;
/// - PME (point of marginal expensiveness): not expensive meets too expensive;
/// - OPP (optimal price point): too cheap meets too expensive;
/// - IPP (indifference price point): cheap meets expensive.
///
/// The range of acceptable prices is `[PMC, PME]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VanWestendorp {
    /// Curves on the sorted grid of distinct answered prices.
    pub curves: Vec<PriceCurvePoint>,
    /// Point of marginal cheapness (lower end of the acceptable range).
    pub pmc: Option<f64>,
    /// Point of marginal expensiveness (upper end of the acceptable range).
    pub pme: Option<f64>,
    /// Optimal price point.
    pub opp: Option<f64>,
    /// Indifference price point.
    pub ipp: Option<f64>,
    /// Respondents dropped for unordered or non-finite answers.
    pub dropped: usize,
    /// Respondents used.
    pub respondents: usize,
}

impl VanWestendorp {
    /// The range of acceptable prices `[PMC, PME]`, when both exist.
    pub fn acceptable_range(&self) -> Option<(f64, f64)> {
        Some((self.pmc?, self.pme?))
    }
}

/// Where a decreasing and an increasing curve on the same grid meet (see [`VanWestendorp`]).
fn crossing(prices: &[f64], decreasing: &[f64], increasing: &[f64]) -> Option<f64> {
    let d: Vec<f64> = decreasing
        .iter()
        .zip(increasing)
        .map(|(a, b)| a - b)
        .collect();
    if d.first().is_none_or(|&d0| d0 < 0.0) {
        return None;
    }
    for i in 0..d.len() {
        if d[i] == 0.0 {
            return Some(prices[i]);
        }
        if i + 1 < d.len() && d[i] > 0.0 && d[i + 1] < 0.0 {
            return Some(prices[i] + (prices[i + 1] - prices[i]) * d[i] / (d[i] - d[i + 1]));
        }
    }
    None
}

/// Share of `values` satisfying `keep`.
fn share(values: &[f64], keep: impl Fn(f64) -> bool) -> f64 {
    values.iter().filter(|&&v| keep(v)).count() as f64 / values.len() as f64
}

/// Van Westendorp curves and price points from respondents' four price answers
/// (conventions in [`VanWestendorp`]).
///
/// Errors if no respondent gave finite, ordered answers.
pub fn van_westendorp(responses: &[VanWestendorpResponse]) -> Result<VanWestendorp> {
    let kept: Vec<&VanWestendorpResponse> = responses.iter().filter(|r| r.is_valid()).collect();
    let dropped = responses.len() - kept.len();
    if kept.is_empty() {
        return Err(ChoiceError::NoValidData {
            what: "Van Westendorp respondents".to_owned(),
            dropped,
            hint: "each respondent needs finite prices ordered too cheap ≤ cheap ≤ expensive ≤ too expensive".to_owned(),
        });
    }
    let column =
        |f: fn(&VanWestendorpResponse) -> f64| kept.iter().map(|r| f(r)).collect::<Vec<f64>>();
    let too_cheap = column(|r| r.too_cheap);
    let cheap = column(|r| r.cheap);
    let expensive = column(|r| r.expensive);
    let too_expensive = column(|r| r.too_expensive);
    let mut grid: Vec<f64> = [&too_cheap, &cheap, &expensive, &too_expensive]
        .iter()
        .flat_map(|c| c.iter().copied())
        .collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let curves: Vec<PriceCurvePoint> = grid
        .iter()
        .map(|&p| {
            let c = share(&cheap, |v| v >= p);
            let e = share(&expensive, |v| v <= p);
            PriceCurvePoint {
                price: p,
                too_cheap: share(&too_cheap, |v| v >= p),
                cheap: c,
                expensive: e,
                too_expensive: share(&too_expensive, |v| v <= p),
                not_cheap: 1.0 - c,
                not_expensive: 1.0 - e,
            }
        })
        .collect();
    let get = |f: fn(&PriceCurvePoint) -> f64| curves.iter().map(f).collect::<Vec<f64>>();
    let tc = get(|c| c.too_cheap);
    let ch = get(|c| c.cheap);
    let ex = get(|c| c.expensive);
    let te = get(|c| c.too_expensive);
    let nc = get(|c| c.not_cheap);
    let ne = get(|c| c.not_expensive);
    Ok(VanWestendorp {
        pmc: crossing(&grid, &tc, &nc),
        pme: crossing(&grid, &ne, &te),
        opp: crossing(&grid, &tc, &te),
        ipp: crossing(&grid, &ch, &ex),
        curves,
        dropped,
        respondents: kept.len(),
    })
}
