//! Which waiting model call goes first when calls queue for a limited number of slots.
//!
//! An experiment plays many runs at once against one server. Most of a conversation's
//! steps are a single speaker, whose run can do nothing else until that call returns,
//! while other steps ask every agent at once and can wait a little without holding
//! anything up for long. Handing free slots first to calls of small steps, then to the
//! run that has finished the fewest steps, keeps every run's chain of steps moving and
//! lets the wide steps fill the remaining slots; with first-come-first-served, runs
//! that started together stay in lockstep and their wide steps collide.
//!
//! The scheduler sets the priority of each step's calls with [`with_priority`]; a limit
//! on calls in flight reads it with [`current`]. It is a scheduling hint only: it is not
//! part of a request, its cache key or its answer.

use std::future::Future;

tokio::task_local! {
    static PRIORITY: CallPriority;
}

/// The place of a call in the queue for a slot: smaller goes first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallPriority {
    /// Calls of the step the call belongs to that were waiting for an answer together.
    pub step_calls: u32,
    /// Steps the call's run had finished before this one.
    pub steps_done: u64,
}

impl CallPriority {
    /// The priority of a call among `step_calls` calls of a step, in a run that has
    /// finished `steps_done` steps.
    pub fn new(step_calls: usize, steps_done: u64) -> Self {
        Self {
            step_calls: u32::try_from(step_calls).unwrap_or(u32::MAX),
            steps_done,
        }
    }
}

/// Run `future` with its model calls queued at `priority`.
pub async fn with_priority<F: Future>(priority: CallPriority, future: F) -> F::Output {
    PRIORITY.scope(priority, future).await
}

/// The priority of the call being made: the one set by [`with_priority`] around it, or
/// the first place in the queue for calls made outside any.
pub fn current() -> CallPriority {
    PRIORITY.try_with(|p| *p).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_steps_go_first_then_the_run_furthest_behind() {
        let lone_speaker_ahead = CallPriority::new(1, 30);
        let lone_speaker_behind = CallPriority::new(1, 10);
        let wide_step_behind = CallPriority::new(6, 0);
        assert!(lone_speaker_behind < lone_speaker_ahead);
        assert!(lone_speaker_ahead < wide_step_behind);
    }

    #[test]
    fn the_priority_is_seen_inside_the_scope_only() {
        let p = CallPriority::new(3, 7);
        let seen = futures::executor::block_on(PRIORITY.scope(p, async { current() }));
        assert_eq!(seen, p);
        assert_eq!(current(), CallPriority::default());
    }
}
