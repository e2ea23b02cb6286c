//! The all-or-nothing save. Whatever fails, and wherever a process is killed, the project opens
//! afterwards with either all its old content or all its new content, never a mix:
//!
//! 1. The file on disk is compared with the one that was read (its SHA-256): a project changed
//!    by another program is never overwritten silently ([`Expect`]).
//! 2. Each mask that changed is written under a name no committed project file references — its
//!    content hash is in the name (`NAME_masks/<stem>-<16 hex>.png`) — through a temp file,
//!    fsynced and renamed into place; then the mask folder is fsynced.
//! 3. The project file is written to a temp file in the same folder (created `O_EXCL` with an
//!    unpredictable name), given the old file's permission bits, fsynced, and renamed over the
//!    project file: this rename is the commit. The folder is fsynced.
//! 4. Only then are the mask files that the old file referenced and the new one does not removed
//!    (with leftovers of saves that were killed).
//!
//! A failure before the commit removes everything this save wrote. A failure after it is a
//! warning: the new content is the project. Every step calls a hook, so tests can fail or stop
//! a save between any two steps.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::annotation::LabelMask;
use super::identity::sha256_hex;
use super::model::{Project, ProjectError};

/// The steps of a save, in order (the hook runs after each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The file on disk was compared with the expected one.
    Checked,
    /// Entry `i`'s mask is in place under its new name.
    MaskWritten(usize),
    /// The mask folder was fsynced.
    MasksSynced,
    /// The project text is in the temp file.
    TempWritten,
    /// The temp file was fsynced.
    TempSynced,
    /// The temp file replaced the project file (the commit).
    Renamed,
    /// The project's folder was fsynced.
    FolderSynced,
    /// Masks no longer referenced were removed.
    Cleaned,
}

/// What the project file on disk must be for the save to go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The file as it was read or last saved: its SHA-256 (`None`: it did not exist).
    Unchanged(Option<String>),
    /// Whatever is there (Save as, autosave copies).
    Any,
}

/// One save.
pub struct Request<'a> {
    /// The project file.
    pub path: &'a Path,
    /// The content: paths relative to the file's folder; entries without a new mask keep theirs.
    pub project: Project,
    /// Entries whose mask is written now (an empty mask removes the entry's mask file).
    pub masks: Vec<(usize, &'a LabelMask)>,
    /// The check of the file on disk.
    pub expect: Expect,
}

/// A completed save.
#[derive(Debug)]
pub struct Saved {
    /// The project as written.
    pub project: Project,
    /// SHA-256 of the project file written.
    pub hash: String,
    /// Problems after the commit (the save itself holds).
    pub warnings: Vec<String>,
}

/// SHA-256 of the project file's bytes (`None` when there is no file).
pub fn disk_hash(path: &Path) -> Result<Option<String>, crate::error::Cause> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(sha256_hex(&b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_: &Path) -> Option<u32> {
    None
}

/// The mode a new file gets from the process's umask (`/proc/self/status`, else 022).
fn default_mode() -> u32 {
    let umask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022);
    0o666 & !umask
}

