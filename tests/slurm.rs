//! `agora slurm` on a real one-node SLURM cluster on localhost: munged, slurmctld and
//! slurmd are started for the test, a four-shard experiment is submitted as an array
//! job with a dependent merge job, and the merged result must equal the
//! single-machine run byte for byte.
//!
//! Needs Debian's `slurm-wlm` and `munge` and root (it writes /etc/slurm/slurm.conf).
//! Without them the test is skipped with the reason printed, except under CI=true,
//! where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{agora, assert_same_files, repo, stderr, stdout};

/// Why the cluster cannot be started here, if it cannot.
fn missing() -> Option<String> {
    for bin in [
        "/usr/sbin/slurmctld",
        "/usr/sbin/slurmd",
        "/usr/sbin/munged",
    ] {
        if !Path::new(bin).exists() {
            return Some(format!(
                "{bin} is not installed (apt-get install slurm-wlm munge)"
            ));
        }
    }
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("starting slurmctld and slurmd on localhost needs root".into());
    }
    None
}

fn sh(script: &str) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh runs")
}

/// The daemons this test started; stopped (by their pid files) when dropped.
struct Cluster {
    dir: PathBuf,
    munged: bool,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut pids = vec![self.dir.join("slurmd.pid"), self.dir.join("slurmctld.pid")];
        if self.munged {
            pids.push(PathBuf::from("/run/munge/munged.pid"));
        }
        for pid in pids {
            if let Ok(text) = std::fs::read_to_string(&pid) {
                let _ = Command::new("kill").arg(text.trim()).status();
            }
        }
    }
}

/// Start munged (unless running), slurmctld and slurmd for one node on localhost.
fn start_cluster(dir: &Path) -> Cluster {
    for sub in ["spool", "state", "log"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let munged_running = Path::new("/run/munge/munged.pid").exists()
        && sh("kill -0 $(cat /run/munge/munged.pid)").status.success();
    let munge = sh("mkdir -p /run/munge /var/log/munge /var/lib/munge \
         && { [ -f /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; } \
         && chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge \
         && chmod 400 /etc/munge/munge.key");
    assert!(munge.status.success(), "munge set-up: {}", stderr(&munge));
    if !munged_running {
        let started = sh("su -s /bin/sh munge -c /usr/sbin/munged");
        assert!(started.status.success(), "munged: {}", stderr(&started));
    }
    let cluster = Cluster {
        dir: dir.to_path_buf(),
        munged: !munged_running,
    };
    let d = dir.display();
    let conf = format!(
        "ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
NodeName=localhost CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"
    );
    std::fs::create_dir_all("/etc/slurm").unwrap();
    std::fs::write("/etc/slurm/slurm.conf", conf).unwrap();
    std::fs::write(
        "/etc/slurm/cgroup.conf",
        "CgroupPlugin=cgroup/v1\nIgnoreSystemd=yes\n",
    )
    .unwrap();
    // -c: a clean start, without jobs of an earlier cluster.
    let ctld = sh("/usr/sbin/slurmctld -c");
    assert!(ctld.status.success(), "slurmctld: {}", stderr(&ctld));
    let slurmd = sh("/usr/sbin/slurmd");
    assert!(slurmd.status.success(), "slurmd: {}", stderr(&slurmd));
    let started = Instant::now();
    loop {
        let state = sh("sinfo -h -o %T");
        if stdout(&state).trim() == "idle" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the node did not become idle: {} {}\n{}",
            stdout(&state),
            stderr(&state),
            std::fs::read_to_string(dir.join("log/slurmd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    cluster
}

#[test]
fn a_four_shard_array_job_and_its_merge_equal_the_single_machine_run() {
    if let Some(why) = missing() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the SLURM test cannot run under CI: {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let cluster_dir = work.path().join("slurm");
    let _cluster = start_cluster(&cluster_dir);
    let scenario = repo().join("scenarios/concept-test.ron");
    let scenario = scenario.to_str().unwrap();
    let options = [
        "--model",
        "rules",
        "--replicates",
        "2",
        "--agents",
        "60",
        "--quiet",
    ];
    let mut single = vec!["run", scenario, "--out", "single"];
    single.extend_from_slice(&options);
    let single = agora(work.path(), &single);
    assert!(single.status.success(), "{}", stderr(&single));

    let mut submit = vec!["slurm", scenario, "--shards", "4", "--out", "sharded", "--"];
    submit.extend_from_slice(&options);
    let submitted = agora(work.path(), &submit);
    assert!(submitted.status.success(), "{}", stderr(&submitted));
    let printed = stdout(&submitted);
    eprintln!("agora slurm:\n{printed}");
    let ids: Vec<String> = printed
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "job")
        .map(|w| w[1].to_string())
        .collect();
    assert_eq!(ids.len(), 2, "a shards job and a merge job: {printed}");
    let script =
        std::fs::read_to_string(work.path().join("sharded/.agora/slurm/shards.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=1-4"), "{script}");

    // Wait for both jobs to leave the queue.
    let started = Instant::now();
    loop {
        let queue = sh(&format!("squeue -h -j {} -o %T", ids.join(",")));
        if stdout(&queue).trim().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the jobs did not finish: {}",
            stdout(&queue)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let logs = work.path().join("sharded/.agora/slurm");
    let log = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
    let sharded = work.path().join("sharded");
    assert!(
        sharded.join("manifest.json").exists(),
        "the merge job wrote the manifest; merge log:\n{}\nshard 1 log:\n{}",
        log("merge.log"),
        log("shard-1.log")
    );
    for k in 1..=4 {
        assert!(
            sharded
                .join(format!(".agora/shards/shard-{k}-of-4.json"))
                .exists(),
            "shard {k}"
        );
    }
    eprintln!("merge job's log:\n{}", log("merge.log"));
    assert!(
        log("merge.log").contains("merged 4 shards, 6 runs"),
        "{}",
        log("merge.log")
    );
    assert_same_files(&work.path().join("single"), &sharded);
}
