use super::*;
use agora_core::outcome::{Combine, OutcomeName, OutcomeValue};
use agora_export::{OutputLayout, Partition, SinkSet};

/// A small experiment: arms `control` and `treat`, replicates 0 and 1, three agents,
/// one rating item (`score`), one choice item (`pick`) and a run-level `revenue`.
fn experiment(dir: &Path) -> Result<(), ExportError> {
    let layout = OutputLayout::new(dir);
    let keys = || {
        vec![
            Column::required("round", ColumnType::U32),
            Column::optional("agent_id", ColumnType::U32),
        ]
    };
    let answers = TableSpec::new(
        "answers",
        [
            keys(),
            vec![
                Column::required("item", ColumnType::Utf8),
                Column::optional("value", ColumnType::F64),
                Column::optional("label", ColumnType::Utf8),
            ],
        ]
        .concat(),
    );
    let agents = TableSpec::new(
        "agents",
        [keys(), vec![Column::required("region", ColumnType::Utf8)]].concat(),
    );
    let control = [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]];
    let lift = [[1.0, 1.0, 2.0], [0.0, 1.0, 1.0]];
    let picks = [["x", "y", "x"], ["y", "y", "x"]];
    let regions = ["north", "south", "north"];
    for (arm, treated) in [("control", false), ("treat", true)] {
        for replicate in 0..2u32 {
            let partition = Partition {
                arm: arm.into(),
                replicate,
            };
            let mut sinks = SinkSet::new(64);
            let a = sinks.open(answers.clone(), layout.partition_dir("answers", &partition))?;
            let g = sinks.open(agents.clone(), layout.partition_dir("agents", &partition))?;
            let r = replicate as usize;
            for agent in 0..3u32 {
                let i = agent as usize;
                let value = control[r][i] + if treated { lift[r][i] } else { 0.0 };
                let pick = if treated { "x" } else { picks[r][i] };
                for (item, v, l) in [("score", Some(value), None), ("pick", None, Some(pick))] {
                    sinks
                        .row(a)?
                        .u32(1)
                        .opt_u32(Some(agent))
                        .str(item)
                        .opt_f64(v)
                        .opt_str(l)
                        .end();
                }
                sinks
                    .row(g)?
                    .u32(0)
                    .opt_u32(Some(agent))
                    .str(regions[i])
                    .end();
            }
            let revenue = 10.0 + f64::from(replicate) + if treated { 2.0 } else { 0.0 };
            for lot in [revenue / 2.0, revenue / 2.0] {
                sinks
                    .row(a)?
                    .u32(2)
                    .opt_u32(None)
                    .str("revenue")
                    .opt_f64(Some(lot))
                    .opt_str(None)
                    .end();
            }
            sinks.seal(3)?;
            sinks.close()?;
        }
    }
    Ok(())
}

fn plan() -> StatsPlan {
    StatsPlan {
        arms: vec!["control".into(), "treat".into()],
        control: "control".into(),
        comparisons: Vec::new(),
        retest: false,
        segments: vec!["region".into()],
        sources: vec![
            OutcomeSource {
                table: "answers".into(),
                name: OutcomeName::Column("item".into()),
                value: OutcomeValue::Number("value".into()),
                unit: OutcomeUnit::Agent,
                combine: Combine::Mean,
                only: Vec::new(),
            }
            .only("item", &["score"]),
            OutcomeSource {
                table: "answers".into(),
                name: OutcomeName::Column("item".into()),
                value: OutcomeValue::Shares("label".into()),
                unit: OutcomeUnit::Agent,
                combine: Combine::Mean,
                only: Vec::new(),
            },
            OutcomeSource::number("answers", "revenue", "value", OutcomeUnit::Run)
                .combined(Combine::Sum)
                .only("item", &["revenue"]),
        ],
        seed: 1,
    }
}

fn row<'a>(
    rows: &'a [StatsRow],
    arm: &str,
    outcome: &str,
    segment: &str,
    kind: &str,
) -> &'a StatsRow {
    rows.iter()
        .find(|r| r.arm == arm && r.outcome == outcome && r.segment == segment && r.kind == kind)
        .unwrap_or_else(|| panic!("no row {arm} {outcome} {segment} {kind} in {rows:#?}"))
}

