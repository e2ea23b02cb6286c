//! A study from a PACS into a project, by UID: each instance is stored as
//! `NAME_pacs/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm`, built only from UIDs that pass
//! [`valid_uid`], and an image entry is recognised by its SOP Instance UID, never by its place in
//! the server's reply. Fetching a study again — in another order, with instances added or
//! removed — adds the new instances and leaves every annotated one where it is.
//!
//! The reply is received into a staging folder first; each part must be a DICOM file whose UIDs
//! are valid and whose study is the one asked for. Only when every part passed are the files
//! renamed into place. A failed fetch removes what it staged and placed: the project's folder is
//! as it was (its lock file aside).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::InteropError;
use super::dicomweb::Client;
use crate::project::identity::{Identity, valid_uid};
use crate::project::{ImageEntry, OpenProject};

/// One instance received and filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its file, `<cache>/<study>/<series>/<sop>.dcm`.
    pub path: PathBuf,
    /// SOP Instance UID.
    pub sop_instance: String,
    /// Whether it is an image the workbench can show (not a SEG, SR, …).
    pub image: bool,
    /// Frames.
    pub frames: u32,
    /// Whether this fetch wrote the file (false: it was there already).
    pub new: bool,
}

/// Removes files and then the folders that became empty, deepest first.
fn remove_all(files: &[PathBuf], dirs: &[PathBuf]) {
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    let mut dirs = dirs.to_vec();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
}

/// Files placed by one fetch, removed again if it fails.
#[derive(Debug, Default)]
pub struct Placed {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Folders created.
    pub dirs: Vec<PathBuf>,
}

impl Placed {
    /// Takes everything back.
    pub fn undo(&self) {
        remove_all(&self.files, &self.dirs);
    }
}

fn mkdirs(dir: &Path, made: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(x) = d {
        if x.exists() {
            break;
        }
        missing.push(x.to_path_buf());
        d = x.parent();
    }
    std::fs::create_dir_all(dir)?;
    made.extend(missing);
    Ok(())
}

