//! Assisted segmentation against `../shared/fixtures/assist` (its README is the specification):
//! every one of the 96 cases through `vitscope mask`, pixel for pixel, and the refused inputs.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/assist")
}

fn gray(path: &Path) -> (u32, u32, Vec<u8>) {
    let img = image::open(path).unwrap();
    let g = img.as_luma8().expect("an 8-bit gray PNG").clone();
    (g.width(), g.height(), g.into_raw())
}

/// The command the README's check builds for a case.
fn command(case: &Value, out: &Path, scratch: &Path) -> std::process::Command {
    let r = root();
    let s = |k: &str| case[k].as_str().map(String::from);
    let mut c = crate::support::vitscope();
    c.arg("mask")
        .arg("--image")
        .arg(r.join(s("image").unwrap()));
    if let Some(m) = s("mask") {
        c.arg("--mask").arg(r.join(m));
    }
    if let Some(k) = case["class"].as_u64() {
        c.args(["--class", &k.to_string()]);
    }
    if let Some(sp) = s("spacing") {
        c.args(["--spacing", &sp]);
    }
    c.args(["--op", &s("op").unwrap()]);
    if let Some(seeds) = s("seeds") {
        c.arg("--seeds").arg(r.join(seeds));
    }
    if let Some(map) = s("map") {
        let p = r.join(&map);
        let p = if map.ends_with(".gz") {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()),
                &mut bytes,
            )
            .unwrap();
            let name = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".gz")
                .to_string();
            let q = scratch.join(name);
            std::fs::write(&q, bytes).unwrap();
            q
        } else {
            p
        };
        c.arg("--map").arg(p);
    }
    for o in case["options"].as_array().unwrap() {
        c.arg(o.as_str().unwrap());
    }
    c.arg("--out").arg(out);
    c
}

