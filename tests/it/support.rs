//! Shared helpers of the integration tests: the reference fixtures and comparisons.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use vitscope::io::image::read_image;
use vitscope::model::preprocess::{Normalization, ResizeMode, prepare};
use vitscope::model::{LoadOptions, Vit, load_vit};

/// `../shared/fixtures/reference`, or `$VITSCOPE_REFERENCE`.
pub fn reference_dir() -> PathBuf {
    std::env::var_os("VITSCOPE_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run under cargo"))
                .join("../shared/fixtures/reference")
        })
}

pub fn reference(name: &str) -> PathBuf {
    let p = reference_dir().join(name);
    assert!(p.exists(), "reference fixture {} is missing", p.display());
    p
}

/// A tensor of `expected.safetensors`: (shape, values).
pub fn expected(key: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes =
        std::fs::read(reference("expected.safetensors")).expect("read expected.safetensors");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("parse expected.safetensors");
    let t = st.tensor(key).unwrap_or_else(|_| panic!("no key {key}"));
    let data = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (t.shape().to_vec(), data)
}

pub fn load_reference_model(device: &Device) -> Vit {
    let opts = LoadOptions {
        config_file: Some(reference("config.json")),
        ..Default::default()
    };
    let (vit, report) = load_vit(&reference("weights.safetensors"), &opts, device).expect("load");
    assert!(report.missing.is_empty(), "missing: {:?}", report.missing);
    assert!(report.unused.is_empty(), "unused: {:?}", report.unused);
    vit
}

pub fn reference_input(device: &Device) -> Tensor<4> {
    let img = read_image(&reference("image.png")).expect("image");
    prepare(&img, 224, ResizeMode::Resize, &Normalization::default()).tensor(device)
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().map(|v| v.abs()).fold(0.0, f32::max)
}

/// `max |a - b| / max |b|`: the error relative to the reference's largest magnitude.
pub fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    max_abs_diff(a, b) / max_abs(b)
}

/// Asserts [`rel_err`] `<= tol` (and equal lengths), printing the error.
pub fn assert_rel(name: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let e = rel_err(got, want);
    eprintln!("{name}: relative error {e:.2e}");
    assert!(e <= tol, "{name}: relative error {e:.3e} > {tol:.0e}");
}

/// Asserts `max |a - b| <= tol`, reporting the error.
pub fn assert_close(name: &str, a: &[f32], b: &[f32], tol: f32) {
    let d = max_abs_diff(a, b);
    eprintln!("{name}: max abs diff {d:.3e} (tolerance {tol:.1e})");
    assert!(d <= tol, "{name}: max abs diff {d} > {tol}");
}

