//! The actions the panels return, the "save changes?" flow, and the one place that carries
//! actions out ([`Workbench::apply`]).

use std::path::{Path, PathBuf};

use eframe::egui;

use super::action::{Action, Answer, ConflictAnswer, Pending};
use super::effects::EffectKind;
use super::workbench::Workbench;
use crate::app::commands::UiCommand;
use crate::app::slots::MapSlot;
use crate::app::state::Session;
use crate::app::transfer::{self, ImportKind};
use crate::project::recovery::{self, RecoveryCopy};
use crate::project::{self, ProjectError, Status};

impl Workbench {
    /// Replaces the session (after the answer to "save changes?", or when nothing is unsaved).
    pub fn replace_session(&mut self, session: Session) {
        self.session = session;
        self.store.batch = Default::default();
        self.adopt_session();
    }

    /// Opens a project file, an image or a folder of images, replacing the session now. Opening
    /// this session's own project again hands its lock over.
    pub fn open_path(&mut self, path: &Path) {
        let same = self
            .session
            .project_path
            .as_deref()
            .is_some_and(|p| std::path::absolute(p).ok() == std::path::absolute(path).ok());
        let held = if same { self.session.lock.take() } else { None };
        match crate::app::session_for(path) {
            Ok(s) => self.replace_session(s),
            Err(e) => {
                self.session.lock = self.session.lock.take().or(held);
                self.session.note(crate::error::one_line(e.as_ref()))
            }
        }
    }

    /// Accepts the file now at the current entry's path as its image (after "image changed on
    /// disk"): the entry takes the file's identity, and its annotations are shown on it.
    pub(super) fn accept_changed_image(&mut self) {
        let i = self.session.current;
        if !self.session.editable() {
            return;
        }
        if let Some(project::ImageCheck::Changed { found }) = self.session.checks.get(i).cloned() {
            let e = &mut self.session.project.images[i];
            e.identity = Some(found);
            let path = e.path.display().to_string();
            self.session.checks[i] = project::ImageCheck::Ok;
            self.session.dirty = true;
            self.session
                .note(format!("{path}: accepted the file on disk as this image"));
            self.open(i);
        }
    }

    /// Points the current entry at the file named in the path field, which must have the
    /// entry's identity.
    pub(super) fn relink_image(&mut self) {
        let i = self.session.current;
        if !self.session.editable() {
            return;
        }
        let Some(file) = self.choose_path(false, false, "Relink image") else {
            return;
        };
        let e = self.session.project.images[i].clone();
        match project::identity::of_file(&file, e.frame) {
            Ok(id) if Some(&id) == e.identity.as_ref() => {
                let abs = std::path::absolute(&file).unwrap_or(file);
                self.session.project.images[i].path = abs.clone();
                self.session.checks[i] = project::ImageCheck::Ok;
                self.session.dirty = true;
                self.session
                    .note(format!("relinked image {} to {}", i + 1, abs.display()));
                self.open(i);
            }
            Ok(id) => self.session.note(format!(
                "{}: this file is {}, not the image's {}: not relinked",
                file.display(),
                id.describe(),
                e.identity.map(|i| i.describe()).unwrap_or_default()
            )),
            Err(err) => self.session.note(err.to_string()),
        }
    }

    pub(super) fn save_as(&mut self, path: &Path) -> bool {
        let r = self.session.save_to(path, false);
        self.after_save(r, path)
    }

    /// Reports a save: a note when it worked; a dialog that stays when it failed (and the
    /// autosave moves to the recovery folder, so the session keeps its crash protection); the
    /// reload / save as / overwrite question when the file changed on disk.
    fn after_save(&mut self, r: Result<(), ProjectError>, path: &Path) -> bool {
        match r {
            Ok(()) => {
                self.session.note(format!("saved {}", path.display()));
                let _ = recovery::register(&self.recovery_dir(), path);
                true
            }
            Err(ProjectError::ChangedOnDisk { .. }) => {
                self.conflict = true;
                self.session.note(format!(
                    "{}: the project file changed on disk: not saved",
                    path.display()
                ));
                false
            }
            Err(e) => {
                let beside = self
                    .session
                    .own_copy
                    .as_deref()
                    .is_none_or(|c| !c.starts_with(self.recovery_dir()));
                if beside {
                    self.session.fresh_own_copy();
                }
                self.session.note(e.to_string());
                self.save_error = Some(format!(
                    "{e}\n\nNothing was changed on disk. Your work stays in this session, and its autosave now goes to the recovery folder ({}).",
                    self.recovery_dir().display()
                ));
                false
            }
        }
    }

    /// Saves to the project file, or to the path field when untitled. False: nothing saved.
    pub(super) fn save(&mut self) -> bool {
        if let Some(p) = self.session.project_path.clone() {
            let r = self.session.save_to(&p, false);
            self.after_save(r, &p)
        } else if let Some(p) = self.choose_path(true, false, "Save as") {
            self.save_as(&p)
        } else {
            false
        }
    }

