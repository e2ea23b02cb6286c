//! Automation of the real window: `--screenshot` (render the first fully loaded frame to a PNG),
//! `--bench-frames` (time idle frames, then a brush stroke fed in as pointer events) and
//! `--paint-stroke` (one scripted brush stroke, then the app runs on as usual: the kill test uses
//! it). Strokes enter through eframe's raw input, exactly as a hand's events would.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use eframe::egui::{self, Pos2, Vec2};

/// What runs the window without a user, kept apart from the state a user sees.
#[derive(Default)]
pub struct Automation {
    /// `--screenshot FILE`.
    pub screenshot: Option<Screenshot>,
    /// Frame timing run (`--bench-frames`).
    pub frame_bench: Option<FrameBench>,
    /// A scripted stroke (`--paint-stroke`).
    pub paint_stroke: Option<ScriptedStroke>,
    /// Set when an automated run (screenshot, frame bench) ended: the app closes.
    pub finished: Option<Result<(), String>>,
}

/// A pending `--screenshot`.
pub struct Screenshot {
    /// When the first image's maps were asked of the worker (the model loaded, if it was not).
    pub maps_asked: Option<Instant>,
    path: PathBuf,
    ready_frames: u32,
    requested: bool,
    result: Arc<Mutex<Option<Result<(), String>>>>,
}

impl Screenshot {
    /// A screenshot to take once the app is ready.
    pub fn new(path: PathBuf) -> Self {
        Self {
            maps_asked: None,
            path,
            ready_frames: 0,
            requested: false,
            result: Arc::new(Mutex::new(None)),
        }
    }

    /// One frame: `ready` once everything is loaded; until then the next frame comes when a
    /// worker wakes the window or after `tick` (the app's busy tick). Returns the outcome once
    /// written.
    pub fn step(
        &mut self,
        ctx: &egui::Context,
        ready: bool,
        tick: std::time::Duration,
    ) -> Option<Result<(), String>> {
        if let Some(r) = self.result.lock().expect("screenshot lock").take() {
            return Some(r);
        }
        if self.requested || ready {
            ctx.request_repaint();
        } else {
            // Until everything is loaded, frames come as they come to a user: when a worker
            // wakes the window, and at the app's own busy tick. Drawing every frame here would
            // have a software renderer take the cores from the model being waited for.
            ctx.request_repaint_after(tick);
        }
        if self.requested {
            return None;
        }
        if ready {
            if self.ready_frames == 0
                && let Some(t) = self.maps_asked
            {
                // What a user waits for between opening the image and seeing every map.
                eprintln!(
                    "screenshot: the maps and scores of the first image were drawn {:.2} s after they were asked for",
                    t.elapsed().as_secs_f64()
                );
            }
            self.ready_frames += 1;
        }
        if self.ready_frames >= 3 {
            self.requested = true;
            let (path, slot) = (self.path.clone(), self.result.clone());
            let waker = ctx.clone();
            ctx.request_screenshot(move |img| {
                *slot.lock().expect("screenshot lock") = Some(save_color_image(&path, &img));
                waker.request_repaint();
            });
        }
        None
    }
}

/// Pointer events of frame `i` of an `n`-frame brush stroke from `a` to `b` (a wavy line):
/// move, press, moves, release.
pub fn stroke_events(a: Pos2, b: Pos2, i: usize, n: usize) -> Vec<egui::Event> {
    let f = i as f32 / n as f32;
    let at = a + (b - a) * f + Vec2::new(0.0, (f * 25.0).sin() * 40.0);
    let button = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    match i {
        0 => vec![egui::Event::PointerMoved(at)],
        1 => vec![egui::Event::PointerMoved(at), button(at, true)],
        _ if i + 1 >= n => vec![egui::Event::PointerMoved(at), button(at, false)],
        _ => vec![egui::Event::PointerMoved(at)],
    }
}

/// A `--bench-frames` run, in four phases of at least `frames` frames each: idle; a brush stroke
/// of the first class fed in as pointer events, as a hand would paint; a second stroke, of the
/// second class, with the Effects section open on "grow from seeds"; then frames while the grow
/// preview of both strokes is computed (until it is ready), the UI still drawing.
pub struct FrameBench {
    frames: usize,
    /// Start of every timed frame.
    starts: Vec<Instant>,
    /// eframe's `cpu_usage` as read in every timed frame (it is the previous frame's).
    cpus: Vec<Option<f32>>,
    /// The stroke of the current phase (from, to) once the painting frames begin.
    stroke: Option<(Pos2, Pos2)>,
    /// Frame index where each phase after the first began.
    phase_starts: Vec<usize>,
    /// Mask pixels before the first stroke.
    mask_before: usize,
    /// Mask pixels after the first stroke.
    mask_painted: usize,
}

/// What a bench frame asks the app to do.
pub enum BenchStep {
    /// Keep going.
    Continue,
    /// Start the first stroke: choose the brush.
    StartStroke,
    /// Start the second stroke: the second class, and the grow effect open.
    StartSeeds,
    /// Done: print and close.
    Finished,
}

impl FrameBench {
    /// A run of at least `frames` frames per phase (at least 3).
    pub fn new(frames: usize) -> Self {
        Self {
            frames: frames.max(3),
            starts: Vec::new(),
            cpus: Vec::new(),
            stroke: None,
            phase_starts: Vec::new(),
            mask_before: 0,
            mask_painted: 0,
        }
    }

