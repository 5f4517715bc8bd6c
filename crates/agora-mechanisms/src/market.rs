//! Helpers shared by the market-research mechanisms (conjoint, MaxDiff, price tests,
//! concept tests): respondents by roster position, segments, persona cards.

use std::collections::HashMap;

use agora_core::components::{AttrKind, AttrValue, Demographics, PopulationSchema};
use agora_core::world::Roster;
use bevy_ecs::prelude::*;

/// Segment value of every respondent for a categorical attribute of the population.
#[derive(Clone, Debug)]
pub struct Segmentation {
    /// The attribute's name.
    pub attribute: String,
    /// Category labels, in the attribute's order.
    pub labels: Vec<String>,
    /// Per respondent (roster position), the index into `labels`, if known.
    pub of: Vec<Option<u16>>,
}

impl Segmentation {
    /// The segment's name as written in tables: `attribute=label`.
    pub fn name(&self, label: usize) -> String {
        format!("{}={}", self.attribute, self.labels[label])
    }

    /// Respondents (roster positions) in category `label`.
    pub fn members(&self, label: usize) -> impl Iterator<Item = usize> + '_ {
        self.of
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.map(usize::from) == Some(label))
            .map(|(i, _)| i)
    }
}

/// The roster of `world` (agents in id order).
pub fn roster(world: &World) -> Vec<Entity> {
    world
        .get_resource::<Roster>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// Each agent's position in the roster, the respondent number of the instruments.
pub fn positions(roster: &[Entity]) -> HashMap<Entity, u32> {
    roster
        .iter()
        .enumerate()
        .map(|(i, &e)| (e, i as u32))
        .collect()
}

/// Resolve `names` as categorical attributes of the population and read every
/// respondent's category; the error names the first that is not a categorical attribute.
pub fn segmentations(
    world: &World,
    roster: &[Entity],
    names: &[String],
) -> Result<Vec<Segmentation>, String> {
    let schema = world
        .get_resource::<PopulationSchema>()
        .cloned()
        .unwrap_or_default();
    names
        .iter()
        .map(|name| {
            let index = schema.attribute_index(name).ok_or_else(|| {
                format!("segment \"{name}\" names no attribute of the population; name a categorical attribute such as \"region\"")
            })?;
            let AttrKind::Categorical(labels) = &schema.attributes[index].kind else {
                return Err(format!(
                    "segment \"{name}\" is not a categorical attribute; segments split respondents by category"
                ));
            };
            let of = roster
                .iter()
                .map(|&e| match world.get::<Demographics>(e).and_then(|d| d.0.get(index)) {
                    Some(AttrValue::Category(c)) => Some(*c),
                    _ => None,
                })
                .collect();
            Ok(Segmentation {
                attribute: name.clone(),
                labels: labels.clone(),
                of,
            })
        })
        .collect()
}

/// The persona card of `agent`, or `None` when it is not a persona of the population.
pub fn card(world: &World, agent: Entity) -> Option<String> {
    agora_core::persona::persona_card_of(world, agent)
}

/// The first value listed twice, if any.
pub fn first_duplicate(values: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .find(|v| !seen.insert(v.as_str()))
        .map(String::as_str)
}

/// Write a price with its currency: `$12.5` (prefix) or `12.5 EUR` (a word).
pub fn money(currency: &str, price: f64) -> String {
    let number = agora_core::components::format_number(price);
    if currency.chars().all(|c| c.is_alphabetic()) && !currency.is_empty() {
        format!("{number} {currency}")
    } else {
        format!("{currency}{number}")
    }
}
