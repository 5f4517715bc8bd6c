//! Reading personas from a CSV or JSONL file instead of sampling them.
//!
//! Columns (CSV header names, JSONL keys) are matched by name: attribute names give
//! demographics; `name`, `narrative`, the Big Five names and custom trait names give
//! those parts of the persona. When the spec lists attributes, they fix the schema (and
//! categorical values must be known labels, numeric values lie within the attribute's
//! `min`/`max`); otherwise every other column becomes an attribute whose kind is
//! inferred. Only regular files of at most [`MAX_IMPORT_BYTES`] are read, with at most
//! [`MAX_IMPORT_COLUMNS`] columns and lines of at most [`MAX_IMPORT_LINE_BYTES`]. Every
//! error names the file, the line and the column.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use agora_core::components::{AttrKind, AttrValue, AttributeDef, BIG_FIVE, format_number};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use crate::categories::MAX_CATEGORIES;
use crate::error::ImportError;
use crate::limits::{MAX_IMPORT_BYTES, MAX_IMPORT_COLUMNS, MAX_IMPORT_LINE_BYTES};
use crate::spec::{ImportFormat, ImportSpec, PopulationSpec};

/// Column names with a fixed meaning, which attributes and traits may not use.
pub(crate) const RESERVED_COLUMNS: [&str; 2] = ["name", "narrative"];

/// One cell as read from the file.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Empty,
    Num(f64),
    Str(String),
}

impl Cell {
    fn from_text(s: &str) -> Self {
        let s = s.trim();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Str(s.to_string())
        }
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Cell::Num(x) => Some(*x),
            Cell::Str(s) => s.parse::<f64>().ok().filter(|x| x.is_finite()),
            Cell::Empty => None,
        }
    }

    fn as_label(&self) -> Option<String> {
        match self {
            Cell::Num(x) => Some(format_number(*x)),
            Cell::Str(s) => Some(s.clone()),
            Cell::Empty => None,
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Empty => Ok(()),
            Cell::Num(x) => write!(f, "{x}"),
            Cell::Str(s) => write!(f, "{s}"),
        }
    }
}

/// The file's columns and its first rows, aligned with the columns.
struct Table {
    file: PathBuf,
    format: ImportFormat,
    columns: Vec<String>,
    /// Line on which each column is named (the header, or a JSONL key's first use).
    column_lines: Vec<usize>,
    /// Byte offset of the line on which each column is named.
    column_starts: Vec<usize>,
    rows: Vec<(usize, Vec<Cell>)>,
    /// Byte offset of each row's first line, aligned with `rows`.
    starts: Vec<usize>,
}

impl Table {
    /// 1-based character column where column `c` starts on the line at byte `start`.
    fn col_of(&self, bytes: &[u8], start: usize, c: usize) -> usize {
        let rest = bytes.get(start..).unwrap_or_default();
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..end]);
        match self.format {
            ImportFormat::Csv => csv_field_col(&line, c),
            ImportFormat::Jsonl => self
                .columns
                .get(c)
                .map_or(1, |key| json_key_col(&line, key)),
        }
    }
}

/// 1-based character column of field `field` (0-based) on a CSV line; commas inside
/// double quotes do not separate fields.
fn csv_field_col(line: &str, field: usize) -> usize {
    if field == 0 {
        return 1;
    }
    let mut seen = 0;
    let mut quoted = false;
    for (i, c) in line.chars().enumerate() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                seen += 1;
                if seen == field {
                    return i + 2;
                }
            }
            _ => {}
        }
    }
    1
}

/// 1-based character column of `key` (as a JSON string) on a JSONL line.
fn json_key_col(line: &str, key: &str) -> usize {
    let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("{key:?}"));
    line.find(&quoted)
        .map_or(1, |at| line[..at].chars().count() + 1)
}

/// One persona as read; `None` parts are generated or sampled by the caller.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ImportedRow {
    pub name: Option<String>,
    pub narrative: Option<String>,
    pub demographics: Vec<AttrValue>,
    pub big_five: [Option<f32>; 5],
    pub custom: Vec<Option<f32>>,
}

/// An import's schema attributes and its first `n` rows.
pub(crate) struct Imported {
    pub attributes: Vec<AttributeDef>,
    pub rows: Vec<ImportedRow>,
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Name,
    Narrative,
    BigFive(usize),
    Custom(usize),
    Attribute(usize),
    /// A column the spec's `ignore` list names (answers kept beside the personas).
    Ignored,
}

