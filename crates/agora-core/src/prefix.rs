//! How much of a prompt a server with prefix caching could reuse: the longest prefix a
//! call's prompt shares with an earlier prompt of the same round of its run.
//!
//! Prompts are compared as byte strings (each message's role and content, in order),
//! and the shared bytes are turned into tokens with the gateway's estimate of four bytes
//! a token ([`crate::text::estimate_tokens`]). Calls are taken in the order the
//! scheduler records them (the step's order), so the figures are deterministic; the
//! index starts empty every round, so a resumed run computes the same figures as an
//! uninterrupted one.
//!
//! The longest prefix a string shares with any member of a set of strings is the one it
//! shares with its neighbour on either side in sorted order, so each call costs two
//! comparisons after an ordered-set lookup.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use agora_model::ChatMessage;

/// Most prompts of a round the index remembers; older ones are forgotten first, as a
/// server's cache would forget them.
pub const MAX_REMEMBERED: usize = 4096;

/// A prompt's estimated tokens and how many of them an earlier prompt shares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefixShare {
    /// Estimated prompt tokens (four bytes a token, rounded up).
    pub tokens: u32,
    /// Estimated tokens of the longest prefix shared with an earlier prompt (whole
    /// tokens: four shared bytes a token, rounded down).
    pub shared: u32,
}

/// The prompts seen so far in a round, for [`PrefixIndex::share`].
#[derive(Debug, Default)]
pub struct PrefixIndex {
    sorted: BTreeSet<Arc<[u8]>>,
    order: VecDeque<Arc<[u8]>>,
}

impl PrefixIndex {
    /// Forget every prompt (at the start of a round).
    pub fn clear(&mut self) {
        self.sorted.clear();
        self.order.clear();
    }

    /// The share of `messages` an earlier prompt holds; then remember `messages`.
    /// An empty prompt (a backend that reads none) counts nothing and is not kept.
    pub fn share(&mut self, messages: &[ChatMessage]) -> PrefixShare {
        if messages.is_empty() {
            return PrefixShare::default();
        }
        let prompt = flatten(messages);
        let longest = self.longest_shared(&prompt);
        let share = PrefixShare {
            tokens: to_u32(prompt.len().div_ceil(4)),
            shared: to_u32(longest / 4),
        };
        if self.sorted.insert(prompt.clone()) {
            self.order.push_back(prompt);
            if self.order.len() > MAX_REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.sorted.remove(&old);
            }
        }
        share
    }

    /// Bytes of the longest prefix `prompt` shares with a remembered prompt.
    fn longest_shared(&self, prompt: &Arc<[u8]>) -> usize {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let key: &[u8] = prompt;
        let below = self
            .sorted
            .range::<[u8], _>((Unbounded, Included(key)))
            .next_back();
        let above = self
            .sorted
            .range::<[u8], _>((Excluded(key), Unbounded))
            .next();
        [below, above]
            .into_iter()
            .flatten()
            .map(|other| common_prefix(key, other))
            .max()
            .unwrap_or(0)
    }
}

/// The bytes a prefix cache sees: each message's role and content, in order.
fn flatten(messages: &[ChatMessage]) -> Arc<[u8]> {
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.content.len() + 12).sum());
    for m in messages {
        out.extend_from_slice(format!("{:?}", m.role).as_bytes());
        out.push(b'\n');
        out.extend_from_slice(m.content.as_bytes());
        out.push(0);
    }
    out.into()
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(system: &str, user: &str) -> Vec<ChatMessage> {
        vec![ChatMessage::system(system), ChatMessage::user(user)]
    }

    /// The longest shared prefix by brute force over every earlier prompt.
    fn brute(earlier: &[Vec<u8>], p: &[u8]) -> usize {
        earlier
            .iter()
            .map(|e| common_prefix(e, p))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn the_first_prompt_shares_nothing_and_a_repeat_shares_everything() {
        let mut index = PrefixIndex::default();
        let a = prompt("You are in a debate.", "You are Agent0. Speak.");
        let first = index.share(&a);
        assert_eq!(first.shared, 0);
        assert!(first.tokens > 0);
        let again = index.share(&a);
        assert_eq!(again.tokens, first.tokens);
        assert_eq!(again.shared, flatten(&a).len() as u32 / 4);
        // Same system message, another agent: the system message and the card's
        // first words are shared, the rest is not.
        let b = index.share(&prompt("You are in a debate.", "You are Agent1. Speak."));
        let expected = flatten(&prompt("You are in a debate.", "You are Agent")).len() - 1;
        assert_eq!(b.shared, expected as u32 / 4);
        assert!(b.shared < b.tokens);
        // A different system message shares only the role name.
        let c = index.share(&prompt("Another task entirely.", "You are Agent0."));
        assert_eq!(c.shared, "System\n".len() as u32 / 4);
        index.clear();
        assert_eq!(index.share(&a).shared, 0, "a new round starts empty");
        assert_eq!(index.share(&[]), PrefixShare::default());
    }

    #[test]
    fn neighbours_in_sorted_order_give_the_longest_shared_prefix() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let words = ["a", "ab", "abc", "b", "ba", "bab", "x", ""];
        let mut index = PrefixIndex::default();
        let mut earlier: Vec<Vec<u8>> = Vec::new();
        for _ in 0..400 {
            let system = words[rng.random_range(0..words.len())];
            let user: String = (0..rng.random_range(0..6))
                .map(|_| words[rng.random_range(0..words.len())])
                .collect();
            let messages = prompt(system, &user);
            let flat = flatten(&messages);
            let share = index.share(&messages);
            assert_eq!(share.shared as usize, brute(&earlier, &flat) / 4);
            earlier.push(flat.to_vec());
        }
    }
}
