//! Drivers: population traits and attributes that push a rule-based answer.
//!
//! A driver names a Big Five trait, a custom trait, a numeric attribute, or a category
//! indicator written `attribute=category`. Its value is standardised over the
//! population (z-score), so weights are comparable across drivers: a weight of 0.5
//! moves the latent score by half a standard deviation per standard deviation of the
//! driver.

use agora_core::components::{
    AttrKind, AttrValue, BIG_FIVE, Demographics, PopulationSchema, Traits,
};
use bevy_ecs::prelude::*;

use agora_core::persona::PersonaView;
use agora_core::world::Roster;

#[derive(Clone, Debug, PartialEq)]
enum Source {
    BigFive(usize),
    Custom(usize),
    Numeric(usize),
    Indicator(usize, u16),
}

/// A driver resolved against the population, with its population mean and spread.
#[derive(Clone, Debug)]
pub struct ResolvedDriver {
    source: Source,
    mean: f64,
    sd: f64,
}

impl ResolvedDriver {
    /// The driver's standardised value for one agent.
    pub fn z(&self, traits: &Traits, demographics: &Demographics) -> f64 {
        (raw(&self.source, traits, demographics) - self.mean) / self.sd
    }
}

/// Where a driver's raw value comes from, before standardisation.
#[derive(Clone, Debug)]
pub struct DriverSource(Source);

/// Resolve `name` against `schema`; `None` if no trait or attribute has that name.
pub fn resolve(name: &str, schema: &PopulationSchema) -> Option<DriverSource> {
    resolve_source(name, schema).map(DriverSource)
}

fn resolve_source(name: &str, schema: &PopulationSchema) -> Option<Source> {
    if let Some(i) = BIG_FIVE.iter().position(|t| *t == name) {
        return Some(Source::BigFive(i));
    }
    if let Some(i) = schema.custom_trait_index(name) {
        return Some(Source::Custom(i));
    }
    match name.split_once('=') {
        Some((attr, cat)) => {
            let i = schema.attribute_index(attr)?;
            match &schema.attributes[i].kind {
                AttrKind::Categorical(labels) => {
                    let c = labels.iter().position(|l| l == cat)?;
                    Some(Source::Indicator(i, u16::try_from(c).ok()?))
                }
                _ => None,
            }
        }
        None => {
            let i = schema.attribute_index(name)?;
            matches!(schema.attributes[i].kind, AttrKind::Numeric).then_some(Source::Numeric(i))
        }
    }
}

fn raw(source: &Source, traits: &Traits, demographics: &Demographics) -> f64 {
    match *source {
        Source::BigFive(i) => f64::from(traits.big_five[i]),
        Source::Custom(i) => traits.custom.get(i).copied().map_or(f64::NAN, f64::from),
        Source::Numeric(i) => match demographics.0.get(i) {
            Some(AttrValue::Number(x)) => *x,
            _ => f64::NAN,
        },
        Source::Indicator(i, c) => match demographics.0.get(i) {
            Some(AttrValue::Category(v)) if *v == c => 1.0,
            Some(AttrValue::Category(_)) => 0.0,
            _ => f64::NAN,
        },
    }
}

/// Resolve and standardise drivers over every agent of `world`.
///
/// Missing values count as the population mean (z = 0). A driver with no spread
/// (everyone equal) contributes nothing.
pub fn standardise(world: &World, sources: Vec<DriverSource>) -> Vec<ResolvedDriver> {
    let roster = world.get_resource::<Roster>().cloned().unwrap_or_default();
    let mut sums = vec![(0.0f64, 0.0f64, 0u64); sources.len()];
    for &e in &roster.0 {
        let (Some(t), Some(d)) = (world.get::<Traits>(e), world.get::<Demographics>(e)) else {
            continue;
        };
        for (s, acc) in sources.iter().zip(&mut sums) {
            let x = raw(&s.0, t, d);
            if x.is_finite() {
                acc.0 += x;
                acc.1 += x * x;
                acc.2 += 1;
            }
        }
    }
    sources
        .into_iter()
        .zip(sums)
        .map(|(s, (sum, sq, n))| {
            let n = n.max(1) as f64;
            let mean = sum / n;
            let var = (sq / n - mean * mean).max(0.0);
            let sd = if var > 1e-12 {
                var.sqrt()
            } else {
                f64::INFINITY
            };
            ResolvedDriver {
                source: s.0,
                mean,
                sd,
            }
        })
        .collect()
}