/// Read and check the import of `spec` (resolved against `base_dir`) as sampling
/// `agents` personas would: file type and size, columns, categories, values against
/// the attributes' bounds, and that the file holds at least `agents` rows. `Ok` when
/// the spec imports nothing.
///
/// # Errors
/// The first problem found, with the file, line and column.
pub fn check_import(
    spec: &PopulationSpec,
    agents: usize,
    base_dir: &Path,
) -> Result<(), ImportError> {
    match &spec.import {
        Some(import) => load(spec, import, agents, base_dir).map(|_| ()),
        None => Ok(()),
    }
}

/// Read the first `n` personas of `import` (resolved against `base_dir`).
pub(crate) fn load(
    spec: &PopulationSpec,
    import: &ImportSpec,
    n: usize,
    base_dir: &Path,
) -> Result<Imported, ImportError> {
    let file = if import.path.is_absolute() {
        import.path.clone()
    } else {
        base_dir.join(&import.path)
    };
    let format = import.resolved_format().map_err(|e| {
        let (problem, hint) = crate::split_hint(&e);
        ImportError::new(&file, problem, hint.unwrap_or_default())
    })?;
    let text = read_bounded(&file, base_dir)?;
    check_line_lengths(&file, &text)?;
    let table = match format {
        ImportFormat::Csv => read_csv(&file, &text, n)?,
        ImportFormat::Jsonl => read_jsonl(&file, &text, n)?,
    };
    let imported = build(spec, &table, &text)?;
    if table.rows.len() < n {
        let held = table.rows.len();
        return Err(ImportError::new(
            &file,
            format!(
                "the file holds {held} persona{} but {n} were requested",
                if held == 1 { "" } else { "s" }
            ),
            format!(
                "lower size (or the agent count given on the command line) to at most {}, or add rows to the file",
                table.rows.len()
            ),
        ));
    }
    Ok(imported)
}

/// The bytes of `file`, which must be a regular file of at most [`MAX_IMPORT_BYTES`].
fn read_bounded(file: &Path, base_dir: &Path) -> Result<Vec<u8>, ImportError> {
    let unreadable = |e: std::io::Error| {
        ImportError::new(
            file,
            format!("cannot read the import file: {e}"),
            format!(
                "check import path; relative paths are resolved against the scenario's folder ({})",
                base_dir.display()
            ),
        )
    };
    let too_large = |size: u64| {
        ImportError::new(
            file,
            format!(
                "the import file has {size} bytes, more than the limit of {MAX_IMPORT_BYTES} bytes ({} MiB)",
                MAX_IMPORT_BYTES / (1024 * 1024)
            ),
            "import fewer personas (keep the rows you need), drop unused columns, or sample the population from attributes instead",
        )
    };
    let meta = std::fs::metadata(file).map_err(unreadable)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, pipe or socket)"
        };
        return Err(ImportError::new(
            file,
            format!("the import path is {what}"),
            "point import path at a .csv or .jsonl file",
        ));
    }
    if meta.len() > MAX_IMPORT_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_IMPORT_BYTES + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_IMPORT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Refuse lines longer than [`MAX_IMPORT_LINE_BYTES`], at the first character past
/// the limit.
fn check_line_lengths(file: &Path, bytes: &[u8]) -> Result<(), ImportError> {
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.len() > MAX_IMPORT_LINE_BYTES {
            let col = String::from_utf8_lossy(&line[..MAX_IMPORT_LINE_BYTES])
                .chars()
                .count()
                + 1;
            return Err(ImportError::new(
                file,
                format!(
                    "the line is longer than the limit of {MAX_IMPORT_LINE_BYTES} bytes ({} bytes)",
                    line.len()
                ),
                "write one persona per line and shorten long fields such as narrative; check the file has line breaks",
            )
            .at_line(i + 1)
            .at_col(col));
        }
    }
    Ok(())
}

/// Error for column `c` (0-based) of a file whose columns exceed the limit.
fn too_many_columns(file: &Path, count: usize, line: usize, col: usize, name: &str) -> ImportError {
    ImportError::new(
        file,
        format!(
            "the file has {count} or more columns, more than the limit of {MAX_IMPORT_COLUMNS}"
        ),
        format!(
            "keep at most {MAX_IMPORT_COLUMNS} columns: drop the ones the personas do not need"
        ),
    )
    .at_line(line)
    .at_col(col)
    .in_column(name)
}

