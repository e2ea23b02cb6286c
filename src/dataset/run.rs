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
    let (mut extra_md, columns) = if faith.is_empty() && sanity.is_empty() {
        (String::new(), Vec::new())
    } else {
        faith_eval::write_reports(&faith, &sanity, &cfg.out)?
    };
    if let Some(blocks) = &extras.layers {
        let rows = layers::sweep(models, items, blocks.as_deref(), cfg, progress)?;
        extra_md += &layers::write_reports(&rows, cfg)?;
    }
    progress.finish();
    let mut markdown = eval::write_reports(&rows, cfg, &columns)? + &extra_md;
    if let Some(dir) = &extras.labels_from
        && dir.join("labels.csv").is_file()
    {
        let labelled = labels::read_labels(dir)?;
        let acc = eval::accuracy(models, &labelled, cfg.resize, progress)?;
        progress.finish();
        markdown = eval::write_accuracy(&acc, cfg)? + &markdown;
    }
    // `eval::write_reports` wrote its own part; the whole summary replaces it.
    let md_path = cfg.out.join("summary.md");
    crate::io::write_atomic(&md_path, markdown.as_bytes()).map_err(|e| io(&md_path, e))?;
    Ok(Outcome {
        markdown,
        rows: rows.len(),
    })
}
