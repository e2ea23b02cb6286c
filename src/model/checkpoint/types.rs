//! What the checkpoint readers share: the errors, the state dict (every tensor as f32 with its
//! shape), the layout a file had, the load options and the report of what was applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::vit::VitConfig;

/// Errors raised while reading or applying a checkpoint. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read.
    #[error("{path}: cannot read checkpoint: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint this loader understands, or it is corrupt.
    #[error("{path}: {source}")]
    Format {
        /// File.
        path: PathBuf,
        /// What is wrong.
        source: crate::error::Cause,
    },
    /// A tensor has a shape other than the architecture needs.
    #[error("{path}: tensor '{key}' has shape {found:?}, expected {expected:?}")]
    Shape {
        /// File.
        path: PathBuf,
        /// Tensor name (timm layout).
        key: String,
        /// Shape the model needs.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
}

/// One tensor of a state dict, converted to f32.
#[derive(Debug, Clone)]
pub struct RawTensor {
    /// Extents, outermost first.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// Tensors by name.
pub type StateDict = BTreeMap<String, RawTensor>;

/// The release layout a checkpoint was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointLayout {
    /// timm state dict with a classification head.
    Timm,
    /// Backbone without a head (DINO release): a new head is initialised.
    Backbone,
    /// MAE release (`model` key, `fc_norm.*` taken as the final norm).
    Mae,
    /// Hugging Face `Dinov2Model` (RAD-DINO, DINOv2): renamed, q/k/v fused.
    HfDinov2,
    /// Hugging Face `ViTModel` (Phikon): renamed, q/k/v fused.
    HfVit,
}

/// What loading did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// File read.
    pub path: PathBuf,
    /// Recognised layout.
    pub layout: CheckpointLayout,
    /// Inferred hyper-parameters.
    pub config: VitConfig,
    /// Parameters set from the file.
    pub applied: Vec<String>,
    /// Parameters the file lacked (left at their initial values).
    pub missing: Vec<String>,
    /// Tensors of the file the model does not use.
    pub unused: Vec<String>,
    /// Human-readable remarks (new head, renamed norms, ...).
    pub notes: Vec<String>,
}

impl LoadReport {
    /// One line per fact, for the CLI's stderr.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {:?} layout, dim {} depth {} heads {} patch {} img {} classes {}; {} tensors applied",
            self.path.display(),
            self.layout,
            self.config.embed_dim,
            self.config.depth,
            self.config.num_heads,
            self.config.patch_size,
            self.config.img_size,
            self.config.num_classes,
            self.applied.len()
        );
        if !self.missing.is_empty() {
            s += &format!("; missing: {}", self.missing.join(", "));
        }
        if !self.unused.is_empty() {
            s += &format!("; unused: {}", self.unused.join(", "));
        }
        for n in &self.notes {
            s += &format!("\n  note: {n}");
        }
        s
    }
}

/// Options that the tensor shapes cannot tell.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Attention heads (else from `config`, else head_dim 64).
    pub heads: Option<usize>,
    /// A JSON config (the fixtures' `config.json` layout: `num_heads`, `num_classes`, ...).
    pub config_file: Option<PathBuf>,
    /// Classes of a new head when the checkpoint has none (default 2).
    pub classes: Option<usize>,
}

pub(super) fn format_err(path: &Path, message: impl Into<crate::error::Cause>) -> CheckpointError {
    CheckpointError::Format {
        path: path.to_path_buf(),
        source: message.into(),
    }
}
