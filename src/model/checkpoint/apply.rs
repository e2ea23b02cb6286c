//! Loading: read, normalise, infer, then move the tensors into a freshly built [`Vit`]'s
//! parameters (Linear weights transposed to burn's layout, LayerNorm's to `gamma`/`beta`); what
//! was applied, missing and unused becomes the [`LoadReport`].

use std::path::Path;

use burn::tensor::Device;

use super::arch::{expected_shapes, infer_config};
use super::layout::normalise_layout;
use super::read::read_state_dict;
use super::types::{
    CheckpointError, CheckpointLayout, LoadOptions, LoadReport, RawTensor, StateDict, format_err,
};
use crate::model::vit::{Vit, VitConfig, VitWeights};

/// Reads and normalises a checkpoint and infers its architecture, without building the model
/// (the randomisation cascade edits the tensors, then applies them with [`apply_state_dict`]).
pub fn load_state(
    path: &Path,
    opts: &LoadOptions,
) -> Result<(StateDict, VitConfig, CheckpointLayout), CheckpointError> {
    let sd = read_state_dict(path)?;
    let (sd, layout, _) = normalise_layout(sd, path, opts)?;
    let config = infer_config(&sd, layout, path, opts)?;
    Ok((sd, config, layout))
}

/// Reads, normalises and applies a checkpoint.
pub fn load_vit(
    path: &Path,
    opts: &LoadOptions,
    device: &Device,
) -> Result<(Vit, LoadReport), CheckpointError> {
    let sd = read_state_dict(path)?;
    let (sd, layout, mut notes) = normalise_layout(sd, path, opts)?;
    let config = infer_config(&sd, layout, path, opts)?;
    apply_state_dict(sd, config, layout, path, device).map(|(vit, mut report)| {
        notes.append(&mut report.notes);
        report.notes = notes;
        (vit, report)
    })
}

/// Checks shapes against `config` and applies the tensors to a new model through burn-store.
pub fn apply_state_dict(
    sd: StateDict,
    config: VitConfig,
    layout: CheckpointLayout,
    path: &Path,
    device: &Device,
) -> Result<(Vit, LoadReport), CheckpointError> {
    let expected = expected_shapes(&config);
    for (key, t) in &sd {
        if let Some(want) = expected.get(key)
            && *want != t.shape
        {
            return Err(CheckpointError::Shape {
                path: path.to_path_buf(),
                key: key.clone(),
                expected: want.clone(),
                found: t.shape.clone(),
            });
        }
    }
    // Only the head may be absent (a backbone release): any other parameter left at its random
    // initial value would make the maps meaningless.
    let absent: Vec<&String> = expected
        .keys()
        .filter(|k| !k.starts_with("head.") && !sd.contains_key(*k))
        .collect();
    if !absent.is_empty() {
        let names: Vec<&str> = absent.iter().take(8).map(|s| s.as_str()).collect();
        return Err(format_err(
            path,
            format!(
                "{} parameter tensor(s) missing: {}{}",
                absent.len(),
                names.join(", "),
                if absent.len() > 8 { ", ..." } else { "" }
            ),
        ));
    }
    for (key, t) in sd.iter().filter(|(k, _)| expected.contains_key(*k)) {
        crate::io::guard::check_finite(&t.data, &format!("tensor '{key}'"))
            .map_err(|e| format_err(path, e))?;
    }
    let mut notes = Vec::new();
    if layout != CheckpointLayout::Timm && !sd.contains_key("head.weight") {
        notes.push(format!(
            "no classification head in the file: a new {}-class head was initialised (fine-tune it before trusting predictions)",
            config.num_classes
        ));
    }
    let unused: Vec<String> = sd
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .cloned()
        .collect();
    let (mut weights, config) = config.init(device).into_parts();
    let applied = apply_direct(&mut weights, sd, device);
    // Only the head may be absent (checked above); an fc_norm model's file has no final norm,
    // which its module keeps unused.
    let mut missing: Vec<String> = expected
        .keys()
        .filter(|k| !applied.contains(*k))
        .cloned()
        .collect();
    missing.sort();
    let report = LoadReport {
        path: path.to_path_buf(),
        layout,
        config: config.clone(),
        applied,
        missing,
        unused,
        notes,
    };
    Ok((Vit::new(weights, config), report))
}

