//! Checks that need the whole population spec, reported as [`SpecIssue`]s.
//!
//! Per-value checks run while the spec is parsed (see [`crate::spec`]); what remains
//! here relates values to each other: names, references between attributes, quotas.
//! Each issue carries a `needle`, text to search for in the RON file to point at the
//! problem, since a deserialized spec no longer knows where its values came from.

use std::collections::HashSet;
use std::fmt;

use agora_core::components::BIG_FIVE;
use serde::Serialize;

use crate::dist::Dist;
use crate::error::HINT_SEPARATOR;
use crate::import::RESERVED_COLUMNS;
use crate::spec::PopulationSpec;

/// A problem found by [`PopulationSpec::validate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpecIssue {
    /// What is wrong, naming things by their RON field names and values.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Exact text whose first occurrence in the RON file locates the problem (usually a
    /// quoted name such as `"regoin"`, or a field name such as `quotas`).
    pub needle: String,
}

impl fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{HINT_SEPARATOR}{}", self.message, self.hint)
    }
}

impl SpecIssue {
    pub(crate) fn new(
        message: impl Into<String>,
        hint: impl Into<String>,
        needle: impl Into<String>,
    ) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
            needle: needle.into(),
        }
    }

    /// An issue from a "problem; hint" message of a per-value check.
    pub(crate) fn from_check(message: &str, needle: String) -> Self {
        let (problem, hint) = crate::split_hint(message);
        Self::new(problem, hint.unwrap_or_default(), needle)
    }
}

fn quoted(name: &str) -> String {
    format!("{name:?}")
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| quoted(n))
        .collect::<Vec<_>>()
        .join(", ")
}

