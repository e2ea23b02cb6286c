//! The workbench's session: the project, the current image, annotations with their histories,
//! tool and model settings. Plain state, no egui types: the UI and the tests drive it alike.

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use super::loaded::{LoadedImage, load_image};
use super::slots::{MapSlot, PerMap};
use super::worker::MapKey;
use crate::explain::Method;
use crate::metrics::Rect;
use crate::model::device::DeviceChoice;
use crate::model::preprocess::ResizeMode;
use crate::project::annotation::{self, Annotations, Command, History, LabelBox, PatchRecorder};
use crate::project::identity::{self, ImageCheck};
use crate::project::lock::ProjectLock;
use crate::project::recovery::LiveSession;
use crate::project::{
    self, CheckpointEntry, ImageEntry, OpenProject, Project, ProjectError, Status,
};

/// Annotation tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tool {
    /// Pan with the primary button; select, move and resize boxes.
    #[default]
    Select,
    /// Draw a box.
    Box,
    /// Paint the mask.
    Brush,
    /// Erase the mask.
    Eraser,
    /// Click vertices; close to fill.
    Polygon,
    /// Fill a connected region.
    Fill,
}

impl Tool {
    /// All tools, in toolbar order (labels, shortcuts and help: [`super::commands::UiCommand`]).
    pub const ALL: [Tool; 6] = [
        Tool::Select,
        Tool::Box,
        Tool::Brush,
        Tool::Eraser,
        Tool::Polygon,
        Tool::Fill,
    ];

    /// Display name.
    pub fn name(&self) -> &'static str {
        match self {
            Tool::Select => "Select",
            Tool::Box => "Box",
            Tool::Brush => "Brush",
            Tool::Eraser => "Eraser",
            Tool::Polygon => "Polygon",
            Tool::Fill => "Fill",
        }
    }
}

/// Model settings of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    /// Checkpoint index into the project's checkpoints.
    pub checkpoint: usize,
    /// Device.
    pub device: DeviceChoice,
    /// Target class (`None` = predicted).
    pub target: Option<usize>,
    /// Attention block (`None` = last).
    pub layer: Option<usize>,
    /// Attention head (`None` = mean).
    pub head: Option<usize>,
    /// GradCAM with the paper's eigen and augmentation smoothing.
    pub paper_gradcam: bool,
    /// Resize or centre crop.
    pub resize: ResizeMode,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            checkpoint: 0,
            device: DeviceChoice::Auto,
            target: None,
            layer: None,
            head: None,
            paper_gradcam: false,
            resize: ResizeMode::Resize,
        }
    }
}

impl ModelSettings {
    /// The method of each map slot.
    pub fn methods(&self) -> PerMap<Method> {
        PerMap::from_fn(|s| match s {
            MapSlot::Attention => Method::Attention,
            MapSlot::Gradcam if self.paper_gradcam => Method::GradcamPaper,
            MapSlot::Gradcam => Method::Gradcam,
            MapSlot::Chefer => Method::Chefer,
        })
    }
}

/// Annotations and history of one image.
#[derive(Debug, Clone)]
pub struct ImageState {
    /// Annotations.
    pub ann: Annotations,
    /// Undo/redo.
    pub history: History,
    /// Mask changed since the last save.
    pub mask_dirty: bool,
}

/// The session.
pub struct Session {
    /// The project.
    pub project: Project,
    /// Where it is saved (`None` = untitled: the bundled demo, or opened images).
    pub project_path: Option<PathBuf>,
    /// Folder relative paths resolve against.
    pub base: PathBuf,
    /// Annotation state per image (loaded on first visit).
    pub states: Vec<Option<ImageState>>,
    /// The identity check of each image: one that failed is never shown with its annotations,
    /// scored or exported.
    pub checks: Vec<ImageCheck>,
    /// Current image index.
    pub current: usize,
    /// The current image, decoded.
    pub loaded: Option<LoadedImage>,
    /// Unsaved changes.
    pub dirty: bool,
    /// Tool.
    pub tool: Tool,
    /// Brush radius in image pixels.
    pub brush_radius: f32,
    /// Class painted (1-based).
    pub class: u8,
    /// Fill: gray tolerance (0 = fill by mask region only).
    pub fill_tolerance: f32,
    /// Selected box.
    pub selected_box: Option<usize>,
    /// Model settings.
    pub model: ModelSettings,
    /// Bumped on every annotation change (the metrics and textures follow it).
    pub edit_generation: u64,
    /// Mask region changed since the GPU texture was last updated (`None` = nothing).
    pub mask_dirty_rect: Option<Rect>,
    /// Messages for the user (errors and notes), newest last.
    pub messages: Vec<String>,
    /// Where this session's autosave goes: beside a titled project, or a file of its own in the
    /// recovery folder (untitled sessions; titled ones whose copy beside the project is pending or
    /// cannot be written). Only this file is ever removed by a save.
    pub own_copy: Option<PathBuf>,
    /// The recovery folder (for copies of its own when the one beside the project fails).
    pub recovery_dir: Option<PathBuf>,
    /// The project's lock, held while the session may write it.
    pub lock: Option<ProjectLock>,
    /// Who holds the project when this session could not take the lock: it is read-only (no
    /// edits; Save as works).
    pub read_only: Option<String>,
    /// SHA-256 of the project file as read or last saved: a save refuses to overwrite a file
    /// that changed on disk meanwhile.
    pub disk_hash: Option<String>,
    /// Registers this session as running, so its own copies are not offered to another.
    pub live: LiveSession,
    /// Exports are de-identified (File menu check box; `export --deidentify`).
    pub deidentify_exports: bool,
    /// The brush and eraser change only these pixels (Effects → Threshold → "paint within the
    /// range"): (image index, pixels in the range).
    pub paint_within: Option<(usize, Arc<Vec<bool>>)>,
}