/// A driver name that matches no trait or attribute of the population, so mechanisms
/// report it the same way (each adds where the driver was named).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownDriver<'a>(pub &'a str);

impl std::fmt::Display for UnknownDriver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "driver \"{}\" names no trait or attribute of this population",
            self.0
        )
    }
}

/// Drivers resolved and standardised, each with its weight.
pub type WeightedDrivers = Vec<(ResolvedDriver, f64)>;

/// Resolve and standardise weighted drivers `(name, weight)` over every agent of
/// `world`; the error names the first driver that matches no trait or attribute.
pub fn resolve_weighted<'a>(
    world: &World,
    weighted: &'a [(String, f64)],
) -> Result<WeightedDrivers, UnknownDriver<'a>> {
    let mut each = resolve_weighted_each(world, &[weighted]).map_err(|(_, e)| e)?;
    Ok(each.pop().unwrap_or_default())
}

/// [`resolve_weighted`] for several lists of drivers (one per item, concept, ...) at
/// once: every distinct driver is standardised in one pass over the population, with
/// the same values as one list at a time. The error says which list (by index) names
/// a driver that matches no trait or attribute.
pub fn resolve_weighted_each<'a>(
    world: &World,
    lists: &[&'a [(String, f64)]],
) -> Result<Vec<WeightedDrivers>, (usize, UnknownDriver<'a>)> {
    let schema = world
        .get_resource::<PopulationSchema>()
        .cloned()
        .unwrap_or_default();
    // Per list, per driver: its index among the distinct sources.
    let mut distinct: Vec<Source> = Vec::new();
    let mut at = Vec::with_capacity(lists.len());
    for (l, list) in lists.iter().enumerate() {
        let mut indices = Vec::with_capacity(list.len());
        for (name, _) in list.iter() {
            let source = resolve_source(name, &schema).ok_or((l, UnknownDriver(name)))?;
            let i = match distinct.iter().position(|s| *s == source) {
                Some(i) => i,
                None => {
                    distinct.push(source);
                    distinct.len() - 1
                }
            };
            indices.push(i);
        }
        at.push(indices);
    }
    let resolved = standardise(world, distinct.into_iter().map(DriverSource).collect());
    Ok(lists
        .iter()
        .zip(at)
        .map(|(list, indices)| {
            list.iter()
                .zip(indices)
                .map(|((_, w), i)| (resolved[i].clone(), *w))
                .collect()
        })
        .collect())
}

/// [`resolve_weighted`] for drivers of a persona's answers: a driver the run's
/// [`PersonaView`] does not show in prompts (traits under `Demographics`, everything
/// under `None`) carries no weight, so rule-based respondents of a no-persona control
/// answer alike, as a model shown no persona would.
pub fn resolve_shown<'a>(
    world: &World,
    weighted: &'a [(String, f64)],
) -> Result<WeightedDrivers, UnknownDriver<'a>> {
    let mut each = resolve_shown_each(world, &[weighted]).map_err(|(_, e)| e)?;
    Ok(each.pop().unwrap_or_default())
}

/// [`resolve_shown`] for several lists at once, as [`resolve_weighted_each`].
pub fn resolve_shown_each<'a>(
    world: &World,
    lists: &[&'a [(String, f64)]],
) -> Result<Vec<WeightedDrivers>, (usize, UnknownDriver<'a>)> {
    let view = world
        .get_resource::<PersonaView>()
        .copied()
        .unwrap_or_default();
    let mut each = resolve_weighted_each(world, lists)?;
    for (d, w) in each.iter_mut().flatten() {
        let shown = match d.source {
            Source::BigFive(_) | Source::Custom(_) => view.shows_traits(),
            Source::Numeric(_) | Source::Indicator(..) => view.shows_attributes(),
        };
        if !shown {
            *w = 0.0;
        }
    }
    Ok(each)
}

