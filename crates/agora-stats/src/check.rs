//! Input validation shared by the modules.

use crate::error::{Result, StatsError};

/// Fails when `values` is empty or holds a non-finite value.
pub(crate) fn finite_nonempty(what: &'static str, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(StatsError::EmptyInput { what });
    }
    finite(what, values)
}

/// Fails when `values` holds a non-finite value.
pub(crate) fn finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(&value) => Err(StatsError::NotFinite { what, value }),
        None => Ok(()),
    }
}

/// Fails when `values` has fewer than `needed` values or holds a non-finite value.
pub(crate) fn at_least(what: &'static str, values: &[f64], needed: usize) -> Result<()> {
    if values.is_empty() {
        return Err(StatsError::EmptyInput { what });
    }
    if values.len() < needed {
        return Err(StatsError::TooFew {
            what,
            needed,
            got: values.len(),
        });
    }
    finite(what, values)
}

/// Fails when `level` is not inside (0, 1).
pub(crate) fn level(level: f64) -> Result<()> {
    if level.is_finite() && level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidLevel(level))
    }
}

/// Fails when two lengths differ.
pub(crate) fn same_length(what: &'static str, left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(StatsError::LengthMismatch { what, left, right })
    }
}

/// Fails when fewer than `needed` resamples are requested.
pub(crate) fn resamples(what: &'static str, resamples: usize) -> Result<()> {
    const NEEDED: usize = 2;
    if resamples < NEEDED {
        return Err(StatsError::InvalidArgument {
            what,
            reason: format!(
                "{resamples} resamples requested; ask for at least {NEEDED} (2000 is typical)"
            ),
        });
    }
    Ok(())
}
