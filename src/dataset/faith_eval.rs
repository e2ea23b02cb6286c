//! `eval --faithfulness` and `eval --sanity`: the tests of [`crate::faithfulness`] over every
//! (checkpoint, method, image), per-image CSV rows, per method × checkpoint means with a 95 %
//! bootstrap interval (2000 resamples of the images, seeded, percentile interval) for
//! `summary.md` and `summary.csv`, and one SVG plot per curve family (mean curve per method).

use std::fmt::Write as _;
use std::path::Path;

use super::items::{EvalError, Item};
use super::report::{Columns, bootstrap, svg_plot};
use crate::explain::{ExplainOptions, Method};
use crate::faithfulness::cascade::Replacement;
use crate::faithfulness::sanity::{self, Cascade, Checkpoint, Checks, OtherClass};
use crate::faithfulness::similarity::Similarity;
use crate::faithfulness::suite::{self, Input, Test};
use crate::io::table::Table;
use crate::io::{image as vimage, write_atomic};
use crate::model::Vit;
use crate::model::preprocess::{Normalization, ResizeMode};

/// One (checkpoint, method, image) of the faithfulness tests.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FaithRow {
    /// Checkpoint name.
    pub checkpoint: String,
    /// Method.
    pub method: Method,
    /// Image stem.
    pub stem: String,
    /// Per test: the headline AUC and the probability curve (x in [0, 1]).
    pub tests: Vec<(Test, f64, Vec<f64>, Vec<f32>)>,
}

/// One similarity of the sanity checks.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SanityRow {
    /// Checkpoint name.
    pub checkpoint: String,
    /// Method.
    pub method: Method,
    /// Image stem.
    pub stem: String,
    /// `random-logit` or the cascade's layer (`head`, …, `embed`).
    pub test: String,
    /// The similarity to the original map.
    pub sim: Similarity,
}

fn input_of(vit: &Vit, item: &Item, resize: ResizeMode) -> Result<Input, EvalError> {
    let img = vimage::read_image_frame(&item.image, item.frame)?;
    Ok(Input::new(
        &img,
        vit.config.img_size,
        resize,
        Normalization::default(),
    ))
}

