//! Parity with `../shared/fixtures/foundation` (timm DINOv2 style with registers and LayerScale,
//! Hugging Face Dinov2Model, Hugging Face ViTModel; every input at its own size, the position
//! embedding resampled for the non-native ones), within the README's tolerances: embeddings,
//! outputs and raw grids 1e-4 relative to the reference's maximum, attention probabilities
//! 1e-5, upsampled maps 1e-4.

use std::path::PathBuf;

use crate::support::*;
use burn::tensor::Device;
use vitscope::explain::{self, ExplainOptions, Method, to_vec};
use vitscope::io::image::read_image;
use vitscope::model::preprocess::{Normalization, ResizeMode, prepare_hw};
use vitscope::model::{GradRequest, LoadOptions, Probes, Vit, load_vit};

fn foundation_dir() -> PathBuf {
    reference_dir().join("../foundation")
}

struct Case {
    name: &'static str,
    weights: &'static str,
    inputs: &'static [(&'static str, usize, usize)],
    headless: bool,
}

const CASES: [Case; 3] = [
    Case {
        name: "timm_reg4",
        weights: "weights.safetensors",
        inputs: &[
            ("h126_w126", 126, 126),
            ("h168_w140", 168, 140),
            ("h70_w84", 70, 84),
        ],
        headless: false,
    },
    Case {
        name: "hf_dinov2",
        weights: "model.safetensors",
        inputs: &[
            ("h126_w126", 126, 126),
            ("h168_w140", 168, 140),
            ("h70_w84", 70, 84),
        ],
        headless: true,
    },
    Case {
        name: "hf_vit",
        weights: "model.safetensors",
        inputs: &[("h112_w112", 112, 112), ("h128_w96", 128, 96)],
        headless: true,
    },
];

impl Case {
    fn dir(&self) -> PathBuf {
        let d = foundation_dir().join(self.name);
        assert!(d.exists(), "foundation fixture {} is missing", d.display());
        d
    }

    fn expected(&self, key: &str) -> Option<(Vec<usize>, Vec<f32>)> {
        safetensors_f32(&self.dir().join("expected.safetensors"))
            .into_iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, s, v)| (s, v))
    }

    fn want(&self, key: &str) -> Vec<f32> {
        self.expected(key)
            .unwrap_or_else(|| panic!("{}: no key {key}", self.name))
            .1
    }

    /// The model as a user loads it: the file, its config.json, and the direction of a
    /// headless encoder.
    fn model(&self) -> Vit {
        self.model_on(&Device::flex())
    }

    fn model_on(&self, device: &Device) -> Vit {
        let dir = self.dir();
        let opts = LoadOptions {
            config_file: Some(dir.join("config.json")),
            ..Default::default()
        };
        let (mut vit, report) = load_vit(&dir.join(self.weights), &opts, device)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        // A headless encoder has no head in the file; nothing else may be missing.
        assert!(
            report
                .missing
                .iter()
                .all(|k| self.headless && k.starts_with("head.")),
            "{}: missing {:?}",
            self.name,
            report.missing
        );
        if self.headless {
            assert!(
                vit.config.arch.headless,
                "{}: no head in the file",
                self.name
            );
            let dir = vitscope::io::npy::read_f32(&dir.join("direction.npy")).expect("direction");
            assert_close(
                "direction.npy = expected direction",
                &dir.data,
                &self.want("direction"),
                0.0,
            );
            vit.set_direction(&dir.data).expect("set direction");
        }
        vit
    }

    fn input(&self, tag: &str, h: usize, w: usize) -> burn::tensor::Tensor<4> {
        self.input_on(tag, h, w, &Device::flex())
    }

    fn input_on(&self, tag: &str, h: usize, w: usize, device: &Device) -> burn::tensor::Tensor<4> {
        let img = read_image(&self.dir().join(format!("image_{tag}.png"))).expect("image");
        assert_eq!((img.height, img.width), (h, w), "{tag}: stored size");
        let p = prepare_hw(&img, (h, w), ResizeMode::Resize, &Normalization::default());
        p.tensor(device)
    }
}

