//! What a rule-based debater says: a fixed template filled from its stance.

use crate::conversation::voice::{Voice, lean, persona_clause, reply_clause};

/// The rule-based message of a debater whose public stance is the share `stance` of
/// the scale: its lean on the motion, its side, its persona and a reply to the
/// previous speaker.
pub fn debate_line(voice: &Voice, stance: f64) -> String {
    let side = voice
        .side
        .as_deref()
        .map(|s| format!(" Our side is \"{s}\"."))
        .unwrap_or_default();
    format!(
        "{} the motion \"{}\".{side} {}{}",
        lean(stance),
        voice.topic,
        persona_clause(&voice.persona),
        reply_clause(voice, stance)
    )
}
