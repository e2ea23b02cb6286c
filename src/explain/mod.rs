//! Explanation maps of a ViT prediction, reproducing the reference implementations exactly:
//! the paper's raw attention, Chefer et al.'s relevance propagation (`transformer_attribution`)
//! and its rollout / GradCAM-on-attention baselines, and pytorch-grad-cam's GradCAM on the last
//! block's `norm1` (plain, and with the paper's eigen + test-time-augmentation smoothing).
//!
//! Every method yields a [`PatchMap`] on the token grid and a map at model-input resolution,
//! upsampled the way the reference does it for that method and min-max normalised
//! ([`upsample`]). Tensor work (forward, gradients, relevance propagation) runs on the model's
//! device; the small per-grid steps run on the CPU.

pub mod attention;
pub mod chefer;
pub mod generic;
pub mod gradcam;
mod plain;
pub mod rollout;
pub mod run;
mod shared;
pub mod upsample;

pub use run::explain;
pub use shared::{
    ExplainError, ExplainOptions, Explanation, Map2, Method, PatchMap, Target, argmax, softmax,
    to_vec,
};
