//! Data sets and helpers shared by the unit tests. The same literals are in
//! `tests/reference/make_reference.py`, which printed the recorded reference values.

/// First sample (unsorted on purpose).
pub const DATA_A: [f64; 8] = [5.1, 4.9, 6.2, 5.8, 6.0, 5.5, 5.3, 6.1];
/// Second sample.
pub const DATA_B: [f64; 7] = [4.8, 5.0, 5.2, 4.6, 5.1, 4.9, 5.3];
/// Treated arm of a paired design.
pub const TREATED: [f64; 9] = [3.1, 2.4, 4.0, 3.3, 2.9, 3.8, 3.5, 2.2, 3.0];
/// Control arm of a paired design (same people as `TREATED`).
pub const CONTROL: [f64; 9] = [2.8, 2.5, 3.1, 3.0, 2.6, 3.3, 3.6, 2.0, 2.4];
/// `(cluster, value)` observations in four clusters.
pub const CLUSTER_OBS: [(u32, f64); 11] = [
    (0, 1.2),
    (0, 1.9),
    (0, 1.4),
    (1, 2.3),
    (1, 2.8),
    (2, 0.7),
    (2, 1.1),
    (2, 0.9),
    (2, 1.5),
    (3, 2.0),
    (3, 1.6),
];

/// Asserts `|actual − expected| ≤ rel·|expected|` (or ≤ rel when `expected` is 0).
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, rel: f64) {
    let scale = if expected == 0.0 { 1.0 } else { expected.abs() };
    assert!(
        (actual - expected).abs() <= rel * scale,
        "actual {actual} vs expected {expected} (relative tolerance {rel})"
    );
}
