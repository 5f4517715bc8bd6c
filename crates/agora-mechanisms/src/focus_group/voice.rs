//! What a rule-based participant answers: a fixed template filled from its sentiment.

use crate::conversation::voice::{Voice, persona_clause, reply_clause, sentiment};

/// The rule-based answer of a participant whose public sentiment is the share
/// `stance` of the rating scale.
pub fn focus_group_line(voice: &Voice, stance: f64) -> String {
    let question = voice.question.as_deref().unwrap_or("the product");
    format!(
        "On \"{question}\": my impression of {} is {}. {}{}",
        voice.topic,
        sentiment(stance),
        persona_clause(&voice.persona),
        reply_clause(voice, stance)
    )
}
