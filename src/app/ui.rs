//! The eframe application: panels, the canvas with its tools, the live metrics and plots.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use eframe::egui::{self, Color32, Key, Pos2, Rect as URect, Sense, Stroke, Vec2};
use eframe::egui_wgpu;
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints};

use super::annotate::{self, Command, LabelBox, PatchRecorder};
use super::export::{self, ExportItem};
use super::overlay::{self, PaneCallback, PaneUniform, Upload};
use super::project::{self, Layout, Status, Threshold};
use super::state::{MAP_NAMES, Session, Tool};
use super::worker::{
    ExplainJob, ExplainReply, ExplainWorker, MapKey, MapResult, MapScores, MetricsJob,
    MetricsWorker,
};
use crate::explain::softmax;
use crate::metrics::{Mask, PAPER_TOPS, Rect};
use crate::model::device::DeviceChoice;

/// Percentages scored for the IoU-against-k curve (the paper's four included).
pub const CURVE_TOPS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0,
];

/// Autosave interval.
pub const AUTOSAVE_SECS: u64 = 30;

/// How the canvas maps image pixels to the screen (shared by all panes: zoom and pan are synced).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewTransform {
    /// Screen points per image pixel.
    pub scale: f32,
    /// Image point shown at the pane centre.
    pub center: [f32; 2],
    /// Fit the image to the pane every frame (until the user zooms or pans).
    pub fit: bool,
}

impl Default for ViewTransform {
    fn default() -> Self {
        Self {
            scale: 1.0,
            center: [0.0, 0.0],
            fit: true,
        }
    }
}

impl ViewTransform {
    /// Screen position of image point `p` in `pane`.
    pub fn to_screen(&self, pane: URect, p: (f32, f32)) -> Pos2 {
        pane.center() + Vec2::new(p.0 - self.center[0], p.1 - self.center[1]) * self.scale
    }

    fn image_at(&self, pane: URect, s: Pos2) -> (f32, f32) {
        let d = (s - pane.center()) / self.scale;
        (self.center[0] + d.x, self.center[1] + d.y)
    }

    fn zoom_about(&mut self, pane: URect, at: Pos2, factor: f32) {
        self.fit = false;
        let p = self.image_at(pane, at);
        self.scale = (self.scale * factor).clamp(0.02, 64.0);
        let d = (at - pane.center()) / self.scale;
        self.center = [p.0 - d.x, p.1 - d.y];
    }
}

#[derive(Debug, Clone)]
enum Drag {
    None,
    Pan,
    NewBox((f32, f32)),
    MoveBox {
        index: usize,
        start: (f32, f32),
        before: LabelBox,
    },
    ResizeBox {
        index: usize,
        corner: usize,
        before: LabelBox,
    },
    Stroke {
        last: (f32, f32),
        recorder: Box<PatchRecorder>,
    },
    Window {
        start: (f64, f64),
    },
}

/// One map's scores on one image: pointing game, IoU rect at the threshold, and the IoU with the
/// box minus the IoU with the mask.
pub type ImageMapScore = (bool, f64, Option<f64>);

/// Scores of the project's images for the distribution plots.
#[derive(Debug, Default)]
pub struct ProjectScores {
    /// Per image: per map (PG, IoU rect at the threshold, IoU with the box minus with the mask).
    pub rows: Vec<(usize, [Option<ImageMapScore>; 3])>,
    /// Images still to score.
    pub queue: Vec<usize>,
    /// Images being scored off the UI thread.
    pub in_flight: usize,
    done: Option<(
        std::sync::mpsc::Sender<ImageScoreRow>,
        std::sync::mpsc::Receiver<ImageScoreRow>,
    )>,
}

/// One image's row of [`ProjectScores`].
pub type ImageScoreRow = (usize, [Option<ImageMapScore>; 3]);

impl ProjectScores {
    /// Scores every image in `0..n`.
    pub fn all(n: usize) -> Self {
        Self {
            queue: (0..n).rev().collect(),
            done: Some(std::sync::mpsc::channel()),
            ..Default::default()
        }
    }

    /// Whether images are still queued or being scored.
    pub fn busy(&self) -> bool {
        !self.queue.is_empty() || self.in_flight > 0
    }
}

/// Scores one image's maps against its annotation (run on a worker thread).
fn score_image(
    maps: Vec<Option<Arc<Vec<f32>>>>,
    ann: super::annotate::Annotations,
    p: f64,
) -> [Option<ImageMapScore>; 3] {
    let mut row = [None, None, None];
    let truth = ann.ground_truth();
    if truth.count() == 0 {
        // Nothing annotated: nothing to score (a zero would skew the distribution).
        return row;
    }
    let (w, h) = (truth.width, truth.height);
    let boxm = if ann.mask.count() == 0 {
        None
    } else if ann.boxes.is_empty() {
        truth.bbox().map(|r| Mask::from_rects(w, h, &[r]))
    } else {
        Some(ann.box_mask())
    };
    for (slot, m) in maps.iter().enumerate() {
        let Some(m) = m.as_ref().filter(|m| m.len() == w * h) else {
            continue;
        };
        let score = |mask: &Mask| crate::metrics::compute_cpu(m, w, h, mask, &[p]).ok();
        if let Some(s) = score(&truth) {
            let iou = s.top[0].iou_rect;
            let delta = boxm
                .as_ref()
                .and_then(score)
                .map(|b| b.top[0].iou_rect - iou);
            row[slot] = Some((s.pointing_game, iou, delta));
        }
    }
    row
}

struct Screenshot {
    path: PathBuf,
    ready_frames: u32,
    requested: bool,
    result: Arc<Mutex<Option<Result<(), String>>>>,
}

/// The workbench.
pub struct Workbench {
    /// Session state.
    pub session: Session,
    explain: ExplainWorker,
    metrics: MetricsWorker,
    /// Cached maps.
    pub maps: HashMap<MapKey, MapResult>,
    pending: HashSet<MapKey>,
    failures: HashMap<MapKey, String>,
    progress: Option<(String, usize, usize)>,
    /// Latest scores per map slot.
    pub scores: [Option<MapScores>; 3],
    /// Generation of the latest scores.
    pub scores_generation: u64,
    sent_key: Option<(u64, [Option<usize>; 3], String)>,
    job_counter: u64,
    metrics_ms: f64,
    /// Canvas transform.
    pub view: ViewTransform,
    gpu: Option<egui_wgpu::RenderState>,
    uploaded_image: Option<(usize, usize)>,
    uploaded_maps: [Option<usize>; 3],
    image_texture: Option<egui::TextureHandle>,
    drag: Drag,
    /// Last pointer position over the canvas during a drag (image pixels).
    drag_pos: Option<(f32, f32)>,
    polygon: Vec<(f32, f32)>,
    /// Pane rectangles of the last frame (screen points).
    pub pane_rects: Vec<URect>,
    /// Text of the path field (the in-app way to name files).
    pub path_field: String,
    show_help: bool,
    screenshot: Option<Screenshot>,
    last_autosave: Instant,
    autosave_offer: Option<PathBuf>,
    frame_cpu_ms: Option<f32>,
    /// Scores of every image of the project (the distribution plots).
    pub project_scores: ProjectScores,
    hover: Option<(usize, usize)>,
    /// Set when the screenshot was written (or failed): the app closes.
    pub finished: Option<Result<(), String>>,
    /// Show timings (frame CPU, metrics ms); snapshot tests turn them off.
    pub show_timings: bool,
    /// The display GPU the model shares, if any.
    gpu_name: Option<String>,
    /// Frame timing run (`--bench-frames`).
    pub frame_bench: Option<FrameBench>,
    /// Mask pixel count shown in the tools panel, for (image, edit generation).
    mask_px: Option<((usize, u64), usize)>,
}

impl Workbench {
    /// A workbench on a session. `gpu` is eframe's wgpu render state (overlays need it).
    pub fn new(
        session: Session,
        ctx: &egui::Context,
        gpu: Option<egui_wgpu::RenderState>,
        screenshot: Option<PathBuf>,
    ) -> Self {
        if let Some(rs) = &gpu {
            overlay::OverlayResources::install(rs);
        }
        // A hardware GPU that draws the panes also runs the model (software adapters do not:
        // the CPU backend is faster than lavapipe).
        let shared_gpu = gpu
            .as_ref()
            .filter(|rs| rs.adapter.get_info().device_type != egui_wgpu::wgpu::DeviceType::Cpu)
            .and_then(|rs| match super::burn_device_for(rs) {
                Ok(d) => Some((d, rs.adapter.get_info().name)),
                Err(e) => {
                    eprintln!("the model cannot share the display GPU ({e}); it runs separately");
                    None
                }
            });
        let gpu_name = shared_gpu.as_ref().map(|g| g.1.clone());
        let (c1, c2) = (ctx.clone(), ctx.clone());
        let autosave_offer = session
            .project_path
            .as_deref()
            .and_then(project::pending_autosave);
        let mut wb = Self {
            session,
            explain: ExplainWorker::spawn(move || c1.request_repaint(), shared_gpu.map(|g| g.0)),
            metrics: MetricsWorker::spawn(move || c2.request_repaint()),
            maps: HashMap::new(),
            pending: HashSet::new(),
            failures: HashMap::new(),
            progress: None,
            scores: [None, None, None],
            scores_generation: 0,
            sent_key: None,
            job_counter: 0,
            metrics_ms: 0.0,
            view: ViewTransform::default(),
            gpu,
            uploaded_image: None,
            uploaded_maps: [None; 3],
            image_texture: None,
            drag: Drag::None,
            drag_pos: None,
            polygon: Vec::new(),
            pane_rects: Vec::new(),
            path_field: String::new(),
            show_help: false,
            screenshot: screenshot.map(|path| Screenshot {
                path,
                ready_frames: 0,
                requested: false,
                result: Arc::new(Mutex::new(None)),
            }),
            last_autosave: Instant::now(),
            autosave_offer,
            frame_cpu_ms: None,
            project_scores: ProjectScores::default(),
            hover: None,
            finished: None,
            show_timings: true,
            gpu_name,
            frame_bench: None,
            mask_px: None,
        };
        wb.open(0);
        wb
    }

