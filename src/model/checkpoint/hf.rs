//! Hugging Face `Dinov2Model` / `Dinov2WithRegistersModel` (RAD-DINO, the DINOv2 releases) and
//! `ViTModel` (Phikon) checkpoints, renamed to timm's parameter names so the one loader applies
//! them.
//!
//! | Hugging Face (as `save_pretrained` writes it) | timm |
//! | --- | --- |
//! | `embeddings.cls_token`, `embeddings.register_tokens` | `cls_token`, `reg_token` |
//! | `embeddings.position_embeddings` | `pos_embed` |
//! | `embeddings.patch_embeddings.projection.*` | `patch_embed.proj.*` |
//! | `encoder.layer.N.norm1` / `layernorm_before` | `blocks.N.norm1` |
//! | `encoder.layer.N.norm2` / `layernorm_after` | `blocks.N.norm2` |
//! | `encoder.layer.N.attention.attention.{query,key,value}.*` (or `attention.{q,k,v}_proj.*`) | `blocks.N.attn.qkv.*`, fused in that order |
//! | `encoder.layer.N.attention.output.dense.*` (or `attention.o_proj.*`) | `blocks.N.attn.proj.*` |
//! | `encoder.layer.N.layer_scale{1,2}.lambda1` | `blocks.N.ls{1,2}.gamma` |
//! | `encoder.layer.N.mlp.fc{1,2}.*` / `intermediate.dense.*`, `output.dense.*` | `blocks.N.mlp.fc{1,2}.*` |
//! | `layernorm.*` | `norm.*` |
//! | `classifier.*` with shape `[classes, dim]` | `head.*` |
//!
//! `embeddings.mask_token` and `pooler.*` are not part of the encoder's forward pass and stay
//! in the file's unused list.

use super::types::{RawTensor, StateDict};
use crate::model::vit::Family;

/// Whether a state dict is in a Hugging Face layout (after any shared prefix).
pub fn is_hf(sd: &StateDict) -> bool {
    sd.keys()
        .any(|k| k.ends_with("embeddings.patch_embeddings.projection.weight"))
}

/// Which family the tensors belong to: LayerScale or `mlp.fc1` mean Dinov2, `intermediate`
/// means ViT.
fn family_of(sd: &StateDict) -> Family {
    if sd.keys().any(|k| k.contains(".intermediate.dense.")) {
        Family::HfVit
    } else {
        Family::HfDinov2
    }
}

/// timm name of one per-layer tensor (`rest` after `encoder.layer.N.`), or `None` for q/k/v,
/// which are fused separately.
fn layer_name(rest: &str) -> Option<String> {
    let pairs = [
        ("norm1.", "norm1."),
        ("layernorm_before.", "norm1."),
        ("norm2.", "norm2."),
        ("layernorm_after.", "norm2."),
        ("attention.output.dense.", "attn.proj."),
        ("attention.o_proj.", "attn.proj."),
        ("layer_scale1.lambda1", "ls1.gamma"),
        ("layer_scale2.lambda1", "ls2.gamma"),
        ("mlp.fc1.", "mlp.fc1."),
        ("mlp.fc2.", "mlp.fc2."),
        ("intermediate.dense.", "mlp.fc1."),
        ("output.dense.", "mlp.fc2."),
    ];
    pairs
        .iter()
        .find_map(|(hf, timm)| rest.strip_prefix(hf).map(|tail| format!("{timm}{tail}")))
}

/// The q, k or v part of a fused projection: `(part index, "weight"|"bias")`.
fn qkv_part(rest: &str) -> Option<(usize, &str)> {
    for (i, names) in [
        ["attention.attention.query.", "attention.q_proj."],
        ["attention.attention.key.", "attention.k_proj."],
        ["attention.attention.value.", "attention.v_proj."],
    ]
    .iter()
    .enumerate()
    {
        for n in names {
            if let Some(tail) = rest.strip_prefix(n) {
                return Some((i, tail));
            }
        }
    }
    None
}

/// Renames a Hugging Face state dict to timm's names and fuses q, k and v. Returns the new
/// state dict, the family and notes; tensors it does not know keep their names (and end up in
/// the unused list). Errors when a layer lacks one of q, k, v or their shapes disagree.
pub fn to_timm(sd: StateDict) -> Result<(StateDict, Family, Vec<String>), String> {
    // Shared wrapper prefix (`dinov2.`, `vit.`, `model.`...) in front of `embeddings.`.
    let prefix = sd
        .keys()
        .find_map(|k| k.strip_suffix("embeddings.patch_embeddings.projection.weight"))
        .unwrap_or("")
        .to_string();
    let family = family_of(&sd);
    let mut notes = vec![format!(
        "Hugging Face {} layout, renamed to timm's names (q, k, v fused)",
        match family {
            Family::HfVit => "ViTModel",
            _ => "Dinov2Model",
        }
    )];
    if !prefix.is_empty() {
        notes.push(format!("stripped key prefix '{prefix}'"));
    }
    let mut out = StateDict::new();
    // (layer, weight|bias) -> [q, k, v]
    let mut qkv: std::collections::BTreeMap<(usize, String), [Option<RawTensor>; 3]> =
        Default::default();
    for (key, t) in sd {
        let k = key.strip_prefix(&prefix).unwrap_or(&key);
        let renamed = if let Some(rest) = k.strip_prefix("encoder.layer.") {
            let (n, rest) = rest.split_once('.').unwrap_or((rest, ""));
            match n.parse::<usize>() {
                Ok(layer) => {
                    if let Some((part, tail)) = qkv_part(rest) {
                        qkv.entry((layer, tail.to_string())).or_default()[part] = Some(t);
                        continue;
                    }
                    layer_name(rest).map(|r| format!("blocks.{layer}.{r}"))
                }
                Err(_) => None,
            }
        } else {
            match k {
                "embeddings.cls_token" => Some("cls_token".to_string()),
                "embeddings.register_tokens" => Some("reg_token".to_string()),
                "embeddings.position_embeddings" => Some("pos_embed".to_string()),
                _ => k
                    .strip_prefix("embeddings.patch_embeddings.projection.")
                    .map(|tail| format!("patch_embed.proj.{tail}"))
                    .or_else(|| k.strip_prefix("layernorm.").map(|t| format!("norm.{t}")))
                    .or_else(|| {
                        k.strip_prefix("classifier.")
                            .filter(|_| t.shape.len() <= 2)
                            .map(|t| format!("head.{t}"))
                    }),
            }
        };
        out.insert(renamed.unwrap_or_else(|| key.clone()), t);
    }
    for ((layer, tail), parts) in qkv {
        let [Some(q), Some(k), Some(v)] = parts else {
            return Err(format!(
                "layer {layer}: the attention's query, key and value {tail} are not all in the file"
            ));
        };
        if q.shape != k.shape || q.shape != v.shape {
            return Err(format!(
                "layer {layer}: query, key and value {tail} have shapes {:?}, {:?}, {:?}",
                q.shape, k.shape, v.shape
            ));
        }
        let mut shape = q.shape.clone();
        if let Some(first) = shape.first_mut() {
            *first *= 3;
        }
        let mut data = q.data;
        data.extend(k.data);
        data.extend(v.data);
        out.insert(
            format!("blocks.{layer}.attn.qkv.{tail}"),
            RawTensor { shape, data },
        );
    }
    Ok((out, family, notes))
}
