//! The population part of a scenario, as written in RON.
//!
//! Every type rejects unknown fields, and every value that can be checked on its own is
//! checked while it is deserialized, so the RON parser reports the problem with its
//! line and column. Checks that need the whole spec live in
//! [`PopulationSpec::validate`]. Scenario files are read with RON's `IMPLICIT_SOME`
//! extension, so optional values are written plainly (`min: 18.0`).
//!
//! A complete example:
//!
//! ```ron
#![doc = include_str!("../examples/population.ron")]
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::bigfive::BigFiveSpec;
use crate::dist::Dist;
use crate::error::with_hint;
use crate::limits::MAX_POPULATION;

/// Agent count used when a spec gives no `size`.
pub const DEFAULT_SIZE: usize = 100;

/// How to build a population: attribute distributions, quotas, personality, or an
/// import file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "population")]
pub struct PopulationSpec {
    /// Default number of agents (a command-line option may override it); at least 1
    /// and at most [`MAX_POPULATION`](crate::MAX_POPULATION). Defaults to
    /// [`DEFAULT_SIZE`].
    #[serde(default = "default_size", deserialize_with = "deserialize_size")]
    pub size: usize,
    /// Demographic attributes, sampled in this order (a `Conditional` attribute may
    /// only depend on an attribute listed before it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeSpec>,
    /// Categorical attributes whose category counts are exact rather than random:
    /// the largest-remainder rounding of `size x weight`. For a `Conditional` attribute
    /// the counts are exact within each category of its `given` attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<String>,
    /// Distribution of the Big Five traits.
    #[serde(default)]
    pub big_five: BigFiveSpec,
    /// Extra named traits, each drawn from a numeric distribution and clamped to 0..1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_traits: Vec<CustomTraitSpec>,
    /// Read personas from a file instead of sampling attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportSpec>,
}

impl Default for PopulationSpec {
    fn default() -> Self {
        Self {
            size: DEFAULT_SIZE,
            attributes: Vec::new(),
            quotas: Vec::new(),
            big_five: BigFiveSpec::default(),
            custom_traits: Vec::new(),
            import: None,
        }
    }
}

fn default_size() -> usize {
    DEFAULT_SIZE
}

fn deserialize_size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = u64::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom(with_hint(
            "size must be at least 1, got 0",
            format!("set size to the number of agents to simulate, e.g. {DEFAULT_SIZE}"),
        )));
    }
    match usize::try_from(n) {
        Ok(size) if size <= MAX_POPULATION => Ok(size),
        _ => Err(serde::de::Error::custom(too_large(n))),
    }
}

/// The message for a size above [`MAX_POPULATION`].
pub(crate) fn too_large(n: u64) -> String {
    with_hint(
        format!("size {n} is more than the maximum population of {MAX_POPULATION}"),
        format!(
            "use at most {MAX_POPULATION} agents; run several experiments with different seeds for more"
        ),
    )
}

/// One demographic attribute: its name, distribution and whether to round it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawAttributeSpec")]
pub struct AttributeSpec {
    /// Name used in prompts, tables, quotas and import columns.
    pub name: String,
    /// Distribution values are drawn from.
    pub dist: Dist,
    /// Round numeric values to whole numbers (ages, counts). After rounding, values are
    /// kept within `ceil(min)..=floor(max)`. Not allowed on categorical attributes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub round: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "attribute")]
struct RawAttributeSpec {
    name: String,
    dist: Dist,
    #[serde(default)]
    round: bool,
}

impl TryFrom<RawAttributeSpec> for AttributeSpec {
    type Error = String;

    fn try_from(raw: RawAttributeSpec) -> Result<Self, String> {
        let spec = Self {
            name: raw.name,
            dist: raw.dist,
            round: raw.round,
        };
        spec.check()?;
        Ok(spec)
    }
}

impl AttributeSpec {
    /// Checks that involve only this attribute (the distribution is checked too).
    pub fn check(&self) -> Result<(), String> {
        check_name("attribute", &self.name)?;
        self.dist.check()?;
        if self.round {
            if self.dist.is_categorical() {
                return Err(with_hint(
                    format!(
                        "attribute {:?} has round: true but its values are categories",
                        self.name
                    ),
                    "remove round: true; it only applies to numeric distributions",
                ));
            }
            let (min, max) = self.dist.bounds();
            if min.ceil() > max.floor() {
                return Err(with_hint(
                    format!(
                        "attribute {:?} has round: true but min..max ({min}..{max}) holds no whole number",
                        self.name
                    ),
                    "widen the bounds to include a whole number, or remove round: true",
                ));
            }
        }
        Ok(())
    }
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(with_hint(
            format!("{what} name is empty"),
            format!("give the {what} a name such as \"age\""),
        ));
    }
    if name.trim() != name {
        return Err(with_hint(
            format!("{what} name {name:?} starts or ends with spaces"),
            format!("write it as {:?}", name.trim()),
        ));
    }
    Ok(())
}

