//! Reading an experiment's tables back, and writing the experiment-wide tables (one
//! file each, not partitioned by run) that are computed from them.
//!
//! [`read_table`] gathers the named columns of every sealed segment file of a table,
//! in a fixed order (arm, replicate, segment), so whatever is computed from them is
//! deterministic. Partial files of an unfinished round are never read.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{
    Array, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringViewArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use crate::layout::segment_of;
use crate::table::TableBuffer;
use crate::{ExportError, Result};

/// A text column stored as codes into its distinct values (tables repeat a few
/// values over millions of rows: item ids, statuses, arms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextColumn {
    codes: Vec<u32>,
    values: Vec<String>,
    index: rustc_hash::FxHashMap<String, u32>,
}

impl TextColumn {
    const NULL: u32 = u32::MAX;

    /// The value of row `i` (`None` where null).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&str> {
        match self.codes.get(i) {
            Some(&c) if c != Self::NULL => self.values.get(c as usize).map(String::as_str),
            _ => None,
        }
    }

    /// The code of row `i`'s value (equal values, equal codes), `None` where null.
    #[inline]
    pub fn code(&self, i: usize) -> Option<u32> {
        self.codes.get(i).copied().filter(|c| *c != Self::NULL)
    }

    /// The value a code stands for.
    #[inline]
    pub fn value(&self, code: u32) -> Option<&str> {
        self.values.get(code as usize).map(String::as_str)
    }

    /// Number of rows.
    #[inline]
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The distinct values seen so far, by code.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Forget the rows, keep the codes: later rows of the same value get the same code.
    fn clear_rows(&mut self) {
        self.codes.clear();
    }

    fn push(&mut self, value: Option<&str>) {
        // Tables repeat a value over long runs of rows (an arm, a round's item): the
        // previous row's code is checked before the index, and a short list of values
        // (statuses, answer labels) is searched before hashing.
        if let Some(&last) = self.codes.last()
            && let (Some(v), Some(seen)) = (value, self.values.get(last as usize))
            && seen == v
        {
            self.codes.push(last);
            return;
        }
        let code = match value {
            None => Self::NULL,
            Some(v) if self.values.len() <= SHORT_DICTIONARY => {
                match self.values.iter().position(|seen| seen == v) {
                    Some(c) => c as u32,
                    None => self.insert(v),
                }
            }
            Some(v) => match self.index.get(v) {
                Some(&c) => c,
                None => self.insert(v),
            },
        };
        self.codes.push(code);
    }

    /// Every row of `col`, in order: each run of equal values (tables repeat a value
    /// over long runs: a round's item, a status) is coded once. A value of at most 12
    /// bytes is held whole in its view, so equal short values are found by comparing
    /// views alone.
    fn push_views(&mut self, col: &StringViewArray) {
        const INLINE: u32 = 12;
        let views = col.views();
        let n = col.len();
        let mut i = 0;
        while i < n {
            let mut j = i + 1;
            if col.is_null(i) {
                while j < n && col.is_null(j) {
                    j += 1;
                }
                self.push_repeated(None, j - i);
            } else {
                let view = views[i];
                let value = col.value(i);
                // The low 32 bits of a view are the value's length.
                let inline = view as u32 <= INLINE;
                while j < n
                    && col.is_valid(j)
                    && (views[j] == view || (!inline && col.value(j) == value))
                {
                    j += 1;
                }
                self.push_repeated(Some(value), j - i);
            }
            i = j;
        }
    }

    /// `n` rows of the same value: its code is found once.
    fn push_repeated(&mut self, value: Option<&str>, n: usize) {
        if n == 0 {
            return;
        }
        self.push(value);
        let code = self.codes[self.codes.len() - 1];
        self.codes.extend(std::iter::repeat_n(code, n - 1));
    }

    fn insert(&mut self, value: &str) -> u32 {
        let c = self.values.len() as u32;
        self.values.push(value.to_string());
        self.index.insert(value.to_string(), c);
        c
    }
}

/// Up to this many distinct values a text column is searched by comparison, not hashed.
const SHORT_DICTIONARY: usize = 8;

