//! The survey's rule-based respondent.
//!
//! Each item gets a latent score `u = intercept + sum(w_k * z_k) + e`, where `z_k` are
//! the item's drivers standardised over the population and `e ~ N(0, 1)` is drawn from
//! the call's seed. The score is scaled to unit variance, `s = u / sqrt(1 + sum(w_k^2))`,
//! and mapped through the normal CDF: a Likert item answers `1 + floor(P * Φ(s))`, a
//! choice item picks option `floor(K * Φ(s))` of its canonical order, a numeric item
//! answers `min + (max - min) * Φ(s)` (rounded when integer), and a free-text item
//! says, in a fixed sentence, whether the respondent leans negative, mixed or positive.
//! With no drivers and no intercept every scale point is equally likely.

use std::sync::Arc;

use agora_core::seed::StreamRng;
use agora_model::{ChatRequest, LlmError, RuleBackend, RulePolicy};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::{Map, Value, json};

use super::spec::{ItemKind, SurveySpec};
use crate::stats::{bin_of, normal_cdf};

/// Typed facts of one survey request: per asked item, its index and the respondent's
/// deterministic score (intercept plus weighted standardised drivers).
#[derive(Clone, Debug, PartialEq)]
pub struct SurveyFacts {
    /// (item index, score) for every item asked in the request, in prompt order.
    pub items: Vec<(u16, f64)>,
}

/// The `survey.answer` policy of the `rules` backend.
pub struct SurveyRules {
    spec: Arc<SurveySpec>,
    scales: Vec<f64>,
}

impl SurveyRules {
    /// A policy answering the items of `spec`.
    pub fn new(spec: Arc<SurveySpec>) -> Self {
        let scales = spec
            .items
            .iter()
            .map(|i| (1.0 + i.drivers.iter().map(|(_, w)| w * w).sum::<f64>()).sqrt())
            .collect();
        Self { spec, scales }
    }

    fn value(&self, item: usize, score: f64, rng: &mut StreamRng) -> Value {
        let noise: f64 = StandardNormal.sample(rng);
        let s = (score + noise) / self.scales[item];
        match &self.spec.items[item].kind {
            ItemKind::Likert { points, .. } => json!(1 + bin_of(s, usize::from(*points))),
            ItemKind::SingleChoice { options } => json!(options[bin_of(s, options.len())]),
            ItemKind::Numeric { min, max, integer } => {
                let x = min + (max - min) * normal_cdf(s);
                if *integer {
                    json!(x.round() as i64)
                } else {
                    json!(x)
                }
            }
            ItemKind::FreeText { max_chars } => {
                let lean = ["negative", "mixed", "positive"][bin_of(s, 3)];
                let text = format!("[rule-based respondent] I lean {lean} on this.");
                json!(text.chars().take(*max_chars as usize).collect::<String>())
            }
        }
    }
}

impl RulePolicy for SurveyRules {
    fn answer(&self, request: &ChatRequest) -> Result<Value, LlmError> {
        let facts = request
            .facts
            .as_ref()
            .and_then(|f| f.downcast_ref::<SurveyFacts>())
            .ok_or_else(|| {
                LlmError::InvalidRequest("survey request without survey facts".into())
            })?;
        let mut rng = StreamRng::seed_from_u64(request.seed);
        let mut values = facts.items.iter().map(|&(item, score)| {
            let item = usize::from(item);
            if item >= self.spec.items.len() {
                return Err(LlmError::InvalidRequest(format!("no survey item #{item}")));
            }
            Ok((item, self.value(item, score, &mut rng)))
        });
        if facts.items.len() == 1 {
            let (_, value) = values
                .next()
                .ok_or_else(|| LlmError::InvalidRequest("no item asked".into()))??;
            return Ok(json!({ "answer": value }));
        }
        let mut object = Map::new();
        for entry in values {
            let (item, value) = entry?;
            object.insert(self.spec.items[item].id.clone(), value);
        }
        Ok(Value::Object(object))
    }
}

/// A `rules` backend that answers this survey.
pub fn rule_backend(spec: &SurveySpec) -> RuleBackend {
    RuleBackend::new().with_policy(
        super::TASK,
        Arc::new(SurveyRules::new(Arc::new(spec.clone()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::spec::{Item, SurveyMode};
    use agora_model::SamplingParams;

    fn spec(kind: ItemKind) -> Arc<SurveySpec> {
        Arc::new(SurveySpec {
            mode: SurveyMode::OnePerRound,
            shuffle_options: false,
            instructions: String::new(),
            memory_chars: 100,
            items: vec![Item {
                id: "q".into(),
                text: "?".into(),
                kind,
                drivers: vec![],
                intercept: 0.0,
            }],
        })
    }

    fn ask(policy: &SurveyRules, seed: u64, score: f64) -> Value {
        let request = ChatRequest {
            task: crate::survey::TASK,
            messages: vec![],
            schema: Arc::new(json!({})),
            params: SamplingParams::default(),
            seed,
            facts: Some(Arc::new(SurveyFacts {
                items: vec![(0, score)],
            })),
        };
        policy.answer(&request).unwrap()["answer"].clone()
    }

    #[test]
    fn with_no_drivers_likert_points_are_about_equally_likely() {
        let policy = SurveyRules::new(spec(ItemKind::Likert {
            points: 5,
            labels: vec![],
        }));
        let mut counts = [0usize; 5];
        for seed in 0..20_000 {
            counts[ask(&policy, seed, 0.0).as_u64().unwrap() as usize - 1] += 1;
        }
        for c in counts {
            assert!((3_600..4_400).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn a_positive_score_raises_answers_and_the_same_seed_repeats() {
        let policy = SurveyRules::new(spec(ItemKind::Likert {
            points: 7,
            labels: vec![],
        }));
        let mean = |score: f64| {
            (0..2000)
                .map(|s| ask(&policy, s, score).as_f64().unwrap())
                .sum::<f64>()
                / 2000.0
        };
        assert!(mean(1.5) > mean(0.0) + 1.0);
        assert_eq!(ask(&policy, 9, 0.3), ask(&policy, 9, 0.3));
    }

    #[test]
    fn numeric_answers_stay_in_bounds_and_are_whole_when_asked() {
        let policy = SurveyRules::new(spec(ItemKind::Numeric {
            min: 10.0,
            max: 20.0,
            integer: true,
        }));
        for seed in 0..500 {
            let v = ask(&policy, seed, 3.0);
            let x = v.as_i64().unwrap();
            assert!((10..=20).contains(&x));
        }
    }
}
