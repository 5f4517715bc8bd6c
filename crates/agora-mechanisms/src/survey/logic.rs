//! Survey logic: conditions on earlier answers and persona attributes, branches,
//! piping of `{{ answers.id }}`, `{{ persona.attribute }}` and `{{ item.field }}` into
//! texts, and the checks that make them safe before anything runs.

use std::collections::{BTreeMap, HashMap};

use agora_core::SettingsIssue;
use minijinja::Environment;

use super::spec::{Condition, Item, LoopSource, MemoryScope, SurveyMode, SurveySpec};

/// What a respondent gave for one question, as conditions and piping see it
/// (kept in checkpoints as a compact `[value, labels]` pair).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    from = "(Option<f64>, Vec<String>)",
    into = "(Option<f64>, Vec<String>)"
)]
pub struct Given {
    /// The answer's number (scale point, number, count of selections, 1 for yes).
    pub value: Option<f64>,
    /// Its labels (option texts, "yes"/"no", scale label, free text).
    pub labels: Vec<String>,
}

impl From<(Option<f64>, Vec<String>)> for Given {
    fn from((value, labels): (Option<f64>, Vec<String>)) -> Self {
        Self { value, labels }
    }
}

impl From<Given> for (Option<f64>, Vec<String>) {
    fn from(g: Given) -> Self {
        (g.value, g.labels)
    }
}

impl Given {
    /// The answer as text for prompts and piping.
    pub fn said(&self) -> String {
        if !self.labels.is_empty() {
            self.labels.join(", ")
        } else if let Some(v) = self.value {
            agora_core::components::format_number(v)
        } else {
            String::new()
        }
    }
}

/// A persona attribute's value as conditions see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrRef<'a> {
    /// A number.
    Number(f64),
    /// A category label.
    Category(&'a str),
}

/// Where a condition reads answers and attributes from.
pub trait Facts {
    /// The valid answer to item `id` (the current loop item's, within a loop).
    fn answer(&self, id: &str) -> Option<&Given>;
    /// The respondent's value of attribute `name`.
    fn attribute(&self, name: &str) -> Option<AttrRef<'_>>;
}

impl Condition {
    /// Whether the condition holds for these facts.
    pub fn holds(&self, facts: &dyn Facts) -> bool {
        let bounded = |x: f64, above: &Option<f64>, below: &Option<f64>| {
            above.is_none_or(|a| x > a) && below.is_none_or(|b| x < b)
        };
        match self {
            Condition::Answer {
                item,
                is,
                above,
                below,
            } => facts.answer(item).is_some_and(|g| {
                let label_ok = is.is_empty()
                    || is.iter().any(|want| {
                        g.labels
                            .iter()
                            .any(|l| l.trim().eq_ignore_ascii_case(want.trim()))
                            || g.value
                                .is_some_and(|v| want.trim().parse::<f64>().is_ok_and(|w| w == v))
                    });
                let number_ok = (above.is_none() && below.is_none())
                    || g.value.is_some_and(|v| bounded(v, above, below));
                label_ok && number_ok
            }),
            Condition::Attribute {
                name,
                is,
                above,
                below,
            } => match facts.attribute(name) {
                Some(AttrRef::Category(c)) => {
                    (is.is_empty() || is.iter().any(|w| w == c))
                        && above.is_none()
                        && below.is_none()
                }
                Some(AttrRef::Number(x)) => is.is_empty() && bounded(x, above, below),
                None => false,
            },
            Condition::All(cs) => cs.iter().all(|c| c.holds(facts)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(facts)),
            Condition::Not(c) => !c.holds(facts),
        }
    }
}

/// Whether `text` holds a placeholder.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The variables of a template, as dotted paths (`answers.q1`).
pub fn template_variables(text: &str) -> Result<Vec<String>, String> {
    let env = Environment::new();
    let template = env.template_from_str(text).map_err(|e| e.to_string())?;
    let mut vars: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    vars.sort();
    Ok(vars)
}

