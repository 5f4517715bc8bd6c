//! `./just`, the task runner a fresh machine starts with: what it does before it hands
//! over to `just`. It needs the build tools it installs into `.venv` on first use;
//! without them (a checkout where `./just` never ran) the test is skipped with a
//! message, except under CI (`CI` set), where they are always there and it fails.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::repo;

/// Write a llama.cpp build directory below `target` whose cmake cache names `cmake`.
fn cached_build(target: &Path, hash: &str, cmake: &str) -> std::path::PathBuf {
    let out = target.join(format!("release/build/llama-cpp-sys-2-{hash}/out"));
    let build = out.join("build");
    fs::create_dir_all(&build).unwrap();
    fs::write(
        build.join("CMakeCache.txt"),
        format!("CMAKE_BUILD_TYPE:STRING=Release\nCMAKE_COMMAND:INTERNAL={cmake}\n"),
    )
    .unwrap();
    fs::create_dir_all(out.join("lib")).unwrap();
    fs::write(out.join("lib/libllama.a"), b"archive").unwrap();
    build
}

#[test]
fn a_cached_llama_build_whose_cmake_is_gone_is_configured_again() {
    let root = repo();
    if !root.join(".venv/.build-tools").exists() {
        let why = ".venv has no build tools (run ./just once)";
        if std::env::var_os("CI").is_some() {
            panic!("CI must run the task-runner test: {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let target = tempfile::tempdir().unwrap();
    let gone = target.path().join("deleted-checkout/.venv/bin/cmake");
    let stale = cached_build(target.path(), "0123", gone.to_str().unwrap());
    let live = cached_build(target.path(), "4567", "/bin/sh");

    let output = Command::new(root.join("just"))
        .arg("--list")
        .env("CARGO_TARGET_DIR", target.path())
        .output()
        .expect("./just runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    // The stale cmake build is removed, so cargo configures it afresh; what the build
    // installed beside it, and a build whose cmake exists, are left alone.
    assert!(!stale.exists(), "{stderr}");
    assert!(stale.parent().unwrap().join("lib/libllama.a").exists());
    assert!(live.join("CMakeCache.txt").exists());
    assert!(
        stderr.contains(&format!("{} is gone", gone.display())),
        "{stderr}"
    );
}
