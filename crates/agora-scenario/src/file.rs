//! The scenario file's schema. Values are checked while they are parsed (so errors
//! carry their position); checks across sections run in [`ScenarioFile::cross_check`].

use std::path::PathBuf;

use agora_core::MechanismSettings;
use agora_model::{ModelSpec, SamplingParams};
use agora_population::PopulationSpec;
use ron::value::RawValue;
use serde::Deserialize;

/// A problem found by a cross-section check, with the text that locates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Exact text to search for in the file.
    pub needle: String,
    /// A section key the needle appears after (`mechanism`, `arms`), if known.
    pub section: Option<&'static str>,
}

/// A whole scenario file as written, its mechanism block still text (it is parsed by
/// the registry of mechanisms, see [`crate::parse`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub(crate) struct RawScenarioFile<'a> {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub replicates: Replicates,
    #[serde(default)]
    pub rounds: Option<AtLeastOne>,
    #[serde(default)]
    pub model: ModelBlock,
    #[serde(default)]
    pub arms: Vec<ArmSpec>,
    #[serde(default)]
    pub output: Option<PathBuf>,
    pub population: PopulationSpec,
    #[serde(borrow)]
    pub mechanism: &'a RawValue,
}

/// A whole scenario file.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    /// Human-readable name.
    pub name: String,
    /// What the scenario studies.
    pub description: String,
    /// Base seed of the experiment.
    pub seed: u64,
    /// Replicates per arm (1 to [`MAX_REPLICATES`]).
    pub replicates: Replicates,
    /// Cap on rounds (the mechanism has its own limit too).
    pub rounds: Option<AtLeastOne>,
    /// Model and sampling settings shared by all arms.
    pub model: ModelBlock,
    /// Named variants of the scenario; one arm called `base` when empty.
    pub arms: Vec<ArmSpec>,
    /// Output directory; `runs/<file name>` when absent.
    pub output: Option<PathBuf>,
    /// Who the agents are.
    pub population: PopulationSpec,
    /// What they do: the settings of a registered mechanism.
    pub mechanism: MechanismSettings,
}

impl RawScenarioFile<'_> {
    /// The file with its parsed mechanism.
    pub(crate) fn with_mechanism(self, mechanism: MechanismSettings) -> ScenarioFile {
        ScenarioFile {
            name: self.name,
            description: self.description,
            seed: self.seed,
            replicates: self.replicates,
            rounds: self.rounds,
            model: self.model,
            arms: self.arms,
            output: self.output,
            population: self.population,
            mechanism,
        }
    }
}

/// A count that must be at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct AtLeastOne(pub u32);

impl Default for AtLeastOne {
    fn default() -> Self {
        Self(1)
    }
}

impl TryFrom<u64> for AtLeastOne {
    type Error = String;

    fn try_from(n: u64) -> Result<Self, String> {
        match u32::try_from(n) {
            Ok(0) => Err("this count must be at least 1, got 0; use 1 or more".into()),
            Ok(n) => Ok(Self(n)),
            Err(_) => Err(format!("{n} is too large; use a count below 4294967296")),
        }
    }
}

/// Most replicates per arm (ten thousand).
///
/// Every replicate is a full run with its own population and its own partition of
/// every table; ten thousand already estimate a mean to a hundredth of a standard
/// deviation, while a count in the millions could never finish and would only make
/// the plan large.
pub const MAX_REPLICATES: u32 = 10_000;

/// Most runs (arms x replicates) an experiment may have (one hundred thousand).
pub const MAX_RUNS: u64 = 100_000;

/// A replicate count: from 1 to [`MAX_REPLICATES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct Replicates(pub u32);

impl Default for Replicates {
    fn default() -> Self {
        Self(1)
    }
}

impl TryFrom<u64> for Replicates {
    type Error = String;

    fn try_from(n: u64) -> Result<Self, String> {
        check_replicates(n).map(|n| Self(n as u32))
    }
}

