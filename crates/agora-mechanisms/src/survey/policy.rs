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

use std::borrow::Cow;
use std::sync::Arc;

use agora_core::seed::StreamRng;
use agora_model::{ChatRequest, LlmError, RuleBackend, RulePolicy};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::{Map, Value, json};

use super::spec::{ItemKind, OTHER, SurveySpec};
use crate::stats::{bin_of, normal_cdf};

/// One question of a request as the rule-based respondent sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct AskedFact {
    /// The answer's key in the reply (`answer` when one question is asked).
    pub key: Cow<'static, str>,
    /// The question's kind, placeholders filled in.
    pub kind: Arc<ItemKind>,
    /// The respondent's deterministic score (intercept plus weighted drivers).
    pub score: f64,
    /// The score's scale, `sqrt(1 + sum(w_k^2))`.
    pub scale: f64,
}

/// Typed facts of one survey request: every question asked, in prompt order.
#[derive(Clone, Debug, PartialEq)]
pub struct SurveyFacts {
    /// The questions asked.
    pub items: Vec<AskedFact>,
}

/// The `survey.answer` policy of the `rules` backend.
pub struct SurveyRules;

/// The text the rule-based respondent gives with "Other".
pub const RULE_OTHER_TEXT: &str = "[rule-based respondent] something else";

impl SurveyRules {
    /// A policy answering the items of `spec` (everything it needs travels in the
    /// request's [`SurveyFacts`]).
    pub fn new(_spec: Arc<SurveySpec>) -> Self {
        Self
    }

    fn value(fact: &AskedFact, rng: &mut StreamRng) -> Value {
        let noise: f64 = StandardNormal.sample(rng);
        let s = (fact.score + noise) / fact.scale;
        match &*fact.kind {
            ItemKind::Likert { points, .. } => json!(1 + bin_of(s, usize::from(*points))),
            ItemKind::SingleChoice { options, other } | ItemKind::Dropdown { options, other } => {
                let n = options.len() + usize::from(*other);
                let pick = bin_of(s, n);
                if !*other {
                    json!(options[pick])
                } else if pick == options.len() {
                    json!({ "choice": OTHER, "other": RULE_OTHER_TEXT })
                } else {
                    json!({ "choice": options[pick], "other": "" })
                }
            }
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
                let mut text = ["[rule-based respondent] I lean ", lean, " on this."].concat();
                if let Some((cut, _)) = text.char_indices().nth(*max_chars as usize) {
                    text.truncate(cut);
                }
                Value::String(text)
            }
            ItemKind::YesNo => json!(if s >= 0.0 { "yes" } else { "no" }),
            ItemKind::MultiSelect {
                options,
                min,
                max,
                other,
            } => {
                let choices = fact.kind.choices();
                let count = usize::from(*min) + bin_of(s, usize::from(max - min) + 1);
                let mut chosen = preference(s, choices.len(), rng);
                chosen.truncate(count);
                chosen.sort_unstable();
                let list: Vec<&str> = chosen.iter().map(|&i| choices[i]).collect();
                if *other {
                    let said = if chosen.contains(&options.len()) {
                        RULE_OTHER_TEXT
                    } else {
                        ""
                    };
                    json!({ "choices": list, "other": said })
                } else {
                    json!(list)
                }
            }
            ItemKind::Ranking { options, top } => {
                let mut order = preference(s, options.len(), rng);
                order.truncate(usize::from(*top));
                json!(order.iter().map(|&i| &options[i]).collect::<Vec<_>>())
            }
            ItemKind::Matrix {
                statements, points, ..
            } => {
                let mut out = Map::new();
                for st in statements {
                    let e: f64 = StandardNormal.sample(rng);
                    let point = 1 + bin_of((fact.score + e) / fact.scale, usize::from(*points));
                    out.insert(st.clone(), json!(point));
                }
                Value::Object(out)
            }
            ItemKind::ConstantSum { options, total } => {
                let utilities = utilities(s, options.len(), rng);
                let points = largest_remainder(&utilities, *total);
                Value::Object(
                    options
                        .iter()
                        .zip(points)
                        .map(|(o, p)| (o.clone(), json!(p)))
                        .collect(),
                )
            }
        }
    }
}