    /// A path from the in-app field (if filled), else from a native dialog (none here when no
    /// desktop portal exists).
    pub(super) fn choose_path(&mut self, save: bool, folder: bool, title: &str) -> Option<PathBuf> {
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
    pub(super) fn guarded(&mut self, p: Pending, ctx: Option<&egui::Context>) {
        if self.unsaved() {
            self.confirm = Some(p);
        } else {
            self.proceed(p, ctx);
        }
    }

    pub(super) fn proceed(&mut self, p: Pending, ctx: Option<&egui::Context>) {
        match p {
            Pending::Open(path) => self.open_path(&path),
            Pending::NewProject => {
                let mut s = Session::new(project::Project::default(), None, PathBuf::from("."));
                s.project.checkpoints.push(crate::app::bundled_checkpoint());
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

    /// Removes this session's own recovery copy (the user discarded the work); never a copy that
    /// is being restored.
    pub(super) fn discard_own_copy(&mut self) {
        let restoring = self.restoring.as_ref().map(|r| r.0.autosave.clone());
        if let Some(f) = self.session.own_copy.take()
            && Some(&f) != restoring.as_ref()
        {
            recovery::remove_copy(&f);
        }
    }

    /// Reads a recovery copy into a session now (before anything can remove it), then replaces
    /// the current session with it — at once, or after "save changes?".
    pub(super) fn start_restore(&mut self, copy: RecoveryCopy, ctx: Option<&egui::Context>) {
        match Session::from_copy(&copy.autosave, copy.project.as_deref()) {
            Ok(s) => {
                self.restoring = Some((copy.clone(), Box::new(s)));
                self.guarded(Pending::Restore(copy), ctx);
            }
            Err(e) => self.session.note(e),
        }
    }

    /// Replaces the session with the restored one: it takes the project's lock (from this
    /// session when it is the same project), the file's current hash, and the copy as its own.
    pub(super) fn restore(&mut self, copy: &RecoveryCopy) {
        let Some((c, restored)) = self.restoring.take() else {
            return;
        };
        if c != *copy {
            return;
        }
        let mut s = *restored;
        if let Some(p) = copy.project.clone() {
            let same = self.session.project_path.as_deref() == Some(p.as_path());
            if same && self.session.lock.is_some() {
                s.lock = self.session.lock.take();
            } else {
                if same {
                    self.session.lock = None;
                }
                match project::lock::ProjectLock::acquire(&p, "vitscope workbench") {
                    Ok((l, warn)) => {
                        s.lock = Some(l);
                        if let Some(w) = warn {
                            s.note(w);
                        }
                    }
                    Err(project::lock::LockError::Held { holder, .. }) => {
                        s.note(format!("{}: read-only: the project is locked (in use) by {holder}; Save as writes a copy", p.display()));
                        s.read_only = Some(holder);
                    }
                    Err(e) => s.note(e.to_string()),
                }
            }
            s.disk_hash = project::save::disk_hash(&p).ok().flatten();
        }
        s.own_copy = Some(copy.autosave.clone());
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
                    let r = transfer::import(&mut self.session, kind, &path, Default::default());
                    match r {
                        Ok(lines) => {
                            for l in lines.lines() {
                                self.session.note(l.to_string());
                            }
                            self.uploads = super::view::Uploads::default();
                        }
                        Err(e) => self.session.note(e),
                    }
                }
            }
            Action::AddCheckpoint => self.add_checkpoint(),
            Action::SetWindow(w) => {
                self.session.set_window(w);
                self.uploads.image = None;
            }
            Action::SetFrame(f) => match self.session.set_frame(f) {
                Ok(i) => self.open(i),
                Err(e) => self.session.note(e),
            },
            Action::AddClass if !self.session.editable() => {}
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
                let job =
                    crate::app::store::batch_job(&self.session, self.batch_top.unwrap_or(20.0));
                self.store.start_batch(job);
            }
            Action::CancelScoring => self.store.cancel_batch(),
            Action::RunFaithfulness => self.run_faithfulness(),
            Action::CancelFaithfulness => self.store.cancel_faith(),
            Action::ShowSanity => self.sanity.open = true,
            Action::ShowStudy => self.show_study = true,
            Action::ShowPacs => self.show_pacs = true,
            Action::OpenStudy => {
                if let Some(path) = self.choose_path(false, false, "Open study") {
                    match crate::study::design::Study::load(&path) {
                        Ok(s) => {
                            let readers = s.readers.iter().map(|p| p.reader.clone()).collect();
                            self.open_study = Some((path, readers));
                        }
                        Err(e) => self.session.note(e.to_string()),
                    }
                }
            }
            Action::RunSanity(slot) => self.run_sanity(slot),
            Action::CancelSanity => self.store.cancel_sanity(),
            Action::RetryMaps => {
                if let Some(keys) = self.keys_for(self.session.current) {
                    self.store
                        .retry(&keys.values().cloned().collect::<Vec<_>>());
                }
            }
            Action::Restore(copy) => self.start_restore(copy, ctx),
            Action::DiscardRecovery(copy) => {
                copy.discard(&self.recovery_dir());
                self.recovery_offer.retain(|c| *c != copy);
            }
            Action::KeepRecovery => {
                // Every copy stays; this session's autosave never goes over one of them.
                let pending = self
                    .session
                    .own_copy
                    .as_ref()
                    .is_some_and(|o| self.recovery_offer.iter().any(|c| c.autosave == *o));
                if pending {
                    self.session.fresh_own_copy();
                }
                self.recovery_offer.clear();
            }
            Action::ShowRecovery => {
                let own = self.session.own_copy.clone();
                self.recovery_offer =
                    recovery::list(&self.recovery_dir(), self.session.project_path.as_deref())
                        .into_iter()
                        .filter(|c| Some(&c.autosave) != own.as_ref())
                        .collect();
                if self.recovery_offer.is_empty() {
                    self.session.note("no recovery copies to offer");
                }
            }
            Action::Conflict(answer) => {
                self.conflict = false;
                match answer {
                    ConflictAnswer::Cancel => {}
                    ConflictAnswer::Reload => {
                        if let Some(p) = self.session.project_path.clone() {
                            // The session's changes stay in its recovery copy.
                            self.write_autosave();
                            let own = self.session.own_copy.take();
                            self.session.lock = None;
                            self.open_path(&p);
                            if let Some(o) = own {
                                self.session
                                    .note(format!("your changes are kept in {}", o.display()));
                            }
                        }
                    }
                    ConflictAnswer::SaveAs => {
                        if let Some(p) = self.choose_path(true, false, "Save as") {
                            self.save_as(&p);
                        }
                    }
                    ConflictAnswer::Overwrite => {
                        if let Some(p) = self.session.project_path.clone() {
                            self.session.disk_hash = project::save::disk_hash(&p).ok().flatten();
                            self.save();
                        }
                    }
                }
            }
            Action::DismissSaveError => self.save_error = None,
            Action::AcceptChangedImage => self.accept_changed_image(),
            Action::RelinkImage => self.relink_image(),
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
                if self.confirm.is_none() && self.restoring.is_some() {
                    // Cancelled (or done): a copy read for a restore that did not happen stays
                    // where it is, still offered.
                    self.restoring = None;
                }
            }
        }
    }

    pub(super) fn run_command(&mut self, c: UiCommand, ctx: Option<&egui::Context>) {
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
            UiCommand::ClosePolygon => {
                if !(self.effects.takes_canvas() && self.effects.close()) {
                    self.tool.close_polygon(s)
                }
            }
            UiCommand::Cancel => {
                self.tool.cancel(s);
                self.effects.cancel();
            }
            UiCommand::Effect(k) => {
                self.effects.kind = k;
                self.effects.open_request = Some(true);
            }
            UiCommand::ApplyEffect => {
                self.apply_effect();
            }
            UiCommand::PaintWithinRange => {
                self.effects.paint_within = !self.effects.paint_within;
                if self.effects.paint_within {
                    self.effects.kind = EffectKind::Threshold;
                    self.effects.open_request = Some(true);
                } else {
                    s.paint_within = None;
                }
            }
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
            UiCommand::Window(i) => {
                let file = s
                    .loaded
                    .as_ref()
                    .and_then(|l| l.dicom.as_ref())
                    .map(|d| d.effective_window(None));
                let w = crate::io::dicom::CT_PRESETS
                    .get(i as usize)
                    .map(|p| (p.1, p.2))
                    .or(file);
                if let Some(w) = w {
                    s.set_window(w);
                    self.uploads.image = None;
                }
            }
        }
    }

    pub(super) fn add_checkpoint(&mut self) {
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

    pub(super) fn step_image(&mut self, d: i64) {
        let n = self.session.project.images.len() as i64;
        if n > 0 {
            self.open((self.session.current as i64 + d).rem_euclid(n) as usize);
        }
    }

    /// Starts the sanity check of `slot`'s map on the current image.
    pub fn run_sanity(&mut self, slot: MapSlot) {
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        let Some(keys) = self.keys_for(l.index) else {
            return;
        };
        self.store.start_sanity(crate::app::worker::SanityJob {
            id: 0,
            key: keys[slot].clone(),
            config: self.session.checkpoint().and_then(|c| c.1),
            image: l.image.clone(),
            device: self.session.model.device,
            cancel: Default::default(),
        });
    }
}
