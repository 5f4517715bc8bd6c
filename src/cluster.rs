//! `agora slurm` and `agora k8s`: job scripts that run an experiment's shards on a
//! cluster's scheduler, then merge them (see [`agora_run::shard`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;

use crate::cli::{Cli, Command, K8sArgs, SlurmArgs};

/// An experiment split into shards, checked before any script is written.
struct Job {
    /// A name for the scheduler (`agora-SCENARIO`, lower case, letters, digits, `-`).
    name: String,
    /// The output directory.
    out: PathBuf,
    /// Shards.
    shards: u32,
}

/// Check the scenario and the options for every shard's `agora run` as the shards
/// will see them, so that a mistake shows now and not in N job logs.
fn check_job(scenario: &Path, shards: u32, out: Option<&Path>, run_args: &[String]) -> Result<Job> {
    let mut argv = vec![
        "agora".to_string(),
        "run".to_string(),
        scenario.to_string_lossy().into_owned(),
    ];
    argv.extend(run_args.iter().cloned());
    let cli = Cli::try_parse_from(&argv)
        .map_err(|e| anyhow!("the options after `--` are not valid for `agora run`:\n{e}"))?;
    let Command::Run(run) = cli.command else {
        bail!("the options after `--` are not valid for `agora run`");
    };
    let refused = [
        (run.shard.is_some(), "--shard (each task sets its own)"),
        (run.out.is_some(), "--out (give it before `--`)"),
        (
            run.resume,
            "--resume (a task resumes its shard when it had started)",
        ),
        (
            run.overwrite,
            "--overwrite (tasks resume their shards; remove the output directory to start over)",
        ),
        (
            run.report,
            "--report (run `agora report OUT` after the merge)",
        ),
        (run.dry_run, "--dry-run (run it here first)"),
        (run.stats_json, "--stats-json"),
    ];
    if let Some((_, flag)) = refused.iter().find(|(set, _)| *set) {
        bail!("{flag} cannot be among the shards' options after `--`");
    }
    let loaded = agora_scenario::load(scenario, &agora_mechanisms::registry())?;
    let mut overrides = crate::commands::overrides(&run);
    overrides.out = out.map(Path::to_path_buf);
    loaded.check_overrides(&overrides)?;
    let plan = loaded.plan(&overrides);
    agora_run::Shard::check_count(shards, &plan)?;
    if plan.output.join("manifest.json").exists() {
        bail!(
            "{} already holds a whole experiment (manifest.json), which the shards would refuse to replace; choose another --out, or remove that directory first",
            plan.output.display()
        );
    }
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(40);
    let name = format!("agora-{}", name.trim_matches('-'));
    Ok(Job {
        name: name.trim_end_matches('-').to_string(),
        out: plan.output,
        shards,
    })
}

/// `text` quoted for a POSIX shell.
fn sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn sh_path(path: &Path) -> String {
    sh(&path.to_string_lossy())
}

fn sh_args(args: &[String]) -> String {
    args.iter().map(|a| format!(" {}", sh(a))).collect()
}

/// A path for an `#SBATCH` line, which cannot quote.
fn directive_path(path: &Path) -> Result<String> {
    let text = path.to_string_lossy();
    if text.chars().any(|c| c.is_whitespace() || c == '%') {
        bail!(
            "{}: sbatch directives cannot hold a path with spaces or `%`; use another directory",
            path.display()
        );
    }
    Ok(text.into_owned())
}

/// A value for an `#SBATCH` option: one word of letters, digits and `_-:.,`.
fn directive_value(option: &str, value: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-:.,".contains(c));
    if !ok {
        bail!("--{option} `{value}`: give one word of letters, digits and _-:.,");
    }
    Ok(value.to_string())
}

/// The three files `agora slurm` writes.
struct SlurmScripts {
    shards: String,
    merge: String,
    submit: String,
}

