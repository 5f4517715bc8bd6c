//! Checking an answer against its item: the rules, independent of any model.

use serde_json::Value;

use super::spec::{ItemKind, OTHER, OTHER_MAX_CHARS};

/// A valid answer to one item.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// A Likert point, 1-based.
    Point(u8),
    /// The canonical index of the chosen option.
    Choice(u16),
    /// A number within the item's bounds.
    Number(f64),
    /// Free text within the item's length limit.
    Text(String),
    /// "Other" chosen on a single-choice item, with its free text.
    Other(String),
    /// Yes (true) or no.
    Flag(bool),
    /// Canonical indices of the selected options, ascending ("Other" is the index
    /// after the last option), and the free text given with "Other".
    Choices(Vec<u16>, Option<String>),
    /// Canonical indices of the ranked options, best first.
    Ranked(Vec<u16>),
    /// Scale points of a matrix's statements, in canonical statement order.
    Grid(Vec<u8>),
    /// Points given to each option, in canonical order.
    Points(Vec<u32>),
}

/// Validate `value` against `kind`; the error says why it is not a valid answer.
///
/// Lenient only where meaning is unambiguous: `4.0` is the integer 4, and a choice
/// label matches regardless of case and surrounding spaces.
pub fn validate_answer(kind: &ItemKind, value: &Value) -> Result<Answer, String> {
    match kind {
        ItemKind::Likert { points, .. } => {
            let n = whole_number(value)
                .ok_or_else(|| format!("expected a whole number 1..{points}, got {value}"))?;
            if (1..=i64::from(*points)).contains(&n) {
                Ok(Answer::Point(n as u8))
            } else {
                Err(format!("{n} is outside the scale 1..{points}"))
            }
        }
        ItemKind::SingleChoice { options, other } | ItemKind::Dropdown { options, other } => {
            if *other {
                let (choice, text) = with_other(value, "choice")?;
                let choice = choice
                    .as_str()
                    .ok_or_else(|| format!("expected \"choice\" as text, got {choice}"))?;
                if choice.trim().eq_ignore_ascii_case(OTHER) {
                    return Ok(Answer::Other(other_text(text)?));
                }
                return option_index(options, choice).map(Answer::Choice);
            }
            let text = value
                .as_str()
                .ok_or_else(|| format!("expected one of the options as text, got {value}"))?;
            option_index(options, text).map(Answer::Choice)
        }
        ItemKind::YesNo => match value {
            Value::Bool(b) => Ok(Answer::Flag(*b)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("yes") => Ok(Answer::Flag(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("no") => Ok(Answer::Flag(false)),
            other => Err(format!("expected \"yes\" or \"no\", got {other}")),
        },
        ItemKind::MultiSelect {
            options,
            min,
            max,
            other,
        } => {
            let (list, text) = if *other {
                with_other(value, "choices")?
            } else {
                (value, &Value::Null)
            };
            let mut picked = labels_of(options, *other, list)?;
            let n = picked.len();
            if n < usize::from(*min) || n > usize::from(*max) {
                return Err(format!(
                    "{n} options selected; select between {min} and {max}"
                ));
            }
            let other_index = options.len() as u16;
            let text = if picked.contains(&other_index) {
                Some(other_text(text)?)
            } else {
                None
            };
            picked.sort_unstable();
            Ok(Answer::Choices(picked, text))
        }
        ItemKind::Ranking { options, top } => {
            let ranked = labels_of(options, false, value)?;
            if ranked.len() != usize::from(*top) {
                return Err(format!(
                    "{} options ranked; rank exactly {top}",
                    ranked.len()
                ));
            }
            Ok(Answer::Ranked(ranked))
        }
        ItemKind::Matrix {
            statements, points, ..
        } => {
            let object = value.as_object().ok_or_else(|| {
                format!("expected an object of statements and points, got {value}")
            })?;
            let mut grid = Vec::with_capacity(statements.len());
            for s in statements {
                let v = object
                    .get(s)
                    .ok_or_else(|| format!("statement \"{s}\" has no rating"))?;
                let n = whole_number(v).ok_or_else(|| {
                    format!("statement \"{s}\": expected a whole number 1..{points}, got {v}")
                })?;
                if !(1..=i64::from(*points)).contains(&n) {
                    return Err(format!(
                        "statement \"{s}\": {n} is outside the scale 1..{points}"
                    ));
                }
                grid.push(n as u8);
            }
            if object.len() != statements.len() {
                return Err("the answer rates statements that were not asked".into());
            }
            Ok(Answer::Grid(grid))
        }
        ItemKind::ConstantSum { options, total } => {
            let object = value
                .as_object()
                .ok_or_else(|| format!("expected an object of options and points, got {value}"))?;
            let mut points = Vec::with_capacity(options.len());
            for o in options {
                let v = object
                    .get(o)
                    .ok_or_else(|| format!("option \"{o}\" has no points"))?;
                let n = whole_number(v)
                    .filter(|n| (0..=i64::from(*total)).contains(n))
                    .ok_or_else(|| {
                        format!("option \"{o}\": expected whole points 0..{total}, got {v}")
                    })?;
                points.push(n as u32);
            }
            if object.len() != options.len() {
                return Err("the answer gives points to options that were not offered".into());
            }
            let sum: u64 = points.iter().map(|&p| u64::from(p)).sum();
            if sum != u64::from(*total) {
                return Err(format!("the points sum to {sum}, not {total}"));
            }
            Ok(Answer::Points(points))
        }
        ItemKind::Numeric { min, max, integer } => {
            let x = value
                .as_f64()
                .ok_or_else(|| format!("expected a number, got {value}"))?;
            if *integer && x.fract() != 0.0 {
                return Err(format!("expected a whole number, got {x}"));
            }
            if x < *min || x > *max {
                return Err(format!("{x} is outside {min}..{max}"));
            }
            Ok(Answer::Number(x))
        }
        ItemKind::FreeText { max_chars } => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("expected text, got {value}"))?;
            let chars = text.chars().count();
            if chars > *max_chars as usize {
                return Err(format!(
                    "text of {chars} characters exceeds the limit of {max_chars}"
                ));
            }
            Ok(Answer::Text(text.to_string()))
        }
    }
}

fn option_index(options: &[String], text: &str) -> Result<u16, String> {
    let wanted = text.trim();
    options
        .iter()
        .position(|o| o.trim().eq_ignore_ascii_case(wanted))
        .map(|i| i as u16)
        .ok_or_else(|| format!("\"{text}\" is not one of the options"))
}

/// A with-other answer `{"<key>": ..., "other": "..."}`: the answer and the text.
fn with_other<'a>(value: &'a Value, key: &str) -> Result<(&'a Value, &'a Value), String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("expected an object with \"{key}\" and \"other\", got {value}"))?;
    let main = object
        .get(key)
        .ok_or_else(|| format!("the answer has no \"{key}\" field"))?;
    Ok((main, object.get("other").unwrap_or(&Value::Null)))
}

