//! Building the world: one entity per persona, visited in a fixed order.

use bevy_ecs::prelude::*;

use crate::components::{AgentId, Memory, Persona, PopulationSchema};

/// The agents of a run in [`AgentId`] order; the scheduler's canonical visiting order.
#[derive(Resource, Clone, Debug, Default)]
pub struct Roster(pub Vec<Entity>);

impl Roster {
    /// Number of agents.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no agents.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Spawn one entity per persona (ids 0..n in order) and store the schema and roster.
pub fn spawn_population(
    world: &mut World,
    schema: PopulationSchema,
    personas: Vec<Persona>,
    memory_capacity: u16,
) -> Roster {
    // One batch: the world's tables are sized once instead of growing agent by agent.
    let bundles = personas.into_iter().enumerate().map(|(i, p)| {
        let id = AgentId(u32::try_from(i).expect("populations are limited to u32::MAX agents"));
        (
            id,
            p.identity,
            p.demographics,
            p.traits,
            Memory::with_capacity(memory_capacity),
        )
    });
    let roster: Vec<Entity> = world.spawn_batch(bundles).collect();
    let roster = Roster(roster);
    world.insert_resource(schema);
    world.insert_resource(roster.clone());
    roster
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::Identity;

    #[test]
    fn agents_get_ids_in_spawn_order() {
        let mut world = World::new();
        let personas = (0..3)
            .map(|i| Persona {
                identity: Identity {
                    name: format!("A{i}"),
                    narrative: String::new(),
                },
                ..Default::default()
            })
            .collect();
        let roster = spawn_population(&mut world, PopulationSchema::default(), personas, 4);
        for (i, e) in roster.0.iter().enumerate() {
            assert_eq!(world.get::<AgentId>(*e), Some(&AgentId(i as u32)));
            assert_eq!(world.get::<Identity>(*e).unwrap().name, format!("A{i}"));
        }
    }
}
