//! Raw attention (the paper's map) and GradCAM on the last attention (Chefer's `cam_attn`).
//!
//! - attention: block `layer` (default last), class-token row, keys 1.., mean over heads (or one
//!   head), reshaped to the grid.
//! - cam-attn: last block; per head, the class-token row (keys 1..) of the attention times the
//!   mean of the same row of the attention gradient; mean over heads; clamp at 0; min-max.

use burn::tensor::Tensor;

use super::shared::{ExplainError, PatchMap, check_target, to_vec};
use super::upsample::minmax;
use crate::model::{GradRequest, Probes, Vit, VitConfig};

/// `[B, H, N, N]` → `[B, H, patches]`: the query the output reads, query 0 (the class token)
/// or, without a class token, the mean of the patch queries; the patch keys (after the class
/// token and the registers).
fn class_rows(attn: Tensor<4>, cfg: &VitConfig) -> Tensor<3> {
    let [b, h, n, _] = attn.dims();
    let prefix = cfg.prefix();
    let rows = if cfg.arch.class_token {
        attn.narrow(2, 0, 1)
    } else {
        attn.narrow(2, prefix, n - prefix).mean_dim(2)
    };
    rows.narrow(3, prefix, n - prefix)
        .reshape([b, h, n - prefix])
}

/// The block an attention map reads (default the last), after checking it and `head` exist.
pub(crate) fn check_layer_head(
    cfg: &VitConfig,
    layer: Option<usize>,
    head: Option<usize>,
) -> Result<usize, ExplainError> {
    let layer = layer.unwrap_or(cfg.depth.saturating_sub(1));
    if layer >= cfg.depth {
        return Err(ExplainError::Option(format!(
            "layer {layer} does not exist: the model has {} blocks (0..{})",
            cfg.depth,
            cfg.depth.saturating_sub(1)
        )));
    }
    if let Some(h) = head
        && h >= cfg.num_heads
    {
        return Err(ExplainError::Option(format!(
            "head {h} does not exist: the model has {} heads",
            cfg.num_heads
        )));
    }
    Ok(layer)
}

/// The paper's attention map. Returns (logits, grid map).
pub fn attention_map(
    vit: &Vit,
    input: Tensor<4>,
    layer: Option<usize>,
    head: Option<usize>,
) -> Result<(Vec<f32>, PatchMap), ExplainError> {
    let cfg = &vit.config;
    let layer = check_layer_head(cfg, layer, head)?;
    let trace = vit.forward_kept(input, Probes::NONE, layer..layer + 1);
    let block = trace
        .block(layer)
        .ok_or_else(|| ExplainError::Data(format!("block {layer} was not kept")))?;
    let rows = class_rows(block.attn.clone(), cfg); // [1, H, P]
    let [_, hh, p] = rows.dims();
    let row = match head {
        Some(h) => rows.narrow(1, h, 1).reshape([p]),
        None => rows.mean_dim(1).reshape([p]),
    };
    let _ = hh;
    let (gh, gw) = trace.grid;
    Ok((
        to_vec(trace.logits)?,
        PatchMap {
            height: gh,
            width: gw,
            values: to_vec(row)?,
        },
    ))
}

/// Chefer's `generate_cam_attn`. Returns (target, logits, grid map in [0, 1]).
pub fn cam_attn_map(
    vit: &Vit,
    input: Tensor<4>,
    target: Option<usize>,
) -> Result<(usize, Vec<f32>, PatchMap), ExplainError> {
    let cfg = &vit.config;
    let last = cfg.depth - 1;
    let trace = vit.forward_kept(input, Probes::NONE, last..last + 1);
    let logits = to_vec(trace.logits.clone())?;
    let target = check_target(target, &logits)?;
    let request = GradRequest {
        attn_from: Some(last),
        last_norm1: false,
    };
    let grad = vit
        .logit_gradients(&trace, target, request)?
        .attn
        .pop()
        .map(|(_, g)| g)
        .ok_or_else(|| ExplainError::Data("no gradient for the last attention".into()))?;
    let block = trace
        .block(last)
        .ok_or_else(|| ExplainError::Data("the last block was not kept".into()))?;
    let attn = class_rows(block.attn.clone(), cfg); // [1, H, P]
    let grad = class_rows(grad, cfg); // [1, H, P]
    let [_, h, p] = attn.dims();
    let weights = grad.mean_dim(2); // [1, H, 1]
    let cam = (attn * weights).mean_dim(1).reshape([p]).clamp_min(0.0);
    let _ = h;
    let mut values = to_vec(cam)?;
    minmax(&mut values);
    let (gh, gw) = trace.grid;
    Ok((
        target,
        logits,
        PatchMap {
            height: gh,
            width: gw,
            values,
        },
    ))
}

/// Class-token attention over the patch tokens of every block and head, from one forward
/// pass: `grids[block][head]`, with the mean over heads as the last entry of each block (the
/// `attention` map of that block). Returns (logits, grids).
pub fn layer_head_maps(
    vit: &Vit,
    input: Tensor<4>,
) -> Result<(Vec<f32>, Vec<Vec<PatchMap>>), ExplainError> {
    let cfg = &vit.config;
    let trace = vit.forward_traced(input, Probes::NONE);
    let (gh, gw) = trace.grid;
    let mut grids = Vec::with_capacity(trace.blocks.len());
    for block in &trace.blocks {
        let rows = class_rows(block.attn.clone(), cfg); // [1, H, P]
        let [_, h, p] = rows.dims();
        let mean = rows.clone().mean_dim(1).reshape([1, p]);
        let all = to_vec(Tensor::cat(vec![rows.reshape([h, p]), mean], 0))?;
        grids.push(
            all.chunks(p)
                .map(|v| PatchMap {
                    height: gh,
                    width: gw,
                    values: v.to_vec(),
                })
                .collect(),
        );
    }
    Ok((to_vec(trace.logits)?, grids))
}
