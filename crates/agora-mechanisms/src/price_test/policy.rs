//! The price test's rule-based respondent.
//!
//! Each respondent has a willingness to pay `w` (drawn by the mechanism, see
//! [`super::PriceRules`]). Gabor–Granger: it buys exactly when the price is at most
//! `w`. Van Westendorp: too cheap at `0.5 w`, a bargain at `0.8 w`, getting expensive
//! at `1.2 w`, too expensive at `1.5 w`, each times `exp(0.1 u)` with `u ~ N(0, 1)`
//! from the call's seed, put in order, kept within the question's bounds and rounded
//! to cents.

use std::sync::Arc;

use agora_core::seed::StreamRng;
use agora_model::{ChatRequest, LlmError, RuleBackend, RulePolicy};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::{Value, json};

use super::spec::PriceSpec;

/// Multiples of `w` a rule-based respondent names in the four Van Westendorp answers.
pub const VW_MULTIPLES: [f64; 4] = [0.5, 0.8, 1.2, 1.5];

/// What is asked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PriceQuestion {
    /// The four Van Westendorp questions, answers within `(min, max)`.
    VanWestendorp {
        /// Smallest answer allowed.
        min: f64,
        /// Largest answer allowed.
        max: f64,
    },
    /// Would you buy at this price?
    Buy {
        /// The price asked.
        price: f64,
    },
}

/// Typed facts of one price question: the respondent's willingness to pay and the
/// question.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceFacts {
    /// The respondent's willingness to pay.
    pub wtp: f64,
    /// The question.
    pub question: PriceQuestion,
}

/// The policy of both price tasks.
pub struct PriceTestRules;

impl RulePolicy for PriceTestRules {
    fn answer(&self, request: &ChatRequest) -> Result<Value, LlmError> {
        let facts = request
            .facts
            .as_ref()
            .and_then(|f| f.downcast_ref::<PriceFacts>())
            .ok_or_else(|| LlmError::InvalidRequest("price request without price facts".into()))?;
        Ok(match facts.question {
            PriceQuestion::Buy { price } => json!({ "buy": price <= facts.wtp }),
            PriceQuestion::VanWestendorp { min, max } => {
                let mut rng = StreamRng::seed_from_u64(request.seed);
                let mut prices: Vec<f64> = VW_MULTIPLES
                    .iter()
                    .map(|m| {
                        let u: f64 = StandardNormal.sample(&mut rng);
                        let p = (m * facts.wtp * (0.1 * u).exp()).clamp(min, max);
                        (p * 100.0).round() / 100.0
                    })
                    .collect();
                prices.sort_by(f64::total_cmp);
                json!({
                    "too_cheap": prices[0],
                    "cheap": prices[1],
                    "expensive": prices[2],
                    "too_expensive": prices[3],
                })
            }
        })
    }
}

/// A `rules` backend that answers this price test.
pub fn rule_backend(_spec: &PriceSpec) -> RuleBackend {
    let policy = Arc::new(PriceTestRules);
    RuleBackend::new()
        .with_policy(super::TASK_VW, policy.clone())
        .with_policy(super::TASK_GG, policy)
}