    fn open(&mut self, index: usize) {
        if index >= self.session.project.images.len() {
            return;
        }
        if let Err(e) = self.session.open_image(index) {
            self.session.note(e);
        }
        self.polygon.clear();
        self.drag = Drag::None;
        self.view.fit = true;
        self.uploaded_image = None;
        self.uploaded_maps = [None; 3];
        self.scores = [None, None, None];
        self.image_texture = None;
    }

    /// Keys of the three maps of image `index` under the current settings.
    pub fn keys_for(&self, index: usize) -> Option<[MapKey; 3]> {
        let (weights, _) = self.session.checkpoint()?;
        let entry = self.session.project.images.get(index)?;
        let image = self.session.resolve(&entry.path);
        let m = &self.session.model;
        Some(m.methods().map(|method| MapKey {
            image: image.clone(),
            frame: entry.frame,
            weights: weights.clone(),
            method,
            target: m.target,
            layer: if method == crate::explain::Method::Attention {
                m.layer
            } else {
                None
            },
            head: if method == crate::explain::Method::Attention {
                m.head
            } else {
                None
            },
            resize: m.resize,
        }))
    }

    /// The maps of the current image that are ready.
    pub fn current_maps(&self) -> [Option<&MapResult>; 3] {
        match self.keys_for(self.session.current) {
            Some(keys) => keys.map(|k| self.maps.get(&k)),
            None => [None, None, None],
        }
    }

    fn request_maps(&mut self, index: usize, image: Option<Arc<crate::io::image::Image>>) {
        let Some(keys) = self.keys_for(index) else {
            return;
        };
        let missing: Vec<MapKey> = keys
            .into_iter()
            .filter(|k| {
                !self.maps.contains_key(k)
                    && !self.pending.contains(k)
                    && !self.failures.contains_key(k)
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        let image = match image {
            Some(i) => i,
            None => match super::state::load_image(
                &missing[0].image,
                index,
                self.session.project.images[index].window,
                missing[0].frame,
            ) {
                Ok(l) => l.image,
                Err(e) => {
                    for k in missing {
                        self.failures.insert(k, e.clone());
                    }
                    return;
                }
            },
        };
        let config = self.session.checkpoint().and_then(|c| c.1);
        for k in &missing {
            self.pending.insert(k.clone());
        }
        self.explain.send(ExplainJob {
            keys: missing,
            config,
            image,
            device: self.session.model.device,
        });
    }

    fn poll_workers(&mut self) {
        while let Ok(r) = self.explain.replies.try_recv() {
            match r {
                ExplainReply::Progress {
                    label,
                    index,
                    total,
                } => self.progress = Some((label, index, total)),
                ExplainReply::Done(k, m) => {
                    self.pending.remove(&k);
                    self.maps.insert(k, m);
                }
                ExplainReply::Failed(k, e) => {
                    self.pending.remove(&k);
                    self.session.note(format!("{}: {e}", k.method.name()));
                    self.failures.insert(k, e);
                }
            }
        }
        if self.pending.is_empty() {
            self.progress = None;
        }
        while let Ok(r) = self.metrics.replies.try_recv() {
            if r.generation != self.job_counter {
                continue;
            }
            self.metrics_ms = r.millis;
            self.scores_generation = r.generation;
            self.scores = [None, None, None];
            for (slot, s) in r.scores {
                match s {
                    Ok(s) => self.scores[slot] = Some(s),
                    Err(e) => self.session.note(format!("metrics: {e}")),
                }
            }
        }
    }

    fn threshold_percent(&self) -> Option<f64> {
        match self.session.project.view.threshold {
            Threshold::TopPercent(p) => Some(p),
            Threshold::Absolute(_) => None,
        }
    }

    /// Sends a metrics job when the annotation, the maps or the threshold changed (not while a
    /// stroke is in progress: metrics follow the stroke).
    fn schedule_metrics(&mut self) {
        if matches!(self.drag, Drag::Stroke { .. }) {
            return;
        }
        let maps = self.current_maps().map(|m| m.cloned());
        let ids: [Option<usize>; 3] = maps
            .each_ref()
            .map(|m| m.as_ref().map(|m| Arc::as_ptr(&m.values) as usize));
        let thr = format!("{:?}", self.session.project.view.threshold);
        let key = (self.session.edit_generation, ids, thr);
        if self.sent_key.as_ref() == Some(&key) {
            return;
        }
        let Some(ann) = self.session.ann() else {
            return;
        };
        let Some(first) = maps.iter().flatten().next() else {
            return;
        };
        let (w, h) = (first.width, first.height);
        if (ann.mask.width, ann.mask.height) != (w, h) {
            return;
        }
        let truth = ann.ground_truth();
        let box_mask = if ann.mask.count() > 0 {
            if ann.boxes.is_empty() {
                truth.bbox().map(|r| Mask::from_rects(w, h, &[r]))
            } else {
                Some(ann.box_mask())
            }
        } else {
            None
        };
        let mut tops = CURVE_TOPS.to_vec();
        if let Some(p) = self.threshold_percent()
            && !tops.contains(&p)
        {
            tops.push(p);
        }
        let absolute = match self.session.project.view.threshold {
            Threshold::Absolute(t) => Some(t),
            _ => None,
        };
        self.job_counter += 1;
        let job = MetricsJob {
            generation: self.job_counter,
            maps: maps
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.as_ref().map(|m| (i, m.values.clone())))
                .collect(),
            width: w,
            height: h,
            mask: Arc::new(truth),
            box_mask: box_mask.map(Arc::new),
            tops,
            absolute,
            backend: DeviceChoice::Auto,
        };
        self.metrics.send(job);
        self.sent_key = Some(key);
    }
}

fn rgba_of(img: &crate::io::image::Image) -> Vec<u8> {
    let n = img.width * img.height;
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let mut out = Vec::with_capacity(n * 4);
    for i in 0..n {
        let (r, g, b) = if img.planes.len() == 3 {
            (img.planes[0][i], img.planes[1][i], img.planes[2][i])
        } else {
            let v = img.planes[0][i];
            (v, v, v)
        };
        out.extend_from_slice(&[q(r), q(g), q(b), 255]);
    }
    out
}

fn status_color(s: Status) -> Color32 {
    match s {
        Status::Todo => Color32::GRAY,
        Status::InProgress => Color32::from_rgb(230, 180, 40),
        Status::Done => Color32::from_rgb(60, 190, 90),
        Status::Flagged => Color32::from_rgb(230, 70, 70),
    }
}

/// A checkbox for the default (`None`) and, when unticked, a number.
fn optional_index(ui: &mut egui::Ui, v: &mut Option<usize>, default: &str, prefix: &str) {
    ui.horizontal(|ui| {
        let mut is_default = v.is_none();
        ui.checkbox(&mut is_default, default);
        if is_default {
            *v = None;
        } else {
            let mut i = v.unwrap_or(0);
            ui.add(egui::DragValue::new(&mut i).prefix(prefix).range(0..=63));
            *v = Some(i);
        }
    });
}

fn fmt_score(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.3}")
    }
}

impl Workbench {
    /// Everything needed for the first complete frame is there: image, maps, scores.
    pub fn fully_loaded(&self) -> bool {
        let Some(l) = &self.session.loaded else {
            return false;
        };
        let keys = match self.keys_for(l.index) {
            Some(k) => k,
            None => return true,
        };
        let maps_done = keys
            .iter()
            .all(|k| self.maps.contains_key(k) || self.failures.contains_key(k));
        let scored = self.sent_key.is_some() && self.scores_generation == self.job_counter;
        maps_done && (scored || self.current_maps().iter().all(Option::is_none))
    }

    fn sync_gpu(&mut self) {
        let Some(rs) = self.gpu.clone() else {
            return;
        };
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        let mut uploads: Vec<Upload> = Vec::new();
        let rgba;
        let img_id = (l.index, Arc::as_ptr(&l.image) as usize);
        if self.uploaded_image != Some(img_id) {
            rgba = rgba_of(&l.image);
            uploads.push(Upload::Image {
                width: l.width(),
                height: l.height(),
                rgba: &rgba,
            });
            self.session.mask_dirty_rect = Some(Rect {
                x0: 0,
                y0: 0,
                x1: l.width(),
                y1: l.height(),
            });
            self.uploaded_maps = [None; 3];
        }
        let maps = self.current_maps().map(|m| m.cloned());
        for (layer, m) in maps.iter().enumerate() {
            if let Some(m) = m {
                let id = Arc::as_ptr(&m.values) as usize;
                if self.uploaded_maps[layer] != Some(id) {
                    uploads.push(Upload::Map {
                        layer: layer as u32,
                        values: &m.values,
                    });
                    self.uploaded_maps[layer] = Some(id);
                }
            }
        }
        let rect = self.session.mask_dirty_rect.take();
        if let (Some(rect), Some(ann)) = (rect, self.session.ann()) {
            uploads.push(Upload::Mask {
                rect,
                data: &ann.mask.data,
            });
        }
        overlay::upload(&rs, &uploads);
        self.uploaded_image = Some(img_id);
    }

