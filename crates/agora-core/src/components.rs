//! Plain-data components that make up a persona agent.
//!
//! Every component is serde-serializable so a world can be checkpointed and restored
//! (see [`crate::checkpoint`]). Attribute and trait *names* live once in the
//! [`PopulationSchema`] resource; agents store compact values indexed by it, which keeps
//! a million-agent world small.

use std::borrow::Cow;

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

/// Stable identifier of an agent inside one run: its index in spawn order.
///
/// Tables use it as the `agent_id` key and the scheduler visits agents in its order,
/// which is what makes rounds deterministic.
#[derive(
    Component, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct AgentId(pub u32);

/// Who the agent is: a display name and an optional short narrative for its persona card.
#[derive(Component, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Name the agent is addressed by in prompts and shown in tables.
    pub name: String,
    /// Free-form background sentence(s); empty when the population gives none.
    pub narrative: String,
}

/// One attribute value; what it means is given by the matching [`AttributeDef`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    /// Index into the attribute's category list.
    Category(u16),
    /// A real-valued attribute (age in years, income, ...).
    Number(f64),
    /// Free text (imported populations may carry it).
    Text(Box<str>),
    /// The value is unknown (an imported row left it empty).
    Missing,
}

/// Demographic attributes of one agent, aligned with [`PopulationSchema::attributes`].
#[derive(Component, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Demographics(pub Vec<AttrValue>);

/// The Big Five personality dimensions, in this fixed order.
pub const BIG_FIVE: [&str; 5] = [
    "openness",
    "conscientiousness",
    "extraversion",
    "agreeableness",
    "neuroticism",
];

/// Personality: the Big Five on 0..1 plus named custom traits (names in the schema).
#[derive(Component, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Traits {
    /// Openness, conscientiousness, extraversion, agreeableness, neuroticism; each in 0..1.
    pub big_five: [f32; 5],
    /// Values of [`PopulationSchema::custom_traits`], in the same order.
    pub custom: Vec<f32>,
}

impl Default for Traits {
    fn default() -> Self {
        Self {
            big_five: [0.5; 5],
            custom: Vec::new(),
        }
    }
}

/// Whether the agent itself saw, said or thought a remembered thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemoryKind {
    /// Something the agent perceived.
    Saw,
    /// Something the agent said or did in public.
    Said,
    /// A private answer or thought.
    Thought,
}

/// Items an agent's memory holds unless its mechanism asks for more.
pub const DEFAULT_MEMORY_CAPACITY: u16 = 32;

/// One remembered item: an event already projected to the agent's own point of view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryItem {
    /// Round in which it happened.
    pub round: u32,
    /// Saw, said or thought.
    pub kind: MemoryKind,
    /// The text as the agent would recall it ("You answered ...").
    pub text: Box<str>,
}

/// Episodic memory: a bounded list of items plus a count of what fell out of it.
///
/// The list keeps the newest `capacity` items; older ones are counted in `forgotten`
/// so the rendering can say that earlier history exists.
///
/// For long conversations, older items can be *consolidated*: a summary (written by a
/// model call of the mechanism) stands for the oldest items folded into it, and
/// [`Memory::render_within`] shows that summary, the items most relevant to the
/// current question, and the most recent items verbatim, within a fixed size.
#[derive(Component, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub(crate) items: std::collections::VecDeque<MemoryItem>,
    capacity: u16,
    pub(crate) forgotten: u32,
    #[serde(default)]
    pub(crate) summary: String,
    #[serde(default)]
    pub(crate) consolidated: u64,
}

impl Default for Memory {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }
}

impl Memory {
    /// An empty memory that keeps at most `capacity` items verbatim.
    pub fn with_capacity(capacity: u16) -> Self {
        Self {
            items: Default::default(),
            capacity: capacity.max(1),
            forgotten: 0,
            summary: String::new(),
            consolidated: 0,
        }
    }

    /// Remember one item, dropping the oldest when full.
    pub fn remember(&mut self, round: u32, kind: MemoryKind, text: impl Into<Box<str>>) {
        if self.items.len() >= usize::from(self.capacity) {
            self.items.pop_front();
            self.forgotten += 1;
        }
        self.items.push_back(MemoryItem {
            round,
            kind,
            text: text.into(),
        });
    }

    /// Whether nothing was ever remembered and the capacity is the default one.
    pub fn is_untouched(&self) -> bool {
        // Checked for every agent at every checkpoint: compared field by field with what
        // `Memory::default()` holds, without building one.
        self.items.is_empty()
            && self.forgotten == 0
            && self.summary.is_empty()
            && self.consolidated == 0
            && self.capacity == DEFAULT_MEMORY_CAPACITY
    }

