//! What can go wrong while writing a report, each with the file concerned and a fix.

use std::path::PathBuf;

/// Errors of [`crate::write_report`].
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The directory does not exist or is not a directory.
    #[error(
        "{path}: no such directory\n  help: pass the output directory of `agora run` (its `--out`, by default runs/<scenario file name>)"
    )]
    MissingDirectory {
        /// The directory asked for.
        path: PathBuf,
    },
    /// The directory holds no `manifest.json`.
    #[error(
        "{path}: not an Agora output directory (no manifest.json)\n  help: pass the folder `agora run` wrote, the one holding manifest.json and the table folders"
    )]
    NotAgoraOutput {
        /// The directory asked for.
        path: PathBuf,
    },
    /// `manifest.json` could not be read or parsed.
    #[error(
        "{path}: unreadable manifest: {reason}\n  help: the file is written by `agora run`; run the scenario again with --overwrite to replace a damaged one"
    )]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A table file could not be opened or decoded.
    #[error(
        "{path}: unreadable `{table}` table: {reason}\n  help: a file may be damaged or still being written; wait for the run to finish, or run it again with --overwrite"
    )]
    Table {
        /// Table name.
        table: String,
        /// The Parquet file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A table lacks a column the report needs, or holds it with another type.
    #[error(
        "{path}: table `{table}` has no column `{column}` of type {expected}{found}\n  help: the table was written by another version of Agora; run the scenario again with this version"
    )]
    Column {
        /// Table name.
        table: String,
        /// The table's directory.
        path: PathBuf,
        /// The column.
        column: String,
        /// The type the report reads.
        expected: &'static str,
        /// What the table holds instead (empty when the column is missing).
        found: String,
    },
    /// A plot could not be drawn.
    #[error("drawing the {plot} plot: {reason}")]
    Plot {
        /// Which plot.
        plot: String,
        /// What went wrong.
        reason: String,
    },
    /// The page template failed to render (a defect of this crate).
    #[error("rendering the report page: {0}")]
    Template(#[from] minijinja::Error),
    /// The report file could not be written.
    #[error(
        "cannot write {path}: {source}\n  help: check that the directory is writable and the disk has space"
    )]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result alias for this crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
