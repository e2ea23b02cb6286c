//! The lean inference pass on the CPU over plain `f32` buffers: logits of a batch of images,
//! for the faithfulness tests' hundreds of forwards.
//!
//! Each call runs on one thread (the caller splits a batch across the threads): every product
//! goes straight to gemm's kernel with single-threaded parallelism, writing into buffers that
//! live for the whole pass. The tensor path allocates, zeroes and copies an output for every
//! operation (about 15 % of a small model's forward), adds biases and residuals in passes of
//! their own, and concatenates the heads.
//!
//! Rows that are the same in several images of the batch (the same pixels of a patch at the
//! same position) are computed once up to the first attention: the patch embedding, the first
//! norm and the first block's query/key/value product act on each token alone. Successive
//! steps of RISE's games differ in a few patches, so this is most of that work.
//!
//! Same definition as [`super::Vit::forward`] (timm's pre-norm blocks, exact GELU, softmax
//! attention with timm's scale); the results agree to float rounding.

use super::buffers::{View, add_rows, matmul, residual};
use super::lanes;
use super::vit::{Pool, VitConfig, VitWeights};

/// A LayerNorm's parameters.
#[derive(Debug)]
pub(crate) struct Norm {
    pub(crate) gamma: Vec<f32>,
    pub(crate) beta: Option<Vec<f32>>,
    pub(crate) eps: f32,
}

impl Norm {
    fn new(ln: &burn::nn::LayerNorm, eps: f64) -> Self {
        Norm {
            gamma: values(ln.gamma.val()),
            beta: ln.beta.as_ref().map(|b| values(b.val())),
            eps: eps as f32,
        }
    }

    /// Each `d`-value row of `x` normalised into `out`.
    pub(crate) fn apply(&self, x: &[f32], out: &mut [f32]) {
        let params = lanes::NormParams {
            gamma: &self.gamma,
            beta: self.beta.as_deref(),
            eps: self.eps,
        };
        lanes::layer_norm_rows(x, out, params);
    }
}

/// One block's parameters; Linear weights in burn's `[in, out]` layout.
#[derive(Debug)]
pub(crate) struct BlockWeights {
    pub(crate) norm1: Norm,
    pub(crate) qkv: (Vec<f32>, Option<Vec<f32>>),
    pub(crate) proj: (Vec<f32>, Option<Vec<f32>>),
    pub(crate) ls1: Option<Vec<f32>>,
    pub(crate) norm2: Norm,
    pub(crate) fc1: (Vec<f32>, Option<Vec<f32>>),
    pub(crate) fc2: (Vec<f32>, Option<Vec<f32>>),
    pub(crate) ls2: Option<Vec<f32>>,
    /// `|w|` of qkv, proj, fc1 and fc2, built on first use (the relevance rules multiply by it).
    abs: std::sync::OnceLock<[Vec<f32>; 4]>,
}

impl BlockWeights {
    /// `|w|` of the block's Linear layers (qkv, proj, fc1, fc2), `[in, out]` as the weights;
    /// built on the first call and kept.
    pub(crate) fn absolute(&self) -> &[Vec<f32>; 4] {
        self.abs.get_or_init(|| {
            use rayon::prelude::*;
            let mut all: [Vec<f32>; 4] = Default::default();
            all.par_iter_mut()
                .zip([&self.qkv.0, &self.proj.0, &self.fc1.0, &self.fc2.0])
                .for_each(|(a, w)| *a = w.iter().map(|v| v.abs()).collect());
            all
        })
    }
}

/// The parameters the pass reads, as plain buffers (built once per model, see
/// `Vit::cpu_weights`). The head is read on each call (`Vit::set_direction` replaces it).
#[derive(Debug)]
pub struct CpuWeights {
    /// The patch kernel `[in_chans · patch², embed_dim]` (the convolution's weight, flattened
    /// and transposed).
    pub(crate) patch: Vec<f32>,
    pub(crate) patch_bias: Option<Vec<f32>>,
    /// The class token and the registers, `[prefix, embed_dim]`.
    pub(crate) prefix: Vec<f32>,
    pub(crate) blocks: Vec<BlockWeights>,
    pub(crate) norm: Norm,
    pub(crate) fc_norm: Option<Norm>,
}

