//! Snapshots: everything that changes during a run, as plain data, and back.
//!
//! State lives in one home: the ECS world, as components of agents (and of a
//! mechanism's own entities, such as a model moderator) and as resources. A
//! [`StateTypes`] list names the serializable types a run holds: the engine's own
//! (identity, demographics, traits, memory, the population schema) and those each
//! mechanism registers. [`WorldSnapshot::capture`] copies them after a round;
//! [`WorldSnapshot::restore`] rebuilds an equal world. With the event log's shared
//! events of the last round and the run's totals ([`RunSnapshot`]), that is enough to
//! continue the run exactly: random draws come from seed streams derived from
//! (round, agent, call) paths, so there is no generator position to keep.

use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::components::{AgentId, Demographics, Identity, Memory, PopulationSchema, Traits};
use crate::events::Event;
use crate::scheduler::RunOutcome;
use crate::world::Roster;

/// Why a snapshot could not be taken or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A value could not be encoded or decoded.
    #[error("snapshot of `{name}`: {source}")]
    Codec {
        /// The component or resource.
        name: String,
        /// What went wrong.
        source: serde_json::Error,
    },
    /// The snapshot names an entity that it does not hold.
    #[error("snapshot of `{name}` refers to entity {index} of {count}")]
    Entity {
        /// The component.
        name: String,
        /// The entity's position in the snapshot.
        index: usize,
        /// Entities in the snapshot.
        count: usize,
    },
}

type Save = fn(&World, &[Entity]) -> Result<Option<Value>, serde_json::Error>;
type Load = fn(&mut World, &[Entity], Value) -> Result<(), SnapshotError>;

#[derive(Clone, Copy)]
struct Entry {
    name: &'static str,
    component: bool,
    /// Set once when the population is spawned and never changed by a run.
    fixed: bool,
    save: Save,
    load: Load,
}

/// The serializable types that make up a run's state.
#[derive(Clone)]
pub struct StateTypes {
    entries: Vec<Entry>,
}

impl Default for StateTypes {
    /// The engine's own types: persona components and the population schema (fixed
    /// once the population is spawned) and memory.
    fn default() -> Self {
        let mut types = Self {
            entries: Vec::new(),
        }
        .component::<AgentId>("agent_id")
        .component::<Identity>("identity")
        .component::<Demographics>("demographics")
        .component::<Traits>("traits")
        .resource::<PopulationSchema>("population_schema");
        for entry in &mut types.entries {
            entry.fixed = true;
        }
        types.entries.push(Entry {
            name: "memory",
            component: true,
            fixed: false,
            save: save_memories,
            load: load_component::<Memory>,
        });
        types
    }
}

/// Memories an agent has not touched since it was spawned are left out: a rule-based
/// survey of a million agents keeps none, and its checkpoints stay small.
fn save_memories(world: &World, entities: &[Entity]) -> Result<Option<Value>, serde_json::Error> {
    save_held::<Memory>(world, entities, |m| !m.is_untouched())
}

fn save_component<T: Component + Serialize>(
    world: &World,
    entities: &[Entity],
) -> Result<Option<Value>, serde_json::Error> {
    save_held::<T>(world, entities, |_| true)
}

/// `(entity position, value)` of every entity holding a `T` that `keep` accepts.
fn save_held<T: Component + Serialize>(
    world: &World,
    entities: &[Entity],
    keep: fn(&T) -> bool,
) -> Result<Option<Value>, serde_json::Error> {
    let held: Vec<(usize, &T)> = if entities.len() < FEW_ENTITIES {
        entities
            .iter()
            .enumerate()
            .filter_map(|(i, &e)| world.get::<T>(e).map(|c| (i, c)))
            .filter(|(_, c)| keep(c))
            .collect()
    } else {
        // A population: one pass over the components' tables, not a lookup per entity.
        let Some(query) = world.try_query::<(Entity, &T)>() else {
            return Ok(None);
        };
        let positions = positions_of(entities);
        let mut held: Vec<(usize, &T)> = query
            .iter_manual(world)
            .filter(|(_, c)| keep(c))
            .filter_map(|(e, c)| {
                let i = *positions.get(e.index_u32() as usize)? as usize;
                (entities.get(i) == Some(&e)).then_some((i, c))
            })
            .collect();
        held.sort_unstable_by_key(|(i, _)| *i);
        held
    };
    if held.is_empty() {
        return Ok(None);
    }
    serde_json::to_value(held).map(Some)
}

/// Below this many entities a snapshot looks each one up instead of scanning tables.
const FEW_ENTITIES: usize = 64;

/// The position of each entity in `entities`, by entity index (`u32::MAX`: absent).
fn positions_of(entities: &[Entity]) -> Vec<u32> {
    let size = entities
        .iter()
        .map(|e| e.index_u32() as usize + 1)
        .max()
        .unwrap_or(0);
    let mut positions = vec![u32::MAX; size];
    for (i, e) in entities.iter().enumerate() {
        positions[e.index_u32() as usize] = i as u32;
    }
    positions
}

