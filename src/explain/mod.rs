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
pub mod rollout;
pub mod upsample;

use burn::tensor::Tensor;
use serde::Serialize;

use crate::model::{Vit, VitConfig};

/// An explanation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Class-token attention of one block (default last), mean over heads or one head.
    Attention,
    /// Attention rollout (Chefer's baseline, start layer 0).
    Rollout,
    /// GradCAM on the last block's attention (Chefer's baseline).
    CamAttn,
    /// pytorch-grad-cam GradCAM on the last block's norm1, no smoothing.
    Gradcam,
    /// GradCAM with eigen_smooth and aug_smooth (the paper's setting).
    GradcamPaper,
    /// Chefer et al. relevance propagation (transformer_attribution).
    Chefer,
    /// Chefer et al.'s 2021 generic rule: gradients × attention, no LRP.
    Generic,
}

impl Method {
    /// All methods, in menu order.
    pub const ALL: [Method; 7] = [
        Method::Attention,
        Method::Rollout,
        Method::CamAttn,
        Method::Gradcam,
        Method::GradcamPaper,
        Method::Chefer,
        Method::Generic,
    ];

    /// The CLI name.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Attention => "attention",
            Method::Rollout => "rollout",
            Method::CamAttn => "cam-attn",
            Method::Gradcam => "gradcam",
            Method::GradcamPaper => "gradcam-paper",
            Method::Chefer => "chefer",
            Method::Generic => "generic",
        }
    }

    /// Whether the map depends on the target class.
    pub fn class_specific(&self) -> bool {
        !matches!(self, Method::Attention | Method::Rollout)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors of map computation.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// A requested block, head or class does not exist.
    #[error("{0}")]
    Option(String),
    /// The gradient pass failed.
    #[error(transparent)]
    Backward(#[from] crate::model::backward::BackwardError),
    /// The backend failed to hand back data.
    #[error("tensor read-back failed: {0}")]
    Data(String),
    /// The model produced NaN or infinite logits or map values (overflowing weights or input).
    #[error("{0}")]
    NonFinite(String),
}

/// Options of [`explain`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ExplainOptions {
    /// Target class; `None` = argmax of the logits.
    pub target: Option<usize>,
    /// Block for `attention` (default last).
    pub layer: Option<usize>,
    /// Head for `attention` (default mean over heads).
    pub head: Option<usize>,
}

/// A map on the patch grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchMap {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// A dense 2-D map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Map2 {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// The result of one method on one image.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Method.
    pub method: Method,
    /// Class explained.
    pub target: usize,
    /// Logits of the (unaugmented) input.
    pub logits: Vec<f32>,
    /// Raw map on the patch grid (not normalised, except where the reference normalises it).
    pub grid: PatchMap,
    /// Map at model-input resolution, upsampled as the reference does and min-max normalised.
    pub map: Map2,
}

/// Softmax of logits (f64 accumulation).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits.iter().map(|&v| ((v - m) as f64).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| (v / s) as f32).collect()
}

/// Index of the largest value (first on ties, as numpy's argmax).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Reads a tensor back as f32 values.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ExplainError> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| ExplainError::Data(format!("{e:?}")))
}

pub(crate) fn check_target(target: Option<usize>, logits: &[f32]) -> Result<usize, ExplainError> {
    match target {
        Some(t) if t >= logits.len() => Err(ExplainError::Option(format!(
            "target class {t} does not exist: the model has {} classes",
            logits.len()
        ))),
        Some(t) => Ok(t),
        None => Ok(argmax(logits)),
    }
}

/// The row of a token × token matrix `[N, N]` that the model's output reads, `[1, N]`: the
/// class token's (row 0), or, for a model without a class token (average pooling), the mean of
/// the patch tokens' rows, since the pooled output is the mean of the patch tokens.
pub(crate) fn output_row(cfg: &VitConfig, m: Tensor<2>) -> Tensor<2> {
    if cfg.arch.class_token {
        m.narrow(0, 0, 1)
    } else {
        let [n, _] = m.dims();
        let p = cfg.prefix();
        m.narrow(0, p, n - p).mean_dim(0)
    }
}

/// The patch entries (after the class token and the registers) of a `[1, tokens]` row, as a
/// map on the `grid`.
pub(crate) fn patch_row(
    vit: &Vit,
    row: Tensor<2>,
    grid: (usize, usize),
) -> Result<PatchMap, ExplainError> {
    let prefix = vit.config.prefix();
    let (gh, gw) = grid;
    Ok(PatchMap {
        height: gh,
        width: gw,
        values: to_vec(row.narrow(1, prefix, gh * gw))?,
    })
}

/// Computes one explanation for a `[1, 3, H, W]` input (H and W multiples of the patch).
pub fn explain(
    vit: &Vit,
    input: Tensor<4>,
    method: Method,
    opts: &ExplainOptions,
) -> Result<Explanation, ExplainError> {
    let patch = vit.config.patch_size;
    let [_, _, in_h, in_w] = input.dims();
    let (target, logits, grid, map) = match method {
        Method::Attention => {
            let (logits, grid) = attention::attention_map(vit, input, opts.layer, opts.head)?;
            let target = check_target(opts.target, &logits)?;
            let map = upsample::nearest_minmax(&grid, patch);
            (target, logits, grid, map)
        }
        Method::Rollout => {
            let (logits, grid) = rollout::rollout_map(vit, input)?;
            let target = check_target(opts.target, &logits)?;
            let map = upsample::bilinear_minmax(&grid, patch);
            (target, logits, grid, map)
        }
        Method::CamAttn => {
            let r = attention::cam_attn_map(vit, input, opts.target)?;
            let map = upsample::bilinear_minmax(&r.2, patch);
            (r.0, r.1, r.2, map)
        }
        Method::Chefer => {
            let r = chefer::chefer_map(vit, input, opts.target)?;
            let map = upsample::bilinear_minmax(&r.grid, patch);
            (r.target, r.logits, r.grid, map)
        }
        Method::Generic => {
            let r = generic::generic_map(vit, input, opts.target)?;
            let map = upsample::bilinear_minmax(&r.2, patch);
            (r.0, r.1, r.2, map)
        }
        Method::Gradcam | Method::GradcamPaper => {
            let paper = method == Method::GradcamPaper;
            let r = gradcam::gradcam(vit, input, opts.target, paper)?;
            (r.target, r.logits, r.grid, r.map)
        }
    };
    debug_assert_eq!(grid.values.len(), (in_h / patch) * (in_w / patch));
    let finite = |v: &[f32], what: &str| {
        crate::io::guard::check_finite(v, what).map_err(|e| {
            ExplainError::NonFinite(format!(
                "{e}: the model overflowed (check the weights and the normalisation)"
            ))
        })
    };
    finite(&logits, "the logits")?;
    finite(&grid.values, &format!("the {method} map"))?;
    finite(&map.values, &format!("the upsampled {method} map"))?;
    Ok(Explanation {
        method,
        target,
        logits,
        grid,
        map,
    })
}
