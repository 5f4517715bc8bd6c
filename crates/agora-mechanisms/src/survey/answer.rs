//! Checking an answer against its item: the rules, independent of any model.

use serde_json::Value;

use super::spec::ItemKind;

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
        ItemKind::SingleChoice { options } => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("expected one of the options as text, got {value}"))?;
            let wanted = text.trim();
            options
                .iter()
                .position(|o| o.eq_ignore_ascii_case(wanted))
                .map(|i| Answer::Choice(i as u16))
                .ok_or_else(|| format!("\"{text}\" is not one of the options"))
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
