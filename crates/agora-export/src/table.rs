//! Row-oriented building of Arrow batches for a fixed table schema.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray, UInt32Array};
use arrow_buffer::{Buffer, OffsetBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use crate::{ExportError, Result};

/// Value type of one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Unsigned 32-bit integer (ids, rounds).
    U32,
    /// Signed 32-bit integer (the `replicate` partition key: the type dataset readers
    /// infer for a hive partition of small integers).
    I32,
    /// Unsigned 64-bit integer (seeds, token counts).
    U64,
    /// Signed 64-bit integer.
    I64,
    /// 32-bit float (traits, stances).
    F32,
    /// 64-bit float (values, prices, shares).
    F64,
    /// Boolean flag.
    Bool,
    /// UTF-8 text.
    Utf8,
}

impl ColumnType {
    fn data_type(self) -> DataType {
        match self {
            ColumnType::U32 => DataType::UInt32,
            ColumnType::I32 => DataType::Int32,
            ColumnType::U64 => DataType::UInt64,
            ColumnType::I64 => DataType::Int64,
            ColumnType::F32 => DataType::Float32,
            ColumnType::F64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Utf8 => DataType::Utf8,
        }
    }
}

/// One column of a table: name, type and whether it may hold nulls.
#[derive(Clone, Debug)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Value type.
    pub ty: ColumnType,
    /// Whether nulls are allowed.
    pub nullable: bool,
}

impl Column {
    /// A column that always holds a value.
    pub fn required(name: &str, ty: ColumnType) -> Self {
        Self {
            name: name.to_string(),
            ty,
            nullable: false,
        }
    }

    /// A column that may hold nulls.
    pub fn optional(name: &str, ty: ColumnType) -> Self {
        Self {
            name: name.to_string(),
            ty,
            nullable: true,
        }
    }
}

/// A table's name and columns; the same spec always yields the same Arrow schema.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// Table name (the directory under the output root).
    pub name: String,
    /// Columns, in order.
    pub columns: Vec<Column>,
}

impl TableSpec {
    /// A table spec from a name and columns.
    pub fn new(name: &str, columns: Vec<Column>) -> Self {
        Self {
            name: name.to_string(),
            columns,
        }
    }

    /// The Arrow schema of this table.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.ty.data_type(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }
}

enum Builder {
    U32(UInt32Builder),
    I32(Int32Builder),
    U64(UInt64Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    /// Text is gathered as bytes and its UTF-8 checked once per batch, not per value.
    Utf8(BinaryBuilder),
}

impl Builder {
    /// A builder for `rows` values; text columns reserve `text_bytes` bytes.
    fn new(ty: ColumnType, rows: usize, text_bytes: usize) -> Self {
        match ty {
            ColumnType::U32 => Builder::U32(UInt32Builder::with_capacity(rows)),
            ColumnType::I32 => Builder::I32(Int32Builder::with_capacity(rows)),
            ColumnType::U64 => Builder::U64(UInt64Builder::with_capacity(rows)),
            ColumnType::I64 => Builder::I64(Int64Builder::with_capacity(rows)),
            ColumnType::F32 => Builder::F32(Float32Builder::with_capacity(rows)),
            ColumnType::F64 => Builder::F64(Float64Builder::with_capacity(rows)),
            ColumnType::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
            ColumnType::Utf8 => Builder::Utf8(BinaryBuilder::with_capacity(rows, text_bytes)),
        }
    }

    /// Bytes of text appended so far (0 for other columns).
    fn text_bytes(&self) -> usize {
        match self {
            Builder::Utf8(b) => b.values_slice().len(),
            _ => 0,
        }
    }

