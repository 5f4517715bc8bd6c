//! A GBNF grammar from a request's JSON Schema, for constrained decoding.
//!
//! A small model asked for `{"answer": 4}` may write prose, a number out of range or
//! half an object. The embedded backend therefore samples every answer under a grammar
//! that admits exactly the JSON documents of the request's schema (or a well-defined
//! subset of them), so an answer always parses and always has the right shape:
//!
//! - objects: every listed property, in the schema's order, each with its value's
//!   grammar (optional properties are written too, which the schema allows);
//! - `enum` and `const`: the listed JSON values, exactly as serialised;
//! - integers: exactly the whole numbers within `minimum` / `maximum` (exclusive
//!   bounds too), without leading zeros;
//! - numbers: values within the bounds, with up to [`FRACTION_DIGITS`] decimals
//!   (bounds that are not whole numbers are narrowed to the whole numbers inside them);
//! - strings: between `minLength` and `maxLength` characters (at most
//!   [`DEFAULT_MAX_STRING`] when unbounded) of text that needs no escaping;
//! - arrays of `items`, between `minItems` and `maxItems` (at most
//!   [`DEFAULT_MAX_ITEMS`] when unbounded); booleans, null, `anyOf` / `oneOf` and
//!   lists of types as alternatives.
//!
//! Every document the grammar admits is finite and bounded in length
//! ([`Grammar::max_bytes`]), which is what lets generation always close its JSON.
//! Keywords that would need a regular-expression engine or references (`pattern`,
//! `$ref`, ...) are refused with an error naming them rather than silently ignored.

use std::fmt::Write;

use serde_json::{Map, Value};

/// Longest string, in characters, when a schema sets no `maxLength`.
pub const DEFAULT_MAX_STRING: u64 = 256;
/// Most array items when a schema sets no `maxItems`.
pub const DEFAULT_MAX_ITEMS: u64 = 8;
/// Decimals a `number` may have.
pub const FRACTION_DIGITS: u32 = 3;
/// Largest magnitude of a number when the schema sets no bound.
const DEFAULT_MAGNITUDE: i64 = 999_999_999_999;
/// Deepest nesting of schemas accepted.
const MAX_DEPTH: usize = 32;

/// Why no grammar could be built for a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrammarError {
    /// The schema uses a keyword the converter does not support.
    #[error(
        "the answer schema uses `{keyword}` at {path}, which constrained decoding does not support"
    )]
    Unsupported {
        /// The keyword.
        keyword: String,
        /// Where in the schema (JSON pointer).
        path: String,
    },
    /// The schema admits no value at all (empty enum, impossible bounds, ...).
    #[error("the answer schema admits no value at {path}: {reason}")]
    Empty {
        /// Where in the schema (JSON pointer).
        path: String,
        /// What is impossible.
        reason: String,
    },
    /// The schema is not shaped like a JSON Schema.
    #[error("the answer schema is invalid at {path}: {reason}")]
    Invalid {
        /// Where in the schema (JSON pointer).
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// One expression of a grammar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Exactly this text.
    Lit(String),
    /// One character within any of the inclusive ranges (or outside all of them).
    Class {
        /// Inclusive character ranges.
        ranges: Vec<(char, char)>,
        /// Whether the class is negated (`[^...]`).
        negated: bool,
    },
    /// The expressions one after another.
    Seq(Vec<Expr>),
    /// Any one of the expressions.
    Alt(Vec<Expr>),
    /// A named rule.
    Rule(&'static str),
    /// The expression repeated between `min` and `max` times.
    Repeat(Box<Expr>, u64, u64),
}

impl Expr {
    fn lit(text: impl Into<String>) -> Self {
        Expr::Lit(text.into())
    }

    fn digit(lo: u8, hi: u8) -> Self {
        Expr::Class {
            ranges: vec![(char::from(b'0' + lo), char::from(b'0' + hi))],
            negated: false,
        }
    }

    fn opt(self) -> Self {
        Expr::Repeat(Box::new(self), 0, 1)
    }

    fn alt(mut options: Vec<Expr>) -> Self {
        if options.len() == 1 {
            options.remove(0)
        } else {
            Expr::Alt(options)
        }
    }

    fn render(&self, out: &mut String) {
        match self {
            Expr::Lit(text) => {
                out.push('"');
                for c in text.chars() {
                    push_escaped(out, c, false);
                }
                out.push('"');
            }
            Expr::Class { ranges, negated } => {
                out.push('[');
                if *negated {
                    out.push('^');
                }
                for &(lo, hi) in ranges {
                    push_escaped(out, lo, true);
                    if hi != lo {
                        out.push('-');
                        push_escaped(out, hi, true);
                    }
                }
                out.push(']');
            }
            Expr::Seq(items) => render_group(out, items, " "),
            Expr::Alt(items) => render_group(out, items, " | "),
            Expr::Rule(name) => out.push_str(name),
            Expr::Repeat(inner, min, max) => {
                inner.render(out);
                match (min, max) {
                    (0, 1) => out.push('?'),
                    (min, max) if min == max => {
                        let _ = write!(out, "{{{min}}}");
                    }
                    (min, max) => {
                        let _ = write!(out, "{{{min},{max}}}");
                    }
                }
            }
        }
    }

    /// Most UTF-8 bytes a match can have.
    fn max_bytes(&self, rules: &[(&'static str, Expr)]) -> u64 {
        match self {
            Expr::Lit(text) => text.len() as u64,
            Expr::Class { ranges, negated } => {
                if *negated || ranges.iter().any(|&(_, hi)| !hi.is_ascii()) {
                    4
                } else {
                    1
                }
            }
            Expr::Seq(items) => items.iter().map(|i| i.max_bytes(rules)).sum(),
            Expr::Alt(items) => items.iter().map(|i| i.max_bytes(rules)).max().unwrap_or(0),
            Expr::Rule(name) => rules
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, e)| e.max_bytes(rules)),
            Expr::Repeat(inner, _, max) => inner.max_bytes(rules).saturating_mul(*max),
        }
    }
}

/// Render `items` in parentheses, separated by `separator`.
fn render_group(out: &mut String, items: &[Expr], separator: &str) {
    out.push('(');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        item.render(out);
    }
    out.push(')');
}

