//! The experiment report: `DIR/report.html`, one self-contained page.
//!
//! [`write_report`] reads an experiment's output directory (the manifest and the
//! Parquet tables `agora run` wrote) and writes a single HTML file with the scenario,
//! the population's fit to its targets for every replicate, headline outcomes by arm
//! with their intervals (from the `stats` table), pictures (answer distributions by arm
//! and segment, opinion trajectories, bids against values, fit), diagnostics, and cost
//! and tokens. A section appears only when its tables are present, so the report works
//! for the output of any mechanism.
//!
//! The page makes no request to the network: its style sheet is inline, its pictures
//! are inline SVG drawn by plotters (text as SVG `<text>`), it holds no script, and its
//! content security policy forbids loading anything. Every string that comes from the
//! experiment (names, labels, answers) is HTML-escaped by the template engine.

pub mod chromium;
mod data;
mod error;
mod page;
mod plots;
mod sections;

use std::path::{Path, PathBuf};

use agora_export::Manifest;
use minijinja::{Environment, context};

pub use error::{ReportError, Result};

/// The report's file name inside the experiment directory.
pub const REPORT_FILE: &str = "report.html";

const TEMPLATE: &str = include_str!("../templates/report.html");

/// Write `DIR/report.html` for the experiment in `dir` and return its path.
///
/// The file is written next to a temporary copy and renamed, so a reader never sees
/// half a report. The same tables always give the same bytes.
pub fn write_report(dir: &Path) -> Result<PathBuf> {
    let html = render_report(dir)?;
    let path = dir.join(REPORT_FILE);
    let tmp = dir.join(format!(".{REPORT_FILE}.partial"));
    std::fs::write(&tmp, html).map_err(|source| ReportError::Write {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &path).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// The report page of the experiment in `dir`, as HTML text.
pub fn render_report(dir: &Path) -> Result<String> {
    if !dir.is_dir() {
        return Err(ReportError::MissingDirectory {
            path: dir.to_path_buf(),
        });
    }
    let manifest_path = dir.join("manifest.json");
    if !manifest_path.is_file() {
        return Err(ReportError::NotAgoraOutput {
            path: dir.to_path_buf(),
        });
    }
    let bad_manifest = |reason: String| ReportError::Manifest {
        path: manifest_path.clone(),
        reason,
    };
    let bytes = std::fs::read(&manifest_path).map_err(|e| bad_manifest(e.to_string()))?;
    let raw: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad_manifest(e.to_string()))?;
    let manifest: Manifest =
        serde_json::from_value(raw.clone()).map_err(|e| bad_manifest(e.to_string()))?;

    let stats = sections::read_stats(dir)?;
    let segments = sections::segment_attributes(stats.as_deref());
    let names = data::table_names(dir)?;

    let mut all = vec![sections::scenario(dir, &manifest, &raw)];
    all.push(sections::headline(stats.as_deref())?);
    all.extend(sections::population_fit(dir)?);
    all.extend(sections::survey(dir, &segments)?);
    let interventions = sections::interventions(dir)?;
    all.extend(interventions.section);
    all.extend(sections::opinions(dir, &interventions.rounds)?);
    all.extend(sections::auction(dir)?);
    all.extend(sections::coding(dir)?);
    all.extend(sections::diagnostics(dir)?);
    all.extend(sections::cost(dir, &manifest)?);
    all.push(sections::tables(&names, &manifest));

    let arms: std::collections::BTreeSet<&str> =
        manifest.runs.iter().map(|r| r.arm.as_str()).collect();
    let replicates: std::collections::BTreeSet<u32> =
        manifest.runs.iter().map(|r| r.replicate).collect();
    let page = page::Page {
        title: if manifest.scenario.is_empty() {
            "Agora experiment".to_string()
        } else {
            manifest.scenario.clone()
        },
        subtitle: format!(
            "{} · {} arm(s) × {} replicate(s) · seed {} · {}",
            manifest.mechanism,
            arms.len(),
            replicates.len(),
            manifest.seed,
            manifest.status
        ),
        sections: all,
    };
    let mut env = Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let html = env
        .get_template("report.html")?
        .render(context! { page => minijinja::value::Serde(&page) })?;
    Ok(html)
}
