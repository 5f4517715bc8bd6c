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

    /// The Parquet file of `table` for one run.
    pub fn table_file(&self, table: &str, partition: &Partition) -> PathBuf {
        self.root
            .join(table)
            .join(format!("arm={}", partition.arm))
            .join(format!("replicate={}", partition.replicate))
            .join("part-0.parquet")
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
            layout.table_file("events", &p),
            PathBuf::from("/tmp/x/events/arm=base/replicate=3/part-0.parquet")
        );
    }
}
