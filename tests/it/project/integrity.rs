//! Ground-truth integrity (`../shared/specs/integrity.md`): saves are all or nothing under
//! SIGKILL, injected errors, a read-only folder and a full file system; one writer per project;
//! a project file changed on disk is never overwritten; an image file that changed on disk never
//! shows, scores or exports another image's annotations; old project files get identities once.
//!
//! The read-only folder and the full file system are small tmpfs mounts made by the test, which
//! needs root (CI runs as root); the RLIMIT_FSIZE case runs as any user.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use vitscope::project::annotation::LabelMask;
use vitscope::project::save::{self, Expect, Step};
use vitscope::project::{ImageCheck, ImageEntry, OpenProject, Project, ProjectError};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitscope"))
}

fn tempdir(name: &str) -> PathBuf {
    let d = crate::support::scratch(&format!("integrity-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A gray PNG image whose pixels depend on `seed`.
fn image(path: &Path, w: u32, h: u32, seed: u32) {
    image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([((x * 7 + y * 13 + seed * 31) % 251) as u8])
    })
    .save(path)
    .unwrap();
}

/// A project of `n` images `img<i>.png` (`w × h`) in `dir`, written as a version 1 file (no
/// identities yet).
fn project(dir: &Path, n: usize, w: u32, h: u32) -> PathBuf {
    let mut p = Project::default();
    for i in 0..n {
        image(&dir.join(format!("img{i}.png")), w, h, i as u32);
        p.images.push(ImageEntry::new(format!("img{i}.png").into()));
    }
    p.version = 1;
    let file = dir.join("p.ron");
    std::fs::write(&file, p.to_ron()).unwrap();
    file
}

/// A mask of generation `g` for image `i`: a rectangle of class 1 or 2 whose place depends on
/// both.
fn generation(g: u64, i: usize, w: usize, h: usize) -> LabelMask {
    let mut m = LabelMask::new(w, h);
    let (x0, y0) = (
        (g as usize * 3 + i) % (w / 2),
        (g as usize * 5 + 2 * i) % (h / 2),
    );
    for y in y0..y0 + h / 3 {
        for x in x0..x0 + w / 3 {
            m.data[y * w + x] = (g % 2) as u8 + 1;
        }
    }
    m
}

/// The masks of every image of an opened project.
fn masks_of(open: &OpenProject) -> Vec<LabelMask> {
    (0..open.project.images.len())
        .map(|i| open.annotations(i).unwrap().mask)
        .collect()
}

fn save_generation(
    open: &mut OpenProject,
    g: u64,
    hook: &mut dyn FnMut(Step) -> std::io::Result<()>,
) -> Result<save::Saved, ProjectError> {
    let n = open.project.images.len();
    let (w, h) = {
        let a = open.annotations(0).unwrap();
        (a.mask.width, a.mask.height)
    };
    let masks: Vec<LabelMask> = (0..n).map(|i| generation(g, i, w, h)).collect();
    let mut content = open.project.clone();
    content.view.map_cache_mb = Some(16 + g);
    let r = save::save(
        save::Request {
            path: &open.path.clone(),
            project: content,
            masks: masks.iter().enumerate().collect(),
            expect: Expect::Unchanged(open.hash.clone()),
        },
        hook,
    )?;
    open.project = r.project.clone();
    open.hash = Some(r.hash.clone());
    Ok(r)
}

/// The generation a project holds: its masks must all be of the generation its file names.
fn held_generation(file: &Path) -> u64 {
    let open = OpenProject::read(file).expect("the project opens");
    let g = open.project.view.map_cache_mb.map_or(0, |m| m - 16);
    let masks = masks_of(&open);
    for (i, m) in masks.iter().enumerate() {
        let want = if g == 0 {
            LabelMask::new(m.width, m.height)
        } else {
            generation(g, i, m.width, m.height)
        };
        assert_eq!(*m, want, "image {i} does not hold generation {g}: a mix");
    }
    g
}

#[test]
fn an_injected_error_between_any_two_steps_leaves_the_old_or_the_new_project() {
    let dir = tempdir("faults");
    let file = project(&dir, 3, 48, 40);
    let mut open = OpenProject::write(&file, "test").unwrap();
    save_generation(&mut open, 1, &mut |_| Ok(())).unwrap();
    drop(open);
    let pristine = crate::support::tree(&dir);
    // The steps of one save.
    let mut steps = Vec::new();
    {
        let mut open = OpenProject::write(&file, "test").unwrap();
        save_generation(&mut open, 2, &mut |s| {
            steps.push(s);
            Ok(())
        })
        .unwrap();
    }
    assert!(steps.len() >= 8, "{steps:?}");
    let commit = steps.iter().position(|s| *s == Step::Renamed).unwrap();
    for (k, &at) in steps.iter().enumerate() {
        // Back to generation 1, byte for byte.
        let _ = std::fs::remove_dir_all(&dir);
        for (p, b) in &pristine {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b).unwrap();
        }
        let mut open = OpenProject::write(&file, "test").unwrap();
        let r = save_generation(&mut open, 2, &mut |s| {
            if s == at {
                Err(std::io::Error::other(format!("injected at {s:?}")))
            } else {
                Ok(())
            }
        });
        drop(open);
        let g = held_generation(&file);
        if k < commit {
            let e = r.expect_err("a failure before the commit is an error");
            assert!(e.to_string().contains("injected"), "{e}");
            assert_eq!(g, 1, "failed at {at:?}: the old project");
            assert_eq!(
                crate::support::tree(&dir),
                pristine,
                "failed at {at:?}: a file was left or changed"
            );
        } else {
            let saved = r.expect("after the commit the save holds");
            assert!(
                saved.warnings.iter().any(|w| w.contains("injected")),
                "{at:?}: {:?}",
                saved.warnings
            );
            assert_eq!(g, 2, "failed at {at:?}: the new project");
        }
    }
}

