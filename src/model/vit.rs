//! The Vision Transformer, laid out exactly as timm's `VisionTransformer` (class token, learned
//! absolute position embedding, pre-norm blocks, fused qkv with bias, exact-erf GELU, final
//! LayerNorm, linear head on token 0).
//!
//! The module tree uses timm's parameter names (`patch_embed.proj`, `blocks.N.attn.qkv`, ...), so a
//! timm state dict applies without renaming. Besides the plain [`Vit::forward`], the model offers
//! [`Vit::forward_traced`], which keeps every intermediate activation the explanation methods need
//! and can attach zero-valued gradient probes to the attention probabilities and the `norm1`
//! outputs for burn's autodiff (burn cannot take the gradient of an intermediate tensor
//! directly). The explanation methods take those gradients from the explicit backward pass in
//! [`super::backward`] instead; the probes remain as its independent check.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::OnceLock;

use super::rows::{par_rows_each, par_sum};

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
    /// LayerNorm epsilon (timm: 1e-6; Hugging Face ViT: 1e-12).
    pub eps: f64,
    /// Prefix tokens, LayerScale and the position-embedding rules (timm's original ViT by
    /// default).
    #[serde(default)]
    pub arch: Arch,
}

/// The checkpoint family a model was read from: it fixes the key names and, with them, how the
/// position embedding is resampled at other input sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// timm `VisionTransformer` (also the DINO and MAE releases, UNI, the DINOv2 timm models).
    #[default]
    Timm,
    /// Hugging Face `Dinov2Model` / `Dinov2WithRegistersModel` (RAD-DINO, the DINOv2 releases).
    HfDinov2,
    /// Hugging Face `ViTModel` (Phikon).
    HfVit,
}

/// How the patch part of the position embedding is resampled to another grid (PyTorch's
/// `interpolate(mode='bicubic', align_corners=False)` on the `[D, g0, g0]` image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resample {
    /// `antialias=True` (timm's `resample_abs_pos_embed`, HF `Dinov2WithRegisters`): Keys
    /// cubic with a = -0.5, support widened when shrinking, weights renormalised at the border.
    #[default]
    BicubicAntialias,
    /// `antialias=False` (HF `Dinov2Model` and `ViTModel`): Keys cubic with a = -0.75, four taps,
    /// border replicated.
    Bicubic,
}

/// What sets a foundation ViT apart from timm's original layout: register tokens, which prefix
/// tokens carry a position embedding, LayerScale, the resampling rule and whether the model
/// came without a classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Arch {
    /// Checkpoint family.
    pub family: Family,
    /// The model has a class token (timm `class_token`; false only with average pooling).
    pub class_token: bool,
    /// Register tokens after the class token (DINOv2 registers models).
    pub reg_tokens: usize,
    /// How many leading prefix tokens (class first, then registers) have an entry in
    /// `pos_embed`: 1 + registers for timm's original layout, 0 for timm's `no_embed_class`,
    /// 1 for Hugging Face (the registers get none).
    pub pos_prefix: usize,
    /// `x + γ ⊙ f(x)` residual branches (`lsK.gamma`, HF `layer_scaleK.lambda1`).
    pub layer_scale: bool,
    /// Position-embedding resampling at other input sizes.
    pub resample: Resample,
    /// The file had no classifier: the head is a direction (`--direction`) or a new one.
    pub headless: bool,
    /// What the head reads: the class token, or the mean of the patch tokens.
    pub global_pool: Pool,
    /// timm's `fc_norm`: the final norm is an identity and a LayerNorm (`fc_norm.*`) normalises
    /// the pooled features instead.
    pub fc_norm: bool,
}

/// What the head reads (timm `global_pool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pool {
    /// The class token after the final norm (`'token'`).
    #[default]
    Token,
    /// The mean of the patch tokens (registers and class token excluded; `'avg'`).
    Avg,
}

impl Default for Arch {
    fn default() -> Self {
        Arch {
            family: Family::Timm,
            class_token: true,
            reg_tokens: 0,
            pos_prefix: 1,
            layer_scale: false,
            resample: Resample::BicubicAntialias,
            headless: false,
            global_pool: Pool::Token,
            fc_norm: false,
        }
    }
}

/// Bytes a model's f32 parameters, and separately its attention maps, may take: 4 GiB.
pub const MODEL_BUDGET: u64 = 4 << 30;