/// Runs `tests` for every (checkpoint, method, item).
pub fn faithfulness(
    models: &[(String, Vit)],
    items: &[Item],
    methods: &[Method],
    target: Option<usize>,
    resize: ResizeMode,
    tests: &[Test],
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<FaithRow>, EvalError> {
    progress.set_len((models.len() * methods.len() * items.len()) as u64);
    let mut rows = Vec::new();
    for (name, vit) in models {
        for item in items {
            let input = input_of(vit, item, resize)?;
            let clean = input
                .logits(vit)
                .map_err(|e| EvalError::item(item.image.display(), e))?;
            for &method in methods {
                progress.set_message(&format!("{name} {method} {} faithfulness", item.stem));
                let (map, _) = input
                    .map(vit, method, target)
                    .map_err(|e| EvalError::item(item.image.display(), e))?;
                let res = suite::run(vit, &input, &map, &clean, tests, |_, _| true)
                    .map_err(|e| EvalError::item(item.image.display(), e))?;
                rows.push(FaithRow {
                    checkpoint: name.clone(),
                    method,
                    stem: item.stem.clone(),
                    tests: res
                        .into_iter()
                        .map(|(t, o)| {
                            let (x, y) = o.curve();
                            (t, o.auc(), x, y)
                        })
                        .collect(),
                });
                crate::progress::check(progress)?;
                progress.inc(1);
            }
        }
    }
    Ok(rows)
}

/// The random-logit test (class-specific methods: the map for the target against the map for
/// the most likely other class) and the deterministic cascade, for every (checkpoint, method,
/// item).
pub fn sanity(
    models: &[(String, Vit)],
    checkpoints: &[Checkpoint],
    items: &[Item],
    methods: &[Method],
    target: Option<usize>,
    resize: ResizeMode,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<SanityRow>, EvalError> {
    progress.set_len((models.len() * items.len()) as u64);
    let mut rows = Vec::new();
    for ((name, vit), ckpt) in models.iter().zip(checkpoints) {
        // The cascade's models, built for the first image and kept for the others.
        let mut cascade =
            Cascade::new(ckpt.clone(), Replacement::Deterministic, vit.device(), true);
        for item in items {
            progress.set_message(&format!("{name} {} sanity", item.stem));
            let input = input_of(vit, item, resize)?;
            for &method in methods {
                let checks = Checks {
                    method,
                    options: ExplainOptions {
                        target,
                        ..Default::default()
                    },
                    random_logit: Some(OtherClass::MostLikely),
                };
                sanity::run(vit, &input, &checks, Some(&mut cascade), progress, |m| {
                    let Some(sim) = m.sim else {
                        return; // the original map
                    };
                    let test = match m.test {
                        sanity::Test::Original => return,
                        sanity::Test::RandomLogit(_) => "random-logit".to_string(),
                        sanity::Test::Cascade(layer) => layer,
                    };
                    rows.push(SanityRow {
                        checkpoint: name.clone(),
                        method,
                        stem: item.stem.clone(),
                        test,
                        sim,
                    });
                })
                .map_err(|e| EvalError::item(item.image.display(), e))?;
            }
            crate::progress::check(progress)?;
            progress.inc(1);
        }
    }
    Ok(rows)
}

/// Writes `faithfulness.csv`, `sanity.csv` and the plots; returns the Markdown sections and the
/// summary columns.
pub fn write_reports(
    faith: &[FaithRow],
    sanity: &[SanityRow],
    out: &Path,
) -> Result<(String, Columns), EvalError> {
    let io = |p: &Path, e: std::io::Error| EvalError::Layout {
        path: p.to_path_buf(),
        source: e.into(),
    };
    let mut md = String::new();
    let mut cols: Columns = Vec::new();
    let mut col =
        |key: (String, Method), name: String, v: f64| match cols.iter_mut().find(|c| c.0 == key) {
            Some(c) => c.1.push((name, v)),
            None => cols.push((key, vec![(name, v)])),
        };
    let groups = |keys: Vec<(String, Method)>| {
        let mut g: Vec<(String, Method)> = Vec::new();
        for k in keys {
            if !g.contains(&k) {
                g.push(k);
            }
        }
        g
    };
    if !faith.is_empty() {
        let tests: Vec<Test> = faith[0].tests.iter().map(|t| t.0).collect();
        let mut head: Vec<String> = ["checkpoint", "method", "image"].map(String::from).to_vec();
        head.extend(
            tests
                .iter()
                .map(|t| format!("{}_auc", t.name().replace('-', "_"))),
        );
        let mut csv = Table::new(head);
        for r in faith {
            let mut row = vec![r.checkpoint.clone(), r.method.to_string(), r.stem.clone()];
            row.extend(r.tests.iter().map(|t| format!("{:.6}", t.1)));
            csv.row(row);
        }
        let p = out.join("faithfulness.csv");
        csv.write(&p).map_err(|e| io(&p, e))?;
        let _ = writeln!(
            md,
            "\n**Faithfulness** (mean AUC over images, 95 % bootstrap interval; perturbation: area under the clean class's probability; lower is more faithful for perturb-pos and deletion, higher for perturb-neg and insertion)\n"
        );
        let names: Vec<String> = tests.iter().map(|t| t.to_string()).collect();
        md += &table_head(&["method", "checkpoint", "n"], &names);
        let by_group: Vec<((String, Method), Vec<&FaithRow>)> = groups(
            faith
                .iter()
                .map(|r| (r.checkpoint.clone(), r.method))
                .collect(),
        )
        .into_iter()
        .map(|(c, m)| {
            let sel = faith
                .iter()
                .filter(|r| r.checkpoint == c && r.method == m)
                .collect();
            ((c, m), sel)
        })
        .collect();
        for ((ckpt, method), sel) in &by_group {
            let (ckpt, method) = (ckpt.clone(), *method);
            let _ = write!(md, "| {method} | {ckpt} | {} |", sel.len());
            for (j, t) in tests.iter().enumerate() {
                let v: Vec<f64> = sel.iter().map(|r| r.tests[j].1).collect();
                let (m, lo, hi) = bootstrap(&v);
                let _ = write!(md, " {m:.3} [{lo:.3}, {hi:.3}] |");
                let name = t.name().replace('-', "_");
                for (suffix, x) in [("", m), ("_lo", lo), ("_hi", hi)] {
                    col((ckpt.clone(), method), format!("{name}_auc{suffix}"), x);
                }
            }
            md.push('\n');
        }
        let plots = out.join("plots");
        std::fs::create_dir_all(&plots).map_err(|e| io(&plots, e))?;
        for (j, t) in tests.iter().enumerate() {
            let mut series = Vec::new();
            for ((ckpt, method), sel) in &by_group {
                let x = sel[0].tests[j].2.clone();
                let y: Vec<f64> = (0..x.len())
                    .map(|i| {
                        sel.iter().map(|r| r.tests[j].3[i] as f64).sum::<f64>() / sel.len() as f64
                    })
                    .collect();
                series.push((format!("{method} ({ckpt})"), x, y));
            }
            let p = plots.join(format!("{t}.svg"));
            let svg = svg_plot(
                &format!("{t}: mean probability of the clean class"),
                "fraction of pixels",
                &series,
            );
            write_atomic(&p, svg.as_bytes()).map_err(|e| io(&p, e))?;
        }
    }
    if !sanity.is_empty() {
        let mut csv = Table::new([
            "checkpoint",
            "method",
            "image",
            "test",
            "spearman",
            "spearman_abs",
            "ssim",
        ]);
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        for r in sanity {
            csv.row([
                r.checkpoint.clone(),
                r.method.to_string(),
                r.stem.clone(),
                r.test.clone(),
                f(r.sim.spearman),
                f(r.sim.spearman_abs),
                f(r.sim.ssim),
            ]);
        }
        let p = out.join("sanity.csv");
        csv.write(&p).map_err(|e| io(&p, e))?;
        let _ = writeln!(
            md,
            "\n**Sanity** (SSIM to the original map, mean over images, 95 % bootstrap interval; low is good: the map reacts. random-logit: the map for the most likely other class; cascade: after randomising every layer from the head down to that one)\n"
        );
        let layers: Vec<String> = {
            let mut l: Vec<String> = Vec::new();
            for r in sanity {
                if !l.contains(&r.test) {
                    l.push(r.test.clone());
                }
            }
            l
        };
        md += &table_head(&["method", "checkpoint"], &layers);
        for (ckpt, method) in groups(
            sanity
                .iter()
                .map(|r| (r.checkpoint.clone(), r.method))
                .collect(),
        ) {
            let _ = write!(md, "| {method} | {ckpt} |");
            for l in &layers {
                let v: Vec<f64> = sanity
                    .iter()
                    .filter(|r| r.checkpoint == ckpt && r.method == method && &r.test == l)
                    .filter_map(|r| r.sim.ssim)
                    .collect();
                if v.is_empty() {
                    md.push_str(" – |");
                    continue;
                }
                let (m, lo, hi) = bootstrap(&v);
                let _ = write!(md, " {m:.3} [{lo:.3}, {hi:.3}] |");
                let name = format!("ssim_{}", l.replace(['-', '.'], "_"));
                for (suffix, x) in [("", m), ("_lo", lo), ("_hi", hi)] {
                    col((ckpt.clone(), method), format!("{name}{suffix}"), x);
                }
            }
            md.push('\n');
        }
    }
    Ok((md, cols))
}

/// A Markdown table's header and rule: the fixed columns, then one per name.
fn table_head(fixed: &[&str], names: &[String]) -> String {
    let cols: Vec<&str> = fixed
        .iter()
        .copied()
        .chain(names.iter().map(String::as_str))
        .collect();
    format!(
        "| {} |\n|{}\n",
        cols.join(" | "),
        " --- |".repeat(cols.len())
    )
}