/// The free text given with "Other": present, not blank, within the limit.
fn other_text(value: &Value) -> Result<String, String> {
    let text = value.as_str().map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(format!(
            "\"{OTHER}\" was chosen without saying what; fill in \"other\""
        ));
    }
    if text.chars().count() > OTHER_MAX_CHARS as usize {
        return Err(format!(
            "the \"other\" text exceeds {OTHER_MAX_CHARS} characters"
        ));
    }
    Ok(text.to_string())
}

/// Distinct options named in a JSON list, as canonical indices in the list's order.
fn labels_of(options: &[String], other: bool, value: &Value) -> Result<Vec<u16>, String> {
    let list = value
        .as_array()
        .ok_or_else(|| format!("expected a list of options, got {value}"))?;
    let mut out: Vec<u16> = Vec::with_capacity(list.len());
    for v in list {
        let text = v
            .as_str()
            .ok_or_else(|| format!("expected options as text, got {v}"))?;
        let index = if other && text.trim().eq_ignore_ascii_case(OTHER) {
            options.len() as u16
        } else {
            option_index(options, text)?
        };
        if out.contains(&index) {
            return Err(format!("\"{text}\" is listed twice"));
        }
        out.push(index);
    }
    Ok(out)
}

fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|x| x.fract() == 0.0 && x.abs() < 1e9)
            .map(|x| x as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn likert() -> ItemKind {
        ItemKind::Likert {
            points: 5,
            labels: vec![],
        }
    }

    #[test]
    fn likert_accepts_points_on_the_scale_only() {
        assert_eq!(validate_answer(&likert(), &json!(3)), Ok(Answer::Point(3)));
        assert_eq!(
            validate_answer(&likert(), &json!(5.0)),
            Ok(Answer::Point(5))
        );
        assert!(
            validate_answer(&likert(), &json!(0))
                .unwrap_err()
                .contains("outside")
        );
        assert!(validate_answer(&likert(), &json!(2.5)).is_err());
        assert!(validate_answer(&likert(), &json!("4")).is_err());
    }

    #[test]
    fn choices_match_labels_case_insensitively() {
        let kind = ItemKind::SingleChoice {
            options: vec!["Brand A".into(), "Brand B".into()],
            other: false,
        };
        assert_eq!(
            validate_answer(&kind, &json!(" brand b ")),
            Ok(Answer::Choice(1))
        );
        assert!(
            validate_answer(&kind, &json!("Brand C"))
                .unwrap_err()
                .contains("not one of")
        );
        assert!(validate_answer(&kind, &json!(1)).is_err());
    }

    #[test]
    fn numbers_respect_bounds_and_integrality() {
        let kind = ItemKind::Numeric {
            min: 0.0,
            max: 10.0,
            integer: true,
        };
        assert_eq!(validate_answer(&kind, &json!(10)), Ok(Answer::Number(10.0)));
        assert!(validate_answer(&kind, &json!(10.5)).is_err());
        assert!(validate_answer(&kind, &json!(-1)).is_err());
    }

    #[test]
    fn free_text_is_bounded_in_characters_not_bytes() {
        let kind = ItemKind::FreeText { max_chars: 3 };
        assert!(validate_answer(&kind, &json!("äöü")).is_ok());
        assert!(validate_answer(&kind, &json!("abcd")).is_err());
    }

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn multi_select_checks_count_duplicates_and_other_text() {
        let kind = ItemKind::MultiSelect {
            options: opts(&["a", "b", "c"]),
            min: 1,
            max: 2,
            other: true,
        };
        assert_eq!(
            validate_answer(&kind, &json!({"choices": ["c", "A"], "other": ""})),
            Ok(Answer::Choices(vec![0, 2], None))
        );
        assert_eq!(
            validate_answer(&kind, &json!({"choices": ["Other"], "other": " tea "})),
            Ok(Answer::Choices(vec![3], Some("tea".into())))
        );
        for bad in [
            json!({"choices": [], "other": ""}),
            json!({"choices": ["a", "b", "c"], "other": ""}),
            json!({"choices": ["a", "a"], "other": ""}),
            json!({"choices": ["Other"], "other": "  "}),
            json!(["a"]),
        ] {
            assert!(validate_answer(&kind, &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rankings_must_name_exactly_top_distinct_options() {
        let kind = ItemKind::Ranking {
            options: opts(&["a", "b", "c"]),
            top: 2,
        };
        assert_eq!(
            validate_answer(&kind, &json!(["c", "a"])),
            Ok(Answer::Ranked(vec![2, 0]))
        );
        assert!(validate_answer(&kind, &json!(["c"])).is_err());
        assert!(validate_answer(&kind, &json!(["c", "c"])).is_err());
        assert!(validate_answer(&kind, &json!(["c", "d"])).is_err());
    }

    #[test]
    fn matrices_rate_every_statement_on_the_scale() {
        let kind = ItemKind::Matrix {
            statements: opts(&["s1", "s2"]),
            points: 5,
            labels: vec![],
        };
        assert_eq!(
            validate_answer(&kind, &json!({"s2": 5, "s1": 1})),
            Ok(Answer::Grid(vec![1, 5]))
        );
        assert!(validate_answer(&kind, &json!({"s1": 1})).is_err());
        assert!(validate_answer(&kind, &json!({"s1": 1, "s2": 6})).is_err());
        assert!(validate_answer(&kind, &json!({"s1": 1, "s2": 2, "s3": 2})).is_err());
    }

    #[test]
    fn constant_sums_must_add_up() {
        let kind = ItemKind::ConstantSum {
            options: opts(&["x", "y"]),
            total: 10,
        };
        assert_eq!(
            validate_answer(&kind, &json!({"x": 3, "y": 7})),
            Ok(Answer::Points(vec![3, 7]))
        );
        assert!(
            validate_answer(&kind, &json!({"x": 3, "y": 6}))
                .unwrap_err()
                .contains("sum to 9")
        );
        assert!(validate_answer(&kind, &json!({"x": -1, "y": 11})).is_err());
    }

    #[test]
    fn yes_no_and_choices_with_other() {
        assert_eq!(
            validate_answer(&ItemKind::YesNo, &json!(" Yes")),
            Ok(Answer::Flag(true))
        );
        assert_eq!(
            validate_answer(&ItemKind::YesNo, &json!(false)),
            Ok(Answer::Flag(false))
        );
        assert!(validate_answer(&ItemKind::YesNo, &json!("maybe")).is_err());
        let kind = ItemKind::Dropdown {
            options: opts(&["a", "b"]),
            other: true,
        };
        assert_eq!(
            validate_answer(&kind, &json!({"choice": "b", "other": ""})),
            Ok(Answer::Choice(1))
        );
        assert_eq!(
            validate_answer(&kind, &json!({"choice": "other", "other": "z"})),
            Ok(Answer::Other("z".into()))
        );
    }

    proptest! {
        #[test]
        fn a_likert_answer_is_valid_exactly_when_on_the_scale(points in 2u8..=11, n in -5i64..20) {
            let kind = ItemKind::Likert { points, labels: vec![] };
            let valid = validate_answer(&kind, &json!(n)).is_ok();
            prop_assert_eq!(valid, n >= 1 && n <= i64::from(points));
        }

        #[test]
        fn validation_never_panics_on_arbitrary_json(s in ".*", x in proptest::num::f64::ANY) {
            for kind in [likert(), ItemKind::FreeText { max_chars: 5 }, ItemKind::Numeric { min: 0.0, max: 1.0, integer: false }] {
                let _ = validate_answer(&kind, &json!(s));
                let _ = validate_answer(&kind, &json!(x));
            }
        }
    }
}
