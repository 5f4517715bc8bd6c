//! Turning a [`PopulationSpec`] into personas.
//!
//! Attributes are sampled column by column in declaration order, each from its own seed
//! stream, so sampling is fast and the draws of one column never depend on another
//! column's parameters (only a `Conditional` attribute reads
//! its parent's values). Streams are keyed by name: path
//! `[purpose::POPULATION, kind, fnv1a(name)]` with kind 1 for attribute values, 2 for
//! custom traits, and `[purpose::POPULATION, 3]` for the Big Five and
//! `[purpose::POPULATION, 4]` for names. Adding, removing or reordering an attribute
//! therefore leaves every other column unchanged. Large populations draw traits while
//! the attribute columns are drawn and assemble personas on several threads; each
//! persona depends only on its index, so results do not depend on the thread count.

use std::collections::HashSet;
use std::path::Path;

use agora_core::components::{
    AttrKind, AttrValue, AttributeDef, Demographics, Identity, Persona, PopulationSchema, Traits,
};
use agora_core::seed::{SeedStream, purpose};

use crate::dist::Dist;
use crate::draw::{CategoryDraw, NumericSampler, Post};
use crate::error::PopulationError;
use crate::import::{self, ImportedRow};
use crate::marginals::{self, MarginalRow};
use crate::names::NameGenerator;
use crate::quota;
use crate::spec::PopulationSpec;
use crate::validate::SpecIssue;

/// Stream kind of an attribute's values.
const STREAM_ATTRIBUTE: u64 = 1;
/// Stream kind of a custom trait's values.
const STREAM_TRAIT: u64 = 2;
/// Stream of the Big Five traits.
const STREAM_BIG_FIVE: u64 = 3;
/// Stream of the name order.
const STREAM_NAMES: u64 = 4;

/// A population ready to spawn, with its schema and a check against the spec.
#[derive(Clone, Debug, PartialEq)]
pub struct SampledPopulation {
    /// Attribute and custom trait names; every persona's values are aligned with it.
    pub schema: PopulationSchema,
    /// One persona per agent, in agent-id order.
    pub personas: Vec<Persona>,
    /// Target versus observed shares and moments.
    pub marginals: Vec<MarginalRow>,
}

/// Produce `n` personas from `spec`, reproducibly from `seed`.
///
/// Samples attributes, Big Five and custom traits, or reads them from `spec.import`
/// (a relative import path is resolved against `base_dir`, normally the scenario
/// file's folder; traits missing from the file are sampled). Every persona gets a
/// unique name and a one-line narrative listing its attributes. The same spec, `n` and
/// seed always give identical personas.
///
/// # Errors
/// `n == 0`, a spec that fails [`PopulationSpec::validate`], or an unreadable or
/// inconsistent import file.
pub fn sample(
    spec: &PopulationSpec,
    n: usize,
    seed: &SeedStream,
    base_dir: &Path,
) -> Result<SampledPopulation, PopulationError> {
    if n == 0 {
        return Err(PopulationError::EmptyPopulation);
    }
    spec.validate().map_err(PopulationError::InvalidSpec)?;
    let mut schema = PopulationSchema {
        attributes: Vec::new(),
        custom_traits: spec.custom_traits.iter().map(|t| t.name.clone()).collect(),
    };
    let mut names = NameGenerator::new(&mut seed.rng(&[purpose::POPULATION, STREAM_NAMES]));
    // Traits and attribute columns use separate streams: draw them concurrently.
    let (traits, columns) = join(
        n >= PARALLEL_MIN,
        || sample_traits(spec, n, seed),
        || match spec.import {
            None => sample_columns(spec, n, seed).map(Some),
            Some(_) => Ok(None),
        },
    );
    let (big_five, custom) = traits?;
    let traits = |i: usize| Traits {
        big_five: big_five[i],
        custom: custom.iter().map(|c| c[i]).collect(),
    };
    let personas: Vec<Persona> = match (&spec.import, columns?) {
        (Some(source), _) => {
            let imported = import::load(spec, source, n, base_dir)?;
            schema.attributes = imported.attributes;
            let taken: HashSet<String> = imported
                .rows
                .iter()
                .filter_map(|r| r.name.clone())
                .collect();
            imported
                .rows
                .into_iter()
                .enumerate()
                .map(|(i, row)| {
                    let ImportedRow {
                        name,
                        narrative,
                        demographics,
                        big_five: b5,
                        custom: c,
                    } = row;
                    let mut t = traits(i);
                    for (slot, v) in t.big_five.iter_mut().zip(b5) {
                        *slot = v.unwrap_or(*slot);
                    }
                    for (slot, v) in t.custom.iter_mut().zip(c) {
                        *slot = v.unwrap_or(*slot);
                    }
                    let name = name.unwrap_or_else(|| names.next_name(&taken));
                    persona(name, narrative, Demographics(demographics), t)
                })
                .collect()
        }
        (None, columns) => {
            let columns = columns.unwrap_or_default();
            schema.attributes = spec
                .attributes
                .iter()
                .map(|a| AttributeDef {
                    name: a.name.clone(),
                    kind: match a.dist.categories() {
                        Some(labels) => {
                            AttrKind::Categorical(labels.iter().map(|l| l.to_string()).collect())
                        }
                        None => AttrKind::Numeric,
                    },
                })
                .collect();
            assemble(n, |i| {
                let demographics = Demographics(columns.iter().map(|c| c.value(i)).collect());
                persona(names.name(i), None, demographics, traits(i))
            })
        }
    };
    let marginals = marginals::report(spec, &schema, &personas);
    Ok(SampledPopulation {
        schema,
        personas,
        marginals,
    })
}

