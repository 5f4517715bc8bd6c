//! In-process runs of a mechanism through the round scheduler, for tests.

use std::collections::HashMap;

use agora_core::Build;
use agora_core::components::{Identity, Persona, PopulationSchema};
use agora_core::record::{Recorder, RunInfo};
use agora_core::scheduler::{Mechanism, RunOutcome, SchedulerLimits, Silent, run_rounds};
use agora_core::seed::SeedStream;
use agora_core::world::spawn_population;
use agora_export::{OutputLayout, Partition};
use agora_model::ChatModel;
use bevy_ecs::prelude::*;

/// A finished in-process run.
pub struct Finished<M> {
    _mechanism: std::marker::PhantomData<M>,
    /// The run's totals.
    pub outcome: RunOutcome,
    /// The world after the run.
    pub world: World,
    /// Rows written per table.
    pub rows: HashMap<String, u64>,
}

/// `n` personas named `{prefix}0`, `{prefix}1`, ... with default traits.
pub fn personas(prefix: &str, n: usize) -> Vec<Persona> {
    (0..n)
        .map(|i| Persona {
            identity: Identity {
                name: format!("{prefix}{i}"),
                narrative: String::new(),
            },
            ..Default::default()
        })
        .collect()
}

/// Build a mechanism with `build` and play it with `personas` on `model`, seeded by
/// `seed` and `replicate`, for at most `max_rounds`; tables go to a temporary directory.
pub fn run_in_process<M: Mechanism>(
    build: impl FnOnce(Build<'_>) -> Result<M, agora_core::RunError>,
    personas: Vec<Persona>,
    (seed, replicate): (u64, u32),
    model: &dyn ChatModel,
    max_rounds: u32,
) -> Finished<M> {
    let mut world = World::new();
    spawn_population(&mut world, PopulationSchema::default(), personas, 32);
    let dir = tempfile::tempdir().unwrap();
    let info = RunInfo {
        run_id: "test".into(),
        partition: Partition {
            arm: "a".into(),
            replicate,
        },
        seeds: SeedStream::for_replicate(seed, replicate),
    };
    let mut recorder = Recorder::new(OutputLayout::new(dir.path()), info.clone());
    let mut mechanism = build(Build {
        params: Default::default(),
        world: &world,
        recorder: &mut recorder,
        info: &info,
    })
    .unwrap();
    let outcome = futures::executor::block_on(run_rounds(
        &mut mechanism,
        &mut world,
        &mut recorder,
        model,
        max_rounds,
        SchedulerLimits::default(),
        &mut Silent,
    ))
    .unwrap();
    let rows = recorder
        .close()
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.rows))
        .collect();
    drop(mechanism);
    Finished {
        _mechanism: std::marker::PhantomData,
        outcome,
        world,
        rows,
    }
}

impl Finished<crate::auction::Auction> {
    /// The lots closed in the run, in order.
    pub fn lots(&self) -> &[crate::auction::LotOutcome] {
        self.world
            .get_resource::<crate::auction::ClosedLots>()
            .map_or(&[], |c| c.0.as_slice())
    }
}