#[test]
fn a_project_saved_while_killed_at_random_points_opens_old_or_new() {
    // `vitscope import --replace` of one of two mask sets, killed with SIGKILL at a random
    // moment, 200 times; after every kill the project opens and holds exactly one set.
    let dir = tempdir("sigkill");
    let file = project(&dir, 12, 96, 80);
    let sets: Vec<PathBuf> = (1..=2u64)
        .map(|g| {
            let d = dir.join(format!("set{g}"));
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..12 {
                let m = generation(g, i, 96, 80);
                image::GrayImage::from_raw(96, 80, m.data)
                    .unwrap()
                    .save(d.join(format!("img{i}.png")))
                    .unwrap();
            }
            d
        })
        .collect();
    let import = |g: usize| {
        let mut c = bin();
        c.args(["import", "--format", "png", "--replace", "--project"])
            .arg(&file)
            .arg("--from")
            .arg(&sets[g])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    // One run to the end gives the time scale; then set 1 is committed.
    let t = Instant::now();
    assert!(import(0).status().unwrap().success());
    let full = t.elapsed();
    let which = |file: &Path| -> usize {
        let open = OpenProject::read(file).expect("the project opens after a kill");
        let masks = masks_of(&open);
        let set = if masks[0] == generation(1, 0, 96, 80) {
            0
        } else {
            1
        };
        for (i, m) in masks.iter().enumerate() {
            assert_eq!(
                *m,
                generation(set as u64 + 1, i, 96, 80),
                "image {i} is not of set {}: a mix",
                set + 1
            );
        }
        set
    };
    assert_eq!(which(&file), 0);
    let mut rng = StdRng::seed_from_u64(7);
    let (mut old, mut new, mut leftovers) = (0, 0, 0);
    let mut held = 0;
    for k in 0..200 {
        let target = 1 - held;
        let mut child = import(target).spawn().unwrap();
        let wait = rng.random_range(0..full.as_micros() as u64 * 3 / 2);
        std::thread::sleep(Duration::from_micros(wait));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let now = which(&file);
        if now == held {
            old += 1;
        } else {
            new += 1;
        }
        assert!(now == held || now == target, "kill {k}");
        held = now;
        let _ = status;
        let tmp = std::fs::read_dir(&dir)
            .unwrap()
            .chain(std::fs::read_dir(dir.join("p_masks")).unwrap())
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"));
        leftovers += tmp as usize;
    }
    eprintln!(
        "200 kills: {old} left the old set, {new} the new one; {leftovers} left a temp file behind"
    );
    assert!(
        old > 10 && new > 10,
        "kills at both sides of the commit: {old} / {new}"
    );
    // A save after all that cleans the leftovers: the mask folder holds what the file names.
    assert!(import(held).status().unwrap().success());
    let open = OpenProject::read(&file).unwrap();
    let named: std::collections::HashSet<PathBuf> = open
        .project
        .images
        .iter()
        .filter_map(|e| e.mask.as_ref())
        .map(|m| dir.join(m))
        .collect();
    let present: std::collections::HashSet<PathBuf> = std::fs::read_dir(dir.join("p_masks"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        present, named,
        "the mask folder holds exactly the masks in use"
    );
}

#[test]
fn permission_bits_are_kept_and_new_masks_get_the_projects() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir("modes");
    let file = project(&dir, 2, 32, 32);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut open = OpenProject::write(&file, "test").unwrap();
    save_generation(&mut open, 3, &mut |_| Ok(())).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600, "a 0600 project stays 0600");
    for e in &open.project.images {
        assert_eq!(mode(&dir.join(e.mask.as_ref().unwrap())), 0o600);
    }
}

