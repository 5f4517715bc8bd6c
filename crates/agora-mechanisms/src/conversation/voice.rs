//! The words of rule-based speakers: deterministic templates, shared by debates and
//! focus groups, so their messages can be measured (echo, persona drift) like a
//! model's.

/// What a rule-based speaker's template is filled from.
#[derive(Clone, Debug, PartialEq)]
pub struct Voice {
    /// The motion or product.
    pub topic: String,
    /// The question being answered (focus groups).
    pub question: Option<String>,
    /// The speaker's side (two-sided debates).
    pub side: Option<String>,
    /// A few facts of the speaker's persona card ("age 34, region north").
    pub persona: String,
    /// The previous speaker this one heard, with the stance (share) it took.
    pub previous: Option<(String, f64)>,
}

/// How strongly a stance (share of the scale) leans, in words.
pub fn lean(stance: f64) -> &'static str {
    match stance {
        s if s < 0.15 => "I strongly oppose",
        s if s < 0.35 => "I oppose",
        s if s < 0.45 => "I lean against",
        s if s <= 0.55 => "I am undecided on",
        s if s < 0.65 => "I lean towards",
        s if s < 0.85 => "I support",
        _ => "I strongly support",
    }
}

/// A sentiment (share of the rating scale) in words.
pub fn sentiment(stance: f64) -> &'static str {
    match stance {
        s if s < 0.2 => "very negative",
        s if s < 0.4 => "negative",
        s if s <= 0.6 => "mixed",
        s if s < 0.8 => "positive",
        _ => "very positive",
    }
}

/// "Speaking as someone with ..., ..." from the speaker's persona facts.
pub fn persona_clause(persona: &str) -> String {
    if persona.is_empty() {
        String::new()
    } else {
        format!("Speaking as someone with {persona}, this is how I see it.")
    }
}

/// Agreement or disagreement with the previous speaker, by stance distance.
pub fn reply_clause(voice: &Voice, stance: f64) -> String {
    match &voice.previous {
        Some((name, theirs)) if (theirs - stance).abs() <= 0.15 => {
            format!(" I agree with {name}.")
        }
        Some((name, _)) => format!(" I see it differently from {name}."),
        None => String::new(),
    }
}