fn read_csv(file: &Path, bytes: &[u8], n: usize) -> Result<Table, ImportError> {
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize);
        let hint = match e.kind() {
            csv::ErrorKind::UnequalLengths { .. } => {
                "give every row one field per header column; quote fields that contain commas"
            }
            csv::ErrorKind::Utf8 { .. } => "save the file as UTF-8",
            _ => "check the file is valid CSV with a header row",
        };
        let err = ImportError::new(file, format!("cannot read CSV: {e}"), hint);
        match line {
            Some(l) => err.at_line(l),
            None => err,
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let columns: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    if columns.len() > MAX_IMPORT_COLUMNS {
        let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let col = csv_field_col(&String::from_utf8_lossy(first_line), MAX_IMPORT_COLUMNS);
        return Err(too_many_columns(
            file,
            columns.len(),
            1,
            col,
            &columns[MAX_IMPORT_COLUMNS],
        ));
    }
    if columns.iter().all(String::is_empty) {
        return Err(ImportError::new(
            file,
            "the file has no header row",
            "start the file with a line of column names, e.g. name,age,region",
        )
        .at_line(1));
    }
    for (i, c) in columns.iter().enumerate() {
        if c.is_empty() {
            return Err(ImportError::new(
                file,
                format!("header column {} has no name", i + 1),
                "name every column in the header row",
            )
            .at_line(1));
        }
    }
    let mut rows = Vec::new();
    let mut starts = Vec::new();
    let mut record = csv::StringRecord::new();
    while rows.len() < n && reader.read_record(&mut record).map_err(csv_error)? {
        let line = record
            .position()
            .map_or(rows.len() + 2, |p| p.line() as usize);
        starts.push(record.position().map_or(usize::MAX, |p| p.byte() as usize));
        rows.push((line, record.iter().map(Cell::from_text).collect()));
    }
    let column_lines = vec![1; columns.len()];
    let column_starts = vec![0; columns.len()];
    Ok(Table {
        file: file.to_path_buf(),
        format: ImportFormat::Csv,
        columns,
        column_lines,
        column_starts,
        rows,
        starts,
    })
}

/// A JSON object with its keys in file order.
struct OrderedObject(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = OrderedObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push(entry);
                }
                Ok(OrderedObject(entries))
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

fn read_jsonl(file: &Path, bytes: &[u8], n: usize) -> Result<Table, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ImportError::new(
            file,
            format!("the file is not valid UTF-8 ({e})"),
            "save the file as UTF-8",
        )
    })?;
    let mut columns: Vec<String> = Vec::new();
    let mut column_lines = Vec::new();
    let mut column_starts = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut sparse: Vec<(usize, Vec<(usize, Cell)>)> = Vec::new();
    let mut starts = Vec::new();
    let mut start = 0;
    for (i, whole) in text.split('\n').enumerate() {
        let line_start = start;
        start += whole.len() + 1;
        if sparse.len() >= n {
            break;
        }
        let line = i + 1;
        let raw = whole.trim();
        if raw.is_empty() {
            continue;
        }
        let object: OrderedObject = serde_json::from_str(raw).map_err(|e| {
            ImportError::new(
                file,
                format!("line is not a JSON object: {e}"),
                "write one object per line, e.g. {\"name\": \"Ana\", \"age\": 34, \"region\": \"north\"}",
            )
            .at_line(line)
        })?;
        if object.0.len() > MAX_IMPORT_COLUMNS {
            let key = &object.0[MAX_IMPORT_COLUMNS].0;
            return Err(too_many_columns(
                file,
                object.0.len(),
                line,
                json_key_col(whole, key),
                key,
            ));
        }
        let mut cells = Vec::with_capacity(object.0.len());
        for (key, value) in object.0 {
            let cell = match value {
                serde_json::Value::Null => Cell::Empty,
                serde_json::Value::Bool(b) => Cell::Str(b.to_string()),
                serde_json::Value::Number(x) => match x.as_f64() {
                    Some(x) => Cell::Num(x),
                    None => Cell::Str(x.to_string()),
                },
                serde_json::Value::String(s) => Cell::from_text(&s),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    return Err(ImportError::new(
                        file,
                        "nested arrays and objects are not supported",
                        "give a plain number, string or null",
                    )
                    .at_line(line)
                    .in_column(&key));
                }
            };
            let col = match index.get(&key) {
                Some(&c) => c,
                None => {
                    if columns.len() >= MAX_IMPORT_COLUMNS {
                        return Err(too_many_columns(
                            file,
                            columns.len() + 1,
                            line,
                            json_key_col(whole, &key),
                            &key,
                        ));
                    }
                    index.insert(key.clone(), columns.len());
                    columns.push(key.clone());
                    column_lines.push(line);
                    column_starts.push(line_start);
                    columns.len() - 1
                }
            };
            if cells.iter().any(|(c, _)| *c == col) {
                return Err(ImportError::new(
                    file,
                    "key appears twice in one object",
                    "keep one value per key",
                )
                .at_line(line)
                .at_col(json_key_col(whole, &key))
                .in_column(&key));
            }
            cells.push((col, cell));
        }
        sparse.push((line, cells));
        starts.push(line_start);
    }
    let width = columns.len();
    let rows = sparse
        .into_iter()
        .map(|(line, cells)| {
            let mut row = vec![Cell::Empty; width];
            for (c, cell) in cells {
                row[c] = cell;
            }
            (line, row)
        })
        .collect();
    Ok(Table {
        file: file.to_path_buf(),
        format: ImportFormat::Jsonl,
        columns,
        column_lines,
        column_starts,
        rows,
        starts,
    })
}

