//! The items of a dataset run: the images with their masks, from a folder in the paper's layout
//! (`images/` and `masks/` with the same stems) or from a workbench project (through the project
//! core), and the errors of dataset runs.

use crate::error::{Cause, Invalid};
use std::path::{Path, PathBuf};

use crate::io::{image as vimage, mask as vmask};
use crate::metrics::{self, Mask};

/// Errors of dataset evaluation; each names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Layout problem.
    #[error("{path}: {source}")]
    Layout {
        /// File or folder.
        path: PathBuf,
        /// What is wrong.
        source: Cause,
    },
    /// A step failed on one item; `what` names it (a file, a stem, a project's image).
    #[error("{what}: {source}")]
    Item {
        /// The item.
        what: String,
        /// What went wrong.
        source: Cause,
    },
    /// The inputs together break a rule (a mask of another size than its image, a project
    /// without annotations, a layer the model does not have).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// An image or mask could not be read or written.
    #[error(transparent)]
    Image(#[from] crate::io::image::ImageError),
    /// A map file could not be read or written.
    #[error(transparent)]
    Npy(#[from] crate::io::npy::NpyError),
    /// The project could not be read.
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    /// `labels.csv` could not be read.
    #[error(transparent)]
    Labels(#[from] super::labels::LabelError),
    /// The front end asked the run to stop.
    #[error(transparent)]
    Cancelled(#[from] crate::progress::Cancelled),
}

impl EvalError {
    /// A failure of one item, named by `what`.
    pub fn item(what: impl std::fmt::Display, cause: impl Into<Cause>) -> Self {
        EvalError::Item {
            what: what.to_string(),
            source: cause.into(),
        }
    }
}

/// One image of a paper-layout dataset.
#[derive(Debug, Clone)]
pub struct Item {
    /// File stem shared by image and mask.
    pub stem: String,
    /// Image file.
    pub image: PathBuf,
    /// Mask file.
    pub mask: PathBuf,
    /// Frame of a multi-frame DICOM image (0 otherwise).
    pub frame: u32,
}

/// Evaluation items of a workbench project, read through the project core: each annotated
/// image whose file still has its identity, with its mask file, or, for an image with boxes only,
/// a mask of its boxes written to `OUT/project_masks/`. Stems are the images' unique export names.
/// Images whose file changed on disk are left out, each with a line in the returned warnings.
pub fn project_items(file: &Path, out: &Path) -> Result<(Vec<Item>, Vec<String>), EvalError> {
    use crate::project::{self, OpenProject, naming};
    let open = OpenProject::read(file)?;
    let names = naming::export_names(&open.project);
    let mut items = Vec::new();
    let mut warnings = Vec::new();
    let mut changed = 0;
    if open.upgraded > 0 {
        warnings.push(crate::interop::unrecorded(file, open.upgraded));
    }
    for (i, e) in open.project.images.iter().enumerate() {
        if e.mask.is_none() && e.boxes.is_empty() {
            continue;
        }
        if let Some(p) = open.checks[i].problem() {
            changed += 1;
            warnings.push(format!(
                "{}: {}: {p}; not scored",
                file.display(),
                e.path.display()
            ));
            continue;
        }
        let image = open.file(i);
        let at = |cause: Cause| {
            EvalError::item(
                format_args!("{}: image {} ({})", file.display(), i + 1, e.path.display()),
                cause,
            )
        };
        let stem = names[i].clone();
        let mask = match (&e.mask, e.boxes.is_empty()) {
            (Some(m), _) => project::resolve(&open.base, m),
            (None, false) => {
                let (w, h) = vimage::dimensions(&image).map_err(|e| at(e.into()))?;
                let rects: Vec<metrics::Rect> = e.boxes.iter().map(|b| b.rect()).collect();
                if let Some(r) = rects.iter().find(|r| r.x1 > w || r.y1 > h) {
                    return Err(at(Cause::from(format!(
                        "a box {},{},{},{} outside its {w}×{h} pixels",
                        r.x0, r.y0, r.x1, r.y1
                    ))));
                }
                let m = Mask::from_rects(w, h, &rects);
                let path = out.join("project_masks").join(format!("{stem}.png"));
                std::fs::create_dir_all(out.join("project_masks")).map_err(|e| at(e.into()))?;
                vmask::write_mask(&path, &m).map_err(|e| at(e.into()))?;
                path
            }
            (None, true) => continue,
        };
        items.push(Item {
            stem,
            image,
            mask,
            frame: e.frame,
        });
    }
    if items.is_empty() {
        return Err(EvalError::Invalid(Invalid(format!(
            "{}: no annotated images in this project{}",
            file.display(),
            if changed == 0 {
                ""
            } else {
                " whose files still have their identity"
            }
        ))));
    }
    Ok((items, warnings))
}

/// Lists `DIR/images/*` with their `DIR/masks/<stem>.*` partners (sorted by stem).
pub fn list_items(dir: &Path) -> Result<Vec<Item>, EvalError> {
    let layout = |path: &Path, message: &str| EvalError::Layout {
        path: path.to_path_buf(),
        source: message.into(),
    };
    let (images, masks) = (dir.join("images"), dir.join("masks"));
    if !images.is_dir() || !masks.is_dir() {
        return Err(layout(
            dir,
            "expected sub-folders images/ and masks/ (same file stems)",
        ));
    }
    let read = |d: &Path| -> Result<Vec<PathBuf>, EvalError> {
        crate::io::image::list_supported(d).map_err(|e| layout(d, &format!("cannot list: {e}")))
    };
    let mask_files = read(&masks)?;
    let mut items = Vec::new();
    for image in read(&images)? {
        let stem = image
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mask = mask_files
            .iter()
            .find(|m| m.file_stem().map(|s| s.to_string_lossy()) == Some(stem.as_str().into()))
            .ok_or_else(|| layout(&image, "no mask with this file stem in masks/"))?;
        items.push(Item {
            stem,
            image,
            mask: mask.clone(),
            frame: 0,
        });
    }
    if items.is_empty() {
        return Err(layout(&images, "no images"));
    }
    Ok(items)
}
