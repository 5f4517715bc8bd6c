//! From a mechanism's tables to observations: one value per outcome, arm, replicate and
//! unit (an agent, or the run), as the mechanism's [`OutcomeSource`]s declare them.
//!
//! Each table is read once, one segment file at a time, whatever the number of sources
//! (and of other readers, such as the diagnostics) that need it: rows are folded into
//! per-unit tallies keyed by value codes, so memory holds the tallies, not the table.
//! Outcomes are then handed out one at a time, in a fixed order.

use std::collections::BTreeMap;
use std::path::Path;

use agora_core::outcome::{Combine, OutcomeName, OutcomeSource, OutcomeUnit, OutcomeValue};
use agora_export::{ExportError, Frame, TextColumn, scan_table};

/// One run's observations of an outcome: its units in order, with their values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunValues {
    /// The run's arm.
    pub arm: String,
    /// The run's replicate.
    pub replicate: u32,
    /// The units observed, ascending (`None` for the run itself).
    pub units: Vec<Option<u32>>,
    /// One value per unit.
    pub values: Vec<f64>,
}

/// The observations of one outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutcomeData {
    /// Agent-level or run-level.
    pub unit: Option<OutcomeUnit>,
    /// The runs with observations, by arm then replicate.
    pub runs: Vec<RunValues>,
}

impl OutcomeData {
    /// Number of observations over all runs.
    pub fn len(&self) -> usize {
        self.runs.iter().map(|r| r.values.len()).sum()
    }

    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `unit` in run (`arm`, `replicate`).
    pub fn value(&self, arm: &str, replicate: u32, unit: Option<u32>) -> Option<f64> {
        let run = self
            .runs
            .iter()
            .find(|r| r.arm == arm && r.replicate == replicate)?;
        let i = run.units.binary_search(&unit).ok()?;
        run.values.get(i).copied()
    }
}

/// Something besides the outcomes that reads one of the tables they come from: it
/// gets the same frames, so the table is read once.
pub trait TableReader: Send {
    /// The table it reads.
    fn table(&self) -> &str;
    /// The text columns it needs.
    fn text_columns(&self) -> Vec<&str>;
    /// The number columns it needs.
    fn number_columns(&self) -> Vec<&str>;
    /// Fold one frame of rows (one segment file) in.
    fn add(&mut self, chunk: &Frame);
}

/// Accumulates the numbers of one unit.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    sum: f64,
    last: f64,
    count: u32,
    last_round: u32,
}

impl Acc {
    fn add(&mut self, round: u32, value: f64) {
        self.sum += value;
        if self.count == 0 || round >= self.last_round {
            self.last_round = round;
            self.last = value;
        }
        self.count += 1;
    }

    fn value(&self, combine: Combine) -> f64 {
        match combine {
            Combine::Mean => self.sum / f64::from(self.count),
            Combine::Sum => self.sum,
            Combine::Last => self.last,
        }
    }
}

/// A run: arm code and replicate.
type RunKey = (u32, u32);

/// The answers of one unit to a shares outcome: how many, and the last round.
#[derive(Clone, Copy, Debug, Default)]
struct Answers {
    count: u32,
    last_round: u32,
}

/// One run's tallies of a shares outcome: per unit its answers, and per level (label
/// code) per unit the hits, or for [`Combine::Last`] one plus the round of the latest.
#[derive(Clone, Debug, Default)]
struct SharesRun {
    answers: Vec<Answers>,
    hits: Vec<Vec<u32>>,
}

/// The tallies of one outcome name, per run, indexed by unit slot (the agent id, or 0
/// for the run).
#[derive(Clone, Debug)]
enum NameTally {
    Numbers(BTreeMap<RunKey, Vec<Acc>>),
    Shares(BTreeMap<RunKey, SharesRun>),
}

/// The slot of a unit in a run's tallies.
fn slot(unit: OutcomeUnit, agent: Option<u32>) -> Option<usize> {
    match unit {
        OutcomeUnit::Agent => agent.map(|a| a as usize),
        OutcomeUnit::Run => Some(0),
    }
}

fn grow<T: Default + Clone>(v: &mut Vec<T>, slot: usize) -> &mut T {
    if v.len() <= slot {
        v.resize(slot + 1, T::default());
    }
    &mut v[slot]
}

