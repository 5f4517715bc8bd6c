//! Per-run set-up: the population sampled into a world, a recorder for the run's
//! partition, and the population's own tables. The experiment, the dry run and tests
//! all start a run here.

use std::path::Path;
use std::sync::Arc;

use agora_core::record::{Recorder, RunInfo};
use agora_core::seed::SeedStream;
use agora_core::tables::{marginals_table, write_agents};
use agora_core::world::spawn_population;
use agora_export::{OutputLayout, Partition};
use agora_population::{MarginalRow, PopulationSpec, sample};
use bevy_ecs::world::World;

use crate::ExperimentError;

use agora_core::components::DEFAULT_MEMORY_CAPACITY;

/// Which run to set up.
#[derive(Clone, Debug)]
pub struct RunIdentity<'a> {
    /// Deterministic run id.
    pub run_id: &'a str,
    /// Arm name.
    pub arm: &'a str,
    /// Replicate index.
    pub replicate: u32,
    /// The experiment's base seed.
    pub seed: u64,
    /// A retest run: the replicate's people asked again, with decision seeds of its own.
    pub retest: bool,
}

/// Seed path of a retest run's decisions (its people are the replicate's).
const RETEST_SALT: u64 = 0x007e_7e57;

/// Where a resumed run's recorder continues: the first segment to write and the rows
/// each table held.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// The first segment still to write (the round after the checkpoint).
    pub segment: u32,
    /// Rows per table in the sealed segments.
    pub rows: std::collections::BTreeMap<String, u64>,
}

/// A run ready to play: its world, its recorder (population tables written) and how
/// the sampled population compares with its targets.
pub struct RunSetup {
    /// The world with one entity per agent.
    pub world: World,
    /// The run's recorder; `agents` and `population_marginals` are written.
    pub recorder: Recorder,
    /// Sampled shares and moments against the targets.
    pub marginals: Vec<MarginalRow>,
}

/// Sample `agents` agents of `population` for run `run` (arms of a replicate share the
/// replicate's seed, hence its people) and prepare its recorder below `layout`. A
/// resumed run rebuilds the same people and continues its recorder after the sealed
/// segments, without writing the population tables again.
pub fn prepare_run(
    population: &PopulationSpec,
    agents: usize,
    base_dir: &Path,
    scenario_path: &Path,
    run: &RunIdentity<'_>,
    layout: &OutputLayout,
    resume: Option<Resume>,
) -> Result<RunSetup, ExperimentError> {
    let seeds = SeedStream::for_replicate(run.seed, run.replicate);
    // Refuse populations above the maximum or beyond the machine's memory before
    // anything is sampled.
    let population_error = |source| ExperimentError::Population {
        scenario: scenario_path.to_path_buf(),
        source: Box::new(source),
    };
    agora_population::check_population(
        population,
        agents as u64,
        DEFAULT_MEMORY_CAPACITY,
        agora_population::available_memory(),
    )
    .map_err(population_error)?;
    let sampled = sample(population, agents, &seeds, base_dir).map_err(|source| {
        ExperimentError::Population {
            scenario: scenario_path.to_path_buf(),
            source: Box::new(source),
        }
    })?;
    let mut world = World::new();
    spawn_population(
        &mut world,
        sampled.schema,
        sampled.personas,
        DEFAULT_MEMORY_CAPACITY,
    );
    let info = RunInfo {
        run_id: Arc::from(run.run_id),
        partition: Partition {
            arm: run.arm.to_string(),
            replicate: run.replicate,
        },
        seeds: if run.retest {
            SeedStream::new(seeds.seed(&[RETEST_SALT]))
        } else {
            seeds
        },
    };
    let recorder = match resume {
        Some(resume) => Recorder::resuming(layout.clone(), info, resume.segment, resume.rows),
        None => {
            let mut recorder = Recorder::new(layout.clone(), info);
            write_agents(&world, &mut recorder)?;
            write_marginals(&mut recorder, &sampled.marginals)?;
            recorder
        }
    };
    Ok(RunSetup {
        world,
        recorder,
        marginals: sampled.marginals,
    })
}

fn write_marginals(
    recorder: &mut Recorder,
    rows: &[MarginalRow],
) -> Result<(), agora_export::ExportError> {
    let table = recorder.open(marginals_table())?;
    for m in rows {
        recorder
            .row(table, 0, None)?
            .str(&m.attribute)
            .str(&m.level)
            .f64(m.target)
            .f64(m.observed)
            .end();
    }
    Ok(())
}
