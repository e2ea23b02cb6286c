//! Explicit backpropagation of one class logit through a [`PlainTrace`], over plain buffers on
//! the CPU: the same steps as [`super::backward`] (see its text for the formulas), each product
//! split over the CPU's threads by output columns and the attention's steps by (image, head).
//! The rows that carry no gradient (all but the class token's in a last block that ran on it
//! alone) are not computed.

use rayon::prelude::*;

use super::backward::{BackwardError, GradRequest};
use super::buffers::{View, par_product, par_row_blocks};
use super::infer::{CpuWeights, Norm, linear};
use super::lanes;
use super::traced::PlainTrace;
use super::vit::{Pool, Vit};

/// Gradients of the target logit (summed over the images).
#[derive(Debug, Clone, Default)]
pub struct PlainGradients {
    /// `(block, ∂logit/∂attention)` `[b, heads, rows, n]` with the block's `rows`
    /// ([`super::traced::BlockActs::rows`]), in block order.
    pub attn: Vec<(usize, Vec<f32>)>,
    /// `∂logit/∂norm1` of the last block `[b · n, d]`, when requested.
    pub last_norm1: Option<Vec<f32>>,
}

/// The gradient at a LayerNorm's input `x` given the gradient `dy` at its output, by rows of
/// `d` values: `(dy ⊙ γ − mean(dy ⊙ γ) − x̂ ⊙ mean(dy ⊙ γ ⊙ x̂)) / σ`.
pub(crate) fn norm_backward(norm: &Norm, x: &[f32], dy: &[f32], d: usize) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    par_row_blocks(&mut out, d, |r0, block| {
        pulp::Arch::new().dispatch(|| {
            for (r, o) in block.chunks_exact_mut(d).enumerate() {
                let at = (r0 + r) * d;
                norm_backward_row(norm, &x[at..at + d], &dy[at..at + d], o);
            }
        })
    });
    out
}

#[inline(always)]
fn norm_backward_row(norm: &Norm, x: &[f32], dy: &[f32], out: &mut [f32]) {
    let d = x.len() as f32;
    let mean = x.iter().sum::<f32>() / d;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d;
    let inv_std = 1.0 / (var + norm.eps).sqrt();
    let (mut mg, mut mgx) = (0f32, 0f32);
    for ((&xv, &g), &gamma) in x.iter().zip(dy).zip(&norm.gamma) {
        let gg = g * gamma;
        mg += gg;
        mgx += gg * (xv - mean) * inv_std;
    }
    let (mg, mgx) = (mg / d, mgx / d);
    for (((o, &xv), &g), &gamma) in out.iter_mut().zip(x).zip(dy).zip(&norm.gamma) {
        let xhat = (xv - mean) * inv_std;
        *o = (g * gamma - mg - xhat * mgx) * inv_std;
    }
}

/// `g · wᵀ` for `g` `[m, out]` and a weight `[in, out]`: `[m, in]`, over the CPU's threads.
pub(crate) fn times_transpose(g: &[f32], m: usize, w: &[f32]) -> Vec<f32> {
    let out = g.len() / m.max(1);
    let inn = w.len() / out.max(1);
    par_product(View::dense(g, m, out), View::dense(w, inn, out).t())
}

/// `γ ⊙ g` by columns (`γ` absent: `g` itself).
fn scaled(g: &[f32], gamma: Option<&Vec<f32>>) -> Vec<f32> {
    match gamma {
        None => g.to_vec(),
        Some(s) => g
            .chunks_exact(s.len())
            .flat_map(|row| row.iter().zip(s).map(|(v, c)| v * c))
            .collect(),
    }
}