/// Escape `c` for a GBNF literal or character class.
fn push_escaped(out: &mut String, c: char, in_class: bool) {
    match c {
        '"' if !in_class => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        ']' | '[' | '-' | '^' if in_class => {
            out.push('\\');
            out.push(c);
        }
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02X}", c as u32);
        }
        c => out.push(c),
    }
}

/// A grammar for one answer schema: a root expression and the named rules it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grammar {
    root: Expr,
    rules: Vec<(&'static str, Expr)>,
}

impl Grammar {
    /// The grammar admitting the JSON documents of `schema`.
    pub fn from_schema(schema: &Value) -> Result<Self, GrammarError> {
        Self::with_string_limit(schema, u64::MAX)
    }

    /// As [`Grammar::from_schema`], with every string at most `limit` characters (a
    /// request's `max_tokens` bounds free text this way).
    pub fn with_string_limit(schema: &Value, limit: u64) -> Result<Self, GrammarError> {
        let root = value_expr(schema, "", 0, limit)?;
        let rules = vec![
            ("ws", Expr::lit(" ").opt()),
            (
                "char",
                Expr::Class {
                    ranges: vec![
                        ('"', '"'),
                        ('\\', '\\'),
                        ('\u{0}', '\u{1f}'),
                        ('\u{7f}', '\u{7f}'),
                    ],
                    negated: true,
                },
            ),
        ];
        Ok(Self { root, rules })
    }

    /// The grammar in llama.cpp's GBNF notation; its start rule is `root`.
    pub fn to_gbnf(&self) -> String {
        let mut out = String::from("root ::= ");
        self.root.render(&mut out);
        out.push('\n');
        for (name, expr) in &self.rules {
            let _ = write!(out, "{name} ::= ");
            expr.render(&mut out);
            out.push('\n');
        }
        out
    }

    /// Most UTF-8 bytes of any document the grammar admits (every token of a model's
    /// vocabulary is at least one byte, so this also bounds the tokens needed).
    pub fn max_bytes(&self) -> u64 {
        self.root.max_bytes(&self.rules)
    }

    /// The root expression (for tests and diagnostics).
    pub fn root(&self) -> &Expr {
        &self.root
    }

    /// The named rules (for tests and diagnostics).
    pub fn rules(&self) -> &[(&'static str, Expr)] {
        &self.rules
    }

    /// Whether every admitted document ends on a closing character (`}`, `]`, `"`), so
    /// that text which parses as JSON is known to be complete.
    pub fn closes_itself(&self) -> bool {
        fn ends_closed(e: &Expr) -> bool {
            match e {
                Expr::Lit(t) => t.ends_with(['}', ']', '"']),
                Expr::Seq(items) => items.last().is_some_and(ends_closed),
                Expr::Alt(items) => items.iter().all(ends_closed),
                _ => false,
            }
        }
        ends_closed(&self.root)
    }
}

/// Keywords that change which values are valid and that the converter cannot honour.
const UNSUPPORTED: &[&str] = &[
    "$ref",
    "allOf",
    "not",
    "if",
    "pattern",
    "patternProperties",
    "multipleOf",
    "uniqueItems",
    "contains",
    "prefixItems",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "minProperties",
    "maxProperties",
];

fn value_expr(schema: &Value, path: &str, depth: usize, limit: u64) -> Result<Expr, GrammarError> {
    if depth > MAX_DEPTH {
        return Err(GrammarError::Invalid {
            path: path.to_string(),
            reason: format!("nested deeper than {MAX_DEPTH} levels"),
        });
    }
    let obj = match schema {
        Value::Bool(true) => return Ok(any_scalar(limit)),
        Value::Object(obj) => obj,
        _ => {
            return Err(GrammarError::Invalid {
                path: path.to_string(),
                reason: "a schema must be an object".into(),
            });
        }
    };
    if let Some(keyword) = UNSUPPORTED.iter().find(|k| obj.contains_key(**k)) {
        return Err(GrammarError::Unsupported {
            keyword: (*keyword).to_string(),
            path: pointer(path),
        });
    }
    if let Some(value) = obj.get("const") {
        return Ok(json_literal(value));
    }
    if let Some(values) = obj.get("enum") {
        let values = values.as_array().ok_or_else(|| GrammarError::Invalid {
            path: pointer(path),
            reason: "`enum` must be an array".into(),
        })?;
        if values.is_empty() {
            return Err(GrammarError::Empty {
                path: pointer(path),
                reason: "`enum` is empty".into(),
            });
        }
        return Ok(Expr::alt(values.iter().map(json_literal).collect()));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = obj.get(key) {
            let options = options.as_array().ok_or_else(|| GrammarError::Invalid {
                path: pointer(path),
                reason: format!("`{key}` must be an array"),
            })?;
            if options.is_empty() {
                return Err(GrammarError::Empty {
                    path: pointer(path),
                    reason: format!("`{key}` is empty"),
                });
            }
            let exprs = options
                .iter()
                .enumerate()
                .map(|(i, s)| value_expr(s, &format!("{path}/{key}/{i}"), depth + 1, limit))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Expr::alt(exprs));
        }
    }
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        Some(_) => {
            return Err(GrammarError::Invalid {
                path: pointer(path),
                reason: "`type` must be a string or an array of strings".into(),
            });
        }
        None if obj.contains_key("properties") => vec!["object"],
        None if obj.contains_key("items") => vec!["array"],
        None => return Ok(any_scalar(limit)),
    };
    if types.is_empty() {
        return Err(GrammarError::Empty {
            path: pointer(path),
            reason: "`type` lists no type".into(),
        });
    }
    let exprs = types
        .iter()
        .map(|t| typed_expr(t, obj, path, depth, limit))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Expr::alt(exprs))
}

