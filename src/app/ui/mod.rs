//! The eframe application. Each panel lives in a file of its own under `ui/`, draws from state
//! and returns [`Action`]s, which [`Workbench::apply`] carries out in one place. The map store
//! ([`super::store`]) owns the workers and the maps; the canvas's tool logic is plain code
//! ([`super::canvas_tool`]); shortcuts, tooltips and help come from [`super::commands`].
//!
//! Work safety lives here too: the autosave fires by time (a repaint is scheduled for it, so an
//! idle window still saves), and anything that would replace the session asks first.

mod actions;
mod automation;
mod canvas;
mod dialogs;
mod help;
mod image_list;
mod model;
mod overlay;
mod pacs;
mod plots;
mod probe;
mod sanity;
mod scores;
mod study;
mod tools;
mod top_bar;

use std::path::PathBuf;
use std::time::Duration;

use eframe::egui;
use eframe::egui_wgpu;

pub use actions::{Action, Answer, ConflictAnswer, Pending};
pub use canvas::ViewTransform;
pub use study::{CellScore, StudyTab, StudyView};

use super::canvas_tool::CanvasTool;
use super::commands::{KeyName, UiCommand};
use super::harness::{FrameBench, Screenshot, ScriptedStroke};
use super::slots::PerMap;
use super::state::Session;
use super::store::{DEFAULT_CACHE_MB, MapStore};
use super::worker::{ExplainJob, MapKey, MapResult, MetricsJob};
use crate::model::device::DeviceChoice;
use crate::project;
use crate::project::Threshold;
use crate::project::recovery::{self, AutosaveClock, RecoveryCopy};

