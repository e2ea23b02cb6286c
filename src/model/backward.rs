//! Explicit backpropagation of one class logit through a traced forward pass, down to what the
//! explanation methods need: the gradient at every block's attention probabilities and at the
//! last block's `norm1` output.
//!
//! Autodiff (burn's `autodiff()` device with zero-valued probes, see [`Vit::forward_traced`])
//! gives the same numbers, but it records a graph for every op, keeps it alive, and
//! differentiates the weights' paths too; here each step is the closed-form derivative written
//! with burn tensor ops, so it runs on every backend (and sidesteps backends whose fused GELU
//! backward is not the exact-erf derivative). The tests check both against the reference
//! fixtures and against each other.
//!
//! Per block, from the gradient `g` at its output (pre-norm residual block; with LayerScale
//! each branch's gradient is first multiplied by its `γ`):
//! - MLP: `g_h = g · W_fc2ᵀ`, `g_f = g_h ⊙ GELU′(fc1)`, `g_mid = g + LN₂′(g_f · W_fc1ᵀ)`;
//! - attention: `g_o = g_mid · W_projᵀ` split into heads, `∂A = g_o · Vᵀ` (the attention
//!   gradient), `∂V = Aᵀ · g_o`, softmax `∂S = A ⊙ (∂A − Σ_k ∂A ⊙ A)`, `∂Q = ∂S · K · s`,
//!   `∂K = ∂Sᵀ · Q · s`;
//! - `∂norm1 = [∂Q ∂K ∂V] · W_qkvᵀ`, `g_in = g_mid + LN₁′(∂norm1)`,
//!
//! with `LN′(d) = (d ⊙ γ − mean(d ⊙ γ) − x̂ ⊙ mean(d ⊙ γ ⊙ x̂)) / σ` and
//! `GELU′(x) = Φ(x) + x φ(x)`.

use burn::nn::LayerNorm;
use burn::tensor::{Device, Tensor};

use super::rows::{pad_rows, par_rows};
use super::vit::{Pool, Trace, Vit, scaled};

/// What [`Vit::logit_gradients`] should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GradRequest {
    /// Gradients at the attention probabilities of this block and every later one.
    pub attn_from: Option<usize>,
    /// Gradient at the last block's `norm1` output.
    pub last_norm1: bool,
}

impl GradRequest {
    /// The lowest block the backward pass of `target` (of `classes`) has to reach in a model
    /// of `depth` blocks (`depth`: none).
    pub(crate) fn lowest(
        &self,
        target: usize,
        classes: usize,
        depth: usize,
    ) -> Result<usize, BackwardError> {
        if target >= classes {
            return Err(BackwardError::Target { target, classes });
        }
        Ok(match (self.attn_from, self.last_norm1) {
            (Some(a), _) => a.min(depth.saturating_sub(1)),
            (None, true) => depth.saturating_sub(1),
            (None, false) => depth,
        })
    }
}

/// Gradients of the target logit (summed over the batch).
#[derive(Debug, Clone)]
pub struct LogitGradients {
    /// `(block, ∂logit/∂attention)` `[B, H, N, N]`, in block order.
    pub attn: Vec<(usize, Tensor<4>)>,
    /// `∂logit/∂norm1` of the last block `[B, N, C]`, when requested.
    pub last_norm1: Option<Tensor<3>>,
}

/// Why the gradients could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum BackwardError {
    /// The trace lacks a block the backward pass has to cross.
    #[error("the forward trace does not keep block {0}, which the backward pass needs")]
    MissingBlock(usize),
    /// The target class does not exist.
    #[error("target class {target} does not exist: the model has {classes} classes")]
    Target {
        /// Requested class.
        target: usize,
        /// Number of classes.
        classes: usize,
    },
}

/// `(x̂, 1/σ)` of a LayerNorm input over its last dimension (biased variance, as torch).
fn normalized<const D: usize>(x: Tensor<D>, eps: f64) -> (Tensor<D>, Tensor<D>) {
    let (var, mean) = x.clone().var_mean_bias(D - 1);
    let inv_std = var.add_scalar(eps).sqrt().recip();
    ((x - mean) * inv_std.clone(), inv_std)
}

