//! The auction's prompts: fixed instructions and the format's rules, then the persona
//! card, then what changes (budget, earlier lots, the lot for sale, the clock).
//!
//! What a bidder sees is what its format lets it know: in sealed formats nothing of the
//! current lot's other bids; on an English clock who dropped out and at what price; on a
//! Dutch clock only the price (an acceptance ends the lot).

use std::fmt::Write;

use super::rules::{Choice, Outcome};
use super::spec::{Format, Lot};

/// A money amount for people: cents rounded, thousands separated, no `.00`.
pub fn money(x: f64) -> String {
    let cents = (x.abs() * 100.0).round();
    if !(cents.is_finite() && cents < 1e17) {
        return format!("{x:.2}");
    }
    let cents = cents as u64;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + 8);
    if x < 0.0 && cents > 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if frac > 0 {
        let _ = write!(out, ".{frac:02}");
    }
    out
}

/// The format's rules, as put at the top of every prompt after the instructions.
pub fn rules_text(format: Format) -> &'static str {
    match format {
        Format::FirstPrice => {
            "How this auction works: lots are sold one after another. For each lot every \
             bidder submits one sealed bid at the same time; nobody sees the other bids. \
             The highest bid wins and the winner pays its own bid. A bid must be at least \
             the lot's reserve price and at most your remaining budget; you may also not \
             bid. Ties are broken at random."
        }
        Format::SecondPrice => {
            "How this auction works: lots are sold one after another. For each lot every \
             bidder submits one sealed bid at the same time; nobody sees the other bids. \
             The highest bid wins and the winner pays the second-highest bid, or the \
             reserve price if no one else bid. A bid must be at least the lot's reserve \
             price and at most your remaining budget; you may also not bid. Ties are \
             broken at random."
        }
        Format::English => {
            "How this auction works: lots are sold one after another on a rising price \
             clock. The price starts at the opening price and rises by a fixed step. At \
             every step each bidder still in says whether it stays in at the current \
             price; dropping out is final. When only one bidder stays in, it wins and pays \
             the current price. If everyone still in drops out at the same step, one of \
             them is drawn at random and wins at the previous price. Staying in commits \
             you to pay the current price if you win: never stay in above your remaining \
             budget."
        }
        Format::Dutch => {
            "How this auction works: lots are sold one after another on a falling price \
             clock. The price starts high and falls by a fixed step, down to the lot's \
             reserve price. At every step each bidder says whether it accepts the current \
             price. The first bidder to accept wins and pays that price; if several accept \
             at the same step, one of them is drawn at random. If the price reaches the \
             reserve with no acceptance, the lot is not sold. Never accept a price above \
             your remaining budget."
        }
    }
}

/// The system message: the scenario's instructions, then the format's rules.
pub fn system_message(instructions: &str, format: Format) -> String {
    format!("{instructions}\n\n{}", rules_text(format))
}

/// What changes from one request to the next, as the bidder may know it.
pub struct Situation<'a> {
    /// The auction format.
    pub format: Format,
    /// The lot for sale and its position (from 0) among `lots` lots.
    pub lot: (&'a Lot, usize, usize),
    /// Number of bidders in the auction.
    pub bidders: usize,
    /// The lot's value to this bidder, as the bidder knows it.
    pub value: f64,
    /// Whether `value` is an estimate (a common-value component is uncertain).
    pub estimate: bool,
    /// The bidder's budget and what is left of it; `None` means no limit.
    pub budget: Option<(f64, f64)>,
    /// Clock formats: the step (from 1) and the current price.
    pub clock: Option<(u32, f64)>,
    /// English: bidders still in at this step.
    pub still_in: usize,
    /// English: who dropped out of this lot so far, with the price, latest last.
    pub dropped: &'a [(String, f64)],
}

/// Most drop-outs listed by name in an English prompt (the rest are counted).
const LISTED_DROPS: usize = 10;

