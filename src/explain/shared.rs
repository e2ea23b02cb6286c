//! What every method shares: the methods' names, the class explained, the options, the errors,
//! the map types, and the small steps on logits and token rows.

use crate::error::Invalid;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::model::{Vit, VitConfig};

/// An explanation method.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
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

/// The class a map explains: the model's prediction or a given class. `pred` or a class index
/// on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// The predicted class (argmax of the logits).
    #[default]
    Predicted,
    /// This class.
    Class(usize),
}

impl Target {
    /// The class, `None` for the prediction (as [`ExplainOptions::target`] takes it).
    pub fn class(self) -> Option<usize> {
        match self {
            Target::Predicted => None,
            Target::Class(c) => Some(c),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s.trim() {
            "pred" | "predicted" => Ok(Target::Predicted),
            t => t
                .parse::<usize>()
                .map(Target::Class)
                .map_err(|_| Invalid(format!("'{t}' is neither a class index nor `pred`"))),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Predicted => f.write_str("pred"),
            Target::Class(c) => write!(f, "{c}"),
        }
    }
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
