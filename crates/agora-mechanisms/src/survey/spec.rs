//! The survey's scenario settings, validated while they are parsed.

use serde::Deserialize;

/// How items are put to agents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum SurveyMode {
    /// One item per round, in order; each prompt shows the agent's earlier answers.
    #[default]
    OnePerRound,
    /// Every item in one prompt, in one round.
    AllAtOnce,
}

/// The label of the extra option that `with_other: true` adds (always shown last).
pub const OTHER: &str = "Other";

/// Most characters of the free text given with "Other".
pub const OTHER_MAX_CHARS: u32 = 100;

/// What kind of answer an item takes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawItemKind")]
pub enum ItemKind {
    /// A rating from 1 to `points` (5 or 7, ...), optionally with a label per point.
    Likert {
        /// Number of scale points (2..=11).
        points: u8,
        /// One label per point, lowest first; empty for unlabelled scales.
        labels: Vec<String>,
    },
    /// Exactly one of the listed options.
    SingleChoice {
        /// Option labels, in canonical order.
        options: Vec<String>,
        /// Whether an "Other" option with free text follows the options.
        other: bool,
    },
    /// A number within bounds.
    Numeric {
        /// Smallest allowed answer.
        min: f64,
        /// Largest allowed answer.
        max: f64,
        /// Whether only whole numbers are valid.
        integer: bool,
    },
    /// Free text of bounded length.
    FreeText {
        /// Most characters allowed.
        max_chars: u32,
    },
    /// Between `min` and `max` of the listed options (a checkbox question).
    MultiSelect {
        /// Option labels, in canonical order.
        options: Vec<String>,
        /// Fewest options to select.
        min: u16,
        /// Most options to select.
        max: u16,
        /// Whether an "Other" option with free text follows the options.
        other: bool,
    },
    /// The options in order of preference: all of them, or the first `top`.
    Ranking {
        /// Option labels, in canonical order.
        options: Vec<String>,
        /// How many options to rank (the number of options for a full ranking).
        top: u16,
    },
    /// Several statements rated on one Likert scale (a grid).
    Matrix {
        /// The statements, in canonical order.
        statements: Vec<String>,
        /// Number of scale points (2..=11).
        points: u8,
        /// One label per point, lowest first; empty for unlabelled scales.
        labels: Vec<String>,
    },
    /// Whole points spread over the options, summing to `total` (constant sum).
    ConstantSum {
        /// Option labels, in canonical order.
        options: Vec<String>,
        /// The points to spread.
        total: u32,
    },
    /// Yes or no.
    YesNo,
    /// Exactly one option of a long list, shown as a list to pick from.
    Dropdown {
        /// Option labels, in canonical order.
        options: Vec<String>,
        /// Whether an "Other" option with free text follows the options.
        other: bool,
    },
}

