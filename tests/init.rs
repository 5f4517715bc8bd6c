//! `agora init`: a commented starting scenario for every registered mechanism, valid
//! as written and runnable, never replacing a file.

mod common;

use common::{agora, stderr, stdout};

#[test]
fn init_writes_a_valid_runnable_scenario_for_every_registered_mechanism() {
    let registry = agora_mechanisms::registry();
    let mechanisms = registry.mechanisms();
    assert!(
        mechanisms.len() >= 4,
        "survey, auction, debate, focus group"
    );
    for m in mechanisms {
        let dir = tempfile::tempdir().unwrap();
        let cli_name = m.name.replace('_', "-");
        let init = agora(dir.path(), &["init", "study.ron", "--mechanism", &cli_name]);
        assert!(init.status.success(), "{}: {}", m.keyword, stderr(&init));
        assert!(
            stdout(&init).contains("wrote study.ron"),
            "{}",
            stdout(&init)
        );
        // Only the file was written.
        let entries: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["study.ron"], "{}", m.keyword);

        let path = dir.path().join("study.ron");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("mechanism: {}((", m.keyword)),
            "{}",
            m.keyword
        );
        assert!(
            text.lines()
                .filter(|l| l.trim_start().starts_with("//"))
                .count()
                >= 10
        );
        let scenario = agora_scenario::load(&path, &registry)
            .unwrap_or_else(|e| panic!("{}: the written scenario is invalid:\n{e}", m.keyword));
        assert_eq!(scenario.file.mechanism.keyword(), m.keyword);
        assert_eq!(scenario.file.name, "study");

        let validate = agora(dir.path(), &["validate", "study.ron"]);
        assert!(validate.status.success(), "{}", stderr(&validate));
        let run = agora(
            dir.path(),
            &[
                "run",
                "study.ron",
                "--model",
                "rules",
                "--agents",
                "20",
                "--quiet",
            ],
        );
        assert!(run.status.success(), "{}: {}", m.keyword, stderr(&run));
        // Tables go to runs/<file name>.
        let manifest = dir.path().join("runs/study/manifest.json");
        assert!(
            manifest.is_file(),
            "{}: no {}",
            m.keyword,
            manifest.display()
        );
    }
}

#[test]
fn mechanism_names_are_taken_in_any_spelling() {
    for name in ["focus-group", "focus_group", "FocusGroup", "FOCUSGROUP"] {
        let dir = tempfile::tempdir().unwrap();
        let init = agora(dir.path(), &["init", "fg.ron", "--mechanism", name]);
        assert!(init.status.success(), "{name}: {}", stderr(&init));
        let text = std::fs::read_to_string(dir.path().join("fg.ron")).unwrap();
        assert!(text.contains("mechanism: FocusGroup(("), "{name}");
    }
}

#[test]
fn any_file_name_gives_a_valid_scenario_named_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = "my \"quoted\" \\ study\nnew line.ron";
    let init = agora(dir.path(), &["init", file, "--mechanism", "auction"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let scenario =
        agora_scenario::load(&dir.path().join(file), &agora_mechanisms::registry()).unwrap();
    assert_eq!(scenario.file.name, "my \"quoted\" \\ study\nnew line");
}

#[test]
fn list_names_every_registered_mechanism() {
    let dir = tempfile::tempdir().unwrap();
    let list = agora(dir.path(), &["init", "--list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let out = stdout(&list);
    let mechanisms = agora_mechanisms::registry().mechanisms();
    assert_eq!(out.lines().count(), mechanisms.len(), "{out}");
    for (line, m) in out.lines().zip(&mechanisms) {
        assert!(
            line.starts_with(&m.name.replace('_', "-")) && line.contains(m.keyword),
            "{line}"
        );
        let summary = m.template.map(|t| t.summary).unwrap_or_default();
        assert!(!summary.is_empty() && line.ends_with(summary), "{line}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_existing_file_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.ron");
    std::fs::write(&path, "my own notes").unwrap();
    let init = agora(dir.path(), &["init", "mine.ron", "--mechanism", "survey"]);
    assert_eq!(init.status.code(), Some(1));
    let err = stderr(&init);
    assert!(err.contains("mine.ron already exists"), "{err}");
    assert!(err.contains("never replaces"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "my own notes");
}

#[test]
fn unknown_mechanisms_and_missing_folders_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let init = agora(dir.path(), &["init", "s.ron", "--mechanism", "poll"]);
    assert!(!init.status.success());
    let err = stderr(&init);
    assert!(err.contains("unknown mechanism `poll`"), "{err}");
    assert!(
        err.contains("survey, auction, debate, focus-group"),
        "{err}"
    );
    let init = agora(
        dir.path(),
        &["init", "no/such/s.ron", "--mechanism", "survey"],
    );
    assert!(!init.status.success());
    assert!(
        stderr(&init).contains("folder does not exist"),
        "{}",
        stderr(&init)
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // A file and a mechanism are needed, unless --list.
    let init = agora(dir.path(), &["init", "s.ron"]);
    assert_eq!(init.status.code(), Some(2));
    assert!(stderr(&init).contains("--mechanism"), "{}", stderr(&init));
}