    fn map_threshold(&self, slot: usize) -> f32 {
        match self.session.project.view.threshold {
            Threshold::Absolute(t) => t,
            Threshold::TopPercent(p) => self.scores[slot]
                .as_ref()
                .and_then(|s| s.truth.top.iter().find(|t| t.top_perc == p))
                .map(|t| t.threshold)
                .unwrap_or(f32::INFINITY),
        }
    }

    /// (pane title, map slot) of each pane in the layout.
    fn panes(&self) -> Vec<(String, Option<usize>)> {
        let v = &self.session.project.view;
        let named = |s: usize| (MAP_NAMES[s].to_string(), Some(s));
        match v.layout {
            Layout::Single => vec![named(v.overlay)],
            Layout::Two => vec![("image".into(), None), named(v.overlay)],
            Layout::Four => vec![("image".into(), None), named(0), named(1), named(2)],
        }
    }

    fn canvas_ui(&mut self, ui: &mut egui::Ui) {
        let Some(l) = self.session.loaded.clone() else {
            ui.centered_and_justified(|ui| {
                ui.label("No image loaded. Open a project, an image or a folder.");
            });
            return;
        };
        let (w, h) = (l.width() as f32, l.height() as f32);
        let panes = self.panes();
        let area = ui.available_rect_before_wrap();
        let cols = if panes.len() >= 2 { 2 } else { 1 };
        let rows = panes.len().div_ceil(cols);
        let gap = 4.0;
        let pw = (area.width() - gap * (cols - 1) as f32) / cols as f32;
        let ph = (area.height() - gap * (rows - 1) as f32) / rows as f32;
        let rects: Vec<URect> = (0..panes.len())
            .map(|i| {
                let (c, r) = (i % cols, i / cols);
                URect::from_min_size(
                    area.min + Vec2::new(c as f32 * (pw + gap), r as f32 * (ph + gap)),
                    Vec2::new(pw, ph),
                )
            })
            .collect();
        if self.view.fit && pw > 1.0 && ph > 1.0 {
            self.view.scale = (pw / w).min(ph / h) * 0.98;
            self.view.center = [w / 2.0, h / 2.0];
        }
        self.pane_rects = rects.clone();
        self.sync_gpu();
        let ppp = ui.ctx().pixels_per_point();
        let v = self.session.project.view.clone();
        let mut colors = [[0f32; 4]; 9];
        for (i, c) in self.session.project.classes.iter().take(8).enumerate() {
            colors[i + 1] = [
                c.color[0] as f32 / 255.0,
                c.color[1] as f32 / 255.0,
                c.color[2] as f32 / 255.0,
                1.0,
            ];
        }
        let maps_ready = self.current_maps().map(|m| m.is_some());
        for (i, ((title, slot), rect)) in panes.iter().zip(&rects).enumerate() {
            let id = ui.scope_id().with(("pane", i));
            let resp = ui.interact(*rect, id, Sense::click_and_drag());
            let resp = resp.on_hover_cursor(egui::CursorIcon::Crosshair);
            let painter = ui.painter_at(*rect);
            painter.rect_filled(*rect, 0.0, Color32::from_gray(20));
            let origin = self.view.to_screen(*rect, (0.0, 0.0));
            if let Some(rs) = &self.gpu {
                let layer = slot
                    .filter(|s| maps_ready[*s])
                    .map(|s| s as i32)
                    .unwrap_or(-1);
                let mut flags = 0;
                if v.outline {
                    flags |= overlay::FLAG_OUTLINE;
                }
                if v.hit_miss {
                    flags |= overlay::FLAG_HIT_MISS;
                }
                if v.show_mask {
                    flags |= overlay::FLAG_MASK | overlay::FLAG_MASK_OUTLINE;
                }
                let u = PaneUniform {
                    origin: [origin.x * ppp, origin.y * ppp],
                    scale: self.view.scale * ppp,
                    map_layer: layer,
                    image_size: [w as u32, h as u32],
                    colormap: overlay::COLORMAPS
                        .iter()
                        .position(|c| *c == v.colormap)
                        .unwrap_or(0) as u32,
                    flags,
                    opacity: slot.map(|s| v.opacity[s]).unwrap_or(0.0),
                    threshold: slot.map(|s| self.map_threshold(s)).unwrap_or(f32::INFINITY),
                    mask_opacity: v.mask_opacity,
                    pad: 0.0,
                    class_colors: colors,
                };
                overlay::set_pane(rs, i, &u);
                painter.add(egui_wgpu::Callback::new_paint_callback(
                    *rect,
                    PaneCallback { pane: i },
                ));
            } else {
                let tex = self.image_texture.get_or_insert_with(|| {
                    let ci = egui::ColorImage::from_rgba_unmultiplied(
                        [l.width(), l.height()],
                        &rgba_of(&l.image),
                    );
                    ui.ctx()
                        .load_texture("vitscope-image", ci, egui::TextureOptions::NEAREST)
                });
                let img_rect = URect::from_min_size(origin, Vec2::new(w, h) * self.view.scale);
                painter.image(
                    tex.id(),
                    img_rect,
                    URect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                    Color32::WHITE,
                );
            }
            self.draw_annotations(&painter, *rect);
            let label = match slot {
                Some(s) if !maps_ready[*s] => format!("{title} (computing…)"),
                _ => title.clone(),
            };
            painter.text(
                rect.min + Vec2::new(6.0, 4.0),
                egui::Align2::LEFT_TOP,
                label,
                egui::FontId::proportional(14.0),
                Color32::WHITE,
            );
            self.canvas_input(ui, &resp, *rect);
        }
        ui.advance_cursor_after_rect(area);
    }

    fn draw_annotations(&self, painter: &egui::Painter, pane: URect) {
        let Some(ann) = self.session.ann() else {
            return;
        };
        for (i, b) in ann.boxes.iter().enumerate() {
            let color = self
                .session
                .project
                .classes
                .get(b.class.saturating_sub(1) as usize)
                .map(|c| Color32::from_rgb(c.color[0], c.color[1], c.color[2]))
                .unwrap_or(Color32::YELLOW);
            let r = URect::from_two_pos(
                self.view.to_screen(pane, (b.x0 as f32, b.y0 as f32)),
                self.view.to_screen(pane, (b.x1 as f32, b.y1 as f32)),
            );
            let selected = self.session.selected_box == Some(i);
            painter.rect_stroke(
                r,
                0.0,
                Stroke::new(if selected { 2.5 } else { 1.5 }, color),
                egui::StrokeKind::Middle,
            );
            if selected {
                for c in [
                    r.left_top(),
                    r.right_top(),
                    r.left_bottom(),
                    r.right_bottom(),
                ] {
                    painter.rect_filled(URect::from_center_size(c, Vec2::splat(7.0)), 1.0, color);
                }
            }
        }
        if let Drag::NewBox(start) = &self.drag
            && let Some(p) = painter.ctx().pointer_latest_pos()
        {
            let r = URect::from_two_pos(self.view.to_screen(pane, *start), p);
            painter.rect_stroke(
                r,
                0.0,
                Stroke::new(1.5, Color32::YELLOW),
                egui::StrokeKind::Middle,
            );
        }
        if !self.polygon.is_empty() {
            let mut pts: Vec<Pos2> = self
                .polygon
                .iter()
                .map(|p| self.view.to_screen(pane, *p))
                .collect();
            if let Some(p) = painter.ctx().pointer_latest_pos() {
                pts.push(p);
            }
            painter.add(egui::Shape::line(
                pts,
                Stroke::new(1.5, Color32::LIGHT_GREEN),
            ));
        }
        if matches!(self.session.tool, Tool::Brush | Tool::Eraser)
            && let Some(p) = painter.ctx().pointer_latest_pos()
            && pane.contains(p)
        {
            painter.circle_stroke(
                p,
                self.session.brush_radius * self.view.scale,
                Stroke::new(1.0, Color32::WHITE),
            );
        }
    }

    fn hit_box(&self, p: (f32, f32), tol: f32) -> Option<(usize, Option<usize>)> {
        let ann = self.session.ann()?;
        for (i, b) in ann.boxes.iter().enumerate().rev() {
            let corners = [
                (b.x0 as f32, b.y0 as f32),
                (b.x1 as f32, b.y0 as f32),
                (b.x0 as f32, b.y1 as f32),
                (b.x1 as f32, b.y1 as f32),
            ];
            if let Some(c) = corners
                .iter()
                .position(|c| (c.0 - p.0).abs() <= tol && (c.1 - p.1).abs() <= tol)
            {
                return Some((i, Some(c)));
            }
            if p.0 >= b.x0 as f32 && p.0 < b.x1 as f32 && p.1 >= b.y0 as f32 && p.1 < b.y1 as f32 {
                return Some((i, None));
            }
        }
        None
    }