/// `n` if it is a valid replicate count; otherwise the problem and the fix.
pub fn check_replicates(n: u64) -> Result<u64, String> {
    match n {
        0 => Err("replicates must be at least 1, got 0; use 1 or more".into()),
        n if n > u64::from(MAX_REPLICATES) => Err(format!(
            "replicates must be at most {MAX_REPLICATES}, got {n}; use at most {MAX_REPLICATES} (more replicates narrow intervals only by the square root of their number), or split the experiment across seeds"
        )),
        n => Ok(n),
    }
}

/// A model name checked against the accepted forms.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ModelName(pub ModelSpec);

impl TryFrom<String> for ModelName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        ModelSpec::parse(&s)
            .map(ModelName)
            .map_err(|e| e.to_string())
    }
}

/// The `model:` block: which backend and how to sample.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawModelBlock")]
pub struct ModelBlock {
    /// Backend (`rules`, `openai:MODEL`, `local[:PATH]`); `None` picks the default.
    pub name: Option<ModelSpec>,
    /// Sampling parameters.
    pub params: SamplingParams,
    /// Most model calls in flight at once.
    pub concurrency: usize,
}

impl Default for ModelBlock {
    fn default() -> Self {
        Self {
            name: None,
            params: SamplingParams::default(),
            concurrency: 64,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModelBlock {
    #[serde(default)]
    name: Option<ModelName>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    concurrency: Option<usize>,
}

impl TryFrom<RawModelBlock> for ModelBlock {
    type Error = String;

    fn try_from(raw: RawModelBlock) -> Result<Self, String> {
        let mut params = SamplingParams::default();
        if let Some(t) = raw.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(format!(
                    "temperature must be within 0..2, got {t}; 0 is greedy, 0.7 is typical"
                ));
            }
            params.temperature = t;
        }
        if let Some(p) = raw.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(format!(
                    "top_p is a probability and must be within (0, 1], got {p}; use 1.0 to disable nucleus sampling"
                ));
            }
            params.top_p = p;
        }
        if let Some(m) = raw.max_tokens {
            if m == 0 {
                return Err(
                    "max_tokens must be at least 1; 256 suits short structured answers".into(),
                );
            }
            params.max_tokens = m;
        }
        let concurrency = raw.concurrency.unwrap_or(64);
        if concurrency == 0 {
            return Err("concurrency must be at least 1; 64 keeps a typical server busy".into());
        }
        Ok(Self {
            name: raw.name.map(|n| n.0),
            params,
            concurrency,
        })
    }
}

/// One arm: a named variant of the scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmSpec {
    /// Arm name; becomes the `arm=NAME` partition.
    pub name: ArmName,
    /// Model of this arm; the scenario's model when absent.
    #[serde(default)]
    pub model: Option<ModelName>,
}

/// An arm name usable as a directory name.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ArmName(pub String);

impl TryFrom<String> for ArmName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "arm name \"{s}\" must be non-empty and use only letters, digits, `_` and `-`; for example \"llm\" or \"rules-baseline\""
            ));
        }
        Ok(Self(s))
    }
}

