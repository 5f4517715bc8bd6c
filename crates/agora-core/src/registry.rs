//! The mechanism registry: every mechanism describes itself once, and one list of
//! them drives scenario parsing, validation, the rule-based backend and the run loop.
//!
//! A mechanism implements [`MechanismDef`]: its keyword in scenarios (`Survey`), its
//! name in tables (`survey`), its settings type as parsed from RON, the population
//! traits and files its settings refer to, its rule-based policies and how it is
//! built for a run. [`Registry::add`] registers it; nothing else in the engine names
//! it. A mechanism defined outside the mechanisms crate registers the same way.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use agora_model::{ChatModel, RuleBackend, SamplingParams};
use bevy_ecs::world::World;
use futures::FutureExt;
use futures::future::BoxFuture;
use ron::error::{Position, Span, SpannedError};
use serde::de::DeserializeOwned;

use crate::RunError;
use crate::checkpoint::StateTypes;
use crate::mechanism::Mechanism;
use crate::outcome::{OutcomeSource, Question, TextSource};
use crate::record::{Recorder, RunInfo};
use crate::scheduler::{Progress, RunControl, RunEnd, SchedulerLimits, play_rounds};

/// A problem in a mechanism's settings found after parsing (a file that cannot be
/// read, a reference that names nothing), with the text that locates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsIssue {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Exact text to search for in the mechanism block to locate the problem.
    pub needle: String,
}

/// A commented starting point for a scenario of one mechanism, written by `agora init`.
///
/// The mechanism block may refer to the attributes and traits of the starting
/// population every template shares (`age`, `region`, `household`, `income`,
/// `price_sensitivity` and the Big Five), and must be valid as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    /// What the mechanism does, in one line (`agora init --list`).
    pub summary: &'static str,
    /// What the example scenario studies, in one line (its `description`).
    pub about: &'static str,
    /// Agents in the starting population.
    pub agents: u32,
    /// Replicates per arm.
    pub replicates: u32,
    /// The mechanism block `Keyword(( ... ))`, with comments on every setting.
    pub mechanism: &'static str,
}

/// A registered mechanism as `agora init` lists it.
#[derive(Clone, Copy, Debug)]
pub struct MechanismInfo {
    /// Its keyword in scenarios (`FocusGroup`).
    pub keyword: &'static str,
    /// Its name in tables (`focus_group`).
    pub name: &'static str,
    /// Its starting scenario, if it offers one.
    pub template: Option<Template>,
}

/// What a mechanism is built from for one run.
pub struct Build<'a> {
    /// Sampling parameters of the run's model calls.
    pub params: SamplingParams,
    /// The run's world, population already spawned.
    pub world: &'a World,
    /// Where the mechanism opens its tables.
    pub recorder: &'a mut Recorder,
    /// The run's identity and seeds.
    pub info: &'a RunInfo,
}

