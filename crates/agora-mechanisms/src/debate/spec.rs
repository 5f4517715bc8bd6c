//! The `Debate(...)` scenario block, validated while it is parsed.

use agora_population::graph::GraphSpec;
use serde::Deserialize;

use crate::conversation::settings::{
    Dynamics, MemorySettings, OpinionScale, SpeakingOrder, StopSettings, check_max_chars,
};
use crate::conversation::setup::{Moderator, Setup, Sides, Topic, check_common};

/// The `Debate(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawDebateSpec")]
pub struct DebateSpec(pub Setup);

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "DebateSpec")]
struct RawDebateSpec {
    motion: Topic,
    #[serde(default)]
    sides: Option<Sides>,
    #[serde(default = "rounds")]
    rounds: u32,
    #[serde(default)]
    order: SpeakingOrder,
    #[serde(default)]
    speakers_per_round: Option<u32>,
    #[serde(default)]
    audience: GraphSpec,
    #[serde(default)]
    scale: OpinionScale,
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

fn rounds() -> u32 {
    5
}

fn max_chars() -> u32 {
    400
}

fn instructions() -> String {
    "You are taking part in a debate. Speak and think as the person described below \
     would, in character, in your own voice. Reply with JSON only."
        .to_string()
}

impl TryFrom<RawDebateSpec> for DebateSpec {
    type Error = String;

    fn try_from(raw: RawDebateSpec) -> Result<Self, String> {
        check_common(raw.rounds, raw.speakers_per_round)?;
        Ok(DebateSpec(Setup {
            kind: &super::KIND,
            topic: raw.motion.0,
            sides: raw.sides.map(|Sides(a, b)| (a, b)),
            questions: Vec::new(),
            stimuli: Vec::new(),
            moderator: Moderator::Script,
            rounds: raw.rounds,
            order: raw.order,
            speakers_per_round: raw.speakers_per_round,
            audience: raw.audience,
            scale: raw.scale,
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

    fn parse(text: &str) -> Result<DebateSpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn a_debate_parses_with_defaults_and_mistakes_are_refused() {
        let spec = parse(r#"(motion: "Trains should be free", sides: ("for", "against"), audience: SmallWorld(neighbours: 4, rewire: 0.2))"#).unwrap();
        assert_eq!(spec.0.rounds, 5);
        assert_eq!(spec.0.side_of(3), Some((1, "against")));
        for (text, needle) in [
            (r#"(motion: " ")"#, "motion or product is empty"),
            (
                r#"(motion: "m", sides: ("for", "for"))"#,
                "must be named and differ",
            ),
            (r#"(motion: "m", rounds: 0)"#, "1 to 10000 rounds"),
            (r#"(motion: "m", max_chars: 5)"#, "max_chars"),
            (r#"(motion: "m", order: Loudest)"#, "Loudest"),
            (
                r#"(motion: "m", audience: SmallWorld(neighbours: 3))"#,
                "even number",
            ),
            (r#"(motion: "m", moton: "x")"#, "moton"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }
}
