//! Settings shared by debates and focus groups, validated while they are parsed.
//! Messages say what is wrong, then after `; ` how to fix it.

use serde::Deserialize;

/// The scale of private opinions (and of the stance a public message takes).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawScale")]
pub struct OpinionScale {
    /// Lowest point.
    pub min: f64,
    /// Highest point.
    pub max: f64,
    /// What the lowest point means.
    pub low: String,
    /// What the highest point means.
    pub high: String,
    /// The question of the private elicitation; the mechanism's default when empty.
    pub question: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "OpinionScale")]
struct RawScale {
    #[serde(default = "one")]
    min: f64,
    #[serde(default = "seven")]
    max: f64,
    #[serde(default = "low")]
    low: String,
    #[serde(default = "high")]
    high: String,
    #[serde(default)]
    question: String,
}

fn one() -> f64 {
    1.0
}
fn seven() -> f64 {
    7.0
}
fn low() -> String {
    "strongly disagree".into()
}
fn high() -> String {
    "strongly agree".into()
}

impl Default for OpinionScale {
    fn default() -> Self {
        Self {
            min: 1.0,
            max: 7.0,
            low: low(),
            high: high(),
            question: String::new(),
        }
    }
}

impl TryFrom<RawScale> for OpinionScale {
    type Error = String;

    fn try_from(raw: RawScale) -> Result<Self, String> {
        if !(raw.min.is_finite() && raw.max.is_finite()) || raw.min >= raw.max {
            return Err(format!(
                "an opinion scale needs finite bounds with min < max, got min {}, max {}; use min: 1.0, max: 7.0",
                raw.min, raw.max
            ));
        }
        Ok(Self {
            min: raw.min,
            max: raw.max,
            low: raw.low,
            high: raw.high,
            question: raw.question,
        })
    }
}

impl OpinionScale {
    /// A point of the scale as a share of its range, 0..1 (clamped).
    pub fn normalise(&self, x: f64) -> f64 {
        ((x - self.min) / (self.max - self.min)).clamp(0.0, 1.0)
    }

    /// The scale point at share `u` of the range.
    pub fn point(&self, u: f64) -> f64 {
        self.min + u.clamp(0.0, 1.0) * (self.max - self.min)
    }

    /// Whether `x` lies on the scale.
    pub fn contains(&self, x: f64) -> bool {
        x.is_finite() && x >= self.min && x <= self.max
    }
}

/// In which order agents speak each round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum SpeakingOrder {
    /// By agent id, every round.
    #[default]
    Fixed,
    /// A fresh seeded shuffle every round.
    Random,
    /// A rule-based moderator: those who spoke least so far first; among them, those
    /// whose last public stance was farthest from the group's mean; then by id.
    Moderator,
    /// Everyone at once: every speaker of a round answers the conversation as it stood
    /// at the end of the previous round, all requests go out together, and afterwards
    /// everyone hears everyone, in agent-id order. With `speakers_per_round`, those who
    /// spoke least so far speak (then by id).
    Simultaneous,
}

impl SpeakingOrder {
    /// Whether a round's speakers all answer in one step.
    pub fn is_simultaneous(self) -> bool {
        self == Self::Simultaneous
    }
}

/// How much of its memory an agent sees in a prompt, and how it is consolidated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawMemory")]
pub struct MemorySettings {
    /// Newest remembered items shown verbatim.
    pub recent: u32,
    /// Older items retrieved for the current question.
    pub relevant: u32,
    /// Most bytes of memory in one prompt.
    pub max_chars: u32,
    /// Consolidate older items into a summary every this many rounds (0: never).
    pub consolidate_every: u32,
    /// Most bytes of a consolidated summary.
    pub summary_chars: u32,
    /// Items each agent holds (older ones are dropped, after consolidation).
    pub capacity: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "MemorySettings")]
struct RawMemory {
    #[serde(default = "eight")]
    recent: u32,
    #[serde(default = "three")]
    relevant: u32,
    #[serde(default = "memory_chars")]
    max_chars: u32,
    #[serde(default = "three")]
    consolidate_every: u32,
    #[serde(default = "summary_chars")]
    summary_chars: u32,
    #[serde(default = "capacity")]
    capacity: u16,
}