/// The tallies of one source: per outcome name (a code of the name column, or 0 for a
/// fixed name).
struct SourceTally<'a> {
    source: &'a OutcomeSource,
    names: BTreeMap<u32, NameTally>,
    /// The name column's values by code (names are looked up at the end).
    name_values: Vec<String>,
    /// The label column's values by code (shares).
    label_values: Vec<String>,
}

impl<'a> SourceTally<'a> {
    fn new(source: &'a OutcomeSource) -> Self {
        SourceTally {
            source,
            names: BTreeMap::new(),
            name_values: Vec::new(),
            label_values: Vec::new(),
        }
    }

    fn text_columns(&self) -> Vec<&str> {
        let mut text: Vec<&str> = self.source.only.iter().map(|(c, _)| c.as_str()).collect();
        if let OutcomeName::Column(c) = &self.source.name {
            text.push(c);
        }
        if let OutcomeValue::Shares(c) = &self.source.value {
            text.push(c);
        }
        text
    }

    fn number_columns(&self) -> Vec<&str> {
        match &self.source.value {
            OutcomeValue::Number(c) => vec![c.as_str()],
            OutcomeValue::Shares(_) => Vec::new(),
        }
    }

    fn add(&mut self, f: &Frame) {
        let source = self.source;
        let empty = TextColumn::default();
        // Per filter: its column, and which codes pass.
        let filters: Vec<(&TextColumn, Vec<bool>)> = source
            .only
            .iter()
            .map(|(column, allowed)| {
                let col = f.text(column).unwrap_or(&empty);
                let pass = col
                    .values()
                    .iter()
                    .map(|v| allowed.iter().any(|a| a == v))
                    .collect();
                (col, pass)
            })
            .collect();
        let kept = |i: usize| {
            filters.iter().all(|(col, pass)| {
                col.code(i)
                    .is_some_and(|c| pass.get(c as usize).copied().unwrap_or(false))
            })
        };
        let name_column = match &source.name {
            OutcomeName::Column(c) => Some(f.text(c).unwrap_or(&empty)),
            OutcomeName::Fixed(_) => None,
        };
        // Where row `i` counts: its outcome name's code, its run and its unit's slot;
        // `None` for a row the source leaves out.
        let place = |i: usize| -> Option<(u32, RunKey, usize)> {
            let name = match name_column {
                Some(col) => col.code(i)?,
                None => 0,
            };
            let unit = slot(source.unit, f.agent[i])?;
            if !kept(i) {
                return None;
            }
            Some((name, (f.arm.code(i).unwrap_or(0), f.replicate[i]), unit))
        };
        match &source.value {
            OutcomeValue::Number(c) => {
                let Some(values) = f.number(c) else {
                    return;
                };
                for (i, value) in values.iter().enumerate() {
                    let (Some(x), Some((name, run, unit))) =
                        (value.filter(|x| x.is_finite()), place(i))
                    else {
                        continue;
                    };
                    let NameTally::Numbers(runs) = self
                        .names
                        .entry(name)
                        .or_insert_with(|| NameTally::Numbers(BTreeMap::new()))
                    else {
                        continue;
                    };
                    grow(runs.entry(run).or_default(), unit).add(f.round[i], x);
                }
            }
            OutcomeValue::Shares(c) => {
                let labels = f.text(c).unwrap_or(&empty);
                for i in 0..f.len() {
                    let (Some(label), Some((name, run, unit))) = (labels.code(i), place(i)) else {
                        continue;
                    };
                    let NameTally::Shares(runs) = self
                        .names
                        .entry(name)
                        .or_insert_with(|| NameTally::Shares(BTreeMap::new()))
                    else {
                        continue;
                    };
                    let tally = runs.entry(run).or_default();
                    let round = f.round[i];
                    let answers = grow(&mut tally.answers, unit);
                    if answers.count == 0 || round > answers.last_round {
                        answers.last_round = round;
                    }
                    answers.count += 1;
                    let level = grow(&mut tally.hits, label as usize);
                    let hit = grow(level, unit);
                    match source.combine {
                        Combine::Last => *hit = (*hit).max(round + 1),
                        Combine::Mean | Combine::Sum => *hit += 1,
                    }
                }
                self.label_values = labels.values().to_vec();
            }
        }
        if let Some(col) = name_column {
            self.name_values = col.values().to_vec();
        }
    }