    /// The items still held verbatim, oldest first.
    pub fn items(&self) -> impl ExactSizeIterator<Item = &MemoryItem> {
        self.items.iter()
    }

    /// How many items have fallen out of the verbatim window.
    pub fn forgotten(&self) -> u32 {
        self.forgotten
    }

    /// Render the newest items that fit in `max_chars`, oldest first, one per line.
    ///
    /// The result never exceeds `max_chars` bytes however long the history is; items
    /// that do not fit are summarised by a count line.
    pub fn render(&self, max_chars: usize) -> String {
        let mut picked: Vec<&MemoryItem> = Vec::new();
        let mut used = 0usize;
        for item in self.items.iter().rev() {
            let cost = item.text.len() + 1;
            if used + cost > max_chars {
                break;
            }
            used += cost;
            picked.push(item);
        }
        let omitted = self.forgotten as usize + self.items.len() - picked.len();
        let mut out = String::with_capacity(used + 48);
        if omitted > 0 {
            let note = format!("({omitted} earlier items not shown)\n");
            if used + note.len() <= max_chars {
                out.push_str(&note);
            }
        }
        for item in picked.iter().rev() {
            out.push_str(&item.text);
            out.push('\n');
        }
        out
    }
}

/// What kind of value an attribute holds, and for categories, which ones exist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AttrKind {
    /// One of a fixed list of labels.
    Categorical(Vec<String>),
    /// A real number.
    Numeric,
    /// Free text.
    Text,
}

/// Name and kind of one demographic attribute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributeDef {
    /// Attribute name as used in scenarios and tables ("age", "region", ...).
    pub name: String,
    /// Value kind.
    pub kind: AttrKind,
}

/// The population's vocabulary: which attributes and custom traits every agent carries.
///
/// Stored once as a world resource; [`Demographics`] and [`Traits::custom`] are aligned
/// with it.
#[derive(Resource, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PopulationSchema {
    /// Demographic attributes, in column order.
    pub attributes: Vec<AttributeDef>,
    /// Names of custom traits, in the order of [`Traits::custom`].
    pub custom_traits: Vec<String>,
}

impl PopulationSchema {
    /// Index of the attribute called `name`.
    pub fn attribute_index(&self, name: &str) -> Option<usize> {
        self.attributes.iter().position(|a| a.name == name)
    }

    /// Index of the custom trait called `name`.
    pub fn custom_trait_index(&self, name: &str) -> Option<usize> {
        self.custom_traits.iter().position(|t| t == name)
    }

    /// The label of category `c` of attribute `index`, without allocating.
    pub fn category_label(&self, index: usize, c: u16) -> Option<&str> {
        match &self.attributes.get(index)?.kind {
            AttrKind::Categorical(labels) => labels.get(usize::from(c)).map(String::as_str),
            _ => None,
        }
    }

    /// Human-readable form of an agent's value for attribute `index` (a category's
    /// label and a text are borrowed, not copied).
    pub fn display_value<'a>(&'a self, index: usize, value: &'a AttrValue) -> Cow<'a, str> {
        match (value, self.attributes.get(index).map(|a| &a.kind)) {
            (AttrValue::Category(c), Some(AttrKind::Categorical(labels))) => {
                labels.get(usize::from(*c)).map_or_else(
                    || Cow::Owned(format!("#{c}")),
                    |l| Cow::Borrowed(l.as_str()),
                )
            }
            (AttrValue::Category(c), _) => Cow::Owned(format!("#{c}")),
            (AttrValue::Number(x), _) => Cow::Owned(format_number(*x)),
            (AttrValue::Text(t), _) => Cow::Borrowed(t),
            (AttrValue::Missing, _) => Cow::Borrowed("unknown"),
        }
    }
}

/// Format a number without a trailing `.0` for whole values (ages, counts).
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.2}")
    }
}

/// Everything a population sampler produces for one agent; spawned as one entity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Persona {
    /// Name and narrative.
    pub identity: Identity,
    /// Attribute values aligned with the schema.
    pub demographics: Demographics,
    /// Personality traits.
    pub traits: Traits,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_default_memory_nothing_was_put_in_is_untouched() {
        assert!(Memory::default().is_untouched());
        assert!(Memory::with_capacity(DEFAULT_MEMORY_CAPACITY).is_untouched());
        assert!(!Memory::with_capacity(5).is_untouched());
        let mut memory = Memory::default();
        memory.remember(1, MemoryKind::Thought, "an answer");
        assert!(!memory.is_untouched());
    }
}
