//! The forward pass of the explanation methods on the CPU over plain buffers: a few images (one
//! for the workbench's maps, six for the paper's smoothed GradCAM), with every product's output
//! columns split over the CPU's threads and the attention's heads spread over them, keeping the
//! activations of the blocks the methods read ([`PlainTrace`]).
//!
//! Same definition as [`super::Vit::forward_traced`] (timm's pre-norm blocks, exact GELU,
//! softmax attention with timm's scale); the results agree to float rounding. With a class
//! token the last block runs its queries, projection and MLP on the class token alone: the
//! only row the head reads and the only row any gradient or relevance enters by.

use rayon::prelude::*;

use super::buffers::{View, add_rows, matmul, par_product, par_row_blocks};
use super::infer::{BlockWeights, CpuWeights, Norm, linear};
use super::lanes;
use super::vit::{Pool, Vit, VitConfig};

/// The activations of one block for `b` images of `n` tokens that the explanation methods
/// and the backward pass read; `rows` of them went past the attention (`n`, or 1 when the
/// block ran on the class token alone). Row-major, image-major.
#[derive(Debug, Clone, Default)]
pub struct BlockActs {
    /// Rows per image after the attention.
    pub rows: usize,
    /// Block input `[b · n, d]`.
    pub input: Vec<f32>,
    /// `norm1(input)` `[b · n, d]` (GradCAM's activations).
    pub norm1: Vec<f32>,
    /// `qkv(norm1)` with its bias `[b · n, 3d]`: queries, keys, values, heads contiguous.
    pub qkv: Vec<f32>,
    /// Attention probabilities `[b, heads, rows, n]`.
    pub attn: Vec<f32>,
    /// `input + ls1 ⊙ proj(heads)` `[b · rows, d]`.
    pub mid: Vec<f32>,
    /// `fc1(norm2(mid))` with its bias, before the GELU `[b · rows, hidden]`.
    pub fc1: Vec<f32>,
    /// Block output `mid + ls2 ⊙ fc2(GELU(fc1))` `[b · rows, d]`.
    pub output: Vec<f32>,
}

/// What [`Vit::trace_cpu`] keeps.
#[derive(Debug, Clone)]
pub struct PlainTrace {
    /// Images.
    pub b: usize,
    /// Tokens per image.
    pub n: usize,
    /// Patch grid `(rows, cols)`.
    pub grid: (usize, usize),
    /// Logits `[b, classes]`.
    pub logits: Vec<f32>,
    /// The head's input `[b, d]`.
    pub pooled: Vec<f32>,
    /// Index of the first kept block.
    pub first: usize,
    /// The kept blocks, `first` and those after it.
    pub blocks: Vec<BlockActs>,
    /// The last block's output after the final norm `[b · rows, d]` (the class token alone or
    /// every token, as the last block ran).
    pub normed: Vec<f32>,
}

impl PlainTrace {
    /// The activations of block `i`, if they were kept.
    pub fn block(&self, i: usize) -> Option<&BlockActs> {
        i.checked_sub(self.first).and_then(|j| self.blocks.get(j))
    }
}

/// `out = LayerNorm(x)` by rows, over the CPU's threads.
fn norm_rows(norm: &Norm, x: &[f32], d: usize) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    par_row_blocks(&mut out, d, |r0, block| {
        norm.apply(&x[r0 * d..r0 * d + block.len()], block)
    });
    out
}

/// `x · w (+ bias)` for `m` rows of `k` values and a weight `[k, cols]`, over the CPU's
/// threads.
fn dense(x: &[f32], m: usize, w: &(Vec<f32>, Option<Vec<f32>>)) -> Vec<f32> {
    let k = x.len() / m.max(1);
    let cols = w.0.len() / k.max(1);
    let mut out = par_product(View::dense(x, m, k), View::dense(&w.0, k, cols));
    if let Some(bias) = &w.1 {
        par_row_blocks(&mut out, cols, |_, block| add_rows(block, bias));
    }
    out
}