/// Percentages scored for the IoU-against-k curve (the paper's four included).
pub const CURVE_TOPS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0,
];

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
    /// A recovery copy already read into a session, waiting for "save changes?".
    restoring: Option<(RecoveryCopy, Box<Session>)>,
    /// The project file changed on disk: reload / save as / overwrite is asked.
    pub conflict: bool,
    /// A save failed: the dialog stays until dismissed.
    pub save_error: Option<String>,
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
    /// The analysis view beside the scores: IoU against k, or faithfulness curves.
    analysis: plots::Analysis,
    /// The Sanity window is open.
    pub show_sanity: bool,
    /// The map the Sanity window checks.
    pub sanity_slot: crate::app::slots::MapSlot,
    sanity_textures: sanity::SanityTextures,
    /// The Study window (checkpoints × methods grid, layers × heads explorer) is open.
    pub show_study: bool,
    /// Its state.
    pub study: study::StudyView,
    /// The PACS window is open.
    pub show_pacs: bool,
    /// Its state.
    pub pacs: pacs::PacsBrowser,
    /// The length measured last (Shift + drag), in image coordinates.
    pub ruler: Option<[(f32, f32); 2]>,
    ruling: bool,
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
            store: MapStore::new(
                move || c.request_repaint(),
                shared_gpu.map(|g| g.0),
                cache_mb,
            ),
            view: ViewTransform::default(),
            tool: CanvasTool::default(),
            gpu,
            uploads: canvas::Uploads::default(),
            pane_rects: Vec::new(),
            path_field: String::new(),
            show_help: false,
            screenshot: opts.screenshot.map(Screenshot::new),
            autosave: AutosaveClock::new(Duration::from_secs(recovery::autosave_secs())),
            data_dir,
            cache_override: opts.cache_mb,
            recovery_offer: Vec::new(),
            confirm: None,
            restoring: None,
            conflict: false,
            save_error: None,
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
            analysis: Default::default(),
            show_sanity: false,
            sanity_slot: crate::app::slots::MapSlot::Chefer,
            sanity_textures: Default::default(),
            show_study: false,
            study: Default::default(),
            ruler: None,
            ruling: false,
            show_pacs: false,
            pacs: Default::default(),
        };
        wb.recovery_offer = recovery::list(&wb.recovery_dir(), wb.session.project_path.as_deref());
        wb.adopt_session();
        wb
    }

    fn recovery_dir(&self) -> PathBuf {
        recovery::recovery_dir(&self.data_dir)
    }

    /// Sets up a new session: where its autosave goes (beside a titled project unless the copy
    /// there is pending, else a copy of its own in the recovery folder), the registration of a
    /// titled project, the first image.
    fn adopt_session(&mut self) {
        let dir = self.recovery_dir();
        self.session.recovery_dir = Some(dir.clone());
        match self.session.project_path.clone() {
            Some(p) => {
                if let Err(e) = recovery::register(&dir, &p) {
                    self.session.note(format!(
                        "{}: cannot register the autosave: {e}",
                        dir.display()
                    ));
                }
                if self.session.own_copy.is_none() {
                    let beside = project::autosave_path(&p);
                    let pending = recovery::pending_autosave(&p).is_some()
                        || self.recovery_offer.iter().any(|c| c.autosave == beside);
                    if pending {
                        self.session.fresh_own_copy();
                    } else {
                        self.session.own_copy = Some(beside);
                    }
                }
            }
            None if self.session.own_copy.is_none() => {
                self.session.fresh_own_copy();
            }
            None => {}
        }
        let mb = self
            .cache_override
            .or(self.session.project.view.map_cache_mb)
            .unwrap_or(DEFAULT_CACHE_MB);
        self.store.set_budget_mb(mb);
        self.autosave = AutosaveClock::new(Duration::from_secs(recovery::autosave_secs()));
        self.sent_key = None;
        self.open(0);
    }

    /// Opens image `index` of the project (as a click in the image list does).
    pub fn open_index(&mut self, index: usize) {
        self.open(index);
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
        // The tests of the image left behind would hold the model thread.
        self.store.cancel_faith();
    }

    /// The faithfulness curves of the current image's maps, per slot.
    pub fn faith_curves(&self) -> PerMap<Option<std::sync::Arc<super::worker::FaithCurves>>> {
        match self.keys_for(self.session.current) {
            Some(keys) => keys.map(|k| self.store.faith.curves.get(&k).cloned()),
            None => PerMap::none(),
        }
    }

    /// Starts the faithfulness tests of the current image's maps (all four tests).
    pub fn run_faithfulness(&mut self) {
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        let Some(keys) = self.keys_for(l.index) else {
            return;
        };
        self.store.start_faith(super::worker::FaithJob {
            id: 0,
            keys: keys.values().cloned().collect(),
            config: self.session.checkpoint().and_then(|c| c.1),
            image: l.image.clone(),
            device: self.session.model.device,
            tests: crate::faithfulness::suite::Test::ALL.to_vec(),
            cancel: Default::default(),
        });
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
        let missing: Vec<MapKey> = keys
            .values()
            .filter(|k| !self.store.known(k))
            .cloned()
            .collect();
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
        let ids = maps.as_ref().map(|m| {
            m.as_ref()
                .map(|m| std::sync::Arc::as_ptr(&m.values) as usize)
        });
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
        let box_mask = ann.comparison_boxes(&truth);
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
        (self.session.dirty || self.tool.stroking()) && self.session.editable()
    }

    /// A dialog that takes all input is open (the recovery list, a question).
    pub fn modal_open(&self) -> bool {
        !self.recovery_offer.is_empty()
            || self.confirm.is_some()
            || self.conflict
            || self.save_error.is_some()
    }

    /// The registered commands whose shortcuts were pressed this frame.
    fn shortcut_actions(ctx: &egui::Context, modal: bool) -> Vec<Action> {
        if modal || ctx.egui_wants_keyboard_input() {
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

    /// One frame of the whole UI.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.store.poll();
        for e in std::mem::take(&mut self.store.errors) {
            self.session.note(e);
        }
        if ctx.input(|i| i.viewport().close_requested()) && !self.quit_confirmed && self.unsaved() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Pending::Quit);
        }
        let mut actions = Self::shortcut_actions(&ctx, self.modal_open());
        self.request_current_maps();
        egui::Panel::top("top").show(ui, |ui| {
            actions.extend(top_bar::top_bar_ui(
                ui,
                &mut self.path_field,
                &mut self.session,
            ))
        });
        if let Some(holder) = &self.session.read_only {
            let file = self
                .session
                .project_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            egui::Panel::top("read_only").show(ui, |ui| {
                ui.colored_label(
                    egui::Color32::from_rgb(255, 190, 60),
                    format!(
                        "Read-only: {file} is locked (in use) by {holder}. Edits are off; Save as writes a copy."
                    ),
                );
            });
        }
        egui::Panel::bottom("status").show(ui, |ui| self.status_line(ui));
        egui::Panel::bottom("analysis")
            .resizable(true)
            .default_size(250.0)
            .show(ui, |ui| {
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(600.0);
                        let ms = self.show_timings.then_some(self.store.live.millis);
                        scores::scores_ui(
                            ui,
                            &self.store.live.scores,
                            &self.faith_curves(),
                            self.threshold_percent(),
                            ms,
                        );
                    });
                    ui.separator();
                    ui.vertical(|ui| {
                        ui.set_width(420.0);
                        let curves = self.faith_curves();
                        actions.extend(plots::analysis_ui(
                            ui,
                            &mut self.analysis,
                            &self.store.live.scores,
                            &curves,
                            &self.store.faith,
                        ));
                    });
                    ui.separator();
                    ui.vertical(|ui| {
                        actions.extend(plots::project_plots_ui(ui, &self.store.batch))
                    });
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
                        .show(ui, |ui| {
                            overlay::overlay_ui(ui, &mut self.session.project.view)
                        });
                    egui::CollapsingHeader::new("Annotate")
                        .default_open(true)
                        .show(ui, |ui| actions.extend(self.tools_ui(ui)));
                });
            });
        let problem = self
            .session
            .checks
            .get(self.session.current)
            .and_then(crate::project::ImageCheck::problem)
            .filter(|_| self.session.loaded.is_none());
        egui::CentralPanel::default().show(ui, |ui| match problem {
            Some(p) => actions.extend(canvas::changed_image_ui(ui, &p, self.session.editable())),
            None => self.canvas_ui(ui),
        });
        if let Some(r) = self.pane_rects.first() {
            probe::rect(&ctx, "pane 0", *r);
        }
        self.schedule_metrics();
        help::help_window(&ctx, &mut self.show_help);
        if self.show_sanity {
            actions.extend(self.sanity_window(&ctx));
        }
        if self.show_study {
            self.study_window(&ctx);
        }
        if self.show_pacs {
            self.pacs_window(&ctx);
        }
        if self.confirm.is_none() {
            // While "save changes?" is asked about a restore, it alone is shown.
            actions.extend(dialogs::recovery_ui(&ctx, &self.recovery_offer));
        }
        actions.extend(dialogs::confirm_ui(&ctx, self.confirm.as_ref()));
        actions.extend(dialogs::conflict_ui(&ctx, self.conflict));
        actions.extend(dialogs::save_error_ui(&ctx, self.save_error.as_deref()));
        for a in actions {
            self.apply(a, Some(&ctx));
        }
        self.autosave_step(&ctx);
        self.automation_step(&ctx);
        probe::end_frame();
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
            let r = ui.label(format!("{file} · {dirty}"));
            // The state the saves and autosaves follow, for the X11 test that drives the window.
            if self.session.dirty {
                probe::note(ui, "unsaved changes", &r);
            }
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
                (Some(c), None) if c.is_ascii_alphabetic() => {
                    KeyName::Letter(c.to_ascii_uppercase())
                }
                (Some(c), None) if c.is_ascii_digit() => KeyName::Digit(c as u8 - b'0'),
                _ => return None,
            }
        }
    })
}