    /// Hand out the outcomes, names in order (and a shares outcome's levels in order).
    fn finish(
        self,
        arm_names: &[String],
        each: &mut impl FnMut(&str, OutcomeData),
    ) -> Result<(), ExportError> {
        let source = self.source;
        let name_of = |code: u32| -> String {
            match &source.name {
                OutcomeName::Fixed(n) => n.clone(),
                OutcomeName::Column(_) => self
                    .name_values
                    .get(code as usize)
                    .cloned()
                    .unwrap_or_default(),
            }
        };
        let arm_of = |code: u32| arm_names.get(code as usize).cloned().unwrap_or_default();
        let mut names: Vec<(String, NameTally)> = self
            .names
            .into_iter()
            .map(|(code, tally)| (name_of(code), tally))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, tally) in names {
            match tally {
                NameTally::Numbers(runs) => {
                    let mut data = OutcomeData {
                        unit: Some(source.unit),
                        runs: Vec::new(),
                    };
                    for ((arm, replicate), accs) in runs {
                        let mut run = RunValues {
                            arm: arm_of(arm),
                            replicate,
                            ..Default::default()
                        };
                        for (unit, acc) in accs.iter().enumerate().filter(|(_, a)| a.count > 0) {
                            run.units.push(unit_of(source.unit, unit));
                            run.values.push(acc.value(source.combine));
                        }
                        data.runs.push(run);
                    }
                    data.runs
                        .sort_by(|a, b| (&a.arm, a.replicate).cmp(&(&b.arm, b.replicate)));
                    if !data.is_empty() {
                        each(&name, data);
                    }
                }
                NameTally::Shares(runs) => {
                    let mut levels: Vec<(&str, usize)> = runs
                        .values()
                        .flat_map(|r| {
                            r.hits
                                .iter()
                                .enumerate()
                                .filter(|(_, h)| h.iter().any(|x| *x > 0))
                                .map(|(code, _)| code)
                        })
                        .map(|code| {
                            let label = self.label_values.get(code).map_or("", String::as_str);
                            (label, code)
                        })
                        .collect();
                    levels.sort();
                    levels.dedup();
                    let mut ordered: Vec<(String, &RunKey, &SharesRun)> = runs
                        .iter()
                        .map(|(key, run)| (arm_of(key.0), key, run))
                        .collect();
                    ordered.sort_by(|a, b| (&a.0, a.1.1).cmp(&(&b.0, b.1.1)));
                    for (label, code) in levels {
                        let mut data = OutcomeData {
                            unit: Some(source.unit),
                            runs: Vec::new(),
                        };
                        for (arm, key, tally) in &ordered {
                            let hits = tally.hits.get(code);
                            let mut run = RunValues {
                                arm: arm.clone(),
                                replicate: key.1,
                                ..Default::default()
                            };
                            for (unit, answers) in tally
                                .answers
                                .iter()
                                .enumerate()
                                .filter(|(_, a)| a.count > 0)
                            {
                                let hit = hits.and_then(|h| h.get(unit)).copied().unwrap_or(0);
                                let value = match source.combine {
                                    Combine::Mean => f64::from(hit) / f64::from(answers.count),
                                    Combine::Sum => f64::from(hit),
                                    Combine::Last => {
                                        f64::from(u8::from(hit == answers.last_round + 1))
                                    }
                                };
                                run.units.push(unit_of(source.unit, unit));
                                run.values.push(value);
                            }
                            data.runs.push(run);
                        }
                        each(&format!("{name}={label}"), data);
                    }
                }
            }
        }
        Ok(())
    }
}

fn unit_of(unit: OutcomeUnit, slot: usize) -> Option<u32> {
    match unit {
        OutcomeUnit::Agent => Some(slot as u32),
        OutcomeUnit::Run => None,
    }
}

/// Call `each` with every outcome of `sources` read from the tables below `root`, one
/// at a time, in a fixed order. Sources whose table was not written give nothing.
pub fn for_each_outcome(
    root: &Path,
    sources: &[OutcomeSource],
    each: impl FnMut(&str, OutcomeData),
) -> Result<(), ExportError> {
    for_each_outcome_with(root, sources, &mut [], each)
}

