//! The facts a `config.json` beside a checkpoint may add to its tensor shapes.

use std::path::Path;

use super::types::{CheckpointError, format_err};
use crate::model::vit::Arch;

/// The facts a `config.json` may add to the tensor shapes: the fixtures' and timm's flat fields,
/// timm's `model_args`, and Hugging Face's `save_pretrained` fields.
#[derive(serde::Deserialize, Default)]
pub(super) struct ConfigFile {
    #[serde(alias = "heads", alias = "num_attention_heads")]
    pub(super) num_heads: Option<usize>,
    #[serde(alias = "classes")]
    pub(super) num_classes: Option<usize>,
    #[serde(alias = "layer_norm_eps", alias = "eps")]
    pub(super) norm_eps: Option<f64>,
    #[serde(alias = "num_register_tokens")]
    pub(super) reg_tokens: Option<usize>,
    pub(super) no_embed_class: Option<bool>,
    pub(super) class_token: Option<bool>,
    pub(super) global_pool: Option<String>,
    pub(super) fc_norm: Option<bool>,
    #[serde(alias = "image_size")]
    pub(super) img_size: Option<serde_json::Value>,
    pub(super) patch_size: Option<serde_json::Value>,
    pub(super) hidden_act: Option<String>,
    pub(super) act: Option<String>,
    pub(super) use_swiglu_ffn: Option<bool>,
    pub(super) model_type: Option<String>,
    /// The exact architecture, as vitscope writes it beside a checkpoint it saves.
    pub(super) vitscope_arch: Option<Arch>,
    #[serde(default)]
    pub(super) model: Option<Box<ConfigFile>>,
    #[serde(default)]
    pub(super) model_args: Option<Box<ConfigFile>>,
}

impl ConfigFile {
    /// A field of the file, else of its `model_args`.
    pub(super) fn pick<T: Clone>(&self, f: impl Fn(&ConfigFile) -> Option<T>) -> Option<T> {
        f(self).or_else(|| self.model_args.as_deref().and_then(&f))
    }

    /// A side length given as a number or a `[h, w]` list (square sizes only).
    pub(super) fn side(v: &Option<serde_json::Value>) -> Option<usize> {
        match v.as_ref()? {
            serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
            serde_json::Value::Array(a) => match &a[..] {
                [h, w] if h == w => h.as_u64().map(|n| n as usize),
                _ => None,
            },
            _ => None,
        }
    }
}

pub(super) fn read_config_file(path: &Path) -> Result<ConfigFile, CheckpointError> {
    let text = crate::io::guard::read_text(path)
        .map_err(|e| format_err(path, format!("cannot read config: {e}")))?;
    let cfg: ConfigFile = serde_json::from_str(&text)
        .map_err(|e| format_err(path, format!("invalid JSON config: {e}")))?;
    Ok(match cfg.model {
        Some(inner) if cfg.num_heads.is_none() => *inner,
        _ => cfg,
    })
}
