//! When a conversation stops: its last round, consensus, or stagnation.
//!
//! The detector reads one [`RoundSignal`] per round played and is a plain function:
//!
//! - **consensus**: the standard deviation of private opinions (shares of the scale) is
//!   at most `consensus`;
//! - **stagnation**: in each of the last `window` rounds, private opinions moved less
//!   than `min_shift` on average and the round's messages had a mean novelty below
//!   `min_novelty` (a round without messages counts as not new);
//! - neither stops a conversation before `min_rounds` rounds; the last round stops it
//!   with reason `max_rounds`.

use super::settings::StopSettings;

/// What the detector reads of one round.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundSignal {
    /// Standard deviation of private opinions, as shares of the scale.
    pub spread: f64,
    /// Mean absolute change of private opinions during the round (shares).
    pub shift: f64,
    /// Mean novelty of the round's messages; `None` when nobody spoke.
    pub novelty: Option<f64>,
}

/// Why a conversation stopped, with the numbers that made it stop.
#[derive(Clone, Debug, PartialEq)]
pub struct Stop {
    /// `consensus`, `stagnation` or `max_rounds`.
    pub reason: &'static str,
    /// The figures behind the reason, in words.
    pub detail: String,
}

/// Whether to stop after the rounds in `history` (oldest first), given the settings
/// and the most rounds `max_rounds`.
pub fn detect(settings: &StopSettings, history: &[RoundSignal], max_rounds: u32) -> Option<Stop> {
    let played = history.len() as u32;
    let last = history.last()?;
    if played >= settings.min_rounds.max(1) {
        if let Some(threshold) = settings.consensus
            && last.spread <= threshold
        {
            return Some(Stop {
                reason: "consensus",
                detail: format!(
                    "opinion spread {:.4} is at most {threshold} after round {played}",
                    last.spread
                ),
            });
        }
        if let Some(s) = settings.stagnation
            && played >= s.window
        {
            let recent = &history[history.len() - s.window as usize..];
            let still = recent
                .iter()
                .all(|r| r.shift < s.min_shift && r.novelty.is_none_or(|n| n < s.min_novelty));
            if still {
                return Some(Stop {
                    reason: "stagnation",
                    detail: format!(
                        "for {} rounds opinions moved less than {} and messages were less than {} new",
                        s.window, s.min_shift, s.min_novelty
                    ),
                });
            }
        }
    }
    (played >= max_rounds).then(|| Stop {
        reason: "max_rounds",
        detail: format!("played all {max_rounds} rounds"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::settings::Stagnation;
    use proptest::prelude::*;

    fn settings(consensus: Option<f64>, window: Option<u32>, min_rounds: u32) -> StopSettings {
        StopSettings {
            consensus,
            stagnation: window.map(|window| Stagnation {
                window,
                min_shift: 0.01,
                min_novelty: 0.2,
            }),
            min_rounds,
        }
    }

    fn still() -> RoundSignal {
        RoundSignal {
            spread: 0.3,
            shift: 0.0,
            novelty: Some(0.05),
        }
    }

    fn lively() -> RoundSignal {
        RoundSignal {
            spread: 0.3,
            shift: 0.1,
            novelty: Some(0.9),
        }
    }

    #[test]
    fn each_reason_is_detected() {
        let s = settings(Some(0.05), Some(2), 1);
        assert_eq!(detect(&s, &[lively()], 10), None);
        let agreed = RoundSignal {
            spread: 0.01,
            ..lively()
        };
        assert_eq!(detect(&s, &[agreed], 10).unwrap().reason, "consensus");
        assert_eq!(detect(&s, &[lively(), still()], 10), None);
        assert_eq!(
            detect(&s, &[still(), still()], 10).unwrap().reason,
            "stagnation"
        );
        assert_eq!(
            detect(&s, &[lively(), lively()], 2).unwrap().reason,
            "max_rounds"
        );
        assert_eq!(detect(&s, &[], 2), None);
    }

    proptest! {
        #[test]
        fn nothing_stops_early_before_min_rounds_and_the_last_round_always_stops(
            signals in proptest::collection::vec((0.0f64..0.5, 0.0f64..0.2, proptest::option::of(0.0f64..1.0)), 1..20),
            min_rounds in 1u32..10,
            window in 1u32..5,
        ) {
            let history: Vec<RoundSignal> = signals.iter().map(|&(spread, shift, novelty)| RoundSignal { spread, shift, novelty }).collect();
            let s = settings(Some(0.05), Some(window), min_rounds);
            let played = history.len() as u32;
            match detect(&s, &history, 100) {
                Some(stop) => {
                    prop_assert!(played >= min_rounds);
                    if stop.reason == "consensus" {
                        prop_assert!(history[history.len() - 1].spread <= 0.05);
                    } else {
                        prop_assert_eq!(stop.reason, "stagnation");
                        prop_assert!(played >= window);
                    }
                }
                None => prop_assert!(played < min_rounds || history[history.len() - 1].spread > 0.05),
            }
            prop_assert!(detect(&s, &history, played).is_some());
        }

        #[test]
        fn a_still_conversation_stops_exactly_when_the_window_fills(window in 1u32..8) {
            let s = settings(None, Some(window), 1);
            let mut history = vec![lively()];
            for _ in 0..window - 1 {
                history.push(still());
                prop_assert_eq!(detect(&s, &history, 100), None);
            }
            history.push(still());
            prop_assert_eq!(detect(&s, &history, 100).map(|x| x.reason), Some("stagnation"));
        }
    }
}
