//! The survey's prompts: fixed instructions, then the persona card, then what changes.

use std::fmt::Write;

use super::spec::{Item, ItemKind};

/// Describe one item as put to the agent, with options in `order` (canonical indices).
pub fn render_item(item: &Item, order: Option<&[u16]>) -> String {
    let mut out = format!("Question \"{}\": {}\n", item.id, item.text);
    match &item.kind {
        ItemKind::Likert { points, labels } => {
            if labels.is_empty() {
                let _ = write!(
                    out,
                    "Answer with a whole number from 1 (lowest) to {points} (highest)."
                );
            } else {
                let scale: Vec<String> = labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("{} = {l}", i + 1))
                    .collect();
                let _ = write!(
                    out,
                    "Answer with a whole number from 1 to {points}: {}.",
                    scale.join(", ")
                );
            }
        }
        ItemKind::SingleChoice { options } => {
            out.push_str("Options:\n");
            let canonical: Vec<u16> = (0..options.len() as u16).collect();
            for (shown, &i) in order.unwrap_or(&canonical).iter().enumerate() {
                let _ = writeln!(out, "{}. {}", shown + 1, options[usize::from(i)]);
            }
            out.push_str("Answer with the text of exactly one option.");
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