fn typed_expr(
    ty: &str,
    obj: &Map<String, Value>,
    path: &str,
    depth: usize,
    limit: u64,
) -> Result<Expr, GrammarError> {
    match ty {
        "object" => object_expr(obj, path, depth, limit),
        "array" => array_expr(obj, path, depth, limit),
        "string" => string_expr(obj, path, limit),
        "integer" => integer_expr(obj, path),
        "number" => number_expr(obj, path),
        "boolean" => Ok(Expr::Alt(vec![Expr::lit("true"), Expr::lit("false")])),
        "null" => Ok(Expr::lit("null")),
        other => Err(GrammarError::Invalid {
            path: pointer(path),
            reason: format!("unknown type `{other}`"),
        }),
    }
}

fn object_expr(
    obj: &Map<String, Value>,
    path: &str,
    depth: usize,
    limit: u64,
) -> Result<Expr, GrammarError> {
    let empty = Map::new();
    let properties = match obj.get("properties") {
        Some(Value::Object(p)) => p,
        None => &empty,
        Some(_) => {
            return Err(GrammarError::Invalid {
                path: pointer(path),
                reason: "`properties` must be an object".into(),
            });
        }
    };
    if let Some(Value::Array(required)) = obj.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !properties.contains_key(name) {
                return Err(GrammarError::Unsupported {
                    keyword: format!("required property `{name}` without a schema"),
                    path: pointer(path),
                });
            }
        }
    }
    let mut seq = vec![Expr::lit("{"), Expr::Rule("ws")];
    for (i, (name, schema)) in properties.iter().enumerate() {
        if i > 0 {
            seq.push(Expr::lit(","));
            seq.push(Expr::Rule("ws"));
        }
        seq.push(json_literal(&Value::String(name.clone())));
        seq.push(Expr::Rule("ws"));
        seq.push(Expr::lit(":"));
        seq.push(Expr::Rule("ws"));
        seq.push(value_expr(
            schema,
            &format!("{path}/properties/{}", escape_pointer(name)),
            depth + 1,
            limit,
        )?);
    }
    if !properties.is_empty() {
        seq.push(Expr::Rule("ws"));
    }
    seq.push(Expr::lit("}"));
    Ok(Expr::Seq(seq))
}

fn array_expr(
    obj: &Map<String, Value>,
    path: &str,
    depth: usize,
    limit: u64,
) -> Result<Expr, GrammarError> {
    let items = obj.get("items").unwrap_or(&Value::Bool(true));
    let item = value_expr(items, &format!("{path}/items"), depth + 1, limit)?;
    let min = bound_u64(obj, "minItems", path)?.unwrap_or(0);
    let max = bound_u64(obj, "maxItems", path)?.unwrap_or(min.max(DEFAULT_MAX_ITEMS));
    if max < min {
        return Err(GrammarError::Empty {
            path: pointer(path),
            reason: format!("minItems {min} exceeds maxItems {max}"),
        });
    }
    let open = [Expr::lit("["), Expr::Rule("ws")];
    let close = [Expr::Rule("ws"), Expr::lit("]")];
    if max == 0 {
        return Ok(Expr::Seq(open.into_iter().chain(close).collect()));
    }
    let next = Expr::Seq(vec![Expr::lit(","), Expr::Rule("ws"), item.clone()]);
    let list = Expr::Seq(vec![
        item,
        Expr::Repeat(Box::new(next), min.saturating_sub(1), max - 1),
    ]);
    let body = if min == 0 { list.opt() } else { list };
    Ok(Expr::Seq(
        open.into_iter().chain([body]).chain(close).collect(),
    ))
}

