//! The persona card: how an agent's identity, attributes and traits read in a prompt.
//!
//! The card is the stable middle part of every prompt (after the fixed instructions,
//! before what changes), so the same agent's prompts share a long prefix.

use bevy_ecs::prelude::{Entity, Resource, World};
use serde::{Deserialize, Serialize};

use crate::components::{BIG_FIVE, Demographics, Identity, PopulationSchema, Traits};

/// Words for a 0..1 trait score, in five bands.
pub fn trait_level(score: f32) -> &'static str {
    match score {
        s if s < 0.2 => "very low",
        s if s < 0.4 => "low",
        s if s < 0.6 => "moderate",
        s if s < 0.8 => "high",
        _ => "very high",
    }
}

/// How much of the persona a run's prompts show: an arm's treatment.
///
/// `Full` shows the name, narrative, attributes and personality; `Demographics` the
/// name and attributes only; `None` nothing at all (the no-persona control: the model
/// answers as itself). The rule-based backend follows the same view: drivers the
/// prompt does not show carry no weight (see the mechanisms' drivers).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PersonaView {
    /// Everything the persona has.
    #[default]
    Full,
    /// Name and attributes, no personality traits.
    Demographics,
    /// No persona at all.
    None,
}

impl PersonaView {
    /// The view's name as written in scenarios and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonaView::Full => "Full",
            PersonaView::Demographics => "Demographics",
            PersonaView::None => "None",
        }
    }

    /// Whether prompts show the personality traits (Big Five and custom traits).
    pub fn shows_traits(self) -> bool {
        self == PersonaView::Full
    }

    /// Whether prompts show the attributes (demographics).
    pub fn shows_attributes(self) -> bool {
        self != PersonaView::None
    }
}

/// The persona card of `agent` as the run's [`PersonaView`] (a world resource; `Full`
/// when absent) shows it; `None` when the agent lacks its persona components.
pub fn persona_card_of(world: &World, agent: Entity) -> Option<String> {
    let view = world
        .get_resource::<PersonaView>()
        .copied()
        .unwrap_or_default();
    let schema = world.get_resource::<PopulationSchema>()?;
    let identity = world.get::<Identity>(agent)?;
    let demographics = world.get::<Demographics>(agent)?;
    let traits = world.get::<Traits>(agent)?;
    Some(persona_card(schema, identity, demographics, traits, view))
}

/// Render the persona card of one agent as `view` shows it (empty for
/// [`PersonaView::None`]).
pub fn persona_card(
    schema: &PopulationSchema,
    identity: &Identity,
    demographics: &Demographics,
    traits: &Traits,
    view: PersonaView,
) -> String {
    if view == PersonaView::None {
        return String::new();
    }
    let mut card = format!("You are {}.", identity.name);
    if !identity.narrative.is_empty() && view.shows_traits() {
        card.push(' ');
        card.push_str(&identity.narrative);
    }
    let facts: Vec<String> = demographics
        .0
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let def = schema.attributes.get(i)?;
            Some(format!(
                "{}: {}",
                def.name.replace('_', " "),
                schema.display_value(i, v)
            ))
        })
        .collect();
    if !facts.is_empty() {
        card.push_str("\nAbout you: ");
        card.push_str(&facts.join("; "));
        card.push('.');
    }
    if !view.shows_traits() {
        return card;
    }
    let personality: Vec<String> = BIG_FIVE
        .iter()
        .zip(traits.big_five)
        .map(|(name, v)| format!("{} {name}", trait_level(v)))
        .chain(
            schema
                .custom_traits
                .iter()
                .zip(&traits.custom)
                .map(|(name, v)| format!("{} {}", trait_level(*v), name.replace('_', " "))),
        )
        .collect();
    card.push_str("\nYour personality: ");
    card.push_str(&personality.join(", "));
    card.push('.');
    card
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::{AttrKind, AttrValue, AttributeDef};

    #[test]
    fn the_card_names_the_agent_its_attributes_and_traits() {
        let schema = PopulationSchema {
            attributes: vec![
                AttributeDef {
                    name: "age".into(),
                    kind: AttrKind::Numeric,
                },
                AttributeDef {
                    name: "region".into(),
                    kind: AttrKind::Categorical(vec!["north".into()]),
                },
            ],
            custom_traits: vec!["price_sensitivity".into()],
        };
        let card = |view| {
            persona_card(
                &schema,
                &Identity {
                    name: "Ana Ruiz".into(),
                    narrative: "She teaches.".into(),
                },
                &Demographics(vec![AttrValue::Number(34.0), AttrValue::Category(0)]),
                &Traits {
                    big_five: [0.9, 0.5, 0.1, 0.5, 0.3],
                    custom: vec![0.7],
                },
                view,
            )
        };
        let full = card(PersonaView::Full);
        assert!(full.starts_with("You are Ana Ruiz. She teaches."), "{full}");
        assert!(full.contains("age: 34; region: north"), "{full}");
        assert!(
            full.contains("very high openness") && full.contains("very low extraversion"),
            "{full}"
        );
        assert!(full.contains("high price sensitivity"), "{full}");
        assert_eq!(
            card(PersonaView::Demographics),
            "You are Ana Ruiz.\nAbout you: age: 34; region: north."
        );
        assert_eq!(card(PersonaView::None), "");
    }
}