fn load_component<T: Component + DeserializeOwned>(
    world: &mut World,
    entities: &[Entity],
    value: Value,
) -> Result<(), SnapshotError> {
    let name = std::any::type_name::<T>();
    let held: Vec<(usize, T)> =
        serde_json::from_value(value).map_err(|source| SnapshotError::Codec {
            name: name.into(),
            source,
        })?;
    for (i, component) in held {
        let entity = *entities.get(i).ok_or_else(|| SnapshotError::Entity {
            name: name.into(),
            index: i,
            count: entities.len(),
        })?;
        world.entity_mut(entity).insert(component);
    }
    Ok(())
}

fn save_resource<R: Resource + Serialize>(
    world: &World,
    _entities: &[Entity],
) -> Result<Option<Value>, serde_json::Error> {
    world
        .get_resource::<R>()
        .map(serde_json::to_value)
        .transpose()
}

fn load_resource<R: Resource + DeserializeOwned>(
    world: &mut World,
    _entities: &[Entity],
    value: Value,
) -> Result<(), SnapshotError> {
    let resource: R = serde_json::from_value(value).map_err(|source| SnapshotError::Codec {
        name: std::any::type_name::<R>().into(),
        source,
    })?;
    world.insert_resource(resource);
    Ok(())
}

impl StateTypes {
    /// Add component `T`, stored under `name` (names are part of the snapshot format).
    pub fn component<T: Component + Serialize + DeserializeOwned>(
        mut self,
        name: &'static str,
    ) -> Self {
        self.entries.retain(|e| e.name != name);
        self.entries.push(Entry {
            name,
            component: true,
            fixed: false,
            save: save_component::<T>,
            load: load_component::<T>,
        });
        self
    }

    /// Add resource `R`, stored under `name`.
    pub fn resource<R: Resource + Serialize + DeserializeOwned>(
        mut self,
        name: &'static str,
    ) -> Self {
        self.entries.retain(|e| e.name != name);
        self.entries.push(Entry {
            name,
            component: false,
            fixed: false,
            save: save_resource::<R>,
            load: load_resource::<R>,
        });
        self
    }

    /// Names of the registered types, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// Only the types a run changes: what a checkpoint after a round must hold when
    /// the population itself is rebuilt from its seed.
    pub fn changing(&self) -> Self {
        Self {
            entries: self.entries.iter().copied().filter(|e| !e.fixed).collect(),
        }
    }
}

/// The state of a world: its entities' registered components and its resources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldSnapshot {
    /// Entities held, agents first (in id order), then the mechanism's own.
    pub entities: usize,
    /// Agents among them (the roster).
    pub agents: usize,
    /// Per registered component: `(entity position, value)` pairs; per resource: its value.
    pub values: BTreeMap<String, Value>,
}

impl WorldSnapshot {
    /// Copy the registered state of `world`.
    pub fn capture(world: &World, types: &StateTypes) -> Result<Self, SnapshotError> {
        let roster = world.get_resource::<Roster>().cloned().unwrap_or_default();
        let mut entities = roster.0.clone();
        // The mechanism's own entities: any other entity holding a registered component.
        let agents = positions_of(&roster.0);
        let is_agent = |e: &Entity| {
            agents
                .get(e.index_u32() as usize)
                .is_some_and(|&i| roster.0.get(i as usize) == Some(e))
        };
        let mut others: Vec<Entity> = world
            .iter_entities()
            .map(|e| e.id())
            .filter(|e| !is_agent(e))
            .filter(|&e| {
                types
                    .entries
                    .iter()
                    .filter(|x| x.component)
                    .any(|x| (x.save)(world, &[e]).is_ok_and(|v| v.is_some()))
            })
            .collect();
        others.sort_by_key(|e| e.index_u32());
        entities.extend(others);
        let mut values = BTreeMap::new();
        for entry in &types.entries {
            let value = (entry.save)(world, &entities).map_err(|source| SnapshotError::Codec {
                name: entry.name.into(),
                source,
            })?;
            if let Some(value) = value {
                values.insert(entry.name.to_string(), value);
            }
        }
        Ok(Self {
            entities: entities.len(),
            agents: roster.len(),
            values,
        })
    }

    /// Put the snapshot's state onto `world`, whose population (the roster's agents)
    /// was rebuilt as it was spawned: the mechanism's own entities are spawned after the
    /// agents, and every component and resource of the snapshot replaces the world's.
    pub fn apply(&self, world: &mut World, types: &StateTypes) -> Result<(), SnapshotError> {
        let mut entities = world
            .get_resource::<Roster>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        if entities.len() != self.agents {
            return Err(SnapshotError::Entity {
                name: "roster".into(),
                index: entities.len(),
                count: self.agents,
            });
        }
        while entities.len() < self.entities {
            entities.push(world.spawn_empty().id());
        }
        for entry in &types.entries {
            if let Some(value) = self.values.get(entry.name) {
                (entry.load)(world, &entities, value.clone())?;
            }
        }
        Ok(())
    }

