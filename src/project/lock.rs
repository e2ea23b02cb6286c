//! One writer per project: `.NAME.ron.lock` beside the project file holds the writer's host name,
//! process id, process start time, boot id and program. It is created exclusively and whole: the
//! text goes to a temp file created with `O_EXCL`, which is then hard-linked to the lock's name —
//! the link fails when a lock exists, and a writer killed at any point leaves no empty lock. A second writer
//! is refused and told who holds the project. A lock whose process is gone (same host, and the
//! pid is not running, or runs a process that started at another time, or the machine rebooted)
//! is stale: it is taken over with a warning. The lock is removed when its holder drops it; a
//! `kill -9` leaves a stale lock that the next writer takes over.
//!
//! Liveness is read from `/proc` (Linux). Where it cannot be read, or the lock comes from another
//! host, the holder is assumed alive: a lock is never broken on a guess.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who holds (or held) a lock, or wrote a recovery copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// The process's start time (clock ticks since boot, `/proc/PID/stat` field 22; 0 unknown).
    pub start: u64,
    /// The kernel's boot id (empty when unknown).
    pub boot: String,
    /// What holds it: `vitscope workbench`, `vitscope import`, …
    pub program: String,
    /// When it was taken (seconds since 1970).
    pub since: u64,
}

/// Whether an owner's process still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It runs (or this cannot be told: another host, no `/proc`).
    Alive,
    /// It is gone.
    Gone,
}

fn proc_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (the command) is in parentheses and may hold spaces: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// This machine's host name.
pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

