//! Models without a class token (timm `class_token=False`, `global_pool='avg'`), against timm
//! itself (`tests/data/nocls/make_nocls.py`): logits, the mean patch embedding, attention
//! probabilities and gradients, and every map that reads the output's query, which for these
//! models is the mean of the patch tokens (attention, rollout, generic; GradCAM with
//! pytorch-grad-cam on the patch tokens). One case has no prefix tokens at all, the other two
//! registers with position entries, LayerScale and an input of another size than the native one.

use std::path::PathBuf;

use crate::support::*;
use burn::tensor::{Device, Tensor, TensorData};
use vitscope::explain::{self, ExplainOptions, Method, to_vec};
use vitscope::model::{GradRequest, LoadOptions, Pool, Probes, Vit, load_vit};

fn dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/nocls")
        .join(case)
}

fn want(case: &str, key: &str) -> Vec<f32> {
    safetensors_f32(&dir(case).join("expected.safetensors"))
        .into_iter()
        .find(|(k, _, _)| k == key)
        .unwrap_or_else(|| panic!("{case}: no {key}"))
        .2
}

fn load(case: &str, d: &Device) -> Vit {
    let opts = LoadOptions {
        config_file: Some(dir(case).join("config.json")),
        ..Default::default()
    };
    let (vit, report) = load_vit(&dir(case).join("weights.safetensors"), &opts, d)
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert!(
        report.missing.is_empty(),
        "{case}: missing {:?}",
        report.missing
    );
    assert!(
        report.unused.is_empty(),
        "{case}: unused {:?}",
        report.unused
    );
    vit
}

// (case, input height, width, target, registers, fc_norm)
const CASES: [(&str, usize, usize, usize, usize, bool); 2] =
    [("plain", 32, 32, 1, 0, true), ("reg2", 40, 48, 2, 2, false)];

#[test]
fn models_without_a_class_token_match_timm() {
    let d = Device::flex();
    for (case, h, w, target, regs, fc_norm) in CASES {
        let vit = load(case, &d);
        let arch = &vit.config.arch;
        assert!(!arch.class_token, "{case}");
        assert_eq!(arch.global_pool, Pool::Avg, "{case}");
        assert_eq!((arch.reg_tokens, arch.fc_norm), (regs, fc_norm), "{case}");
        assert_eq!(vit.config.prefix(), regs, "{case}");
        let x = || Tensor::<4>::from_data(TensorData::new(want(case, "input"), [1, 3, h, w]), &d);
        assert_rel(
            &format!("{case} logits"),
            &to_vec(vit.forward(x())).unwrap(),
            &want(case, "logits"),
            1e-5,
        );
        assert_rel(
            &format!("{case} logits (plain-buffer pass)"),
            &forward_cpu_batched(case, &vit, &x(), 1e-5),
            &want(case, "logits"),
            1e-5,
        );
        let (cls, mean) = vit.embeddings(x());
        assert!(
            cls.is_none(),
            "{case}: a class embedding without a class token"
        );
        assert_rel(
            &format!("{case} patch_mean"),
            &to_vec(mean).unwrap(),
            &want(case, "patch_mean"),
            1e-5,
        );
        let trace = vit.forward_traced(x(), Probes::NONE);
        let probs: Vec<f32> = trace
            .blocks
            .iter()
            .flat_map(|b| to_vec(b.attn.clone()).unwrap())
            .collect();
        assert_close(
            &format!("{case} attn_probs"),
            &probs,
            &want(case, "attn_probs"),
            1e-6,
        );
        let request = GradRequest {
            attn_from: Some(0),
            last_norm1: true,
        };
        let grads: Vec<f32> = vit
            .logit_gradients(&trace, target, request)
            .unwrap()
            .attn
            .into_iter()
            .flat_map(|(_, g)| to_vec(g).unwrap())
            .collect();
        assert_rel(
            &format!("{case} attn_grads"),
            &grads,
            &want(case, "attn_grads"),
            1e-4,
        );
        check_maps(case, &vit, &x, target, h, w, 1e-4);
        let opts = ExplainOptions {
            target: Some(target),
            ..Default::default()
        };
        // Every other method runs and gives a finite map that is not constant.
        for m in Method::ALL {
            let e = explain::explain(&vit, x(), m, &opts).unwrap_or_else(|e| panic!("{m}: {e}"));
            assert_eq!(e.grid.values.len(), (h / 8) * (w / 8), "{case} {m}");
            let (lo, hi) = e
                .grid
                .values
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            assert!(hi > lo, "{case} {m}: constant map");
        }
    }
}

