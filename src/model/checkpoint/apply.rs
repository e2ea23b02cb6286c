//! Loading: read, normalise, infer, then apply the tensors to a freshly built [`Vit`] through
//! burn-store, whose applied / missing / unused lists become the [`LoadReport`].

use std::collections::BTreeMap;
use std::path::Path;

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::Device;

use super::arch::{expected_shapes, infer_config};
use super::layout::normalise_layout;
use super::read::read_state_dict;
use super::types::{
    CheckpointError, CheckpointLayout, LoadOptions, LoadReport, StateDict, format_err,
};
use crate::model::vit::{Vit, VitConfig};

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
    let bytes = serialize_safetensors(&sd, &expected)
        .map_err(|e| format_err(path, format!("cannot re-encode tensors: {e}")))?;
    let (mut weights, config) = config.init(device).into_parts();
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true);
    let result = weights
        .load_from(&mut store)
        .map_err(|e| format_err(path, format!("cannot apply tensors: {e}")))?;
    if let Some(err) = result.errors.first() {
        return Err(format_err(path, err.to_string()));
    }
    let mut missing: Vec<String> = result
        .missing
        .iter()
        .map(|(k, _)| k.clone())
        // An fc_norm model has no final norm (timm: an identity); the module's is unused.
        .filter(|k| !(config.arch.fc_norm && k.starts_with("norm.")))
        .collect();
    missing.sort();
    let report = LoadReport {
        path: path.to_path_buf(),
        layout,
        config: config.clone(),
        applied: result.applied.clone(),
        missing,
        unused,
        notes,
    };
    Ok((Vit::new(weights, config), report))
}

pub(super) fn serialize_safetensors(
    sd: &StateDict,
    expected: &BTreeMap<String, Vec<usize>>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = sd
        .iter()
        .filter(|(k, _)| expected.contains_key(*k))
        .map(|(k, t)| {
            let b: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (k.clone(), t.shape.clone(), b)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(k, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (k.clone(), v))
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, None)
}
