//! JSON Schemas of conversation answers, and the rules that check an answer.

use serde_json::{Value, json};

use super::settings::OpinionScale;

/// Most characters of private reasoning.
pub const MAX_REASONING_CHARS: u32 = 300;

/// A public message: private reasoning first, then the message and its stance.
pub fn message_schema(max_chars: u32, scale: &OpinionScale) -> Value {
    json!({
        "type": "object",
        "properties": {
            "reasoning": { "type": "string", "maxLength": MAX_REASONING_CHARS },
            "message": { "type": "string", "minLength": 1, "maxLength": max_chars },
            "stance": { "type": "number", "minimum": scale.min, "maximum": scale.max },
        },
        "required": ["reasoning", "message", "stance"],
        "additionalProperties": false,
    })
}

/// A private opinion: reasoning, a point on the scale and a confidence in 0..1.
pub fn opinion_schema(scale: &OpinionScale) -> Value {
    json!({
        "type": "object",
        "properties": {
            "reasoning": { "type": "string", "maxLength": MAX_REASONING_CHARS },
            "stance": { "type": "number", "minimum": scale.min, "maximum": scale.max },
            "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
        },
        "required": ["reasoning", "stance", "confidence"],
        "additionalProperties": false,
    })
}

/// A memory summary of at most `max_chars` characters.
pub fn summary_schema(max_chars: u32) -> Value {
    json!({
        "type": "object",
        "properties": { "summary": { "type": "string", "maxLength": max_chars } },
        "required": ["summary"],
        "additionalProperties": false,
    })
}

/// Most characters of a model moderator's question.
pub const MAX_QUESTION_CHARS: u32 = 300;

/// A model moderator's question.
pub fn question_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "question": { "type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS },
        },
        "required": ["question"],
        "additionalProperties": false,
    })
}

/// Check a model moderator's question: not blank, within its length.
pub fn check_question(answer: &Value) -> Result<String, String> {
    let text = string(answer, "question")?.trim().to_string();
    let chars = text.chars().count();
    if text.is_empty() {
        return Err("the question is empty".into());
    }
    if chars > MAX_QUESTION_CHARS as usize {
        return Err(format!(
            "the question has {chars} characters, more than {MAX_QUESTION_CHARS}"
        ));
    }
    Ok(text)
}

/// A checked public message.
#[derive(Clone, Debug, PartialEq)]
pub struct Said {
    /// What was said.
    pub text: String,
    /// The stance it takes, on the scale.
    pub stance: f64,
    /// The speaker's private reasoning (never shown to others).
    pub reasoning: String,
}

/// A checked private opinion.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    /// The opinion, on the scale.
    pub stance: f64,
    /// Confidence in 0..1.
    pub confidence: f64,
    /// Private reasoning.
    pub reasoning: String,
}

fn string(answer: &Value, key: &str) -> Result<String, String> {
    answer
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("the answer has no text \"{key}\""))
}

fn on_scale(answer: &Value, scale: &OpinionScale) -> Result<f64, String> {
    let x = answer
        .get("stance")
        .and_then(Value::as_f64)
        .ok_or_else(|| "the answer has no number \"stance\"".to_string())?;
    if scale.contains(x) {
        Ok(x)
    } else {
        Err(format!(
            "stance {x} is outside the scale {}..{}",
            scale.min, scale.max
        ))
    }
}

fn reasoning(answer: &Value) -> String {
    let r = answer
        .get("reasoning")
        .and_then(Value::as_str)
        .unwrap_or("");
    r.chars().take(MAX_REASONING_CHARS as usize).collect()
}

/// Check a public message against its limits.
pub fn check_message(answer: &Value, max_chars: u32, scale: &OpinionScale) -> Result<Said, String> {
    let text = string(answer, "message")?.trim().to_string();
    if text.is_empty() {
        return Err("the message is empty".into());
    }
    let chars = text.chars().count();
    if chars > max_chars as usize {
        return Err(format!(
            "the message has {chars} characters, more than {max_chars}"
        ));
    }
    Ok(Said {
        text,
        stance: on_scale(answer, scale)?,
        reasoning: reasoning(answer),
    })
}

/// Check a private opinion.
pub fn check_opinion(answer: &Value, scale: &OpinionScale) -> Result<Held, String> {
    let confidence = answer
        .get("confidence")
        .and_then(Value::as_f64)
        .ok_or_else(|| "the answer has no number \"confidence\"".to_string())?;
    if !(0.0..=1.0).contains(&confidence) {
        return Err(format!("confidence {confidence} is outside 0..1"));
    }
    Ok(Held {
        stance: on_scale(answer, scale)?,
        confidence,
        reasoning: reasoning(answer),
    })
}

/// Check a memory summary.
pub fn check_summary(answer: &Value, max_chars: u32) -> Result<String, String> {
    let text = string(answer, "summary")?;
    let chars = text.chars().count();
    if chars > max_chars as usize {
        return Err(format!(
            "the summary has {chars} characters, more than {max_chars}"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_are_checked_against_scale_and_limits() {
        let scale = OpinionScale::default();
        let ok = check_message(
            &json!({"message": " Hi ", "stance": 3, "reasoning": "r"}),
            10,
            &scale,
        )
        .unwrap();
        assert_eq!((ok.text.as_str(), ok.stance), ("Hi", 3.0));
        assert!(check_message(&json!({"message": "", "stance": 3}), 10, &scale).is_err());
        assert!(
            check_message(&json!({"message": "x", "stance": 9}), 10, &scale)
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            check_message(&json!({"message": "elevenchars", "stance": 1}), 10, &scale).is_err()
        );
        assert!(check_opinion(&json!({"stance": 2, "confidence": 1.5}), &scale).is_err());
        assert_eq!(
            check_opinion(&json!({"stance": 2, "confidence": 0.5}), &scale)
                .unwrap()
                .stance,
            2.0
        );
        assert!(check_summary(&json!({"summary": "abc"}), 2).is_err());
        assert_eq!(
            check_question(&json!({"question": " Why? "})).unwrap(),
            "Why?"
        );
        assert!(check_question(&json!({"question": "  "})).is_err());
    }

    proptest! {
        #[test]
        fn checking_never_panics(s in ".*", x in proptest::num::f64::ANY) {
            let scale = OpinionScale::default();
            let _ = check_message(&json!({"message": s, "stance": x}), 50, &scale);
            let _ = check_opinion(&json!({"stance": x, "confidence": x}), &scale);
        }
    }
}
