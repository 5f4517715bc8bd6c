//! The scenario file's schema. Values are checked while they are parsed (so errors
//! carry their position); checks across sections run in [`ScenarioFile::cross_check`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use agora_coding::CodingSpec;
use agora_core::MechanismSettings;
use agora_core::intervention::{Intervention, Target, Trigger};
use agora_core::persona::PersonaView;
use agora_model::{ModelSpec, SamplingParams};
use agora_population::PopulationSpec;
use ron::value::RawValue;
use serde::Deserialize;

use crate::reference::{ReferenceData, ReferenceSpec};
use crate::stimuli::Stimulus;

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
    #[serde(default, borrow)]
    pub arms: Vec<RawArm<'a>>,
    #[serde(default)]
    pub stimuli: BTreeMap<String, Stimulus>,
    #[serde(default)]
    pub segments: Vec<String>,
    #[serde(default)]
    pub comparisons: Vec<(String, String)>,
    #[serde(default)]
    pub retest: bool,
    #[serde(default)]
    pub interventions: Vec<Intervention>,
    #[serde(default)]
    pub reference: Option<ReferenceSpec>,
    #[serde(default)]
    pub coding: Option<CodingSpec>,
    #[serde(default)]
    pub output: Option<PathBuf>,
    pub population: PopulationSpec,
    #[serde(borrow)]
    pub mechanism: &'a RawValue,
}

/// One arm as written; its mechanism block (its own, or the scenario's) is parsed once
/// its stimuli are filled in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArm<'a> {
    pub name: ArmName,
    #[serde(default)]
    pub model: Option<ModelName>,
    #[serde(default)]
    pub temperature: Option<Temperature>,
    #[serde(default)]
    pub top_p: Option<TopP>,
    #[serde(default)]
    pub max_tokens: Option<MaxTokens>,
    #[serde(default)]
    pub persona: PersonaView,
    #[serde(default)]
    pub stimuli: BTreeMap<String, Stimulus>,
    #[serde(default)]
    pub control: bool,
    #[serde(default, borrow)]
    pub mechanism: Option<&'a RawValue>,
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
    /// Named variants of the scenario (treatments); one arm called `base` when the file
    /// names none. Never empty.
    pub arms: Vec<ArmSpec>,
    /// Stimuli every arm has unless it sets its own.
    pub stimuli: BTreeMap<String, Stimulus>,
    /// Categorical attributes to break every outcome down by in the `stats` table.
    pub segments: Vec<String>,
    /// Paired comparisons `(arm, with)` the `stats` table holds besides every arm
    /// against the control.
    pub comparisons: Vec<(String, String)>,
    /// Ask every arm's people a second time with new decision seeds (arms
    /// `NAME_retest`), for test-retest reliability in `diagnostics`.
    pub retest: bool,
    /// What the experimenter does to runs while they play.
    pub interventions: Vec<Intervention>,
    /// Human answers to compare the simulated ones with, read and checked.
    pub reference: Option<ReferenceData>,
    /// Open-answer coding of free-text answers once the runs are complete.
    pub coding: Option<CodingSpec>,
    /// Output directory; `runs/<file name>` when absent.
    pub output: Option<PathBuf>,
    /// Who the agents are.
    pub population: PopulationSpec,
    /// What they do: the settings of a registered mechanism, as the control arm plays
    /// them (each arm holds its own).
    pub mechanism: MechanismSettings,
}

impl ScenarioFile {
    /// The arm every other arm is compared with: the one marked `control: true`, else
    /// the first.
    pub fn control_arm(&self) -> &ArmSpec {
        self.arms
            .iter()
            .find(|a| a.control)
            .unwrap_or(&self.arms[0])
    }

    /// The arm called `name`.
    pub fn arm(&self, name: &str) -> Option<&ArmSpec> {
        self.arms.iter().find(|a| a.name.0 == name)
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
    temperature: Option<Temperature>,
    #[serde(default)]
    top_p: Option<TopP>,
    #[serde(default)]
    max_tokens: Option<MaxTokens>,
    #[serde(default)]
    concurrency: Option<usize>,
}

impl TryFrom<RawModelBlock> for ModelBlock {
    type Error = String;

