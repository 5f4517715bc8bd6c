//! Population sampling for Agora: who the simulated agents are.
//!
//! A scenario describes its population with a [`PopulationSpec`] (RON): attribute
//! distributions, exact quotas, Big Five personality, custom traits, or a CSV/JSONL
//! file to import. [`sample`] turns the spec into [`Persona`](agora_core::components::Persona)s
//! reproducibly from a seed stream, together with the [`PopulationSchema`](agora_core::components::PopulationSchema)
//! that names their attributes and a [`MarginalRow`] report comparing the population
//! with the spec.
//!
//! Problems are reported as early and as precisely as possible: per-value checks run
//! during deserialization (so the RON parser gives line and column), cross-field checks
//! in [`PopulationSpec::validate`] (with a needle to locate them), import problems with
//! file, line and column. [`check_population`] refuses populations above
//! [`MAX_POPULATION`] or beyond a share of the machine's memory before sampling, and
//! imports are bounded in size, columns and line length. Every message says what is wrong, then after
//! [`HINT_SEPARATOR`] how to fix it.

#![warn(missing_docs)]

mod bigfive;
mod categories;
mod dist;
mod draw;
mod error;
pub mod graph;
mod import;
mod limits;
mod marginals;
mod moments;
mod names;
mod quota;
mod sampler;
pub mod spec;
mod validate;

pub use bigfive::{BigFiveSpec, Correlation};
pub use categories::{Categories, MAX_CATEGORIES, WEIGHT_TOLERANCE};
pub use dist::{Dist, MAX_POISSON_LAMBDA, MIN_TRUNCATED_MASS};
pub use draw::MAX_TRUNCATION_TRIES;
pub use error::{HINT_SEPARATOR, ImportError, PopulationError, split_hint};
pub use import::check_import;
pub use limits::{
    MAX_IMPORT_BYTES, MAX_IMPORT_COLUMNS, MAX_IMPORT_LINE_BYTES, MAX_POPULATION,
    MEMORY_SHARE_PERCENT, MemoryEstimate, available_memory, bytes_per_agent, check_population,
    parse_mem_available,
};
pub use marginals::MarginalRow;
pub use quota::largest_remainder;
pub use sampler::{SampledPopulation, sample};
pub use spec::{
    AttributeSpec, CustomTraitSpec, DEFAULT_SIZE, ImportFormat, ImportSpec, PopulationSpec,
    TraitDist,
};
pub use validate::SpecIssue;
