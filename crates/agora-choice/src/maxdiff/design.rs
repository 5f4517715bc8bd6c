//! Near-balanced incomplete block designs for MaxDiff.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::error::{ChoiceError, Result};
use crate::random::shuffle;

/// How balanced a MaxDiff design is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxDiffBalance {
    /// `item_counts[i]`: number of tasks showing item `i`.
    pub item_counts: Vec<usize>,
    /// Fewest tasks any item appears in.
    pub min_item_count: usize,
    /// Most tasks any item appears in.
    pub max_item_count: usize,
    /// Fewest tasks any pair of items appears in together.
    pub min_pair_count: usize,
    /// Most tasks any pair of items appears in together.
    pub max_pair_count: usize,
    /// Average number of tasks per pair, `tasks·s(s−1)/2 / (n(n−1)/2)` for `s` items per task.
    pub mean_pair_count: f64,
}

/// A MaxDiff design: the items shown in each task, and its balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxDiffDesign {
    /// `tasks[t]` lists the item indices shown in task `t`, in display order.
    pub tasks: Vec<Vec<usize>>,
    /// Item and pair frequencies of `tasks`.
    pub balance: MaxDiffBalance,
}

fn balance(items: usize, tasks: &[Vec<usize>]) -> MaxDiffBalance {
    let mut item_counts = vec![0; items];
    let mut pairs = vec![0usize; items * items];
    for task in tasks {
        for (a, &i) in task.iter().enumerate() {
            item_counts[i] += 1;
            for &j in &task[a + 1..] {
                pairs[i.min(j) * items + i.max(j)] += 1;
            }
        }
    }
    let pair_values: Vec<usize> = (0..items)
        .flat_map(|i| ((i + 1)..items).map(move |j| (i, j)))
        .map(|(i, j)| pairs[i * items + j])
        .collect();
    let per_task = tasks.first().map_or(0, Vec::len);
    let n_pairs = (items * (items - 1) / 2).max(1);
    MaxDiffBalance {
        min_item_count: item_counts.iter().copied().min().unwrap_or(0),
        max_item_count: item_counts.iter().copied().max().unwrap_or(0),
        item_counts,
        min_pair_count: pair_values.iter().copied().min().unwrap_or(0),
        max_pair_count: pair_values.iter().copied().max().unwrap_or(0),
        mean_pair_count: (tasks.len() * per_task * per_task.saturating_sub(1) / 2) as f64
            / n_pairs as f64,
    }
}

/// Builds one candidate design greedily: each slot takes, among the least-shown items not
/// yet in the task, the one that has appeared least often with the items already chosen.
fn candidate(items: usize, per_task: usize, tasks: usize, rng: &mut Pcg64Mcg) -> Vec<Vec<usize>> {
    let mut counts = vec![0usize; items];
    let mut pairs = vec![0usize; items * items];
    let mut order: Vec<usize> = (0..items).collect();
    let mut design = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let mut task: Vec<usize> = Vec::with_capacity(per_task);
        for _ in 0..per_task {
            shuffle(&mut order, rng);
            let min_count = order
                .iter()
                .filter(|i| !task.contains(i))
                .map(|&i| counts[i])
                .min()
                .unwrap_or(0);
            let pick = order
                .iter()
                .copied()
                .filter(|i| !task.contains(i) && counts[*i] == min_count)
                .min_by_key(|&i| task.iter().map(|&j| pairs[i * items + j]).sum::<usize>());
            if let Some(i) = pick {
                for &j in &task {
                    pairs[i * items + j] += 1;
                    pairs[j * items + i] += 1;
                }
                counts[i] += 1;
                task.push(i);
            }
        }
        shuffle(&mut task, rng);
        design.push(task);
    }
    design
}

/// A near-balanced incomplete block design for `items` items, `per_task` per task,
/// `tasks` tasks. Deterministic for a given `seed`.
///
/// Items are always drawn from the least-shown ones, so item counts differ by at most
/// one, and every item appears exactly `tasks·per_task/items` times when that is a whole
/// number. Pairs are balanced greedily; of 20 candidate designs the one with the
/// smallest spread of pair counts (then the smallest sum of squared pair counts) is
/// kept. The achieved balance is reported in [`MaxDiffDesign::balance`].
pub fn bibd_design(
    items: usize,
    per_task: usize,
    tasks: usize,
    seed: u64,
) -> Result<MaxDiffDesign> {
    if items < 2 {
        return Err(ChoiceError::invalid(
            "items",
            format!("{items} item(s); MaxDiff needs at least two"),
        ));
    }
    if per_task < 2 || per_task > items {
        return Err(ChoiceError::invalid(
            "items per task",
            format!("{per_task} is not between 2 and the number of items ({items})"),
        ));
    }
    if tasks == 0 {
        return Err(ChoiceError::invalid(
            "tasks",
            "0 tasks; ask for at least one",
        ));
    }
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut best: Option<(usize, usize, Vec<Vec<usize>>)> = None;
    for _ in 0..20 {
        let design = candidate(items, per_task, tasks, &mut rng);
        let b = balance(items, &design);
        let spread = b.max_pair_count - b.min_pair_count;
        let sum_squares = pair_sum_of_squares(items, &design);
        let better = match &best {
            None => true,
            Some((s, q, _)) => (spread, sum_squares) < (*s, *q),
        };
        if better {
            best = Some((spread, sum_squares, design));
        }
    }
    let tasks = best.map(|(_, _, d)| d).unwrap_or_default();
    Ok(MaxDiffDesign {
        balance: balance(items, &tasks),
        tasks,
    })
}

fn pair_sum_of_squares(items: usize, design: &[Vec<usize>]) -> usize {
    let mut pairs = vec![0usize; items * items];
    for t in design {
        for (a, &i) in t.iter().enumerate() {
            for &j in &t[a + 1..] {
                pairs[i.min(j) * items + i.max(j)] += 1;
            }
        }
    }
    pairs.iter().map(|c| c * c).sum()
}