/// Whether a template reads answers or persona attributes, so it is filled in per
/// request (one reading only loop-item fields is filled in once per loop item).
pub fn varies_per_respondent(text: &str) -> bool {
    template_variables(text).is_ok_and(|vars| {
        vars.iter()
            .any(|v| v.starts_with("answers") || v.starts_with("persona"))
    })
}

/// Compiled templates of a survey, each keyed by its source text.
pub struct Pipes {
    env: Environment<'static>,
}

impl Pipes {
    /// Compile every template among the items' texts.
    pub fn compile(spec: &SurveySpec) -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for text in spec.items.iter().flat_map(Item::texts) {
            if is_template(text) && env.get_template(text).is_err() {
                env.add_template_owned(text.to_string(), text.to_string())
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(Self { env })
    }

    /// Fill in `text` (returned as is when it holds no placeholder).
    pub fn render(&self, text: &str, context: &PipeContext<'_>) -> Result<String, String> {
        if !is_template(text) {
            return Ok(text.to_string());
        }
        let template = self.env.get_template(text).map_err(|e| e.to_string())?;
        template
            .render(minijinja::context! {
                answers => map_value(context.answers.iter().map(|(k, v)| (*k, v.as_str()))),
                persona => map_value(context.persona.iter().map(|(k, v)| (*k, v.as_str()))),
                item => map_value(context.item.iter().map(|(k, v)| (*k, *v))),
            })
            .map_err(|e| e.to_string())
    }
}

/// A template value mapping names to texts.
fn map_value<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> minijinja::Value {
    minijinja::Value::from_pairs(pairs.map(|(k, v)| (k.to_string(), v.to_string())))
}

/// What placeholders are filled in from.
#[derive(Default)]
pub struct PipeContext<'a> {
    /// Earlier answers by item id, as said.
    pub answers: BTreeMap<&'a str, String>,
    /// Persona attributes by name, as text.
    pub persona: BTreeMap<&'a str, String>,
    /// The loop item's `id`, `text` and fields.
    pub item: BTreeMap<&'a str, &'a str>,
}

/// A problem of the survey's logic or piping, with where it is and how to fix it.
fn issue(message: String, hint: impl Into<String>, needle: String) -> SettingsIssue {
    SettingsIssue {
        message,
        hint: hint.into(),
        needle,
    }
}

