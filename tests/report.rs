//! The report of real experiments: every shipped mechanism run with rule-based agents
//! (and a survey against the fake OpenAI-compatible server), reported, and opened in
//! headless Chromium when it is installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use agora_fake_openai::{FakeConfig, FakeServer};
use agora_report::chromium::{self, CHROMIUM};
use common::*;

/// The ids of the page's sections, in order.
fn sections(html: &str) -> Vec<String> {
    html.split("<section id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap_or_default().to_string())
        .collect()
}

/// Open `page` in Chromium, unless it is missing outside CI; fail on console messages
/// or a screenshot that shows nothing.
fn open_in_browser(page: &Path, name: &str) {
    let browser = PathBuf::from(CHROMIUM);
    if !browser.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} is missing under CI: `.ci/run` installs Debian's chromium package"
        );
        eprintln!(
            "SKIPPED opening {name} in a browser: {CHROMIUM} is not installed (apt-get install chromium)"
        );
        return;
    }
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(std::env::temp_dir);
    let shot = target.join("report-artifacts").join(format!("{name}.png"));
    let rendered = chromium::render(
        &browser,
        page,
        &shot,
        (1280, 4000),
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    println!("{name}: screenshot {}", rendered.screenshot.display());
    assert!(
        rendered.console.is_empty(),
        "{name}: console messages:\n{}",
        rendered.console.join("\n")
    );
    assert_eq!(rendered.size, Some((1280, 4000)));
    assert!(
        rendered.bytes > 60_000,
        "{name}: screenshot of {} bytes",
        rendered.bytes
    );
}

#[test]
fn every_mechanism_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "consumer-survey",
            &["--agents", "200"],
            &[
                "scenario",
                "headline",
                "population",
                "answers",
                "diagnostics",
                "cost",
                "tables",
            ],
        ),
        (
            "debate-two-sided",
            &[],
            &[
                "scenario",
                "headline",
                "population",
                "opinions",
                "diagnostics",
                "cost",
                "tables",
            ],
        ),
        (
            "focus-group",
            &[],
            &[
                "scenario",
                "headline",
                "population",
                "opinions",
                "diagnostics",
                "cost",
                "tables",
            ],
        ),
        (
            "house-auction",
            &[],
            &[
                "scenario",
                "headline",
                "population",
                "auction",
                "diagnostics",
                "cost",
                "tables",
            ],
        ),
    ];
    for (name, extra, expected) in cases {
        run_with_rules(dir.path(), name, name, extra);
        let out = dir.path().join(name);
        let page = agora_report::write_report(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        let html = std::fs::read_to_string(&page).unwrap();
        assert_eq!(sections(&html), expected, "{name}");
        // Both replicates of the population fit, and the scenario file itself.
        assert!(
            html.contains("replicate 0") && html.contains("replicate 1"),
            "{name}"
        );
        assert!(
            html.contains("Scenario file ("),
            "{name}: the scenario file is shown"
        );
        assert!(html.matches("<svg").count() >= 2, "{name}: plots");
        // A rerun of the report gives the same page.
        let again = agora_report::write_report(&out).unwrap();
        assert_eq!(std::fs::read_to_string(again).unwrap(), html, "{name}");
        open_in_browser(&page, name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_against_the_server_reports_its_calls_and_tokens() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/consumer-survey.ron");
    let run = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
            "--agents",
            "12",
            "--rounds",
            "2",
            "--out",
            "served",
            "--quiet",
        ])
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", "sk-test-report")
        .env("AGORA_CACHE_DIR", dir.path().join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let out = dir.path().join("served");
    let page = agora_report::write_report(&out).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("openai:gpt-4o-mini"));
    assert!(html.contains("survey.answer"), "calls by task");
    // 12 agents x 2 items, each call with prompt tokens counted.
    assert!(
        html.contains("<td>24</td><td>24</td>"),
        "calls and valid answers"
    );
    assert!(!html.contains("sk-test-report"), "no key in the report");
    open_in_browser(&page, "consumer-survey-served");
}