#[test]
fn every_public_case_gives_the_expected_mask_pixel_for_pixel() {
    let cases: Value =
        serde_json::from_slice(&std::fs::read(root().join("cases.json")).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 96);
    let dir = crate::support::scratch("assist-parity");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let out = dir.join(format!("{name}.png"));
        let o = command(case, &out, &dir).output().unwrap();
        if !o.status.success() {
            failures.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            continue;
        }
        let (gw, gh, got) = gray(&out);
        let (ww, wh, want) = gray(&root().join(case["expected"].as_str().unwrap()));
        if (gw, gh) != (ww, wh) {
            failures.push(format!("{name}: {gw}×{gh}, want {ww}×{wh}"));
            continue;
        }
        let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        if diff > 0 {
            failures.push(format!("{name}: {diff} pixel(s) differ"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 96:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `--invert` (the workbench's invert toggle) selects the complement of the range: on every
/// public threshold case, each pixel of 0 or C becomes C exactly where the reference's
/// expected mask left it not C, and pixels of other classes keep their ids.
#[test]
fn an_inverted_threshold_is_the_complement_of_the_reference_within_the_write_rule() {
    let cases: Value =
        serde_json::from_slice(&std::fs::read(root().join("cases.json")).unwrap()).unwrap();
    let dir = crate::support::scratch("assist-invert");
    let mut n = 0;
    for case in cases["cases"].as_array().unwrap() {
        if case["op"] != "threshold" {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let out = dir.join(format!("{name}.png"));
        let o = command(case, &out, &dir).arg("--invert").output().unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (_, _, got) = gray(&out);
        let (_, _, want) = gray(&root().join(case["expected"].as_str().unwrap()));
        let c = case["class"].as_u64().unwrap_or(1) as u8;
        let before = match case["mask"].as_str() {
            Some(m) => gray(&root().join(m)).2,
            None => vec![0; want.len()],
        };
        for ((&b, &w), &g) in before.iter().zip(&want).zip(&got) {
            let expect = if b == 0 || b == c {
                if w == c { 0 } else { c }
            } else {
                b
            };
            assert_eq!(g, expect, "{name}");
        }
        n += 1;
    }
    assert_eq!(n, 9, "the nine public threshold cases");
}

#[test]
fn bad_effect_arguments_are_refused_without_output() {
    let r = root();
    let dir = crate::support::scratch("assist-refusals");
    let img = r.join("images/zeros_15.png");
    let wrong = r.join("masks/diag_8x10.png");
    for (args, says) in [
        (vec!["--op", "blur"], "--op 'blur'"),
        (vec!["--op", "threshold"], "needs --range"),
        (vec!["--op", "fill-holes", "--invert"], "--invert"),
        (vec!["--class", "0", "--op", "fill-holes"], "--class 0"),
        (
            vec!["--op", "paint", "--at", "3,3", "--radius=-1"],
            "--radius",
        ),
        (
            vec![
                "--op",
                "islands",
                "--connectivity",
                "6",
                "--keep",
                "largest",
            ],
            "--connectivity 6",
        ),
        (
            vec![
                "--op",
                "islands",
                "--connectivity",
                "4",
                "--keep",
                "at:99,1",
            ],
            "outside",
        ),
        (
            vec!["--op", "smooth", "--kind", "median", "--mm", "0"],
            "above 0",
        ),
        (
            vec![
                "--op",
                "scissors",
                "--polygon",
                "1,1;2,2",
                "--mode",
                "fill-inside",
            ],
            "3 vertices",
        ),
        (
            vec!["--op", "from-map", "--map", "x.npy", "--top", "0"],
            "(0, 100]",
        ),
    ] {
        let out = dir.join("out.png");
        let o = crate::support::vitscope()
            .arg("mask")
            .arg("--image")
            .arg(&img)
            .args(&args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let line = crate::support::one_error(&o, says);
        assert!(line.contains(says), "{args:?}: {line}");
        assert!(!out.exists(), "{args:?}: wrote an output");
    }
    // A mask of another size names the mask.
    let out = dir.join("out.png");
    let o = crate::support::vitscope()
        .arg("mask")
        .arg("--image")
        .arg(&img)
        .arg("--mask")
        .arg(&wrong)
        .args(["--op", "fill-holes", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let line = crate::support::one_error(&o, "a mask of another size");
    assert!(line.contains("diag_8x10.png"), "{line}");
    assert!(!out.exists());
}

/// A signed DICOM with a fractional rescale (slope 0.1, intercept −100.3): thresholds whose
/// bounds are exactly pixel values (float64, as numpy computes them) select exactly what numpy
/// selects, so values are never rounded through float32.
#[test]
fn signed_dicom_with_a_fractional_rescale_thresholds_in_float64() {
    let dir = crate::support::scratch("assist-signed");
    let script = r#"
import sys, json, numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
a = np.random.default_rng(1).integers(-2000, 2000, size=(13, 17)).astype(np.int16)
ds = Dataset(); fm = FileMetaDataset()
fm.TransferSyntaxUID = ExplicitVRLittleEndian
fm.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
fm.MediaStorageSOPInstanceUID = generate_uid()
ds.file_meta = fm; ds.SOPClassUID = fm.MediaStorageSOPClassUID
ds.SOPInstanceUID = fm.MediaStorageSOPInstanceUID
ds.Rows, ds.Columns = a.shape; ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated = 16; ds.BitsStored = 16; ds.HighBit = 15; ds.PixelRepresentation = 1
ds.RescaleSlope = "0.1"; ds.RescaleIntercept = "-100.3"
ds.PixelData = a.tobytes(); ds.save_as(sys.argv[1], enforce_file_format=True)
v = a.astype(np.float64) * 0.1 + (-100.3)
cases = []
for k in range(0, 60, 3):
    lo, hi = sorted((float(v.flat[k]), float(v.flat[k + 100])))
    cases.append({"lo": repr(lo), "hi": repr(hi), "want": ((v >= lo) & (v <= hi)).astype(int).ravel().tolist()})
print(json.dumps(cases))
"#;
    let file = dir.join("signed.dcm");
    let py = std::env::var("VITSCOPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = crate::support::succeeded(
        std::process::Command::new(py)
            .arg("-c")
            .arg(script)
            .arg(&file)
            .output()
            .unwrap(),
        "pydicom",
    );
    let cases: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for c in cases {
        let out = dir.join("t.png");
        let range = format!(
            "--range={},{}",
            c["lo"].as_str().unwrap(),
            c["hi"].as_str().unwrap()
        );
        crate::support::succeeded(
            crate::support::vitscope()
                .arg("mask")
                .arg("--image")
                .arg(&file)
                .args(["--op", "threshold", &range, "--out"])
                .arg(&out)
                .output()
                .unwrap(),
            &range,
        );
        let (_, _, got) = gray(&out);
        let want: Vec<u8> = c["want"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        assert_eq!(got, want, "{range}");
    }
}
