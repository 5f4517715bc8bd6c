//! Streaming Parquet sinks on a background writer thread.
//!
//! The simulation thread logs rows (a few stores per value); full logs are handed to
//! one writer thread that builds them into Arrow batches, encodes and compresses them,
//! so all of that overlaps with the next rows' work. Memory stays bounded by the batch
//! size and the channel depth.
//!
//! Rows are written in *segments* (a run's set-up, then one per round): each table's
//! rows of a segment go to one file of its directory, `part-0000r.parquet`, written
//! under a hidden `.part-0000r.parquet.partial` name (which dataset readers skip) and
//! renamed when the segment is sealed, so a complete file is always readable and a
//! process killed mid-round leaves only partial files.
//! A table without rows in a segment has no file for it; a table that never had a row
//! gets one empty file when the set is closed, so its schema can still be read.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

use crate::layout::{PARTIAL_SUFFIX, segment_file_name};
use crate::table::{BatchAssembler, ColumnType, Constant, Row, RowLog, TableSpec};
use crate::{ExportError, Result};

/// Handle of a table opened in a [`SinkSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableId(usize);

impl TableId {
    /// Position of the table among those opened, from 0.
    pub fn index(self) -> usize {
        self.0
    }
}

/// What one table ended up holding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSummary {
    /// Table name.
    pub name: String,
    /// Directory of the table's segment files.
    pub path: PathBuf,
    /// Rows written, earlier segments included.
    pub rows: u64,
}

enum Msg {
    /// A table writing into a directory, with rows already written there before, and
    /// its constant columns and rows per batch.
    Open(TableSpec, PathBuf, u64, Vec<Constant>, usize),
    /// Rows of an open table, to be built into a batch and written.
    Rows(usize, RowLog),
    Flush,
    /// Close the current segment's files, start segment `n`, and say when done.
    Seal(u32, SyncSender<()>),
    /// Leave the current segment's files incomplete (hidden partial files): the
    /// segment was not finished.
    Abandon,
}

/// A segment handed to the writer thread to seal (see [`SinkSet::seal_in_background`]).
#[must_use = "a receipt says when the sealed segment is on disk"]
pub struct SealReceipt {
    sealed: Option<Receiver<()>>,
}

impl SealReceipt {
    /// A receipt for a segment complete already (nothing to wait for).
    pub fn complete() -> Self {
        Self { sealed: None }
    }

    /// Block until the segment's files are complete: `true` if they are, `false` if the
    /// writer stopped on an error first (the set reports the error).
    pub fn wait(self) -> bool {
        self.sealed.is_none_or(|sealed| sealed.recv().is_ok())
    }
}

/// A set of Parquet tables written by one background thread.
pub struct SinkSet {
    tx: Option<SyncSender<Msg>>,
    worker: Option<JoinHandle<Result<Vec<TableSummary>>>>,
    buffers: Vec<RowLog>,
    batch_rows: usize,
}

impl SinkSet {
    /// Start the writer thread at segment 0; batches are shipped every `batch_rows` rows.
    pub fn new(batch_rows: usize) -> Self {
        Self::starting_at(batch_rows, 0)
    }

    /// Start the writer thread at segment `segment` (a resumed run continues after
    /// the segments it sealed before).
    pub fn starting_at(batch_rows: usize, segment: u32) -> Self {
        let (tx, rx) = sync_channel::<Msg>(4);
        let worker = std::thread::Builder::new()
            .name("agora-parquet".into())
            .spawn(move || write_loop(rx, segment))
            .expect("spawning the Parquet writer thread");
        Self {
            tx: Some(tx),
            worker: Some(worker),
            buffers: Vec::new(),
            batch_rows: batch_rows.max(1),
        }
    }

    /// Open a table whose segment files go to directory `dir` (created on first write).
    pub fn open(&mut self, spec: TableSpec, dir: PathBuf) -> Result<TableId> {
        self.open_with_constants(spec, dir, Vec::new(), 0)
    }

    /// Open a table whose first columns hold `constants` in every row; `rows_before`
    /// rows were written to `dir` by earlier segments of the same run.
    pub fn open_with_constants(
        &mut self,
        spec: TableSpec,
        dir: PathBuf,
        constants: Vec<Constant>,
        rows_before: u64,
    ) -> Result<TableId> {
        let id = TableId(self.buffers.len());
        let capacity = self.batch_rows.min(1 << 16);
        self.buffers
            .push(RowLog::new(&spec, constants.len(), capacity));
        self.send(Msg::Open(spec, dir, rows_before, constants, capacity))?;
        Ok(id)
    }

