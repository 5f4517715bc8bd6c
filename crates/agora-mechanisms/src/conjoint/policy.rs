//! The conjoint study's rule-based respondent: planted part-worths plus Gumbel noise.
//!
//! The respondent's utility of alternative `j` is `x_j · β_i + ε_j`, with `x_j` the
//! coded profile (dummy levels, the price, the "none" constant), `β_i` the planted
//! part-worths moved by the respondent's drivers, and `ε_j` standard Gumbel draws from
//! the call's seed; it chooses the alternative of highest utility. That is exactly the
//! multinomial logit model, so estimates recover the planted part-worths.

use std::sync::Arc;

use agora_choice::conjoint::simulate_choice;
use agora_core::seed::StreamRng;
use agora_model::{ChatRequest, LlmError, RuleBackend, RulePolicy};
use rand::SeedableRng;
use serde_json::{Value, json};

use super::spec::ConjointSpec;

/// Typed facts of one choice task: the respondent's part-worths and the coded
/// alternatives in the order shown ("none" last when offered).
#[derive(Clone, Debug, PartialEq)]
pub struct ConjointFacts {
    /// Part-worths in the study's parameter layout.
    pub part_worths: Vec<f64>,
    /// Coded rows of the alternatives, as shown.
    pub alternatives: Vec<Vec<f64>>,
    /// Whether the last alternative is "none".
    pub has_none: bool,
}

/// The `conjoint.choose` policy of the `rules` backend.
pub struct ConjointRules;

impl RulePolicy for ConjointRules {
    fn answer(&self, request: &ChatRequest) -> Result<Value, LlmError> {
        let facts = request
            .facts
            .as_ref()
            .and_then(|f| f.downcast_ref::<ConjointFacts>())
            .ok_or_else(|| {
                LlmError::InvalidRequest("conjoint request without conjoint facts".into())
            })?;
        let mut rng = StreamRng::seed_from_u64(request.seed);
        let chosen = simulate_choice(&facts.part_worths, &facts.alternatives, &mut rng)
            .map_err(|e| LlmError::InvalidRequest(e.to_string()))?;
        Ok(json!({ "choice": choice_label(chosen, facts.alternatives.len(), facts.has_none) }))
    }
}

/// The answer naming alternative `index` of `count` (1-based, or `none`).
pub fn choice_label(index: usize, count: usize, has_none: bool) -> String {
    if has_none && index + 1 == count {
        "none".to_string()
    } else {
        (index + 1).to_string()
    }
}

/// A `rules` backend that answers this study.
pub fn rule_backend(_spec: &ConjointSpec) -> RuleBackend {
    RuleBackend::new().with_policy(super::TASK, Arc::new(ConjointRules))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_model::SamplingParams;

    fn ask(facts: ConjointFacts, seed: u64) -> String {
        let request = ChatRequest {
            task: super::super::TASK,
            messages: vec![],
            schema: Arc::new(json!({})),
            params: SamplingParams::default(),
            seed,
            facts: Some(Arc::new(facts)),
        };
        ConjointRules.answer(&request).unwrap()["choice"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn choices_follow_logit_probabilities() {
        // Utilities 1, 0 and "none" at -1: logit shares e/(e+1+1/e) = 0.665, 0.245, 0.090.
        let facts = ConjointFacts {
            part_worths: vec![1.0, -1.0],
            alternatives: vec![vec![1.0, 0.0], vec![0.0, 0.0], vec![0.0, 1.0]],
            has_none: true,
        };
        let mut counts = std::collections::HashMap::new();
        let n = 20_000;
        for seed in 0..n {
            *counts.entry(ask(facts.clone(), seed)).or_insert(0usize) += 1;
        }
        let e = std::f64::consts::E;
        let total = e + 1.0 + 1.0 / e;
        for (label, p) in [
            ("1", e / total),
            ("2", 1.0 / total),
            ("none", 1.0 / e / total),
        ] {
            let share = counts[label] as f64 / n as f64;
            assert!((share - p).abs() < 0.015, "{label}: {share} vs {p}");
        }
        assert_eq!(ask(facts.clone(), 5), ask(facts, 5));
    }
}