/// A scratch folder `$TMPDIR/vitscope-<tag>-<pid>` for this test process. The first call also
/// removes the scratch folders of earlier test processes that have ended, so a failed run's files
/// stay for inspection until the next run and nothing piles up.
pub fn scratch(tag: &str) -> PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    let tmp = std::env::temp_dir();
    SWEEP.call_once(|| {
        // Liveness is read from /proc: elsewhere nothing is swept.
        if !std::path::Path::new("/proc/self").exists() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&tmp) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("vitscope-")
                .and_then(|rest| rest.rsplit('-').next())
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid
                && pid != std::process::id()
                && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    let dir = tmp.join(format!("vitscope-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// `vitscope explain --method METHOD --device cpu`, ready for more arguments.
pub fn explain_cpu(method: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vitscope"));
    c.args(["explain", "--method", method, "--device", "cpu"]);
    c
}

/// A safetensors file of f32 tensors (name, shape, values), as the reference files are written.
pub fn safetensors_bytes(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let raw: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(k, s, v)| {
            (
                k.clone(),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = raw
        .iter()
        .map(|(k, s, b)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// Every f32 tensor of a safetensors file: (name, shape, values), sorted by name.
pub fn safetensors_f32(path: &std::path::Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<usize>, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            let vals = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (k, v.shape().to_vec(), vals)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The logits of `x` (`[1, 3, H, W]`) by the plain-buffer CPU pass ([`Vit::forward_cpu`]), run
/// on a batch of three: `x`, `x` with its left half set to zero, and `x` again, so that rows
/// shared between images are computed once. Checks that the two copies of `x` agree and that
/// the half-zeroed image gets the tensor path's logits (within `tol`, relative), and returns
/// the logits of `x`.
pub fn forward_cpu_batched(name: &str, vit: &Vit, x: &Tensor<4>, tol: f32) -> Vec<f32> {
    let [_, c, h, w] = x.dims();
    let one: Vec<f32> = x.clone().into_data().try_into_vec().unwrap();
    let mut half = one.clone();
    for (i, v) in half.iter_mut().enumerate() {
        if i % w < w / 2 {
            *v = 0.0;
        }
    }
    let batch = [one.clone(), half.clone(), one].concat();
    let out = vit.forward_cpu(&batch, 3, h, w);
    let k = out.len() / 3;
    assert_eq!(
        &out[..k],
        &out[2 * k..],
        "{name}: the same image twice in a batch"
    );
    let half_t = Tensor::<4>::from_data(
        burn::tensor::TensorData::new(half, [1, c, h, w]),
        &x.device(),
    );
    let want: Vec<f32> = vit.forward(half_t).into_data().try_into_vec().unwrap();
    assert_rel(
        &format!("{name}: half-zeroed image, plain-buffer pass against the tensor path"),
        &out[k..2 * k],
        &want,
        tol,
    );
    out[..k].to_vec()
}

/// Every file below `dir` with its bytes (sorted by path): what "changes nothing" is checked
/// against.
pub fn tree(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

/// A small file system for the failing-save tests: a tmpfs of `size` mounted at a folder (as
/// root, as CI runs), unmounted on drop. Where mounting is not allowed, a plain folder whose
/// "full" and "read-only" states are both made with `chattr +i` (no file can be created in it,
/// so a save fails there as on a full or read-only disk).
pub struct Tmpfs {
    pub path: PathBuf,
    mounted: bool,
    immutable: std::cell::Cell<bool>,
}

impl Tmpfs {
    pub fn mount(at: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!(
                "no tmpfs at {} (mounting needs root): a plain folder made immutable stands for a full or read-only disk",
                at.display()
            );
        }
        Tmpfs {
            path: at.to_path_buf(),
            mounted,
            immutable: std::cell::Cell::new(false),
        }
    }

    fn chattr(&self, flag: &str) {
        let ok = std::process::Command::new("chattr")
            .arg(flag)
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "neither a tmpfs mount nor chattr {flag} works at {}: the failing-save tests need root",
            self.path.display()
        );
    }

    /// Makes the folder read-only (a read-only remount, else `chattr +i`).
    pub fn read_only(&self) {
        if self.mounted {
            let ok = std::process::Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(&self.path)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "remount {} read-only", self.path.display());
        } else {
            self.chattr("+i");
            self.immutable.set(true);
        }
    }

    /// Fills it until at most `leave` bytes are free (without a tmpfs: makes it immutable).
    pub fn fill(&self, leave: u64) {
        use std::io::Write;
        if !self.mounted {
            self.read_only();
            return;
        }
        let mut f = std::fs::File::create(self.path.join("filler")).unwrap();
        let chunk = vec![0xA5u8; 4096];
        loop {
            let out = std::process::Command::new("df")
                .args(["-B1", "--output=avail"])
                .arg(&self.path)
                .output()
                .unwrap();
            let avail: u64 = String::from_utf8_lossy(&out.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse().ok())
                .unwrap();
            if avail <= leave || f.write_all(&chunk).is_err() {
                break;
            }
            let _ = f.flush();
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if self.immutable.get() {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.path)
                .status();
        }
        if self.mounted {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.path)
                .status();
        }
    }
}

/// A copy of the bundled demo project (images, masks, model) in `to`; returns its project file.
pub fn copy_demo(to: &std::path::Path) -> PathBuf {
    let src = vitscope::app::demo_dir();
    for sub in ["images", "masks"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    for f in ["project.ron", "model.safetensors", "config.json"] {
        std::fs::copy(src.join(f), to.join(f)).unwrap();
    }
    to.join("project.ron")
}

/// The one `error:` line of a refused command: exit 1, no panic.
pub fn one_error(out: &std::process::Output, what: &str) -> String {
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: exit status\n{e}");
    let lines: Vec<&str> = e.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{what}: one error line expected:\n{e}");
    assert!(!e.contains("panicked"), "{what}: {e}");
    assert!(
        repeated_tail(lines[0]).is_none(),
        "{what}: the error repeats itself: {}",
        lines[0]
    );
    lines[0].to_string()
}

/// The part of an error line said twice in a row at its end (`a: b: b`), if any: a cause
/// printed both inside its error's message and again as its source.
pub fn repeated_tail(line: &str) -> Option<&str> {
    line.match_indices(": ").find_map(|(i, _)| {
        let tail = &line[i + 2..];
        (tail.len() > 3 && line[..i].ends_with(tail)).then_some(tail)
    })
}

/// The binary, without the PACS settings of the environment it runs in.
pub fn vitscope() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vitscope"));
    for k in [
        "VITSCOPE_PACS_URL",
        "VITSCOPE_PACS_TOKEN",
        "VITSCOPE_PACS_USER",
        "VITSCOPE_PACS_PASSWORD",
        "VITSCOPE_PACS_CA",
        "VITSCOPE_PACS_TIMEOUT",
        "VITSCOPE_PACS_MAX_INSTANCE",
        "VITSCOPE_PACS_MAX_STUDY",
    ] {
        c.env_remove(k);
    }
    c
}

/// Reads an HTTP request's head (up to the blank line) from a test server's connection.
pub fn read_request_head(s: &mut impl std::io::Read) -> Vec<u8> {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    req
}

/// A command's output, which must be a success (its stderr in the failure message).
pub fn succeeded(out: std::process::Output, what: &str) -> std::process::Output {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A primary click at `p`, pointer moved there first, as a user clicks (kittest harnesses).
pub fn click_at<State>(h: &mut egui_kittest::Harness<'_, State>, p: eframe::egui::Pos2) {
    use eframe::egui;
    h.hover_at(p);
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: p,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
}