/// Assign roles to columns, derive the schema and convert every cell.
fn build(spec: &PopulationSpec, table: &Table, bytes: &[u8]) -> Result<Imported, ImportError> {
    let file = &table.file;
    let from_spec = !spec.attributes.is_empty();
    let mut roles = Vec::with_capacity(table.columns.len());
    let mut attributes: Vec<AttributeDef> = Vec::new();
    let mut attribute_columns: Vec<usize> = Vec::new();
    if from_spec {
        for a in &spec.attributes {
            let kind = match a.dist.categories() {
                Some(labels) => {
                    AttrKind::Categorical(labels.iter().map(|l| l.to_string()).collect())
                }
                None => AttrKind::Numeric,
            };
            attributes.push(AttributeDef {
                name: a.name.clone(),
                kind,
            });
        }
    }
    for (c, column) in table.columns.iter().enumerate() {
        let at = |msg: String, hint: String| {
            ImportError::new(file, msg, hint)
                .at_line(table.column_lines[c])
                .at_col(table.col_of(bytes, table.column_starts[c], c))
                .in_column(column)
        };
        if table.columns[..c].contains(column) {
            return Err(at(
                "the column appears twice".into(),
                "give every column a distinct name".into(),
            ));
        }
        let ignored = spec
            .import
            .as_ref()
            .is_some_and(|i| i.ignore.iter().any(|c| c == column));
        let role = if ignored {
            Role::Ignored
        } else if column == "name" {
            Role::Name
        } else if column == "narrative" {
            Role::Narrative
        } else if let Some(i) = BIG_FIVE.iter().position(|b| b == column) {
            Role::BigFive(i)
        } else if let Some(i) = spec.custom_traits.iter().position(|t| &t.name == column) {
            Role::Custom(i)
        } else if from_spec {
            let Some(i) = spec.attributes.iter().position(|a| &a.name == column) else {
                let known: Vec<String> = spec
                    .attributes
                    .iter()
                    .map(|a| format!("{:?}", a.name))
                    .collect();
                return Err(at(
                    "the column is not an attribute of the population".into(),
                    format!(
                        "rename it to one of {} (or name, narrative, a Big Five trait or a custom trait), add it to attributes, or remove it",
                        known.join(", ")
                    ),
                ));
            };
            Role::Attribute(i)
        } else {
            attributes.push(AttributeDef {
                name: column.clone(),
                kind: infer_kind(table, c),
            });
            Role::Attribute(attributes.len() - 1)
        };
        if let Role::Attribute(i) = role {
            attribute_columns.push(i);
        }
        roles.push(role);
    }
    if from_spec
        && let Some(missing) = spec
            .attributes
            .iter()
            .enumerate()
            .find(|(i, _)| !attribute_columns.contains(i))
    {
        return Err(ImportError::new(
            file,
            format!("no column for attribute {:?}", missing.1.name),
            format!(
                "add a {:?} column (cells may be empty where the value is unknown), or remove the attribute from the scenario",
                missing.1.name
            ),
        ));
    }
    let label_index: Vec<HashMap<&str, u16>> = attributes
        .iter()
        .map(|a| match &a.kind {
            AttrKind::Categorical(labels) => labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.as_str(), i as u16))
                .collect(),
            _ => HashMap::new(),
        })
        .collect();
    let mut names_seen: HashMap<String, usize> = HashMap::new();
    let mut rows = Vec::with_capacity(table.rows.len());
    for ((line, cells), start) in table.rows.iter().zip(&table.starts) {
        let mut row = ImportedRow {
            name: None,
            narrative: None,
            demographics: vec![AttrValue::Missing; attributes.len()],
            big_five: [None; 5],
            custom: vec![None; spec.custom_traits.len()],
        };
        for (c, ((cell, role), column)) in cells.iter().zip(&roles).zip(&table.columns).enumerate()
        {
            let at = |msg: String, hint: &str| {
                ImportError::new(file, msg, hint)
                    .at_line(*line)
                    .at_col(table.col_of(bytes, *start, c))
                    .in_column(column)
            };
            match *role {
                Role::Name => {
                    if let Some(name) = cell.as_label() {
                        if let Some(first) = names_seen.insert(name.clone(), *line) {
                            return Err(at(
                                format!("name {name:?} is already used on line {first}"),
                                "give each persona a unique name, or leave the cell empty to generate one",
                            ));
                        }
                        row.name = Some(name);
                    }
                }
                Role::Narrative => row.narrative = cell.as_label(),
                Role::Ignored => {}
                Role::BigFive(i) => {
                    row.big_five[i] = trait_value(cell).map_err(|m| at(m, TRAIT_HINT))?
                }
                Role::Custom(i) => {
                    row.custom[i] = trait_value(cell).map_err(|m| at(m, TRAIT_HINT))?
                }
                Role::Attribute(i) => {
                    row.demographics[i] = match (&attributes[i].kind, cell) {
                        (_, Cell::Empty) => AttrValue::Missing,
                        (AttrKind::Numeric, cell) => match cell.as_number() {
                            Some(x) => {
                                if from_spec {
                                    check_bounds(&spec.attributes[i], x)
                                        .map_err(|(m, h)| at(m, &h))?;
                                }
                                AttrValue::Number(x)
                            }
                            None => {
                                return Err(at(
                                    format!("{:?} is not a number", cell.to_string()),
                                    "write a plain number such as 42 or 3.5, or leave the cell empty if unknown",
                                ));
                            }
                        },
                        (AttrKind::Categorical(labels), cell) => {
                            let label = cell.as_label().unwrap_or_default();
                            match label_index[i].get(label.as_str()) {
                                Some(&k) => AttrValue::Category(k),
                                None => {
                                    let known: Vec<String> =
                                        labels.iter().map(|l| format!("{l:?}")).collect();
                                    return Err(at(
                                        format!(
                                            "unknown category {label:?} for attribute {:?}",
                                            attributes[i].name
                                        ),
                                        &format!(
                                            "use one of {}, or add {label:?} to the attribute's categories in the scenario",
                                            known.join(", ")
                                        ),
                                    ));
                                }
                            }
                        }
                        (AttrKind::Text, cell) => AttrValue::Text(cell.to_string().into()),
                    };
                }
            }
        }
        rows.push(row);
    }
    Ok(Imported { attributes, rows })
}

