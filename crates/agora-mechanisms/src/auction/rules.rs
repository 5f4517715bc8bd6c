//! The auction's rules: checking a decision and clearing a lot, independent of any model.
//!
//! Bidders are numbered by their agent id. Every function here is pure; randomness
//! enters only through the `tie_break` argument, which is given the number of tied
//! bidders and returns the index of the winner among them (sorted by id).

use agora_core::components::format_number;
use serde_json::Value;

use super::spec::{Format, Lot};

/// Longest reason kept from an answer, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// A decision, as applied by the rules (after any fallback).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Choice {
    /// A sealed bid of this amount.
    Bid(f64),
    /// No sealed bid.
    NoBid,
    /// Stay in at the current price of an English clock.
    Stay,
    /// Drop out of an English clock (for good).
    Drop,
    /// Accept the current price of a Dutch clock.
    Accept,
    /// Let the Dutch clock fall further.
    Wait,
}

impl Choice {
    /// Name used in tables and events.
    pub fn label(self) -> &'static str {
        match self {
            Choice::Bid(_) => "bid",
            Choice::NoBid => "no_bid",
            Choice::Stay => "stay",
            Choice::Drop => "drop",
            Choice::Accept => "accept",
            Choice::Wait => "wait",
        }
    }

    /// The amount committed: the bid, or the clock price for a stay or an accept.
    pub fn amount(self, price: Option<f64>) -> Option<f64> {
        match self {
            Choice::Bid(x) => Some(x),
            Choice::Stay | Choice::Accept => price,
            Choice::NoBid | Choice::Drop | Choice::Wait => None,
        }
    }
}

/// What a decision is checked against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// The lot's reserve price.
    pub reserve: f64,
    /// What the bidder may still spend; `None` means no limit.
    pub budget_left: Option<f64>,
    /// The clock's current price (clock formats).
    pub price: f64,
}

impl Limits {
    fn over_budget(&self, amount: f64) -> Option<String> {
        self.budget_left
            .filter(|left| amount > *left)
            .map(format_number)
    }
}

/// The decision a format falls back to when an answer is missing or invalid.
pub fn fallback(format: Format) -> Choice {
    match format {
        Format::FirstPrice | Format::SecondPrice => Choice::NoBid,
        Format::English => Choice::Drop,
        Format::Dutch => Choice::Wait,
    }
}

/// Check an answer against the format and the bidder's limits; the error says why it
/// is not a valid decision.
///
/// Sealed formats take `{"bid": number or null}`: a bid is at least 0, at least the
/// reserve and at most the remaining budget. English takes `{"stay": bool}`, Dutch
/// `{"accept": bool}`; staying in or accepting commits to the current price, which must
/// be within the remaining budget.
pub fn validate(format: Format, answer: &Value, limits: &Limits) -> Result<Choice, String> {
    let object = answer
        .as_object()
        .ok_or_else(|| format!("expected a JSON object, got {answer}"))?;
    let field = |key: &str| {
        object
            .get(key)
            .ok_or_else(|| format!("the answer has no \"{key}\" field"))
    };
    match format {
        Format::FirstPrice | Format::SecondPrice => {
            let bid = field("bid")?;
            if bid.is_null() {
                return Ok(Choice::NoBid);
            }
            let x = bid
                .as_f64()
                .ok_or_else(|| format!("expected a number or null as the bid, got {bid}"))?;
            if x < 0.0 {
                return Err(format!(
                    "a bid must be at least 0, got {}",
                    format_number(x)
                ));
            }
            if let Some(left) = limits.over_budget(x) {
                return Err(format!(
                    "bid {} exceeds the remaining budget {left}",
                    format_number(x)
                ));
            }
            if x < limits.reserve {
                return Err(format!(
                    "bid {} is below the reserve {}",
                    format_number(x),
                    format_number(limits.reserve)
                ));
            }
            Ok(Choice::Bid(x))
        }
        Format::English | Format::Dutch => {
            let (key, yes, no) = match format {
                Format::English => ("stay", Choice::Stay, Choice::Drop),
                _ => ("accept", Choice::Accept, Choice::Wait),
            };
            let value = field(key)?;
            let agreed = value
                .as_bool()
                .ok_or_else(|| format!("expected true or false as \"{key}\", got {value}"))?;
            if !agreed {
                return Ok(no);
            }
            if let Some(left) = limits.over_budget(limits.price) {
                return Err(format!(
                    "committing to the price {} exceeds the remaining budget {left}",
                    format_number(limits.price)
                ));
            }
            Ok(yes)
        }
    }
}