#[test]
fn levels_and_paired_differences_match_hand_computed_values() -> Result<(), ExportError> {
    let dir = tempfile::tempdir().map_err(|source| ExportError::Io {
        path: "tmp".into(),
        source,
    })?;
    experiment(dir.path())?;
    let rows = compute(dir.path(), &plan())?;
    // Control scores 1,2,3 | 2,3,4: pooled mean 2.5; per replicate means 2 and 3.
    let level = row(&rows, "control", "score", "all", "level");
    assert_eq!((level.estimate, level.n, level.replicates), (2.5, 6, 2));
    // CR1 over 2 replicates: residual cluster sums -1.5 and 1.5 (each of 3 agents off
    // the pooled 2.5 by -0.5 and +0.5 on average): V = G/(G-1) * sum(s_g^2) / N^2 =
    // 2 * 4.5 / 36 = 0.25, se 0.5; t(0.975, 1 df) = 12.7062047362.
    assert!(
        (level.ci_high - (2.5 + 12.706_204_736_2 * 0.5)).abs() < 1e-6,
        "{level:?}"
    );
    assert!(level.method.contains("cluster-robust"), "{}", level.method);
    // Paired differences 1,1,2 | 0,1,1: mean 1.
    let diff = row(&rows, "treat", "score", "all", "difference");
    assert_eq!(
        (diff.estimate, diff.n, diff.control.as_deref()),
        (1.0, 6, Some("control"))
    );
    assert!(diff.p_value.is_some_and(|p| (0.0..=1.0).contains(&p)));
    // Shares: control picked x 2 of 3 then 1 of 3 (pooled 0.5); treat always x.
    assert_eq!(
        row(&rows, "control", "pick=x", "all", "level").estimate,
        0.5
    );
    assert_eq!(row(&rows, "treat", "pick=y", "all", "level").estimate, 0.0);
    assert_eq!(
        row(&rows, "treat", "pick=x", "all", "difference").estimate,
        0.5
    );
    // Segments: north agents are 0 and 2: control scores 1,3 | 2,4.
    assert_eq!(
        row(&rows, "control", "score", "region=north", "level").estimate,
        2.5
    );
    assert_eq!(
        row(&rows, "control", "score", "region=south", "level").estimate,
        2.5
    );
    assert_eq!(
        row(&rows, "treat", "score", "region=south", "difference").estimate,
        1.0
    );
    // Run-level revenue sums the lots: control 10, 11; treat 12, 13; no segments.
    let revenue = row(&rows, "control", "revenue", "all", "level");
    assert_eq!(
        (revenue.estimate, revenue.unit, revenue.n),
        (10.5, "run", 2)
    );
    assert_eq!(
        row(&rows, "treat", "revenue", "all", "difference").estimate,
        2.0
    );
    assert!(
        !rows
            .iter()
            .any(|r| r.outcome == "revenue" && r.segment != "all")
    );
    // The same tables give the same rows.
    assert_eq!(compute(dir.path(), &plan())?, rows);
    write_stats(dir.path(), &rows)?;
    let back = agora_export::read_table(dir.path(), "stats", &[], &[])?;
    assert!(back.is_none(), "the stats file is not a partitioned table");
    assert!(dir.path().join("stats/part-00000.parquet").is_file());
    Ok(())
}

#[test]
fn the_headline_shows_levels_and_differences() {
    let level = StatsRow {
        arm: "a".into(),
        outcome: "appeal".into(),
        segment: "all".into(),
        kind: "level",
        control: None,
        unit: "agent",
        estimate: 3.25,
        ci_low: 3.1,
        ci_high: 3.4,
        n: 10,
        replicates: 2,
        method: "m".into(),
        p_value: None,
        test: None,
        effect_size: None,
        effect_measure: None,
    };
    let diff = StatsRow {
        arm: "b".into(),
        kind: "difference",
        control: Some("a".into()),
        estimate: 0.3,
        ci_low: -0.05,
        ci_high: 0.65,
        p_value: Some(0.0004),
        ..level.clone()
    };
    assert_eq!(
        headline(&[level, diff], 5),
        ["appeal: a 3.25 [3.10, 3.40]; b−a +0.300 [-0.0500, +0.650] p=<0.001"]
    );
}

