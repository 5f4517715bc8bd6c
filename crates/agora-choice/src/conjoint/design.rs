//! Experimental designs: which profiles each respondent sees in each task.

use rand::RngExt;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::study::ConjointStudy;
use crate::error::{ChoiceError, Result};
use crate::random::shuffle;

/// The profiles shown to one respondent in one task (one level index per attribute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesignTask {
    /// Respondent number, from 0.
    pub respondent: usize,
    /// Task number within the respondent, from 0.
    pub task: usize,
    /// The profiles shown (not including "none").
    pub profiles: Vec<Vec<usize>>,
}

/// How balanced a design is, so that users can judge it before fielding it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignBalance {
    /// `level_counts[a][l]`: how often level `l` of attribute `a` is shown.
    pub level_counts: Vec<Vec<usize>>,
    /// Largest over attributes of (most shown − least shown) level count.
    pub max_count_spread: usize,
    /// Number of times a level is repeated within a task beyond what the number of
    /// levels forces (overlap); 0 means minimal overlap.
    pub excess_overlap: usize,
    /// Number of tasks showing the same profile twice.
    pub duplicate_profile_tasks: usize,
}

fn check_size(
    study: &ConjointStudy,
    respondents: usize,
    tasks: usize,
    alternatives: usize,
) -> Result<()> {
    if respondents == 0 || tasks == 0 {
        return Err(ChoiceError::invalid(
            "design size",
            "respondents and tasks per respondent must both be at least 1",
        ));
    }
    if alternatives < 2 {
        return Err(ChoiceError::invalid(
            "alternatives",
            format!("{alternatives} profile(s) per task; a choice needs at least two"),
        ));
    }
    let distinct = study
        .attributes()
        .iter()
        .try_fold(1usize, |acc, a| acc.checked_mul(a.levels.len()))
        .unwrap_or(usize::MAX);
    if distinct < alternatives {
        return Err(ChoiceError::invalid(
            "alternatives",
            format!(
                "{alternatives} profiles per task but only {distinct} distinct profiles exist; \
                 show fewer alternatives or add levels"
            ),
        ));
    }
    Ok(())
}

fn has_duplicate(profiles: &[Vec<usize>]) -> bool {
    profiles
        .iter()
        .enumerate()
        .any(|(i, p)| profiles[..i].contains(p))
}

/// Every level drawn independently and uniformly; profiles within a task are distinct.
/// Deterministic for a given `seed`.
pub fn random_design(
    study: &ConjointStudy,
    respondents: usize,
    tasks: usize,
    alternatives: usize,
    seed: u64,
) -> Result<Vec<DesignTask>> {
    check_size(study, respondents, tasks, alternatives)?;
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut design = Vec::with_capacity(respondents * tasks);
    for respondent in 0..respondents {
        for task in 0..tasks {
            let mut profiles: Vec<Vec<usize>> = Vec::with_capacity(alternatives);
            while profiles.len() < alternatives {
                let p: Vec<usize> = study
                    .attributes()
                    .iter()
                    .map(|a| rng.random_range(0..a.levels.len()))
                    .collect();
                if !profiles.contains(&p) {
                    profiles.push(p);
                }
            }
            design.push(DesignTask {
                respondent,
                task,
                profiles,
            });
        }
    }
    Ok(design)
}

/// Level-balanced design with minimal overlap.
///
/// Each attribute draws its levels from a "deck" holding shuffled copies of all its
/// levels, so every level is shown about equally often (counts differ by at most a few).
/// Within a task a level is not repeated while unused levels remain, so levels repeat
/// only when an attribute has fewer levels than the task has profiles. If two profiles
/// of a task coincide, the level columns are permuted among the profiles (which keeps
/// the counts) until they differ. Deterministic for a given `seed`.
pub fn balanced_overlap_design(
    study: &ConjointStudy,
    respondents: usize,
    tasks: usize,
    alternatives: usize,
    seed: u64,
) -> Result<Vec<DesignTask>> {
    check_size(study, respondents, tasks, alternatives)?;
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let attributes = study.attributes();
    let mut decks: Vec<Vec<usize>> = vec![Vec::new(); attributes.len()];
    let mut columns: Vec<Vec<usize>> = vec![Vec::with_capacity(alternatives); attributes.len()];
    let mut design = Vec::with_capacity(respondents * tasks);
    for respondent in 0..respondents {
        for task in 0..tasks {
            for (a, attribute) in attributes.iter().enumerate() {
                let n_levels = attribute.levels.len();
                let deck = &mut decks[a];
                let column = &mut columns[a];
                column.clear();
                for _ in 0..alternatives {
                    let all_used = column.len() >= n_levels;
                    let mut pick = deck.iter().rposition(|l| all_used || !column.contains(l));
                    if pick.is_none() {
                        // Put a fresh shuffled copy of the levels under the leftovers.
                        let mut fresh: Vec<usize> = (0..n_levels).collect();
                        shuffle(&mut fresh, &mut rng);
                        fresh.append(deck);
                        *deck = fresh;
                        pick = deck.iter().rposition(|l| all_used || !column.contains(l));
                    }
                    // A fresh copy always holds an unused level, so `pick` is now set.
                    let position = pick.unwrap_or(deck.len() - 1);
                    column.push(deck.remove(position));
                }
            }
            let mut profiles: Vec<Vec<usize>> = (0..alternatives)
                .map(|j| columns.iter().map(|c| c[j]).collect())
                .collect();
            let mut attempts = 0;
            while has_duplicate(&profiles) && attempts < 200 {
                let a = rng.random_range(0..attributes.len());
                let mut column: Vec<usize> = profiles.iter().map(|p| p[a]).collect();
                shuffle(&mut column, &mut rng);
                for (p, l) in profiles.iter_mut().zip(column) {
                    p[a] = l;
                }
                attempts += 1;
            }
            design.push(DesignTask {
                respondent,
                task,
                profiles,
            });
        }
    }
    Ok(design)
}

/// Level counts, overlap and duplicates of a design.
pub fn design_balance(study: &ConjointStudy, design: &[DesignTask]) -> Result<DesignBalance> {
    let attributes = study.attributes();
    let mut level_counts: Vec<Vec<usize>> =
        attributes.iter().map(|a| vec![0; a.levels.len()]).collect();
    let mut excess_overlap = 0;
    let mut duplicate_profile_tasks = 0;
    for task in design {
        for p in &task.profiles {
            study.check_profile(p)?;
            for (a, &l) in p.iter().enumerate() {
                level_counts[a][l] += 1;
            }
        }
        if has_duplicate(&task.profiles) {
            duplicate_profile_tasks += 1;
        }
        for (a, attribute) in attributes.iter().enumerate() {
            let mut seen = vec![false; attribute.levels.len()];
            let mut distinct = 0;
            for p in &task.profiles {
                if !seen[p[a]] {
                    seen[p[a]] = true;
                    distinct += 1;
                }
            }
            let best_possible = task.profiles.len().min(attribute.levels.len());
            excess_overlap += best_possible - distinct;
        }
    }
    let max_count_spread = level_counts
        .iter()
        .map(|c| c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0))
        .max()
        .unwrap_or(0);
    Ok(DesignBalance {
        level_counts,
        max_count_spread,
        excess_overlap,
        duplicate_profile_tasks,
    })
}
