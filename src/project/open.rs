//! A project opened from its file, for reading (`export`, `eval --dataset`) or for writing (the
//! workbench, `import`, `pacs fetch`, `project relink|accept`): the parsed file, the check of
//! every image's identity, and for a writer the lock and the hash the next save compares.
//!
//! Opening checks each entry's file against its identity: a file that is now another image is
//! [`ImageCheck::Changed`] and its annotations are kept but never shown on, scored against or
//! exported with it. An entry without an identity (a file older than version 2) gets its file's;
//! a writer saves that upgrade at once and says so once.

use crate::error::Invalid;
use std::path::{Path, PathBuf};

use super::annotation::{Annotations, LabelMask};
use super::identity::{self, ImageCheck};
use super::lock::ProjectLock;
use super::model::{Project, ProjectError};
use super::save::{self, Expect, Saved};

/// An opened project.
#[derive(Debug)]
pub struct OpenProject {
    /// The content.
    pub project: Project,
    /// The project file.
    pub path: PathBuf,
    /// The folder relative paths resolve against.
    pub base: PathBuf,
    /// SHA-256 of the file as read or last saved (what the next save expects on disk).
    pub hash: Option<String>,
    /// The identity check of every image, in order.
    pub checks: Vec<ImageCheck>,
    /// Entries that got their identity at this open.
    pub upgraded: usize,
    /// The writer's lock (`None` when opened for reading).
    pub lock: Option<ProjectLock>,
    /// Warnings for the user (a stale lock taken over).
    pub warnings: Vec<String>,
    /// Notes for the user (identities recorded).
    pub notes: Vec<String>,
}

/// Checks every entry of `project` (files resolved against `base`); entries without an identity
/// get their file's. Returns the checks and how many entries were given an identity.
pub fn check_all(project: &mut Project, base: &Path) -> (Vec<ImageCheck>, usize) {
    let mut upgraded = 0;
    let checks = project
        .images
        .iter_mut()
        .map(|e| {
            let file = super::paths::resolve(base, &e.path);
            let (c, found) = identity::check(&file, e.frame, e.identity.as_ref());
            if e.identity.is_none()
                && let Some(f) = found
            {
                e.identity = Some(f);
                upgraded += 1;
            }
            c
        })
        .collect();
    (checks, upgraded)
}

impl OpenProject {
    /// Opens for reading: no lock, nothing written (identities missing from an old file are
    /// computed in memory).
    pub fn read(path: &Path) -> Result<OpenProject, ProjectError> {
        let text = crate::io::guard::read_text(path).map_err(|e| ProjectError::Read {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let mut project = Project::parse(&text, path)?;
        let base = super::paths::folder_of(path);
        let (checks, upgraded) = check_all(&mut project, &base);
        Ok(OpenProject {
            project,
            path: path.to_path_buf(),
            base,
            hash: Some(identity::sha256_hex(text.as_bytes())),
            checks,
            upgraded,
            lock: None,
            warnings: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// Opens for writing as `program`: takes the lock (a live holder is
    /// [`ProjectError::Locked`]), reads, and saves the identities an old file lacked.
    pub fn write(path: &Path, program: &str) -> Result<OpenProject, ProjectError> {
        let (lock, warning) = ProjectLock::acquire(path, program).map_err(|e| match e {
            super::lock::LockError::Held { holder, .. } => ProjectError::Locked {
                path: path.to_path_buf(),
                holder,
            },
            super::lock::LockError::Io { source, .. } => ProjectError::CannotLock {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let mut p = Self::read(path)?;
        p.lock = Some(lock);
        p.warnings.extend(warning);
        if p.upgraded > 0 {
            let n = p.upgraded;
            p.save(Vec::new())?;
            p.notes.push(format!(
                "{}: recorded the identity of {n} image(s) (SOP Instance UID or SHA-256): the project file is now version {}",
                path.display(),
                super::model::VERSION
            ));
        }
        Ok(p)
    }

    /// The file of image `i`, resolved.
    pub fn file(&self, i: usize) -> PathBuf {
        super::paths::resolve(&self.base, &self.project.images[i].path)
    }

    /// Image `i`'s annotations: its boxes and its mask (sized by the image file). An image that
    /// failed its identity check is an error: its annotations are not for the file there now.
    pub fn annotations(&self, i: usize) -> Result<Annotations, crate::error::Cause> {
        let e = &self.project.images[i];
        if let Some(p) = self.checks[i].problem() {
            return Err(Invalid::from(format!("{}: {p}", e.path.display())).into());
        }
        let (w, h) = crate::io::image::dimensions(&self.file(i))?;
        let mut ann = Annotations::new(w, h);
        ann.boxes = e.boxes.clone();
        if let Some(m) = &e.mask {
            let (mask, _) =
                super::masks::read_label_mask(&super::paths::resolve(&self.base, m), w, h)?;
            ann.mask = mask;
        }
        Ok(ann)
    }

    /// Saves the project with the masks of `masks` rewritten (all or nothing; refused when the
    /// file changed on disk since it was read).
    pub fn save(&mut self, masks: Vec<(usize, &LabelMask)>) -> Result<Saved, ProjectError> {
        let mut content = self.project.clone();
        content.version = super::model::VERSION;
        let saved = save::save_plain(save::Request {
            path: &self.path,
            project: content,
            masks,
            expect: Expect::Unchanged(self.hash.clone()),
        })?;
        self.project = saved.project.clone();
        self.hash = Some(saved.hash.clone());
        Ok(saved)
    }

    /// Indices of images whose identity check failed, with the problem.
    pub fn problems(&self) -> Vec<(usize, String)> {
        self.checks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.problem().map(|p| (i, p)))
            .collect()
    }
}
