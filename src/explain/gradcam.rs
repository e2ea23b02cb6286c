//! GradCAM on the last block's `norm1` output, as pytorch-grad-cam 1.5.7 executes it with the
//! paper's `vit_reshape_transform` (the patch tokens, after the class token and any registers,
//! reshaped row-major to the grid).
//!
//! Per input: channel weights `w_c` = mean over positions of d logit\[target\] / d activation;
//! plain cam = `Σ_c w_c A_c`; eigen cam = projection of the column-centred matrix `w_c A_c`
//! (positions × channels) on its first right singular vector. Then `max(cam, 0)`, `cam - min`,
//! `cam / (1e-7 + max)`, bilinear resize (half-pixel, edge clamp) to the input size, and the
//! layer aggregation's second `cam - min`, `cam / (1e-7 + max)`.
//!
//! The paper setting adds test-time augmentation: six inputs (no flip / horizontal flip) ×
//! (×0.9, ×1, ×1.1) of the normalised tensor, evaluated as one batch; each map is flipped back and
//! the six are averaged with no renormalisation.
//!
//! **SVD sign rule.** A singular vector is defined up to sign and LAPACK does not normalise it,
//! yet the ReLU keeps only the positive side. We choose the sign for which the projection agrees
//! with the plain GradCAM of the same input (non-negative dot product with `Σ_c w_c A_c`), so the
//! smoothed map highlights what the unsmoothed one highlights. The projection is computed as
//! `σ₁ u₁` from the symmetric eigen-decomposition (f64) of the smaller Gram matrix.
//!
//! When no target is given, every augmented input explains the class that the unaugmented input
//! predicts.

use burn::tensor::{Tensor, TensorData};
use nalgebra::DMatrix;

use super::shared::{ExplainError, Map2, PatchMap, check_target, to_vec};
use super::upsample::min_max;
use crate::model::preprocess::resize_bilinear;
use crate::model::{GradRequest, Probes, Vit};

/// The six test-time transforms, in ttach's order: (horizontal flip, factor).
pub const AUGMENTATIONS: [(bool, f32); 6] = [
    (false, 0.9),
    (false, 1.0),
    (false, 1.1),
    (true, 0.9),
    (true, 1.0),
    (true, 1.1),
];

/// Result of [`gradcam`].
#[derive(Debug, Clone)]
pub struct GradcamResult {
    /// Class explained.
    pub target: usize,
    /// Logits of the unaugmented input.
    pub logits: Vec<f32>,
    /// Grid map: the cam after ReLU and grad-cam's first scaling (for the paper setting, the mean
    /// of the six un-flipped grid cams).
    pub grid: PatchMap,
    /// The final map at input resolution.
    pub map: Map2,
    /// Per input of the batch: the cam before ReLU on the grid, in the input's own (augmented)
    /// frame — the weighted sum (plain) or the eigen projection (paper).
    pub raw: Vec<Vec<f32>>,
}

/// Channel weights and weighted activations of one input: `[P * C]` row-major (position, channel).
fn weighted_activations(act: &[f32], grad: &[f32], p: usize, c: usize) -> Vec<f32> {
    let mut w = vec![0.0f64; c];
    for row in grad.chunks_exact(c).take(p) {
        for (acc, &g) in w.iter_mut().zip(row) {
            *acc += g as f64;
        }
    }
    let w: Vec<f32> = w.iter().map(|s| (s / p as f64) as f32).collect();
    act.chunks_exact(c)
        .take(p)
        .flat_map(|row| row.iter().zip(&w).map(|(&a, &wc)| a * wc))
        .collect()
}

fn plain_cam(weighted: &[f32], c: usize) -> Vec<f32> {
    weighted
        .chunks_exact(c)
        .map(|row| row.iter().map(|&v| v as f64).sum::<f64>() as f32)
        .collect()
}

/// Projection of the column-centred `weighted` (`p × c`) on its first right singular vector,
/// with the sign rule described in the module docs.
pub fn eigen_projection(weighted: &[f32], p: usize, c: usize) -> Vec<f32> {
    let mut m = DMatrix::<f64>::from_fn(p, c, |i, j| weighted[i * c + j] as f64);
    for j in 0..c {
        let mean = m.column(j).mean();
        m.column_mut(j).add_scalar_mut(-mean);
    }
    let proj: Vec<f64> = if p <= c {
        let gram = &m * m.transpose();
        let eig = gram.symmetric_eigen();
        let k = eig.eigenvalues.imax();
        let sigma = eig.eigenvalues[k].max(0.0).sqrt();
        eig.eigenvectors
            .column(k)
            .iter()
            .map(|u| u * sigma)
            .collect()
    } else {
        let gram = m.transpose() * &m;
        let eig = gram.symmetric_eigen();
        let k = eig.eigenvalues.imax();
        let v = eig.eigenvectors.column(k).into_owned();
        (&m * v).iter().copied().collect()
    };
    let plain = plain_cam(weighted, c);
    let agree: f64 = proj.iter().zip(&plain).map(|(a, &b)| a * b as f64).sum();
    let sign = if agree < 0.0 { -1.0 } else { 1.0 };
    proj.iter().map(|v| (v * sign) as f32).collect()
}

/// grad-cam's `max(cam, 0)` then `scale_cam_image` (min shift, `/ (1e-7 + max)`), in place.
fn relu_scale(cam: &mut [f32]) {
    for v in cam.iter_mut() {
        *v = v.max(0.0);
    }
    scale(cam);
}

