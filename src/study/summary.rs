//! What `study analyze --out DIR` writes: `analysis.json` (the printed object), `summary.md` (the
//! tables for a person, with SVG plots beside it in the style of `eval`'s) and `mrmc.csv`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::analyze::MRMC_HEADER;
use crate::error::Invalid;

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => format!("{:.3}", n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) if a.len() == 2 => format!("[{}, {}]", cell(&a[0]), cell(&a[1])),
        Value::String(s) => s.replace('|', "\\|"),
        other => other.to_string(),
    }
}

/// One row per entry of `block`: its name, then the cells of `fields`.
fn rows_of(block: &serde_json::Map<String, Value>, fields: &[&str]) -> Vec<Vec<String>> {
    block
        .iter()
        .map(|(k, v)| {
            std::iter::once(cell(&Value::String(k.clone())))
                .chain(fields.iter().map(|f| cell(&v[*f])))
                .collect()
        })
        .collect()
}

/// Text safe inside SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// The opening of an SVG plot of `w` × `h` with `title` at (`x`, 24), in `eval`'s style.
fn svg_start(w: f64, h: f64, x: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{x}\" y=\"24\" font-size=\"14\">{}</text>\n",
        esc(title)
    )
}

fn table(out: &mut String, head: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(head.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

/// Mean ratings with their 95 % intervals, one row per condition, as SVG.
fn interval_plot(title: &str, block: &serde_json::Map<String, Value>) -> String {
    let (w, row, l, top) = (720.0, 28.0, 140.0, 44.0);
    let h = top + row * block.len() as f64 + 44.0;
    let pw = w - l - 40.0;
    let x = |v: f64| l + (v - 1.0) / 4.0 * pw;
    let mut s = svg_start(w, h, l, title);
    for k in 1..=5 {
        let xx = x(k as f64);
        let _ = writeln!(
            s,
            "<line x1=\"{xx}\" y1=\"{top}\" x2=\"{xx}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{xx}\" y=\"{}\" text-anchor=\"middle\">{k}</text>",
            h - 36.0,
            h - 20.0
        );
    }
    for (i, (cond, v)) in block.iter().enumerate() {
        let y = top + row * (i as f64 + 0.5);
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            l - 8.0,
            y + 4.0,
            esc(cond)
        );
        if let Some([lo, hi]) = v["ci95"]
            .as_array()
            .and_then(|a| Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?]))
        {
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{y}\" x2=\"{:.1}\" y2=\"{y}\" stroke=\"#1f77b4\" stroke-width=\"3\"/>",
                x(lo.clamp(1.0, 5.0)),
                x(hi.clamp(1.0, 5.0))
            );
        }
        if let Some(m) = v["case_mean"].as_f64() {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{y}\" r=\"5\" fill=\"#d62728\"/>",
                x(m)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Horizontal bars of values in [−1, 1], one row per (label, value), as SVG (`null`: no bar).
fn bar_plot(title: &str, rows: &[(String, Option<f64>)]) -> String {
    let (w, row, l, top) = (720.0, 26.0, 180.0, 44.0);
    let h = top + row * rows.len() as f64 + 44.0;
    let pw = w - l - 40.0;
    let x = |v: f64| l + (v.clamp(-1.0, 1.0) + 1.0) / 2.0 * pw;
    let mut s = svg_start(w, h, l, title);
    for k in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        let xx = x(k);
        let _ = writeln!(
            s,
            "<line x1=\"{xx}\" y1=\"{top}\" x2=\"{xx}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{xx}\" y=\"{}\" text-anchor=\"middle\">{k}</text>",
            h - 36.0,
            h - 20.0
        );
    }
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            l - 8.0,
            y + row / 2.0 + 4.0,
            esc(label)
        );
        if let Some(v) = v {
            let (a, b) = (x(0.0).min(x(*v)), x(0.0).max(x(*v)));
            let _ = writeln!(
                s,
                "<rect x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1f77b4\"/>",
                y + 4.0,
                (b - a).max(1.0),
                row - 8.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The pairwise win matrix as SVG: cell (row a, column b) is how often a was chosen over b.
fn win_matrix(pairs: &serde_json::Map<String, Value>) -> String {
    let mut names: Vec<String> = Vec::new();
    for v in pairs.values() {
        for k in ["a", "b"] {
            if let Some(n) = v[k].as_str()
                && !names.iter().any(|x| x == n)
            {
                names.push(n.to_string());
            }
        }
    }
    names.sort();
    let rate = |a: &str, b: &str| -> Option<f64> {
        let (lo, hi, flip) = if a < b { (a, b, false) } else { (b, a, true) };
        let r = pairs.get(&format!("{lo}|{hi}"))?["win_rate"].as_f64()?;
        Some(if flip { 1.0 - r } else { r })
    };
    let (cell, l, top) = (56.0, 140.0, 60.0);
    let n = names.len() as f64;
    let (w, h) = ((l + cell * n + 20.0).max(440.0), top + cell * n + 20.0);
    let mut s = svg_start(
        w,
        h,
        10.0,
        "Pairwise: share of choices of the row over the column",
    );
    for (j, b) in names.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            l + cell * (j as f64 + 0.5),
            top - 8.0,
            esc(b)
        );
    }
    for (i, a) in names.iter().enumerate() {
        let y = top + cell * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            l - 8.0,
            y + cell / 2.0 + 4.0,
            esc(a)
        );
        for (j, b) in names.iter().enumerate() {
            let x = l + cell * j as f64;
            if let Some(r) = rate(a, b) {
                let shade = (255.0 * (1.0 - r)).round() as u8;
                let _ = writeln!(
                    s,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({shade},{shade},255)\" stroke=\"#fff\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{r:.2}</text>",
                    x + cell / 2.0,
                    y + cell / 2.0 + 4.0
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// `summary.md`: the tables of the analysis for a person.
pub fn markdown(a: &Value) -> String {
    let mut out = String::from("# Reader study\n\n");
    let c = &a["counts"];
    let _ = writeln!(
        out,
        "{} rows ({} unanswered), {} readers, {} cases; answers: {} Likert, {} pairwise, {} localise, {} confidence.\n",
        c["rows"],
        c["missing"],
        c["readers"],
        c["cases"],
        c["answers"]["likert"],
        c["answers"]["pairwise"],
        c["answers"]["localise"],
        c["answers"]["confidence"]
    );
    for (key, title) in [
        ("likert", "How well the map shows the finding (1–5)"),
        ("confidence", "Confidence that the finding is present (1–5)"),
    ] {
        let Some(block) = a[key].as_object().filter(|b| !b.is_empty()) else {
            continue;
        };
        let _ = writeln!(out, "## {title}\n");
        let rows = rows_of(
            block,
            &["n", "mean", "sd", "median", "cases", "case_mean", "ci95"],
        );
        table(
            &mut out,
            &[
                "condition",
                "n",
                "mean",
                "sd",
                "median",
                "cases",
                "mean of case means",
                "95 % CI (t, over cases)",
            ],
            rows,
        );
        let _ = writeln!(out, "![{title}]({key}.svg)\n");
    }
    if let Some(p) = a["pairwise"].as_object() {
        let _ = writeln!(out, "## Pairwise preference\n");
        let rows = p["pairs"].as_object().map_or(Vec::new(), |pairs| {
            rows_of(pairs, &["n", "wins_a", "wins_b", "win_rate", "ci95"])
        });
        table(
            &mut out,
            &[
                "a \\| b",
                "n",
                "a wins",
                "b wins",
                "a's rate",
                "95 % CI (Wilson)",
            ],
            rows,
        );
        out.push_str("![Pairwise win matrix](pairwise.svg)\n\n");
        let f = &p["first"];
        let _ = writeln!(
            out,
            "The left (first) map was chosen {} of {} times (rate {}, 95 % CI {}).\n",
            f["chosen"],
            f["n"],
            cell(&f["rate"]),
            cell(&f["ci95"])
        );
        match p["bradley_terry"]["theta"].as_object() {
            Some(t) => {
                let rows = t.iter().map(|(k, v)| vec![k.clone(), cell(v)]).collect();
                table(&mut out, &["condition", "Bradley–Terry θ"], rows);
            }
            None => out.push_str(
                "Bradley–Terry strengths are undefined: some conditions never lose to the rest.\n\n",
            ),
        }
    }
    if let Some(per) = a["agreement"]["per_condition"].as_object() {
        let _ = writeln!(out, "## Agreement between readers (Likert)\n");
        let mut rows: Vec<Vec<String>> = per.iter().map(|(k, v)| agreement_row(k, v)).collect();
        if !a["agreement"]["overall"].is_null() {
            rows.push(agreement_row("all conditions", &a["agreement"]["overall"]));
        }
        table(
            &mut out,
            &[
                "scope",
                "readers",
                "complete subjects",
                "Fleiss κ",
                "Cohen κ (mean, quadratic)",
                "Krippendorff α (ordinal)",
                "ICC(2,1)",
                "Kendall W",
            ],
            rows,
        );
        out.push_str("![Agreement per condition](agreement.svg)\n\n");
    }
    if let Some(m) = a["metrics"].as_object() {
        let _ = writeln!(out, "## Ratings against the metrics (Spearman ρ)\n");
        for (col, v) in m {
            let mut rows: Vec<Vec<String>> = v["per_condition"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, e)| vec![k.clone(), cell(&e["n"]), cell(&e["rho"]), cell(&e["pval"])])
                .collect();
            let p = &v["pooled"];
            rows.push(vec![
                "pooled".into(),
                cell(&p["n"]),
                cell(&p["rho"]),
                cell(&p["pval"]),
            ]);
            let _ = writeln!(out, "**{col}**\n");
            table(&mut out, &["condition", "n", "ρ", "p"], rows);
            let _ = writeln!(out, "![Spearman ρ, {col}](metric-{}.svg)\n", file_part(col));
        }
    }
    if let Some(l) = a["localisation"].as_object() {
        let _ = writeln!(out, "## Localisation clicks\n");
        let rows = rows_of(l, &["n", "hits", "hit_rate", "ci95"]);
        table(
            &mut out,
            &[
                "condition",
                "clicks",
                "hits",
                "hit rate",
                "95 % CI (Wilson)",
            ],
            rows,
        );
    }
    out
}

/// A metric column as part of a file name (`iou_rect@5` → `iou_rect-5`).
fn file_part(col: &str) -> String {
    col.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn agreement_row(scope: &str, v: &Value) -> Vec<String> {
    vec![
        scope.to_string(),
        cell(&v["readers"]),
        cell(&v["complete_subjects"]),
        cell(&v["fleiss_kappa"]),
        cell(&v["cohen_mean"]["quadratic"]),
        cell(&v["krippendorff"]["ordinal"]),
        cell(&v["icc2_1"]["icc"]),
        cell(&v["kendall_w"]["w"]),
    ]
}

/// Writes `analysis.json`, `summary.md` (with its plots) and, when given, `mrmc.csv` into `dir`;
/// returns the files.
pub fn write(
    dir: &Path,
    analysis: &Value,
    mrmc: Option<&[[String; 7]]>,
) -> Result<Vec<PathBuf>, Invalid> {
    let fail = |p: &Path, e: &dyn std::fmt::Display| Invalid::from(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, &e))?;
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), Invalid> {
        let p = dir.join(name);
        crate::io::write_atomic(&p, bytes).map_err(|e| fail(&p, &e))?;
        files.push(p);
        Ok(())
    };
    let json = serde_json::to_string_pretty(analysis).map_err(|e| fail(dir, &e))?;
    put("analysis.json", format!("{json}\n").as_bytes())?;
    for (key, title) in [
        (
            "likert",
            "Mean rating per condition (case means, 95 % t interval)",
        ),
        (
            "confidence",
            "Mean confidence per condition (case means, 95 % t interval)",
        ),
    ] {
        if let Some(b) = analysis[key].as_object().filter(|b| !b.is_empty()) {
            put(&format!("{key}.svg"), interval_plot(title, b).as_bytes())?;
        }
    }
    if let Some(p) = analysis["pairwise"]["pairs"].as_object() {
        put("pairwise.svg", win_matrix(p).as_bytes())?;
    }
    if let Some(per) = analysis["agreement"]["per_condition"].as_object() {
        let mut rows: Vec<(String, Option<f64>)> = Vec::new();
        for (c, v) in per {
            rows.push((
                format!("{c}: α ordinal"),
                v["krippendorff"]["ordinal"].as_f64(),
            ));
            rows.push((format!("{c}: ICC(2,1)"), v["icc2_1"]["icc"].as_f64()));
        }
        put(
            "agreement.svg",
            bar_plot("Agreement between readers per condition", &rows).as_bytes(),
        )?;
    }
    if let Some(m) = analysis["metrics"].as_object() {
        for (col, v) in m {
            let mut rows: Vec<(String, Option<f64>)> = v["per_condition"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(c, e)| (c.clone(), e["rho"].as_f64()))
                .collect();
            rows.push(("pooled".into(), v["pooled"]["rho"].as_f64()));
            let title = format!("Ratings against {col} (Spearman ρ of case means)");
            put(
                &format!("metric-{}.svg", file_part(col)),
                bar_plot(&title, &rows).as_bytes(),
            )?;
        }
    }
    put("summary.md", markdown(analysis).as_bytes())?;
    if let Some(rows) = mrmc {
        // Plain fields, `\n` line ends: ids and numbers need no quoting.
        let mut text = MRMC_HEADER.join(",");
        text.push('\n');
        for r in rows {
            text.push_str(&r.join(","));
            text.push('\n');
        }
        put("mrmc.csv", text.as_bytes())?;
    }
    Ok(files)
}