/// The short reason an answer gives, trimmed to [`MAX_REASON_CHARS`]; `None` if absent.
pub fn reason(answer: &Value) -> Option<&str> {
    let text = answer.get("reason")?.as_str()?.trim();
    let end = text
        .char_indices()
        .nth(MAX_REASON_CHARS)
        .map_or(text.len(), |(i, _)| i);
    (!text.is_empty()).then(|| &text[..end])
}

/// How a lot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Sold to a bidder.
    Sold,
    /// Sealed: no valid bid at or above the reserve.
    NoValidBid,
    /// English: nobody stayed in at the opening price.
    AllDropped,
    /// Dutch: the price reached the reserve with no acceptance.
    NoAcceptance,
    /// A clock ran out of steps (English: sold among those still in; Dutch: unsold).
    StepLimit,
}

impl Outcome {
    /// Name used in tables and events.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Sold => "sold",
            Outcome::NoValidBid => "no_valid_bid",
            Outcome::AllDropped => "all_dropped",
            Outcome::NoAcceptance => "no_acceptance",
            Outcome::StepLimit => "step_limit",
        }
    }
}

/// Who bought a lot, at what price, and who tied for it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sale {
    /// The winner's agent id.
    pub winner: u32,
    /// What the winner pays.
    pub price: f64,
    /// Bidders tied for the win, by id, when a tie-break chose the winner; else empty.
    pub tied: Vec<u32>,
}

/// The end of a lot: how it ended and the sale, if any.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Close {
    /// How the lot ended.
    pub outcome: Outcome,
    /// The sale; `None` when unsold.
    pub sale: Option<Sale>,
}

impl Close {
    fn unsold(outcome: Outcome) -> Self {
        Self {
            outcome,
            sale: None,
        }
    }
}

/// Pick the winner among `candidates` at `price`, drawing from `tie_break` on a tie.
fn award(
    outcome: Outcome,
    candidates: &[u32],
    price: f64,
    tie_break: impl FnOnce(usize) -> usize,
) -> Close {
    let mut tied = candidates.to_vec();
    tied.sort_unstable();
    tied.dedup();
    let (winner, tied) = match tied.len() {
        0 => return Close::unsold(outcome),
        1 => (tied[0], Vec::new()),
        n => (tied[tie_break(n) % n], tied),
    };
    Close {
        outcome,
        sale: Some(Sale {
            winner,
            price,
            tied,
        }),
    }
}

/// Clear a sealed-bid lot from its valid `bids` (bidder, amount).
///
/// The highest bid wins (ties broken by `tie_break`). First price: the winner pays its
/// bid. Second price: the winner pays the highest other bid (its own amount when tied),
/// or the reserve when it is the only bidder. Bids below the reserve never count; with
/// none left the lot is unsold. Clock formats are cleared as first price.
pub fn clear_sealed(
    format: Format,
    bids: &[(u32, f64)],
    reserve: f64,
    tie_break: impl FnOnce(usize) -> usize,
) -> Close {
    let qualifying: Vec<(u32, f64)> = bids
        .iter()
        .copied()
        .filter(|(_, b)| b.is_finite() && *b >= reserve)
        .collect();
    let Some(top) = qualifying.iter().map(|(_, b)| *b).reduce(f64::max) else {
        return Close::unsold(Outcome::NoValidBid);
    };
    let leaders: Vec<u32> = qualifying
        .iter()
        .filter(|(_, b)| *b == top)
        .map(|(i, _)| *i)
        .collect();
    let price = match format {
        Format::SecondPrice if leaders.len() > 1 => top,
        Format::SecondPrice => qualifying
            .iter()
            .filter(|(_, b)| *b < top)
            .map(|(_, b)| *b)
            .fold(reserve, f64::max),
        _ => top,
    };
    award(Outcome::Sold, &leaders, price, tie_break)
}

/// What a clock does after a step.
#[derive(Clone, Debug, PartialEq)]
pub enum ClockStep {
    /// Ask again at the next price.
    Continue,
    /// The lot is closed.
    Closed(Close),
}

