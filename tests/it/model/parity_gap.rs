//! A global-average-pool head with `fc_norm` (timm `global_pool='avg'`: the final norm is an
//! identity, the mean of the patch tokens is normalised and classified), against timm itself
//! (`tests/data/gap/make_gap.py`): logits, embeddings, attention probabilities, and the
//! attention gradients of a logit, which now flow into every patch token of the last block.

use std::path::PathBuf;

use crate::support::*;
use burn::tensor::{Device, Tensor, TensorData};
use vitscope::explain::{self, ExplainOptions, Method, to_vec};
use vitscope::model::{GradRequest, LoadOptions, Pool, Probes, load_vit};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/gap")
}

fn want(key: &str) -> Vec<f32> {
    safetensors_f32(&dir().join("expected.safetensors"))
        .into_iter()
        .find(|(k, _, _)| k == key)
        .unwrap_or_else(|| panic!("no {key}"))
        .2
}

#[test]
fn average_pool_head_with_fc_norm_matches_timm() {
    let d = Device::flex();
    let opts = LoadOptions {
        config_file: Some(dir().join("config.json")),
        ..Default::default()
    };
    let (vit, report) = load_vit(&dir().join("weights.safetensors"), &opts, &d).unwrap();
    assert!(report.missing.is_empty(), "missing {:?}", report.missing);
    assert!(report.unused.is_empty(), "unused {:?}", report.unused);
    assert_eq!(vit.config.arch.global_pool, Pool::Avg);
    assert!(vit.config.arch.fc_norm);
    let x = || Tensor::<4>::from_data(TensorData::new(want("input"), [1, 3, 32, 32]), &d);
    let logits = to_vec(vit.forward(x())).unwrap();
    let e = rel_err(&logits, &want("logits"));
    assert!(e < 1e-5, "logits {e:.2e}");
    let (cls, mean) = vit.embeddings(x());
    assert!(rel_err(&to_vec(cls.expect("a class token")).unwrap(), &want("cls")) < 1e-5);
    assert!(rel_err(&to_vec(mean).unwrap(), &want("patch_mean")) < 1e-5);
    let trace = vit.forward_traced(x(), Probes::NONE);
    let probs: Vec<f32> = trace
        .blocks
        .iter()
        .flat_map(|b| to_vec(b.attn.clone()).unwrap())
        .collect();
    assert_close("attn_probs", &probs, &want("attn_probs"), 1e-6);
    let grads: Vec<f32> = vit
        .logit_gradients(
            &trace,
            2,
            GradRequest {
                attn_from: Some(0),
                last_norm1: true,
            },
        )
        .unwrap()
        .attn
        .into_iter()
        .flat_map(|(_, g)| to_vec(g).unwrap())
        .collect();
    let e = rel_err(&grads, &want("attn_grads"));
    eprintln!("attention gradients: relative error {e:.2e}");
    assert!(e < 1e-4, "attn_grads {e:.2e}");
    // Every map runs (the relevance starts at every patch token).
    for m in Method::ALL {
        let opts = ExplainOptions {
            target: Some(2),
            ..Default::default()
        };
        let r = explain::explain(&vit, x(), m, &opts).unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(r.grid.values.len(), 16, "{m}");
    }
}