#[test]
fn inputs_embeddings_and_outputs() {
    for case in &CASES {
        let vit = case.model();
        for &(tag, h, w) in case.inputs {
            let name = format!("{} {tag}", case.name);
            let x = case.input(tag, h, w);
            let (cls, mean) = vit.embeddings(x.clone());
            assert_rel(
                &format!("{name} cls"),
                &to_vec(cls.expect("a class token")).unwrap(),
                &case.want(&format!("{tag}/cls")),
                1e-4,
            );
            assert_rel(
                &format!("{name} patch_mean"),
                &to_vec(mean).unwrap(),
                &case.want(&format!("{tag}/patch_mean")),
                1e-4,
            );
            let key = if case.headless { "score" } else { "logits" };
            let cpu = forward_cpu_batched(&name, &vit, &x, 1e-5);
            assert_rel(
                &format!("{name} {key} (plain-buffer pass)"),
                &cpu,
                &case.want(&format!("{tag}/{key}")),
                1e-4,
            );
            let out = to_vec(vit.forward(x)).unwrap();
            assert_rel(
                &format!("{name} {key}"),
                &out,
                &case.want(&format!("{tag}/{key}")),
                1e-4,
            );
        }
    }
}

#[test]
fn resampled_position_embeddings() {
    for case in &CASES {
        let vit = case.model();
        let (p, d) = (vit.config.prefix(), vit.config.embed_dim);
        for &(tag, h, w) in case.inputs {
            let Some((_, want)) = case.expected(&format!("{tag}/pos_embed")) else {
                continue;
            };
            let (gh, gw) = vit.config.grid_for(h, w).unwrap();
            let ours = to_vec(vit.position(gh, gw)).unwrap();
            // timm (no_embed_class) stores the patch part; HF the class entry and the patches.
            let patches = ours[p * d..].to_vec();
            let got = if want.len() == patches.len() {
                patches
            } else {
                [ours[..d].to_vec(), patches].concat()
            };
            assert_close(&format!("{} {tag} pos_embed", case.name), &got, &want, 1e-5);
        }
    }
}

#[test]
fn attention_probabilities_and_gradients() {
    for case in &CASES {
        let vit = case.model();
        let target = if case.headless { 0 } else { 1 };
        for &(tag, h, w) in case.inputs {
            let name = format!("{} {tag}", case.name);
            let trace = vit.forward_traced(case.input(tag, h, w), Probes::NONE);
            let probs: Vec<f32> = trace
                .blocks
                .iter()
                .flat_map(|b| to_vec(b.attn.clone()).unwrap())
                .collect();
            assert_close(
                &format!("{name} attn_probs"),
                &probs,
                &case.want(&format!("{tag}/attn_probs")),
                1e-5,
            );
            if let Some((_, want)) = case.expected(&format!("{tag}/attn_grads")) {
                let request = GradRequest {
                    attn_from: Some(0),
                    last_norm1: false,
                };
                let grads: Vec<f32> = vit
                    .logit_gradients(&trace, target, request)
                    .unwrap()
                    .attn
                    .into_iter()
                    .flat_map(|(_, g)| to_vec(g).unwrap())
                    .collect();
                assert_rel(&format!("{name} attn_grads"), &grads, &want, 1e-4);
            }
        }
    }
}