/// Incompressible masks (noise of two classes), so that a save needs room.
fn noise(open: &OpenProject, seed: u64) -> Vec<LabelMask> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..open.project.images.len())
        .map(|i| {
            let a = open.annotations(i).unwrap();
            let mut m = a.mask;
            m.data.iter_mut().for_each(|v| *v = rng.random_range(0..3));
            m
        })
        .collect()
}

#[test]
fn a_full_file_system_and_a_read_only_folder_fail_a_save_and_change_nothing() {
    let root = tempdir("mounts");
    for case in ["full", "read-only"] {
        let at = root.join(case.replace('-', "_"));
        let fs = crate::support::Tmpfs::mount(&at, "2m");
        let file = project(&at, 3, 200, 160);
        let mut open = OpenProject::write(&file, "test").unwrap();
        save_generation(&mut open, 1, &mut |_| Ok(())).unwrap();
        if case == "full" {
            fs.fill(8 << 10);
        }
        let before = crate::support::tree(&at);
        if case == "read-only" {
            // The lock file of a writer stays where it is; the folder turns read-only.
            fs.read_only();
        }
        let masks = noise(&open, 9);
        let e = save::save_plain(save::Request {
            path: &file,
            project: open.project.clone(),
            masks: masks.iter().enumerate().collect(),
            expect: Expect::Unchanged(open.hash.clone()),
        })
        .expect_err("the save fails");
        let msg = e.to_string();
        assert!(
            msg.contains("p.ron") || msg.contains("p_masks"),
            "{case}: {msg}"
        );
        assert_eq!(
            crate::support::tree(&at),
            before,
            "{case}: a failed save changed or left a file"
        );
        assert_eq!(held_generation(&file), 1, "{case}");
        drop(open);
        drop(fs);
    }
}

#[test]
fn an_import_past_the_file_size_limit_fails_with_one_error_and_changes_nothing() {
    // RLIMIT_FSIZE: every write past 8 KiB fails (EFBIG; SIGXFSZ ignored as the shell's trap
    // sets it for the exec'd binary).
    let dir = tempdir("fsize");
    let file = project(&dir, 3, 400, 300);
    let masks = dir.join("noise");
    std::fs::create_dir_all(&masks).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    for i in 0..3 {
        image::GrayImage::from_fn(400, 300, |_, _| image::Luma([rng.random_range(0..3u8)]))
            .save(masks.join(format!("img{i}.png")))
            .unwrap();
    }
    // The identities are recorded first (a writer's open does that), so that the refused
    // import below is the only writer.
    drop(OpenProject::write(&file, "test").unwrap());
    let before = crate::support::tree(&dir);
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 8; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_vitscope"))
        .args(["import", "--format", "png", "--project"])
        .arg(&file)
        .arg("--from")
        .arg(&masks)
        .output()
        .unwrap();
    let line = crate::support::one_error(&out, "an import past the file size limit");
    assert!(line.contains("p_masks") || line.contains("p.ron"), "{line}");
    assert_eq!(
        crate::support::tree(&dir),
        before,
        "a failed import changed or left a file"
    );
}

#[test]
fn a_project_changed_on_disk_is_never_overwritten() {
    let dir = tempdir("changed-on-disk");
    let file = project(&dir, 2, 32, 32);
    let mut open = OpenProject::write(&file, "test").unwrap();
    // Another program (not a vitscope writer) rewrites the file meanwhile.
    let mut other = Project::load(&file).unwrap();
    other.classes[0].name = "edited elsewhere".into();
    std::fs::write(&file, other.to_ron()).unwrap();
    let before = crate::support::tree(&dir);
    let e = save_generation(&mut open, 1, &mut |_| Ok(())).unwrap_err();
    assert!(matches!(e, ProjectError::ChangedOnDisk { .. }), "{e}");
    assert!(e.to_string().contains("changed on disk"), "{e}");
    assert_eq!(crate::support::tree(&dir), before);
}