impl VitConfig {
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.img_size / self.patch_size
    }

    /// Tokens at the native input size, prefix (class and registers) included.
    pub fn tokens(&self) -> usize {
        self.grid() * self.grid() + self.prefix()
    }

    /// Prefix tokens before the patches: the class token (where the model has one) and the
    /// registers.
    pub fn prefix(&self) -> usize {
        usize::from(self.arch.class_token) + self.arch.reg_tokens
    }

    /// Entries of `pos_embed`: the prefix tokens that have one, then the native grid.
    pub fn pos_len(&self) -> usize {
        self.grid() * self.grid() + self.arch.pos_prefix
    }

    /// The patch grid `(rows, cols)` of an `h`×`w` input, or why the model cannot take it.
    pub fn grid_for(&self, h: usize, w: usize) -> Result<(usize, usize), String> {
        let p = self.patch_size;
        if h < p || w < p || !h.is_multiple_of(p) || !w.is_multiple_of(p) {
            return Err(format!(
                "{h}×{w} px is not a whole number of {p}-pixel patches in each direction"
            ));
        }
        let (gh, gw) = (h / p, w / p);
        if gh > 256 || gw > 256 {
            return Err(format!("a {gh}×{gw} patch grid is more than 256×256"));
        }
        let t = (gh * gw + self.prefix()) as u64;
        let attention = (self.depth as u64 * self.num_heads as u64).saturating_mul(t * t * 4);
        if attention > MODEL_BUDGET {
            return Err(format!(
                "{} blocks × {} heads of {t}×{t} attention at {h}×{w} px need more than the {} GiB a model may take",
                self.depth,
                self.num_heads,
                MODEL_BUDGET >> 30
            ));
        }
        Ok((gh, gw))
    }

    /// Width of one head.
    pub fn head_dim(&self) -> usize {
        self.embed_dim / self.num_heads
    }

    /// Parameters of the model (weights and biases).
    pub fn parameter_count(&self) -> Option<u64> {
        let d = self.embed_dim as u64;
        let h = self.mlp_hidden as u64;
        let c = self.num_classes as u64;
        let p = self.patch_size as u64;
        let per_block = d
            .checked_mul(4)?
            .checked_add(3 * d * d + 3 * d)?
            .checked_add(d * d + d)?
            .checked_add(h.checked_mul(d)?.checked_mul(2)?)?
            .checked_add(h + d)?;
        let embed = d
            .checked_mul(3)?
            .checked_mul(p.checked_mul(p)?)?
            .checked_add(d)?
            .checked_add((self.pos_len() as u64 + self.prefix() as u64).checked_mul(d)?)?;
        let per_block = if self.arch.layer_scale {
            per_block.checked_add(2 * d)?
        } else {
            per_block
        };
        per_block
            .checked_mul(self.depth as u64)?
            .checked_add(embed)?
            .checked_add(c.checked_mul(d + 1)?)?
            .checked_add(2 * d)
    }

    /// Checks the architecture before any tensor is built: three input channels, a patch that
    /// tiles the input, non-zero widths, heads dividing the width, at least one class, and
    /// parameters and attention maps within [`MODEL_BUDGET`].
    pub fn validate(&self) -> Result<(), String> {
        if self.in_chans != 3 {
            return Err(format!(
                "the patch embedding takes {} input channel(s); vitscope feeds RGB images (3)",
                self.in_chans
            ));
        }
        if self.patch_size == 0 || self.img_size < self.patch_size {
            return Err(format!(
                "patch size {} does not fit an input of {} px",
                self.patch_size, self.img_size
            ));
        }
        if !self.img_size.is_multiple_of(self.patch_size) {
            return Err(format!(
                "input size {} is not a multiple of the patch size {}",
                self.img_size, self.patch_size
            ));
        }
        for (name, v) in [
            ("width", self.embed_dim),
            ("depth", self.depth),
            ("heads", self.num_heads),
            ("MLP width", self.mlp_hidden),
            ("classes", self.num_classes),
        ] {
            if v == 0 {
                return Err(format!("{name} is 0"));
            }
        }
        if !self.embed_dim.is_multiple_of(self.num_heads) {
            return Err(format!(
                "{} heads do not divide the width {}",
                self.num_heads, self.embed_dim
            ));
        }
        if self.arch.reg_tokens > 64 {
            return Err(format!(
                "{} register tokens is more than 64",
                self.arch.reg_tokens
            ));
        }
        if !self.arch.class_token && self.arch.global_pool == Pool::Token {
            return Err(
                "a model without a class token needs an average-pool head (global_pool 'avg')"
                    .into(),
            );
        }
        if self.arch.pos_prefix > self.prefix() {
            return Err(format!(
                "{} position entries for {} prefix tokens",
                self.arch.pos_prefix,
                self.prefix()
            ));
        }
        if self.num_classes > 100_000 {
            return Err(format!("{} classes is more than 100000", self.num_classes));
        }
        if self.grid() > 256 {
            return Err(format!(
                "a {}×{} patch grid is more than 256×256",
                self.grid(),
                self.grid()
            ));
        }
        let params = self.parameter_count().unwrap_or(u64::MAX);
        if params.saturating_mul(4) > MODEL_BUDGET {
            return Err(format!(
                "{params} parameters need more than the {} GiB a model may take",
                MODEL_BUDGET >> 30
            ));
        }
        // The explanation maps keep every block's attention: depth × heads × tokens² floats.
        let t = self.tokens() as u64;
        let attention = (self.depth as u64)
            .saturating_mul(self.num_heads as u64)
            .saturating_mul(t * t)
            .saturating_mul(4);
        if attention > MODEL_BUDGET {
            return Err(format!(
                "{} blocks × {} heads of {t}×{t} attention need more than the {} GiB a model may take (use a smaller input)",
                self.depth,
                self.num_heads,
                MODEL_BUDGET >> 30
            ));
        }
        Ok(())
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
            arch: Arch::default(),
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
                ls1: self.arch.layer_scale.then(|| LayerScale::ones(d, device)),
                ls2: self.arch.layer_scale.then(|| LayerScale::ones(d, device)),
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
            cls_token: self.arch.class_token.then(|| normal(vec![1, 1, d], 1e-6)),
            reg_token: (self.arch.reg_tokens > 0)
                .then(|| normal(vec![1, self.arch.reg_tokens, d], 1e-6)),
            pos_embed: normal(vec![1, self.pos_len(), d], 0.02),
            blocks,
            norm: ln(),
            fc_norm: self.arch.fc_norm.then(ln),
            head: linear(d, self.num_classes),
        };
        Vit::new(weights, self.clone())
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
    fn ones(d: usize, device: &Device) -> Self {
        LayerScale {
            gamma: Param::from_tensor(Tensor::ones([d], device)),
        }
    }

    /// `γ ⊙ y` over the last dimension.
    pub fn apply<const D: usize>(&self, y: Tensor<D>) -> Tensor<D> {
        y * self.gamma.val().unsqueeze()
    }
}

