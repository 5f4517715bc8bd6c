//! The auction's rule-based bidders, a baseline against language-model bidders.
//!
//! Each bidder knows its value `v` (its estimate, with a common-value component), its
//! remaining budget `B`, the reserve `r` and the number of bidders `n`:
//!
//! - second price: bid `min(v, B)` (truthful, dominant);
//! - English: stay in while the price is at most `min(v, B)` (truthful);
//! - first price: bid `min(b(v), B)` with the symmetric risk-neutral equilibrium bid
//!   `b(v) = v - ∫_r^v F(x)^(n-1) dx / F(v)^(n-1)` for values drawn independently from
//!   the lot's distribution `F` (for `Uniform(0, H)` and no reserve, `b(v) = (n-1)/n v`);
//! - Dutch: accept once the price falls to `min(b(v), B)` (the first-price bid, to
//!   which the Dutch clock is strategically equivalent).
//!
//! A bidder whose value or budget is below the reserve does not bid. The equilibrium
//! ignores value drivers, budgets and common values, which makes these bidders
//! naive where those apply (for example, subject to the winner's curse).

use std::sync::Arc;

use agora_model::{ChatRequest, LlmError, RuleBackend, RulePolicy};
use serde_json::{Value, json};

use super::dist::ValueDist;
use super::spec::{AuctionSpec, Format};

/// Typed facts of one bidding decision, for rule-based bidders.
#[derive(Clone, Debug, PartialEq)]
pub struct BidFacts {
    /// The auction format.
    pub format: Format,
    /// Index of the lot in the scenario's list.
    pub lot: usize,
    /// The bidder's agent id.
    pub bidder: u32,
    /// The lot's value to the bidder, as the bidder knows it.
    pub value: f64,
    /// What the bidder may still spend; `None` means no limit.
    pub budget_left: Option<f64>,
    /// The lot's reserve price.
    pub reserve: f64,
    /// The clock's current price (clock formats).
    pub price: Option<f64>,
    /// Number of bidders in the auction.
    pub bidders: u32,
}

/// The risk-neutral symmetric equilibrium bid of a first-price auction with `n`
/// bidders whose values are independent draws from `dist`, for value `value` and
/// reserve `reserve`; `None` below the reserve (no bid). A lone bidder bids the reserve.
pub fn first_price_bid(dist: &ValueDist, n: u32, reserve: f64, value: f64) -> Option<f64> {
    if value.is_nan() || value < reserve {
        return None;
    }
    if n <= 1 {
        return Some(reserve);
    }
    let k = n - 1;
    let top = dist.cdf(value).powi(i32::try_from(k).unwrap_or(i32::MAX));
    if top <= 0.0 {
        return Some(value);
    }
    let shade = dist.cdf_power_integral(k, reserve, value) / top;
    Some((value - shade).clamp(reserve, value))
}

/// Whether `price` is at most `limit`, up to floating-point rounding of `limit`.
fn at_most(price: f64, limit: f64) -> bool {
    price <= limit + 1e-9 * limit.abs().max(1.0)
}

/// The `auction.*` policies of the `rules` backend.
pub struct AuctionRules {
    spec: Arc<AuctionSpec>,
}

impl AuctionRules {
    /// Rule-based bidders for the lots of `spec`.
    pub fn new(spec: Arc<AuctionSpec>) -> Self {
        Self { spec }
    }

    /// The answer of a rule-based bidder with `facts`.
    pub fn decide(&self, facts: &BidFacts) -> Result<Value, LlmError> {
        let lot = self
            .spec
            .lots
            .get(facts.lot)
            .ok_or_else(|| LlmError::InvalidRequest(format!("no lot #{}", facts.lot)))?;
        let budget = facts.budget_left.unwrap_or(f64::INFINITY);
        let equilibrium = || {
            first_price_bid(&lot.values, facts.bidders, facts.reserve, facts.value)
                .map(|b| b.min(budget))
                .filter(|b| *b >= facts.reserve)
        };
        let price = || {
            facts.price.ok_or_else(|| {
                LlmError::InvalidRequest("a clock decision without a clock price".into())
            })
        };
        Ok(match facts.format {
            Format::FirstPrice => json!({
                "bid": equilibrium(),
                "reason": "rule: risk-neutral equilibrium bid",
            }),
            Format::SecondPrice => {
                let bid = facts.value.min(budget);
                json!({
                    "bid": (bid >= facts.reserve).then_some(bid),
                    "reason": "rule: bid my value (truthful)",
                })
            }
            Format::English => json!({
                "stay": at_most(price()?, facts.value.min(budget)),
                "reason": "rule: stay while the price is at most my value",
            }),
            Format::Dutch => json!({
                "accept": equilibrium().is_some_and(|target| price().is_ok_and(|p| at_most(p, target))),
                "reason": "rule: accept at my first-price equilibrium bid",
            }),
        })
    }
}

impl RulePolicy for AuctionRules {
    fn answer(&self, request: &ChatRequest) -> Result<Value, LlmError> {
        let facts = request
            .facts
            .as_ref()
            .and_then(|f| f.downcast_ref::<BidFacts>())
            .ok_or_else(|| {
                LlmError::InvalidRequest("auction request without bidding facts".into())
            })?;
        self.decide(facts)
    }
}

