//! Work safety: the recovery copies and the autosave clock (driven by time, not input).
//!
//! - A titled project autosaves to `.NAME.ron.autosave.ron` beside it (masks in
//!   `.NAME.ron.autosave_masks/`) and registers that copy in the recovery folder
//!   (`$XDG_DATA_HOME/vitscope/recovery`, else `~/.local/share/vitscope/recovery`) by a small
//!   `.ref` file naming the project.
//! - Where that copy is still pending (offered and not decided on: "Later"), or a save failed,
//!   the session autosaves to a copy of its own in the recovery folder instead,
//!   `titled-<ms>-<pid>-<n>.ron`, which names its project in a `.meta` file beside it.
//! - An untitled session autosaves to a file of its own there, `untitled-<ms>-<pid>-<n>.ron`, so
//!   two untitled sessions never overwrite each other's copy.
//! - At start every copy is offered back, except copies of sessions that still run (their
//!   `.meta` names a live process and session). A copy exists only until its session saved
//!   properly or the user decided on it, so a copy older than its project (another session saved
//!   meanwhile) is still offered: its work is in no saved file.
//!
//! Nothing here removes a copy on its own: [`remove_copy`] is called for a session's own copy
//! after a proper save, and for a copy the user discarded.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::lock::{Liveness, Owner};
use super::model::Project;

/// Autosave interval: work is never more than this old on disk (`VITSCOPE_AUTOSAVE_SECS`
/// shortens it for tests, 1 to 30).
pub fn autosave_secs() -> u64 {
    std::env::var("VITSCOPE_AUTOSAVE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| (1..=AUTOSAVE_SECS).contains(v))
        .unwrap_or(AUTOSAVE_SECS)
}

/// The longest autosave interval.
pub const AUTOSAVE_SECS: u64 = 30;

/// `$XDG_DATA_HOME/vitscope`, else `~/.local/share/vitscope`, else the temp folder's.
pub fn data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("vitscope")
}

/// The recovery folder inside a data folder.
pub fn recovery_dir(data: &Path) -> PathBuf {
    data.join("recovery")
}

fn fresh_name(dir: &Path, kind: &str) -> PathBuf {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!("{kind}-{ms}-{}-{n}.ron", std::process::id()))
}

/// A fresh recovery file for an untitled session (not created yet).
pub fn new_untitled_file(dir: &Path) -> PathBuf {
    fresh_name(dir, "untitled")
}

/// A fresh recovery file for a titled project whose own copy is pending or cannot be written.
pub fn new_titled_file(dir: &Path) -> PathBuf {
    fresh_name(dir, "titled")
}

/// Sessions of this process that are running (their copies are not offered).
static LIVE: Mutex<Option<HashSet<u64>>> = Mutex::new(None);

/// A running session: registered while it lives, so that its copies are not offered to another
/// session of the same process.
#[derive(Debug)]
pub struct LiveSession {
    /// Its number within the process.
    pub id: u64,
}

impl LiveSession {
    /// Registers a new session.
    pub fn start() -> LiveSession {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(HashSet::new)
            .insert(id);
        LiveSession { id }
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        if let Some(s) = LIVE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            s.remove(&self.id);
        }
    }
}

fn session_live(id: u64) -> bool {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .is_some_and(|s| s.contains(&id))
}

/// The `.meta` file beside a copy in the recovery folder.
fn meta_path(copy: &Path) -> PathBuf {
    let name = copy
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    copy.with_file_name(format!("{name}.meta"))
}

/// Records who writes a copy (and its project): the owner's lines, `session=`, `project=`.
pub fn write_meta(copy: &Path, session: u64, project: Option<&Path>) -> std::io::Result<()> {
    let mut text = Owner::current("vitscope workbench").to_text();
    text.push_str(&format!("session={session}\n"));
    if let Some(p) = project {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        text.push_str(&format!("project={}\n", abs.display()));
    }
    crate::io::write_atomic(&meta_path(copy), text.as_bytes())
}

/// What a `.meta` file says: the owner, whether its session still runs, the project.
fn read_meta(copy: &Path) -> (bool, Option<PathBuf>) {
    let Ok(text) = std::fs::read_to_string(meta_path(copy)) else {
        return (false, None);
    };
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_string)
    };
    let project = field("project").map(PathBuf::from);
    let running = Owner::parse(&text).is_some_and(|o| {
        if o.is_current() {
            field("session")
                .and_then(|s| s.parse().ok())
                .is_some_and(session_live)
        } else {
            o.liveness() == Liveness::Alive
        }
    });
    (running, project)
}