/// `x += γ ⊙ y` by columns (`γ` absent: 1).
fn add_scaled(x: &mut [f32], y: &[f32], gamma: Option<&[f32]>) {
    let d = gamma.map_or(x.len(), <[f32]>::len).max(1);
    for (xr, yr) in x.chunks_exact_mut(d).zip(y.chunks_exact(d)) {
        match gamma {
            None => xr.iter_mut().zip(yr).for_each(|(a, b)| *a += b),
            Some(g) => {
                for ((a, b), s) in xr.iter_mut().zip(yr).zip(g) {
                    *a += s * b;
                }
            }
        }
    }
}

/// One block on `x` (`[b · n, d]`); with `cls_only` the class token's row alone goes past the
/// attention. `keep`: the caller keeps the activations (`fc1` is then kept beside the GELU's).
fn block(
    blk: &BlockWeights,
    x: Vec<f32>,
    [b, n, d, heads]: [usize; 4],
    cls_only: bool,
    keep: bool,
) -> BlockActs {
    let dh = d / heads;
    let scale = (dh as f32).powf(-0.5);
    let rows = if cls_only { 1 } else { n };
    let norm1 = norm_rows(&blk.norm1, &x, d);
    let qkv = dense(&norm1, b * n, &blk.qkv);
    // Attention, one (image, head) per task.
    let mut attn = vec![0f32; b * heads * rows * n];
    let mut per_head = vec![0f32; b * heads * rows * dh];
    attn.par_chunks_mut(rows * n)
        .zip(per_head.par_chunks_mut(rows * dh))
        .enumerate()
        .for_each(|(unit, (scores, out))| {
            let (i, j) = (unit / heads, unit % heads);
            let all = View::dense(&qkv, b * n, 3 * d).rows(i * n, n);
            let q = all.rows(0, rows).cols(j * dh, dh);
            let k = all.cols(d + j * dh, dh);
            let v = all.cols(2 * d + j * dh, dh);
            matmul(scores, n, q, k.t(), false);
            lanes::softmax_rows_in_place(scores, n, scale);
            matmul(out, dh, View::dense(scores, rows, n), v, false);
        });
    let mut heads_cat = vec![0f32; b * rows * d];
    for (r, row) in heads_cat.chunks_exact_mut(d).enumerate() {
        let (i, t) = (r / rows, r % rows);
        for (j, part) in row.chunks_exact_mut(dh).enumerate() {
            let at = ((i * heads + j) * rows + t) * dh;
            part.copy_from_slice(&per_head[at..at + dh]);
        }
    }
    let attn_out = dense(&heads_cat, b * rows, &blk.proj);
    let (x, mut mid): (Vec<f32>, Vec<f32>) = if cls_only {
        let cls = (0..b)
            .flat_map(|i| x[i * n * d..i * n * d + d].iter().copied())
            .collect();
        (x, cls)
    } else if keep {
        (x.clone(), x)
    } else {
        // Not kept: the input itself becomes the residual stream.
        (Vec::new(), x)
    };
    add_scaled(&mut mid, &attn_out, blk.ls1.as_deref());
    let norm2 = norm_rows(&blk.norm2, &mid, d);
    let fc1 = dense(&norm2, b * rows, &blk.fc1);
    let (fc1, mut hidden) = if keep {
        (fc1.clone(), fc1)
    } else {
        (Vec::new(), fc1)
    };
    let width = blk.fc1.0.len() / d;
    par_row_blocks(&mut hidden, width, |_, block| lanes::gelu_in_place(block));
    let mlp_out = dense(&hidden, b * rows, &blk.fc2);
    let mut output = mid.clone();
    add_scaled(&mut output, &mlp_out, blk.ls2.as_deref());
    BlockActs {
        rows,
        input: x,
        norm1,
        qkv,
        attn,
        mid,
        fc1,
        output,
    }
}

