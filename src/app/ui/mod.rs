//! The eframe application. Each panel lives in a file of its own under `ui/`, draws from state
//! and returns [`Action`]s, which [`Workbench::apply`] carries out in one place. The map store
//! ([`super::store`]) owns the workers and the maps; the canvas's tool logic is plain code
//! ([`super::canvas_tool`]); shortcuts, tooltips and help come from [`super::commands`].
//!
//! Work safety lives here too: the autosave fires by time (a repaint is scheduled for it, so an
//! idle window still saves), and anything that would replace the session asks first.

mod canvas;
mod dialogs;
mod help;
mod image_list;
mod model;
mod overlay;
mod plots;
mod scores;
mod tools;
mod top_bar;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui;
use eframe::egui_wgpu;

pub use canvas::ViewTransform;

use super::canvas_tool::CanvasTool;
use super::commands::{KeyName, UiCommand};
use super::harness::{self, BenchStep, FrameBench, Screenshot, ScriptedStroke};
use super::project::{self, Status, Threshold};
use super::recovery::{self, AutosaveClock, AutosaveStep, RecoveryCopy};
use super::slots::PerMap;
use super::state::{Session, Tool};
use super::store::{DEFAULT_CACHE_MB, MapStore};
use super::transfer::{self, ExportKind, ImportKind};
use super::worker::{ExplainJob, MapKey, MapResult, MetricsJob};
use crate::metrics::Mask;
use crate::model::device::DeviceChoice;

/// Percentages scored for the IoU-against-k curve (the paper's four included).
pub const CURVE_TOPS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0,
];

/// Something a panel asks for; [`Workbench::apply`] carries it out.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Action {
    /// A registered command (buttons, menus and shortcuts alike).
    Command(UiCommand),
    /// Show image `i` of the project.
    OpenImage(usize),
    /// Replace the session with a project, image or folder (asks when work is unsaved).
    OpenPath(PathBuf),
    /// Export.
    Export(ExportKind),
    /// Import into the current image.
    Import(ImportKind),
    /// Add the checkpoint named in the path field.
    AddCheckpoint,
    /// Set the DICOM window (centre, width).
    SetWindow((f64, f64)),
    /// Show another frame of a multi-frame DICOM.
    SetFrame(u32),
    /// Add a label class.
    AddClass,
    /// A class was renamed or recoloured in place.
    ClassEdited,
    /// Mask from the boxes.
    MaskFromBoxes,
    /// Box from the mask.
    BoxFromMask,
    /// Score every image (the project plots).
    ScoreAll,
    /// Stop scoring.
    CancelScoring,
    /// Compute the current image's failed maps again.
    RetryMaps,
    /// Restore a recovery copy.
    Restore(RecoveryCopy),
    /// Delete a recovery copy.
    DiscardRecovery(RecoveryCopy),
    /// Close the recovery list, keeping the copies.
    KeepRecovery,
    /// The answer to "save changes?".
    Confirm(Answer),
}

/// Answers to "save changes?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Save, then go on.
    Save,
    /// Go on without saving (the recovery copy is removed).
    Discard,
    /// Stay.
    Cancel,
}

/// What waits for the "save changes?" answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// Open a project, image or folder.
    Open(PathBuf),
    /// Start an empty project.
    NewProject,
    /// Restore a recovery copy.
    Restore(RecoveryCopy),
    /// Close the window.
    Quit,
}

/// How a workbench starts, beyond its session.
#[derive(Debug, Clone, Default)]
pub struct WorkbenchOptions {
    /// `--screenshot FILE`.
    pub screenshot: Option<PathBuf>,
    /// The data folder (recovery copies); default [`recovery::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// `--map-cache-mb`: overrides the project's setting.
    pub cache_mb: Option<u64>,
}

/// What was last sent to the metrics worker: (edit generation, map identities, threshold).
type SentKey = (u64, PerMap<Option<usize>>, String);

