//! Rule-based conversation agents, a baseline against language-model agents.
//!
//! They answer from typed facts with the rules of [`super::dynamics`]: an initial
//! opinion from persona drivers and side, public stances leaning towards what was
//! heard, private opinions moved by bounded confidence, and template messages from
//! [`super::voice`]. Memory summaries keep the newest `summary_chars` characters of the
//! old summary followed by each new item cut to 100 bytes.

use std::sync::Arc;

use agora_core::memory::truncate;
use agora_core::seed::StreamRng;
use agora_model::{ChatRequest, LlmError, RuleBackend, RulePolicy};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::{Value, json};

use super::dynamics::{
    after_stimulus, bounded_confidence, initial_opinion, public_stance, updated_confidence,
};
use super::setup::Setup;
use super::voice::Voice;

/// Typed facts of one conversation request, for rule-based agents. Opinions and
/// stances are shares of the scale (0..1).
#[derive(Clone, Debug, PartialEq)]
pub enum TurnFacts {
    /// The opinion before round 1: `score` is intercept, side and drivers.
    Prior {
        /// The latent score before noise.
        score: f64,
    },
    /// A public message.
    Speak {
        /// The speaker's private opinion.
        opinion: f64,
        /// Public stances heard since its last turn.
        heard: Vec<f64>,
        /// The speaker's agreeableness (0..1).
        agreeableness: f64,
        /// What the template is filled from.
        voice: Voice,
    },
    /// The private opinion after a round.
    Update {
        /// The opinion before the round.
        opinion: f64,
        /// Confidence before the round.
        confidence: f64,
        /// Public stances heard during the round.
        heard: Vec<f64>,
        /// A stimulus's push this round (0 without one).
        shift: f64,
    },
    /// A moderator's question: the script's, word for word.
    Moderate {
        /// The script's question for the round.
        script: String,
    },
    /// Fold remembered items into the summary.
    Consolidate {
        /// The summary so far.
        summary: String,
        /// Items to fold in, oldest first.
        items: Vec<String>,
        /// Most characters of the new summary.
        max_chars: usize,
    },
}

/// The summary a rule-based agent writes (see the module documentation); also the
/// fallback when a model's summary is invalid.
pub fn rule_summary(previous: &str, items: &[String], max_chars: usize) -> String {
    let mut s = previous.to_string();
    for item in items {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&truncate(item, 100));
    }
    let n = s.chars().count();
    if n > max_chars {
        s.chars().skip(n - max_chars).collect()
    } else {
        s
    }
}

/// The conversation policies of the `rules` backend.
pub struct ConversationRules {
    setup: Arc<Setup>,
}

impl ConversationRules {
    /// Rule-based agents for the conversation `setup`.
    pub fn new(setup: Arc<Setup>) -> Self {
        Self { setup }
    }

    /// The answer of a rule-based agent with `facts`; `seed` drives its noise.
    pub fn decide(&self, facts: &TurnFacts, seed: u64) -> Value {
        let (scale, rules) = (&self.setup.scale, &self.setup.rules);
        match facts {
            TurnFacts::Prior { score } => {
                let noise: f64 = StandardNormal.sample(&mut StreamRng::seed_from_u64(seed));
                json!({
                    "reasoning": "rule: initial opinion from persona and side",
                    "stance": scale.point(initial_opinion(*score, noise)),
                    "confidence": 0.5,
                })
            }
            TurnFacts::Speak {
                opinion,
                heard,
                agreeableness,
                voice,
            } => {
                let stance = public_stance(*opinion, heard, rules.conformity, *agreeableness);
                let line = (self.setup.kind.rule_line)(voice, stance);
                let text: String = line.chars().take(self.setup.max_chars as usize).collect();
                json!({
                    "reasoning": "rule: my opinion, leaning towards what I heard",
                    "message": text,
                    "stance": scale.point(stance),
                })
            }
            TurnFacts::Update {
                opinion,
                confidence,
                heard,
                shift,
            } => {
                let pushed = after_stimulus(*opinion, *shift);
                json!({
                    "reasoning": "rule: bounded-confidence update",
                    "stance": scale.point(bounded_confidence(pushed, heard, rules.epsilon, rules.mu)),
                    "confidence": updated_confidence(*confidence, pushed, heard, rules.epsilon),
                })
            }
            TurnFacts::Moderate { script } => json!({ "question": script }),
            TurnFacts::Consolidate {
                summary,
                items,
                max_chars,
            } => {
                json!({ "summary": rule_summary(summary, items, *max_chars) })
            }
        }
    }
}

impl RulePolicy for ConversationRules {
    fn answer(&self, request: &ChatRequest) -> Result<Value, LlmError> {
        let facts = request
            .facts
            .as_ref()
            .and_then(|f| f.downcast_ref::<TurnFacts>())
            .ok_or_else(|| {
                LlmError::InvalidRequest("conversation request without turn facts".into())
            })?;
        Ok(self.decide(facts, request.seed))
    }
}

/// A `rules` backend whose agents play the conversation `setup`.
pub fn rule_backend(setup: &Setup) -> RuleBackend {
    let policy: Arc<dyn RulePolicy> = Arc::new(ConversationRules::new(Arc::new(setup.clone())));
    [
        super::TASK_DEBATE,
        super::TASK_ANSWER,
        super::TASK_OPINION,
        super::TASK_CONSOLIDATE,
        super::TASK_MODERATE,
    ]
    .into_iter()
    .fold(RuleBackend::new(), |backend, task| {
        backend.with_policy(task, policy.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_keep_the_newest_characters() {
        let s = rule_summary("old", &["a".repeat(300), "new".into()], 50);
        assert_eq!(s.chars().count(), 50);
        assert!(s.ends_with(" new"), "{s}");
        assert_eq!(rule_summary("", &["x".into()], 50), "x");
    }
}
