//! The auction's scenario settings, validated while they are parsed so that every
//! problem carries its position in the file. Messages say what is wrong, then after
//! `; ` how to fix it.

use serde::Deserialize;

use super::dist::ValueDist;

/// How a lot is sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Format {
    /// Sealed bids; the highest bid wins and pays its own bid.
    FirstPrice,
    /// Sealed bids; the highest bid wins and pays the second-highest bid (Vickrey).
    SecondPrice,
    /// An ascending clock: at each price step bidders stay in or drop out; the last one
    /// in wins at the current price.
    English,
    /// A descending clock: the first bidder to accept the current price wins at it.
    Dutch,
}

impl Format {
    /// Name used in tables and events.
    pub fn label(self) -> &'static str {
        match self {
            Format::FirstPrice => "first_price",
            Format::SecondPrice => "second_price",
            Format::English => "english",
            Format::Dutch => "dutch",
        }
    }

    /// Whether bids are sealed (one secret bid per lot) rather than given on a clock.
    pub fn is_sealed(self) -> bool {
        matches!(self, Format::FirstPrice | Format::SecondPrice)
    }

    /// The task name of this format's decisions in requests and `llm_calls`.
    pub fn task(self) -> &'static str {
        match self {
            Format::FirstPrice | Format::SecondPrice => super::TASK_BID,
            Format::English => super::TASK_STAY,
            Format::Dutch => super::TASK_ACCEPT,
        }
    }
}

/// Where each bidder's budget (the wallet it may spend over all lots) comes from.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawBudget")]
pub enum Budget {
    /// No limit.
    Unlimited,
    /// The same amount for every bidder.
    Fixed(f64),
    /// Drawn per bidder from a distribution (negative draws count as 0).
    Drawn(ValueDist),
    /// A numeric population attribute times a factor (a missing value gives 0).
    Attribute {
        /// Name of a numeric attribute of the population.
        name: String,
        /// Factor applied to the attribute (for example an income multiple).
        times: f64,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "budget")]
enum RawBudget {
    Unlimited,
    Fixed(f64),
    Drawn(ValueDist),
    Attribute {
        name: String,
        #[serde(default = "one")]
        times: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl TryFrom<RawBudget> for Budget {
    type Error = String;

    fn try_from(raw: RawBudget) -> Result<Self, String> {
        Ok(match raw {
            RawBudget::Unlimited => Budget::Unlimited,
            RawBudget::Fixed(x) => {
                if !(x.is_finite() && x >= 0.0) {
                    return Err(format!(
                        "a fixed budget must be a finite amount >= 0, got {x}; write Fixed(1000.0), or Unlimited"
                    ));
                }
                Budget::Fixed(x)
            }
            RawBudget::Drawn(dist) => Budget::Drawn(dist),
            RawBudget::Attribute { name, times } => {
                if name.trim().is_empty() {
                    return Err("a budget attribute needs a name; write Attribute(name: \"income\", times: 4.0)".into());
                }
                if !(times.is_finite() && times > 0.0) {
                    return Err(format!(
                        "the budget factor `times` must be a finite number > 0, got {times}; use 1.0 to take the attribute as it is"
                    ));
                }
                Budget::Attribute { name, times }
            }
        })
    }
}

/// A value component shared by all bidders of a lot, which each bidder only estimates.
///
/// A bidder's value is its private value plus the lot's common component `c`; the
/// bidder is told `value + e`, with `e ~ N(0, signal_noise)` its own estimation error.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawCommonValue")]
pub struct CommonValue {
    /// Distribution of the common component, drawn once per lot.
    pub dist: ValueDist,
    /// Standard deviation of each bidder's estimation error.
    pub signal_noise: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "CommonValue")]
struct RawCommonValue {
    dist: ValueDist,
    #[serde(default)]
    signal_noise: f64,
}

impl TryFrom<RawCommonValue> for CommonValue {
    type Error = String;