fn three() -> u32 {
    3
}
fn eight() -> u32 {
    8
}
fn memory_chars() -> u32 {
    2400
}
fn summary_chars() -> u32 {
    600
}
fn capacity() -> u16 {
    96
}

impl Default for MemorySettings {
    fn default() -> Self {
        Self {
            recent: eight(),
            relevant: three(),
            max_chars: memory_chars(),
            consolidate_every: three(),
            summary_chars: summary_chars(),
            capacity: capacity(),
        }
    }
}

impl TryFrom<RawMemory> for MemorySettings {
    type Error = String;

    fn try_from(raw: RawMemory) -> Result<Self, String> {
        if !(200..=100_000).contains(&raw.max_chars) {
            return Err(format!(
                "memory max_chars must be between 200 and 100000, got {}; 2400 is about 600 tokens",
                raw.max_chars
            ));
        }
        if !(50..=10_000).contains(&raw.summary_chars) {
            return Err(format!(
                "summary_chars must be between 50 and 10000, got {}; use 600",
                raw.summary_chars
            ));
        }
        if usize::from(raw.capacity) < raw.recent as usize + raw.relevant as usize {
            return Err(format!(
                "memory capacity ({}) is smaller than recent + relevant ({}); raise capacity",
                raw.capacity,
                raw.recent + raw.relevant
            ));
        }
        Ok(Self {
            recent: raw.recent,
            relevant: raw.relevant,
            max_chars: raw.max_chars,
            consolidate_every: raw.consolidate_every,
            summary_chars: raw.summary_chars,
            capacity: raw.capacity,
        })
    }
}

/// When a conversation stops before its last round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(try_from = "RawStop")]
pub struct StopSettings {
    /// Stop when the standard deviation of private opinions (as shares of the scale)
    /// is at most this.
    pub consensus: Option<f64>,
    /// Stop when the conversation has stopped producing anything new.
    pub stagnation: Option<Stagnation>,
    /// Never stop early before this many rounds.
    pub min_rounds: u32,
}

/// The stagnation detector: over `window` consecutive rounds, opinions moved less than
/// `min_shift` on average and messages were less than `min_novelty` new.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stagnation {
    /// Rounds that must all be stagnant.
    pub window: u32,
    /// Mean absolute change of private opinions (share of the scale) below which a
    /// round counts as still.
    pub min_shift: f64,
    /// Mean novelty of messages (1 - highest similarity to earlier messages) below
    /// which a round counts as repetitive.
    pub min_novelty: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "StopSettings")]
struct RawStop {
    #[serde(default)]
    consensus: Option<f64>,
    #[serde(default)]
    stagnation: Option<Stagnation>,
    #[serde(default = "two")]
    min_rounds: u32,
}

fn two() -> u32 {
    2
}

impl TryFrom<RawStop> for StopSettings {
    type Error = String;

    fn try_from(raw: RawStop) -> Result<Self, String> {
        if let Some(c) = raw.consensus
            && !(0.0..=0.5).contains(&c)
        {
            return Err(format!(
                "consensus is a standard deviation of opinions as a share of the scale (0 to 0.5), got {c}; use 0.05"
            ));
        }
        if let Some(s) = raw.stagnation {
            if s.window == 0 {
                return Err("the stagnation window must be at least 1 round; use 3".into());
            }
            if !(0.0..=1.0).contains(&s.min_shift) || !(0.0..=1.0).contains(&s.min_novelty) {
                return Err(format!(
                    "stagnation min_shift and min_novelty are shares between 0 and 1, got {} and {}; use 0.01 and 0.2",
                    s.min_shift, s.min_novelty
                ));
            }
        }
        Ok(Self {
            consensus: raw.consensus,
            stagnation: raw.stagnation,
            min_rounds: raw.min_rounds,
        })
    }
}