fn string_expr(obj: &Map<String, Value>, path: &str, limit: u64) -> Result<Expr, GrammarError> {
    let min = bound_u64(obj, "minLength", path)?.unwrap_or(0);
    let max = bound_u64(obj, "maxLength", path)?
        .unwrap_or(DEFAULT_MAX_STRING.max(min))
        .min(limit.max(min));
    if max < min {
        return Err(GrammarError::Empty {
            path: pointer(path),
            reason: format!("minLength {min} exceeds maxLength {max}"),
        });
    }
    Ok(Expr::Seq(vec![
        Expr::lit("\""),
        Expr::Repeat(Box::new(Expr::Rule("char")), min, max),
        Expr::lit("\""),
    ]))
}

/// The smallest and largest whole numbers inside a pair of bounds (an exclusive bound
/// excludes its own whole number; a missing bound is the default magnitude).
fn whole_numbers_within((lo, hi): (Bound, Bound)) -> (i64, i64) {
    let lo = lo.map_or(-DEFAULT_MAGNITUDE, |(v, exclusive)| {
        if exclusive {
            v.floor() as i64 + 1
        } else {
            v.ceil() as i64
        }
    });
    let hi = hi.map_or(DEFAULT_MAGNITUDE, |(v, exclusive)| {
        if exclusive {
            v.ceil() as i64 - 1
        } else {
            v.floor() as i64
        }
    });
    (lo, hi)
}

fn integer_expr(obj: &Map<String, Value>, path: &str) -> Result<Expr, GrammarError> {
    let (lo, hi) = whole_numbers_within(bounds(obj, path)?);
    if lo > hi {
        return Err(GrammarError::Empty {
            path: pointer(path),
            reason: "no whole number lies within the bounds".into(),
        });
    }
    Ok(int_range(lo, hi))
}

fn number_expr(obj: &Map<String, Value>, path: &str) -> Result<Expr, GrammarError> {
    let (lo_b, hi_b) = bounds(obj, path)?;
    // Whole-number bounds are kept as they are; others are narrowed to the whole
    // numbers inside them; an exclusive bound excludes its whole number.
    let (lo, hi) = whole_numbers_within((lo_b, hi_b));
    if lo > hi {
        // No whole number inside: the bounds themselves (when inclusive) are the values.
        let values: Vec<Expr> = [lo_b, hi_b]
            .into_iter()
            .flatten()
            .filter(|(_, exclusive)| !exclusive)
            .map(|(v, _)| json_literal(&Value::from(v)))
            .collect();
        if values.is_empty() {
            return Err(GrammarError::Unsupported {
                keyword: "exclusive bounds with no whole number between them".into(),
                path: pointer(path),
            });
        }
        return Ok(Expr::alt(values));
    }
    let mut options = Vec::new();
    if hi >= 0 {
        options.push(decimal_range(lo.max(0), hi));
    }
    if lo < 0 {
        let lo_y = if hi < 0 { -hi } else { 0 };
        let y = decimal_range(lo_y, -lo);
        options.push(Expr::Seq(vec![Expr::lit("-"), y]));
    }
    Ok(Expr::alt(options))
}

/// Non-negative decimals in `[lo, hi]` (whole-number bounds): an integer part below
/// `hi` with any fraction, or `hi` itself with a zero fraction.
fn decimal_range(lo: i64, hi: i64) -> Expr {
    let fraction = Expr::Seq(vec![
        Expr::lit("."),
        Expr::Repeat(Box::new(Expr::digit(0, 9)), 1, u64::from(FRACTION_DIGITS)),
    ])
    .opt();
    let zero_fraction = Expr::Seq(vec![
        Expr::lit("."),
        Expr::Repeat(Box::new(Expr::lit("0")), 1, u64::from(FRACTION_DIGITS)),
    ])
    .opt();
    let top = Expr::Seq(vec![Expr::lit(hi.to_string()), zero_fraction]);
    if lo == hi {
        return top;
    }
    Expr::Alt(vec![Expr::Seq(vec![int_range(lo, hi - 1), fraction]), top])
}

/// `(value, exclusive)` lower and upper bounds of a numeric schema.
type Bound = Option<(f64, bool)>;

fn bounds(obj: &Map<String, Value>, path: &str) -> Result<(Bound, Bound), GrammarError> {
    let num = |key: &str| -> Result<Option<f64>, GrammarError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|v| v.abs() <= DEFAULT_MAGNITUDE as f64)
                .map(Some)
                .ok_or_else(|| GrammarError::Unsupported {
                    keyword: format!("`{key}` beyond ±{DEFAULT_MAGNITUDE}"),
                    path: pointer(path),
                }),
            Some(Value::Bool(_)) => Err(GrammarError::Unsupported {
                keyword: format!("boolean `{key}` (draft 4)"),
                path: pointer(path),
            }),
            Some(_) => Err(GrammarError::Invalid {
                path: pointer(path),
                reason: format!("`{key}` must be a number"),
            }),
        }
    };
    let pick = |inclusive: Option<f64>, exclusive: Option<f64>, lower: bool| -> Bound {
        match (inclusive, exclusive) {
            (Some(i), Some(e)) => {
                let e_tighter = if lower { e >= i } else { e <= i };
                Some(if e_tighter { (e, true) } else { (i, false) })
            }
            (Some(i), None) => Some((i, false)),
            (None, Some(e)) => Some((e, true)),
            (None, None) => None,
        }
    };
    let lo = pick(num("minimum")?, num("exclusiveMinimum")?, true);
    let hi = pick(num("maximum")?, num("exclusiveMaximum")?, false);
    Ok((lo, hi))
}