/// `γ ⊙ y` when the branch has a LayerScale, else `y`.
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

/// A ViT: its parameters and its hyper-parameters.
#[derive(Debug)]
pub struct Vit {
    /// Parameters (a burn module). After replacing or changing them, call
    /// [`Vit::weights_changed`] so that derived copies are rebuilt.
    pub weights: VitWeights,
    /// Hyper-parameters.
    pub config: VitConfig,
    transposed: OnceLock<Vec<TransposedLinears>>,
    absolute: OnceLock<Vec<AbsoluteLinears>>,
    cpu: OnceLock<super::infer::CpuWeights>,
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
    fn map_linears<T>(&self, f: impl Fn(Tensor<2>) -> T) -> BlockLinears<T> {
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
fn contiguous_transpose(w: Tensor<2>) -> Tensor<2> {
    let [i, o] = w.dims();
    w.transpose().reshape([i * o]).reshape([o, i])
}

/// Activations of one block kept by [`Vit::forward_traced`].
#[derive(Debug, Clone)]
pub struct BlockTrace {
    /// Block input `[B, N, C]`.
    pub input: Tensor<3>,
    /// `norm1(input)` `[B, N, C]` (plus its gradient probe when probes are on).
    pub norm1: Tensor<3>,
    /// Output of `attn.qkv` `[B, N, 3C]` (q, k and v below are views of it).
    pub qkv: Tensor<3>,
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
    /// What the attention branch adds to the residual: `attn_out`, times `ls1.gamma` with
    /// LayerScale `[B, N, C]`.
    pub attn_res: Tensor<3>,
    /// `input + attn_res` `[B, N, C]`.
    pub mid: Tensor<3>,
    /// `norm2(mid)` `[B, N, C]`.
    pub norm2: Tensor<3>,
    /// Output of `mlp.fc1` before the GELU `[B, N, hidden]`.
    pub fc1: Tensor<3>,
    /// GELU output, the input of `mlp.fc2` `[B, N, hidden]`.
    pub hidden: Tensor<3>,
    /// Output of `mlp.fc2` `[B, N, C]`.
    pub mlp_out: Tensor<3>,
    /// What the MLP branch adds: `mlp_out`, times `ls2.gamma` with LayerScale `[B, N, C]`.
    pub mlp_res: Tensor<3>,
    /// Block output `mid + mlp_res` `[B, N, C]`.
    pub output: Tensor<3>,
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

impl Trace {
    /// The activations of block `i`, if they were kept.
    pub fn block(&self, i: usize) -> Option<&BlockTrace> {
        i.checked_sub(self.first_block)
            .and_then(|j| self.blocks.get(j))
    }
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
    /// Index of the block whose activations are `blocks[0]`.
    pub first_block: usize,
    /// Activations of the kept blocks, `first_block..first_block + blocks.len()`.
    pub blocks: Vec<BlockTrace>,
    /// Patch grid `(rows, cols)` of the input.
    pub grid: (usize, usize),
    /// Final-norm output of every token `[B, N, C]`.
    pub normed: Tensor<3>,
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

/// `x W[:, start..start + len] + bias[start..start + len]` of a linear layer: its outputs in a
/// column range (the weight's columns as a view).
fn linear_cols(l: &Linear, x: Tensor<2>, start: usize, len: usize) -> Tensor<2> {
    with_bias_range(
        l,
        x.matmul(l.weight.val().narrow(1, start, len)),
        start,
        len,
    )
}

/// `y + bias` of a linear layer.
fn with_bias(l: &Linear, y: Tensor<2>) -> Tensor<2> {
    let len = l.weight.dims()[1];
    with_bias_range(l, y, 0, len)
}

/// `y + bias[start..start + len]` of a linear layer (none without a bias).
fn with_bias_range(l: &Linear, y: Tensor<2>, start: usize, len: usize) -> Tensor<2> {
    match &l.bias {
        Some(bias) => y + bias.val().narrow(0, start, len).unsqueeze(),
        None => y,
    }
}

/// Exact GELU, choosing the implementation: the backend's fused single-pass kernel where its
/// gradient is right or not needed (no gradient flows through `x`, or the CPU backend Flex, whose
/// GELU backward is exact), else [`gelu`] (plain differentiable ops): the wgpu backend's fused
/// GELU backward uses the tanh approximation's derivative.
fn gelu_exact<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !x.is_tracked() || x.device() == Device::flex() {
        burn::tensor::activation::gelu(x)
    } else {
        gelu(x)
    }
}

/// Softmax attention `softmax(q kᵀ / sqrt(head_dim)) v` (timm's scale) of the lean inference
/// pass, heads side by side in the columns: on the CPU one head and image at a time, two
/// single-threaded products around the lane-wise [`super::lanes::softmax_rows`] (the backend's
/// fused op takes a scalar `exp` per score: ~1.9 ms against ~1.1 ms for six ViT-B heads);
/// elsewhere the backend's fused op, whose default scale is the same.
///
/// # Shapes
/// - q: `[B * nq, H * Dh]`, k, v: `[B * N, H * Dh]` (`shape` = `[B, N, H, Dh]`) →
///   `[B * nq, H * Dh]` (`nq` query rows per image: `N`, or 1 for the class token alone)
fn attention_inference(
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
                    super::lanes::softmax_rows(scores, scale).matmul(part(&v, n, i, j))
                })
                .collect();
            Tensor::cat(heads, 1)
        })
        .collect();
    Tensor::cat(images, 0)
}

