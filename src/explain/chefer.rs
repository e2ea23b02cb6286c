//! Chefer et al.'s `transformer_attribution`: LRP relevance with the rules of their
//! `layers_ours` module (alpha = 1, beta = 0), combined with attention gradients.
//!
//! Relevance starts as the one-hot target vector at the head and runs backwards:
//! head (Linear rule) → class-token selection → final norm (identity) → blocks in reverse. Per
//! block: `add2` (normalised Add rule) → `fc2`, GELU (identity), `fc1` → `norm2` (identity) →
//! `clone2` → `add1` → `proj` → `attn @ v` (einsum rule, both halves / 2; the attention half is
//! the block's *attention relevance*) → softmax (identity) → `q @ kᵀ` (einsum rule, / 2) → `qkv`
//! → `norm1` (identity) → `clone1`.
//!
//! The map: for every block `mean_heads(clamp(grad ⊙ relevance, min = 0)) + I`, multiplied from
//! the first block to the last, class-token row, keys 1.. (no row normalisation, no min-max).
//!
//! Every division is Chefer's `safe_divide`: `a / (b + 1e-9)`, and 0 where `b == 0`.
//! All of it is burn tensor ops, so it runs on whichever device holds the model.

use burn::tensor::Tensor;

use super::{ExplainError, PatchMap, check_target, to_vec};
use crate::model::{Probes, Vit};

/// Result of [`chefer_map`].
#[derive(Debug, Clone)]
pub struct CheferResult {
    /// Class explained.
    pub target: usize,
    /// Logits.
    pub logits: Vec<f32>,
    /// `transformer_attribution` on the grid (raw).
    pub grid: PatchMap,
}

/// Per-block tensors behind the map (exposed for inspection and parity tests).
#[derive(Debug, Clone)]
pub struct CheferParts {
    /// Class explained.
    pub target: usize,
    /// Logits `[1, classes]`.
    pub logits: Tensor<2>,
    /// d logit\[target\] / d attention, per block `[1, H, N, N]`.
    pub attn_grads: Vec<Tensor<4>>,
    /// LRP relevance at the attention probabilities, per block `[1, H, N, N]`.
    pub attn_cams: Vec<Tensor<4>>,
}

fn safe_div<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    let den = b.clone().add_scalar(1e-9);
    let den = den.clone() + den.equal_elem(0.0).float() * 1e-9;
    a / den * b.not_equal_elem(0.0).float()
}

/// Linear rule, alpha 1 / beta 0 (`layers_ours.Linear.relprop`).
///
/// `x`: `[M, in]`, `w`: burn layout `[in, out]`, `r`: `[M, out]` → `[M, in]`.
fn linear_relprop(x: Tensor<2>, w: Tensor<2>, r: Tensor<2>) -> Tensor<2> {
    let (pw, nw) = (w.clone().clamp_min(0.0), w.clamp_max(0.0));
    let (px, nx) = (x.clone().clamp_min(0.0), x.clamp_max(0.0));
    let z = px.clone().matmul(pw.clone()) + nx.clone().matmul(nw.clone());
    let s = safe_div(r, z);
    px * s.clone().matmul(pw.transpose()) + nx * s.matmul(nw.transpose())
}

fn linear_relprop3(x: Tensor<3>, w: Tensor<2>, r: Tensor<3>) -> Tensor<3> {
    let [b, n, i] = x.dims();
    let [_, _, o] = r.dims();
    linear_relprop(x.reshape([b * n, i]), w, r.reshape([b * n, o])).reshape([b, n, i])
}

/// Normalised Add rule (`layers_ours.Add.relprop`): relevance split by each input's share.
fn add_relprop(a: Tensor<3>, b: Tensor<3>, r: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
    let s = safe_div(r.clone(), a.clone() + b.clone());
    let ra = a * s.clone();
    let rb = b * s;
    let (sa, sb) = (ra.clone().sum(), rb.clone().sum());
    let total = sa.clone().abs() + sb.clone().abs();
    let rsum = r.sum();
    let fa = safe_div(sa.clone().abs(), total.clone()) * rsum.clone();
    let fb = safe_div(sb.clone().abs(), total) * rsum;
    let ra = ra * safe_div(fa, sa).reshape([1, 1, 1]);
    let rb = rb * safe_div(fb, sb).reshape([1, 1, 1]);
    (ra, rb)
}

/// Clone rule: the input receives the sum of both branches' relevance ratios times itself.
fn clone_relprop(x: Tensor<3>, r1: Tensor<3>, r2: Tensor<3>) -> Tensor<3> {
    let s = safe_div(r1, x.clone()) + safe_div(r2, x.clone());
    x * s
}

