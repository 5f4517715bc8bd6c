//! Row-oriented building of Arrow batches for a fixed table schema.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray, UInt32Array};
use arrow_buffer::{Buffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

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
    Utf8(StringBuilder),
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
            ColumnType::Utf8 => Builder::Utf8(StringBuilder::with_capacity(rows, text_bytes)),
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
    fn finish(&mut self, ty: ColumnType, rows: usize) -> ArrayRef {
        let text_bytes = self.text_bytes();
        let next = Builder::new(ty, rows, text_bytes + text_bytes / 8);
        match std::mem::replace(self, next) {
            Builder::U32(mut b) => Arc::new(b.finish()),
            Builder::I32(mut b) => Arc::new(b.finish()),
            Builder::U64(mut b) => Arc::new(b.finish()),
            Builder::I64(mut b) => Arc::new(b.finish()),
            Builder::F32(mut b) => Arc::new(b.finish()),
            Builder::F64(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::Utf8(mut b) => Arc::new(b.finish()),
        }
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

/// Rows of one table being assembled into an Arrow batch.
///
/// Values are appended column by column through a [`Row`]; the column types are fixed
/// by the [`TableSpec`], and appending a value of the wrong type is a programming error
/// caught by the row's final check.
pub struct TableBuffer {
    spec: TableSpec,
    schema: SchemaRef,
    constants: Vec<Constant>,
    /// Each constant's column as last built: a later batch of no more rows takes a
    /// slice of it (no copy) instead of building it again.
    constant_columns: Vec<Option<ArrayRef>>,
    builders: Vec<Builder>,
    rows: usize,
    capacity: usize,
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
            rows: 0,
            capacity,
        }
    }

    /// The table's spec.
    pub fn spec(&self) -> &TableSpec {
        &self.spec
    }

    /// The table's Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows appended since the last [`TableBuffer::take_batch`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Start a new row; fill every column in order, then call [`Row::end`].
    #[inline(always)]
    pub fn row(&mut self) -> Row<'_> {
        let col = self.constants.len();
        Row { buf: self, col }
    }

    /// Move the pending rows out as one record batch.
    pub fn take_batch(&mut self) -> Result<RecordBatch> {
        // The next batch is likely the size of this one.
        let reserve = self
            .rows
            .max(FIRST_RESERVE)
            .min(self.capacity.max(self.rows));
        let fixed = self.constants.len();
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .zip(&self.spec.columns)
            .enumerate()
            .map(|(i, (b, c))| match self.constants.get(i) {
                Some(constant) => {
                    let built = &mut self.constant_columns[i];
                    match built {
                        Some(column) if column.len() >= self.rows => column.slice(0, self.rows),
                        _ => built.insert(constant.array(self.rows)).clone(),
                    }
                }
                None if i >= fixed => b.finish(c.ty, reserve),
                None => unreachable!("constants are a prefix"),
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(|source| ExportError::Arrow {
            table: self.spec.name.clone(),
            source,
        })
    }
}

/// One row being appended; each method fills the next column.
pub struct Row<'a> {
    buf: &'a mut TableBuffer,
    col: usize,
}

macro_rules! row_setters {
    ($($name:ident, $opt:ident, $variant:ident, $t:ty;)*) => {
        $(
            /// Append a value to the next column.
            #[inline(always)]
            pub fn $name(mut self, v: $t) -> Self {
                match &mut self.buf.builders[self.col] {
                    Builder::$variant(b) => b.append_value(v),
                    _ => self.wrong_type(stringify!($variant)),
                }
                self.col += 1;
                self
            }

            /// Append a value or a null to the next column.
            #[inline(always)]
            pub fn $opt(mut self, v: Option<$t>) -> Self {
                match &mut self.buf.builders[self.col] {
                    Builder::$variant(b) => b.append_option(v),
                    _ => self.wrong_type(stringify!($variant)),
                }
                self.col += 1;
                self
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
        bool, opt_bool, Bool, bool;
    }

    /// Append text to the next column.
    #[inline(always)]
    pub fn str(mut self, v: &str) -> Self {
        match &mut self.buf.builders[self.col] {
            Builder::Utf8(b) => b.append_value(v),
            _ => self.wrong_type("Utf8"),
        }
        self.col += 1;
        self
    }

    /// Append text or a null to the next column.
    #[inline(always)]
    pub fn opt_str(mut self, v: Option<&str>) -> Self {
        match &mut self.buf.builders[self.col] {
            Builder::Utf8(b) => b.append_option(v),
            _ => self.wrong_type("Utf8"),
        }
        self.col += 1;
        self
    }

    #[cold]
    fn wrong_type(&self, wanted: &str) -> ! {
        panic!(
            "column `{}` of table `{}` is not {wanted}",
            self.buf
                .spec
                .columns
                .get(self.col)
                .map_or("<beyond the last>", |c| c.name.as_str()),
            self.buf.spec.name
        )
    }

    /// Finish the row; every column must have been filled.
    #[inline(always)]
    pub fn end(self) {
        assert_eq!(
            self.col,
            self.buf.builders.len(),
            "row of table `{}` filled {} of {} columns",
            self.buf.spec.name,
            self.col,
            self.buf.builders.len()
        );
        self.buf.rows += 1;
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

    #[test]
    #[should_panic(expected = "filled 1 of 3 columns")]
    fn an_incomplete_row_is_a_programming_error() {
        let mut buf = TableBuffer::new(spec(), 1);
        buf.row().u32(1).end();
    }
}
