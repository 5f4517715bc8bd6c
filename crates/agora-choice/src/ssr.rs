//! Semantic similarity rating (SSR): turning a free-text answer into a distribution
//! over the points of a rating scale.
//!
//! The answer text `t` and one anchor statement `a_r` per scale point are embedded;
//! `γ_r = cos(e(t), e(a_r))`. The probability of scale point `r` is
//!
//! `p(r) = (γ_r − γ_min + ε·[r = argmin γ]) / (Σ_s γ_s − n·γ_min + ε)`,
//!
//! so the least similar anchor gets probability `ε`/denominator (0 by default) and the
//! others are proportional to how much more similar they are. If all `γ` are equal the
//! distribution is uniform. With several anchor sets (different wordings of the same
//! scale) the distributions are averaged. The mean rating is `Σ_r r·p(r)` with scale
//! points numbered from 1.
//!
//! The public reference implementation (pymc-labs/semantic-similarity-rating) applies
//! the same formula to `(1 + cos)/2`; that halves every difference, so its
//! distributions are identical for `ε = 0`, and its `ε` corresponds to `2ε` here.

use crate::error::{ChoiceError, Result};

/// Cosine similarity `a·b / (|a|·|b|)` of two embeddings.
///
/// Errors on unequal lengths, empty or zero vectors, and non-finite entries.
pub fn cosine(a: &[f64], b: &[f64]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(ChoiceError::dims("the second embedding", a.len(), b.len()));
    }
    if a.is_empty() {
        return Err(ChoiceError::empty("the embedding", "dimension"));
    }
    let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        if !x.is_finite() || !y.is_finite() {
            return Err(ChoiceError::non_finite(
                format!("embedding entry {i}"),
                if x.is_finite() { y } else { x },
            ));
        }
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return Err(ChoiceError::invalid(
            "embedding",
            "a vector is all zeros, so its direction (and cosine) is undefined; embed a non-empty text",
        ));
    }
    Ok((dot / (na.sqrt() * nb.sqrt())).clamp(-1.0, 1.0))
}

/// The SSR distribution over scale points from the similarities `γ_r` (see module docs).
pub fn ssr_pmf(similarities: &[f64], epsilon: f64) -> Result<Vec<f64>> {
    if similarities.is_empty() {
        return Err(ChoiceError::empty(
            "the list of anchor similarities",
            "similarity",
        ));
    }
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(ChoiceError::invalid(
            "epsilon",
            format!("{epsilon} must be a finite number ≥ 0 (0 by default)"),
        ));
    }
    for (r, &g) in similarities.iter().enumerate() {
        if !g.is_finite() {
            return Err(ChoiceError::non_finite(format!("similarity {r}"), g));
        }
    }
    let n = similarities.len();
    let (argmin, min) =
        similarities
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |(bi, bv), (i, v)| if v < bv { (i, v) } else { (bi, bv) },
            );
    let mut pmf: Vec<f64> = similarities.iter().map(|g| g - min).collect();
    let spread: f64 = pmf.iter().sum();
    if spread == 0.0 {
        return Ok(vec![1.0 / n as f64; n]);
    }
    pmf[argmin] += epsilon;
    let total = spread + epsilon;
    for p in &mut pmf {
        *p /= total;
    }
    Ok(pmf)
}

/// SSR distribution of one response embedding, averaged over anchor sets.
///
/// `anchor_sets[s][r]` is the embedding of the anchor for scale point `r` in set `s`;
/// every set must have the same number of anchors.
pub fn ssr_from_embeddings(
    response: &[f64],
    anchor_sets: &[Vec<Vec<f64>>],
    epsilon: f64,
) -> Result<Vec<f64>> {
    let first = anchor_sets
        .first()
        .ok_or_else(|| ChoiceError::empty("the list of anchor sets", "anchor set"))?;
    let n = first.len();
    if n == 0 {
        return Err(ChoiceError::empty("the first anchor set", "anchor"));
    }
    let mut mean = vec![0.0; n];
    for (s, set) in anchor_sets.iter().enumerate() {
        if set.len() != n {
            return Err(ChoiceError::dims(format!("anchor set {s}"), n, set.len()));
        }
        let similarities = set
            .iter()
            .map(|anchor| cosine(response, anchor))
            .collect::<Result<Vec<f64>>>()?;
        for (m, p) in mean.iter_mut().zip(ssr_pmf(&similarities, epsilon)?) {
            *m += p;
        }
    }
    for m in &mut mean {
        *m /= anchor_sets.len() as f64;
    }
    Ok(mean)
}

/// Mean rating `Σ_r r·p(r)` of a distribution over scale points numbered 1, 2, ….
///
/// Errors if the entries are negative, non-finite, or do not sum to 1 (within 1e-9).
pub fn mean_rating(pmf: &[f64]) -> Result<f64> {
    if pmf.is_empty() {
        return Err(ChoiceError::empty("the distribution", "probability"));
    }
    let mut sum = 0.0;
    let mut mean = 0.0;
    for (r, &p) in pmf.iter().enumerate() {
        if !p.is_finite() || p < 0.0 {
            return Err(ChoiceError::invalid(
                "distribution",
                format!("entry {r} is {p}; probabilities must be finite and ≥ 0"),
            ));
        }
        sum += p;
        mean += (r + 1) as f64 * p;
    }
    if (sum - 1.0).abs() > 1e-9 {
        return Err(ChoiceError::invalid(
            "distribution",
            format!("entries sum to {sum}, not 1; normalise it first"),
        ));
    }
    Ok(mean)
}

/// 64-bit FNV-1a hash: start from 0xcbf29ce484222325; for each byte, xor it in and
/// multiply by 0x100000001b3 (mod 2⁶⁴).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A deterministic bag-of-words embedding for tests and the rule-based backend.
///
/// The text is lower-cased and split into words, maximal runs of letters and digits
/// (Unicode alphanumerics). Each word's UTF-8 bytes are hashed with [`fnv1a64`]; the
/// word adds `+1` (top bit of the hash clear) or `−1` (top bit set) to bucket
/// `hash mod dims`. The vector of counts is scaled to unit length; a text without
/// words gives the zero vector.
pub fn lexical_embedding(text: &str, dims: usize) -> Result<Vec<f64>> {
    if dims == 0 {
        return Err(ChoiceError::invalid(
            "dims",
            "0 dimensions; ask for at least 1 (e.g. 256)",
        ));
    }
    let mut v = vec![0.0; dims];
    let lower = text.to_lowercase();
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = fnv1a64(word.as_bytes());
        let bucket = (h % dims as u64) as usize;
        v[bucket] += if h >> 63 == 0 { 1.0 } else { -1.0 };
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    Ok(v)
}