#[cfg(unix)]
fn set_mode(f: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: u32) -> std::io::Result<()> {
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Whether a file name is one a save gives masks: `<stem>-<16 hex>.png`.
fn is_saved_mask_name(name: &str) -> bool {
    name.strip_suffix(".png")
        .and_then(|s| s.rsplit_once('-'))
        .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Writes `bytes` to `dest` through a temp file in its folder (fsynced, then renamed).
fn write_new(dest: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = super::paths::folder_of(dest);
    let mut tmp = tempfile::Builder::new()
        .prefix(".vitscope-")
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    set_mode(tmp.as_file(), mode)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    Ok(())
}

/// The mask files a project references, resolved against its folder.
fn referenced(project: &Project, dir: &Path) -> HashSet<PathBuf> {
    project
        .images
        .iter()
        .filter_map(|e| e.mask.as_ref())
        .map(|m| std::path::absolute(super::paths::resolve(dir, m)).unwrap_or_else(|_| m.clone()))
        .collect()
}

/// Saves (see the module docs); `hook` runs after every step, and an error from it fails the
/// save there as a failing step would.
pub fn save(
    req: Request<'_>,
    hook: &mut dyn FnMut(Step) -> std::io::Result<()>,
) -> Result<Saved, ProjectError> {
    let path = req.path;
    let fail = |cause: crate::error::Cause| ProjectError::Write {
        path: path.to_path_buf(),
        source: cause,
    };
    let io = |e: std::io::Error| fail(e.into());
    let dir = super::paths::folder_of(path);
    let masks_dir = super::paths::mask_dir(path);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project.ron".into());

    // 1. The file on disk.
    let old_bytes = match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(fail(
                format!("cannot read the file before saving: {e}").into(),
            ));
        }
    };
    if let Expect::Unchanged(want) = &req.expect
        && old_bytes.as_deref().map(sha256_hex) != *want
    {
        return Err(ProjectError::ChangedOnDisk {
            path: path.to_path_buf(),
        });
    }
    let old_refs = old_bytes
        .as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| ron::from_str::<Project>(t).ok())
        .map(|p| referenced(&p, &dir))
        .unwrap_or_default();
    let project_mode = mode_of(path).unwrap_or_else(default_mode);
    hook(Step::Checked).map_err(io)?;

    // 2. Masks under new names.
    let mut out = req.project;
    let mut created: Vec<PathBuf> = Vec::new();
    let made_dir = !masks_dir.exists();
    let undo = |created: &[PathBuf]| {
        for f in created {
            let _ = std::fs::remove_file(f);
        }
        if made_dir {
            let _ = std::fs::remove_dir(&masks_dir);
        }
    };
    let r = (|| -> Result<(), ProjectError> {
        let mut wrote = false;
        for &(i, mask) in &req.masks {
            let entry = out
                .images
                .get_mut(i)
                .ok_or_else(|| fail(format!("no image {i} to save a mask for").into()))?;
            if mask.count() == 0 {
                entry.mask = None;
                hook(Step::MaskWritten(i)).map_err(io)?;
                continue;
            }
            let bytes = super::masks::encode_png(mask).map_err(&fail)?;
            let stem: String = entry
                .stem()
                .chars()
                .map(|c| if c.is_control() || c == '/' { '_' } else { c })
                .collect();
            let dest = masks_dir.join(format!("{stem}-{}.png", &sha256_hex(&bytes)[..16]));
            let same = std::fs::read(&dest).is_ok_and(|b| b == bytes);
            if !same {
                std::fs::create_dir_all(&masks_dir).map_err(io)?;
                let existed = dest.exists();
                write_new(&dest, &bytes, project_mode)
                    .map_err(|e| fail(format!("{}: {e}", dest.display()).into()))?;
                if !existed {
                    created.push(dest.clone());
                }
                wrote = true;
            }
            entry.mask = Some(super::paths::relative_to(&dir, &dest));
            hook(Step::MaskWritten(i)).map_err(io)?;
        }
        if wrote {
            sync_dir(&masks_dir).map_err(io)?;
        }
        hook(Step::MasksSynced).map_err(io)?;
        Ok(())
    })();
    if let Err(e) = r {
        undo(&created);
        return Err(e);
    }

    // 3. The project file through a temp file; the rename commits.
    let text = out.to_ron();
    let r = (|| -> Result<tempfile::NamedTempFile, ProjectError> {
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{file_name}.save-"))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| {
                fail(format!("cannot create a temp file in {}: {e}", dir.display()).into())
            })?;
        set_mode(tmp.as_file(), project_mode).map_err(io)?;
        tmp.write_all(text.as_bytes()).map_err(io)?;
        hook(Step::TempWritten).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        hook(Step::TempSynced).map_err(io)?;
        // The last look at the file on disk, right before it is replaced.
        if let Expect::Unchanged(want) = &req.expect
            && disk_hash(path).map_err(&fail)? != *want
        {
            return Err(ProjectError::ChangedOnDisk {
                path: path.to_path_buf(),
            });
        }
        Ok(tmp)
    })();
    let tmp = match r {
        Ok(t) => t,
        Err(e) => {
            undo(&created);
            return Err(e);
        }
    };
    if let Err(e) = tmp.persist(path) {
        drop(e.file);
        undo(&created);
        return Err(fail(e.error.into()));
    }
    let mut warnings = Vec::new();
    let mut after = |step: Step, r: std::io::Result<()>, warnings: &mut Vec<String>| {
        if let Err(e) = r.and_then(|_| hook(step)) {
            warnings.push(format!(
                "{}: saved, but {step:?} failed: {e}",
                path.display()
            ));
        }
    };
    after(Step::Renamed, Ok(()), &mut warnings);
    after(Step::FolderSynced, sync_dir(&dir), &mut warnings);

    // 4. Masks no longer referenced, and leftovers of killed saves.
    let new_refs = referenced(&out, &dir);
    let mut removed = Ok(());
    for f in old_refs.difference(&new_refs) {
        if f.parent() == std::path::absolute(&masks_dir).ok().as_deref()
            && let Err(e) = std::fs::remove_file(f)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            removed = Err(e);
        }
    }
    if let Ok(rd) = std::fs::read_dir(&masks_dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let abs = std::path::absolute(e.path()).unwrap_or_else(|_| e.path());
            let orphan = is_saved_mask_name(&name) && !new_refs.contains(&abs);
            let temp = name.starts_with(".vitscope-") && name.ends_with(".tmp");
            if orphan || temp {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let prefix = format!(".{file_name}.save-");
        let old_enough = |e: &std::fs::DirEntry| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|a| a.as_secs() >= 60)
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // Temp files of killed saves of this project, and of killed lock takers (a minute
            // old: a live one links its file into place within milliseconds).
            let ours = name.starts_with(&prefix) && name.ends_with(".tmp");
            let lock_tmp = name.starts_with(&format!(".{file_name}.lock.")) && old_enough(&e);
            if ours || lock_tmp {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    after(Step::Cleaned, removed, &mut warnings);
    Ok(Saved {
        project: out,
        hash: sha256_hex(text.as_bytes()),
        warnings,
    })
}

/// [`save`] without a hook.
pub fn save_plain(req: Request<'_>) -> Result<Saved, ProjectError> {
    save(req, &mut |_| Ok(()))
}
