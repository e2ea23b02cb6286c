//! Batch evaluation in the paper's shape: every (checkpoint, method, image) map scored against
//! the image's mask and against the mask's bounding box, written as a per-image CSV, a summary
//! CSV and a Markdown table (rows method × checkpoint, columns PG and IoU@k).
//!
//! Maps are cached as `.npy` under `<out>/maps/<checkpoint>/<method>/<stem>.npy` (model-input
//! resolution, min-max normalised, then resized to the mask's size), so an interrupted run
//! resumes where it stopped and precomputed maps dropped into that tree are used as they are.
//! Images whose mask is empty (negatives) are not scored.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::items::{EvalError, Item};
use super::report::{Columns, mean};
use crate::dataset::labels::Labelled;
use crate::explain::{self, ExplainOptions, Method};
use crate::io::table::Table;
use crate::io::{image as vimage, mask as vmask, npy, write_atomic};
use crate::metrics::{self, Mask};
use crate::model::Vit;
use crate::model::device::DeviceChoice;
use crate::model::preprocess::{self, Normalization, ResizeMode};

/// Evaluation settings.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// Methods to score.
    pub methods: Vec<Method>,
    /// Top percentages.
    pub tops: Vec<f64>,
    /// Target class (None = predicted class).
    pub target: Option<usize>,
    /// Output folder.
    pub out: PathBuf,
    /// Metric backend.
    pub backend: DeviceChoice,
    /// Preprocessing mode.
    pub resize: ResizeMode,
}

/// Scores of one (checkpoint, method, image).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// Checkpoint name.
    pub checkpoint: String,
    /// Method.
    pub method: Method,
    /// Image stem.
    pub stem: String,
    /// Against the mask.
    pub mask: metrics::MetricSet,
    /// Against the mask's bounding box.
    pub boxed: metrics::MetricSet,
}

fn map_for(
    vit: &Vit,
    item: &Item,
    method: Method,
    cfg: &EvalConfig,
    cache: &Path,
    mask: &Mask,
) -> Result<Vec<f32>, EvalError> {
    if cache.exists() {
        let a = npy::read_f32(cache)?;
        crate::io::guard::check_finite(&a.data, "the cached map").map_err(|e| {
            EvalError::Layout {
                path: cache.to_path_buf(),
                source: e.into(),
            }
        })?;
        if a.shape == [mask.height, mask.width] {
            return Ok(a.data);
        }
    }
    let img = vimage::read_image_frame(&item.image, item.frame)?;
    let setup = explain::run::Setup {
        resize: cfg.resize,
        ..Default::default()
    };
    let opts = ExplainOptions {
        target: cfg.target,
        ..Default::default()
    };
    let mut map = explain::run::explain_image(vit, &img, &setup, method, &opts)
        .map_err(|e| EvalError::item(item.image.display(), e))?
        .original;
    if (img.width, img.height) != (mask.width, mask.height) {
        map = preprocess::resize_bilinear(&map, img.width, img.height, mask.width, mask.height);
    }
    if let Some(parent) = cache.parent() {
        std::fs::create_dir_all(parent).map_err(|e| EvalError::Layout {
            path: parent.to_path_buf(),
            source: e.into(),
        })?;
    }
    npy::write_f32(cache, &[mask.height, mask.width], &map)?;
    Ok(map)
}

/// Runs the evaluation of `models` (name, model) on the items; returns every row.
pub fn evaluate(
    models: &[(String, Vit)],
    items: &[Item],
    cfg: &EvalConfig,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<Row>, EvalError> {
    let masks: Vec<Mask> = items
        .iter()
        .map(|it| vmask::read_mask(&it.mask).map_err(EvalError::from))
        .collect::<Result<_, _>>()?;
    for (it, m) in items.iter().zip(&masks) {
        let (w, h) = image_size(&it.image)?;
        if (m.width, m.height) != (w, h) {
            return Err(EvalError::Invalid(crate::error::Invalid(format!(
                "{}: mask is {}×{} but its image {} is {w}×{h}",
                it.mask.display(),
                m.width,
                m.height,
                it.image.display()
            ))));
        }
    }
    progress.set_len((models.len() * cfg.methods.len() * items.len()) as u64);
    let mut rows = Vec::new();
    for (name, vit) in models {
        for &method in &cfg.methods {
            for (item, mask) in items.iter().zip(&masks) {
                progress.set_message(&format!("{name} {method} {}", item.stem));
                crate::progress::check(progress)?;
                progress.inc(1);
                let Some(bbox) = mask.bbox() else {
                    continue; // negative image: nothing to localise
                };
                let cache = cfg
                    .out
                    .join("maps")
                    .join(name)
                    .join(method.name())
                    .join(format!("{}.npy", item.stem));
                let map = map_for(vit, item, method, cfg, &cache, mask)?;
                let (w, h) = (mask.width, mask.height);
                let score = |m: &Mask| {
                    metrics::gpu::compute(&map, w, h, m, &cfg.tops, cfg.backend)
                        .map_err(|e| EvalError::item(&item.stem, e))
                };
                let boxed = Mask::from_rects(w, h, &[bbox]);
                rows.push(Row {
                    checkpoint: name.clone(),
                    method,
                    stem: item.stem.clone(),
                    mask: score(mask)?,
                    boxed: score(&boxed)?,
                });
            }
        }
    }
    progress.finish();
    Ok(rows)
}

/// Classification accuracy of one checkpoint on a labelled dataset (`labels.csv`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Accuracy {
    /// Checkpoint name.
    pub checkpoint: String,
    /// Correct predictions (argmax of the logits equals the label).
    pub correct: usize,
    /// Labelled images.
    pub total: usize,
    /// Per class: (correct, images of that class).
    pub per_class: Vec<(usize, usize)>,
}