/// The `.ref` file that registers a titled project's autosave.
fn ref_file(dir: &Path, project: &Path) -> PathBuf {
    // FNV-1a of the absolute path names the file.
    let abs = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
    let h = abs
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
    dir.join(format!("project-{h:016x}.ref"))
}

/// Registers a titled project's autosave in the recovery folder.
pub fn register(dir: &Path, project: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let abs = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
    crate::io::write_atomic(&ref_file(dir, project), abs.to_string_lossy().as_bytes())
}

/// One recovery copy that can be offered back.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryCopy {
    /// The autosave file.
    pub autosave: PathBuf,
    /// The project it belongs to (`None`: an untitled session).
    pub project: Option<PathBuf>,
    /// When it was written.
    pub modified: SystemTime,
}

impl RecoveryCopy {
    /// One line for the list: what, when.
    pub fn describe(&self) -> String {
        let age = SystemTime::now()
            .duration_since(self.modified)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let when = match age {
            0..=119 => format!("{age} s ago"),
            120..=7199 => format!("{} min ago", age / 60),
            _ => format!("{} h ago", age / 3600),
        };
        match &self.project {
            Some(p) => format!("{} ({when})", p.display()),
            None => format!(
                "untitled session {} ({when})",
                self.autosave
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
        }
    }

    /// Removes the copy (the user discarded it): its file, its masks, its `.meta`, and its
    /// registration when it is the project's own copy.
    pub fn discard(&self, dir: &Path) {
        remove_copy(&self.autosave);
        if let Some(p) = &self.project
            && super::paths::autosave_path(p) == self.autosave
        {
            let _ = std::fs::remove_file(ref_file(dir, p));
        }
    }
}

/// Removes an autosave file, its mask folder and its `.meta`.
pub fn remove_copy(autosave: &Path) {
    let _ = std::fs::remove_file(autosave);
    let _ = std::fs::remove_dir_all(super::paths::mask_dir(autosave));
    let _ = std::fs::remove_file(meta_path(autosave));
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// A project's own autosave copy beside it, when one is waiting for a decision: it exists and
/// the session that wrote it no longer runs.
pub fn pending_autosave(project: &Path) -> Option<PathBuf> {
    let auto = super::paths::autosave_path(project);
    (auto.is_file() && !read_meta(&auto).0).then_some(auto)
}

/// Every copy waiting for a decision, newest first: every copy of a session that no longer runs
/// (a copy exists only until its session saved properly or the user discarded it), untitled or
/// titled, beside its project or in the recovery folder (`also`: the project just opened, whose
/// copy may not be registered). Stale registrations are removed.
pub fn list(dir: &Path, also: Option<&Path>) -> Vec<RecoveryCopy> {
    let mut out = Vec::new();
    let mut projects: Vec<PathBuf> = also.map(Path::to_path_buf).into_iter().collect();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let untitled = name.starts_with("untitled-");
        if (untitled || name.starts_with("titled-")) && name.ends_with(".ron") {
            let (running, project) = read_meta(&p);
            if running {
                continue;
            }
            if let Some(t) = modified(&p) {
                out.push(RecoveryCopy {
                    autosave: p,
                    project: if untitled { None } else { project },
                    modified: t,
                });
            }
        } else if name.ends_with(".ref") {
            match crate::io::guard::read_text(&p) {
                Ok(target) if super::paths::autosave_path(Path::new(&target)).is_file() => {
                    projects.push(PathBuf::from(target))
                }
                _ => {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
    }
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    projects.sort_by_key(|p| abs(p));
    projects.dedup_by_key(|p| abs(p));
    for p in projects {
        if let Some(auto) = pending_autosave(&p)
            && let Some(t) = modified(&auto)
        {
            out.push(RecoveryCopy {
                autosave: auto,
                project: Some(p),
                modified: t,
            });
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.modified));
    out
}

/// What the autosave clock asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutosaveStep {
    /// Nothing unsaved since the last autosave.
    Idle,
    /// Unsaved changes: wake up after this long (even without input).
    Wait(Duration),
    /// Write the autosave now.
    Due,
}

/// Decides when to autosave: within [`AUTOSAVE_SECS`] of the first change not yet on disk,
/// however idle the user is. The change is detected by comparing a fingerprint of the session
/// (its edit generation and project) with the one last written.
#[derive(Debug)]
pub struct AutosaveClock {
    interval: Duration,
    first_unsaved: Option<Instant>,
    written: Option<(u64, Project)>,
}

impl AutosaveClock {
    /// A clock with the given interval.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            first_unsaved: None,
            written: None,
        }
    }

    /// Called every frame with the session's state.
    pub fn step(
        &mut self,
        now: Instant,
        dirty: bool,
        generation: u64,
        project: &Project,
    ) -> AutosaveStep {
        let same = self
            .written
            .as_ref()
            .is_some_and(|(g, p)| *g == generation && p == project);
        if !dirty || same {
            self.first_unsaved = None;
            return AutosaveStep::Idle;
        }
        let since = *self.first_unsaved.get_or_insert(now);
        let age = now.saturating_duration_since(since);
        if age >= self.interval {
            AutosaveStep::Due
        } else {
            AutosaveStep::Wait(self.interval - age)
        }
    }

    /// The autosave (or a save) wrote this state.
    pub fn written(&mut self, generation: u64, project: &Project) {
        self.first_unsaved = None;
        self.written = Some((generation, project.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_fires_within_the_interval_of_the_first_unsaved_change() {
        let mut c = AutosaveClock::new(Duration::from_secs(30));
        let p = Project::default();
        let t0 = Instant::now();
        assert_eq!(c.step(t0, false, 1, &p), AutosaveStep::Idle);
        assert_eq!(
            c.step(t0, true, 2, &p),
            AutosaveStep::Wait(Duration::from_secs(30))
        );
        // Later edits do not push the deadline back.
        let t10 = t0 + Duration::from_secs(10);
        assert_eq!(
            c.step(t10, true, 3, &p),
            AutosaveStep::Wait(Duration::from_secs(20))
        );
        assert_eq!(
            c.step(t0 + Duration::from_secs(30), true, 3, &p),
            AutosaveStep::Due
        );
        c.written(3, &p);
        assert_eq!(
            c.step(t0 + Duration::from_secs(31), true, 3, &p),
            AutosaveStep::Idle
        );
        // A project change without a new edit generation (a status) counts.
        let mut q = p.clone();
        q.classes.pop();
        assert!(matches!(
            c.step(t0 + Duration::from_secs(32), true, 3, &q),
            AutosaveStep::Wait(_)
        ));
    }

    #[test]
    fn copies_are_listed_per_session_and_stale_registrations_dropped() {
        let root = std::env::temp_dir().join(format!("vitscope-recovery-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = recovery_dir(&root);
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("untitled-1-1.ron"), dir.join("untitled-2-2.ron"));
        // A copy of a session that still runs (this one) is not offered; once it ends, it is.
        let running = dir.join("untitled-3-3.ron");
        std::fs::write(&running, "()").unwrap();
        let live = LiveSession::start();
        write_meta(&running, live.id, None).unwrap();
        assert!(list(&dir, None).iter().all(|c| c.autosave != running));
        drop(live);
        assert!(list(&dir, None).iter().any(|c| c.autosave == running));
        remove_copy(&running);
        std::fs::write(&a, "()").unwrap();
        std::fs::write(&b, "()").unwrap();
        // A titled project with a newer autosave, and one whose autosave is gone.
        let proj = root.join("p.ron");
        std::fs::write(&proj, "()").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(super::super::paths::autosave_path(&proj), "()").unwrap();
        register(&dir, &proj).unwrap();
        let gone = root.join("gone.ron");
        register(&dir, &gone).unwrap();
        let l = list(&dir, None);
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(l.iter().filter(|c| c.project.is_none()).count(), 2);
        assert!(
            l.iter()
                .any(|c| c.project.as_deref() == Some(proj.as_path()))
        );
        assert!(
            !ref_file(&dir, &gone).exists(),
            "stale registration removed"
        );
        // Also offered when only named (not registered), and not twice.
        assert_eq!(list(&dir, Some(&proj)).len(), 3);
        for c in &l {
            c.discard(&dir);
        }
        assert!(list(&dir, Some(&proj)).is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }
}