fn bound_u64(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>, GrammarError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| GrammarError::Invalid {
            path: pointer(path),
            reason: format!("`{key}` must be a whole number >= 0"),
        }),
    }
}

/// A bounded JSON scalar, for schemas that allow any value (`{}` or `true`).
fn any_scalar(limit: u64) -> Expr {
    Expr::Alt(vec![
        Expr::Seq(vec![
            Expr::lit("\""),
            Expr::Repeat(
                Box::new(Expr::Rule("char")),
                0,
                DEFAULT_MAX_STRING.min(limit),
            ),
            Expr::lit("\""),
        ]),
        int_range(-DEFAULT_MAGNITUDE, DEFAULT_MAGNITUDE),
        Expr::lit("true"),
        Expr::lit("false"),
        Expr::lit("null"),
    ])
}

fn json_literal(value: &Value) -> Expr {
    Expr::Lit(value.to_string())
}

fn pointer(path: &str) -> String {
    if path.is_empty() {
        "/".into()
    } else {
        path.to_string()
    }
}

fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Exactly the integers in `[lo, hi]`, written without leading zeros (and never `-0`).
pub fn int_range(lo: i64, hi: i64) -> Expr {
    debug_assert!(lo <= hi);
    let mut options = Vec::new();
    if lo < 0 {
        // Negative part: "-" followed by the magnitudes max(1, -hi)..=-lo.
        let mag_lo = if hi < 0 { hi.unsigned_abs() } else { 1 };
        let mag_hi = lo.unsigned_abs();
        let magnitudes = nonneg_range(mag_lo, mag_hi);
        options.push(Expr::Seq(vec![Expr::lit("-"), Expr::alt(magnitudes)]));
    }
    if hi >= 0 {
        options.extend(nonneg_range(lo.max(0) as u64, hi as u64));
    }
    Expr::alt(options)
}

/// Alternatives (each a sequence of digit classes) for the integers in `[lo, hi]`.
fn nonneg_range(lo: u64, hi: u64) -> Vec<Expr> {
    let mut out = Vec::new();
    let mut start = lo;
    // Split by number of digits: each piece has a fixed width.
    loop {
        let width = digits(start);
        let width_max = 10u64.saturating_pow(width).saturating_sub(1);
        let end = hi.min(width_max);
        let (a, b) = (start.to_string(), end.to_string());
        for pattern in same_width(a.as_bytes(), b.as_bytes()) {
            out.push(Expr::Seq(
                pattern
                    .into_iter()
                    .map(|(lo, hi)| {
                        if lo == hi {
                            Expr::lit(char::from(b'0' + lo).to_string())
                        } else {
                            Expr::digit(lo, hi)
                        }
                    })
                    .collect(),
            ));
        }
        if end >= hi {
            break;
        }
        start = end + 1;
    }
    out
}

fn digits(n: u64) -> u32 {
    n.checked_ilog10().map_or(1, |d| d + 1)
}