/// Gradient at a LayerNorm's input, given its input `x` and the gradient `d` at its output.
fn layer_norm_backward<const D: usize>(
    ln: &LayerNorm,
    eps: f64,
    x: Tensor<D>,
    d: Tensor<D>,
) -> Tensor<D> {
    let (xhat, inv_std) = normalized(x, eps);
    let g = d * ln.gamma.val().unsqueeze();
    let mean_g = g.clone().mean_dim(D - 1);
    let mean_gx = (g.clone() * xhat.clone()).mean_dim(D - 1);
    (g - mean_g - xhat * mean_gx) * inv_std
}

/// Exact GELU derivative `Φ(x) + x φ(x)`: lane-wise on the CPU ([`super::lanes`]), tensor ops
/// elsewhere.
fn gelu_derivative<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if x.device() == Device::flex() {
        return super::lanes::gelu_derivative_values(x);
    }
    let cdf = (x.clone() * std::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        * 0.5;
    let pdf = (x.clone() * x.clone() * -0.5).exp() * (0.5 * std::f64::consts::FRAC_2_SQRT_PI)
        / std::f64::consts::SQRT_2;
    cdf + x * pdf
}

impl Vit {
    /// Backpropagates `Σ_b logits[b, target]` through `trace` (a forward pass without autodiff
    /// that kept every block from the lowest one requested to the last).
    pub fn logit_gradients(
        &self,
        trace: &Trace,
        target: usize,
        request: GradRequest,
    ) -> Result<LogitGradients, BackwardError> {
        let cfg = &self.config;
        let w = self.weights();
        let depth = w.blocks.len();
        let lowest = request.lowest(target, cfg.num_classes, depth)?;
        let mut out = LogitGradients {
            attn: Vec::new(),
            last_norm1: None,
        };
        if lowest >= depth {
            return Ok(out);
        }
        let last = trace
            .block(depth - 1)
            .ok_or(BackwardError::MissingBlock(depth - 1))?;
        let [b, n, d] = last.output.dims();
        let (h, dh) = (cfg.num_heads, cfg.head_dim());
        let scale = (dh as f64).powf(-0.5);

        // Head and final norm: only the class token receives gradient, and it stays the only
        // row with gradient through the last block's MLP, projection and attention queries:
        // those steps run on token 0 alone (the other rows of the full computation are zeros).
        // With average pooling every patch token gets 1/patches of the pooled gradient (through
        // fc_norm first, where the model has it), and every row runs.
        let head_w = w.head.weight.val().narrow(1, target, 1).reshape([1, d]); // [1, C]
        let device = last.output.device();
        let cls_pool = cfg.arch.global_pool == Pool::Token;
        let mut g = if cls_pool {
            let x_cls = last.output.clone().narrow(1, 0, 1).reshape([b, d]);
            let g_cls = layer_norm_backward(&w.norm, cfg.eps, x_cls, head_w.expand([b, d]));
            g_cls.reshape([b, 1, d])
        } else {
            let p = cfg.prefix();
            let np = n - p;
            let x = last.output.clone();
            let g_pooled = head_w.expand([b, d]);
            let g_mean = match &w.fc_norm {
                Some(ln) => {
                    let mean = x.clone().narrow(1, p, np).mean_dim(1).reshape([b, d]);
                    layer_norm_backward(ln, cfg.eps, mean, g_pooled)
                }
                None => g_pooled,
            };
            let g_tok = (g_mean * (1.0 / np as f64))
                .reshape([b, 1, d])
                .expand([b, np, d]);
            let g_normed = Tensor::cat(vec![Tensor::zeros([b, p, d], &device), g_tok], 1);
            match &w.fc_norm {
                Some(_) => g_normed,
                None => layer_norm_backward(
                    &w.norm,
                    cfg.eps,
                    x.reshape([b * n, d]),
                    g_normed.reshape([b * n, d]),
                )
                .reshape([b, n, d]),
            }
        };

        let transposed = self.transposed_linears();
        for i in (lowest..depth).rev() {
            let blk = &w.blocks[i];
            let wt = &transposed[i];
            let bt = trace.block(i).ok_or(BackwardError::MissingBlock(i))?;
            let nr = if i + 1 == depth && cls_pool { 1 } else { n };
            let rows = |t: &Tensor<3>| {
                let [_, _, c] = t.dims();
                t.clone().narrow(1, 0, nr).reshape([b * nr, c])
            };
            // MLP branch, row by row (in parallel blocks on the CPU).
            let (g2, fc1, mid) = (g.reshape([b * nr, d]), rows(&bt.fc1), rows(&bt.mid));
            let g_mid = par_rows(b * nr, &device, |s, l| {
                let g = g2.clone().narrow(0, s, l);
                let g_hidden = scaled(&blk.ls2, g.clone()).matmul(wt.fc2.clone());
                let g_fc1 = g_hidden * gelu_derivative(fc1.clone().narrow(0, s, l));
                let g_norm2 = g_fc1.matmul(wt.fc1.clone());
                g + layer_norm_backward(&blk.norm2, cfg.eps, mid.clone().narrow(0, s, l), g_norm2)
            });
            // Attention branch.
            let g_heads = par_rows(b * nr, &device, |s, l| {
                scaled(&blk.ls1, g_mid.clone().narrow(0, s, l)).matmul(wt.proj.clone())
            })
            .reshape([b, nr, h, dh])
            .swap_dims(1, 2); // [B, H, nr, Dh]
            let a = bt.attn.clone().narrow(2, 0, nr); // [B, H, nr, N]
            let g_attn = g_heads.clone().matmul(bt.v.clone().swap_dims(2, 3)); // [B, H, nr, N]
            let want_attn = request.attn_from.is_some_and(|from| i >= from);
            if want_attn {
                out.attn.push((i, pad_rows(g_attn.clone(), n)));
            }
            let want_norm1 = request.last_norm1 && i + 1 == depth;
            if i == lowest && !want_norm1 {
                break; // nothing below this block's attention is needed
            }
            let g_v = a.clone().swap_dims(2, 3).matmul(g_heads); // [B, H, N, Dh]
            let row = (g_attn.clone() * a.clone()).sum_dim(3); // [B, H, nr, 1]
            let g_scores = a * (g_attn - row);
            let q = bt.q.clone().narrow(2, 0, nr);
            let g_q = pad_rows(g_scores.clone().matmul(bt.k.clone()) * scale, n);
            let g_k = g_scores.swap_dims(2, 3).matmul(q) * scale;
            let g_qkv = Tensor::stack::<5>(vec![g_q, g_k, g_v], 0)
                .permute([1, 3, 0, 2, 4])
                .reshape([b, n, 3 * d]);
            let g_qkv = g_qkv.reshape([b * n, 3 * d]);
            let g_norm1 = |s: usize, l: usize| g_qkv.clone().narrow(0, s, l).matmul(wt.qkv.clone());
            if want_norm1 {
                let g = par_rows(b * n, &device, g_norm1);
                out.last_norm1 = Some(g.reshape([b, n, d]));
            }
            if i == lowest {
                break;
            }
            let g_mid = pad_rows(g_mid.reshape([b, 1, nr, d]), n).reshape([b * n, d]);
            let input = bt.input.clone().reshape([b * n, d]);
            g = par_rows(b * n, &device, |s, l| {
                g_mid.clone().narrow(0, s, l)
                    + layer_norm_backward(
                        &blk.norm1,
                        cfg.eps,
                        input.clone().narrow(0, s, l),
                        g_norm1(s, l),
                    )
            })
            .reshape([b, n, d]);
        }
        out.attn.reverse();
        Ok(out)
    }
}