/// Runs every model on every labelled image and counts argmax == label.
pub fn accuracy(
    models: &[(String, Vit)],
    labelled: &[Labelled],
    resize: ResizeMode,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<Accuracy>, EvalError> {
    let each = accuracy_each(models, labelled, resize, progress)?;
    let classes = labelled.iter().map(|l| l.label).max().unwrap_or(0) + 1;
    Ok(models
        .iter()
        .enumerate()
        .map(|(m, (name, _))| {
            let mut per_class = vec![(0, 0); classes];
            for one in &each {
                for (c, x) in one[m].per_class.iter().enumerate() {
                    per_class[c].0 += x.0;
                    per_class[c].1 += x.1;
                }
            }
            Accuracy {
                checkpoint: name.clone(),
                correct: per_class.iter().map(|c| c.0).sum(),
                total: labelled.len(),
                per_class,
            }
        })
        .collect())
}

/// Each labelled image's own accuracy counts, one per model (`total` 1; `per_class` up to its
/// label): the records a shard keeps per image, and what [`accuracy`] sums.
pub fn accuracy_each(
    models: &[(String, Vit)],
    labelled: &[Labelled],
    resize: ResizeMode,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<Vec<Accuracy>>, EvalError> {
    progress.set_len((models.len() * labelled.len()) as u64);
    let mut out: Vec<Vec<Accuracy>> = vec![Vec::new(); labelled.len()];
    for (name, vit) in models {
        let device = vit.device();
        for (l, acc) in labelled.iter().zip(&mut out) {
            progress.set_message(&format!("{name} classify"));
            crate::progress::check(progress)?;
            progress.inc(1);
            let img = vimage::read_image(&l.image)?;
            let prepared =
                preprocess::prepare(&img, vit.config.img_size, resize, &Normalization::default());
            let logits = explain::to_vec(vit.forward(prepared.tensor(&device)))
                .map_err(|e| EvalError::item(l.image.display(), e))?;
            let hit = usize::from(explain::argmax(&logits) == l.label);
            let mut per_class = vec![(0, 0); l.label + 1];
            per_class[l.label] = (hit, 1);
            acc.push(Accuracy {
                checkpoint: name.clone(),
                correct: hit,
                total: 1,
                per_class,
            });
        }
    }
    Ok(out)
}

/// Writes `accuracy.csv` into `cfg.out` and returns its Markdown table.
pub fn write_accuracy(acc: &[Accuracy], cfg: &EvalConfig) -> Result<String, EvalError> {
    let mut csv = Table::new([
        "checkpoint",
        "images",
        "correct",
        "accuracy",
        "per_class_accuracy",
    ]);
    let mut md = String::from(
        "\n**Classification accuracy** (argmax of the logits against `labels.csv`)\n\n| checkpoint | n | accuracy | per class |\n| --- | --- | --- | --- |\n",
    );
    for a in acc {
        let rate = a.correct as f64 / a.total.max(1) as f64;
        let per: Vec<String> = a
            .per_class
            .iter()
            .enumerate()
            .map(|(c, (k, n))| format!("{c}: {k}/{n}"))
            .collect();
        csv.row([
            a.checkpoint.clone(),
            a.total.to_string(),
            a.correct.to_string(),
            format!("{rate:.6}"),
            per.join(" "),
        ]);
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} % | {} |",
            a.checkpoint,
            a.total,
            rate * 100.0,
            per.join(", ")
        );
    }
    let path = cfg.out.join("accuracy.csv");
    std::fs::create_dir_all(&cfg.out).map_err(|e| EvalError::Layout {
        path: cfg.out.clone(),
        source: e.into(),
    })?;
    csv.write(&path).map_err(|e| EvalError::Layout {
        path: path.clone(),
        source: e.into(),
    })?;
    Ok(md)
}

/// Width and height of an image file (header only for raster formats).
fn image_size(path: &Path) -> Result<(usize, usize), EvalError> {
    Ok(vimage::dimensions(path)?)
}

