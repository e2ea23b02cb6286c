//! Where a project's files lie, all beside `NAME.ron`: `NAME_masks/`, `NAME_pacs/`, the autosave
//! copy `.NAME.ron.autosave.ron` and the lock `.NAME.ron.lock`; and project-relative paths.

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