/// One mechanism's description of itself.
pub trait MechanismDef: Send + Sync + 'static {
    /// The settings block as written in a scenario, inside `Keyword(( ... ))`.
    type Settings: DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static;
    /// The mechanism played for a run.
    type Mechanism: Mechanism;

    /// The keyword of its block in scenarios (`Survey`).
    const KEYWORD: &'static str;
    /// Its name in tables and manifests (`survey`).
    const NAME: &'static str;

    /// Whether runs of this mechanism apply a scenario's `interventions:` (read from the
    /// [`Interventions`](crate::intervention::Interventions) resource); a scenario with
    /// interventions for a mechanism without them is refused.
    const INTERVENTIONS: bool = false;

    /// The commented starting scenario `agora init --mechanism NAME` writes for this
    /// mechanism (`None`: the mechanism offers none, and `agora init` says so). Keep the
    /// block next to the mechanism, e.g. `include_str!("template.ron")`.
    const TEMPLATE: Option<Template> = None;

    /// The most rounds a run of these settings plays.
    fn max_rounds(settings: &Self::Settings) -> u32;

    /// Names of population traits and attributes the settings refer to (checked
    /// against the population before anything runs).
    fn drivers(_settings: &Self::Settings) -> Vec<String> {
        Vec::new()
    }

    /// Names of categorical population attributes the settings split respondents by
    /// (checked against the population before anything runs).
    fn segments(_settings: &Self::Settings) -> Vec<String> {
        Vec::new()
    }

    /// Make relative file paths in the settings relative to `base`, the scenario's folder.
    fn resolve_paths(_settings: &mut Self::Settings, _base: &Path) {}

    /// Checks beyond parsing (files exist and parse, ...); empty when all is well.
    fn check(_settings: &Self::Settings) -> Vec<SettingsIssue> {
        Vec::new()
    }

    /// The rule-based policies of the `rules` backend for these settings.
    fn rule_backend(settings: &Self::Settings) -> RuleBackend;

    /// How many of `agents` a typical step asks at once (all of them by default; one
    /// for turn-taking conversations): whether a run's steps fill the model server's
    /// concurrency alone (its runs then play one at a time) or runs play together.
    fn actors_per_step(_settings: &Self::Settings, agents: usize) -> usize {
        agents
    }

    /// Add the components and resources the mechanism keeps in the world, so that a
    /// snapshot after any round holds everything that changes during a run.
    fn state_types(types: StateTypes) -> StateTypes {
        types
    }

    /// The questions these settings ask with a fixed scale (what human answers can be
    /// compared with); none by default.
    fn questions(_settings: &Self::Settings) -> Vec<Question> {
        Vec::new()
    }

    /// Where the outcomes of these settings are in the mechanism's tables: what the
    /// `stats` table estimates per arm and segment (none by default).
    fn outcomes(_settings: &Self::Settings) -> Vec<OutcomeSource> {
        Vec::new()
    }

    /// The free-text answers these settings record, which open-answer coding can code
    /// (none by default).
    fn texts(_settings: &Self::Settings) -> Vec<TextSource> {
        Vec::new()
    }

    /// Build the mechanism for one run: resolve what it needs from the world and open
    /// its tables.
    fn build(settings: &Self::Settings, build: Build<'_>) -> Result<Self::Mechanism, RunError>;
}

/// Everything a run needs to play a mechanism, handed to [`MechanismSettings::play`].
pub struct Play<'a> {
    /// Sampling parameters of the run's model calls.
    pub params: SamplingParams,
    /// The run's world.
    pub world: &'a mut World,
    /// Where rows go.
    pub recorder: &'a mut Recorder,
    /// The model answering decisions.
    pub model: &'a dyn ChatModel,
    /// Most rounds (the run's cap).
    pub max_rounds: u32,
    /// Concurrency and budget limits.
    pub limits: SchedulerLimits,
    /// Progress observer.
    pub progress: &'a mut dyn Progress,
    /// Fresh or resumed, and whether to pause (the state types are filled in).
    pub control: RunControl,
}

/// Settings of a registered mechanism, with the mechanism's type erased.
trait ErasedSettings: fmt::Debug + Send + Sync {
    fn keyword(&self) -> &'static str;
    fn name(&self) -> &'static str;
    fn max_rounds(&self) -> u32;
    fn drivers(&self) -> Vec<String>;
    fn segments(&self) -> Vec<String>;
    fn check(&self) -> Vec<SettingsIssue>;
    fn rule_backend(&self) -> RuleBackend;
    fn actors_per_step(&self, agents: usize) -> usize;
    fn state_types(&self) -> StateTypes;
    fn outcomes(&self) -> Vec<OutcomeSource>;
    fn interventions(&self) -> bool;
    fn questions(&self) -> Vec<Question>;
    fn texts(&self) -> Vec<TextSource>;
    fn play<'a>(&'a self, play: Play<'a>) -> BoxFuture<'a, Result<RunEnd, RunError>>;
    fn as_any(&self) -> &dyn std::any::Any;
}

struct Typed<D: MechanismDef>(D::Settings);

impl<D: MechanismDef> fmt::Debug for Typed<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(D::KEYWORD).field(&self.0).finish()
    }
}

