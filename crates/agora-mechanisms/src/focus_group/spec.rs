//! The `FocusGroup(...)` scenario block, validated while it is parsed.

use agora_population::graph::GraphSpec;
use serde::Deserialize;

use crate::conversation::settings::{
    Dynamics, MemorySettings, OpinionScale, SpeakingOrder, StopSettings, check_max_chars,
};
use crate::conversation::setup::{
    Moderator, Question, Setup, Stimulus, Topic, check_common, first_duplicate,
};

/// The `FocusGroup(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawFocusGroupSpec")]
pub struct FocusGroupSpec(pub Setup);

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "FocusGroupSpec")]
struct RawFocusGroupSpec {
    product: Topic,
    questions: Script,
    #[serde(default)]
    stimuli: Vec<Stimulus>,
    #[serde(default)]
    moderator: Moderator,
    #[serde(default)]
    order: SpeakingOrder,
    #[serde(default)]
    speakers_per_round: Option<u32>,
    #[serde(default)]
    audience: GraphSpec,
    #[serde(default = "rating")]
    rating: OpinionScale,
    #[serde(default)]
    memory: MemorySettings,
    #[serde(default)]
    stop: StopSettings,
    #[serde(default)]
    rules: Dynamics,
    #[serde(default = "max_chars")]
    max_chars: u32,
    #[serde(default = "instructions")]
    instructions: String,
}

fn rating() -> OpinionScale {
    OpinionScale {
        low: "would certainly not buy".into(),
        high: "would certainly buy".into(),
        ..OpinionScale::default()
    }
}

fn max_chars() -> u32 {
    300
}

fn instructions() -> String {
    "You are a participant in a market-research focus group. Answer as the person \
     described below would, honestly, in character and in your own words. Reply with \
     JSON only."
        .to_string()
}

/// The moderator's questions: at least one, each with a unique id and a text.
#[derive(Deserialize)]
#[serde(try_from = "Vec<Question>")]
struct Script(Vec<Question>);

impl TryFrom<Vec<Question>> for Script {
    type Error = String;

    fn try_from(questions: Vec<Question>) -> Result<Self, String> {
        if questions.is_empty() {
            return Err("a focus group needs at least one question; add questions: [(id: \"first\", text: \"What is your first impression?\")]".into());
        }
        if let Some(dup) = first_duplicate(questions.iter().map(|q| q.id.as_str())) {
            return Err(format!(
                "question id \"{dup}\" is used twice; give every question a unique id"
            ));
        }
        if let Some(q) = questions
            .iter()
            .find(|q| q.id.trim().is_empty() || q.text.trim().is_empty())
        {
            return Err(format!(
                "question \"{}\" has an empty id or text; give each question an id and a text",
                q.id
            ));
        }
        Ok(Script(questions))
    }
}

impl TryFrom<RawFocusGroupSpec> for FocusGroupSpec {
    type Error = String;

    fn try_from(raw: RawFocusGroupSpec) -> Result<Self, String> {
        let rounds = u32::try_from(raw.questions.0.len()).unwrap_or(u32::MAX);
        check_common(rounds, raw.speakers_per_round)?;
        if let Some(dup) = first_duplicate(raw.stimuli.iter().map(|s| s.id.as_str())) {
            return Err(format!(
                "stimulus id \"{dup}\" is used twice; give every stimulus a unique id"
            ));
        }
        for s in &raw.stimuli {
            if s.round == 0 || s.round > rounds {
                return Err(format!(
                    "stimulus \"{}\" is shown in round {}, but the script has rounds 1 to {rounds} (one per question); pick a round in that range",
                    s.id, s.round
                ));
            }
            if !s.effect.is_finite() || s.drivers.iter().any(|(_, w)| !w.is_finite()) {
                return Err(format!(
                    "stimulus \"{}\": effect and driver weights must be finite numbers; use 0.1",
                    s.id
                ));
            }
        }
        Ok(FocusGroupSpec(Setup {
            kind: &super::KIND,
            topic: raw.product.0,
            sides: None,
            questions: raw.questions.0,
            stimuli: raw.stimuli,
            moderator: raw.moderator,
            rounds,
            order: raw.order,
            speakers_per_round: raw.speakers_per_round,
            audience: raw.audience,
            scale: raw.rating,
            memory: raw.memory,
            stop: raw.stop,
            rules: raw.rules,
            max_chars: check_max_chars(raw.max_chars)?,
            instructions: raw.instructions,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FocusGroupSpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn a_focus_group_parses_and_mistakes_are_refused() {
        let q = r#"questions: [(id: "a", text: "First impression?"), (id: "b", text: "Price?")]"#;
        let spec = parse(&format!(r#"(product: "FreshBox", {q}, stimuli: [(id: "ad", round: 2, title: "Ad", text: "Fresh food fast")])"#)).unwrap();
        assert_eq!(spec.0.rounds, 2);
        assert_eq!(spec.0.question(2).map(|q| q.id.as_str()), Some("b"));
        assert_eq!(spec.0.scale.high, "would certainly buy");
        for (text, needle) in [
            (
                format!(r#"(product: "", {q})"#),
                "motion or product is empty",
            ),
            (
                r#"(product: "x", questions: [])"#.to_string(),
                "at least one question",
            ),
            (
                r#"(product: "x", questions: [(id: "a", text: "t"), (id: "a", text: "u")])"#
                    .to_string(),
                "used twice",
            ),
            (
                format!(
                    r#"(product: "x", {q}, stimuli: [(id: "ad", round: 3, title: "t", text: "t")])"#
                ),
                "rounds 1 to 2",
            ),
            (
                format!(r#"(product: "x", {q}, rating: (min: 5.0, max: 5.0))"#),
                "min < max",
            ),
            (
                format!(
                    r#"(product: "x", {q}, stimuli: [(id: "ad", round: 1, title: "t", txt: "t")])"#
                ),
                "txt",
            ),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }
}