impl PopulationSpec {
    /// Check the spec as a whole; on failure returns every issue found, in file order
    /// as far as possible.
    ///
    /// Per-value checks are repeated here so that specs built in code are held to the
    /// same rules as parsed ones.
    pub fn validate(&self) -> Result<(), Vec<SpecIssue>> {
        let mut issues = Vec::new();
        if self.size == 0 {
            issues.push(SpecIssue::new(
                "size must be at least 1, got 0",
                "set size to the number of agents to simulate, e.g. 100",
                "size",
            ));
        }
        if self.size > crate::MAX_POPULATION {
            issues.push(SpecIssue::from_check(
                &crate::spec::too_large(self.size as u64),
                "size".into(),
            ));
        }
        self.check_attributes(&mut issues);
        self.check_quotas(&mut issues);
        if let Err(e) = self.big_five.check() {
            issues.push(SpecIssue::from_check(&e, "big_five".into()));
        }
        self.check_custom_traits(&mut issues);
        if let Some(import) = &self.import
            && let Err(e) = import.check()
        {
            issues.push(SpecIssue::from_check(&e, "import".into()));
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }

    fn check_attributes(&self, issues: &mut Vec<SpecIssue>) {
        let mut seen: HashSet<&str> = HashSet::new();
        for (i, attr) in self.attributes.iter().enumerate() {
            let needle = quoted(&attr.name);
            if let Err(e) = attr.check() {
                issues.push(SpecIssue::from_check(&e, needle.clone()));
            }
            if !seen.insert(&attr.name) {
                issues.push(SpecIssue::new(
                    format!("attribute {needle} is defined more than once"),
                    "give each attribute a unique name, or remove the extra definition",
                    needle.clone(),
                ));
            }
            if RESERVED_COLUMNS.contains(&attr.name.as_str())
                || BIG_FIVE.contains(&attr.name.as_str())
            {
                issues.push(SpecIssue::new(
                    format!(
                        "attribute name {needle} is reserved for the persona's {} column",
                        attr.name
                    ),
                    format!(
                        "rename the attribute, e.g. {:?}",
                        format!("{}_attr", attr.name)
                    ),
                    needle.clone(),
                ));
            }
            if let Dist::Conditional { given, table } = &attr.dist {
                self.check_conditional(i, given, table, issues);
            }
        }
    }

    fn check_conditional(
        &self,
        index: usize,
        given: &str,
        table: &[(String, crate::Categories)],
        issues: &mut Vec<SpecIssue>,
    ) {
        let attr = &self.attributes[index].name;
        let needle = quoted(given);
        let Some(parent_index) = self.attributes.iter().position(|a| a.name == given) else {
            let earlier: Vec<&str> = self.attributes[..index]
                .iter()
                .filter(|a| a.dist.is_categorical())
                .map(|a| a.name.as_str())
                .collect();
            let hint = if earlier.is_empty() {
                "define a categorical attribute before this one and name it in given".to_string()
            } else {
                format!(
                    "use one of the categorical attributes defined before it: {}",
                    list(&earlier)
                )
            };
            issues.push(SpecIssue::new(
                format!(
                    "attribute {:?} is conditional on {needle}, which is not an attribute",
                    attr
                ),
                hint,
                needle,
            ));
            return;
        };
        let parent = &self.attributes[parent_index];
        if parent_index == index {
            issues.push(SpecIssue::new(
                format!("attribute {attr:?} is conditional on itself"),
                "name a different, earlier categorical attribute in given",
                quoted(attr),
            ));
            return;
        }
        if parent_index > index {
            issues.push(SpecIssue::new(
                format!("attribute {attr:?} is conditional on {needle}, which is defined after it"),
                format!("attributes are sampled in order: move {needle} above {attr:?}"),
                quoted(attr),
            ));
            return;
        }
        let Some(parent_labels) = parent.dist.categories() else {
            issues.push(SpecIssue::new(
                format!("attribute {attr:?} is conditional on {needle}, which is numeric"),
                "given must name a Categorical or Conditional attribute; bin the numeric one into categories first",
                quoted(attr),
            ));
            return;
        };
        for label in &parent_labels {
            if !table.iter().any(|(l, _)| l == label) {
                issues.push(SpecIssue::new(
                    format!("table of {attr:?} has no row for {label:?}, a category of {needle}"),
                    format!("add a row ({label:?}, [...]) to the table"),
                    quoted(attr),
                ));
            }
        }
        for (label, _) in table {
            if !parent_labels.contains(&label.as_str()) {
                issues.push(SpecIssue::new(
                    format!("table of {attr:?} has a row for {label:?}, which is not a category of {needle}"),
                    format!("use the categories of {needle}: {}", list(&parent_labels)),
                    quoted(label),
                ));
            }
        }
    }

    fn check_quotas(&self, issues: &mut Vec<SpecIssue>) {
        let mut seen: HashSet<&str> = HashSet::new();
        for name in &self.quotas {
            let needle = quoted(name);
            if !seen.insert(name) {
                issues.push(SpecIssue::new(
                    format!("quotas lists {needle} more than once"),
                    "list each attribute once",
                    "quotas",
                ));
                continue;
            }
            match self.attributes.iter().find(|a| &a.name == name) {
                None => {
                    let categorical: Vec<&str> = self
                        .attributes
                        .iter()
                        .filter(|a| a.dist.is_categorical())
                        .map(|a| a.name.as_str())
                        .collect();
                    issues.push(SpecIssue::new(
                        format!("quotas names {needle}, which is not an attribute"),
                        if categorical.is_empty() {
                            "quotas apply to categorical attributes; define one or remove the entry".to_string()
                        } else {
                            format!("use one of the categorical attributes: {}", list(&categorical))
                        },
                        needle,
                    ));
                }
                Some(a) if !a.dist.is_categorical() => issues.push(SpecIssue::new(
                    format!("quotas names {needle}, which is numeric"),
                    "quotas fix category counts; only Categorical and Conditional attributes can have them",
                    "quotas",
                )),
                Some(_) => {}
            }
        }
    }

    fn check_custom_traits(&self, issues: &mut Vec<SpecIssue>) {
        let mut seen: HashSet<&str> = HashSet::new();
        for t in &self.custom_traits {
            let needle = quoted(&t.name);
            if let Err(e) = t.dist.dist().check() {
                issues.push(SpecIssue::from_check(&e, needle.clone()));
            }
            if !seen.insert(&t.name) {
                issues.push(SpecIssue::new(
                    format!("custom trait {needle} is defined more than once"),
                    "give each custom trait a unique name",
                    needle.clone(),
                ));
            }
            if BIG_FIVE.contains(&t.name.as_str()) {
                issues.push(SpecIssue::new(
                    format!("custom trait {needle} clashes with the Big Five trait of that name"),
                    "set it through big_five instead, or rename the custom trait",
                    needle.clone(),
                ));
            }
            if RESERVED_COLUMNS.contains(&t.name.as_str()) {
                issues.push(SpecIssue::new(
                    format!(
                        "custom trait name {needle} is reserved for the persona's {} column",
                        t.name
                    ),
                    "rename the custom trait",
                    needle.clone(),
                ));
            }
            if self.attributes.iter().any(|a| a.name == t.name) {
                issues.push(SpecIssue::new(
                    format!("custom trait {needle} has the same name as an attribute"),
                    "rename one of them so each column of the population has its own name",
                    needle,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(src: &str) -> Vec<SpecIssue> {
        let spec: PopulationSpec = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(src)
            .expect("parses");
        spec.validate().err().unwrap_or_default()
    }

    fn expect(src: &str, message: &str, needle: &str) {
        let found = issues(src);
        assert!(
            found
                .iter()
                .any(|i| i.message.contains(message) && i.needle == needle && !i.hint.is_empty()),
            "{message:?} / {needle:?} not in {found:#?}"
        );
        // The needle must occur in the source so the caller can locate it.
        assert!(src.contains(needle), "needle {needle:?} not in source");
    }

    const REGION: &str = r#"(name: "region", dist: Categorical([("north", 0.5), ("south", 0.5)]))"#;
    const AGE: &str = r#"(name: "age", dist: Uniform(min: 18.0, max: 90.0))"#;

    fn emp(given: &str, rows: &str) -> String {
        format!(r#"(name: "employment", dist: Conditional(given: {given:?}, table: [{rows}]))"#)
    }

    const ROWS: &str =
        r#"("north", [("yes", 0.5), ("no", 0.5)]), ("south", [("yes", 0.7), ("no", 0.3)])"#;

    #[test]
    fn valid_spec_has_no_issues() {
        let src = format!(
            "(attributes: [{REGION}, {AGE}, {}], quotas: [\"region\", \"employment\"])",
            emp("region", ROWS)
        );
        assert_eq!(issues(&src), vec![]);
    }

    #[test]
    fn conditional_references_are_checked() {
        expect(
            &format!("(attributes: [{REGION}, {}])", emp("regoin", ROWS)),
            "which is not an attribute",
            "\"regoin\"",
        );
        expect(
            &format!("(attributes: [{}, {REGION}])", emp("region", ROWS)),
            "which is defined after it",
            "\"employment\"",
        );
        expect(
            &format!("(attributes: [{AGE}, {}])", emp("age", ROWS)),
            "which is numeric",
            "\"employment\"",
        );
        expect(
            &format!("(attributes: [{}])", emp("employment", ROWS)),
            "conditional on itself",
            "\"employment\"",
        );
    }

    #[test]
    fn conditional_rows_must_match_parent_categories() {
        let rows = r#"("north", [("yes", 1.0)])"#;
        expect(
            &format!("(attributes: [{REGION}, {}])", emp("region", rows)),
            "has no row for \"south\"",
            "\"employment\"",
        );
        let rows =
            r#"("north", [("yes", 1.0)]), ("south", [("yes", 1.0)]), ("west", [("yes", 1.0)])"#;
        expect(
            &format!("(attributes: [{REGION}, {}])", emp("region", rows)),
            "row for \"west\", which is not a category",
            "\"west\"",
        );
    }

    #[test]
    fn names_must_be_unique_and_unreserved() {
        expect(
            &format!("(attributes: [{AGE}, {AGE}])"),
            "attribute \"age\" is defined more than once",
            "\"age\"",
        );
        expect(
            r#"(attributes: [(name: "name", dist: Uniform(min: 0.0, max: 1.0))])"#,
            "is reserved",
            "\"name\"",
        );
        expect(
            r#"(attributes: [(name: "openness", dist: Uniform(min: 0.0, max: 1.0))])"#,
            "is reserved",
            "\"openness\"",
        );
    }

    #[test]
    fn quotas_must_name_categorical_attributes() {
        expect(
            &format!("(attributes: [{REGION}, {AGE}], quotas: [\"regoin\"])"),
            "quotas names \"regoin\", which is not an attribute",
            "\"regoin\"",
        );
        expect(
            &format!("(attributes: [{REGION}, {AGE}], quotas: [\"age\"])"),
            "quotas names \"age\", which is numeric",
            "quotas",
        );
        expect(
            &format!("(attributes: [{REGION}], quotas: [\"region\", \"region\"])"),
            "more than once",
            "quotas",
        );
    }

    #[test]
    fn custom_traits_must_not_clash() {
        let t = r#"(name: "openness", dist: Beta(alpha: 2.0, beta: 2.0))"#;
        expect(
            &format!("(custom_traits: [{t}])"),
            "clashes with the Big Five",
            "\"openness\"",
        );
        let t = r#"(name: "age", dist: Beta(alpha: 2.0, beta: 2.0))"#;
        expect(
            &format!("(attributes: [{AGE}], custom_traits: [{t}])"),
            "same name as an attribute",
            "\"age\"",
        );
        let t = r#"(name: "risk", dist: Beta(alpha: 2.0, beta: 2.0))"#;
        expect(
            &format!("(custom_traits: [{t}, {t}])"),
            "defined more than once",
            "\"risk\"",
        );
    }

    #[test]
    fn specs_built_in_code_are_checked_too() {
        let spec = PopulationSpec {
            size: 0,
            attributes: vec![crate::AttributeSpec {
                name: "x".into(),
                dist: Dist::Normal {
                    mean: 0.0,
                    std_dev: -1.0,
                    min: None,
                    max: None,
                },
                round: false,
            }],
            ..PopulationSpec::default()
        };
        let found = spec.validate().err().unwrap_or_default();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[1].message.contains("std_dev must be >= 0") && found[1].needle == "\"x\"");
    }
}