impl ItemKind {
    /// Short name used in tables.
    pub fn label(&self) -> &'static str {
        match self {
            ItemKind::Likert { .. } => "likert",
            ItemKind::SingleChoice { .. } => "single_choice",
            ItemKind::Numeric { .. } => "numeric",
            ItemKind::FreeText { .. } => "free_text",
            ItemKind::MultiSelect { .. } => "multi_select",
            ItemKind::Ranking { .. } => "ranking",
            ItemKind::Matrix { .. } => "matrix",
            ItemKind::ConstantSum { .. } => "constant_sum",
            ItemKind::YesNo => "yes_no",
            ItemKind::Dropdown { .. } => "dropdown",
        }
    }

    /// The labels whose order is shuffled per respondent (options, or a matrix's
    /// statements), without the "Other" option; `None` for kinds without options.
    pub fn shuffled(&self) -> Option<&[String]> {
        match self {
            ItemKind::SingleChoice { options, .. }
            | ItemKind::MultiSelect { options, .. }
            | ItemKind::Ranking { options, .. }
            | ItemKind::ConstantSum { options, .. }
            | ItemKind::Dropdown { options, .. } => Some(options),
            ItemKind::Matrix { statements, .. } => Some(statements),
            _ => None,
        }
    }

    /// Whether the kind offers "Other" with free text after its options.
    pub fn has_other(&self) -> bool {
        matches!(
            self,
            ItemKind::SingleChoice { other: true, .. }
                | ItemKind::MultiSelect { other: true, .. }
                | ItemKind::Dropdown { other: true, .. }
        )
    }

    /// The options an answer may name, "Other" last when offered.
    pub fn choices(&self) -> Vec<&str> {
        (0..self.choice_count())
            .filter_map(|i| self.choice(i))
            .collect()
    }

    /// How many [`ItemKind::choices`] there are, without collecting them.
    pub fn choice_count(&self) -> usize {
        self.shuffled().map_or(0, <[String]>::len) + usize::from(self.has_other())
    }

    /// Choice `i` of [`ItemKind::choices`], without collecting them all.
    pub fn choice(&self, i: usize) -> Option<&str> {
        let options = self.shuffled().unwrap_or_default();
        match options.get(i) {
            Some(option) => Some(option.as_str()),
            None if i == options.len() && self.has_other() => Some(OTHER),
            None => None,
        }
    }

    /// Every text of the kind that may hold a `{{ ... }}` placeholder.
    pub fn texts(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .shuffled()
            .map(|o| o.iter().map(String::as_str).collect())
            .unwrap_or_default();
        if let ItemKind::Likert { labels, .. } | ItemKind::Matrix { labels, .. } = self {
            out.extend(labels.iter().map(String::as_str));
        }
        out
    }

    /// The same kind with every text passed through `f` (placeholders filled in); the
    /// result is checked again (rendered options must still be unique).
    pub fn map_texts(
        &self,
        mut f: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<ItemKind, String> {
        let mut list = |v: &[String]| v.iter().map(|s| f(s)).collect::<Result<Vec<_>, _>>();
        let kind = match self {
            ItemKind::Likert { points, labels } => ItemKind::Likert {
                points: *points,
                labels: list(labels)?,
            },
            ItemKind::SingleChoice { options, other } => ItemKind::SingleChoice {
                options: list(options)?,
                other: *other,
            },
            ItemKind::MultiSelect {
                options,
                min,
                max,
                other,
            } => ItemKind::MultiSelect {
                options: list(options)?,
                min: *min,
                max: *max,
                other: *other,
            },
            ItemKind::Ranking { options, top } => ItemKind::Ranking {
                options: list(options)?,
                top: *top,
            },
            ItemKind::Matrix {
                statements,
                points,
                labels,
            } => ItemKind::Matrix {
                statements: list(statements)?,
                points: *points,
                labels: list(labels)?,
            },
            ItemKind::ConstantSum { options, total } => ItemKind::ConstantSum {
                options: list(options)?,
                total: *total,
            },
            ItemKind::Dropdown { options, other } => ItemKind::Dropdown {
                options: list(options)?,
                other: *other,
            },
            other => other.clone(),
        };
        if let Some(labels) = kind.shuffled() {
            check_options(labels, kind.has_other())?;
        }
        Ok(kind)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
enum RawItemKind {
    Likert {
        points: u8,
        #[serde(default)]
        labels: Vec<String>,
    },
    SingleChoice {
        options: Vec<String>,
        #[serde(default)]
        with_other: bool,
    },
    Numeric {
        min: f64,
        max: f64,
        #[serde(default)]
        integer: bool,
    },
    FreeText {
        #[serde(default = "default_max_chars")]
        max_chars: u32,
    },
    MultiSelect {
        options: Vec<String>,
        #[serde(default)]
        min: Option<u16>,
        #[serde(default)]
        max: Option<u16>,
        #[serde(default)]
        with_other: bool,
    },
    Ranking {
        options: Vec<String>,
        #[serde(default)]
        top: Option<u16>,
    },
    Matrix {
        statements: Vec<String>,
        points: u8,
        #[serde(default)]
        labels: Vec<String>,
    },
    ConstantSum {
        options: Vec<String>,
        total: u32,
    },
    YesNo,
    Dropdown {
        options: Vec<String>,
        #[serde(default)]
        with_other: bool,
    },
}

fn default_max_chars() -> u32 {
    280
}

fn check_scale(points: u8, labels: &[String]) -> Result<(), String> {
    if !(2..=11).contains(&points) {
        return Err(format!(
            "a Likert scale needs 2 to 11 points, got {points}; use 5 or 7"
        ));
    }
    if !labels.is_empty() && labels.len() != usize::from(points) {
        return Err(format!(
            "a {points}-point Likert scale needs {points} labels, got {}; give one label per point or none",
            labels.len()
        ));
    }
    Ok(())
}

/// Options: at least two (one with "Other"), unique, not naming "Other" themselves.
fn check_options(options: &[String], other: bool) -> Result<(), String> {
    let least = if other { 1 } else { 2 };
    if options.len() < least {
        return Err(format!(
            "this item needs at least {least} options, got {}; list the options as [\"A\", \"B\"]",
            options.len()
        ));
    }
    if let Some(dup) = first_duplicate(options) {
        return Err(format!(
            "option \"{dup}\" is listed twice; make every option label unique"
        ));
    }
    if options.iter().any(|o| o.trim().is_empty()) {
        return Err("an option is empty; give every option a label".into());
    }
    if other && options.iter().any(|o| o.eq_ignore_ascii_case(OTHER)) {
        return Err(format!(
            "option \"{OTHER}\" is listed and with_other adds it again; remove it from the options"
        ));
    }
    if options.len() >= usize::from(u16::MAX) {
        return Err("too many options; keep a list under 65,535 options".into());
    }
    Ok(())
}

impl TryFrom<RawItemKind> for ItemKind {
    type Error = String;

    fn try_from(raw: RawItemKind) -> Result<Self, String> {
        match raw {
            RawItemKind::Likert { points, labels } => {
                check_scale(points, &labels)?;
                Ok(ItemKind::Likert { points, labels })
            }
            RawItemKind::SingleChoice {
                options,
                with_other,
            } => {
                check_options(&options, with_other)?;
                Ok(ItemKind::SingleChoice {
                    options,
                    other: with_other,
                })
            }
            RawItemKind::Numeric { min, max, integer } => {
                if !(min.is_finite() && max.is_finite()) || min >= max {
                    return Err(format!(
                        "numeric bounds must be finite with min < max, got min {min}, max {max}; for example min: 0.0, max: 100.0"
                    ));
                }
                Ok(ItemKind::Numeric { min, max, integer })
            }
            RawItemKind::FreeText { max_chars } => {
                if max_chars == 0 || max_chars > 10_000 {
                    return Err(format!(
                        "max_chars must be between 1 and 10000, got {max_chars}; 280 suits a short comment"
                    ));
                }
                Ok(ItemKind::FreeText { max_chars })
            }
            RawItemKind::MultiSelect {
                options,
                min,
                max,
                with_other,
            } => {
                check_options(&options, with_other)?;
                let n = options.len() as u16 + u16::from(with_other);
                let min = min.unwrap_or(1);
                let max = max.unwrap_or(n);
                if max == 0 || min > max || max > n {
                    return Err(format!(
                        "a multi-select item of {n} options cannot take min {min} and max {max}; use 0 <= min <= max <= {n} with max >= 1, e.g. min: 1, max: {n}"
                    ));
                }
                Ok(ItemKind::MultiSelect {
                    options,
                    min,
                    max,
                    other: with_other,
                })
            }
            RawItemKind::Ranking { options, top } => {
                check_options(&options, false)?;
                let n = options.len() as u16;
                let top = top.unwrap_or(n);
                if top == 0 || top > n {
                    return Err(format!(
                        "a ranking of {n} options cannot rank the top {top}; use top between 1 and {n}, or leave it out for a full ranking"
                    ));
                }
                Ok(ItemKind::Ranking { options, top })
            }
            RawItemKind::Matrix {
                statements,
                points,
                labels,
            } => {
                check_scale(points, &labels)?;
                if statements.is_empty() {
                    return Err("a matrix needs at least one statement; list them as statements: [\"...\", \"...\"]".into());
                }
                if let Some(dup) = first_duplicate(&statements) {
                    return Err(format!(
                        "statement \"{dup}\" is listed twice; make every statement unique"
                    ));
                }
                if statements.len() >= usize::from(u16::MAX) {
                    return Err("too many statements; keep a matrix under 65,535 statements".into());
                }
                Ok(ItemKind::Matrix {
                    statements,
                    points,
                    labels,
                })
            }
            RawItemKind::ConstantSum { options, total } => {
                check_options(&options, false)?;
                if total == 0 || total > 1_000_000 {
                    return Err(format!(
                        "a constant sum needs a total between 1 and 1000000, got {total}; 100 is usual"
                    ));
                }
                Ok(ItemKind::ConstantSum { options, total })
            }
            RawItemKind::YesNo => Ok(ItemKind::YesNo),
            RawItemKind::Dropdown {
                options,
                with_other,
            } => {
                check_options(&options, with_other)?;
                Ok(ItemKind::Dropdown {
                    options,
                    other: with_other,
                })
            }
        }
    }
}

/// A test on an earlier answer or on a persona attribute, written in RON:
/// `Answer(item: "aware", is: ["no"])`, `Attribute(name: "age", above: 40.0)`,
/// `All([...])`, `Any([...])`, `Not(...)`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Condition {
    /// True when the item was answered validly and the answer passes every test
    /// given: one of `is` (a label, option, "yes"/"no", or a selected option of a
    /// multi-select), above `above`, below `below` (the answer's number). With no test
    /// at all, true when the item was answered.
    Answer {
        /// The item's id (within an item loop: the same loop item's answer).
        item: String,
        /// Labels, any of which matches.
        #[serde(default)]
        is: Vec<String>,
        /// The answer's number is greater than this.
        #[serde(default)]
        above: Option<f64>,
        /// The answer's number is less than this.
        #[serde(default)]
        below: Option<f64>,
    },
    /// True when the persona attribute is one of `is` (categories) or above / below a
    /// bound (numbers).
    Attribute {
        /// The attribute's name.
        name: String,
        /// Categories, any of which matches.
        #[serde(default)]
        is: Vec<String>,
        /// The value is greater than this.
        #[serde(default)]
        above: Option<f64>,
        /// The value is less than this.
        #[serde(default)]
        below: Option<f64>,
    },
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one condition holds.
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
}

impl Condition {
    /// Every `Answer` test, depth first.
    pub fn answer_refs(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |c| {
            if let Condition::Answer { item, .. } = c {
                out.push(item.as_str());
            }
        });
        out
    }

    /// Every test in the condition, depth first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Condition)) {
        f(self);
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.walk(f)),
            Condition::Not(c) => c.walk(f),
            _ => {}
        }
    }
}

