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
//! [`crate::model::backward`] instead; the probes remain as its independent check.

mod config;
mod forward;
mod model;
mod modules;
mod trace;

pub use config::{Arch, Family, MODEL_BUDGET, Pool, Resample, VitConfig, VitSize};
pub use model::Vit;
pub use modules::{
    AbsoluteLinears, Attention, Block, BlockLinears, LayerScale, Mlp, PatchEmbed,
    TransposedLinears, VitWeights, gelu, scaled,
};
pub use trace::{BlockTrace, GradProbes, Probes, Trace};