    fn canvas_input(&mut self, ui: &egui::Ui, resp: &egui::Response, pane: URect) {
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        let (w, h) = (l.width(), l.height());
        if let Some(p) = resp.hover_pos() {
            let q = self.view.image_at(pane, p);
            self.hover = (q.0 >= 0.0 && q.1 >= 0.0 && (q.0 as usize) < w && (q.1 as usize) < h)
                .then_some((q.0 as usize, q.1 as usize));
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                self.view.zoom_about(pane, p, (scroll * 0.0025).exp());
            }
        }
        let pointer = ui.input(|i| i.pointer.clone());
        let pos = pointer.interact_pos().map(|p| self.view.image_at(pane, p));
        let tol = 6.0 / self.view.scale;
        if resp.drag_started() {
            // The drag begins where the button went down, not where it was recognised as a drag.
            let origin = pointer.press_origin().or(pointer.interact_pos());
            let Some(p) = origin.map(|o| self.view.image_at(pane, o)) else {
                return;
            };
            self.drag = if pointer.middle_down() {
                Drag::Pan
            } else if pointer.secondary_down() {
                match &l.dicom {
                    Some(d) => Drag::Window {
                        start: d.effective_window(self.session.project.images[l.index].window),
                    },
                    None => Drag::Pan,
                }
            } else {
                match self.session.tool {
                    Tool::Select => match self.hit_box(p, tol) {
                        Some((i, Some(corner))) => {
                            self.session.selected_box = Some(i);
                            Drag::ResizeBox {
                                index: i,
                                corner,
                                before: self.session.ann().expect("hit").boxes[i],
                            }
                        }
                        Some((i, None)) => {
                            self.session.selected_box = Some(i);
                            Drag::MoveBox {
                                index: i,
                                start: p,
                                before: self.session.ann().expect("hit").boxes[i],
                            }
                        }
                        None => Drag::Pan,
                    },
                    Tool::Box => Drag::NewBox(p),
                    Tool::Brush | Tool::Eraser => {
                        let value = self.paint_value();
                        let radius = self.session.brush_radius;
                        let Some(s) = self.session.state_mut() else {
                            return;
                        };
                        let mut recorder = Box::new(PatchRecorder::new(&s.ann.mask));
                        if let Some(r) = annotate::stamp(&mut s.ann.mask, p.0, p.1, radius, value) {
                            recorder.touch(r);
                            self.session.mask_touched(r);
                        }
                        Drag::Stroke { last: p, recorder }
                    }
                    _ => Drag::None,
                }
            };
        }
        if pos.is_some() && (resp.dragged() || resp.drag_started()) {
            self.drag_pos = pos;
        }
        if resp.dragged() {
            let delta = resp.drag_delta();
            let value = self.paint_value();
            let Some(p) = pos.or(self.drag_pos) else {
                return;
            };
            match &mut self.drag {
                Drag::Pan => {
                    self.view.fit = false;
                    self.view.center[0] -= delta.x / self.view.scale;
                    self.view.center[1] -= delta.y / self.view.scale;
                }
                Drag::Stroke { last, recorder } => {
                    let (from, radius) = (*last, self.session.brush_radius);
                    *last = p;
                    if let Some(s) = self.session.states[self.session.current].as_mut()
                        && let Some(r) = annotate::stroke(&mut s.ann.mask, from, p, radius, value)
                    {
                        recorder.touch(r);
                        self.session.mask_touched(r);
                    }
                }
                Drag::MoveBox {
                    index,
                    start,
                    before,
                } => {
                    let (dx, dy) = (p.0 - start.0, p.1 - start.1);
                    let bw = (before.x1 - before.x0) as f32;
                    let bh = (before.y1 - before.y0) as f32;
                    let x0 = (before.x0 as f32 + dx).round().clamp(0.0, w as f32 - bw);
                    let y0 = (before.y0 as f32 + dy).round().clamp(0.0, h as f32 - bh);
                    let moved = LabelBox {
                        x0: x0 as u32,
                        y0: y0 as u32,
                        x1: (x0 + bw) as u32,
                        y1: (y0 + bh) as u32,
                        class: before.class,
                    };
                    let i = *index;
                    if let Some(s) = self.session.state_mut() {
                        s.ann.boxes[i] = moved;
                    }
                }
                Drag::ResizeBox {
                    index,
                    corner,
                    before,
                } => {
                    let b = *before;
                    let fixed = match corner {
                        0 => (b.x1 as f32, b.y1 as f32),
                        1 => (b.x0 as f32, b.y1 as f32),
                        2 => (b.x1 as f32, b.y0 as f32),
                        _ => (b.x0 as f32, b.y0 as f32),
                    };
                    let i = *index;
                    if let Some(nb) = LabelBox::from_corners(fixed, p, w, h, b.class)
                        && let Some(s) = self.session.state_mut()
                    {
                        s.ann.boxes[i] = nb;
                    }
                }
                Drag::Window { start } => {
                    let total = resp.total_drag_delta().unwrap_or_default();
                    let (c, wd) = *start;
                    let k = (wd.abs().max(1.0)) / 256.0;
                    self.session
                        .set_window((c - total.y as f64 * k, (wd + total.x as f64 * k).max(1.0)));
                    self.uploaded_image = None;
                }
                _ => {}
            }
        }
        if resp.drag_stopped() {
            let drag = std::mem::replace(&mut self.drag, Drag::None);
            let p = pos.or(self.drag_pos.take());
            match drag {
                Drag::NewBox(start) => {
                    if let Some(p) = p
                        && let Some(b) = LabelBox::from_corners(start, p, w, h, self.session.class)
                    {
                        self.session.add_box(b);
                    }
                }
                Drag::Stroke { recorder, .. } => {
                    if let Some(ann) = self.session.ann()
                        && let Some(c) = recorder.finish(&ann.mask)
                    {
                        self.session.record(c);
                    }
                }
                Drag::MoveBox { index, before, .. } | Drag::ResizeBox { index, before, .. } => {
                    let after = self.session.ann().map(|a| a.boxes[index]);
                    if let Some(after) = after.filter(|a| *a != before) {
                        if let Some(s) = self.session.state_mut() {
                            s.ann.boxes[index] = before;
                        }
                        self.session.apply(Command::SetBox {
                            index,
                            before,
                            after,
                        });
                    }
                }
                _ => {}
            }
        }
        if resp.clicked()
            && let Some(p) = pos
        {
            match self.session.tool {
                Tool::Polygon => self.polygon.push(p),
                Tool::Fill => {
                    if p.0 >= 0.0 && p.1 >= 0.0 {
                        self.session.fill_at(p.0 as usize, p.1 as usize)
                    }
                }
                Tool::Select => {
                    self.session.selected_box = self.hit_box(p, tol).map(|h| h.0);
                }
                Tool::Brush | Tool::Eraser => {
                    let value = self.paint_value();
                    let radius = self.session.brush_radius;
                    if let Some(s) = self.session.state_mut() {
                        let mut rec = PatchRecorder::new(&s.ann.mask);
                        if let Some(r) = annotate::stamp(&mut s.ann.mask, p.0, p.1, radius, value) {
                            rec.touch(r);
                        }
                        if let Some(c) = rec.finish(&s.ann.mask) {
                            self.session.record(c);
                        }
                    }
                }
                Tool::Box => {}
            }
        }
        if resp.double_clicked() && self.session.tool == Tool::Polygon {
            self.close_polygon();
        }
    }

    /// The class a brush writes, or 0 for the eraser.
    fn paint_value(&self) -> u8 {
        if self.session.tool == Tool::Brush {
            self.session.class
        } else {
            0
        }
    }

    fn close_polygon(&mut self) {
        let pts = std::mem::take(&mut self.polygon);
        if pts.len() >= 3 {
            self.session.fill_polygon(&pts);
        }
    }
}

impl Workbench {
    /// A path from the in-app field (if filled), else from a native dialog (none here when no
    /// desktop portal exists).
    fn choose_path(&mut self, save: bool, folder: bool, title: &str) -> Option<PathBuf> {
        let typed = self.path_field.trim();
        if !typed.is_empty() {
            return Some(PathBuf::from(typed));
        }
        let dialog = rfd::FileDialog::new().set_title(title);
        let picked = if folder {
            dialog.pick_folder()
        } else if save {
            dialog.save_file()
        } else {
            dialog.pick_file()
        };
        if picked.is_none() {
            self.session.note(format!(
                "{title}: type a path in the path field, then press the button again"
            ));
        }
        picked
    }

    /// Replaces the session (opening a project, an image or a folder).
    pub fn replace_session(&mut self, session: Session) {
        self.session = session;
        self.autosave_offer = self
            .session
            .project_path
            .as_deref()
            .and_then(project::pending_autosave);
        self.project_scores = ProjectScores::default();
        self.open(0);
    }

    /// Opens a project file, an image or a folder of images.
    pub fn open_path(&mut self, path: &Path) {
        match super::session_for(path) {
            Ok(s) => self.replace_session(s),
            Err(e) => self.session.note(format!("{e:#}")),
        }
    }

    fn save_as(&mut self, path: &Path) {
        match self.session.save_to(path, false) {
            Ok(()) => self.session.note(format!("saved {}", path.display())),
            Err(e) => self.session.note(e.to_string()),
        }
    }

    fn export_items(&mut self) -> Vec<(String, super::annotate::Annotations)> {
        let mut out = Vec::new();
        for i in 0..self.session.project.images.len() {
            if let Err(e) = self.session.load_annotations(i) {
                self.session.note(e);
                continue;
            }
            if let Some(s) = &self.session.states[i] {
                let name = self.session.project.images[i]
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push((name, s.ann.clone()));
            }
        }
        out
    }

    fn export(&mut self, kind: &str) {
        let Some(path) = self.choose_path(true, kind == "png", &format!("Export {kind}")) else {
            return;
        };
        let anns = self.export_items();
        let items: Vec<ExportItem> = anns
            .iter()
            .map(|(n, a)| ExportItem {
                file_name: n.clone(),
                boxes: &a.boxes,
                mask: &a.mask,
            })
            .collect();
        let classes: Vec<String> = self
            .session
            .project
            .classes
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let r = match kind {
            "png" => export::export_png_masks(&path, &items).map(|n| format!("{n} masks")),
            "coco" => export::export_coco(&path, &items, &classes).map(|_| "COCO".to_string()),
            _ => {
                let rows = self.csv_rows();
                export::write_csv(&path, CSV_HEADER, &rows).map(|_| format!("{} rows", rows.len()))
            }
        };
        match r {
            Ok(what) => self
                .session
                .note(format!("exported {what} to {}", path.display())),
            Err(e) => self.session.note(e.to_string()),
        }
    }

