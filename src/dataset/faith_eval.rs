//! `eval --faithfulness` and `eval --sanity`: the tests of [`crate::faithfulness`] over every
//! (checkpoint, method, image), per-image CSV rows, per method × checkpoint means with a 95 %
//! bootstrap interval (2000 resamples of the images, seeded, percentile interval) for
//! `summary.md` and `summary.csv`, and one SVG plot per curve family (mean curve per method).

use std::fmt::Write as _;
use std::path::Path;

use rand::{Rng, SeedableRng};

use super::eval::{EvalError, Item};
use crate::explain::Method;
use crate::faithfulness::cascade::{self, Replacement};
use crate::faithfulness::similarity::{self, Similarity};
use crate::faithfulness::suite::{self, Input, Test};
use crate::io::{image as vimage, write_atomic};
use crate::model::checkpoint::{CheckpointLayout, StateDict, apply_state_dict};
use crate::model::preprocess::{Normalization, ResizeMode};
use crate::model::{Vit, VitConfig};

/// A checkpoint's tensors, for the randomisation cascade.
pub struct ModelState {
    /// Normalised state dict.
    pub state: StateDict,
    /// Its architecture.
    pub config: VitConfig,
    /// Its layout.
    pub layout: CheckpointLayout,
    /// The file (named in errors).
    pub path: std::path::PathBuf,
}

/// One (checkpoint, method, image) of the faithfulness tests.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
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

fn other(e: impl std::fmt::Display) -> EvalError {
    EvalError::Other(e.to_string())
}

fn input_of(vit: &Vit, item: &Item, resize: ResizeMode) -> Result<Input, EvalError> {
    let img = vimage::read_image_frame(&item.image, item.frame).map_err(other)?;
    Ok(Input::new(
        &img,
        vit.config.img_size,
        resize,
        Normalization::default(),
    ))
}

fn map_of(
    vit: &Vit,
    input: &Input,
    method: Method,
    target: Option<usize>,
) -> Result<(Vec<f32>, usize), EvalError> {
    input.map(vit, method, target).map_err(other)
}

