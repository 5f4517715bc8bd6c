//! Object storage: `--out s3://bucket/prefix` against a real S3-compatible server
//! (moto's server mode, started here on 127.0.0.1) writes the same files as a local
//! run, byte for byte, Parquet by multipart upload; the tables read back through the
//! S3 URL with polars; a run killed mid-way resumes from the store; shards written to
//! the store merge there.
//!
//! Needs Python with `moto[server]`, `boto3` and `polars` (the project's `.venv`, or
//! `python3` on PATH). Without them the test is skipped with a message, except in CI
//! (`CI=true`), where it fails.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_same_files, repo, rules_run_args, stderr};

/// The Python interpreter with the packages the test needs, or why there is none.
fn python() -> Result<PathBuf, String> {
    let venv = repo().join(".venv/bin/python");
    let candidates = [venv, PathBuf::from("python3")];
    let mut why = String::new();
    for python in candidates {
        match Command::new(&python)
            .args(["-c", "import moto.server, boto3, polars"])
            .output()
        {
            Ok(out) if out.status.success() => return Ok(python),
            Ok(out) => {
                why = format!(
                    "{}: {}",
                    python.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            }
            Err(e) => why = format!("{}: {e}", python.display()),
        }
    }
    Err(why)
}

/// A moto S3 server on a free port of 127.0.0.1, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl S3Server {
    fn start(python: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto's server");
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto's server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Helpers in Python (boto3, polars) run against the server.
const HELPER: &str = r#"
import json, os, sys
import boto3

endpoint, command = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")

def keys(bucket, prefix):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        out += page.get("Contents", [])
    return out

if command == "create-bucket":
    s3.create_bucket(Bucket=args[0])
elif command == "download":
    bucket, prefix, dest = args
    listing = []
    for o in keys(bucket, prefix):
        rel = o["Key"][len(prefix) + 1:]
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        s3.download_file(bucket, o["Key"], path)
        etag = s3.head_object(Bucket=bucket, Key=o["Key"])["ETag"].strip('"')
        listing.append({"key": rel, "etag": etag})
    print(json.dumps(listing))
elif command == "polars":
    import polars as pl
    url, local, table = args
    options = {"aws_endpoint_url": endpoint, "aws_access_key_id": "test",
               "aws_secret_access_key": "test", "aws_region": "us-east-1",
               "aws_allow_http": "true"}
    remote = pl.read_parquet(f"{url}/{table}/**/*.parquet", hive_partitioning=True,
                             storage_options=options)
    here = pl.read_parquet(f"{local}/{table}/**/*.parquet", hive_partitioning=True)
    assert remote.height > 0, "no rows"
    assert remote.equals(here), "the tables differ"
    print(remote.height)
"#;

struct Helper {
    python: PathBuf,
    script: PathBuf,
    endpoint: String,
}

impl Helper {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg(&self.script)
            .arg(&self.endpoint)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helper {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Download everything below `s3://BUCKET/prefix` into `dest`; the keys with
    /// their ETags.
    fn download(&self, prefix: &str, dest: &Path) -> Vec<(String, String)> {
        let listing = self.run(&["download", "agora", prefix, dest.to_str().unwrap()]);
        let listing: Vec<serde_json::Value> = serde_json::from_str(&listing).unwrap();
        listing
            .into_iter()
            .map(|o| {
                (
                    o["key"].as_str().unwrap().to_string(),
                    o["etag"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// The `agora` command with the server's credentials and a staging directory in `dir`.
fn agora_command(dir: &Path, endpoint: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agora"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AGORA_STAGING_DIR", dir.join("staging"));
    command
}

fn agora(dir: &Path, endpoint: &str, args: &[&str]) -> Output {
    agora_command(dir, endpoint, args).output().unwrap()
}

/// A file `round-*.json` anywhere below `dir`.
fn has_checkpoint(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).any(|e| {
        let path = e.path();
        if path.is_dir() {
            has_checkpoint(&path)
        } else {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("round-"))
        }
    })
}

#[test]
fn experiments_write_to_s3_resume_there_and_merge_there() {
    let python = match python() {
        Ok(p) => p,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "CI must run the object-store test: moto[server], boto3 and polars are missing ({why}); install notebooks/requirements.txt into .venv"
                );
            }
            eprintln!(
                "SKIPPED: the object-store test needs Python with moto[server], boto3 and polars \
                 (`.venv/bin/pip install -r notebooks/requirements.txt`): {why}"
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(&python);
    let script = dir.path().join("helper.py");
    std::fs::write(&script, HELPER).unwrap();
    let helper = Helper {
        python,
        script,
        endpoint: server.endpoint.clone(),
    };
    helper.run(&["create-bucket", "agora"]);
    let endpoint = server.endpoint.as_str();
    let scenario = repo().join("scenarios/concept-test.ron");
    let scenario = scenario.to_str().unwrap();

    // The same experiment locally and into the bucket.
    let local = agora(
        dir.path(),
        endpoint,
        &rules_run_args(scenario, "local", &[]),
    );
    assert!(local.status.success(), "{}", stderr(&local));
    let remote = agora(
        dir.path(),
        endpoint,
        &rules_run_args(scenario, "s3://agora/exp", &[]),
    );
    assert!(remote.status.success(), "{}", stderr(&remote));
    let copy = dir.path().join("from-s3");
    let listing = helper.download("exp", &copy);
    eprintln!("comparing the run written to the store");
    assert_same_files(&dir.path().join("local"), &copy);
    assert!(
        listing.iter().any(|(k, _)| k.starts_with(".agora/runs/")),
        "the checkpoints are stored too"
    );
    assert!(
        !listing
            .iter()
            .any(|(k, _)| k.ends_with(".partial") || k.ends_with(".tmp")),
        "no partial or temporary file reaches the store: {listing:?}"
    );
    // A multipart upload's ETag is the hash of its parts' hashes followed by `-PARTS`.
    for (key, etag) in listing.iter().filter(|(k, _)| k.ends_with(".parquet")) {
        assert!(
            etag.contains('-'),
            "{key} was not uploaded by multipart upload (ETag {etag})"
        );
    }
    // The staging directory is gone once the command ends.
    let staging: Vec<_> = std::fs::read_dir(dir.path().join("staging"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(staging.is_empty(), "the staging directory was removed");

    // The tables read back through the S3 URL equal the local ones.
    for table in ["survey_responses", "agents", "stats"] {
        let rows = helper.run(&[
            "polars",
            "s3://agora/exp",
            dir.path().join("local").to_str().unwrap(),
            table,
        ]);
        assert!(rows.parse::<u64>().unwrap() > 0, "{table}: {rows}");
    }

    // A second run into the same prefix asks for --overwrite, and --overwrite works.
    let again = agora(
        dir.path(),
        endpoint,
        &rules_run_args(scenario, "s3://agora/exp", &[]),
    );
    assert!(!again.status.success());
    let message = stderr(&again);
    assert!(
        message.contains("s3://agora/exp") && message.contains("--overwrite"),
        "{message}"
    );
    let overwritten = agora(
        dir.path(),
        endpoint,
        &rules_run_args(scenario, "s3://agora/exp", &["--overwrite"]),
    );
    assert!(overwritten.status.success(), "{}", stderr(&overwritten));
    let copy = dir.path().join("overwritten");
    helper.download("exp", &copy);
    eprintln!("comparing the overwritten run");
    assert_same_files(&dir.path().join("local"), &copy);

    // Killed after its first checkpoint, a run resumes from what the store holds (a
    // new staging directory: as on another machine).
    let survey = repo().join("scenarios/consumer-survey.ron");
    let survey = survey.to_str().unwrap();
    let survey_args = |out: &'static str, extra: &[&'static str]| {
        let mut args = vec![
            "run", survey, "--model", "rules", "--agents", "1000", "--out", out, "--quiet",
        ];
        args.extend_from_slice(extra);
        args
    };
    let whole = agora(dir.path(), endpoint, &survey_args("survey-local", &[]));
    assert!(whole.status.success(), "{}", stderr(&whole));
    let mut child = agora_command(dir.path(), endpoint, &survey_args("s3://agora/survey", &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !has_checkpoint(&dir.path().join("staging"))
        && started.elapsed() < Duration::from_secs(120)
    {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    let before = dir.path().join("survey-killed");
    helper.download("survey", &before);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(before.join("manifest.json")).unwrap()).unwrap();
    let interrupted = manifest["status"] != "complete";
    let resumed = agora(
        dir.path(),
        endpoint,
        &survey_args("s3://agora/survey", &["--resume"]),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let after = dir.path().join("survey-resumed");
    helper.download("survey", &after);
    eprintln!("comparing the resumed survey");
    assert_same_files(&dir.path().join("survey-local"), &after);
    assert!(
        interrupted,
        "the run was killed after its first checkpoint, before it completed"
    );

    // Two shards into the bucket, merged there, equal the single-machine run.
    for shard in ["1/2", "2/2"] {
        let out = agora(
            dir.path(),
            endpoint,
            &rules_run_args(scenario, "s3://agora/sharded", &["--shard", shard]),
        );
        assert!(out.status.success(), "shard {shard}: {}", stderr(&out));
    }
    let merged = agora(dir.path(), endpoint, &["merge", "s3://agora/sharded"]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    let copy = dir.path().join("merged");
    helper.download("sharded", &copy);
    assert!(copy.join(".agora/shards/shard-1-of-2.json").exists());
    eprintln!("comparing the merged shards");
    assert_same_files(&dir.path().join("local"), &copy);
}