/// GELU of the lean inference pass: lane-wise ([`super::lanes::gelu`], ~13× faster than the
/// backend's scalar `erf`) on the CPU, else [`gelu_exact`]. Explanation maps keep
/// [`gelu_exact`]: Chefer's relevance in the early blocks amplifies rounding differences of
/// the forward pass, and the lane-wise `erf` rounds a few units in the last place further.
fn gelu_inference<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !x.is_tracked() && x.device() == Device::flex() {
        super::lanes::gelu_values(x)
    } else {
        gelu_exact(x)
    }
}

impl Vit {
    /// A model from its parameters and hyper-parameters.
    pub fn new(weights: VitWeights, config: VitConfig) -> Self {
        Vit {
            weights,
            config,
            transposed: OnceLock::new(),
            absolute: OnceLock::new(),
            cpu: OnceLock::new(),
        }
    }

    /// Replaces the head by a one-output linear map with weight `direction` and no bias, so the
    /// model's one output, the target every map explains, is `s = direction · cls` (the final
    /// class-token embedding; for an average-pool model the head's input, the pooled patch
    /// tokens after `fc_norm`). For headless encoders.
    pub fn set_direction(&mut self, direction: &[f32]) -> Result<(), String> {
        let d = self.config.embed_dim;
        if direction.len() != d {
            return Err(format!(
                "the direction has {} values, the model's embedding {d}",
                direction.len()
            ));
        }
        crate::io::guard::check_finite(direction, "the direction")?;
        let device = self.weights.head.weight.val().device();
        let mut head = LinearConfig::new(d, 1).with_bias(false).init(&device);
        head.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(direction.to_vec(), [d, 1]),
            &device,
        ));
        self.weights.head = head;
        self.config.num_classes = 1;
        Ok(())
    }

    /// The final class-token embedding (`None` for a model without one) and the mean of the
    /// patch tokens (registers excluded) after the final norm, for one `[1, 3, H, W]` input:
    /// `(cls, patch_mean)`.
    pub fn embeddings(&self, input: Tensor<4>) -> (Option<Tensor<1>>, Tensor<1>) {
        let depth = self.config.depth;
        let trace = self.forward_kept(input, Probes::NONE, depth..depth);
        let [_, n, d] = trace.normed.dims();
        let prefix = self.config.prefix();
        let cls = self
            .config
            .arch
            .class_token
            .then(|| trace.normed.clone().narrow(1, 0, 1).reshape([d]));
        let mean = trace
            .normed
            .narrow(1, prefix, n - prefix)
            .mean_dim(1)
            .reshape([d]);
        (cls, mean)
    }

    /// Drops copies derived from the weights; call after replacing or changing
    /// [`Vit::weights`].
    pub fn weights_changed(&mut self) {
        self.transposed = OnceLock::new();
        self.absolute = OnceLock::new();
        self.cpu = OnceLock::new();
    }

    /// The parameters as plain buffers for [`Vit::forward_cpu`], built on first use and kept.
    pub fn cpu_weights(&self) -> &super::infer::CpuWeights {
        self.cpu.get_or_init(|| super::infer::CpuWeights::new(self))
    }

    /// Every block's Linear weights transposed and contiguous, built on first use and kept
    /// (one more copy of those weights in memory).
    pub fn transposed_linears(&self) -> &[TransposedLinears] {
        self.transposed.get_or_init(|| {
            self.weights
                .blocks
                .iter()
                .map(|b| b.map_linears(contiguous_transpose))
                .collect()
        })
    }

    /// Every block's Linear weights as `|w|` and `|wᵀ|`, built on first use and kept (two more
    /// copies of those weights in memory; the relevance rules multiply by both on every call).
    pub fn absolute_linears(&self) -> &[AbsoluteLinears] {
        self.absolute.get_or_init(|| {
            self.weights
                .blocks
                .iter()
                .map(|b| {
                    b.map_linears(|w| {
                        let abs = w.abs();
                        (abs.clone(), contiguous_transpose(abs))
                    })
                })
                .collect()
        })
    }

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
        let mut cols = Vec::with_capacity(b * gh * gw * k);
        for img in x.chunks_exact(c * h * w) {
            for i in 0..gh {
                for j in 0..gw {
                    for plane in img.chunks_exact(h * w) {
                        for u in 0..p {
                            let at = (i * p + u) * w + j * p;
                            cols.extend_from_slice(&plane[at..at + p]);
                        }
                    }
                }
            }
        }
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
    /// patch entries, resampled by the family's rule ([`super::pos_embed`]) when the grid is not
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
            let values =
                super::pos_embed::resample(&stored, d, (g0, g0), (gh, gw), cfg.arch.resample);
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
