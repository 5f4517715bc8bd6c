//! The persona card: how an agent's identity, attributes and traits read in a prompt.
//!
//! The card is the stable middle part of every prompt (after the fixed instructions,
//! before what changes), so the same agent's prompts share a long prefix.

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

/// Render the persona card of one agent.
pub fn persona_card(
    schema: &PopulationSchema,
    identity: &Identity,
    demographics: &Demographics,
    traits: &Traits,
) -> String {
    let mut card = format!("You are {}.", identity.name);
    if !identity.narrative.is_empty() {
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
        let card = persona_card(
            &schema,
            &Identity {
                name: "Ana Ruiz".into(),
                narrative: String::new(),
            },
            &Demographics(vec![AttrValue::Number(34.0), AttrValue::Category(0)]),
            &Traits {
                big_five: [0.9, 0.5, 0.1, 0.5, 0.3],
                custom: vec![0.7],
            },
        );
        assert!(card.starts_with("You are Ana Ruiz."), "{card}");
        assert!(card.contains("age: 34; region: north"), "{card}");
        assert!(
            card.contains("very high openness") && card.contains("very low extraversion"),
            "{card}"
        );
        assert!(card.contains("high price sensitivity"), "{card}");
    }
}
