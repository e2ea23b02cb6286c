//! The Effects section as an annotator uses it: the real binary in a real X window (Xvfb), driven
//! by X input events (xdotool) only — keys, clicks, typing and drags. On a phantom (a bright disc,
//! a mid-gray square, a dark background) the test paints within a threshold range, keeps the
//! island it clicks, grows seeds of two classes with a preview that follows the strokes, applies
//! and undoes; after each step it saves (Ctrl+S) and checks the mask written to disk. Screenshots
//! (xwd) of each step are written to the test's scratch folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::recovery_x11::{App, Xvfb, mask0};

const N: u32 = 224;
/// The disc: centre (70, 112), radius 30, value 200.
fn in_disc(x: u32, y: u32) -> bool {
    let (dx, dy) = (x as i64 - 70, y as i64 - 112);
    dx * dx + dy * dy <= 30 * 30
}
/// The square: x 140..190, y 90..140, value 120.
fn in_square(x: u32, y: u32) -> bool {
    (140..190).contains(&x) && (90..140).contains(&y)
}

/// A project of one phantom image with the bundled model and the demo's two classes.
fn phantom_project(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("images")).unwrap();
    image::GrayImage::from_fn(N, N, |x, y| {
        image::Luma([if in_disc(x, y) {
            200
        } else if in_square(x, y) {
            120
        } else {
            30
        }])
    })
    .save(dir.join("images/phantom.png"))
    .unwrap();
    let demo = vitscope::app::demo_dir();
    for f in ["model.safetensors", "config.json"] {
        std::fs::copy(demo.join(f), dir.join(f)).unwrap();
    }
    let ron = r#"(
    version: 1,
    classes: [
        (name: "lesion", color: (255, 64, 160)),
        (name: "other", color: (64, 200, 255)),
    ],
    checkpoints: [
        (name: "bundled", weights: "model.safetensors", config: Some("config.json")),
    ],
    images: [
        (path: "images/phantom.png"),
    ],
)
"#;
    std::fs::write(dir.join("project.ron"), ron).unwrap();
    dir.join("project.ron")
}

struct Session<'a> {
    x: &'a Xvfb,
    app: App,
    project: PathBuf,
    shots: PathBuf,
}