    /// Start a row of table `id`; full buffers are shipped to the writer first.
    #[inline]
    pub fn row(&mut self, id: TableId) -> Result<Row<'_>> {
        if self.buffers[id.0].len() >= self.batch_rows {
            self.ship(id.0)?;
        }
        Ok(self.buffers[id.0].row())
    }

    /// Ship every pending row and close the current row group of every table.
    pub fn flush(&mut self) -> Result<()> {
        for i in 0..self.buffers.len() {
            if !self.buffers[i].is_empty() {
                self.ship(i)?;
            }
        }
        self.send(Msg::Flush)
    }

    /// Ship every pending row, complete the current segment's files (they become
    /// readable under their final names) and start segment `next`. Returns once the
    /// files are complete, so a checkpoint written afterwards never names a segment
    /// that is not on disk.
    pub fn seal(&mut self, next: u32) -> Result<()> {
        if self.seal_in_background(next)?.wait() {
            return Ok(());
        }
        // The writer stopped on an error before sealing: surface it.
        self.tx = None;
        match self.worker.take().map(|w| w.join()) {
            Some(Ok(Err(e))) => Err(e),
            _ => Err(ExportError::WriterGone),
        }
    }

    /// Like [`SinkSet::seal`], but return at once: rows appended from now on belong to
    /// segment `next`, and the receipt says when the writer thread has completed the
    /// sealed segment's files. The simulation goes on while the writer catches up; a
    /// checkpoint naming the segment waits for the receipt. A failed seal also stops
    /// the writer, so the set's next call reports its error.
    pub fn seal_in_background(&mut self, next: u32) -> Result<SealReceipt> {
        for i in 0..self.buffers.len() {
            if !self.buffers[i].is_empty() {
                self.ship(i)?;
            }
        }
        let (done, sealed) = sync_channel(1);
        self.send(Msg::Seal(next, done))?;
        Ok(SealReceipt {
            sealed: Some(sealed),
        })
    }

    /// Write everything, close the files and report what each table holds.
    pub fn close(mut self) -> Result<Vec<TableSummary>> {
        let flushed = self.flush();
        self.tx = None;
        match self.worker.take() {
            Some(worker) => {
                // The worker's own error explains a failed flush best.
                let summaries = worker.join().unwrap_or(Err(ExportError::WriterGone))?;
                flushed?;
                Ok(summaries)
            }
            // The worker already stopped; a failed send has collected its error.
            None => Err(flushed.err().unwrap_or(ExportError::WriterGone)),
        }
    }

    // Once a batch: kept out of line so that starting a row stays a few instructions.
    #[inline(never)]
    fn ship(&mut self, index: usize) -> Result<()> {
        let rows = self.buffers[index].take();
        self.send(Msg::Rows(index, rows))
    }

    fn send(&mut self, msg: Msg) -> Result<()> {
        let tx = self.tx.as_ref().ok_or(ExportError::WriterGone)?;
        if tx.send(msg).is_err() {
            // The worker stopped on an error: surface it.
            self.tx = None;
            return match self.worker.take().map(|w| w.join()) {
                Some(Ok(Err(e))) => Err(e),
                _ => Err(ExportError::WriterGone),
            };
        }
        Ok(())
    }
}

