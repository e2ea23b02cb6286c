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
//! All of it is burn tensor ops, so it runs on whichever device holds the model; on the CPU the
//! Linear rule's products (most of the work) run on plain buffers instead, reading `wᵀ` and
//! `|w|ᵀ` in place, so the model keeps one more copy of its weights (`|w|`) rather than three.

use burn::nn::Linear;
use burn::tensor::Tensor;

use super::shared::{ExplainError, PatchMap, check_target, output_row, patch_row, to_vec};
use crate::model::rows::{pad_rows, par_rows};
use crate::model::{GradRequest, Probes, Vit};

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
    /// Patch grid `(rows, cols)` of the input.
    pub grid: (usize, usize),
}

/// Chefer's `safe_divide` with denominator offset `eps`: `a / (b + eps)`, with `eps` for a
/// denominator that rounds to 0, and 0 where `b == 0`.
fn safe_div_eps<const D: usize>(a: Tensor<D>, b: Tensor<D>, eps: f64) -> Tensor<D> {
    let b_zero = b.clone().equal_elem(0.0);
    let den = b.add_scalar(eps);
    let den = den.clone().mask_fill(den.equal_elem(0.0), eps);
    (a / den).mask_fill(b_zero, 0.0)
}

/// Chefer's `safe_divide`: `a / (b + 1e-9)`, and 0 where `b == 0`.
fn safe_div<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    safe_div_eps(a, b, 1e-9)
}

/// A Linear layer's output without its bias: `x · w`.
fn without_bias<const D: usize>(y: Tensor<D>, layer: &Linear) -> Tensor<D> {
    match &layer.bias {
        Some(bias) => y - bias.val().unsqueeze(),
        None => y,
    }
}

/// Linear rule, alpha 1 / beta 0 (`layers_ours.Linear.relprop`).
///
/// With `x = x⁺ + x⁻` and `w = w⁺ + w⁻` the rule is `z = x⁺w⁺ + x⁻w⁻`, `s = r / z`,
/// `out = x⁺ ⊙ s w⁺ᵀ + x⁻ ⊙ s w⁻ᵀ`. Since `x⁺w⁺ + x⁻w⁻ = ½(xw + |x||w|)` and
/// `x⁺ ⊙ a⁺ + x⁻ ⊙ a⁻ = ½(x ⊙ (a⁺ + a⁻) + |x| ⊙ (a⁺ − a⁻))`, the same relevance is
/// `x ⊙ s' wᵀ + |x| ⊙ s' |w|ᵀ` with `s' = r / (xw + |x||w|)` (offset `2e-9`, i.e. Chefer's `1e-9`
/// on `z`). `xw` is the layer's own forward output without its bias, so the rule takes three
/// matrix products of the layer's size instead of four.
///
/// `x`: `[M, in]`, `xw`: `[M, out]`, `w`: burn layout `[in, out]`, `r`: `[M, out]` → `[M, in]`.
fn linear_relprop(x: Tensor<2>, xw: Tensor<2>, w: &LinearWeights, r: Tensor<2>) -> Tensor<2> {
    let x_abs = x.clone().abs();
    let z2 = xw + x_abs.clone().matmul(w.abs.clone());
    let s = safe_div_eps(r, z2, 2e-9);
    x * s.clone().matmul(w.t.clone()) + x_abs * s.matmul(w.abs_t.clone())
}

/// A Linear weight in the three forms [`linear_relprop`] multiplies by: `|w|` `[in, out]`, and
/// `wᵀ`, `|wᵀ|` `[out, in]`, all contiguous.
struct LinearWeights {
    abs: Tensor<2>,
    t: Tensor<2>,
    abs_t: Tensor<2>,
}

impl LinearWeights {
    fn new(t: &Tensor<2>, abs: &(Tensor<2>, Tensor<2>)) -> Self {
        LinearWeights {
            abs: abs.0.clone(),
            t: t.clone(),
            abs_t: abs.1.clone(),
        }
    }
}

/// What the Linear rule multiplies by: the weight's tensors on the model's device, or on the
/// CPU its plain buffers (`w` with its bias, and `|w|`, both `[in, out]`), whose products run
/// through [`crate::model::buffers`] with the output columns split over the threads and the
/// transposes read in place.
enum RuleWeights<'a> {
    Tensors(Box<LinearWeights>),
    Plain {
        w: &'a (Vec<f32>, Option<Vec<f32>>),
        abs: &'a [f32],
    },
}

