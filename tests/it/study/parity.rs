//! `study analyze` against `../shared/fixtures/agreement` (its README is the specification):
//! every number of every public case within the README's tolerances, `null` where the
//! references leave a statistic undefined, `mrmc.csv` byte for byte, and the refused files with
//! one `error:` line naming the response file.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/agreement/cases")
}

/// (rel, abs) of a number at `path` (README, "Tolerances").
fn tolerance(path: &[String]) -> (f64, f64) {
    let has = |k: &str| path.iter().any(|p| p == k);
    if has("bradley_terry") {
        return (0.0, 1e-6);
    }
    let through_distribution = path.last().is_some_and(|k| k == "pval")
        || (has("ci95")
            && (path[0] == "likert"
                || path[0] == "confidence"
                || path.iter().any(|p| p.starts_with("icc"))));
    if through_distribution {
        (1e-7, 1e-10)
    } else {
        (1e-9, 1e-12)
    }
}

/// Compares `got` with `want` (keys of `want` only); returns the mismatches and counts numbers.
pub(super) fn compare(
    got: &Value,
    want: &Value,
    path: &mut Vec<String>,
    n: &mut usize,
    bad: &mut Vec<String>,
) {
    let at = |p: &[String]| p.join("/");
    match want {
        Value::Object(w) => {
            for (k, v) in w {
                path.push(k.clone());
                match got.get(k) {
                    Some(g) => compare(g, v, path, n, bad),
                    None => bad.push(format!("{}: missing", at(path))),
                }
                path.pop();
            }
        }
        Value::Array(w) => match got.as_array() {
            Some(g) if g.len() == w.len() => {
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    path.push(i.to_string());
                    compare(a, b, path, n, bad);
                    path.pop();
                }
            }
            _ => bad.push(format!("{}: {got} vs {want}", at(path))),
        },
        Value::Number(w) => {
            *n += 1;
            let ok = if w.is_u64() || w.is_i64() {
                got.as_i64() == w.as_i64() && (got.is_u64() || got.is_i64())
            } else {
                let (rel, abs) = tolerance(path);
                let w = w.as_f64().unwrap();
                got.as_f64()
                    .is_some_and(|g| (g - w).abs() <= rel * w.abs() + abs)
            };
            if !ok {
                bad.push(format!("{}: {got} vs {want}", at(path)));
            }
        }
        other => {
            if got != other {
                bad.push(format!("{}: {got} vs {want}", at(path)));
            }
        }
    }
}

fn args(dir: &Path) -> (Vec<String>, Value) {
    let case: Value =
        serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
    let args = case["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    (args, case)
}

#[test]
fn every_public_case_matches_the_reference() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "{cases:?}");
    let mut numbers = 0;
    for dir in cases {
        let (args, case) = args(&dir);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let out = crate::support::vitscope()
            .current_dir(&dir)
            .args(["study", "analyze"])
            .args(&args)
            .arg("--json")
            .output()
            .unwrap();
        if case["expect"] == "error" {
            let line = crate::support::one_error(&out, &name);
            assert!(
                line.contains(case["error_names"].as_str().unwrap()),
                "{name}: {line}"
            );
            assert!(out.stdout.is_empty(), "{name}: printed on stdout");
            assert_eq!(out.status.code(), Some(1), "{name}");
            continue;
        }
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let want: Value =
            serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
        let (mut n, mut bad) = (0, Vec::new());
        compare(&got, &want, &mut Vec::new(), &mut n, &mut bad);
        assert!(
            bad.is_empty(),
            "{name}: {} of {n} differ:\n{}",
            bad.len(),
            bad.join("\n")
        );
        numbers += n;
        // --out: the same object in analysis.json, and mrmc.csv byte for byte.
        let out_dir = crate::support::scratch(&format!("study-{name}"));
        let out = crate::support::vitscope()
            .current_dir(&dir)
            .args(["study", "analyze"])
            .args(&args)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: --out failed");
        assert!(
            out.stdout.is_empty(),
            "{name}: --out alone prints nothing on stdout"
        );
        let written: Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("analysis.json")).unwrap()).unwrap();
        assert_eq!(written, got, "{name}: analysis.json differs from --json");
        // Every plot summary.md shows is there, an SVG document.
        let md = std::fs::read_to_string(out_dir.join("summary.md")).unwrap();
        let plots: Vec<&str> = md
            .split("](")
            .skip(1)
            .filter_map(|r| r.split(')').next())
            .collect();
        assert!(plots.len() >= 3, "{name}: plots {plots:?}");
        for p in plots {
            let svg = std::fs::read_to_string(out_dir.join(p)).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
                "{name}: {p}"
            );
        }
        if dir.join("mrmc.csv").is_file() {
            assert_eq!(
                std::fs::read(out_dir.join("mrmc.csv")).unwrap(),
                std::fs::read(dir.join("mrmc.csv")).unwrap(),
                "{name}: mrmc.csv"
            );
        }
    }
    // README: 1,349 numbers over the public cases (expected.json and mrmc.csv together).
    assert!(numbers > 1000, "{numbers}");
}