/// Check conditions, branches, memory scopes, placeholders and loop files: unknown
/// items, forward references, backward branches (cycles) and answers referenced
/// across item loops are errors, each located by the text that names it.
pub fn check(spec: &SurveySpec) -> Vec<SettingsIssue> {
    let mut out = Vec::new();
    let index: HashMap<&str, usize> = spec
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| (item.id.as_str(), i))
        .collect();
    let known = || {
        let mut ids: Vec<&str> = spec.items.iter().map(|i| i.id.as_str()).collect();
        ids.truncate(12);
        ids.join(", ")
    };
    for l in &spec.loops {
        if let Some(e) = &l.load_error {
            out.push(issue(
                format!("cannot read the item-loop file {e}"),
                "check the path (relative paths are read from the scenario's folder); the file needs an `id` column (a header row in a CSV file)",
                match l.source {
                    LoopSource::Parquet(_) => "Parquet(",
                    _ => "Csv(",
                }
                .into(),
            ));
        }
    }
    let all_at_once = spec.mode == SurveyMode::AllAtOnce;
    for (i, item) in spec.items.iter().enumerate() {
        // A referenced item must exist, come before (or be this item, where allowed)
        // and, if looped, belong to the same loop as the referring item.
        let reference = |id: &str, what: &str, needle: String, self_ok: bool| {
            let Some(&j) = index.get(id) else {
                return Some(issue(
                    format!(
                        "item \"{}\": {what} names item \"{id}\", which does not exist",
                        item.id
                    ),
                    format!("use the id of an earlier item: {}", known()),
                    needle,
                ));
            };
            if j > i || (j == i && !self_ok) {
                return Some(issue(
                    format!(
                        "item \"{}\": {what} uses the answer to \"{id}\", which is asked {} it",
                        item.id,
                        if j == i { "as" } else { "after" }
                    ),
                    format!(
                        "a condition or placeholder can only use answers given before; move it to an item after \"{id}\", or move \"{id}\" earlier"
                    ),
                    needle,
                ));
            }
            let other = spec.items[j].loop_block;
            if other.is_some() && other != item.loop_block {
                return Some(issue(
                    format!(
                        "item \"{}\": {what} uses \"{id}\", which is asked once per item of an item loop",
                        item.id
                    ),
                    "only questions of the same loop block can use a looped answer; ask a summary question outside the loop instead",
                    needle,
                ));
            }
            None
        };
        let before = [("skip_if", &item.skip_if), ("show_if", &item.show_if)];
        for (what, c) in before {
            for id in c.iter().flat_map(|c| c.answer_refs()) {
                out.extend(reference(id, what, format!("item: \"{id}\""), false));
            }
        }
        for id in item.stop_if.iter().flat_map(|c| c.answer_refs()) {
            out.extend(reference(id, "stop_if", format!("item: \"{id}\""), true));
        }
        for b in &item.branches {
            for id in b.when.answer_refs() {
                out.extend(reference(id, "a branch", format!("item: \"{id}\""), true));
            }
        }
        if let Some(MemoryScope::Items(ids)) = &item.memory {
            for id in ids {
                out.extend(reference(id, "memory", format!("\"{id}\""), false));
            }
        }
        for text in item.texts() {
            if !is_template(text) {
                continue;
            }
            match template_variables(text) {
                Err(e) => out.push(issue(
                    format!(
                        "item \"{}\": the placeholder text cannot be read: {e}",
                        item.id
                    ),
                    "write placeholders as {{ answers.q1 }}, {{ persona.age }} or {{ item.field }}",
                    text.chars().take(40).collect(),
                )),
                Ok(vars) => {
                    for var in vars {
                        match var.split_once('.') {
                            Some(("answers", id)) => {
                                let id = id.split('.').next().unwrap_or(id);
                                out.extend(reference(id, "a placeholder", format!("answers.{id}"), false));
                            }
                            Some(("persona", _)) => {}
                            Some(("item", field)) => {
                                check_item_field(spec, item, field, &mut out)
                            }
                            _ => out.push(issue(
                                format!("item \"{}\": placeholder `{var}` is not an answer, persona attribute or loop-item field", item.id),
                                "write {{ answers.<item id> }}, {{ persona.<attribute> }} or, inside a loop, {{ item.<field> }}",
                                var.clone(),
                            )),
                        }
                    }
                }
            }
        }
        for b in &item.branches {
            match index.get(b.to.as_str()) {
                None => out.push(issue(
                    format!("item \"{}\": a branch goes to \"{}\", which does not exist", item.id, b.to),
                    format!("branch to the id of a later item: {}", known()),
                    format!("to: \"{}\"", b.to),
                )),
                Some(&j) if j <= i => out.push(issue(
                    format!(
                        "item \"{}\": a branch back to \"{}\" would ask questions again (a cycle)",
                        item.id, b.to
                    ),
                    "branches only go forward; branch to a later item, or use skip_if on the items in between",
                    format!("to: \"{}\"", b.to),
                )),
                Some(&j) if spec.items[j].loop_block.is_some()
                    && spec.items[j].loop_block != item.loop_block
                    && spec.items[j - 1].loop_block == spec.items[j].loop_block =>
                {
                    out.push(issue(
                        format!("item \"{}\": a branch goes into the item loop of \"{}\"", item.id, b.to),
                        "branch to the loop's first question (the loop then starts from its first item), or to an item after the loop",
                        format!("to: \"{}\"", b.to),
                    ))
                }
                _ => {}
            }
        }
        for c in [&item.skip_if, &item.show_if, &item.stop_if]
            .into_iter()
            .flatten()
            .chain(item.branches.iter().map(|b| &b.when))
        {
            c.walk(&mut |c| match c {
                Condition::Attribute { name, is, above, below } if is.is_empty() && above.is_none() && below.is_none() => {
                    out.push(issue(
                        format!("item \"{}\": the test of attribute \"{name}\" tests nothing", item.id),
                        "give is: [\"category\"] for a category, or above / below for a number",
                        format!("name: \"{name}\""),
                    ));
                }
                Condition::Answer { above: Some(a), below: Some(b), item: id, .. } if a >= b => {
                    out.push(issue(
                        format!("item \"{}\": the test of \"{id}\" asks for a number above {a} and below {b}, which none is", item.id),
                        "make above smaller than below, or use Any([...]) for either side",
                        format!("item: \"{id}\""),
                    ));
                }
                Condition::All(cs) | Condition::Any(cs) if cs.is_empty() => {
                    out.push(issue(
                        format!("item \"{}\": an empty All([]) or Any([]) tests nothing", item.id),
                        "list at least one condition inside it",
                        "([])".into(),
                    ));
                }
                _ => {}
            });
        }
        if let Some(MemoryScope::Last(0)) = &item.memory {
            out.push(issue(
                format!("item \"{}\": memory Last(0) shows nothing", item.id),
                "use memory: Off to show no earlier answers, or Last(k) with k >= 1",
                "Last(0)".into(),
            ));
        }
        if all_at_once {
            let uses_answers = item.skip_if.is_some()
                || item.show_if.is_some()
                || item.stop_if.is_some()
                || !item.branches.is_empty()
                || item.memory.is_some()
                || item.texts().iter().any(|t| t.contains("answers."));
            if uses_answers {
                out.push(issue(
                    format!("item \"{}\": survey logic, answer piping and memory need the questions asked one at a time", item.id),
                    "use mode: OnePerRound, or remove skip_if / show_if / stop_if / branches / memory and {{ answers.* }} from this item",
                    format!("\"{}\"", item.id),
                ));
            }
        }
    }
    out
}