    fn try_from(raw: RawCommonValue) -> Result<Self, String> {
        if !(raw.signal_noise.is_finite() && raw.signal_noise >= 0.0) {
            return Err(format!(
                "signal_noise must be a finite standard deviation >= 0, got {}; use 0.0 for exact knowledge of the common value",
                raw.signal_noise
            ));
        }
        Ok(Self {
            dist: raw.dist,
            signal_noise: raw.signal_noise,
        })
    }
}

/// One lot as written in the scenario, checked on its own; defaults come later.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawLot")]
struct LotSpec {
    id: String,
    title: Option<String>,
    attributes: Vec<(String, String)>,
    values: Option<ValueDist>,
    drivers: Vec<(String, f64)>,
    reserve: f64,
    start_price: Option<f64>,
    increment: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Lot")]
struct RawLot {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    attributes: Vec<(String, String)>,
    #[serde(default)]
    values: Option<ValueDist>,
    #[serde(default)]
    drivers: Vec<(String, f64)>,
    #[serde(default)]
    reserve: f64,
    #[serde(default)]
    start_price: Option<f64>,
    #[serde(default)]
    increment: Option<f64>,
}

fn check_increment(increment: f64) -> Result<(), String> {
    if increment.is_finite() && increment > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "increment must be a finite amount > 0, got {increment}; use about 1% of typical values, e.g. 10.0"
        ))
    }
}

impl TryFrom<RawLot> for LotSpec {
    type Error = String;

    fn try_from(raw: RawLot) -> Result<Self, String> {
        if raw.id.trim().is_empty() {
            return Err("a lot has an empty id; give it an id such as \"lot1\"".into());
        }
        if !(raw.reserve.is_finite() && raw.reserve >= 0.0) {
            return Err(format!(
                "lot \"{}\": reserve must be a finite amount >= 0, got {}; use 0.0 for no reserve",
                raw.id, raw.reserve
            ));
        }
        if let Some(start) = raw.start_price
            && !(start.is_finite() && start >= raw.reserve)
        {
            return Err(format!(
                "lot \"{}\": start_price ({start}) must be a finite amount at least the reserve ({}); raise start_price or lower the reserve",
                raw.id, raw.reserve
            ));
        }
        if let Some(inc) = raw.increment {
            check_increment(inc).map_err(|e| format!("lot \"{}\": {e}", raw.id))?;
        }
        if let Some((name, w)) = raw.drivers.iter().find(|(_, w)| !w.is_finite()) {
            return Err(format!(
                "lot \"{}\": driver \"{name}\" has weight {w}; use a finite number such as 0.1 (+10% value per standard deviation)",
                raw.id
            ));
        }
        Ok(Self {
            id: raw.id,
            title: raw.title,
            attributes: raw.attributes,
            values: raw.values,
            drivers: raw.drivers,
            reserve: raw.reserve,
            start_price: raw.start_price,
            increment: raw.increment,
        })
    }
}

/// One item for sale, with the auction's defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Lot {
    /// Short identifier used in tables (`lot1`, `maple-street`, ...).
    pub id: String,
    /// What bidders are told the lot is; the id when the scenario gives no title.
    pub title: String,
    /// Attributes shown to bidders (`("size", "120 m²")`, ...).
    pub attributes: Vec<(String, String)>,
    /// Distribution of each bidder's private value.
    pub values: ValueDist,
    /// Population traits or attributes scaling private values: a bidder's value is
    /// multiplied by `exp(sum(w_k * z_k))` (see [`crate::drivers`]).
    pub drivers: Vec<(String, f64)>,
    /// Lowest price at which the lot is sold.
    pub reserve: f64,
    /// The clock's first price: the reserve for English, required for Dutch; the
    /// reserve for sealed formats (unused).
    pub start_price: f64,
    /// Clock step: how much the price rises (English) or falls (Dutch) per step.
    pub increment: f64,
}

/// The `Auction(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawAuctionSpec")]
pub struct AuctionSpec {
    /// How every lot is sold.
    pub format: Format,
    /// Fixed instructions at the start of every prompt (the format's rules follow).
    pub instructions: String,
    /// Each bidder's budget over the whole auction.
    pub budget: Budget,
    /// An optional value component shared by all bidders of a lot.
    pub common_value: Option<CommonValue>,
    /// Sealed formats: whether the highest bids are announced when a lot closes.
    pub reveal_bids: bool,
    /// Clock formats: most price steps per lot.
    pub max_steps: u32,
    /// Characters of earlier lots' results shown in each prompt.
    pub memory_chars: u32,
    /// The lots, sold one per round in this order.
    pub lots: Vec<Lot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "AuctionSpec")]
