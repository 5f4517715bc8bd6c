//! Reading an experiment's tables: every sealed segment file of a table, as columns.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};

use crate::error::{ReportError, Result};

/// All rows of one table of an experiment, as the record batches of its files.
pub struct Table {
    /// Table name (its directory under the experiment).
    pub name: String,
    /// The table's directory.
    pub dir: PathBuf,
    batches: Vec<RecordBatch>,
}

impl Table {
    /// Read the columns `columns` of table `name` below `root`, or `None` when the
    /// experiment has no such table (no directory, or no sealed segment file in it).
    /// Only the columns asked for are decoded; asking for a column the table lacks is
    /// an error when the column is used.
    pub fn read(root: &Path, name: &str, columns: &[&str]) -> Result<Option<Self>> {
        Self::read_where(root, name, columns, None)
    }

    /// Like [`Table::read`], keeping only the rows whose text column `filter.0` equals
    /// `filter.1` (decided while decoding, so other rows' columns are never built).
    pub fn read_where(
        root: &Path,
        name: &str,
        columns: &[&str],
        filter: Option<(&str, &str)>,
    ) -> Result<Option<Self>> {
        let dir = root.join(name);
        if !dir.is_dir() {
            return Ok(None);
        }
        let files = segment_files(&dir, name)?;
        if files.is_empty() {
            return Ok(None);
        }
        let mut batches = Vec::new();
        for path in files {
            let unreadable = |reason: String| ReportError::Table {
                table: name.to_string(),
                path: path.clone(),
                reason,
            };
            let file = File::open(&path).map_err(|e| unreadable(e.to_string()))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| unreadable(e.to_string()))?;
            let wanted: Vec<usize> = builder
                .schema()
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| columns.contains(&f.name().as_str()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
            let mut builder = builder.with_projection(mask);
            if let Some((column, value)) = filter {
                let Some(index) = builder.schema().index_of(column).ok() else {
                    continue; // a file without the column holds no matching row
                };
                let value = value.to_string();
                let predicate = ArrowPredicateFn::new(
                    ProjectionMask::roots(builder.parquet_schema(), [index]),
                    move |batch: RecordBatch| {
                        let column = batch.column(0);
                        let matches: BooleanArray = match column.data_type() {
                            DataType::Utf8 => column
                                .as_string::<i32>()
                                .iter()
                                .map(|v| Some(v == Some(value.as_str())))
                                .collect(),
                            DataType::LargeUtf8 => column
                                .as_string::<i64>()
                                .iter()
                                .map(|v| Some(v == Some(value.as_str())))
                                .collect(),
                            _ => BooleanArray::from(vec![false; batch.num_rows()]),
                        };
                        Ok(matches)
                    },
                );
                builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
            }
            let reader = builder.build().map_err(|e| unreadable(e.to_string()))?;
            for batch in reader {
                batches.push(batch.map_err(|e| unreadable(e.to_string()))?);
            }
        }
        Ok(Some(Self {
            name: name.to_string(),
            dir,
            batches,
        }))
    }

    /// Rows over all files.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Whether the table has a column called `column`.
    pub fn has(&self, column: &str) -> bool {
        self.batches
            .first()
            .is_some_and(|b| b.schema().column_with_name(column).is_some())
    }

    fn column_error(
        &self,
        column: &str,
        expected: &'static str,
        found: Option<&DataType>,
    ) -> ReportError {
        ReportError::Column {
            table: self.name.clone(),
            path: self.dir.clone(),
            column: column.to_string(),
            expected,
            found: found
                .map(|t| format!(" (it holds {t})"))
                .unwrap_or_default(),
        }
    }

    fn arrays(&self, column: &str, expected: &'static str) -> Result<Vec<&dyn Array>> {
        self.batches
            .iter()
            .map(|b| {
                b.column_by_name(column)
                    .map(|a| a.as_ref())
                    .ok_or_else(|| self.column_error(column, expected, None))
            })
            .collect()
    }

    /// The text values of `column` as codes into the distinct values, in row order:
    /// one string per distinct value rather than per row.
    pub fn coded(&self, column: &str) -> Result<Coded> {
        let mut coded = Coded::default();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut push = |v: Option<&str>, coded: &mut Coded| {
            let code = match v {
                None => NULL_CODE,
                Some(v) => match index.get(v) {
                    Some(c) => *c,
                    None => {
                        let c = coded.values.len() as u32;
                        coded.values.push(v.to_string());
                        index.insert(v.to_string(), c);
                        c
                    }
                },
            };
            coded.codes.push(code);
        };
        for array in self.arrays(column, "text")? {
            match array.data_type() {
                DataType::Utf8 => array
                    .as_string::<i32>()
                    .iter()
                    .for_each(|v| push(v, &mut coded)),
                DataType::LargeUtf8 => array
                    .as_string::<i64>()
                    .iter()
                    .for_each(|v| push(v, &mut coded)),
                DataType::Utf8View => array
                    .as_string_view()
                    .iter()
                    .for_each(|v| push(v, &mut coded)),
                other => return Err(self.column_error(column, "text", Some(other))),
            }
        }
        Ok(coded)
    }