/// A jump to a later item when a condition holds (tested after the item is answered).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// When to jump.
    pub when: Condition,
    /// The id of the later item to continue at.
    pub to: String,
}

/// Which earlier answers a prompt shows.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub enum MemoryScope {
    /// None at all.
    Off,
    /// Every earlier answer of this survey.
    All,
    /// The last `k` answers.
    Last(u16),
    /// The answers to these items only.
    Items(Vec<String>),
}

/// One question of the questionnaire.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Short identifier used in tables (`q1`, `price_ok`, ...).
    pub id: String,
    /// The question as put to the agent (may hold `{{ answers.id }}`,
    /// `{{ persona.attribute }}` and, in a loop, `{{ item.field }}`).
    pub text: String,
    /// Other wordings of the same question: each respondent gets one of `text` and
    /// these at random (from the run's seed), recorded in the `wording` column (0 for
    /// `text`, k for the k-th paraphrase).
    #[serde(default)]
    pub paraphrases: Vec<String>,
    /// The kind of answer.
    pub kind: ItemKind,
    /// Rule-based policy: drivers and their weights (see [`crate::drivers`]).
    #[serde(default)]
    pub drivers: Vec<(String, f64)>,
    /// Rule-based policy: shift of the latent score before drivers (0 = centred).
    #[serde(default)]
    pub intercept: f64,
    /// Not asked when this holds.
    #[serde(default)]
    pub skip_if: Option<Condition>,
    /// Asked only when this holds.
    #[serde(default)]
    pub show_if: Option<Condition>,
    /// After this item, the respondent's questionnaire ends when this holds.
    #[serde(default)]
    pub stop_if: Option<Condition>,
    /// After this item, continue at the first branch whose condition holds.
    #[serde(default)]
    pub branches: Vec<Branch>,
    /// Earlier answers shown with this item (by default: the survey's `memory_chars`
    /// of every earlier answer).
    #[serde(default)]
    pub memory: Option<MemoryScope>,
    /// The item loop this item belongs to (set from the loop block it is written in).
    #[serde(skip)]
    pub loop_block: Option<u16>,
}