impl Session<'_> {
    /// Window pixels of image pixel (x, y), from where the probe says the image lies.
    fn at(&self, p: (f32, f32)) -> (i32, i32) {
        let o = self.app.wait_for("image origin", 30);
        let e = self.app.wait_for("image end", 30);
        let f = |o: i32, e: i32, v: f32| (o as f32 + (e - o) as f32 * (v + 0.5) / N as f32) as i32;
        (f(o.0, e.0, p.0), f(o.1, e.1, p.1))
    }

    fn move_to(&self, p: (i32, i32)) {
        self.x.xdotool(&[
            "mousemove",
            "--window",
            &self.app.window,
            &p.0.to_string(),
            &p.1.to_string(),
        ]);
        std::thread::sleep(Duration::from_millis(120));
    }

    /// Where the probe reports `label` once it has stayed put for 0.5 s (a panel can still be
    /// scrolling or laying out on a loaded machine).
    fn settled(&self, label: &str) -> (i32, i32) {
        let t = Instant::now();
        let mut at = self.app.wait_for(label, 30);
        let mut since = Instant::now();
        while since.elapsed() < Duration::from_millis(500) {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.app.wait_for(label, 30);
            if now != at {
                (at, since) = (now, Instant::now());
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "'{label}' never settled"
            );
        }
        at
    }

    /// Clicks a control the probe reports (it stays on screen).
    fn press(&self, label: &str) {
        self.move_to(self.settled(label));
        self.x.xdotool(&["click", "1"]);
        std::thread::sleep(Duration::from_millis(400));
    }

    /// Clicks image pixel `p`.
    fn click_image(&self, p: (f32, f32)) {
        self.move_to(self.at(p));
        self.x.xdotool(&["click", "1"]);
        std::thread::sleep(Duration::from_millis(400));
    }

    /// A drag from image pixel `a` to `b`, as a hand draws it.
    fn drag(&self, a: (f32, f32), b: (f32, f32)) {
        self.move_to(self.at(a));
        self.x.xdotool(&["mousedown", "1"]);
        std::thread::sleep(Duration::from_millis(250));
        for k in 1..=12 {
            let t = k as f32 / 12.0;
            self.move_to(self.at((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)));
        }
        std::thread::sleep(Duration::from_millis(250));
        self.x.xdotool(&["mouseup", "1"]);
        std::thread::sleep(Duration::from_millis(500));
    }

    /// A brush stroke that edits the mask: drawn again when a slow frame took it for a click
    /// that changed nothing (the session shows "unsaved changes" once it took).
    fn stroke(&self, a: (f32, f32), b: (f32, f32)) {
        assert!(
            !self
                .app
                .probe_labels()
                .iter()
                .any(|l| l == "unsaved changes"),
            "save before a stroke"
        );
        for _ in 0..3 {
            self.drag(a, b);
            if self.app.shows("unsaved changes", 10) {
                return;
            }
        }
        panic!("three strokes changed nothing:\n{}", self.app.log());
    }

    /// Types `value` into the number field the probe calls `label`.
    fn type_into(&self, label: &str, value: &str) {
        self.press(label);
        self.x.xdotool(&["key", "ctrl+a"]);
        self.x.xdotool(&["type", value]);
        self.x.xdotool(&["key", "Return"]);
        std::thread::sleep(Duration::from_millis(400));
    }

    /// The preview label that appears next (one starting with `prefix`), waited for.
    fn preview(&self, prefix: &str, not: Option<&str>) -> String {
        let t = Instant::now();
        loop {
            let found = self.app.probe_labels().into_iter().find(|l| {
                l.starts_with(prefix) && not.is_none_or(|n| n != l) && !l.contains("updating")
            });
            if let Some(l) = found {
                return l;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "no preview '{prefix}…' (other than {not:?}):\n{}",
                self.app.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl+S, then the mask as saved.
    fn save(&self) -> Vec<u8> {
        self.app.key(self.x, "ctrl+s");
        assert!(
            self.app.hides("unsaved changes", 30),
            "Ctrl+S did not save:\n{}",
            self.app.log()
        );
        mask0(&self.project).data
    }

    fn shot(&self, name: &str) {
        self.x.screenshot(&self.shots.join(name));
    }
}

fn pixels(mask: &[u8], class: u8) -> Vec<(u32, u32)> {
    (0..mask.len() as u32)
        .filter(|&i| mask[i as usize] == class)
        .map(|i| (i % N, i / N))
        .collect()
}

#[test]
fn threshold_paint_islands_and_grow_from_seeds_by_real_input() {
    let dir = crate::support::scratch("effects-x11");
    let _ = std::fs::remove_dir_all(&dir);
    let project = phantom_project(&dir.join("project"));
    let x = Xvfb::start();
    let app = App::start(&x, &project, &dir.join("data"));
    let s = Session {
        x: &x,
        app,
        project,
        shots: dir.clone(),
    };
    let disc = (0..N * N).filter(|i| in_disc(i % N, i / N)).count();

    // Threshold: T opens the effect; the range typed in; its preview is the disc. (A slow frame
    // can lose a click into the number field: then it is typed again.)
    s.app.key(&x, "t");
    let want = format!("preview: +{disc} px, −0 px");
    for attempt in 0..3 {
        s.type_into("effect: from", "150");
        s.type_into("effect: to", "255");
        if s.app.shows(&want, 10) || attempt == 2 {
            break;
        }
    }
    s.preview(&want, None);
    // Paint within the range: a stroke from the background across the disc paints the disc only.
    s.press("effect: within range");
    s.app.key(&x, "d");
    s.stroke((15.0, 112.0), (125.0, 112.0));
    s.shot("1-threshold-paint.png");
    let m = s.save();
    let stroke = pixels(&m, 1);
    assert!(stroke.len() > 300, "the stroke painted {} px", stroke.len());
    assert!(
        stroke.iter().all(|&(x, y)| in_disc(x, y)),
        "the brush painted outside the range"
    );
    assert!(
        stroke.iter().any(|&(x, _)| x <= 45) && stroke.iter().any(|&(x, _)| x >= 95),
        "the stroke crossed the whole disc"
    );

    // Islands: a blob in the square (range off), then keep the one clicked.
    s.press("effect: within range");
    s.stroke((160.0, 112.0), (170.0, 114.0));
    let m = s.save();
    let blob: Vec<_> = pixels(&m, 1)
        .into_iter()
        .filter(|&(x, y)| in_square(x, y))
        .collect();
    assert!(!blob.is_empty(), "no blob painted in the square");
    s.app.key(&x, "i");
    s.press("effect: keep clicked");
    s.click_image((165.0, 113.0));
    s.preview(&format!("preview: +0 px, −{} px", stroke.len()), None);
    s.shot("2-islands-preview.png");
    s.app.key(&x, "ctrl+Return");
    let m = s.save();
    assert_eq!(pixels(&m, 1), blob, "only the island clicked is left");
    s.app.key(&x, "ctrl+z");
    let m = s.save();
    assert_eq!(pixels(&m, 1).len(), stroke.len() + blob.len(), "Undo");
    s.app.key(&x, "ctrl+z");
    let seeds1 = s.save();
    assert_eq!(pixels(&seeds1, 1), stroke, "Undo of the blob");

    // Grow from seeds: background strokes in "other"; the preview follows each stroke.
    s.app.key(&x, "w");
    s.press("class: other");
    s.app.key(&x, "d");
    s.stroke((20.0, 30.0), (200.0, 30.0));
    let first = s.preview("preview: ", None);
    assert!(first.ends_with("px relabelled"), "{first}");
    s.save();
    s.stroke((20.0, 200.0), (200.0, 200.0));
    let second = s.preview("preview: ", Some(&first));
    s.press("background: other");
    let third = s.preview("preview: ", Some(&second));
    s.shot("3-grow-preview.png");
    let seeds = s.save();
    assert!(pixels(&seeds, 2).len() > 300, "the seed strokes of 'other'");
    s.app.key(&x, "ctrl+Return");
    let grown = s.save();
    let lesion = pixels(&grown, 1);
    let inter = lesion.iter().filter(|&&(x, y)| in_disc(x, y)).count();
    let iou = inter as f64 / (lesion.len() + disc - inter) as f64;
    assert!(
        iou > 0.95,
        "the lesion grew into the disc: IoU {iou:.3} ({third})"
    );
    assert!(
        pixels(&grown, 2).is_empty(),
        "the background class is left unlabelled"
    );
    s.shot("4-grow-applied.png");
    s.app.key(&x, "ctrl+z");
    assert_eq!(s.save(), seeds, "Undo takes the grow back");
}
