//! Localisation of a map against a mask beyond the paper's pointing game and IoU, as Quantus
//! 0.6 defines them (its max-normalisation does not change any of these values):
//!
//! - **relevance mass** `Σ_S a / Σ a` (the energy share);
//! - **relevance rank** the share of mask pixels among the first |S| of the ranking;
//! - **ROC-AUC** of the map as a score for the mask, `P(a_in > a_out) + ½ P(a_in = a_out)`
//!   (ties at their average rank, independent of any tie order);
//! - **top-k intersection** the share of mask pixels among the first k (1000) of the ranking.
//!
//! Rankings use the tie rule of [`super::order`]. A value is `None` where it is undefined: an
//! empty mask, or a mask covering every pixel (ROC-AUC). A map that sums to 0 has the relevance
//! mass |S| / N, as its energy (every pixel carries the same share).

use serde::Serialize;

use super::order;
use super::shapes::Mask;

/// Quantus's default k of the top-k intersection.
pub const TOP_K: usize = 1000;

/// The four values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Localisation {
    /// Share of the map's sum inside the mask.
    pub relevance_mass: Option<f64>,
    /// Mask pixels among the first |S| ranked, over |S|.
    pub relevance_rank: Option<f64>,
    /// ROC area.
    pub roc_auc: Option<f64>,
    /// Mask pixels among the first [`TOP_K`] ranked, over [`TOP_K`].
    pub top_k_intersection: Option<f64>,
}

/// Scores `map` (row-major, the mask's size) against `mask`.
pub fn score(map: &[f32], mask: &Mask) -> Localisation {
    let inside = |p: usize| mask.data[p] != 0;
    let n = map.len();
    let s = mask.data.iter().filter(|&&v| v != 0).count();
    let (mut sum, mut sum_in) = (0f64, 0f64);
    for (p, &v) in map.iter().enumerate() {
        sum += v as f64;
        if inside(p) {
            sum_in += v as f64;
        }
    }
    let ranked = order::descending(map);
    let hits_in_first = |k: usize| {
        ranked[..k.min(n)]
            .iter()
            .filter(|&&p| inside(p as usize))
            .count()
    };
    Localisation {
        // As the energy: a map summing to 0 spreads its mass evenly.
        relevance_mass: (s > 0).then(|| {
            if sum != 0.0 {
                sum_in / sum
            } else {
                s as f64 / n as f64
            }
        }),
        relevance_rank: (s > 0).then(|| hits_in_first(s) as f64 / s as f64),
        roc_auc: (s > 0 && s < n).then(|| roc_auc(map, mask, s)),
        top_k_intersection: (s > 0 && n >= TOP_K)
            .then(|| hits_in_first(TOP_K) as f64 / TOP_K as f64),
    }
}

/// Mann–Whitney U over average ranks: the ROC area of the map as a classifier of the mask.
fn roc_auc(map: &[f32], mask: &Mask, positives: usize) -> f64 {
    let ranks = average_ranks(map);
    let rank_sum: f64 = ranks
        .iter()
        .zip(&mask.data)
        .filter(|(_, m)| **m != 0)
        .map(|(r, _)| r)
        .sum();
    let (p, q) = (positives as f64, (map.len() - positives) as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * q)
}

/// 1-based ranks of the values, ascending, ties at their average rank (scipy `rankdata`).
pub fn average_ranks(values: &[f32]) -> Vec<f64> {
    let asc = order::ascending(values);
    let mut ranks = vec![0f64; values.len()];
    let mut i = 0;
    while i < asc.len() {
        let v = values[asc[i] as usize];
        let mut j = i + 1;
        while j < asc.len() && values[asc[j] as usize] == v {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let r = (i + 1 + j) as f64 / 2.0;
        for &p in &asc[i..j] {
            ranks[p as usize] = r;
        }
        i = j;
    }
    ranks
}
