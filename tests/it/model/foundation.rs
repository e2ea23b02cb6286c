//! Foundation encoders end to end through the command line: checkpoints in the RAD-DINO
//! (Hugging Face `Dinov2WithRegistersModel` / `Dinov2Model`) and UNI (timm, LayerScale,
//! registers, no head) layouts built here load, embed and explain at several sizes; the linear
//! probe runs the backbone once per image and its checkpoint explains; `eval --layers all`
//! writes the per-block sweep, whose last block agrees with the `attention` method.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vitscope"));
    c.env("VITSCOPE_DEVICE", "cpu");
    c
}

fn ok(out: Output, what: &str) -> (String, String) {
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{what} failed:\n{e}");
    assert!(
        !e.lines().any(|l| l.starts_with("error:")),
        "{what}: error line on success:\n{e}"
    );
    (o, e)
}

/// Deterministic pseudo-random values (a Weyl sequence), scaled.
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let x = ((i + 1) as f64 * 0.618_033_988_749_895 + seed as f64 * 0.414_213_562_373_095)
                .fract();
            (x as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

struct Dims {
    d: usize,
    depth: usize,
    patch: usize,
    grid: usize,
    regs: usize,
}

type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

fn push(t: &mut Tensors, name: String, shape: Vec<usize>, scale: f32, offset: f32) {
    let n = shape.iter().product();
    let seed = t.len() as u64 + 1;
    let v = values(n, seed, scale)
        .into_iter()
        .map(|x| x + offset)
        .collect();
    t.push((name, shape, v));
}

/// A Hugging Face Dinov2 checkpoint as `save_pretrained` names it (registers when
/// `dims.regs > 0`, as `Dinov2WithRegistersModel`), with LayerScale and no head.
fn hf_dinov2(dims: &Dims) -> Tensors {
    let (d, h) = (dims.d, 4 * dims.d);
    let mut t = Tensors::new();
    push(
        &mut t,
        "embeddings.cls_token".into(),
        vec![1, 1, d],
        0.5,
        0.0,
    );
    push(&mut t, "embeddings.mask_token".into(), vec![1, d], 0.1, 0.0);
    if dims.regs > 0 {
        push(
            &mut t,
            "embeddings.register_tokens".into(),
            vec![1, dims.regs, d],
            0.5,
            0.0,
        );
    }
    let g2 = dims.grid * dims.grid;
    push(
        &mut t,
        "embeddings.position_embeddings".into(),
        vec![1, 1 + g2, d],
        0.5,
        0.0,
    );
    let p = dims.patch;
    push(
        &mut t,
        "embeddings.patch_embeddings.projection.weight".into(),
        vec![d, 3, p, p],
        0.05,
        0.0,
    );
    push(
        &mut t,
        "embeddings.patch_embeddings.projection.bias".into(),
        vec![d],
        0.02,
        0.0,
    );
    for i in 0..dims.depth {
        let b = format!("encoder.layer.{i}");
        for n in ["norm1", "norm2"] {
            push(&mut t, format!("{b}.{n}.weight"), vec![d], 0.1, 1.0);
            push(&mut t, format!("{b}.{n}.bias"), vec![d], 0.02, 0.0);
        }
        for n in ["query", "key", "value"] {
            push(
                &mut t,
                format!("{b}.attention.attention.{n}.weight"),
                vec![d, d],
                0.3,
                0.0,
            );
            push(
                &mut t,
                format!("{b}.attention.attention.{n}.bias"),
                vec![d],
                0.02,
                0.0,
            );
        }
        push(
            &mut t,
            format!("{b}.attention.output.dense.weight"),
            vec![d, d],
            0.1,
            0.0,
        );
        push(
            &mut t,
            format!("{b}.attention.output.dense.bias"),
            vec![d],
            0.02,
            0.0,
        );
        push(
            &mut t,
            format!("{b}.layer_scale1.lambda1"),
            vec![d],
            0.1,
            0.3,
        );
        push(
            &mut t,
            format!("{b}.layer_scale2.lambda1"),
            vec![d],
            0.1,
            0.3,
        );
        push(&mut t, format!("{b}.mlp.fc1.weight"), vec![h, d], 0.1, 0.0);
        push(&mut t, format!("{b}.mlp.fc1.bias"), vec![h], 0.02, 0.0);
        push(&mut t, format!("{b}.mlp.fc2.weight"), vec![d, h], 0.05, 0.0);
        push(&mut t, format!("{b}.mlp.fc2.bias"), vec![d], 0.02, 0.0);
    }
    push(&mut t, "layernorm.weight".into(), vec![d], 0.1, 1.0);
    push(&mut t, "layernorm.bias".into(), vec![d], 0.02, 0.0);
    t
}

/// A timm DINOv2-style checkpoint (UNI2 / `vit_*_reg*_dinov2`): LayerScale, registers,
/// `no_embed_class` (a grid-only `pos_embed`), no head (`num_classes=0`).
fn timm_uni(dims: &Dims) -> Tensors {
    let (d, h) = (dims.d, 4 * dims.d);
    let mut t = Tensors::new();
    push(&mut t, "cls_token".into(), vec![1, 1, d], 0.5, 0.0);
    push(&mut t, "reg_token".into(), vec![1, dims.regs, d], 0.5, 0.0);
    let g2 = dims.grid * dims.grid;
    push(&mut t, "pos_embed".into(), vec![1, g2, d], 0.5, 0.0);
    let p = dims.patch;
    push(
        &mut t,
        "patch_embed.proj.weight".into(),
        vec![d, 3, p, p],
        0.05,
        0.0,
    );
    push(&mut t, "patch_embed.proj.bias".into(), vec![d], 0.02, 0.0);
    for i in 0..dims.depth {
        let b = format!("blocks.{i}");
        for n in ["norm1", "norm2"] {
            push(&mut t, format!("{b}.{n}.weight"), vec![d], 0.1, 1.0);
            push(&mut t, format!("{b}.{n}.bias"), vec![d], 0.02, 0.0);
        }
        push(
            &mut t,
            format!("{b}.attn.qkv.weight"),
            vec![3 * d, d],
            0.3,
            0.0,
        );
        push(&mut t, format!("{b}.attn.qkv.bias"), vec![3 * d], 0.02, 0.0);
        push(
            &mut t,
            format!("{b}.attn.proj.weight"),
            vec![d, d],
            0.1,
            0.0,
        );
        push(&mut t, format!("{b}.attn.proj.bias"), vec![d], 0.02, 0.0);
        push(&mut t, format!("{b}.ls1.gamma"), vec![d], 0.1, 0.3);
        push(&mut t, format!("{b}.ls2.gamma"), vec![d], 0.1, 0.3);
        push(&mut t, format!("{b}.mlp.fc1.weight"), vec![h, d], 0.1, 0.0);
        push(&mut t, format!("{b}.mlp.fc1.bias"), vec![h], 0.02, 0.0);
        push(&mut t, format!("{b}.mlp.fc2.weight"), vec![d, h], 0.05, 0.0);
        push(&mut t, format!("{b}.mlp.fc2.bias"), vec![d], 0.02, 0.0);
    }
    push(&mut t, "norm.weight".into(), vec![d], 0.1, 1.0);
    push(&mut t, "norm.bias".into(), vec![d], 0.02, 0.0);
    t
}

fn write(
    dir: &Path,
    name: &str,
    tensors: &Tensors,
    config: serde_json::Value,
) -> (PathBuf, PathBuf) {
    let w = dir.join(format!("{name}.safetensors"));
    std::fs::write(&w, safetensors_bytes(tensors)).unwrap();
    let c = dir.join(format!("{name}.json"));
    std::fs::write(&c, config.to_string()).unwrap();
    (w, c)
}

fn image(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let p = dir.join(name);
    image::RgbImage::from_fn(w, h, |x, y| {
        let r = (x * 7 + y * 3) % 256;
        let g = if (x as i32 - 20).pow(2) + (y as i32 - 16).pow(2) < 80 {
            240
        } else {
            60
        };
        image::Rgb([r as u8, g, (y * 5 % 256) as u8])
    })
    .save(&p)
    .unwrap();
    p
}

fn direction(dir: &Path, d: usize) -> PathBuf {
    let p = dir.join("direction.npy");
    let mut v = values(d, 99, 1.0);
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    vitscope::io::npy::write_f32(&p, &[d], &v).unwrap();
    p
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Embeds and explains (every method, native and resized input) one model; returns the
/// native-size `cls`.
fn embed_and_explain(weights: &Path, config: &Path, dir_npy: &Path, img: &Path, d: usize) {
    let model = |c: &mut Command| {
        c.arg("--weights")
            .arg(weights)
            .arg("--config")
            .arg(config)
            .arg("--direction")
            .arg(dir_npy);
    };
    for size in ["native", "28,42"] {
        let mut c = bin();
        c.arg("embed");
        model(&mut c);
        let (o, _) = ok(
            c.args(["--input-size", size, "--json", "--image"])
                .arg(img)
                .output()
                .unwrap(),
            "embed",
        );
        let j = json(&o);
        assert_eq!(j["cls"].as_array().unwrap().len(), d);
        assert_eq!(j["patch_mean"].as_array().unwrap().len(), d);
        for m in [
            "attention",
            "rollout",
            "generic",
            "gradcam",
            "chefer",
            "cam-attn",
        ] {
            let mut c = bin();
            c.arg("explain");
            model(&mut c);
            let (o, _) = ok(
                c.args(["--method", m, "--input-size", size, "--json", "--image"])
                    .arg(img)
                    .output()
                    .unwrap(),
                &format!("explain {m} at {size}"),
            );
            let j = json(&o);
            assert_eq!(
                j["logits"].as_array().unwrap().len(),
                1,
                "{m}: logits = [s]"
            );
            assert_eq!(j["target"], 0);
        }
    }
}

#[test]
fn rad_dino_and_uni_layouts_load_embed_and_explain() {
    let dir = scratch("foundation-layouts");
    let img = image(&dir, "x.png", 42, 28);
    let dims = Dims {
        d: 24,
        depth: 2,
        patch: 14,
        grid: 2,
        regs: 0,
    };
    let dnpy = direction(&dir, dims.d);
    // RAD-DINO: Dinov2Model, config as save_pretrained writes it.
    let hf_config = |model_type: &str, regs: usize| {
        serde_json::json!({
            "architectures": ["Dinov2Model"], "hidden_act": "gelu", "hidden_size": dims.d,
            "image_size": 28, "layer_norm_eps": 1e-6, "model_type": model_type,
            "num_attention_heads": 2, "num_hidden_layers": dims.depth, "patch_size": 14,
            "qkv_bias": true, "use_swiglu_ffn": false, "num_register_tokens": regs
        })
    };
    let (w, c) = write(&dir, "rad_dino", &hf_dinov2(&dims), hf_config("dinov2", 0));
    embed_and_explain(&w, &c, &dnpy, &img, dims.d);
    // DINOv2 with registers (Hugging Face).
    let dims_r = Dims { regs: 4, ..dims };
    let (w, c) = write(
        &dir,
        "dinov2_reg",
        &hf_dinov2(&dims_r),
        hf_config("dinov2_with_registers", 4),
    );
    embed_and_explain(&w, &c, &dnpy, &img, dims.d);
    // UNI2-style timm: registers, LayerScale, no_embed_class, no head.
    let timm_config = serde_json::json!({
        "num_heads": 2, "reg_tokens": 4, "no_embed_class": true, "img_size": 28,
        "patch_size": 14, "global_pool": "token", "norm_eps": 1e-6, "num_classes": 0
    });
    let (w, c) = write(&dir, "uni", &timm_uni(&dims_r), timm_config);
    embed_and_explain(&w, &c, &dnpy, &img, dims.d);
    // What the loader made of it.
    let opts = vitscope::model::LoadOptions {
        config_file: Some(c),
        ..Default::default()
    };
    let (vit, report) =
        vitscope::model::load_vit(&w, &opts, &burn::tensor::Device::flex()).unwrap();
    let a = &vit.config.arch;
    assert_eq!(
        (a.reg_tokens, a.pos_prefix, a.layer_scale, a.headless),
        (4, 0, true, true)
    );
    assert!(report.unused.is_empty(), "{:?}", report.unused);
}

/// A DINOv2 config that asks for what vitscope does not implement is refused, naming the file.
#[test]
fn unsupported_variants_are_named() {
    let dir = scratch("foundation-unsupported");
    let dims = Dims {
        d: 24,
        depth: 1,
        patch: 14,
        grid: 2,
        regs: 0,
    };
    let img = image(&dir, "x.png", 28, 28);
    for (name, extra, says) in [
        (
            "swiglu",
            ("use_swiglu_ffn", serde_json::json!(true)),
            "SwiGLU",
        ),
        (
            "quick_gelu",
            ("hidden_act", serde_json::json!("quick_gelu")),
            "GELU",
        ),
    ] {
        let mut cfg = serde_json::json!({
            "model_type": "dinov2", "num_attention_heads": 2, "image_size": 28,
            "patch_size": 14, "layer_norm_eps": 1e-6
        });
        cfg[extra.0] = extra.1;
        let (w, c) = write(&dir, name, &hf_dinov2(&dims), cfg);
        let out = bin()
            .args(["embed", "--weights"])
            .arg(&w)
            .arg("--config")
            .arg(&c)
            .arg("--image")
            .arg(&img)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains(&c.display().to_string()) && e.contains(says),
            "{name}: {e}"
        );
    }
}

fn demo() -> (PathBuf, PathBuf) {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    (d.join("model.safetensors"), d.join("config.json"))
}

#[test]
fn probe_runs_the_backbone_once_per_image_and_its_checkpoint_explains() {
    let dir = scratch("foundation-probe");
    let data = dir.join("data");
    ok(
        bin()
            .args(["phantom", "--n", "40", "--seed", "3", "--out"])
            .arg(&data)
            .output()
            .unwrap(),
        "phantom",
    );
    let (w, c) = demo();
    let out = dir.join("probe.safetensors");
    let (_, err) = ok(
        bin()
            .args(["train", "--probe", "--device", "cpu", "--init"])
            .arg(&w)
            .arg("--config")
            .arg(&c)
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
        "train --probe",
    );
    assert!(err.contains("one backbone pass per image"), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("probe.json")).unwrap())
            .unwrap();
    assert_eq!(report["images"], 40);
    assert_eq!(report["backbone_passes"], 40);
    // The bundled model separates the phantom classes: its features do too.
    let best = report["best_epoch"].as_u64().unwrap() as usize;
    let epoch = &report["history"][best - 1];
    assert!(epoch["val_acc"].as_f64().unwrap() >= 0.9, "{epoch}");
    // The probe's checkpoint explains like any classifier.
    let img = std::fs::read_dir(data.join("images"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let (o, _) = ok(
        bin()
            .args(["explain", "--method", "chefer", "--json", "--weights"])
            .arg(&out)
            .arg("--config")
            .arg(out.with_extension("json"))
            .arg("--image")
            .arg(&img)
            .output()
            .unwrap(),
        "explain with the probe",
    );
    assert_eq!(json(&o)["logits"].as_array().unwrap().len(), 2);
    // A probe needs an encoder.
    let out2 = bin()
        .args(["train", "--probe", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.join("x.safetensors"))
        .output()
        .unwrap();
    assert_eq!(out2.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out2.stderr).contains("--init"));
}

#[test]
fn eval_layers_sweeps_every_block_and_head() {
    let dir = scratch("foundation-layers");
    let data = dir.join("data");
    ok(
        bin()
            .args(["phantom", "--n", "8", "--seed", "4", "--out"])
            .arg(&data)
            .output()
            .unwrap(),
        "phantom",
    );
    let out = dir.join("out");
    ok(
        bin()
            .args([
                "eval",
                "--methods",
                "attention",
                "--layers",
                "all",
                "--backend",
                "cpu",
            ])
            .arg("--dataset")
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
        "eval --layers all",
    );
    let (_, c) = demo();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c).unwrap()).unwrap();
    let (depth, heads) = (
        cfg["depth"].as_u64().unwrap() as usize,
        cfg["num_heads"].as_u64().unwrap() as usize,
    );
    let summary = std::fs::read_to_string(out.join("layers_summary.csv")).unwrap();
    let lines: Vec<&str> = summary.lines().skip(1).collect();
    assert_eq!(lines.len(), depth * (heads + 1), "{summary}");
    // The last block's mean over heads is the `attention` method's map: the same scores.
    let last = lines
        .iter()
        .find(|l| l.starts_with(&format!("demo,{},mean,", depth - 1)))
        .unwrap();
    let main = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let att = main
        .lines()
        .find(|l| l.starts_with("demo,attention,mask,"))
        .unwrap();
    // layers: checkpoint,layer,head,images,PG,iou..; summary: checkpoint,method,annotation,images,PG,iou_rect,iou_binary..
    let ours: Vec<&str> = last.split(',').skip(3).collect();
    let theirs: Vec<&str> = att.split(',').collect();
    assert_eq!(ours[0], theirs[3], "images");
    assert_eq!(ours[1], theirs[4], "pointing game");
    assert_eq!(ours[2], theirs[5], "IoU@5");
    for plot in ["layers_pg.svg", "layers_iou_at_5.svg"] {
        let svg = std::fs::read_to_string(out.join("plots").join(plot)).unwrap();
        assert!(svg.contains("<polyline"), "{plot}");
    }
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("Class-token attention per block"));
    // A block the model does not have is an error naming it.
    let bad = bin()
        .args([
            "eval",
            "--methods",
            "attention",
            "--layers",
            "0,99",
            "--dataset",
        ])
        .arg(&data)
        .arg("--out")
        .arg(dir.join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--layers 99"));
}
