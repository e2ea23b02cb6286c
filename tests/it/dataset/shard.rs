//! Sharded `eval` (`../shared/specs/scale-out.md`): N shards merged are, file for file and byte
//! for byte, what one unsharded run writes — on a phantom dataset with two checkpoints, for
//! N = 1, 2, 3 and more shards than images, with the faithfulness tests, the sanity checks and
//! the layer sweep too. A set that is incomplete, mixed or changed is refused with nothing
//! written, and a shard resumes where it stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{one_error, scratch, succeeded, vitscope};

/// A phantom dataset of `n` images (with `labels.csv`, so `accuracy.csv` is merged too).
pub(crate) fn phantom(dir: &Path, n: usize) -> PathBuf {
    let ds = dir.join(format!("phantom{n}"));
    if !ds.is_dir() {
        let o = vitscope()
            .args([
                "phantom",
                "--kind",
                "polyp",
                "--seed",
                "3",
                "--n",
                &n.to_string(),
            ])
            .arg("--out")
            .arg(&ds)
            .output()
            .unwrap();
        succeeded(o, "phantom");
    }
    ds
}

/// A second checkpoint: the bundled weights with the classifier's weights negated (other
/// predictions, other class-specific maps).
pub(crate) fn second_checkpoint(dir: &Path) -> PathBuf {
    let out = dir.join("flipped.safetensors");
    if out.is_file() {
        return out;
    }
    let mut bytes = std::fs::read(vitscope::app::demo_dir().join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let head = &header["head.weight"];
    assert_eq!(head["dtype"], "F32", "the bundled classifier is float32");
    let (a, b) = (
        head["data_offsets"][0].as_u64().unwrap() as usize,
        head["data_offsets"][1].as_u64().unwrap() as usize,
    );
    for v in bytes[8 + n + a..8 + n + b].chunks_exact_mut(4) {
        let x = -f32::from_le_bytes(v.try_into().unwrap());
        v.copy_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&out, bytes).unwrap();
    out
}

/// The eval arguments: two checkpoints ("flipped" first, then the bundled one as "demo"),
/// attention and GradCAM, on the CPU.
pub(crate) fn eval_args(dir: &Path, ds: &Path, extra: &[&str]) -> Vec<String> {
    let demo = vitscope::app::demo_dir();
    let mut a: Vec<String> = vec![
        "eval".into(),
        "--device".into(),
        "cpu".into(),
        "--backend".into(),
        "cpu".into(),
        "--methods".into(),
        "attention,gradcam".into(),
        "--dataset".into(),
        ds.display().to_string(),
        "--checkpoint".into(),
        format!("flipped={}", second_checkpoint(dir).display()),
        "--checkpoint".into(),
        format!("demo={}", demo.join("model.safetensors").display()),
        "--config".into(),
        demo.join("config.json").display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(args: &[String], out: &Path, more: &[&str]) -> std::process::Output {
    vitscope()
        .args(args)
        .arg("--out")
        .arg(out)
        .args(more)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap()
}

/// Every report file under `dir` (the map cache and the shard folders left out): relative path
/// → bytes.
pub(crate) fn reports(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if rel == "maps" || rel == "shards" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Every file under `dir`, shard folders included: a refused merge changes none.
fn everything(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The merged files against the unsharded ones: the same names, the same bytes.
pub(crate) fn assert_same_reports(full: &Path, merged: &Path, what: &str) {
    let (a, b) = (reports(full), reports(merged));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: the merge writes the unsharded run's files"
    );
    for (name, bytes) in &a {
        assert!(
            *bytes == b[name],
            "{what}: {name} differs from the unsharded run's"
        );
    }
}

/// Runs every shard of N one after another into `out`, then the merge.
fn shards_then_merge(args: &[String], out: &Path, n: usize) {
    for i in 0..n {
        let o = run(args, out, &["--shard", &format!("{i}/{n}")]);
        let o = succeeded(o, &format!("shard {i}/{n}"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("shard {i}/{n}: finished")),
            "a line a cluster log can read: {err}"
        );
        assert!(
            !err.contains('\u{1b}'),
            "no terminal control codes in a log: {err}"
        );
        assert!(
            !out.join("per_image.csv").exists(),
            "a shard writes no report under OUT"
        );
    }
    let o = vitscope()
        .args(["eval", "merge", "--out"])
        .arg(out)
        .output()
        .unwrap();
    succeeded(o, &format!("merge of {n}"));
}

#[test]
fn shards_merge_into_the_unsharded_files_byte_for_byte() {
    let dir = scratch("shard-merge");
    let ds = phantom(&dir, 7);
    let args = eval_args(&dir, &ds, &[]);
    let full = dir.join("full");
    succeeded(run(&args, &full, &[]), "unsharded eval");
    assert!(full.join("accuracy.csv").is_file());
    for n in [1, 2, 3, 9] {
        let out = dir.join(format!("n{n}"));
        shards_then_merge(&args, &out, n);
        assert_same_reports(&full, &out, &format!("N = {n}"));
        // Each shard's own per_image.csv: the header and the rows of its images only, which
        // together are the unsharded rows.
        let full_csv = std::fs::read_to_string(full.join("per_image.csv")).unwrap();
        let mut lines: Vec<String> = Vec::new();
        for i in 0..n {
            let sdir = out.join(format!("shards/{i}-of-{n}"));
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(sdir.join("manifest.json")).unwrap())
                    .unwrap();
            assert_eq!(m["complete"], true);
            assert_eq!(m["shard"]["count"], n);
            assert_eq!(m["dataset"]["images"], 7);
            let csv = std::fs::read_to_string(sdir.join("per_image.csv")).unwrap();
            let mut it = csv.lines();
            assert_eq!(it.next(), full_csv.lines().next(), "the unsharded header");
            let stems: Vec<&str> = m["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["stem"].as_str().unwrap())
                .collect();
            for l in it {
                let stem = l.split(',').nth(2).unwrap();
                assert!(stems.contains(&stem), "{l} is not of shard {i}");
                lines.push(l.to_string());
            }
        }
        let mut want: Vec<String> = full_csv.lines().skip(1).map(String::from).collect();
        want.sort();
        lines.sort();
        assert_eq!(
            lines, want,
            "N = {n}: the shards' rows are the unsharded rows"
        );
    }
    // More shards than images: two of the nine are empty, and valid.
    let empty = dir.join("n9/shards/8-of-9/manifest.json");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(empty).unwrap()).unwrap();
    assert_eq!(m["images"].as_array().unwrap().len(), 0);
}

#[test]
fn faithfulness_sanity_and_layers_merge_byte_for_byte() {
    let dir = scratch("shard-extras");
    let ds = phantom(&dir, 4);
    let args = eval_args(
        &dir,
        &ds,
        &["--faithfulness", "--sanity", "--layers", "0,3"],
    );
    let full = dir.join("full");
    succeeded(run(&args, &full, &[]), "unsharded eval");
    for f in [
        "faithfulness.csv",
        "sanity.csv",
        "layers.csv",
        "layers_summary.csv",
    ] {
        assert!(full.join(f).is_file(), "{f}");
    }
    for n in [2, 5] {
        let out = dir.join(format!("n{n}"));
        shards_then_merge(&args, &out, n);
        assert_same_reports(&full, &out, &format!("N = {n}, with the extras"));
    }
}

#[test]
fn a_shard_resumes_per_image_and_refuses_another_runs_folder() {
    let dir = scratch("shard-resume");
    let ds = phantom(&dir, 7);
    let args = eval_args(&dir, &ds, &[]);
    let full = dir.join("full");
    succeeded(run(&args, &full, &[]), "unsharded eval");
    let out = dir.join("out");
    shards_then_merge(&args, &out, 2);
    let sdir = out.join("shards/0-of-2");
    let finished = std::fs::read(sdir.join("per_image.csv")).unwrap();
    // As a kill leaves it: one image's records gone, the manifest not complete, the CSV cut
    // in the middle of a line.
    let records: Vec<PathBuf> = std::fs::read_dir(sdir.join("records"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(records.len(), 4);
    std::fs::remove_file(&records[0]).unwrap();
    let mpath = sdir.join("manifest.json");
    let m = std::fs::read_to_string(&mpath).unwrap();
    std::fs::write(
        &mpath,
        m.replace("\"complete\": true", "\"complete\": false"),
    )
    .unwrap();
    std::fs::write(
        sdir.join("per_image.csv"),
        &finished[..finished.len() * 2 / 3],
    )
    .unwrap();
    // The merge refuses the incomplete shard, and writes nothing.
    let before = everything(&out);
    let o = vitscope()
        .args(["eval", "merge", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let e = one_error(&o, "merge of an incomplete shard");
    assert!(e.contains("0-of-2") && e.contains("not complete"), "{e}");
    assert_eq!(everything(&out), before, "a refused merge changes nothing");
    // The re-run computes only the missing image.
    let o = succeeded(run(&args, &out, &["--shard", "0/2"]), "resumed shard");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("4 images (3 resumed)"), "{err}");
    assert_eq!(
        std::fs::read(sdir.join("per_image.csv")).unwrap(),
        finished,
        "the resumed shard's per_image.csv"
    );
    let o = vitscope()
        .args(["eval", "merge", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    succeeded(o, "merge after resuming");
    assert_same_reports(&full, &out, "after resuming");
    // A shard folder of other options is never mixed: the run is refused and changes nothing.
    let before = everything(&out);
    let o = run(&args, &out, &["--shard", "1/2", "--top", "5,10"]);
    let e = one_error(&o, "a shard of other options");
    assert!(e.contains("1-of-2") && e.contains("options"), "{e}");
    assert_eq!(everything(&out), before);
}

/// The first file of a folder.
fn first_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
}

#[test]
fn the_merge_refuses_incomplete_mixed_or_changed_shard_sets() {
    let dir = scratch("shard-refusals");
    let ds = phantom(&dir, 7);
    let args = eval_args(&dir, &ds, &[]);
    let base = dir.join("base");
    shards_then_merge(&args, &base, 3);
    let copy = |name: &str| {
        let to = dir.join(name);
        let _ = std::fs::remove_dir_all(&to);
        let o = std::process::Command::new("cp")
            .arg("-r")
            .arg(&base)
            .arg(&to)
            .output()
            .unwrap();
        assert!(o.status.success());
        // Without the merged reports: a refused merge must not write them.
        for (f, _) in reports(&to) {
            std::fs::remove_file(to.join(f)).unwrap();
        }
        to
    };
    let refused = |out: &Path, says: &[&str], what: &str| {
        let before = everything(out);
        let o = vitscope()
            .args(["eval", "merge", "--out"])
            .arg(out)
            .output()
            .unwrap();
        let e = one_error(&o, what);
        for s in says {
            assert!(e.contains(s), "{what}: {e}");
        }
        assert_eq!(
            everything(out),
            before,
            "{what}: a refused merge writes nothing"
        );
        assert!(!out.join("per_image.csv").exists());
    };
    let missing = copy("missing");
    std::fs::remove_dir_all(missing.join("shards/1-of-3")).unwrap();
    refused(&missing, &["1-of-3", "missing"], "a missing shard");

    let other_n = copy("other-n");
    succeeded(run(&args, &other_n, &["--shard", "0/2"]), "shard 0/2");
    refused(&other_n, &["2", "3"], "a shard of another N");

    let changed = dir.join("changed");
    for i in [0, 2] {
        succeeded(
            run(&args, &changed, &["--shard", &format!("{i}/3")]),
            "shard",
        );
    }
    succeeded(
        run(&args, &changed, &["--shard", "1/3", "--top", "5,10"]),
        "shard 1 with other options",
    );
    refused(&changed, &["options"], "shards of changed options");

    let renamed = copy("renamed");
    std::fs::rename(renamed.join("shards/2-of-3"), renamed.join("shards/tmp")).unwrap();
    std::fs::rename(renamed.join("shards/1-of-3"), renamed.join("shards/2-of-3")).unwrap();
    std::fs::rename(renamed.join("shards/tmp"), renamed.join("shards/1-of-3")).unwrap();
    refused(
        &renamed,
        &["names shard"],
        "a folder whose manifest names another shard",
    );

    let stray = copy("stray");
    let r0 = stray.join("shards/0-of-3/records");
    let first: PathBuf = first_file(&r0);
    let r1 = stray.join("shards/1-of-3/records");
    let other: PathBuf = first_file(&r1);
    std::fs::copy(&other, &first).unwrap();
    refused(
        &stray,
        &["does not list"],
        "a record of an image the shard does not list",
    );

    let corrupt = copy("corrupt");
    let r = corrupt.join("shards/2-of-3/records");
    let f: PathBuf = first_file(&r);
    std::fs::write(&f, b"(rows: [").unwrap();
    refused(&corrupt, &["records"], "a cut records file");

    let empty = dir.join("no-shards");
    std::fs::create_dir_all(&empty).unwrap();
    refused(&empty, &["shard"], "no shard at all");
}

#[test]
fn bad_shard_arguments_are_refused_before_any_work() {
    let dir = scratch("shard-args");
    let ds = phantom(&dir, 7);
    let args = eval_args(&dir, &ds, &[]);
    let out = dir.join("out");
    for (spec, says) in [
        ("3/3", "--shard 3/3"),
        ("1/0", "--shard 1/0"),
        ("x", "--shard x"),
        ("auto", "SLURM_ARRAY_TASK_ID"),
        ("auto/3", "JOB_COMPLETION_INDEX"),
    ] {
        let e = one_error(&run(&args, &out, &["--shard", spec]), spec);
        assert!(e.contains(says), "{spec}: {e}");
        assert!(!out.exists(), "{spec}: nothing written");
    }
    // Slurm's variables of an array with gaps (--array=0,2,5).
    let o = vitscope()
        .args(&args)
        .arg("--out")
        .arg(&out)
        .args(["--shard", "auto"])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_MAX", "5")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    let e = one_error(&o, "--array=0,2,5");
    assert!(e.contains("SLURM_ARRAY_TASK_COUNT = 3"), "{e}");
    assert!(!out.exists());
    // A Kubernetes index.
    let o = vitscope()
        .args(&args)
        .arg("--out")
        .arg(&out)
        .args(["--shard", "auto/2"])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    let o = succeeded(o, "JOB_COMPLETION_INDEX=1");
    assert!(String::from_utf8_lossy(&o.stderr).contains("shard 1/2: finished"));
    assert!(out.join("shards/1-of-2/manifest.json").is_file());
}

/// The Kubernetes example as a pod runs it: its container command, with the volume's paths
/// pointed at a phantom dataset and two checkpoints, as pod 1 of its Indexed Job
/// (`JOB_COMPLETION_INDEX=1`), writes shard 1 of the Job's `completions`.
#[test]
fn the_kubernetes_example_command_runs_as_an_indexed_pod() {
    let dir = scratch("shard-k8s");
    let ds = phantom(&dir, 5);
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/k8s/eval-job.yaml"),
    )
    .unwrap();
    assert!(yaml.contains("completionMode: Indexed"));
    let completions: usize = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions:"))
        .and_then(|v| v.split('#').next()?.trim().parse().ok())
        .expect("completions: N");
    // The container's command: the list items after `command:`, up to the next key.
    let mut command: Vec<String> = Vec::new();
    let mut inside = false;
    for l in yaml.lines() {
        let t = l.trim();
        if t == "command:" {
            inside = true;
        } else if inside && t.starts_with("- ") {
            let item = t[2..].split(" #").next().unwrap().trim();
            command.push(item.to_string());
        } else if inside && !t.starts_with('#') && !t.is_empty() {
            break;
        }
    }
    assert_eq!(command.first().map(String::as_str), Some("vitscope"));
    assert!(
        command.contains(&format!("--shard=auto/{completions}")),
        "--shard=auto/N names the Job's completions: {command:?}"
    );
    let ckpt = dir.join("ckpt");
    std::fs::create_dir_all(&ckpt).unwrap();
    let demo = vitscope::app::demo_dir().join("model.safetensors");
    std::fs::copy(&demo, ckpt.join("supervised.safetensors")).unwrap();
    std::fs::copy(second_checkpoint(&dir), ckpt.join("dino.safetensors")).unwrap();
    let out = dir.join("out");
    let args: Vec<String> = command[1..]
        .iter()
        .map(|a| {
            a.replace("/work/data/mura", &ds.display().to_string())
                .replace("/work/ckpt", &ckpt.display().to_string())
                .replace("/work/out", &out.display().to_string())
        })
        .collect();
    let o = vitscope()
        .args(&args)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    let o = succeeded(o, "the example's command");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("shard 1/{completions}: finished"))
    );
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join(format!("shards/1-of-{completions}/manifest.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(m["complete"], true);
    assert_eq!(m["checkpoints"].as_array().unwrap().len(), 2);
}
