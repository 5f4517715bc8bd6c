//! Shards: an experiment split with `--shard K/N` and put together by `agora merge`
//! equals the single-machine run, file by file, byte for byte.

mod common;

use std::path::Path;
use std::process::Command;

use common::{agora, assert_same_files, repo, rules_run_args, stderr, stdout};

#[test]
fn three_shards_merged_equal_the_single_machine_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/concept-test.ron");
    let scenario = scenario.to_str().unwrap();
    let single = agora(dir.path(), &rules_run_args(scenario, "single", &[]));
    assert!(single.status.success(), "{}", stderr(&single));

    // Two shards at once, into one directory.
    let spawn = |k: &str| {
        Command::new(env!("CARGO_BIN_EXE_agora"))
            .current_dir(dir.path())
            .args(rules_run_args(scenario, "sharded", &["--shard", k]))
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .spawn()
            .expect("the agora binary runs")
    };
    let mut first = spawn("1/3");
    let mut second = spawn("2/3");
    assert!(first.wait().unwrap().success(), "shard 1/3");
    assert!(second.wait().unwrap().success(), "shard 2/3");
    let sharded = dir.path().join("sharded");
    assert!(!sharded.join("manifest.json").exists());
    assert!(!sharded.join("stats").exists(), "a shard writes no stats");

    // A merge before every shard finished names the missing one and how to run it.
    let early = agora(dir.path(), &["merge", "sharded"]);
    assert!(!early.status.success());
    let message = stderr(&early);
    assert!(
        message.contains("shard 3/3 never started") && message.contains("--shard 3/3"),
        "{message}"
    );
    assert!(!sharded.join("manifest.json").exists());

    // A shard that already ran refuses to start again without --resume/--overwrite,
    // and --resume of a complete shard has nothing left to do.
    let again = agora(
        dir.path(),
        &rules_run_args(scenario, "sharded", &["--shard", "1/3"]),
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("--resume continues it"),
        "{}",
        stderr(&again)
    );
    let resumed = agora(
        dir.path(),
        &rules_run_args(scenario, "sharded", &["--shard", "1/3", "--resume"]),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));

    let third = agora(
        dir.path(),
        &rules_run_args(scenario, "sharded", &["--shard", "3/3"]),
    );
    assert!(third.status.success(), "{}", stderr(&third));
    let merged = agora(dir.path(), &["merge", "sharded"]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    assert!(
        stdout(&merged).contains("merged 3 shards, 6 runs"),
        "{}",
        stdout(&merged)
    );

    assert_same_files(&dir.path().join("single"), &sharded);

    // Merging again changes nothing; scripts for the finished directory are refused.
    let again = agora(dir.path(), &["merge", "sharded", "--quiet"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_same_files(&dir.path().join("single"), &sharded);
    let slurm = agora(
        dir.path(),
        &[
            "slurm",
            scenario,
            "--shards",
            "3",
            "--out",
            "sharded",
            "--no-submit",
        ],
    );
    assert!(!slurm.status.success());
    assert!(
        stderr(&slurm).contains("already holds a whole experiment"),
        "{}",
        stderr(&slurm)
    );
}

#[test]
fn a_merged_experiment_with_a_human_reference_has_the_same_validation_table() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/anes96-silicon.ron");
    let scenario = scenario.to_str().unwrap();
    let single = agora(dir.path(), &rules_run_args(scenario, "single", &[]));
    assert!(single.status.success(), "{}", stderr(&single));
    for k in ["1/2", "2/2"] {
        let shard = agora(
            dir.path(),
            &rules_run_args(scenario, "sharded", &["--shard", k]),
        );
        assert!(shard.status.success(), "{k}: {}", stderr(&shard));
    }
    let merged = agora(dir.path(), &["merge", "sharded", "--scenario", scenario]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    assert!(dir.path().join("single/validation").exists());
    assert_same_files(&dir.path().join("single"), &dir.path().join("sharded"));
}

#[test]
fn shard_mistakes_are_refused_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/concept-test.ron");
    let scenario = scenario.to_str().unwrap();
    let zero = agora(
        dir.path(),
        &rules_run_args(scenario, "out", &["--shard", "0/3"]),
    );
    assert_eq!(zero.status.code(), Some(2));
    assert!(stderr(&zero).contains("from 1 to 3"), "{}", stderr(&zero));
    // Six runs (three arms, two replicates) cannot feed seven shards.
    let many = agora(
        dir.path(),
        &rules_run_args(scenario, "out", &["--shard", "7/7"]),
    );
    assert_eq!(many.status.code(), Some(2));
    assert!(
        stderr(&many).contains("at most 6 shards"),
        "{}",
        stderr(&many)
    );
    assert!(!dir.path().join("out/manifest.json").exists());
    // An unsharded run does not overwrite shards in progress.
    let shard = agora(
        dir.path(),
        &rules_run_args(scenario, "out", &["--shard", "1/2"]),
    );
    assert!(shard.status.success(), "{}", stderr(&shard));
    let whole = agora(dir.path(), &rules_run_args(scenario, "out", &[]));
    assert!(!whole.status.success());
    assert!(stderr(&whole).contains("agora merge"), "{}", stderr(&whole));
    // A shard of another split in the same directory is refused.
    let other = agora(
        dir.path(),
        &rules_run_args(scenario, "out", &["--shard", "1/3"]),
    );
    assert!(!other.status.success());
    assert!(
        stderr(&other).contains("another experiment or split"),
        "{}",
        stderr(&other)
    );
}

/// The container scripts of the manifests `agora k8s` writes, in order (the value of
/// each `args:` item, a JSON string).
fn k8s_scripts(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut lines = text.lines();
    let mut scripts = Vec::new();
    while let Some(line) = lines.next() {
        if line.trim() == "args:" {
            let item = lines.next().unwrap().trim();
            let json = item.strip_prefix("- ").expect("a list item");
            scripts.push(serde_json::from_str::<String>(json).expect("a JSON string"));
        }
    }
    scripts
}

#[test]
fn the_kubernetes_pods_scripts_run_every_shard_and_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    // The volume's root holds the scenario; paths are relative to it.
    let volume = dir.path().join("volume");
    std::fs::create_dir_all(volume.join("scenarios")).unwrap();
    std::fs::copy(
        repo().join("scenarios/concept-test.ron"),
        volume.join("scenarios/concept-test.ron"),
    )
    .unwrap();
    let options = [
        "--model",
        "rules",
        "--replicates",
        "2",
        "--agents",
        "60",
        "--quiet",
    ];
    let mut single = vec!["run", "scenarios/concept-test.ron", "--out", "single"];
    single.extend_from_slice(&options);
    let single = agora(&volume, &single);
    assert!(single.status.success(), "{}", stderr(&single));
    let mut k8s = vec![
        "k8s",
        "scenarios/concept-test.ron",
        "--shards",
        "3",
        "--image",
        "agora:test",
        "--claim",
        "data",
        "--out",
        "sharded",
        "--",
    ];
    k8s.extend_from_slice(&options);
    let written = agora(&volume, &k8s);
    assert!(written.status.success(), "{}", stderr(&written));
    let shards = volume.join("sharded/.agora/k8s/shards.yaml");
    let text = std::fs::read_to_string(&shards).unwrap();
    assert!(
        text.contains("completionMode: Indexed") && text.contains("completions: 3"),
        "{text}"
    );
    let [shard_script] = k8s_scripts(&shards).try_into().expect("one container");
    let [merge_script] = k8s_scripts(&volume.join("sharded/.agora/k8s/merge.yaml"))
        .try_into()
        .expect("one container");
    // Play the pods here: the same scripts, `agora` on PATH, the volume as the working
    // directory, JOB_COMPLETION_INDEX from 0.
    let bin = Path::new(env!("CARGO_BIN_EXE_agora")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pod = |script: &str, index: Option<u32>| {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .current_dir(&volume)
            .env("PATH", &path);
        if let Some(i) = index {
            command.env("JOB_COMPLETION_INDEX", i.to_string());
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{script}: {}", stderr(&out));
    };
    for index in 0..3 {
        pod(&shard_script, Some(index));
    }
    // A pod started again (after a failure) resumes its shard.
    pod(&shard_script, Some(1));
    pod(&merge_script, None);
    assert_same_files(&volume.join("single"), &volume.join("sharded"));
}

#[test]
fn agora_slurm_writes_an_array_job_and_a_dependent_merge() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/concept-test.ron");
    let scenario = scenario.to_str().unwrap();
    let written = agora(
        dir.path(),
        &[
            "slurm",
            scenario,
            "--shards",
            "3",
            "--out",
            "out",
            "--partition",
            "short",
            "--time",
            "02:00:00",
            "--cpus",
            "4",
            "--no-submit",
            "--",
            "--model",
            "rules",
            "--replicates",
            "2",
            "--seed",
            "it's",
        ],
    );
    // The options after `--` are checked as `agora run` would.
    assert!(!written.status.success());
    assert!(stderr(&written).contains("--seed"), "{}", stderr(&written));
    let args = [
        "slurm",
        scenario,
        "--shards",
        "3",
        "--out",
        "out",
        "--partition",
        "short",
        "--time",
        "02:00:00",
        "--cpus",
        "4",
        "--no-submit",
        "--",
        "--model",
        "rules",
        "--replicates",
        "2",
    ];
    let written = agora(dir.path(), &args);
    assert!(written.status.success(), "{}", stderr(&written));
    assert!(
        stdout(&written).contains("submit with: sh"),
        "{}",
        stdout(&written)
    );
    let slurm = dir.path().join("out/.agora/slurm");
    let shards = std::fs::read_to_string(slurm.join("shards.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=1-3",
        "#SBATCH --partition=short",
        "#SBATCH --time=02:00:00",
        "#SBATCH --cpus-per-task=4",
        "--shard \"$K/3\"",
        "'--model' 'rules' '--replicates' '2'",
    ] {
        assert!(shards.contains(line), "{line} in\n{shards}");
    }
    let submit = std::fs::read_to_string(slurm.join("submit.sh")).unwrap();
    assert!(submit.contains("--dependency=afterok:$SHARDS"), "{submit}");
    let merge = std::fs::read_to_string(slurm.join("merge.sbatch")).unwrap();
    assert!(merge.contains(" merge "), "{merge}");
    // Options the tasks set themselves are refused, and so are too many shards.
    let mut resume = args.to_vec();
    resume.push("--resume");
    let refused = agora(dir.path(), &resume);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--resume"),
        "{}",
        stderr(&refused)
    );
    let mut many = args.to_vec();
    many[3] = "7";
    let refused = agora(dir.path(), &many);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("at most 6 shards"),
        "{}",
        stderr(&refused)
    );
}
