//! Tests of semantic similarity rating.

use agora_choice::ChoiceError;
use agora_choice::ssr::{
    cosine, fnv1a64, lexical_embedding, mean_rating, ssr_from_embeddings, ssr_pmf,
};
use proptest::prelude::*;

fn close_all(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < tol, "entry {i}: {x} vs {y}");
    }
}

#[test]
fn pmf_by_hand() {
    // γ = (.1, .3, .5, .2, .4): γ_min = .1 at r = 1, differences (0, .2, .4, .1, .3),
    // sum 1.0, so p = (0, .2, .4, .1, .3) and the mean rating is
    // 1·0 + 2·.2 + 3·.4 + 4·.1 + 5·.3 = 0.4 + 1.2 + 0.4 + 1.5 = 3.5.
    let g = [0.1, 0.3, 0.5, 0.2, 0.4];
    let p = ssr_pmf(&g, 0.0).unwrap();
    close_all(&p, &[0.0, 0.2, 0.4, 0.1, 0.3], 1e-12);
    assert!((mean_rating(&p).unwrap() - 3.5).abs() < 1e-12);
    // ε = .5 adds .5 to the least similar point and to the denominator:
    // (.5, .2, .4, .1, .3)/1.5 = (1/3, 2/15, 4/15, 1/15, 1/5).
    let p = ssr_pmf(&g, 0.5).unwrap();
    close_all(
        &p,
        &[1.0 / 3.0, 2.0 / 15.0, 4.0 / 15.0, 1.0 / 15.0, 0.2],
        1e-12,
    );
    // All similarities equal: uniform.
    close_all(&ssr_pmf(&[0.7; 5], 0.0).unwrap(), &[0.2; 5], 1e-15);
    close_all(&ssr_pmf(&[0.7; 4], 0.3).unwrap(), &[0.25; 4], 1e-15);
}

#[test]
fn cosine_by_hand() {
    // (3, 4)·(4, 3) = 24; |a| = |b| = 5, so cos = 24/25 = 0.96.
    assert!((cosine(&[3.0, 4.0], &[4.0, 3.0]).unwrap() - 0.96).abs() < 1e-15);
    assert!((cosine(&[1.0, 0.0], &[-2.0, 0.0]).unwrap() + 1.0).abs() < 1e-15);
    assert!(matches!(
        cosine(&[1.0], &[1.0, 2.0]),
        Err(ChoiceError::DimensionMismatch { .. })
    ));
    assert!(cosine(&[0.0, 0.0], &[1.0, 2.0]).is_err());
    assert!(cosine(&[f64::NAN, 0.0], &[1.0, 2.0]).is_err());
}

const RESPONSE: [f64; 4] = [0.9, 0.3, -0.2, 0.1];

fn anchor_sets() -> Vec<Vec<Vec<f64>>> {
    vec![
        vec![
            vec![-1.0, 0.2, 0.0, 0.0],
            vec![-0.5, 0.5, 0.1, 0.0],
            vec![0.0, 1.0, 0.0, 0.2],
            vec![0.6, 0.4, 0.0, 0.1],
            vec![1.0, 0.1, -0.1, 0.0],
        ],
        vec![
            vec![-0.8, -0.1, 0.3, 0.0],
            vec![-0.3, 0.2, 0.2, 0.1],
            vec![0.1, 0.3, 0.4, 0.0],
            vec![0.5, 0.2, 0.0, 0.3],
            vec![0.9, 0.3, -0.3, 0.1],
        ],
    ]
}

