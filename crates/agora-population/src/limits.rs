//! Limits on what a population may ask of the machine, and the memory estimate behind
//! them.
//!
//! A population is refused before sampling when it has more than [`MAX_POPULATION`]
//! agents, or when [`bytes_per_agent`] times its size exceeds [`MEMORY_SHARE_PERCENT`]
//! of the memory the machine has available (`MemAvailable` in `/proc/meminfo`, where
//! present). Import files are bounded by [`MAX_IMPORT_BYTES`], [`MAX_IMPORT_COLUMNS`]
//! and [`MAX_IMPORT_LINE_BYTES`] so that reading one never takes more than a few GB.

use agora_core::components::{AttrValue, Memory, MemoryItem, Persona};

use crate::error::PopulationError;
use crate::spec::PopulationSpec;

/// Most agents a population may have (ten million).
///
/// Every agent is a persona in memory with its own episodic memory; ten million agents
/// already need several GB before a run starts, and a single run that size would take
/// days with a language model.
pub const MAX_POPULATION: usize = 10_000_000;

/// Share of the available memory, in percent, that a population may be estimated to
/// use; the rest is left to the model backend, the tables being written and other
/// programs.
pub const MEMORY_SHARE_PERCENT: u64 = 50;

/// Largest import file accepted, in bytes (64 MiB).
///
/// Parsed cells take up to about 50 times the bytes they were read from (a file of
/// empty cells), so this keeps reading an import below a few GB; it holds about half
/// a million personas of a dozen attributes.
pub const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024;

/// Most columns (CSV header fields, distinct JSONL keys) an import may have.
///
/// Every column becomes an attribute of every persona and a line of its prompt; a
/// thousand is far beyond what a prompt can use.
pub const MAX_IMPORT_COLUMNS: usize = 1_000;

/// Longest line of an import file, in bytes (1 MiB): room for a long narrative, while
/// a file without line breaks is refused at once.
pub const MAX_IMPORT_LINE_BYTES: usize = 1024 * 1024;

/// Columns assumed for an import whose attributes are not listed in the spec (the file
/// itself is only read when sampling).
const ASSUMED_IMPORT_COLUMNS: u64 = 32;
/// Bytes of text an episodic memory item is assumed to hold.
const MEMORY_TEXT_BYTES: u64 = 160;
/// Bytes of narrative per attribute (the one-line narrative lists every attribute).
const NARRATIVE_BYTES_PER_ATTRIBUTE: u64 = 40;
/// Fixed bytes per agent: name, narrative start, entity and table bookkeeping.
const FIXED_BYTES: u64 = 256;

/// Estimated memory of a population before it is sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Estimated bytes per agent.
    pub bytes_per_agent: u64,
    /// Estimated bytes for all agents.
    pub total: u64,
}

/// Estimated bytes one agent of `spec` takes while a run is set up and played: its
/// persona (attributes, traits, name and narrative), its episodic memory of
/// `memory_capacity` items, the sampling columns and its row of the agents table.
///
/// A generous estimate from the spec alone (no file is read): the memory capacity is
/// assumed full, and an import without listed attributes is assumed to have 32
/// columns. For a rule-based survey of three attributes and one custom trait it gives
/// about 6.8 KB per agent, where a million agents measured a peak of 5.8 KB each.
pub fn bytes_per_agent(spec: &PopulationSpec, memory_capacity: u16) -> u64 {
    let attributes = if spec.attributes.is_empty() && spec.import.is_some() {
        ASSUMED_IMPORT_COLUMNS
    } else {
        spec.attributes.len() as u64
    };
    let custom = spec.custom_traits.len() as u64;
    let size = |n: usize| n as u64;
    let persona = size(size_of::<Persona>())
        + attributes * (size(size_of::<AttrValue>()) + NARRATIVE_BYTES_PER_ATTRIBUTE)
        + custom * 4;
    let memory = size(size_of::<Memory>())
        + u64::from(memory_capacity) * (size(size_of::<MemoryItem>()) + MEMORY_TEXT_BYTES);
    // Columns drawn before personas are assembled, and cells of an import.
    let sampling = (attributes + 5 + custom) * 8 + attributes * 32;
    // The agents table's row: attribute values, traits and name.
    let table = attributes * 16 + (5 + custom) * 8;
    FIXED_BYTES + persona + memory + sampling + table
}

