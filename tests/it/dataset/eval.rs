//! `vitscope eval` on a small dataset in the paper's layout: reports, resumable map cache, and
//! precomputed maps scored to the reference values.

use std::process::Command;

use crate::support::*;
use vitscope::io::npy;

#[test]
fn eval_writes_reports_and_uses_precomputed_maps() {
    let root = scratch("eval");
    let (images, masks, out) = (root.join("images"), root.join("masks"), root.join("out"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    std::fs::copy(reference("image.png"), images.join("pos.png")).unwrap();
    std::fs::copy(reference("mask_kvasir.png"), masks.join("pos.png")).unwrap();
    std::fs::copy(reference("image.png"), images.join("neg.png")).unwrap();
    image::GrayImage::new(224, 224)
        .save(masks.join("neg.png"))
        .unwrap();
    // A precomputed map for checkpoint "ref", method chefer: the reference chefer_224.
    // Labels: `pos` carries the class the reference model predicts (argmax of the fixture's
    // logits), `neg` another class, so the accuracy must be exactly one of two.
    let logits = expected("logits").1;
    let pred = (0..logits.len())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap();
    let other = (pred + 1) % logits.len();
    std::fs::write(
        root.join("labels.csv"),
        format!("image,label,x0,y0,x1,y1\npos.png,{pred},,,,\nneg.png,{other},,,,\n"),
    )
    .unwrap();
    let cached = out.join("maps/ref/chefer/pos.npy");
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    npy::write_f32(&cached, &[224, 224], &expected("chefer_224").1).unwrap();

    let run = || {
        let o = Command::new(env!("CARGO_BIN_EXE_vitscope"))
            .args([
                "eval",
                "--device",
                "cpu",
                "--backend",
                "cpu",
                "--methods",
                "chefer,attention",
            ])
            .arg("--dataset")
            .arg(&root)
            .arg("--checkpoint")
            .arg(format!(
                "ref={}",
                reference("weights.safetensors").display()
            ))
            .arg("--config")
            .arg(reference("config.json"))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let md = run();
    assert!(md.contains("| chefer | ref | 1 |"), "{md}");
    // The attention map was computed and cached; it equals the reference attention map.
    let att = npy::read_f32(&out.join("maps/ref/attention/pos.npy")).unwrap();
    assert_close(
        "eval attention",
        &att.data,
        &expected("attention_224").1,
        1e-4,
    );
    assert!(
        !out.join("maps/ref/chefer/neg.npy").exists(),
        "negatives are not scored"
    );

    let per = std::fs::read_to_string(out.join("per_image.csv")).unwrap();
    let recs: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(reference("metrics.json")).unwrap()).unwrap();
    let want = |map: &str, metric: &str, top: f64| {
        recs.iter()
            .find(|r| {
                r["map"] == map
                    && r["mask"] == "mask_kvasir.png"
                    && r["metric"] == metric
                    && r["top_perc"].as_f64() == Some(top)
            })
            .unwrap()["value"]
            .as_f64()
            .unwrap()
    };
    let header: Vec<&str> = per.lines().next().unwrap().split(',').collect();
    for (map, method) in [("chefer_224", "chefer"), ("attention_224", "attention")] {
        let row: Vec<&str> = per
            .lines()
            .find(|l| l.starts_with(&format!("ref,{method},pos,mask,")))
            .unwrap()
            .split(',')
            .collect();
        for top in [5.0, 10.0, 20.0, 40.0] {
            for metric in ["iou_rect", "iou_binary"] {
                let col = header
                    .iter()
                    .position(|h| *h == format!("{metric}@{top}"))
                    .unwrap();
                let got: f64 = row[col].parse().unwrap();
                assert!(
                    (got - want(map, metric, top)).abs() < 1e-6,
                    "{map} {metric}@{top}"
                );
            }
        }
    }
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 2 * 2);
    let acc = std::fs::read_to_string(out.join("accuracy.csv")).unwrap();
    assert!(acc.lines().any(|l| l.starts_with("ref,2,1,0.5")), "{acc}");
    assert!(md.contains("| ref | 2 | 50.0 % |"), "{md}");
    // A rerun resumes from the cache and gives the same report.
    assert_eq!(run(), md);
}

#[test]
fn eval_rejects_bad_layouts() {
    let root = scratch("eval-bad");
    std::fs::create_dir_all(root.join("images")).unwrap();
    std::fs::create_dir_all(root.join("masks")).unwrap();
    std::fs::copy(reference("image.png"), root.join("images/x.png")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_vitscope"))
        .args(["eval", "--device", "cpu", "--dataset"])
        .arg(&root)
        .output()
        .unwrap();
    let se = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{se}");
    assert!(se.contains("x.png") && se.contains("no mask"), "{se}");
}

#[test]
fn eval_reads_a_workbench_project() {
    let out = scratch("eval-project");
    let _ = std::fs::remove_dir_all(&out);
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/project.ron");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vitscope"))
        .args([
            "eval",
            "--methods",
            "attention",
            "--device",
            "cpu",
            "--backend",
            "cpu",
            "--dataset",
        ])
        .arg(&project)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let se = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{se}");
    // Four images carry masks and one only a box (scored through a mask of its box); the
    // unannotated one is left out.
    assert!(se.contains("of 5 images"), "{se}");
    let boxed = out.join("project_masks/polyp_00008.png");
    let m = vitscope::io::mask::read_mask(&boxed).unwrap();
    assert_eq!(m.count(), (216 - 175) * (74 - 32));
    let rows = std::fs::read_to_string(out.join("per_image.csv")).unwrap();
    // One row per image for the mask and one for its bounding box.
    assert_eq!(
        rows.lines().filter(|l| l.contains(",attention,")).count(),
        10
    );
}

