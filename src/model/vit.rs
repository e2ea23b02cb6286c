//! The Vision Transformer, laid out exactly as timm's `VisionTransformer` (class token, learned
//! absolute position embedding, pre-norm blocks, fused qkv with bias, exact-erf GELU, final
//! LayerNorm, linear head on token 0).
//!
//! The module tree uses timm's parameter names (`patch_embed.proj`, `blocks.N.attn.qkv`, ...), so a
//! timm state dict applies without renaming. Besides the plain [`Vit::forward`], the model offers
//! [`Vit::forward_traced`], which keeps every intermediate activation the explanation methods need
//! and can attach zero-valued gradient probes to the attention probabilities and the `norm1`
//! outputs (burn cannot take the gradient of an intermediate tensor directly).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Hyper-parameters of a ViT. Usually inferred from a checkpoint's tensor shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VitConfig {
    /// Input side length in pixels (square inputs).
    pub img_size: usize,
    /// Patch side length in pixels.
    pub patch_size: usize,
    /// Input channels (3 for RGB).
    pub in_chans: usize,
    /// Number of output classes of the head.
    pub num_classes: usize,
    /// Token width.
    pub embed_dim: usize,
    /// Number of transformer blocks.
    pub depth: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Hidden width of each MLP.
    pub mlp_hidden: usize,
    /// LayerNorm epsilon (timm: 1e-6).
    pub eps: f64,
}

