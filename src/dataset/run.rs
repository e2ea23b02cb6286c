//! The eval runner: everything `vitscope eval` does between loading the checkpoints and printing
//! the summary. Scores every (checkpoint, method, image), then, as asked, the faithfulness tests,
//! the sanity checks, the layer × head sweep and (for a dataset with `labels.csv`) the
//! classification accuracy, and writes every report into the output folder.

use std::path::PathBuf;

use super::eval::{self, EvalConfig};
use super::faith_eval;
use super::items::{EvalError, Item};
use super::labels;
use super::layers;
use crate::faithfulness::sanity::Checkpoint;
use crate::faithfulness::suite::Test;
use crate::model::Vit;
use crate::progress::Progress;

/// What to run beyond the scores.
#[derive(Default)]
pub struct Extras {
    /// Faithfulness tests to run on every map (none: skip).
    pub faithfulness: Vec<Test>,
    /// The checkpoints' tensors for the sanity checks, one per model, in the same order (none:
    /// skip).
    pub sanity: Vec<Checkpoint>,
    /// The layer sweep: `Some(None)` every block, `Some(Some(blocks))` these.
    pub layers: Option<Option<Vec<usize>>>,
    /// The dataset folder, whose `labels.csv` (if any) gives each checkpoint's accuracy.
    pub labels_from: Option<PathBuf>,
}

/// What a run wrote.
pub struct Outcome {
    /// The whole `summary.md`.
    pub markdown: String,
    /// Scored maps.
    pub rows: usize,
}

/// Every per-image record of a run: the reports are computed from these alone, so an unsharded
/// run and a merge of shards write the same bytes from the same records in the same order.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Records {
    /// Scores (checkpoint → method → image).
    pub rows: Vec<eval::Row>,
    /// Faithfulness (checkpoint → image → method).
    pub faith: Vec<faith_eval::FaithRow>,
    /// Sanity (checkpoint → image → method → test).
    pub sanity: Vec<faith_eval::SanityRow>,
    /// Layer sweep (checkpoint → image → block → head).
    pub layers: Vec<layers::LayerRow>,
    /// Accuracy counts per checkpoint, when the dataset has `labels.csv`.
    pub accuracy: Option<Vec<eval::Accuracy>>,
}

/// Which reports a run writes beyond the scores (they are written even with no record).
#[derive(Debug, Clone, Copy, Default)]
pub struct Reports {
    /// `--layers` was given.
    pub layers: bool,
}

/// Computes every record of `models` over `items` (`labelled`: the images of `labels.csv` to
/// classify, when the dataset has one).
pub fn compute(
    models: &[(String, Vit)],
    items: &[Item],
    cfg: &EvalConfig,
    extras: &Extras,
    labelled: Option<&[labels::Labelled]>,
    progress: &dyn Progress,
) -> Result<Records, EvalError> {
    let rows = eval::evaluate(models, items, cfg, progress)?;
    let faith = if extras.faithfulness.is_empty() {
        Vec::new()
    } else {
        let mut tests = extras.faithfulness.clone();
        tests.dedup();
        faith_eval::faithfulness(
            models,
            items,
            &cfg.methods,
            cfg.target,
            cfg.resize,
            &tests,
            progress,
        )?
    };
    let sanity = if extras.sanity.is_empty() {
        Vec::new()
    } else {
        faith_eval::sanity(
            models,
            &extras.sanity,
            items,
            &cfg.methods,
            cfg.target,
            cfg.resize,
            progress,
        )?
    };
    let layers = match &extras.layers {
        Some(blocks) => layers::sweep(models, items, blocks.as_deref(), cfg, progress)?,
        None => Vec::new(),
    };
    progress.finish();
    let accuracy = match labelled {
        Some(l) => {
            let acc = eval::accuracy(models, l, cfg.resize, progress)?;
            progress.finish();
            Some(acc)
        }
        None => None,
    };
    Ok(Records {
        rows,
        faith,
        sanity,
        layers,
        accuracy,
    })
}

/// Writes every report of `records` into `cfg.out` (created if needed): `per_image.csv`,
/// `summary.csv`, `summary.md`, and `faithfulness.csv`, `sanity.csv`, `layers*.csv`,
/// `accuracy.csv`, `plots/*.svg` where the records and `reports` call for them.
pub fn write_all(
    records: &Records,
    cfg: &EvalConfig,
    reports: Reports,
) -> Result<Outcome, EvalError> {
    let io = |p: &std::path::Path, e: std::io::Error| EvalError::Layout {
        path: p.to_path_buf(),
        source: e.into(),
    };
    std::fs::create_dir_all(&cfg.out).map_err(|e| io(&cfg.out, e))?;
    let (mut extra_md, columns) = if records.faith.is_empty() && records.sanity.is_empty() {
        (String::new(), Vec::new())
    } else {
        faith_eval::write_reports(&records.faith, &records.sanity, &cfg.out)?
    };
    if reports.layers {
        extra_md += &layers::write_reports(&records.layers, cfg)?;
    }
    let mut markdown = eval::write_reports(&records.rows, cfg, &columns)? + &extra_md;
    if let Some(acc) = &records.accuracy {
        markdown = eval::write_accuracy(acc, cfg)? + &markdown;
    }
    // `eval::write_reports` wrote its own part; the whole summary replaces it.
    let md_path = cfg.out.join("summary.md");
    crate::io::write_atomic(&md_path, markdown.as_bytes()).map_err(|e| io(&md_path, e))?;
    Ok(Outcome {
        markdown,
        rows: records.rows.len(),
    })
}

/// The images of the dataset's `labels.csv` (none without one).
pub fn labelled(extras: &Extras) -> Result<Option<Vec<labels::Labelled>>, EvalError> {
    match &extras.labels_from {
        Some(dir) if dir.join("labels.csv").is_file() => Ok(Some(labels::read_labels(dir)?)),
        _ => Ok(None),
    }
}

/// Runs the evaluation of `models` over `items` into `cfg.out` (created if needed).
pub fn run(
    models: &[(String, Vit)],
    items: &[Item],
    cfg: &EvalConfig,
    extras: &Extras,
    progress: &dyn Progress,
) -> Result<Outcome, EvalError> {
    let io = |p: &std::path::Path, e: std::io::Error| EvalError::Layout {
        path: p.to_path_buf(),
        source: e.into(),
    };
    std::fs::create_dir_all(&cfg.out).map_err(|e| io(&cfg.out, e))?;
    let labelled = labelled(extras)?;
    let records = compute(models, items, cfg, extras, labelled.as_deref(), progress)?;
    write_all(
        &records,
        cfg,
        Reports {
            layers: extras.layers.is_some(),
        },
    )
}