/// The workbench.
pub struct Workbench {
    /// Session state.
    pub session: Session,
    /// Workers, maps cache, scores.
    pub store: MapStore,
    /// Canvas transform.
    pub view: ViewTransform,
    /// The canvas's tool state.
    pub tool: CanvasTool,
    gpu: Option<egui_wgpu::RenderState>,
    uploads: canvas::Uploads,
    /// Pane rectangles of the last frame (screen points).
    pub pane_rects: Vec<egui::Rect>,
    /// Text of the path field (the in-app way to name files).
    pub path_field: String,
    show_help: bool,
    screenshot: Option<Screenshot>,
    autosave: AutosaveClock,
    data_dir: PathBuf,
    cache_override: Option<u64>,
    /// Recovery copies offered at start (restore / discard / keep).
    pub recovery_offer: Vec<RecoveryCopy>,
    /// What waits for "save changes?".
    pub confirm: Option<Pending>,
    quit_confirmed: bool,
    frame_cpu_ms: Option<f32>,
    hover: Option<(usize, usize)>,
    /// Set when an automated run (screenshot, frame bench) ended: the app closes.
    pub finished: Option<Result<(), String>>,
    /// Show timings (frame CPU, metrics ms); snapshot tests turn them off.
    pub show_timings: bool,
    gpu_name: Option<String>,
    /// Frame timing run (`--bench-frames`).
    pub frame_bench: Option<FrameBench>,
    /// A scripted stroke (`--paint-stroke`).
    pub paint_stroke: Option<ScriptedStroke>,
    mask_px: Option<((usize, u64), usize)>,
    sent_key: Option<SentKey>,
    /// The k of the last batch.
    batch_top: Option<f64>,
}

impl Workbench {
    /// A workbench on a session. `gpu` is eframe's wgpu render state (overlays need it).
    pub fn new(
        session: Session,
        ctx: &egui::Context,
        gpu: Option<egui_wgpu::RenderState>,
        screenshot: Option<PathBuf>,
    ) -> Self {
        Self::with_options(
            session,
            ctx,
            gpu,
            WorkbenchOptions {
                screenshot,
                ..Default::default()
            },
        )
    }

    /// A workbench with all start options.
    pub fn with_options(
        session: Session,
        ctx: &egui::Context,
        gpu: Option<egui_wgpu::RenderState>,
        opts: WorkbenchOptions,
    ) -> Self {
        if let Some(rs) = &gpu {
            super::overlay::OverlayResources::install(rs);
        }
        // A hardware GPU that draws the panes also runs the model and the metrics kernels
        // (software adapters do not: the CPU is faster than lavapipe).
        let hardware = gpu
            .as_ref()
            .filter(|rs| rs.adapter.get_info().device_type != egui_wgpu::wgpu::DeviceType::Cpu);
        if let Some(rs) = hardware {
            crate::metrics::gpu::share_device(
                rs.device.clone(),
                rs.queue.clone(),
                rs.adapter.get_info(),
            );
        }
        let shared_gpu = hardware.and_then(|rs| match super::burn_device_for(rs) {
            Ok(d) => Some((d, rs.adapter.get_info().name)),
            Err(e) => {
                eprintln!("the model cannot share the display GPU ({e}); it runs separately");
                None
            }
        });
        let gpu_name = shared_gpu.as_ref().map(|g| g.1.clone());
        let c = ctx.clone();
        let cache_mb = opts
            .cache_mb
            .or(session.project.view.map_cache_mb)
            .unwrap_or(DEFAULT_CACHE_MB);
        let data_dir = opts.data_dir.unwrap_or_else(recovery::data_dir);
        let mut wb = Self {
            session,
            store: MapStore::new(move || c.request_repaint(), shared_gpu.map(|g| g.0), cache_mb),
            view: ViewTransform::default(),
            tool: CanvasTool::default(),
            gpu,
            uploads: canvas::Uploads::default(),
            pane_rects: Vec::new(),
            path_field: String::new(),
            show_help: false,
            screenshot: opts.screenshot.map(Screenshot::new),
            autosave: AutosaveClock::new(Duration::from_secs(recovery::AUTOSAVE_SECS)),
            data_dir,
            cache_override: opts.cache_mb,
            recovery_offer: Vec::new(),
            confirm: None,
            quit_confirmed: false,
            frame_cpu_ms: None,
            hover: None,
            finished: None,
            show_timings: true,
            gpu_name,
            frame_bench: None,
            paint_stroke: None,
            mask_px: None,
            sent_key: None,
            batch_top: None,
        };
        wb.recovery_offer = recovery::list(
            &wb.recovery_dir(),
            wb.session.project_path.as_deref(),
        );
        wb.adopt_session();
        wb
    }