/// A named personality trait beyond the Big Five, on 0..1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCustomTraitSpec")]
pub struct CustomTraitSpec {
    /// Trait name; must not be a Big Five name or an attribute name.
    pub name: String,
    /// Numeric distribution; draws are clamped to 0..1.
    pub dist: TraitDist,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "custom trait")]
struct RawCustomTraitSpec {
    name: String,
    dist: TraitDist,
}

impl TryFrom<RawCustomTraitSpec> for CustomTraitSpec {
    type Error = String;

    fn try_from(raw: RawCustomTraitSpec) -> Result<Self, String> {
        check_name("custom trait", &raw.name)?;
        Ok(Self {
            name: raw.name,
            dist: raw.dist,
        })
    }
}

/// A numeric [`Dist`], as custom traits require; categorical ones are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Dist", into = "Dist")]
pub struct TraitDist(Dist);

impl TraitDist {
    /// Accept `dist` if it is numeric and valid.
    pub fn new(dist: Dist) -> Result<Self, String> {
        dist.check()?;
        if dist.is_categorical() {
            return Err(with_hint(
                "custom traits need a numeric distribution, got a categorical one",
                "use a distribution on 0..1 such as Beta(alpha: 2.0, beta: 2.0); model categories as attributes",
            ));
        }
        Ok(Self(dist))
    }

    /// The distribution.
    pub fn dist(&self) -> &Dist {
        &self.0
    }
}

impl TryFrom<Dist> for TraitDist {
    type Error = String;

    fn try_from(dist: Dist) -> Result<Self, String> {
        Self::new(dist)
    }
}

impl From<TraitDist> for Dist {
    fn from(t: TraitDist) -> Self {
        t.0
    }
}

/// File format of an import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ImportFormat {
    /// The format a file extension stands for: `.csv`, or `.jsonl` / `.ndjson`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// Where to read personas from instead of sampling them.
///
/// CSV files need a header row; JSONL files hold one object per line. Columns (keys)
/// matching attribute names give attribute values; the optional columns `name`,
/// `narrative`, the Big Five names and custom trait names give those parts of the
/// persona (missing ones are generated or sampled). When the spec lists attributes,
/// they define the schema and the marginal targets; their distributions, quotas and
/// rounding are not applied to imported values. Without attributes, every other column
/// becomes an attribute: numeric when all its values are numbers, else categorical.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawImportSpec")]
pub struct ImportSpec {
    /// File path; relative paths are resolved against the scenario's folder.
    pub path: PathBuf,
    /// Format; when absent it follows from the extension (`.csv`, `.jsonl`, `.ndjson`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ImportFormat>,
    /// Columns to leave out (a respondent id, answers kept for validation): they are
    /// neither attributes nor shown to the agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "import")]
struct RawImportSpec {
    path: PathBuf,
    #[serde(default)]
    format: Option<ImportFormat>,
    #[serde(default)]
    ignore: Vec<String>,
}

impl TryFrom<RawImportSpec> for ImportSpec {
    type Error = String;

    fn try_from(raw: RawImportSpec) -> Result<Self, String> {
        let spec = Self {
            path: raw.path,
            format: raw.format,
            ignore: raw.ignore,
        };
        spec.check()?;
        Ok(spec)
    }
}

impl ImportSpec {
    /// Check that the path is given and its format is known.
    pub fn check(&self) -> Result<(), String> {
        if self.path.as_os_str().is_empty() {
            return Err(with_hint(
                "import path is empty",
                "give the file to read, e.g. path: \"personas.csv\"",
            ));
        }
        self.resolved_format().map(|_| ())
    }

