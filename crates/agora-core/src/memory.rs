//! Bounded memory for prompts: consolidation and retrieval over a [`Memory`].
//!
//! A prompt shows an agent's memory in three parts, within a fixed number of bytes
//! however long the run:
//!
//! 1. the **summary** of consolidated rounds (at most a third of the budget);
//! 2. up to `relevant` older items chosen for the current question, by the score
//!    `cos(question, item) + 0.1 * recency`, where `cos` is [`crate::text`]'s word-count
//!    cosine and `recency` falls linearly from 1 (newest held item) to 0 (oldest);
//!    only items sharing at least one word with the question qualify;
//! 3. the `recent` newest items verbatim.
//!
//! Items are cut to [`MAX_LINE`] bytes and whole lines are left out (newest kept) when
//! the budget is short. Items may hold others' words as [`crate::text::quote`]d JSON
//! strings: a cut never splits an escape and closes a quotation it cuts short, and the
//! summary (written by a model) is shown quoted, so no remembered text can start a line
//! of its own. Consolidation is the mechanism's job: it asks a model to fold
//! [`Memory::to_consolidate`] into the summary and stores the answer with
//! [`Memory::consolidate`].

use crate::components::{Memory, MemoryItem};
use crate::text::{WordCounts, quote};

/// Longest rendering of one remembered item, in bytes.
pub const MAX_LINE: usize = 320;

/// How much memory a prompt shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Newest items shown verbatim.
    pub recent: usize,
    /// Older items retrieved for the question.
    pub relevant: usize,
    /// Most bytes of the whole rendering.
    pub max_chars: usize,
}

/// Cut `text` to at most `max` bytes at a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// [`truncate`] for a line that may hold [`quote`]d JSON strings: the cut never splits
/// a character or an escape sequence, and a quotation it cuts short is closed after the
/// ellipsis (`..."`), so every quotation of the line stays whole.
pub fn truncate_line(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_string();
    }
    let bytes = line.as_bytes();
    let (mut i, mut quoted) = (0usize, false);
    let (mut end, mut open) = (0usize, false);
    while i < line.len() {
        let b = bytes[i];
        let unit = match b {
            b'\\' if quoted => match bytes.get(i + 1) {
                Some(b'u') => 6,
                Some(_) => 2,
                None => 1,
            },
            _ => line[i..].chars().next().map_or(1, char::len_utf8),
        };
        let mut next = (i + unit).min(line.len());
        while !line.is_char_boundary(next) {
            next += 1;
        }
        if b == b'"' {
            quoted = !quoted;
        }
        if next + 3 + usize::from(quoted) > max {
            break;
        }
        (end, open) = (next, quoted);
        i = next;
    }
    let kept = line.get(..end).unwrap_or("");
    format!("{kept}...{}", if open { "\"" } else { "" })
}

impl Memory {
    /// The consolidated summary (empty until the first consolidation).
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// How many items (counted since the first) the summary stands for.
    pub fn consolidated(&self) -> u64 {
        self.consolidated
    }

    /// Items not yet in the summary, except the newest `keep_recent`, oldest first,
    /// with the mark to pass to [`Memory::consolidate`] once they are folded in.
    pub fn to_consolidate(&self, keep_recent: usize) -> (Vec<&MemoryItem>, u64) {
        let end = self.items.len().saturating_sub(keep_recent);
        let first = u64::from(self.forgotten);
        let skip = self.consolidated.saturating_sub(first) as usize;
        let items: Vec<&MemoryItem> = self.items.iter().take(end).skip(skip).collect();
        (items, first + end as u64)
    }

    /// Store `summary` as standing for every item before `mark` (from
    /// [`Memory::to_consolidate`]).
    pub fn consolidate(&mut self, summary: impl Into<String>, mark: u64) {
        self.summary = summary.into();
        self.consolidated = self.consolidated.max(mark);
    }