/// Populations at least this large are assembled on several threads.
const PARALLEL_MIN: usize = 20_000;

/// Run `a` and `b`, on two threads when `parallel`.
fn join<A: Send, B>(parallel: bool, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    if !parallel {
        return (a(), b());
    }
    std::thread::scope(|s| {
        let a = s.spawn(a);
        let b = b();
        let a = a
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}

/// Build persona `i` for every `i < n` with `make`, in chunks on up to the available
/// cores. Each persona depends only on its index, so the result does not depend on the
/// number of threads.
fn assemble(n: usize, make: impl Fn(usize) -> Persona + Sync) -> Vec<Persona> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(8);
    if threads <= 1 || n < PARALLEL_MIN {
        return (0..n).map(make).collect();
    }
    let mut personas = Vec::new();
    personas.resize_with(n, Persona::default);
    let chunk = n.div_ceil(threads);
    let make = &make;
    std::thread::scope(|s| {
        for (c, slice) in personas.chunks_mut(chunk).enumerate() {
            s.spawn(move || {
                for (k, p) in slice.iter_mut().enumerate() {
                    *p = make(c * chunk + k);
                }
            });
        }
    });
    personas
}

/// Big Five rows and one column per custom trait.
type TraitDraws = (Vec<[f32; 5]>, Vec<Vec<f32>>);

fn sample_traits(
    spec: &PopulationSpec,
    n: usize,
    seed: &SeedStream,
) -> Result<TraitDraws, PopulationError> {
    let big_five = spec
        .big_five
        .sample(n, &mut seed.rng(&[purpose::POPULATION, STREAM_BIG_FIVE]));
    let custom = spec
        .custom_traits
        .iter()
        .map(|t| {
            let post = Post {
                round: None,
                clamp01: true,
            };
            let sampler = numeric_sampler(t.dist.dist(), post, &t.name)?;
            let mut rng = seed.rng(&[purpose::POPULATION, STREAM_TRAIT, name_key(&t.name)]);
            Ok((0..n)
                .map(|_| sampler.sample(&mut rng) as f32)
                .collect::<Vec<f32>>())
        })
        .collect::<Result<Vec<_>, PopulationError>>()?;
    Ok((big_five, custom))
}

/// A persona from its parts. Sampled personas carry no narrative of their own: the
/// persona card already states every attribute, and repeating them would double the
/// card's length and the memory of large populations. Imported rows may bring one.
fn persona(
    name: String,
    narrative: Option<String>,
    demographics: Demographics,
    traits: Traits,
) -> Persona {
    Persona {
        identity: Identity {
            name,
            narrative: narrative.unwrap_or_default(),
        },
        demographics,
        traits,
    }
}

/// One attribute's values for every agent.
enum Column {
    Numeric(Vec<f64>),
    Categorical(Vec<u16>),
}

impl Column {
    fn value(&self, i: usize) -> AttrValue {
        match self {
            Column::Numeric(v) => AttrValue::Number(v[i]),
            Column::Categorical(v) => AttrValue::Category(v[i]),
        }
    }
}

fn sample_columns(
    spec: &PopulationSpec,
    n: usize,
    seed: &SeedStream,
) -> Result<Vec<Column>, PopulationError> {
    let mut columns: Vec<Column> = Vec::with_capacity(spec.attributes.len());
    for attr in &spec.attributes {
        let mut rng = seed.rng(&[purpose::POPULATION, STREAM_ATTRIBUTE, name_key(&attr.name)]);
        let quota = spec.quotas.contains(&attr.name);
        let column = match &attr.dist {
            Dist::Categorical(c) => {
                let shares = c.shares();
                Column::Categorical(if quota {
                    quota::assign(n, &shares, &mut rng)
                } else {
                    let draw = CategoryDraw::new(&shares);
                    (0..n).map(|_| draw.sample(&mut rng)).collect()
                })
            }
            Dist::Conditional { given, table } => {
                let inconsistent = || {
                    internal(
                        &attr.name,
                        "its Conditional table does not match the given attribute",
                    )
                };
                let parent_index = spec
                    .attributes
                    .iter()
                    .position(|a| &a.name == given)
                    .ok_or_else(inconsistent)?;
                let (Some(Column::Categorical(parent)), Some(parent_labels), Some(child_labels)) = (
                    columns.get(parent_index),
                    spec.attributes[parent_index].dist.categories(),
                    attr.dist.categories(),
                ) else {
                    return Err(inconsistent());
                };
                // Child shares per parent category, aligned with the child labels.
                let mut rows: Vec<Vec<f64>> = Vec::with_capacity(parent_labels.len());
                for label in &parent_labels {
                    let (_, row) = table
                        .iter()
                        .find(|(l, _)| l == label)
                        .ok_or_else(inconsistent)?;
                    let shares = row.shares();
                    let aligned = child_labels
                        .iter()
                        .map(|c| row.position(c).map(|k| shares[k]))
                        .collect::<Option<Vec<f64>>>()
                        .ok_or_else(inconsistent)?;
                    rows.push(aligned);
                }
                Column::Categorical(if quota {
                    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
                    for (i, &p) in parent.iter().enumerate() {
                        groups[usize::from(p)].push(i);
                    }
                    let mut out = vec![0u16; n];
                    for (members, shares) in groups.iter().zip(&rows) {
                        for (&i, label) in
                            members
                                .iter()
                                .zip(quota::assign(members.len(), shares, &mut rng))
                        {
                            out[i] = label;
                        }
                    }
                    out
                } else {
                    let draws: Vec<CategoryDraw> =
                        rows.iter().map(|r| CategoryDraw::new(r)).collect();
                    parent
                        .iter()
                        .map(|&p| draws[usize::from(p)].sample(&mut rng))
                        .collect()
                })
            }
            numeric => {
                let post = Post::rounding(attr.round && !numeric.is_integer(), numeric.bounds());
                let sampler = numeric_sampler(numeric, post, &attr.name)?;
                Column::Numeric((0..n).map(|_| sampler.sample(&mut rng)).collect())
            }
        };
        columns.push(column);
    }
    Ok(columns)
}

fn numeric_sampler(dist: &Dist, post: Post, name: &str) -> Result<NumericSampler, PopulationError> {
    match NumericSampler::new(dist, post) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(internal(name, "a numeric distribution was expected")),
        Err(e) => Err(PopulationError::InvalidSpec(vec![SpecIssue::from_check(
            &e,
            format!("{name:?}"),
        )])),
    }
}

/// An error for a spec that passed validation yet cannot be sampled (a bug).
fn internal(name: &str, what: &str) -> PopulationError {
    PopulationError::InvalidSpec(vec![SpecIssue::new(
        format!("attribute {name:?} cannot be sampled: {what}"),
        "check the attribute's definition; this should have been caught by validation, please report it",
        format!("{name:?}"),
    )])
}

/// FNV-1a hash of a name: the stable stream key of an attribute or trait.
fn name_key(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