/// Utilities of `n` options: the score tilts towards later options in the listed
/// order (as it moves a single choice), plus independent standard normal noise.
fn utilities(s: f64, n: usize, rng: &mut StreamRng) -> Vec<f64> {
    let span = (n.max(2) - 1) as f64;
    (0..n)
        .map(|k| {
            let e: f64 = StandardNormal.sample(rng);
            s * (2.0 * k as f64 / span - 1.0) + e
        })
        .collect()
}

/// Options in order of preference (highest utility first; ties by listed order).
fn preference(s: f64, n: usize, rng: &mut StreamRng) -> Vec<usize> {
    let u = utilities(s, n, rng);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| u[b].total_cmp(&u[a]).then(a.cmp(&b)));
    order
}

/// `total` whole points in proportion to the softmax of `utilities`, rounded by the
/// largest-remainder method so they sum to `total` exactly.
fn largest_remainder(utilities: &[f64], total: u32) -> Vec<u32> {
    let top = utilities.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = utilities.iter().map(|u| (u - top).exp()).collect();
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| f64::from(total) * w / sum).collect();
    let mut points: Vec<u32> = exact.iter().map(|x| x.floor() as u32).collect();
    let given: u32 = points.iter().sum();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    for &i in order
        .iter()
        .cycle()
        .take(total.saturating_sub(given) as usize)
    {
        points[i] += 1;
    }
    points
}

impl RulePolicy for SurveyRules {
    /// One question is answered with the value alone when it is not an object (a
    /// point, an option, a number, a list), which the survey reads as the answer to
    /// its one question: the `{"answer": value}` a model is asked for would cost a map,
    /// a key and their freeing per answer, a tenth of a million-agent run's
    /// simulation. An answer that is an object, and several questions, are answered
    /// as a model replies.
    fn answer(&self, request: &ChatRequest) -> Result<Value, LlmError> {
        let facts = request
            .facts
            .as_ref()
            .and_then(|f| f.downcast_ref::<SurveyFacts>())
            .ok_or_else(|| {
                LlmError::InvalidRequest("survey request without survey facts".into())
            })?;
        let mut rng = StreamRng::seed_from_u64(request.seed);
        if let [fact] = facts.items.as_slice() {
            let value = Self::value(fact, &mut rng);
            // An answer that is itself an object (a choice with its "other" text, a
            // grid) keeps the wrapper, so that a reply's shape says which it is.
            return Ok(if value.is_object() {
                json!({ "answer": value })
            } else {
                value
            });
        }
        if facts.items.is_empty() {
            return Err(LlmError::InvalidRequest("no item asked".into()));
        }
        let mut object = Map::new();
        for fact in &facts.items {
            object.insert(fact.key.to_string(), Self::value(fact, &mut rng));
        }
        Ok(Value::Object(object))
    }
}