/// The gradient at the last block's output, `[b · rows, d]`, of `Σ_b logits[b, target]`.
fn head_gradient(vit: &Vit, cw: &CpuWeights, trace: &PlainTrace, target: usize) -> Vec<f32> {
    let cfg = &vit.config;
    let d = cfg.embed_dim;
    let (hw, _) = linear(&vit.weights().head);
    let classes = hw.len() / d;
    let column: Vec<f32> = (0..d).map(|c| hw[c * classes + target]).collect();
    let last = trace.blocks.last().expect("a kept last block");
    let (b, n) = (trace.b, trace.n);
    let repeat = |v: &[f32], times: usize| -> Vec<f32> { v.repeat(times) };
    if cfg.arch.global_pool == Pool::Token {
        // Only the class token's row reaches the head.
        let rows = last.rows;
        let cls: Vec<f32> = (0..b)
            .flat_map(|i| {
                last.output[i * rows * d..(i * rows + 1) * d]
                    .iter()
                    .copied()
            })
            .collect();
        let g_cls = norm_backward(&cw.norm, &cls, &repeat(&column, b), d);
        let mut g = vec![0f32; b * rows * d];
        for i in 0..b {
            g[i * rows * d..(i * rows + 1) * d].copy_from_slice(&g_cls[i * d..(i + 1) * d]);
        }
        return g;
    }
    let p = cfg.prefix();
    let np = n - p;
    let g_mean = match &cw.fc_norm {
        Some(ln) => {
            let mut mean = vec![0f32; b * d];
            for (i, acc) in mean.chunks_exact_mut(d).enumerate() {
                for row in last.output[(i * n + p) * d..(i + 1) * n * d].chunks_exact(d) {
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a += v;
                    }
                }
                for a in acc.iter_mut() {
                    *a /= np as f32;
                }
            }
            norm_backward(ln, &mean, &repeat(&column, b), d)
        }
        None => repeat(&column, b),
    };
    let mut g = vec![0f32; b * n * d];
    for (r, row) in g.chunks_exact_mut(d).enumerate() {
        let (i, t) = (r / n, r % n);
        if t >= p {
            for (o, &v) in row.iter_mut().zip(&g_mean[i * d..(i + 1) * d]) {
                *o = v / np as f32;
            }
        }
    }
    match &cw.fc_norm {
        Some(_) => g,
        None => norm_backward(&cw.norm, &last.output, &g, d),
    }
}

