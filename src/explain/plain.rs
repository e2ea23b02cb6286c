//! The explanation methods on the CPU over plain buffers: the forward pass of
//! [`Vit::trace_cpu`], the gradients of [`Vit::logit_gradients_cpu`] and the relevance of
//! [`super::chefer_cpu`], with the same definitions as the tensor path of each method's module
//! (which stays for the GPU and for the autodiff checks). [`super::explain`] chooses this path
//! when the model is on the CPU.

use super::shared::{ExplainError, ExplainOptions, Map2, Method, PatchMap, check_target};
use super::{attention, gradcam, upsample};
use crate::model::traced::PlainTrace;
use crate::model::{GradRequest, Vit, VitConfig};

/// Whether `method` runs here on the CPU. Rollout and Chefer's relevance stay on the tensor
/// path: rollout needs every row of every block's attention, and the relevance's Add rule
/// divides by the block outputs, so where a channel of the last block's class-token output
/// nearly cancels (-2.2e-4 from terms of order 1 in the `d256_h8_b2` parity case) a 1e-7
/// rounding difference in the forward moves the map by 3e-5 — as far as the parity
/// tolerance. Its forward stays the tensor pass that the parity cases were checked on.
pub(super) fn on_plain_path(method: Method) -> bool {
    !matches!(method, Method::Rollout | Method::Chefer)
}

/// What a method yields: (class explained, logits, grid map, map at input size).
pub(super) type Computed = (usize, Vec<f32>, PatchMap, Map2);

/// The rows that the output reads of `[heads, rows, n]` (one block's attention or its
/// gradient, `rows` per head), over the patch keys: `[heads, patches]`. The class token's row,
/// or without one the mean of the patch tokens' rows.
fn class_rows(values: &[f32], cfg: &VitConfig, rows: usize, n: usize) -> Vec<Vec<f32>> {
    let p = cfg.prefix();
    values
        .chunks_exact(rows * n)
        .map(|head| {
            if cfg.arch.class_token {
                head[p..n].to_vec()
            } else {
                let mut mean = vec![0f32; n - p];
                for row in head.chunks_exact(n).skip(p) {
                    for (m, &v) in mean.iter_mut().zip(&row[p..]) {
                        *m += v;
                    }
                }
                let k = (rows - p) as f32;
                mean.iter_mut().for_each(|m| *m /= k);
                mean
            }
        })
        .collect()
}

/// The model's first image logits and the class to explain.
fn logits_target(
    trace: &PlainTrace,
    classes: usize,
    target: Option<usize>,
    image: usize,
) -> Result<(usize, Vec<f32>), ExplainError> {
    let logits = trace.logits[image * classes..(image + 1) * classes].to_vec();
    Ok((check_target(target, &logits)?, logits))
}

fn grid_map(trace: &PlainTrace, values: Vec<f32>) -> PatchMap {
    PatchMap {
        height: trace.grid.0,
        width: trace.grid.1,
        values,
    }
}

/// `row · (I + M_L) ⋯ (I + M_0)` started from the output's row of `I + M_L`, for matrices
/// `M_i` `[rows_i, n]` (rows past `rows_i` zero), given last block first; the patch entries.
fn product_row(cfg: &VitConfig, n: usize, factors: &[(usize, Vec<f32>)]) -> Vec<f32> {
    let p = cfg.prefix();
    let mut row = vec![0f32; n];
    for (k, (rows, m)) in factors.iter().enumerate() {
        if k == 0 {
            // The output's row of I + M.
            let full = |r: usize| -> Vec<f32> {
                let mut v = if r < *rows {
                    m[r * n..(r + 1) * n].to_vec()
                } else {
                    vec![0f32; n]
                };
                v[r] += 1.0;
                v
            };
            if cfg.arch.class_token {
                row = full(0);
            } else {
                for r in p..n {
                    for (o, v) in row.iter_mut().zip(full(r)) {
                        *o += v;
                    }
                }
                row.iter_mut().for_each(|o| *o /= (n - p) as f32);
            }
            continue;
        }
        let mut next = row.clone();
        for (r, &w) in row.iter().enumerate().take(*rows) {
            if w != 0.0 {
                for (o, &v) in next.iter_mut().zip(&m[r * n..(r + 1) * n]) {
                    *o += w * v;
                }
            }
        }
        row = next;
    }
    row[p..].to_vec()
}

/// `mean_heads(max(a ⊙ b, 0))` of two `[heads, rows, n]` buffers: `[rows, n]`.
fn positive_mean(a: &[f32], b: &[f32], heads: usize) -> Vec<f32> {
    let per = a.len() / heads.max(1);
    let mut out = vec![0f32; per];
    for (ha, hb) in a.chunks_exact(per).zip(b.chunks_exact(per)) {
        for ((o, &x), &y) in out.iter_mut().zip(ha).zip(hb) {
            *o += (x * y).max(0.0);
        }
    }
    out.iter_mut().for_each(|o| *o /= heads as f32);
    out
}