    /// Finish the array and start afresh, sized like the batch just finished so the
    /// next batch is built without regrowing its buffers.
    fn finish(&mut self, ty: ColumnType, rows: usize) -> Result<ArrayRef, ArrowError> {
        let text_bytes = self.text_bytes();
        let next = Builder::new(ty, rows, text_bytes + text_bytes / 8);
        Ok(match std::mem::replace(self, next) {
            Builder::U32(mut b) => Arc::new(b.finish()),
            Builder::I32(mut b) => Arc::new(b.finish()),
            Builder::U64(mut b) => Arc::new(b.finish()),
            Builder::I64(mut b) => Arc::new(b.finish()),
            Builder::F32(mut b) => Arc::new(b.finish()),
            Builder::F64(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::Utf8(mut b) => Arc::new(StringArray::try_from_binary(b.finish())?),
        })
    }
}

/// A value that every row of a table shares (a run id, a partition key).
///
/// Constant columns form a prefix of the table; rows start after them and the values
/// are filled in whole when a batch is taken, which is much cheaper than per row.
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    /// Text.
    Utf8(String),
    /// An unsigned 32-bit integer.
    U32(u32),
    /// A signed 32-bit integer.
    I32(i32),
}

impl Constant {
    fn array(&self, rows: usize) -> ArrayRef {
        match self {
            // Offsets and bytes are laid out whole (the same text `rows` times), not
            // appended value by value.
            Constant::Utf8(v) => Arc::new(StringArray::new(
                OffsetBuffer::from_lengths(std::iter::repeat_n(v.len(), rows)),
                Buffer::from_vec(v.as_bytes().repeat(rows)),
                None,
            )),
            Constant::U32(v) => Arc::new(UInt32Array::from_value(*v, rows)),
            Constant::I32(v) => Arc::new(Int32Array::from_value(*v, rows)),
        }
    }

    fn column_type(&self) -> ColumnType {
        match self {
            Constant::Utf8(_) => ColumnType::Utf8,
            Constant::U32(_) => ColumnType::U32,
            Constant::I32(_) => ColumnType::I32,
        }
    }
}

/// Rows a fresh buffer reserves room for at first; it grows to the size of its
/// batches (up to its capacity), so the many small tables of a small run do not each
/// hold a full batch of zeroed memory, allocated again after every batch.
const FIRST_RESERVE: usize = 256;

/// Rows of one table as they are appended: for each value a presence byte (0 for a
/// null), then its bytes (numbers little-endian, text as a `u32` length and its UTF-8).
///
/// Appending to a log is a few stores per value; the Arrow arrays are built from it
/// by a [`BatchAssembler`], on the thread that writes the batch (the Parquet writer of
/// a [`crate::SinkSet`]), so the simulation's thread does not build them.
pub(crate) struct RowLog {
    /// The table: its columns' types, and names for the messages of programming errors.
    spec: Arc<TableSpec>,
    /// How many leading columns are constants (never in the log).
    fixed: usize,
    bytes: Vec<u8>,
    rows: usize,
}

impl RowLog {
    /// An empty log for `spec`, whose first `fixed` columns are constants.
    pub(crate) fn new(spec: &TableSpec, fixed: usize, capacity: usize) -> Self {
        Self {
            spec: Arc::new(spec.clone()),
            fixed,
            bytes: Vec::with_capacity(capacity.min(FIRST_RESERVE) * 8),
            rows: 0,
        }
    }

    /// Rows appended since the last [`RowLog::take`].
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Start a new row; fill every column in order, then call [`Row::end`].
    #[inline(always)]
    pub(crate) fn row(&mut self) -> Row<'_> {
        let col = self.fixed;
        Row { log: self, col }
    }

    /// Move the pending rows out; the log starts again sized like them, with an eighth
    /// more for longer texts, so the next batch is appended without regrowing (which
    /// would copy the whole batch).
    pub(crate) fn take(&mut self) -> RowLog {
        let next = Vec::with_capacity(self.bytes.len() + self.bytes.len() / 8);
        let bytes = std::mem::replace(&mut self.bytes, next);
        RowLog {
            spec: self.spec.clone(),
            fixed: self.fixed,
            bytes,
            rows: std::mem::take(&mut self.rows),
        }
    }
}

/// Reads a [`RowLog`] back value by value.
struct LogReader<'a> {
    bytes: &'a [u8],
}

impl<'a> LogReader<'a> {
    #[inline(always)]
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.bytes.split_first_chunk::<N>()?;
        self.bytes = rest;
        Some(*head)
    }

    /// The next value's presence byte.
    #[inline(always)]
    fn present(&mut self) -> Option<bool> {
        self.array::<1>().map(|[b]| b != 0)
    }

    /// The bytes of a text value (its UTF-8 is checked with the whole column's).
    #[inline(always)]
    fn text(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        if len > self.bytes.len() {
            return None;
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(text)
    }
}

