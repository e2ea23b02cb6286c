//! How a session is saved: to its project file (all or nothing, never over a file changed on
//! disk), as a recovery copy by the autosave, and how a session comes back from such a copy.

use std::path::{Path, PathBuf};

use super::state::Session;
use crate::project::lock::ProjectLock;
use crate::project::recovery::{self};
use crate::project::save::{self, Expect, Step};
use crate::project::{self, Project, ProjectError};

impl Session {
    /// Writes the project and its masks to `path` (see [`Session::save_with`]).
    pub fn save_to(&mut self, path: &Path, autosave: bool) -> Result<(), ProjectError> {
        self.save_with(path, autosave, &mut |_| Ok(()))
    }

    /// Writes the project and its masks to `path`, all or nothing ([`project::save`]); `hook`
    /// runs after every step of the save. Paths in the file are made relative to its folder
    /// where possible.
    ///
    /// A save to the project's own file refuses to overwrite a file that changed on disk
    /// ([`ProjectError::ChangedOnDisk`]); one to a new place (Save as) writes every mask there
    /// and takes that project's lock. An autosave (`autosave`) writes the copy and changes
    /// nothing in the session. A proper save removes this session's own copy, and only that.
    pub fn save_with(
        &mut self,
        path: &Path,
        autosave: bool,
        hook: &mut dyn FnMut(Step) -> std::io::Result<()>,
    ) -> Result<(), ProjectError> {
        let dir = project::folder_of(path);
        let new_place = self.project_path.as_deref() != Some(path);
        if !autosave && !new_place && !self.editable() {
            return Err(ProjectError::Locked {
                path: path.to_path_buf(),
                holder: self.read_only.clone().unwrap_or_default(),
            });
        }
        if new_place {
            // Every mask goes along, so the copy never shares a mask file with the original.
            for i in 0..self.project.images.len() {
                if self.project.images[i].mask.is_some() {
                    let _ = self.load_annotations(i);
                }
            }
        }
        let lock = if !autosave && new_place {
            Some(
                ProjectLock::acquire(path, "vitscope workbench").map_err(|e| match e {
                    project::lock::LockError::Held { holder, .. } => ProjectError::Locked {
                        path: path.to_path_buf(),
                        holder,
                    },
                    other => ProjectError::Write {
                        path: path.to_path_buf(),
                        source: other.into(),
                    },
                })?,
            )
        } else {
            None
        };
        let mut out = self.project.clone();
        out.version = project::model::VERSION;
        let mut masks = Vec::new();
        for (i, entry) in out.images.iter_mut().enumerate() {
            entry.path = project::relative_to(&dir, &self.resolve(&entry.path));
            let write = self.states[i]
                .as_ref()
                .filter(|s| s.ann.mask.count() > 0 || entry.mask.is_some())
                .filter(|s| s.mask_dirty || new_place);
            if let Some(s) = write {
                masks.push((i, &s.ann.mask));
            } else if let Some(m) = &entry.mask {
                entry.mask = Some(project::relative_to(&dir, &self.resolve(m)));
            }
        }
        for c in &mut out.checkpoints {
            c.weights = project::relative_to(&dir, &self.resolve(&c.weights));
            if let Some(cfg) = &c.config {
                c.config = Some(project::relative_to(&dir, &self.resolve(cfg)));
            }
        }
        let expect = if autosave || new_place {
            Expect::Any
        } else {
            Expect::Unchanged(self.disk_hash.clone())
        };
        let saved = save::save(
            save::Request {
                path,
                project: out,
                masks,
                expect,
            },
            hook,
        )?;
        for w in &saved.warnings {
            self.note(w.clone());
        }
        if !autosave {
            self.project = saved.project;
            self.project_path = Some(path.to_path_buf());
            self.base = dir;
            for s in self.states.iter_mut().flatten() {
                s.mask_dirty = false;
            }
            self.dirty = false;
            self.disk_hash = Some(saved.hash);
            if let Some((l, warning)) = lock {
                self.lock = Some(l);
                self.read_only = None;
                if let Some(w) = warning {
                    self.note(w);
                }
            }
            if let Some(own) = self.own_copy.take() {
                recovery::remove_copy(&own);
            }
        }
        Ok(())
    }

