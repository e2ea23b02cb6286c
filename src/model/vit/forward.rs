//! The forward passes of [`Vit`]: the plain one, the traced one that keeps what the explanation
//! methods need (optionally with gradient probes), and the lean inference blocks.

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use std::ops::Range;

use super::config::Pool;
use super::model::Vit;
use super::modules::{
    Block, attention_inference, gelu_exact, gelu_inference, linear_cols, scaled, with_bias,
};
use super::trace::{BlockTrace, GradProbes, Probes, Trace};
use crate::model::rows::{par_rows_each, par_sum};

impl Vit {
    /// Patch embedding, prefix tokens and position embedding; also the patch grid.
    ///
    /// Tokens are `[class, registers.., patches]` (patches row-major; no class token in models
    /// without one); the position embedding
    /// is added to the prefix tokens that have an entry and to every patch, resampled when the
    /// grid is not the native one ([`Vit::position`]).
    ///
    /// # Shapes
    /// - input: `[B, in_chans, H, W]`
    /// - output: `[B, tokens, embed_dim]`
    fn embed(&self, input: Tensor<4>, lean: bool) -> (Tensor<3>, (usize, usize)) {
        let w = &self.weights;
        let [b, _, _, _] = input.dims();
        let d = self.config.embed_dim;
        let (x, gh, gw) = if lean && !input.is_tracked() && input.device() == Device::flex() {
            self.patch_embed_lean(input)
        } else {
            let x = w.patch_embed.proj.forward(input); // [B, C, gh, gw]
            let [_, _, gh, gw] = x.dims();
            (x.reshape([b, d, gh * gw]).swap_dims(1, 2), gh, gw) // [B, P, C]
        };
        let mut parts = Vec::with_capacity(3);
        if let Some(cls) = &w.cls_token {
            parts.push(cls.val().expand([b, 1, d]));
        }
        if let Some(reg) = &w.reg_token {
            let r = reg.val().dims()[1];
            parts.push(reg.val().expand([b, r, d]));
        }
        parts.push(x);
        (Tensor::cat(parts, 1) + self.position(gh, gw), (gh, gw))
    }

    /// The patch embedding as one product (the lean forward on the CPU): the patches are cut
    /// out row by row into `[B · P, in_chans · patch²]` (stride = kernel, so this is all the
    /// convolution's unfolding), times the flattened kernel, plus the bias. The backend's
    /// convolution unfolds value by value, ~10 % of a small model's forward pass.
    ///
    /// # Shapes
    /// - input: `[B, in_chans, H, W]` → (`[B, P, embed_dim]`, rows, cols)
    fn patch_embed_lean(&self, input: Tensor<4>) -> (Tensor<3>, usize, usize) {
        let [b, c, h, w] = input.dims();
        let (p, d) = (self.config.patch_size, self.config.embed_dim);
        let (gh, gw) = (h / p, w / p);
        let device = input.device();
        let x: Vec<f32> = input
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .expect("converted to f32");
        let k = c * p * p;
        let cols = crate::model::buffers::patch_rows(&x, [b, c, h, w], p);
        let cols = Tensor::<2>::from_data(TensorData::new(cols, [b * gh * gw, k]), &device);
        let proj = &self.weights.patch_embed.proj;
        let kernel = proj.weight.val().reshape([d, k]).transpose();
        let mut y = cols.matmul(kernel);
        if let Some(bias) = &proj.bias {
            y = y + bias.val().reshape([1, d]);
        }
        (y.reshape([b, gh * gw, d]), gh, gw)
    }

    /// The position embedding added to the token sequence of a `gh`×`gw` grid `[1, tokens, D]`:
    /// the stored entries of the prefix tokens that have one, zeros for the others, and the
    /// patch entries, resampled by the family's rule ([`crate::model::pos_embed`]) when the grid is not
    /// the native one.
    pub fn position(&self, gh: usize, gw: usize) -> Tensor<3> {
        let cfg = &self.config;
        let pe = self.weights.pos_embed.val();
        let (pp, prefix, g0, d) = (cfg.arch.pos_prefix, cfg.prefix(), cfg.grid(), cfg.embed_dim);
        let native = (gh, gw) == (g0, g0);
        if native && pp == prefix {
            return pe;
        }
        let device = pe.device();
        let patches = if native {
            pe.clone().narrow(1, pp, g0 * g0)
        } else {
            let stored = pe
                .clone()
                .narrow(1, pp, g0 * g0)
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap_or_default();
            let values = crate::model::pos_embed::resample(
                &stored,
                d,
                (g0, g0),
                (gh, gw),
                cfg.arch.resample,
            );
            Tensor::from_data(TensorData::new(values, [1, gh * gw, d]), &device)
        };
        let mut parts = Vec::with_capacity(3);
        if pp > 0 {
            parts.push(pe.narrow(1, 0, pp));
        }
        if prefix > pp {
            parts.push(Tensor::zeros([1, prefix - pp, d], &device));
        }
        parts.push(patches);
        Tensor::cat(parts, 1)
    }

