//! The survey's scenario settings, validated while they are parsed.

use serde::Deserialize;

/// How items are put to agents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum SurveyMode {
    /// One item per round, in order; each prompt shows the agent's earlier answers.
    #[default]
    OnePerRound,
    /// Every item in one prompt, in one round.
    AllAtOnce,
}

/// What kind of answer an item takes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawItemKind")]
pub enum ItemKind {
    /// A rating from 1 to `points` (5 or 7, ...), optionally with a label per point.
    Likert {
        /// Number of scale points (2..=11).
        points: u8,
        /// One label per point, lowest first; empty for unlabelled scales.
        labels: Vec<String>,
    },
    /// Exactly one of the listed options.
    SingleChoice {
        /// Option labels, in canonical order.
        options: Vec<String>,
    },
    /// A number within bounds.
    Numeric {
        /// Smallest allowed answer.
        min: f64,
        /// Largest allowed answer.
        max: f64,
        /// Whether only whole numbers are valid.
        integer: bool,
    },
    /// Free text of bounded length.
    FreeText {
        /// Most characters allowed.
        max_chars: u32,
    },
}

impl ItemKind {
    /// Short name used in tables.
    pub fn label(&self) -> &'static str {
        match self {
            ItemKind::Likert { .. } => "likert",
            ItemKind::SingleChoice { .. } => "single_choice",
            ItemKind::Numeric { .. } => "numeric",
            ItemKind::FreeText { .. } => "free_text",
        }
    }
}

#[derive(Deserialize)]
enum RawItemKind {
    Likert {
        points: u8,
        #[serde(default)]
        labels: Vec<String>,
    },
    SingleChoice {
        options: Vec<String>,
    },
    Numeric {
        min: f64,
        max: f64,
        #[serde(default)]
        integer: bool,
    },
    FreeText {
        #[serde(default = "default_max_chars")]
        max_chars: u32,
    },
}

fn default_max_chars() -> u32 {
    280
}

impl TryFrom<RawItemKind> for ItemKind {
    type Error = String;

    fn try_from(raw: RawItemKind) -> Result<Self, String> {
        match raw {
            RawItemKind::Likert { points, labels } => {
                if !(2..=11).contains(&points) {
                    return Err(format!(
                        "a Likert scale needs 2 to 11 points, got {points}; use 5 or 7"
                    ));
                }
                if !labels.is_empty() && labels.len() != usize::from(points) {
                    return Err(format!(
                        "a {points}-point Likert scale needs {points} labels, got {}; give one label per point or none",
                        labels.len()
                    ));
                }
                Ok(ItemKind::Likert { points, labels })
            }
            RawItemKind::SingleChoice { options } => {
                if options.len() < 2 {
                    return Err(format!(
                        "a single-choice item needs at least 2 options, got {}; list the options as [\"A\", \"B\"]",
                        options.len()
                    ));
                }
                if let Some(dup) = first_duplicate(&options) {
                    return Err(format!(
                        "option \"{dup}\" is listed twice; make every option label unique"
                    ));
                }
                if options.len() > usize::from(u16::MAX) {
                    return Err("too many options; keep a choice under 65,535 options".into());
                }
                Ok(ItemKind::SingleChoice { options })
            }
            RawItemKind::Numeric { min, max, integer } => {
                if !(min.is_finite() && max.is_finite()) || min >= max {
                    return Err(format!(
                        "numeric bounds must be finite with min < max, got min {min}, max {max}; for example min: 0.0, max: 100.0"
                    ));
                }
                Ok(ItemKind::Numeric { min, max, integer })
            }
            RawItemKind::FreeText { max_chars } => {
                if max_chars == 0 || max_chars > 10_000 {
                    return Err(format!(
                        "max_chars must be between 1 and 10000, got {max_chars}; 280 suits a short comment"
                    ));
                }
                Ok(ItemKind::FreeText { max_chars })
            }
        }
    }
}

/// One question of the questionnaire.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Short identifier used in tables (`q1`, `price_ok`, ...).
    pub id: String,
    /// The question as put to the agent.
    pub text: String,
    /// The kind of answer.
    pub kind: ItemKind,
    /// Rule-based policy: drivers and their weights (see [`crate::drivers`]).
    #[serde(default)]
    pub drivers: Vec<(String, f64)>,
    /// Rule-based policy: shift of the latent score before drivers (0 = centred).
    #[serde(default)]
    pub intercept: f64,
}