/// Runs the forward pass with attention probes, the gradient of the target logit, and the
/// relevance propagation. Returns per-block gradients and attention relevances.
pub fn chefer_parts(
    vit: &Vit,
    input: Tensor<4>,
    target: Option<usize>,
) -> Result<CheferParts, ExplainError> {
    let cfg = &vit.config;
    let (h, dh, d) = (cfg.num_heads, cfg.head_dim(), cfg.embed_dim);
    let probes = Probes {
        attn_from: Some(0),
        last_norm1: false,
    };
    let trace = vit.forward_traced(input, probes);
    let logits = trace.logits.clone().inner();
    let logits_v = to_vec(logits.clone())?;
    let target = check_target(target, &logits_v)?;
    let grads = trace.logits.clone().narrow(1, target, 1).sum().backward();
    let probes = trace
        .probes
        .as_ref()
        .ok_or_else(|| ExplainError::Data("missing attention probes".into()))?;
    let attn_grads = probes
        .attn
        .iter()
        .map(|(_, z)| {
            z.grad(&grads)
                .ok_or_else(|| ExplainError::Data("no attention gradient".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let w = &vit.weights;
    let [b, classes] = logits.dims();
    let device = logits.device();
    // Head: one-hot relevance.
    let mut onehot = vec![0.0f32; b * classes];
    onehot[target] = 1.0;
    let r = Tensor::<2>::from_data(burn::tensor::TensorData::new(onehot, [b, classes]), &device);
    let pooled = trace.pooled.clone().inner();
    let r = linear_relprop(pooled.clone(), w.head.weight.val(), r); // [B, C]
    // Class-token selection (IndexSelect rule): only token 0 receives relevance.
    let r0 = pooled.clone() * safe_div(r, pooled); // [B, C]
    let n = cfg.tokens();
    let mut r = Tensor::cat(
        vec![
            r0.reshape([b, 1, d]),
            Tensor::<3>::zeros([b, n - 1, d], &device),
        ],
        1,
    );
    let mut attn_cams = vec![None; cfg.depth];
    for (i, (blk, bt)) in w.blocks.iter().zip(trace.blocks.iter()).enumerate().rev() {
        let mid = bt.mid.clone().inner();
        let (r1, r2) = add_relprop(mid.clone(), bt.mlp_out.clone().inner(), r);
        let r2 = linear_relprop3(bt.hidden.clone().inner(), blk.mlp.fc2.weight.val(), r2);
        let r2 = linear_relprop3(bt.norm2.clone().inner(), blk.mlp.fc1.weight.val(), r2);
        let rm = clone_relprop(mid, r1, r2);
        let input = bt.input.clone().inner();
        let (r1, r2) = add_relprop(input.clone(), bt.attn_out.clone().inner(), rm);
        let r2 = linear_relprop3(
            bt.attn_heads.clone().inner(),
            blk.attn.proj.weight.val(),
            r2,
        );
        let r2 = r2.reshape([b, n, h, dh]).swap_dims(1, 2); // [B, H, N, Dh]
        // attn @ v
        let (attn, v) = (bt.attn.clone().inner(), bt.v.clone().inner());
        let s = safe_div(r2, attn.clone().matmul(v.clone()));
        let cam_attn = attn * s.clone().matmul(v.clone().swap_dims(2, 3)) * 0.5;
        attn_cams[i] = Some(cam_attn.clone());
        if i == 0 {
            break; // relevance below the first attention is not needed
        }
        let cam_v = v.clone() * attn_swap(&bt.attn).matmul(s) * 0.5;
        // q @ k^T (unscaled, as Chefer's einsum module sees it)
        let (q, k) = (bt.q.clone().inner(), bt.k.clone().inner());
        let s = safe_div(cam_attn, q.clone().matmul(k.clone().swap_dims(2, 3)));
        let cam_q = q.clone() * s.clone().matmul(k.clone()) * 0.5;
        let cam_k = k * s.swap_dims(2, 3).matmul(q) * 0.5;
        // [3, B, H, N, Dh] -> [B, N, 3, H, Dh] -> [B, N, 3C]
        let cam_qkv = Tensor::stack::<5>(vec![cam_q, cam_k, cam_v], 0)
            .permute([1, 3, 0, 2, 4])
            .reshape([b, n, 3 * d]);
        let r2 = linear_relprop3(bt.norm1.clone().inner(), blk.attn.qkv.weight.val(), cam_qkv);
        r = clone_relprop(input, r1, r2);
    }
    let attn_cams = attn_cams
        .into_iter()
        .map(|c| c.ok_or_else(|| ExplainError::Data("missing block relevance".into())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CheferParts {
        target,
        logits,
        attn_grads,
        attn_cams,
    })
}

fn attn_swap(attn: &Tensor<4>) -> Tensor<4> {
    attn.clone().inner().swap_dims(2, 3)
}

/// The transformer-attribution map on the grid.
pub fn chefer_map(
    vit: &Vit,
    input: Tensor<4>,
    target: Option<usize>,
) -> Result<CheferResult, ExplainError> {
    let parts = chefer_parts(vit, input, target)?;
    let n = vit.config.tokens();
    let device = parts.logits.device();
    let eye = Tensor::<2>::eye(n, &device);
    // Row 0 of A_L ... A_0 with A_i = I + mean_h(clamp(grad * cam, 0)).
    let mut row: Option<Tensor<2>> = None;
    for (g, c) in parts.attn_grads.iter().zip(parts.attn_cams.iter()).rev() {
        let a = (g.clone() * c.clone())
            .clamp_min(0.0)
            .mean_dim(1)
            .reshape([n, n])
            + eye.clone();
        row = Some(match row {
            None => a.narrow(0, 0, 1),
            Some(r) => r.matmul(a),
        });
    }
    let row = row.ok_or_else(|| ExplainError::Option("model has no blocks".into()))?;
    let g = vit.config.grid();
    Ok(CheferResult {
        target: parts.target,
        logits: to_vec(parts.logits)?,
        grid: PatchMap {
            height: g,
            width: g,
            values: to_vec(row.narrow(1, 1, n - 1))?,
        },
    })
}