impl Item {
    /// Whether the item uses any survey logic (conditions, branches, memory scope).
    pub fn has_logic(&self) -> bool {
        self.skip_if.is_some()
            || self.show_if.is_some()
            || self.stop_if.is_some()
            || !self.branches.is_empty()
            || self.memory.is_some()
    }

    /// Every text that may hold placeholders: the question, then the kind's texts.
    pub fn texts(&self) -> Vec<&str> {
        let mut out = vec![self.text.as_str()];
        out.extend(self.paraphrases.iter().map(String::as_str));
        out.extend(self.kind.texts());
        out
    }
}

/// One thing an item loop goes over (a product, an ad, a statement).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopItem {
    /// Identifier written to the `loop_item` column.
    pub id: String,
    /// Its text (`{{ item.text }}`).
    #[serde(default)]
    pub text: String,
    /// Further fields (`{{ item.field }}`).
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// Where an item loop's items come from.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub enum LoopSource {
    /// Listed in the scenario.
    Inline(Vec<LoopItem>),
    /// A CSV file with a header row, one row per item: an `id` column, an optional
    /// `text` column, every other column a field.
    Csv(std::path::PathBuf),
    /// A Parquet file, one row per item, with the same columns as a CSV source
    /// (numbers and booleans become fields as text).
    Parquet(std::path::PathBuf),
}

