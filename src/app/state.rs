//! The workbench's session: the project, the current image, annotations with their histories,
//! tool and model settings. Plain state, no egui types: the UI and the tests drive it alike.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::annotate::{self, Annotations, Command, History, LabelBox, PatchRecorder};
pub use super::loaded::{LoadedImage, load_image};
use super::project::{self, CheckpointEntry, ImageEntry, Project, ProjectError, Status};
use super::slots::{MapSlot, PerMap};
use super::worker::MapKey;
use crate::explain::Method;
use crate::metrics::Rect;
use crate::model::device::DeviceChoice;
use crate::model::preprocess::ResizeMode;

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
    /// Where an untitled session autosaves (its own file in the recovery folder).
    pub recovery_file: Option<PathBuf>,
}

impl Session {
    /// A session on a project (`path` = its file, or `None` with `base` for relative paths).
    pub fn new(project: Project, path: Option<PathBuf>, base: PathBuf) -> Self {
        let n = project.images.len();
        Self {
            project,
            project_path: path,
            base,
            states: vec![None; n],
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
            messages: Vec::new(),
            recovery_file: None,
        }
    }

    /// Opens a project file.
    pub fn open_project(path: &Path) -> Result<Self, ProjectError> {
        let p = Project::load(path)?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(Self::new(p, Some(path.to_path_buf()), base))
    }

