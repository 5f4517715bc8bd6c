//! Checkpoints: a world's agents as plain serializable data, and back.

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::{
    AgentId, Demographics, Identity, Memory, Opinions, PopulationSchema, Traits,
};
use crate::world::Roster;

/// Every component of one agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    /// Agent id.
    pub id: AgentId,
    /// Name and narrative.
    pub identity: Identity,
    /// Attribute values.
    pub demographics: Demographics,
    /// Personality.
    pub traits: Traits,
    /// Beliefs.
    pub opinions: Opinions,
    /// Episodic memory.
    pub memory: Memory,
}

/// A world's agents and schema, in roster order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldSnapshot {
    /// Round after which the snapshot was taken.
    pub round: u32,
    /// The population's vocabulary.
    pub schema: PopulationSchema,
    /// The agents.
    pub agents: Vec<AgentSnapshot>,
}

/// Capture the agents of `world` (spawned by [`crate::world::spawn_population`]).
pub fn snapshot(world: &World, round: u32) -> WorldSnapshot {
    let roster = world.get_resource::<Roster>().cloned().unwrap_or_default();
    let agents = roster
        .0
        .iter()
        .filter_map(|&e| {
            Some(AgentSnapshot {
                id: *world.get::<AgentId>(e)?,
                identity: world.get::<Identity>(e)?.clone(),
                demographics: world.get::<Demographics>(e)?.clone(),
                traits: world.get::<Traits>(e)?.clone(),
                opinions: world.get::<Opinions>(e)?.clone(),
                memory: world.get::<Memory>(e)?.clone(),
            })
        })
        .collect();
    WorldSnapshot {
        round,
        schema: world
            .get_resource::<PopulationSchema>()
            .cloned()
            .unwrap_or_default(),
        agents,
    }
}

/// Rebuild a world from a snapshot: same ids, same order, same components.
pub fn restore(snapshot: WorldSnapshot) -> World {
    let mut world = World::new();
    let mut roster = Vec::with_capacity(snapshot.agents.len());
    for a in snapshot.agents {
        roster.push(
            world
                .spawn((
                    a.id,
                    a.identity,
                    a.demographics,
                    a.traits,
                    a.opinions,
                    a.memory,
                ))
                .id(),
        );
    }
    world.insert_resource(snapshot.schema);
    world.insert_resource(Roster(roster));
    world
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::{AttrValue, MemoryKind, Persona};
    use crate::world::spawn_population;

    #[test]
    fn a_world_survives_a_json_round_trip() {
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
        let before = snapshot(&world, 1);
        let json = serde_json::to_string(&before).unwrap();
        let restored = restore(serde_json::from_str(&json).unwrap());
        assert_eq!(snapshot(&restored, 1), before);
    }
}