/// One step of an English clock at `price`: `active` were asked, `stayed` stayed in;
/// `previous` is the price of the step before (`None` at the opening price).
///
/// - One bidder stayed: it wins at `price`.
/// - Nobody stayed: at the opening price the lot is unsold; later, everyone asked had
///   stayed in at `previous`, so one of them (tie-break) wins at `previous`.
/// - Several stayed: the clock goes on, unless this was the last allowed step
///   (`at_limit`), when one of them (tie-break) wins at `price`.
pub fn english_step(
    active: &[u32],
    stayed: &[u32],
    price: f64,
    previous: Option<f64>,
    at_limit: bool,
    tie_break: impl FnOnce(usize) -> usize,
) -> ClockStep {
    match (stayed.len(), previous) {
        (1, _) => ClockStep::Closed(award(Outcome::Sold, stayed, price, tie_break)),
        (0, Some(previous)) if !active.is_empty() => {
            ClockStep::Closed(award(Outcome::Sold, active, previous, tie_break))
        }
        (0, _) => ClockStep::Closed(Close::unsold(Outcome::AllDropped)),
        _ if at_limit => ClockStep::Closed(award(Outcome::StepLimit, stayed, price, tie_break)),
        _ => ClockStep::Continue,
    }
}

/// One step of a Dutch clock at `price`: the first to accept wins at it (ties broken by
/// `tie_break`). `last` is `Some(outcome)` when no further step follows; with no
/// acceptance the lot then closes unsold with that outcome.
pub fn dutch_step(
    accepted: &[u32],
    price: f64,
    last: Option<Outcome>,
    tie_break: impl FnOnce(usize) -> usize,
) -> ClockStep {
    match (accepted.is_empty(), last) {
        (false, _) => ClockStep::Closed(award(Outcome::Sold, accepted, price, tie_break)),
        (true, Some(outcome)) => ClockStep::Closed(Close::unsold(outcome)),
        (true, None) => ClockStep::Continue,
    }
}

/// Price levels a Dutch clock can show from `start` down to `reserve` in steps of
/// `increment` (at least 1).
pub fn dutch_levels(start: f64, reserve: f64, increment: f64) -> u32 {
    let levels = ((start - reserve) / increment + 1e-9).floor();
    if levels.is_finite() && levels >= 0.0 {
        (levels.min(f64::from(u32::MAX - 1)) as u32) + 1
    } else {
        1
    }
}

/// The clock price of `lot` at `step` (from 1): rising from the start price (English)
/// or falling to no less than the reserve (Dutch). Sealed formats have no clock.
pub fn clock_price(format: Format, lot: &Lot, step: u32) -> Option<f64> {
    let k = f64::from(step.saturating_sub(1));
    match format {
        Format::English => Some(lot.start_price + k * lot.increment),
        Format::Dutch => Some((lot.start_price - k * lot.increment).max(lot.reserve)),
        Format::FirstPrice | Format::SecondPrice => None,
    }
}

/// Welfare figures of one closed lot.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// The highest value among all bidders.
    pub highest_value: f64,
    /// The second-highest value (`None` with a single bidder).
    pub second_value: Option<f64>,
    /// The winner's value.
    pub winner_value: Option<f64>,
    /// The price paid, 0 when unsold.
    pub revenue: f64,
    /// The winner's value minus the price.
    pub surplus: Option<f64>,
    /// Allocative efficiency: the winner's value over the highest value (1 when every
    /// value is 0); `None` when unsold.
    pub efficiency: Option<f64>,
}