/// Whether imported value `x` lies within the declared `min`/`max` of `attribute`;
/// on failure the problem and the fix.
fn check_bounds(attribute: &crate::AttributeSpec, x: f64) -> Result<(), (String, String)> {
    let (lo, hi) = attribute.dist.bounds();
    let name = &attribute.name;
    let (side, bound) = if x < lo {
        ("below the minimum", lo)
    } else if x > hi {
        ("above the maximum", hi)
    } else {
        return Ok(());
    };
    Err((
        format!("value {x} is {side} {bound} of attribute {name:?}"),
        format!(
            "correct the value, leave the cell empty if it is unknown, or widen min/max of attribute {name:?} in the scenario ({lo}..{hi})"
        ),
    ))
}

const TRAIT_HINT: &str =
    "traits are on a 0..1 scale: write a number such as 0.5, or leave the cell empty to sample it";

fn trait_value(cell: &Cell) -> Result<Option<f32>, String> {
    if *cell == Cell::Empty {
        return Ok(None);
    }
    match cell.as_number() {
        Some(x) if (0.0..=1.0).contains(&x) => Ok(Some(x as f32)),
        Some(x) => Err(format!("trait value must be between 0 and 1, got {x}")),
        None => Err(format!("{:?} is not a number", cell.to_string())),
    }
}

/// Numeric when every non-empty cell is a number; otherwise categorical with labels in
/// order of first appearance (free text beyond [`MAX_CATEGORIES`] distinct values).
fn infer_kind(table: &Table, c: usize) -> AttrKind {
    let cells = || {
        table
            .rows
            .iter()
            .map(move |(_, r)| &r[c])
            .filter(|x| **x != Cell::Empty)
    };
    if cells().next().is_none() {
        return AttrKind::Text;
    }
    if cells().all(|x| x.as_number().is_some()) {
        return AttrKind::Numeric;
    }
    let mut seen = HashSet::new();
    let mut labels = Vec::new();
    for cell in cells() {
        let label = cell.as_label().unwrap_or_default();
        if seen.insert(label.clone()) {
            labels.push(label);
            if labels.len() > MAX_CATEGORIES {
                return AttrKind::Text;
            }
        }
    }
    AttrKind::Categorical(labels)
}