/// Fetches `study` into `cache` (the project's `NAME_pacs`, or the workbench's cache folder):
/// received, checked, then filed by UID. On error nothing is left behind.
pub fn receive(
    client: &Client,
    study: &str,
    cache: &Path,
) -> Result<(Vec<Received>, Placed), InteropError> {
    valid_uid(study).map_err(|e| InteropError::at("--study", e))?;
    let mut placed = Placed::default();
    mkdirs(cache, &mut placed.dirs)
        .map_err(|e| InteropError::at(format_args!("{}: cannot create", cache.display()), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempdir_in(cache)
        .map_err(|e| {
            InteropError::at(format_args!("{}: cannot stage a fetch", cache.display()), e)
        })?;
    let r = (|| {
        let parts = client
            .fetch_study(study, staging.path())
            .map_err(super::fail)?;
        // Check every part before anything is filed.
        let mut checked = Vec::new();
        let mut seen = HashSet::new();
        for p in &parts {
            let u = crate::io::dicom::instance_uids(p).map_err(|e| {
                InteropError::msg(format!(
                    "{}: study {study}: a part of the reply is not a readable DICOM instance: {e}",
                    client.url()
                ))
            })?;
            for (what, uid) in [
                ("Study Instance UID", &u.study),
                ("Series Instance UID", &u.series),
                ("SOP Instance UID", &u.sop_instance),
            ] {
                valid_uid(uid).map_err(|e| {
                    InteropError::msg(format!(
                        "{}: study {study}: an instance's {what} {e}; nothing was stored",
                        client.url()
                    ))
                })?;
            }
            if u.study != study {
                return Err(InteropError::msg(format!(
                    "{}: asked for study {study}, the reply holds an instance of study {}; nothing was stored",
                    client.url(),
                    u.study
                )));
            }
            if seen.insert(u.sop_instance.clone()) {
                checked.push((p.clone(), u));
            }
        }
        let mut out = Vec::new();
        for (p, u) in checked {
            let dir = cache.join(&u.study).join(&u.series);
            let dest = dir.join(format!("{}.dcm", u.sop_instance));
            let new = !dest.exists();
            if new {
                mkdirs(&dir, &mut placed.dirs).map_err(|e| InteropError::at(dir.display(), e))?;
                std::fs::rename(&p, &dest).map_err(|e| InteropError::at(dest.display(), e))?;
                placed.files.push(dest.clone());
            }
            let image = u.sop_class != super::seg::SEG_SOP_CLASS
                && crate::io::image::dimensions(&dest).is_ok();
            out.push(Received {
                path: dest,
                sop_instance: u.sop_instance,
                image,
                frames: u.frames,
                new,
            });
        }
        if let Ok(d) = std::fs::File::open(cache) {
            let _ = d.sync_all();
        }
        Ok(out)
    })();
    drop(staging);
    match r {
        Ok(v) => Ok((v, placed)),
        Err(e) => {
            placed.undo();
            Err(e)
        }
    }
}

/// What `pacs fetch` did.
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    /// `image <- file (by UID)` per instance added, and the ones already there.
    pub lines: Vec<String>,
    /// Images added.
    pub added: usize,
    /// Instances already in the project (recognised by UID).
    pub known: usize,
    /// Warnings (a stale lock taken over, problems after the save).
    pub warnings: Vec<String>,
    /// Notes (identities recorded).
    pub notes: Vec<String>,
}

/// Fetches a study (WADO-RS) into the project's `NAME_pacs/` and adds its image instances that
/// the project does not have yet (by SOP Instance UID; frame 0 of a multi-frame instance, whose
/// other frames become entries when shown). The project is saved all or nothing; a failure
/// anywhere leaves the project's folder as it was.
pub fn fetch_into_project(
    client: &Client,
    study: &str,
    project: &Path,
) -> Result<FetchReport, InteropError> {
    valid_uid(study).map_err(|e| InteropError::at("--study", e))?;
    let mut open = OpenProject::write(project, "vitscope pacs fetch").map_err(super::fail)?;
    let cache = crate::project::pacs_dir(project);
    let (received, placed) = receive(client, study, &cache)?;
    let mut report = FetchReport {
        warnings: std::mem::take(&mut open.warnings),
        notes: std::mem::take(&mut open.notes),
        ..Default::default()
    };
    let r = (|| {
        let have: HashSet<Identity> = open
            .project
            .images
            .iter()
            .filter_map(|e| e.identity.clone())
            .collect();
        for r in received.iter().filter(|r| r.image) {
            let id = Identity::Dicom {
                uid: r.sop_instance.clone(),
                frame: 0,
            };
            let rel = crate::project::relative_to(&open.base, &r.path);
            if have.contains(&id) {
                report.known += 1;
                report
                    .lines
                    .push(format!("{} already in the project (by UID)", rel.display()));
                continue;
            }
            let mut e = ImageEntry::new(rel.clone());
            e.identity = Some(id);
            open.project.images.push(e);
            report.added += 1;
            let frames = if r.frames > 1 {
                format!(", {} frames", r.frames)
            } else {
                String::new()
            };
            report.lines.push(format!(
                "{} <- {} (by UID{frames})",
                r.sop_instance,
                rel.display()
            ));
        }
        if report.added == 0 && report.known == 0 {
            return Err(InteropError::msg(format!(
                "{}: study {study} has no image this workbench can open",
                client.url()
            )));
        }
        if report.added > 0 {
            let saved = open.save(Vec::new()).map_err(super::fail)?;
            report.warnings.extend(saved.warnings);
        }
        Ok(())
    })();
    match r {
        Ok(()) => Ok(report),
        Err(e) => {
            placed.undo();
            Err(e)
        }
    }
}
