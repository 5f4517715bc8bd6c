//! JSON Schemas of auction answers, one per format, shared by every request.

use serde_json::{Value, json};

use super::rules::MAX_REASON_CHARS;
use super::spec::Format;

/// The schema of an answer in `format`: a decision plus a short reason.
pub fn answer_schema(format: Format) -> Value {
    let (key, decision) = match format {
        Format::FirstPrice | Format::SecondPrice => {
            ("bid", json!({ "type": ["number", "null"], "minimum": 0 }))
        }
        Format::English => ("stay", json!({ "type": "boolean" })),
        Format::Dutch => ("accept", json!({ "type": "boolean" })),
    };
    json!({
        "type": "object",
        "properties": {
            key: decision,
            "reason": { "type": "string", "maxLength": MAX_REASON_CHARS },
        },
        "required": [key, "reason"],
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_asks_for_its_own_decision() {
        assert_eq!(
            answer_schema(Format::SecondPrice)["properties"]["bid"]["type"],
            json!(["number", "null"])
        );
        assert_eq!(answer_schema(Format::English)["required"][0], "stay");
        assert_eq!(answer_schema(Format::Dutch)["required"][0], "accept");
    }
}