/// Patterns of digit ranges covering the fixed-width numbers from `a` to `b` (same
/// length, `a <= b`); inner positions may be zero.
fn same_width(a: &[u8], b: &[u8]) -> Vec<Vec<(u8, u8)>> {
    let (da, db) = (a[0] - b'0', b[0] - b'0');
    if a.len() == 1 {
        return vec![vec![(da, db)]];
    }
    let (ra, rb) = (&a[1..], &b[1..]);
    if da == db {
        return same_width(ra, rb)
            .into_iter()
            .map(|p| std::iter::once((da, da)).chain(p).collect())
            .collect();
    }
    let all_zero = ra.iter().all(|&c| c == b'0');
    let all_nine = rb.iter().all(|&c| c == b'9');
    let any = |n: usize| std::iter::repeat_n((0u8, 9u8), n);
    if all_zero && all_nine {
        return vec![std::iter::once((da, db)).chain(any(ra.len())).collect()];
    }
    let mut out = Vec::new();
    // From a up to da99..9.
    let (first_hi, nines) = if all_zero {
        (da, true)
    } else {
        let nines: Vec<u8> = vec![b'9'; ra.len()];
        for p in same_width(ra, &nines) {
            out.push(std::iter::once((da, da)).chain(p).collect());
        }
        (da + 1, false)
    };
    let _ = nines;
    // Whole blocks in between (and including da when its rest is all zeros).
    let last_lo = if all_nine { db } else { db - 1 };
    if first_hi <= last_lo {
        out.push(
            std::iter::once((first_hi, last_lo))
                .chain(any(ra.len()))
                .collect(),
        );
    }
    // From db00..0 up to b.
    if !all_nine {
        let zeros: Vec<u8> = vec![b'0'; rb.len()];
        for p in same_width(&zeros, rb) {
            out.push(std::iter::once((db, db)).chain(p).collect());
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;
    use rand::{Rng, RngExt, SeedableRng};
    use serde_json::json;

    use super::*;

    /// End positions of every way `expr` matches `text` from `start`.
    fn matches(expr: &Expr, g: &Grammar, text: &[char], start: usize) -> Vec<usize> {
        let mut ends = match expr {
            Expr::Lit(t) => {
                let t: Vec<char> = t.chars().collect();
                if text[start..].starts_with(&t) {
                    vec![start + t.len()]
                } else {
                    vec![]
                }
            }
            Expr::Class { ranges, negated } => match text.get(start) {
                Some(&c) if ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated => {
                    vec![start + 1]
                }
                _ => vec![],
            },
            Expr::Seq(items) => {
                let mut at = vec![start];
                for item in items {
                    at = at.iter().flat_map(|&p| matches(item, g, text, p)).collect();
                    at.sort_unstable();
                    at.dedup();
                }
                at
            }
            Expr::Alt(items) => items
                .iter()
                .flat_map(|i| matches(i, g, text, start))
                .collect(),
            Expr::Rule(name) => {
                let (_, e) = g
                    .rules
                    .iter()
                    .find(|(n, _)| n == name)
                    .expect("rule exists");
                matches(e, g, text, start)
            }
            Expr::Repeat(inner, min, max) => {
                let mut out = if *min == 0 { vec![start] } else { vec![] };
                let mut frontier = vec![start];
                for k in 1..=*max {
                    frontier = frontier
                        .iter()
                        .flat_map(|&p| matches(inner, g, text, p))
                        .collect();
                    frontier.sort_unstable();
                    frontier.dedup();
                    if frontier.is_empty() {
                        break;
                    }
                    if k >= *min {
                        out.extend(&frontier);
                    }
                }
                out
            }
        };
        ends.sort_unstable();
        ends.dedup();
        ends
    }

    /// Whether the grammar admits exactly `text`.
    pub(crate) fn admits(g: &Grammar, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        matches(&g.root, g, &chars, 0).contains(&chars.len())
    }

    /// A random document of the grammar.
    pub(crate) fn generate(g: &Grammar, rng: &mut impl Rng) -> String {
        fn walk(e: &Expr, g: &Grammar, rng: &mut impl Rng, out: &mut String) {
            match e {
                Expr::Lit(t) => out.push_str(t),
                Expr::Class {
                    ranges,
                    negated: false,
                } => {
                    let (lo, hi) = ranges[rng.random_range(0..ranges.len())];
                    let c = char::from_u32(rng.random_range(lo as u32..=hi as u32)).unwrap_or(lo);
                    out.push(c);
                }
                Expr::Class {
                    ranges,
                    negated: true,
                } => loop {
                    let pool = [
                        'a', 'Z', ' ', '7', 'é', '€', '\'', '{', '😀', '"', '\\', '\n',
                    ];
                    let c = pool[rng.random_range(0..pool.len())];
                    if !ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) {
                        out.push(c);
                        break;
                    }
                },
                Expr::Seq(items) => items.iter().for_each(|i| walk(i, g, rng, out)),
                Expr::Alt(items) => walk(&items[rng.random_range(0..items.len())], g, rng, out),
                Expr::Rule(name) => {
                    let (_, e) = g
                        .rules
                        .iter()
                        .find(|(n, _)| n == name)
                        .expect("rule exists");
                    walk(e, g, rng, out);
                }
                Expr::Repeat(inner, min, max) => {
                    // Favour short repetitions, but reach the maximum sometimes.
                    let n = if rng.random_bool(0.2) {
                        *max
                    } else {
                        rng.random_range(*min..=(*min + 3).min(*max))
                    };
                    for _ in 0..n {
                        walk(inner, g, rng, out);
                    }
                }
            }
        }
        let mut out = String::new();
        walk(&g.root, g, rng, &mut out);
        out
    }

    /// Whether `value` satisfies the supported subset of `schema`.
    pub(crate) fn valid(value: &Value, schema: &Value) -> bool {
        let Some(obj) = schema.as_object() else {
            return schema == &Value::Bool(true);
        };
        if let Some(c) = obj.get("const") {
            return c == value;
        }
        if let Some(Value::Array(e)) = obj.get("enum") {
            return e.contains(value);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(options)) = obj.get(key) {
                return options.iter().any(|s| valid(value, s));
            }
        }
        let num = |k: &str| obj.get(k).and_then(Value::as_f64);
        let in_bounds = |x: f64| {
            num("minimum").is_none_or(|m| x >= m)
                && num("maximum").is_none_or(|m| x <= m)
                && num("exclusiveMinimum").is_none_or(|m| x > m)
                && num("exclusiveMaximum").is_none_or(|m| x < m)
        };
        let types: Vec<&str> = match obj.get("type") {
            Some(Value::String(t)) => vec![t],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ if obj.contains_key("properties") => vec!["object"],
            _ => return true,
        };
        types.iter().any(|t| match (*t, value) {
            ("object", Value::Object(m)) => {
                let props = obj.get("properties").and_then(Value::as_object);
                let required_ok = obj
                    .get("required")
                    .and_then(Value::as_array)
                    .is_none_or(|r| {
                        r.iter()
                            .filter_map(Value::as_str)
                            .all(|k| m.contains_key(k))
                    });
                let extra_ok = obj.get("additionalProperties") != Some(&Value::Bool(false))
                    || m.keys().all(|k| props.is_some_and(|p| p.contains_key(k)));
                let each_ok = m
                    .iter()
                    .all(|(k, v)| props.and_then(|p| p.get(k)).is_none_or(|s| valid(v, s)));
                required_ok && extra_ok && each_ok
            }
            ("array", Value::Array(items)) => {
                let n = items.len() as u64;
                obj.get("minItems")
                    .and_then(Value::as_u64)
                    .is_none_or(|m| n >= m)
                    && obj
                        .get("maxItems")
                        .and_then(Value::as_u64)
                        .is_none_or(|m| n <= m)
                    && items
                        .iter()
                        .all(|i| obj.get("items").is_none_or(|s| valid(i, s)))
            }
            ("string", Value::String(s)) => {
                let n = s.chars().count() as u64;
                obj.get("minLength")
                    .and_then(Value::as_u64)
                    .is_none_or(|m| n >= m)
                    && obj
                        .get("maxLength")
                        .and_then(Value::as_u64)
                        .is_none_or(|m| n <= m)
            }
            ("integer", Value::Number(n)) => {
                (n.is_i64() || n.is_u64()) && n.as_f64().is_some_and(in_bounds)
            }
            ("number", Value::Number(n)) => n.as_f64().is_some_and(in_bounds),
            ("boolean", Value::Bool(_)) => true,
            ("null", Value::Null) => true,
            _ => false,
        })
    }

    fn grammar(schema: &Value) -> Grammar {
        Grammar::from_schema(schema).expect("a supported schema")
    }

    #[test]
    fn survey_schemas_admit_exactly_their_answers() {
        let likert = json!({"type": "object", "properties": {"answer": {"type": "integer", "minimum": 1, "maximum": 5}},
                            "required": ["answer"], "additionalProperties": false});
        let g = grammar(&likert);
        for ok in [r#"{"answer":1}"#, r#"{ "answer": 5 }"#, r#"{"answer": 3}"#] {
            assert!(admits(&g, ok), "{ok}");
        }
        for bad in [
            r#"{"answer":0}"#,
            r#"{"answer":6}"#,
            r#"{"answer":05}"#,
            r#"{"answer":"3"}"#,
            r#"{"answer":3.0}"#,
            r#"{"answer":3} "#,
            r#"{"answer":3,"x":1}"#,
            r#"{}"#,
        ] {
            assert!(!admits(&g, bad), "{bad}");
        }
        let choice = json!({"type": "object", "properties": {"answer": {"type": "string", "enum": ["2 people", "say \"no\""]}}});
        let g = grammar(&choice);
        assert!(admits(&g, r#"{"answer":"2 people"}"#));
        assert!(admits(&g, r#"{"answer":"say \"no\""}"#));
        assert!(!admits(&g, r#"{"answer":"3 people"}"#));
        let text =
            json!({"type": "object", "properties": {"answer": {"type": "string", "maxLength": 5}}});
        let g = grammar(&text);
        assert!(admits(&g, r#"{"answer":"héllo"}"#));
        assert!(!admits(&g, r#"{"answer":"hello!"}"#));
        assert!(!admits(&g, "{\"answer\":\"a\nb\"}"));
        let wtp = json!({"type": "object", "properties": {"answer": {"type": "number", "minimum": 0.0, "maximum": 25.0}}});
        let g = grammar(&wtp);
        for ok in ["0", "0.5", "12.99", "25", "25.0", "24.999"] {
            assert!(admits(&g, &format!(r#"{{"answer":{ok}}}"#)), "{ok}");
        }
        for bad in ["-1", "25.5", "26", "012", "1.", ".5", "1e3"] {
            assert!(!admits(&g, &format!(r#"{{"answer":{bad}}}"#)), "{bad}");
        }
    }

    #[test]
    fn gbnf_text_is_well_formed_for_the_survey_schema() {
        let schema = json!({"type": "object", "properties": {"answer": {"type": "integer", "minimum": 0, "maximum": 10}},
                            "required": ["answer"], "additionalProperties": false});
        let text = grammar(&schema).to_gbnf();
        assert!(text.starts_with("root ::= "), "{text}");
        assert!(text.contains(r#""\"answer\"""#), "{text}");
        assert!(text.contains("ws ::= \" \"?"), "{text}");
        assert!(text.contains(r#"char ::= [^"\\\x00-\x1F\x7F]"#), "{text}");
    }

    #[test]
    fn unsupported_and_impossible_schemas_are_refused_by_name() {
        let err = Grammar::from_schema(&json!({"type": "string", "pattern": "^a+$"})).unwrap_err();
        assert!(err.to_string().contains("`pattern`"), "{err}");
        let err =
            Grammar::from_schema(&json!({"type": "object", "properties": {"a": {"$ref": "#/x"}}}))
                .unwrap_err();
        assert!(err.to_string().contains("/properties/a"), "{err}");
        assert!(matches!(
            Grammar::from_schema(&json!({"enum": []})),
            Err(GrammarError::Empty { .. })
        ));
        assert!(matches!(
            Grammar::from_schema(&json!({"type": "integer", "minimum": 3, "maximum": 2})),
            Err(GrammarError::Empty { .. })
        ));
        assert!(matches!(
            Grammar::from_schema(&json!({"type": "date"})),
            Err(GrammarError::Invalid { .. })
        ));
        let mut deep = json!({"type": "integer"});
        for _ in 0..40 {
            deep = json!({"type": "array", "items": deep});
        }
        assert!(matches!(
            Grammar::from_schema(&deep),
            Err(GrammarError::Invalid { .. })
        ));
    }

    #[test]
    fn documents_are_bounded_and_closed() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string", "maxLength": 10},
            "b": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 99}, "maxItems": 3}}});
        let g = grammar(&schema);
        assert!(g.closes_itself());
        // {"a": "<=10 chars of up to 4 bytes", "b": [..3 two-digit numbers..]} with spaces.
        assert!(
            g.max_bytes() >= 60 && g.max_bytes() < 120,
            "{}",
            g.max_bytes()
        );
        assert!(!grammar(&json!({"type": "integer"})).closes_itself());
    }

    fn check_int_range(lo: i64, hi: i64) {
        let g = Grammar {
            root: int_range(lo, hi),
            rules: vec![],
        };
        let span = (hi - lo).max(1);
        for x in (lo - 12)..=(hi + 12) {
            // Check every value near the ends, a sample in between.
            if x > lo + 12 && x < hi - 12 && (x - lo) % (span / 50).max(1) != 0 {
                continue;
            }
            assert_eq!(
                admits(&g, &x.to_string()),
                lo <= x && x <= hi,
                "{x} in [{lo}, {hi}]"
            );
        }
        if lo <= 0 && 0 <= hi {
            assert!(!admits(&g, "-0") && !admits(&g, "00"));
        }
    }

    #[test]
    fn integer_ranges_are_exact() {
        for (lo, hi) in [
            (1, 5),
            (0, 10),
            (1, 7),
            (-5, 5),
            (-120, -7),
            (0, 0),
            (9, 10),
            (99, 1000),
            (17, 4321),
            (-1000, 999),
            (100, 199),
            (-9, -1),
            (0, 999_999),
        ] {
            check_int_range(lo, hi);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn integer_ranges_admit_exactly_their_members(lo in -100_000i64..100_000, len in 0i64..50_000) {
            check_int_range(lo, lo + len);
        }

        #[test]
        fn number_ranges_admit_only_members(lo in -300i64..300, len in 0i64..600, seed in any::<u64>()) {
            let schema = json!({"type": "number", "minimum": lo, "maximum": lo + len});
            let g = grammar(&schema);
            let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
            for _ in 0..20 {
                let text = generate(&g, &mut rng);
                let value: Value = serde_json::from_str(&text).expect("a JSON number");
                prop_assert!(valid(&value, &schema), "{} outside [{}, {}]", text, lo, lo + len);
            }
        }

        #[test]
        fn generated_documents_parse_and_satisfy_their_schema(schema in schema_strategy(), seed in any::<u64>()) {
            let g = grammar(&schema);
            prop_assert!(g.to_gbnf().starts_with("root ::= "));
            let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
            for _ in 0..10 {
                let text = generate(&g, &mut rng);
                prop_assert!(text.len() as u64 <= g.max_bytes(), "{} longer than {}", text, g.max_bytes());
                let value: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
                prop_assert!(valid(&value, &schema), "{} does not satisfy {}", text, schema);
                prop_assert!(admits(&g, &text), "{} not admitted", text);
            }
        }
    }

    fn leaf_strategy() -> impl Strategy<Value = Value> {
        prop_oneof![
            (1i64..12).prop_map(|p| json!({"type": "integer", "minimum": 1, "maximum": p})),
            (-50i64..50, 0i64..200)
                .prop_map(|(lo, n)| json!({"type": "integer", "minimum": lo, "maximum": lo + n})),
            (0i64..100, 0i64..100)
                .prop_map(|(lo, n)| json!({"type": "number", "minimum": lo, "maximum": lo + n})),
            (0i64..10).prop_map(|lo| json!({"type": "number", "exclusiveMinimum": lo})),
            (0u64..40).prop_map(|n| json!({"type": "string", "maxLength": n})),
            (0u64..5, 0u64..5)
                .prop_map(|(a, b)| json!({"type": "string", "minLength": a, "maxLength": a + b})),
            prop::collection::vec("[a-z \"\\\\é]{0,8}", 1..5)
                .prop_map(|o| json!({"type": "string", "enum": o})),
            Just(json!({"type": "boolean"})),
            Just(json!({"type": ["integer", "null"], "minimum": -3, "maximum": 3})),
            Just(json!({"enum": [1, "two", null, [3], {"four": 4}]})),
            Just(json!({"const": "fixed"})),
            Just(json!({})),
        ]
    }

    fn schema_strategy() -> impl Strategy<Value = Value> {
        leaf_strategy().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(|props| {
                    let required: Vec<&String> = props.keys().collect();
                    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
                }),
                (inner.clone(), 0u64..3, 0u64..3).prop_map(|(items, min, extra)| {
                    json!({"type": "array", "items": items, "minItems": min, "maxItems": min + extra})
                }),
                prop::collection::vec(inner, 1..3).prop_map(|options| json!({"anyOf": options})),
            ]
        })
    }
}
