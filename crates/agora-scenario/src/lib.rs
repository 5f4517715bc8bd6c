//! Scenarios: RON files that describe an experiment, checked before anything runs.
//!
//! A scenario names its population, its mechanism and settings, seed, replicates,
//! model and output directory. [`load`] parses and validates the whole file; every
//! problem is reported as `file:line:col` with what is wrong and how to fix it, and a
//! valid [`Scenario`] turns into an [`ExperimentPlan`] (arms x replicates) once
//! command-line overrides are applied. Validation reads and checks the population's
//! import file too (problems are reported at the file's line and column), and refuses
//! populations above the maximum size or beyond the machine's memory, and more than
//! [`MAX_REPLICATES`] replicates.

mod diagnostic;
mod file;
mod locate;
mod plan;
pub mod reference;
pub mod stimuli;
pub mod template;

pub use agora_core::Registry;
pub use agora_core::persona::PersonaView;
pub use diagnostic::{Diagnostic, ScenarioError};
use file::RawScenarioFile;
pub use file::{
    ArmName, ArmSpec, MAX_REPLICATES, MAX_RUNS, ModelBlock, Replicates, ScenarioFile,
    check_replicates, is_known_driver,
};
pub use plan::{ExperimentPlan, Overrides, RETEST_SUFFIX, RunPlan};

use std::path::{Path, PathBuf};

/// Episodic memory items per agent assumed by the memory estimate (the runner's
/// default capacity).
pub const MEMORY_CAPACITY: u16 = 32;

/// A parsed and validated scenario file.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's settings.
    pub file: ScenarioFile,
    /// BLAKE3 hash of the file's bytes, hex.
    pub hash: String,
}

impl Scenario {
    /// Directory relative paths inside the scenario (imports) are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Read, parse and validate the scenario at `path`; its mechanism block must name a
/// mechanism of `registry`.
pub fn load(path: &Path, registry: &Registry) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let (message, hint) = if e.kind() == std::io::ErrorKind::NotFound {
            let message = match closest_scenario(path, Path::new("scenarios")) {
                Some(near) => format!(
                    "{}; did you mean {}?",
                    diagnostic::MISSING_FILE,
                    near.display()
                ),
                None => format!(
                    "{}; `agora init FILE --mechanism NAME` writes one, scenarios/*.ron are examples",
                    diagnostic::MISSING_FILE
                ),
            };
            (message, String::new())
        } else {
            (
                format!("cannot read the scenario file: {e}"),
                "check the path and its permissions".into(),
            )
        };
        ScenarioError::single(Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message,
            hint,
        })
    })?;
    let file = parse(path, &text, registry)?;
    Ok(Scenario {
        path: path.to_path_buf(),
        file,
        hash: blake3::hash(text.as_bytes()).to_hex().to_string(),
    })
}

/// The existing `.ron` file whose name is closest to the missing `path`'s: among the
/// files of its folder (when that exists) and of `examples`, the folder of example
/// scenarios; `None` when nothing is close.
pub fn closest_scenario(path: &Path, examples: &Path) -> Option<PathBuf> {
    let wanted = path.file_name()?.to_string_lossy().to_lowercase();
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let folders = [parent.unwrap_or(Path::new(".")), examples];
    let mut best: Option<(f64, PathBuf)> = None;
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let candidate = entry.path();
            if candidate.extension().is_none_or(|e| e != "ron") || !candidate.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_lowercase();
            let score = strsim::normalized_damerau_levenshtein(&wanted, &name);
            // Keep the first of equal scores: the missing file's own folder wins.
            if score >= 0.6 && best.as_ref().is_none_or(|(s, _)| score > *s) {
                let shown = if folder == Path::new(".") && parent.is_none() {
                    PathBuf::from(entry.file_name())
                } else {
                    folder.join(entry.file_name())
                };
                best = Some((score, shown));
            }
        }
    }
    best.map(|(_, p)| p)
}

