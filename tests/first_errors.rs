//! The errors a newcomer meets first each come as one line that says what to do: no
//! model and no key, a missing model file, a model server that is not running, a typo
//! in the scenario's path.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{repo, stderr};

/// Run `agora` in `cwd` with a model cache of its own (`cache`) and `env` set.
fn agora_with(cwd: &Path, cache: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora"));
    cmd.current_dir(cwd)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("AGORA_CACHE_DIR", cache);
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the agora binary runs")
}

/// The lines of standard error that report an error.
fn error_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("error") || l.contains(": error: "))
        .map(String::from)
        .collect()
}

/// The one error line of `out`, which must have failed with `code`.
fn one_error(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    let lines = error_lines(out);
    assert_eq!(lines.len(), 1, "one error line: {}", stderr(out));
    lines[0].clone()
}

fn survey() -> String {
    repo()
        .join("scenarios/consumer-survey.ron")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn no_model_and_no_key_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let run = agora_with(
        dir.path(),
        cache.path(),
        &[],
        &["run", &survey(), "--agents", "5", "--out", "out"],
    );
    let line = one_error(&run, 1);
    assert!(line.contains("agora models fetch"), "{line}");
    assert!(line.contains("--model rules"), "{line}");
    assert!(line.contains("--model local:PATH.gguf"), "{line}");
    // The notice says which model was chosen and why, before the error.
    assert!(
        stderr(&run).contains("no model named: using the embedded local model"),
        "{}",
        stderr(&run)
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_missing_model_file_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let run = agora_with(
        dir.path(),
        cache.path(),
        &[],
        &[
            "run",
            &survey(),
            "--model",
            "local:models/nope.gguf",
            "--out",
            "out",
        ],
    );
    let line = one_error(&run, 1);
    assert!(line.contains("models/nope.gguf not found"), "{line}");
    assert!(line.contains("check the path"), "{line}");
    assert!(line.contains("agora models list"), "{line}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_model_server_that_is_not_running_stops_the_run_before_it_starts() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let run = agora_with(
        dir.path(),
        cache.path(),
        &[("OPENAI_BASE_URL", &url)],
        &[
            "run",
            &survey(),
            "--model",
            "openai:m",
            "--agents",
            "5",
            "--out",
            "out",
        ],
    );
    let line = one_error(&run, 1);
    assert!(
        line.contains(&format!(
            "cannot reach the model server at {url} (connection refused)"
        )),
        "{line}"
    );
    assert!(line.contains("OPENAI_BASE_URL"), "{line}");
    assert!(line.contains("--model local"), "{line}");
    // No retries and backoff for every call: refused at once.
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert!(!dir.path().join("out").exists());

    // A replay needs no server: it gets past the check (and stops at the first call
    // the empty cache does not hold).
    let replay = agora_with(
        dir.path(),
        cache.path(),
        &[("OPENAI_BASE_URL", &url)],
        &[
            "run",
            &survey(),
            "--model",
            "openai:m",
            "--agents",
            "5",
            "--out",
            "out",
            "--cache",
            "replay",
        ],
    );
    assert!(
        !stderr(&replay).contains("cannot reach"),
        "{}",
        stderr(&replay)
    );
}

#[test]
fn a_typo_in_the_scenario_path_suggests_the_closest_scenario() {
    let cache = tempfile::tempdir().unwrap();
    let run = agora_with(
        &repo(),
        cache.path(),
        &[],
        &["run", "scenarios/consumer-survy.ron", "--model", "rules"],
    );
    let line = one_error(&run, 2);
    assert_eq!(
        line,
        "scenarios/consumer-survy.ron: error: no such scenario file; did you mean scenarios/consumer-survey.ron?"
    );
    assert_eq!(stderr(&run).lines().count(), 1, "{}", stderr(&run));
    // The examples' folder left out.
    let validate = agora_with(&repo(), cache.path(), &[], &["validate", "focus-group.ron"]);
    let line = one_error(&validate, 2);
    assert!(
        line.ends_with("did you mean scenarios/focus-group.ron?"),
        "{line}"
    );
    // Nothing close: how to make one.
    let dir = tempfile::tempdir().unwrap();
    let run = agora_with(dir.path(), cache.path(), &[], &["run", "zzz.ron"]);
    let line = one_error(&run, 2);
    assert!(line.contains("agora init FILE --mechanism NAME"), "{line}");
}