/// The user message: persona card, budget, earlier lots, the lot and the question.
pub fn user_message(card: &str, memory: &str, s: &Situation<'_>) -> String {
    let (lot, index, lots) = s.lot;
    let mut out = String::with_capacity(card.len() + memory.len() + 512);
    out.push_str(card);
    out.push_str("\n\n");
    match s.budget {
        Some((total, left)) => {
            let _ = writeln!(
                out,
                "Your budget for the whole auction: {} left of {}.",
                money(left),
                money(total)
            );
        }
        None => out.push_str("You have no budget limit.\n"),
    }
    if !memory.is_empty() {
        out.push_str("\nEarlier lots:\n");
        out.push_str(memory);
    }
    let _ = writeln!(out, "\nLot {} of {lots}: {}", index + 1, lot.title);
    for (name, value) in &lot.attributes {
        let _ = writeln!(out, "- {name}: {value}");
    }
    let _ = writeln!(
        out,
        "Reserve price: {}. Bidders in this auction: {}.",
        money(lot.reserve),
        s.bidders
    );
    let what = if s.estimate {
        "Your estimate of its value to you"
    } else {
        "Its value to you"
    };
    let _ = writeln!(out, "{what}: {}.", money(s.value));
    match (s.format, s.clock) {
        (Format::English, Some((step, price))) => {
            let _ = write!(
                out,
                "The clock is at step {step}: the price is now {} and rises by {} per step. {} bidders are still in, you among them.",
                money(price),
                money(lot.increment),
                s.still_in
            );
            if !s.dropped.is_empty() {
                let shown = &s.dropped[s.dropped.len().saturating_sub(LISTED_DROPS)..];
                let list: Vec<String> = shown
                    .iter()
                    .map(|(name, p)| format!("{name} at {}", money(*p)))
                    .collect();
                let _ = write!(out, " Dropped out so far: {}", list.join(", "));
                if s.dropped.len() > shown.len() {
                    let _ = write!(out, " and {} more", s.dropped.len() - shown.len());
                }
                out.push('.');
            }
            let _ = write!(
                out,
                "\nDo you stay in at {}? Reply with a JSON object with \"stay\" (true or false) and \"reason\" (a few words on why).",
                money(price)
            );
        }
        (Format::Dutch, Some((step, price))) => {
            let _ = write!(
                out,
                "The clock is at step {step}: the price is now {} and falls by {} per step, down to the reserve. No one has accepted yet.\nDo you accept the price {}? Reply with a JSON object with \"accept\" (true or false) and \"reason\" (a few words on why).",
                money(price),
                money(lot.increment),
                money(price)
            );
        }
        _ => out.push_str(
            "Submit your sealed bid for this lot. Reply with a JSON object with \"bid\" (an amount, or null for no bid) and \"reason\" (a few words on why).",
        ),
    }
    out
}

/// How a lot ended, for one bidder's memory.
pub struct LotMemory<'a> {
    /// Lot number, from 1.
    pub number: usize,
    /// Lot title.
    pub title: &'a str,
    /// How the lot ended.
    pub outcome: Outcome,
    /// The winner as this bidder refers to it (`None` when unsold) and the price.
    pub sale: Option<(&'a str, f64)>,
    /// This bidder's last decision on the lot and the clock price it was made at.
    pub own: Option<(Choice, Option<f64>)>,
    /// The lot's true value to the bidder, shown when it won (so it learns its gain).
    pub won_value: Option<f64>,
    /// Revealed highest bids, as (bidder as this bidder refers to it, amount).
    pub revealed: &'a [(String, f64)],
}