/// Parse and validate scenario `text` (read from `path`, used in messages).
pub fn parse(path: &Path, text: &str, registry: &Registry) -> Result<ScenarioFile, ScenarioError> {
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let raw: RawScenarioFile<'_> = options
        .from_str(text)
        .map_err(|e| ScenarioError::single(diagnostic::from_ron(path, text, &e)))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let reference = raw.reference.clone();
    let mut file = resolve_arms(path, text, raw, registry, base)?;
    let mut issues = file.cross_check();
    let population = &file.population;
    if issues.is_empty()
        && let Err(e) = agora_population::check_population(
            population,
            population.size as u64,
            MEMORY_CAPACITY,
            agora_population::available_memory(),
        )
    {
        let message = e.to_string();
        let (message, hint) = agora_population::split_hint(&message);
        issues.push(file::Issue {
            message: message.to_string(),
            hint: hint.unwrap_or_default().to_string(),
            needle: "size".into(),
            section: Some("population"),
        });
    }
    let mut diagnostics: Vec<Diagnostic> = issues
        .into_iter()
        .map(|i| locate::diagnostic(path, text, i))
        .collect();
    if diagnostics.is_empty()
        && let Err(e) = agora_population::check_import(population, population.size, base)
    {
        diagnostics.push(import_diagnostic(path, text, e));
    }
    if diagnostics.is_empty()
        && let Some(spec) = reference
    {
        match reference::load(&spec, &file.mechanism.questions(), base) {
            Ok(data) => {
                if spec.twins && file.population.import.is_none() {
                    diagnostics.push(locate::diagnostic(path, text, file::Issue {
                        message: "`twins: true` needs the population imported from the reference respondents".into(),
                        hint: "import the same file in `population: (import: (path: ...))`, listing the attributes the personas carry, so agent k is the respondent of row k".into(),
                        needle: "twins".into(),
                        section: Some("reference"),
                    }));
                }
                file.reference = Some(data);
            }
            Err(problem) => diagnostics.push(match problem.file {
                Some(f) => Diagnostic {
                    path: f,
                    line: problem.line,
                    col: problem.col,
                    message: format!("{} (reference of {})", problem.message, path.display()),
                    hint: problem.hint,
                },
                None => locate::diagnostic(
                    path,
                    text,
                    file::Issue {
                        message: problem.message,
                        hint: problem.hint,
                        needle: problem.needle,
                        section: Some("reference"),
                    },
                ),
            }),
        }
    }
    if diagnostics.is_empty() {
        Ok(file)
    } else {
        Err(ScenarioError { diagnostics })
    }
}

/// Where `block` (a slice of `text`) starts in the file.
fn origin_of(text: &str, block: &str) -> ron::error::Position {
    let (line, col) = (block.as_ptr() as usize)
        .checked_sub(text.as_ptr() as usize)
        .filter(|o| *o <= text.len())
        .map(|o| locate::line_col(text, o))
        .unwrap_or((1, 1));
    ron::error::Position { line, col }
}

