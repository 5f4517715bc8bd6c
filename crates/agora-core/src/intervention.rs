//! Interventions: something the experimenter does to a run while it plays, such as a
//! fact-check broadcast to half the agents in round 3.
//!
//! A scenario lists them under `interventions:`; each names the arms it applies to
//! (all when empty), when it fires (at a round, or the first round whose opening state
//! meets a condition), whom it reaches, and what it does. The engine hands each run the
//! interventions of its arm as the [`Interventions`] resource; mechanisms that support
//! them (see [`crate::MechanismDef::INTERVENTIONS`]) apply them and write one
//! `intervention` event per firing. Combined with branching from a checkpoint, arms
//! with and without an intervention share their history up to it.

use bevy_ecs::prelude::Resource;
use serde::{Deserialize, Serialize};

/// When an intervention fires (once per run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Trigger {
    /// At the start of this round.
    Round(u32),
    /// At the start of the first round whose mean private opinion is above this value.
    MeanOpinionAbove(f64),
    /// At the start of the first round whose mean private opinion is below this value.
    MeanOpinionBelow(f64),
}

/// Whom an intervention reaches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// Every agent.
    #[default]
    All,
    /// This share of the agents, drawn at random from the run's seed.
    Share(f64),
    /// Agents with this attribute value, written `attribute=category`.
    Attribute(String),
    /// The agents with the most connections in the run's social graph (ties by id).
    MostConnected(u32),
}

/// What an intervention does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Action {
    /// Show a message to the agents reached. `effect` is the rule-based backend's
    /// planted response: the shift of their private opinion that round, as a share of
    /// the opinion scale (language models read the text instead).
    Broadcast {
        /// The message.
        text: String,
        /// Rule-based shift of the opinion, share of the scale.
        #[serde(default)]
        effect: f64,
    },
}

/// One intervention as written in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intervention {
    /// Identifier in events and tables.
    pub id: String,
    /// Arms it applies to; every arm when empty.
    #[serde(default)]
    pub arms: Vec<String>,
    /// When it fires.
    pub at: Trigger,
    /// Whom it reaches.
    #[serde(default)]
    pub to: Target,
    /// What it does.
    pub action: Action,
}

impl Intervention {
    /// Whether it applies to arm `arm`.
    pub fn applies_to(&self, arm: &str) -> bool {
        self.arms.is_empty() || self.arms.iter().any(|a| a == arm)
    }

    /// Whether it fires at the start of `round`, given the mean private opinion then.
    pub fn fires(&self, round: u32, mean_opinion: f64) -> bool {
        match self.at {
            Trigger::Round(r) => r == round,
            Trigger::MeanOpinionAbove(x) => mean_opinion > x,
            Trigger::MeanOpinionBelow(x) => mean_opinion < x,
        }
    }
}

/// The interventions of one run (its arm's), in scenario order.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct Interventions(pub Vec<Intervention>);

/// Indices of the agents `target` reaches among `n` agents: `draw` gives a uniform
/// number in [0, 1) for the random share, `category` the attribute test, `degree`
/// each agent's connections.
pub fn reached(
    target: &Target,
    n: usize,
    mut draw: impl FnMut() -> f64,
    category: impl Fn(usize, &str) -> bool,
    degree: impl Fn(usize) -> usize,
) -> Vec<usize> {
    match target {
        Target::All => (0..n).collect(),
        Target::Share(p) => {
            // A random subset of exactly round(p * n) agents: sort by a random key.
            let k = ((p.clamp(0.0, 1.0) * n as f64).round() as usize).min(n);
            let mut keyed: Vec<(f64, usize)> = (0..n).map(|i| (draw(), i)).collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut chosen: Vec<usize> = keyed.into_iter().take(k).map(|(_, i)| i).collect();
            chosen.sort_unstable();
            chosen
        }
        Target::Attribute(spec) => (0..n).filter(|&i| category(i, spec)).collect(),
        Target::MostConnected(k) => {
            let mut by_degree: Vec<usize> = (0..n).collect();
            by_degree.sort_by(|a, b| degree(*b).cmp(&degree(*a)).then(a.cmp(b)));
            let mut chosen: Vec<usize> = by_degree.into_iter().take(*k as usize).collect();
            chosen.sort_unstable();
            chosen
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn targets_reach_whom_they_name() {
        let none = |_: usize, _: &str| false;
        let deg = |i: usize| [1, 5, 3, 5][i];
        assert_eq!(reached(&Target::All, 3, || 0.0, none, deg), [0, 1, 2]);
        assert_eq!(
            reached(&Target::MostConnected(2), 4, || 0.0, none, deg),
            [1, 3]
        );
        let odd = |i: usize, spec: &str| spec == "x=y" && i % 2 == 1;
        assert_eq!(
            reached(&Target::Attribute("x=y".into()), 5, || 0.0, odd, deg),
            [1, 3]
        );
        let ron: Intervention = ron::from_str(
            r#"(id: "fact_check", arms: ["treated"], at: Round(3), to: Share(0.5), action: Broadcast(text: "Check", effect: -0.1))"#,
        )
        .expect("valid intervention");
        assert!(ron.applies_to("treated") && !ron.applies_to("control"));
        assert!(ron.fires(3, 0.0) && !ron.fires(2, 0.0));
        let when = Intervention {
            at: Trigger::MeanOpinionAbove(4.0),
            ..ron
        };
        assert!(when.fires(1, 4.5) && !when.fires(1, 3.9));
    }

    proptest! {
        /// A share reaches exactly round(p n) distinct agents.
        #[test]
        fn a_share_reaches_its_count(p in 0.0f64..=1.0, n in 0usize..200, seed in any::<u64>()) {
            let mut state = seed;
            let draw = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            };
            let chosen = reached(&Target::Share(p), n, draw, |_, _| false, |_| 0);
            prop_assert_eq!(chosen.len(), (p * n as f64).round() as usize);
            prop_assert!(chosen.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