    fn import(&mut self, kind: &str) {
        let Some(path) = self.choose_path(false, kind == "png", &format!("Import {kind}")) else {
            return;
        };
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        let name = l
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (w, h) = (l.width(), l.height());
        let imported = if kind == "png" {
            let stem = l
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let candidates = [
                path.join("masks").join(format!("{stem}.png")),
                path.join(format!("{stem}.png")),
                path.clone(),
            ];
            match candidates.iter().find(|p| p.is_file()) {
                Some(p) => project::read_label_mask(p, w, h, self.session.project.classes.len())
                    .map(|m| export::ImportedAnnotations {
                        boxes: Vec::new(),
                        mask: Some(m),
                    })
                    .map_err(|e| e.to_string()),
                None => Err(format!(
                    "{}: no mask named {stem}.png there",
                    path.display()
                )),
            }
        } else {
            export::import_coco(&path, &name, w, h).map_err(|e| e.to_string())
        };
        match imported {
            Ok(imp) => {
                let Some(ann) = self.session.ann().cloned() else {
                    return;
                };
                let mut cmds: Vec<Command> =
                    imp.boxes.iter().map(|b| Command::AddBox(*b)).collect();
                if let Some(m) = imp.mask {
                    let full = Rect {
                        x0: 0,
                        y0: 0,
                        x1: w,
                        y1: h,
                    };
                    cmds.push(Command::Paint(annotate::MaskPatch {
                        rect: full,
                        before: ann.mask.data.clone(),
                        after: m.data,
                    }));
                }
                let n = cmds.len();
                self.session.apply(Command::Batch(cmds));
                self.session
                    .note(format!("imported {n} annotations from {}", path.display()));
            }
            Err(e) => self.session.note(e),
        }
    }

