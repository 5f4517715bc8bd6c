//! Times the conjoint mechanism's end-of-run estimation (`estimate_all`: the pooled
//! fit and one fit per household segment, with importances, WTP and shares) on
//! 10,000 respondents x 12 tasks of the meal-kit study, answered by its rule-based
//! respondents. Run with
//! `cargo run --release -p agora-mechanisms --example conjoint_estimation`.

use std::time::Instant;

use agora_choice::conjoint::{balanced_overlap_design, simulate_choice};
use agora_mechanisms::conjoint::{Answer, ConjointSpec, estimate, estimate_all};
use agora_mechanisms::market::Segmentation;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

const RESPONDENTS: usize = 10_000;
const TASKS: usize = 12;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/conjoint-meal-kit.ron"),
    )?;
    // The mechanism block of the scenario, with 12 tasks.
    let start = text.find("Conjoint((").ok_or("no Conjoint block")? + "Conjoint(".len();
    let end = text.rfind("))").ok_or("no end of block")? + 1;
    let block = text[start..end].replace("tasks: 10,", "tasks: 12,");
    let spec: ConjointSpec = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(&block)?;
    let design = balanced_overlap_design(&spec.study, RESPONDENTS, TASKS, 3, 1)?;
    let mut rng = Pcg64Mcg::seed_from_u64(2);
    let mut answers = Vec::with_capacity(RESPONDENTS * TASKS);
    for task in &design {
        let rows = spec.study.code_alternatives(&task.profiles)?;
        let chosen = simulate_choice(&spec.planted, &rows, &mut rng)?;
        answers.push(Answer {
            respondent: task.respondent as u32,
            task: task.task as u16,
            chosen: chosen as u8,
        });
    }
    let households = Segmentation {
        attribute: "household".into(),
        labels: vec!["single".into(), "couple".into(), "family".into()],
        of: (0..RESPONDENTS).map(|r| Some((r % 3) as u16)).collect(),
    };
    let started = Instant::now();
    let pooled = estimate(&spec, &design, &answers, "all");
    let pooled_time = started.elapsed();
    let started = Instant::now();
    let rows = estimate_all(&spec, &design, &answers, &[households]);
    let elapsed = started.elapsed();
    println!(
        "pooled fit of {} choices: {} rows, {:.3} s",
        answers.len(),
        pooled.len(),
        pooled_time.as_secs_f64()
    );
    let fits: Vec<&str> = rows
        .iter()
        .filter(|r| r.kind == "fit")
        .filter_map(|r| r.note.as_deref())
        .collect();
    println!(
        "{} respondents x {TASKS} tasks ({} choices, {} parameters): 4 fits (all + 3 segments), {} rows, {:.3} s; {fits:?}",
        RESPONDENTS,
        answers.len(),
        spec.study.n_parameters(),
        rows.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