#[test]
fn maps_over_the_patch_tokens() {
    let methods = [
        (Method::Attention, Some("attention_grid"), "attention_map"),
        (Method::Rollout, Some("rollout_grid"), "rollout_map"),
        (Method::Generic, Some("generic_grid"), "generic_map"),
        (Method::Gradcam, None, "gradcam_map"),
    ];
    for case in &CASES {
        let vit = case.model();
        let target = if case.headless { 0 } else { 1 };
        for &(tag, h, w) in case.inputs {
            let (gh, gw) = vit.config.grid_for(h, w).unwrap();
            for (method, grid_key, map_key) in methods {
                let name = format!("{} {tag} {method}", case.name);
                let opts = ExplainOptions {
                    target: Some(target),
                    ..Default::default()
                };
                let e = explain::explain(&vit, case.input(tag, h, w), method, &opts)
                    .unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!((e.grid.height, e.grid.width), (gh, gw), "{name}: grid");
                assert_eq!((e.map.height, e.map.width), (h, w), "{name}: map size");
                if let Some(k) = grid_key {
                    let want = case.want(&format!("{tag}/{k}"));
                    assert_rel(&format!("{name} grid"), &e.grid.values, &want, 1e-4);
                }
                let want = case.want(&format!("{tag}/{map_key}"));
                assert_close(&format!("{name} map"), &e.map.values, &want, 1e-4);
            }
            // The attention of each head, too.
            let heads = case.want(&format!("{tag}/attention_heads"));
            for head in 0..vit.config.num_heads {
                let (_, grid) = explain::attention::attention_map(
                    &vit,
                    case.input(tag, h, w),
                    None,
                    Some(head),
                )
                .unwrap();
                let want = &heads[head * gh * gw..(head + 1) * gh * gw];
                assert_rel(
                    &format!("{} {tag} head {head}", case.name),
                    &grid.values,
                    want,
                    1e-4,
                );
            }
        }
    }
}

/// Chefer's LRP has no reference for these layouts (LayerScale passes relevance through
/// unchanged, README): the map exists, has the grid's shape, is finite and not constant.
#[test]
fn chefer_relevance_runs_on_every_layout() {
    for case in &CASES {
        let vit = case.model();
        let target = if case.headless { 0 } else { 1 };
        for &(tag, h, w) in case.inputs {
            let opts = ExplainOptions {
                target: Some(target),
                ..Default::default()
            };
            let e = explain::explain(&vit, case.input(tag, h, w), Method::Chefer, &opts)
                .unwrap_or_else(|err| panic!("{} {tag}: {err}", case.name));
            let (gh, gw) = vit.config.grid_for(h, w).unwrap();
            assert_eq!(e.grid.values.len(), gh * gw);
            let (lo, hi) = explain::upsample::min_max(&e.grid.values);
            assert!(hi > lo, "{} {tag}: a constant Chefer map", case.name);
        }
    }
}

/// The same models on the wgpu backend (lavapipe in CI), at a resampled input of every case:
/// outputs, and the gradient-based generic map and GradCAM.
#[test]
fn wgpu_runs_every_layout() {
    let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    for case in &CASES {
        let vit = case.model_on(&device);
        let target = if case.headless { 0 } else { 1 };
        let &(tag, h, w) = case.inputs.last().unwrap();
        let name = format!("{} {tag} (wgpu)", case.name);
        let out = to_vec(vit.forward(case.input_on(tag, h, w, &device))).unwrap();
        let key = if case.headless { "score" } else { "logits" };
        assert_rel(
            &format!("{name} {key}"),
            &out,
            &case.want(&format!("{tag}/{key}")),
            1e-4,
        );
        for (method, grid_key, map_key) in [
            (Method::Generic, Some("generic_grid"), "generic_map"),
            (Method::Gradcam, None, "gradcam_map"),
            (Method::Attention, Some("attention_grid"), "attention_map"),
        ] {
            let opts = ExplainOptions {
                target: Some(target),
                ..Default::default()
            };
            let e = explain::explain(&vit, case.input_on(tag, h, w, &device), method, &opts)
                .unwrap_or_else(|err| panic!("{name} {method}: {err}"));
            if let Some(k) = grid_key {
                let want = case.want(&format!("{tag}/{k}"));
                assert_rel(
                    &format!("{name} {method} grid"),
                    &e.grid.values,
                    &want,
                    1e-4,
                );
            }
            let want = case.want(&format!("{tag}/{map_key}"));
            assert_close(&format!("{name} {method} map"), &e.map.values, &want, 1e-4);
        }
    }
}

fn vitscope() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_vitscope"))
}

fn json_of(out: &std::process::Output, what: &str) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e})"))
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

