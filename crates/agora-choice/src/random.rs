//! Small helpers on the seeded generator shared by the design builders.

use rand::RngExt;
use rand_pcg::Pcg64Mcg;

/// Fisher–Yates shuffle driven by the seeded generator, so designs are reproducible.
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut Pcg64Mcg) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}