/// How rule-based agents behave (ignored by language models).
///
/// See [`super::dynamics`] for the rules these parameters enter.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawDynamics")]
pub struct Dynamics {
    /// Confidence bound ε: an agent listens only to stances within ε of its own
    /// (shares of the scale).
    pub epsilon: f64,
    /// Convergence rate μ: the share of the way towards the listened-to mean an agent
    /// moves per round.
    pub mu: f64,
    /// Conformity κ: how far a public stance leans from the private opinion towards
    /// the stances heard (scaled per agent by agreeableness).
    pub conformity: f64,
    /// Population traits and attributes that shift the initial opinion.
    pub drivers: Vec<(String, f64)>,
    /// Shift of the initial latent score (0 = centred).
    pub intercept: f64,
    /// Shift of the initial latent score per side (+ for the first side, - for the second).
    pub side_shift: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Dynamics")]
struct RawDynamics {
    #[serde(default = "epsilon")]
    epsilon: f64,
    #[serde(default = "half")]
    mu: f64,
    #[serde(default = "fifth")]
    conformity: f64,
    #[serde(default)]
    drivers: Vec<(String, f64)>,
    #[serde(default)]
    intercept: f64,
    #[serde(default = "unit")]
    side_shift: f64,
}

fn epsilon() -> f64 {
    0.3
}
fn half() -> f64 {
    0.5
}
fn fifth() -> f64 {
    0.2
}
fn unit() -> f64 {
    1.0
}

impl Default for Dynamics {
    fn default() -> Self {
        Self {
            epsilon: epsilon(),
            mu: half(),
            conformity: fifth(),
            drivers: Vec::new(),
            intercept: 0.0,
            side_shift: unit(),
        }
    }
}

impl TryFrom<RawDynamics> for Dynamics {
    type Error = String;

    fn try_from(raw: RawDynamics) -> Result<Self, String> {
        for (name, value) in [
            ("epsilon", raw.epsilon),
            ("mu", raw.mu),
            ("conformity", raw.conformity),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!(
                    "{name} must be between 0 and 1, got {value}; defaults are epsilon 0.3, mu 0.5, conformity 0.2"
                ));
            }
        }
        if !(raw.intercept.is_finite() && raw.side_shift.is_finite()) {
            return Err("intercept and side_shift must be finite numbers; use 0.0 and 1.0".into());
        }
        if let Some((name, w)) = raw.drivers.iter().find(|(_, w)| !w.is_finite()) {
            return Err(format!(
                "driver \"{name}\" has weight {w}; use a finite number such as 0.3"
            ));
        }
        Ok(Self {
            epsilon: raw.epsilon,
            mu: raw.mu,
            conformity: raw.conformity,
            drivers: raw.drivers,
            intercept: raw.intercept,
            side_shift: raw.side_shift,
        })
    }
}

/// Most characters of one public message.
pub fn check_max_chars(max_chars: u32) -> Result<u32, String> {
    if (20..=4000).contains(&max_chars) {
        Ok(max_chars)
    } else {
        Err(format!(
            "max_chars must be between 20 and 4000, got {max_chars}; 400 suits a short statement"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn defaults_apply_and_bad_values_are_refused() {
        let m: MemorySettings = parse("()").unwrap();
        assert_eq!(m, MemorySettings::default());
        let s: OpinionScale = parse("(min: -3.0, max: 3.0)").unwrap();
        assert_eq!(s.normalise(0.0), 0.5);
        assert_eq!(s.point(1.0), 3.0);
        for (err, needle) in [
            (
                parse::<OpinionScale>("(min: 3.0, max: 1.0)").unwrap_err(),
                "min < max",
            ),
            (
                parse::<MemorySettings>("(max_chars: 10)").unwrap_err(),
                "max_chars",
            ),
            (
                parse::<MemorySettings>("(capacity: 4)").unwrap_err(),
                "capacity",
            ),
            (
                parse::<StopSettings>("(consensus: 0.9)").unwrap_err(),
                "consensus",
            ),
            (
                parse::<StopSettings>(
                    "(stagnation: (window: 0, min_shift: 0.1, min_novelty: 0.1))",
                )
                .unwrap_err(),
                "window",
            ),
            (parse::<Dynamics>("(epsilon: 1.5)").unwrap_err(), "epsilon"),
            (
                parse::<Dynamics>("(mu: 0.5, drivers: [(\"openness\", inf)])").unwrap_err(),
                "finite",
            ),
            (parse::<Dynamics>("(epsilom: 0.5)").unwrap_err(), "epsilom"),
        ] {
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