/// Parse every arm's mechanism block (its own or the scenario's) with its stimuli
/// filled in; a file without arms has one arm, `base`.
fn resolve_arms(
    path: &Path,
    text: &str,
    raw: RawScenarioFile<'_>,
    registry: &Registry,
    base: &Path,
) -> Result<ScenarioFile, ScenarioError> {
    let mut raw_arms = raw.arms;
    if raw_arms.is_empty() {
        raw_arms.push(file::RawArm {
            name: file::ArmName("base".into()),
            model: None,
            temperature: None,
            top_p: None,
            max_tokens: None,
            persona: Default::default(),
            stimuli: Default::default(),
            control: false,
            mechanism: None,
        });
    }
    let mut used: std::collections::BTreeSet<String> = Default::default();
    let mut arms = Vec::with_capacity(raw_arms.len());
    let error_at = |needle: String, section: &'static str, message: String, hint: String| {
        ScenarioError::single(locate::diagnostic(
            path,
            text,
            file::Issue {
                message,
                hint,
                needle,
                section: Some(section),
            },
        ))
    };
    for arm in raw_arms {
        let block = arm.mechanism.unwrap_or(raw.mechanism).get_ron();
        let mut values = raw.stimuli.clone();
        values.extend(arm.stimuli.clone());
        let names: std::collections::BTreeSet<String> = stimuli::placeholders(block)
            .into_iter()
            .map(|p| p.name)
            .collect();
        if let Some(unused) = arm.stimuli.keys().find(|k| !names.contains(*k)) {
            return Err(error_at(
                format!("\"{unused}\""),
                "arms",
                format!(
                    "arm \"{}\" sets the stimulus \"{unused}\" but its mechanism block has no {{{{{unused}}}}} placeholder",
                    arm.name.0
                ),
                format!(
                    "write {{{{{unused}}}}} where the stimulus belongs in the mechanism's texts, or remove it; placeholders in use: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.iter().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            ));
        }
        used.extend(names);
        let filled = stimuli::substitute(block, &values).map_err(|missing| {
            error_at(
                format!("{{{{{}", missing.name),
                "mechanism",
                format!(
                    "the placeholder {{{{{}}}}} has no value in arm \"{}\"",
                    missing.name, arm.name.0
                ),
                format!(
                    "give it a value in the arm's `stimuli: {{\"{0}\": \"...\"}}`, or in the scenario's `stimuli:` for every arm",
                    missing.name
                ),
            )
        })?;
        let origin = origin_of(text, block);
        let mechanism = registry.parse(&filled, base).map_err(|e| {
            let mut error = ScenarioError::single(diagnostic::from_settings(path, text, e, origin));
            if filled != block {
                for d in &mut error.diagnostics {
                    d.message =
                        format!("{} (arm \"{}\", stimuli filled in)", d.message, arm.name.0);
                }
            }
            error
        })?;
        let params =
            file::with_sampling(raw.model.params, arm.temperature, arm.top_p, arm.max_tokens);
        arms.push(ArmSpec {
            name: arm.name,
            model: arm.model.map(|m| m.0),
            params,
            persona: arm.persona,
            stimuli: values,
            control: arm.control,
            mechanism,
        });
    }
    if let Some(unused) = raw.stimuli.keys().find(|k| !used.contains(*k)) {
        return Err(error_at(
            format!("\"{unused}\""),
            "stimuli",
            format!("the stimulus \"{unused}\" is used by no mechanism block"),
            format!(
                "write {{{{{unused}}}}} in the mechanism's texts where it belongs, or remove it"
            ),
        ));
    }
    let control = arms.iter().position(|a| a.control).unwrap_or(0);
    let mechanism = arms[control].mechanism.clone();
    Ok(ScenarioFile {
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        replicates: raw.replicates,
        rounds: raw.rounds,
        model: raw.model,
        arms,
        stimuli: raw.stimuli,
        segments: raw.segments,
        comparisons: raw.comparisons,
        retest: raw.retest,
        interventions: raw.interventions,
        reference: None,
        coding: raw.coding,
        output: raw.output,
        population: raw.population,
        mechanism,
    })
}

/// Place an import problem at its line and column in the import file, or, when it
/// concerns the whole file, at the import block of the scenario.
fn import_diagnostic(path: &Path, text: &str, e: agora_population::ImportError) -> Diagnostic {
    let column = e
        .column
        .as_ref()
        .map(|c| format!("column {c:?}: "))
        .unwrap_or_default();
    match e.line {
        Some(line) => Diagnostic {
            path: e.file.clone(),
            line,
            col: e.col.map_or(1, |c| c as usize),
            message: format!("{column}{} (import of {})", e.message, path.display()),
            hint: e.hint,
        },
        None => {
            let mut d = locate::diagnostic(
                path,
                text,
                file::Issue {
                    message: format!("import file {}: {column}{}", e.file.display(), e.message),
                    hint: e.hint,
                    needle: "path".into(),
                    section: Some("import"),
                },
            );
            d.path = path.to_path_buf();
            d
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_scenario_is_matched_with_the_closest_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        let examples = dir.path().join("scenarios");
        std::fs::create_dir(&examples).unwrap();
        for name in ["consumer-survey.ron", "focus-group.ron", "notes.txt"] {
            std::fs::write(examples.join(name), "").unwrap();
        }
        std::fs::write(dir.path().join("my-study.ron"), "").unwrap();
        let near = |p: &Path| closest_scenario(p, &examples);
        // A typo in the name, in the examples' folder.
        assert_eq!(
            near(&examples.join("consumer-survy.ron")),
            Some(examples.join("consumer-survey.ron"))
        );
        // The examples' folder left out.
        assert_eq!(
            near(&dir.path().join("focus-group.ron")),
            Some(examples.join("focus-group.ron"))
        );
        // The missing file's own folder is searched too.
        assert_eq!(
            near(&dir.path().join("my-stduy.ron")),
            Some(dir.path().join("my-study.ron"))
        );
        // Nothing close, and files that are not scenarios, give no suggestion.
        assert_eq!(near(&dir.path().join("auction.ron")), None);
        assert_eq!(near(&dir.path().join("notes.ron")), None);
        // A missing folder is not an error.
        assert_eq!(
            near(&dir.path().join("nowhere/focus-grop.ron")),
            Some(examples.join("focus-group.ron"))
        );
    }

    #[test]
    fn replicates_are_limited_with_a_fix() {
        assert_eq!(check_replicates(1), Ok(1));
        assert_eq!(
            check_replicates(u64::from(MAX_REPLICATES)),
            Ok(u64::from(MAX_REPLICATES))
        );
        let err = check_replicates(1_000_000_000).err().unwrap_or_default();
        assert!(
            err.contains("at most 10000, got 1000000000") && err.contains("; use at most"),
            "{err}"
        );
        assert!(check_replicates(0).is_err());
        let parsed: Result<Replicates, _> = ron::from_str("\n  1000000000");
        let err = parsed.err();
        assert_eq!(err.as_ref().map(|e| e.span.start.line), Some(2));
        assert!(
            err.is_some_and(|e| e.code.to_string().contains("replicates must be at most")),
            "positioned error"
        );
    }

    fn import_error(line: Option<usize>) -> agora_population::ImportError {
        agora_population::ImportError {
            file: PathBuf::from("dir/people.csv"),
            line,
            col: line.map(|_| 4),
            column: Some("region".into()),
            message: "unknown category \"mars\"".into(),
            hint: "use one of \"north\"".into(),
        }
    }

    #[test]
    fn import_problems_point_into_the_import_file() {
        let text = "Scenario(\n  population: (\n    import: (path: \"people.csv\"),\n  ),\n)";
        let d = import_diagnostic(Path::new("dir/s.ron"), text, import_error(Some(3)));
        assert_eq!(
            d.to_string(),
            "dir/people.csv:3:4: error: column \"region\": unknown category \"mars\" (import of dir/s.ron)\n  help: use one of \"north\""
        );
        let d = import_diagnostic(Path::new("dir/s.ron"), text, import_error(None));
        assert_eq!(
            (d.path.as_path(), d.line, d.col),
            (Path::new("dir/s.ron"), 3, 14)
        );
        assert!(d.message.starts_with("import file dir/people.csv: "), "{d}");
    }
}