impl Drop for SinkSet {
    fn drop(&mut self) {
        // Dropping without close (an error path): the segment in progress was not
        // finished, so its files stay partial (hidden; a resumed run discards them);
        // every sealed segment is complete already.
        if let Some(tx) = self.tx.as_ref() {
            let _ = tx.send(Msg::Abandon);
        }
        self.tx = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

struct OpenTable {
    name: String,
    spec: TableSpec,
    /// Builds the table's batches from the rows the simulation logged.
    assembler: BatchAssembler,
    dir: PathBuf,
    /// The current segment's file (under its partial name) while rows are written.
    writer: Option<(ArrowWriter<File>, PathBuf)>,
    rows: u64,
}

impl OpenTable {
    fn parquet_err(
        &self,
        path: &std::path::Path,
        source: parquet::errors::ParquetError,
    ) -> ExportError {
        ExportError::Parquet {
            table: self.name.clone(),
            path: path.to_path_buf(),
            source,
        }
    }

    /// The writer of segment `segment`, created on the first rows of the segment
    /// (`first_rows` of them: a small first batch means a small file, see
    /// [`writer_properties`]).
    fn writer(&mut self, segment: u32, first_rows: usize) -> Result<&mut ArrowWriter<File>> {
        if self.writer.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(|source| ExportError::Io {
                path: self.dir.clone(),
                source,
            })?;
            let path = self
                .dir
                .join(format!(".{}{PARTIAL_SUFFIX}", segment_file_name(segment)));
            let file = File::create(&path).map_err(|source| ExportError::Io {
                path: path.clone(),
                source,
            })?;
            let writer = ArrowWriter::try_new(
                file,
                self.spec.schema(),
                Some(writer_properties(&self.spec, first_rows)),
            )
            .map_err(|e| self.parquet_err(&path, e))?;
            self.writer = Some((writer, path));
        }
        match self.writer.as_mut() {
            Some((w, _)) => Ok(w),
            None => Err(ExportError::WriterGone),
        }
    }

    /// Finish the current segment's file and give it its final name.
    fn seal(&mut self) -> Result<()> {
        let Some((writer, partial)) = self.writer.take() else {
            return Ok(());
        };
        writer.close().map_err(|e| self.parquet_err(&partial, e))?;
        let final_name = partial
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let final_name = final_name
            .trim_start_matches('.')
            .trim_end_matches(PARTIAL_SUFFIX)
            .to_string();
        let done = partial.with_file_name(final_name);
        std::fs::rename(&partial, &done).map_err(|source| ExportError::Io {
            path: done.clone(),
            source,
        })?;
        // An object-store output gets the sealed file now (a local one: nothing to do).
        crate::store::publish(&done)?;
        Ok(())
    }

    /// A table that never had a row gets one empty file, so its schema can be read.
    fn ensure_file(&mut self, segment: u32) -> Result<()> {
        if self.rows == 0 {
            self.writer(segment, 0)?;
            self.seal()?;
        }
        Ok(())
    }
}

/// Rows per Parquet row group. A row group is held in memory until it is complete, so
/// this bounds the writer's memory whatever the population size.
const ROW_GROUP_ROWS: usize = 1 << 17;

/// A segment file whose first batch has fewer rows than this is written uncompressed.
/// Batches are shipped full (thousands of rows) or when the segment is sealed, so a
/// small first batch is a small file: the rounds of a debate or an auction write a
/// few dozen rows per table. Compressing them saves a few hundred bytes, and setting up
/// zstd for each column of each such file (a compression and a decompression context
/// per column) took about a seventh of the CPU time of an experiment of 32 debates.
pub const SMALL_FILE_ROWS: usize = 256;

/// Writer settings for one table: zstd (none for a small file, see
/// [`SMALL_FILE_ROWS`]), bounded row groups, plain encoding, and min/max statistics
/// only on non-text columns (keys and numbers are what queries filter on; text
/// statistics cost a comparison per value and rarely prune anything).
///
/// Dictionary encoding is off: on these tables (many repeated short strings) plain
/// encoding plus zstd gave smaller files and took about 40% less writer time than
/// dictionary encoding, whose per-value hashing dominated the writer thread.
///
/// Pages are version 2 (every reader of the formats Agora supports reads them): a
/// version-1 page is copied whole into a buffer with its levels, compressed into one
/// sized for the uncompressed page, regrown to zstd's bound (copying it) and shrunk
/// again, where a version-2 page compresses its values straight into the page (the
/// writer thread's instructions -15% on a 20,000-agent survey). Values stay plain:
/// version 2's defaults would switch to delta encodings.
pub(crate) fn writer_properties(spec: &TableSpec, first_rows: usize) -> WriterProperties {
    let compression = if first_rows < SMALL_FILE_ROWS {
        Compression::UNCOMPRESSED
    } else {
        Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default())
    };
    let mut builder = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_enabled(false)
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_encoding(Encoding::PLAIN);
    for column in spec.columns.iter().filter(|c| c.ty == ColumnType::Utf8) {
        builder = builder.set_column_statistics_enabled(
            ColumnPath::from(column.name.as_str()),
            EnabledStatistics::None,
        );
    }
    builder.build()
}