    /// The explicit format, or the one the extension implies.
    pub fn resolved_format(&self) -> Result<ImportFormat, String> {
        self.format
            .or_else(|| ImportFormat::from_path(&self.path))
            .ok_or_else(|| {
                with_hint(
                    format!(
                        "cannot tell the format of {:?} from its extension",
                        self.path.display().to_string()
                    ),
                    "name the file .csv or .jsonl, or add format: Csv or format: Jsonl",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn parse(src: &str) -> Result<PopulationSpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(src)
    }

    fn rejects(src: &str, needle: &str) {
        match parse(src) {
            Ok(s) => panic!("{src} parsed as {s:?}"),
            Err(e) => {
                let msg = e.code.to_string();
                assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
                assert!(e.span.start.line > 0);
                assert!(crate::split_hint(&msg).1.is_some(), "no hint in {msg:?}");
            }
        }
    }

    #[test]
    fn documented_example_parses_and_validates() {
        let spec = parse(include_str!("../examples/population.ron")).expect("example parses");
        assert_eq!(spec.attributes.len(), 7);
        assert_eq!(spec.big_five.correlation.get(0, 2), 0.3);
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn everything_but_attributes_has_a_default() {
        assert_eq!(parse("()").ok(), Some(PopulationSpec::default()));
    }

    #[test]
    fn full_example_parses_and_round_trips() {
        let src = r#"(
            size: 1000,
            attributes: [
                (name: "age", dist: Normal(mean: 45.0, std_dev: 15.0, min: 18.0, max: 90.0), round: true),
                (name: "income", dist: LogNormal(mu: 10.5, sigma: 0.6)),
                (name: "region", dist: Categorical([("north", 0.3), ("south", 0.5), ("east", 0.2)])),
            ],
            quotas: ["region"],
            custom_traits: [(name: "price_sensitivity", dist: Beta(alpha: 2.0, beta: 2.0))],
            import: (path: "personas.csv"),
        )"#;
        let spec = parse(src).expect("valid spec");
        assert_eq!(spec.size, 1000);
        assert!(spec.attributes[0].round);
        assert_eq!(
            spec.import.as_ref().map(|i| i.resolved_format()),
            Some(Ok(ImportFormat::Csv))
        );
        let text = ron::to_string(&spec).expect("serializes");
        assert_eq!(parse(&text).ok(), Some(spec));
    }

    #[test]
    fn size_zero_is_rejected_with_position() {
        rejects("(\n  size: 0,\n)", "size must be at least 1, got 0");
        let err = parse("(\n  size: 0,\n)").err().map(|e| e.span.start.line);
        assert_eq!(err, Some(2));
    }

    #[test]
    fn sizes_above_the_maximum_are_rejected_with_position() {
        let src = "(\n  size: 18446744073709551615,\n)";
        rejects(src, "more than the maximum population of 10000000");
        assert_eq!(parse(src).err().map(|e| e.span.start.line), Some(2));
        rejects("(size: 10000001)", "use at most 10000000 agents");
        assert!(parse("(size: 10000000)").is_ok());
    }

    #[test]
    fn attribute_level_checks() {
        rejects(
            r#"(attributes: [(name: "", dist: Uniform(min: 0.0, max: 1.0))])"#,
            "attribute name is empty",
        );
        rejects(
            r#"(attributes: [(name: "r", dist: Categorical([("a", 1.0)]), round: true)])"#,
            "has round: true but its values are categories",
        );
        rejects(
            r#"(attributes: [(name: "x", dist: Uniform(min: 0.2, max: 0.8), round: true)])"#,
            "holds no whole number",
        );
        let unknown =
            parse(r#"(attributes: [(name: "x", dist: Uniform(min: 0.0, max: 1.0), rnd: true)])"#);
        let msg = unknown
            .err()
            .map(|e| e.code.to_string())
            .unwrap_or_default();
        assert!(
            msg.contains("`rnd` in `attribute`") && msg.contains("`round`"),
            "{msg}"
        );
    }

    #[test]
    fn custom_traits_must_be_numeric() {
        rejects(
            r#"(custom_traits: [(name: "t", dist: Categorical([("a", 1.0)]))])"#,
            "custom traits need a numeric distribution",
        );
    }

    #[test]
    fn import_format_must_be_known() {
        rejects(
            r#"(import: (path: "people.txt"))"#,
            "cannot tell the format of \"people.txt\"",
        );
        assert!(parse(r#"(import: (path: "people.txt", format: Jsonl))"#).is_ok());
    }

    #[test]
    fn unknown_top_level_fields_are_rejected() {
        let err = parse("(sise: 3)").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("sise")));
    }
}