/// Named columns of one table over every run, row by row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    /// The arm of each row (from its partition).
    pub arm: TextColumn,
    /// The replicate of each row (from its partition).
    pub replicate: Vec<u32>,
    /// The round of each row.
    pub round: Vec<u32>,
    /// The agent of each row (`None` for rows about the run).
    pub agent: Vec<Option<u32>>,
    /// Requested text columns, in the order asked (null where null or absent).
    pub text: Vec<(String, TextColumn)>,
    /// Requested number columns, as `f64`, in the order asked.
    pub numbers: Vec<(String, Vec<Option<f64>>)>,
}

impl Frame {
    /// An empty frame with the named columns.
    fn with_columns(text: &[&str], numbers: &[&str]) -> Frame {
        Frame {
            text: text
                .iter()
                .map(|c| (c.to_string(), TextColumn::default()))
                .collect(),
            numbers: numbers
                .iter()
                .map(|c| (c.to_string(), Vec::new()))
                .collect(),
            ..Default::default()
        }
    }

    /// Forget the rows, keep the text columns' codes.
    fn clear_rows(&mut self) {
        self.arm.clear_rows();
        self.replicate.clear();
        self.round.clear();
        self.agent.clear();
        for (_, c) in &mut self.text {
            c.clear_rows();
        }
        for (_, c) in &mut self.numbers {
            c.clear();
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.arm.len()
    }

    /// The arm of row `i`.
    #[inline]
    pub fn arm(&self, i: usize) -> &str {
        self.arm.get(i).unwrap_or("")
    }

    /// Whether the frame has no rows.
    pub fn is_empty(&self) -> bool {
        self.arm.is_empty()
    }

    /// The text column `name`.
    pub fn text(&self, name: &str) -> Option<&TextColumn> {
        self.text.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The number column `name`.
    pub fn number(&self, name: &str) -> Option<&[Option<f64>]> {
        self.numbers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn parquet_error(table: &str, path: &Path, source: parquet::errors::ParquetError) -> ExportError {
    ExportError::Parquet {
        table: table.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

/// Sorted subdirectories of `dir` named `key=VALUE`, with their values.
fn partitions(dir: &Path, key: &str) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(value) = name.strip_prefix(&format!("{key}="))
            && path.is_dir()
        {
            found.push((value.to_string(), path));
        }
    }
    found.sort();
    Ok(found)
}

/// The sealed segment files of `table` below `root`, with their arm and replicate, in
/// arm, replicate, segment order.
pub fn segment_files(root: &Path, table: &str) -> Result<Vec<(String, u32, PathBuf)>> {
    let dir = root.join(table);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for (arm, arm_dir) in partitions(&dir, "arm")? {
        let mut replicates: Vec<(u32, PathBuf)> = partitions(&arm_dir, "replicate")?
            .into_iter()
            .filter_map(|(r, p)| r.parse().ok().map(|r| (r, p)))
            .collect();
        replicates.sort();
        for (replicate, rep_dir) in replicates {
            let mut segments: Vec<(u32, PathBuf)> = Vec::new();
            for entry in std::fs::read_dir(&rep_dir).map_err(io(&rep_dir))? {
                let path = entry.map_err(io(&rep_dir))?.path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if let Some(segment) = segment_of(&name) {
                    segments.push((segment, path));
                }
            }
            segments.sort();
            files.extend(
                segments
                    .into_iter()
                    .map(|(_, p)| (arm.clone(), replicate, p)),
            );
        }
    }
    Ok(files)
}

/// Read `text` and `numbers` columns (plus the run keys) of `table` below `root`, over
/// every run; `None` when the table was not written. A requested column a file lacks
/// reads as nulls.
pub fn read_table(
    root: &Path,
    table: &str,
    text: &[&str],
    numbers: &[&str],
) -> Result<Option<Frame>> {
    let files = segment_files(root, table)?;
    if files.is_empty() {
        return Ok(None);
    }
    let mut frame = Frame::with_columns(text, numbers);
    read_files(table, &files, text, numbers, |batch, file| {
        let (arm, replicate, _) = &files[file];
        append(&mut frame, batch, arm, *replicate);
        Ok(())
    })?;
    Ok(Some(frame))
}

/// Read `table` below `root` like [`read_table`], one segment file at a time: `each`
/// gets a frame holding one file's rows (in the same order as [`read_table`]), so
/// memory holds one file whatever the table's size. A text value has the same code in
/// every frame, so tallies keyed by codes can span files. Returns whether the table
/// was written. Files are decoded on a second thread while `each` works.
pub fn scan_table(
    root: &Path,
    table: &str,
    text: &[&str],
    numbers: &[&str],
    mut each: impl FnMut(&Frame) -> Result<()>,
) -> Result<bool> {
    let files = segment_files(root, table)?;
    if files.is_empty() {
        return Ok(false);
    }
    let mut frame = Frame::with_columns(text, numbers);
    let mut current: Option<usize> = None;
    read_files(table, &files, text, numbers, |batch, file| {
        // Files arrive in order: a batch of the next file closes the frame.
        if current.is_some_and(|c| c != file) {
            each(&frame)?;
            frame.clear_rows();
        }
        current = Some(file);
        let (arm, replicate, _) = &files[file];
        append(&mut frame, batch, arm, *replicate);
        Ok(())
    })?;
    if current.is_some() {
        each(&frame)?;
    }
    Ok(true)
}

/// Decode the wanted columns of `files` on a second thread, handing their record
/// batches in order, with the index of their file, to `each` on this one.
fn read_files(
    table: &str,
    files: &[(String, u32, PathBuf)],
    text: &[&str],
    numbers: &[&str],
    mut each: impl FnMut(&RecordBatch, usize) -> Result<()>,
) -> Result<()> {
    // A few batches in flight: decoding runs ahead of `each` without holding a table.
    let (send, receive) = std::sync::mpsc::sync_channel::<Result<(usize, RecordBatch)>>(4);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (index, (_, _, path)) in files.iter().enumerate() {
                let sent = match decode(table, path, text, numbers) {
                    Ok(reader) => reader.into_iter().all(|batch| {
                        let batch = batch.map_err(|e| ExportError::Parquet {
                            table: table.to_string(),
                            path: path.clone(),
                            source: e.into(),
                        });
                        let failed = batch.is_err();
                        send.send(batch.map(|b| (index, b))).is_ok() && !failed
                    }),
                    Err(e) => {
                        let _ = send.send(Err(e));
                        false
                    }
                };
                if !sent {
                    return;
                }
            }
        });
        for message in receive {
            let (index, batch) = message?;
            each(&batch, index)?;
        }
        Ok(())
    })
}