/// Rows over three rounds, each sealed into its own segment file: agent 0 answers
/// (a, 1), (b, 2), (a, 4); agent 1 (b, 3), (b, 5); agent 2 only a number in round 3.
fn rounds(dir: &Path) -> Result<(), ExportError> {
    let spec = TableSpec::new(
        "answers",
        vec![
            Column::required("round", ColumnType::U32),
            Column::optional("agent_id", ColumnType::U32),
            Column::optional("value", ColumnType::F64),
            Column::optional("label", ColumnType::Utf8),
        ],
    );
    let partition = Partition {
        arm: "base".into(),
        replicate: 0,
    };
    let mut sinks = SinkSet::new(64);
    let id = sinks.open(
        spec,
        OutputLayout::new(dir).partition_dir("answers", &partition),
    )?;
    let by_round: [&[(u32, f64, Option<&str>)]; 3] = [
        &[(0, 1.0, Some("a")), (1, 3.0, Some("b"))],
        &[(0, 2.0, Some("b")), (1, 5.0, Some("b"))],
        &[(0, 4.0, Some("a")), (2, 6.0, None)],
    ];
    for (round, rows) in (1..).zip(by_round) {
        for (agent, value, label) in rows {
            sinks
                .row(id)?
                .u32(round)
                .opt_u32(Some(*agent))
                .opt_f64(Some(*value))
                .opt_str(*label)
                .end();
        }
        sinks.seal(round + 1)?;
    }
    sinks.close()?;
    Ok(())
}

#[test]
fn units_combine_their_rows_across_segment_files() -> Result<(), ExportError> {
    let dir = tempfile::tempdir().map_err(|e| ExportError::Io {
        path: "tmp".into(),
        source: e,
    })?;
    rounds(dir.path())?;
    let number = |combine| {
        OutcomeSource::number("answers", "score", "value", OutcomeUnit::Agent).combined(combine)
    };
    let shares = |combine| OutcomeSource {
        table: "answers".into(),
        name: OutcomeName::Fixed("pick".into()),
        value: OutcomeValue::Shares("label".into()),
        unit: OutcomeUnit::Agent,
        combine,
        only: Vec::new(),
    };
    let value = |data: &BTreeMap<String, OutcomeData>, outcome: &str, agent: u32| {
        data.get(outcome)
            .and_then(|d| d.value("base", 0, Some(agent)))
    };
    // (combine, agent 0, agent 1, agent 2) for the number; (a, b) per answering agent.
    let cases = [
        (
            Combine::Mean,
            [7.0 / 3.0, 4.0, 6.0],
            [[2.0 / 3.0, 1.0 / 3.0], [0.0, 1.0]],
        ),
        (Combine::Sum, [7.0, 8.0, 6.0], [[2.0, 1.0], [0.0, 2.0]]),
        (Combine::Last, [4.0, 5.0, 6.0], [[1.0, 0.0], [0.0, 1.0]]),
    ];
    for (combine, numbers, picks) in cases {
        let data = observations(dir.path(), &[number(combine), shares(combine)])?;
        for (agent, expected) in (0..).zip(numbers) {
            assert_eq!(value(&data, "score", agent), Some(expected), "{combine:?}");
        }
        for (agent, [a, b]) in (0..).zip(picks) {
            assert_eq!(value(&data, "pick=a", agent), Some(a), "{combine:?}");
            assert_eq!(value(&data, "pick=b", agent), Some(b), "{combine:?}");
        }
        // Agent 2 gave no label: not a unit of the shares.
        assert_eq!(value(&data, "pick=a", 2), None);
        assert_eq!(data.get("pick=a").map(OutcomeData::len), Some(2));
    }
    Ok(())
}
