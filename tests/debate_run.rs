//! End to end: the debate and focus-group scenarios on the rule-based backend.

mod common;

use common::*;

/// (scenario, mechanism, agents, rounds at most)
const SCENARIOS: [(&str, &str, i64, i64); 4] = [
    ("debate-two-sided", "debate", 6, 6),
    ("opinion-dynamics", "debate", 40, 20),
    ("focus-group", "focus_group", 8, 8),
    ("focus-group-simultaneous", "focus_group", 50, 8),
];

#[test]
fn every_conversation_scenario_runs_and_writes_consistent_tables() {
    let dir = tempfile::tempdir().unwrap();
    for (name, mechanism, agents, max_rounds) in SCENARIOS {
        run_with_rules(dir.path(), name, name, &[]);
        let out = dir.path().join(name);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["status"], "complete", "{name}");
        assert_eq!(manifest["mechanism"], mechanism, "{name}");
        for rep in 0..2 {
            let rows = |table: &str| parquet_rows(&table_file(&out, table, "base", rep));
            let run = &manifest["runs"][rep as usize];
            let rounds = run["rounds"].as_i64().unwrap();
            assert!(rounds >= 1 && rounds <= max_rounds, "{name}");
            assert_eq!(run["fallbacks"], 0, "{name}: rule agents are always valid");
            assert_eq!(rows("agents"), agents, "{name}");
            assert_eq!(rows("debate_metrics"), rounds, "{name}: one row per round");
            assert_eq!(
                rows("opinions"),
                agents * (rounds + 1),
                "{name}: every agent before round 1 and after every round"
            );
            assert!(rows("messages") >= rounds, "{name}");
            assert_eq!(rows("conversation_end"), 1, "{name}");
            if mechanism == "focus_group" {
                assert_eq!(rows("focus_group_answers"), rows("messages"), "{name}");
            }
            assert!(
                rows("llm_calls") >= rows("messages") + rows("opinions"),
                "{name}"
            );
            let end = text_column(&table_file(&out, "conversation_end", "base", rep), "reason");
            assert_eq!(
                end,
                vec![run["stop_reason"].as_str().map(String::from)],
                "{name}"
            );
            // Private opinions never travel as public or audience events.
            let events = table_file(&out, "events", "base", rep);
            let kinds = text_column(&events, "kind");
            let visibility = text_column(&events, "visibility");
            let opinions = kinds
                .iter()
                .zip(&visibility)
                .filter(|(k, _)| k.as_deref() == Some("opinion"));
            assert_eq!(opinions.clone().count() as i64, rows("opinions"), "{name}");
            assert!(
                opinions
                    .into_iter()
                    .all(|(_, v)| v.as_deref() == Some("private")),
                "{name}"
            );
        }
    }
}

#[test]
fn conversations_are_reproducible_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["opinion-dynamics", "focus-group"] {
        let (a, b) = (format!("{name}-a"), format!("{name}-b"));
        run_with_rules(dir.path(), name, &a, &["--seed", "3", "--rounds", "6"]);
        run_with_rules(dir.path(), name, &b, &["--seed", "3", "--rounds", "6"]);
        let mut tables = vec![
            "messages",
            "opinions",
            "debate_metrics",
            "events",
            "llm_calls",
        ];
        if name == "focus-group" {
            tables.push("focus_group_answers");
        }
        for table in tables {
            let read = |out: &str| {
                table_bytes(table_file(&dir.path().join(out), table, "base", 1)).unwrap()
            };
            assert!(
                read(&a) == read(&b),
                "{name}: {table} differs between identical runs"
            );
        }
    }
}

#[test]
fn a_round_cap_is_recorded_as_the_reason_to_stop() {
    let dir = tempfile::tempdir().unwrap();
    run_with_rules(dir.path(), "opinion-dynamics", "capped", &["--rounds", "2"]);
    let out = dir.path().join("capped");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["runs"][0]["rounds"], 2);
    let end = table_file(&out, "conversation_end", "base", 0);
    assert_eq!(
        text_column(&end, "reason"),
        vec![Some("round_limit".to_string())]
    );
    assert_eq!(
        parquet_rows(&table_file(&out, "debate_metrics", "base", 0)),
        2
    );
}

#[test]
fn a_graph_file_is_read_from_the_scenario_folder_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/debate-two-sided.ron"))
        .unwrap()
        .replace(
            "order: Random,",
            "order: Random,\n        audience: File(\"edges.csv\"),",
        );
    let scenario = write_scenario(dir.path(), "graph.ron", &text);
    std::fs::write(
        dir.path().join("edges.csv"),
        "# a ring\n0,1\n1,2\n2,3\n3,4\n4,5\n5,0\n",
    )
    .unwrap();
    let ok = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--out",
            "ring",
            "--quiet",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    std::fs::write(dir.path().join("edges.csv"), "0,1\n1;2\n").unwrap();
    let bad = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--out",
            "bad",
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let err = stderr(&bad);
    assert!(
        err.contains("graph.ron:") && err.contains("line 2"),
        "{err}"
    );
    assert!(
        err.contains("help: write one pair of agent ids per line"),
        "{err}"
    );
    assert!(!dir.path().join("bad").exists());
}

/// `(round, agent_id, turn)` of every message of a run, in row order.
fn message_keys(out: &std::path::Path, rep: u32) -> Vec<(u32, u32, u32)> {
    use parquet::record::Field;
    let u = |row: &Row, column: &str| match row.get(column) {
        Some(Field::UInt(x)) => *x,
        other => panic!("{column}: {other:?}"),
    };
    parts(&table_file(out, "messages", "base", rep))
        .iter()
        .flat_map(|file| rows(file))
        .map(|row| (u(&row, "round"), u(&row, "agent_id"), u(&row, "turn")))
        .collect()
}

#[test]
fn simultaneous_answers_are_heard_in_agent_order_at_one_turn_and_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--agents", "12", "--rounds", "4", "--seed", "5"];
    run_with_rules(dir.path(), "focus-group-simultaneous", "a", &args);
    run_with_rules(dir.path(), "focus-group-simultaneous", "b", &args);
    let out = dir.path().join("a");
    let keys = message_keys(&out, 0);
    let mut expected = Vec::new();
    for round in 1..=4 {
        expected.extend((0..12).map(|agent| (round, agent, 1)));
    }
    assert_eq!(keys, expected, "everyone at turn 1, in agent-id order");
    for table in [
        "messages",
        "opinions",
        "focus_group_answers",
        "events",
        "llm_calls",
    ] {
        let read =
            |o: &str| table_bytes(table_file(&dir.path().join(o), table, "base", 1)).unwrap();
        assert!(
            read("a") == read("b"),
            "{table} differs between identical runs"
        );
    }
    // The same group in turn: one speaker after another.
    let text = std::fs::read_to_string(repo().join("scenarios/focus-group-simultaneous.ron"))
        .unwrap()
        .replace("order: Simultaneous,", "order: Fixed,");
    let fixed = write_scenario(dir.path(), "fixed.ron", &text);
    let run = agora(
        dir.path(),
        &[
            "run",
            fixed.to_str().unwrap(),
            "--model",
            "rules",
            "--out",
            "fixed",
            "--quiet",
            "--agents",
            "12",
            "--rounds",
            "1",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let turns: Vec<u32> = message_keys(&dir.path().join("fixed"), 0)
        .iter()
        .map(|k| k.2)
        .collect();
    assert_eq!(turns, (1..=12).collect::<Vec<_>>());
}