/// A `rules` backend that answers this survey.
pub fn rule_backend(spec: &SurveySpec) -> RuleBackend {
    let _ = spec;
    RuleBackend::new().with_policy(super::TASK, Arc::new(SurveyRules))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::validate_answer;
    use agora_model::SamplingParams;

    fn ask_kind(kind: &ItemKind, seed: u64, score: f64) -> Value {
        let request = ChatRequest {
            task: crate::survey::TASK,
            messages: vec![],
            schema: Arc::new(json!({})),
            params: SamplingParams::default(),
            seed,
            facts: Some(Arc::new(SurveyFacts {
                items: vec![AskedFact {
                    key: "answer".into(),
                    kind: Arc::new(kind.clone()),
                    score,
                    scale: 1.0,
                }],
            })),
        };
        match SurveyRules.answer(&request).unwrap() {
            Value::Object(mut reply) => reply.remove("answer").unwrap(),
            bare => bare,
        }
    }

    fn policy_of(kind: ItemKind) -> ItemKind {
        kind
    }

    fn ask(kind: &ItemKind, seed: u64, score: f64) -> Value {
        ask_kind(kind, seed, score)
    }

    #[test]
    fn a_rule_based_free_text_keeps_within_its_length() {
        let full = ask(&ItemKind::FreeText { max_chars: 280 }, 1, 3.0);
        let full = full.as_str().unwrap_or_default().to_string();
        assert!(
            ["negative", "mixed", "positive"]
                .iter()
                .any(|lean| full == format!("[rule-based respondent] I lean {lean} on this.")),
            "{full}"
        );
        for max in [0, 1, 10, 48] {
            let cut = ask(&ItemKind::FreeText { max_chars: max }, 1, 3.0);
            let cut = cut.as_str().unwrap_or_default();
            assert_eq!(cut.chars().count(), full.chars().count().min(max as usize));
            assert!(full.starts_with(cut), "{cut}");
        }
    }

    #[test]
    fn several_questions_answer_under_their_keys() {
        let fact = |key: &str| AskedFact {
            key: key.to_string().into(),
            kind: Arc::new(ItemKind::YesNo),
            score: 0.0,
            scale: 1.0,
        };
        let request = ChatRequest {
            task: crate::survey::TASK,
            messages: vec![],
            schema: Arc::new(json!({})),
            params: SamplingParams::default(),
            seed: 3,
            facts: Some(Arc::new(SurveyFacts {
                items: vec![fact("a"), fact("b:x")],
            })),
        };
        let v = SurveyRules.answer(&request).unwrap();
        assert!(v["a"].is_string() && v["b:x"].is_string(), "{v}");
    }

    #[test]
    fn with_no_drivers_likert_points_are_about_equally_likely() {
        let policy = policy_of(ItemKind::Likert {
            points: 5,
            labels: vec![],
        });
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
        let policy = policy_of(ItemKind::Likert {
            points: 7,
            labels: vec![],
        });
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
    fn every_new_kind_gets_valid_answers_that_follow_the_score() {
        let o = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let kinds = [
            ItemKind::MultiSelect {
                options: o(&["a", "b", "c", "d"]),
                min: 1,
                max: 3,
                other: true,
            },
            ItemKind::MultiSelect {
                options: o(&["a", "b"]),
                min: 0,
                max: 2,
                other: false,
            },
            ItemKind::Ranking {
                options: o(&["a", "b", "c"]),
                top: 3,
            },
            ItemKind::Ranking {
                options: o(&["a", "b", "c", "d"]),
                top: 2,
            },
            ItemKind::Matrix {
                statements: o(&["s", "t"]),
                points: 5,
                labels: vec![],
            },
            ItemKind::ConstantSum {
                options: o(&["x", "y", "z"]),
                total: 100,
            },
            ItemKind::YesNo,
            ItemKind::Dropdown {
                options: o(&["a", "b", "c"]),
                other: true,
            },
            ItemKind::SingleChoice {
                options: o(&["a", "b"]),
                other: true,
            },
        ];
        for kind in &kinds {
            for seed in 0..300 {
                let v = ask(kind, seed, (seed % 7) as f64 - 3.0);
                assert!(validate_answer(kind, &v).is_ok(), "{kind:?}: {v}");
            }
        }
        let yes = |score: f64| {
            (0..1000)
                .filter(|&s| ask(&ItemKind::YesNo, s, score) == json!("yes"))
                .count()
        };
        assert!(yes(1.0) > yes(0.0) + 200, "{} {}", yes(1.0), yes(0.0));
        let sums = &kinds[5];
        let last = |score: f64| {
            (0..500)
                .map(|s| ask(sums, s, score)["z"].as_u64().unwrap())
                .sum::<u64>()
        };
        assert!(last(2.0) > last(-2.0));
    }

    #[test]
    fn largest_remainder_always_sums_to_the_total() {
        for total in [1, 7, 100] {
            let p = largest_remainder(&[0.3, -1.0, 2.0, 0.3], total);
            assert_eq!(p.iter().sum::<u32>(), total);
        }
    }

    #[test]
    fn numeric_answers_stay_in_bounds_and_are_whole_when_asked() {
        let policy = policy_of(ItemKind::Numeric {
            min: 10.0,
            max: 20.0,
            integer: true,
        });
        for seed in 0..500 {
            let v = ask(&policy, seed, 3.0);
            let x = v.as_i64().unwrap();
            assert!((10..=20).contains(&x));
        }
    }
}