impl VitConfig {
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.img_size / self.patch_size
    }

    /// Tokens including the class token.
    pub fn tokens(&self) -> usize {
        self.grid() * self.grid() + 1
    }

    /// Width of one head.
    pub fn head_dim(&self) -> usize {
        self.embed_dim / self.num_heads
    }

    /// Named timm sizes at 224 px: `ti`, `s`, `b`, `l` with the given patch size.
    pub fn named(name: &str, patch_size: usize, num_classes: usize) -> Option<Self> {
        let (embed_dim, depth, num_heads) = match name {
            "ti" | "tiny" => (192, 12, 3),
            "s" | "small" => (384, 12, 6),
            "b" | "base" => (768, 12, 12),
            "l" | "large" => (1024, 24, 16),
            _ => return None,
        };
        Some(Self {
            img_size: 224,
            patch_size,
            in_chans: 3,
            num_classes,
            embed_dim,
            depth,
            num_heads,
            mlp_hidden: embed_dim * 4,
            eps: 1e-6,
        })
    }

    /// Builds a model with fresh (random) parameters on `device`, initialised as timm does for
    /// training from scratch: Linear weights N(0, 0.02) with zero biases, LayerNorm 1 and 0,
    /// position embedding N(0, 0.02), class token N(0, 1e-6).
    pub fn init(&self, device: &Device) -> Vit {
        let d = self.embed_dim;
        let ln = || LayerNormConfig::new(d).with_epsilon(self.eps).init(device);
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
        let blocks = (0..self.depth)
            .map(|_| Block {
                norm1: ln(),
                attn: Attention {
                    qkv: linear(d, 3 * d),
                    proj: linear(d, d),
                },
                norm2: ln(),
                mlp: Mlp {
                    fc1: linear(d, self.mlp_hidden),
                    fc2: linear(self.mlp_hidden, d),
                },
            })
            .collect();
        let normal = |shape: Vec<usize>, std: f64| {
            Param::from_tensor(Tensor::random(
                shape,
                burn::tensor::Distribution::Normal(0.0, std),
                device,
            ))
        };
        let weights = VitWeights {
            patch_embed: PatchEmbed {
                proj: Conv2dConfig::new([self.in_chans, d], [self.patch_size, self.patch_size])
                    .with_stride([self.patch_size, self.patch_size])
                    .init(device),
            },
            cls_token: normal(vec![1, 1, d], 1e-6),
            pos_embed: normal(vec![1, self.tokens(), d], 0.02),
            blocks,
            norm: ln(),
            head: linear(d, self.num_classes),
        };
        Vit {
            weights,
            config: self.clone(),
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
}

/// All parameters, named as timm names them.
#[derive(Module, Debug)]
pub struct VitWeights {
    /// Patch embedding.
    pub patch_embed: PatchEmbed,
    /// `[1, 1, embed_dim]`.
    pub cls_token: Param<Tensor<3>>,
    /// `[1, tokens, embed_dim]`.
    pub pos_embed: Param<Tensor<3>>,
    /// Transformer blocks.
    pub blocks: Vec<Block>,
    /// Final LayerNorm.
    pub norm: LayerNorm,
    /// Classifier on the class token.
    pub head: Linear,
}

/// A ViT: its parameters and its hyper-parameters.
#[derive(Debug)]
pub struct Vit {
    /// Parameters (a burn module).
    pub weights: VitWeights,
    /// Hyper-parameters.
    pub config: VitConfig,
}

/// Activations of one block kept by [`Vit::forward_traced`].
#[derive(Debug, Clone)]
pub struct BlockTrace {
    /// Block input `[B, N, C]`.
    pub input: Tensor<3>,
    /// `norm1(input)` `[B, N, C]` (plus its gradient probe when probes are on).
    pub norm1: Tensor<3>,
    /// Unscaled queries `[B, H, N, Dh]`.
    pub q: Tensor<4>,
    /// Keys `[B, H, N, Dh]`.
    pub k: Tensor<4>,
    /// Values `[B, H, N, Dh]`.
    pub v: Tensor<4>,
    /// Attention probabilities `[B, H, N, N]` (plus its gradient probe when probes are on).
    pub attn: Tensor<4>,
    /// Heads concatenated, the input of `attn.proj` `[B, N, C]`.
    pub attn_heads: Tensor<3>,
    /// Output of `attn.proj` `[B, N, C]`.
    pub attn_out: Tensor<3>,
    /// `input + attn_out` `[B, N, C]`.
    pub mid: Tensor<3>,
    /// `norm2(mid)` `[B, N, C]`.
    pub norm2: Tensor<3>,
    /// GELU output, the input of `mlp.fc2` `[B, N, hidden]`.
    pub hidden: Tensor<3>,
    /// Output of `mlp.fc2` `[B, N, C]`.
    pub mlp_out: Tensor<3>,
}

/// Zero-valued leaves added to intermediate tensors so that their gradients can be read.
#[derive(Debug, Clone)]
pub struct GradProbes {
    /// `(block, leaf)` added to that block's attention probabilities `[B, H, N, N]`.
    pub attn: Vec<(usize, Tensor<4>)>,
    /// Added to the last block's `norm1` output `[B, N, C]`, when requested.
    pub last_norm1: Option<Tensor<3>>,
}

/// Which intermediate tensors get gradient probes. Blocks before the first probe run without
/// autodiff, so a probe late in the network makes the backward pass cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Probes {
    /// Probe the attention probabilities of this block and every later one.
    pub attn_from: Option<usize>,
    /// Probe the last block's `norm1` output (GradCAM's target layer).
    pub last_norm1: bool,
}

impl Probes {
    /// No gradients at all (plain inference).
    pub const NONE: Probes = Probes {
        attn_from: None,
        last_norm1: false,
    };

    fn any(&self) -> bool {
        self.attn_from.is_some() || self.last_norm1
    }
}

/// Everything [`Vit::forward_traced`] records.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Per-block activations.
    pub blocks: Vec<BlockTrace>,
    /// Final-norm output of the class token, the head's input `[B, C]`.
    pub pooled: Tensor<2>,
    /// Logits `[B, classes]`.
    pub logits: Tensor<2>,
    /// Gradient probes, when requested.
    pub probes: Option<GradProbes>,
}

/// GELU written with `erf` so every backend differentiates it exactly.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let cdf = (x.clone() * std::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        * 0.5;
    x * cdf
}