    /// One frame once loaded: `pane` is the first pane, `mask_px` the mask's pixels now,
    /// `preview_ready` whether the effect's preview is of the mask as it is.
    pub fn step(
        &mut self,
        cpu: Option<f32>,
        pane: Option<egui::Rect>,
        mask_px: usize,
        preview_ready: bool,
    ) -> BenchStep {
        self.starts.push(Instant::now());
        self.cpus.push(cpu);
        let n = self.starts.len();
        let in_phase = n - self.phase_starts.last().copied().unwrap_or(0);
        let Some(r) = pane else {
            return BenchStep::Continue;
        };
        match self.phase_starts.len() {
            0 if in_phase >= self.frames => {
                self.mask_before = mask_px;
                self.stroke = Some((
                    r.lerp_inside(Vec2::splat(0.2)),
                    r.lerp_inside(Vec2::splat(0.8)),
                ));
                self.phase_starts.push(n);
                BenchStep::StartStroke
            }
            1 if in_phase > self.frames => {
                self.mask_painted = mask_px;
                self.stroke = Some((
                    r.lerp_inside(Vec2::new(0.1, 0.9)),
                    r.lerp_inside(Vec2::new(0.9, 0.95)),
                ));
                self.phase_starts.push(n);
                BenchStep::StartSeeds
            }
            2 if in_phase > self.frames + 1 => {
                self.stroke = None;
                self.phase_starts.push(n);
                BenchStep::Continue
            }
            // The preview of both strokes is being computed: wait for it (a minute at most).
            3 if (preview_ready && in_phase >= self.frames) || in_phase > 3600 => {
                self.phase_starts.push(n);
                BenchStep::Finished
            }
            _ => BenchStep::Continue,
        }
    }

    /// The pointer events of the next frame of the stroke.
    pub fn stroke_events(&self) -> Vec<egui::Event> {
        match (self.stroke, self.phase_starts.last()) {
            (Some((a, b)), Some(&s)) => stroke_events(a, b, self.starts.len() - s, self.frames),
            _ => Vec::new(),
        }
    }

    /// Prints the medians of each phase.
    pub fn report(&self, painted: usize, preview: &str) {
        // Frame j's CPU time is read in frame j + 1.
        let phase = |range: std::ops::Range<usize>| {
            let mut gaps: Vec<f64> = range
                .clone()
                .filter_map(|j| {
                    Some((*self.starts.get(j + 1)? - self.starts[j]).as_secs_f64() * 1e3)
                })
                .collect();
            let mut cpus: Vec<f64> = range
                .filter_map(|j| self.cpus.get(j + 1).copied().flatten())
                .map(f64::from)
                .collect();
            gaps.sort_by(f64::total_cmp);
            cpus.sort_by(f64::total_cmp);
            let q = |v: &[f64], p: f64| {
                v.get(((v.len().max(1) - 1) as f64 * p).round() as usize)
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            format!(
                "{} frames: median frame interval {:.1} ms (max {:.1}), app CPU (eframe cpu_usage) median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                gaps.len(),
                q(&gaps, 0.5),
                q(&gaps, 1.0),
                q(&cpus, 0.5),
                q(&cpus, 0.95),
                q(&cpus, 1.0)
            )
        };
        let p = &self.phase_starts;
        let at = |k: usize| p.get(k).copied().unwrap_or(self.starts.len());
        println!("idle: {}", phase(0..at(0) - 1));
        println!(
            "painting (mask px {} -> {}): {}",
            self.mask_before,
            self.mask_painted,
            phase(at(0)..at(1) - 1)
        );
        println!(
            "painting seeds of a second class, grow preview open (mask px -> {painted}): {}",
            phase(at(1)..at(2) - 1)
        );
        let ms = (self.starts[at(3).min(self.starts.len() - 1)] - self.starts[at(2)]).as_secs_f64()
            * 1e3;
        println!(
            "previewing grow from seeds ({preview}; ready {ms:.0} ms after the stroke): {}",
            phase(at(2)..at(3) - 1)
        );
    }
}

/// A `--paint-stroke` run: once loaded, one brush stroke across the first pane (from 20 % to
/// 80 % of it, over `FRAMES` frames), then a line `edit: image=I mask_px=N digest=D` on stdout;
/// the app then runs on untouched.
#[derive(Debug, Default)]
pub struct ScriptedStroke {
    frame: usize,
    stroke: Option<(Pos2, Pos2)>,
    /// Whether the stroke has been fed in completely.
    pub done: bool,
}

impl ScriptedStroke {
    const FRAMES: usize = 12;

    /// Starts the stroke over `pane` (the first pane's rectangle) when loaded.
    pub fn start(&mut self, pane: egui::Rect) {
        if self.stroke.is_none() {
            self.stroke = Some((
                pane.lerp_inside(Vec2::splat(0.2)),
                pane.lerp_inside(Vec2::splat(0.8)),
            ));
        }
    }

    /// Whether the stroke is under way.
    pub fn started(&self) -> bool {
        self.stroke.is_some()
    }

    /// The events of the next frame.
    pub fn events(&mut self) -> Vec<egui::Event> {
        let Some((a, b)) = self.stroke.filter(|_| !self.done) else {
            return Vec::new();
        };
        let e = stroke_events(a, b, self.frame, Self::FRAMES);
        self.frame += 1;
        if self.frame >= Self::FRAMES {
            self.done = true;
        }
        e
    }
}

/// FNV-1a of a mask's bytes: the kill test compares the edit before and after recovery by it.
pub fn mask_digest(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Writes an egui screenshot as an RGB PNG, atomically.
pub fn save_color_image(path: &Path, img: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = img.size;
    let bytes: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_array()).collect();
    let rgba = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
        .ok_or_else(|| "screenshot buffer size".to_string())?;
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(rgba)
        .to_rgb8()
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    crate::io::write_atomic(path, out.get_ref()).map_err(|e| format!("{}: {e}", path.display()))
}