impl Vit {
    /// Backpropagates `Σ_b logits[b, target]` through `trace` (which kept every block from the
    /// lowest one requested to the last); see the module's text.
    pub fn logit_gradients_cpu(
        &self,
        trace: &PlainTrace,
        target: usize,
        request: GradRequest,
    ) -> Result<PlainGradients, BackwardError> {
        let cfg = &self.config;
        let cw = self.cpu_weights();
        let depth = cw.blocks.len();
        let lowest = request.lowest(target, cfg.num_classes, depth)?;
        let mut out = PlainGradients::default();
        if lowest >= depth {
            return Ok(out);
        }
        for i in lowest..depth {
            trace.block(i).ok_or(BackwardError::MissingBlock(i))?;
        }
        let (b, n, d) = (trace.b, trace.n, cfg.embed_dim);
        let (h, dh) = (cfg.num_heads, cfg.head_dim());
        let scale = (dh as f32).powf(-0.5);
        let mut g = head_gradient(self, cw, trace, target);
        for i in (lowest..depth).rev() {
            let blk = &cw.blocks[i];
            let acts = trace.block(i).ok_or(BackwardError::MissingBlock(i))?;
            let nr = acts.rows;
            let m = b * nr;
            // MLP branch.
            let mut g_fc1 = times_transpose(&scaled(&g, blk.ls2.as_ref()), m, &blk.fc2.0);
            let mut slope = acts.fc1.clone();
            let hidden = slope.len() / m.max(1);
            par_row_blocks(&mut slope, hidden, |_, block| {
                lanes::gelu_derivative_in_place(block)
            });
            for (v, s) in g_fc1.iter_mut().zip(&slope) {
                *v *= s;
            }
            let g_norm2 = times_transpose(&g_fc1, m, &blk.fc1.0);
            let mut g_mid = norm_backward(&blk.norm2, &acts.mid, &g_norm2, d);
            for (v, &x) in g_mid.iter_mut().zip(&g) {
                *v += x;
            }
            // Attention branch, one (image, head) per task.
            let g_o = times_transpose(&scaled(&g_mid, blk.ls1.as_ref()), m, &blk.proj.0);
            let want_attn = request.attn_from.is_some_and(|from| i >= from);
            let want_norm1 = request.last_norm1 && i + 1 == depth;
            let deeper = i > lowest || want_norm1;
            let mut g_attn = vec![0f32; b * h * nr * n];
            let mut g_q = vec![0f32; if deeper { b * h * nr * dh } else { 0 }];
            let mut g_k = vec![0f32; if deeper { b * h * n * dh } else { 0 }];
            let mut g_v = vec![0f32; if deeper { b * h * n * dh } else { 0 }];
            let units: Vec<_> = g_attn
                .chunks_mut(nr * n)
                .zip(
                    g_q.chunks_mut((nr * dh).max(1))
                        .map(Some)
                        .chain(std::iter::repeat_with(|| None)),
                )
                .zip(
                    g_k.chunks_mut((n * dh).max(1))
                        .map(Some)
                        .chain(std::iter::repeat_with(|| None)),
                )
                .zip(
                    g_v.chunks_mut((n * dh).max(1))
                        .map(Some)
                        .chain(std::iter::repeat_with(|| None)),
                )
                .take(b * h)
                .collect();
            units
                .into_par_iter()
                .enumerate()
                .for_each(|(unit, (((ga, gq), gk), gv))| {
                    let (img, j) = (unit / h, unit % h);
                    let all = View::dense(&acts.qkv, b * n, 3 * d).rows(img * n, n);
                    let go = View::dense(&g_o, m, d).rows(img * nr, nr).cols(j * dh, dh);
                    let v = all.cols(2 * d + j * dh, dh);
                    super::buffers::matmul(ga, n, go, v.t(), false);
                    let (Some(gq), Some(gk), Some(gv)) = (gq, gk, gv) else {
                        return;
                    };
                    let a = &acts.attn[unit * nr * n..(unit + 1) * nr * n];
                    super::buffers::matmul(gv, dh, View::dense(a, nr, n).t(), go, false);
                    let mut gs = vec![0f32; nr * n];
                    for ((gs_row, ga_row), a_row) in gs
                        .chunks_exact_mut(n)
                        .zip(ga.chunks_exact(n))
                        .zip(a.chunks_exact(n))
                    {
                        let dot: f32 = ga_row.iter().zip(a_row).map(|(x, y)| x * y).sum();
                        for ((s, &gv), &av) in gs_row.iter_mut().zip(ga_row).zip(a_row) {
                            *s = av * (gv - dot);
                        }
                    }
                    let k = all.cols(d + j * dh, dh);
                    let q = all.rows(0, nr).cols(j * dh, dh);
                    super::buffers::matmul(gq, dh, View::dense(&gs, nr, n), k, false);
                    super::buffers::matmul(gk, dh, View::dense(&gs, nr, n).t(), q, false);
                    for x in gq.iter_mut().chain(gk.iter_mut()) {
                        *x *= scale;
                    }
                });
            if want_attn {
                out.attn.push((i, g_attn));
            }
            if !deeper {
                break;
            }
            // [∂Q ∂K ∂V] laid out as the qkv output, then through its weight.
            let mut g_qkv = vec![0f32; b * n * 3 * d];
            for (r, row) in g_qkv.chunks_exact_mut(3 * d).enumerate() {
                let (img, t) = (r / n, r % n);
                for j in 0..h {
                    let unit = img * h + j;
                    if t < nr {
                        let at = (unit * nr + t) * dh;
                        row[j * dh..(j + 1) * dh].copy_from_slice(&g_q[at..at + dh]);
                    }
                    let at = (unit * n + t) * dh;
                    row[d + j * dh..d + (j + 1) * dh].copy_from_slice(&g_k[at..at + dh]);
                    row[2 * d + j * dh..2 * d + (j + 1) * dh].copy_from_slice(&g_v[at..at + dh]);
                }
            }
            let g_norm1 = times_transpose(&g_qkv, b * n, &blk.qkv.0);
            if want_norm1 {
                out.last_norm1 = Some(g_norm1.clone());
            }
            if i == lowest {
                break;
            }
            let mut below = norm_backward(&blk.norm1, &acts.input, &g_norm1, d);
            for (r, row) in below.chunks_exact_mut(d).enumerate() {
                let (img, t) = (r / n, r % n);
                if t < nr {
                    let at = (img * nr + t) * d;
                    for (v, &x) in row.iter_mut().zip(&g_mid[at..at + d]) {
                        *v += x;
                    }
                }
            }
            g = below;
        }
        out.attn.reverse();
        Ok(out)
    }
}