impl Session {
    /// A session on a project (`path` = its file, or `None` with `base` for relative paths).
    /// Every image is checked against its identity (and gets one if it has none).
    pub fn new(mut project: Project, path: Option<PathBuf>, base: PathBuf) -> Self {
        let n = project.images.len();
        let (checks, _) = crate::project::open::check_all(&mut project, &base);
        Self {
            project,
            project_path: path,
            base,
            states: vec![None; n],
            checks,
            current: 0,
            loaded: None,
            dirty: false,
            tool: Tool::Select,
            brush_radius: 6.0,
            class: 1,
            fill_tolerance: 0.0,
            selected_box: None,
            model: ModelSettings::default(),
            edit_generation: 0,
            mask_dirty_rect: None,
            paint_within: None,
            messages: Vec::new(),
            own_copy: None,
            recovery_dir: None,
            lock: None,
            read_only: None,
            disk_hash: None,
            live: LiveSession::start(),
            deidentify_exports: false,
        }
    }

    /// A session on an opened project (its lock, hash, checks and notes).
    pub fn from_open(open: OpenProject, read_only: Option<String>) -> Self {
        let OpenProject {
            project,
            path,
            base,
            hash,
            checks,
            lock,
            warnings,
            notes,
            ..
        } = open;
        let mut s = Self::new(project, Some(path), base);
        s.checks = checks;
        s.lock = lock;
        s.disk_hash = hash;
        s.read_only = read_only;
        for n in warnings.into_iter().chain(notes) {
            s.note(n);
        }
        for (i, c) in s.checks.clone().iter().enumerate() {
            if let Some(p) = c.problem() {
                s.note(format!("{}: {p}", s.project.images[i].path.display()));
            }
        }
        s
    }

    /// Opens a project file for writing; when another program holds it, read-only with the
    /// holder named.
    pub fn open_project(path: &Path) -> Result<Self, ProjectError> {
        match OpenProject::write(path, "vitscope workbench") {
            Ok(open) => Ok(Self::from_open(open, None)),
            Err(ProjectError::Locked { holder, .. }) => {
                let open = OpenProject::read(path)?;
                let mut s = Self::from_open(open, Some(holder.clone()));
                s.note(format!(
                    "{}: read-only: the project is locked (in use) by {holder}; Save as writes a copy",
                    path.display()
                ));
                Ok(s)
            }
            Err(ProjectError::CannotLock {
                source: message, ..
            }) => {
                let open = OpenProject::read(path)?;
                let why = format!("nobody: its folder takes no lock file ({message})");
                let mut s = Self::from_open(open, Some(why));
                s.note(format!(
                    "{}: read-only: cannot lock the project ({message}); Save as writes a copy",
                    path.display()
                ));
                Ok(s)
            }
            Err(e) => Err(e),
        }
    }

    /// An untitled project of image files (or every image in a folder).
    pub fn from_images(paths: &[PathBuf], checkpoint: CheckpointEntry) -> Self {
        let mut p = Project::default();
        p.checkpoints.push(checkpoint);
        for path in paths {
            p.images.push(ImageEntry::new(
                std::path::absolute(path).unwrap_or_else(|_| path.clone()),
            ));
        }
        Self::new(p, None, PathBuf::from("."))
    }

    /// Whether annotations may be edited (the project is not held by another program).
    pub fn editable(&self) -> bool {
        self.read_only.is_none()
    }

