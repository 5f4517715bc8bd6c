//! Tidy, streamed outputs of Agora runs.
//!
//! Tables are Arrow record batches written to zstd-compressed Parquet files on a
//! background thread, flushed once per round, never held whole in memory. Every run
//! writes into hive-partitioned directories (`TABLE/arm=NAME/replicate=K/part-00001.parquet`, one file per round)
//! so polars, DuckDB and Spark read an experiment as one dataset. The run manifest
//! (`manifest.json`) records what produced the tables. An output may also live in an
//! object store (S3, Google Cloud Storage, Azure), see [`store`].

pub mod layout;
pub mod manifest;
pub mod read;
pub mod sink;
pub mod store;
pub mod table;

pub use layout::{OutputLayout, PARTIAL_SUFFIX, Partition, segment_file_name, segment_of};
pub use manifest::{Manifest, RunRecord, ShardInfo};
pub use read::{Frame, TextColumn, read_table, scan_table, write_experiment_table};
pub use sink::{SealReceipt, SinkSet, TableId};
pub use store::{ObjectOutput, StoreError, is_object_url};
pub use table::{Column, ColumnType, Constant, TableBuffer, TableSpec};

/// Errors while writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file or directory could not be created or written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("writing table `{table}` to {path}: {source}")]
    Parquet {
        /// Table name.
        table: String,
        /// Target file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// Rows could not be assembled into an Arrow batch.
    #[error("building a batch of table `{table}`: {source}")]
    Arrow {
        /// Table name.
        table: String,
        /// The underlying error.
        source: arrow_schema::ArrowError,
    },
    /// The background writer stopped (after an earlier error).
    #[error("the table writer stopped unexpectedly")]
    WriterGone,
    /// The manifest could not be serialised.
    #[error("serialising the manifest: {0}")]
    Json(#[from] serde_json::Error),
    /// A complete file could not be copied to the object store of the output.
    #[error("storing the output: {0}")]
    Store(#[from] store::StoreError),
}

/// Result alias for this crate.
pub type Result<T, E = ExportError> = std::result::Result<T, E>;
