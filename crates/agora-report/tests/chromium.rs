//! The report renders in headless Chromium without console errors; the screenshot is
//! kept under the target directory as a test artifact.
//!
//! Without `/usr/bin/chromium` the tests are skipped with a message, except under CI
//! (`CI` set), where a missing browser is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use agora_report::chromium::{self, CHROMIUM};
use common::{Parts, write_experiment};

/// The browser, or `None` (with a message) when it is absent outside CI.
fn browser() -> Option<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{CHROMIUM} is missing under CI: `.ci/run` installs Debian's chromium package");
    }
    eprintln!(
        "SKIPPED: {CHROMIUM} is not installed (apt-get install chromium); the report was not opened in a browser"
    );
    None
}

/// `target/report-artifacts/`, next to the test binary's profile directory.
fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test binary>
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let dir = target.join("report-artifacts");
    std::fs::create_dir_all(&dir).expect("creating the artifact directory");
    dir
}

#[test]
fn the_report_renders_in_chromium_without_console_errors() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path(), Parts::all());
    let page = agora_report::write_report(dir.path()).unwrap();
    let shot = artifacts().join("synthetic-report.png");
    let rendered = chromium::render(
        &browser,
        &page,
        &shot,
        (1280, 4000),
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!("screenshot: {}", rendered.screenshot.display());
    assert!(
        rendered.console.is_empty(),
        "console messages while rendering the report:\n{}",
        rendered.console.join("\n")
    );
    assert_eq!(rendered.size, Some((1280, 4000)), "screenshot size");
    // A blank page of this size compresses to a few kilobytes; the report's text,
    // tables and plots to hundreds.
    assert!(
        rendered.bytes > 60_000,
        "the screenshot is only {} bytes: the page did not render",
        rendered.bytes
    );
}

#[test]
fn a_page_error_and_a_blocked_request_are_caught() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A script error, and an image the report's security policy must refuse to load.
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body><p>x</p>\
         <img src=\"https://example.invalid/x.png\">\
         <script>throw new Error('boom');</script></body></html>",
    )
    .unwrap();
    let shot = artifacts().join("broken-page.png");
    let rendered = chromium::render(&browser, &page, &shot, (400, 300), Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}"));
    let console = rendered.console.join("\n");
    assert!(
        console.contains("boom"),
        "the script error is reported:\n{}",
        rendered.stderr
    );
    assert!(
        console.contains("Content Security Policy") || console.contains("Refused"),
        "the refused request is reported:\n{}",
        rendered.stderr
    );
}