struct RawAuctionSpec {
    format: Format,
    #[serde(default = "default_instructions")]
    instructions: String,
    #[serde(default = "unlimited")]
    budget: Budget,
    #[serde(default)]
    common_value: Option<CommonValue>,
    #[serde(default)]
    reveal_bids: bool,
    #[serde(default)]
    values: Option<ValueDist>,
    #[serde(default)]
    increment: Option<f64>,
    #[serde(default)]
    start_price: Option<f64>,
    #[serde(default = "default_max_steps")]
    max_steps: u32,
    #[serde(default = "default_memory_chars")]
    memory_chars: u32,
    lots: Vec<LotSpec>,
}

fn unlimited() -> Budget {
    Budget::Unlimited
}

fn default_max_steps() -> u32 {
    200
}

fn default_memory_chars() -> u32 {
    1500
}

fn default_instructions() -> String {
    "You are taking part in an auction. Decide as the person described below would, \
     in character, with your own budget and preferences. Reply with JSON only."
        .to_string()
}

/// Most lots an auction may hold (lots are rounds; ids fit in tables).
pub const MAX_LOTS: usize = 10_000;

impl TryFrom<RawAuctionSpec> for AuctionSpec {
    type Error = String;

    fn try_from(raw: RawAuctionSpec) -> Result<Self, String> {
        if raw.lots.is_empty() {
            return Err(
                "an auction needs at least one lot; add lots: [(id: \"lot1\", values: Uniform(min: 0.0, max: 100.0))]"
                    .into(),
            );
        }
        if raw.lots.len() > MAX_LOTS {
            return Err(format!(
                "an auction holds at most {MAX_LOTS} lots, got {}; split it into several scenarios",
                raw.lots.len()
            ));
        }
        if raw.max_steps == 0 {
            return Err("max_steps must be at least 1; 200 suits most clocks".into());
        }
        if let Some(inc) = raw.increment {
            check_increment(inc)?;
        }
        let mut seen = std::collections::HashSet::new();
        let mut lots = Vec::with_capacity(raw.lots.len());
        for lot in raw.lots {
            if !seen.insert(lot.id.clone()) {
                return Err(format!(
                    "lot id \"{}\" is used twice; give every lot a unique id",
                    lot.id
                ));
            }
            let values = lot.values.or_else(|| raw.values.clone()).ok_or_else(|| {
                format!(
                    "lot \"{}\" has no value distribution; add values: Uniform(min: 0.0, max: 100.0) to the lot or to the auction",
                    lot.id
                )
            })?;
            let start_price = match (raw.format, lot.start_price.or(raw.start_price)) {
                (Format::Dutch, None) => {
                    return Err(format!(
                        "lot \"{}\": a Dutch clock needs a start_price; give the lot (or the auction) a start_price above every likely value",
                        lot.id
                    ));
                }
                (_, Some(start)) if !(start.is_finite() && start >= lot.reserve) => {
                    return Err(format!(
                        "lot \"{}\": start_price ({start}) is below its reserve ({}); raise start_price or lower the reserve",
                        lot.id, lot.reserve
                    ));
                }
                (Format::Dutch | Format::English, Some(start)) => start,
                _ => lot.reserve,
            };
            lots.push(Lot {
                title: lot.title.unwrap_or_else(|| lot.id.clone()),
                id: lot.id,
                attributes: lot.attributes,
                values,
                drivers: lot.drivers,
                reserve: lot.reserve,
                start_price,
                increment: lot.increment.or(raw.increment).unwrap_or(1.0),
            });
        }
        Ok(AuctionSpec {
            format: raw.format,
            instructions: raw.instructions,
            budget: raw.budget,
            common_value: raw.common_value,
            reveal_bids: raw.reveal_bids,
            max_steps: raw.max_steps,
            memory_chars: raw.memory_chars,
            lots,
        })
    }
}

impl AuctionSpec {
    /// Rounds the auction plays: one per lot.
    pub fn rounds(&self) -> u32 {
        u32::try_from(self.lots.len()).unwrap_or(u32::MAX)
    }