/// The records of `../shared/fixtures/faithfulness/results.json`.
fn faith_records() -> Vec<serde_json::Value> {
    let path = reference_dir().join("../faithfulness/results.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("results.json is a list")
}

/// The fixture's value of (test, method, map class, step or layer, metric) and the tolerance
/// its README allows a similarity: the larger of `floor` and 3 × `ref_spread`.
fn fixture_value(
    recs: &[serde_json::Value],
    test: &str,
    method: &str,
    layer: Option<&str>,
    metric: &str,
    floor: f64,
) -> (f64, f64) {
    let r = recs
        .iter()
        .find(|r| {
            r["test"] == test
                && r["method"] == method
                && r["class"] == 1
                && r["metric"] == metric
                && layer.is_none_or(|l| r["layer"] == l)
                && (layer.is_some() || r["step"].is_null())
        })
        .unwrap_or_else(|| panic!("no fixture record {test} {method} {layer:?} {metric}"));
    let spread = r["ref_spread"].as_f64().unwrap_or(0.0);
    (
        r["value"].as_f64().expect("a value"),
        floor.max(3.0 * spread),
    )
}

#[test]
fn eval_faithfulness_and_sanity_match_the_reference_fixtures() {
    let root = scratch("eval-faith");
    let _ = std::fs::remove_dir_all(&root);
    let (images, masks, out) = (root.join("images"), root.join("masks"), root.join("out"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    for (stem, mask) in [("a", "mask_kvasir.png"), ("b", "mask_cpchild.png")] {
        std::fs::copy(reference("image.png"), images.join(format!("{stem}.png"))).unwrap();
        std::fs::copy(reference(mask), masks.join(format!("{stem}.png"))).unwrap();
    }
    let o = Command::new(env!("CARGO_BIN_EXE_vitscope"))
        .args(["eval", "--backend", "cpu", "--methods", "attention,gradcam"])
        .args(["--faithfulness", "--sanity", "--target", "1", "--dataset"])
        .arg(&root)
        .arg("--checkpoint")
        .arg(format!(
            "ref={}",
            reference("weights.safetensors").display()
        ))
        .arg("--config")
        .arg(reference("config.json"))
        .args(["--device", "cpu", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recs = faith_records();
    // Per image: the AUCs of the reference's perturbation loop and RISE's games, for the
    // class-1 map (the image is the fixture's image, so both rows carry the same values).
    let csv = std::fs::read_to_string(out.join("faithfulness.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "checkpoint,method,image,perturb_pos_auc,perturb_neg_auc,deletion_auc,insertion_auc"
    );
    assert_eq!(lines.len(), 1 + 2 * 2);
    let mut checked = 0;
    for line in &lines[1..] {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 7, "{line}");
        let method = f[1];
        for (col, (test, metric)) in [
            ("perturb-pos", "prob_auc"),
            ("perturb-neg", "prob_auc"),
            ("deletion", "auc"),
            ("insertion", "auc"),
        ]
        .into_iter()
        .enumerate()
        {
            let got: f64 = f[3 + col].parse().unwrap();
            let (want, _) = fixture_value(&recs, test, method, None, metric, 0.0);
            assert!(
                (got - want).abs() < 2e-5,
                "{method} {test}: eval {got} vs reference {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
    // Sanity: every cascade step and the random-logit test (GradCAM; attention is not
    // class-specific) against the fixture's similarities.
    let sanity = std::fs::read_to_string(out.join("sanity.csv")).unwrap();
    let rows: Vec<Vec<&str>> = sanity
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(
        sanity.lines().next(),
        Some("checkpoint,method,image,test,spearman,spearman_abs,ssim")
    );
    assert_eq!(rows.len(), 2 * 7 + 2 * (7 + 1), "{sanity}");
    let layers = [
        "head", "norm", "blocks.3", "blocks.2", "blocks.1", "blocks.0", "embed",
    ];
    for method in ["attention", "gradcam"] {
        for stem in ["a", "b"] {
            let tests: Vec<&str> = rows
                .iter()
                .filter(|r| r[1] == method && r[2] == stem)
                .map(|r| r[3])
                .collect();
            let mut want: Vec<&str> = Vec::new();
            if method == "gradcam" {
                want.push("random-logit");
            }
            want.extend(layers);
            assert_eq!(tests, want, "{method} {stem}");
        }
    }
    for r in &rows {
        let method = r[1];
        let (test, layer) = match r[3] {
            "random-logit" => ("random-logit", None),
            l => ("cascade", Some(l)),
        };
        for (i, metric) in ["spearman", "spearman_abs", "ssim"].into_iter().enumerate() {
            let got: f64 = r[4 + i].parse().unwrap_or_else(|_| panic!("{r:?}"));
            let (want, tol) = fixture_value(&recs, test, method, layer, metric, 2e-5);
            assert!(
                (got - want).abs() <= tol,
                "{method} {} {metric}: eval {got} vs reference {want} (tolerance {tol:e})",
                r[3]
            );
        }
    }
    // Summaries: mean AUCs with their interval, SSIM per cascade step, one plot per test.
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let head = summary.lines().next().unwrap();
    for c in [
        "deletion_auc",
        "deletion_auc_lo",
        "deletion_auc_hi",
        "ssim_embed",
        "ssim_random_logit",
    ] {
        assert!(head.split(',').any(|h| h == c), "no column {c}: {head}");
    }
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("**Faithfulness**") && md.contains("**Sanity**"),
        "{md}"
    );
    for t in ["perturb-pos", "perturb-neg", "deletion", "insertion"] {
        let svg = std::fs::read_to_string(out.join(format!("plots/{t}.svg"))).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 2, "{t}");
    }
}

/// A front end that asks the job to stop once `after` steps are done.
struct StopAfter {
    after: u64,
    done: std::sync::atomic::AtomicU64,
}

impl vitscope::progress::Progress for StopAfter {
    fn set_len(&self, _len: u64) {}
    fn inc(&self, n: u64) {
        self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
    fn set_message(&self, _message: &str) {}
    fn println(&self, _line: &str) {}
    fn cancelled(&self) -> bool {
        self.done.load(std::sync::atomic::Ordering::Relaxed) >= self.after
    }
}

#[test]
fn a_cancelled_eval_stops_between_maps_and_writes_no_report() {
    use vitscope::dataset::{eval::EvalConfig, items, run};
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let opts = vitscope::model::LoadOptions {
        heads: None,
        config_file: Some(demo.join("config.json")),
        classes: None,
    };
    let device = burn::tensor::Device::flex();
    let (vit, _) =
        vitscope::model::load_vit(&demo.join("model.safetensors"), &opts, &device).unwrap();
    let out = scratch("eval-cancel");
    let _ = std::fs::remove_dir_all(&out);
    let (all, _) = items::project_items(&demo.join("project.ron"), &out).unwrap();
    assert!(all.len() >= 3, "{} demo items", all.len());
    let cfg = EvalConfig {
        methods: vec![vitscope::explain::Method::Attention],
        tops: vec![5.0, 10.0],
        target: None,
        out: out.clone(),
        backend: vitscope::model::device::DeviceChoice::Cpu,
        resize: Default::default(),
    };
    let stop = StopAfter {
        after: 2,
        done: Default::default(),
    };
    let models = [("demo".to_string(), vit)];
    let err = run::run(&models, &all, &cfg, &run::Extras::default(), &stop)
        .err()
        .expect("cancelled");
    assert!(matches!(err, items::EvalError::Cancelled(_)), "{err:?}");
    // It stopped at the step where it was asked to: no step after it began.
    assert_eq!(stop.done.load(std::sync::atomic::Ordering::Relaxed), 2);
    // At most the maps of the two steps were made (cached for a rerun); no report was written.
    let cached = std::fs::read_dir(out.join("maps/demo/attention")).map_or(0, |d| d.count());
    assert!(cached <= 2, "{cached} maps cached");
    for report in ["per_image.csv", "summary.csv", "summary.md"] {
        assert!(
            !out.join(report).exists(),
            "{report} written by a cancelled run"
        );
    }
}
