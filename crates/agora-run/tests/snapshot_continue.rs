//! Snapshot and continue: for every shipped mechanism, a run paused after round k,
//! whose snapshot is written out as JSON, read back and restored into a fresh world,
//! finishes with exactly the rows of a run that never stopped (every table, row for
//! row), on the rule-based backend and on a backend that reads prompts (so memories
//! and prompt-only state are part of what must survive).

use std::path::{Path, PathBuf};

use agora_core::Play;
use agora_core::checkpoint::RunSnapshot;
use agora_core::record::Recorder;
use agora_core::scheduler::{RunControl, RunEnd, SchedulerLimits, Silent};
use agora_export::OutputLayout;
use agora_model::{ChatModel, ChatRequest, ChatResponse, LlmError, RuleBackend};
use agora_run::setup::{RunIdentity, prepare_run};
use agora_scenario::{Overrides, Scenario};
use futures::future::BoxFuture;
use parquet::file::reader::{FileReader, SerializedFileReader};

/// The rule-based backend, but reading prompts as a language model would: mechanisms
/// then render prompts and keep prompt-only state (memories, drop-out lists).
struct ReadingRules(RuleBackend);

impl ChatModel for ReadingRules {
    fn name(&self) -> &str {
        "reading-rules"
    }

    fn reads_messages(&self) -> bool {
        true
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        self.0.complete(request)
    }

    fn answer_now(&self, request: &ChatRequest) -> Option<Result<ChatResponse, LlmError>> {
        self.0.answer_now(request)
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scenario(name: &str) -> Scenario {
    agora_scenario::load(
        &repo().join(format!("scenarios/{name}.ron")),
        &agora_mechanisms::registry(),
    )
    .unwrap()
}

/// Every row of every table below `dir`, as text, by table name.
fn rows(dir: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for table in std::fs::read_dir(dir).unwrap() {
        let table = table.unwrap().path();
        if !table.is_dir() {
            continue;
        }
        let name = table.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(table.join("arm=base/replicate=0"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let mut lines = Vec::new();
        for file in files {
            let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
            lines.extend(
                reader
                    .get_row_iter(None)
                    .unwrap()
                    .map(|r| r.unwrap().to_string()),
            );
        }
        out.insert(name, lines);
    }
    out
}

struct Played {
    recorder: Recorder,
    end: RunEnd,
}

fn play(
    scenario: &Scenario,
    world: &mut bevy_ecs::world::World,
    recorder: Recorder,
    model: &dyn ChatModel,
    control: RunControl,
) -> Played {
    let mut recorder = recorder;
    let plan = scenario.plan(&Overrides::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let end = runtime
        .block_on(scenario.file.mechanism.play(Play {
            params: plan.params,
            world,
            recorder: &mut recorder,
            model,
            max_rounds: plan.max_rounds,
            limits: SchedulerLimits::default(),
            progress: &mut Silent,
            control,
        }))
        .unwrap();
    Played { recorder, end }
}

/// Play `name` uninterrupted and paused after `pause` (then continued from a JSON
/// snapshot in a fresh world); the tables must be the same row for row.
fn check(name: &str, agents: usize, pause: u32, reads_text: bool) {
    let scenario = scenario(name);
    let rules = scenario.file.mechanism.rule_backend();
    let model: Box<dyn ChatModel> = if reads_text {
        Box::new(ReadingRules(rules))
    } else {
        Box::new(rules)
    };
    let dir = tempfile::tempdir().unwrap();
    let identity = RunIdentity {
        run_id: "run",
        arm: "base",
        replicate: 0,
        seed: scenario.file.seed,
        retest: false,
    };
    let setup = |out: &str| {
        prepare_run(
            &scenario.file.population,
            agents,
            scenario.base_dir(),
            &scenario.path,
            &identity,
            &OutputLayout::new(dir.path().join(out)),
            None,
        )
        .unwrap()
    };

    let mut whole = setup("whole");
    let played = play(
        &scenario,
        &mut whole.world,
        whole.recorder,
        model.as_ref(),
        RunControl::default(),
    );
    let RunEnd::Finished(expected) = played.end else {
        panic!("{name}: an uninterrupted run finishes");
    };
    played.recorder.close().unwrap();

    let mut first = setup("first");
    let info = first.recorder.info().clone();
    let played = play(
        &scenario,
        &mut first.world,
        first.recorder,
        model.as_ref(),
        RunControl {
            pause_after: Some(pause),
            ..Default::default()
        },
    );
    let RunEnd::Paused(snapshot) = played.end else {
        panic!("{name}: the run pauses after round {pause}");
    };
    played.recorder.close().unwrap();
    assert_eq!(snapshot.round, pause);
    drop(first.world);

    let json = serde_json::to_string(&snapshot).unwrap();
    let snapshot: RunSnapshot = serde_json::from_str(&json).unwrap();
    let mut world = snapshot
        .world
        .restore(&scenario.file.mechanism.state_types())
        .unwrap();
    let rest = Recorder::new(OutputLayout::new(dir.path().join("rest")), info);
    let played = play(
        &scenario,
        &mut world,
        rest,
        model.as_ref(),
        RunControl {
            resume: Some(snapshot),
            ..Default::default()
        },
    );
    let RunEnd::Finished(continued) = played.end else {
        panic!("{name}: the continued run finishes");
    };
    played.recorder.close().unwrap();
    assert_eq!(continued, expected, "{name}: the run's totals");

    let whole = rows(&dir.path().join("whole"));
    let first = rows(&dir.path().join("first"));
    let rest = rows(&dir.path().join("rest"));
    for (table, expected) in &whole {
        let mut joined = first.get(table).cloned().unwrap_or_default();
        joined.extend(rest.get(table).cloned().unwrap_or_default());
        assert_eq!(
            joined.len(),
            expected.len(),
            "{name} (pause after {pause}, reads text {reads_text}): rows of {table}"
        );
        for (i, (a, b)) in joined.iter().zip(expected).enumerate() {
            assert_eq!(a, b, "{name}: {table} row {i} differs");
        }
    }
}

#[test]
fn a_survey_continues_exactly_from_a_snapshot() {
    for reads_text in [false, true] {
        check("consumer-survey", 40, 3, reads_text);
    }
}

#[test]
fn an_auction_continues_exactly_from_a_snapshot() {
    for (name, pause) in [
        ("house-auction", 2),
        ("auction-english", 1),
        ("auction-dutch", 3),
    ] {
        for reads_text in [false, true] {
            check(name, 8, pause, reads_text);
        }
    }
}

#[test]
fn a_debate_continues_exactly_from_a_snapshot() {
    for reads_text in [false, true] {
        check("debate-two-sided", 6, 2, reads_text);
        check("opinion-dynamics", 12, 4, reads_text);
    }
}

#[test]
fn a_focus_group_continues_exactly_from_a_snapshot() {
    for reads_text in [false, true] {
        check("focus-group", 8, 3, reads_text);
    }
}

#[test]
fn market_research_studies_continue_exactly_from_a_snapshot() {
    for reads_text in [false, true] {
        check("conjoint-meal-kit", 30, 4, reads_text);
        check("maxdiff-meal-kit", 20, 3, reads_text);
        check("price-test-meal-kit", 30, 1, reads_text);
        check("price-test-meal-kit", 30, 3, reads_text);
        check("concept-test-meal-kit", 20, 2, reads_text);
    }
}