pub(crate) fn values<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec()
        .expect("converted to f32")
}

pub(crate) fn linear(l: &burn::nn::Linear) -> (Vec<f32>, Option<Vec<f32>>) {
    (
        values(l.weight.val()),
        l.bias.as_ref().map(|b| values(b.val())),
    )
}

impl CpuWeights {
    /// Copies of a model's parameters.
    pub fn new(w: &VitWeights, cfg: &VitConfig) -> Self {
        let eps = cfg.eps;
        let d = cfg.embed_dim;
        let proj = &w.patch_embed.proj;
        let kernel = values(proj.weight.val()); // [d, k]
        let k = kernel.len() / d;
        let mut patch = vec![0f32; k * d];
        for (o, row) in kernel.chunks_exact(k).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                patch[i * d + o] = v;
            }
        }
        let mut prefix = Vec::new();
        if let Some(cls) = &w.cls_token {
            prefix.extend(values(cls.val()));
        }
        if let Some(reg) = &w.reg_token {
            prefix.extend(values(reg.val()));
        }
        // The blocks in parallel: copying a ViT-B's 340 MB is mostly first touches of fresh
        // pages, which both cores take faster than one.
        use rayon::prelude::*;
        let blocks = w
            .blocks
            .par_iter()
            .map(|b| BlockWeights {
                norm1: Norm::new(&b.norm1, eps),
                qkv: linear(&b.attn.qkv),
                proj: linear(&b.attn.proj),
                ls1: b.ls1.as_ref().map(|l| values(l.gamma.val())),
                norm2: Norm::new(&b.norm2, eps),
                fc1: linear(&b.mlp.fc1),
                fc2: linear(&b.mlp.fc2),
                ls2: b.ls2.as_ref().map(|l| values(l.gamma.val())),
                abs: Default::default(),
            })
            .collect();
        CpuWeights {
            patch,
            patch_bias: proj.bias.as_ref().map(|b| values(b.val())),
            prefix,
            blocks,
            norm: Norm::new(&w.norm, eps),
            fc_norm: w.fc_norm.as_ref().map(|n| Norm::new(n, eps)),
        }
    }
}

/// The distinct patches of `b` CHW images (`h × w`, `c` planes, patch `p`) at each position:
/// for each image-major patch, the index of its distinct patch among those at the same
/// position, the distinct patches as rows `[u, c · p²]` (the convolution weight's order:
/// plane, kernel row, column), and the position of each. Patches are the same when their
/// values are the same bits, so their outputs are too.
fn distinct_patches(
    input: &[f32],
    [b, c, h, w, p]: [usize; 5],
) -> (Vec<usize>, Vec<f32>, Vec<usize>) {
    let (gh, gw) = (h / p, w / p);
    let positions = gh * gw;
    // Row `u` of the patch of image `i` at grid cell `(gi, gj)`, plane `ch`.
    let segment = |i: usize, pos: usize, ch: usize, u: usize| {
        let (gi, gj) = (pos / gw, pos % gw);
        let at = ((i * c + ch) * h + gi * p + u) * w + gj * p;
        bytemuck::cast_slice::<f32, u8>(&input[at..at + p])
    };
    let same = |i: usize, j: usize, pos: usize| {
        (0..c).all(|ch| (0..p).all(|u| segment(i, pos, ch, u) == segment(j, pos, ch, u)))
    };
    let mut index = vec![0usize; b * positions];
    let mut distinct = Vec::new();
    let mut position = Vec::new();
    // Distinct patches at the current position: (their index, an image that has it).
    let mut here: Vec<(usize, usize)> = Vec::new();
    for pos in 0..positions {
        here.clear();
        for i in 0..b {
            let r = i * positions + pos;
            // The latest distinct patch first: a patch mostly stays as it last changed.
            match here.iter().rev().find(|&&(_, j)| same(i, j, pos)) {
                Some(&(u, _)) => index[r] = u,
                None => {
                    let u = position.len();
                    index[r] = u;
                    here.push((u, i));
                    position.push(pos);
                    for ch in 0..c {
                        for row in 0..p {
                            distinct.extend_from_slice(bytemuck::cast_slice::<u8, f32>(segment(
                                i, pos, ch, row,
                            )));
                        }
                    }
                }
            }
        }
    }
    (index, distinct, position)
}

