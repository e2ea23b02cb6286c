//! A ViT's parameters as burn modules, named as timm names them (`patch_embed.proj`,
//! `blocks.N.attn.qkv`, ...), how fresh ones are initialised, and the small tensor functions the
//! forward passes share (exact GELU, Linear layers on column ranges).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::config::VitConfig;

impl VitWeights {
    /// Fresh parameters for a model of `cfg` on `device`, initialised as timm does for
    /// training from scratch: Linear weights N(0, 0.02) with zero biases, LayerNorm 1 and 0,
    /// position embedding N(0, 0.02), class token N(0, 1e-6).
    pub fn init(cfg: &VitConfig, device: &Device) -> Self {
        let d = cfg.embed_dim;
        let ln = || LayerNormConfig::new(d).with_epsilon(cfg.eps).init(device);
        let linear = |din: usize, dout: usize| {
            let mut l = LinearConfig::new(din, dout)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device);
            l.bias = Some(Param::from_tensor(Tensor::zeros([dout], device)));
            l
        };
        let blocks = (0..cfg.depth)
            .map(|_| Block {
                norm1: ln(),
                attn: Attention {
                    qkv: linear(d, 3 * d),
                    proj: linear(d, d),
                },
                norm2: ln(),
                mlp: Mlp {
                    fc1: linear(d, cfg.mlp_hidden),
                    fc2: linear(cfg.mlp_hidden, d),
                },
                ls1: cfg.arch.layer_scale.then(|| LayerScale::ones(d, device)),
                ls2: cfg.arch.layer_scale.then(|| LayerScale::ones(d, device)),
            })
            .collect();
        let normal = |shape: Vec<usize>, std: f64| {
            Param::from_tensor(Tensor::random(
                shape,
                burn::tensor::Distribution::Normal(0.0, std),
                device,
            ))
        };
        VitWeights {
            patch_embed: PatchEmbed {
                proj: Conv2dConfig::new([cfg.in_chans, d], [cfg.patch_size, cfg.patch_size])
                    .with_stride([cfg.patch_size, cfg.patch_size])
                    .init(device),
            },
            cls_token: cfg.arch.class_token.then(|| normal(vec![1, 1, d], 1e-6)),
            reg_token: (cfg.arch.reg_tokens > 0)
                .then(|| normal(vec![1, cfg.arch.reg_tokens, d], 1e-6)),
            pos_embed: normal(vec![1, cfg.pos_len(), d], 0.02),
            blocks,
            norm: ln(),
            fc_norm: cfg.arch.fc_norm.then(ln),
            head: linear(d, cfg.num_classes),
        }
    }
}

/// Convolutional patch embedding (`patch_embed.proj`).
#[derive(Module, Debug)]
pub struct PatchEmbed {
    /// Conv2d(in_chans, embed_dim, kernel = stride = patch).
    pub proj: Conv2d,
}

/// Multi-head self-attention with a fused qkv projection.
#[derive(Module, Debug)]
pub struct Attention {
    /// `[embed_dim] -> [3 * embed_dim]`, split as (q|k|v, head, head_dim).
    pub qkv: Linear,
    /// Output projection.
    pub proj: Linear,
}

/// Two-layer perceptron with exact GELU.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `[embed_dim] -> [mlp_hidden]`.
    pub fc1: Linear,
    /// `[mlp_hidden] -> [embed_dim]`.
    pub fc2: Linear,
}

/// LayerScale: a per-channel factor on a residual branch (timm `lsK.gamma`).
#[derive(Module, Debug)]
pub struct LayerScale {
    /// `[embed_dim]`.
    pub gamma: Param<Tensor<1>>,
}

impl LayerScale {
    pub(super) fn ones(d: usize, device: &Device) -> Self {
        LayerScale {
            gamma: Param::from_tensor(Tensor::ones([d], device)),
        }
    }

    /// `γ ⊙ y` over the last dimension.
    #[inline]
    pub fn apply<const D: usize>(&self, y: Tensor<D>) -> Tensor<D> {
        y * self.gamma.val().unsqueeze()
    }
}