/// The map of `method` for one CHW image `x` of `h × w` ([`on_plain_path`]).
pub(super) fn compute(
    vit: &Vit,
    x: &[f32],
    [h, w]: [usize; 2],
    method: Method,
    opts: &ExplainOptions,
) -> Result<Computed, ExplainError> {
    let cfg = &vit.config;
    let patch = cfg.patch_size;
    let classes = cfg.num_classes;
    let depth = cfg.depth;
    let last = depth.saturating_sub(1);
    if depth == 0 {
        return Err(ExplainError::Option("model has no blocks".into()));
    }
    let heads = cfg.num_heads;
    match method {
        Method::Attention => {
            let layer = attention::check_layer_head(cfg, opts.layer, opts.head)?;
            let trace = vit.trace_cpu(x, [1, h, w], layer..layer + 1);
            let acts = trace
                .block(layer)
                .ok_or_else(|| ExplainError::Data(format!("block {layer} was not kept")))?;
            let rows = class_rows(&acts.attn, cfg, acts.rows, trace.n);
            let values = match opts.head {
                Some(j) => rows[j].clone(),
                None => {
                    let mut mean = vec![0f32; rows[0].len()];
                    for r in &rows {
                        mean.iter_mut().zip(r).for_each(|(m, v)| *m += v);
                    }
                    mean.iter_mut().for_each(|m| *m /= heads as f32);
                    mean
                }
            };
            let grid = grid_map(&trace, values);
            let (target, logits) = logits_target(&trace, classes, opts.target, 0)?;
            let map = upsample::nearest_minmax(&grid, patch);
            Ok((target, logits, grid, map))
        }
        Method::CamAttn => {
            let trace = vit.trace_cpu(x, [1, h, w], last..depth);
            let (target, logits) = logits_target(&trace, classes, opts.target, 0)?;
            let request = GradRequest {
                attn_from: Some(last),
                last_norm1: false,
            };
            let (_, grad) = vit
                .logit_gradients_cpu(&trace, target, request)?
                .attn
                .pop()
                .ok_or_else(|| ExplainError::Data("no gradient for the last attention".into()))?;
            let acts = trace
                .blocks
                .last()
                .ok_or_else(|| ExplainError::Data("the last block was not kept".into()))?;
            let attn = class_rows(&acts.attn, cfg, acts.rows, trace.n);
            let grad = class_rows(&grad, cfg, acts.rows, trace.n);
            let p = attn[0].len();
            let mut cam = vec![0f32; p];
            for (a, g) in attn.iter().zip(&grad) {
                let weight = g.iter().sum::<f32>() / p as f32;
                cam.iter_mut().zip(a).for_each(|(c, v)| *c += v * weight);
            }
            let mut values: Vec<f32> = cam.iter().map(|c| (c / heads as f32).max(0.0)).collect();
            upsample::minmax(&mut values);
            let grid = grid_map(&trace, values);
            let map = upsample::bilinear_minmax(&grid, patch);
            Ok((target, logits, grid, map))
        }
        Method::Generic => {
            let trace = vit.trace_cpu(x, [1, h, w], 0..depth);
            let (target, logits) = logits_target(&trace, classes, opts.target, 0)?;
            let request = GradRequest {
                attn_from: Some(0),
                last_norm1: false,
            };
            let grads = vit.logit_gradients_cpu(&trace, target, request)?.attn;
            let factors: Vec<(usize, Vec<f32>)> = grads
                .iter()
                .zip(&trace.blocks)
                .rev()
                .map(|((_, g), a)| (a.rows, positive_mean(g, &a.attn, heads)))
                .collect();
            let grid = grid_map(&trace, product_row(cfg, trace.n, &factors));
            let map = upsample::bilinear_minmax(&grid, patch);
            Ok((target, logits, grid, map))
        }
        Method::Gradcam | Method::GradcamPaper => {
            let paper = method == Method::GradcamPaper;
            let (batch, flips) = gradcam::batch_of(x, w, paper);
            let b = flips.len();
            let trace = vit.trace_cpu(&batch, [b, h, w], last..depth);
            let base = usize::from(paper); // the unaugmented input
            let (target, logits) = logits_target(&trace, classes, opts.target, base)?;
            let request = GradRequest {
                attn_from: None,
                last_norm1: true,
            };
            let grad = vit
                .logit_gradients_cpu(&trace, target, request)?
                .last_norm1
                .ok_or_else(|| ExplainError::Data("no gradient for norm1".into()))?;
            let act = &trace
                .blocks
                .last()
                .ok_or_else(|| ExplainError::Data("the last block was not kept".into()))?
                .norm1;
            let raw =
                gradcam::raw_cams(act, &grad, [b, trace.n, cfg.prefix(), cfg.embed_dim], paper);
            let (grid, map) = gradcam::finish_cams(&raw, &flips, trace.grid, (h, w));
            Ok((target, logits, grid, map))
        }
        Method::Rollout | Method::Chefer => Err(ExplainError::Option(format!(
            "{method} runs on the tensor path"
        ))),
    }
}