    /// Every population trait or attribute the settings refer to: lot drivers and a
    /// budget attribute.
    pub fn driver_names(&self) -> impl Iterator<Item = &str> {
        let budget = match &self.budget {
            Budget::Attribute { name, .. } => Some(name.as_str()),
            _ => None,
        };
        self.lots
            .iter()
            .flat_map(|l| l.drivers.iter().map(|(n, _)| n.as_str()))
            .chain(budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn parse(text: &str) -> Result<AuctionSpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn a_complete_auction_parses_with_defaults_applied() {
        let spec = parse(
            r#"(format: English, values: Uniform(min: 0.0, max: 100.0), increment: 5.0,
                budget: Attribute(name: "income", times: 4.0),
                common_value: (dist: Normal(mean: 10.0, std_dev: 2.0), signal_noise: 1.0),
                lots: [
                    (id: "a", attributes: [("size", "big")], reserve: 10.0),
                    (id: "b", title: "The B", values: LogNormal(mu: 3.0, sigma: 0.2), start_price: 20.0, increment: 2.0,
                     drivers: [("openness", 0.1)]),
                ])"#,
        )
        .unwrap();
        assert_eq!(spec.rounds(), 2);
        assert_eq!(spec.lots[0].title, "a");
        assert_eq!(
            spec.lots[0].start_price, 10.0,
            "English opens at the reserve"
        );
        assert_eq!(spec.lots[0].increment, 5.0);
        assert_eq!(spec.lots[1].increment, 2.0);
        assert_eq!(spec.lots[1].start_price, 20.0);
        assert_eq!(
            spec.lots[0].values,
            ValueDist::Uniform {
                min: 0.0,
                max: 100.0
            }
        );
        assert_eq!(
            spec.driver_names().collect::<Vec<_>>(),
            ["openness", "income"]
        );
        assert_eq!(spec.memory_chars, 1500);
        let sealed = parse(
            r#"(format: FirstPrice, budget: Fixed(50.0), lots: [(id: "x", values: Uniform(min: 1.0, max: 2.0), reserve: 1.0)])"#,
        )
        .unwrap();
        assert_eq!(sealed.budget, Budget::Fixed(50.0));
        assert_eq!(sealed.lots[0].start_price, 1.0);
    }

    #[test]
    fn bad_auctions_are_rejected_with_a_fix_and_a_position() {
        let lot = r#"(id: "a", values: Uniform(min: 0.0, max: 1.0))"#;
        for (text, needle) in [
            ("(format: FirstPrice, lots: [])".to_string(), "at least one lot"),
            (
                format!("(format: Dutch, lots: [{lot}])"),
                "needs a start_price",
            ),
            (
                r#"(format: FirstPrice, lots: [(id: "a")])"#.to_string(),
                "no value distribution",
            ),
            (
                format!("(format: FirstPrice, lots: [{lot}, {lot}])"),
                "used twice",
            ),
            (
                r#"(format: English, lots: [(id: "a", values: Uniform(min: 0.0, max: 1.0), reserve: -1.0)])"#.to_string(),
                "reserve must be",
            ),
            (
                r#"(format: Dutch, lots: [(id: "a", values: Uniform(min: 0.0, max: 1.0), reserve: 5.0, start_price: 2.0)])"#.to_string(),
                "at least the reserve",
            ),
            (
                format!("(format: English, increment: 0.0, lots: [{lot}])"),
                "increment must be",
            ),
            (
                format!("(format: English, budget: Fixed(-3.0), lots: [{lot}])"),
                "fixed budget",
            ),
            (
                format!("(format: English, budget: Attribute(name: \"income\", times: 0.0), lots: [{lot}])"),
                "budget factor",
            ),
            (
                format!("(format: English, common_value: (dist: Uniform(min: 0.0, max: 1.0), signal_noise: -1.0), lots: [{lot}])"),
                "signal_noise",
            ),
            (format!("(format: English, max_steps: 0, lots: [{lot}])"), "max_steps"),
            (format!("(format: Vickrey, lots: [{lot}])"), "Vickrey"),
            (format!("(format: English, lotz: [{lot}])"), "lotz"),
            (
                r#"(format: English, lots: [(id: "a", values: Uniform(min: 0.0, max: 1.0), drivers: [("openness", inf)])])"#.to_string(),
                "finite number",
            ),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
            assert!(err.span.start.line >= 1);
        }
    }
}