impl LoopSource {
    /// The file the items are read from, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            LoopSource::Inline(_) => None,
            LoopSource::Csv(path) | LoopSource::Parquet(path) => Some(path),
        }
    }
}

/// An item loop: a block of questions repeated for each of its items.
#[derive(Clone, Debug, PartialEq)]
pub struct Loop {
    /// Where the items come from.
    pub source: LoopSource,
    /// The items, in order (read from the file of a CSV or Parquet source).
    pub items: Vec<LoopItem>,
    /// Why the file could not be read, if it could not.
    pub load_error: Option<String>,
}

impl Loop {
    /// Read the items of a CSV source from `path`.
    fn load_csv(path: &std::path::Path) -> Result<Vec<LoopItem>, String> {
        check_loop_file(path)?;
        let mut reader = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
        let headers = reader.headers().map_err(|e| e.to_string())?.clone();
        let id_col = headers
            .iter()
            .position(|h| h == "id")
            .ok_or_else(|| "the header has no `id` column".to_string())?;
        let text_col = headers.iter().position(|h| h == "text");
        let mut items = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let record = record.map_err(|e| e.to_string())?;
            let mut item = LoopItem {
                id: record.get(id_col).unwrap_or_default().trim().to_string(),
                text: text_col
                    .and_then(|c| record.get(c))
                    .unwrap_or_default()
                    .to_string(),
                fields: Default::default(),
            };
            if item.id.is_empty() {
                return Err(format!("row {} has an empty id", row + 2));
            }
            for (c, h) in headers.iter().enumerate() {
                if c != id_col && Some(c) != text_col {
                    item.fields
                        .insert(h.to_string(), record.get(c).unwrap_or_default().to_string());
                }
            }
            items.push(item);
            if items.len() > MAX_LOOP_ITEMS {
                return Err(format!("more than {MAX_LOOP_ITEMS} items"));
            }
        }
        check_loop_items(&items)?;
        Ok(items)
    }
}

/// Refuse what is not a regular file of a readable size.
fn check_loop_file(path: &std::path::Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() || meta.len() > MAX_LOOP_FILE_BYTES {
        return Err(format!(
            "not a regular file of at most {MAX_LOOP_FILE_BYTES} bytes"
        ));
    }
    Ok(())
}

/// Read the items of a Parquet source from `path`: the same columns as a CSV source.
fn load_parquet(path: &std::path::Path) -> Result<Vec<LoopItem>, String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    check_loop_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
    let columns: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    if !columns.iter().any(|c| c == "id") {
        return Err("the file has no `id` column".into());
    }
    let text = |field: &Field| match field {
        Field::Null => String::new(),
        Field::Str(s) => s.clone(),
        other => other.to_string(),
    };
    let mut items = Vec::new();
    for (row, record) in reader
        .get_row_iter(None)
        .map_err(|e| e.to_string())?
        .enumerate()
    {
        let record = record.map_err(|e| e.to_string())?;
        let mut item = LoopItem {
            id: String::new(),
            text: String::new(),
            fields: Default::default(),
        };
        for (name, field) in record.get_column_iter() {
            match name.as_str() {
                "id" => item.id = text(field).trim().to_string(),
                "text" => item.text = text(field),
                _ => {
                    item.fields.insert(name.clone(), text(field));
                }
            }
        }
        if item.id.is_empty() {
            return Err(format!("row {} has an empty id", row + 1));
        }
        items.push(item);
        if items.len() > MAX_LOOP_ITEMS {
            return Err(format!("more than {MAX_LOOP_ITEMS} items"));
        }
    }
    check_loop_items(&items)?;
    Ok(items)
}