/// Weighted sum of standardised drivers for one agent; missing values count as 0.
pub fn score(
    drivers: &[(ResolvedDriver, f64)],
    traits: &Traits,
    demographics: &Demographics,
) -> f64 {
    drivers
        .iter()
        .map(|(d, w)| {
            let z = d.z(traits, demographics);
            if z.is_finite() { w * z } else { 0.0 }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use agora_core::components::{AttributeDef, Persona};
    use agora_core::world::spawn_population;

    use super::*;

    /// Three agents: ages 20, 30, 40; regions north, south, north; openness 0.2, 0.4, 0.9.
    fn world() -> World {
        let schema = PopulationSchema {
            attributes: vec![
                AttributeDef {
                    name: "age".into(),
                    kind: AttrKind::Numeric,
                },
                AttributeDef {
                    name: "region".into(),
                    kind: AttrKind::Categorical(vec!["north".into(), "south".into()]),
                },
            ],
            custom_traits: Vec::new(),
        };
        let personas = [(20.0, 0, 0.2), (30.0, 1, 0.4), (40.0, 0, 0.9)]
            .into_iter()
            .map(|(age, region, openness)| Persona {
                demographics: Demographics(vec![
                    AttrValue::Number(age),
                    AttrValue::Category(region),
                ]),
                traits: Traits {
                    big_five: [openness, 0.5, 0.5, 0.5, 0.5],
                    custom: Vec::new(),
                },
                ..Default::default()
            })
            .collect();
        let mut world = World::new();
        spawn_population(&mut world, schema, personas, 4);
        world
    }

    fn weighted(list: &[(&str, f64)]) -> Vec<(String, f64)> {
        list.iter().map(|(n, w)| (n.to_string(), *w)).collect()
    }

    #[test]
    fn drivers_are_standardised_by_the_population_mean_and_spread() {
        let world = world();
        let drivers = resolve_shown(&world, &weighted(&[("age", 1.0)])).unwrap();
        let (d, w) = &drivers[0];
        // Ages 20, 30, 40: mean 30, population variance (100 + 0 + 100) / 3.
        assert_eq!(d.mean, 30.0);
        assert!((d.sd - (200.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(*w, 1.0);
        let region = resolve_shown(&world, &weighted(&[("region=north", 0.5)])).unwrap();
        assert!((region[0].0.mean - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn several_lists_at_once_resolve_as_each_list_alone() {
        let world = world();
        let lists = [
            weighted(&[("openness", 0.5), ("age", 1.0)]),
            weighted(&[("age", 0.3), ("region=north", 0.2), ("openness", -1.0)]),
            Vec::new(),
        ];
        let refs: Vec<&[(String, f64)]> = lists.iter().map(|l| &l[..]).collect();
        let each = resolve_shown_each(&world, &refs).unwrap();
        assert_eq!(each.len(), 3);
        for (list, got) in lists.iter().zip(&each) {
            let alone = resolve_shown(&world, list).unwrap();
            assert_eq!(got.len(), alone.len());
            for ((a, wa), (b, wb)) in got.iter().zip(&alone) {
                assert_eq!(a.source, b.source);
                assert_eq!(a.mean.to_bits(), b.mean.to_bits());
                assert_eq!(a.sd.to_bits(), b.sd.to_bits());
                assert_eq!(wa, wb);
            }
        }
    }

    #[test]
    fn an_unknown_driver_names_its_list() {
        let world = world();
        let lists = [weighted(&[("age", 1.0)]), weighted(&[("height", 1.0)])];
        let refs: Vec<&[(String, f64)]> = lists.iter().map(|l| &l[..]).collect();
        match resolve_shown_each(&world, &refs) {
            Err((1, UnknownDriver(name))) => assert_eq!(name, "height"),
            other => panic!("expected the second list's unknown driver, got {other:?}"),
        }
    }
}
