//! DICOM decoding against pydicom's own decoding of its test files (tests/data/dicom).

use std::path::PathBuf;
use std::process::Command;

use vitscope::io::dicom::{is_dicom, read_dicom};
use vitscope::io::npy;

fn dcm(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run under cargo"))
        .join("tests/data/dicom")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    crate::support::scratch("dicom").join(name)
}

#[test]
fn modality_values_equal_pydicom() {
    for (name, frame, shape) in [
        ("CT_small.dcm", 0, vec![128, 128]),
        ("MR_small.dcm", 0, vec![64, 64]),
        ("MR_small_RLE.dcm", 0, vec![64, 64]),
        ("SC_rgb_small_odd.dcm", 0, vec![3, 3, 3]),
        ("SC_rgb_rle_2frame.dcm", 1, vec![100, 100, 3]),
    ] {
        let d = read_dicom(&dcm(name), frame).unwrap_or_else(|e| panic!("{e}"));
        let want = npy::read_f32(&dcm(&format!("expected/{name}.npy"))).unwrap();
        assert_eq!(want.shape, shape, "{name}");
        let got_shape = if d.samples == 1 {
            vec![d.rows, d.cols]
        } else {
            vec![d.rows, d.cols, d.samples]
        };
        assert_eq!(got_shape, shape, "{name}");
        assert_eq!(
            d.modality, want.data,
            "{name}: modality values differ from pydicom"
        );
        assert!(is_dicom(&dcm(name)));
    }
}

#[test]
fn window_and_monochrome1() {
    let d = read_dicom(&dcm("MR_small.dcm"), 0).unwrap();
    assert_eq!(d.window, Some((600.0, 1600.0)));
    let img = d.to_image(None);
    for i in [0, 100, 2000, 4095] {
        let v = d.modality[i] as f64;
        let want = ((v - 599.5) / 1599.0 + 0.5).clamp(0.0, 1.0) as f32;
        assert!((img.planes[0][i] - want).abs() < 1e-6);
    }
    let mut inverted = d.clone();
    inverted.monochrome1 = true;
    let inv = inverted.to_image(Some((600.0, 1600.0)));
    for i in 0..d.modality.len() {
        assert!((inv.planes[0][i] - (1.0 - img.planes[0][i])).abs() < 1e-6);
    }
}

#[test]
fn unsupported_and_broken_files_are_clear_errors() {
    let e = read_dicom(&dcm("JPEG2000.dcm"), 0).unwrap_err().to_string();
    assert!(e.contains("JPEG2000.dcm") && e.contains("JPEG 2000"), "{e}");
    let e = read_dicom(&dcm("rtplan.dcm"), 0).unwrap_err().to_string();
    assert!(e.contains("rtplan.dcm"), "{e}");
    let e = read_dicom(&dcm("MR_small.dcm"), 3).unwrap_err().to_string();
    assert!(e.contains("frame 3"), "{e}");
    let bytes = std::fs::read(dcm("CT_small.dcm")).unwrap();
    let cut = tmp("cut.dcm");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let e = read_dicom(&cut, 0).unwrap_err().to_string();
    assert!(e.contains("cut.dcm"), "{e}");
}

#[test]
fn convert_and_explain_accept_dicom() {
    let bin = env!("CARGO_BIN_EXE_vitscope");
    let (npy_out, png_out) = (tmp("ct.npy"), tmp("ct.png"));
    for out in [&npy_out, &png_out] {
        let o = Command::new(bin)
            .arg("convert")
            .arg(dcm("CT_small.dcm"))
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let windowed = tmp("ct_soft.png");
    let o = Command::new(bin)
        .arg("convert")
        .arg(dcm("CT_small.dcm"))
        .args(["--window", "40,400", "--out"])
        .arg(&windowed)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Soft-tissue window: modality 40 HU maps to mid-gray.
    let d = read_dicom(&dcm("CT_small.dcm"), 0).unwrap();
    let img = image::open(&windowed).unwrap().to_luma8();
    for (i, &v) in d.modality.iter().enumerate().step_by(97) {
        let want = (((v as f64 - 39.5) / 399.0 + 0.5).clamp(0.0, 1.0) * 255.0).round() as i32;
        let got = img.as_raw()[i] as i32;
        assert!((got - want).abs() <= 1, "pixel {i}: {got} vs {want}");
    }
    let got = npy::read_f32(&npy_out).unwrap();
    let want = npy::read_f32(&dcm("expected/CT_small.dcm.npy")).unwrap();
    assert_eq!(got, want);
    let png = image::open(&png_out).unwrap();
    assert_eq!((png.width(), png.height()), (128, 128));
    let o = crate::support::explain_cpu("attention")
        .args(["--json", "--image"])
        .arg(dcm("CT_small.dcm"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(bin)
        .arg("convert")
        .arg(dcm("JPEG2000.dcm"))
        .arg("--out")
        .arg(tmp("x.png"))
        .output()
        .unwrap();
    let se = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(se.contains("JPEG 2000") && !se.contains("panicked"), "{se}");
}