/// Largest item-loop file read.
const MAX_LOOP_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Most items in one loop.
const MAX_LOOP_ITEMS: usize = 10_000;

fn check_loop_items(items: &[LoopItem]) -> Result<(), String> {
    if items.is_empty() {
        return Err("an item loop needs at least one item".into());
    }
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    if let Some(dup) = first_duplicate(&ids) {
        return Err(format!(
            "loop item id \"{dup}\" is used twice; give every loop item a unique id"
        ));
    }
    Ok(())
}

/// An entry of `items:` as written: a question, or a loop block
/// `(for_each: Inline([...]), items: [...])`.
#[derive(Deserialize)]
#[serde(try_from = "RawEntry")]
enum Entry {
    Question(Box<Item>),
    Loop(LoopSource, Vec<Item>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "item")]
struct RawEntry {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    paraphrases: Vec<String>,
    #[serde(default)]
    kind: Option<ItemKind>,
    #[serde(default)]
    drivers: Vec<(String, f64)>,
    #[serde(default)]
    intercept: f64,
    #[serde(default)]
    skip_if: Option<Condition>,
    #[serde(default)]
    show_if: Option<Condition>,
    #[serde(default)]
    stop_if: Option<Condition>,
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    memory: Option<MemoryScope>,
    #[serde(default)]
    for_each: Option<LoopSource>,
    #[serde(default)]
    items: Option<Vec<Entry>>,
}

impl TryFrom<RawEntry> for Entry {
    type Error = String;

    fn try_from(raw: RawEntry) -> Result<Self, String> {
        if let Some(source) = raw.for_each {
            let Some(entries) = raw.items else {
                return Err("a loop block needs the questions it repeats; add items: [(id: ..., text: ..., kind: ...)]".into());
            };
            if raw.text.is_some() || raw.kind.is_some() || raw.id.is_some() {
                return Err("a loop block holds only for_each and items; put id, text and kind on the questions inside items".into());
            }
            if let LoopSource::Inline(items) = &source {
                check_loop_items(items)?;
            }
            let mut items = Vec::with_capacity(entries.len());
            for entry in entries {
                match entry {
                    Entry::Question(item) => items.push(*item),
                    Entry::Loop(..) => {
                        return Err("item loops cannot be nested; list the combinations as the items of one loop".into());
                    }
                }
            }
            if items.is_empty() {
                return Err("a loop block needs at least one question in items".into());
            }
            return Ok(Entry::Loop(source, items));
        }
        if raw.items.is_some() {
            return Err("`items` inside an item belongs to a loop block; add for_each: Inline([...]), Csv(\"file.csv\") or Parquet(\"file.parquet\")".into());
        }
        let (Some(id), Some(text), Some(kind)) = (raw.id, raw.text, raw.kind) else {
            return Err(
                "an item needs id, text and kind, e.g. (id: \"q1\", text: \"...\", kind: YesNo)"
                    .into(),
            );
        };
        if raw.paraphrases.iter().any(|p| p.trim().is_empty()) {
            return Err(format!(
                "item \"{id}\": a paraphrase is empty; give every other wording of the question, or remove it"
            ));
        }
        Ok(Entry::Question(Box::new(Item {
            id,
            text,
            paraphrases: raw.paraphrases,
            kind,
            drivers: raw.drivers,
            intercept: raw.intercept,
            skip_if: raw.skip_if,
            show_if: raw.show_if,
            stop_if: raw.stop_if,
            branches: raw.branches,
            memory: raw.memory,
            loop_block: None,
        })))
    }
}

/// One question as asked: an item, and the loop item it is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Index of the item in [`SurveySpec::items`].
    pub item: u16,
    /// Index of the loop item in its loop, for items of a loop block.
    pub loop_item: Option<u16>,
}

/// The `Survey(...)` mechanism block of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawSurveySpec")]
pub struct SurveySpec {
    /// One item per round or all at once.
    pub mode: SurveyMode,
    /// Whether choice options are shuffled per agent.
    pub shuffle_options: bool,
    /// Fixed instructions at the start of every prompt.
    pub instructions: String,
    /// Characters of earlier answers shown in each prompt (one-per-round mode).
    pub memory_chars: u32,
    /// The questionnaire, loop blocks flattened (see [`Item::loop_block`]).
    pub items: Vec<Item>,
    /// The item loops, by index.
    pub loops: Vec<Loop>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "SurveySpec")]