fn slurm_scripts(
    args: &SlurmArgs,
    job: &Job,
    agora: &Path,
    cwd: &Path,
    dir: &Path,
) -> Result<SlurmScripts> {
    let out = std::path::absolute(&job.out)?;
    let n = job.shards;
    let mut common = format!("#SBATCH --chdir={}\n", directive_path(cwd)?);
    if let Some(p) = &args.partition {
        common += &format!("#SBATCH --partition={}\n", directive_value("partition", p)?);
    }
    if let Some(t) = &args.time {
        common += &format!("#SBATCH --time={}\n", directive_value("time", t)?);
    }
    let logs = directive_path(dir)?;
    let cpus = args
        .cpus
        .map(|c| format!("#SBATCH --cpus-per-task={c}\n"))
        .unwrap_or_default();
    let shards = format!(
        "#!/bin/bash
# Shard K of {n} of the experiment per array task K (written by `agora slurm`).
#SBATCH --job-name={name}
#SBATCH --array=1-{n}
#SBATCH --output={logs}/shard-%a.log
{common}{cpus}set -euo pipefail
K=\"${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is an array job}}\"
OUT={out}
RESUME=()
# A task run again (requeued, resubmitted) continues its shard where it stopped.
if [ -f \"$OUT/.agora/shards/shard-$K-of-{n}.json\" ]; then RESUME=(--resume); fi
exec {agora} run {scenario} --shard \"$K/{n}\" --out \"$OUT\" \"${{RESUME[@]}}\"{run_args}
",
        name = job.name,
        out = sh_path(&out),
        agora = sh_path(agora),
        scenario = sh_path(&args.scenario),
        run_args = sh_args(&args.run_args),
    );
    let merge = format!(
        "#!/bin/bash
# Merge the {n} shards of the experiment once they all succeeded (written by `agora slurm`).
#SBATCH --job-name={name}-merge
#SBATCH --output={logs}/merge.log
{common}set -euo pipefail
exec {agora} merge {out} --scenario {scenario}
",
        name = job.name,
        out = sh_path(&out),
        agora = sh_path(agora),
        scenario = sh_path(&args.scenario),
    );
    let submit = format!(
        "#!/bin/sh
# Submit the shards as an array job, then the merge to run when every shard succeeded.
set -eu
SHARDS=$(sbatch --parsable {shards})
SHARDS=${{SHARDS%%;*}}
MERGE=$(sbatch --parsable --dependency=afterok:$SHARDS {merge})
MERGE=${{MERGE%%;*}}
echo \"shards: job $SHARDS (array tasks 1-{n}); merge: job $MERGE\"
",
        shards = sh_path(&dir.join("shards.sbatch")),
        merge = sh_path(&dir.join("merge.sbatch")),
    );
    Ok(SlurmScripts {
        shards,
        merge,
        submit,
    })
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
    }
    Ok(())
}

/// `agora slurm`: write the array job, the merge job and a submit script; submit them
/// when `sbatch` is on PATH.
pub fn slurm_command(args: &SlurmArgs) -> Result<()> {
    let job = check_job(
        &args.scenario,
        args.shards,
        args.out.as_deref(),
        &args.run_args,
    )?;
    let agora = std::env::current_exe().context("finding the agora binary")?;
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let dir = std::path::absolute(job.out.join(".agora").join("slurm"))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let scripts = slurm_scripts(args, &job, &agora, &cwd, &dir)?;
    let shards = dir.join("shards.sbatch");
    let merge = dir.join("merge.sbatch");
    let submit = dir.join("submit.sh");
    write_script(&shards, &scripts.shards)?;
    write_script(&merge, &scripts.merge)?;
    write_script(&submit, &scripts.submit)?;
    println!(
        "wrote {} ({} array tasks), {} and {}",
        shards.display(),
        job.shards,
        merge.display(),
        submit.display()
    );
    if args.no_submit {
        println!("submit with: sh {}", submit.display());
        return Ok(());
    }
    let first = match sbatch(&[&shards.to_string_lossy()]) {
        Ok(id) => id,
        Err(Sbatch::Missing) => {
            println!(
                "sbatch is not on PATH: on the cluster's login node, submit with: sh {}",
                submit.display()
            );
            return Ok(());
        }
        Err(Sbatch::Failed(e)) => bail!("submitting {}: {e}", shards.display()),
    };
    let dependency = format!("--dependency=afterok:{first}");
    let second = sbatch(&[&dependency, &merge.to_string_lossy()]).map_err(|e| match e {
        Sbatch::Missing => anyhow!("sbatch disappeared after submitting job {first}"),
        Sbatch::Failed(e) => anyhow!(
            "the shards are job {first}, but submitting the merge failed: {e}; once they finish, run `agora merge {}`",
            job.out.display()
        ),
    })?;
    println!(
        "submitted: shards job {first} (array tasks 1-{}), merge job {second} (runs when every shard succeeded)",
        job.shards
    );
    println!(
        "follow with `squeue -j {first},{second}`; logs in {}; results in {}",
        dir.display(),
        job.out.display()
    );
    Ok(())
}