    /// Logits only. Keeps no activations, so each block runs lean: with no gradient flowing
    /// (inference), the work split by heads and hidden features, and on the CPU the attention
    /// per head with a lane-wise softmax and a lane-wise GELU; tensors updated in place.
    ///
    /// # Shapes
    /// - input: `[B, in_chans, img, img]`
    /// - output: `[B, num_classes]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        let [b, c, h, w] = input.dims();
        let device = input.device();
        if self.on_plain_cpu(&input)
            && c == self.config.in_chans
            && self.config.grid_for(h, w).is_ok()
        {
            // On the CPU: the plain-buffer pass, keeping no block.
            let x = crate::model::infer::values(input);
            let logits = self.trace_cpu(&x, [b, h, w], 0..0).logits;
            let classes = logits.len() / b.max(1);
            return Tensor::from_data(TensorData::new(logits, [b, classes]), &device);
        }
        let (mut x, _) = self.embed(input, true);
        let depth = self.weights.blocks.len();
        for (i, blk) in self.weights.blocks.iter().enumerate() {
            // With class-token pooling only its output reaches the head: the last block's
            // queries, projection and MLP run on it alone (its keys and values on every token).
            let cls_only = i + 1 == depth && self.config.arch.global_pool == Pool::Token;
            x = self.block_lean(blk, x, cls_only);
        }
        let (_, pooled) = self.pool(x);
        self.weights.head.forward(pooled)
    }

    /// The final norm of every token and the head's input: the class token, or the mean of the
    /// patch tokens (then `fc_norm`, whose models have no final norm). `x` may hold the class
    /// token alone (the lean forward's last block), for class-token pooling.
    ///
    /// # Shapes
    /// - x: `[B, N, C]` → (`[B, N, C]`, `[B, C]`)
    pub fn pool(&self, x: Tensor<3>) -> (Tensor<3>, Tensor<2>) {
        let [b, n, d] = x.dims();
        let normed = match &self.weights.fc_norm {
            Some(_) => x,
            None => self.weights.norm.forward(x),
        };
        let pooled = match self.config.arch.global_pool {
            Pool::Token => normed.clone().narrow(1, 0, 1).reshape([b, d]),
            Pool::Avg => {
                let p = self.config.prefix();
                let mean = normed
                    .clone()
                    .narrow(1, p, n - p)
                    .mean_dim(1)
                    .reshape([b, d]);
                match &self.weights.fc_norm {
                    Some(ln) => ln.forward(mean),
                    None => mean,
                }
            }
        };
        (normed, pooled)
    }

    /// Forward pass that records the activations of every block and, on request, adds gradient
    /// probes. With probes, the probe tensors live on `device.autodiff()` of the input's device.
    pub fn forward_traced(&self, input: Tensor<4>, probes: Probes) -> Trace {
        self.forward_kept(input, probes, 0..self.config.depth)
    }

    /// [`Vit::forward_traced`] that keeps the activations of the blocks in `keep` only; the
    /// others (unless probed) run lean as in [`Vit::forward`]. Probed blocks are always kept.
    pub fn forward_kept(&self, input: Tensor<4>, probes: Probes, keep: Range<usize>) -> Trace {
        let cfg = &self.config;
        let depth = self.weights.blocks.len();
        let probed = |i: usize| {
            probes.attn_from.is_some_and(|from| i >= from) || (probes.last_norm1 && i + 1 == depth)
        };
        let first = (0..depth)
            .find(|&i| keep.contains(&i) || probed(i))
            .unwrap_or(depth);
        let last = (0..depth)
            .rev()
            .find(|&i| keep.contains(&i) || probed(i))
            .map_or(first, |i| i + 1);
        let ad = input.device().autodiff();
        let mut attn_probes = Vec::new();
        let mut last_norm1_probe = None;

        let (mut x, grid) = self.embed(input, false);
        let mut blocks = Vec::with_capacity(last - first);
        for (i, blk) in self.weights.blocks.iter().enumerate() {
            if !(first..last).contains(&i) {
                x = self.block_lean(blk, x, false);
                continue;
            }
            let attn_probe = probes.attn_from.is_some_and(|from| i >= from).then(|| {
                let [b, n, _] = x.dims();
                let z = Tensor::<4>::zeros([b, cfg.num_heads, n, n], &ad).require_grad();
                attn_probes.push((i, z.clone()));
                z
            });
            let norm1_probe = (probes.last_norm1 && i + 1 == depth).then(|| {
                let z = Tensor::<3>::zeros(x.dims(), &ad).require_grad();
                last_norm1_probe = Some(z.clone());
                z
            });
            let bt = self.block_traced(blk, x, attn_probe, norm1_probe);
            x = bt.output.clone();
            blocks.push(bt);
        }
        let (normed, pooled) = self.pool(x);
        let logits = self.weights.head.forward(pooled.clone());
        let probes = probes.any().then_some(GradProbes {
            attn: attn_probes,
            last_norm1: last_norm1_probe,
        });
        Trace {
            first_block: first,
            blocks,
            grid,
            normed,
            pooled,
            logits,
            probes,
        }
    }

    /// Splits the fused qkv output into `(q, k, v)`, each `[B, H, N, Dh]` (views, no copy).
    fn split_qkv(&self, qkv: Tensor<3>) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, n, _] = qkv.dims();
        let (h, dh) = (self.config.num_heads, self.config.head_dim());
        let qkv = qkv.reshape([b, n, 3, h, dh]).permute([2, 0, 3, 1, 4]); // [3, B, H, N, Dh]
        let part = |j: usize| qkv.clone().narrow(0, j, 1).reshape([b, h, n, dh]);
        (part(0), part(1), part(2))
    }

    /// One block, keeping nothing; with `cls_only` (inference) only the class token's output
    /// is computed (its query against every key and value).
    ///
    /// # Shapes
    /// - x: `[B, N, C]` → `[B, N, C]` (`[B, 1, C]` with `cls_only`)
    fn block_lean(&self, blk: &Block, x: Tensor<3>, cls_only: bool) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let m = b * n;
        let x = x.reshape([m, d]);
        if x.is_tracked() {
            // Training: whole tensors and plain attention ops, whose gradients every backend
            // computes.
            let qkv = blk.attn.qkv.forward(blk.norm1.forward(x.clone()));
            let (q, k, v) = self.split_qkv(qkv.reshape([b, n, 3 * d]));
            let scale = (self.config.head_dim() as f64).powf(-0.5);
            let heads = softmax((q * scale).matmul(k.swap_dims(2, 3)), 3).matmul(v);
            let attn = blk.attn.proj.forward(heads.swap_dims(1, 2).reshape([m, d]));
            let x = x + scaled(&blk.ls1, attn);
            let hidden = gelu_exact(blk.mlp.fc1.forward(blk.norm2.forward(x.clone())));
            return (x + scaled(&blk.ls2, blk.mlp.fc2.forward(hidden))).reshape([b, n, d]);
        }
        // Inference: each CPU thread takes a group of heads (its columns of q, k and v, the
        // attention, its rows of the output projection) and then a share of the MLP's
        // hidden features (its columns of fc1, GELU, its rows of fc2); the parts are added. No
        // thread packs a whole weight matrix.
        let device = x.device();
        let (h, dh) = (self.config.num_heads, self.config.head_dim());
        let xn = blk.norm1.forward(x.clone());
        let nq = if cls_only { 1 } else { n };
        let first_rows = |t: Tensor<2>| t.reshape([b, n, d]).narrow(1, 0, 1).reshape([b, d]);
        let (x, xq) = if cls_only {
            (first_rows(x), first_rows(xn.clone()))
        } else {
            (x, xn.clone())
        };
        let attn = par_sum(h, &device, |h0, hn| {
            let kv = |j: usize| linear_cols(&blk.attn.qkv, xn.clone(), j * d + h0 * dh, hn * dh);
            let q = linear_cols(&blk.attn.qkv, xq.clone(), h0 * dh, hn * dh);
            let heads = attention_inference(q, kv(1), kv(2), [b, n, hn, dh], nq);
            heads.matmul(blk.attn.proj.weight.val().narrow(0, h0 * dh, hn * dh))
        });
        let x = match &blk.ls1 {
            None => with_bias(&blk.attn.proj, x + attn),
            Some(ls) => x + ls.apply(with_bias(&blk.attn.proj, attn)),
        };
        let xn = blk.norm2.forward(x.clone());
        let hidden = blk.mlp.fc1.weight.dims()[1];
        let mlp = par_sum(hidden, &device, |c0, cn| {
            gelu_inference(linear_cols(&blk.mlp.fc1, xn.clone(), c0, cn))
                .matmul(blk.mlp.fc2.weight.val().narrow(0, c0, cn))
        });
        match &blk.ls2 {
            None => with_bias(&blk.mlp.fc2, x + mlp),
            Some(ls) => x + ls.apply(with_bias(&blk.mlp.fc2, mlp)),
        }
        .reshape([b, nq, d])
    }

    /// One block, keeping every activation, with optional gradient probes added to the
    /// attention probabilities and to the `norm1` output.
    fn block_traced(
        &self,
        blk: &Block,
        input: Tensor<3>,
        attn_probe: Option<Tensor<4>>,
        norm1_probe: Option<Tensor<3>>,
    ) -> BlockTrace {
        let [b, n, d] = input.dims();
        let m = b * n;
        let scale = (self.config.head_dim() as f64).powf(-0.5);
        // Without gradients the row-independent parts run in one block of rows per CPU thread
        // (see `rows`); with them (probes, training) on whole tensors.
        let whole = input.is_tracked() || attn_probe.is_some() || norm1_probe.is_some();
        let device = input.device();
        let x = input.clone().reshape([m, d]);
        let front = |x: Tensor<2>| {
            let norm1 = blk.norm1.forward(x);
            let qkv = blk.attn.qkv.forward(norm1.clone());
            [norm1, qkv]
        };
        let [norm1, qkv] = if whole {
            let mut norm1 = blk.norm1.forward(x);
            if let Some(z) = norm1_probe {
                norm1 = norm1 + z.reshape([m, d]);
            }
            let qkv = blk.attn.qkv.forward(norm1.clone());
            [norm1, qkv]
        } else {
            par_rows_each(m, &device, |s, l| front(x.clone().narrow(0, s, l)))
        };
        let (norm1, qkv) = (norm1.reshape([b, n, d]), qkv.reshape([b, n, 3 * d]));
        let (q, k, v) = self.split_qkv(qkv.clone());
        let scores = (q.clone() * scale).matmul(k.clone().swap_dims(2, 3));
        let mut attn = softmax(scores, 3);
        if let Some(z) = attn_probe {
            attn = attn + z;
        }
        let attn_heads = attn
            .clone()
            .matmul(v.clone())
            .swap_dims(1, 2)
            .reshape([m, d]);
        let back = |x: Tensor<2>, heads: Tensor<2>| {
            let attn_out = blk.attn.proj.forward(heads);
            let attn_res = scaled(&blk.ls1, attn_out.clone());
            let mid = x + attn_res.clone();
            let norm2 = blk.norm2.forward(mid.clone());
            let fc1 = blk.mlp.fc1.forward(norm2.clone());
            let hidden = gelu_exact(fc1.clone());
            let mlp_out = blk.mlp.fc2.forward(hidden.clone());
            let mlp_res = scaled(&blk.ls2, mlp_out.clone());
            let output = mid.clone() + mlp_res.clone();
            [
                attn_out, attn_res, mid, norm2, fc1, hidden, mlp_out, mlp_res, output,
            ]
        };
        let x = input.clone().reshape([m, d]);
        let parts = if whole {
            back(x, attn_heads.clone())
        } else {
            par_rows_each(m, &device, |s, l| {
                back(
                    x.clone().narrow(0, s, l),
                    attn_heads.clone().narrow(0, s, l),
                )
            })
        };
        let [
            attn_out,
            attn_res,
            mid,
            norm2,
            fc1,
            hidden,
            mlp_out,
            mlp_res,
            output,
        ] = parts.map(|t| {
            let [_, c] = t.dims();
            t.reshape([b, n, c])
        });
        let attn_heads = attn_heads.reshape([b, n, d]);
        BlockTrace {
            input,
            norm1,
            qkv,
            q,
            k,
            v,
            attn,
            attn_heads,
            attn_out,
            attn_res,
            mid,
            norm2,
            fc1,
            hidden,
            mlp_out,
            mlp_res,
            output,
        }
    }
}
