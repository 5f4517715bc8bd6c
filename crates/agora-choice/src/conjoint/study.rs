//! Study definition and dummy coding of profiles.

use serde::{Deserialize, Serialize};

use crate::error::{ChoiceError, Result};
use crate::mnl::ChoiceTask;

/// How an attribute enters the utility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum AttributeKind {
    /// Dummy coded against level 0: one parameter per other level.
    Categorical,
    /// Numeric price entering linearly: one parameter, the utility per currency unit.
    /// `values[i]` is the price shown for level `i`.
    Price {
        /// Price of each level, in currency units.
        values: Vec<f64>,
    },
}

/// One attribute of the products being studied (e.g. brand, or price).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// Name shown in tables.
    pub name: String,
    /// Level labels; level 0 is the reference level of a categorical attribute.
    pub levels: Vec<String>,
    /// Categorical or linear price.
    pub kind: AttributeKind,
}

impl Attribute {
    /// A dummy-coded attribute with the given level labels (the first is the reference).
    pub fn categorical(name: &str, levels: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            levels: levels.iter().map(|l| (*l).to_owned()).collect(),
            kind: AttributeKind::Categorical,
        }
    }

    /// A price attribute entering linearly; level labels are the prices written out.
    pub fn price(name: &str, values: &[f64]) -> Self {
        Self {
            name: name.to_owned(),
            levels: values.iter().map(|v| format!("{v}")).collect(),
            kind: AttributeKind::Price {
                values: values.to_vec(),
            },
        }
    }

    /// Number of coded columns this attribute contributes.
    fn columns(&self) -> usize {
        match self.kind {
            AttributeKind::Categorical => self.levels.len() - 1,
            AttributeKind::Price { .. } => 1,
        }
    }
}

/// A validated conjoint study: attributes, the coding layout, and whether a "none"
/// alternative is offered in every task.
///
/// Parameters are laid out attribute by attribute (levels 1.. of a categorical
/// attribute, or the single price slope), followed by the "none" constant if present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StudyParts")]
pub struct ConjointStudy {
    attributes: Vec<Attribute>,
    none_option: bool,
    offsets: Vec<usize>,
    n_parameters: usize,
}

/// The serialised form read back through [`ConjointStudy::new`], so a deserialised study
/// is validated exactly like a constructed one (the stored layout is recomputed).
#[derive(Deserialize)]
struct StudyParts {
    attributes: Vec<Attribute>,
    none_option: bool,
}

impl TryFrom<StudyParts> for ConjointStudy {
    type Error = ChoiceError;

    fn try_from(parts: StudyParts) -> Result<Self> {
        Self::new(parts.attributes, parts.none_option)
    }
}

impl ConjointStudy {
    /// Checks the attributes (at least one; two or more distinct levels each; unique
    /// names; finite, distinct prices; at most one price attribute) and fixes the coding.
    pub fn new(attributes: Vec<Attribute>, none_option: bool) -> Result<Self> {
        if attributes.is_empty() {
            return Err(ChoiceError::empty("the list of attributes", "attribute"));
        }
        let mut offsets = Vec::with_capacity(attributes.len());
        let mut n = 0;
        let mut prices = 0;
        for (i, a) in attributes.iter().enumerate() {
            if attributes[..i].iter().any(|b| b.name == a.name) {
                return Err(ChoiceError::invalid(
                    "attribute name",
                    format!(
                        "\"{}\" is used twice; give every attribute its own name",
                        a.name
                    ),
                ));
            }
            if a.levels.len() < 2 {
                return Err(ChoiceError::invalid(
                    "attribute levels",
                    format!(
                        "\"{}\" has {} level(s); an attribute needs at least two",
                        a.name,
                        a.levels.len()
                    ),
                ));
            }
            for (l, level) in a.levels.iter().enumerate() {
                if a.levels[..l].contains(level) {
                    return Err(ChoiceError::invalid(
                        "attribute levels",
                        format!(
                            "\"{}\" lists level \"{level}\" twice; make level labels unique",
                            a.name
                        ),
                    ));
                }
            }
            if let AttributeKind::Price { values } = &a.kind {
                prices += 1;
                if values.len() != a.levels.len() {
                    return Err(ChoiceError::dims(
                        format!("the price values of \"{}\"", a.name),
                        a.levels.len(),
                        values.len(),
                    ));
                }
                for &v in values {
                    if !v.is_finite() {
                        return Err(ChoiceError::non_finite(
                            format!("a price of \"{}\"", a.name),
                            v,
                        ));
                    }
                }
            }
            offsets.push(n);
            n += a.columns();
        }
        if prices > 1 {
            return Err(ChoiceError::invalid(
                "attributes",
                "more than one price attribute; code at most one attribute as price",
            ));
        }
        if none_option {
            n += 1;
        }
        Ok(Self {
            attributes,
            none_option,
            offsets,
            n_parameters: n,
        })
    }

    /// The attributes, in coding order.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// Whether every task offers a "none" alternative (coded last in each task).
    pub fn has_none(&self) -> bool {
        self.none_option
    }

    /// Number of coded parameters (length of `β`).
    pub fn n_parameters(&self) -> usize {
        self.n_parameters
    }