fn check_item_field(spec: &SurveySpec, item: &Item, field: &str, out: &mut Vec<SettingsIssue>) {
    let field = field.split('.').next().unwrap_or(field);
    let Some(block) = item.loop_block else {
        out.push(issue(
            format!(
                "item \"{}\": placeholder item.{field} is outside an item loop",
                item.id
            ),
            "use {{ item.* }} only in the questions of a loop block (for_each: ...)",
            format!("item.{field}"),
        ));
        return;
    };
    let Some(l) = spec.loops.get(usize::from(block)) else {
        return;
    };
    if l.source.path().is_some() && l.load_error.is_some() {
        return;
    }
    if field == "id" || field == "text" {
        return;
    }
    if let Some(missing) = l.items.iter().find(|li| !li.fields.contains_key(field)) {
        out.push(issue(
            format!(
                "item \"{}\": loop item \"{}\" has no field \"{field}\" for item.{field}",
                item.id, missing.id
            ),
            "give every loop item this field (fields: {\"name\": \"value\"}, or a CSV column), or use item.id / item.text",
            format!("item.{field}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SurveySpec {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn problems(items: &str) -> Vec<SettingsIssue> {
        check(&parse(&format!("(items: [{items}])")))
    }

    struct Person(HashMap<String, Given>, f64, &'static str);

    impl Facts for Person {
        fn answer(&self, id: &str) -> Option<&Given> {
            self.0.get(id)
        }
        fn attribute(&self, name: &str) -> Option<AttrRef<'_>> {
            match name {
                "age" => Some(AttrRef::Number(self.1)),
                "region" => Some(AttrRef::Category(self.2)),
                _ => None,
            }
        }
    }

    fn given(value: Option<f64>, labels: &[&str]) -> Given {
        Given {
            value,
            labels: labels.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn conditions_test_answers_and_attributes() {
        let mut answers = HashMap::new();
        answers.insert("aware".to_string(), given(Some(0.0), &["no"]));
        answers.insert("uses".to_string(), given(Some(2.0), &["email", "chat"]));
        answers.insert("score".to_string(), given(Some(7.0), &[]));
        let p = Person(answers, 52.0, "north");
        let c = |text: &str| -> Condition {
            ron::Options::default()
                .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
                .from_str(text)
                .unwrap()
        };
        assert!(c(r#"Answer(item: "aware", is: ["No"])"#).holds(&p));
        assert!(!c(r#"Answer(item: "aware", is: ["yes"])"#).holds(&p));
        assert!(c(r#"Answer(item: "uses", is: ["chat"])"#).holds(&p));
        assert!(c(r#"Answer(item: "score", above: 6.0, below: 8.0)"#).holds(&p));
        assert!(c(r#"Answer(item: "score", is: ["7"])"#).holds(&p));
        assert!(!c(r#"Answer(item: "missing")"#).holds(&p));
        assert!(c(r#"Attribute(name: "age", above: 40.0)"#).holds(&p));
        assert!(!c(r#"Attribute(name: "region", is: ["south"])"#).holds(&p));
        assert!(c(r#"All([Attribute(name: "region", is: ["north"]), Not(Answer(item: "aware", is: ["yes"]))])"#).holds(&p));
        assert!(c(r#"Any([Attribute(name: "age", below: 30.0), Answer(item: "uses")])"#).holds(&p));
        assert!(!c(r#"Attribute(name: "height", above: 1.0)"#).holds(&p));
    }

    #[test]
    fn a_valid_logic_has_no_issues() {
        let issues = problems(
            r#"(id: "a", text: "A?", kind: YesNo, stop_if: Answer(item: "a", is: ["no"]),
                branches: [(when: Answer(item: "a", is: ["yes"]), to: "c")]),
               (id: "b", text: "You said {{ answers.a }}, {{ persona.age }}", kind: YesNo, skip_if: Answer(item: "a", is: ["no"])),
               (for_each: Inline([(id: "x", fields: {"brand": "X"}), (id: "y", fields: {"brand": "Y"})]),
                items: [(id: "c", text: "Like {{ item.brand }}?", kind: Likert(points: 5)),
                        (id: "d", text: "Why {{ answers.c }}?", kind: FreeText(), show_if: Answer(item: "c", above: 3.0))]),
               (id: "e", text: "E?", kind: YesNo, memory: Items(["a", "b"]))"#,
        );
        assert!(issues.is_empty(), "{issues:?}");
    }

    #[test]
    fn each_kind_of_bad_logic_is_named_with_a_fix_and_a_needle() {
        for (items, needle, words) in [
            (
                r#"(id: "a", text: "A?", kind: YesNo, skip_if: Answer(item: "zz", is: ["no"]))"#,
                "item: \"zz\"",
                "does not exist",
            ),
            (
                r#"(id: "a", text: "A?", kind: YesNo, skip_if: Answer(item: "b", is: ["no"])), (id: "b", text: "B?", kind: YesNo)"#,
                "item: \"b\"",
                "asked after it",
            ),
            (
                r#"(id: "a", text: "A?", kind: YesNo, show_if: Answer(item: "a"))"#,
                "item: \"a\"",
                "asked as it",
            ),
            (
                r#"(id: "a", text: "A?", kind: YesNo), (id: "b", text: "B?", kind: YesNo, branches: [(when: Answer(item: "b"), to: "a")])"#,
                "to: \"a\"",
                "cycle",
            ),
            (
                r#"(id: "a", text: "A?", kind: YesNo, branches: [(when: Answer(item: "a"), to: "nowhere")])"#,
                "to: \"nowhere\"",
                "does not exist",
            ),
            (
                r#"(id: "a", text: "About {{ answers.b }}?", kind: YesNo), (id: "b", text: "B?", kind: YesNo)"#,
                "answers.b",
                "asked after it",
            ),
            (
                r#"(id: "a", text: "About {{ item.brand }}?", kind: YesNo)"#,
                "item.brand",
                "outside an item loop",
            ),
            (
                r#"(id: "a", text: "About {{ brand }}?", kind: YesNo)"#,
                "brand",
                "is not an answer",
            ),
            (
                r#"(for_each: Inline([(id: "x")]), items: [(id: "c", text: "C?", kind: YesNo)]), (id: "d", text: "D?", kind: YesNo, skip_if: Answer(item: "c"))"#,
                "item: \"c\"",
                "once per item of an item loop",
            ),
            (
                r#"(for_each: Inline([(id: "x")]), items: [(id: "c", text: "{{ item.brand }}?", kind: YesNo)])"#,
                "item.brand",
                "has no field",
            ),
            (
                r#"(id: "a", text: "A?", kind: YesNo, skip_if: Attribute(name: "age"))"#,
                "name: \"age\"",
                "tests nothing",
            ),
            (
                r#"(id: "a", text: "A?", kind: Numeric(min: 0.0, max: 9.0)), (id: "b", text: "B?", kind: YesNo, skip_if: Answer(item: "a", above: 5.0, below: 2.0))"#,
                "item: \"a\"",
                "which none is",
            ),
            (
                r#"(id: "a", text: "A?", kind: YesNo, branches: [(when: Answer(item: "a"), to: "d")]),
                   (for_each: Inline([(id: "x")]), items: [(id: "c", text: "C?", kind: YesNo), (id: "d", text: "D?", kind: YesNo)])"#,
                "to: \"d\"",
                "into the item loop",
            ),
            (
                r#"(id: "a", text: "A?", kind: YesNo, memory: Last(0))"#,
                "Last(0)",
                "shows nothing",
            ),
        ] {
            let issues = problems(items);
            assert_eq!(issues.len(), 1, "{items}: {issues:?}");
            assert_eq!(issues[0].needle, needle, "{items}");
            assert!(
                issues[0].message.contains(words),
                "{items}: {}",
                issues[0].message
            );
            assert!(!issues[0].hint.is_empty());
        }
    }

    #[test]
    fn logic_needs_one_question_per_round() {
        let spec = parse(
            r#"(mode: AllAtOnce, items: [(id: "a", text: "A?", kind: YesNo),
                (id: "b", text: "B?", kind: YesNo, skip_if: Answer(item: "a", is: ["no"]))])"#,
        );
        let issues = check(&spec);
        assert_eq!(issues.len(), 1);
        assert!(issues[0].hint.contains("OnePerRound"));
    }

    #[test]
    fn slots_repeat_a_loop_block_per_loop_item() {
        let spec = parse(
            r#"(items: [(id: "a", text: "A?", kind: YesNo),
                (for_each: Inline([(id: "x"), (id: "y"), (id: "z")]), items: [
                    (id: "b", text: "B {{ item.id }}?", kind: YesNo), (id: "c", text: "C?", kind: YesNo)]),
                (id: "d", text: "D?", kind: YesNo)])"#,
        );
        let slots = spec.slots();
        assert_eq!(slots.len(), 1 + 3 * 2 + 1);
        assert_eq!(spec.rounds(), 8);
        let ids: Vec<(u16, Option<u16>)> = slots.iter().map(|s| (s.item, s.loop_item)).collect();
        assert_eq!(
            ids,
            [
                (0, None),
                (1, Some(0)),
                (2, Some(0)),
                (1, Some(1)),
                (2, Some(1)),
                (1, Some(2)),
                (2, Some(2)),
                (3, None)
            ]
        );
    }

    #[test]
    fn loop_items_load_from_csv_and_bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ads.csv"),
            "id,text,brand\nad1,An ad,Acme\nad2,Another,Bolt\n",
        )
        .unwrap();
        let mut spec = parse(
            r#"(items: [(for_each: Csv("ads.csv"), items: [(id: "b", text: "{{ item.brand }}: {{ item.text }}?", kind: YesNo)])])"#,
        );
        spec.load_loops(dir.path());
        assert_eq!(spec.loops[0].items.len(), 2);
        assert_eq!(spec.loops[0].items[1].fields["brand"], "Bolt");
        assert_eq!(spec.slots().len(), 2);
        assert!(check(&spec).is_empty());
        let pipes = Pipes::compile(&spec).unwrap();
        let li = &spec.loops[0].items[0];
        let mut ctx = PipeContext::default();
        ctx.item.insert("text", &li.text);
        ctx.item.insert("brand", &li.fields["brand"]);
        assert_eq!(
            pipes.render(&spec.items[0].text, &ctx).unwrap(),
            "Acme: An ad?"
        );

        std::fs::write(dir.path().join("bad.csv"), "name\nx\n").unwrap();
        let mut bad = parse(
            r#"(items: [(for_each: Csv("bad.csv"), items: [(id: "b", text: "B?", kind: YesNo)])])"#,
        );
        bad.load_loops(dir.path());
        let issues = check(&bad);
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("no `id` column"), "{issues:?}");
        assert_eq!(issues[0].needle, "Csv(");
    }

    #[test]
    fn loop_items_load_from_parquet_with_typed_columns_as_text() {
        use std::sync::Arc;

        use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array};

        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, columns: Vec<(&str, ArrayRef)>| {
            let batch = RecordBatch::try_from_iter(columns).unwrap();
            let file = std::fs::File::create(dir.path().join(name)).unwrap();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
        };
        write(
            "ads.parquet",
            vec![
                (
                    "id",
                    Arc::new(StringArray::from(vec!["ad1", "ad2"])) as ArrayRef,
                ),
                (
                    "text",
                    Arc::new(StringArray::from(vec!["An ad", "Another"])),
                ),
                (
                    "brand",
                    Arc::new(StringArray::from(vec![Some("Acme"), None])),
                ),
                ("price", Arc::new(Float64Array::from(vec![9.5, 12.0]))),
                ("stars", Arc::new(UInt32Array::from(vec![4, 5]))),
            ],
        );
        let mut spec = parse(
            r#"(items: [(for_each: Parquet("ads.parquet"), items: [(id: "b", text: "{{ item.brand }} at {{ item.price }}?", kind: YesNo)])])"#,
        );
        spec.load_loops(dir.path());
        assert!(check(&spec).is_empty(), "{:?}", check(&spec));
        let items = &spec.loops[0].items;
        assert_eq!(
            items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            ["ad1", "ad2"]
        );
        assert_eq!(items[0].text, "An ad");
        assert_eq!(items[0].fields["brand"], "Acme");
        assert_eq!(items[1].fields["brand"], "", "a null is an empty field");
        assert_eq!(items[0].fields["price"], "9.5");
        assert_eq!(items[1].fields["stars"], "5");
        assert_eq!(spec.slots().len(), 2);

        write(
            "dup.parquet",
            vec![(
                "id",
                Arc::new(StringArray::from(vec!["a", "a"])) as ArrayRef,
            )],
        );
        write(
            "noid.parquet",
            vec![("name", Arc::new(StringArray::from(vec!["a"])) as ArrayRef)],
        );
        for (file, words) in [
            ("dup.parquet", "used twice"),
            ("noid.parquet", "no `id` column"),
            ("missing.parquet", "missing.parquet"),
        ] {
            let mut bad = parse(&format!(
                r#"(items: [(for_each: Parquet("{file}"), items: [(id: "b", text: "B?", kind: YesNo)])])"#
            ));
            bad.load_loops(dir.path());
            let issues = check(&bad);
            assert_eq!(issues.len(), 1, "{file}: {issues:?}");
            assert!(issues[0].message.contains(words), "{file}: {issues:?}");
            assert_eq!(issues[0].needle, "Parquet(");
        }
    }
}
