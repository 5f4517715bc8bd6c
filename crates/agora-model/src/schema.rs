//! Checking an answer against the JSON Schema of its request.
//!
//! Mechanisms describe answers with a small subset of JSON Schema, and this module
//! validates exactly that subset: `type` (object, array, string, integer, number,
//! boolean, null, or a list of them), `enum`, `const`, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `properties`,
//! `required`, `additionalProperties: false`, `items`, `minItems` and `maxItems`.
//! Other keywords are ignored. Errors name the path of the offending value.

use serde_json::Value;

/// Check `value` against `schema`; the error says where and why it does not match.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "$")
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Some(rules) = schema.as_object() else {
        return Ok(());
    };
    if let Some(types) = rules.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| has_type(value, t)) {
            return Err(format!(
                "{path}: expected {}, got {}",
                allowed.join(" or "),
                describe(value)
            ));
        }
    }
    if let Some(options) = rules.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        return Err(format!("{path}: {value} is not one of {}", list.join(", ")));
    }
    if let Some(expected) = rules.get("const")
        && expected != value
    {
        return Err(format!("{path}: expected {expected}, got {value}"));
    }
    if let Some(x) = value.as_f64() {
        check_bounds(rules, x, path)?;
    }
    if let Some(text) = value.as_str() {
        let chars = text.chars().count() as u64;
        if let Some(max) = rules.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            return Err(format!(
                "{path}: text of {chars} characters is longer than {max}"
            ));
        }
        if let Some(min) = rules.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            return Err(format!(
                "{path}: text of {chars} characters is shorter than {min}"
            ));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = rules.get("properties").and_then(Value::as_object);
        if let Some(required) = rules.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(key) {
                    return Err(format!("{path}: missing property \"{key}\""));
                }
            }
        }
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => check(sub, item, &format!("{path}.{key}"))?,
                None if rules.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{path}: unexpected property \"{key}\""));
                }
                None => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        let n = items.len() as u64;
        if let Some(max) = rules.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            return Err(format!("{path}: {n} items, at most {max} allowed"));
        }
        if let Some(min) = rules.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            return Err(format!("{path}: {n} items, at least {min} required"));
        }
        if let Some(sub) = rules.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(sub, item, &format!("{path}[{i}]"))?;
            }
        }
    }
    Ok(())
}

fn check_bounds(rules: &serde_json::Map<String, Value>, x: f64, path: &str) -> Result<(), String> {
    let bound = |key: &str| rules.get(key).and_then(Value::as_f64);
    if let Some(min) = bound("minimum")
        && x < min
    {
        return Err(format!("{path}: {x} is below the minimum {min}"));
    }
    if let Some(max) = bound("maximum")
        && x > max
    {
        return Err(format!("{path}: {x} is above the maximum {max}"));
    }
    if let Some(min) = bound("exclusiveMinimum")
        && x <= min
    {
        return Err(format!("{path}: {x} must be greater than {min}"));
    }
    if let Some(max) = bound("exclusiveMaximum")
        && x >= max
    {
        return Err(format!("{path}: {x} must be less than {max}"));
    }
    Ok(())
}

fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.as_i64().is_some()
                || value.as_u64().is_some()
                || value.as_f64().is_some_and(|x| x.fract() == 0.0)
        }
        _ => true,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.len() > 40 => format!("a string of {} characters", s.chars().count()),
        Value::String(s) => format!("string \"{s}\""),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn likert() -> Value {
        json!({
            "type": "object",
            "properties": { "answer": { "type": "integer", "minimum": 1, "maximum": 5 } },
            "required": ["answer"],
            "additionalProperties": false
        })
    }

    #[test]
    fn valid_answers_pass_and_invalid_ones_say_where_and_why() {
        assert_eq!(validate(&likert(), &json!({ "answer": 3 })), Ok(()));
        assert!(
            validate(&likert(), &json!({ "answer": 6 }))
                .unwrap_err()
                .contains("$.answer: 6 is above the maximum 5")
        );
        assert!(
            validate(&likert(), &json!({ "answer": 2.5 }))
                .unwrap_err()
                .contains("expected integer")
        );
        assert!(
            validate(&likert(), &json!({}))
                .unwrap_err()
                .contains("missing property \"answer\"")
        );
        assert!(
            validate(&likert(), &json!({ "answer": 1, "why": "x" }))
                .unwrap_err()
                .contains("unexpected property")
        );
        assert!(
            validate(&likert(), &json!([1]))
                .unwrap_err()
                .contains("expected object")
        );
    }

    #[test]
    fn enums_strings_and_arrays_are_checked() {
        let schema = json!({
            "type": "object",
            "properties": {
                "brand": { "type": "string", "enum": ["A", "B"] },
                "why": { "type": "string", "maxLength": 3 },
                "bids": { "type": "array", "items": { "type": "number", "minimum": 0 }, "maxItems": 2 }
            }
        });
        assert_eq!(
            validate(
                &schema,
                &json!({ "brand": "A", "why": "ok", "bids": [1, 2.5] })
            ),
            Ok(())
        );
        assert!(
            validate(&schema, &json!({ "brand": "C" }))
                .unwrap_err()
                .contains("not one of")
        );
        assert!(
            validate(&schema, &json!({ "why": "long" }))
                .unwrap_err()
                .contains("longer than 3")
        );
        assert!(
            validate(&schema, &json!({ "bids": [1, -1] }))
                .unwrap_err()
                .contains("$.bids[1]")
        );
        assert!(
            validate(&schema, &json!({ "bids": [1, 2, 3] }))
                .unwrap_err()
                .contains("at most 2")
        );
    }

    proptest! {
        #[test]
        fn an_integer_passes_exactly_when_within_bounds(n in -20i64..20, lo in -10i64..0, hi in 0i64..10) {
            let schema = json!({ "type": "integer", "minimum": lo, "maximum": hi });
            prop_assert_eq!(validate(&schema, &json!(n)).is_ok(), lo <= n && n <= hi);
        }
    }
}