impl ScenarioFile {
    /// Checks that need more than one section; empty when all is well.
    pub fn cross_check(&self) -> Vec<Issue> {
        let mut issues: Vec<Issue> = match self.population.validate() {
            Ok(()) => Vec::new(),
            Err(found) => found
                .into_iter()
                .map(|i| Issue {
                    message: i.message,
                    hint: i.hint,
                    needle: i.needle,
                    section: Some("population"),
                })
                .collect(),
        };
        let attributes: Vec<(String, Option<Vec<String>>)> = self
            .population
            .attributes
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    a.dist
                        .categories()
                        .map(|c| c.into_iter().map(String::from).collect()),
                )
            })
            .collect();
        let custom: Vec<String> = self
            .population
            .custom_traits
            .iter()
            .map(|t| t.name.clone())
            .collect();
        let imported = self.population.import.is_some() && attributes.is_empty();
        for name in self.mechanism.referenced_drivers() {
            let name = name.as_str();
            if !imported && !is_known_driver(name, &attributes, &custom) {
                let mut known: Vec<String> = agora_core_names(&attributes, &custom);
                known.sort();
                issues.push(Issue {
                    message: format!("driver \"{name}\" names no trait or attribute of the population"),
                    hint: format!("use a Big Five trait, a custom trait, a numeric attribute or `attribute=category`: {}", known.join(", ")),
                    needle: format!("\"{name}\""),
                    section: Some("mechanism"),
                });
            }
        }
        for name in self.mechanism.referenced_segments() {
            let categorical = attributes
                .iter()
                .any(|(a, cats)| *a == name && cats.is_some());
            if !imported && !categorical {
                let known: Vec<&str> = attributes
                    .iter()
                    .filter(|(_, cats)| cats.is_some())
                    .map(|(a, _)| a.as_str())
                    .collect();
                issues.push(Issue {
                    message: format!(
                        "segment \"{name}\" names no categorical attribute of the population"
                    ),
                    hint: if known.is_empty() {
                        "add a categorical attribute to the population, or remove the segment"
                            .into()
                    } else {
                        format!(
                            "segments split respondents by category; use one of: {}",
                            known.join(", ")
                        )
                    },
                    needle: format!("\"{name}\""),
                    section: Some("mechanism"),
                });
            }
        }
        for issue in self.mechanism.check() {
            issues.push(Issue {
                message: issue.message,
                hint: issue.hint,
                needle: issue.needle,
                section: Some("mechanism"),
            });
        }
        let runs = self.arms.len().max(1) as u64 * u64::from(self.replicates.0);
        if runs > MAX_RUNS {
            issues.push(Issue {
                message: format!(
                    "{} arms x {} replicates make {runs} runs, more than the maximum of {MAX_RUNS}",
                    self.arms.len(),
                    self.replicates.0
                ),
                hint: format!(
                    "lower replicates to at most {}, or use fewer arms",
                    MAX_RUNS / self.arms.len().max(1) as u64
                ),
                needle: "replicates".into(),
                section: Some("replicates"),
            });
        }
        let mut seen = std::collections::HashSet::new();
        for arm in &self.arms {
            if !seen.insert(arm.name.0.as_str()) {
                issues.push(Issue {
                    message: format!("arm \"{}\" is defined twice", arm.name.0),
                    hint: "give every arm a unique name".into(),
                    needle: format!("\"{}\"", arm.name.0),
                    section: Some("arms"),
                });
            }
        }
        issues
    }
}

fn agora_core_names(
    attributes: &[(String, Option<Vec<String>>)],
    custom: &[String],
) -> Vec<String> {
    let mut names: Vec<String> = [
        "openness",
        "conscientiousness",
        "extraversion",
        "agreeableness",
        "neuroticism",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(custom.iter().cloned())
    .collect();
    for (name, cats) in attributes {
        match cats {
            None => names.push(name.clone()),
            Some(cats) => names.extend(cats.iter().map(|c| format!("{name}={c}"))),
        }
    }
    names
}

/// Whether `name` is a valid driver for a population whose attributes are
/// `(name, categories)` (numeric attributes have no categories) and whose custom
/// traits are `custom`: a Big Five trait, a custom trait, a numeric attribute or
/// `attribute=category`.
pub fn is_known_driver(
    name: &str,
    attributes: &[(String, Option<Vec<String>>)],
    custom: &[String],
) -> bool {
    if agora_core::components::BIG_FIVE.contains(&name) || custom.iter().any(|c| c == name) {
        return true;
    }
    match name.split_once('=') {
        Some((attr, cat)) => attributes.iter().any(|(a, cats)| {
            a == attr && cats.as_ref().is_some_and(|c| c.iter().any(|x| x == cat))
        }),
        None => attributes
            .iter()
            .any(|(a, cats)| a == name && cats.is_none()),
    }
}