/// Builds a table's record batches from its [`RowLog`]s: the column builders, and the
/// constant columns (built whole, and sliced for later batches of no more rows).
pub(crate) struct BatchAssembler {
    spec: TableSpec,
    schema: SchemaRef,
    constants: Vec<Constant>,
    /// Each constant's column as last built: a later batch of no more rows takes a
    /// slice of it (no copy) instead of building it again.
    constant_columns: Vec<Option<ArrayRef>>,
    builders: Vec<Builder>,
    capacity: usize,
}

impl BatchAssembler {
    /// An assembler for `spec` whose first columns hold `constants`.
    ///
    /// # Panics
    /// If a constant's type differs from its column's: a programming error.
    pub(crate) fn new(spec: TableSpec, capacity: usize, constants: Vec<Constant>) -> Self {
        for (constant, column) in constants.iter().zip(&spec.columns) {
            assert_eq!(
                constant.column_type(),
                column.ty,
                "constant for column `{}` of table `{}` has the wrong type",
                column.name,
                spec.name
            );
        }
        assert!(
            constants.len() <= spec.columns.len(),
            "more constants than columns in `{}`",
            spec.name
        );
        let builders = spec
            .columns
            .iter()
            .map(|c| {
                let rows = capacity.min(FIRST_RESERVE);
                Builder::new(c.ty, rows, rows * 8)
            })
            .collect();
        let schema = spec.schema();
        Self {
            spec,
            schema,
            constant_columns: vec![None; constants.len()],
            constants,
            builders,
            capacity,
        }
    }

    /// The batch of the rows in `log`.
    pub(crate) fn assemble(&mut self, log: &RowLog) -> Result<RecordBatch> {
        let table = &self.spec.name;
        let arrow_error = |source| ExportError::Arrow {
            table: table.clone(),
            source,
        };
        let fixed = self.constants.len();
        let mut reader = LogReader { bytes: &log.bytes };
        for _ in 0..log.rows {
            for builder in &mut self.builders[fixed..] {
                if append_logged(builder, &mut reader).is_none() {
                    return Err(arrow_error(ArrowError::InvalidArgumentError(
                        "a row's values do not match the table's columns".into(),
                    )));
                }
            }
        }
        let rows = log.rows;
        // The next batch is likely the size of this one.
        let reserve = rows.max(FIRST_RESERVE).min(self.capacity.max(rows));
        let arrays = self
            .builders
            .iter_mut()
            .zip(&self.spec.columns)
            .enumerate()
            .map(|(i, (b, c))| match self.constants.get(i) {
                Some(constant) => {
                    let built = &mut self.constant_columns[i];
                    Ok(match built {
                        Some(column) if column.len() >= rows => column.slice(0, rows),
                        _ => built.insert(constant.array(rows)).clone(),
                    })
                }
                None => b.finish(c.ty, reserve),
            })
            .collect::<Result<Vec<ArrayRef>, ArrowError>>()
            .map_err(arrow_error)?;
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(arrow_error)
    }
}

/// Append the reader's next value to `builder`; `None` if the log ends early.
#[inline(always)]
fn append_logged(builder: &mut Builder, r: &mut LogReader<'_>) -> Option<()> {
    let present = r.present()?;
    match builder {
        Builder::U32(b) if present => b.append_value(u32::from_le_bytes(r.array()?)),
        Builder::I32(b) if present => b.append_value(i32::from_le_bytes(r.array()?)),
        Builder::U64(b) if present => b.append_value(u64::from_le_bytes(r.array()?)),
        Builder::I64(b) if present => b.append_value(i64::from_le_bytes(r.array()?)),
        Builder::F32(b) if present => b.append_value(f32::from_le_bytes(r.array()?)),
        Builder::F64(b) if present => b.append_value(f64::from_le_bytes(r.array()?)),
        Builder::Bool(b) if present => b.append_value(r.array::<1>()? != [0]),
        Builder::Utf8(b) if present => b.append_value(r.text()?),
        Builder::U32(b) => b.append_null(),
        Builder::I32(b) => b.append_null(),
        Builder::U64(b) => b.append_null(),
        Builder::I64(b) => b.append_null(),
        Builder::F32(b) => b.append_null(),
        Builder::F64(b) => b.append_null(),
        Builder::Bool(b) => b.append_null(),
        Builder::Utf8(b) => b.append_null(),
    }
    Some(())
}

/// Rows of one table being assembled into an Arrow batch.
///
/// Values are appended column by column through a [`Row`]; the column types are fixed
/// by the [`TableSpec`], and appending a value of the wrong type is a programming error.
pub struct TableBuffer {
    log: RowLog,
    assembler: BatchAssembler,
}