impl Owner {
    /// This process, as `program`.
    pub fn current(program: &str) -> Owner {
        let pid = std::process::id();
        Owner {
            host: host_name(),
            pid,
            start: proc_start(pid).unwrap_or(0),
            boot: boot_id(),
            program: program.chars().filter(|c| !c.is_control()).collect(),
            since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// The file text: one `key=value` line each.
    pub fn to_text(&self) -> String {
        format!(
            "host={}\npid={}\nstart={}\nboot={}\nprogram={}\nsince={}\n",
            self.host, self.pid, self.start, self.boot, self.program, self.since
        )
    }

    /// Parses [`Owner::to_text`]; `None` when a field is missing.
    pub fn parse(text: &str) -> Option<Owner> {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(str::to_string)
        };
        Some(Owner {
            host: get("host")?,
            pid: get("pid")?.parse().ok()?,
            start: get("start")?.parse().ok()?,
            boot: get("boot").unwrap_or_default(),
            program: get("program").unwrap_or_default(),
            since: get("since").and_then(|s| s.parse().ok()).unwrap_or(0),
        })
    }

    /// Whether the owner's process still runs (see the module docs).
    pub fn liveness(&self) -> Liveness {
        if self.host != host_name() {
            return Liveness::Alive;
        }
        let here = boot_id();
        if !self.boot.is_empty() && !here.is_empty() && self.boot != here {
            return Liveness::Gone;
        }
        if !Path::new("/proc/self/stat").exists() {
            return Liveness::Alive;
        }
        match proc_start(self.pid) {
            None => Liveness::Gone,
            Some(s) if self.start != 0 && s != self.start => Liveness::Gone,
            Some(_) => Liveness::Alive,
        }
    }

    /// Whether this is the current process.
    pub fn is_current(&self) -> bool {
        self.host == host_name()
            && self.pid == std::process::id()
            && (self.start == 0 || Some(self.start) == proc_start(self.pid))
    }

    /// `vitscope workbench (pid 4242 on ward-3, since 2026-12-06 09:12 UTC)`.
    pub fn describe(&self) -> String {
        let days = (self.since / 86_400) as i64;
        let (y, m, d) = civil(days);
        let t = self.since % 86_400;
        format!(
            "{} (pid {} on {}, since {y:04}-{m:02}-{d:02} {:02}:{:02} UTC)",
            if self.program.is_empty() {
                "another program"
            } else {
                &self.program
            },
            self.pid,
            self.host,
            t / 3600,
            t / 60 % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month, day).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A live process holds it.
    #[error("{project}: the project is locked (in use) by {holder}; lock file {lock}")]
    Held {
        /// Project file.
        project: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// Who holds it.
        holder: String,
    },
    /// The lock file could not be created or read.
    #[error("{lock}: cannot lock the project: {source}")]
    Io {
        /// The lock file.
        lock: PathBuf,
        /// OS message.
        source: crate::error::Cause,
    },
}

/// A held lock; dropping it removes the file (when it is still this holder's).
#[derive(Debug)]
pub struct ProjectLock {
    path: PathBuf,
    text: String,
    /// The holder (this process).
    pub owner: Owner,
}

/// A lock file whose writer is still writing it (created, not yet filled) is given this long.
const FRESH: Duration = Duration::from_secs(5);

impl ProjectLock {
    /// Takes the lock of `project` for `program`. A stale lock is taken over; the warning says
    /// whose it was.
    pub fn acquire(
        project: &Path,
        program: &str,
    ) -> Result<(ProjectLock, Option<String>), LockError> {
        let path = super::paths::lock_path(project);
        let io = |e: std::io::Error| LockError::Io {
            lock: path.clone(),
            source: e.into(),
        };
        let owner = Owner::current(program);
        let text = owner.to_text();
        let mut warning = None;
        let dir = super::paths::folder_of(project);
        // The temp file is named after the lock (`.NAME.ron.lock.XXXXXX`): one of the project's
        // own dot files.
        let lock_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for _ in 0..3 {
            // A lock that is there is looked at first: a refused writer creates no file at all.
            if std::fs::symlink_metadata(&path).is_ok() {
                let held = std::fs::read_to_string(&path).unwrap_or_default();
                let age = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .unwrap_or(Duration::ZERO);
                let stale = match Owner::parse(&held) {
                    Some(o) if o.liveness() == Liveness::Alive => {
                        return Err(LockError::Held {
                            project: project.to_path_buf(),
                            lock: path.clone(),
                            holder: o.describe(),
                        });
                    }
                    Some(o) => format!("{} is no longer running", o.describe()),
                    None if age < FRESH => {
                        return Err(LockError::Held {
                            project: project.to_path_buf(),
                            lock: path.clone(),
                            holder: "a program that is opening it right now".into(),
                        });
                    }
                    None => "an unreadable lock file".into(),
                };
                take_over(&path, &held).map_err(io)?;
                warning = Some(format!(
                    "{}: took over a stale lock: {stale}",
                    project.display()
                ));
                continue;
            }
            // The lock appears whole or not at all: written under a temp name (created O_EXCL),
            // then hard-linked into place, which fails when a lock exists. A writer killed at
            // any point never leaves an empty lock.
            let mut tmp = tempfile::Builder::new()
                .prefix(&format!("{lock_name}."))
                .tempfile_in(&dir)
                .map_err(io)?;
            tmp.write_all(text.as_bytes()).map_err(io)?;
            tmp.as_file().sync_all().map_err(io)?;
            match std::fs::hard_link(tmp.path(), &path) {
                Ok(()) => {
                    drop(tmp);
                    if let Ok(d) = std::fs::File::open(&dir) {
                        let _ = d.sync_all();
                    }
                    return Ok((ProjectLock { path, text, owner }, warning));
                }
                // Another writer linked its lock in between: look at it in the next round.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(e)),
            }
        }
        Err(LockError::Io {
            lock: path,
            source: "another program keeps taking the lock".into(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Moves a stale lock aside by rename (atomic: of two takers, one moves it), checks that what was
/// moved is the stale lock that was read, and puts back anything else.
fn take_over(path: &Path, stale: &str) -> std::io::Result<()> {
    let aside = path.with_extension(format!("stale-{}", std::process::id()));
    match std::fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let moved = std::fs::read_to_string(&aside).unwrap_or_default();
    if moved != stale {
        // A fresh lock was taken meanwhile: restore it (hard_link never replaces a file).
        let _ = std::fs::hard_link(&aside, path);
    }
    std::fs::remove_file(&aside)
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        if std::fs::read_to_string(&self.path).is_ok_and(|t| t == self.text) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Who holds `project`'s lock now (`None`: nobody, or a stale lock).
pub fn holder(project: &Path) -> Option<Owner> {
    let text = std::fs::read_to_string(super::paths::lock_path(project)).ok()?;
    Owner::parse(&text).filter(|o| o.liveness() == Liveness::Alive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vitscope-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_second_writer_is_refused_and_a_stale_lock_taken_over() {
        let d = scratch("two");
        let p = d.join("p.ron");
        let (lock, warn) = ProjectLock::acquire(&p, "test one").unwrap();
        assert!(warn.is_none());
        let e = ProjectLock::acquire(&p, "test two")
            .unwrap_err()
            .to_string();
        assert!(e.contains("locked") && e.contains("test one"), "{e}");
        drop(lock);
        assert!(
            !super::super::paths::lock_path(&p).exists(),
            "released on drop"
        );
        // A lock of a process that is gone (pid 0 never runs a user process; start time 1).
        let mut dead = Owner::current("crashed");
        dead.pid = u32::MAX - 1;
        std::fs::write(super::super::paths::lock_path(&p), dead.to_text()).unwrap();
        let (lock, warn) = ProjectLock::acquire(&p, "test three").unwrap();
        assert!(warn.unwrap().contains("stale"));
        assert!(
            std::fs::read_to_string(lock.path())
                .unwrap()
                .contains("program=test three")
        );
        // This process with another start time is another process.
        let mut reused = Owner::current("old");
        reused.start += 1;
        assert_eq!(reused.liveness(), Liveness::Gone);
        assert_eq!(Owner::current("me").liveness(), Liveness::Alive);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn owners_round_trip_and_describe_themselves() {
        let o = Owner::current("vitscope import");
        assert_eq!(Owner::parse(&o.to_text()), Some(o.clone()));
        assert!(o.describe().starts_with("vitscope import (pid "));
        assert!(Owner::parse("host=a\n").is_none());
    }
}