    fn csv_rows(&self) -> Vec<String> {
        let mut rows = Vec::new();
        let name = self
            .session
            .loaded
            .as_ref()
            .map(|l| l.path.display().to_string())
            .unwrap_or_default();
        for (slot, s) in self.scores.iter().enumerate() {
            let Some(s) = s else { continue };
            for t in &s.truth.top {
                rows.push(format!(
                    "{name},{},{},{},{},{},{},{}",
                    MAP_NAMES[slot],
                    s.truth.pointing_game as u8,
                    fmt_score(s.truth.energy),
                    t.top_perc,
                    fmt_score(t.iou_rect),
                    fmt_score(t.iou_binary),
                    fmt_score(t.dice)
                ));
            }
        }
        for (i, row) in &self.project_scores.rows {
            let path = self.session.project.images[*i].path.display().to_string();
            for (slot, v) in row.iter().enumerate() {
                if let Some((pg, iou, _)) = v {
                    rows.push(format!(
                        "{path},{},{},,{},{},,",
                        MAP_NAMES[slot],
                        *pg as u8,
                        self.threshold_percent().unwrap_or(f64::NAN),
                        fmt_score(*iou)
                    ));
                }
            }
        }
        rows
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open project, image or folder").clicked()
                    && let Some(p) = self.choose_path(false, false, "Open")
                {
                    self.open_path(&p);
                }
                if ui.button("Save (Ctrl+S)").clicked() {
                    self.save_shortcut();
                }
                if ui.button("Save as").clicked()
                    && let Some(p) = self.choose_path(true, false, "Save as")
                {
                    self.save_as(&p);
                }
                ui.separator();
                if ui.button("Export PNG masks (paper layout)").clicked() {
                    self.export("png");
                }
                if ui.button("Export COCO JSON").clicked() {
                    self.export("coco");
                }
                if ui.button("Export metrics CSV").clicked() {
                    self.export("csv");
                }
                ui.separator();
                if ui.button("Import PNG mask").clicked() {
                    self.import("png");
                }
                if ui.button("Import COCO").clicked() {
                    self.import("coco");
                }
                ui.separator();
                if ui.button("Recover untitled autosave").clicked() {
                    let p = project::untitled_autosave();
                    self.open_path(&p);
                }
            });
            ui.label("Path:");
            ui.add(
                egui::TextEdit::singleline(&mut self.path_field)
                    .hint_text("file or folder for Open / Save as / Export / Import")
                    .desired_width(320.0),
            );
            if ui
                .button("Open")
                .on_hover_text("Open the path typed here")
                .clicked()
            {
                let p = PathBuf::from(self.path_field.trim());
                self.open_path(&p);
            }
            ui.separator();
            let layout = &mut self.session.project.view.layout;
            ui.selectable_value(layout, Layout::Single, "1 pane");
            ui.selectable_value(layout, Layout::Two, "2 panes");
            ui.selectable_value(layout, Layout::Four, "4 panes");
            ui.separator();
            if ui.button("Fit (0)").clicked() {
                self.view.fit = true;
            }
            if ui.button("1:1 (1)").clicked() {
                self.view.scale = 1.0;
                self.view.fit = false;
            }
            if ui.button("Help (F1)").clicked() {
                self.show_help = !self.show_help;
            }
        });
    }

    fn image_list(&mut self, ui: &mut egui::Ui) {
        ui.heading("Images");
        ui.horizontal(|ui| {
            if ui.button("< Prev").on_hover_text("Page Up").clicked() {
                self.step_image(-1);
            }
            if ui.button("Next >").on_hover_text("Page Down").clicked() {
                self.step_image(1);
            }
        });
        let mut open = None;
        egui::ScrollArea::vertical()
            .max_height(ui.available_height() - 150.0)
            .show(ui, |ui| {
                for (i, e) in self.session.project.images.iter().enumerate() {
                    let name = e
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    ui.horizontal(|ui| {
                        let (dot, resp) = ui.allocate_exact_size(Vec2::splat(12.0), Sense::hover());
                        ui.painter()
                            .circle_filled(dot.center(), 5.0, status_color(e.status));
                        resp.on_hover_text(e.status.name());
                        if ui
                            .selectable_label(i == self.session.current, name)
                            .clicked()
                        {
                            open = Some(i);
                        }
                    });
                }
            });
        if let Some(i) = open {
            self.open(i);
        }
        ui.separator();
        ui.label("Status (Ctrl+1..4)");
        let current = self
            .session
            .project
            .images
            .get(self.session.current)
            .map(|e| e.status);
        ui.horizontal_wrapped(|ui| {
            for s in Status::ALL {
                if ui.selectable_label(current == Some(s), s.name()).clicked() {
                    self.session.set_status(s);
                }
            }
        });
        if let (Some(l), Some((x, y))) = (&self.session.loaded, self.hover) {
            let v = l.values.get(y * l.width() + x).copied().unwrap_or(0.0);
            ui.label(format!("x {x}  y {y}  value {v:.4}"));
        }
        let dicom = self
            .session
            .loaded
            .as_ref()
            .and_then(|l| Some((l.index, l.dicom.clone()?)));
        if let Some((index, d)) = dicom {
            ui.separator();
            ui.label("Window (right-drag)");
            let (mut c, mut w) = d.effective_window(self.session.project.images[index].window);
            let a = ui.add(egui::DragValue::new(&mut c).prefix("C "));
            let b = ui.add(egui::DragValue::new(&mut w).prefix("W ").range(1.0..=1e6));
            if a.changed() || b.changed() {
                self.session.set_window((c, w));
                self.uploaded_image = None;
            }
            if d.frames > 1 {
                let mut f = self.session.project.images[index].frame;
                let r = ui.add(
                    egui::DragValue::new(&mut f)
                        .range(0..=d.frames - 1)
                        .prefix("frame "),
                );
                if r.changed() {
                    match self.session.set_frame(f) {
                        Ok(()) => {
                            self.uploaded_image = None;
                            self.scores = [None, None, None];
                        }
                        Err(e) => self.session.note(e),
                    }
                }
            }
        }
    }

    fn add_checkpoint(&mut self) {
        let Some(weights) = self.choose_path(false, false, "Add checkpoint") else {
            return;
        };
        if !weights.is_file() {
            self.session
                .note(format!("{}: no such checkpoint file", weights.display()));
            return;
        }
        let config = weights.with_extension("json");
        let name = weights
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "checkpoint".into());
        self.session
            .project
            .checkpoints
            .push(project::CheckpointEntry {
                name,
                weights: std::path::absolute(&weights).unwrap_or(weights),
                config: config.is_file().then_some(config),
            });
        self.session.model.checkpoint = self.session.project.checkpoints.len() - 1;
        self.session.dirty = true;
    }

    fn step_image(&mut self, d: i64) {
        let n = self.session.project.images.len() as i64;
        if n == 0 {
            return;
        }
        let i = (self.session.current as i64 + d).rem_euclid(n) as usize;
        self.open(i);
    }

    fn model_panel(&mut self, ui: &mut egui::Ui) {
        let names: Vec<String> = self
            .session
            .project
            .checkpoints
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let m = &mut self.session.model;
        egui::ComboBox::from_label("Checkpoint")
            .selected_text(
                names
                    .get(m.checkpoint)
                    .cloned()
                    .unwrap_or_else(|| "none".into()),
            )
            .show_ui(ui, |ui| {
                for (i, n) in names.iter().enumerate() {
                    ui.selectable_value(&mut m.checkpoint, i, n);
                }
            });
        if ui
            .button("Add checkpoint from the path field")
            .on_hover_text(
                "A .safetensors or .pth file (timm, DINO, MAE or trained here) to compare",
            )
            .clicked()
        {
            self.add_checkpoint();
        }
        let m = &mut self.session.model;
        let where_gpu = match &self.gpu_name {
            Some(n) => format!("auto and gpu run the model on the display GPU ({n})"),
            None => "auto runs the model on the CPU: no hardware GPU to share".to_string(),
        };
        egui::ComboBox::from_label("Device")
            .selected_text(format!("{:?}", m.device).to_lowercase())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut m.device, DeviceChoice::Auto, "auto");
                ui.selectable_value(&mut m.device, DeviceChoice::Cpu, "cpu");
                ui.selectable_value(&mut m.device, DeviceChoice::Gpu, "gpu");
            })
            .response
            .on_hover_text(where_gpu);
        let logits = self
            .current_maps()
            .iter()
            .flatten()
            .next()
            .map(|m| (m.logits.clone(), m.target));
        let classes = logits.as_ref().map(|l| l.0.len()).unwrap_or(2);
        let m = &mut self.session.model;
        egui::ComboBox::from_label("Target class")
            .selected_text(match m.target {
                None => "predicted".to_string(),
                Some(t) => format!("class {t}"),
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut m.target, None, "predicted");
                for c in 0..classes {
                    ui.selectable_value(&mut m.target, Some(c), format!("class {c}"));
                }
            });
        if let Some((logits, target)) = logits {
            for (c, p) in softmax(&logits).iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.label(format!(
                        "class {c}{}",
                        if c == target { " (target)" } else { "" }
                    ));
                    ui.add(egui::ProgressBar::new(*p).text(format!("{:.1} %", p * 100.0)));
                });
            }
        }
        let m = &mut self.session.model;
        optional_index(ui, &mut m.layer, "last block", "block ");
        optional_index(ui, &mut m.head, "mean of heads", "head ");
        ui.checkbox(&mut m.paper_gradcam, "GradCAM with the paper's smoothing");
        if let Some((label, i, n)) = &self.progress {
            ui.horizontal(|ui| {
                ui.spinner();
                // Truncated: a long label must not widen the panel for the rest of the session.
                ui.add(egui::Label::new(format!("{label} ({}/{n})", i + 1)).truncate());
            });
        }
    }

    fn overlay_panel(&mut self, ui: &mut egui::Ui) {
        let v = &mut self.session.project.view;
        egui::ComboBox::from_label("Colormap")
            .selected_text(format!("{:?}", v.colormap).to_lowercase())
            .show_ui(ui, |ui| {
                for c in overlay::COLORMAPS {
                    ui.selectable_value(&mut v.colormap, c, format!("{c:?}").to_lowercase());
                }
            });
        if v.layout != Layout::Four {
            egui::ComboBox::from_label("Map")
                .selected_text(MAP_NAMES[v.overlay])
                .show_ui(ui, |ui| {
                    for (i, n) in MAP_NAMES.iter().enumerate() {
                        ui.selectable_value(&mut v.overlay, i, *n);
                    }
                });
        }
        for (i, n) in MAP_NAMES.iter().enumerate() {
            ui.add(egui::Slider::new(&mut v.opacity[i], 0.0..=1.0).text(format!("{n} opacity")));
        }
        let mut absolute = matches!(v.threshold, Threshold::Absolute(_));
        ui.horizontal(|ui| {
            ui.label("Threshold by");
            if ui.radio_value(&mut absolute, false, "top k %").changed()
                || ui.radio_value(&mut absolute, true, "value").changed()
            {
                v.threshold = if absolute {
                    Threshold::Absolute(0.5)
                } else {
                    Threshold::TopPercent(20.0)
                };
            }
        });
        match &mut v.threshold {
            Threshold::TopPercent(p) => {
                ui.add(
                    egui::Slider::new(p, 1.0..=90.0)
                        .step_by(1.0)
                        .text("Threshold top %"),
                );
            }
            Threshold::Absolute(t) => {
                ui.add(egui::Slider::new(t, 0.0..=1.0).text("Threshold value"));
            }
        }
        ui.checkbox(&mut v.outline, "Outline of the selected region");
        ui.checkbox(&mut v.hit_miss, "Hit / miss colouring");
        ui.checkbox(&mut v.show_mask, "Show annotation");
        ui.add(egui::Slider::new(&mut v.mask_opacity, 0.0..=1.0).text("Annotation opacity"));
    }

    fn tools_panel(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (tool, key, help) in Tool::ALL {
                let label = format!("{} ({key})", tool.name());
                if ui
                    .selectable_label(self.session.tool == tool, label)
                    .on_hover_text(help)
                    .clicked()
                {
                    self.session.tool = tool;
                    self.polygon.clear();
                }
            }
        });
        ui.add(
            egui::Slider::new(&mut self.session.brush_radius, 1.0..=200.0)
                .logarithmic(true)
                .text("Brush radius ([ ])"),
        );
        let span = self
            .session
            .loaded
            .as_ref()
            .map(|l| (l.value_range.1 - l.value_range.0).max(1e-6))
            .unwrap_or(1.0);
        ui.add(
            egui::Slider::new(&mut self.session.fill_tolerance, 0.0..=span)
                .text("Fill tolerance (0 = by mask region)"),
        )
        .on_hover_text("Grows the fill over pixels within this much of the clicked pixel's value (modality units for DICOM)");
        let classes = self.session.project.classes.clone();
        ui.horizontal_wrapped(|ui| {
            ui.label("Class:");
            for (i, c) in classes.iter().enumerate() {
                let color = Color32::from_rgb(c.color[0], c.color[1], c.color[2]);
                let text = egui::RichText::new(&c.name).color(color);
                if ui
                    .selectable_label(self.session.class as usize == i + 1, text)
                    .clicked()
                {
                    self.session.class = (i + 1) as u8;
                }
            }
            if classes.len() < 8
                && ui
                    .small_button("+")
                    .on_hover_text("Add a label class")
                    .clicked()
            {
                let hue = classes.len() as f32 * 0.13 + 0.55;
                let c = egui::ecolor::Hsva::new(hue.fract(), 0.75, 0.95, 1.0).to_srgb();
                self.session.project.classes.push(project::LabelClass {
                    name: format!("class {}", classes.len() + 1),
                    color: [c[0], c[1], c[2]],
                });
                self.session.class = self.session.project.classes.len() as u8;
                self.session.dirty = true;
            }
        });
        if let Some(c) = self
            .session
            .project
            .classes
            .get_mut((self.session.class as usize).wrapping_sub(1))
        {
            ui.horizontal(|ui| {
                let name = ui.add(egui::TextEdit::singleline(&mut c.name).desired_width(140.0));
                let color = ui.color_edit_button_srgb(&mut c.color);
                if name.changed() || color.changed() {
                    self.session.dirty = true;
                }
            });
        }
        ui.horizontal_wrapped(|ui| {
            if ui.button("Mask from boxes").clicked() {
                self.session.mask_from_boxes();
            }
            if ui.button("Box from mask").clicked() {
                self.session.box_from_mask();
            }
            if ui
                .add_enabled(
                    self.session.selected_box.is_some(),
                    egui::Button::new("Delete box"),
                )
                .on_hover_text("Delete")
                .clicked()
            {
                self.session.delete_selected_box();
            }
        });
        let (u, r) = self
            .session
            .states
            .get(self.session.current)
            .and_then(|s| s.as_ref())
            .map(|s| (s.history.undo_len(), s.history.redo_len()))
            .unwrap_or((0, 0));
        ui.horizontal(|ui| {
            if ui
                .add_enabled(u > 0, egui::Button::new("Undo"))
                .on_hover_text("Ctrl+Z")
                .clicked()
            {
                self.session.undo();
            }
            if ui
                .add_enabled(r > 0, egui::Button::new("Redo"))
                .on_hover_text("Ctrl+Shift+Z / Ctrl+Y")
                .clicked()
            {
                self.session.redo();
            }
            let boxes = self.session.ann().map(|a| a.boxes.len()).unwrap_or(0);
            // Counting a 2048² mask took ~3 ms a frame, so once per edit (a stroke in progress
            // shows the count from before it).
            let key = (self.session.current, self.session.edit_generation);
            let px = match self.mask_px {
                Some((k, n)) if k == key => n,
                _ => {
                    let n = self.session.mask_pixels();
                    self.mask_px = Some((key, n));
                    n
                }
            };
            ui.label(format!("{boxes} boxes, {px} mask px"));
        });
    }

    fn metrics_panel(&mut self, ui: &mut egui::Ui) {
        let p = self.threshold_percent();
        let head = match p {
            Some(p) => format!("at top {p} %"),
            None => "at the value threshold".into(),
        };
        if self.show_timings {
            ui.label(format!("Scores {head} ({:.1} ms)", self.metrics_ms));
        } else {
            ui.label(format!("Scores {head}"));
        }
        let unannotated = self
            .scores
            .iter()
            .flatten()
            .next()
            .is_some_and(|s| s.truth.mask_pixels == 0);
        if unannotated {
            ui.label("This image has no annotation yet: draw a box or a mask to score the maps.");
            return;
        }
        egui::Grid::new("metrics").striped(true).show(ui, |ui| {
            for h in [
                "map", "PG", "energy", "IoU rect", "IoU mask", "Dice", "box Δ",
            ] {
                ui.strong(h);
            }
            for pp in PAPER_TOPS {
                ui.strong(format!("@{pp}"));
            }
            ui.end_row();
            for (slot, name) in MAP_NAMES.iter().enumerate() {
                ui.label(*name);
                let Some(s) = &self.scores[slot] else {
                    ui.label("…");
                    ui.end_row();
                    continue;
                };
                let at = match p {
                    Some(p) => s.truth.top.iter().find(|t| t.top_perc == p).cloned(),
                    None => s.absolute.clone(),
                };
                ui.label(if s.truth.pointing_game { "hit" } else { "miss" });
                ui.label(fmt_score(s.truth.energy));
                match &at {
                    Some(t) => {
                        ui.label(fmt_score(t.iou_rect));
                        ui.label(fmt_score(t.iou_binary));
                        ui.label(fmt_score(t.dice));
                    }
                    None => {
                        for _ in 0..3 {
                            ui.label("–");
                        }
                    }
                }
                let delta = p.and_then(|p| {
                    let b = s.boxes.as_ref()?.top.iter().find(|t| t.top_perc == p)?;
                    Some(b.iou_rect - at.as_ref()?.iou_rect)
                });
                ui.label(
                    delta
                        .map(|d| format!("{d:+.3}"))
                        .unwrap_or_else(|| "–".into()),
                );
                for pp in PAPER_TOPS {
                    let v = s
                        .truth
                        .top
                        .iter()
                        .find(|t| t.top_perc == pp)
                        .map(|t| t.iou_rect);
                    ui.label(v.map(fmt_score).unwrap_or_else(|| "–".into()));
                }
                ui.end_row();
            }
        });
    }

    fn curve_plot(&mut self, ui: &mut egui::Ui) {
        let colors = PLOT_COLORS;
        ui.label("IoU (rect, solid; mask, dashed) against top k %");
        Plot::new("iou_curve")
            .height(ui.available_height().max(120.0))
            .legend(Legend::default())
            .include_y(0.0)
            .include_y(1.0)
            .show(ui, |plot| {
                for (slot, s) in self.scores.iter().enumerate() {
                    let Some(s) = s.as_ref().filter(|s| s.truth.mask_pixels > 0) else {
                        continue;
                    };
                    let mut tops: Vec<_> = s.truth.top.iter().collect();
                    tops.sort_by(|a, b| a.top_perc.total_cmp(&b.top_perc));
                    let rect: PlotPoints = tops.iter().map(|t| [t.top_perc, t.iou_rect]).collect();
                    let bin: PlotPoints = tops.iter().map(|t| [t.top_perc, t.iou_binary]).collect();
                    plot.line(Line::new(MAP_NAMES[slot], rect).color(colors[slot]));
                    plot.line(
                        Line::new(format!("{} mask", MAP_NAMES[slot]), bin)
                            .color(colors[slot])
                            .style(egui_plot::LineStyle::dashed_loose()),
                    );
                }
            });
    }

    fn project_plots(&mut self, ui: &mut egui::Ui) {
        let colors = PLOT_COLORS;
        ui.horizontal(|ui| {
            if ui
                .button("Score all images")
                .on_hover_text("Compute the maps and scores of every image for the plots below")
                .clicked()
            {
                self.project_scores = ProjectScores::all(self.session.project.images.len());
            }
            if self.project_scores.busy() {
                ui.spinner();
                let left = self.project_scores.queue.len() + self.project_scores.in_flight;
                ui.label(format!("{left} to go"));
            }
        });
        if self.project_scores.rows.is_empty() {
            return;
        }
        ui.label("IoU rect per image (distribution over the project)");
        Plot::new("distribution")
            .height(((ui.available_height() - 30.0) / 2.0).max(60.0))
            .legend(Legend::default())
            .show(ui, |plot| {
                for slot in 0..3 {
                    let mut bins = [0usize; 10];
                    for (_, row) in &self.project_scores.rows {
                        if let Some((_, iou, _)) = row[slot]
                            && !iou.is_nan()
                        {
                            bins[((iou * 10.0) as usize).min(9)] += 1;
                        }
                    }
                    let bars: Vec<Bar> = bins
                        .iter()
                        .enumerate()
                        .map(|(b, &n)| {
                            Bar::new(
                                b as f64 * 0.1 + 0.05 + slot as f64 * 0.025 - 0.025,
                                n as f64,
                            )
                            .width(0.025)
                        })
                        .collect();
                    plot.bar_chart(BarChart::new(MAP_NAMES[slot], bars).color(colors[slot]));
                }
            });
        ui.label("Box minus mask IoU per image");
        Plot::new("box_vs_mask")
            .height(ui.available_height().max(60.0))
            .legend(Legend::default())
            .show(ui, |plot| {
                for slot in 0..3 {
                    let bars: Vec<Bar> = self
                        .project_scores
                        .rows
                        .iter()
                        .filter_map(|(i, row)| {
                            let d = row[slot]?.2?;
                            Some(Bar::new(*i as f64 + slot as f64 * 0.25 - 0.25, d).width(0.25))
                        })
                        .collect();
                    plot.bar_chart(
                        BarChart::new(format!("{} Δ", MAP_NAMES[slot]), bars).color(colors[slot]),
                    );
                }
            });
    }

    /// Scores one queued image when its maps are ready (the batch behind the project plots).
    /// Collects finished rows and starts the next image whose maps are ready (the batch behind
    /// the project plots); the scoring itself runs off the UI thread.
    fn advance_project_scores(&mut self) {
        let ps = &mut self.project_scores;
        if let Some((_, rx)) = &ps.done {
            while let Ok(row) = rx.try_recv() {
                ps.in_flight -= 1;
                let at = ps.rows.partition_point(|r| r.0 < row.0);
                ps.rows.insert(at, row);
            }
        }
        let Some(&i) = self.project_scores.queue.last() else {
            return;
        };
        if let Err(e) = self.session.load_annotations(i) {
            self.session.note(e);
            self.project_scores.queue.pop();
            return;
        }
        let Some(keys) = self.keys_for(i) else {
            self.project_scores.queue.pop();
            return;
        };
        if keys.iter().any(|k| self.failures.contains_key(k)) {
            self.project_scores.queue.pop();
            return;
        }
        if keys.iter().any(|k| !self.maps.contains_key(k)) {
            self.request_maps(i, None);
            return;
        }
        self.project_scores.queue.pop();
        let Some((tx, _)) = &self.project_scores.done else {
            return;
        };
        let tx = tx.clone();
        let ann = self.session.states[i].as_ref().expect("loaded").ann.clone();
        let maps: Vec<_> = keys
            .iter()
            .map(|k| self.maps.get(k).map(|m| m.values.clone()))
            .collect();
        let p = self.threshold_percent().unwrap_or(20.0);
        self.project_scores.in_flight += 1;
        std::thread::spawn(move || {
            let _ = tx.send((i, score_image(maps, ann, p)));
        });
    }

    fn save_shortcut(&mut self) {
        if self.session.project_path.is_some() {
            match self.session.save() {
                Ok(p) => self.session.note(format!("saved {}", p.display())),
                Err(e) => self.session.note(e.to_string()),
            }
        } else if let Some(p) = self.choose_path(true, false, "Save as") {
            self.save_as(&p);
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (pressed, m) = ctx.input(|i| {
            let keys: Vec<Key> = i
                .events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::Key {
                        key, pressed: true, ..
                    } => Some(*key),
                    _ => None,
                })
                .collect();
            (keys, i.modifiers)
        });
        for k in pressed {
            match (k, m.command, m.shift) {
                (Key::Z, true, false) => {
                    self.session.undo();
                }
                (Key::Z, true, true) | (Key::Y, true, _) => {
                    self.session.redo();
                }
                (Key::S, true, _) => self.save_shortcut(),
                (Key::Num1, true, _) => self.session.set_status(Status::Todo),
                (Key::Num2, true, _) => self.session.set_status(Status::InProgress),
                (Key::Num3, true, _) => self.session.set_status(Status::Done),
                (Key::Num4, true, _) => self.session.set_status(Status::Flagged),
                (_, true, _) => {}
                (Key::V, ..) => self.session.tool = Tool::Select,
                (Key::B, ..) => self.session.tool = Tool::Box,
                (Key::D, ..) => self.session.tool = Tool::Brush,
                (Key::E, ..) => self.session.tool = Tool::Eraser,
                (Key::G, ..) => self.session.tool = Tool::Polygon,
                (Key::F, ..) => self.session.tool = Tool::Fill,
                (Key::OpenBracket, ..) => {
                    self.session.brush_radius = (self.session.brush_radius / 1.25).max(1.0)
                }
                (Key::CloseBracket, ..) => {
                    self.session.brush_radius = (self.session.brush_radius * 1.25).min(200.0)
                }
                (Key::Enter, ..) => self.close_polygon(),
                (Key::Escape, ..) => {
                    self.polygon.clear();
                    self.session.selected_box = None;
                }
                (Key::Delete | Key::Backspace, ..) => self.session.delete_selected_box(),
                (Key::PageDown | Key::Period, ..) => self.step_image(1),
                (Key::PageUp | Key::Comma, ..) => self.step_image(-1),
                (Key::Plus | Key::Equals, ..) => {
                    self.view.fit = false;
                    self.view.scale = (self.view.scale * 1.25).min(64.0)
                }
                (Key::Minus, ..) => {
                    self.view.fit = false;
                    self.view.scale = (self.view.scale / 1.25).max(0.02)
                }
                (Key::Num0, ..) => self.view.fit = true,
                (Key::Num1, ..) => {
                    self.view.fit = false;
                    self.view.scale = 1.0
                }
                (Key::F1, ..) => self.show_help = !self.show_help,
                _ => {}
            }
        }
    }

    fn help_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_help;
        egui::Window::new("Shortcuts")
            .open(&mut open)
            .show(ctx, |ui| {
                egui::Grid::new("help").show(ui, |ui| {
                    for (tool, key, help) in Tool::ALL {
                        ui.strong(key);
                        ui.label(format!("{}: {help}", tool.name()));
                        ui.end_row();
                    }
                    for (k, what) in [
                        ("Ctrl+Z / Ctrl+Shift+Z, Ctrl+Y", "undo / redo"),
                        ("Ctrl+S", "save"),
                        ("Ctrl+1..4", "status: to do, in progress, done, flagged"),
                        ("Page Up / Page Down, , / .", "previous / next image"),
                        ("wheel, + / -", "zoom"),
                        ("0 / 1", "fit / 1:1"),
                        ("middle-drag, drag (Select)", "pan"),
                        ("right-drag", "DICOM window / level"),
                        ("[ / ]", "brush size"),
                        ("Delete", "delete the selected box"),
                        ("F1", "this help"),
                    ] {
                        ui.strong(k);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        self.show_help = open;
    }

    fn autosave_dialog(&mut self, ctx: &egui::Context) {
        let Some(auto) = self.autosave_offer.clone() else {
            return;
        };
        egui::Window::new("Recover unsaved work?")
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label(format!(
                    "An autosave newer than the project exists:\n{}",
                    auto.display()
                ));
                ui.horizontal(|ui| {
                    if ui.button("Restore").clicked() {
                        self.restore_autosave(&auto);
                        self.autosave_offer = None;
                    }
                    if ui.button("Discard").clicked() {
                        let _ = std::fs::remove_file(&auto);
                        self.autosave_offer = None;
                    }
                });
            });
    }

    fn restore_autosave(&mut self, auto: &Path) {
        let target = self.session.project_path.clone();
        match Session::open_project(auto) {
            Ok(mut s) => {
                s.project_path = target;
                s.dirty = true;
                // Load every image's annotations now and mark them for the next save, so the
                // project never points at the autosave's files.
                for i in 0..s.project.images.len() {
                    if s.load_annotations(i).is_ok()
                        && let Some(st) = s.states[i].as_mut()
                    {
                        st.mask_dirty = st.ann.mask.count() > 0;
                    }
                }
                s.note(format!("restored {}", auto.display()));
                self.session = s;
                self.open(0);
            }
            Err(e) => self.session.note(e.to_string()),
        }
    }

    fn maybe_autosave(&mut self) {
        if self.session.dirty && self.last_autosave.elapsed().as_secs() >= AUTOSAVE_SECS {
            self.last_autosave = Instant::now();
            if let Err(e) = self.session.autosave() {
                self.session.note(e.to_string());
            }
        }
    }

    /// Times frames once everything is loaded (idle, then while a brush stroke is painted across
    /// the first pane), prints the medians and closes the app.
    fn frame_bench_step(&mut self, ctx: &egui::Context) {
        let loaded = self.fully_loaded();
        let cpu = self.frame_cpu_ms;
        let pane = self.pane_rects.first().copied();
        let Some(bench) = &mut self.frame_bench else {
            return;
        };
        ctx.request_repaint();
        if !loaded {
            return;
        }
        bench.starts.push(Instant::now());
        bench.cpus.push(cpu);
        if bench.starts.len() == bench.frames
            && let Some(r) = pane
        {
            bench.mask_before = self.session.mask_pixels();
            self.session.tool = Tool::Brush;
            bench.stroke = Some((
                r.lerp_inside(Vec2::splat(0.2)),
                r.lerp_inside(Vec2::splat(0.8)),
            ));
        }
        if bench.starts.len() <= 2 * bench.frames {
            return;
        }
        let painted = self.session.mask_pixels();
        let bench = self.frame_bench.take().expect("checked");
        bench.report(painted);
        self.finished = Some(Ok(()));
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }

    fn screenshot_step(&mut self, ctx: &egui::Context) {
        let Some(shot) = &mut self.screenshot else {
            return;
        };
        if let Some(r) = shot.result.lock().expect("screenshot lock").take() {
            self.finished = Some(r);
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        if shot.requested {
            ctx.request_repaint();
            return;
        }
        let ready = self.session.loaded.is_none() || self.fully_loaded();
        let shot = self.screenshot.as_mut().expect("checked");
        if ready {
            shot.ready_frames += 1;
        }
        if shot.ready_frames >= 3 {
            shot.requested = true;
            let (path, slot) = (shot.path.clone(), shot.result.clone());
            let waker = ctx.clone();
            ctx.request_screenshot(move |img| {
                let r = save_color_image(&path, &img);
                *slot.lock().expect("screenshot lock") = Some(r);
                waker.request_repaint();
            });
        }
        ctx.request_repaint();
    }

    /// One frame of the whole UI.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.poll_workers();
        self.shortcuts(&ctx);
        let (index, image) = match &self.session.loaded {
            Some(l) => (Some(l.index), Some(l.image.clone())),
            None => (None, None),
        };
        if let Some(i) = index {
            self.request_maps(i, image);
        }
        self.advance_project_scores();
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                let dirty = if self.session.dirty {
                    "unsaved changes"
                } else {
                    "saved"
                };
                let file = self
                    .session
                    .project_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "untitled".into());
                ui.label(format!("{file} · {dirty}"));
                if let Some(ms) = self.frame_cpu_ms.filter(|_| self.show_timings) {
                    ui.label(format!("· frame CPU {ms:.1} ms"));
                }
                if let Some(m) = self.session.messages.last() {
                    ui.separator();
                    ui.label(m);
                }
            });
        });
        egui::Panel::bottom("analysis")
            .resizable(true)
            .default_size(250.0)
            .show(ui, |ui| {
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(600.0);
                        self.metrics_panel(ui);
                    });
                    ui.separator();
                    ui.vertical(|ui| {
                        ui.set_width(420.0);
                        self.curve_plot(ui);
                    });
                    ui.separator();
                    ui.vertical(|ui| self.project_plots(ui));
                });
            });
        egui::Panel::left("images")
            .default_size(220.0)
            .show(ui, |ui| self.image_list(ui));
        egui::Panel::right("controls")
            .default_size(430.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    egui::CollapsingHeader::new("Model")
                        .default_open(true)
                        .show(ui, |ui| self.model_panel(ui));
                    egui::CollapsingHeader::new("Overlay")
                        .default_open(true)
                        .show(ui, |ui| self.overlay_panel(ui));
                    egui::CollapsingHeader::new("Annotate")
                        .default_open(true)
                        .show(ui, |ui| self.tools_panel(ui));
                });
            });
        egui::CentralPanel::default().show(ui, |ui| self.canvas_ui(ui));
        self.schedule_metrics();
        self.help_window(&ctx);
        self.autosave_dialog(&ctx);
        self.maybe_autosave();
        self.screenshot_step(&ctx);
        self.frame_bench_step(&ctx);
        if !self.pending.is_empty() || self.project_scores.busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}