impl TableBuffer {
    /// An empty buffer for `spec`, sized for about `capacity` rows.
    pub fn new(spec: TableSpec, capacity: usize) -> Self {
        Self::with_constants(spec, capacity, Vec::new())
    }

    /// A buffer whose first columns hold `constants` in every row; rows fill the rest.
    ///
    /// # Panics
    /// If a constant's type differs from its column's: a programming error.
    pub fn with_constants(spec: TableSpec, capacity: usize, constants: Vec<Constant>) -> Self {
        let log = RowLog::new(&spec, constants.len(), capacity);
        Self {
            log,
            assembler: BatchAssembler::new(spec, capacity, constants),
        }
    }

    /// The table's spec.
    pub fn spec(&self) -> &TableSpec {
        &self.assembler.spec
    }

    /// The table's Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        self.assembler.schema.clone()
    }

    /// Rows appended since the last [`TableBuffer::take_batch`].
    pub fn len(&self) -> usize {
        self.log.len()
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    /// Start a new row; fill every column in order, then call [`Row::end`].
    #[inline(always)]
    pub fn row(&mut self) -> Row<'_> {
        self.log.row()
    }

    /// Move the pending rows out as one record batch.
    pub fn take_batch(&mut self) -> Result<RecordBatch> {
        let log = self.log.take();
        self.assembler.assemble(&log)
    }
}

/// One row being appended; each method fills the next column.
pub struct Row<'a> {
    log: &'a mut RowLog,
    col: usize,
}

macro_rules! row_setters {
    ($($name:ident, $opt:ident, $variant:ident, $t:ty;)*) => {
        $(
            /// Append a value to the next column.
            #[inline(always)]
            pub fn $name(mut self, v: $t) -> Self {
                self.expect(ColumnType::$variant);
                // The presence byte and the value in one append.
                let mut entry = [1u8; 1 + size_of::<$t>()];
                entry[1..].copy_from_slice(&v.to_le_bytes());
                self.log.bytes.extend_from_slice(&entry);
                self.col += 1;
                self
            }

            /// Append a value or a null to the next column.
            #[inline(always)]
            pub fn $opt(self, v: Option<$t>) -> Self {
                match v {
                    Some(v) => self.$name(v),
                    None => self.null(ColumnType::$variant),
                }
            }
        )*
    };
}