impl<D: MechanismDef> ErasedSettings for Typed<D> {
    fn keyword(&self) -> &'static str {
        D::KEYWORD
    }

    fn name(&self) -> &'static str {
        D::NAME
    }

    fn max_rounds(&self) -> u32 {
        D::max_rounds(&self.0)
    }

    fn drivers(&self) -> Vec<String> {
        D::drivers(&self.0)
    }

    fn segments(&self) -> Vec<String> {
        D::segments(&self.0)
    }

    fn check(&self) -> Vec<SettingsIssue> {
        D::check(&self.0)
    }

    fn rule_backend(&self) -> RuleBackend {
        D::rule_backend(&self.0)
    }

    fn actors_per_step(&self, agents: usize) -> usize {
        D::actors_per_step(&self.0, agents)
    }

    fn state_types(&self) -> StateTypes {
        D::state_types(StateTypes::default())
    }

    fn outcomes(&self) -> Vec<OutcomeSource> {
        D::outcomes(&self.0)
    }

    fn interventions(&self) -> bool {
        D::INTERVENTIONS
    }

    fn questions(&self) -> Vec<Question> {
        D::questions(&self.0)
    }

    fn texts(&self) -> Vec<TextSource> {
        D::texts(&self.0)
    }

    fn play<'a>(&'a self, mut play: Play<'a>) -> BoxFuture<'a, Result<RunEnd, RunError>> {
        async move {
            play.control.state = self.state_types();
            let info = play.recorder.info().clone();
            let mut mechanism = D::build(
                &self.0,
                Build {
                    params: play.params,
                    world: play.world,
                    recorder: play.recorder,
                    info: &info,
                },
            )?;
            play_rounds(
                &mut mechanism,
                play.world,
                play.recorder,
                play.model,
                play.max_rounds,
                play.limits,
                play.progress,
                &play.control,
            )
            .await
        }
        .boxed()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        &self.0
    }
}

/// The parsed settings of one scenario's mechanism, of whichever registered kind.
#[derive(Clone)]
pub struct MechanismSettings(Arc<dyn ErasedSettings>);

impl fmt::Debug for MechanismSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl MechanismSettings {
    /// Wrap typed settings of mechanism `D`.
    pub fn new<D: MechanismDef>(settings: D::Settings) -> Self {
        Self(Arc::new(Typed::<D>(settings)))
    }

    /// The keyword of the block in scenarios (`Survey`).
    pub fn keyword(&self) -> &'static str {
        self.0.keyword()
    }

    /// The mechanism's name in tables and the manifest (`survey`).
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Rounds the mechanism plays at most.
    pub fn max_rounds(&self) -> u32 {
        self.0.max_rounds()
    }

    /// Names of population traits and attributes the settings refer to.
    pub fn referenced_drivers(&self) -> Vec<String> {
        self.0.drivers()
    }

    /// Names of categorical attributes the settings split respondents by.
    pub fn referenced_segments(&self) -> Vec<String> {
        self.0.segments()
    }

    /// Problems beyond parsing (unreadable files, ...).
    pub fn check(&self) -> Vec<SettingsIssue> {
        self.0.check()
    }

    /// A `rules` backend with the policies this mechanism asks for.
    pub fn rule_backend(&self) -> RuleBackend {
        self.0.rule_backend()
    }

    /// The typed settings, when they are those of mechanism `D`.
    pub fn downcast<D: MechanismDef>(&self) -> Option<&D::Settings> {
        self.0.as_any().downcast_ref::<D::Settings>()
    }

    /// How many of `agents` a typical step of this mechanism asks at once.
    pub fn actors_per_step(&self, agents: usize) -> usize {
        self.0.actors_per_step(agents)
    }

    /// The serializable state a run of this mechanism keeps in its world: the
    /// engine's own types and the mechanism's.
    pub fn state_types(&self) -> StateTypes {
        self.0.state_types()
    }

    /// Where the outcomes of these settings are in the mechanism's tables.
    pub fn outcomes(&self) -> Vec<OutcomeSource> {
        self.0.outcomes()
    }

    /// The questions with a fixed scale these settings ask.
    pub fn questions(&self) -> Vec<Question> {
        self.0.questions()
    }

    /// The free-text answers these settings record (what `coding:` can code).
    pub fn texts(&self) -> Vec<TextSource> {
        self.0.texts()
    }

    /// Whether the mechanism applies interventions.
    pub fn supports_interventions(&self) -> bool {
        self.0.interventions()
    }

    /// Build the mechanism for a run (on a fresh world, or one restored from a
    /// snapshot) and play it until it stops or pauses.
    pub fn play<'a>(&'a self, play: Play<'a>) -> BoxFuture<'a, Result<RunEnd, RunError>> {
        self.0.play(play)
    }
}

type Parser = fn(&str, &Path) -> Result<MechanismSettings, SpannedError>;

/// One registered mechanism.
#[derive(Clone, Copy)]
struct Entry {
    keyword: &'static str,
    name: &'static str,
    template: Option<Template>,
    parse: Parser,
}