/// Check that `agents` agents of `spec` are allowed and fit: at most
/// [`MAX_POPULATION`], and, when `available` memory (bytes) is known, an estimate of
/// at most [`MEMORY_SHARE_PERCENT`] of it. Returns the estimate.
///
/// # Errors
/// [`PopulationError::TooManyAgents`] or [`PopulationError::OutOfMemory`], which quote
/// the estimate and the limit and say how to lower the population.
pub fn check_population(
    spec: &PopulationSpec,
    agents: u64,
    memory_capacity: u16,
    available: Option<u64>,
) -> Result<MemoryEstimate, PopulationError> {
    if agents > MAX_POPULATION as u64 {
        return Err(PopulationError::TooManyAgents {
            agents,
            max: MAX_POPULATION,
        });
    }
    let bytes_per_agent = bytes_per_agent(spec, memory_capacity);
    let total = bytes_per_agent.saturating_mul(agents);
    if let Some(available) = available {
        let limit = available / 100 * MEMORY_SHARE_PERCENT;
        if total > limit {
            return Err(PopulationError::OutOfMemory {
                agents,
                bytes_per_agent,
                estimate: total,
                limit,
                available,
            });
        }
    }
    Ok(MemoryEstimate {
        bytes_per_agent,
        total,
    })
}

/// Memory the machine has available, in bytes: `MemAvailable` of `/proc/meminfo`, or
/// `None` where that file does not exist or lacks the entry.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let mut parts = line.split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    let factor = match parts.next() {
        Some("kB") | Some("KB") | Some("kb") => 1024,
        None => 1,
        Some(_) => return None,
    };
    value.checked_mul(factor)
}

/// `n` bytes in binary units (`1.5 GiB`).
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{AttributeSpec, CustomTraitSpec, TraitDist};
    use crate::{Dist, ImportSpec};

    fn spec(attributes: usize, custom: usize) -> PopulationSpec {
        let uniform = Dist::Uniform { min: 0.0, max: 1.0 };
        PopulationSpec {
            attributes: (0..attributes)
                .map(|i| AttributeSpec {
                    name: format!("a{i}"),
                    dist: uniform.clone(),
                    round: false,
                })
                .collect(),
            custom_traits: (0..custom)
                .map(|i| CustomTraitSpec {
                    name: format!("t{i}"),
                    dist: TraitDist::new(uniform.clone()).expect("numeric"),
                })
                .collect(),
            ..PopulationSpec::default()
        }
    }

    #[test]
    fn the_estimate_grows_with_attributes_traits_and_memory() {
        let base = bytes_per_agent(&spec(0, 0), 32);
        assert!(base > 1_000 && base < 20_000, "{base}");
        assert!(bytes_per_agent(&spec(10, 0), 32) > base);
        assert!(bytes_per_agent(&spec(0, 10), 32) > base);
        assert!(bytes_per_agent(&spec(0, 0), 64) > base);
        let imported = PopulationSpec {
            import: Some(ImportSpec {
                ignore: Vec::new(),
                path: "p.csv".into(),
                format: None,
            }),
            ..PopulationSpec::default()
        };
        assert_eq!(
            bytes_per_agent(&imported, 32),
            bytes_per_agent(&spec(32, 0), 32)
        );
    }

    #[test]
    fn populations_above_the_maximum_are_refused() {
        let err = check_population(&spec(1, 0), u64::MAX, 32, None).err();
        assert!(
            matches!(err, Some(PopulationError::TooManyAgents { .. })),
            "{err:?}"
        );
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("10000000") && msg.contains("lower size"),
            "{msg}"
        );
        assert!(check_population(&spec(1, 0), MAX_POPULATION as u64, 32, None).is_ok());
    }

    #[test]
    fn populations_beyond_the_memory_share_are_refused_with_the_estimate() {
        let gib = 1024 * 1024 * 1024;
        let per = bytes_per_agent(&spec(3, 1), 32);
        let fits = 2 * gib / per;
        assert!(check_population(&spec(3, 1), fits, 32, Some(4 * gib)).is_ok());
        let err = check_population(&spec(3, 1), fits + 10, 32, Some(4 * gib))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("more than the limit of 2.0 GiB")
                && err.contains("50% of the 4.0 GiB")
                && err.contains(&format!("at most {fits}")),
            "{err}"
        );
        // Unknown available memory: only the maximum applies.
        assert!(check_population(&spec(3, 1), 5_000_000, 32, None).is_ok());
    }

    #[test]
    fn meminfo_is_parsed_in_bytes() {
        let text = "MemTotal:       16000000 kB\nMemFree:  1 kB\nMemAvailable:    8000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(8_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: x kB\n"), None);
    }

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }
}