/// One line of memory about a closed lot, from the bidder's point of view.
pub fn memory_line(m: &LotMemory<'_>) -> String {
    let mut out = match m.sale {
        Some((winner, price)) => format!(
            "- Lot {} \"{}\": {winner} won it for {}.",
            m.number,
            m.title,
            money(price)
        ),
        None => format!(
            "- Lot {} \"{}\" was not sold ({}).",
            m.number,
            m.title,
            m.outcome.label().replace('_', " ")
        ),
    };
    let own = match m.own {
        Some((Choice::Bid(x), _)) => format!(" You bid {}.", money(x)),
        Some((Choice::NoBid, _)) => " You did not bid.".to_string(),
        Some((Choice::Drop, Some(p))) => format!(" You dropped out at {}.", money(p)),
        Some((Choice::Stay, _)) => " You stayed in to the end.".to_string(),
        Some((Choice::Accept, Some(p))) => format!(" You accepted at {}.", money(p)),
        Some((Choice::Wait, _)) => " You did not accept.".to_string(),
        _ => String::new(),
    };
    out.push_str(&own);
    if let (Some(v), Some((_, price))) = (m.won_value, m.sale) {
        let _ = write!(
            out,
            " Its value to you was {}, a gain of {}.",
            money(v),
            money(v - price)
        );
    }
    if !m.revealed.is_empty() {
        let list: Vec<String> = m
            .revealed
            .iter()
            .map(|(who, x)| format!("{who} {}", money(*x)))
            .collect();
        let _ = write!(out, " Highest bids: {}.", list.join("; "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auction::dist::ValueDist;

    fn lot() -> Lot {
        Lot {
            id: "h1".into(),
            title: "Maple Street house".into(),
            attributes: vec![("size".into(), "120 m²".into())],
            values: ValueDist::Uniform { min: 0.0, max: 1.0 },
            drivers: vec![],
            reserve: 300_000.0,
            start_price: 300_000.0,
            increment: 5_000.0,
        }
    }

    #[test]
    fn money_reads_like_money() {
        assert_eq!(money(412_345.678), "412,345.68");
        assert_eq!(money(1000.0), "1,000");
        assert_eq!(money(60.0), "60");
        assert_eq!(money(0.5), "0.50");
        assert_eq!(money(-1234.5), "-1,234.50");
        assert_eq!(money(0.0), "0");
    }

    #[test]
    fn a_sealed_prompt_shows_the_lot_the_value_and_the_budget() {
        let lot = lot();
        let s = Situation {
            format: Format::FirstPrice,
            lot: (&lot, 1, 4),
            bidders: 6,
            value: 412_000.0,
            estimate: false,
            budget: Some((800_000.0, 500_000.0)),
            clock: None,
            still_in: 0,
            dropped: &[],
        };
        let text = user_message("You are Ana.", "- Lot 1 \"x\": you won it for 5.\n", &s);
        for needle in [
            "You are Ana.",
            "500,000 left of 800,000",
            "Earlier lots:\n- Lot 1",
            "Lot 2 of 4: Maple Street house",
            "- size: 120 m²",
            "Reserve price: 300,000. Bidders in this auction: 6.",
            "Its value to you: 412,000.",
            "\"bid\" (an amount, or null for no bid)",
        ] {
            assert!(text.contains(needle), "{needle} missing in:\n{text}");
        }
    }

    #[test]
    fn an_english_prompt_lists_drop_outs_and_asks_to_stay() {
        let lot = lot();
        let dropped: Vec<(String, f64)> = (0..12)
            .map(|i| (format!("B{i}"), 300_000.0 + 1000.0 * f64::from(i)))
            .collect();
        let s = Situation {
            format: Format::English,
            lot: (&lot, 0, 1),
            bidders: 15,
            value: 1.0,
            estimate: true,
            budget: None,
            clock: Some((3, 310_000.0)),
            still_in: 3,
            dropped: &dropped,
        };
        let text = user_message("card", "", &s);
        assert!(text.contains("step 3: the price is now 310,000 and rises by 5,000"));
        assert!(text.contains("B11 at 311,000") && !text.contains("B1 at"));
        assert!(text.contains("and 2 more."));
        assert!(text.contains("Your estimate of its value"));
        assert!(text.contains("no budget limit"));
        assert!(text.contains("\"stay\" (true or false)"));
        assert!(system_message("Be yourself.", Format::English).starts_with("Be yourself.\n\nHow"));
    }

    #[test]
    fn memory_lines_speak_to_the_bidder() {
        let line = memory_line(&LotMemory {
            number: 2,
            title: "Flat",
            outcome: Outcome::Sold,
            sale: Some(("you", 250.0)),
            own: Some((Choice::Bid(250.0), None)),
            won_value: Some(300.0),
            revealed: &[("you".into(), 250.0), ("Bo".into(), 200.0)],
        });
        assert_eq!(
            line,
            "- Lot 2 \"Flat\": you won it for 250. You bid 250. Its value to you was 300, a gain of 50. Highest bids: you 250; Bo 200."
        );
        let unsold = memory_line(&LotMemory {
            number: 1,
            title: "Car",
            outcome: Outcome::AllDropped,
            sale: None,
            own: Some((Choice::Drop, Some(10.0))),
            won_value: None,
            revealed: &[],
        });
        assert_eq!(
            unsold,
            "- Lot 1 \"Car\" was not sold (all dropped). You dropped out at 10."
        );
    }
}
