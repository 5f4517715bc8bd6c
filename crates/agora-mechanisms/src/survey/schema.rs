//! JSON Schemas of survey answers, shared by every request of an item.

use serde_json::{Value, json};

use super::spec::{Item, ItemKind};

/// The schema of one item's answer value.
pub fn value_schema(kind: &ItemKind) -> Value {
    match kind {
        ItemKind::Likert { points, .. } => {
            json!({ "type": "integer", "minimum": 1, "maximum": points })
        }
        ItemKind::SingleChoice { options } => json!({ "type": "string", "enum": options }),
        ItemKind::Numeric { min, max, integer } => json!({
            "type": if *integer { "integer" } else { "number" },
            "minimum": min,
            "maximum": max,
        }),
        ItemKind::FreeText { max_chars } => json!({ "type": "string", "maxLength": max_chars }),
    }
}

/// The schema of a request asking `items`: one property per item when several are
/// asked at once, else `{"answer": ...}`.
pub fn request_schema(items: &[&Item]) -> Value {
    let (properties, required): (serde_json::Map<String, Value>, Vec<String>) = match items {
        [single] => (
            [("answer".to_string(), value_schema(&single.kind))]
                .into_iter()
                .collect(),
            vec!["answer".to_string()],
        ),
        many => (
            many.iter()
                .map(|i| (i.id.clone(), value_schema(&i.kind)))
                .collect(),
            many.iter().map(|i| i.id.clone()).collect(),
        ),
    };
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}
