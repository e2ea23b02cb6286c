//! Studies of this test's own making — other numbers of readers, cases and conditions, missing
//! answers, constant readers, a lone reader, sparse pairs, clicks on pixel edges and outside
//! the image — analysed by the fixture's `reference.py` (scipy, statsmodels, scikit-learn,
//! pingouin, krippendorff, choix; `.ci/run` installs the pinned versions) and by `study analyze`,
//! compared within the README's tolerances.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::Value;

const CONDITIONS: [&str; 6] = [
    "attention",
    "chefer",
    "gradcam",
    "none",
    "random",
    "rollout",
];

/// Writes one random study into `dir`: responses.csv, per_image.csv, masks/.
fn study(dir: &Path, rng: &mut StdRng) {
    let readers = rng.random_range(1..=6);
    let cases = rng.random_range(1..=9);
    let nc = rng.random_range(1..=CONDITIONS.len());
    let conds: Vec<&str> = CONDITIONS[..nc].to_vec();
    let missing = [0.0, 0.05, 0.3][rng.random_range(0..3)];
    let constant_reader = rng.random_bool(0.3);
    let mut csv = String::from("reader,case,condition,question,response,rt_ms,position,session\n");
    let (w, h) = (rng.random_range(3..12), rng.random_range(3..12));
    std::fs::create_dir_all(dir.join("masks")).unwrap();
    for c in 0..cases {
        let mask = image::GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if c % 4 != 3 && x >= w / 3 && y < h / 2 {
                255
            } else {
                0
            }])
        });
        mask.save(dir.join(format!("masks/c{c}.png"))).unwrap();
    }
    for r in 0..readers {
        let mut pos = 0;
        let mut row =
            |csv: &mut String, rng: &mut StdRng, c: usize, cond: &str, q: &str, resp: String| {
                pos += 1;
                let resp = if rng.random_bool(missing) {
                    String::new()
                } else {
                    resp
                };
                let rt = if rng.random_bool(0.1) {
                    String::new()
                } else {
                    rng.random_range(300..30000).to_string()
                };
                let _ = writeln!(csv, "r{r},c{c},{cond},{q},{resp},{rt},{pos},s{}", pos % 2);
            };
        for c in 0..cases {
            if readers > 1 && rng.random_bool(0.1) {
                continue; // this reader skipped the case
            }
            for &cond in &conds {
                let level = if constant_reader && r == 0 {
                    3
                } else {
                    // Readers agree somewhat: a case and condition effect plus noise.
                    let base = 1 + (c * 7 + cond.len() * 3) % 5;
                    (base as i64 + rng.random_range(-1..=1)).clamp(1, 5)
                };
                let lv = level.to_string();
                row(&mut csv, rng, c, cond, "likert", lv);
            }
            if conds.len() >= 2 {
                let mut shown = std::collections::HashSet::new();
                for _ in 0..rng.random_range(0..3) {
                    let a = rng.random_range(0..conds.len());
                    let mut b = rng.random_range(0..conds.len());
                    if a == b {
                        b = (b + 1) % conds.len();
                    }
                    if !shown.insert((a, b)) {
                        continue;
                    }
                    let pick = if rng.random_bool(0.6) {
                        conds[a.min(b)]
                    } else {
                        conds[a.max(b)]
                    };
                    row(
                        &mut csv,
                        rng,
                        c,
                        &format!("{}|{}", conds[a], conds[b]),
                        "pairwise",
                        pick.to_string(),
                    );
                }
            }
            // A click: on a pixel edge, inside, or outside the image.
            let (x, y) = match rng.random_range(0..4) {
                0 => ((w / 3) as f64, 0.0),
                1 => (w as f64 - 0.0001, (h / 2) as f64 - 0.0001),
                2 => (-0.5, 1.0),
                _ => (
                    rng.random_range(0.0..w as f64),
                    rng.random_range(0.0..h as f64),
                ),
            };
            row(&mut csv, rng, c, "none", "localise", format!("{x};{y}"));
            let conf = rng.random_range(1..=5).to_string();
            row(&mut csv, rng, c, "none", "confidence", conf);
        }
    }
    std::fs::write(dir.join("responses.csv"), csv).unwrap();
    let mut m = String::from(
        "checkpoint,method,image,annotation,pointing_game,energy,iou_rect@5,iou_binary@5\n",
    );
    for c in 0..cases {
        for &cond in &conds {
            for ann in ["mask", "box"] {
                let pg = if cond == "rollout" {
                    1
                } else {
                    rng.random_range(0..2)
                };
                let _ = writeln!(
                    m,
                    "vit,{cond},c{c},{ann},{pg},{:.6},{:.6},{:.6}",
                    rng.random_range(0.0..1.0),
                    rng.random_range(0.0..1.0),
                    rng.random_range(0.0..1.0)
                );
            }
        }
    }
    std::fs::write(dir.join("per_image.csv"), m).unwrap();
}

#[test]
fn generated_studies_match_the_reference_implementation() {
    let root = crate::support::scratch("study-generated");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/agreement");
    let mut rng = StdRng::seed_from_u64(2026);
    let dirs: Vec<PathBuf> = (0..30)
        .map(|k| {
            let d = root.join(format!("s{k:02}"));
            study(&d, &mut rng);
            d
        })
        .collect();
    // The reference, in one Python process for all studies.
    let driver = r#"
import json, sys, os
sys.path.insert(0, sys.argv[1])
import reference
out = []
for d in sys.argv[2:]:
    try:
        res = reference.analyze(os.path.join(d, "responses.csv"), os.path.join(d, "per_image.csv"),
                                os.path.join(d, "masks"), None, "mask", reference.DEFAULT_METRICS)
        out.append(res)
    except reference.StudyError as e:
        out.append({"error": str(e)})
print(json.dumps(out))
"#;
    let py = std::env::var("VITSCOPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(driver)
        .arg(&fixtures)
        .args(&dirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference.py (needs the packages .ci/run installs): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wants: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut numbers = 0;
    for (d, want) in dirs.iter().zip(&wants) {
        let got = crate::support::vitscope()
            .current_dir(d)
            .args([
                "study",
                "analyze",
                "--responses",
                "responses.csv",
                "--metrics",
                "per_image.csv",
                "--masks",
                "masks",
                "--json",
            ])
            .output()
            .unwrap();
        assert!(want.get("error").is_none(), "{}: {want}", d.display());
        assert!(
            got.status.success(),
            "{}: {}",
            d.display(),
            String::from_utf8_lossy(&got.stderr)
        );
        let got: Value = serde_json::from_slice(&got.stdout).unwrap();
        let (mut n, mut bad) = (0, Vec::new());
        super::parity::compare(&got, want, &mut Vec::new(), &mut n, &mut bad);
        assert!(
            bad.is_empty(),
            "{}: {} of {n} differ:\n{}",
            d.display(),
            bad.len(),
            bad.join("\n")
        );
        numbers += n;
    }
    assert!(numbers > 3000, "{numbers}");
}