impl CpuWeights {
    /// The logits `[b, classes]` of `b` normalised CHW images of `h × w` in `input`, on this
    /// thread, for a model of `cfg` with this `head` and position embedding `pos` (`[n, d]`,
    /// resampled to the grid); the same pass as the model's tensor forward (see the module's
    /// text).
    ///
    /// # Panics
    /// If `input` holds fewer than `b` images of the model's channels, or `h`, `w` are not
    /// multiples of the patch.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        cfg: &VitConfig,
        head: &burn::nn::Linear,
        pos: &[f32],
        input: &[f32],
        b: usize,
        h: usize,
        w: usize,
    ) -> Vec<f32> {
        let cw = self;
        let (d, heads) = (cfg.embed_dim, cfg.num_heads);
        assert!(input.len() >= b * cfg.in_chans * h * w, "input too short");
        let (gh, gw) = cfg.grid_for(h, w).expect("a grid of the patch");
        let n = cfg.prefix() + gh * gw;
        let (mut x, mut qkv) = self.first_rows(cfg, pos, input, [b, h, w]);
        let depth = cw.blocks.len();
        // This thread's buffers from its previous pass (their pages already mapped), returned
        // after this one.
        let mut scratch = SCRATCH.with(|s| s.take());
        for (i, blk) in cw.blocks.iter().enumerate() {
            let cls_only = i + 1 == depth && cfg.arch.global_pool == Pool::Token;
            x = block(blk, x, [b, n, d, heads], cls_only, qkv.take(), &mut scratch);
        }
        SCRATCH.with(|s| s.replace(scratch));
        let pooled = self.pooled_cpu(cfg, x, b, n);
        let (hw, hb) = linear(head);
        let classes = hw.len() / d;
        let mut logits = vec![0f32; b * classes];
        matmul(
            &mut logits,
            classes,
            View::dense(&pooled, b, d),
            View::dense(&hw, d, classes),
            false,
        );
        if let Some(bias) = &hb {
            add_rows(&mut logits, bias);
        }
        logits
    }

    /// The token rows `[b · n, d]` entering the first block and that block's query/key/value
    /// rows `[b · n, 3d]` (none without blocks), each computed once per distinct row: the
    /// prefix tokens (shared by all images), then the distinct patches.
    fn first_rows(
        &self,
        cfg: &VitConfig,
        pos: &[f32],
        input: &[f32],
        [b, h, w]: [usize; 3],
    ) -> (Vec<f32>, Option<Vec<f32>>) {
        let cw = self;
        let (d, p, c) = (cfg.embed_dim, cfg.patch_size, cfg.in_chans);
        let (gh, gw) = (h / p, w / p);
        let (np, prefix) = (gh * gw, cfg.prefix());
        let n = prefix + np;
        let k = c * p * p;
        let (index, distinct, position) = distinct_patches(input, [b, c, h, w, p]);
        let u = position.len();
        // Token rows: [prefix; distinct patches], each plus its position entry.
        let rows = prefix + u;
        let mut tok = vec![0f32; rows * d];
        tok[..prefix * d].copy_from_slice(&cw.prefix);
        matmul(
            &mut tok[prefix * d..],
            d,
            View::dense(&distinct, u, k),
            View::dense(&cw.patch, k, d),
            false,
        );
        if let Some(bias) = &cw.patch_bias {
            add_rows(&mut tok[prefix * d..], bias);
        }
        let entry = |slot: usize| {
            if slot < prefix {
                slot
            } else {
                prefix + position[slot - prefix]
            }
        };
        for (slot, row) in tok.chunks_exact_mut(d).enumerate() {
            let at = entry(slot) * d;
            for (t, &e) in row.iter_mut().zip(&pos[at..at + d]) {
                *t += e;
            }
        }
        // The distinct row of token `t` of image `i`.
        let source = |i: usize, t: usize| {
            if t < prefix {
                t
            } else {
                prefix + index[i * np + t - prefix]
            }
        };
        let gather = |from: &[f32], width: usize| {
            let mut out = vec![0f32; b * n * width];
            for (r, row) in out.chunks_exact_mut(width).enumerate() {
                let s = source(r / n, r % n);
                row.copy_from_slice(&from[s * width..(s + 1) * width]);
            }
            out
        };
        let qkv = cw.blocks.first().map(|blk| {
            let mut xn = vec![0f32; rows * d];
            blk.norm1.apply(&tok, &mut xn);
            let mut q = vec![0f32; rows * 3 * d];
            matmul(
                &mut q,
                3 * d,
                View::dense(&xn, rows, d),
                View::dense(&blk.qkv.0, d, 3 * d),
                false,
            );
            if let Some(bias) = &blk.qkv.1 {
                add_rows(&mut q, bias);
            }
            gather(&q, 3 * d)
        });
        (gather(&tok, d), qkv)
    }

    /// The head's input `[b, d]` from the last block's output `x`: the class token after the
    /// final norm (`x` may hold it alone), or the mean of the patch tokens (then `fc_norm`, or
    /// after the final norm without one).
    pub(crate) fn pooled_cpu(&self, cfg: &VitConfig, x: Vec<f32>, b: usize, n: usize) -> Vec<f32> {
        let cw = self;
        let d = cfg.embed_dim;
        let prefix = cfg.prefix();
        let mut pooled = vec![0f32; b * d];
        if cfg.arch.global_pool == Pool::Token {
            let rows = x.len() / (b * d);
            for (i, out) in pooled.chunks_exact_mut(d).enumerate() {
                cw.norm.apply(&x[i * rows * d..(i * rows + 1) * d], out);
            }
            return pooled;
        }
        let normed = match &cw.fc_norm {
            Some(_) => x,
            None => {
                let mut out = vec![0f32; x.len()];
                cw.norm.apply(&x, &mut out);
                out
            }
        };
        let mut mean = vec![0f32; b * d];
        for (i, acc) in mean.chunks_exact_mut(d).enumerate() {
            for row in normed[(i * n + prefix) * d..(i + 1) * n * d].chunks_exact(d) {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v;
                }
            }
            for a in acc.iter_mut() {
                *a /= (n - prefix) as f32;
            }
        }
        match &cw.fc_norm {
            Some(ln) => {
                ln.apply(&mean, &mut pooled);
                pooled
            }
            None => mean,
        }
    }
}