/// The maps that read the output's query, and GradCAM, against the reference.
fn check_maps(
    case: &str,
    vit: &Vit,
    x: &dyn Fn() -> Tensor<4>,
    target: usize,
    h: usize,
    w: usize,
    tol: f32,
) {
    let opts = ExplainOptions {
        target: Some(target),
        ..Default::default()
    };
    for (method, key) in [
        (Method::Attention, "attention_grid"),
        (Method::Rollout, "rollout_grid"),
        (Method::Generic, "generic_grid"),
    ] {
        let e = explain::explain(vit, x(), method, &opts).unwrap();
        assert_eq!(
            (e.grid.height, e.grid.width),
            (h / 8, w / 8),
            "{case} {method}"
        );
        assert_rel(
            &format!("{case} {method} grid"),
            &e.grid.values,
            &want(case, key),
            tol,
        );
    }
    let e = explain::explain(vit, x(), Method::Gradcam, &opts).unwrap();
    let g = want(case, "gradcam_map");
    eprintln!(
        "{case} gradcam map: max abs error {:.2e}",
        max_abs_diff(&e.map.values, &g)
    );
    assert_close(&format!("{case} gradcam map"), &e.map.values, &g, tol);
}

/// The same on the wgpu backend (lavapipe in CI), registers and a resampled input.
#[test]
fn wgpu_model_without_a_class_token() {
    let d = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    let (case, h, w, target, _, _) = CASES[1];
    let vit = load(case, &d);
    let x = || Tensor::<4>::from_data(TensorData::new(want(case, "input"), [1, 3, h, w]), &d);
    assert_rel(
        &format!("{case} logits (wgpu)"),
        &to_vec(vit.forward(x())).unwrap(),
        &want(case, "logits"),
        1e-4,
    );
    check_maps(case, &vit, &x, target, h, w, 1e-4);
}

#[test]
fn embed_prints_a_null_class_embedding_and_a_wrong_config_is_refused() {
    let tmp = scratch("nocls");
    let png = tmp.join("in.png");
    image::RgbImage::from_fn(48, 40, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, 90])
    })
    .save(&png)
    .unwrap();
    let weights = dir("reg2").join("weights.safetensors");
    let config = dir("reg2").join("config.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vitscope"))
        .args([
            "embed",
            "--input-size",
            "native",
            "--json",
            "--device",
            "cpu",
        ])
        .arg("--weights")
        .arg(&weights)
        .arg("--config")
        .arg(&config)
        .arg("--image")
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["cls"].is_null(), "{v}");
    assert_eq!(v["patch_mean"].as_array().map(Vec::len), Some(48));
    // A config that claims a class token, or class-token pooling, for this file.
    for (field, msg) in [
        (r#""class_token": true"#, "class_token: true"),
        (
            r#""global_pool": "token", "class_token": false"#,
            "no cls_token",
        ),
    ] {
        let bad = tmp.join("bad.json");
        std::fs::write(&bad, format!(r#"{{"num_heads": 2, {field}}}"#)).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vitscope"))
            .args(["embed", "--input-size", "native", "--device", "cpu"])
            .arg("--weights")
            .arg(&weights)
            .arg("--config")
            .arg(&bad)
            .arg("--image")
            .arg(&png)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{field}: {err}");
        assert!(
            err.contains("bad.json") && err.contains(msg),
            "{field}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