/// The `Survey(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawSurveySpec")]
pub struct SurveySpec {
    /// One item per round or all at once.
    pub mode: SurveyMode,
    /// Whether choice options are shuffled per agent.
    pub shuffle_options: bool,
    /// Fixed instructions at the start of every prompt.
    pub instructions: String,
    /// Characters of earlier answers shown in each prompt (one-per-round mode).
    pub memory_chars: u32,
    /// The questionnaire.
    pub items: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSurveySpec {
    #[serde(default)]
    mode: SurveyMode,
    #[serde(default = "yes")]
    shuffle_options: bool,
    #[serde(default = "default_instructions")]
    instructions: String,
    #[serde(default = "default_memory_chars")]
    memory_chars: u32,
    items: Vec<Item>,
}

fn yes() -> bool {
    true
}

fn default_memory_chars() -> u32 {
    1200
}

fn default_instructions() -> String {
    "You are taking part in a survey. Answer every question as the person described \
     below would, honestly and in character. Reply with JSON only."
        .to_string()
}

impl TryFrom<RawSurveySpec> for SurveySpec {
    type Error = String;

    fn try_from(raw: RawSurveySpec) -> Result<Self, String> {
        if raw.items.is_empty() {
            return Err("a survey needs at least one item; add items: [(id: \"q1\", text: \"...\", kind: Likert(points: 5))]".into());
        }
        if raw.items.len() > usize::from(u16::MAX) {
            return Err("too many items; keep a survey under 65,535 items".into());
        }
        let ids: Vec<String> = raw.items.iter().map(|i| i.id.clone()).collect();
        if let Some(dup) = first_duplicate(&ids) {
            return Err(format!(
                "item id \"{dup}\" is used twice; give every item a unique id"
            ));
        }
        if let Some(item) = raw.items.iter().find(|i| i.id.trim().is_empty()) {
            return Err(format!(
                "an item has an empty id (text \"{}\"); give it an id such as \"q1\"",
                item.text
            ));
        }
        for item in &raw.items {
            if let Some((name, w)) = item.drivers.iter().find(|(_, w)| !w.is_finite()) {
                return Err(format!(
                    "item \"{}\": driver \"{name}\" has weight {w}; use a finite number",
                    item.id
                ));
            }
        }
        Ok(SurveySpec {
            mode: raw.mode,
            shuffle_options: raw.shuffle_options,
            instructions: raw.instructions,
            memory_chars: raw.memory_chars,
            items: raw.items,
        })
    }
}

impl SurveySpec {
    /// Rounds the survey plays: one per item, or one for all items at once.
    pub fn rounds(&self) -> u32 {
        match self.mode {
            SurveyMode::OnePerRound => self.items.len() as u32,
            SurveyMode::AllAtOnce => 1,
        }
    }

    /// Every driver name the items refer to.
    pub fn driver_names(&self) -> impl Iterator<Item = &str> {
        self.items
            .iter()
            .flat_map(|i| i.drivers.iter().map(|(n, _)| n.as_str()))
    }
}

fn first_duplicate(values: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .find(|v| !seen.insert(v.as_str()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SurveySpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn a_complete_survey_parses() {
        let spec = parse(
            r#"(mode: AllAtOnce, items: [
                (id: "q1", text: "Q?", kind: Likert(points: 5), drivers: [("openness", 0.5)]),
                (id: "q2", text: "Brand?", kind: SingleChoice(options: ["A", "B"])),
                (id: "q3", text: "Price?", kind: Numeric(min: 0.0, max: 10.0, integer: true)),
                (id: "q4", text: "Why?", kind: FreeText()),
            ])"#,
        )
        .unwrap();
        assert_eq!(spec.rounds(), 1);
        assert!(spec.shuffle_options);
        assert_eq!(spec.items[3].kind, ItemKind::FreeText { max_chars: 280 });
    }

    #[test]
    fn bad_items_are_rejected_with_a_fix_and_a_position() {
        for (text, needle) in [
            (
                r#"(items: [(id: "q", text: "t", kind: Likert(points: 1))])"#,
                "2 to 11 points",
            ),
            (
                r#"(items: [(id: "q", text: "t", kind: SingleChoice(options: ["A"]))])"#,
                "at least 2 options",
            ),
            (
                r#"(items: [(id: "q", text: "t", kind: SingleChoice(options: ["A", "A"]))])"#,
                "listed twice",
            ),
            (
                r#"(items: [(id: "q", text: "t", kind: Numeric(min: 5.0, max: 1.0))])"#,
                "min < max",
            ),
            (r#"(items: [])"#, "at least one item"),
            (
                r#"(items: [(id: "q", text: "t", kind: FreeText()), (id: "q", text: "u", kind: FreeText())])"#,
                "used twice",
            ),
            (
                r#"(items: [(id: "q", text: "t", kind: FreeText(), wieght: 1)])"#,
                "wieght",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
            assert!(err.span.start.line >= 1);
        }
    }
}