    fn recovery_dir(&self) -> PathBuf {
        recovery::recovery_dir(&self.data_dir)
    }

    /// Sets up a new session: its recovery file (untitled) or registration (titled), the first
    /// image.
    fn adopt_session(&mut self) {
        let dir = self.recovery_dir();
        match &self.session.project_path {
            Some(p) => {
                if let Err(e) = recovery::register(&dir, p) {
                    self.session
                        .note(format!("{}: cannot register the autosave: {e}", dir.display()));
                }
            }
            None if self.session.recovery_file.is_none() => {
                self.session.recovery_file = Some(recovery::new_untitled_file(&dir));
            }
            None => {}
        }
        let mb = self
            .cache_override
            .or(self.session.project.view.map_cache_mb)
            .unwrap_or(DEFAULT_CACHE_MB);
        self.store.set_budget_mb(mb);
        self.autosave = AutosaveClock::new(Duration::from_secs(recovery::AUTOSAVE_SECS));
        self.sent_key = None;
        self.open(0);
    }

    fn open(&mut self, index: usize) {
        if index >= self.session.project.images.len() {
            return;
        }
        // A drag in progress ends where it was (a stroke is recorded, not lost).
        self.tool.end(&mut self.session, None);
        if let Err(e) = self.session.open_image(index) {
            self.session.note(e);
        }
        self.tool.reset();
        self.view.fit = true;
        self.uploads = canvas::Uploads::default();
        self.store.clear_live();
    }

    /// Keys of the three maps of image `index` under the current settings.
    pub fn keys_for(&self, index: usize) -> Option<PerMap<MapKey>> {
        self.session.map_keys(index)
    }

    /// The maps of the current image that are ready.
    pub fn current_maps(&self) -> PerMap<Option<&MapResult>> {
        match self.keys_for(self.session.current) {
            Some(keys) => keys.map(|k| self.store.get(&k)),
            None => PerMap::none(),
        }
    }

    /// The live scores per slot.
    pub fn scores(&self) -> &PerMap<Option<super::worker::MapScores>> {
        &self.store.live.scores
    }