struct RawSurveySpec {
    #[serde(default)]
    mode: SurveyMode,
    #[serde(default = "yes")]
    shuffle_options: bool,
    #[serde(default = "default_instructions")]
    instructions: String,
    #[serde(default = "default_memory_chars")]
    memory_chars: u32,
    items: Vec<Entry>,
}

fn yes() -> bool {
    true
}

fn default_memory_chars() -> u32 {
    1200
}

fn default_instructions() -> String {
    "You are taking part in a survey. Answer every question as the person described \
     below would, honestly and in character. Reply with JSON only."
        .to_string()
}

impl TryFrom<RawSurveySpec> for SurveySpec {
    type Error = String;

    fn try_from(raw: RawSurveySpec) -> Result<Self, String> {
        let mut items = Vec::new();
        let mut loops = Vec::new();
        for entry in raw.items {
            match entry {
                Entry::Question(item) => items.push(*item),
                Entry::Loop(source, block) => {
                    let index = u16::try_from(loops.len())
                        .map_err(|_| "too many item loops".to_string())?;
                    let inline = match &source {
                        LoopSource::Inline(list) => list.clone(),
                        LoopSource::Csv(_) | LoopSource::Parquet(_) => Vec::new(),
                    };
                    loops.push(Loop {
                        source,
                        items: inline,
                        load_error: None,
                    });
                    items.extend(block.into_iter().map(|mut i| {
                        i.loop_block = Some(index);
                        i
                    }));
                }
            }
        }
        if items.is_empty() {
            return Err("a survey needs at least one item; add items: [(id: \"q1\", text: \"...\", kind: Likert(points: 5))]".into());
        }
        if items.len() > usize::from(u16::MAX) {
            return Err("too many items; keep a survey under 65,535 items".into());
        }
        let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
        if let Some(dup) = first_duplicate(&ids) {
            return Err(format!(
                "item id \"{dup}\" is used twice; give every item a unique id"
            ));
        }
        if let Some(item) = items.iter().find(|i| i.id.trim().is_empty()) {
            return Err(format!(
                "an item has an empty id (text \"{}\"); give it an id such as \"q1\"",
                item.text
            ));
        }
        for item in &items {
            if let Some((name, w)) = item.drivers.iter().find(|(_, w)| !w.is_finite()) {
                return Err(format!(
                    "item \"{}\": driver \"{name}\" has weight {w}; use a finite number",
                    item.id
                ));
            }
        }
        Ok(SurveySpec {
            mode: raw.mode,
            shuffle_options: raw.shuffle_options,
            instructions: raw.instructions,
            memory_chars: raw.memory_chars,
            items,
            loops,
        })
    }
}

impl SurveySpec {
    /// The questions as asked, in order: each item once, the items of a loop block
    /// once per loop item (all of the block's items for the first loop item, then for
    /// the second, ...).
    pub fn slots(&self) -> Vec<Slot> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.items.len() {
            match self.items[i].loop_block {
                None => {
                    out.push(Slot {
                        item: i as u16,
                        loop_item: None,
                    });
                    i += 1;
                }
                Some(block) => {
                    let end = (i..self.items.len())
                        .find(|&j| self.items[j].loop_block != Some(block))
                        .unwrap_or(self.items.len());
                    let n = self
                        .loops
                        .get(usize::from(block))
                        .map_or(0, |l| l.items.len());
                    for li in 0..n {
                        for j in i..end {
                            out.push(Slot {
                                item: j as u16,
                                loop_item: Some(li as u16),
                            });
                        }
                    }
                    i = end;
                }
            }
        }
        out
    }

    /// Rounds the survey plays: one per question asked, or one for all at once.
    pub fn rounds(&self) -> u32 {
        match self.mode {
            SurveyMode::OnePerRound => self.slots().len() as u32,
            SurveyMode::AllAtOnce => 1,
        }
    }

    /// Whether any item uses survey logic, so answers are kept per respondent.
    pub fn has_logic(&self) -> bool {
        self.items.iter().any(Item::has_logic)
            || self
                .items
                .iter()
                .flat_map(Item::texts)
                .any(|t| t.contains("answers."))
    }

    /// Every driver name the items refer to, and the persona attributes their
    /// conditions test (`attribute=category` for categories).
    pub fn driver_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .items
            .iter()
            .flat_map(|i| i.drivers.iter().map(|(n, _)| n.clone()))
            .collect();
        for item in &self.items {
            let conditions = [&item.skip_if, &item.show_if, &item.stop_if]
                .into_iter()
                .flatten()
                .chain(item.branches.iter().map(|b| &b.when));
            for c in conditions {
                c.walk(&mut |c| {
                    if let Condition::Attribute {
                        name,
                        is,
                        above,
                        below,
                    } = c
                    {
                        out.extend(is.iter().map(|v| format!("{name}={v}")));
                        if above.is_some() || below.is_some() {
                            out.push(name.clone());
                        }
                    }
                });
            }
        }
        out
    }

    /// Make loop file paths relative to `base` and read them.
    pub fn load_loops(&mut self, base: &std::path::Path) {
        for l in &mut self.loops {
            let (path, parquet) = match &mut l.source {
                LoopSource::Inline(_) => continue,
                LoopSource::Csv(path) => (path, false),
                LoopSource::Parquet(path) => (path, true),
            };
            if path.is_relative() {
                *path = base.join(&*path);
            }
            let loaded = if parquet {
                load_parquet(path)
            } else {
                Loop::load_csv(path)
            };
            match loaded {
                Ok(items) => l.items = items,
                Err(e) => l.load_error = Some(format!("{}: {e}", path.display())),
            }
        }
    }
}