/// Runs `tests` for every (checkpoint, method, item).
pub fn faithfulness(
    models: &[(String, Vit)],
    items: &[Item],
    methods: &[Method],
    target: Option<usize>,
    resize: ResizeMode,
    tests: &[Test],
    progress: &indicatif::ProgressBar,
) -> Result<Vec<FaithRow>, EvalError> {
    progress.set_length((models.len() * methods.len() * items.len()) as u64);
    let mut rows = Vec::new();
    for (name, vit) in models {
        for item in items {
            let input = input_of(vit, item, resize)?;
            let clean = input.logits(vit).map_err(other)?;
            for &method in methods {
                progress.set_message(format!("{name} {method} {} faithfulness", item.stem));
                let (map, _) = map_of(vit, &input, method, target)?;
                let res = suite::run(vit, &input, &map, &clean, tests, |_, _| true)
                    .map_err(|e| EvalError::Other(format!("{}: {e}", item.image.display())))?;
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
    states: &[ModelState],
    items: &[Item],
    methods: &[Method],
    target: Option<usize>,
    resize: ResizeMode,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<SanityRow>, EvalError> {
    progress.set_length((models.len() * items.len()) as u64);
    let mut rows = Vec::new();
    for ((name, vit), st) in models.iter().zip(states) {
        let device = vit.weights.head.weight.val().device();
        // The cascade's models, built once per checkpoint.
        let mut damaged = st.state.clone();
        let mut steps = Vec::new();
        for step in cascade::steps_for(&st.config) {
            cascade::replace(
                &mut damaged,
                &step,
                st.config.depth,
                Replacement::Deterministic,
            )
            .map_err(|e| EvalError::Other(format!("{}: {e}", st.path.display())))?;
            let (v, _) = apply_state_dict(
                damaged.clone(),
                st.config.clone(),
                st.layout,
                &st.path,
                &device,
            )
            .map_err(other)?;
            steps.push((step.layer, v));
        }
        for item in items {
            progress.set_message(format!("{name} {} sanity", item.stem));
            let input = input_of(vit, item, resize)?;
            let logits = input.logits(vit).map_err(other)?;
            for &method in methods {
                let (map, t) = map_of(vit, &input, method, target)?;
                let row = |test: String, sim| SanityRow {
                    checkpoint: name.clone(),
                    method,
                    stem: item.stem.clone(),
                    test,
                    sim,
                };
                let size = input.size;
                if method.class_specific() && logits.len() > 1 {
                    let o = (0..logits.len())
                        .filter(|&c| c != t)
                        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
                        .unwrap_or(0);
                    let (m2, _) = map_of(vit, &input, method, Some(o))?;
                    let sim = similarity::compare(&map, &m2, size, size).map_err(other)?;
                    rows.push(row("random-logit".into(), sim));
                }
                for (layer, v) in &steps {
                    let (m2, _) = map_of(v, &input, method, Some(t))?;
                    let sim = similarity::compare(&map, &m2, size, size).map_err(other)?;
                    rows.push(row(layer.clone(), sim));
                }
            }
            progress.inc(1);
        }
    }
    Ok(rows)
}

/// Mean of `v` and its 95 % percentile bootstrap interval (2000 resamples, seed 0).
pub fn bootstrap(v: &[f64]) -> (f64, f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut means: Vec<f64> = (0..2000)
        .map(|_| (0..n).map(|_| v[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    (mean, means[49], means[1949])
}

/// Summary columns per (checkpoint, method): name and value, for `summary.csv`.
pub type Columns = Vec<((String, Method), Vec<(String, f64)>)>;

/// Writes `faithfulness.csv`, `sanity.csv` and the plots; returns the Markdown sections and the
/// summary columns.
pub fn write_reports(
    faith: &[FaithRow],
    sanity: &[SanityRow],
    out: &Path,
) -> Result<(String, Columns), EvalError> {
    let io = |p: &Path, e: std::io::Error| EvalError::Layout {
        path: p.to_path_buf(),
        message: e.to_string(),
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
        let mut csv = String::from("checkpoint,method,image");
        for t in &tests {
            let _ = write!(csv, ",{}_auc", t.name().replace('-', "_"));
        }
        csv.push('\n');
        for r in faith {
            let _ = write!(csv, "{},{},{}", r.checkpoint, r.method, r.stem);
            for t in &r.tests {
                let _ = write!(csv, ",{:.6}", t.1);
            }
            csv.push('\n');
        }
        let p = out.join("faithfulness.csv");
        write_atomic(&p, csv.as_bytes()).map_err(|e| io(&p, e))?;
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
        let mut csv = String::from("checkpoint,method,image,test,spearman,spearman_abs,ssim\n");
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        for r in sanity {
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{}",
                r.checkpoint,
                r.method,
                r.stem,
                r.test,
                f(r.sim.spearman),
                f(r.sim.spearman_abs),
                f(r.sim.ssim)
            );
        }
        let p = out.join("sanity.csv");
        write_atomic(&p, csv.as_bytes()).map_err(|e| io(&p, e))?;
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

/// A line chart as SVG: one polyline per series, axes from 0 to 1, a legend.
pub fn svg_plot(title: &str, xlabel: &str, series: &[(String, Vec<f64>, Vec<f64>)]) -> String {
    let (w, h, l, r, t, b) = (720.0, 440.0, 60.0, 220.0, 40.0, 50.0);
    let (pw, ph) = (w - l - r, h - t - b);
    let ymax = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let ymax = if ymax <= 1.0 { 1.0 } else { ymax };
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    ];
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{l}\" y=\"24\" font-size=\"14\">{}</text>\n",
        esc(title)
    );
    let _ = writeln!(
        s,
        "<rect x=\"{l}\" y=\"{t}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>"
    );
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let (x, y) = (l + f * pw, t + ph - f * ph);
        let _ = writeln!(
            s,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{f:.2}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.2}</text>",
            t + ph + 16.0,
            l - 6.0,
            y + 4.0,
            f * ymax
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        l + pw / 2.0,
        h - 12.0,
        esc(xlabel)
    );
    for (i, (name, xs, ys)) in series.iter().enumerate() {
        let c = colours[i % colours.len()];
        let pts: Vec<String> = xs
            .iter()
            .zip(ys)
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    l + x.clamp(0.0, 1.0) * pw,
                    t + ph - (y / ymax).clamp(0.0, 1.0) * ph
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        );
        let ly = t + 14.0 + i as f64 * 18.0;
        let _ = writeln!(
            s,
            "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{}</text>",
            w - r + 12.0,
            w - r + 32.0,
            w - r + 38.0,
            ly + 4.0,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    s
}