/// A process that stays alive (until killed) to hold a lock in a test.
fn sleeper() -> std::process::Child {
    Command::new("sleep").arg("600").spawn().unwrap()
}

/// The lock text of a live process `pid` (`program`).
fn lock_text(pid: u32, program: &str) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    let start = rest.split_whitespace().nth(19).unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let host = Command::new("hostname").output().unwrap().stdout;
    format!(
        "host={}\npid={pid}\nstart={start}\nboot={}\nprogram={program}\nsince=0\n",
        String::from_utf8_lossy(&host).trim(),
        boot.trim()
    )
}

#[test]
fn a_second_writer_is_refused_and_a_stale_lock_taken_over() {
    let dir = tempdir("lock");
    let file = project(&dir, 2, 32, 32);
    drop(OpenProject::write(&file, "test").unwrap());
    // A mask named after img1 (matched by its unique stem).
    let masks = dir.join("masks_in");
    std::fs::create_dir_all(&masks).unwrap();
    image::GrayImage::from_fn(32, 32, |x, _| image::Luma([(x < 8) as u8]))
        .save(masks.join("img1.png"))
        .unwrap();
    let import = || {
        bin()
            .args(["import", "--format", "png", "--project"])
            .arg(&file)
            .arg("--from")
            .arg(&masks)
            .output()
            .unwrap()
    };
    let lock = vitscope::project::lock_path(&file);
    assert_eq!(lock.file_name().unwrap(), ".p.ron.lock");
    let mut holder = sleeper();
    std::fs::write(&lock, lock_text(holder.id(), "another workbench")).unwrap();
    let before = crate::support::tree(&dir);
    let out = import();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        (lines[0].contains("lock") || lines[0].contains("in use"))
            && lines[0].contains("another workbench")
            && lines[0].contains(&holder.id().to_string()),
        "{}",
        lines[0]
    );
    assert_eq!(
        crate::support::tree(&dir),
        before,
        "a refused writer changed something"
    );
    // The holder dies (as kill -9 leaves it): the next writer takes the lock over and says so.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = import();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning:") && l.contains("stale lock")),
        "{err}"
    );
    assert!(!lock.exists(), "released on exit");
    let open = OpenProject::read(&file).unwrap();
    assert_eq!(open.annotations(1).unwrap().mask.count(), 8 * 32);
}

