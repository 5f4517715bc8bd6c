//! Theme shares against hand-computed values.

use agora_coding::shares::{CodedAnswer, Labels, theme_shares};

fn answer(arm: &str, replicate: u32, agent: u32, codes: &[usize]) -> CodedAnswer {
    CodedAnswer {
        arm: arm.into(),
        replicate,
        agent,
        codes: codes.to_vec(),
    }
}

#[test]
fn an_agents_answers_are_averaged_before_agents_are() {
    // Agent 0 answered twice (code 0 once), agent 1 once (code 0), agent 2 once (none):
    // agent values 0.5, 1, 0 -> share 0.5; code 1: 0.5, 0, 0 -> 1/6.
    let answers = [
        answer("a", 0, 0, &[0]),
        answer("a", 0, 0, &[1]),
        answer("a", 0, 1, &[0]),
        answer("a", 0, 2, &[]),
    ];
    let rows = theme_shares(&answers, 2, &["a".into()], &[], &Labels::new(), 1).unwrap();
    assert_eq!(rows.len(), 2);
    assert!((rows[0].share - 0.5).abs() < 1e-12);
    assert!((rows[1].share - 1.0 / 6.0).abs() < 1e-12);
    assert_eq!(
        (rows[0].agents, rows[0].answers, rows[0].replicates),
        (3, 4, 1)
    );
    let (lo, hi) = (rows[0].ci_low.unwrap(), rows[0].ci_high.unwrap());
    assert!(
        (0.0..=0.5).contains(&lo) && (0.5..=1.0).contains(&hi),
        "{lo} {hi}"
    );
    assert!(rows[0].method.contains("bootstrap over 3 observations"));
}

#[test]
fn replicates_are_clusters_and_segments_split_agents() {
    // Three replicates of four agents; in replicate r, agents below r+1 mention code 0.
    let mut answers = Vec::new();
    let mut labels = Labels::new();
    for r in 0..3u32 {
        for agent in 0..4u32 {
            let codes: Vec<usize> = if agent <= r { vec![0] } else { vec![] };
            answers.push(answer("b", r, agent, &codes));
            let level = if agent % 2 == 0 { "even" } else { "odd" };
            labels.insert(("b".into(), r, agent), vec![Some(level.into())]);
        }
    }
    let rows = theme_shares(
        &answers,
        1,
        &["a".into(), "b".into()],
        &["parity".into()],
        &labels,
        9,
    )
    .unwrap();
    let segments: Vec<&str> = rows.iter().map(|r| r.segment.as_str()).collect();
    assert_eq!(
        segments,
        ["all", "parity=even", "parity=odd"],
        "no rows for arm a"
    );
    // 1 + 2 + 3 of 12 agents.
    assert!((rows[0].share - 0.5).abs() < 1e-12);
    assert!(
        rows[0]
            .method
            .contains("cluster-robust (CR1) t interval over 3 replicates")
    );
    // Replicate means 0.25, 0.5, 0.75: CR1 se = sd/sqrt(3) * sqrt(3/2)... the interval is
    // symmetric about 0.5 and clipped to 0..1.
    let (lo, hi) = (rows[0].ci_low.unwrap(), rows[0].ci_high.unwrap());
    assert!((0.5 - lo - (hi - 0.5)).abs() < 1e-9 || lo == 0.0 || hi == 1.0);
    // Even agents 0, 2: replicate 0 -> agent 0; 1 -> agent 0; 2 -> agents 0, 2: 4 of 6.
    assert!((rows[1].share - 4.0 / 6.0).abs() < 1e-12);
    // Odd agents 1, 3: replicate 1 -> 1; 2 -> 1: 2 of 6.
    assert!((rows[2].share - 2.0 / 6.0).abs() < 1e-12);
}

#[test]
fn the_same_input_gives_the_same_rows_and_bad_codes_are_refused() {
    let answers: Vec<CodedAnswer> = (0..40)
        .map(|i| answer("a", i % 12, i, if i % 3 == 0 { &[0] } else { &[] }))
        .collect();
    let a = theme_shares(&answers, 1, &["a".into()], &[], &Labels::new(), 5).unwrap();
    let b = theme_shares(&answers, 1, &["a".into()], &[], &Labels::new(), 5).unwrap();
    assert_eq!(a, b);
    assert!(a[0].method.contains("cluster bootstrap over 12 replicates"));
    assert!(
        theme_shares(
            &[answer("a", 0, 0, &[3])],
            1,
            &["a".into()],
            &[],
            &Labels::new(),
            5
        )
        .is_err()
    );
}
