//! The project core: everything that makes ground truth trustworthy, shared by the workbench,
//! `import`, `export`, `pacs fetch`, `eval --dataset P.ron` and `project check|relink|accept`.
//!
//! - [`model`]: the project file (RON): images with their identities, boxes, masks, statuses,
//!   classes, checkpoints, view settings; validation and the upgrade of older files.
//! - [`annotation`]: annotations of one image (boxes, label mask), the edits on them and their
//!   undo history, and the raster operations the tools use.
//! - [`identity`]: what an image *is*, independent of its path: the SOP Instance UID (and frame)
//!   of a DICOM instance, else the SHA-256 of the file; the check at open.
//! - [`masks`]: label masks (class ids) read and written as PNG, with the class rules.
//! - [`lock`]: one writer per project (`.NAME.ron.lock`).
//! - [`save`]: the all-or-nothing save and the check that the file did not change on disk.
//! - [`open`]: a project opened for reading or writing (lock, identities, upgrade).
//! - [`recovery`]: autosave copies and the clock that drives them.
//! - [`naming`]: unique export names and `manifest.csv`.
//! - [`import`]: matching imported files to images by identity, and merging them per class.
//!
//! It uses `io` and `metrics` (masks and rectangles) only; nothing here knows egui or clap.

pub mod annotation;
pub mod identity;
pub mod import;
pub mod lock;
pub mod masks;
pub mod model;
pub mod naming;
pub mod open;
pub mod recovery;
pub mod save;

pub use identity::{Identity, ImageCheck};
pub use model::{
    CheckpointEntry, ImageEntry, LabelClass, Layout, Project, ProjectError, Status, Threshold,
    ViewSettings,
};
pub use open::OpenProject;

use std::path::{Path, PathBuf};

/// Resolves a project-relative path.
pub fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// `p` relative to `dir` when it lies below it, else absolute.
pub fn relative_to(dir: &Path, p: &Path) -> PathBuf {
    let abs = |q: &Path| std::path::absolute(q).unwrap_or_else(|_| q.to_path_buf());
    let (d, q) = (abs(dir), abs(p));
    q.strip_prefix(&d).map(Path::to_path_buf).unwrap_or(q)
}

/// The folder a project file lies in (`.` for a bare name).
pub fn folder_of(project: &Path) -> PathBuf {
    project
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// A project file's name without `.ron` (`project` when it has none).
pub fn stem_of(project: &Path) -> String {
    project
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into())
}

/// Folder of a project's mask files: `NAME_masks` beside `NAME.ron`.
pub fn mask_dir(project: &Path) -> PathBuf {
    folder_of(project).join(format!("{}_masks", stem_of(project)))
}

/// Folder of a project's PACS instances: `NAME_pacs` beside `NAME.ron`.
pub fn pacs_dir(project: &Path) -> PathBuf {
    folder_of(project).join(format!("{}_pacs", stem_of(project)))
}

fn dotted(project: &Path, suffix: &str) -> PathBuf {
    let name = project
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project.ron".into());
    folder_of(project).join(format!(".{name}{suffix}"))
}

/// The autosave file of a project: `.NAME.ron.autosave.ron` beside it.
pub fn autosave_path(project: &Path) -> PathBuf {
    dotted(project, ".autosave.ron")
}

/// The lock file of a project: `.NAME.ron.lock` beside it.
pub fn lock_path(project: &Path) -> PathBuf {
    dotted(project, ".lock")
}
