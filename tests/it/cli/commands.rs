//! End-to-end runs of the `vitscope` binary.

use std::path::PathBuf;
use std::process::Command;

use crate::support::*;
use vitscope::io::npy;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitscope"))
}

fn tmp(name: &str) -> PathBuf {
    scratch("cli").join(name)
}

fn run_ok(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "failed: {se}");
    (so, se)
}

fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "expected exit 1: {se}");
    assert!(!se.contains("panicked"), "panic: {se}");
    assert!(se.lines().any(|l| l.starts_with("error: ")), "{se}");
    se
}

#[test]
fn explain_writes_maps_png_and_json() {
    let (grid, map, png) = (tmp("c.npy"), tmp("c_map.npy"), tmp("c.png"));
    let (stdout, _) = run_ok(
        bin()
            .args([
                "explain", "--method", "chefer", "--target", "1", "--device", "cpu", "--json",
            ])
            .arg("--weights")
            .arg(reference("weights.safetensors"))
            .arg("--config")
            .arg(reference("config.json"))
            .arg("--image")
            .arg(reference("image.png"))
            .arg("--out-npy")
            .arg(&grid)
            .arg("--out-map")
            .arg(&map)
            .arg("--out-png")
            .arg(&png),
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["target"], 1);
    assert_eq!(v["method"], "chefer");
    let logits: Vec<f32> = serde_json::from_value(v["logits"].clone()).unwrap();
    assert_close("cli logits", &logits, &expected("logits").1, 1e-4);
    let probs: Vec<f64> = serde_json::from_value(v["probs"].clone()).unwrap();
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    let g = npy::read_f32(&grid).unwrap();
    assert_eq!(g.shape, vec![14, 14]);
    let want = expected("chefer_14").1;
    assert_close("cli chefer_14", &g.data, &want, 1e-3 * max_abs(&want));
    let m = npy::read_f32(&map).unwrap();
    assert_eq!(m.shape, vec![224, 224]);
    assert_close("cli chefer_224", &m.data, &expected("chefer_224").1, 1e-4);
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (224, 224));
}