fn write_loop(rx: Receiver<Msg>, first_segment: u32) -> Result<Vec<TableSummary>> {
    let mut tables: Vec<OpenTable> = Vec::new();
    let mut segment = first_segment;
    let mut abandoned = false;
    let result = (|| -> Result<()> {
        for msg in rx.iter() {
            match msg {
                Msg::Open(spec, dir, rows_before, constants, capacity) => tables.push(OpenTable {
                    name: spec.name.clone(),
                    assembler: BatchAssembler::new(spec.clone(), capacity, constants),
                    spec,
                    dir,
                    writer: None,
                    rows: rows_before,
                }),
                Msg::Rows(i, rows) => {
                    let table = &mut tables[i];
                    let batch = table.assembler.assemble(&rows)?;
                    table.rows += batch.num_rows() as u64;
                    let writer = table.writer(segment, batch.num_rows())?;
                    if let Err(e) = writer.write(&batch) {
                        let path = table
                            .writer
                            .as_ref()
                            .map(|w| w.1.clone())
                            .unwrap_or_default();
                        return Err(table.parquet_err(&path, e));
                    }
                }
                Msg::Flush => {
                    for table in &mut tables {
                        if let Some((w, path)) = table.writer.as_mut()
                            && let Err(e) = w.flush()
                        {
                            let path = path.clone();
                            return Err(table.parquet_err(&path, e));
                        }
                    }
                }
                Msg::Seal(next, done) => {
                    for table in &mut tables {
                        table.seal()?;
                    }
                    segment = next;
                    let _ = done.send(());
                }
                Msg::Abandon => {
                    for table in &mut tables {
                        table.writer = None;
                    }
                    abandoned = true;
                }
            }
        }
        Ok(())
    })();
    // Complete every file, also after an error, so rows already written stay readable.
    let mut summaries = Vec::with_capacity(tables.len());
    let mut close_error = None;
    for mut table in tables {
        let closed = if abandoned {
            Ok(())
        } else if result.is_ok() {
            table.seal().and_then(|()| table.ensure_file(segment))
        } else {
            table.seal()
        };
        if let Err(e) = closed {
            close_error.get_or_insert(e);
        }
        summaries.push(TableSummary {
            name: table.name,
            path: table.dir,
            rows: table.rows,
        });
    }
    result?;
    match close_error {
        Some(e) => Err(e),
        None => Ok(summaries),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, ColumnType};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn spec() -> TableSpec {
        TableSpec::new(
            "numbers",
            vec![
                Column::required("i", ColumnType::U64),
                Column::required("s", ColumnType::Utf8),
            ],
        )
    }

    fn write(dir: &std::path::Path, rows: u64) -> PathBuf {
        let path = dir.join("numbers/part-00000.parquet");
        let mut sinks = SinkSet::new(1000);
        let t = sinks.open(spec(), dir.join("numbers")).unwrap();
        for i in 0..rows {
            sinks.row(t).unwrap().u64(i).str(&format!("row {i}")).end();
            if i % 2500 == 0 {
                sinks.flush().unwrap();
            }
        }
        let summary = sinks.close().unwrap();
        assert_eq!(summary[0].rows, rows);
        path
    }

    #[test]
    fn streamed_rows_read_back_in_order_and_bytes_are_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(&dir.path().join("a"), 10_000);
        let b = write(&dir.path().join("b"), 10_000);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&a).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let mut next = 0u64;
        for batch in reader {
            let batch = batch.unwrap();
            let col = batch
                .column(0)
                .as_any()
                .downcast_ref::<arrow_array::UInt64Array>()
                .unwrap();
            for v in col.values() {
                assert_eq!(*v, next);
                next += 1;
            }
        }
        assert_eq!(next, 10_000);
    }

    #[test]
    fn segments_become_files_when_sealed_and_empty_tables_get_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut sinks = SinkSet::new(10);
        let t = sinks.open(spec(), dir.path().join("numbers")).unwrap();
        let empty = sinks
            .open(
                TableSpec::new("empty", vec![Column::required("i", ColumnType::U64)]),
                dir.path().join("empty"),
            )
            .unwrap();
        let _ = empty;
        sinks.row(t).unwrap().u64(1).str("a").end();
        sinks.seal(1).unwrap();
        // Segment 1 has no rows: no file. Segment 2 has two.
        sinks.seal(2).unwrap();
        sinks.row(t).unwrap().u64(2).str("b").end();
        sinks.row(t).unwrap().u64(3).str("c").end();
        let partial = dir.path().join("numbers/.part-00002.parquet.partial");
        sinks.flush().unwrap();
        let summary = sinks.close().unwrap();
        assert!(!partial.exists(), "closing seals the last segment");
        let mut files: Vec<String> = std::fs::read_dir(dir.path().join("numbers"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, ["part-00000.parquet", "part-00002.parquet"]);
        assert_eq!(summary[0].rows, 3);
        let empty: Vec<_> = std::fs::read_dir(dir.path().join("empty"))
            .unwrap()
            .collect();
        assert_eq!(empty.len(), 1, "a table without rows still has a file");
    }

    #[test]
    fn a_segment_sealed_in_background_is_complete_when_its_receipt_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let mut sinks = SinkSet::new(10);
        let t = sinks.open(spec(), dir.path().join("numbers")).unwrap();
        for i in 0..25 {
            sinks.row(t).unwrap().u64(i).str("a").end();
        }
        let sealed = sinks.seal_in_background(1).unwrap();
        // Rows appended after the call belong to the next segment.
        sinks.row(t).unwrap().u64(25).str("b").end();
        assert!(sealed.wait());
        let first = dir.path().join("numbers/part-00000.parquet");
        let rows: usize = ParquetRecordBatchReaderBuilder::try_new(File::open(&first).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        assert_eq!(rows, 25, "segment 0 holds the rows before the seal");
        let summary = sinks.close().unwrap();
        assert_eq!(summary[0].rows, 26);
        assert!(dir.path().join("numbers/part-00001.parquet").exists());
        assert!(SealReceipt::complete().wait());
    }

    #[test]
    fn a_background_seal_the_writer_could_not_complete_says_so_and_the_set_reports_why() {
        let dir = tempfile::tempdir().unwrap();
        // A directory holds the segment's final name: the file is written, but the
        // writer cannot give it that name when it seals it.
        let table_dir = dir.path().join("file");
        std::fs::create_dir_all(table_dir.join("part-00000.parquet").join("taken")).unwrap();
        let mut sinks = SinkSet::new(10);
        let t = sinks.open(spec(), table_dir).unwrap();
        sinks.row(t).unwrap().u64(1).str("a").end();
        // The writer fails on the segment's file: the seal is never completed.
        match sinks.seal_in_background(1) {
            Ok(sealed) => assert!(!sealed.wait()),
            Err(e) => assert!(e.to_string().contains("file"), "{e}"),
        }
        let err = sinks.close().unwrap_err().to_string();
        assert!(err.contains("file"), "{err}");
    }

    #[test]
    fn a_small_segment_file_is_written_uncompressed_and_a_large_one_with_zstd() {
        let dir = tempfile::tempdir().unwrap();
        let mut sinks = SinkSet::new(1000);
        let t = sinks.open(spec(), dir.path().join("numbers")).unwrap();
        let rows = |sinks: &mut SinkSet, n: u64| {
            for i in 0..n {
                sinks.row(t).unwrap().u64(i).str("a repeated text").end();
            }
        };
        rows(&mut sinks, (SMALL_FILE_ROWS - 1) as u64);
        sinks.seal(1).unwrap();
        rows(&mut sinks, SMALL_FILE_ROWS as u64);
        sinks.close().unwrap();
        let codec = |segment: &str| {
            let file = File::open(dir.path().join("numbers").join(segment)).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
            reader.metadata().row_group(0).column(1).compression()
        };
        assert_eq!(
            codec("part-00000.parquet"),
            parquet::basic::Compression::UNCOMPRESSED
        );
        assert!(matches!(
            codec("part-00001.parquet"),
            parquet::basic::Compression::ZSTD(_)
        ));
    }

    #[test]
    fn an_unwritable_path_is_reported_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let mut sinks = SinkSet::new(10);
        // The open is asynchronous; the error surfaces at the latest on close.
        let _ = sinks.open(spec(), blocker.join("t"));
        let err = sinks.close().unwrap_err().to_string();
        assert!(err.contains("file"), "{err}");
    }
}
