//! A mechanism defined outside `agora-mechanisms` registers through the public API, is
//! named in a RON scenario, runs with the rule-based backend and writes a table of its
//! own: the extension point a research group uses for a mechanism of its own.

use std::sync::Arc;

use agora_core::components::AgentId;
use agora_core::record::keyed_table;
use agora_core::world::Roster;
use agora_core::{Ask, Build, Decision, Flow, Mechanism, MechanismDef, RoundCtx, RunError};
use agora_export::{Column, ColumnType, TableId};
use agora_model::{
    ChatMessage, ChatRequest, ChatResponse, LlmError, RuleBackend, RulePolicy, SamplingParams,
};
use bevy_ecs::prelude::*;
use serde::Deserialize;

/// Settings of a one-question yes/no poll, as written in a scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PollSettings {
    question: String,
    #[serde(default = "two")]
    rounds: u32,
}

fn two() -> u32 {
    2
}

/// Every agent answers yes or no once per round.
struct Poll {
    settings: PollSettings,
    params: SamplingParams,
    table: TableId,
    asked: bool,
}

const TASK: &str = "poll.vote";

impl Mechanism for Poll {
    type Pending = u32;

    fn max_rounds(&self) -> u32 {
        self.settings.rounds
    }

    fn start_round(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.asked = false;
        Ok(())
    }

    fn next_step(&self, world: &World, _ctx: &RoundCtx<'_>) -> Option<Vec<Entity>> {
        (!self.asked).then(|| world.resource::<Roster>().0.clone())
    }

    fn request(&self, world: &World, ctx: &RoundCtx<'_>, agent: Entity, call: u32) -> Ask<u32> {
        let Some(id) = world.get::<AgentId>(agent).map(|a| a.0) else {
            return Ask::Decline("not an agent".into());
        };
        let request = ChatRequest {
            task: TASK,
            messages: if ctx.reads_text {
                vec![ChatMessage::user(self.settings.question.clone())]
            } else {
                Vec::new()
            },
            schema: Arc::new(serde_json::json!({
                "type": "object",
                "properties": { "yes": { "type": "boolean" } },
                "required": ["yes"],
            })),
            params: self.params,
            seed: ctx.call_seed(u64::from(id), call),
            facts: None,
        };
        Ask::Request(request, id)
    }

    fn resolve(
        &mut self,
        _world: &mut World,
        ctx: &mut RoundCtx<'_>,
        _agent: Entity,
        id: u32,
        answer: Result<&ChatResponse, &LlmError>,
    ) -> Result<Decision, RunError> {
        let yes = answer.ok().and_then(|r| r.answer["yes"].as_bool());
        ctx.recorder
            .row(self.table, ctx.round, Some(AgentId(id)))?
            .opt_str(yes.map(|y| if y { "yes" } else { "no" }))
            .end();
        Ok(match yes {
            Some(_) => Decision::Valid,
            None => Decision::Fallback("no yes/no answer".into()),
        })
    }

    fn end_step(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.asked = true;
        Ok(())
    }

    fn end_round(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<Flow, RunError> {
        Ok(Flow::Continue)
    }
}

/// Rule: agents with an even seed say yes.
struct EvenSeedSaysYes;

impl RulePolicy for EvenSeedSaysYes {
    fn answer(&self, request: &ChatRequest) -> Result<serde_json::Value, LlmError> {
        Ok(serde_json::json!({ "yes": request.seed.is_multiple_of(2) }))
    }
}

/// The poll's entry in the registry.
struct PollDef;

impl MechanismDef for PollDef {
    type Settings = PollSettings;
    type Mechanism = Poll;

    const KEYWORD: &'static str = "Poll";
    const NAME: &'static str = "poll";

    fn max_rounds(settings: &PollSettings) -> u32 {
        settings.rounds
    }

    fn rule_backend(_settings: &PollSettings) -> RuleBackend {
        RuleBackend::new().with_policy(TASK, Arc::new(EvenSeedSaysYes))
    }

    fn build(settings: &PollSettings, build: Build<'_>) -> Result<Poll, RunError> {
        Ok(Poll {
            settings: settings.clone(),
            params: build.params,
            table: build.recorder.open(keyed_table(
                "poll_votes",
                vec![Column::optional("vote", ColumnType::Utf8)],
            ))?,
            asked: false,
        })
    }
}

const SCENARIO: &str = r#"Scenario(
    name: "A poll defined outside the mechanisms crate",
    seed: 3,
    replicates: 2,
    model: (name: "rules"),
    population: (size: 7, attributes: [(name: "age", dist: Uniform(min: 18.0, max: 80.0))]),
    mechanism: Poll((question: "Should the park open at night?", rounds: 3)),
)"#;

#[test]
fn an_external_mechanism_registers_parses_runs_and_writes_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poll.ron");
    std::fs::write(&path, SCENARIO).unwrap();
    let registry = agora_mechanisms::registry().add::<PollDef>();
    assert!(registry.keywords().contains(&"Poll"));

    // Without the registration the scenario is invalid, with a positioned error.
    let unknown = agora_scenario::load(&path, &agora_mechanisms::registry()).unwrap_err();
    let text = unknown.to_string();
    assert!(text.contains("unknown mechanism `Poll`"), "{text}");
    assert!(text.contains("poll.ron:7:16"), "{text}");

    let scenario = agora_scenario::load(&path, &registry).unwrap();
    assert_eq!(scenario.file.mechanism.name(), "poll");
    let plan = scenario.plan(&agora_scenario::Overrides {
        out: Some(dir.path().join("out")),
        ..Default::default()
    });
    let summary = agora_run::run_experiment(
        &scenario,
        &plan,
        &agora_run::Execution::default(),
        &agora_run::NoProgress,
    )
    .unwrap();
    assert_eq!(summary.runs.len(), 2);
    for run in &summary.runs {
        assert_eq!(run.record.tables["poll_votes"], 7 * 3);
        assert_eq!(run.record.decisions, 7 * 3);
        assert_eq!(run.record.fallbacks, 0);
    }
    let file = dir
        .path()
        .join("out/poll_votes/arm=base/replicate=1/part-00002.parquet");
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&file).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(
        reader.metadata().file_metadata().num_rows(),
        7,
        "round 2's votes are the segment file of round 2"
    );
}