fn model_args(case: &Case) -> Vec<String> {
    let dir = case.dir();
    let mut a = vec![
        "--weights".to_string(),
        dir.join(case.weights).display().to_string(),
        "--config".to_string(),
        dir.join("config.json").display().to_string(),
        "--device".to_string(),
        "cpu".to_string(),
    ];
    if case.headless {
        a.push("--direction".into());
        a.push(dir.join("direction.npy").display().to_string());
    }
    a
}

/// The command lines of the issue: `embed --json` and `explain --input-size native --json`,
/// with `--direction` for the headless encoders.
#[test]
fn command_line_embed_and_explain() {
    for case in &CASES {
        let &(tag, _, _) = case.inputs.last().unwrap();
        let image = case.dir().join(format!("image_{tag}.png"));
        let out = vitscope()
            .arg("embed")
            .args(model_args(case))
            .args(["--input-size", "native", "--json", "--image"])
            .arg(&image)
            .output()
            .unwrap();
        let j = json_of(&out, "embed");
        assert_rel(
            &format!("{} {tag} embed cls", case.name),
            &floats(&j["cls"]),
            &case.want(&format!("{tag}/cls")),
            1e-4,
        );
        assert_rel(
            &format!("{} {tag} embed patch_mean", case.name),
            &floats(&j["patch_mean"]),
            &case.want(&format!("{tag}/patch_mean")),
            1e-4,
        );
        if case.headless {
            // A Hugging Face file is read with the config.json saved beside it when no
            // --config is given.
            let out = vitscope()
                .args([
                    "embed",
                    "--device",
                    "cpu",
                    "--input-size",
                    "native",
                    "--json",
                ])
                .arg("--weights")
                .arg(case.dir().join(case.weights))
                .arg("--image")
                .arg(&image)
                .output()
                .unwrap();
            let j = json_of(&out, "embed without --config");
            assert_rel(
                &format!("{} {tag} embed cls (config beside)", case.name),
                &floats(&j["cls"]),
                &case.want(&format!("{tag}/cls")),
                1e-4,
            );
        }
        let dir = scratch(&format!("foundation-{}", case.name));
        let npy = dir.join("generic.npy");
        let target = if case.headless { "0" } else { "1" };
        let out = vitscope()
            .arg("explain")
            .args(model_args(case))
            .args(["--method", "generic", "--input-size", "native", "--json"])
            .args(["--target", target, "--image"])
            .arg(&image)
            .arg("--out-npy")
            .arg(&npy)
            .output()
            .unwrap();
        let j = json_of(&out, "explain");
        let key = if case.headless { "score" } else { "logits" };
        assert_rel(
            &format!("{} {tag} explain logits", case.name),
            &floats(&j["logits"]),
            &case.want(&format!("{tag}/{key}")),
            1e-4,
        );
        if case.headless {
            assert_eq!(j["logits"].as_array().unwrap().len(), 1, "logits = [s]");
        }
        assert_eq!(
            j["target"],
            serde_json::json!(target.parse::<u64>().unwrap())
        );
        let grid = vitscope::io::npy::read_f32(&npy).unwrap();
        let (_, want) = case.expected(&format!("{tag}/generic_grid")).unwrap();
        assert_rel(
            &format!("{} {tag} explain generic", case.name),
            &grid.data,
            &want,
            1e-4,
        );
    }
}

/// An image that is not a whole number of patches is refused at `--input-size native`, with
/// an `error:` line naming it; an explicit size resizes it instead.
#[test]
fn native_size_must_be_whole_patches() {
    let case = &CASES[0];
    let dir = scratch("foundation-odd");
    let odd = dir.join("odd_127x126.png");
    let img = image::RgbImage::from_fn(126, 127, |x, y| image::Rgb([x as u8, y as u8, 90]));
    img.save(&odd).unwrap();
    let run = |size: &str| {
        vitscope()
            .arg("embed")
            .args(model_args(case))
            .args(["--input-size", size, "--json", "--image"])
            .arg(&odd)
            .output()
            .unwrap()
    };
    let out = run("native");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("error:") && l.contains("odd_127x126.png")),
        "no error line naming the image: {err}"
    );
    let out = run("126,126");
    let j = json_of(&out, "embed --input-size 126,126");
    assert_eq!(floats(&j["cls"]).len(), 96);
}
