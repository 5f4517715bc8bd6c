//! From a mechanism's tables to observations: one value per outcome, arm, replicate and
//! unit (an agent, or the run), as the mechanism's [`OutcomeSource`]s declare them.
//!
//! Outcomes are produced one at a time (each source's table is read once, then its rows
//! are gathered per outcome), so memory holds one outcome's observations at a time.

use std::collections::BTreeMap;
use std::path::Path;

use agora_core::outcome::{Combine, OutcomeName, OutcomeSource, OutcomeUnit, OutcomeValue};
use agora_export::{ExportError, Frame, read_table};

/// Where an observation comes from: arm, replicate, and the agent (`None` for a
/// run-level outcome).
pub type Key = (String, u32, Option<u32>);

/// The observations of one outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutcomeData {
    /// Agent-level or run-level.
    pub unit: Option<OutcomeUnit>,
    /// One value per key.
    pub values: BTreeMap<Key, f64>,
}

/// Accumulates the rows of one unit.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    sum: f64,
    count: u64,
    last_round: u32,
    last: f64,
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
            Combine::Mean => self.sum / self.count as f64,
            Combine::Sum => self.sum,
            Combine::Last => self.last,
        }
    }
}

/// Whether row `i` passes the source's `only` filters.
fn kept(frame: &Frame, source: &OutcomeSource, i: usize) -> bool {
    source.only.iter().all(|(column, allowed)| {
        frame
            .text(column)
            .and_then(|v| v.get(i))
            .is_some_and(|v| allowed.iter().any(|a| a == v))
    })
}

/// A unit's key in the accumulators: arm code, replicate, agent.
type UnitKey = (u32, u32, Option<u32>);

/// Call `each` with every outcome of `sources` read from the tables below `root`, one
/// at a time, in a fixed order. Sources whose table was not written give nothing.
pub fn for_each_outcome(
    root: &Path,
    sources: &[OutcomeSource],
    mut each: impl FnMut(&str, OutcomeData),
) -> Result<(), ExportError> {
    for source in sources {
        let mut text: Vec<&str> = source.only.iter().map(|(c, _)| c.as_str()).collect();
        if let OutcomeName::Column(c) = &source.name {
            text.push(c);
        }
        let mut numbers = Vec::new();
        match &source.value {
            OutcomeValue::Number(c) => numbers.push(c.as_str()),
            OutcomeValue::Shares(c) => text.push(c),
        }
        text.sort();
        text.dedup();
        let Some(frame) = read_table(root, &source.table, &text, &numbers)? else {
            continue;
        };
        // The rows that count, grouped by outcome name.
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..frame.len() {
            if !kept(&frame, source, i) {
                continue;
            }
            let name = match &source.name {
                OutcomeName::Fixed(n) => n.as_str(),
                OutcomeName::Column(c) => match frame.text(c).and_then(|v| v.get(i)) {
                    Some(n) => n,
                    None => continue,
                },
            };
            if source.unit == OutcomeUnit::Agent && frame.agent[i].is_none() {
                continue;
            }
            match by_name.get_mut(name) {
                Some(rows) => rows.push(i),
                None => {
                    by_name.insert(name.to_string(), vec![i]);
                }
            }
        }
        for (name, rows) in by_name {
            gather(&frame, source, &name, &rows, &mut each);
        }
    }
    Ok(())
}

/// The observations of outcome `name` (or, for shares, of each of its levels) from
/// `rows` of `frame`.
fn gather(
    frame: &Frame,
    source: &OutcomeSource,
    name: &str,
    rows: &[usize],
    each: &mut impl FnMut(&str, OutcomeData),
) {
    let unit_of = |i: usize| -> UnitKey {
        let arm = frame.arm.code(i).unwrap_or(0);
        let agent = match source.unit {
            OutcomeUnit::Agent => frame.agent[i],
            OutcomeUnit::Run => None,
        };
        (arm, frame.replicate[i], agent)
    };
    let key_of = |unit: &UnitKey, i: usize| -> Key { (frame.arm(i).to_string(), unit.1, unit.2) };
    match &source.value {
        OutcomeValue::Number(c) => {
            let Some(values) = frame.number(c) else {
                return;
            };
            let mut acc: BTreeMap<UnitKey, (Acc, usize)> = BTreeMap::new();
            for &i in rows {
                if let Some(x) = values[i].filter(|x| x.is_finite()) {
                    let e = acc.entry(unit_of(i)).or_insert((Acc::default(), i));
                    e.0.add(frame.round[i], x);
                }
            }
            let data = OutcomeData {
                unit: Some(source.unit),
                values: acc
                    .iter()
                    .map(|(unit, (a, i))| (key_of(unit, *i), a.value(source.combine)))
                    .collect(),
            };
            if !data.values.is_empty() {
                each(name, data);
            }
        }
        OutcomeValue::Shares(c) => {
            let Some(labels) = frame.text(c) else {
                return;
            };
            // Per unit: its rows' label codes with their rounds.
            let mut units: BTreeMap<UnitKey, (Vec<(u32, u32)>, usize)> = BTreeMap::new();
            let mut levels: BTreeMap<&str, u32> = BTreeMap::new();
            for &i in rows {
                if let (Some(code), Some(label)) = (labels.code(i), labels.get(i)) {
                    levels.insert(label, code);
                    units
                        .entry(unit_of(i))
                        .or_insert((Vec::new(), i))
                        .0
                        .push((code, frame.round[i]));
                }
            }
            for (level, code) in levels {
                let values = units
                    .iter()
                    .map(|(unit, (answers, i))| {
                        let hits = answers.iter().filter(|(c, _)| *c == code).count();
                        let value = match source.combine {
                            Combine::Mean => hits as f64 / answers.len() as f64,
                            Combine::Sum => hits as f64,
                            Combine::Last => {
                                let last = answers.iter().map(|a| a.1).max().unwrap_or(0);
                                let chosen = answers.iter().any(|a| a.0 == code && a.1 == last);
                                f64::from(u8::from(chosen))
                            }
                        };
                        (key_of(unit, *i), value)
                    })
                    .collect();
                each(
                    &format!("{name}={level}"),
                    OutcomeData {
                        unit: Some(source.unit),
                        values,
                    },
                );
            }
        }
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