/// Rows per decoded batch: large enough that per-batch work is negligible.
const BATCH_ROWS: usize = 65_536;

/// A reader of the wanted columns of one segment file.
fn decode(
    table: &str,
    path: &Path,
    text: &[&str],
    numbers: &[&str],
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    let file = File::open(path).map_err(io(path))?;
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        .map_err(|e| parquet_error(table, path, e))?;
    // Text is decoded as views into the file's pages, not copied value by value into
    // a new buffer (see `TextColumn::push_views`).
    let stored = metadata.schema();
    let fields: Vec<Field> = stored
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => f.as_ref().clone(),
        })
        .collect();
    let schema = Schema::new_with_metadata(fields, stored.metadata().clone());
    let metadata = ArrowReaderMetadata::try_new(
        metadata.metadata().clone(),
        ArrowReaderOptions::new().with_schema(std::sync::Arc::new(schema)),
    )
    .map_err(|e| parquet_error(table, path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata);
    let wanted: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let n = f.name().as_str();
            n == "round" || n == "agent_id" || text.contains(&n) || numbers.contains(&n)
        })
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| parquet_error(table, path, e))
}

fn append(frame: &mut Frame, batch: &RecordBatch, arm: &str, replicate: u32) {
    let n = batch.num_rows();
    frame.arm.push_repeated(Some(arm), n);
    frame.replicate.extend(std::iter::repeat_n(replicate, n));
    let rounds = numbers_of(batch, "round");
    frame
        .round
        .extend(rounds.iter().map(|r| r.map_or(0, |r| r as u32)));
    let agents = numbers_of(batch, "agent_id");
    frame
        .agent
        .extend(agents.iter().map(|a| a.map(|a| a as u32)));
    for (name, values) in &mut frame.text {
        match batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringViewArray>())
        {
            Some(col) => values.push_views(col),
            None => values.push_repeated(None, n),
        }
    }
    for (name, values) in &mut frame.numbers {
        values.extend(numbers_of(batch, name));
    }
}