/// `per_image.csv`: one row per (checkpoint, method, image, annotation), as the rows come.
pub fn per_image_table(rows: &[Row], tops: &[f64]) -> Table {
    let mut head: Vec<String> = [
        "checkpoint",
        "method",
        "image",
        "annotation",
        "pointing_game",
        "energy",
    ]
    .map(String::from)
    .to_vec();
    for p in tops {
        head.extend([
            format!("iou_rect@{p}"),
            format!("iou_binary@{p}"),
            format!("dice@{p}"),
        ]);
    }
    let mut per = Table::new(head);
    for r in rows {
        for (ann, set) in [("mask", &r.mask), ("box", &r.boxed)] {
            let mut row = vec![
                r.checkpoint.clone(),
                r.method.to_string(),
                r.stem.clone(),
                ann.to_string(),
                (set.pointing_game as u8).to_string(),
                format!("{:.6}", set.energy),
            ];
            for t in &set.top {
                row.extend([t.iou_rect, t.iou_binary, t.dice].map(|v| format!("{v:.6}")));
            }
            per.row(row);
        }
    }
    per
}

/// Writes `per_image.csv`, `summary.csv` and `summary.md` into `cfg.out`. Returns the Markdown.
pub fn write_reports(rows: &[Row], cfg: &EvalConfig, extra: &Columns) -> Result<String, EvalError> {
    let io = |p: &Path, e: std::io::Error| EvalError::Layout {
        path: p.to_path_buf(),
        source: e.into(),
    };
    let tops = &cfg.tops;
    let per = per_image_table(rows, tops);
    let per_path = cfg.out.join("per_image.csv");
    per.write(&per_path).map_err(|e| io(&per_path, e))?;

    let mut groups: Vec<(String, Method)> = Vec::new();
    for r in rows {
        if !groups.contains(&(r.checkpoint.clone(), r.method)) {
            groups.push((r.checkpoint.clone(), r.method));
        }
    }
    let mut head: Vec<String> = [
        "checkpoint",
        "method",
        "annotation",
        "images",
        "pointing_game",
    ]
    .map(String::from)
    .to_vec();
    for p in tops {
        head.extend([format!("iou_rect@{p}"), format!("iou_binary@{p}")]);
    }
    // Faithfulness and sanity columns (`eval --faithfulness`, `--sanity`), the same for both
    // annotation rows of a (checkpoint, method); empty where a test does not apply.
    let mut extra_names: Vec<&String> = Vec::new();
    for (_, cols) in extra {
        for (n, _) in cols {
            if !extra_names.contains(&n) {
                extra_names.push(n);
            }
        }
    }
    head.extend(extra_names.iter().map(|n| n.to_string()));
    let mut csv = Table::new(head);
    let mut md = String::new();
    for (ann, title) in [
        ("mask", "scored against the masks"),
        ("box", "scored against the masks' bounding boxes"),
    ] {
        let _ = writeln!(
            md,
            "\n**Mean over annotated images, {title}** (IoU of the top-k% rectangle, as in the paper; in brackets the IoU of the top-k% pixels)\n"
        );
        let mut head = String::from("| method | checkpoint | n | PG |");
        let mut rule = String::from("| --- | --- | --- | --- |");
        for p in tops {
            let _ = write!(head, " IoU@{p} |");
            rule.push_str(" --- |");
        }
        let _ = writeln!(md, "{head}\n{rule}");
        for (ckpt, method) in &groups {
            let sel: Vec<&metrics::MetricSet> = rows
                .iter()
                .filter(|r| &r.checkpoint == ckpt && r.method == *method)
                .map(|r| if ann == "mask" { &r.mask } else { &r.boxed })
                .collect();
            let pg = mean(sel.iter().map(|s| s.pointing_game as u8 as f64));
            let mut row = vec![
                ckpt.clone(),
                method.to_string(),
                ann.to_string(),
                sel.len().to_string(),
                format!("{pg:.6}"),
            ];
            let _ = write!(md, "| {method} | {ckpt} | {} | {pg:.3} |", sel.len());
            for j in 0..tops.len() {
                let rect = mean(sel.iter().map(|s| s.top[j].iou_rect));
                let bin = mean(sel.iter().map(|s| s.top[j].iou_binary));
                row.extend([format!("{rect:.6}"), format!("{bin:.6}")]);
                let _ = write!(md, " {rect:.3} ({bin:.3}) |");
            }
            let cols = extra
                .iter()
                .find(|(k, _)| k.0 == *ckpt && k.1 == *method)
                .map(|(_, c)| c.as_slice())
                .unwrap_or(&[]);
            for n in &extra_names {
                row.push(match cols.iter().find(|(c, _)| c == *n) {
                    Some((_, v)) => format!("{v:.6}"),
                    None => String::new(),
                });
            }
            csv.row(row);
            md.push('\n');
        }
    }
    let csv_path = cfg.out.join("summary.csv");
    csv.write(&csv_path).map_err(|e| io(&csv_path, e))?;
    let md_path = cfg.out.join("summary.md");
    write_atomic(&md_path, md.as_bytes()).map_err(|e| io(&md_path, e))?;
    Ok(md)
}