fn parse_typed<D: MechanismDef>(
    inner: &str,
    base: &Path,
) -> Result<MechanismSettings, SpannedError> {
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let mut settings: D::Settings = options.from_str(inner)?;
    D::resolve_paths(&mut settings, base);
    Ok(MechanismSettings::new::<D>(settings))
}

/// Why a mechanism block could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseSettingsError {
    /// The block names no registered mechanism.
    #[error("unknown mechanism `{found}`")]
    Unknown {
        /// The keyword written.
        found: String,
        /// Registered keywords.
        known: Vec<&'static str>,
        /// Where the keyword is, relative to the block's text.
        at: Position,
    },
    /// The block is not `Keyword(( ... ))`.
    #[error("expected a mechanism such as `Survey(( ... ))`")]
    Shape {
        /// Registered keywords.
        known: Vec<&'static str>,
        /// Where, relative to the block's text.
        at: Position,
    },
    /// The settings inside the block are invalid; positions are relative to the block.
    #[error("{0}")]
    Ron(SpannedError),
}

/// The list of mechanisms an engine knows.
#[derive(Clone, Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register mechanism `D` (a later registration of the same keyword replaces it).
    pub fn add<D: MechanismDef>(mut self) -> Self {
        self.entries.retain(|e| e.keyword != D::KEYWORD);
        self.entries.push(Entry {
            keyword: D::KEYWORD,
            name: D::NAME,
            template: D::TEMPLATE,
            parse: parse_typed::<D>,
        });
        self
    }

    /// The keywords of the registered mechanisms, in registration order.
    pub fn keywords(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.keyword).collect()
    }

    /// The table names of the registered mechanisms, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// Every registered mechanism, in registration order.
    pub fn mechanisms(&self) -> Vec<MechanismInfo> {
        self.entries
            .iter()
            .map(|e| MechanismInfo {
                keyword: e.keyword,
                name: e.name,
                template: e.template,
            })
            .collect()
    }

    /// The mechanism called `name`: its keyword (`FocusGroup`) or table name
    /// (`focus_group`), ignoring case, `-` and `_` (`focus-group` works too).
    pub fn find(&self, name: &str) -> Option<MechanismInfo> {
        let key = |s: &str| -> String {
            s.chars()
                .filter(|c| !matches!(c, '-' | '_' | ' '))
                .flat_map(char::to_lowercase)
                .collect()
        };
        let wanted = key(name);
        self.mechanisms()
            .into_iter()
            .find(|m| key(m.keyword) == wanted || key(m.name) == wanted)
    }

    /// Parse a mechanism block `Keyword(( ... ))` (`text` is the block alone); relative
    /// paths inside are taken from `base`. Error positions are relative to `text`.
    pub fn parse(&self, text: &str, base: &Path) -> Result<MechanismSettings, ParseSettingsError> {
        let lead = text.len() - text.trim_start().len();
        let body = &text[lead..];
        let ident_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let keyword = &body[..ident_len];
        let rest = body[ident_len..].trim_start();
        let at = position_of(text, lead);
        if keyword.is_empty() || !rest.starts_with('(') || !rest.trim_end().ends_with(')') {
            return Err(ParseSettingsError::Shape {
                known: self.keywords(),
                at,
            });
        }
        let entry = self
            .entries
            .iter()
            .find(|e| e.keyword == keyword)
            .ok_or_else(|| ParseSettingsError::Unknown {
                found: keyword.to_string(),
                known: self.keywords(),
                at,
            })?;
        // The settings are the newtype's content: between the outer parentheses.
        let open = text.len() - rest.len();
        let close = text.rfind(')').unwrap_or(text.len());
        let inner = &text[open + 1..close];
        let offset = position_of(text, open + 1);
        (entry.parse)(inner, base).map_err(|e| ParseSettingsError::Ron(shift(e, offset)))
    }
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn position_of(text: &str, offset: usize) -> Position {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Position { line, col }
}

/// Move a position found in a slice that starts at `origin` into the outer text.
pub fn shift_position(p: Position, origin: Position) -> Position {
    if p.line <= 1 {
        Position {
            line: origin.line,
            col: origin.col + p.col.saturating_sub(1),
        }
    } else {
        Position {
            line: origin.line + p.line - 1,
            col: p.col,
        }
    }
}

fn shift(mut e: SpannedError, origin: Position) -> SpannedError {
    e.span = Span {
        start: shift_position(e.span.start, origin),
        end: shift_position(e.span.end, origin),
    };
    e
}
