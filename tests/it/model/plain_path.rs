//! The CPU's plain-buffer pass of the explanation methods (`Vit::trace_cpu`,
//! `Vit::logit_gradients_cpu`), which `explain::explain` and `Vit::forward` take on the CPU,
//! against the tensor path it replaces there (each method module's own function, which the GPU
//! keeps; for Chefer's relevance, whose Linear rule alone runs on plain buffers, the same
//! function with a tracked input): logits, every map on the grid and at input size, on a model with a class token and
//! on models without one (average pooling, `fc_norm`, registers, LayerScale, a non-square
//! input). The reference fixtures check both paths against the reference code elsewhere.

use std::path::PathBuf;

use crate::support::*;
use burn::tensor::{Device, Tensor, TensorData};
use vitscope::explain::{self, ExplainOptions, Method, attention, generic, gradcam, to_vec};
use vitscope::model::{LoadOptions, Probes, Vit, load_vit};

fn nocls(case: &str, d: &Device) -> Vit {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/nocls")
        .join(case);
    let opts = LoadOptions {
        config_file: Some(dir.join("config.json")),
        ..Default::default()
    };
    load_vit(&dir.join("weights.safetensors"), &opts, d)
        .unwrap_or_else(|e| panic!("{case}: {e}"))
        .0
}

fn nocls_input(case: &str, [h, w]: [usize; 2], d: &Device) -> Tensor<4> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/nocls")
        .join(case);
    let x = safetensors_f32(&dir.join("expected.safetensors"))
        .into_iter()
        .find(|(k, _, _)| k == "input")
        .expect("an input")
        .2;
    Tensor::from_data(TensorData::new(x, [1, 3, h, w]), d)
}

/// Every map of the plain path within `tol` (relative to the largest value) of the tensor
/// path's, for `target`.
fn compare(name: &str, vit: &Vit, x: Tensor<4>, target: usize) {
    let tol = 2e-5;
    let tensor_logits = to_vec(vit.forward_kept(x.clone(), Probes::NONE, 0..0).logits).unwrap();
    let plain_logits = to_vec(vit.forward(x.clone())).unwrap();
    assert_rel(
        &format!("{name} logits"),
        &plain_logits,
        &tensor_logits,
        1e-5,
    );
    let opts = |layer, head| ExplainOptions {
        target: Some(target),
        layer,
        head,
    };
    let plain = |method, o: &ExplainOptions| explain::explain(vit, x.clone(), method, o).unwrap();
    let heads = vit.config.num_heads;
    for (layer, head) in [(None, None), (Some(0), Some(heads - 1))] {
        let p = plain(Method::Attention, &opts(layer, head));
        let (logits, grid) = attention::attention_map(vit, x.clone(), layer, head).unwrap();
        let what = format!("{name} attention layer {layer:?} head {head:?}");
        assert_rel(&what, &p.grid.values, &grid.values, tol);
        assert_rel(&format!("{what} logits"), &p.logits, &logits, 1e-5);
    }
    let p = plain(Method::CamAttn, &opts(None, None));
    let (t, _, grid) = attention::cam_attn_map(vit, x.clone(), Some(target)).unwrap();
    assert_eq!(p.target, t);
    assert_rel(
        &format!("{name} cam-attn"),
        &p.grid.values,
        &grid.values,
        tol,
    );
    let p = plain(Method::Generic, &opts(None, None));
    let (_, _, grid) = generic::generic_map(vit, x.clone(), Some(target)).unwrap();
    assert_rel(
        &format!("{name} generic"),
        &p.grid.values,
        &grid.values,
        tol,
    );
    for (method, paper) in [(Method::Gradcam, false), (Method::GradcamPaper, true)] {
        let p = plain(method, &opts(None, None));
        let r = gradcam::gradcam(vit, x.clone(), Some(target), paper).unwrap();
        assert_rel(
            &format!("{name} {method} grid"),
            &p.grid.values,
            &r.grid.values,
            tol,
        );
        assert_rel(
            &format!("{name} {method} map"),
            &p.map.values,
            &r.map.values,
            tol,
        );
        assert_rel(
            &format!("{name} {method} logits"),
            &p.logits,
            &r.logits,
            1e-5,
        );
    }
    // Chefer: on the CPU its Linear rule runs on plain buffers; a tracked input keeps the
    // tensor rule (the one the GPU runs).
    let p = plain(Method::Chefer, &opts(None, None));
    let tracked = x.clone().autodiff().require_grad();
    assert!(!vit.on_plain_cpu(&tracked));
    let r = explain::chefer::chefer_map(vit, tracked, Some(target)).unwrap();
    assert_rel(
        &format!("{name} chefer"),
        &p.grid.values,
        &r.grid.values,
        tol,
    );
    // Without a target both explain the class the (unaugmented) input predicts.
    let p = plain(Method::GradcamPaper, &ExplainOptions::default());
    let r = gradcam::gradcam(vit, x, None, true).unwrap();
    assert_eq!(p.target, r.target, "{name}: the predicted class");
}

#[test]
fn plain_cpu_maps_match_the_tensor_path() {
    let d = Device::flex();
    compare(
        "reference (class token)",
        &load_reference_model(&d),
        reference_input(&d),
        1,
    );
    // No prefix tokens, fc_norm.
    compare(
        "nocls plain",
        &nocls("plain", &d),
        nocls_input("plain", [32, 32], &d),
        1,
    );
    // Two registers, LayerScale, a 40 × 48 input (position embedding resampled).
    compare(
        "nocls reg2",
        &nocls("reg2", &d),
        nocls_input("reg2", [40, 48], &d),
        2,
    );
}

#[test]
fn plain_cpu_pass_is_not_taken_with_autodiff() {
    let d = Device::flex();
    let vit = load_reference_model(&d);
    let x = reference_input(&d);
    assert!(vit.on_plain_cpu(&x));
    assert!(!vit.on_plain_cpu(&x.clone().autodiff().require_grad()));
}