    /// An untitled project of image files (or every image in a folder).
    pub fn from_images(paths: &[PathBuf], checkpoint: CheckpointEntry) -> Self {
        let mut p = Project::default();
        p.checkpoints.push(checkpoint);
        for path in paths {
            p.images.push(ImageEntry {
                path: std::path::absolute(path).unwrap_or_else(|_| path.clone()),
                status: Status::Todo,
                boxes: Vec::new(),
                mask: None,
                window: None,
                frame: 0,
            });
        }
        Self::new(p, None, PathBuf::from("."))
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
    pub fn open_image(&mut self, index: usize) -> Result<(), String> {
        let Some(entry) = self.project.images.get(index).cloned() else {
            return Err(format!("no image {index}"));
        };
        self.current = index;
        self.selected_box = None;
        let path = self.resolve(&entry.path);
        let loaded = load_image(&path, index, entry.window, entry.frame).inspect_err(|_| {
            self.loaded = None;
        })?;
        let (w, h) = (loaded.width(), loaded.height());
        self.init_state(index, w, h);
        // Opening marks the image in progress; that alone is no unsaved work (the next save
        // keeps it).
        if entry.status == Status::Todo {
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
    /// exports and project-wide scores).
    pub fn load_annotations(&mut self, index: usize) -> Result<(), String> {
        if self.states.get(index).is_some_and(Option::is_some) {
            return Ok(());
        }
        let Some(entry) = self.project.images.get(index).cloned() else {
            return Err(format!("no image {index}"));
        };
        let path = self.resolve(&entry.path);
        // The size is all that is needed: read it from the header where the format allows.
        let (w, h) = crate::io::image::dimensions(&path).map_err(|e| e.to_string())?;
        self.init_state(index, w, h);
        Ok(())
    }

    fn init_state(&mut self, index: usize, w: usize, h: usize) {
        if self.states[index].is_some() {
            return;
        }
        let entry = self.project.images[index].clone();
        let mut ann = Annotations::new(w, h);
        ann.boxes = entry.boxes.clone();
        if let Some(m) = &entry.mask {
            let mp = self.resolve(m);
            match project::read_label_mask(&mp, w, h, self.project.classes.len()) {
                Ok(mask) => ann.mask = mask,
                // Keep the file untouched: the mask stays on disk and the error is shown.
                Err(e) => self.note(format!("{e}; the mask is not loaded")),
            }
        }
        self.states[index] = Some(ImageState {
            ann,
            history: History::default(),
            mask_dirty: false,
        });
    }

    /// Annotations of the current image.
    pub fn ann(&self) -> Option<&Annotations> {
        self.states.get(self.current)?.as_ref().map(|s| &s.ann)
    }

    /// Annotated mask pixels of the current image (a full scan of the mask).
    pub fn mask_pixels(&self) -> usize {
        self.ann().map(|a| a.mask.count()).unwrap_or(0)
    }

    /// Mutable state of the current image.
    pub fn state_mut(&mut self) -> Option<&mut ImageState> {
        self.states.get_mut(self.current)?.as_mut()
    }

    fn touched(&mut self, c: &Command) {
        if let Some(r) = c.mask_rect() {
            self.mask_dirty_rect = Some(match self.mask_dirty_rect {
                Some(d) => annotate::union(d, r),
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

    fn sync_boxes(&mut self) {
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
            Some(d) => annotate::union(d, r),
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
        if let Some(r) = annotate::mask_from_boxes(&mut s.ann.mask, &boxes) {
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
            .and_then(|a| annotate::box_from_mask(&a.mask, class))
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
        if let Some(r) = annotate::flood_fill(&mut s.ann.mask, x, y, class, intensity) {
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
        if let Some(r) = annotate::fill_polygon(&mut s.ann.mask, pts, class) {
            rec.touch(r);
        }
        if let Some(c) = rec.finish(&s.ann.mask) {
            self.record(c);
        }
    }

    /// Sets the status of the current image.
    pub fn set_status(&mut self, s: Status) {
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

    /// Shows another frame of a multi-frame DICOM (annotations stay: frames share the geometry).
    pub fn set_frame(&mut self, frame: u32) -> Result<(), String> {
        let Some(l) = &self.loaded else {
            return Ok(());
        };
        let (index, path) = (l.index, l.path.clone());
        let window = self.project.images[index].window;
        let next = load_image(&path, index, window, frame)?;
        if (next.width(), next.height()) != (l.width(), l.height()) {
            return Err(format!(
                "{}: frame {frame} has another size",
                path.display()
            ));
        }
        self.project.images[index].frame = frame;
        self.loaded = Some(next);
        self.dirty = true;
        Ok(())
    }

    /// Mask file of image `i` inside the project's mask folder.
    fn mask_file(&self, project_file: &Path, i: usize) -> PathBuf {
        let stem = self.project.images[i]
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        project::mask_dir(project_file).join(format!("{i:04}_{stem}.png"))
    }

    /// Writes the project and its masks to `path` (masks first, then the RON file, each
    /// atomically). Paths in the file are made relative to its folder where possible.
    pub fn save_to(&mut self, path: &Path, autosave: bool) -> Result<(), ProjectError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut out = self.project.clone();
        for (i, entry) in out.images.iter_mut().enumerate() {
            entry.path = relative_to(&dir, &self.resolve(&entry.path));
            // A loaded mask is written when it changed, or when saving somewhere new (save as,
            // autosave); other images keep pointing at their existing mask files.
            let new_place = self.project_path.as_deref() != Some(path);
            let write = self.states[i]
                .as_ref()
                .filter(|s| s.ann.mask.count() > 0 || entry.mask.is_some())
                .filter(|s| s.mask_dirty || new_place);
            if let Some(s) = write {
                let file = self.mask_file(path, i);
                project::write_label_mask(&file, &s.ann.mask)?;
                entry.mask = Some(relative_to(&dir, &file));
            } else if let Some(m) = &entry.mask {
                entry.mask = Some(relative_to(&dir, &self.resolve(m)));
            }
        }
        for c in &mut out.checkpoints {
            c.weights = relative_to(&dir, &self.resolve(&c.weights));
            if let Some(cfg) = &c.config {
                c.config = Some(relative_to(&dir, &self.resolve(cfg)));
            }
        }
        out.save_file(path)?;
        if !autosave {
            self.project = out;
            self.project_path = Some(path.to_path_buf());
            self.base = dir;
            for s in self.states.iter_mut().flatten() {
                s.mask_dirty = false;
            }
            self.dirty = false;
            super::recovery::remove_copy(&project::autosave_path(path));
            if let Some(r) = self.recovery_file.take() {
                super::recovery::remove_copy(&r);
            }
        }
        Ok(())
    }

    /// Saves to the project file.
    pub fn save(&mut self) -> Result<PathBuf, ProjectError> {
        let path = self
            .project_path
            .clone()
            .ok_or_else(|| ProjectError::Write {
                path: PathBuf::from("(untitled)"),
                message: "the project has no file yet: use Save as".into(),
            })?;
        self.save_to(&path, false)?;
        Ok(path)
    }

    /// Writes the autosave copy: beside the project, or the untitled session's own recovery file.
    pub fn autosave(&mut self) -> Result<PathBuf, ProjectError> {
        let path = match (&self.project_path, &self.recovery_file) {
            (Some(p), _) => project::autosave_path(p),
            (None, Some(r)) => r.clone(),
            (None, None) => {
                return Err(ProjectError::Write {
                    path: PathBuf::from("(untitled)"),
                    message: "no recovery file for this untitled session".into(),
                });
            }
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        self.save_to(&path, true)?;
        Ok(path)
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

    /// Adds an image to the project (e.g. fetched from a PACS); returns its index.
    pub fn add_image(&mut self, path: PathBuf) -> usize {
        self.project.images.push(ImageEntry {
            path,
            status: Default::default(),
            boxes: Vec::new(),
            mask: None,
            window: None,
            frame: 0,
        });
        self.states.push(None);
        self.dirty = true;
        self.project.images.len() - 1
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

/// `p` relative to `dir` when it lies below it, else absolute.
fn relative_to(dir: &Path, p: &Path) -> PathBuf {
    let abs = |q: &Path| std::path::absolute(q).unwrap_or_else(|_| q.to_path_buf());
    let (d, q) = (abs(dir), abs(p));
    q.strip_prefix(&d).map(Path::to_path_buf).unwrap_or(q)
}
