//! A conversation as the engine plays it: a debate or a focus group, with defaults
//! applied. The scenario blocks [`crate::debate::DebateSpec`] and
//! [`crate::focus_group::FocusGroupSpec`] turn into a [`Setup`].

use agora_population::graph::GraphSpec;

use super::settings::{Dynamics, MemorySettings, OpinionScale, SpeakingOrder, StopSettings};

/// What makes one kind of conversation what it is. Debates and focus groups each
/// define one (`debate::KIND`, `focus_group::KIND`); the conversation engine asks it
/// instead of naming the kinds, so a new kind is a module that defines its own.
pub struct Kind {
    /// Name in tables and the manifest.
    pub label: &'static str,
    /// Task name of a public message.
    pub speak_task: &'static str,
    /// Whether public answers are also recorded in `focus_group_answers`.
    pub answers_table: bool,
    /// Whether speakers are asked the round's scripted question.
    pub asks_questions: bool,
    /// The topic line of the system message.
    pub topic_line: fn(&str) -> String,
    /// The topic as mentioned in short (a product's name).
    pub short_topic: fn(&str) -> &str,
    /// The private question when the opinion scale names none.
    pub opinion_question: fn(&str) -> String,
    /// A rule-based participant's public words at `stance` (a share of the scale).
    pub rule_line: fn(&super::voice::Voice, f64) -> String,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label)
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label
    }
}

/// One question of a focus group's moderator script.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Short identifier used in tables.
    pub id: String,
    /// The question as the moderator asks it.
    pub text: String,
}

/// Material shown to a focus group from a given round on (a concept, an ad).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stimulus {
    /// Short identifier used in tables.
    pub id: String,
    /// The round in which the moderator shows it.
    pub round: u32,
    /// Its title.
    pub title: String,
    /// What participants are shown.
    pub text: String,
    /// Rule-based participants: shift of the private rating (share of the scale).
    #[serde(default)]
    pub effect: f64,
    /// Rule-based participants: drivers adding to the shift, per standard deviation.
    #[serde(default)]
    pub drivers: Vec<(String, f64)>,
}

/// Who asks a focus group's questions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub enum Moderator {
    /// The script's questions, word for word.
    #[default]
    Script,
    /// A model moderator: each round it asks the script's question in its own words,
    /// adapted to what the group said (a model call of its own, task
    /// `focus_group.moderator`); an invalid answer falls back to the script.
    Model,
}

/// Everything a conversation needs to be played.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// Debate or focus group.
    pub kind: &'static Kind,
    /// The motion of a debate, the product or concept of a focus group.
    pub topic: String,
    /// Two sides of a debate, assigned alternately by agent id; `None` for free positions.
    pub sides: Option<(String, String)>,
    /// The moderator's script (focus groups; one question per round).
    pub questions: Vec<Question>,
    /// Stimuli shown at given rounds (focus groups).
    pub stimuli: Vec<Stimulus>,
    /// Who asks the questions (focus groups).
    pub moderator: Moderator,
    /// Most rounds.
    pub rounds: u32,
    /// Speaking order per round.
    pub order: SpeakingOrder,
    /// Most speakers per round (everyone when `None`).
    pub speakers_per_round: Option<u32>,
    /// Who hears whom.
    pub audience: GraphSpec,
    /// The scale of private opinions and public stances.
    pub scale: OpinionScale,
    /// Memory shown in prompts and its consolidation.
    pub memory: MemorySettings,
    /// Early stopping.
    pub stop: StopSettings,
    /// Rule-based behaviour.
    pub rules: Dynamics,
    /// Most characters of one public message.
    pub max_chars: u32,
    /// Fixed instructions at the start of every prompt.
    pub instructions: String,
}

impl Setup {
    /// Every population trait or attribute the settings refer to.
    pub fn driver_names(&self) -> impl Iterator<Item = &str> {
        self.rules
            .drivers
            .iter()
            .chain(self.stimuli.iter().flat_map(|s| s.drivers.iter()))
            .map(|(n, _)| n.as_str())
    }

    /// The topic up to its first comma (a product's name), for short mentions.
    pub fn short_topic(&self) -> &str {
        (self.kind.short_topic)(&self.topic)
    }

    /// The question put in round `round` (focus groups), if any.
    pub fn question(&self, round: u32) -> Option<&Question> {
        self.questions.get((round as usize).checked_sub(1)?)
    }

    /// The private elicitation question.
    pub fn opinion_question(&self) -> String {
        if !self.scale.question.is_empty() {
            return self.scale.question.clone();
        }
        (self.kind.opinion_question)(&self.topic)
    }

    /// The side of agent `id` (0 or 1) in a two-sided debate.
    pub fn side_of(&self, id: u32) -> Option<(usize, &str)> {
        let (a, b) = self.sides.as_ref()?;
        Some(if id.is_multiple_of(2) {
            (0, a.as_str())
        } else {
            (1, b.as_str())
        })
    }
}

/// What a conversation is about (a motion, a product): text that is not blank.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Topic(pub String);

impl TryFrom<String> for Topic {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text.trim().is_empty() {
            Err("the motion or product is empty; say what the conversation is about, e.g. \"Public transport should be free\"".into())
        } else {
            Ok(Topic(text))
        }
    }
}

/// The two sides of a debate: named and different.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(try_from = "(String, String)")]
pub struct Sides(pub String, pub String);

impl TryFrom<(String, String)> for Sides {
    type Error = String;

    fn try_from((a, b): (String, String)) -> Result<Self, String> {
        if a.trim().is_empty() || b.trim().is_empty() || a == b {
            return Err(format!(
                "the two sides must be named and differ, got (\"{a}\", \"{b}\"); write sides: (\"for\", \"against\"), or leave sides out for free positions"
            ));
        }
        Ok(Sides(a, b))
    }
}

/// Checks shared by both scenario blocks: the common settings and early stopping.
pub fn check_common(rounds: u32, speakers_per_round: Option<u32>) -> Result<(), String> {
    if rounds == 0 || rounds > 10_000 {
        return Err(format!(
            "a conversation plays 1 to 10000 rounds, got {rounds}; 6 suits a short debate"
        ));
    }
    if speakers_per_round == Some(0) {
        return Err(
            "speakers_per_round must be at least 1; leave it out to let everyone speak".into(),
        );
    }
    Ok(())
}

/// The first value that appears twice in `values`.
pub fn first_duplicate<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::new();
    values.into_iter().find(|v| !seen.insert(*v))
}