/// [`for_each_outcome`], feeding `readers` from the same reads: every table the
/// sources or the readers name is read once. Tables are read at the same time, each on
/// its own thread (a table's sources and readers see its files in order, as with one
/// thread), so an experiment's responses and its calls are read side by side.
pub fn for_each_outcome_with(
    root: &Path,
    sources: &[OutcomeSource],
    readers: &mut [&mut dyn TableReader],
    mut each: impl FnMut(&str, OutcomeData),
) -> Result<(), ExportError> {
    let mut tallies: Vec<SourceTally> = sources.iter().map(SourceTally::new).collect();
    let mut tables: Vec<String> = sources.iter().map(|s| s.table.clone()).collect();
    tables.extend(readers.iter().map(|r| r.table().to_string()));
    let mut seen = std::collections::HashSet::new();
    tables.retain(|t| seen.insert(t.clone()));
    // Per table: the sources and readers that need it.
    let mut groups: Vec<TableGroup> = tables
        .iter()
        .map(|table| TableGroup {
            table,
            tallies: Vec::new(),
            readers: Vec::new(),
        })
        .collect();
    for tally in tallies.iter_mut() {
        if let Some(g) = groups.iter_mut().find(|g| g.table == tally.source.table) {
            g.tallies.push(tally);
        }
    }
    for reader in readers.iter_mut() {
        let table = reader.table().to_string();
        if let Some(g) = groups.iter_mut().find(|g| g.table == table) {
            g.readers.push(&mut **reader);
        }
    }
    // Per table: the arms' names by code (every source of a table shares its codes).
    let scanned: Vec<Result<Vec<String>, ExportError>> = std::thread::scope(|scope| {
        let mut groups = groups.into_iter();
        let first = groups.next();
        let others: Vec<_> = groups.map(|g| scope.spawn(move || g.scan(root))).collect();
        let mut results: Vec<_> = first.into_iter().map(|g| g.scan(root)).collect();
        // A reader that panicked is a bug: the panic goes on as it would on one thread.
        results.extend(
            others
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
        );
        results
    });
    let mut arms: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (table, names) in tables.iter().zip(scanned) {
        arms.insert(table, names?);
    }
    for tally in tallies {
        let arm_names = arms
            .get(tally.source.table.as_str())
            .cloned()
            .unwrap_or_default();
        tally.finish(&arm_names, &mut each)?;
    }
    Ok(())
}

/// One table and everything that reads it.
struct TableGroup<'t, 's, 'r> {
    table: &'t str,
    tallies: Vec<&'t mut SourceTally<'s>>,
    readers: Vec<&'r mut dyn TableReader>,
}

impl TableGroup<'_, '_, '_> {
    /// Read the table once, folding every file into its sources and readers; returns
    /// the arms' names by code.
    fn scan(mut self, root: &Path) -> Result<Vec<String>, ExportError> {
        // Owned names: the tallies and readers are borrowed mutably while the table is read.
        let mut text: Vec<String> = Vec::new();
        let mut numbers: Vec<String> = Vec::new();
        for t in &self.tallies {
            text.extend(t.text_columns().into_iter().map(str::to_string));
            numbers.extend(t.number_columns().into_iter().map(str::to_string));
        }
        for r in &self.readers {
            text.extend(r.text_columns().into_iter().map(str::to_string));
            numbers.extend(r.number_columns().into_iter().map(str::to_string));
        }
        text.sort_unstable();
        text.dedup();
        numbers.sort_unstable();
        numbers.dedup();
        let text: Vec<&str> = text.iter().map(String::as_str).collect();
        let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let mut arm_names = Vec::new();
        scan_table(root, self.table, &text, &numbers, |chunk| {
            for t in self.tallies.iter_mut() {
                t.add(chunk);
            }
            for r in self.readers.iter_mut() {
                r.add(chunk);
            }
            arm_names = chunk.arm.values().to_vec();
            Ok(())
        })?;
        Ok(arm_names)
    }
}

/// Every outcome of `sources` read from the tables below `root`, by outcome name (all
/// in memory at once: for tests and small experiments).
pub fn observations(
    root: &Path,
    sources: &[OutcomeSource],
) -> Result<BTreeMap<String, OutcomeData>, ExportError> {
    let mut out = BTreeMap::new();
    for_each_outcome(root, sources, |name, data| {
        out.insert(name.to_string(), data);
    })?;
    Ok(out)
}
