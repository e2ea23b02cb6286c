//! The Effects section's drawing, its jobs on the workbench's current image and the preview over
//! the image (the settings live in `effects.rs`, the computations in
//! [`crate::app::effect_preview`]).

use std::sync::Arc;
use std::time::Duration;

use eframe::egui;

use super::effects::{EffectKind, KeepMode, PreviewKey};
use super::probe;
use super::workbench::Workbench;
use crate::app::effect_preview::{self, EffectOp, Job, PreviewInput};
use crate::app::slots::MapSlot;
use crate::assist::{Grid, Keep, Op, Scissors, Smooth};
use crate::metrics::Rect;
use crate::project::Threshold;
use crate::project::annotation::{Command, MaskPatch};

impl Workbench {
    /// The effect as an [`EffectOp`] on the current image, or what it still needs.
    fn effect_op(&self, grid: Grid) -> Result<EffectOp, String> {
        let e = &self.effects;
        let op = match e.kind {
            EffectKind::Threshold => Op::Threshold {
                lo: e.lo,
                hi: e.hi,
                invert: e.invert,
            },
            EffectKind::Islands => Op::Islands {
                connectivity: if e.eight { 8 } else { 4 },
                keep: match e.keep {
                    KeepMode::Largest => Keep::Largest,
                    KeepMode::MinPx => Keep::MinPx(e.min_px),
                    KeepMode::Clicked => {
                        let (x, y) = e.at.ok_or("click the island to keep on the image")?;
                        Keep::At(x, y)
                    }
                },
            },
            EffectKind::Margin => Op::Margin { mm: e.mm },
            EffectKind::Smoothing => Op::Smooth(match e.smooth {
                0 => Smooth::Median(e.mm.max(1e-6)),
                1 => Smooth::Gaussian(e.mm.max(1e-6)),
                2 => Smooth::Open(e.px),
                _ => Smooth::Close(e.px),
            }),
            EffectKind::FillHoles => Op::FillHoles,
            EffectKind::Grow => {
                return Ok(EffectOp::Grow {
                    background: e.background,
                });
            }
            EffectKind::Scissors => {
                if !e.closed {
                    return Err(
                        "draw the outline on the image: click vertices (Enter or a double-click \
                         closes it) or drag freehand"
                            .into(),
                    );
                }
                Op::Scissors {
                    polygon: e.outline.clone(),
                    mode: e.mode,
                }
            }
            EffectKind::FromMap => {
                let maps = self.current_maps();
                let m = maps[e.slot].ok_or("the map is not computed yet")?;
                if (m.width, m.height) != (grid.w, grid.h) {
                    return Err("the map is not on the image's grid".into());
                }
                let top = match self.session.project.view.threshold {
                    Threshold::TopPercent(p) => p.clamp(1e-9, 100.0),
                    Threshold::Absolute(t) => {
                        // The share of pixels at or above the value, as a top-k %.
                        let n = m.values.iter().filter(|&&v| v >= t).count().max(1);
                        100.0 * n as f64 / m.values.len() as f64
                    }
                };
                Op::FromMap {
                    map: m.values.to_vec(),
                    top,
                }
            }
        };
        Ok(EffectOp::Assist(op))
    }

    /// What the preview of the current settings is of.
    pub(super) fn effect_key(&self) -> PreviewKey {
        (
            self.session.edit_generation,
            self.session.current,
            format!("class {} {}", self.session.class, self.effects.key()),
        )
    }