    /// Saves to the project file.
    pub fn save(&mut self) -> Result<PathBuf, ProjectError> {
        let path = self
            .project_path
            .clone()
            .ok_or_else(|| ProjectError::Write {
                path: PathBuf::from("(untitled)"),
                source: "the project has no file yet: use Save as".into(),
            })?;
        self.save_to(&path, false)?;
        Ok(path)
    }

    /// A fresh copy of this session's own in the recovery folder (when the copy beside the
    /// project is pending or cannot be written).
    pub fn fresh_own_copy(&mut self) -> Option<PathBuf> {
        let dir = self.recovery_dir.clone()?;
        let p = if self.project_path.is_some() {
            recovery::new_titled_file(&dir)
        } else {
            recovery::new_untitled_file(&dir)
        };
        self.own_copy = Some(p.clone());
        Some(p)
    }

    /// Writes the autosave copy to this session's own copy; when that fails beside the project
    /// (read-only folder, disk full), to a copy of its own in the recovery folder instead.
    pub fn autosave(&mut self) -> Result<PathBuf, ProjectError> {
        let path = match (&self.own_copy, &self.project_path) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => project::autosave_path(p),
            (None, None) => match self.fresh_own_copy() {
                Some(p) => p,
                None => {
                    return Err(ProjectError::Write {
                        path: PathBuf::from("(untitled)"),
                        source: "no recovery file for this untitled session".into(),
                    });
                }
            },
        };
        self.own_copy = Some(path.clone());
        match self.write_copy(&path) {
            Ok(()) => Ok(path),
            Err(e) => {
                let in_recovery = self
                    .recovery_dir
                    .as_deref()
                    .is_some_and(|d| path.starts_with(d));
                match (in_recovery, self.fresh_own_copy()) {
                    (false, Some(other)) => {
                        self.write_copy(&other)?;
                        self.note(format!(
                            "{e}; the autosave went to {} instead",
                            other.display()
                        ));
                        Ok(other)
                    }
                    _ => Err(e),
                }
            }
        }
    }

    pub(super) fn write_copy(&mut self, path: &Path) -> Result<(), ProjectError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        self.save_to(path, true)?;
        // Who wrote it, so that a running session's copy is never offered to another.
        let project = self.project_path.clone();
        recovery::write_meta(path, self.live.id, project.as_deref()).map_err(|e| {
            ProjectError::Write {
                path: path.to_path_buf(),
                source: e.into(),
            }
        })?;
        Ok(())
    }

    /// A session read from a recovery copy: every image's annotations are read into memory now
    /// (so nothing depends on the copy's files afterwards) and marked for the next save. The
    /// session belongs to the copy's project (`project`, `None` for an untitled copy) but holds
    /// no lock yet. Any annotation that cannot be read refuses the restore.
    pub fn from_copy(copy: &Path, project: Option<&Path>) -> Result<Session, String> {
        let restored = Project::load(copy).map_err(|e| e.to_string())?;
        let base = project::folder_of(copy);
        let mut s = Session::new(restored, Some(copy.to_path_buf()), base);
        for i in 0..s.project.images.len() {
            let has = s.project.images[i].mask.is_some();
            match s.load_annotations(i) {
                Ok(()) => {
                    if let Some(st) = s.states[i].as_mut() {
                        st.mask_dirty = has || st.ann.mask.count() > 0;
                    }
                }
                Err(e) if has => {
                    return Err(format!("{}: cannot restore: {e}", copy.display()));
                }
                Err(_) => {}
            }
        }
        // From here on nothing points into the copy: files absolute, masks in memory.
        let base = s.base.clone();
        for (i, e) in s.project.images.iter_mut().enumerate() {
            e.path = project::resolve(&base, &e.path);
            if s.states[i].is_some() {
                e.mask = None;
            }
        }
        for c in &mut s.project.checkpoints {
            c.weights = project::resolve(&base, &c.weights);
            c.config = c.config.as_ref().map(|p| project::resolve(&base, p));
        }
        s.base = PathBuf::from(".");
        s.project_path = project.map(Path::to_path_buf);
        s.dirty = true;
        Ok(s)
    }
}
