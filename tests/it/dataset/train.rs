//! `vitscope train` end to end on a tiny model: it learns a separable set, writes a checkpoint
//! that `explain` loads, keeps its history, and resumes where it stopped.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitscope"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "failed: {se}");
    se
}

/// Bright squares (label 1) and dark squares (label 0) at 32×32: a set any model must learn.
fn separable_set(dir: &Path) {
    std::fs::create_dir_all(dir.join("images")).unwrap();
    let mut csv = String::from("image,label,x0,y0,x1,y1\n");
    for i in 0..24u32 {
        let label = i % 2;
        let img = image::RgbImage::from_fn(32, 32, |x, y| {
            let noise = ((x * 7 + y * 13 + i * 31) % 17) as u8;
            let inside = (8..24).contains(&x) && (8..24).contains(&y);
            let v = if inside && label == 1 { 220 } else { 40 } + noise;
            image::Rgb([v, v / 2, v / 3])
        });
        let name = format!("s{i:02}.png");
        img.save(dir.join("images").join(&name)).unwrap();
        if label == 1 {
            csv.push_str(&format!("{name},1,8,8,24,24\n"));
        } else {
            csv.push_str(&format!("{name},0,,,,\n"));
        }
    }
    std::fs::write(dir.join("labels.csv"), csv).unwrap();
}

fn history(out: &Path) -> Vec<Vec<f64>> {
    let mut p = out.as_os_str().to_owned();
    p.push(".train/history.csv");
    std::fs::read_to_string(PathBuf::from(p))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn trains_saves_loads_and_resumes() {
    let dir = crate::support::scratch("train");
    let _ = std::fs::remove_dir_all(&dir);
    separable_set(&dir);
    let out = dir.join("tiny.safetensors");
    let train = |epochs: &str, resume: bool| {
        let mut c = bin();
        c.args([
            "train", "--img", "32", "--patch", "16", "--dim", "32", "--depth", "1",
        ])
        .args([
            "--heads",
            "2",
            "--batch",
            "8",
            "--lr",
            "1e-3",
            "--val-split",
            "0.25",
        ])
        .args(["--patience", "100", "--warmup", "1", "--clip-grad", "5"])
        .args(["--device", "cpu", "--epochs", epochs, "--data"])
        .arg(&dir)
        .arg("--out")
        .arg(&out);
        if resume {
            c.arg("--resume");
        }
        run(&mut c)
    };
    train("8", false);
    let h = history(&out);
    assert_eq!(h.len(), 8);
    // Columns: epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds.
    assert!(h[7][1] < h[0][1] * 0.7, "training loss did not fall: {h:?}");
    assert!(
        h.iter().any(|r| r[4] == 1.0),
        "never separated the validation set: {h:?}"
    );
    // Resume: two more epochs, history continues.
    let log = train("10", true);
    assert!(log.contains("resuming after epoch 8"), "{log}");
    let h = history(&out);
    assert_eq!(h.len(), 10);
    assert_eq!(h[9][0], 10.0);
    // The best checkpoint loads back into explain with its config.
    let se = run(bin()
        .args(["explain", "--method", "chefer", "--device", "cpu", "--json"])
        .arg("--weights")
        .arg(&out)
        .arg("--config")
        .arg(out.with_extension("json"))
        .arg("--image")
        .arg(dir.join("images/s01.png")));
    assert!(
        se.contains("dim 32 depth 1 heads 2 patch 16 img 32 classes 2"),
        "{se}"
    );
}