/// A `rules` backend whose bidders play the auction `spec`.
pub fn rule_backend(spec: &AuctionSpec) -> RuleBackend {
    let policy: Arc<dyn RulePolicy> = Arc::new(AuctionRules::new(Arc::new(spec.clone())));
    [super::TASK_BID, super::TASK_STAY, super::TASK_ACCEPT]
        .into_iter()
        .fold(RuleBackend::new(), |backend, task| {
            backend.with_policy(task, policy.clone())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auction::spec::{Budget, Lot};
    use proptest::prelude::*;

    const U100: ValueDist = ValueDist::Uniform {
        min: 0.0,
        max: 100.0,
    };

    fn spec(format: Format) -> Arc<AuctionSpec> {
        Arc::new(AuctionSpec {
            format,
            instructions: String::new(),
            budget: Budget::Unlimited,
            common_value: None,
            reveal_bids: false,
            max_steps: 100,
            memory_chars: 100,
            lots: vec![Lot {
                id: "a".into(),
                title: "a".into(),
                attributes: vec![],
                values: U100,
                drivers: vec![],
                reserve: 0.0,
                start_price: 0.0,
                increment: 1.0,
            }],
        })
    }

    fn facts(format: Format, value: f64, budget: Option<f64>, price: Option<f64>) -> BidFacts {
        BidFacts {
            format,
            lot: 0,
            bidder: 0,
            value,
            budget_left: budget,
            reserve: 0.0,
            price,
            bidders: 4,
        }
    }

    fn decide(f: BidFacts) -> Value {
        AuctionRules::new(spec(f.format)).decide(&f).unwrap()
    }

    #[test]
    fn uniform_first_price_bids_shade_by_one_over_n() {
        for v in [0.0, 10.0, 50.0, 99.0] {
            let b = first_price_bid(&U100, 4, 0.0, v).unwrap();
            assert!((b - 0.75 * v).abs() < 1e-9, "b({v}) = {b}");
        }
        // With a reserve r: b(v) = v - (v^n - r^n) / (n v^(n-1)) for U(0, 1) scaled.
        let (r, v, n): (f64, f64, f64) = (20.0, 60.0, 3.0);
        let want = v - (v.powf(n) - r.powf(n)) / (n * v.powf(n - 1.0));
        assert!((first_price_bid(&U100, 3, r, v).unwrap() - want).abs() < 1e-9);
        assert_eq!(first_price_bid(&U100, 3, r, 19.0), None);
        assert_eq!(
            first_price_bid(&U100, 1, r, 70.0),
            Some(r),
            "a lone bidder bids the reserve"
        );
    }

    #[test]
    fn bidders_follow_their_rules_and_stay_within_budget() {
        assert_eq!(
            decide(facts(Format::SecondPrice, 70.0, None, None))["bid"],
            70.0
        );
        assert_eq!(
            decide(facts(Format::SecondPrice, 70.0, Some(50.0), None))["bid"],
            50.0
        );
        let bid = decide(facts(Format::FirstPrice, 80.0, None, None))["bid"]
            .as_f64()
            .unwrap();
        assert!((bid - 60.0).abs() < 1e-9, "{bid}");
        assert_eq!(
            decide(facts(Format::FirstPrice, 80.0, Some(10.0), None))["bid"],
            10.0
        );
        assert_eq!(
            decide(facts(Format::English, 70.0, None, Some(70.0)))["stay"],
            true
        );
        assert_eq!(
            decide(facts(Format::English, 70.0, None, Some(71.0)))["stay"],
            false
        );
        assert_eq!(
            decide(facts(Format::English, 70.0, Some(30.0), Some(31.0)))["stay"],
            false
        );
        assert_eq!(
            decide(facts(Format::Dutch, 80.0, None, Some(61.0)))["accept"],
            false
        );
        assert_eq!(
            decide(facts(Format::Dutch, 80.0, None, Some(60.0)))["accept"],
            true
        );
        let mut below = facts(Format::SecondPrice, 10.0, None, None);
        below.reserve = 20.0;
        assert!(decide(below)["bid"].is_null(), "no bid below the reserve");
        let no_price = facts(Format::English, 10.0, None, None);
        assert!(
            AuctionRules::new(spec(Format::English))
                .decide(&no_price)
                .is_err(),
            "a clock decision needs a price"
        );
    }

    proptest! {
        #[test]
        fn equilibrium_bids_are_monotone_and_below_value(
            a in 0.0f64..100.0, b in 0.0f64..100.0, n in 1u32..10, reserve in 0.0f64..50.0,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            for dist in [U100, ValueDist::Normal { mean: 50.0, std_dev: 15.0 }, ValueDist::LogNormal { mu: 3.8, sigma: 0.4 }] {
                let (blo, bhi) = (first_price_bid(&dist, n, reserve, lo), first_price_bid(&dist, n, reserve, hi));
                if let Some(x) = bhi {
                    prop_assert!(x <= hi + 1e-9 && x >= reserve - 1e-9);
                }
                if let (Some(x), Some(y)) = (blo, bhi) {
                    prop_assert!(x <= y + 1e-6, "b({lo}) = {x} > b({hi}) = {y}");
                }
            }
        }
    }
}