#[test]
fn explain_handles_folders() {
    let dir = tmp("imgs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(reference("image.png"), dir.join("a.png")).unwrap();
    // A 300x200 gray copy exercises resize and geometry.
    image::imageops::resize(
        &image::open(reference("image.png")).unwrap().to_luma8(),
        300,
        200,
        image::imageops::FilterType::Triangle,
    )
    .save(dir.join("b.png"))
    .unwrap();
    // DICOM in the folder counts as an image too: by extension, and by its magic alone.
    let dcm = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dicom/CT_small.dcm");
    std::fs::copy(&dcm, dir.join("c.dcm")).unwrap();
    std::fs::copy(&dcm, dir.join("d")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not an image").unwrap();
    let out = tmp("out");
    run_ok(
        explain_cpu("attention")
            .arg("--weights")
            .arg(reference("weights.safetensors"))
            .arg("--config")
            .arg(reference("config.json"))
            .arg("--image")
            .arg(&dir)
            .arg("--out-dir")
            .arg(&out),
    );
    for f in [
        "a.npy",
        "a_map.npy",
        "a.png",
        "b.npy",
        "b_map.npy",
        "b.png",
        "c.npy",
        "c.png",
        "d.npy",
        "d.png",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    assert!(!out.join("notes.npy").exists());
    let b = image::open(out.join("b.png")).unwrap();
    assert_eq!((b.width(), b.height()), (300, 200));
    // The fixture model on the fixture image: the paper's attention map equals the fixture's.
    let a = npy::read_f32(&out.join("a_map.npy")).unwrap();
    assert_close(
        "folder attention_224",
        &a.data,
        &expected("attention_224").1,
        1e-4,
    );
}

/// The bundled model (no --weights) on the bundled demo frames, which come from a phantom split
/// it was not trained on: it must call each one as the generator labelled it (polyp_00001 is the
/// negative, the rest carry polyps).
#[test]
fn the_bundled_model_finds_the_demo_polyps() {
    let images = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/images");
    let mut names: Vec<String> = std::fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for name in names {
        let (stdout, _) = run_ok(
            explain_cpu("attention")
                .arg("--json")
                .arg("--image")
                .arg(images.join(&name)),
        );
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let probs: Vec<f64> = serde_json::from_value(v["probs"].clone()).unwrap();
        let want = usize::from(name != "polyp_00001.png");
        assert!(
            probs[want] > 0.5,
            "{name}: p(class {want}) = {:.3}",
            probs[want]
        );
    }
}

#[test]
fn explain_bad_inputs_fail_cleanly() {
    let corrupt = tmp("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\n broken").unwrap();
    let se = run_err(
        bin()
            .args(["explain", "--device", "cpu", "--image"])
            .arg(&corrupt),
    );
    assert!(se.contains("corrupt.png"), "{se}");
    let se = run_err(
        bin()
            .args(["explain", "--device", "cpu", "--weights"])
            .arg(reference("image.png"))
            .arg("--image")
            .arg(reference("image.png")),
    );
    assert!(se.contains("image.png"), "{se}");
    let se = run_err(
        bin()
            .args(["explain", "--device", "cpu", "--target", "5", "--image"])
            .arg(reference("image.png")),
    );
    assert!(se.contains("target class 5"), "{se}");
}

#[test]
fn metrics_cli_reproduces_reference_records() {
    let map = tmp("chefer_224.npy");
    let (_, values) = expected("chefer_224");
    npy::write_f32(&map, &[224, 224], &values).unwrap();
    let (stdout, _) = run_ok(
        bin()
            .args(["metrics", "--backend", "cpu", "--json", "--map"])
            .arg(&map)
            .arg("--mask")
            .arg(reference("mask_duke.png")),
    );
    let got: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let want: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(reference("metrics.json")).unwrap()).unwrap();
    let mut matched = 0;
    for w in want
        .iter()
        .filter(|w| w["map"] == "chefer_224" && w["mask"] == "mask_duke.png")
    {
        let g = got
            .iter()
            .find(|g| {
                g["metric"] == w["metric"] && g["top_perc"].as_f64() == w["top_perc"].as_f64()
            })
            .unwrap_or_else(|| panic!("no record for {w}"));
        assert_eq!(g["value"].as_f64(), w["value"].as_f64(), "{w}");
        matched += 1;
    }
    assert_eq!(matched, 9);
    // Boxes: the duke mask is one rectangle, so its box gives the same scores.
    let mask = vitscope::io::mask::read_mask(&reference("mask_duke.png")).unwrap();
    let r = mask.bbox().unwrap();
    let (stdout2, _) = run_ok(
        bin()
            .args(["metrics", "--backend", "cpu", "--json", "--map"])
            .arg(&map)
            .arg("--box")
            .arg(format!("{},{},{},{}", r.x0, r.y0, r.x1, r.y1)),
    );
    let got2: Vec<serde_json::Value> = serde_json::from_str(&stdout2).unwrap();
    let values =
        |v: &[serde_json::Value]| v.iter().map(|r| r["value"].as_f64()).collect::<Vec<_>>();
    assert_eq!(values(&got), values(&got2));
}

#[test]
fn metrics_cli_size_mismatch_names_both_sizes() {
    let map = tmp("small.npy");
    npy::write_f32(&map, &[10, 20], &vec![0.5; 200]).unwrap();
    let se = run_err(
        bin()
            .args(["metrics", "--backend", "cpu", "--map"])
            .arg(&map)
            .arg("--mask")
            .arg(reference("mask_duke.png")),
    );
    assert!(se.contains("20x10") && se.contains("224x224"), "{se}");
}

#[test]
fn convert_png_to_npy_keeps_sample_values() {
    let out = tmp("image.npy");
    run_ok(
        bin()
            .arg("convert")
            .arg(reference("image.png"))
            .arg("--out")
            .arg(&out),
    );
    let a = npy::read_f32(&out).unwrap();
    assert_eq!(a.shape, vec![224, 224, 3]);
    let rgb = image::open(reference("image.png")).unwrap().to_rgb8();
    let want: Vec<f32> = rgb.as_raw().iter().map(|&v| v as f32).collect();
    assert_eq!(a.data, want);
}

#[test]
fn the_gui_without_a_display_says_what_to_do() {
    let se = run_err(
        bin()
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET"),
    );
    assert!(se.contains("no display") && se.contains("xvfb-run"), "{se}");
}

#[test]
fn bench_torch_without_pytorch_names_the_interpreter() {
    let missing = tmp("no-such-python");
    let se = run_err(
        bin()
            .args([
                "bench",
                "--suite",
                "faithfulness",
                "--iters",
                "1",
                "--torch",
            ])
            .env("VITSCOPE_PYTHON", &missing),
    );
    assert!(se.contains(&*missing.to_string_lossy()), "{se}");
    // The model suite says so before building its model.
    let se = run_err(
        bin()
            .args(["bench", "--suite", "model", "--model", "ti", "--torch"])
            .env("VITSCOPE_PYTHON", &missing),
    );
    assert!(se.contains(&*missing.to_string_lossy()), "{se}");
}
