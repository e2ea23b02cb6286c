//! The layer × head sweep of `eval --layers`: the class-token attention of every block and
//! head (and the mean over heads, the paper's attention map of that block) of every annotated
//! image, scored against its mask like any map (pointing game, IoU of the top-k %).
//!
//! Writes `layers.csv` (one row per checkpoint, image, block and head; head `mean` is the mean
//! over heads), `layers_summary.csv` (means over images) and, per score, a plot of the
//! mean-over-heads score against depth for every checkpoint (`plots/layers_*.svg`); returns the
//! Markdown table (rows checkpoint × block, the mean-over-heads map and the best single head).

use crate::error::Invalid;
use std::fmt::Write as _;
use std::path::Path;

use super::eval::EvalConfig;
use super::items::{EvalError, Item};
use super::report::{mean, svg_plot};
use crate::explain::{attention, upsample};
use crate::io::table::Table;
use crate::io::{image as vimage, mask as vmask, write_atomic};
use crate::metrics;
use crate::model::Vit;
use crate::model::preprocess::{self, Normalization};

/// Scores of one (checkpoint, image, block, head).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LayerRow {
    /// Checkpoint name.
    pub checkpoint: String,
    /// Image stem.
    pub stem: String,
    /// Block.
    pub layer: usize,
    /// Head, `None` for the mean over heads.
    pub head: Option<usize>,
    /// Against the mask.
    pub scores: metrics::MetricSet,
}

/// The blocks `--layers` names: every block (`None`) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSelection(pub Option<Vec<usize>>);

/// Parses `--layers`: `all`, or a comma-separated list of block indices.
pub fn parse_layers(s: &str) -> Result<LayerSelection, Invalid> {
    if s.eq_ignore_ascii_case("all") {
        return Ok(LayerSelection(None));
    }
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{p}': give all or block indices like 0,5,11"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|v| LayerSelection(Some(v)))
        .map_err(Invalid)
}

