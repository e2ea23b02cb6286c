//! A corpus of bad input fed to the binary: each case ends with exit status 1 and an `error:` line
//! that names the offending file, never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitscope"))
}

fn corpus_dir(case: &str) -> PathBuf {
    let d = crate::support::scratch(&format!("bad-{case}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Runs and checks the failure; returns the `error:` line.
fn fails_naming(cmd: &mut Command, names: &Path) -> String {
    let out = cmd.output().unwrap();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "expected exit 1: {se}");
    assert!(!se.contains("panicked"), "panic: {se}");
    let name = names.file_name().unwrap().to_string_lossy().into_owned();
    se.lines()
        .find(|l| l.starts_with("error: ") && l.contains(&name))
        .unwrap_or_else(|| panic!("no error line naming {name}: {se}"))
        .to_string()
}

fn write(p: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(p, bytes).unwrap();
    p.to_path_buf()
}

fn good_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn corrupt_and_truncated_images_and_dicoms() {
    let d = corpus_dir("images");
    let png = good_png();
    let dcm = std::fs::read(data("dicom/CT_small.dcm")).unwrap();
    let cases = [
        write(&d.join("truncated.png"), &png[..png.len() / 3]),
        write(
            &d.join("garbage.jpg"),
            b"\xff\xd8\xff\xe0 this is not a jpeg at all",
        ),
        write(&d.join("empty.png"), b""),
        write(&d.join("truncated.dcm"), &dcm[..dcm.len() / 2]),
        write(&d.join("header_only.dcm"), &dcm[..400]),
    ];
    for f in &cases {
        let line = fails_naming(
            crate::support::explain_cpu("attention")
                .arg("--image")
                .arg(f),
            f,
        );
        assert!(line.len() > 20, "{line}");
        fails_naming(
            bin()
                .arg("convert")
                .arg(f)
                .arg("--out")
                .arg(d.join("o.npy")),
            f,
        );
    }
    // An unsupported transfer syntax names the syntax.
    let j2k = data("dicom/JPEG2000.dcm");
    let line = fails_naming(
        bin()
            .arg("convert")
            .arg(&j2k)
            .arg("--out")
            .arg(d.join("o.png")),
        &j2k,
    );
    assert!(line.contains("1.2.840.10008.1.2.4.9"), "{line}");
}

#[test]
fn bad_datasets() {
    let d = corpus_dir("datasets");
    // An empty dataset.
    let empty = d.join("empty");
    std::fs::create_dir_all(empty.join("images")).unwrap();
    std::fs::create_dir_all(empty.join("masks")).unwrap();
    fails_naming(
        bin()
            .args(["eval", "--dataset"])
            .arg(&empty)
            .arg("--out")
            .arg(d.join("out1")),
        &empty.join("images"),
    );
    write(&empty.join("labels.csv"), b"image,label,x0,y0,x1,y1\n");
    fails_naming(
        bin()
            .args(["train", "--epochs", "1", "--device", "cpu", "--data"])
            .arg(&empty)
            .arg("--out")
            .arg(d.join("m.safetensors")),
        &empty.join("labels.csv"),
    );
    // A label CSV naming a missing file.
    let missing = d.join("missing");
    std::fs::create_dir_all(missing.join("images")).unwrap();
    write(&missing.join("images/a.png"), &good_png());
    write(
        &missing.join("labels.csv"),
        b"image,label,x0,y0,x1,y1\na.png,0,,,,\nghost.png,1,1,1,5,5\n",
    );
    let line = fails_naming(
        bin()
            .args(["train", "--epochs", "1", "--device", "cpu", "--data"])
            .arg(&missing)
            .arg("--out")
            .arg(d.join("m.safetensors")),
        &missing.join("labels.csv"),
    );
    assert!(
        line.contains("ghost.png") && line.contains("line 3"),
        "{line}"
    );
    // A mask of the wrong size.
    let wrong = d.join("wrong");
    std::fs::create_dir_all(wrong.join("images")).unwrap();
    std::fs::create_dir_all(wrong.join("masks")).unwrap();
    write(&wrong.join("images/a.png"), &good_png());
    image::GrayImage::new(20, 10)
        .save(wrong.join("masks/a.png"))
        .unwrap();
    let map = d.join("map.npy");
    vitscope::io::npy::write_f32(&map, &[32, 32], &vec![0.5; 32 * 32]).unwrap();
    let line = fails_naming(
        bin()
            .arg("metrics")
            .arg("--map")
            .arg(&map)
            .arg("--mask")
            .arg(wrong.join("masks/a.png")),
        &wrong.join("masks/a.png"),
    );
    assert!(line.contains("20") && line.contains("32"), "{line}");
    let line = fails_naming(
        bin()
            .args(["eval", "--dataset"])
            .arg(&wrong)
            .arg("--out")
            .arg(d.join("out2")),
        &wrong.join("masks/a.png"),
    );
    assert!(line.contains("20") && line.contains("32"), "{line}");
}

#[test]
fn a_truncated_checkpoint_names_the_file() {
    let d = corpus_dir("checkpoints");
    let image = write(&d.join("ok.png"), &good_png());
    for name in ["micro_timm.safetensors", "micro_timm.pth"] {
        let bytes = std::fs::read(data(name)).unwrap();
        let cut = write(&d.join(format!("cut_{name}")), &bytes[..bytes.len() / 2]);
        fails_naming(
            bin()
                .args(["explain", "--method", "attention", "--device", "cpu"])
                .arg("--weights")
                .arg(&cut)
                .arg("--image")
                .arg(&image),
            &cut,
        );
    }
}