#[test]
fn embeddings_match_the_reference_formula() {
    // make_reference.py, section ssr: the public reference formula on (1 + cos)/2 in numpy.
    let sets = anchor_sets();
    let one = ssr_from_embeddings(&RESPONSE, &sets[..1], 0.0).unwrap();
    close_all(
        &one,
        &[
            0.0,
            0.07479943861048112,
            0.2265250444157689,
            0.3473139828064351,
            0.3513615341673149,
        ],
        1e-12,
    );
    let both = ssr_from_embeddings(&RESPONSE, &sets, 0.0).unwrap();
    close_all(
        &both,
        &[
            0.0,
            0.073250492978809,
            0.2217647714703646,
            0.3469979786213683,
            0.357986756929458,
        ],
        1e-12,
    );
    assert!((mean_rating(&both).unwrap() - 3.989720999501475).abs() < 1e-12);
    // Same section: ε = 0.1 on plain cosines is ε = 0.05 in the (1 + cos)/2 form.
    let eps = ssr_from_embeddings(&RESPONSE, &sets[..1], 0.1).unwrap();
    close_all(
        &eps,
        &[
            0.01904090582507961,
            0.07337518954413012,
            0.2222118023780263,
            0.34070080996808444,
            0.3446712922846796,
        ],
        1e-12,
    );
    assert!(ssr_from_embeddings(&RESPONSE, &[], 0.0).is_err());
    let mut ragged = anchor_sets();
    ragged[1].pop();
    assert!(ssr_from_embeddings(&RESPONSE, &ragged, 0.0).is_err());
    assert!(ssr_pmf(&[0.1, 0.2], -1.0).is_err());
    assert!(ssr_pmf(&[], 0.0).is_err());
    assert!(mean_rating(&[0.5, 0.6]).is_err());
}

#[test]
fn lexical_embedding_by_hand() {
    // FNV-1a 64 test vectors: "a" → 0xaf63dc4c8601ec8c, "foobar" → 0x85944171f73967e8.
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    // With 8 buckets: "a" → 0x…8c mod 8 = 4, top bit set → −1; "foobar" → 0x…e8 mod 8 = 0,
    // top bit set → −1. "A, a! FOOBAR" has counts −2 at 4 and −1 at 0; norm √5.
    let v = lexical_embedding("A, a! FOOBAR", 8).unwrap();
    let s = 5f64.sqrt();
    close_all(
        &v,
        &[-1.0 / s, 0.0, 0.0, 0.0, -2.0 / s, 0.0, 0.0, 0.0],
        1e-15,
    );
    assert_eq!(lexical_embedding("?! ...", 8).unwrap(), vec![0.0; 8]);
    assert!(lexical_embedding("a", 0).is_err());
    // make_reference.py, section ssr: the same embedding written in Python.
    let text = "I'd probably buy it - it's good value, really good!";
    let q = 0.2773500981126146;
    let h = 0.5547001962252291;
    close_all(
        &lexical_embedding(text, 16).unwrap(),
        &[
            h, 0.0, -q, -q, -q, 0.0, 0.0, 0.0, -h, 0.0, q, q, 0.0, 0.0, 0.0, 0.0,
        ],
        1e-15,
    );
    // Same section: SSR of that text against five Likert statements, 64 buckets.
    let likert = [
        "I would definitely not buy it",
        "I would probably not buy it",
        "I might or might not buy it",
        "I would probably buy it",
        "I would definitely buy it",
    ];
    let anchors: Vec<Vec<f64>> = likert
        .iter()
        .map(|t| lexical_embedding(t, 64).unwrap())
        .collect();
    let pmf = ssr_from_embeddings(&lexical_embedding(text, 64).unwrap(), &[anchors], 0.0).unwrap();
    close_all(
        &pmf,
        &[
            0.2118776989783715,
            0.28884513572576503,
            0.0,
            0.3790470561513623,
            0.12023010914450216,
        ],
        1e-12,
    );
}

proptest! {
    #[test]
    fn pmf_is_a_distribution(g in prop::collection::vec(-1.0f64..1.0, 1..9), eps in 0.0f64..1.0) {
        let p = ssr_pmf(&g, eps).unwrap();
        prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        prop_assert!(p.iter().all(|&x| x >= 0.0));
        let m = mean_rating(&p).unwrap();
        prop_assert!((1.0..=g.len() as f64).contains(&m));
    }

    #[test]
    fn lexical_embedding_is_unit_or_zero(text in "\\PC{0,60}", dims in 1usize..64) {
        let v = lexical_embedding(&text, dims).unwrap();
        let n: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        prop_assert!(n == 0.0 || (n - 1.0).abs() < 1e-12);
    }
}
