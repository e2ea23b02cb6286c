//! `labels.csv` of a classification dataset: a header naming `image` and `label` (other columns,
//! such as the phantom's box, are ignored), one row per image under `images/`.

use std::path::{Path, PathBuf};

/// A problem with a label file, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct LabelError {
    /// The CSV file.
    pub path: PathBuf,
    /// What is wrong.
    pub source: crate::error::Cause,
}

/// Class indices run from 0 to this bound (exclusive).
pub const MAX_CLASSES: usize = 100_000;

/// One labelled image.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// `DIR/images/<name>`, checked to exist.
    pub image: PathBuf,
    /// Class index.
    pub label: usize,
}

/// The number of classes of a labelled dataset: one more than its largest label (at least 1).
pub fn class_count(labelled: &[Labelled]) -> usize {
    labelled.iter().map(|l| l.label).max().unwrap_or(0) + 1
}

/// Reads `DIR/labels.csv`. Every named image must exist.
pub fn read_labels(dir: &Path) -> Result<Vec<Labelled>, LabelError> {
    let csv = dir.join("labels.csv");
    let err = |message: String| LabelError {
        path: csv.clone(),
        source: message.into(),
    };
    let text = crate::io::guard::read_text(&csv).map_err(|e| LabelError {
        path: csv.clone(),
        source: e.into(),
    })?;
    let (cols, rows) = crate::io::table::read(&text).map_err(|e| LabelError {
        path: csv.clone(),
        source: e.into(),
    })?;
    let (Some(ci), Some(cl)) = (
        cols.iter().position(|c| c == "image"),
        cols.iter().position(|c| c == "label"),
    ) else {
        return Err(err(
            "the header must name the columns `image` and `label`".into()
        ));
    };
    let mut out = Vec::new();
    for (n, f) in rows.iter().enumerate() {
        let (Some(name), Some(label)) = (f.get(ci), f.get(cl)) else {
            return Err(err(format!("line {}: too few columns", n + 2)));
        };
        let label: usize = label
            .parse()
            .ok()
            .filter(|&l| l < MAX_CLASSES)
            .ok_or_else(|| {
                err(format!(
                    "line {}: label '{label}' is not a class index (0 to {})",
                    n + 2,
                    MAX_CLASSES - 1
                ))
            })?;
        let image = dir.join("images").join(name);
        if !image.is_file() {
            return Err(err(format!(
                "line {}: names {} which does not exist",
                n + 2,
                image.display()
            )));
        }
        if !crate::io::image::is_supported(&image) {
            return Err(err(format!(
                "line {}: {} is not an image this program reads ({})",
                n + 2,
                image.display(),
                crate::io::image::SUPPORTED_NAMES
            )));
        }
        out.push(Labelled { image, label });
    }
    if out.is_empty() {
        return Err(err("no labelled images".into()));
    }
    Ok(out)
}