/// Least rows per block of the MLP (the hidden features of 256 rows of a dim-128 model:
/// 512 KiB).
const MLP_ROWS: usize = 256;

thread_local! {
    /// The buffers of this thread's last pass, kept for the next one.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Buffers reused across blocks.
#[derive(Default)]
struct Scratch {
    xn: Vec<f32>,
    qkv: Vec<f32>,
    heads: Vec<f32>,
    scores: Vec<f32>,
    branch: Vec<f32>,
    hidden: Vec<f32>,
}

/// Resizes `v` to `len` values (contents unspecified) and returns it.
fn sized(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.resize(len, 0.0);
    &mut v[..len]
}

/// One block on `x` (`[b · n, d]`); with `cls_only` only the class token's output, `[b, d]`
/// (its query against every key and value). `qkv`: the block's query/key/value rows when the
/// caller computed them.
fn block(
    blk: &BlockWeights,
    mut x: Vec<f32>,
    [b, n, d, heads]: [usize; 4],
    cls_only: bool,
    qkv: Option<Vec<f32>>,
    s: &mut Scratch,
) -> Vec<f32> {
    let m = b * n;
    let dh = d / heads;
    let scale = (dh as f32).powf(-0.5);
    let xn = sized(&mut s.xn, m * d);
    blk.norm1.apply(&x, xn);
    let qkv = match qkv {
        Some(q) => {
            s.qkv = q;
            &s.qkv[..]
        }
        None => {
            let out = sized(&mut s.qkv, m * 3 * d);
            let w = View::dense(&blk.qkv.0, d, 3 * d);
            let xs = View::dense(xn, m, d);
            if cls_only {
                // Keys and values of every token, the query of the class token alone.
                matmul(&mut out[d..], 3 * d, xs, w.cols(d, 2 * d), false);
                let cls = View {
                    rs: n * d,
                    rows: b,
                    ..xs
                };
                matmul(out, n * 3 * d, cls, w.cols(0, d), false);
                if let Some(bias) = &blk.qkv.1 {
                    for (t, row) in out.chunks_exact_mut(3 * d).enumerate() {
                        let from = if t % n == 0 { 0 } else { d };
                        for (v, &e) in row[from..].iter_mut().zip(&bias[from..]) {
                            *v += e;
                        }
                    }
                }
            } else {
                matmul(out, 3 * d, xs, w, false);
                if let Some(bias) = &blk.qkv.1 {
                    add_rows(out, bias);
                }
            }
            &s.qkv[..]
        }
    };
    let all = View::dense(qkv, m, 3 * d);
    let nq = if cls_only { 1 } else { n };
    let heads_out = sized(&mut s.heads, b * nq * d);
    let scores = sized(&mut s.scores, nq * n);
    for i in 0..b {
        let rows = all.rows(i * n, n);
        for j in 0..heads {
            let q = rows.rows(0, nq).cols(j * dh, dh);
            let k = rows.cols(d + j * dh, dh);
            let v = rows.cols(2 * d + j * dh, dh);
            matmul(scores, n, q, k.t(), false);
            lanes::softmax_rows_in_place(scores, n, scale);
            matmul(
                &mut heads_out[i * nq * d + j * dh..],
                d,
                View::dense(scores, nq, n),
                v,
                false,
            );
        }
    }
    // The residual stream of the rows that go on.
    if cls_only {
        let cls: Vec<f32> = (0..b)
            .flat_map(|i| x[i * n * d..i * n * d + d].iter().copied())
            .collect();
        x = cls;
    }
    let rows = b * nq;
    let branch = sized(&mut s.branch, rows * d);
    matmul(
        branch,
        d,
        View::dense(heads_out, rows, d),
        View::dense(&blk.proj.0, d, d),
        false,
    );
    residual(&mut x, branch, d, blk.proj.1.as_deref(), blk.ls1.as_deref());
    let xn = sized(&mut s.xn, rows * d);
    blk.norm2.apply(&x, xn);
    // The MLP in blocks of rows, so that a block's hidden features stay in cache between the
    // two products (rows are independent). Each block packs the two weight matrices again,
    // which costs less than it saves while a block has more rows than twice the width.
    let hidden = blk.fc1.0.len() / d;
    let per = rows
        .div_ceil(rows.div_ceil(MLP_ROWS.max(2 * d)).max(1))
        .max(1);
    for r0 in (0..rows).step_by(per) {
        let rn = per.min(rows - r0);
        let hid = sized(&mut s.hidden, rn * hidden);
        matmul(
            hid,
            hidden,
            View::dense(xn, rows, d).rows(r0, rn),
            View::dense(&blk.fc1.0, d, hidden),
            false,
        );
        if let Some(bias) = &blk.fc1.1 {
            add_rows(hid, bias);
        }
        lanes::gelu_in_place(hid);
        let branch = sized(&mut s.branch, rn * d);
        matmul(
            branch,
            d,
            View::dense(hid, rn, hidden),
            View::dense(&blk.fc2.0, hidden, d),
            false,
        );
        residual(
            &mut x[r0 * d..(r0 + rn) * d],
            branch,
            d,
            blk.fc2.1.as_deref(),
            blk.ls2.as_deref(),
        );
    }
    x
}