/// Runs the sweep of `models` over the annotated `items`.
pub fn sweep(
    models: &[(String, Vit)],
    items: &[Item],
    layers: Option<&[usize]>,
    cfg: &EvalConfig,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<LayerRow>, EvalError> {
    progress.set_len((models.len() * items.len()) as u64);
    let mut rows = Vec::new();
    for (name, vit) in models {
        if let Some(bad) = layers.and_then(|l| l.iter().find(|&&i| i >= vit.config.depth)) {
            return Err(EvalError::Invalid(Invalid(format!(
                "--layers {bad}: checkpoint {name} has {} blocks (0..{})",
                vit.config.depth,
                vit.config.depth - 1
            ))));
        }
        let device = vit.device();
        for item in items {
            progress.set_message(&format!("{name} layers {}", item.stem));
            crate::progress::check(progress)?;
            progress.inc(1);
            let mask = vmask::read_mask(&item.mask)?;
            if mask.bbox().is_none() {
                continue; // negative image
            }
            let img = vimage::read_image_frame(&item.image, item.frame)?;
            let prepared = preprocess::prepare(
                &img,
                vit.config.img_size,
                cfg.resize,
                &Normalization::default(),
            );
            let (_, grids) = attention::layer_head_maps(vit, prepared.tensor(&device))
                .map_err(|e| EvalError::item(item.image.display(), e))?;
            for (layer, heads) in grids.iter().enumerate() {
                if layers.is_some_and(|l| !l.contains(&layer)) {
                    continue;
                }
                let n = heads.len();
                for (j, grid) in heads.iter().enumerate() {
                    let map = upsample::nearest_minmax(grid, vit.config.patch_size);
                    let mut map = preprocess::map_to_original(&map.values, &prepared.geometry);
                    if (img.width, img.height) != (mask.width, mask.height) {
                        map = preprocess::resize_bilinear(
                            &map,
                            img.width,
                            img.height,
                            mask.width,
                            mask.height,
                        );
                    }
                    let scores = metrics::gpu::compute(
                        &map,
                        mask.width,
                        mask.height,
                        &mask,
                        &cfg.tops,
                        cfg.backend,
                    )
                    .map_err(|e| EvalError::item(&item.stem, e))?;
                    rows.push(LayerRow {
                        checkpoint: name.clone(),
                        stem: item.stem.clone(),
                        layer,
                        head: (j + 1 < n).then_some(j),
                        scores,
                    });
                }
            }
        }
    }
    progress.finish();
    Ok(rows)
}

/// (checkpoint, block, head or `None` for the mean over heads).
type Key = (String, usize, Option<usize>);

/// Writes the sweep's files into `cfg.out`; returns its Markdown section.
pub fn write_reports(rows: &[LayerRow], cfg: &EvalConfig) -> Result<String, EvalError> {
    let io = |p: &Path, e: std::io::Error| EvalError::Layout {
        path: p.to_path_buf(),
        source: e.into(),
    };
    let tops = &cfg.tops;
    let head_name = |h: Option<usize>| h.map_or("mean".to_string(), |h| h.to_string());
    let mut head: Vec<String> = ["checkpoint", "image", "layer", "head", "pointing_game"]
        .map(String::from)
        .to_vec();
    for p in tops {
        head.extend([format!("iou_rect@{p}"), format!("iou_binary@{p}")]);
    }
    let mut per = Table::new(head);
    for r in rows {
        let mut row = vec![
            r.checkpoint.clone(),
            r.stem.clone(),
            r.layer.to_string(),
            head_name(r.head),
            (r.scores.pointing_game as u8).to_string(),
        ];
        for t in &r.scores.top {
            row.extend([format!("{:.6}", t.iou_rect), format!("{:.6}", t.iou_binary)]);
        }
        per.row(row);
    }
    std::fs::create_dir_all(cfg.out.join("plots")).map_err(|e| io(&cfg.out, e))?;
    let p = cfg.out.join("layers.csv");
    per.write(&p).map_err(|e| io(&p, e))?;

    // Means over images per (checkpoint, layer, head).
    let mut keys: Vec<Key> = Vec::new();
    for r in rows {
        let k = (r.checkpoint.clone(), r.layer, r.head);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    // score index 0 = PG, 1 + j = IoU@tops[j]
    let score = |r: &LayerRow, s: usize| {
        if s == 0 {
            r.scores.pointing_game as u8 as f64
        } else {
            r.scores.top[s - 1].iou_rect
        }
    };
    let means: Vec<(Key, usize, Vec<f64>)> = keys
        .iter()
        .map(|k| {
            let sel: Vec<&LayerRow> = rows
                .iter()
                .filter(|r| r.checkpoint == k.0 && r.layer == k.1 && r.head == k.2)
                .collect();
            let m = (0..=tops.len())
                .map(|s| mean(sel.iter().map(|r| score(r, s))))
                .collect();
            (k.clone(), sel.len(), m)
        })
        .collect();
    let mut head: Vec<String> = ["checkpoint", "layer", "head", "images", "pointing_game"]
        .map(String::from)
        .to_vec();
    head.extend(tops.iter().map(|p| format!("iou_rect@{p}")));
    let mut csv = Table::new(head);
    for ((c, l, h), n, m) in &means {
        let mut row = vec![c.clone(), l.to_string(), head_name(*h), n.to_string()];
        row.extend(m.iter().map(|v| format!("{v:.6}")));
        csv.row(row);
    }
    let p = cfg.out.join("layers_summary.csv");
    csv.write(&p).map_err(|e| io(&p, e))?;

    let mut checkpoints: Vec<&String> = Vec::new();
    for ((c, _, _), _, _) in &means {
        if !checkpoints.contains(&c) {
            checkpoints.push(c);
        }
    }
    let names: Vec<String> = std::iter::once("PG".to_string())
        .chain(tops.iter().map(|p| format!("IoU@{p}")))
        .collect();
    let mut md = String::from(
        "\n**Class-token attention per block** (mean over heads; in brackets the best single head and its score), scored against the masks\n\n| checkpoint | block | n |",
    );
    for n in &names {
        let _ = write!(md, " {n} |");
    }
    let _ = writeln!(md, "\n| --- | --- | --- |{}", " --- |".repeat(names.len()));
    for c in &checkpoints {
        let mut layers: Vec<usize> = means
            .iter()
            .filter(|(k, _, _)| &k.0 == *c)
            .map(|(k, _, _)| k.1)
            .collect();
        layers.dedup();
        for &l in &layers {
            let of = |h: Option<usize>| {
                means
                    .iter()
                    .find(|(k, _, _)| &k.0 == *c && k.1 == l && k.2 == h)
            };
            let Some((_, n, m)) = of(None) else { continue };
            let _ = write!(md, "| {c} | {l} | {n} |");
            for (s, v) in m.iter().enumerate() {
                let best = means
                    .iter()
                    .filter(|(k, _, _)| &k.0 == *c && k.1 == l && k.2.is_some())
                    .max_by(|a, b| a.2[s].total_cmp(&b.2[s]));
                match best {
                    Some((k, _, bm)) => {
                        let _ = write!(md, " {v:.3} (h{} {:.3}) |", k.2.unwrap_or(0), bm[s]);
                    }
                    None => {
                        let _ = write!(md, " {v:.3} |");
                    }
                }
            }
            md.push('\n');
        }
    }
    // Plots: mean-over-heads score against relative depth, one line per checkpoint.
    for (s, n) in names.iter().enumerate() {
        let series: Vec<(String, Vec<f64>, Vec<f64>)> = checkpoints
            .iter()
            .map(|c| {
                let pts: Vec<(usize, f64)> = means
                    .iter()
                    .filter(|(k, _, _)| &k.0 == *c && k.2.is_none())
                    .map(|(k, _, m)| (k.1, m[s]))
                    .collect();
                let last = pts.iter().map(|p| p.0).max().unwrap_or(0).max(1) as f64;
                (
                    c.to_string(),
                    pts.iter().map(|p| p.0 as f64 / last).collect(),
                    pts.iter().map(|p| p.1).collect(),
                )
            })
            .collect();
        let svg = svg_plot(
            &format!("{n} of the class-token attention against depth (mean over heads)"),
            "block / last block",
            &series,
        );
        let file = format!(
            "layers_{}.svg",
            n.to_lowercase().replace('@', "_at_").replace('.', "_")
        );
        let p = cfg.out.join("plots").join(file);
        write_atomic(&p, svg.as_bytes()).map_err(|e| io(&p, e))?;
    }
    Ok(md)
}