/// Welfare figures of a lot whose bidders had `values` (indexed by agent id).
pub fn metrics(values: &[f64], sale: Option<&Sale>) -> Metrics {
    let mut highest = f64::NEG_INFINITY;
    let mut second = f64::NEG_INFINITY;
    for &v in values {
        if v > highest {
            second = highest;
            highest = v;
        } else if v > second {
            second = v;
        }
    }
    let highest_value = if values.is_empty() { 0.0 } else { highest };
    let winner_value = sale.and_then(|s| values.get(s.winner as usize).copied());
    Metrics {
        highest_value,
        second_value: (values.len() > 1).then_some(second),
        winner_value,
        revenue: sale.map_or(0.0, |s| s.price),
        surplus: sale.zip(winner_value).map(|(s, v)| v - s.price),
        efficiency: winner_value.map(|v| {
            if highest_value > 0.0 {
                v / highest_value
            } else {
                1.0
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NO_TIE: fn(usize) -> usize = |_| panic!("no tie-break expected");

    fn sold(close: &Close) -> (u32, f64) {
        let s = close.sale.as_ref().expect("sold");
        (s.winner, s.price)
    }

    fn limits(reserve: f64, budget_left: Option<f64>, price: f64) -> Limits {
        Limits {
            reserve,
            budget_left,
            price,
        }
    }

    #[test]
    fn first_price_the_highest_bid_wins_and_pays_itself() {
        let close = clear_sealed(
            Format::FirstPrice,
            &[(0, 30.0), (1, 55.0), (2, 40.0)],
            0.0,
            NO_TIE,
        );
        assert_eq!(close.outcome, Outcome::Sold);
        assert_eq!(sold(&close), (1, 55.0));
        assert!(close.sale.unwrap().tied.is_empty());
    }

    #[test]
    fn second_price_pays_the_second_bid_or_the_reserve() {
        let bids = [(0, 30.0), (1, 55.0), (2, 40.0)];
        assert_eq!(
            sold(&clear_sealed(Format::SecondPrice, &bids, 0.0, NO_TIE)),
            (1, 40.0)
        );
        // The reserve is a floor on the price: 30 is below it and does not count.
        assert_eq!(
            sold(&clear_sealed(
                Format::SecondPrice,
                &[(0, 30.0), (1, 55.0)],
                35.0,
                NO_TIE
            )),
            (1, 35.0)
        );
        // A single bidder pays the reserve.
        assert_eq!(
            sold(&clear_sealed(
                Format::SecondPrice,
                &[(4, 80.0)],
                20.0,
                NO_TIE
            )),
            (4, 20.0)
        );
        assert_eq!(
            sold(&clear_sealed(
                Format::FirstPrice,
                &[(4, 80.0)],
                20.0,
                NO_TIE
            )),
            (4, 80.0)
        );
    }

    #[test]
    fn ties_are_broken_by_the_draw_among_tied_bidders_sorted_by_id() {
        let bids = [(7, 50.0), (2, 50.0), (5, 20.0), (3, 50.0)];
        for (draw, winner) in [(0, 2), (1, 3), (2, 7)] {
            let mut asked = None;
            let close = clear_sealed(Format::SecondPrice, &bids, 0.0, |n| {
                asked = Some(n);
                draw
            });
            assert_eq!(asked, Some(3), "the draw is over the three tied bidders");
            let sale = close.sale.unwrap();
            assert_eq!((sale.winner, sale.price), (winner, 50.0));
            assert_eq!(sale.tied, vec![2, 3, 7], "the tie is recorded");
        }
        // An out-of-range draw cannot panic.
        let close = clear_sealed(Format::FirstPrice, &bids, 0.0, |_| 99);
        assert!(close.sale.is_some());
    }

    #[test]
    fn reserve_not_met_and_no_bids_leave_the_lot_unsold() {
        for format in [Format::FirstPrice, Format::SecondPrice] {
            let close = clear_sealed(format, &[(0, 10.0), (1, 19.99)], 20.0, NO_TIE);
            assert_eq!(close, Close::unsold(Outcome::NoValidBid));
            assert_eq!(
                clear_sealed(format, &[], 0.0, NO_TIE).outcome,
                Outcome::NoValidBid
            );
        }
    }

    #[test]
    fn english_the_last_bidder_in_wins_at_the_current_price() {
        // Step 3 at price 30: of 0, 1, 2 only 1 stays.
        let step = english_step(&[0, 1, 2], &[1], 30.0, Some(25.0), false, NO_TIE);
        assert_eq!(
            step,
            ClockStep::Closed(Close {
                outcome: Outcome::Sold,
                sale: Some(Sale {
                    winner: 1,
                    price: 30.0,
                    tied: vec![]
                })
            })
        );
        assert_eq!(
            english_step(&[0, 1, 2], &[0, 2], 30.0, Some(25.0), false, NO_TIE),
            ClockStep::Continue
        );
    }

    #[test]
    fn english_all_drop_out() {
        // At the opening price: unsold (reserve not met).
        assert_eq!(
            english_step(&[0, 1], &[], 10.0, None, false, NO_TIE),
            ClockStep::Closed(Close::unsold(Outcome::AllDropped))
        );
        // Later: everyone asked had stayed at the previous price; a draw picks the
        // winner, who pays that previous price.
        let ClockStep::Closed(close) = english_step(&[4, 2], &[], 30.0, Some(25.0), false, |n| {
            assert_eq!(n, 2);
            1
        }) else {
            panic!("closed")
        };
        let sale = close.sale.unwrap();
        assert_eq!((sale.winner, sale.price, sale.tied), (4, 25.0, vec![2, 4]));
    }

    #[test]
    fn english_single_bidder_wins_at_the_opening_price_and_the_step_limit_closes() {
        assert_eq!(
            sold(&match english_step(&[3], &[3], 10.0, None, false, NO_TIE) {
                ClockStep::Closed(c) => c,
                ClockStep::Continue => panic!("closed"),
            }),
            (3, 10.0)
        );
        let ClockStep::Closed(close) =
            english_step(&[0, 1, 2], &[0, 2], 90.0, Some(80.0), true, |_| 0)
        else {
            panic!("closed at the limit")
        };
        assert_eq!(close.outcome, Outcome::StepLimit);
        assert_eq!(sold(&close), (0, 90.0));
    }

    #[test]
    fn dutch_the_first_to_accept_wins_and_no_acceptance_is_unsold() {
        assert_eq!(
            dutch_step(&[], 50.0, None, NO_TIE),
            ClockStep::Continue,
            "nobody accepted yet"
        );
        let ClockStep::Closed(close) = dutch_step(&[2], 50.0, None, NO_TIE) else {
            panic!("closed")
        };
        assert_eq!(sold(&close), (2, 50.0));
        let ClockStep::Closed(close) =
            dutch_step(&[5, 1], 40.0, Some(Outcome::NoAcceptance), |_| 1)
        else {
            panic!("closed")
        };
        let sale = close.sale.unwrap();
        assert_eq!((sale.winner, sale.tied), (5, vec![1, 5]));
        assert_eq!(
            dutch_step(&[], 20.0, Some(Outcome::NoAcceptance), NO_TIE),
            ClockStep::Closed(Close::unsold(Outcome::NoAcceptance))
        );
    }

    #[test]
    fn clock_prices_rise_and_fall_by_the_increment_and_stop_at_the_reserve() {
        let lot = Lot {
            id: "a".into(),
            title: "a".into(),
            attributes: vec![],
            values: super::super::dist::ValueDist::Uniform {
                min: 0.0,
                max: 100.0,
            },
            drivers: vec![],
            reserve: 20.0,
            start_price: 100.0,
            increment: 0.1,
        };
        assert_eq!(clock_price(Format::English, &lot, 1), Some(100.0));
        assert!((clock_price(Format::English, &lot, 11).unwrap() - 101.0).abs() < 1e-9);
        assert_eq!(clock_price(Format::FirstPrice, &lot, 1), None);
        let levels = dutch_levels(100.0, 20.0, 0.1);
        assert_eq!(levels, 801);
        let last = clock_price(Format::Dutch, &lot, levels).unwrap();
        assert!((last - 20.0).abs() < 1e-9 && last >= 20.0, "{last}");
        assert_eq!(clock_price(Format::Dutch, &lot, levels + 5), Some(20.0));
        assert_eq!(dutch_levels(20.0, 20.0, 5.0), 1);
    }

    #[test]
    fn sealed_bids_are_checked_against_reserve_and_budget() {
        let l = limits(10.0, Some(100.0), 0.0);
        let ok = |v: Value| validate(Format::FirstPrice, &v, &l);
        assert_eq!(ok(json!({"bid": 50, "reason": "x"})), Ok(Choice::Bid(50.0)));
        assert_eq!(ok(json!({"bid": 100.0})), Ok(Choice::Bid(100.0)));
        assert_eq!(ok(json!({"bid": null})), Ok(Choice::NoBid));
        for (answer, needle) in [
            (json!({"bid": 100.5}), "exceeds the remaining budget 100"),
            (json!({"bid": 9.5}), "below the reserve 10"),
            (json!({"bid": -1}), "at least 0"),
            (json!({"bid": "50"}), "a number or null"),
            (json!({"amount": 50}), "no \"bid\" field"),
            (json!([50]), "JSON object"),
        ] {
            let err = ok(answer.clone()).unwrap_err();
            assert!(err.contains(needle), "{answer}: {err}");
        }
        // Budget exhausted: nothing above 0 is valid, a bid of 0 at no reserve is.
        let broke = limits(0.0, Some(0.0), 0.0);
        assert!(validate(Format::SecondPrice, &json!({"bid": 0.01}), &broke).is_err());
        assert_eq!(
            validate(Format::SecondPrice, &json!({"bid": 0}), &broke),
            Ok(Choice::Bid(0.0))
        );
    }

    #[test]
    fn clock_decisions_commit_to_the_price_within_the_budget() {
        let l = limits(0.0, Some(40.0), 45.0);
        assert_eq!(
            validate(Format::English, &json!({"stay": false}), &l),
            Ok(Choice::Drop)
        );
        assert!(
            validate(Format::English, &json!({"stay": true}), &l)
                .unwrap_err()
                .contains("exceeds the remaining budget 40")
        );
        assert!(validate(Format::Dutch, &json!({"accept": true}), &l).is_err());
        let rich = limits(0.0, None, 45.0);
        assert_eq!(
            validate(Format::Dutch, &json!({"accept": true}), &rich),
            Ok(Choice::Accept)
        );
        assert_eq!(
            validate(Format::Dutch, &json!({"accept": false}), &rich),
            Ok(Choice::Wait)
        );
        assert!(
            validate(Format::English, &json!({"stay": "yes"}), &rich)
                .unwrap_err()
                .contains("true or false")
        );
        assert_eq!(fallback(Format::English), Choice::Drop);
        assert_eq!(fallback(Format::Dutch), Choice::Wait);
        assert_eq!(fallback(Format::FirstPrice), Choice::NoBid);
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(reason(&json!({"reason": "  cheap  "})), Some("cheap"));
        assert_eq!(reason(&json!({"reason": ""})), None);
        assert_eq!(reason(&json!({"bid": 1})), None);
        let long = "é".repeat(500);
        assert_eq!(
            reason(&json!({ "reason": long })).unwrap().chars().count(),
            MAX_REASON_CHARS
        );
    }

    #[test]
    fn metrics_measure_revenue_surplus_and_efficiency() {
        let sale = Sale {
            winner: 1,
            price: 40.0,
            tied: vec![],
        };
        let m = metrics(&[50.0, 60.0, 80.0], Some(&sale));
        assert_eq!(m.highest_value, 80.0);
        assert_eq!(m.second_value, Some(60.0));
        assert_eq!(m.revenue, 40.0);
        assert_eq!(m.surplus, Some(20.0));
        assert_eq!(m.efficiency, Some(0.75));
        let unsold = metrics(&[10.0], None);
        assert_eq!(
            (
                unsold.revenue,
                unsold.second_value,
                unsold.efficiency,
                unsold.surplus
            ),
            (0.0, None, None, None)
        );
        assert_eq!(
            metrics(
                &[0.0, 0.0],
                Some(&Sale {
                    winner: 0,
                    price: 0.0,
                    tied: vec![]
                })
            )
            .efficiency,
            Some(1.0)
        );
    }

    /// Run an English clock with truthful bidders (stay while the price is at most
    /// their value) through [`english_step`].
    fn truthful_english(values: &[f64], start: f64, inc: f64, draw: usize) -> Close {
        let mut active: Vec<u32> = (0..values.len() as u32).collect();
        let mut previous = None;
        for step in 0..10_000u32 {
            let price = start + f64::from(step) * inc;
            let stayed: Vec<u32> = active
                .iter()
                .copied()
                .filter(|&i| values[i as usize] >= price)
                .collect();
            match english_step(&active, &stayed, price, previous, false, |n| draw % n) {
                ClockStep::Closed(close) => return close,
                ClockStep::Continue => {}
            }
            active = stayed;
            previous = Some(price);
        }
        unreachable!("values are bounded")
    }

    proptest! {
        #[test]
        fn sealed_clearing_invariants(
            bids in proptest::collection::vec((0u32..50, 0.0f64..100.0), 0..12),
            reserve in 0.0f64..60.0,
            draw in 0usize..20,
            second in any::<bool>(),
        ) {
            let format = if second { Format::SecondPrice } else { Format::FirstPrice };
            let mut seen = std::collections::HashSet::new();
            let bids: Vec<(u32, f64)> = bids.into_iter().filter(|(i, _)| seen.insert(*i)).collect();
            let close = clear_sealed(format, &bids, reserve, |n| draw % n);
            let top = bids.iter().map(|b| b.1).filter(|b| *b >= reserve).reduce(f64::max);
            match (&close.sale, top) {
                (None, None) => prop_assert_eq!(close.outcome, Outcome::NoValidBid),
                (Some(sale), Some(top)) => {
                    let own = bids.iter().find(|b| b.0 == sale.winner).unwrap().1;
                    prop_assert_eq!(own, top, "the winner made the highest bid");
                    prop_assert!(sale.price >= reserve && sale.price <= own);
                    if !second {
                        prop_assert_eq!(sale.price, own);
                    }
                    if !sale.tied.is_empty() {
                        prop_assert!(sale.tied.contains(&sale.winner));
                    }
                }
                _ => prop_assert!(false, "sold iff some bid meets the reserve"),
            }
            // The price does not depend on the order bids arrive in.
            let mut reversed = bids.clone();
            reversed.reverse();
            let again = clear_sealed(format, &reversed, reserve, |n| draw % n);
            prop_assert_eq!(close, again);
        }

        #[test]
        fn a_truthful_english_clock_sells_near_the_second_value(
            values in proptest::collection::vec(0.0f64..100.0, 1..8),
            inc in 0.5f64..5.0,
            draw in 0usize..8,
        ) {
            let close = truthful_english(&values, 0.0, inc, draw);
            let sale = close.sale.expect("every value is >= the opening price 0");
            let m = metrics(&values, Some(&sale));
            prop_assert!(sale.price <= m.highest_value, "nobody pays above the top value");
            prop_assert!(m.surplus.unwrap() >= -1e-9, "truthful winners never lose money");
            if let Some(second) = m.second_value {
                prop_assert!(sale.price >= second - inc - 1e-9 && sale.price <= second + inc + 1e-9);
                // Efficient unless the top two values are within one increment.
                if m.highest_value - second > inc {
                    prop_assert_eq!(m.efficiency, Some(1.0));
                }
            }
        }

        #[test]
        fn a_dutch_clock_sells_to_the_highest_target_within_one_step(
            targets in proptest::collection::vec(0.0f64..100.0, 1..8),
            reserve in 0.0f64..50.0,
            inc in 0.5f64..5.0,
            draw in 0usize..8,
        ) {
            // Bidder i accepts once the price is at most its target.
            let levels = dutch_levels(100.0, reserve, inc);
            let mut close = None;
            for step in 1..=levels {
                let price = (100.0 - f64::from(step - 1) * inc).max(reserve);
                let accepted: Vec<u32> = (0..targets.len() as u32)
                    .filter(|&i| price <= targets[i as usize])
                    .collect();
                let last = (step == levels).then_some(Outcome::NoAcceptance);
                if let ClockStep::Closed(c) = dutch_step(&accepted, price, last, |n| draw % n) {
                    close = Some(c);
                    break;
                }
            }
            let close = close.expect("the clock closes by the reserve");
            let top = targets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            match &close.sale {
                None => {
                    prop_assert_eq!(close.outcome, Outcome::NoAcceptance);
                    prop_assert!(top < reserve + inc, "unsold only if no target reaches the last price");
                }
                Some(sale) => {
                    prop_assert!(sale.price >= reserve && sale.price <= top);
                    prop_assert!(sale.price > top - inc - 1e-9, "the first acceptance comes within one step");
                    prop_assert!(targets[sale.winner as usize] > top - inc - 1e-9);
                }
            }
        }

        #[test]
        fn validation_never_panics_and_valid_bids_respect_the_limits(
            x in proptest::num::f64::ANY,
            s in ".*",
            reserve in 0.0f64..50.0,
            left in proptest::option::of(0.0f64..100.0),
        ) {
            let l = limits(reserve, left, 30.0);
            for format in [Format::FirstPrice, Format::SecondPrice, Format::English, Format::Dutch] {
                for answer in [json!({"bid": x}), json!({"bid": s.clone()}), json!({"stay": true}), json!({"accept": true}), json!(s.clone())] {
                    if let Ok(Choice::Bid(b)) = validate(format, &answer, &l) {
                        prop_assert!(b >= reserve && left.is_none_or(|left| b <= left));
                    }
                    if let Ok(Choice::Stay | Choice::Accept) = validate(format, &answer, &l) {
                        prop_assert!(left.is_none_or(|left| 30.0 <= left));
                    }
                }
            }
        }
    }
}
