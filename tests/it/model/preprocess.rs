//! Preprocessing parity with Pillow (the resampler torchvision's `Resize` calls on PIL images)
//! and with torchvision's `CenterCrop` rule, on odd sizes, up- and downscaling, RGB, grayscale
//! and 16-bit input. Cases written by `tests/data/preprocess/make_preprocess.py`.

use std::path::{Path, PathBuf};

use vitscope::io::image::read_image;
use vitscope::model::preprocess::{Normalization, ResizeMode, fit_planes, prepare};

const SIZES: [&str; 7] = [
    "512x512", "301x229", "225x224", "223x300", "1000x37", "100x150", "224x224",
];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/preprocess")
        .join(name)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The expected 224² planes of an 8-bit PIL output, and the normalised tensor torchvision's
/// `ToTensor()` + `Normalize()` makes of them.
fn expected(file: &str) -> (Vec<Vec<f32>>, Vec<f32>) {
    let planes = read_image(&data(file)).unwrap().to_rgb().planes;
    let n = Normalization::default();
    let chw = planes
        .iter()
        .enumerate()
        .flat_map(|(c, p)| p.iter().map(move |&v| (v - n.mean[c]) / n.std[c]))
        .collect();
    (planes, chw)
}

fn check(mode: ResizeMode, prefix: &str) {
    let mut worst = 0f32;
    for size in SIZES {
        for tag in ["rgb", "gray"] {
            let img = read_image(&data(&format!("in_{tag}_{size}.png"))).unwrap();
            let (want_planes, want_chw) = expected(&format!("{prefix}_{tag}_{size}.png"));
            let got = fit_planes(&img, 224, mode);
            for (c, (g, w)) in got.iter().zip(&want_planes).enumerate() {
                let d = max_abs(g, w);
                assert!(
                    d <= 1e-6,
                    "{prefix} {tag} {size} channel {c}: planes off by {d:e}"
                );
            }
            let chw = prepare(&img, 224, mode, &Normalization::default()).chw;
            let d = max_abs(&chw, &want_chw);
            assert!(
                d <= 1e-6,
                "{prefix} {tag} {size}: input tensor off by {d:e}"
            );
            worst = worst.max(d);
        }
    }
    println!("{prefix}: worst input-tensor difference {worst:e}");
}

#[test]
fn resize_matches_pillow_bilinear_on_8_bit_images() {
    check(ResizeMode::Resize, "resize");
}

#[test]
fn center_crop_matches_torchvision_offsets_and_padding() {
    check(ResizeMode::CenterCrop, "crop");
}

#[test]
fn resize_of_16_bit_images_matches_pillow_float_mode() {
    for size in SIZES {
        let img = read_image(&data(&format!("in16_{size}.png"))).unwrap();
        let want = vitscope::io::npy::read_f32(&data(&format!("resizef_{size}.npy"))).unwrap();
        let got = fit_planes(&img, 224, ResizeMode::Resize);
        let d = max_abs(&got[0], &want.data);
        assert!(d <= 1e-6, "16-bit {size}: off by {d:e}");
    }
}

#[test]
fn the_tensor_filter_differs_from_pil_when_shrinking_and_both_keep_a_native_image() {
    // Shrinking 512 → 224 the antialiased PIL filter and the plain bilinear disagree; at the
    // model's own size both are the identity.
    let big = read_image(&data("in_rgb_512x512.png")).unwrap();
    let pil = fit_planes(&big, 224, ResizeMode::Resize);
    let plain = fit_planes(&big, 224, ResizeMode::ResizeTensor);
    assert!(max_abs(&pil[0], &plain[0]) > 0.05);
    let native = read_image(&data("in_rgb_224x224.png")).unwrap();
    assert_eq!(fit_planes(&native, 224, ResizeMode::Resize), native.planes);
    assert_eq!(
        fit_planes(&native, 224, ResizeMode::ResizeTensor),
        native.planes
    );
}

/// The public reference model through the whole pipeline: the logits and the last block's
/// class-token attention of each image after torchvision's `Resize([224, 224])` or
/// `CenterCrop(224)` (`pipeline.json`, made with torch 2.15, torchvision 0.29.2 and timm
/// 1.0.31 by `make_preprocess.py`), against vitscope's preprocessing and model.
#[test]
fn the_reference_model_gives_torchvisions_logits_and_attention_after_either_mode() {
    use vitscope::explain::{self, ExplainOptions, Method};
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("pipeline.json")).unwrap()).unwrap();
    let device = burn::tensor::Device::flex();
    let vit = crate::support::load_reference_model(&device);
    let (mut worst_logit, mut worst_attn, mut n) = (0f32, 0f32, 0);
    for (key, want) in doc.as_object().unwrap() {
        let (mode, case) = key.split_once('/').unwrap();
        let mode = match mode {
            "resize" => ResizeMode::Resize,
            _ => ResizeMode::CenterCrop,
        };
        let img = read_image(&data(&format!("in_{case}.png"))).unwrap();
        let input = prepare(&img, 224, mode, &Normalization::default()).tensor(&device);
        let e =
            explain::explain(&vit, input, Method::Attention, &ExplainOptions::default()).unwrap();
        let floats = |k: &str| -> Vec<f32> {
            want[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        };
        worst_logit = worst_logit.max(max_abs(&e.logits, &floats("logits")));
        worst_attn = worst_attn.max(max_abs(&e.grid.values, &floats("attention_14")));
        n += 1;
    }
    assert_eq!(n, 28);
    assert!(worst_logit <= 1e-5, "logits off by {worst_logit:e}");
    assert!(worst_attn <= 1e-5, "attention off by {worst_attn:e}");
    println!("logits {worst_logit:e}, attention {worst_attn:e} over {n} cases");
}