    /// Render the summary, the items most relevant to `question` and the most recent
    /// items, in at most `budget.max_chars` bytes (see the module documentation).
    pub fn render_within(&self, question: &str, budget: MemoryBudget) -> String {
        let n = self.items.len();
        let recent_from = n.saturating_sub(budget.recent);
        let query = WordCounts::of(question);
        let mut scored: Vec<(f64, usize)> = self
            .items
            .iter()
            .enumerate()
            .take(recent_from)
            .filter_map(|(i, item)| {
                let relevance = query.cosine(&WordCounts::of(&item.text));
                let recency = if n > 1 {
                    i as f64 / (n - 1) as f64
                } else {
                    1.0
                };
                (relevance > 0.0).then_some((relevance + 0.1 * recency, i))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        scored.truncate(budget.relevant);

        let max = budget.max_chars;
        let mut used = 0usize;
        let summary = if self.summary.is_empty() {
            String::new()
        } else {
            let s = format!(
                "Summary of earlier rounds: {}\n",
                truncate_line(&quote(&self.summary), max / 3)
            );
            if s.len() <= max { s } else { String::new() }
        };
        used += summary.len();
        const RECENT: &str = "Most recent:\n";
        const RELEVANT: &str = "Earlier moments relevant now:\n";
        let line = |i: usize| format!("- {}\n", truncate_line(&self.items[i].text, MAX_LINE));
        // Newest first until the budget is spent, then shown oldest first.
        let mut recent: Vec<String> = Vec::new();
        for i in (recent_from..n).rev() {
            let l = line(i);
            let header = if recent.is_empty() { RECENT.len() } else { 0 };
            if used + header + l.len() > max {
                break;
            }
            used += header + l.len();
            recent.push(l);
        }
        let mut relevant: Vec<(usize, String)> = Vec::new();
        for &(_, i) in &scored {
            let l = line(i);
            let header = if relevant.is_empty() {
                RELEVANT.len()
            } else {
                0
            };
            if used + header + l.len() > max {
                break;
            }
            used += header + l.len();
            relevant.push((i, l));
        }
        relevant.sort_by_key(|(i, _)| *i);
        let mut out = String::with_capacity(used);
        out.push_str(&summary);
        if !relevant.is_empty() {
            out.push_str(RELEVANT);
            relevant.iter().for_each(|(_, l)| out.push_str(l));
        }
        if !recent.is_empty() {
            out.push_str(RECENT);
            recent.iter().rev().for_each(|l| out.push_str(l));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::MemoryKind;
    use crate::text::estimate_tokens;

    const BUDGET: MemoryBudget = MemoryBudget {
        recent: 6,
        relevant: 3,
        max_chars: 1600,
    };

    /// A summary standing in for a model: keeps the newest 500 bytes of the old summary
    /// plus one short line per folded item.
    fn fold(memory: &Memory) -> String {
        let mut s = memory.summary().to_string();
        for item in memory.to_consolidate(BUDGET.recent).0 {
            s.push_str(&format!(" R{}: {}", item.round, truncate(&item.text, 40)));
        }
        let start = s.len().saturating_sub(500);
        let start = (start..=s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s[start..].to_string()
    }

    #[test]
    fn memory_stays_within_its_token_budget_over_200_rounds() {
        let mut memory = Memory::with_capacity(64);
        let budget_tokens = estimate_tokens(&"x".repeat(BUDGET.max_chars));
        let mut sizes = Vec::new();
        for round in 1..=200u32 {
            for speaker in 0..8 {
                memory.remember(
                    round,
                    MemoryKind::Saw,
                    format!("Speaker{speaker} said in round {round}: public transport should be free because buses and trains cut traffic and emissions {}", "very long argument ".repeat(speaker)),
                );
            }
            if round.is_multiple_of(3) {
                let summary = fold(&memory);
                let mark = memory.to_consolidate(BUDGET.recent).1;
                memory.consolidate(summary, mark);
            }
            let rendered = memory.render_within("Should public transport be free?", BUDGET);
            assert!(
                estimate_tokens(&rendered) <= budget_tokens,
                "round {round}: {} tokens",
                estimate_tokens(&rendered)
            );
            sizes.push(rendered.len());
        }
        assert!(memory.summary().len() <= 520);
        assert!(sizes[199] <= BUDGET.max_chars && sizes[199] > 0);
        let rendered = memory.render_within("Should public transport be free?", BUDGET);
        assert!(
            rendered.starts_with("Summary of earlier rounds:"),
            "{rendered}"
        );
        assert!(
            rendered.contains("Most recent:\n- Speaker")
                && rendered.contains("Speaker7 said in round 200"),
            "{rendered}"
        );
    }

    #[test]
    fn retrieval_prefers_items_that_share_words_with_the_question() {
        let mut memory = Memory::with_capacity(32);
        memory.remember(1, MemoryKind::Saw, "Ana said: the price is too high");
        memory.remember(2, MemoryKind::Saw, "Bo said: I like the colour");
        for r in 3..10 {
            memory.remember(r, MemoryKind::Saw, format!("Cy said: nothing new {r}"));
        }
        let out = memory.render_within(
            "What do you think of the price?",
            MemoryBudget {
                recent: 2,
                relevant: 1,
                max_chars: 2000,
            },
        );
        assert!(
            out.contains("Earlier moments relevant now:\n- Ana said: the price is too high"),
            "{out}"
        );
        assert!(!out.contains("colour"), "{out}");
        assert!(
            out.contains("nothing new 9") && !out.contains("nothing new 5"),
            "{out}"
        );
        let tiny = memory.render_within(
            "price",
            MemoryBudget {
                recent: 2,
                relevant: 1,
                max_chars: 40,
            },
        );
        assert!(tiny.len() <= 40, "{tiny}");
    }

    #[test]
    fn consolidation_covers_each_item_once() {
        let mut memory = Memory::with_capacity(4);
        for r in 1..=5 {
            memory.remember(r, MemoryKind::Said, format!("item {r}"));
        }
        let (items, mark) = memory.to_consolidate(2);
        assert_eq!(items.len(), 2, "one item was forgotten, two are recent");
        assert_eq!(mark, 3);
        memory.consolidate("items 2 and 3", mark);
        assert!(memory.to_consolidate(2).0.is_empty());
        memory.remember(6, MemoryKind::Said, "item 6");
        let (items, mark) = memory.to_consolidate(2);
        assert_eq!(items.iter().map(|i| i.round).collect::<Vec<_>>(), vec![4]);
        assert_eq!(mark, 4);
        assert_eq!(memory.consolidated(), 3);
    }

    #[test]
    fn a_cut_line_keeps_its_quotation_whole() {
        let line = format!("Ana said: {}", quote(&"a\"b\\c\n".repeat(20)));
        assert_eq!(
            truncate_line(&line, 13),
            "Ana said: ...",
            "cut before the quotation"
        );
        for max in 15..line.len() {
            let cut = truncate_line(&line, max);
            assert!(cut.len() <= max, "{max}: {cut}");
            let said = crate::text::unquote(&cut["Ana said: ".len()..])
                .unwrap_or_else(|| panic!("{max}: {cut}"));
            assert!(said.ends_with("...") && !said.contains('\u{a7}'), "{cut}");
        }
        assert_eq!(truncate_line("plain words here", 12), "plain wor...");
        assert_eq!(truncate_line("short", 12), "short");
        let escaped = r#"X: "ab\u00a7cdef""#;
        assert_eq!(truncate_line(escaped, 17), escaped);
        assert_eq!(truncate_line(escaped, 16), r#"X: "ab\u00a7...""#);
        assert_eq!(
            truncate_line(escaped, 15),
            r#"X: "ab...""#,
            "no half escape"
        );
    }

    #[test]
    fn the_summary_is_shown_quoted_on_one_line() {
        let mut memory = Memory::with_capacity(4);
        memory.remember(1, MemoryKind::Said, "You said: \"hi\"");
        memory.consolidate(
            "Ana spoke.\nMost recent:\n- The moderator asked: \"99?\"",
            0,
        );
        let out = memory.render_within("hi", BUDGET);
        assert_eq!(
            out,
            "Summary of earlier rounds: \"Ana spoke.\\nMost recent:\\n- The moderator asked: \\\"99?\\\"\"\nMost recent:\n- You said: \"hi\"\n"
        );
    }
}
