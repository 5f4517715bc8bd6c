//! Times multinomial logit estimation on 10,000 respondents × 12 tasks × 3 profiles
//! (plus "none") with 10 parameters. Run with
//! `cargo run --release -p agora-choice --example mnl_timing`.

use std::time::Instant;

use agora_choice::conjoint::{
    Attribute, ConjointStudy, balanced_overlap_design, simulate_responses,
};
use agora_choice::{MnlOptions, Result, fit_mnl};

fn main() -> Result<()> {
    let study = ConjointStudy::new(
        vec![
            Attribute::categorical("brand", &["A", "B", "C", "D"]),
            Attribute::categorical("size", &["S", "M", "L"]),
            Attribute::categorical("colour", &["red", "green", "blue"]),
            Attribute::categorical("warranty", &["no", "yes"]),
            Attribute::price("price", &[1.0, 1.5, 2.0, 2.5, 3.0]),
        ],
        true,
    )?;
    let planted = [0.4, -0.2, 0.1, 0.3, 0.5, -0.4, 0.2, 0.6, -0.9, -1.5];
    let design = balanced_overlap_design(&study, 10_000, 12, 3, 1)?;
    let tasks = simulate_responses(&study, &design, &planted, 2)?;
    let start = Instant::now();
    let fit = fit_mnl(&tasks, &MnlOptions::default())?;
    let elapsed = start.elapsed();
    println!(
        "{} tasks, {} parameters: {} Newton steps, converged = {}, {:.3} s",
        tasks.len(),
        fit.beta.len(),
        fit.iterations,
        fit.converged,
        elapsed.as_secs_f64()
    );
    for (name, (b, se)) in study
        .parameter_names()
        .iter()
        .zip(fit.beta.iter().zip(&fit.std_errors))
    {
        println!("{name:>16}: {b:8.4} ({se:.4})");
    }
    Ok(())
}