impl Row<'_> {
    row_setters! {
        u32, opt_u32, U32, u32;
        u64, opt_u64, U64, u64;
        i64, opt_i64, I64, i64;
        f32, opt_f32, F32, f32;
        f64, opt_f64, F64, f64;
    }

    /// Append a flag to the next column.
    #[inline(always)]
    pub fn bool(mut self, v: bool) -> Self {
        self.expect(ColumnType::Bool);
        self.log.bytes.extend_from_slice(&[1, u8::from(v)]);
        self.col += 1;
        self
    }

    /// Append a flag or a null to the next column.
    #[inline(always)]
    pub fn opt_bool(self, v: Option<bool>) -> Self {
        match v {
            Some(v) => self.bool(v),
            None => self.null(ColumnType::Bool),
        }
    }

    /// Append text to the next column.
    #[inline(always)]
    pub fn str(mut self, v: &str) -> Self {
        self.expect(ColumnType::Utf8);
        // Text longer than 4 GiB cannot be a Parquet value anyway.
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        let [a, b, c, d] = len.to_le_bytes();
        let bytes = &mut self.log.bytes;
        bytes.extend_from_slice(&[1, a, b, c, d]);
        bytes.extend_from_slice(&v.as_bytes()[..len as usize]);
        self.col += 1;
        self
    }

    /// Append text or a null to the next column.
    #[inline(always)]
    pub fn opt_str(self, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.str(v),
            None => self.null(ColumnType::Utf8),
        }
    }

    #[inline(always)]
    fn null(mut self, ty: ColumnType) -> Self {
        self.expect(ty);
        self.log.bytes.push(0);
        self.col += 1;
        self
    }

    #[inline(always)]
    fn expect(&self, ty: ColumnType) {
        if self.log.spec.columns.get(self.col).map(|c| c.ty) != Some(ty) {
            self.wrong_type(ty);
        }
    }

    #[cold]
    fn wrong_type(&self, wanted: ColumnType) -> ! {
        panic!(
            "column `{}` of table `{}` is not {wanted:?}",
            self.log
                .spec
                .columns
                .get(self.col)
                .map_or("<beyond the last>", |c| c.name.as_str()),
            self.log.spec.name
        )
    }

    /// Finish the row; every column must have been filled.
    #[inline(always)]
    pub fn end(self) {
        assert_eq!(
            self.col,
            self.log.spec.columns.len(),
            "row of table `{}` filled {} of {} columns",
            self.log.spec.name,
            self.col,
            self.log.spec.columns.len()
        );
        self.log.rows += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TableSpec {
        TableSpec::new(
            "t",
            vec![
                Column::required("a", ColumnType::U32),
                Column::optional("b", ColumnType::Utf8),
                Column::required("c", ColumnType::F64),
            ],
        )
    }

    #[test]
    fn rows_become_a_batch_with_the_spec_schema() {
        let mut buf = TableBuffer::new(spec(), 4);
        buf.row().u32(1).str("x").f64(0.5).end();
        buf.row().u32(2).opt_str(None).f64(1.5).end();
        assert_eq!(buf.len(), 2);
        let batch = buf.take_batch().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), spec().schema());
        assert_eq!(batch.column(1).null_count(), 1);
        assert!(buf.is_empty());
    }

    #[test]
    fn constant_columns_are_filled_for_every_row() {
        let mut buf = TableBuffer::with_constants(spec(), 4, vec![Constant::U32(9)]);
        buf.row().str("x").f64(0.5).end();
        buf.row().opt_str(None).f64(1.5).end();
        let batch = buf.take_batch().unwrap();
        let a = batch
            .column(0)
            .as_any()
            .downcast_ref::<UInt32Array>()
            .unwrap();
        assert_eq!(a.values().to_vec(), vec![9, 9]);
        assert_eq!(batch.schema(), spec().schema());
        buf.row().str("y").f64(2.5).end();
        assert_eq!(buf.take_batch().unwrap().num_rows(), 1);
    }

    #[test]
    fn constant_columns_are_right_for_batches_smaller_and_larger_than_before() {
        let spec = TableSpec::new(
            "t",
            vec![
                Column::required("run", ColumnType::Utf8),
                Column::required("x", ColumnType::U32),
            ],
        );
        let mut buf = TableBuffer::with_constants(spec, 8, vec![Constant::Utf8("r1".into())]);
        for rows in [3, 1, 5, 5, 2] {
            for x in 0..rows {
                buf.row().u32(x).end();
            }
            let batch = buf.take_batch().unwrap();
            let expected = StringArray::from(vec!["r1"; rows as usize]);
            assert_eq!(
                batch.column(0).as_ref(),
                &expected as &dyn arrow_array::Array,
                "{rows}"
            );
            assert_eq!(batch.num_rows(), rows as usize);
        }
    }

    #[test]
    fn a_text_constant_is_the_array_of_its_value_repeated() {
        for rows in [0, 1, 3, 1000] {
            let whole = Constant::Utf8("run-é1".into()).array(rows);
            let one_by_one = StringArray::from_iter_values(std::iter::repeat_n("run-é1", rows));
            assert_eq!(
                whole.as_ref(),
                &one_by_one as &dyn arrow_array::Array,
                "{rows}"
            );
        }
        let empty = Constant::Utf8(String::new()).array(2);
        assert_eq!(
            empty.as_ref(),
            &StringArray::from(vec!["", ""]) as &dyn arrow_array::Array
        );
    }

    /// A table with a column of every type a row can fill, all nullable.
    fn every_type() -> TableSpec {
        TableSpec::new(
            "all",
            vec![
                Column::optional("u32", ColumnType::U32),
                Column::optional("u64", ColumnType::U64),
                Column::optional("i64", ColumnType::I64),
                Column::optional("f32", ColumnType::F32),
                Column::optional("f64", ColumnType::F64),
                Column::optional("bool", ColumnType::Bool),
                Column::optional("text", ColumnType::Utf8),
            ],
        )
    }

    type AnyRow = (
        Option<u32>,
        Option<u64>,
        Option<i64>,
        Option<f32>,
        Option<f64>,
        Option<bool>,
        Option<String>,
    );

    /// The batch of `rows` built column by column with Arrow's own constructors.
    fn expected(rows: &[AnyRow]) -> RecordBatch {
        use arrow_array::{BooleanArray, Float32Array, Float64Array, Int64Array, UInt64Array};
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(rows.iter().map(|r| r.0).collect::<UInt32Array>()),
            Arc::new(rows.iter().map(|r| r.1).collect::<UInt64Array>()),
            Arc::new(rows.iter().map(|r| r.2).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| r.3).collect::<Float32Array>()),
            Arc::new(rows.iter().map(|r| r.4).collect::<Float64Array>()),
            Arc::new(rows.iter().map(|r| r.5).collect::<BooleanArray>()),
            Arc::new(rows.iter().map(|r| r.6.as_deref()).collect::<StringArray>()),
        ];
        RecordBatch::try_new(every_type().schema(), arrays).unwrap()
    }

    fn logged(buf: &mut TableBuffer, rows: &[AnyRow]) -> RecordBatch {
        for r in rows {
            buf.row()
                .opt_u32(r.0)
                .opt_u64(r.1)
                .opt_i64(r.2)
                .opt_f32(r.3)
                .opt_f64(r.4)
                .opt_bool(r.5)
                .opt_str(r.6.as_deref())
                .end();
        }
        buf.take_batch().unwrap()
    }

    #[test]
    fn logged_rows_become_the_arrays_arrow_builds_from_the_same_values() {
        let rows: Vec<AnyRow> = vec![
            (
                Some(1),
                Some(u64::MAX),
                Some(-5),
                Some(0.5),
                Some(-0.0),
                Some(true),
                Some("é–ü".into()),
            ),
            (None, None, None, None, None, None, None),
            (
                Some(0),
                Some(0),
                Some(i64::MIN),
                Some(f32::NAN),
                Some(f64::INFINITY),
                Some(false),
                Some(String::new()),
            ),
        ];
        let mut buf = TableBuffer::new(every_type(), 2);
        assert_eq!(logged(&mut buf, &rows), expected(&rows));
        // The buffer starts again empty, and a later batch is built alike.
        assert!(buf.is_empty());
        assert_eq!(logged(&mut buf, &rows[1..]), expected(&rows[1..]));
    }

    proptest::proptest! {
        #[test]
        fn any_rows_round_trip_through_the_log(
            batches in proptest::collection::vec(
                proptest::collection::vec(
                    (
                        proptest::option::of(proptest::num::u32::ANY),
                        proptest::option::of(proptest::num::u64::ANY),
                        proptest::option::of(proptest::num::i64::ANY),
                        proptest::option::of(proptest::num::f32::NORMAL),
                        proptest::option::of(proptest::num::f64::ANY),
                        proptest::option::of(proptest::bool::ANY),
                        proptest::option::of(".{0,12}"),
                    ),
                    0..40,
                ),
                1..4,
            )
        ) {
            let mut buf = TableBuffer::new(every_type(), 16);
            for rows in &batches {
                proptest::prop_assert_eq!(logged(&mut buf, rows), expected(rows));
            }
        }
    }

    #[test]
    fn a_null_in_a_required_column_is_an_error_of_the_batch() {
        let mut buf = TableBuffer::new(spec(), 4);
        buf.row().opt_u32(None).str("x").f64(0.5).end();
        match buf.take_batch() {
            Err(ExportError::Arrow { table, .. }) => assert_eq!(table, "t"),
            other => panic!("expected an Arrow error, got {other:?}"),
        }
    }

    #[test]
    fn a_log_cut_short_is_an_error_not_a_panic() {
        let mut log = RowLog::new(&spec(), 0, 4);
        log.row().u32(1).str("text").f64(0.5).end();
        log.bytes.truncate(log.bytes.len() - 3);
        let mut assembler = BatchAssembler::new(spec(), 4, Vec::new());
        assert!(matches!(
            assembler.assemble(&log),
            Err(ExportError::Arrow { .. })
        ));
    }

    #[test]
    #[should_panic(expected = "column `b` of table `t` is not U32")]
    fn a_value_of_the_wrong_type_is_a_programming_error() {
        let mut buf = TableBuffer::new(spec(), 1);
        let _ = buf.row().u32(1).u32(2);
    }

    #[test]
    #[should_panic(expected = "filled 1 of 3 columns")]
    fn an_incomplete_row_is_a_programming_error() {
        let mut buf = TableBuffer::new(spec(), 1);
        buf.row().u32(1).end();
    }
}