impl Vit {
    /// Patch embedding, class token and position embedding.
    ///
    /// # Shapes
    /// - input: `[B, in_chans, img, img]`
    /// - output: `[B, tokens, embed_dim]`
    fn embed(&self, input: Tensor<4>) -> Tensor<3> {
        let w = &self.weights;
        let [b, _, _, _] = input.dims();
        let d = self.config.embed_dim;
        let x = w.patch_embed.proj.forward(input); // [B, C, gh, gw]
        let [_, _, gh, gw] = x.dims();
        let x = x.reshape([b, d, gh * gw]).swap_dims(1, 2); // [B, P, C]
        let cls = w.cls_token.val().expand([b, 1, d]);
        let x = Tensor::cat(vec![cls, x], 1);
        x + w.pos_embed.val()
    }

    /// Logits only.
    ///
    /// # Shapes
    /// - input: `[B, in_chans, img, img]`
    /// - output: `[B, num_classes]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        self.forward_traced(input, Probes::NONE).logits
    }

    /// Forward pass that records the activations of every block and, on request, adds gradient
    /// probes. With probes, the probe tensors live on `device.autodiff()` of the input's device.
    pub fn forward_traced(&self, input: Tensor<4>, probes: Probes) -> Trace {
        let cfg = &self.config;
        let (b, n, d) = {
            let [b, _, _, _] = input.dims();
            (b, cfg.tokens(), cfg.embed_dim)
        };
        let (h, dh) = (cfg.num_heads, cfg.head_dim());
        let ad = input.device().autodiff();
        let probe = |shape: [usize; 4]| Tensor::<4>::zeros(shape, &ad).require_grad();
        let mut attn_probes = Vec::new();
        let mut last_norm1_probe = None;
        let scale = (dh as f64).powf(-0.5);

        let mut x = self.embed(input);
        let mut blocks = Vec::with_capacity(cfg.depth);
        let depth = self.weights.blocks.len();
        for (i, blk) in self.weights.blocks.iter().enumerate() {
            let last = i + 1 == depth;
            let input = x.clone();
            let mut norm1 = blk.norm1.forward(x.clone());
            if last && probes.last_norm1 {
                let z = Tensor::<3>::zeros([b, n, d], &ad).require_grad();
                norm1 = norm1 + z.clone();
                last_norm1_probe = Some(z);
            }
            let qkv = blk.attn.qkv.forward(norm1.clone()); // [B, N, 3C]
            let qkv = qkv.reshape([b, n, 3, h, dh]).permute([2, 0, 3, 1, 4]); // [3, B, H, N, Dh]
            let part = |j: usize| qkv.clone().narrow(0, j, 1).reshape([b, h, n, dh]);
            let (q, k, v) = (part(0), part(1), part(2));
            let scores = (q.clone() * scale).matmul(k.clone().swap_dims(2, 3));
            let mut attn = softmax(scores, 3);
            if probes.attn_from.is_some_and(|from| i >= from) {
                let z = probe([b, h, n, n]);
                attn = attn + z.clone();
                attn_probes.push((i, z));
            }
            let attn_heads = attn
                .clone()
                .matmul(v.clone())
                .swap_dims(1, 2)
                .reshape([b, n, d]);
            let attn_out = blk.attn.proj.forward(attn_heads.clone());
            let mid = input.clone() + attn_out.clone();
            let norm2 = blk.norm2.forward(mid.clone());
            let hidden = gelu(blk.mlp.fc1.forward(norm2.clone()));
            let mlp_out = blk.mlp.fc2.forward(hidden.clone());
            x = mid.clone() + mlp_out.clone();
            blocks.push(BlockTrace {
                input,
                norm1,
                q,
                k,
                v,
                attn,
                attn_heads,
                attn_out,
                mid,
                norm2,
                hidden,
                mlp_out,
            });
        }
        let normed = self.weights.norm.forward(x);
        let pooled = normed.narrow(1, 0, 1).reshape([b, d]);
        let logits = self.weights.head.forward(pooled.clone());
        let probes = probes.any().then_some(GradProbes {
            attn: attn_probes,
            last_norm1: last_norm1_probe,
        });
        Trace {
            blocks,
            pooled,
            logits,
            probes,
        }
    }
}
