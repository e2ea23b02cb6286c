//! The recovery flow as a user lives it, with the real binary in a real X window (Xvfb) and X
//! input events (xdotool): a session is killed with SIGKILL after its autosave; the next session
//! is offered the copy, says "Later", edits; another is killed; the next restores a copy over
//! unsaved edits answering "Don't save", then "Save": the crashed session's strokes come back
//! every time, and no copy is lost before the user decided on it. While the workbench holds the
//! project, `vitscope import` is refused naming it. Screenshots (xwd) of each step are written to
//! the test's scratch folder.
//!
//! The workbench prints where its controls are (`VITSCOPE_UI_PROBE=1`) and autosaves after
//! `VITSCOPE_AUTOSAVE_SECS=2` seconds, so the test clicks real buttons without guessing and
//! does not wait 30 s per step.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vitscope::project::OpenProject;
use vitscope::project::annotation::LabelMask;

/// A private X server.
pub(crate) struct Xvfb {
    child: Child,
    pub(crate) display: String,
}

impl Xvfb {
    pub(crate) fn start() -> Xvfb {
        // Tests of this process start servers at once: each display number is tried by one of
        // them only, and a server counts as ours only when its lock file names our child.
        static TAKEN: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());
        for n in 140..240u32 {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                || Path::new(&format!("/tmp/.X{n}-lock")).exists()
            {
                continue;
            }
            {
                let mut taken = TAKEN.lock().unwrap();
                if taken.contains(&n) {
                    continue;
                }
                taken.push(n);
            }
            let display = format!(":{n}");
            let child = Command::new("Xvfb")
                .args([&display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb is installed (.ci/run installs xvfb)");
            let mut child = child;
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) {
                if child.try_wait().ok().flatten().is_some() {
                    break; // another server took this display
                }
                let lock = std::fs::read_to_string(format!("/tmp/.X{n}-lock")).unwrap_or_default();
                let ours = lock.trim().parse::<u32>().ok() == Some(child.id());
                if ours && Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Xvfb { child, display };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no free X display");
    }

    pub(crate) fn try_xdotool(&self, args: &[&str]) -> bool {
        Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub(crate) fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool is installed (.ci/run installs it)");
        assert!(
            out.status.success(),
            "xdotool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The whole screen as a PNG (xwd, converted here), once something is drawn (a window that
    /// just laid out its first frame may not have presented it yet).
    pub(crate) fn screenshot(&self, path: &Path) {
        let t = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(700));
            let out = Command::new("xwd")
                .args(["-root", "-silent", "-display", &self.display])
                .output()
                .expect("xwd is installed (.ci/run installs x11-apps)");
            assert!(out.status.success());
            let img = xwd_to_rgb(&out.stdout);
            img.save(path).unwrap();
            // Something is drawn: not one flat colour.
            let first = *img.get_pixel(0, 0);
            if img.pixels().any(|p| *p != first) {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "{}: a blank screen",
                path.display()
            );
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An xwd dump (ZPixmap, 32 bits per pixel, 24-bit depth) as an RGB image.
fn xwd_to_rgb(b: &[u8]) -> image::RgbImage {
    let u = |k: usize| u32::from_be_bytes(b[4 * k..4 * k + 4].try_into().unwrap());
    let (header, width, height, order, bpp, line, ncolors) =
        (u(0), u(4), u(5), u(7), u(11), u(12), u(19));
    assert_eq!(bpp, 32, "xwd: {bpp} bits per pixel");
    let (rm, gm, bm) = (u(14), u(15), u(16));
    let start = header as usize + ncolors as usize * 12;
    let shift = |m: u32| m.trailing_zeros();
    image::RgbImage::from_fn(width, height, |x, y| {
        let at = start + y as usize * line as usize + x as usize * 4;
        let p = &b[at..at + 4];
        let v = if order == 0 {
            u32::from_le_bytes(p.try_into().unwrap())
        } else {
            u32::from_be_bytes(p.try_into().unwrap())
        };
        image::Rgb([
            ((v & rm) >> shift(rm)) as u8,
            ((v & gm) >> shift(gm)) as u8,
            ((v & bm) >> shift(bm)) as u8,
        ])
    })
}

/// A running workbench: its process and what its probe printed.
pub(crate) struct App {
    child: Child,
    probes: Arc<Mutex<HashMap<String, (i32, i32)>>>,
    log: Arc<Mutex<Vec<String>>>,
    pub(crate) window: String,
}

impl App {
    pub(crate) fn start(x: &Xvfb, project: &Path, data: &Path) -> App {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitscope"))
            .arg(project)
            .env("DISPLAY", &x.display)
            .env("XDG_DATA_HOME", data)
            .env("VITSCOPE_UI_PROBE", "1")
            .env("VITSCOPE_AUTOSAVE_SECS", "2")
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let probes: Arc<Mutex<HashMap<String, (i32, i32)>>> = Default::default();
        let log: Arc<Mutex<Vec<String>>> = Default::default();
        let (p, l) = (probes.clone(), log.clone());
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.strip_prefix("ui-probe: ") {
                    let f: Vec<&str> = rest.split('\t').collect();
                    match f.as_slice() {
                        [label, "gone", _] => {
                            p.lock().unwrap().remove(*label);
                        }
                        [label, x, y] => {
                            p.lock().unwrap().insert(
                                label.to_string(),
                                (x.parse().unwrap_or(0), y.parse().unwrap_or(0)),
                            );
                        }
                        _ => {}
                    }
                }
                l.lock().unwrap().push(line);
            }
        });
        // The window once it is mapped (focus needs a viewable window).
        let window = x.xdotool(&["search", "--sync", "--onlyvisible", "--name", "^vitscope$"]);
        let window = window.lines().next().unwrap_or_default().to_string();
        let app = App {
            child,
            probes,
            log,
            window,
        };
        app.wait_for("pane 0", 120);
        app
    }

    /// The labels the probe reports on screen now.
    pub(crate) fn probe_labels(&self) -> Vec<String> {
        self.probes.lock().unwrap().keys().cloned().collect()
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until the probe reports `label`; returns its position.
    pub(crate) fn wait_for(&self, label: &str, secs: u64) -> (i32, i32) {
        let t = Instant::now();
        loop {
            if let Some(p) = self.probes.lock().unwrap().get(label) {
                return *p;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "'{label}' never appeared:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks `label` until it took: `then` appears, or (`None`) `label` is gone. A control can
    /// still move while a slow frame lays a new dialog out, so a click that missed is repeated
    /// where the control is now.
    pub(crate) fn click_then(&self, x: &Xvfb, label: &str, then: Option<&str>) {
        for _ in 0..5 {
            self.wait_for(label, 60);
            std::thread::sleep(Duration::from_millis(400));
            let Some((px, py)) = self.probes.lock().unwrap().get(label).copied() else {
                continue;
            };
            x.xdotool(&[
                "mousemove",
                "--window",
                &self.window,
                &px.to_string(),
                &py.to_string(),
            ]);
            std::thread::sleep(Duration::from_millis(150));
            x.xdotool(&["click", "1"]);
            let took = match then {
                Some(next) => self.shows(next, 6),
                None => self.hides(label, 6),
            };
            if took {
                return;
            }
        }
        panic!("clicking '{label}' never took:\n{}", self.log());
    }

    /// Clicks a control that goes away when clicked (a dialog's button, a menu entry).
    pub(crate) fn click(&self, x: &Xvfb, label: &str) {
        self.click_then(x, label, None);
    }

    /// Whether `label` is gone within `secs`.
    pub(crate) fn hides(&self, label: &str, secs: u64) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(secs) {
            if !self.probes.lock().unwrap().contains_key(label) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub(crate) fn key(&self, x: &Xvfb, key: &str) {
        // Focus can fail for a moment on a loaded machine while the window is (re)mapped.
        let t = Instant::now();
        while !x.try_xdotool(&["windowfocus", "--sync", &self.window]) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the window never took focus"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        x.xdotool(&["key", key]);
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Whether the probe reports `label` within `secs`.
    pub(crate) fn shows(&self, label: &str, secs: u64) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(secs) {
            if self.probes.lock().unwrap().contains_key(label) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A brush stroke (key D, then a drag) across pane 0, from `a` to `b` in fractions of it,
    /// until the session has unsaved changes (on a loaded machine a slow frame can take a whole
    /// drag as one click; then the stroke is drawn again).
    fn stroke(&self, x: &Xvfb, a: (f32, f32), b: (f32, f32)) {
        assert!(
            !self.probes.lock().unwrap().contains_key("unsaved changes"),
            "a stroke is drawn on a session without unsaved changes"
        );
        for _ in 0..4 {
            self.drag(x, a, b);
            if self.shows("unsaved changes", 10) {
                return;
            }
        }
        panic!("four strokes left no unsaved change:\n{}", self.log());
    }

    fn drag(&self, x: &Xvfb, a: (f32, f32), b: (f32, f32)) {
        self.key(x, "d");
        let (cx, cy) = self.wait_for("pane 0", 10);
        // Pane 0 is about 380 × 280 pixels with the 224² image fitted in it: stay inside.
        let at = |f: (f32, f32)| {
            (
                (cx as f32 + (f.0 - 0.5) * 300.0) as i32,
                (cy as f32 + (f.1 - 0.5) * 200.0) as i32,
            )
        };
        let (p, q) = (at(a), at(b));
        let w = self.window.clone();
        x.xdotool(&[
            "mousemove",
            "--window",
            &w,
            &p.0.to_string(),
            &p.1.to_string(),
        ]);
        std::thread::sleep(Duration::from_millis(200));
        x.xdotool(&["mousedown", "1"]);
        std::thread::sleep(Duration::from_millis(300));
        for k in 1..=12 {
            let t = k as f32 / 12.0;
            let (mx, my) = (
                p.0 + ((q.0 - p.0) as f32 * t) as i32,
                p.1 + ((q.1 - p.1) as f32 * t) as i32,
            );
            x.xdotool(&[
                "mousemove",
                "--window",
                &w,
                &mx.to_string(),
                &my.to_string(),
            ]);
            std::thread::sleep(Duration::from_millis(80));
        }
        std::thread::sleep(Duration::from_millis(300));
        x.xdotool(&["mouseup", "1"]);
        std::thread::sleep(Duration::from_millis(400));
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The mask of image 0 of a project or recovery copy.
pub(crate) fn mask0(file: &Path) -> LabelMask {
    OpenProject::read(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .annotations(0)
        .unwrap()
        .mask
}

/// Waits until `f` holds (polling), at most `secs`.
fn wait(secs: u64, what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The recovery copies of titled sessions in the recovery folder.
fn titled_copies(data: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("vitscope/recovery"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("titled-") && n.ends_with(".ron")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn killed_sessions_come_back_through_later_dont_save_and_save() {
    let dir = crate::support::scratch("recovery-x11");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let project = crate::support::copy_demo(&dir.join("demo"));
    let data = dir.join("data");
    let shots = dir.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let beside = vitscope::project::autosave_path(&project);
    let original = mask0(&project);
    let x = Xvfb::start();

    // 1. A session paints a stroke, autosaves beside the project, and is killed.
    let app = App::start(&x, &project, &data);
    app.stroke(&x, (0.2, 0.3), (0.45, 0.35));
    wait(30, "the first autosave", || beside.is_file());
    std::thread::sleep(Duration::from_millis(500));
    x.screenshot(&shots.join("1-stroke.png"));
    // While it holds the project, a CLI writer is refused and names it.
    let masks = dir.join("in");
    std::fs::create_dir_all(&masks).unwrap();
    image::GrayImage::new(224, 224)
        .save(masks.join("polyp_00000.png"))
        .unwrap();
    let before = std::fs::read(&project).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vitscope"))
        .args(["import", "--format", "png", "--project"])
        .arg(&project)
        .arg("--from")
        .arg(&masks)
        .output()
        .unwrap();
    let line = crate::support::one_error(&out, "an import while the workbench holds the project");
    assert!(
        line.contains("locked (in use) by vitscope workbench"),
        "{line}"
    );
    assert_eq!(std::fs::read(&project).unwrap(), before);
    app.kill9();
    let crash1 = mask0(&beside);
    assert!(crash1 != original, "the stroke is in the copy");
    let crash1_bytes = std::fs::read(&beside).unwrap();

    // 2. The next session is offered the copy; "Later" keeps it; its own edits autosave to a
    // copy of their own (never over the pending one); it is killed too.
    let app = App::start(&x, &project, &data);
    app.wait_for("Later", 30);
    x.screenshot(&shots.join("2-offered.png"));
    app.click(&x, "Later");
    app.stroke(&x, (0.6, 0.7), (0.8, 0.75));
    wait(30, "the second session's own copy", || {
        titled_copies(&data).len() == 1
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        std::fs::read(&beside).unwrap(),
        crash1_bytes,
        "the pending copy was written over"
    );
    app.kill9();
    let second = titled_copies(&data)[0].clone();
    let crash2 = mask0(&second);
    assert!(crash2 != original && crash2 != crash1);

    // 3. Both copies are offered; "Later", an unsaved edit, then File → Recover unsaved work… →
    // the first crash's copy → "Don't save": its strokes come back.
    let app = App::start(&x, &project, &data);
    app.wait_for("Restore 2", 30);
    x.screenshot(&shots.join("3-two-offered.png"));
    app.click(&x, "Later");
    app.stroke(&x, (0.3, 0.8), (0.5, 0.85));
    app.click_then(&x, "File", Some("Recover unsaved work…"));
    app.click_then(&x, "Recover unsaved work…", Some("Restore 2"));
    // Newest first: the second crash is "Restore 1", the first "Restore 2".
    app.click_then(&x, "Restore 2", Some("Don't save"));
    x.screenshot(&shots.join("3-save-changes.png"));
    app.click(&x, "Don't save");
    x.screenshot(&shots.join("3-restored.png"));
    // The other copy is still offered: keep it for later, then save.
    app.click(&x, "Later");
    app.key(&x, "ctrl+s");
    wait(20, "the save", || mask0(&project) == crash1);
    assert!(!beside.exists(), "the restored copy goes once saved");
    assert!(second.is_file(), "the other copy is still there");
    app.kill9();

    // 4. The second crash's copy over unsaved edits, answering "Save": the edits are saved
    // first, then the copy's strokes come back.
    let app = App::start(&x, &project, &data);
    app.wait_for("Restore", 30);
    app.click(&x, "Later");
    app.stroke(&x, (0.1, 0.1), (0.3, 0.15));
    app.click_then(&x, "File", Some("Recover unsaved work…"));
    app.click_then(&x, "Recover unsaved work…", Some("Restore"));
    app.click_then(&x, "Restore", Some("Save"));
    app.click(&x, "Save");
    x.screenshot(&shots.join("4-after-save.png"));
    wait(20, "the edits saved", || {
        let m = mask0(&project);
        m != crash1 && m.count() > crash1.count()
    });
    std::thread::sleep(Duration::from_millis(800));
    x.screenshot(&shots.join("4-restored.png"));
    app.key(&x, "ctrl+s");
    wait(20, "the restored content saved", || {
        mask0(&project) == crash2
    });
    app.kill9();
    assert!(titled_copies(&data).is_empty(), "every copy was decided on");
}