/// `γ ⊙ y` when the branch has a LayerScale, else `y`.
#[inline]
pub fn scaled<const D: usize>(ls: &Option<LayerScale>, y: Tensor<D>) -> Tensor<D> {
    match ls {
        Some(ls) => ls.apply(y),
        None => y,
    }
}

/// Pre-norm transformer block.
#[derive(Module, Debug)]
pub struct Block {
    /// LayerNorm before attention.
    pub norm1: LayerNorm,
    /// Self-attention.
    pub attn: Attention,
    /// LayerNorm before the MLP.
    pub norm2: LayerNorm,
    /// MLP.
    pub mlp: Mlp,
    /// LayerScale of the attention branch.
    pub ls1: Option<LayerScale>,
    /// LayerScale of the MLP branch.
    pub ls2: Option<LayerScale>,
}

/// All parameters, named as timm names them.
#[derive(Module, Debug)]
pub struct VitWeights {
    /// Patch embedding.
    pub patch_embed: PatchEmbed,
    /// `[1, 1, embed_dim]` (absent in models without a class token).
    pub cls_token: Option<Param<Tensor<3>>>,
    /// `[1, registers, embed_dim]` (registers models only).
    pub reg_token: Option<Param<Tensor<3>>>,
    /// `[1, pos_prefix + grid², embed_dim]` at the native grid.
    pub pos_embed: Param<Tensor<3>>,
    /// Transformer blocks.
    pub blocks: Vec<Block>,
    /// Final LayerNorm (unused with `fc_norm`, where timm has an identity).
    pub norm: LayerNorm,
    /// LayerNorm of the pooled features (timm `fc_norm`, with `global_pool='avg'`).
    pub fc_norm: Option<LayerNorm>,
    /// Classifier on the class token.
    pub head: Linear,
}

/// Something per Linear layer of one block.
#[derive(Debug, Clone)]
pub struct BlockLinears<T> {
    /// For `attn.qkv`.
    pub qkv: T,
    /// For `attn.proj`.
    pub proj: T,
    /// For `mlp.fc1`.
    pub fc1: T,
    /// For `mlp.fc2`.
    pub fc2: T,
}

impl Block {
    /// `f` of each Linear layer's weight (burn layout `[in, out]`).
    pub(super) fn map_linears<T>(&self, f: impl Fn(Tensor<2>) -> T) -> BlockLinears<T> {
        BlockLinears {
            qkv: f(self.attn.qkv.weight.val()),
            proj: f(self.attn.proj.weight.val()),
            fc1: f(self.mlp.fc1.weight.val()),
            fc2: f(self.mlp.fc2.weight.val()),
        }
    }
}

/// Contiguous copies of one block's Linear weights in PyTorch orientation `[out, in]`.
///
/// Products with `wᵀ` (the backward pass, the relevance rules) read these instead of a transposed
/// view of the burn-layout weight `[in, out]`: the CPU matrix product packs a transposed
/// right-hand side about twice as slowly as a contiguous one, which made those products take
/// twice the time of the forward ones.
pub type TransposedLinears = BlockLinears<Tensor<2>>;

/// `(|w|, |wᵀ|)` of one block's Linear weights, `[in, out]` and `[out, in]`, contiguous: the
/// relevance rules multiply by both.
pub type AbsoluteLinears = BlockLinears<(Tensor<2>, Tensor<2>)>;

/// `wᵀ` of a burn-layout Linear weight, materialised contiguously (flattening a transposed view
/// forces the copy on every backend).
#[inline]
pub(super) fn contiguous_transpose(w: Tensor<2>) -> Tensor<2> {
    let [i, o] = w.dims();
    w.transpose().reshape([i * o]).reshape([o, i])
}

/// GELU written with `erf` so every backend differentiates it exactly.
#[inline]
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let cdf = (x.clone() * std::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        * 0.5;
    x * cdf
}

