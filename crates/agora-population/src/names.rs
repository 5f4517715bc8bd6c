//! Unique, reproducible persona names from embedded first-name and surname lists.
//!
//! Every "First Last" combination is used once, in an order shuffled by the seed;
//! when a population outgrows the combinations, the next rounds reuse them with a
//! number appended ("Ana Silva 2"), so names stay unique at any size.

use std::collections::HashSet;
use std::fmt::Write as _;

use rand::Rng;
use rand::seq::SliceRandom;

static FIRST_NAMES: &str = include_str!("../../../assets/names/first_names.txt");
static LAST_NAMES: &str = include_str!("../../../assets/names/last_names.txt");

/// Non-empty, distinct, trimmed lines of a list, in file order.
fn entries(text: &'static str) -> Vec<&'static str> {
    let mut seen = HashSet::new();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && seen.insert(*l))
        .collect()
}

/// Hands out distinct names in a seeded order.
pub(crate) struct NameGenerator {
    first: Vec<&'static str>,
    last: Vec<&'static str>,
    order: Vec<u32>,
    next: usize,
}

impl NameGenerator {
    /// A generator whose order is drawn from `rng`.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let first = entries(FIRST_NAMES);
        let last = entries(LAST_NAMES);
        let combinations = (first.len() * last.len()).max(1);
        let mut order: Vec<u32> = (0..combinations as u32).collect();
        order.shuffle(rng);
        Self {
            first,
            last,
            order,
            next: 0,
        }
    }

    /// The `j`-th name of the sequence (all distinct); agent `j` of a sampled
    /// population gets it.
    pub fn name(&self, j: usize) -> String {
        let round = j / self.order.len();
        let combo = self.order[j % self.order.len()] as usize;
        let (f, l) = (
            combo / self.last.len().max(1),
            combo % self.last.len().max(1),
        );
        let first = self.first.get(f).copied().unwrap_or("Agent");
        let last = self.last.get(l).copied().unwrap_or("");
        let mut name = String::with_capacity(first.len() + last.len() + 8);
        name.push_str(first);
        if !last.is_empty() {
            name.push(' ');
            name.push_str(last);
        }
        if round > 0 || last.is_empty() {
            let _ = write!(name, " {}", round + 1);
        }
        name
    }

    /// The next name not in `taken` (names given by an import file).
    pub fn next_name(&mut self, taken: &HashSet<String>) -> String {
        loop {
            let name = self.name(self.next);
            self.next += 1;
            if !taken.contains(&name) {
                return name;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lists_are_large_and_free_of_digits_and_spaces() {
        let (first, last) = (entries(FIRST_NAMES), entries(LAST_NAMES));
        assert!(
            first.len() >= 100 && last.len() >= 60,
            "{} {}",
            first.len(),
            last.len()
        );
        for n in first.iter().chain(&last) {
            assert!(
                !n.contains(char::is_whitespace) && !n.contains(|c: char| c.is_ascii_digit()),
                "{n}"
            );
        }
    }

    #[test]
    fn names_are_unique_beyond_the_number_of_combinations() {
        let mut g = NameGenerator::new(&mut rand_pcg::Pcg64Mcg::seed_from_u64(3));
        let combos = g.order.len();
        let none = HashSet::new();
        let names: Vec<String> = (0..combos + 500).map(|_| g.next_name(&none)).collect();
        let distinct: HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        assert!(!names[0].ends_with(char::is_numeric));
        assert!(names[combos].ends_with(" 2"));
    }

    #[test]
    fn taken_names_are_skipped() {
        let mut a = NameGenerator::new(&mut rand_pcg::Pcg64Mcg::seed_from_u64(3));
        let mut b = NameGenerator::new(&mut rand_pcg::Pcg64Mcg::seed_from_u64(3));
        let first = a.next_name(&HashSet::new());
        let taken: HashSet<String> = [first.clone()].into();
        assert_ne!(b.next_name(&taken), first);
    }
}