    /// Rebuild a world holding the same state: the same entities in the same order,
    /// the same components and resources, the roster of its agents.
    pub fn restore(&self, types: &StateTypes) -> Result<World, SnapshotError> {
        let mut world = World::new();
        let entities: Vec<Entity> = (0..self.entities)
            .map(|_| world.spawn_empty().id())
            .collect();
        for entry in &types.entries {
            if let Some(value) = self.values.get(entry.name) {
                (entry.load)(&mut world, &entities, value.clone())?;
            }
        }
        world.insert_resource(Roster(entities[..self.agents.min(entities.len())].to_vec()));
        Ok(world)
    }
}

/// A run paused after a round: enough to continue it exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSnapshot {
    /// The last round played (0: only the set-up).
    pub round: u32,
    /// Whether the run is over (its end-of-run rows are written).
    #[serde(default)]
    pub finished: bool,
    /// Rows per table written so far.
    #[serde(default)]
    pub rows: BTreeMap<String, u64>,
    /// Totals so far.
    pub outcome: RunOutcome,
    /// Shared events of the last round (agents perceive them next round).
    pub events: Vec<Event>,
    /// The world's state.
    pub world: WorldSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::{AttrValue, MemoryKind, Persona};
    use crate::world::spawn_population;

    #[derive(Component, Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Moderator(u32);

    #[test]
    fn a_world_survives_a_json_round_trip_with_its_own_entities() {
        let mut world = World::new();
        let personas = (0..5)
            .map(|i| Persona {
                identity: Identity {
                    name: format!("Agent {i}"),
                    narrative: "x".into(),
                },
                demographics: Demographics(vec![AttrValue::Number(f64::from(i))]),
                ..Default::default()
            })
            .collect();
        let roster = spawn_population(&mut world, PopulationSchema::default(), personas, 8);
        world
            .get_mut::<Memory>(roster.0[2])
            .unwrap()
            .remember(1, MemoryKind::Said, "hello");
        world.spawn((Moderator(7), Memory::with_capacity(3)));
        let types = StateTypes::default().component::<Moderator>("moderator");
        let before = WorldSnapshot::capture(&world, &types).unwrap();
        assert_eq!((before.entities, before.agents), (6, 5));
        let json = serde_json::to_string(&before).unwrap();
        let restored =
            WorldSnapshot::restore(&serde_json::from_str(&json).unwrap(), &types).unwrap();
        assert_eq!(WorldSnapshot::capture(&restored, &types).unwrap(), before);
        let roster = restored.resource::<Roster>();
        assert_eq!(roster.len(), 5);
        assert_eq!(
            restored.get::<Memory>(roster.0[2]).unwrap().items().count(),
            1
        );
    }

    #[test]
    fn a_population_is_saved_in_one_pass_as_by_single_lookups() {
        // 200 agents (past FEW_ENTITIES) with the default memory capacity, every seventh
        // remembering something, and entities of the mechanism spawned before and after.
        let mut world = World::new();
        let first = world.spawn(Moderator(1)).id();
        let personas = (0..200).map(|_| Persona::default()).collect();
        let capacity = crate::components::DEFAULT_MEMORY_CAPACITY;
        let roster = spawn_population(&mut world, PopulationSchema::default(), personas, capacity);
        for (i, &agent) in roster.0.iter().enumerate().filter(|(i, _)| i % 7 == 0) {
            let mut memory = world.get_mut::<Memory>(agent).unwrap();
            memory.remember(1, MemoryKind::Said, format!("agent {i}"));
        }
        let last = world.spawn((Moderator(2), Memory::with_capacity(2))).id();
        let types = StateTypes::default().component::<Moderator>("moderator");
        let snapshot = WorldSnapshot::capture(&world, &types).unwrap();
        assert_eq!((snapshot.entities, snapshot.agents), (202, 200));
        // Every entity looked up alone, in the snapshot's order: agents, then the
        // mechanism's own by index.
        let entities: Vec<Entity> = roster.0.iter().copied().chain([first, last]).collect();
        let one_by_one: Vec<(usize, Memory)> = entities
            .iter()
            .enumerate()
            .filter_map(|(i, &e)| world.get::<Memory>(e).map(|m| (i, m.clone())))
            .filter(|(_, m)| !m.is_untouched())
            .collect();
        let saved: Vec<(usize, Memory)> =
            serde_json::from_value(snapshot.values["memory"].clone()).unwrap();
        assert_eq!(saved, one_by_one);
        // 29 agents remembered something; the last moderator's memory has its own size.
        assert_eq!(saved.len(), 30);
        assert_eq!(saved.last().map(|(i, _)| *i), Some(201));
        let agent_ids: Vec<(usize, AgentId)> =
            serde_json::from_value(snapshot.values["agent_id"].clone()).unwrap();
        assert_eq!(agent_ids.len(), 200);
        assert!(agent_ids.iter().all(|(i, id)| *i == id.0 as usize));
        let moderators: Vec<(usize, Moderator)> =
            serde_json::from_value(snapshot.values["moderator"].clone()).unwrap();
        assert_eq!(moderators, [(200, Moderator(1)), (201, Moderator(2))]);
    }
}
