//! `agora bench`: decisions per second and peak memory per agent at several sizes.
//!
//! Each size runs in a fresh child process (`agora run --stats-json`), so peak memory
//! is that of one run alone. The best wall time over `--repeat` runs is reported.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cli::BenchArgs;

/// Run the benchmark and print a Markdown table.
pub fn bench_command(args: &BenchArgs) -> Result<()> {
    let exe = std::env::current_exe().context("locating the agora executable")?;
    let scratch = std::env::temp_dir().join(format!("agora-bench-{}", std::process::id()));
    println!(
        "scenario: {}  model: {}",
        args.scenario.display(),
        args.model
    );
    println!();
    println!("| agents | decisions | wall time (s) | decisions/s | peak RSS (MiB) | bytes/agent |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for &agents in &args.agents {
        let mut best: Option<serde_json::Value> = None;
        for _ in 0..args.repeat.max(1) {
            let output = Command::new(&exe)
                .arg("run")
                .arg(&args.scenario)
                .args([
                    "--agents",
                    &agents.to_string(),
                    "--model",
                    &args.model.to_string(),
                ])
                .args(["--replicates", "1", "--overwrite", "--stats-json", "--out"])
                .arg(&scratch)
                .output()
                .context("starting a benchmark run")?;
            if !output.status.success() {
                bail!(
                    "benchmark run with {agents} agents failed:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            let line = String::from_utf8_lossy(&output.stdout);
            let stats: serde_json::Value =
                serde_json::from_str(line.trim()).context("reading a benchmark run's figures")?;
            let faster = best
                .as_ref()
                .is_none_or(|b| stats["seconds"].as_f64() < b["seconds"].as_f64());
            if faster {
                best = Some(stats);
            }
        }
        let Some(stats) = best else { continue };
        let decisions = stats["decisions"].as_f64().unwrap_or(0.0);
        let seconds = stats["seconds"].as_f64().unwrap_or(f64::NAN);
        let rss_kib = stats["peak_rss_kib"].as_f64();
        println!(
            "| {agents} | {decisions:.0} | {seconds:.2} | {:.0} | {} | {} |",
            decisions / seconds,
            rss_kib.map_or("n/a".into(), |k| format!("{:.0}", k / 1024.0)),
            rss_kib.map_or("n/a".into(), |k| format!(
                "{:.0}",
                k * 1024.0 / agents as f64
            )),
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
