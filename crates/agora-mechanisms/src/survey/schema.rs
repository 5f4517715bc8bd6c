//! JSON Schemas of survey answers, shared by every request of an item.

use serde_json::{Value, json};

use super::spec::{ItemKind, OTHER_MAX_CHARS};

/// The schema of one item's answer value.
///
/// Every schema stays within what constrained decoding supports (no `uniqueItems`):
/// distinct selections and a constant sum's total are checked when the answer is
/// validated.
pub fn value_schema(kind: &ItemKind) -> Value {
    let strict_object = |properties: serde_json::Map<String, Value>| {
        let required: Vec<&String> = properties.keys().collect();
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    };
    let with_other = |key: &str, main: Value| {
        let mut p = serde_json::Map::new();
        p.insert(key.to_string(), main);
        p.insert(
            "other".to_string(),
            json!({ "type": "string", "maxLength": OTHER_MAX_CHARS }),
        );
        strict_object(p)
    };
    match kind {
        ItemKind::Likert { points, .. } => {
            json!({ "type": "integer", "minimum": 1, "maximum": points })
        }
        ItemKind::SingleChoice { other, .. } | ItemKind::Dropdown { other, .. } => {
            let choice = json!({ "type": "string", "enum": kind.choices() });
            if *other {
                with_other("choice", choice)
            } else {
                choice
            }
        }
        ItemKind::Numeric { min, max, integer } => json!({
            "type": if *integer { "integer" } else { "number" },
            "minimum": min,
            "maximum": max,
        }),
        ItemKind::FreeText { max_chars } => json!({ "type": "string", "maxLength": max_chars }),
        ItemKind::MultiSelect {
            min, max, other, ..
        } => {
            let list = json!({
                "type": "array",
                "items": { "type": "string", "enum": kind.choices() },
                "minItems": min,
                "maxItems": max,
            });
            if *other {
                with_other("choices", list)
            } else {
                list
            }
        }
        ItemKind::Ranking { options, top } => json!({
            "type": "array",
            "items": { "type": "string", "enum": options },
            "minItems": top,
            "maxItems": top,
        }),
        ItemKind::Matrix {
            statements, points, ..
        } => strict_object(
            statements
                .iter()
                .map(|s| {
                    (
                        s.clone(),
                        json!({ "type": "integer", "minimum": 1, "maximum": points }),
                    )
                })
                .collect(),
        ),
        ItemKind::ConstantSum { options, total } => strict_object(
            options
                .iter()
                .map(|o| {
                    (
                        o.clone(),
                        json!({ "type": "integer", "minimum": 0, "maximum": total }),
                    )
                })
                .collect(),
        ),
        ItemKind::YesNo => json!({ "type": "string", "enum": ["yes", "no"] }),
    }
}

/// The schema of a request asking `items` (answer key and kind): one property per
/// item when several are asked at once, else `{"answer": ...}`.
pub fn request_schema(items: &[(&str, &ItemKind)]) -> Value {
    let (properties, required): (serde_json::Map<String, Value>, Vec<String>) = match items {
        [(_, kind)] => (
            [("answer".to_string(), value_schema(kind))]
                .into_iter()
                .collect(),
            vec!["answer".to_string()],
        ),
        many => (
            many.iter()
                .map(|(key, kind)| (key.to_string(), value_schema(kind)))
                .collect(),
            many.iter().map(|(key, _)| key.to_string()).collect(),
        ),
    };
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}