fn scale(cam: &mut [f32]) {
    let (lo, _) = min_max(cam);
    for v in cam.iter_mut() {
        *v -= lo;
    }
    let (_, hi) = min_max(cam);
    for v in cam.iter_mut() {
        *v /= 1e-7 + hi;
    }
}

fn flip_rows(map: &mut [f32], width: usize) {
    for row in map.chunks_exact_mut(width) {
        row.reverse();
    }
}

/// From raw grid cams (one per input, in the input's frame) to the final map, as grad-cam does
/// it. `flips[i]` tells whether input `i` was horizontally flipped. Returns (grid, map).
/// `grid` and `size` are `(rows, cols)` of the patch grid and of the input.
pub fn finish_cams(
    raw: &[Vec<f32>],
    flips: &[bool],
    grid: (usize, usize),
    size: (usize, usize),
) -> (PatchMap, Map2) {
    let (gh, gw) = grid;
    let (h, w) = size;
    let mut grid_sum = vec![0.0f32; gh * gw];
    let mut map_sum = vec![0.0f32; h * w];
    for (cam, &flip) in raw.iter().zip(flips) {
        let mut cam = cam.clone();
        relu_scale(&mut cam);
        let mut big = resize_bilinear(&cam, gw, gh, w, h);
        // aggregate_multi_layers: max(., 0), mean over one layer, scale again
        relu_scale(&mut big);
        if flip {
            flip_rows(&mut cam, gw);
            flip_rows(&mut big, w);
        }
        for (s, v) in grid_sum.iter_mut().zip(&cam) {
            *s += v;
        }
        for (s, v) in map_sum.iter_mut().zip(&big) {
            *s += v;
        }
    }
    let k = raw.len() as f32;
    (
        PatchMap {
            height: gh,
            width: gw,
            values: grid_sum.iter().map(|v| v / k).collect(),
        },
        Map2 {
            height: h,
            width: w,
            values: map_sum.iter().map(|v| v / k).collect(),
        },
    )
}

fn augment(input: &[f32], width: usize, flip: bool, factor: f32) -> Vec<f32> {
    let mut out: Vec<f32> = input.iter().map(|v| v * factor).collect();
    if flip {
        flip_rows(&mut out, width);
    }
    out
}

/// The batch GradCAM explains: the input alone, or its six augmentations (the paper's
/// smoothing) in ttach's order; and which of them are flipped.
pub(crate) fn batch_of(x: &[f32], w: usize, paper: bool) -> (Vec<f32>, Vec<bool>) {
    if !paper {
        return (x.to_vec(), vec![false]);
    }
    let mut all = Vec::with_capacity(x.len() * AUGMENTATIONS.len());
    for &(flip, factor) in &AUGMENTATIONS {
        all.extend(augment(x, w, flip, factor));
    }
    (all, AUGMENTATIONS.iter().map(|a| a.0).collect())
}

/// The raw grid cam of each of `b` inputs from the activations `act` and the gradients `grad`
/// at the target layer (`[b · n, c]`, the patch tokens after the `prefix` ones): the weighted
/// sum, or the eigen projection (`paper`), computed for the inputs in parallel.
pub(crate) fn raw_cams(
    act: &[f32],
    grad: &[f32],
    [b, n, prefix, c]: [usize; 4],
    paper: bool,
) -> Vec<Vec<f32>> {
    use rayon::prelude::*;
    let p = n - prefix;
    (0..b)
        .into_par_iter()
        .map(|i| {
            let off = i * n * c + prefix * c;
            let w = weighted_activations(&act[off..off + p * c], &grad[off..off + p * c], p, c);
            if paper {
                eigen_projection(&w, p, c)
            } else {
                plain_cam(&w, c)
            }
        })
        .collect()
}

/// GradCAM, plain (`paper = false`) or with the paper's eigen + augmentation smoothing.
pub fn gradcam(
    vit: &Vit,
    input: Tensor<4>,
    target: Option<usize>,
    paper: bool,
) -> Result<GradcamResult, ExplainError> {
    let cfg = &vit.config;
    let [_, chans, h, w] = input.dims();
    let c = cfg.embed_dim;
    let device = input.device();
    let (all, flips) = batch_of(&to_vec(input)?, w, paper);
    let b = flips.len();
    let batch_input = Tensor::from_data(TensorData::new(all, [b, chans, h, w]), &device);
    let last = cfg.depth.saturating_sub(1);
    let trace = vit.forward_kept(batch_input, Probes::NONE, last..last + 1);
    let grid = trace.grid;
    let (n, prefix) = (trace.normed.dims()[1], cfg.prefix());
    let logits_all = to_vec(trace.logits.clone())?;
    let classes = cfg.num_classes;
    let base = if paper { 1 } else { 0 }; // index of the unaugmented input
    let logits = logits_all[base * classes..(base + 1) * classes].to_vec();
    let target = check_target(target, &logits)?;
    let request = GradRequest {
        attn_from: None,
        last_norm1: true,
    };
    let grad = vit
        .logit_gradients(&trace, target, request)?
        .last_norm1
        .ok_or_else(|| ExplainError::Data("no gradient for norm1".into()))?;
    let act = trace
        .block(last)
        .ok_or_else(|| ExplainError::Option("model has no blocks".into()))?
        .norm1
        .clone();
    let (act, grad) = (to_vec(act)?, to_vec(grad)?);
    let raw = raw_cams(&act, &grad, [b, n, prefix, c], paper);
    let (grid_map, map) = finish_cams(&raw, &flips, grid, (h, w));
    Ok(GradcamResult {
        target,
        logits,
        grid: grid_map,
        map,
        raw,
    })
}
