//! Where a run's rows go: tables keyed by run, arm, replicate, round and agent.

use std::sync::Arc;

use agora_export::table::Row;
use agora_export::{
    Column, ColumnType, Constant, OutputLayout, Partition, SinkSet, TableId, TableSpec,
};

use crate::components::AgentId;
use crate::seed::SeedStream;

/// Identity of one run (one arm x replicate of an experiment).
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// Deterministic id, the same for the same scenario, arm and replicate.
    pub run_id: Arc<str>,
    /// Arm and replicate.
    pub partition: Partition,
    /// The run's seed tree.
    pub seeds: SeedStream,
}

/// Names of the key columns every table starts with.
pub const KEY_COLUMNS: [&str; 5] = ["run_id", "arm", "replicate", "round", "agent_id"];

/// A table spec whose first columns are the run keys, followed by `columns`.
///
/// `agent_id` is null on rows about the population or the run as a whole.
pub fn keyed_table(name: &str, columns: Vec<Column>) -> TableSpec {
    let mut all = vec![
        Column::required(KEY_COLUMNS[0], ColumnType::Utf8),
        Column::required(KEY_COLUMNS[1], ColumnType::Utf8),
        Column::required(KEY_COLUMNS[2], ColumnType::I32),
        Column::required(KEY_COLUMNS[3], ColumnType::U32),
        Column::optional(KEY_COLUMNS[4], ColumnType::U32),
    ];
    all.extend(columns);
    TableSpec::new(name, all)
}

/// Streams a run's tables into its partition of the output layout, one file per table
/// and segment (segment 0 is the set-up, segment `r` round `r`).
pub struct Recorder {
    sinks: SinkSet,
    layout: OutputLayout,
    info: RunInfo,
    /// Rows each table held before this recorder (a resumed run's earlier segments).
    rows_before: std::collections::BTreeMap<String, u64>,
    /// Rows per open table so far, by table id.
    rows: Vec<(String, u64)>,
}

impl Recorder {
    /// A recorder for run `info`, writing below `layout` from segment 0.
    pub fn new(layout: OutputLayout, info: RunInfo) -> Self {
        Self::resuming(layout, info, 0, Default::default())
    }

    /// A recorder that continues a run whose segments before `segment` are sealed and
    /// whose tables held `rows_before` rows then.
    pub fn resuming(
        layout: OutputLayout,
        info: RunInfo,
        segment: u32,
        rows_before: std::collections::BTreeMap<String, u64>,
    ) -> Self {
        Self {
            sinks: SinkSet::starting_at(1 << 13, segment),
            layout,
            info,
            rows_before,
            rows: Vec::new(),
        }
    }

    /// The output layout the run writes below.
    pub fn layout(&self) -> &OutputLayout {
        &self.layout
    }

    /// Rows written per table so far, earlier segments included.
    pub fn rows(&self) -> std::collections::BTreeMap<String, u64> {
        self.rows.iter().cloned().collect()
    }

    /// The run this recorder writes for.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// Open a table built with [`keyed_table`].
    pub fn open(&mut self, spec: TableSpec) -> Result<TableId, agora_export::ExportError> {
        debug_assert!(
            spec.columns
                .iter()
                .map(|c| c.name.as_str())
                .take(5)
                .eq(KEY_COLUMNS)
        );
        let dir = self.layout.partition_dir(&spec.name, &self.info.partition);
        let info = &self.info;
        let constants = vec![
            Constant::Utf8(info.run_id.to_string()),
            Constant::Utf8(info.partition.arm.clone()),
            // Replicates are bounded far below i32::MAX by the scenario's limits.
            Constant::I32(i32::try_from(info.partition.replicate).unwrap_or(i32::MAX)),
        ];
        let before = self.rows_before.get(&spec.name).copied().unwrap_or(0);
        self.rows.push((spec.name.clone(), before));
        self.sinks.open_with_constants(spec, dir, constants, before)
    }

    /// Start a row of `table` with its key columns filled; add the table's own columns.
    #[inline]
    pub fn row(
        &mut self,
        table: TableId,
        round: u32,
        agent: Option<AgentId>,
    ) -> Result<Row<'_>, agora_export::ExportError> {
        if let Some(count) = self.rows.get_mut(table.index()) {
            count.1 += 1;
        }
        Ok(self
            .sinks
            .row(table)?
            .u32(round)
            .opt_u32(agent.map(|a| a.0)))
    }

    /// Write pending rows and close row groups.
    pub fn flush(&mut self) -> Result<(), agora_export::ExportError> {
        self.sinks.flush()
    }

    /// Complete the current segment's files and start segment `next`.
    pub fn seal(&mut self, next: u32) -> Result<(), agora_export::ExportError> {
        self.sinks.seal(next)
    }

    /// Complete the current segment's files on the writer thread and start segment
    /// `next` at once; the receipt says when the files are on disk.
    pub fn seal_in_background(
        &mut self,
        next: u32,
    ) -> Result<agora_export::SealReceipt, agora_export::ExportError> {
        self.sinks.seal_in_background(next)
    }

    /// Close every table and report rows per table.
    pub fn close(self) -> Result<Vec<agora_export::sink::TableSummary>, agora_export::ExportError> {
        self.sinks.close()
    }
}
