//! The keyword coder on a realistic codebook.

use agora_coding::{Code, Codebook, KeywordCoder};
use proptest::prelude::*;

fn book() -> Codebook {
    Codebook::new(vec![
        Code::new(
            "price",
            "Price",
            "",
            &["price", "expens*", "cheap*", "cost*", "afford*"],
        ),
        Code::new(
            "time",
            "Saves time",
            "",
            &["time", "quick*", "no shopping", "convenien*"],
        ),
        Code::new(
            "health",
            "Healthy eating",
            "",
            &["health*", "fresh", "vegetables"],
        ),
        Code::new(
            "waste",
            "Less waste",
            "",
            &["waste", "packaging", "plastic"],
        ),
    ])
    .unwrap()
}

#[test]
fn answers_get_every_code_they_mention_and_only_those() {
    let coder = KeywordCoder::new(&book());
    for (answer, expected) in [
        ("It's too expensive for a family of four.", vec![0]),
        ("Quick healthy dinners, and I can afford it", vec![0, 1, 2]),
        ("So much PLASTIC packaging.", vec![3]),
        ("I love cooking from scratch.", vec![]),
        ("timely", vec![]),
        ("Convenience matters; fresh vegetables too", vec![1, 2]),
    ] {
        assert_eq!(coder.code(answer), expected, "{answer}");
    }
}

proptest! {
    #[test]
    fn coding_is_deterministic_and_case_blind(text in "[a-zA-Z ,.!']{0,80}") {
        let coder = KeywordCoder::new(&book());
        let codes = coder.code(&text);
        prop_assert_eq!(&codes, &coder.code(&text.to_uppercase()));
        prop_assert!(codes.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(codes.iter().all(|&c| c < 4));
    }
}
