//! The survey's prompts: fixed instructions, then the persona card, then what changes.

use std::fmt::Write;

use super::spec::{ItemKind, OTHER};

/// Describe one question as put to the agent: `id` is its answer key, `text` its
/// (filled-in) question, and `order` the shown order of its options or statements
/// (canonical indices).
pub fn render_item(id: &str, text: &str, kind: &ItemKind, order: Option<&[u16]>) -> String {
    let mut out = format!("Question \"{id}\": {text}\n");
    let scale_text = |points: &u8, labels: &[String]| {
        if labels.is_empty() {
            format!("from 1 (lowest) to {points} (highest)")
        } else {
            let scale: Vec<String> = labels
                .iter()
                .enumerate()
                .map(|(i, l)| format!("{} = {l}", i + 1))
                .collect();
            format!("from 1 to {points}: {}", scale.join(", "))
        }
    };
    let list = |out: &mut String, kind: &ItemKind| {
        if let Some(options) = kind.shuffled() {
            let canonical: Vec<u16> = (0..options.len() as u16).collect();
            for (shown, &i) in order.unwrap_or(&canonical).iter().enumerate() {
                let _ = writeln!(out, "{}. {}", shown + 1, options[usize::from(i)]);
            }
            if kind.has_other() {
                let _ = writeln!(out, "{}. {OTHER} (say what)", options.len() + 1);
            }
        }
    };
    match kind {
        ItemKind::Likert { points, labels } => {
            let _ = write!(
                out,
                "Answer with a whole number {}.",
                scale_text(points, labels)
            );
        }
        ItemKind::SingleChoice { other, .. } | ItemKind::Dropdown { other, .. } => {
            out.push_str("Options:\n");
            list(&mut out, kind);
            out.push_str(if *other {
                "Answer with {\"choice\": the text of exactly one option, \"other\": what you mean if you chose Other, else \"\"}."
            } else {
                "Answer with the text of exactly one option."
            });
        }
        ItemKind::Numeric { min, max, integer } => {
            let what = if *integer {
                "a whole number"
            } else {
                "a number"
            };
            let _ = write!(out, "Answer with {what} between {min} and {max}.");
        }
        ItemKind::FreeText { max_chars } => {
            let _ = write!(
                out,
                "Answer in your own words, in at most {max_chars} characters."
            );
        }
        ItemKind::MultiSelect {
            min, max, other, ..
        } => {
            out.push_str("Options:\n");
            list(&mut out, kind);
            let how = format!("a list of the texts of between {min} and {max} different options");
            if *other {
                let _ = write!(
                    out,
                    "Answer with {{\"choices\": {how}, \"other\": what you mean if you chose Other, else \"\"}}."
                );
            } else {
                let _ = write!(out, "Answer with {how}.");
            }
        }
        ItemKind::Ranking { options, top } => {
            out.push_str("Options:\n");
            list(&mut out, kind);
            if usize::from(*top) == options.len() {
                out.push_str("Answer with a list of all the option texts, most preferred first.");
            } else {
                let _ = write!(
                    out,
                    "Answer with a list of the texts of your top {top} options, most preferred first."
                );
            }
        }
        ItemKind::Matrix { points, labels, .. } => {
            out.push_str("Statements:\n");
            list(&mut out, kind);
            let _ = write!(
                out,
                "Answer with an object giving each statement's exact text a whole number {}.",
                scale_text(points, labels)
            );
        }
        ItemKind::ConstantSum { total, .. } => {
            out.push_str("Options:\n");
            list(&mut out, kind);
            let _ = write!(
                out,
                "Spread exactly {total} points over the options: answer with an object giving each option's exact text a whole number of points, the points summing to {total}."
            );
        }
        ItemKind::YesNo => out.push_str("Answer with \"yes\" or \"no\"."),
    }
    out
}

/// The user message: persona card, earlier answers, then the questions.
pub fn user_message(card: &str, memory: &str, questions: &[String], single: bool) -> String {
    let mut out = String::with_capacity(card.len() + memory.len() + 256);
    out.push_str(card);
    if !memory.is_empty() {
        out.push_str("\n\nYour earlier answers in this survey:\n");
        out.push_str(memory);
    }
    out.push_str("\n\n");
    out.push_str(&questions.join("\n\n"));
    if single {
        out.push_str("\n\nReply with a JSON object of the form {\"answer\": ...}.");
    } else {
        out.push_str(
            "\n\nReply with one JSON object whose keys are the question ids in quotes above.",
        );
    }
    out
}