/// The four Linear layers of every block (qkv, proj, fc1, fc2) as [`RuleWeights`].
fn rule_weights(vit: &Vit, plain: bool) -> Vec<[RuleWeights<'_>; 4]> {
    if plain {
        return vit
            .cpu_weights()
            .blocks
            .iter()
            .map(|b| {
                let [qkv, proj, fc1, fc2] = b.absolute();
                [(&b.qkv, qkv), (&b.proj, proj), (&b.fc1, fc1), (&b.fc2, fc2)]
                    .map(|(w, abs)| RuleWeights::Plain { w, abs })
            })
            .collect();
    }
    vit.transposed_linears()
        .iter()
        .zip(vit.absolute_linears())
        .map(|(t, a)| {
            [
                LinearWeights::new(&t.qkv, &a.qkv),
                LinearWeights::new(&t.proj, &a.proj),
                LinearWeights::new(&t.fc1, &a.fc1),
                LinearWeights::new(&t.fc2, &a.fc2),
            ]
            .map(|w| RuleWeights::Tensors(Box::new(w)))
        })
        .collect()
}

/// [`safe_div_eps`] on one value.
#[inline(always)]
fn safe_div_value(a: f32, b: f32, eps: f32) -> f32 {
    if b == 0.0 {
        return 0.0;
    }
    let den = b + eps;
    a / if den == 0.0 { eps } else { den }
}

/// [`linear_relprop`] on plain buffers, in the same order of operations: `x` `[m, in]`, `y` the
/// layer's output with bias `[m, out]`, `r` `[m, out]` → `[m, in]` on `device`.
fn plain_linear_relprop(
    [x, y, r]: [Tensor<2>; 3],
    (w, bias): &(Vec<f32>, Option<Vec<f32>>),
    w_abs: &[f32],
) -> Result<Tensor<2>, ExplainError> {
    use crate::model::buffers::{View, par_product};
    use rayon::prelude::*;
    // Element-wise sweeps in parallel chunks (one thread's sweep over [197, 3072] costs as much
    // as a tenth of the layer's products).
    const CHUNK: usize = 1 << 14;
    let [m, inn] = x.dims();
    let out = r.dims()[1];
    let device = x.device();
    let (x, y, r) = (to_vec(x)?, to_vec(y)?, to_vec(r)?);
    let x_abs: Vec<f32> = x.par_iter().with_min_len(CHUNK).map(|v| v.abs()).collect();
    let p = par_product(View::dense(&x_abs, m, inn), View::dense(w_abs, inn, out));
    // s = r / ((y − bias) + p), as the tensor rule orders it.
    let s: Vec<f32> = (r.par_iter().zip(&y).zip(&p))
        .with_min_len(CHUNK)
        .enumerate()
        .map(|(i, ((&r, &y), &p))| {
            let z = bias.as_ref().map_or(y, |b| y - b[i % out]);
            safe_div_value(r, z + p, 2e-9)
        })
        .collect();
    let s = View::dense(&s, m, out);
    let a = par_product(s, View::dense(w, inn, out).t());
    let c = par_product(s, View::dense(w_abs, inn, out).t());
    let rel: Vec<f32> = (x.par_iter().zip(&x_abs).zip(a.par_iter().zip(&c)))
        .with_min_len(CHUNK)
        .map(|((&x, &xa), (&a, &c))| x * a + xa * c)
        .collect();
    Ok(Tensor::from_data(
        burn::tensor::TensorData::new(rel, [m, inn]),
        &device,
    ))
}

/// [`linear_relprop`] for a token sequence: `x` `[B, N, in]`, `y` the layer's output (with bias)
/// `[B, N, out]`, `r` `[B, N, out]` → `[B, N, in]`.
fn linear_relprop3(
    x: Tensor<3>,
    y: Tensor<3>,
    layer: &Linear,
    w: &RuleWeights,
    r: Tensor<3>,
) -> Result<Tensor<3>, ExplainError> {
    let [b, n, i] = x.dims();
    let [_, _, o] = r.dims();
    let m = b * n;
    let (x, y, r) = (x.reshape([m, i]), y.reshape([m, o]), r.reshape([m, o]));
    let w = match w {
        RuleWeights::Plain { w, abs } => {
            return Ok(plain_linear_relprop([x, y, r], w, abs)?.reshape([b, n, i]));
        }
        RuleWeights::Tensors(w) => w,
    };
    let device = x.device();
    let out = par_rows(m, &device, |start, len| {
        let xw = without_bias(y.clone().narrow(0, start, len), layer);
        linear_relprop(
            x.clone().narrow(0, start, len),
            xw,
            w,
            r.clone().narrow(0, start, len),
        )
    });
    Ok(out.reshape([b, n, i]))
}