    /// The text values of `column` (`None` for nulls), in row order.
    pub fn text(&self, column: &str) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(self.rows());
        for array in self.arrays(column, "text")? {
            match array.data_type() {
                DataType::Utf8 => out.extend(
                    array
                        .as_string::<i32>()
                        .iter()
                        .map(|v| v.map(str::to_string)),
                ),
                DataType::LargeUtf8 => out.extend(
                    array
                        .as_string::<i64>()
                        .iter()
                        .map(|v| v.map(str::to_string)),
                ),
                DataType::Utf8View => {
                    out.extend(array.as_string_view().iter().map(|v| v.map(str::to_string)))
                }
                other => return Err(self.column_error(column, "text", Some(other))),
            }
        }
        Ok(out)
    }

    /// The text values of `column`, nulls as empty strings.
    pub fn text_or_empty(&self, column: &str) -> Result<Vec<String>> {
        Ok(self
            .text(column)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    /// The values of a numeric `column` as `f64` (`None` for nulls), in row order.
    pub fn numbers(&self, column: &str) -> Result<Vec<Option<f64>>> {
        let mut out = Vec::with_capacity(self.rows());
        for array in self.arrays(column, "number")? {
            match array.data_type() {
                DataType::Float64 => out.extend(array.as_primitive::<Float64Type>().iter()),
                DataType::Float32 => out.extend(
                    array
                        .as_primitive::<Float32Type>()
                        .iter()
                        .map(|v| v.map(f64::from)),
                ),
                DataType::UInt32 => out.extend(
                    array
                        .as_primitive::<UInt32Type>()
                        .iter()
                        .map(|v| v.map(f64::from)),
                ),
                DataType::Int32 => out.extend(
                    array
                        .as_primitive::<Int32Type>()
                        .iter()
                        .map(|v| v.map(f64::from)),
                ),
                DataType::UInt64 => out.extend(
                    array
                        .as_primitive::<UInt64Type>()
                        .iter()
                        .map(|v| v.map(|x| x as f64)),
                ),
                DataType::Int64 => out.extend(
                    array
                        .as_primitive::<Int64Type>()
                        .iter()
                        .map(|v| v.map(|x| x as f64)),
                ),
                other => return Err(self.column_error(column, "number", Some(other))),
            }
        }
        Ok(out)
    }

    /// The values of a whole-number `column` (nulls as 0), in row order.
    pub fn counts(&self, column: &str) -> Result<Vec<u64>> {
        let values = self.numbers(column)?;
        Ok(values
            .into_iter()
            .map(|v| v.map_or(0, |x| if x > 0.0 { x as u64 } else { 0 }))
            .collect())
    }

    /// The values of a boolean `column` (nulls as false), in row order.
    pub fn flags(&self, column: &str) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(self.rows());
        for array in self.arrays(column, "boolean")? {
            match array.data_type() {
                DataType::Boolean => {
                    out.extend(array.as_boolean().iter().map(|v| v.unwrap_or(false)))
                }
                other => return Err(self.column_error(column, "boolean", Some(other))),
            }
        }
        Ok(out)
    }
}

/// The code of a null in [`Coded`].
pub const NULL_CODE: u32 = u32::MAX;

/// A text column as codes into its distinct values (in order of first appearance).
#[derive(Debug, Default)]
pub struct Coded {
    /// The distinct values.
    pub values: Vec<String>,
    /// One code per row: an index into `values`, or [`NULL_CODE`].
    pub codes: Vec<u32>,
}

impl Coded {
    /// The value of row `i` (empty for a null).
    pub fn get(&self, i: usize) -> &str {
        match self.codes.get(i) {
            Some(&c) if c != NULL_CODE => &self.values[c as usize],
            _ => "",
        }
    }

    /// The code of `value`, if it occurs.
    pub fn code_of(&self, value: &str) -> Option<u32> {
        self.values
            .iter()
            .position(|v| v == value)
            .map(|c| c as u32)
    }
}

/// The sealed segment files below a table's directory (any depth of hive partitions),
/// in a fixed order. Hidden files (segments still being written) are skipped.
fn segment_files(dir: &Path, table: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| ReportError::Table {
            table: table.to_string(),
            path: d.clone(),
            reason: e.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| ReportError::Table {
                table: table.to_string(),
                path: d.clone(),
                reason: e.to_string(),
            })?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if agora_export::segment_of(&name).is_some() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The names of the table directories of an experiment (those holding segment files),
/// sorted.
pub fn table_names(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(root).map_err(|e| ReportError::Table {
        table: "(listing)".to_string(),
        path: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        if !segment_files(&entry.path(), &name)?.is_empty() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}
