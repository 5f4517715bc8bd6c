//! Seed streams: independent, reproducible random number generators per purpose.
//!
//! A run has one base seed. Every consumer (the population sampler, one agent's call
//! in one round, a tie-break) derives its own generator from the base seed and a path
//! of numbers, so adding a consumer or reordering work never shifts anyone else's
//! draws. Derivation is a fixed mixing function, stable across platforms and releases.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// The generator every stream yields: small, fast, and portable.
pub type StreamRng = Pcg64Mcg;

/// Well-known stream purposes, the first element of a derivation path.
pub mod purpose {
    /// Sampling the population.
    pub const POPULATION: u64 = 1;
    /// One agent's model call: path continues with (agent, round, call).
    pub const CALL: u64 = 2;
    /// Mechanism-level draws (speaking orders, tie-breaks): path continues with round.
    pub const MECHANISM: u64 = 3;
    /// Per-agent presentation choices (option order): path continues with (agent, item).
    pub const PRESENTATION: u64 = 4;
}

/// A base seed from which named sub-streams are derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedStream {
    base: u64,
}

impl SeedStream {
    /// The stream tree rooted at `base` (the scenario's seed, mixed with the replicate).
    pub fn new(base: u64) -> Self {
        Self { base }
    }

    /// The root of replicate `replicate` of an experiment whose seed is `seed`.
    pub fn for_replicate(seed: u64, replicate: u32) -> Self {
        Self::new(derive(seed, &[0x5eed, u64::from(replicate)]))
    }

    /// The base value of this tree.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// A 64-bit seed for the sub-stream at `path`.
    pub fn seed(&self, path: &[u64]) -> u64 {
        derive(self.base, path)
    }

    /// A generator for the sub-stream at `path`.
    pub fn rng(&self, path: &[u64]) -> StreamRng {
        StreamRng::seed_from_u64(self.seed(path))
    }
}

/// Mix `base` with every element of `path` (SplitMix64 finaliser per step).
pub fn derive(base: u64, path: &[u64]) -> u64 {
    let mut h = mix(base ^ 0x243f_6a88_85a3_08d3);
    for (i, &p) in path.iter().enumerate() {
        h = mix(h ^ mix(p.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))));
    }
    h
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_path_same_draws_and_different_paths_differ() {
        let s = SeedStream::new(42);
        assert_eq!(s.rng(&[1, 2]).next_u64(), s.rng(&[1, 2]).next_u64());
        assert_ne!(s.seed(&[1, 2]), s.seed(&[2, 1]));
        assert_ne!(s.seed(&[1]), s.seed(&[1, 0]));
        assert_ne!(SeedStream::new(43).seed(&[1, 2]), s.seed(&[1, 2]));
    }

    #[test]
    fn derivation_is_stable_across_releases() {
        // Changing these values changes every run's results: treat them as a format.
        assert_eq!(derive(42, &[1, 2]), 14_876_738_759_593_292_995);
        assert_eq!(
            SeedStream::new(42).rng(&[1, 2]).next_u64(),
            1_085_682_232_241_758_706
        );
        assert_ne!(
            SeedStream::for_replicate(7, 0),
            SeedStream::for_replicate(7, 1)
        );
    }
}
