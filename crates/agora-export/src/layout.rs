//! Where a run's files go: one directory per table, hive partitions below it.

use std::path::{Path, PathBuf};

/// The arm and replicate a run belongs to; becomes `arm=NAME/replicate=K` in paths.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Partition {
    /// Experiment arm (a named variant of the scenario).
    pub arm: String,
    /// Replicate index, from 0.
    pub replicate: u32,
}

/// The output directory of an experiment and the paths inside it.
#[derive(Clone, Debug)]
pub struct OutputLayout {
    root: PathBuf,
}

impl OutputLayout {
    /// Layout rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The experiment's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of `table` for one run: `TABLE/arm=NAME/replicate=K`.
    pub fn partition_dir(&self, table: &str, partition: &Partition) -> PathBuf {
        self.root
            .join(table)
            .join(format!("arm={}", partition.arm))
            .join(format!("replicate={}", partition.replicate))
    }

    /// The Parquet file of `table` holding one run's rows of segment `segment` (round 0
    /// is the set-up, round `r` its rows): `part-0000r.parquet`.
    pub fn segment_file(&self, table: &str, partition: &Partition, segment: u32) -> PathBuf {
        self.partition_dir(table, partition)
            .join(segment_file_name(segment))
    }

    /// Where the engine keeps its own state (checkpoints): hidden from dataset readers.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".agora")
    }

    /// The experiment manifest.
    pub fn manifest_file(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    /// Whether a previous experiment already wrote here.
    pub fn holds_results(&self) -> bool {
        self.manifest_file().exists()
    }
}

/// The name of segment `segment`'s file.
pub fn segment_file_name(segment: u32) -> String {
    format!("part-{segment:05}.parquet")
}

/// The segment a file name written by [`segment_file_name`] (or an earlier release's
/// `part-0.parquet`) stands for; `None` for any other file.
pub fn segment_of(file_name: &str) -> Option<u32> {
    let digits = file_name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Suffix of a segment file still being written (renamed when the segment is sealed).
pub const PARTIAL_SUFFIX: &str = ".partial";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_files_are_hive_partitioned_by_arm_and_replicate() {
        let layout = OutputLayout::new("/tmp/x");
        let p = Partition {
            arm: "base".into(),
            replicate: 3,
        };
        assert_eq!(
            layout.segment_file("events", &p, 2),
            PathBuf::from("/tmp/x/events/arm=base/replicate=3/part-00002.parquet")
        );
        assert_eq!(segment_of("part-00002.parquet"), Some(2));
        assert_eq!(segment_of("part-0.parquet"), Some(0));
        assert_eq!(segment_of("part-x.parquet"), None);
        assert_eq!(segment_of("notes.parquet"), None);
    }
}
