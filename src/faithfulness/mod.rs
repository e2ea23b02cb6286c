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
pub mod localisation;
pub mod order;
pub mod perturb;
pub mod rise;
pub mod similarity;
pub mod suite;

use burn::tensor::{Tensor, TensorData};

use crate::explain::{self, ExplainError};
use crate::model::Vit;

/// Images per model call: large enough to amortise the per-call overhead, small enough that
/// a ViT-B batch stays in a few hundred MB.
pub const BATCH: usize = 16;

/// The model's logits for each of `n` normalised CHW inputs of side `size`, `make(i, buf)` filling
/// input `i`; evaluated [`BATCH`] at a time. `progress(done)` is called after each batch and may
/// return `false` to cancel (then `Err(Cancelled)`).
pub fn forward_batched(
    vit: &Vit,
    size: usize,
    n: usize,
    mut make: impl FnMut(usize, &mut [f32]),
    mut progress: impl FnMut(usize) -> bool,
) -> Result<Vec<Vec<f32>>, FaithError> {
    let device = vit.weights.head.weight.val().device();
    let per = 3 * size * size;
    let classes = vit.config.num_classes;
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let b = BATCH.min(n - start);
        let mut buf = vec![0f32; b * per];
        for (j, chunk) in buf.chunks_mut(per).enumerate() {
            make(start + j, chunk);
        }
        let logits = forward_split(vit, buf, b, size, &device)?;
        crate::io::guard::check_finite(&logits, "the logits of a perturbed input")
            .map_err(FaithError::NonFinite)?;
        out.extend(logits.chunks(classes).map(<[f32]>::to_vec));
        start += b;
        if !progress(start) {
            return Err(FaithError::Cancelled);
        }
    }
    Ok(out)
}

/// The logits of `b` inputs in `buf`. On the CPU the batch is split into one part per thread,
/// each run through the whole model on its own (its layer norms, softmaxes and GELUs too, which
/// the backend runs on one thread); elsewhere it runs whole.
fn forward_split(
    vit: &Vit,
    buf: Vec<f32>,
    b: usize,
    size: usize,
    device: &burn::tensor::Device,
) -> Result<Vec<f32>, FaithError> {
    let chunks = crate::model::rows::row_chunks(b, device);
    let per = 3 * size * size;
    let run = |(s, l): (usize, usize)| -> Result<Vec<f32>, FaithError> {
        let part = buf[s * per..(s + l) * per].to_vec();
        let input = Tensor::from_data(TensorData::new(part, [l, 3, size, size]), device);
        Ok(explain::to_vec(crate::model::rows::as_part(|| {
            vit.forward(input)
        }))?)
    };
    if chunks.len() == 1 {
        return run(chunks[0]);
    }
    use rayon::prelude::*;
    let parts: Vec<Vec<f32>> = chunks.into_par_iter().map(run).collect::<Result<_, _>>()?;
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
    crate::io::guard::check_finite(map, "the map").map_err(FaithError::Input)?;
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
