//! From a mechanism's tables to observations: one value per outcome, arm, replicate and
//! unit (an agent, or the run), as the mechanism's [`OutcomeSource`]s declare them.

use std::collections::{BTreeMap, BTreeSet};
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
            .and_then(|v| v[i].as_deref())
            .is_some_and(|v| allowed.iter().any(|a| a == v))
    })
}

/// Every outcome of `sources` read from the tables below `root`, by outcome name.
/// Sources whose table was not written give nothing.
pub fn observations(
    root: &Path,
    sources: &[OutcomeSource],
) -> Result<BTreeMap<String, OutcomeData>, ExportError> {
    let mut out: BTreeMap<String, OutcomeData> = BTreeMap::new();
    for source in sources {
        let (text, numbers): (Vec<&str>, Vec<&str>) = {
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
            (text, numbers)
        };
        let Some(frame) = read_table(root, &source.table, &text, &numbers)? else {
            continue;
        };
        // (outcome name, key) -> accumulator, or per label for shares.
        let mut numbers_acc: BTreeMap<(String, Key), Acc> = BTreeMap::new();
        let mut labels_acc: BTreeMap<(String, Key), BTreeMap<String, Acc>> = BTreeMap::new();
        let mut levels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for i in 0..frame.len() {
            if !kept(&frame, source, i) {
                continue;
            }
            let name = match &source.name {
                OutcomeName::Fixed(n) => n.clone(),
                OutcomeName::Column(c) => match frame.text(c).and_then(|v| v[i].clone()) {
                    Some(n) => n,
                    None => continue,
                },
            };
            let unit = match source.unit {
                OutcomeUnit::Agent => match frame.agent[i] {
                    Some(a) => Some(a),
                    None => continue,
                },
                OutcomeUnit::Run => None,
            };
            let key: Key = (frame.arm[i].clone(), frame.replicate[i], unit);
            let round = frame.round[i];
            match &source.value {
                OutcomeValue::Number(c) => {
                    if let Some(x) = frame.number(c).and_then(|v| v[i]).filter(|x| x.is_finite()) {
                        numbers_acc.entry((name, key)).or_default().add(round, x);
                    }
                }
                OutcomeValue::Shares(c) => {
                    if let Some(label) = frame.text(c).and_then(|v| v[i].clone()) {
                        levels
                            .entry(name.clone())
                            .or_default()
                            .insert(label.clone());
                        let unit_acc = labels_acc.entry((name, key)).or_default();
                        // Every row counts for every label: 1 for its own, 0 for others
                        // (filled in below, once all labels are known).
                        unit_acc.entry(label).or_default().add(round, 1.0);
                        unit_acc.entry(String::new()).or_default().add(round, 0.0);
                    }
                }
            }
        }
        for ((name, key), acc) in numbers_acc {
            let data = out.entry(name).or_default();
            data.unit = Some(source.unit);
            data.values.insert(key, acc.value(source.combine));
        }
        for ((name, key), by_label) in labels_acc {
            let rows = by_label.get("").map_or(0, |a| a.count);
            let last_round = by_label.get("").map_or(0, |a| a.last_round);
            for level in levels.get(&name).into_iter().flatten() {
                let acc = by_label.get(level).copied().unwrap_or_default();
                let value = match source.combine {
                    Combine::Mean => acc.count as f64 / rows.max(1) as f64,
                    Combine::Sum => acc.count as f64,
                    Combine::Last => {
                        if acc.count > 0 && acc.last_round == last_round {
                            1.0
                        } else {
                            0.0
                        }
                    }
                };
                let data = out.entry(format!("{name}={level}")).or_default();
                data.unit = Some(source.unit);
                data.values.insert(key.clone(), value);
            }
        }
    }
    Ok(out)
}