    /// Starts reading the current image's values (once per image), and takes them when read.
    fn effect_values(&mut self, ctx: &egui::Context) {
        let Some(l) = &self.session.loaded else {
            return;
        };
        let e = &mut self.effects;
        if let Some(job) = &e.values_job
            && let Some(v) = job.poll()
        {
            e.values_job = None;
            if let Some(v) = v.filter(|v| v.path == l.path) {
                let range = v
                    .values
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                        (a.min(x), b.max(x))
                    });
                // A range the user chose stays from image to image.
                if e.lo == 0.0 && e.hi == 0.0 {
                    (e.lo, e.hi) = range;
                }
                e.values = Some((v, range));
            }
        }
        let have = e.values.as_ref().is_some_and(|(v, _)| v.path == l.path);
        let reading = e.values_job.as_ref().is_some_and(|j| j.key == l.path);
        if !have && !reading && e.values_job.is_none() {
            let first_frame = self
                .session
                .project
                .images
                .get(l.index)
                .is_some_and(|i| i.frame == 0);
            let grid = Grid {
                w: l.width(),
                h: l.height(),
            };
            let (path, fallback) = (l.path.clone(), l.values.clone());
            let spacing = l
                .dicom
                .as_ref()
                .and_then(|d| d.pixel_spacing)
                .map(|[r, c]| (r, c));
            e.values_job = Some(Job::spawn(path.clone(), move || {
                effect_preview::read_values(path, first_frame, grid, fallback, spacing)
            }));
        }
        if e.values_job.is_some() {
            ctx.request_repaint_after(Duration::from_millis(20));
        }
    }

    /// The current image's values when read.
    fn current_values(&self) -> Option<&(effect_preview::Values, (f64, f64))> {
        let l = self.session.loaded.as_ref()?;
        self.effects
            .values
            .as_ref()
            .filter(|(v, _)| v.path == l.path)
    }

    /// Gives the brush the threshold's range while "paint within the range" is on.
    fn sync_paint_range(&mut self) {
        let e = &self.effects;
        let Some((v, _)) = self.current_values().filter(|_| e.paint_within) else {
            self.session.paint_within = None;
            self.effects.paint_key = None;
            return;
        };
        let key = (v.path.clone(), e.lo, e.hi, e.invert);
        if self.effects.paint_key.as_ref() != Some(&key) || self.session.paint_within.is_none() {
            let allowed: Vec<bool> = v
                .values
                .iter()
                .map(|&x| (x >= e.lo && x <= e.hi) != e.invert)
                .collect();
            self.session.paint_within = Some((self.session.current, Arc::new(allowed)));
            self.effects.paint_key = Some(key);
        }
    }

    /// Polls the running preview and starts the one the settings ask for when none runs.
    fn effect_jobs(&mut self, ctx: &egui::Context) {
        if let Some(job) = &self.effects.job
            && let Some(r) = job.poll()
        {
            let key = job.key.clone();
            self.effects.job = None;
            let r = r.unwrap_or_else(|| Err("the preview failed".into()));
            if let (Ok(p), Some(l)) = (&r, &self.session.loaded) {
                let img =
                    egui::ColorImage::from_rgba_unmultiplied([l.width(), l.height()], &p.overlay);
                let tex = ctx.load_texture("effect-preview", img, egui::TextureOptions::NEAREST);
                self.effects.overlay = Some((key.clone(), tex));
            }
            self.effects.result = Some((key, r));
        }
        let want = self.effect_key();
        let fresh = self
            .effects
            .result
            .as_ref()
            .is_some_and(|(k, _)| *k == want);
        if !fresh && self.effects.job.is_none() {
            match self.preview_input() {
                Ok(input) => {
                    self.effects.job = Some(Job::spawn(want, move || input.compute()));
                }
                Err(e) => {
                    self.effects.result = Some((want, Err(e)));
                    self.effects.overlay = None;
                }
            }
        }
        if self.effects.job.is_some() {
            ctx.request_repaint_after(Duration::from_millis(15));
        }
    }

    /// Everything the preview needs, owned.
    fn preview_input(&self) -> Result<PreviewInput, String> {
        let l = self.session.loaded.as_ref().ok_or("no image")?;
        let ann = self.session.ann().ok_or("no annotation")?;
        let grid = Grid {
            w: l.width(),
            h: l.height(),
        };
        if ann.mask.data.len() != grid.len() {
            return Err("the mask is not on the image's grid".into());
        }
        let op = self.effect_op(grid)?;
        let (v, _) = self.current_values().ok_or("reading the image's values…")?;
        Ok(PreviewInput {
            op,
            mask: ann.mask.data.clone(),
            class: self.session.class.max(1),
            values: v.values.clone(),
            spacing: v.spacing.unwrap_or((1.0, 1.0)),
            grid,
            colors: self
                .session
                .project
                .classes
                .iter()
                .map(|c| c.color)
                .collect(),
        })
    }

    /// Applies the previewed effect as one edit, when its preview is of the settings and the mask
    /// as they are now. Returns whether it did.
    pub(super) fn apply_effect(&mut self) -> bool {
        let want = self.effect_key();
        let ready = matches!(&self.effects.result, Some((k, Ok(p)))
            if *k == want && (p.added > 0 || p.removed > 0));
        if !ready || !self.session.editable() {
            return false;
        }
        let Some((_, Ok(p))) = self.effects.result.take() else {
            return false;
        };
        let Some(before) = self.session.ann().map(|a| a.mask.data.clone()) else {
            return false;
        };
        let (w, h) = self
            .session
            .loaded
            .as_ref()
            .map_or((0, 0), |l| (l.width(), l.height()));
        self.session.apply(Command::Paint(MaskPatch {
            rect: Rect {
                x0: 0,
                y0: 0,
                x1: w,
                y1: h,
            },
            before,
            after: p.after,
        }));
        self.session.dirty = true;
        self.effects.overlay = None;
        if self.effects.kind == EffectKind::Scissors {
            self.effects.cancel();
        }
        true
    }

    /// Whether the preview is of the settings and the mask as they are now.
    pub(super) fn effect_preview_ready(&self) -> bool {
        let want = self.effect_key();
        self.effects
            .result
            .as_ref()
            .is_some_and(|(k, _)| *k == want)
    }

    /// The last preview in words (or why there is none), with the image's size.
    pub(super) fn effect_preview_text(&self) -> String {
        let (w, h) = self
            .session
            .loaded
            .as_ref()
            .map_or((0, 0), |l| (l.width(), l.height()));
        match &self.effects.result {
            Some((_, Ok(p))) => format!("{w}×{h}, {} px relabelled", p.added),
            Some((_, Err(e))) => format!("{w}×{h}, {e}"),
            None => format!("{w}×{h}, no preview"),
        }
    }

    /// The Effects section.
    pub(super) fn effects_ui(&mut self, ui: &mut egui::Ui) {
        self.effects.visible = true;
        self.effect_values(ui.ctx());
        let range = self.current_values().map_or((0.0, 1.0), |(_, r)| *r);
        let classes: Vec<String> = self
            .session
            .project
            .classes
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let e = &mut self.effects;
        egui::ComboBox::from_label("Effect")
            .selected_text(e.kind.name())
            .show_ui(ui, |ui| {
                for k in EffectKind::ALL {
                    ui.selectable_value(&mut e.kind, k, k.name());
                }
            });
        match e.kind {
            EffectKind::Threshold => {
                let speed = ((range.1 - range.0) / 500.0).max(1e-6);
                for (v, name) in [(&mut e.lo, "from"), (&mut e.hi, "to")] {
                    ui.horizontal(|ui| {
                        let r = ui.add(
                            egui::DragValue::new(v)
                                .range(range.0..=range.1)
                                .speed(speed),
                        );
                        probe::note(ui, &format!("effect: {name}"), &r);
                        ui.add(egui::Slider::new(v, range.0..=range.1).show_value(false));
                        ui.label(name);
                    });
                }
                let r = ui.checkbox(&mut e.invert, "invert (the pixels outside the range)");
                probe::note(ui, "effect: invert", &r);
                let r = ui
                    .checkbox(
                        &mut e.paint_within,
                        "brush and eraser only within the range",
                    )
                    .on_hover_text(
                        "Paint within the range (R): the brush changes no pixel outside it",
                    );
                probe::note(ui, "effect: within range", &r);
            }
            EffectKind::Islands => {
                ui.checkbox(&mut e.eight, "corners connect (8-connectivity)");
                let r = ui.radio_value(&mut e.keep, KeepMode::Largest, "keep the largest");
                probe::note(ui, "effect: keep largest", &r);
                ui.horizontal(|ui| {
                    ui.radio_value(&mut e.keep, KeepMode::MinPx, "remove smaller than");
                    ui.add(egui::DragValue::new(&mut e.min_px).suffix(" px"));
                });
                let r = ui.radio_value(&mut e.keep, KeepMode::Clicked, "keep the one clicked");
                probe::note(ui, "effect: keep clicked", &r);
            }
            EffectKind::Margin => {
                ui.add(egui::Slider::new(&mut e.mm, -20.0..=20.0).text("mm (− shrinks)"));
            }
            EffectKind::Smoothing => {
                ui.horizontal(|ui| {
                    for (k, n) in ["median", "gaussian", "open", "close"].iter().enumerate() {
                        ui.radio_value(&mut e.smooth, k, *n);
                    }
                });
                if e.smooth < 2 {
                    ui.add(egui::Slider::new(&mut e.mm, 0.1..=20.0).text("mm"));
                } else {
                    ui.add(egui::Slider::new(&mut e.px, 0..=20).text("px radius"));
                }
            }
            EffectKind::FillHoles => {
                ui.label("Fills every hole of the class that does not reach the border.");
            }
            EffectKind::Grow => {
                ui.label("Paint seed strokes in two or more classes with the brush: each pixel takes the class whose seeds reach it first.");
                ui.horizontal_wrapped(|ui| {
                    ui.label("background seeds:")
                        .on_hover_text("The class whose grown area is left unlabelled");
                    let r = ui.radio_value(&mut e.background, None, "none");
                    probe::note(ui, "background: none", &r);
                    for (i, n) in classes.iter().enumerate() {
                        let r = ui.radio_value(&mut e.background, Some(i as u8 + 1), n);
                        probe::note(ui, &format!("background: {n}"), &r);
                    }
                });
            }
            EffectKind::Scissors => {
                ui.horizontal(|ui| {
                    ui.radio_value(&mut e.mode, Scissors::EraseInside, "erase inside");
                    ui.radio_value(&mut e.mode, Scissors::EraseOutside, "erase outside");
                    ui.radio_value(&mut e.mode, Scissors::FillInside, "fill inside");
                });
                ui.label(
                    "Click vertices (Enter closes) or drag freehand on the image; Esc clears.",
                );
            }
            EffectKind::FromMap => {
                ui.horizontal(|ui| {
                    for s in MapSlot::ALL {
                        ui.radio_value(&mut e.slot, s, s.name());
                    }
                });
                ui.label("The map's region at the overlay's threshold, into the class.");
            }
        }
        self.sync_paint_range();
        self.effect_jobs(ui.ctx());
        let want = self.effect_key();
        let running = self.effects.job.is_some();
        let mut ready = false;
        match &self.effects.result {
            Some((k, Ok(p))) => {
                let word = if self.effects.kind == EffectKind::Grow {
                    format!("preview: {} px relabelled", p.added)
                } else {
                    format!("preview: +{} px, −{} px", p.added, p.removed)
                };
                if *k == want {
                    ready = p.added > 0 || p.removed > 0;
                    let r = ui.label(&word);
                    probe::note(ui, &word, &r);
                } else {
                    ui.label(format!("{word} (updating…)"));
                }
            }
            Some((_, Err(e))) if !running => {
                ui.label(e.as_str());
            }
            _ => {
                ui.label("computing the preview…");
            }
        }
        let apply = ui
            .add_enabled(
                ready && self.session.editable(),
                egui::Button::new("Apply effect"),
            )
            .on_hover_text("One edit: Undo takes it back (Ctrl+Enter)");
        probe::note(ui, "Apply effect", &apply);
        let apply = apply.clicked();
        if apply {
            self.apply_effect();
        }
    }

    /// Draws the preview over the image in `img_rect` (the image's screen rectangle), and the
    /// scissors' outline.
    pub(super) fn draw_effect(&self, painter: &egui::Painter, img_rect: egui::Rect) {
        if !self.effects.visible {
            return;
        }
        if let Some(((_, image, _), tex)) = &self.effects.overlay
            && *image == self.session.current
        {
            painter.image(
                tex.id(),
                img_rect,
                egui::Rect::from_min_max(egui::Pos2::ZERO, egui::pos2(1.0, 1.0)),
                egui::Color32::WHITE,
            );
        }
        let e = &self.effects;
        // Screen points per image pixel.
        let w = self.session.loaded.as_ref().map_or(1, |l| l.width());
        let s = img_rect.width() / w.max(1) as f32;
        let marker = egui::Stroke::new(2.0, egui::Color32::from_rgb(255, 200, 40));
        if e.kind == EffectKind::Scissors && !e.outline.is_empty() {
            let mut pts: Vec<egui::Pos2> = e
                .outline
                .iter()
                .map(|p| img_rect.min + egui::vec2(p.0 as f32, p.1 as f32) * s)
                .collect();
            if e.closed {
                pts.push(pts[0]);
            } else if !e.freehand
                && let Some(p) = painter.ctx().pointer_latest_pos()
            {
                pts.push(p);
            }
            painter.add(egui::Shape::line(pts, marker));
        }
        if e.kind == EffectKind::Islands
            && e.keep == KeepMode::Clicked
            && let Some((x, y)) = e.at
        {
            let c = img_rect.min + egui::vec2(x as f32 + 0.5, y as f32 + 0.5) * s;
            painter.circle_stroke(c, 6.0, marker);
        }
    }
}
