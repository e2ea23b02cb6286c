//! Is the map faithful to the model? The tests of `../shared/fixtures/faithfulness/README.md`:
//!
//! - [`perturb`]: Chefer et al.'s positive / negative perturbation test (remove the most / least
//!   relevant pixels of the [0, 1] image in fractions 0.1 … 0.9, then normalise);
//! - [`rise`]: RISE's deletion and insertion games (224 pixels per step in the normalised input;
//!   deletion towards zeros, insertion from a Gaussian blur);
//! - [`localisation`]: relevance mass and rank accuracy, ROC-AUC and top-k intersection of a map
//!   against a mask (Quantus's definitions);
//! - [`similarity`]: Spearman (signed and absolute) and SSIM between two maps;
//! - [`cascade`]: model-parameter randomisation from the head down to the embeddings, with the
//!   fixture's deterministic replacement or a seeded random one.
//!
//! Every ranking follows one tie rule ([`order`]): by value, descending, equal values by
//! ascending row-major index. Every model evaluation is batched ([`forward_batched`]).

pub mod cascade;
pub mod perturb;
pub mod rise;
pub mod sanity;
pub mod similarity;
pub mod suite;

use burn::tensor::{Tensor, TensorData};

use crate::explain::{self, ExplainError};
use crate::model::Vit;

/// Most images per model call: large enough to amortise the per-call overhead, small enough
/// that a ViT-B batch stays in a few hundred MB.
pub const BATCH: usize = 32;

/// The size of the batches for `n` inputs on `threads` threads: as few batches of at most
/// [`BATCH`] as will do, of equal size, rounded up to a multiple of the threads where that
/// stays within [`BATCH`] (each thread takes the same number of images).
fn batch_size(n: usize, threads: usize) -> usize {
    let batches = n.div_ceil(BATCH).max(1);
    let size = n.div_ceil(batches).max(1);
    let even = size.div_ceil(threads.max(1)) * threads.max(1);
    if even <= BATCH { even } else { size }
}

/// The model's logits for each of `n` normalised CHW inputs of side `size`, `make(i, buf)` filling
/// input `i` (called in order); evaluated in batches of [`batch_size`]. `progress(done)` is
/// called after each batch and may return `false` to cancel (then `Err(Cancelled)`).
pub fn forward_batched(
    vit: &Vit,
    size: usize,
    n: usize,
    mut make: impl FnMut(usize, &mut [f32]),
    mut progress: impl FnMut(usize) -> bool,
) -> Result<Vec<Vec<f32>>, FaithError> {
    let device = vit.device();
    let per = 3 * size * size;
    let classes = vit.config.num_classes;
    let step = batch_size(n, rayon::current_num_threads());
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let b = step.min(n - start);
        let mut buf = vec![0f32; b * per];
        for (j, chunk) in buf.chunks_mut(per).enumerate() {
            make(start + j, chunk);
        }
        let logits = forward_split(vit, buf, b, size, &device)?;
        crate::io::guard::check_finite(&logits, "the logits of a perturbed input")
            .map_err(|e| FaithError::NonFinite(e.to_string()))?;
        out.extend(logits.chunks(classes).map(<[f32]>::to_vec));
        start += b;
        if !progress(start) {
            return Err(FaithError::Cancelled);
        }
    }
    Ok(out)
}

/// The logits of `b` inputs in `buf`. On the CPU a batch of at least one image per thread is
/// split into one part per thread, each run through the whole model on its thread by the
/// plain-buffer pass ([`Vit::forward_cpu`]); a smaller batch, and any batch elsewhere, runs
/// whole through [`Vit::forward`].
fn forward_split(
    vit: &Vit,
    buf: Vec<f32>,
    b: usize,
    size: usize,
    device: &burn::tensor::Device,
) -> Result<Vec<f32>, FaithError> {
    let per = 3 * size * size;
    let threads = rayon::current_num_threads();
    if *device != burn::tensor::Device::flex() || b < threads {
        let input = Tensor::from_data(TensorData::new(buf, [b, 3, size, size]), device);
        return Ok(explain::to_vec(vit.forward(input))?);
    }
    let chunks = crate::model::rows::row_chunks(b, device);
    use rayon::prelude::*;
    let parts: Vec<Vec<f32>> = chunks
        .into_par_iter()
        .map(|(s, l)| vit.forward_cpu(&buf[s * per..(s + l) * per], l, size, size))
        .collect();
    Ok(parts.concat())
}

/// Errors of the faithfulness tests.
#[derive(Debug, thiserror::Error)]
pub enum FaithError {
    /// A map or an option does not fit the model or the image.
    #[error("{0}")]
    Input(String),
    /// The model produced NaN or infinite values.
    #[error("{0}")]
    NonFinite(String),
    /// Computing a map failed.
    #[error(transparent)]
    Explain(#[from] ExplainError),
    /// The caller cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// The normalised CHW input of `x01` (3 planes in [0, 1]) with per-channel mean and std, in f32
/// as torchvision's `Normalize` computes it.
pub fn normalise_into(x01: &[f32], mean: [f32; 3], std: [f32; 3], out: &mut [f32]) {
    let plane = x01.len() / 3;
    for (i, (o, &v)) in out.iter_mut().zip(x01).enumerate() {
        let c = i / plane;
        *o = (v - mean[c]) / std[c];
    }
}

/// Checks a map and an input against the model: `size²` finite map values, `3·size²` input
/// values. Returns (size, size²).
pub(crate) fn check_inputs(
    vit: &Vit,
    input: &[f32],
    map: &[f32],
) -> Result<(usize, usize), FaithError> {
    let size = vit.config.img_size;
    let n = size * size;
    if map.len() != n || input.len() != 3 * n {
        return Err(FaithError::Input(format!(
            "the map has {} values, the model input {size}×{size} needs {n}",
            map.len()
        )));
    }
    crate::io::guard::check_finite(map, "the map").map_err(|e| FaithError::Input(e.to_string()))?;
    Ok((size, n))
}

/// The softmax probability of `class` for each row of logits.
pub fn probabilities(logits: &[Vec<f32>], class: usize) -> Vec<f32> {
    logits.iter().map(|l| explain::softmax(l)[class]).collect()
}

/// Trapezoid rule, `numpy.trapezoid(y, x)` in f64.
pub fn trapezoid(y: &[f64], x: &[f64]) -> f64 {
    y.windows(2)
        .zip(x.windows(2))
        .map(|(y, x)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches cover the inputs in as few calls as [`BATCH`] allows, each thread taking the
    /// same number of images where that fits.
    #[test]
    fn batches_are_few_and_split_evenly() {
        // The two perturbation tests: one batch, nine images per thread.
        assert_eq!(batch_size(18, 2), 18);
        // Deletion and insertion of a 224² input: 448 inputs in 14 batches of 32.
        assert_eq!(batch_size(448, 2), 32);
        // 449: 15 batches of 30 (the last one short).
        assert_eq!(batch_size(449, 2), 30);
        // An odd count that cannot be evened within the limit stays as it is.
        assert_eq!(batch_size(31, 2), 32);
        assert_eq!(batch_size(33, 4), 20);
        assert_eq!(batch_size(1, 2), 2);
        assert_eq!(batch_size(0, 2), 2);
        for n in 1..200 {
            for threads in 1..6 {
                let b = batch_size(n, threads);
                assert!(
                    b >= 1 && b <= BATCH.max(threads),
                    "n {n}, threads {threads}: {b}"
                );
                assert!(n.div_ceil(b) <= n.div_ceil(BATCH).max(1) + 1, "n {n}: {b}");
            }
        }
    }
}