/// Normalised Add rule (`layers_ours.Add.relprop`): relevance split by each input's share.
/// `sum` is the forward value `a + b`.
fn add_relprop(a: Tensor<3>, b: Tensor<3>, sum: Tensor<3>, r: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
    let s = safe_div(r.clone(), sum);
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

/// Clone rule: the input receives the sum of both branches' relevance ratios times itself
/// (`safe_divide(r1, x) + safe_divide(r2, x)` taken as one division of `r1 + r2`).
fn clone_relprop(x: Tensor<3>, r1: Tensor<3>, r2: Tensor<3>) -> Tensor<3> {
    x.clone() * safe_div(r1 + r2, x)
}

/// `t` `[B, tokens, C]` extended with zero tokens to `[B, n, C]`.
fn pad_tokens(t: Tensor<3>, n: usize) -> Tensor<3> {
    let [b, tokens, c] = t.dims();
    pad_rows(t.reshape([b, 1, tokens, c]), n).reshape([b, n, c])
}

/// Runs the traced forward pass, the gradient of the target logit at every attention
/// ([`Vit::logit_gradients`]), and the relevance propagation. Returns per-block gradients and attention relevances.
pub fn chefer_parts(
    vit: &Vit,
    input: Tensor<4>,
    target: Option<usize>,
) -> Result<CheferParts, ExplainError> {
    let cfg = &vit.config;
    let (h, dh, d) = (cfg.num_heads, cfg.head_dim(), cfg.embed_dim);
    let plain = vit.on_plain_cpu(&input);
    let trace = vit.forward_traced(input, Probes::NONE);
    let logits = trace.logits.clone();
    let logits_v = to_vec(logits.clone())?;
    let target = check_target(target, &logits_v)?;
    let request = GradRequest {
        attn_from: Some(0),
        last_norm1: false,
    };
    let attn_grads: Vec<Tensor<4>> = vit
        .logit_gradients(&trace, target, request)?
        .attn
        .into_iter()
        .map(|(_, g)| g)
        .collect();

    let w = vit.weights();
    let [b, classes] = logits.dims();
    let device = logits.device();
    // Head: one-hot relevance.
    let mut onehot = vec![0.0f32; b * classes];
    onehot[target] = 1.0;
    let r = Tensor::<2>::from_data(burn::tensor::TensorData::new(onehot, [b, classes]), &device);
    let pooled = trace.pooled.clone();
    let xw = without_bias(logits.clone(), &w.head);
    let head_w = w.head.weight.val();
    let head_w = LinearWeights {
        abs: head_w.clone().abs(),
        abs_t: head_w.clone().transpose().abs(),
        t: head_w.transpose(),
    };
    let r = linear_relprop(pooled.clone(), xw, &head_w, r); // [B, C]
    let n = trace.normed.dims()[1];
    let cls_pool = cfg.arch.global_pool == crate::model::Pool::Token;
    let mut r = if cls_pool {
        // Class-token selection (IndexSelect rule): only token 0 receives relevance. It stays
        // there until the last block's attention spreads it: that block's MLP, projection and
        // attention rows run on token 0 alone (the other rows are exact zeros).
        let r0 = pooled.clone() * safe_div(r, pooled); // [B, C]
        r0.reshape([b, 1, d])
    } else {
        // Average pooling (fc_norm, like the final norm, passes relevance on unchanged): the
        // z-rule of a mean gives each patch token its share x_j / Σ_k x_k of every channel's
        // relevance; the class token and the registers get none.
        let p = cfg.prefix();
        let tokens = trace.normed.clone().narrow(1, p, n - p); // [B, Np, C]
        let sum = tokens.clone().sum_dim(1); // [B, 1, C]
        let share = safe_div(r.reshape([b, 1, d]), sum);
        let r_tok = tokens * share;
        Tensor::cat(vec![Tensor::zeros([b, p, d], &device), r_tok], 1)
    };
    let mut attn_cams = vec![None; cfg.depth];
    let rules = rule_weights(vit, plain);
    for (i, ((blk, bt), [qkv_w, proj_w, fc1_w, fc2_w])) in w
        .blocks
        .iter()
        .zip(trace.blocks.iter())
        .zip(rules.iter())
        .enumerate()
        .rev()
    {
        let cls_only = i + 1 == cfg.depth && cls_pool;
        let nr = if cls_only { 1 } else { n };
        let rows = |t: &Tensor<3>| t.clone().narrow(1, 0, nr);
        let mid = rows(&bt.mid);
        let mlp_out = rows(&bt.mlp_out);
        // LayerScale (a diagonal linear layer without bias) passes relevance on unchanged: the
        // Add rule splits it by the scaled branch, which is what the residual adds.
        let (r1, r2) = add_relprop(mid.clone(), rows(&bt.mlp_res), rows(&bt.output), r);
        let r2 = linear_relprop3(rows(&bt.hidden), mlp_out, &blk.mlp.fc2, fc2_w, r2)?;
        // GELU: identity for relevance.
        let r2 = linear_relprop3(rows(&bt.norm2), rows(&bt.fc1), &blk.mlp.fc1, fc1_w, r2)?;
        let rm = clone_relprop(mid.clone(), r1, r2);
        let input = rows(&bt.input);
        let attn_out = rows(&bt.attn_out);
        let (r1, r2) = add_relprop(input, rows(&bt.attn_res), mid, rm);
        let attn_heads = rows(&bt.attn_heads);
        let r2 = linear_relprop3(attn_heads.clone(), attn_out, &blk.attn.proj, proj_w, r2)?;
        // attn @ v (einsum rule, each half / 2), with `attn_heads` = attn @ v laid out [B, N, C].
        let s = (safe_div(r2, attn_heads) * 0.5)
            .reshape([b, nr, h, dh])
            .swap_dims(1, 2); // [B, H, nr, Dh]
        let (attn, v) = (bt.attn.clone().narrow(2, 0, nr), bt.v.clone());
        let cam_attn = attn.clone() * s.clone().matmul(v.swap_dims(2, 3)); // [B, H, nr, N]
        attn_cams[i] = Some(pad_rows(cam_attn.clone(), n));
        if i == 0 {
            break; // relevance below the first attention is not needed
        }
        let grad_v = attn.swap_dims(2, 3).matmul(s); // [B, H, N, Dh]
        // q @ k^T (unscaled, as Chefer's einsum module sees it)
        let (q, k) = (bt.q.clone().narrow(2, 0, nr), bt.k.clone());
        let s = safe_div(cam_attn, q.clone().matmul(k.clone().swap_dims(2, 3))) * 0.5;
        let grad_q = pad_rows(s.clone().matmul(k), n);
        let grad_k = s.swap_dims(2, 3).matmul(q);
        // Relevance of q, k and v, laid out as the qkv output: [3, B, H, N, Dh] -> [B, N, 3C].
        let grad_qkv = Tensor::stack::<5>(vec![grad_q, grad_k, grad_v], 0)
            .permute([1, 3, 0, 2, 4])
            .reshape([b, n, 3 * d]);
        let qkv = bt.qkv.clone();
        let cam_qkv = qkv.clone() * grad_qkv;
        let r2 = linear_relprop3(bt.norm1.clone(), qkv, &blk.attn.qkv, qkv_w, cam_qkv)?;
        let r1 = pad_tokens(r1, n);
        r = clone_relprop(bt.input.clone(), r1, r2);
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
        grid: trace.grid,
    })
}

/// The transformer-attribution map on the grid.
pub fn chefer_map(
    vit: &Vit,
    input: Tensor<4>,
    target: Option<usize>,
) -> Result<CheferResult, ExplainError> {
    let parts = chefer_parts(vit, input, target)?;
    let n = parts.attn_cams.first().map_or(0, |c| c.dims()[2]);
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
            None => output_row(&vit.config, a),
            Some(r) => r.matmul(a),
        });
    }
    let row = row.ok_or_else(|| ExplainError::Option("model has no blocks".into()))?;
    Ok(CheferResult {
        target: parts.target,
        logits: to_vec(parts.logits)?,
        grid: patch_row(vit, row, parts.grid)?,
    })
}
