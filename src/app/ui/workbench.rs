//! The workbench: its state ([`Workbench`]: the session, the map store, the view, the windows'
//! own states, the dialogs waiting for an answer) and the work that is not drawing (opening
//! images, requesting maps and scores, autosave, the questions before replacing a session).
//!
//! Work safety lives here too: the autosave fires by time (a repaint is scheduled for it, so an
//! idle window still saves), and anything that would replace the session asks first.

use std::path::PathBuf;
use std::time::Duration;

use eframe::egui;
use eframe::egui_wgpu;

use super::action::{Action, Pending};
use super::pacs::PacsBrowser;
use super::plots::Analysis;
use super::sanity::SanityWindow;
use super::study::StudyView;
use super::view::{Uploads, ViewTransform};
use crate::app::canvas_tool::CanvasTool;
use crate::app::commands::{KeyName, UiCommand};
use crate::app::harness::{Automation, Screenshot};
use crate::app::slots::PerMap;
use crate::app::state::Session;
use crate::app::store::{DEFAULT_CACHE_MB, MapStore};
use crate::app::worker::{ExplainJob, MapKey, MapResult, MetricsJob};
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
pub(super) type SentKey = (u64, PerMap<Option<usize>>, String);

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
    pub(super) gpu: Option<egui_wgpu::RenderState>,
    pub(super) uploads: Uploads,
    /// Pane rectangles of the last frame (screen points).
    pub pane_rects: Vec<egui::Rect>,
    /// Text of the path field (the in-app way to name files).
    pub path_field: String,
    pub(super) show_help: bool,
    pub(super) autosave: AutosaveClock,
    pub(super) data_dir: PathBuf,
    pub(super) cache_override: Option<u64>,
    /// Recovery copies offered at start (restore / discard / keep).
    pub recovery_offer: Vec<RecoveryCopy>,
    /// What waits for "save changes?".
    pub confirm: Option<Pending>,
    /// A recovery copy already read into a session, waiting for "save changes?".
    pub(super) restoring: Option<(RecoveryCopy, Box<Session>)>,
    /// The project file changed on disk: reload / save as / overwrite is asked.
    pub conflict: bool,
    /// A save failed: the dialog stays until dismissed.
    pub save_error: Option<String>,
    pub(super) quit_confirmed: bool,
    pub(super) frame_cpu_ms: Option<f32>,
    pub(super) hover: Option<(usize, usize)>,
    /// Show timings (frame CPU, metrics ms); snapshot tests turn them off.
    pub show_timings: bool,
    pub(super) gpu_name: Option<String>,
    /// What runs the window without a user (`--screenshot`, `--bench-frames`, the scripted
    /// stroke), apart from the state a user sees.
    pub automation: Automation,
    pub(super) mask_px: Option<((usize, u64), usize)>,
    pub(super) sent_key: Option<SentKey>,
    /// The k of the last batch.
    pub(super) batch_top: Option<f64>,
    /// The analysis view beside the scores: IoU against k, or faithfulness curves.
    pub(super) analysis: Analysis,
    /// The Sanity window.
    pub sanity: SanityWindow,
    /// The Study window (checkpoints × methods grid, layers × heads explorer) is open.
    pub show_study: bool,
    /// Its state.
    pub study: StudyView,
    /// The PACS window is open.
    pub show_pacs: bool,
    /// Its state.
    pub pacs: PacsBrowser,
    /// A reader study being opened: its file and readers (File → Open study…).
    pub open_study: Option<(PathBuf, Vec<String>)>,
    /// The Effects section's settings and preview.
    pub(super) effects: super::effects::EffectsPanel,
    /// The length measured last (Shift + drag), in image coordinates.
    pub ruler: Option<[(f32, f32); 2]>,
    pub(super) ruling: bool,
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
            crate::app::overlay::OverlayResources::install(rs);
        }
        // A hardware GPU that draws the panes also runs the model and the metrics kernels
        // (software adapters do not: the CPU is faster than lavapipe).
        let hardware = gpu
            .as_ref()
            .filter(|rs| rs.adapter.get_info().device_type != egui_wgpu::wgpu::DeviceType::Cpu);
        super::busy::set_software_renderer(ctx, gpu.is_some() && hardware.is_none());
        if let Some(rs) = hardware {
            crate::metrics::gpu::share_device(
                rs.device.clone(),
                rs.queue.clone(),
                rs.adapter.get_info(),
            );
        }
        let shared_gpu = hardware.and_then(|rs| match crate::app::gpu::burn_device_for(rs) {
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
                move || super::busy::wake(&c),
                shared_gpu.map(|g| g.0),
                cache_mb,
            ),
            view: ViewTransform::default(),
            tool: CanvasTool::default(),
            gpu,
            uploads: Uploads::default(),
            pane_rects: Vec::new(),
            path_field: String::new(),
            show_help: false,
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
            show_timings: true,
            gpu_name,
            automation: Automation {
                screenshot: opts.screenshot.map(Screenshot::new),
                ..Default::default()
            },
            mask_px: None,
            sent_key: None,
            batch_top: None,
            analysis: Default::default(),
            sanity: SanityWindow::default(),
            show_study: false,
            study: Default::default(),
            ruler: None,
            ruling: false,
            show_pacs: false,
            open_study: None,
            effects: Default::default(),
            pacs: Default::default(),
        };
        wb.recovery_offer = recovery::list(&wb.recovery_dir(), wb.session.project_path.as_deref());
        wb.adopt_session();
        wb
    }

    pub(super) fn recovery_dir(&self) -> PathBuf {
        recovery::recovery_dir(&self.data_dir)
    }

    /// Sets up a new session: where its autosave goes (beside a titled project unless the copy
    /// there is pending, else a copy of its own in the recovery folder), the registration of a
    /// titled project, the first image.
    pub(super) fn adopt_session(&mut self) {
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

    pub(super) fn open(&mut self, index: usize) {
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
        self.uploads = Uploads::default();
        self.store.clear_live();
        // The tests of the image left behind would hold the model thread.
        self.store.cancel_faith();
    }

    /// The faithfulness curves of the current image's maps, per slot.
    pub fn faith_curves(&self) -> PerMap<Option<std::sync::Arc<crate::app::worker::FaithCurves>>> {
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
        self.store.start_faith(crate::app::worker::FaithJob {
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
    pub fn scores(&self) -> &PerMap<Option<crate::app::worker::MapScores>> {
        &self.store.live.scores
    }

    pub(super) fn request_current_maps(&mut self) {
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
        if let Some(shot) = &mut self.automation.screenshot {
            shot.maps_asked.get_or_insert_with(std::time::Instant::now);
        }
        self.store.request(ExplainJob {
            keys: missing,
            config: self.session.checkpoint().and_then(|c| c.1),
            image: l.image.clone(),
            device: self.session.model.device,
        });
    }

    pub(super) fn threshold_percent(&self) -> Option<f64> {
        match self.session.project.view.threshold {
            Threshold::TopPercent(p) => Some(p),
            Threshold::Absolute(_) => None,
        }
    }

    /// Sends a metrics job when the annotation, the maps or the threshold changed (not while a
    /// stroke is in progress: metrics follow the stroke).
    pub(super) fn schedule_metrics(&mut self) {
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
    pub(super) fn unsaved(&self) -> bool {
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
    pub(super) fn shortcut_actions(ctx: &egui::Context, modal: bool) -> Vec<Action> {
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