    fn request_current_maps(&mut self) {
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        let Some(keys) = self.keys_for(l.index) else {
            return;
        };
        self.store.pin(keys.values().cloned());
        let missing: Vec<MapKey> = keys.values().filter(|k| !self.store.known(k)).cloned().collect();
        if missing.is_empty() {
            return;
        }
        self.store.request(ExplainJob {
            keys: missing,
            config: self.session.checkpoint().and_then(|c| c.1),
            image: l.image.clone(),
            device: self.session.model.device,
        });
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
        if self.tool.stroking() {
            return;
        }
        let maps = self.current_maps().map(|m| m.cloned());
        let ids = maps
            .as_ref()
            .map(|m| m.as_ref().map(|m| std::sync::Arc::as_ptr(&m.values) as usize));
        let thr = format!("{:?}", self.session.project.view.threshold);
        let key = (self.session.edit_generation, ids, thr);
        if self.sent_key.as_ref() == Some(&key) {
            return;
        }
        let Some(ann) = self.session.ann() else {
            return;
        };
        let Some((_, first)) = maps.present().next() else {
            return;
        };
        let (w, h) = (first.width, first.height);
        if (ann.mask.width, ann.mask.height) != (w, h) {
            return;
        }
        let truth = ann.ground_truth();
        let box_mask = if ann.mask.count() == 0 {
            None
        } else if ann.boxes.is_empty() {
            truth.bbox().map(|r| Mask::from_rects(w, h, &[r]))
        } else {
            Some(ann.box_mask())
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
        self.store.score(MetricsJob {
            generation: 0,
            maps: maps.present().map(|(s, m)| (s, m.values.clone())).collect(),
            width: w,
            height: h,
            mask: std::sync::Arc::new(truth),
            box_mask: box_mask.map(std::sync::Arc::new),
            tops,
            absolute,
            backend: DeviceChoice::Auto,
        });
        self.sent_key = Some(key);
    }

    /// Everything needed for the first complete frame is there: image, maps, scores.
    pub fn fully_loaded(&self) -> bool {
        let Some(l) = &self.session.loaded else {
            return false;
        };
        let Some(keys) = self.keys_for(l.index) else {
            return true;
        };
        let maps_done = keys
            .values()
            .all(|k| self.store.get(k).is_some() || self.store.failure(k).is_some());
        let scored = self.sent_key.is_some() && self.store.scores_current();
        maps_done && (scored || self.current_maps().all_none())
    }

    /// Whether work would be lost by replacing the session.
    fn unsaved(&self) -> bool {
        self.session.dirty || self.tool.stroking()
    }

    /// Replaces the session (after the answer to "save changes?", or when nothing is unsaved).
    pub fn replace_session(&mut self, session: Session) {
        self.session = session;
        self.store.batch = Default::default();
        self.adopt_session();
    }

    /// Opens a project file, an image or a folder of images, replacing the session now.
    pub fn open_path(&mut self, path: &Path) {
        match super::session_for(path) {
            Ok(s) => self.replace_session(s),
            Err(e) => self.session.note(format!("{e:#}")),
        }
    }

    fn save_as(&mut self, path: &Path) -> bool {
        match self.session.save_to(path, false) {
            Ok(()) => {
                self.session.note(format!("saved {}", path.display()));
                let _ = recovery::register(&self.recovery_dir(), path);
                true
            }
            Err(e) => {
                self.session.note(e.to_string());
                false
            }
        }
    }

    /// Saves to the project file, or to the path field when untitled. False: nothing saved.
    fn save(&mut self) -> bool {
        if self.session.project_path.is_some() {
            match self.session.save() {
                Ok(p) => {
                    self.session.note(format!("saved {}", p.display()));
                    true
                }
                Err(e) => {
                    self.session.note(e.to_string());
                    false
                }
            }
        } else if let Some(p) = self.choose_path(true, false, "Save as") {
            self.save_as(&p)
        } else {
            false
        }
    }

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

    /// Runs `p` now, or asks first when work is unsaved.
    fn guarded(&mut self, p: Pending, ctx: Option<&egui::Context>) {
        if self.unsaved() {
            self.confirm = Some(p);
        } else {
            self.proceed(p, ctx);
        }
    }

    fn proceed(&mut self, p: Pending, ctx: Option<&egui::Context>) {
        match p {
            Pending::Open(path) => self.open_path(&path),
            Pending::NewProject => {
                let mut s = Session::new(
                    project::Project::default(),
                    None,
                    PathBuf::from("."),
                );
                s.project.checkpoints.push(super::bundled_checkpoint());
                s.note("new project: add images by opening a folder, or save it first");
                self.replace_session(s);
            }
            Pending::Restore(copy) => self.restore(&copy),
            Pending::Quit => {
                self.quit_confirmed = true;
                if let Some(ctx) = ctx {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
        }
    }

    /// Removes this session's own recovery copy (the user discarded the work).
    fn discard_own_copy(&mut self) {
        let own = match (&self.session.project_path, &self.session.recovery_file) {
            (Some(p), _) => Some(project::autosave_path(p)),
            (None, r) => r.clone(),
        };
        if let Some(f) = own {
            recovery::remove_copy(&f);
        }
    }

    fn restore(&mut self, copy: &RecoveryCopy) {
        let mut s = match Session::open_project(&copy.autosave) {
            Ok(s) => s,
            Err(e) => {
                self.session.note(e.to_string());
                return;
            }
        };
        s.project_path = copy.project.clone();
        // An untitled copy stays this session's recovery file.
        s.recovery_file = copy.project.is_none().then(|| copy.autosave.clone());
        s.dirty = true;
        // Load every image's annotations now and mark them for the next save, so the project
        // never points at the autosave's files.
        for i in 0..s.project.images.len() {
            if s.load_annotations(i).is_ok()
                && let Some(st) = s.states[i].as_mut()
            {
                st.mask_dirty = st.ann.mask.count() > 0;
            }
        }
        s.note(format!("restored {}", copy.autosave.display()));
        self.recovery_offer.retain(|c| c != copy);
        self.replace_session(s);
    }

    /// Carries out one action.
    pub fn apply(&mut self, a: Action, ctx: Option<&egui::Context>) {
        match a {
            Action::Command(c) => self.run_command(c, ctx),
            Action::OpenImage(i) => self.open(i),
            Action::OpenPath(p) => self.guarded(Pending::Open(p), ctx),
            Action::Export(kind) => {
                let Some(path) = self.choose_path(true, kind.is_folder(), kind.label()) else {
                    return;
                };
                let (live, top) = (&self.store.live.scores, self.batch_top);
                let rows = transfer::csv_rows(&self.session, live, &self.store.batch, top);
                let r = transfer::export(&mut self.session, kind, &path, |_| rows);
                self.session.note(r.unwrap_or_else(|e| e));
            }
            Action::Import(kind) => {
                let folder = kind == ImportKind::PngMask;
                if let Some(path) = self.choose_path(false, folder, kind.label()) {
                    let r = transfer::import(&mut self.session, kind, &path);
                    self.session.note(r.unwrap_or_else(|e| e));
                }
            }
            Action::AddCheckpoint => self.add_checkpoint(),
            Action::SetWindow(w) => {
                self.session.set_window(w);
                self.uploads.image = None;
            }
            Action::SetFrame(f) => match self.session.set_frame(f) {
                Ok(()) => {
                    self.uploads.image = None;
                    self.store.clear_live();
                }
                Err(e) => self.session.note(e),
            },
            Action::AddClass => {
                let n = self.session.project.classes.len();
                let hue = n as f32 * 0.13 + 0.55;
                let c = egui::ecolor::Hsva::new(hue.fract(), 0.75, 0.95, 1.0).to_srgb();
                self.session.project.classes.push(project::LabelClass {
                    name: format!("class {}", n + 1),
                    color: [c[0], c[1], c[2]],
                });
                self.session.class = (n + 1) as u8;
                self.session.dirty = true;
            }
            Action::ClassEdited => self.session.dirty = true,
            Action::MaskFromBoxes => self.session.mask_from_boxes(),
            Action::BoxFromMask => self.session.box_from_mask(),
            Action::ScoreAll => {
                self.batch_top = Some(self.threshold_percent().unwrap_or(20.0));
                let job = super::store::batch_job(&self.session, self.batch_top.unwrap_or(20.0));
                self.store.start_batch(job);
            }
            Action::CancelScoring => self.store.cancel_batch(),
            Action::RetryMaps => {
                if let Some(keys) = self.keys_for(self.session.current) {
                    self.store.retry(&keys.values().cloned().collect::<Vec<_>>());
                }
            }
            Action::Restore(copy) => self.guarded(Pending::Restore(copy), ctx),
            Action::DiscardRecovery(copy) => {
                copy.discard(&self.recovery_dir());
                self.recovery_offer.retain(|c| *c != copy);
            }
            Action::KeepRecovery => self.recovery_offer.clear(),
            Action::Confirm(answer) => {
                let Some(p) = self.confirm.take() else { return };
                match answer {
                    Answer::Cancel => {}
                    Answer::Save => {
                        if self.save() {
                            self.proceed(p, ctx);
                        } else {
                            // Not saved (no path yet): keep asking.
                            self.confirm = Some(p);
                        }
                    }
                    Answer::Discard => {
                        self.discard_own_copy();
                        self.session.dirty = false;
                        self.proceed(p, ctx);
                    }
                }
            }
        }
    }

    fn run_command(&mut self, c: UiCommand, ctx: Option<&egui::Context>) {
        let s = &mut self.session;
        match c {
            UiCommand::Undo => {
                s.undo();
            }
            UiCommand::Redo => {
                s.redo();
            }
            UiCommand::Save => {
                self.save();
            }
            UiCommand::SaveAs => {
                if let Some(p) = self.choose_path(true, false, "Save as") {
                    self.save_as(&p);
                }
            }
            UiCommand::Open => {
                if let Some(p) = self.choose_path(false, false, "Open") {
                    self.guarded(Pending::Open(p), ctx);
                }
            }
            UiCommand::NewProject => self.guarded(Pending::NewProject, ctx),
            UiCommand::SetStatus(i) => s.set_status(Status::ALL[(i as usize).min(3)]),
            UiCommand::Tool(t) => {
                s.tool = t;
                self.tool.polygon.clear();
            }
            UiCommand::BrushSmaller => s.brush_radius = (s.brush_radius / 1.25).max(1.0),
            UiCommand::BrushLarger => s.brush_radius = (s.brush_radius * 1.25).min(200.0),
            UiCommand::ClosePolygon => self.tool.close_polygon(s),
            UiCommand::Cancel => self.tool.cancel(s),
            UiCommand::DeleteBox => s.delete_selected_box(),
            UiCommand::NextImage => self.step_image(1),
            UiCommand::PrevImage => self.step_image(-1),
            UiCommand::ZoomIn => {
                self.view.fit = false;
                self.view.scale = (self.view.scale * 1.25).min(64.0)
            }
            UiCommand::ZoomOut => {
                self.view.fit = false;
                self.view.scale = (self.view.scale / 1.25).max(0.02)
            }
            UiCommand::Fit => self.view.fit = true,
            UiCommand::OneToOne => {
                self.view.fit = false;
                self.view.scale = 1.0
            }
            UiCommand::Help => self.show_help = !self.show_help,
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
        if n > 0 {
            self.open((self.session.current as i64 + d).rem_euclid(n) as usize);
        }
    }

    /// The registered commands whose shortcuts were pressed this frame.
    fn shortcut_actions(ctx: &egui::Context) -> Vec<Action> {
        if ctx.egui_wants_keyboard_input() {
            return Vec::new();
        }
        ctx.input(|i| {
            i.events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::Key {
                        key,
                        pressed: true,
                        modifiers,
                        ..
                    } => UiCommand::for_key(key_name(*key)?, modifiers.command, modifiers.shift),
                    _ => None,
                })
                .map(Action::Command)
                .collect()
        })
    }

    fn autosave_step(&mut self, ctx: &egui::Context) {
        let unsaved = self.unsaved();
        let s = &self.session;
        match self
            .autosave
            .step(Instant::now(), unsaved, s.edit_generation, &s.project)
        {
            AutosaveStep::Idle => {}
            // No input may come for a long time: wake up for the deadline.
            AutosaveStep::Wait(d) => ctx.request_repaint_after(d),
            AutosaveStep::Due => self.write_autosave(),
        }
    }

    fn write_autosave(&mut self) {
        match self.session.autosave() {
            Ok(_) => {
                let s = &self.session;
                self.autosave.written(s.edit_generation, &s.project);
            }
            Err(e) => {
                self.session.note(e.to_string());
                // Try again at the next deadline rather than every frame.
                let s = &self.session;
                self.autosave.written(s.edit_generation.wrapping_sub(1), &s.project);
            }
        }
    }

    fn automation_step(&mut self, ctx: &egui::Context) {
        let loaded = self.fully_loaded();
        if let Some(shot) = &mut self.screenshot
            && let Some(r) = shot.step(ctx, self.session.loaded.is_none() || loaded)
        {
            self.finish(ctx, r);
        }
        let pane = self.pane_rects.first().copied();
        if let Some(bench) = &mut self.frame_bench {
            ctx.request_repaint();
            if loaded {
                let px = self.session.mask_pixels();
                match bench.step(self.frame_cpu_ms, pane, px) {
                    BenchStep::Continue => {}
                    BenchStep::StartStroke => self.session.tool = Tool::Brush,
                    BenchStep::Finished => {
                        bench.report(px);
                        self.frame_bench = None;
                        self.finish(ctx, Ok(()));
                    }
                }
            }
        }
        if let Some(stroke) = &mut self.paint_stroke {
            if !stroke.started() {
                if loaded && let Some(p) = pane {
                    self.session.tool = Tool::Brush;
                    stroke.start(p);
                }
                ctx.request_repaint();
            } else if !stroke.done {
                ctx.request_repaint();
            } else if !self.tool.stroking() {
                if let Some(ann) = self.session.ann() {
                    println!(
                        "edit: pid={} image={} mask_px={} digest={:016x}",
                        std::process::id(),
                        self.session.current,
                        ann.mask.count(),
                        harness::mask_digest(&ann.mask.data)
                    );
                }
                self.paint_stroke = None;
            }
        }
    }

    /// An automated run ended: close without asking (nothing of the user's is at stake).
    fn finish(&mut self, ctx: &egui::Context, r: Result<(), String>) {
        self.finished = Some(r);
        self.quit_confirmed = true;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }

    /// One frame of the whole UI.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.store.poll();
        for e in std::mem::take(&mut self.store.errors) {
            self.session.note(e);
        }
        if ctx.input(|i| i.viewport().close_requested()) && !self.quit_confirmed && self.unsaved()
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Pending::Quit);
        }
        let mut actions = Self::shortcut_actions(&ctx);
        self.request_current_maps();
        egui::Panel::top("top").show(ui, |ui| {
            actions.extend(top_bar::top_bar_ui(ui, &mut self.path_field, &mut self.session))
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status_line(ui));
        egui::Panel::bottom("analysis")
            .resizable(true)
            .default_size(250.0)
            .show(ui, |ui| {
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(600.0);
                        let ms = self.show_timings.then_some(self.store.live.millis);
                        scores::scores_ui(ui, &self.store.live.scores, self.threshold_percent(), ms);
                    });
                    ui.separator();
                    ui.vertical(|ui| {
                        ui.set_width(420.0);
                        plots::curve_plot_ui(ui, &self.store.live.scores);
                    });
                    ui.separator();
                    ui.vertical(|ui| actions.extend(plots::project_plots_ui(ui, &self.store.batch)));
                });
            });
        egui::Panel::left("images")
            .default_size(220.0)
            .show(ui, |ui| {
                actions.extend(image_list::image_list_ui(ui, &self.session, self.hover))
            });
        egui::Panel::right("controls")
            .default_size(430.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    egui::CollapsingHeader::new("Model")
                        .default_open(true)
                        .show(ui, |ui| actions.extend(self.model_ui(ui)));
                    egui::CollapsingHeader::new("Overlay")
                        .default_open(true)
                        .show(ui, |ui| overlay::overlay_ui(ui, &mut self.session.project.view));
                    egui::CollapsingHeader::new("Annotate")
                        .default_open(true)
                        .show(ui, |ui| actions.extend(self.tools_ui(ui)));
                });
            });
        egui::CentralPanel::default().show(ui, |ui| self.canvas_ui(ui));
        self.schedule_metrics();
        help::help_window(&ctx, &mut self.show_help);
        actions.extend(dialogs::recovery_ui(&ctx, &self.recovery_offer));
        actions.extend(dialogs::confirm_ui(&ctx, self.confirm.as_ref()));
        for a in actions {
            self.apply(a, Some(&ctx));
        }
        self.autosave_step(&ctx);
        self.automation_step(&ctx);
        if self.store.busy() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    fn status_line(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let dirty = match (self.session.dirty, &self.session.project_path) {
                (true, _) => "unsaved changes",
                (false, Some(_)) => "saved",
                (false, None) => "no changes",
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
    }
}