/// Line colours of the three maps in the plots.
const PLOT_COLORS: [Color32; 3] = [
    Color32::from_rgb(90, 160, 255),
    Color32::from_rgb(255, 160, 60),
    Color32::from_rgb(220, 80, 200),
];

/// A `--bench-frames` run: `frames` idle frames, then `frames` frames of a brush stroke fed in as
/// pointer events, as a hand would paint.
pub struct FrameBench {
    frames: usize,
    /// Start of every timed frame.
    starts: Vec<Instant>,
    /// eframe's `cpu_usage` as read in every timed frame (it is the previous frame's).
    cpus: Vec<Option<f32>>,
    /// From, to of the stroke once the painting frames begin.
    stroke: Option<(egui::Pos2, egui::Pos2)>,
    /// Mask pixels before the stroke.
    mask_before: usize,
}

impl FrameBench {
    pub fn new(frames: usize) -> Self {
        Self {
            frames: frames.max(3),
            starts: Vec::new(),
            cpus: Vec::new(),
            stroke: None,
            mask_before: 0,
        }
    }

    /// The pointer events of the next frame of the stroke.
    fn stroke_events(&self) -> Vec<egui::Event> {
        let Some((a, b)) = self.stroke else {
            return Vec::new();
        };
        let i = self.starts.len() - self.frames;
        let f = i as f32 / self.frames as f32;
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
            _ if i + 1 >= self.frames => vec![egui::Event::PointerMoved(at), button(at, false)],
            _ => vec![egui::Event::PointerMoved(at)],
        }
    }

    fn report(&self, painted: usize) {
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
                "{} frames: median frame interval {:.1} ms, app CPU (eframe cpu_usage) median {:.1} ms, p95 {:.1} ms",
                gaps.len(),
                q(&gaps, 0.5),
                q(&cpus, 0.5),
                q(&cpus, 0.95)
            )
        };
        let n = self.frames;
        println!("idle: {}", phase(0..n - 1));
        println!(
            "painting (mask px {} -> {painted}): {}",
            self.mask_before,
            phase(n..2 * n)
        );
    }
}

/// Header of the metrics CSV.
pub const CSV_HEADER: &str = "image,map,pointing_game,energy,top_perc,iou_rect,iou_binary,dice";

fn save_color_image(path: &Path, img: &egui::ColorImage) -> Result<(), String> {
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

impl eframe::App for Workbench {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.frame_cpu_ms = frame.info().cpu_usage.map(|s| s * 1e3);
        self.frame_ui(ui);
    }

    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        if let Some(bench) = &self.frame_bench {
            raw_input.events.extend(bench.stroke_events());
        }
    }

    fn on_exit(&mut self) {
        if self.session.dirty
            && let Err(e) = self.session.autosave()
        {
            eprintln!("autosave on exit failed: {e}");
        }
    }
}
