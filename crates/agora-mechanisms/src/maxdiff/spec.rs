//! The MaxDiff study's scenario settings, validated while they are parsed.

use serde::Deserialize;

use crate::market::first_duplicate;

/// One item to be ranked.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxDiffItem {
    /// Short identifier used in tables.
    pub id: String,
    /// The item as shown to respondents.
    pub text: String,
    /// Rule-based policy: the item's planted utility.
    #[serde(default)]
    pub utility: f64,
    /// Rule-based policy: drivers moving the utility (see [`crate::drivers`]).
    #[serde(default)]
    pub drivers: Vec<(String, f64)>,
}

/// The `MaxDiff(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawMaxDiffSpec")]
pub struct MaxDiffSpec {
    /// What the items are about, as the question puts it.
    pub question: String,
    /// Fixed instructions at the top of every prompt.
    pub instructions: String,
    /// The items.
    pub items: Vec<MaxDiffItem>,
    /// Items shown per task.
    pub per_task: u32,
    /// Tasks per respondent (one per round).
    pub tasks: u32,
    /// Categorical attributes of the population to score separately by category.
    pub segments: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "MaxDiffSpec")]
struct RawMaxDiffSpec {
    #[serde(default = "default_question")]
    question: String,
    #[serde(default)]
    instructions: Option<String>,
    items: Vec<MaxDiffItem>,
    #[serde(default = "default_per_task")]
    per_task: u32,
    #[serde(default)]
    tasks: Option<u32>,
    #[serde(default)]
    segments: Vec<String>,
}

fn default_question() -> String {
    "Which of these matters most to you, and which matters least?".into()
}

fn default_per_task() -> u32 {
    4
}

impl TryFrom<RawMaxDiffSpec> for MaxDiffSpec {
    type Error = String;

    fn try_from(raw: RawMaxDiffSpec) -> Result<Self, String> {
        let n = raw.items.len();
        if !(3..=200).contains(&n) {
            return Err(format!(
                "MaxDiff needs 3 to 200 items, got {n}; list them as items: [(id: \"a\", text: \"...\"), ...]"
            ));
        }
        let ids: Vec<String> = raw.items.iter().map(|i| i.id.clone()).collect();
        if let Some(dup) = first_duplicate(&ids) {
            return Err(format!(
                "item id \"{dup}\" is used twice; give every item its own id"
            ));
        }
        let texts: Vec<String> = raw.items.iter().map(|i| i.text.to_lowercase()).collect();
        if let Some(dup) = first_duplicate(&texts) {
            return Err(format!(
                "item text \"{dup}\" is used twice; respondents pick items by their text, so make texts unique"
            ));
        }
        if let Some(item) = raw
            .items
            .iter()
            .find(|i| i.id.trim().is_empty() || i.text.trim().is_empty())
        {
            return Err(format!(
                "item \"{}\" has an empty id or text; give both",
                item.id
            ));
        }
        for item in &raw.items {
            if !item.utility.is_finite() {
                return Err(format!(
                    "item \"{}\": utility must be a finite number",
                    item.id
                ));
            }
            if let Some((name, w)) = item.drivers.iter().find(|(_, w)| !w.is_finite()) {
                return Err(format!(
                    "item \"{}\": driver \"{name}\" has weight {w}; use a finite number",
                    item.id
                ));
            }
        }
        if raw.per_task < 2 || raw.per_task as usize > n {
            return Err(format!(
                "per_task must be between 2 and the number of items ({n}), got {}; 4 or 5 is usual",
                raw.per_task
            ));
        }
        // By default every item is shown about three times to each respondent.
        let tasks = raw
            .tasks
            .unwrap_or_else(|| ((3 * n as u32).div_ceil(raw.per_task)).max(1));
        if !(1..=100).contains(&tasks) {
            return Err(format!("tasks must be between 1 and 100, got {tasks}"));
        }
        if let Some(dup) = first_duplicate(&raw.segments) {
            return Err(format!("segment \"{dup}\" is listed twice"));
        }
        Ok(MaxDiffSpec {
            instructions: raw.instructions.unwrap_or_else(|| {
                "You are taking part in a market research study. In each task you see a few \
                 items; pick the one that matters most and the one that matters least to the \
                 person described below. Reply with JSON only."
                    .into()
            }),
            question: raw.question,
            items: raw.items,
            per_task: raw.per_task,
            tasks,
            segments: raw.segments,
        })
    }
}

impl MaxDiffSpec {
    /// Every driver name the items refer to.
    pub fn driver_names(&self) -> impl Iterator<Item = &str> {
        self.items
            .iter()
            .flat_map(|i| i.drivers.iter().map(|(n, _)| n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MaxDiffSpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn defaults_show_every_item_about_three_times() {
        let spec = parse(
            r#"(items: [(id: "a", text: "A"), (id: "b", text: "B"), (id: "c", text: "C"),
                        (id: "d", text: "D"), (id: "e", text: "E")], per_task: 3)"#,
        )
        .unwrap();
        assert_eq!(spec.tasks, 5);
    }

    #[test]
    fn bad_studies_are_refused_with_a_fix() {
        for (text, needle) in [
            (
                r#"(items: [(id: "a", text: "A"), (id: "b", text: "B")])"#,
                "3 to 200 items",
            ),
            (
                r#"(items: [(id: "a", text: "A"), (id: "a", text: "B"), (id: "c", text: "C")])"#,
                "used twice",
            ),
            (
                r#"(items: [(id: "a", text: "A"), (id: "b", text: "B"), (id: "c", text: "C")], per_task: 4)"#,
                "per_task",
            ),
            (
                r#"(items: [(id: "a", text: "A"), (id: "b", text: "a"), (id: "c", text: "C")])"#,
                "text",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }
}