impl CpuWeights {
    /// The token rows `[b · n, d]` entering the first block: the prefix tokens, then each
    /// image's patches times the patch kernel, plus the bias and the position entries `pos`
    /// (`[n, d]`).
    fn tokens(
        &self,
        cfg: &VitConfig,
        pos: &[f32],
        input: &[f32],
        [b, h, w]: [usize; 3],
    ) -> Vec<f32> {
        let (d, p, c) = (cfg.embed_dim, cfg.patch_size, cfg.in_chans);
        let (gh, gw) = (h / p, w / p);
        let (np, prefix) = (gh * gw, cfg.prefix());
        let n = prefix + np;
        let k = c * p * p;
        let cols = super::buffers::patch_rows(input, [b, c, h, w], p);
        let patches = par_product(
            View::dense(&cols, b * np, k),
            View::dense(&self.patch, k, d),
        );
        let mut x = vec![0f32; b * n * d];
        for (r, row) in x.chunks_exact_mut(d).enumerate() {
            let (i, t) = (r / n, r % n);
            if t < prefix {
                row.copy_from_slice(&self.prefix[t * d..(t + 1) * d]);
            } else {
                let at = (i * np + t - prefix) * d;
                row.copy_from_slice(&patches[at..at + d]);
                if let Some(bias) = &self.patch_bias {
                    add_rows(row, bias);
                }
            }
            add_rows(row, &pos[t * d..(t + 1) * d]);
        }
        x
    }
}

impl Vit {
    /// The forward pass of `b` normalised CHW images of `h × w` in `input` over plain buffers
    /// on the CPU, keeping the activations of the blocks in `keep` ([`PlainTrace`]; the
    /// backward pass needs every block from the lowest it reaches to the last); see the
    /// module's text.
    ///
    /// # Panics
    /// If `input` holds fewer than `b` images of the model's channels, or `h`, `w` are not
    /// multiples of the patch.
    pub fn trace_cpu(
        &self,
        input: &[f32],
        [b, h, w]: [usize; 3],
        keep: std::ops::Range<usize>,
    ) -> PlainTrace {
        let cfg = &self.config;
        let cw = self.cpu_weights();
        assert!(input.len() >= b * cfg.in_chans * h * w, "input too short");
        let (gh, gw) = cfg.grid_for(h, w).expect("a grid of the patch");
        let pos = super::infer::values(self.position(gh, gw));
        let (d, heads) = (cfg.embed_dim, cfg.num_heads);
        let n = cfg.prefix() + gh * gw;
        let mut x = cw.tokens(cfg, &pos, input, [b, h, w]);
        let depth = cw.blocks.len();
        let cls_pool = cfg.arch.global_pool == Pool::Token;
        let mut kept = Vec::new();
        let mut rows = n;
        for (i, blk) in cw.blocks.iter().enumerate() {
            let cls_only = i + 1 == depth && cls_pool;
            let keep = keep.contains(&i);
            let mut acts = block(blk, x, [b, n, d, heads], cls_only, keep);
            rows = acts.rows;
            if keep {
                x = acts.output.clone();
                kept.push(acts);
            } else {
                x = std::mem::take(&mut acts.output);
            }
        }
        let normed = if cls_pool || cw.fc_norm.is_none() {
            norm_rows(&cw.norm, &x, d)
        } else {
            x.clone()
        };
        let pooled = cw.pooled_cpu(cfg, x, b, rows);
        let head = linear(&self.weights().head);
        let classes = head.0.len() / d;
        let mut logits = vec![0f32; b * classes];
        matmul(
            &mut logits,
            classes,
            View::dense(&pooled, b, d),
            View::dense(&head.0, d, classes),
            false,
        );
        if let Some(bias) = &head.1 {
            add_rows(&mut logits, bias);
        }
        PlainTrace {
            b,
            n,
            grid: (gh, gw),
            logits,
            pooled,
            first: keep.start.min(depth),
            blocks: kept,
            normed,
        }
    }
}