/// Column `name` of `batch` as `f64` values; nulls (or an absent or non-numeric
/// column) as `None`.
fn numbers_of(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let n = batch.num_rows();
    let Some(col) = batch.column_by_name(name) else {
        return vec![None; n];
    };
    macro_rules! take {
        ($($ty:ty),*) => {
            $(if let Some(a) = col.as_any().downcast_ref::<$ty>() {
                return (0..n).map(|i| (!a.is_null(i)).then(|| a.value(i) as f64)).collect();
            })*
        };
    }
    take!(
        Float64Array,
        Float32Array,
        UInt32Array,
        UInt64Array,
        Int32Array,
        Int64Array
    );
    vec![None; n]
}

/// Write the rows of `buffer` as the one file of an experiment-wide table,
/// `root/TABLE/part-00000.parquet`, replacing an earlier one (written through a
/// temporary file, so readers never see half of it).
pub fn write_experiment_table(root: &Path, buffer: &mut TableBuffer) -> Result<PathBuf> {
    let spec = buffer.spec().clone();
    let dir = root.join(&spec.name);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let path = dir.join("part-00000.parquet");
    let partial = dir.join(format!(".part-00000.parquet{}", crate::PARTIAL_SUFFIX));
    let file = File::create(&partial).map_err(io(&partial))?;
    let batch = buffer.take_batch()?;
    let mut writer = ArrowWriter::try_new(
        file,
        spec.schema(),
        Some(crate::sink::writer_properties(&spec, batch.num_rows())),
    )
    .map_err(|e| parquet_error(&spec.name, &partial, e))?;
    writer
        .write(&batch)
        .map_err(|e| parquet_error(&spec.name, &partial, e))?;
    writer
        .close()
        .map_err(|e| parquet_error(&spec.name, &partial, e))?;
    std::fs::rename(&partial, &path).map_err(io(&path))?;
    crate::store::publish(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, ColumnType, TableSpec};
    use crate::{OutputLayout, Partition, SinkSet};

    #[test]
    fn tables_read_back_in_partition_order_with_their_keys() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io(Path::new("tmp")))?;
        let layout = OutputLayout::new(dir.path());
        let spec = TableSpec::new(
            "answers",
            vec![
                Column::required("round", ColumnType::U32),
                Column::optional("agent_id", ColumnType::U32),
                Column::required("item", ColumnType::Utf8),
                Column::optional("value", ColumnType::F32),
            ],
        );
        for (arm, replicate) in [("b", 1), ("a", 10), ("a", 2)] {
            let partition = Partition {
                arm: arm.into(),
                replicate,
            };
            let mut sinks = SinkSet::new(16);
            let id = sinks.open(spec.clone(), layout.partition_dir("answers", &partition))?;
            sinks
                .row(id)?
                .u32(1)
                .opt_u32(Some(replicate))
                .str(arm)
                .opt_f32(Some(replicate as f32 / 2.0))
                .end();
            sinks
                .row(id)?
                .u32(1)
                .opt_u32(None)
                .str("run")
                .opt_f32(None)
                .end();
            sinks.seal(2)?;
            sinks.close()?;
        }
        let frame = read_table(dir.path(), "answers", &["item", "missing"], &["value"])?
            .unwrap_or_default();
        let arms: Vec<&str> = (0..frame.len()).map(|i| frame.arm(i)).collect();
        assert_eq!(arms, ["a", "a", "a", "a", "b", "b"]);
        assert_eq!(frame.replicate, [2, 2, 10, 10, 1, 1]);
        assert_eq!(frame.agent, [Some(2), None, Some(10), None, Some(1), None]);
        assert_eq!(frame.number("value").map(|v| v[0]), Some(Some(1.0)));
        assert_eq!(frame.text("missing").map(|v| v.get(0)), Some(None));
        assert_eq!(frame.text("item").and_then(|v| v.get(4)), Some("b"));
        assert_eq!(
            frame.text("item").and_then(|v| v.code(0)),
            frame.text("item").and_then(|v| v.code(2))
        );
        assert_eq!(read_table(dir.path(), "absent", &[], &[])?, None);
        Ok(())
    }

    #[test]
    fn a_scan_gives_one_file_at_a_time_with_codes_kept_across_files() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io(Path::new("tmp")))?;
        let layout = OutputLayout::new(dir.path());
        let spec = TableSpec::new(
            "answers",
            vec![
                Column::required("round", ColumnType::U32),
                Column::optional("agent_id", ColumnType::U32),
                Column::required("label", ColumnType::Utf8),
            ],
        );
        let partition = Partition {
            arm: "a".into(),
            replicate: 0,
        };
        let mut sinks = SinkSet::new(16);
        let id = sinks.open(spec.clone(), layout.partition_dir("answers", &partition))?;
        // Two rounds, each sealed into its own segment file; "yes" in both.
        for (round, labels) in [(1, ["yes", "no"]), (2, ["maybe", "yes"])] {
            for (agent, label) in labels.iter().enumerate() {
                sinks
                    .row(id)?
                    .u32(round)
                    .opt_u32(Some(agent as u32))
                    .str(label)
                    .end();
            }
            sinks.seal(round)?;
        }
        sinks.close()?;
        let mut seen = Vec::new();
        let written = scan_table(dir.path(), "answers", &["label"], &[], |frame| {
            let labels = frame.text("label").unwrap_or_else(|| unreachable!());
            seen.push((
                frame.round.clone(),
                (0..frame.len()).map(|i| labels.code(i)).collect::<Vec<_>>(),
                labels.values().to_vec(),
            ));
            Ok(())
        })?;
        assert!(written);
        assert_eq!(seen.len(), 2, "one frame per segment file");
        assert_eq!(seen[0].0, [1, 1]);
        assert_eq!(seen[1].0, [2, 2]);
        // "yes" has code 0 in both files; "maybe" is new in the second.
        assert_eq!(seen[0].1, [Some(0), Some(1)]);
        assert_eq!(seen[1].1, [Some(2), Some(0)]);
        assert_eq!(seen[1].2, ["yes", "no", "maybe"]);
        let whole = read_table(dir.path(), "answers", &["label"], &[])?.unwrap_or_default();
        assert_eq!(whole.round, [1, 1, 2, 2]);
        assert!(!scan_table(dir.path(), "absent", &[], &[], |_| Ok(()))?);
        // An error from the caller stops the scan and comes back.
        let stopped = scan_table(dir.path(), "answers", &["label"], &[], |_| {
            Err(ExportError::Io {
                path: PathBuf::from("stop"),
                source: std::io::Error::other("stop"),
            })
        });
        assert!(stopped.is_err());
        Ok(())
    }

    #[test]
    fn text_codes_are_the_same_past_the_short_dictionary() {
        let mut column = TextColumn::default();
        let values: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        for v in values.iter().chain(values.iter().rev()) {
            column.push(Some(v));
        }
        column.push(None);
        for i in 0..20 {
            assert_eq!(column.code(i), Some(i as u32));
            assert_eq!(column.code(39 - i), Some(i as u32));
        }
        assert_eq!(column.get(40), None);
        assert_eq!(column.values().len(), 20);
    }

    #[test]
    fn repeated_rows_are_the_rows_pushed_one_by_one() {
        let mut whole = TextColumn::default();
        let mut single = TextColumn::default();
        for (value, n) in [
            (Some("a"), 3),
            (None, 2),
            (Some("b"), 0),
            (Some("a"), 1),
            (Some("b"), 2),
        ] {
            whole.push_repeated(value, n);
            for _ in 0..n {
                single.push(value);
            }
        }
        assert_eq!(whole, single);
        assert_eq!(whole.len(), 8);
        assert_eq!(whole.get(5), Some("a"));
        assert_eq!(whole.code(3), None);
    }

    #[test]
    fn an_array_is_coded_as_its_rows_pushed_one_by_one() {
        // Short values (held in their views) and long ones (in the array's buffers),
        // runs of each, and long values that share their first bytes.
        let rows: Vec<Option<String>> = (0..200)
            .map(|i| match i % 23 {
                0 | 1 => None,
                k if k < 8 => Some(format!("v{}", i / 7)),
                k if k < 12 => Some(format!("a long shared prefix {}", i / 5)),
                k if k < 14 => Some("exactly12byt".to_string()),
                _ => Some("same".to_string()),
            })
            .collect();
        let array = StringViewArray::from(rows.clone());
        let mut whole = TextColumn::default();
        let mut single = TextColumn::default();
        // Twice: codes carry over from one array to the next, as from file to file.
        for _ in 0..2 {
            whole.push_views(&array);
            for row in &rows {
                single.push(row.as_deref());
            }
        }
        assert_eq!(whole, single);
        assert_eq!(whole.len(), 400);
        assert!(whole.values().len() > SHORT_DICTIONARY);
        let mut empty = TextColumn::default();
        empty.push_views(&StringViewArray::from(Vec::<Option<&str>>::new()));
        assert!(empty.is_empty());
    }
}