fn first_duplicate(values: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .find(|v| !seen.insert(v.as_str()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SurveySpec, ron::error::SpannedError> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
    }

    #[test]
    fn one_choice_by_index_is_the_collected_choice() {
        let spec = parse(
            r#"(items: [
                (id: "a", text: "A?", kind: SingleChoice(options: ["x", "y"], with_other: true)),
                (id: "b", text: "B?", kind: MultiSelect(options: ["x", "y", "z"], min: 0, max: 2)),
                (id: "c", text: "C?", kind: Likert(points: 5)),
                (id: "d", text: "D?", kind: Ranking(options: ["p", "q"])),
                (id: "e", text: "E?", kind: YesNo),
            ])"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for item in &spec.items {
            let collected = item.kind.choices();
            assert_eq!(item.kind.choice_count(), collected.len(), "{}", item.id);
            let one_by_one: Vec<&str> = (0..=collected.len())
                .map_while(|i| item.kind.choice(i))
                .collect();
            assert_eq!(one_by_one, collected, "{}", item.id);
        }
        assert_eq!(spec.items[0].kind.choice(2), Some(OTHER));
    }

    #[test]
    fn a_complete_survey_parses() {
        let spec = parse(
            r#"(mode: AllAtOnce, items: [
                (id: "q1", text: "Q?", kind: Likert(points: 5), drivers: [("openness", 0.5)]),
                (id: "q2", text: "Brand?", kind: SingleChoice(options: ["A", "B"])),
                (id: "q3", text: "Price?", kind: Numeric(min: 0.0, max: 10.0, integer: true)),
                (id: "q4", text: "Why?", kind: FreeText()),
            ])"#,
        )
        .unwrap();
        assert_eq!(spec.rounds(), 1);
        assert!(spec.shuffle_options);
        assert_eq!(spec.items[3].kind, ItemKind::FreeText { max_chars: 280 });
    }

    #[test]
    fn bad_items_are_rejected_with_a_fix_and_a_position() {
        for (text, needle) in [
            (
                r#"(items: [(id: "q", text: "t", kind: Likert(points: 1))])"#,
                "2 to 11 points",
            ),
            (
                r#"(items: [(id: "q", text: "t", kind: SingleChoice(options: ["A"]))])"#,
                "at least 2 options",
            ),
            (
                r#"(items: [(id: "q", text: "t", kind: SingleChoice(options: ["A", "A"]))])"#,
                "listed twice",
            ),
            (
                r#"(items: [(id: "q", text: "t", kind: Numeric(min: 5.0, max: 1.0))])"#,
                "min < max",
            ),
            (r#"(items: [])"#, "at least one item"),
            (
                r#"(items: [(id: "q", text: "t", kind: FreeText()), (id: "q", text: "u", kind: FreeText())])"#,
                "used twice",
            ),
            (
                r#"(items: [(id: "q", text: "t", kind: FreeText(), wieght: 1)])"#,
                "wieght",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
            assert!(err.span.start.line >= 1);
        }
    }
}