enum Sbatch {
    Missing,
    Failed(String),
}

/// Submit with `sbatch --parsable ARGS`; the job id.
fn sbatch(args: &[&str]) -> Result<String, Sbatch> {
    let output = std::process::Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Sbatch::Missing,
            _ => Sbatch::Failed(e.to_string()),
        })?;
    if !output.status.success() {
        return Err(Sbatch::Failed(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let id = text
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Sbatch::Failed(format!(
            "unexpected sbatch output `{}`",
            text.trim()
        )));
    }
    Ok(id)
}

/// A YAML scalar: a JSON string is a valid YAML double-quoted scalar.
fn yaml(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// The Job running `script` in `completions` pods, `indexed` or not.
fn k8s_job(args: &K8sArgs, name: &str, completions: u32, indexed: bool, script: &str) -> String {
    let mode = if indexed {
        "  completionMode: Indexed\n"
    } else {
        ""
    };
    let cpus = args
        .cpus
        .map(|c| {
            format!(
                "          resources:\n            requests:\n              cpu: {}\n",
                yaml(&c.to_string())
            )
        })
        .unwrap_or_default();
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
{mode}  completions: {completions}
  parallelism: {completions}
  backoffLimit: {backoff}
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: agora
          image: {image}
          workingDir: /agora
          command: [\"/bin/sh\", \"-c\"]
          args:
            - {script}
{cpus}          volumeMounts:
            - name: data
              mountPath: /agora
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: {claim}
",
        name = yaml(name),
        backoff = completions * 3,
        image = yaml(&args.image),
        script = yaml(script),
        claim = yaml(&args.claim),
    )
}

/// `agora k8s`: write an Indexed Job (one shard per pod index) and a merge Job.
pub fn k8s_command(args: &K8sArgs) -> Result<()> {
    let job = check_job(
        &args.scenario,
        args.shards,
        args.out.as_deref(),
        &args.run_args,
    )?;
    let n = job.shards;
    let out = sh_path(&job.out);
    let scenario = sh_path(&args.scenario);
    let shard_script = format!(
        "K=$((JOB_COMPLETION_INDEX + 1))\nR=\nif [ -f {out}/.agora/shards/shard-$K-of-{n}.json ]; then R=--resume; fi\nexec agora run {scenario} --shard \"$K/{n}\" --out {out} $R{}\n",
        sh_args(&args.run_args)
    );
    let merge_script = format!("exec agora merge {out} --scenario {scenario}\n");
    let dir = job.out.join(".agora").join("k8s");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let shards = dir.join("shards.yaml");
    let merge = dir.join("merge.yaml");
    let header = |what: &str| format!("# {what} (written by `agora k8s`).\n");
    std::fs::write(
        &shards,
        header(&format!(
            "Shard K of {n} of the experiment in the pod of index K-1"
        )) + &k8s_job(args, &job.name, n, true, &shard_script),
    )
    .with_context(|| format!("writing {}", shards.display()))?;
    std::fs::write(
        &merge,
        header("Merge the shards once the shards' Job is complete")
            + &k8s_job(
                args,
                &format!("{}-merge", job.name),
                1,
                false,
                &merge_script,
            ),
    )
    .with_context(|| format!("writing {}", merge.display()))?;
    println!("wrote {} and {}", shards.display(), merge.display());
    println!(
        "kubectl apply -f {} && kubectl wait --for=condition=complete --timeout=24h job/{} && kubectl apply -f {}",
        shards.display(),
        job.name,
        merge.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert!(directive_path(Path::new("/a b")).is_err());
        assert!(directive_value("time", "1-02:00:00").is_ok());
        assert!(directive_value("partition", "x\n#SBATCH --mem=1").is_err());
    }
}