/// `x W[:, start..start + len] + bias[start..start + len]` of a linear layer: its outputs in a
/// column range (the weight's columns as a view).
#[inline]
pub(super) fn linear_cols(l: &Linear, x: Tensor<2>, start: usize, len: usize) -> Tensor<2> {
    with_bias_range(
        l,
        x.matmul(l.weight.val().narrow(1, start, len)),
        start,
        len,
    )
}

/// `y + bias` of a linear layer.
#[inline]
pub(super) fn with_bias(l: &Linear, y: Tensor<2>) -> Tensor<2> {
    let len = l.weight.dims()[1];
    with_bias_range(l, y, 0, len)
}

/// `y + bias[start..start + len]` of a linear layer (none without a bias).
#[inline]
pub(super) fn with_bias_range(l: &Linear, y: Tensor<2>, start: usize, len: usize) -> Tensor<2> {
    match &l.bias {
        Some(bias) => y + bias.val().narrow(0, start, len).unsqueeze(),
        None => y,
    }
}

/// Exact GELU, choosing the implementation: the backend's fused single-pass kernel where its
/// gradient is right or not needed (no gradient flows through `x`, or the CPU backend Flex, whose
/// GELU backward is exact), else [`gelu`] (plain differentiable ops): the wgpu backend's fused
/// GELU backward uses the tanh approximation's derivative.
#[inline]
pub(super) fn gelu_exact<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !x.is_tracked() || x.device() == Device::flex() {
        burn::tensor::activation::gelu(x)
    } else {
        gelu(x)
    }
}

/// Softmax attention `softmax(q kᵀ / sqrt(head_dim)) v` (timm's scale) of the lean inference
/// pass, heads side by side in the columns: on the CPU one head and image at a time, two
/// single-threaded products around the lane-wise [`crate::model::lanes::softmax_rows`] (the backend's
/// fused op takes a scalar `exp` per score: ~1.9 ms against ~1.1 ms for six ViT-B heads);
/// elsewhere the backend's fused op, whose default scale is the same.
///
/// # Shapes
/// - q: `[B * nq, H * Dh]`, k, v: `[B * N, H * Dh]` (`shape` = `[B, N, H, Dh]`) →
///   `[B * nq, H * Dh]` (`nq` query rows per image: `N`, or 1 for the class token alone)
#[inline]
pub(super) fn attention_inference(
    q: Tensor<2>,
    k: Tensor<2>,
    v: Tensor<2>,
    shape: [usize; 4],
    nq: usize,
) -> Tensor<2> {
    let [b, n, h, dh] = shape;
    if q.device() != Device::flex() {
        let heads = |t: Tensor<2>, rows: usize| t.reshape([b, rows, h, dh]).swap_dims(1, 2);
        return burn::tensor::module::attention(
            heads(q, nq),
            heads(k, n),
            heads(v, n),
            None,
            None,
            Default::default(),
        )
        .swap_dims(1, 2)
        .reshape([b * nq, h * dh]);
    }
    let scale = (dh as f32).powf(-0.5);
    let part = |t: &Tensor<2>, rows: usize, i: usize, j: usize| {
        t.clone().narrow(0, i * rows, rows).narrow(1, j * dh, dh)
    };
    let images = (0..b)
        .map(|i| {
            let heads = (0..h)
                .map(|j| {
                    let scores = part(&q, nq, i, j).matmul(part(&k, n, i, j).transpose());
                    crate::model::lanes::softmax_rows(scores, scale).matmul(part(&v, n, i, j))
                })
                .collect();
            Tensor::cat(heads, 1)
        })
        .collect();
    Tensor::cat(images, 0)
}

/// GELU of the lean inference pass: lane-wise ([`crate::model::lanes::gelu`], ~13× faster than the
/// backend's scalar `erf`) on the CPU, else [`gelu_exact`]. Explanation maps keep
/// [`gelu_exact`]: Chefer's relevance in the early blocks amplifies rounding differences of
/// the forward pass, and the lane-wise `erf` rounds a few units in the last place further.
#[inline]
pub(super) fn gelu_inference<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !x.is_tracked() && x.device() == Device::flex() {
        crate::model::lanes::gelu_values(x)
    } else {
        gelu_exact(x)
    }
}
