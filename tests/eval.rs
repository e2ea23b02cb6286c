//! `vitscope eval` on a small dataset in the paper's layout: reports, resumable map cache, and
//! precomputed maps scored to the reference values.

mod common;

use std::process::Command;

use common::*;
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

#[test]
fn eval_runs_the_faithfulness_tests_and_sanity_checks_as_the_cli_does() {
    let root = scratch("eval-faith");
    let _ = std::fs::remove_dir_all(&root);
    let (images, masks, out) = (root.join("images"), root.join("masks"), root.join("out"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    for (stem, mask) in [("a", "mask_kvasir.png"), ("b", "mask_cpchild.png")] {
        std::fs::copy(reference("image.png"), images.join(format!("{stem}.png"))).unwrap();
        std::fs::copy(reference(mask), masks.join(format!("{stem}.png"))).unwrap();
    }
    let model = |c: &mut Command| {
        c.arg("--config")
            .arg(reference("config.json"))
            .args(["--device", "cpu"]);
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitscope"));
    cmd.args(["eval", "--backend", "cpu", "--methods", "attention,gradcam"])
        .args(["--faithfulness", "--sanity", "--target", "1", "--dataset"])
        .arg(&root)
        .arg("--checkpoint")
        .arg(format!(
            "ref={}",
            reference("weights.safetensors").display()
        ))
        .arg("--out")
        .arg(&out);
    model(&mut cmd);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Per image: the same AUCs as `vitscope faithfulness` on that image.
    let csv = std::fs::read_to_string(out.join("faithfulness.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "checkpoint,method,image,perturb_pos_auc,perturb_neg_auc,deletion_auc,insertion_auc"
    );
    assert_eq!(lines.len(), 1 + 2 * 2);
    let row = lines
        .iter()
        .find(|l| l.starts_with("ref,gradcam,a,"))
        .unwrap();
    let got: Vec<f64> = row.split(',').skip(3).map(|v| v.parse().unwrap()).collect();
    let mut cli = Command::new(env!("CARGO_BIN_EXE_vitscope"));
    cli.args([
        "faithfulness",
        "--method",
        "gradcam",
        "--target",
        "1",
        "--json",
    ])
    .arg("--weights")
    .arg(reference("weights.safetensors"))
    .arg("--image")
    .arg(images.join("a.png"));
    model(&mut cli);
    let doc: serde_json::Value = serde_json::from_slice(&cli.output().unwrap().stdout).unwrap();
    let want = [
        doc["tests"]["perturb-pos"]["prob_auc"].as_f64().unwrap(),
        doc["tests"]["perturb-neg"]["prob_auc"].as_f64().unwrap(),
        doc["tests"]["deletion"]["auc"].as_f64().unwrap(),
        doc["tests"]["insertion"]["auc"].as_f64().unwrap(),
    ];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "eval {g} vs faithfulness {w}");
    }
    // Sanity: 7 cascade steps per (method, image), plus the random-logit test for GradCAM.
    let sanity = std::fs::read_to_string(out.join("sanity.csv")).unwrap();
    assert_eq!(sanity.lines().count(), 1 + 2 * 7 + 2 * (7 + 1));
    assert!(
        sanity
            .lines()
            .any(|l| l.starts_with("ref,gradcam,a,random-logit,"))
    );
    assert!(
        !sanity
            .lines()
            .any(|l| l.starts_with("ref,attention,a,random-logit,"))
    );
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