#[test]
fn two_cli_writers_at_once_never_lose_work_silently() {
    let dir = tempdir("two-writers");
    let file = project(&dir, 2, 40, 30);
    drop(OpenProject::write(&file, "test").unwrap());
    let src = |i: usize| {
        let d = dir.join(format!("in{i}"));
        std::fs::create_dir_all(&d).unwrap();
        image::GrayImage::from_fn(40, 30, |x, y| {
            image::Luma([((x + y) % (i as u32 + 2) == 0) as u8])
        })
        .save(d.join(format!("img{i}.png")))
        .unwrap();
        d
    };
    let sources = [src(0), src(1)];
    let (mut both, mut refused) = (0, 0);
    for round in 0..12 {
        // Clear both masks.
        let mut open = OpenProject::write(&file, "test").unwrap();
        let empty = LabelMask::new(40, 30);
        open.save(vec![(0, &empty), (1, &empty)]).unwrap();
        drop(open);
        let children: Vec<_> = (0..2)
            .map(|i| {
                bin()
                    .args(["import", "--format", "png", "--replace", "--project"])
                    .arg(&file)
                    .arg("--from")
                    .arg(&sources[i])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let open = OpenProject::read(&file).unwrap();
        for (i, o) in outs.iter().enumerate() {
            let err = String::from_utf8_lossy(&o.stderr);
            let has = open.annotations(i).unwrap().mask.count() > 0;
            match o.status.code() {
                Some(0) => assert!(
                    has,
                    "round {round}: writer {i} succeeded but its mask is gone"
                ),
                Some(1) => {
                    assert!(err.contains("lock") || err.contains("in use"), "{err}");
                    assert!(!has, "round {round}: writer {i} was refused but wrote");
                    refused += 1;
                }
                c => panic!("round {round}: writer {i} exit {c:?}: {err}"),
            }
        }
        both += outs.iter().all(|o| o.status.success()) as usize;
    }
    eprintln!("12 rounds: {both} with both writers through, {refused} refusals");
}

#[test]
fn a_replaced_image_keeps_its_annotations_but_never_shows_scores_or_exports_them() {
    let dir = tempdir("changed-image");
    let file = project(&dir, 2, 32, 32);
    let mut open = OpenProject::write(&file, "test").unwrap();
    save_generation(&mut open, 1, &mut |_| Ok(())).unwrap();
    drop(open);
    let before = std::fs::read(&file).unwrap();
    // img1 is replaced by another image under the same name.
    image(&dir.join("img1.png"), 32, 32, 99);
    let out = bin()
        .args(["project", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(text.lines().any(|l| l.starts_with("2\tchanged")), "{text}");
    assert!(err.contains("changed on disk"), "{err}");
    // Export leaves it out (with a warning) and exports the other.
    let ex = dir.join("export");
    let out = bin()
        .args(["export", "--format", "nifti", "--project"])
        .arg(&file)
        .arg("--out")
        .arg(&ex)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning:") && l.contains("img1.png")),
        "{err}"
    );
    assert!(ex.join("img0.nii.gz").is_file() && !ex.join("img1.nii.gz").exists());
    // Evaluation leaves it out too.
    let (items, warnings) =
        vitscope::dataset::items::project_items(&file, &dir.join("eval")).unwrap();
    assert_eq!(items.len(), 1);
    assert!(warnings[0].contains("img1.png"), "{warnings:?}");
    // The annotations are still in the project.
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // The workbench does not show it; accepting the new file shows them on it.
    let mut s = vitscope::app::Session::open_project(&file).unwrap();
    assert!(matches!(s.checks[1], ImageCheck::Changed { .. }));
    let e = s.open_image(1).unwrap_err();
    assert!(e.contains("changed on disk"), "{e}");
    assert!(s.loaded.is_none() && s.states[1].is_none());
    drop(s);
    let out = bin()
        .args(["project", "accept", "--image", "img1", "--project"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let open = OpenProject::read(&file).unwrap();
    assert!(open.checks.iter().all(ImageCheck::is_ok));
    assert_eq!(open.annotations(1).unwrap().mask, generation(1, 1, 32, 32));
}

#[test]
fn a_moved_image_is_relinked_only_to_a_file_with_its_identity() {
    let dir = tempdir("relink");
    let file = project(&dir, 2, 32, 32);
    drop(OpenProject::write(&file, "test").unwrap());
    std::fs::create_dir_all(dir.join("moved")).unwrap();
    std::fs::rename(dir.join("img0.png"), dir.join("moved/renamed.png")).unwrap();
    let open = OpenProject::read(&file).unwrap();
    assert!(matches!(open.checks[0], ImageCheck::Missing(_)));
    let relink = |to: &Path| {
        bin()
            .args(["project", "relink", "--image", "1", "--project"])
            .arg(&file)
            .arg("--to")
            .arg(to)
            .output()
            .unwrap()
    };
    let before = std::fs::read(&file).unwrap();
    let out = relink(&dir.join("img1.png"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not relinked"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let out = relink(&dir.join("moved/renamed.png"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let open = OpenProject::read(&file).unwrap();
    assert!(open.checks.iter().all(ImageCheck::is_ok));
    assert_eq!(
        open.project.images[0].path,
        PathBuf::from("moved/renamed.png")
    );
}

#[test]
fn an_old_project_gets_identities_on_first_open_and_says_so_once() {
    let dir = tempdir("upgrade");
    let file = project(&dir, 2, 32, 32);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("version: 1") && !text.contains("Sha256"));
    let first = OpenProject::write(&file, "test").unwrap();
    assert_eq!(first.upgraded, 2);
    assert!(
        first.notes.iter().any(|n| n.contains("identity")),
        "{:?}",
        first.notes
    );
    drop(first);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("version: 2") && text.contains("Sha256"),
        "{text}"
    );
    // The identity is the SHA-256 of the file, as coreutils computes it.
    let sum = Command::new("sha256sum")
        .arg(dir.join("img0.png"))
        .output()
        .unwrap();
    let hex = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(text.contains(&hex));
    let second = OpenProject::write(&file, "test").unwrap();
    assert_eq!(second.upgraded, 0);
    assert!(second.notes.is_empty(), "{:?}", second.notes);
}