    /// Notes a message for the user.
    pub fn note(&mut self, m: impl Into<String>) {
        self.messages.push(m.into());
    }

    /// Resolved path of a project-relative file.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        project::resolve(&self.base, p)
    }

    /// Loads image `index` and its annotations; errors are reported and leave the session usable.
    /// An image whose file changed on disk is not shown with its annotations: nothing loads.
    pub fn open_image(&mut self, index: usize) -> Result<(), String> {
        let Some(entry) = self.project.images.get(index).cloned() else {
            return Err(format!("no image {index}"));
        };
        self.current = index;
        self.selected_box = None;
        if let Some(p) = self.checks.get(index).and_then(ImageCheck::problem) {
            self.loaded = None;
            return Err(format!("{}: {p}", entry.path.display()));
        }
        let path = self.resolve(&entry.path);
        let loaded = load_image(&path, index, entry.window, entry.frame).inspect_err(|_| {
            self.loaded = None;
        })?;
        let (w, h) = (loaded.width(), loaded.height());
        if let Err(e) = self.init_state(index, w, h) {
            self.loaded = None;
            return Err(e);
        }
        // Opening marks the image in progress; that alone is no unsaved work (the next save
        // keeps it).
        if entry.status == Status::Todo && self.editable() {
            self.project.images[index].status = Status::InProgress;
        }
        self.loaded = Some(loaded);
        self.edit_generation += 1;
        self.mask_dirty_rect = Some(Rect {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        });
        Ok(())
    }

    /// Loads the annotations of image `index` without showing it or touching its status (for
    /// exports and project-wide scores). An image that failed its identity check is an error.
    pub fn load_annotations(&mut self, index: usize) -> Result<(), String> {
        if self.states.get(index).is_some_and(Option::is_some) {
            return Ok(());
        }
        let Some(entry) = self.project.images.get(index).cloned() else {
            return Err(format!("no image {index}"));
        };
        if let Some(p) = self.checks.get(index).and_then(ImageCheck::problem) {
            return Err(format!("{}: {p}", entry.path.display()));
        }
        let path = self.resolve(&entry.path);
        // The size is all that is needed: read it from the header where the format allows.
        let (w, h) = crate::io::image::dimensions(&path).map_err(|e| e.to_string())?;
        self.init_state(index, w, h)
    }

    /// Reads image `index`'s mask. A mask that cannot be read leaves the image without a state
    /// (so it cannot be edited, and the next save keeps the file as it is).
    pub(super) fn init_state(&mut self, index: usize, w: usize, h: usize) -> Result<(), String> {
        if self.states[index].is_some() {
            return Ok(());
        }
        let entry = self.project.images[index].clone();
        let mut ann = Annotations::new(w, h);
        ann.boxes = entry.boxes.clone();
        if let Some(m) = &entry.mask {
            let mp = self.resolve(m);
            let (mask, top) = project::masks::read_label_mask(&mp, w, h).map_err(|e| {
                format!("{e}; the image's annotations are not loaded and its mask is left as it is")
            })?;
            if top as usize > self.project.classes.len() {
                self.note(format!(
                    "{}: the mask holds class id {top}, beyond the project's {} classes; it is kept as it is (add classes to name it)",
                    mp.display(),
                    self.project.classes.len()
                ));
            }
            ann.mask = mask;
        }
        self.states[index] = Some(ImageState {
            ann,
            history: History::default(),
            mask_dirty: false,
        });
        Ok(())
    }

    /// The pixels the brush may change on the current image (`None`: all).
    pub fn paint_allowed(&self) -> Option<Arc<Vec<bool>>> {
        let (i, a) = self.paint_within.as_ref()?;
        let n = self.ann()?.mask.data.len();
        (*i == self.current && a.len() == n).then(|| a.clone())
    }

    /// Annotations of the current image.
    pub fn ann(&self) -> Option<&Annotations> {
        self.states.get(self.current)?.as_ref().map(|s| &s.ann)
    }

    /// Annotated mask pixels of the current image (a full scan of the mask).
    pub fn mask_pixels(&self) -> usize {
        self.ann().map(|a| a.mask.count()).unwrap_or(0)
    }

    /// Mutable state of the current image (`None` when the session is read-only: every edit
    /// goes through here).
    pub fn state_mut(&mut self) -> Option<&mut ImageState> {
        if !self.editable() {
            return None;
        }
        self.states.get_mut(self.current)?.as_mut()
    }

    pub(super) fn touched(&mut self, c: &Command) {
        if let Some(r) = c.mask_rect() {
            self.mask_dirty_rect = Some(match self.mask_dirty_rect {
                Some(d) => annotation::union(d, r),
                None => r,
            });
            if let Some(s) = self.state_mut() {
                s.mask_dirty = true;
            }
        }
        self.sync_boxes();
        self.dirty = true;
        self.edit_generation += 1;
    }

    pub(super) fn sync_boxes(&mut self) {
        if let Some(boxes) = self.ann().map(|a| a.boxes.clone()) {
            let i = self.current;
            self.project.images[i].boxes = boxes;
        }
    }

    /// Applies and records an edit on the current image.
    pub fn apply(&mut self, c: Command) {
        let Some(s) = self.state_mut() else { return };
        s.history.push(c.clone(), &mut s.ann);
        self.touched(&c);
    }

    /// Records an edit already applied to the mask (strokes paint as they go).
    pub fn record(&mut self, c: Command) {
        let Some(s) = self.state_mut() else { return };
        s.history.record(c.clone());
        self.touched(&c);
    }

    /// Marks a mask region changed during a stroke (before it is recorded).
    pub fn mask_touched(&mut self, r: Rect) {
        self.mask_dirty_rect = Some(match self.mask_dirty_rect {
            Some(d) => annotation::union(d, r),
            None => r,
        });
    }

    /// Undo on the current image.
    pub fn undo(&mut self) -> bool {
        let Some(s) = self.state_mut() else {
            return false;
        };
        let Some(c) = s.history.undo(&mut s.ann).cloned() else {
            return false;
        };
        self.selected_box = None;
        self.touched(&c);
        true
    }

    /// Redo on the current image.
    pub fn redo(&mut self) -> bool {
        let Some(s) = self.state_mut() else {
            return false;
        };
        let Some(c) = s.history.redo(&mut s.ann).cloned() else {
            return false;
        };
        self.selected_box = None;
        self.touched(&c);
        true
    }

    /// Adds a box.
    pub fn add_box(&mut self, b: LabelBox) {
        self.apply(Command::AddBox(b));
        self.selected_box = self.ann().map(|a| a.boxes.len() - 1);
    }

    /// Deletes the selected box.
    pub fn delete_selected_box(&mut self) {
        let Some(i) = self.selected_box else { return };
        let Some(b) = self.ann().and_then(|a| a.boxes.get(i).copied()) else {
            return;
        };
        self.apply(Command::RemoveBox(i, b));
        self.selected_box = None;
    }

    /// Fills the boxes into the mask.
    pub fn mask_from_boxes(&mut self) {
        let Some(s) = self.state_mut() else { return };
        let mut rec = PatchRecorder::new(&s.ann.mask);
        let boxes = s.ann.boxes.clone();
        if let Some(r) = annotation::mask_from_boxes(&mut s.ann.mask, &boxes) {
            rec.touch(r);
        }
        if let Some(c) = rec.finish(&s.ann.mask) {
            self.record(c);
        }
    }

    /// Adds the box of the mask (the rectangle of all components).
    pub fn box_from_mask(&mut self) {
        let class = self.class;
        if let Some(b) = self
            .ann()
            .and_then(|a| annotation::box_from_mask(&a.mask, class))
        {
            self.add_box(b);
        }
    }

    /// Fills the region under (x, y).
    pub fn fill_at(&mut self, x: usize, y: usize) {
        let (class, tol) = (self.class, self.fill_tolerance);
        let values = self.loaded.as_ref().map(|l| l.values.clone());
        let Some(s) = self.state_mut() else { return };
        let mut rec = PatchRecorder::new(&s.ann.mask);
        let intensity = values
            .as_deref()
            .filter(|_| tol > 0.0)
            .map(|v| (v.as_slice(), tol));
        if let Some(r) = annotation::flood_fill(&mut s.ann.mask, x, y, class, intensity) {
            rec.touch(r);
        }
        if let Some(c) = rec.finish(&s.ann.mask) {
            self.record(c);
        }
    }

    /// Fills a polygon.
    pub fn fill_polygon(&mut self, pts: &[(f32, f32)]) {
        let class = self.class;
        let Some(s) = self.state_mut() else { return };
        let mut rec = PatchRecorder::new(&s.ann.mask);
        if let Some(r) = annotation::fill_polygon(&mut s.ann.mask, pts, class) {
            rec.touch(r);
        }
        if let Some(c) = rec.finish(&s.ann.mask) {
            self.record(c);
        }
    }

    /// Sets the status of the current image.
    pub fn set_status(&mut self, s: Status) {
        if !self.editable() {
            return;
        }
        if let Some(e) = self.project.images.get_mut(self.current) {
            e.status = s;
            self.dirty = true;
        }
    }

    /// Sets the DICOM window of the current image and re-renders it.
    pub fn set_window(&mut self, window: (f64, f64)) {
        let Some(l) = &mut self.loaded else { return };
        let Some(d) = &l.dicom else { return };
        let w = (window.0, window.1.max(1e-6));
        l.image = Arc::new(d.to_image(Some(w)));
        self.project.images[l.index].window = Some(w);
        self.dirty = true;
    }

    /// Shows frame `frame` of the current multi-frame instance. Each frame is an image entry of
    /// its own — annotations belong to (instance, frame) — so this opens the frame's entry,
    /// adding one at the end of the list when the frame has none yet. Returns its index.
    pub fn set_frame(&mut self, frame: u32) -> Result<usize, String> {
        let Some(l) = &self.loaded else {
            return Ok(self.current);
        };
        let index = l.index;
        let entry = self.project.images[index].clone();
        if entry.frame == frame {
            return Ok(index);
        }
        let path = self.resolve(&entry.path);
        let frames = crate::io::image::frame_count(&path).map_err(|e| e.to_string())?;
        if frame >= frames {
            return Err(format!(
                "{}: frame {frame} requested but the file has {frames} frame(s)",
                path.display()
            ));
        }
        let Some(identity::Identity::Dicom { uid, .. }) = &entry.identity else {
            return Err(format!(
                "{}: not a multi-frame DICOM instance",
                path.display()
            ));
        };
        let want = identity::Identity::Dicom {
            uid: uid.clone(),
            frame,
        };
        let i = match self
            .project
            .images
            .iter()
            .position(|e| e.identity.as_ref() == Some(&want))
        {
            Some(i) => i,
            None => {
                if !self.editable() {
                    return Err(format!(
                        "frame {frame} has no entry yet, and the project is read-only"
                    ));
                }
                let mut e = ImageEntry::new(entry.path.clone());
                e.frame = frame;
                e.window = entry.window;
                e.identity = Some(want);
                self.project.images.push(e);
                self.states.push(None);
                self.checks.push(ImageCheck::Ok);
                self.dirty = true;
                self.project.images.len() - 1
            }
        };
        self.open_image(i)?;
        Ok(i)
    }

    /// Keys of the three maps of image `index` under the current model settings.
    pub fn map_keys(&self, index: usize) -> Option<PerMap<MapKey>> {
        self.map_keys_with(index, self.model.checkpoint)
    }

    /// Keys of the three maps of image `index` with the project's checkpoint `checkpoint` and
    /// the other current model settings.
    pub fn map_keys_with(&self, index: usize, checkpoint: usize) -> Option<PerMap<MapKey>> {
        let (weights, _) = self.checkpoint_at(checkpoint)?;
        let entry = self.project.images.get(index)?;
        let image = self.resolve(&entry.path);
        let m = &self.model;
        let attention = |s: MapSlot, v: Option<usize>| v.filter(|_| s == MapSlot::Attention);
        Some(PerMap::from_fn(|s| MapKey {
            image: image.clone(),
            frame: entry.frame,
            weights: weights.clone(),
            method: m.methods()[s],
            target: m.target,
            layer: attention(s, m.layer),
            head: attention(s, m.head),
            resize: m.resize,
        }))
    }

    /// Adds an image whose identity is known (e.g. a PACS instance, by its SOP Instance UID)
    /// unless an entry has that identity already; returns whether it was added.
    pub fn add_identified(&mut self, path: PathBuf, id: identity::Identity) -> bool {
        if self
            .project
            .images
            .iter()
            .any(|e| e.identity.as_ref() == Some(&id))
        {
            return false;
        }
        let mut e = ImageEntry::new(path);
        e.identity = Some(id);
        self.project.images.push(e);
        self.states.push(None);
        self.checks.push(ImageCheck::Ok);
        self.dirty = true;
        true
    }

    /// Display names of the project's checkpoints.
    pub fn checkpoint_names(&self) -> Vec<String> {
        self.project
            .checkpoints
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    /// The checkpoint in use.
    pub fn checkpoint(&self) -> Option<(PathBuf, Option<PathBuf>)> {
        self.checkpoint_at(self.model.checkpoint)
    }

    /// The project's checkpoint `i`: (weights, config), resolved.
    pub fn checkpoint_at(&self, i: usize) -> Option<(PathBuf, Option<PathBuf>)> {
        let c = self.project.checkpoints.get(i)?;
        Some((
            self.resolve(&c.weights),
            c.config.as_ref().map(|p| self.resolve(p)),
        ))
    }
}