    /// Readable names of the parameters, e.g. `brand=B`, `price`, `none`.
    pub fn parameter_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.n_parameters);
        for a in &self.attributes {
            match a.kind {
                AttributeKind::Categorical => {
                    names.extend(a.levels[1..].iter().map(|l| format!("{}={l}", a.name)));
                }
                AttributeKind::Price { .. } => names.push(a.name.clone()),
            }
        }
        if self.none_option {
            names.push("none".to_owned());
        }
        names
    }

    /// Index of the parameter of a non-reference level of a categorical attribute,
    /// or of the slope of the price attribute (`level` ignored).
    pub(crate) fn parameter_of(&self, attribute: usize, level: usize) -> Option<usize> {
        let a = self.attributes.get(attribute)?;
        match a.kind {
            AttributeKind::Categorical if level >= 1 && level < a.levels.len() => {
                Some(self.offsets[attribute] + level - 1)
            }
            AttributeKind::Categorical => None,
            AttributeKind::Price { .. } => Some(self.offsets[attribute]),
        }
    }

    /// Index of the "none" constant, if the study has one.
    pub(crate) fn none_parameter(&self) -> Option<usize> {
        self.none_option.then(|| self.n_parameters - 1)
    }

    /// Position of the price attribute, if any.
    pub(crate) fn price_attribute(&self) -> Option<usize> {
        self.attributes
            .iter()
            .position(|a| matches!(a.kind, AttributeKind::Price { .. }))
    }

    /// Looks up an attribute by name.
    pub(crate) fn attribute_index(&self, name: &str) -> Result<usize> {
        self.attributes
            .iter()
            .position(|a| a.name == name)
            .ok_or_else(|| ChoiceError::UnknownName {
                kind: "attribute".to_owned(),
                name: name.to_owned(),
            })
    }

    /// Looks up a level of an attribute by its label.
    pub(crate) fn level_index(&self, attribute: usize, label: &str) -> Result<usize> {
        let a = &self.attributes[attribute];
        a.levels
            .iter()
            .position(|l| l == label)
            .ok_or_else(|| ChoiceError::UnknownName {
                kind: format!("level of \"{}\"", a.name),
                name: label.to_owned(),
            })
    }

    /// Turns level labels (one per attribute, in order) into a profile of level indices.
    pub fn profile_from_labels(&self, labels: &[&str]) -> Result<Vec<usize>> {
        if labels.len() != self.attributes.len() {
            return Err(ChoiceError::dims(
                "the list of level labels",
                self.attributes.len(),
                labels.len(),
            ));
        }
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| self.level_index(i, l))
            .collect()
    }

    /// Checks that `profile` holds one valid level index per attribute.
    pub(crate) fn check_profile(&self, profile: &[usize]) -> Result<()> {
        if profile.len() != self.attributes.len() {
            return Err(ChoiceError::dims(
                "a profile",
                self.attributes.len(),
                profile.len(),
            ));
        }
        for (a, (&level, attribute)) in profile.iter().zip(&self.attributes).enumerate() {
            if level >= attribute.levels.len() {
                return Err(ChoiceError::index(
                    format!("the level of attribute {a} (\"{}\")", attribute.name),
                    level,
                    attribute.levels.len(),
                ));
            }
        }
        Ok(())
    }

    /// Coded row of a profile (one level index per attribute); the "none" column is 0.
    pub fn code_profile(&self, profile: &[usize]) -> Result<Vec<f64>> {
        self.check_profile(profile)?;
        let mut row = vec![0.0; self.n_parameters];
        for (i, (&level, a)) in profile.iter().zip(&self.attributes).enumerate() {
            match &a.kind {
                AttributeKind::Categorical => {
                    if level > 0 {
                        row[self.offsets[i] + level - 1] = 1.0;
                    }
                }
                AttributeKind::Price { values } => row[self.offsets[i]] = values[level],
            }
        }
        Ok(row)
    }

    /// Coded row of the "none" alternative: zeros except its constant.
    pub fn none_row(&self) -> Option<Vec<f64>> {
        self.none_parameter().map(|p| {
            let mut row = vec![0.0; self.n_parameters];
            row[p] = 1.0;
            row
        })
    }

    /// Coded rows of a task: its profiles, then "none" if the study has it.
    pub fn code_alternatives(&self, profiles: &[Vec<usize>]) -> Result<Vec<Vec<f64>>> {
        let mut rows = profiles
            .iter()
            .map(|p| self.code_profile(p))
            .collect::<Result<Vec<_>>>()?;
        rows.extend(self.none_row());
        Ok(rows)
    }

    /// A [`ChoiceTask`] ready for [`crate::mnl::fit_mnl`]; `chosen == profiles.len()` means "none".
    pub fn code_task(&self, profiles: &[Vec<usize>], chosen: usize) -> Result<ChoiceTask> {
        let alternatives = self.code_alternatives(profiles)?;
        if chosen >= alternatives.len() {
            return Err(ChoiceError::index(
                "the chosen alternative",
                chosen,
                alternatives.len(),
            ));
        }
        Ok(ChoiceTask {
            alternatives,
            chosen,
        })
    }
}