/// A Linear weight `[out, in]` (PyTorch's layout) as burn's `[in, out]`, transposed in tiles
/// over the CPU's threads.
fn to_burn_layout(w: &[f32], out: usize, inn: usize) -> Vec<f32> {
    use rayon::prelude::*;
    const TILE: usize = 64;
    let mut t = vec![0f32; w.len()];
    if out == 0 || inn == 0 {
        return t;
    }
    // Each task writes TILE rows of the result (input features).
    t.par_chunks_mut(TILE * out)
        .enumerate()
        .for_each(|(i, block)| {
            let c0 = i * TILE;
            let width = block.len() / out;
            for r0 in (0..out).step_by(TILE) {
                for r in r0..(r0 + TILE).min(out) {
                    for (c, &v) in w[r * inn + c0..r * inn + c0 + width].iter().enumerate() {
                        block[c * out + r] = v;
                    }
                }
            }
        });
    t
}

/// The file's tensors `sd` (timm names, shapes checked) moved into `w`'s parameters, each
/// keeping its parameter id; Linear weights go to burn's `[in, out]` layout, LayerNorm
/// `weight`/`bias` to `gamma`/`beta`. Returns the names applied. Parameters the file lacks
/// (only the head may) keep their initial values.
fn apply_direct(w: &mut VitWeights, mut sd: StateDict, device: &Device) -> Vec<String> {
    use burn::module::Param;
    use burn::tensor::{Tensor, TensorData};
    let mut applied = Vec::new();
    let mut take = |key: &str| {
        let t = sd.remove(key)?;
        applied.push(key.to_string());
        Some(t)
    };
    fn set<const D: usize>(p: &mut Param<Tensor<D>>, t: RawTensor, device: &Device) {
        let shape: [usize; D] = std::array::from_fn(|i| t.shape[i]);
        // A trainable parameter as a fresh one is (`from_tensor`), under the old one's id.
        let id = p.id;
        *p = Param::from_tensor(Tensor::from_data(TensorData::new(t.data, shape), device));
        p.id = id;
    }
    let linear =
        |l: &mut burn::nn::Linear, key: &str, take: &mut dyn FnMut(&str) -> Option<RawTensor>| {
            if let Some(t) = take(&format!("{key}.weight")) {
                let (out, inn) = (t.shape[0], t.shape[1]);
                let data = to_burn_layout(&t.data, out, inn);
                set(
                    &mut l.weight,
                    RawTensor {
                        shape: vec![inn, out],
                        data,
                    },
                    device,
                );
            }
            if let (Some(t), Some(b)) = (take(&format!("{key}.bias")), l.bias.as_mut()) {
                set(b, t, device);
            }
        };
    let norm = |n: &mut burn::nn::LayerNorm,
                key: &str,
                take: &mut dyn FnMut(&str) -> Option<RawTensor>| {
        if let Some(t) = take(&format!("{key}.weight")) {
            set(&mut n.gamma, t, device);
        }
        if let (Some(t), Some(b)) = (take(&format!("{key}.bias")), n.beta.as_mut()) {
            set(b, t, device);
        }
    };
    let proj = &mut w.patch_embed.proj;
    if let Some(t) = take("patch_embed.proj.weight") {
        set(&mut proj.weight, t, device);
    }
    if let (Some(t), Some(b)) = (take("patch_embed.proj.bias"), proj.bias.as_mut()) {
        set(b, t, device);
    }
    for (key, p) in [
        ("cls_token", &mut w.cls_token),
        ("reg_token", &mut w.reg_token),
    ] {
        if let (Some(p), Some(t)) = (p.as_mut(), take(key)) {
            set(p, t, device);
        }
    }
    if let Some(t) = take("pos_embed") {
        set(&mut w.pos_embed, t, device);
    }
    for (i, b) in w.blocks.iter_mut().enumerate() {
        let k = format!("blocks.{i}");
        norm(&mut b.norm1, &format!("{k}.norm1"), &mut take);
        linear(&mut b.attn.qkv, &format!("{k}.attn.qkv"), &mut take);
        linear(&mut b.attn.proj, &format!("{k}.attn.proj"), &mut take);
        norm(&mut b.norm2, &format!("{k}.norm2"), &mut take);
        linear(&mut b.mlp.fc1, &format!("{k}.mlp.fc1"), &mut take);
        linear(&mut b.mlp.fc2, &format!("{k}.mlp.fc2"), &mut take);
        for (name, ls) in [("ls1", &mut b.ls1), ("ls2", &mut b.ls2)] {
            if let (Some(ls), Some(t)) = (ls.as_mut(), take(&format!("{k}.{name}.gamma"))) {
                set(&mut ls.gamma, t, device);
            }
        }
    }
    norm(&mut w.norm, "norm", &mut take);
    if let Some(n) = w.fc_norm.as_mut() {
        norm(n, "fc_norm", &mut take);
    }
    linear(&mut w.head, "head", &mut take);
    applied
}