/// The registry's name of an egui key.
fn key_name(k: egui::Key) -> Option<KeyName> {
    use egui::Key;
    Some(match k {
        Key::OpenBracket => KeyName::OpenBracket,
        Key::CloseBracket => KeyName::CloseBracket,
        Key::Plus => KeyName::Plus,
        Key::Equals => KeyName::Equals,
        Key::Minus => KeyName::Minus,
        Key::Comma => KeyName::Comma,
        Key::Period => KeyName::Period,
        Key::Enter => KeyName::Enter,
        Key::Escape => KeyName::Escape,
        Key::Delete => KeyName::Delete,
        Key::Backspace => KeyName::Backspace,
        Key::PageUp => KeyName::PageUp,
        Key::PageDown => KeyName::PageDown,
        Key::F1 => KeyName::F1,
        other => {
            let name = other.name();
            let mut chars = name.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphabetic() => KeyName::Letter(c.to_ascii_uppercase()),
                (Some(c), None) if c.is_ascii_digit() => KeyName::Digit(c as u8 - b'0'),
                _ => return None,
            }
        }
    })
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
        if let Some(stroke) = &mut self.paint_stroke {
            raw_input.events.extend(stroke.events());
        }
    }

    fn on_exit(&mut self) {
        // A user who answered "discard" or an automated run leaves nothing behind; anything else
        // that closes the window with unsaved work writes the recovery copy first.
        if self.unsaved() && !self.quit_confirmed {
            self.tool.end(&mut self.session, None);
            if let Err(e) = self.session.autosave() {
                eprintln!("autosave on exit failed: {e}");
            }
        }
    }
}
