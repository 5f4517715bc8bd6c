//! Throughput check for large populations; run with
//! `cargo test --release -p agora-population --test perf -- --ignored --nocapture`.

use std::path::Path;
use std::time::Instant;

use agora_core::seed::SeedStream;
use agora_population::{PopulationSpec, sample};

#[test]
#[ignore = "timing check; meaningful only in release builds"]
fn one_million_agents_with_eight_attributes() {
    let spec: PopulationSpec = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(
            r#"(
            attributes: [
                (name: "age", dist: Normal(mean: 45.0, std_dev: 15.0, min: 18.0, max: 90.0), round: true),
                (name: "income", dist: LogNormal(mu: 10.5, sigma: 0.6)),
                (name: "tech_affinity", dist: Beta(alpha: 2.0, beta: 5.0)),
                (name: "commute_km", dist: Uniform(min: 0.0, max: 40.0)),
                (name: "children", dist: Poisson(lambda: 1.2, max: 8.0)),
                (name: "region", dist: Categorical([("north", 0.3), ("south", 0.5), ("east", 0.2)])),
                (name: "employment", dist: Conditional(given: "region", table: [
                    ("north", [("employed", 0.6), ("student", 0.1), ("retired", 0.3)]),
                    ("south", [("employed", 0.5), ("student", 0.2), ("retired", 0.3)]),
                    ("east", [("employed", 0.7), ("student", 0.2), ("retired", 0.1)]),
                ])),
                (name: "household", dist: Categorical([("single", 0.4), ("couple", 0.35), ("family", 0.25)])),
            ],
            quotas: ["region"],
        )"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let pop = sample(&spec, 1_000_000, &SeedStream::new(1), Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"));
    let elapsed = start.elapsed();
    eprintln!("sampled {} agents in {elapsed:?}", pop.personas.len());
    let start = Instant::now();
    drop(pop);
    eprintln!("dropped in {:?}", start.elapsed());
}