    fn try_from(raw: RawModelBlock) -> Result<Self, String> {
        let params = with_sampling(
            SamplingParams::default(),
            raw.temperature,
            raw.top_p,
            raw.max_tokens,
        );
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

/// One arm: a named variant of the scenario, a treatment. Arms of a replicate share
/// its population, so their differences are paired.
#[derive(Clone, Debug)]
pub struct ArmSpec {
    /// Arm name; becomes the `arm=NAME` partition.
    pub name: ArmName,
    /// Model of this arm; the scenario's model when absent.
    pub model: Option<ModelSpec>,
    /// Sampling parameters of this arm (the scenario's, with the arm's overrides).
    pub params: SamplingParams,
    /// How much of the persona the prompts show.
    pub persona: PersonaView,
    /// The stimuli this arm put into the mechanism block (the scenario's, then its own).
    pub stimuli: BTreeMap<String, Stimulus>,
    /// Whether this arm is the control the others are compared with.
    pub control: bool,
    /// The mechanism's settings for this arm.
    pub mechanism: MechanismSettings,
}

/// A temperature within 0..2.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub(crate) struct Temperature(pub f64);

impl TryFrom<f64> for Temperature {
    type Error = String;

    fn try_from(t: f64) -> Result<Self, String> {
        if (0.0..=2.0).contains(&t) {
            Ok(Self(t))
        } else {
            Err(format!(
                "temperature must be within 0..2, got {t}; 0 is greedy, 0.7 is typical"
            ))
        }
    }
}

/// A nucleus-sampling probability within (0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub(crate) struct TopP(pub f64);

impl TryFrom<f64> for TopP {
    type Error = String;

    fn try_from(p: f64) -> Result<Self, String> {
        if p > 0.0 && p <= 1.0 {
            Ok(Self(p))
        } else {
            Err(format!(
                "top_p is a probability and must be within (0, 1], got {p}; use 1.0 to disable nucleus sampling"
            ))
        }
    }
}

/// A positive completion length.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "u32")]
pub(crate) struct MaxTokens(pub u32);

impl TryFrom<u32> for MaxTokens {
    type Error = String;

    fn try_from(m: u32) -> Result<Self, String> {
        if m == 0 {
            Err("max_tokens must be at least 1; 256 suits short structured answers".into())
        } else {
            Ok(Self(m))
        }
    }
}

/// `base` with whichever of the three parameters are given.
pub(crate) fn with_sampling(
    base: SamplingParams,
    temperature: Option<Temperature>,
    top_p: Option<TopP>,
    max_tokens: Option<MaxTokens>,
) -> SamplingParams {
    let mut params = base;
    if let Some(t) = temperature {
        params.temperature = t.0;
    }
    if let Some(p) = top_p {
        params.top_p = p.0;
    }
    if let Some(m) = max_tokens {
        params.max_tokens = m.0;
    }
    params
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
        let mut drivers: Vec<String> = self
            .arms
            .iter()
            .flat_map(|a| a.mechanism.referenced_drivers())
            .collect();
        drivers.sort();
        drivers.dedup();
        for name in drivers {
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
        let mut mechanism_segments: Vec<String> = self
            .arms
            .iter()
            .flat_map(|a| a.mechanism.referenced_segments())
            .collect();
        mechanism_segments.sort();
        mechanism_segments.dedup();
        for name in mechanism_segments {
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
        let mut seen_checks = std::collections::HashSet::new();
        for issue in self.arms.iter().flat_map(|a| a.mechanism.check()) {
            if seen_checks.insert(issue.message.clone()) {
                issues.push(Issue {
                    message: issue.message,
                    hint: issue.hint,
                    needle: issue.needle,
                    section: Some("mechanism"),
                });
            }
        }
        for segment in &self.segments {
            if !attributes
                .iter()
                .any(|(name, cats)| name == segment && cats.is_some())
                && !imported
            {
                let categorical: Vec<&str> = attributes
                    .iter()
                    .filter(|(_, c)| c.is_some())
                    .map(|(n, _)| n.as_str())
                    .collect();
                issues.push(Issue {
                    message: format!(
                        "segment \"{segment}\" names no categorical attribute of the population"
                    ),
                    hint: format!(
                        "segments break outcomes down by a categorical attribute: {}",
                        if categorical.is_empty() {
                            "this population has none".to_string()
                        } else {
                            categorical.join(", ")
                        }
                    ),
                    needle: format!("\"{segment}\""),
                    section: Some("segments"),
                });
            }
        }
        issues.extend(self.check_interventions(&attributes, imported));
        issues.extend(self.check_coding());
        for (a, b) in &self.comparisons {
            for name in [a, b] {
                if self.arm(name).is_none() {
                    let known: Vec<&str> = self.arms.iter().map(|a| a.name.0.as_str()).collect();
                    issues.push(Issue {
                        message: format!("the comparison names the arm \"{name}\", which the scenario does not have"),
                        hint: format!("compare two of the arms: {}", known.join(", ")),
                        needle: format!("\"{name}\""),
                        section: Some("comparisons"),
                    });
                }
            }
        }
        let controls: Vec<&ArmSpec> = self.arms.iter().filter(|a| a.control).collect();
        if controls.len() > 1 {
            issues.push(Issue {
                message: format!(
                    "{} arms are marked `control: true`; an experiment has one control arm",
                    controls.len()
                ),
                hint: "keep `control: true` on one arm (the first arm is the control when none is marked)".into(),
                needle: "control".into(),
                section: Some("arms"),
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

impl ScenarioFile {
    /// Every coded source must be free text the mechanism of every arm records.
    fn check_coding(&self) -> Vec<Issue> {
        let Some(coding) = &self.coding else {
            return Vec::new();
        };
        let mut issues = Vec::new();
        for source in &coding.sources {
            for arm in &self.arms {
                let texts = arm.mechanism.texts();
                if texts.iter().any(|t| t.id == source.source) {
                    continue;
                }
                let known: Vec<String> = texts
                    .iter()
                    .map(|t| format!("\"{}\" ({})", t.id, t.description))
                    .collect();
                issues.push(Issue {
                    message: format!(
                        "coding names the source \"{}\", which is no free-text answer the {} mechanism{} records",
                        source.source,
                        arm.mechanism.name(),
                        if self.arms.len() > 1 {
                            format!(" of arm \"{}\"", arm.name.0)
                        } else {
                            String::new()
                        }
                    ),
                    hint: if known.is_empty() {
                        format!(
                            "the {} mechanism records no free text; remove the coding block, or add a free-text question",
                            arm.mechanism.name()
                        )
                    } else {
                        format!("code one of: {}", known.join(", "))
                    },
                    needle: format!("\"{}\"", source.source),
                    section: Some("coding"),
                });
                break;
            }
        }
        issues
    }

    /// Interventions must name known arms, fire within the run, reach someone, and
    /// need a mechanism that applies them.
    fn check_interventions(
        &self,
        attributes: &[(String, Option<Vec<String>>)],
        imported: bool,
    ) -> Vec<Issue> {
        let mut issues = Vec::new();
        let issue = |message: String, hint: String, needle: String| Issue {
            message,
            hint,
            needle,
            section: Some("interventions"),
        };
        if !self.interventions.is_empty() && !self.mechanism.supports_interventions() {
            issues.push(issue(
                format!(
                    "the {} mechanism does not apply interventions",
                    self.mechanism.name()
                ),
                "interventions work with Debate and FocusGroup; vary a survey or an auction between arms with `stimuli:` instead".into(),
                "interventions".into(),
            ));
            return issues;
        }
        let mut ids = std::collections::HashSet::new();
        for i in &self.interventions {
            let needle = format!("\"{}\"", i.id);
            if !ids.insert(i.id.as_str()) {
                issues.push(issue(
                    format!("intervention \"{}\" is defined twice", i.id),
                    "give every intervention a unique id".into(),
                    needle.clone(),
                ));
            }
            for arm in &i.arms {
                if self.arm(arm).is_none() {
                    let known: Vec<&str> = self.arms.iter().map(|a| a.name.0.as_str()).collect();
                    issues.push(issue(
                        format!("intervention \"{}\" names the arm \"{arm}\", which the scenario does not have", i.id),
                        format!("use one of the arms: {}", known.join(", ")),
                        format!("\"{arm}\""),
                    ));
                }
            }
            let rounds = self.mechanism.max_rounds();
            if let Trigger::Round(r) = i.at
                && (r == 0 || r > rounds)
            {
                issues.push(issue(
                    format!("intervention \"{}\" fires at round {r}, but runs play rounds 1 to {rounds}", i.id),
                    format!("use a round from 1 to {rounds}"),
                    format!("Round({r})"),
                ));
            }
            match &i.to {
                Target::Share(p) if !(*p > 0.0 && *p <= 1.0) => issues.push(issue(
                    format!("intervention \"{}\" reaches a share of {p}, which is not within (0, 1]", i.id),
                    "give the share of agents to reach, for example Share(0.5) for half".into(),
                    "Share(".into(),
                )),
                Target::Attribute(spec)
                    if !(imported
                        || spec.contains('=') && crate::is_known_driver(spec, attributes, &[])) =>
                {
                    issues.push(issue(
                        format!("intervention \"{}\" targets \"{spec}\", which is no `attribute=category` of the population", i.id),
                        "write the attribute and one of its categories, for example Attribute(\"commute=car\")".into(),
                        format!("\"{spec}\""),
                    ))
                }
                _ => {}
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
