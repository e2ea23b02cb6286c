//! Normalising a state dict's key layout to timm's: wrapper prefixes, MAE's `fc_norm`, DINO's
//! backbone-only release, and Hugging Face's names (through [`super::hf`]).

use std::path::Path;

use super::config_file::read_config_file;
use super::types::{CheckpointError, CheckpointLayout, LoadOptions, StateDict, format_err};
use crate::model::vit::Family;

/// Strips wrapper prefixes (`model.`, `state_dict.`, `module.`, `backbone.`, `teacher.`, ...)
/// shared by every key, maps MAE's `fc_norm.*` to `norm.*` when there is no `norm.*`, and tells
/// which layout the file had.
pub fn normalise_layout(
    sd: StateDict,
    path: &Path,
    opts: &LoadOptions,
) -> Result<(StateDict, CheckpointLayout, Vec<String>), CheckpointError> {
    // An average-pool model keeps its fc_norm; otherwise a file with fc_norm and no norm is
    // MAE's fine-tuning layout, whose fc_norm serves as the final norm.
    let avg = match &opts.config_file {
        Some(p) => read_config_file(p)?
            .pick(|c| c.global_pool.clone())
            .is_some_and(|g| g == "avg"),
        None => false,
    };
    if super::hf::is_hf(&sd) {
        let (sd, family, notes) = super::hf::to_timm(sd).map_err(|e| format_err(path, e))?;
        let layout = match family {
            Family::HfVit => CheckpointLayout::HfVit,
            _ => CheckpointLayout::HfDinov2,
        };
        return Ok((sd, layout, notes));
    }
    Ok(normalise_timm(sd, avg))
}

/// [`normalise_layout`] of a timm-named state dict.
pub(super) fn normalise_timm(
    mut sd: StateDict,
    keep_fc_norm: bool,
) -> (StateDict, CheckpointLayout, Vec<String>) {
    let mut notes = Vec::new();
    let mut mae = false;
    // Peel wrappers until the patch embedding is at the top level (every ViT has one; the
    // class token is optional).
    const ANCHOR: &str = "patch_embed.proj.weight";
    for _ in 0..4 {
        if sd.contains_key(ANCHOR) {
            break;
        }
        let Some(key) = sd.keys().find(|k| k.ends_with(ANCHOR)).cloned() else {
            break;
        };
        let prefix = key.trim_end_matches(ANCHOR).to_string();
        if prefix.starts_with("model.") {
            mae = true;
        }
        notes.push(format!("stripped key prefix '{prefix}'"));
        sd = sd
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|s| (s.to_string(), v)))
            .collect();
    }
    let has_fc_norm = sd.contains_key("fc_norm.weight");
    if has_fc_norm && !keep_fc_norm && !sd.contains_key("norm.weight") {
        for p in ["weight", "bias"] {
            if let Some(t) = sd.remove(&format!("fc_norm.{p}")) {
                sd.insert(format!("norm.{p}"), t);
            }
        }
        notes.push("fc_norm.* used as the final norm.* (MAE fine-tuning layout)".into());
        mae = true;
    }
    // Decoder and mask-token tensors of MAE pre-training checkpoints are not part of the encoder.
    let before = sd.len();
    sd.retain(|k, _| !(k.starts_with("decoder") || k == "mask_token"));
    if sd.len() != before {
        notes.push(format!("dropped {} MAE decoder tensors", before - sd.len()));
        mae = true;
    }
    let layout = if !sd.contains_key("head.weight") {
        CheckpointLayout::Backbone
    } else if mae {
        CheckpointLayout::Mae
    } else {
        CheckpointLayout::Timm
    };
    let layout = if mae && layout == CheckpointLayout::Backbone {
        CheckpointLayout::Mae
    } else {
        layout
    };
    (sd, layout, notes)
}
