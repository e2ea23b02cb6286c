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
//! - [`paths`]: where a project's files lie (masks, PACS instances, autosave, lock).
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
pub mod paths;
pub mod recovery;
pub mod save;

pub use identity::{Identity, ImageCheck};
pub use model::{
    CheckpointEntry, ImageEntry, LabelClass, Layout, Project, ProjectError, Status, Threshold,
    ViewSettings,
};
pub use open::OpenProject;
pub use paths::{
    autosave_path, folder_of, lock_path, mask_dir, pacs_dir, relative_to, resolve, stem_of,
};
