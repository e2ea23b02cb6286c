//! The canvas: one, two or four synced panes drawn by the overlay's paint callback, the
//! annotations on top, and pointer input handed to the tool state machine
//! ([`crate::app::canvas_tool`]) in image coordinates.

use std::sync::Arc;

use eframe::egui::{self, Color32, Pos2, Rect as URect, Sense, Stroke, Vec2};
use eframe::egui_wgpu;

use super::action::Action;
use super::effects::Phase;
use super::workbench::Workbench;
use crate::app::canvas_tool::{Button, Effect};
use crate::app::overlay::{self, PaneCallback, PaneUniform, Upload};
use crate::app::slots::{MapSlot, PerMap};
use crate::app::state::Tool;
use crate::metrics::Rect;
use crate::project::{Layout, Threshold};

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

impl Workbench {
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
        if self.uploads.image != Some(img_id) {
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
            self.uploads.maps = PerMap::none();
        }
        let maps = self.current_maps().map(|m| m.cloned());
        for (slot, m) in maps.present() {
            let id = Arc::as_ptr(&m.values) as usize;
            if self.uploads.maps[slot] != Some(id) {
                uploads.push(Upload::Map {
                    layer: slot.index() as u32,
                    values: &m.values,
                });
                self.uploads.maps[slot] = Some(id);
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
        self.uploads.image = Some(img_id);
    }

    fn map_threshold(&self, slot: MapSlot) -> f32 {
        match self.session.project.view.threshold {
            Threshold::Absolute(t) => t,
            Threshold::TopPercent(p) => self
                .store
                .live_score(slot)
                .and_then(|s| s.truth.top.iter().find(|t| t.top_perc == p))
                .map(|t| t.threshold)
                .unwrap_or(f32::INFINITY),
        }
    }

    /// (pane title, map slot) of each pane in the layout.
    fn panes(&self) -> Vec<(String, Option<MapSlot>)> {
        let v = &self.session.project.view;
        let overlay = MapSlot::from_index(v.overlay).unwrap_or(MapSlot::Chefer);
        let named = |s: MapSlot| (s.name().to_string(), Some(s));
        match v.layout {
            Layout::Single => vec![named(overlay)],
            Layout::Two => vec![("image".into(), None), named(overlay)],
            Layout::Four => {
                let mut p = vec![("image".into(), None)];
                p.extend(MapSlot::ALL.map(named));
                p
            }
        }
    }

    pub(super) fn canvas_ui(&mut self, ui: &mut egui::Ui) {
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
        let keys = self.keys_for(l.index);
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
                    .map(|s| s.index() as i32)
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
                    opacity: slot.map(|s| v.opacity[s.index()]).unwrap_or(0.0),
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
                let tex = self.uploads.texture.get_or_insert_with(|| {
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
            let img_rect = URect::from_min_size(origin, Vec2::new(w, h) * self.view.scale);
            if i == 0 {
                // Where the image lies in pane 0: a test maps image pixels to the screen by it.
                let dot = |p: Pos2| URect::from_center_size(p, Vec2::ZERO);
                super::probe::rect(ui.ctx(), "image origin", dot(img_rect.min));
                super::probe::rect(ui.ctx(), "image end", dot(img_rect.max));
            }
            self.draw_effect(&painter, img_rect);
            self.draw_annotations(&painter, *rect);
            let failed = slot.and_then(|s| self.store.failure(&keys.as_ref()?[s]));
            let label = match slot {
                Some(_) if failed.is_some() => format!("{title} (failed: use Retry maps)"),
                // No checkpoint, no map: say so rather than wait for one that never comes.
                Some(_) if keys.is_none() => {
                    format!("{title} (no checkpoint: add one in the Model panel)")
                }
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
        if let Some(start) = self.tool.new_box_start()
            && let Some(p) = painter.ctx().pointer_latest_pos()
        {
            let r = URect::from_two_pos(self.view.to_screen(pane, start), p);
            painter.rect_stroke(
                r,
                0.0,
                Stroke::new(1.5, Color32::YELLOW),
                egui::StrokeKind::Middle,
            );
        }
        if !self.tool.polygon.is_empty() {
            let mut pts: Vec<Pos2> = self
                .tool
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
        if let Some([a, b]) = self.ruler {
            let (pa, pb) = (self.view.to_screen(pane, a), self.view.to_screen(pane, b));
            painter.line_segment([pa, pb], Stroke::new(2.0, Color32::from_rgb(255, 220, 60)));
            for q in [pa, pb] {
                painter.circle_filled(q, 3.0, Color32::from_rgb(255, 220, 60));
            }
            let spacing = self
                .session
                .loaded
                .as_ref()
                .and_then(|l| l.dicom.as_ref())
                .and_then(|d| d.pixel_spacing);
            painter.text(
                pb + Vec2::new(8.0, -8.0),
                egui::Align2::LEFT_BOTTOM,
                ruler_text(a, b, spacing),
                egui::FontId::proportional(13.0),
                Color32::from_rgb(255, 220, 60),
            );
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

    /// Turns the pane's pointer events into tool input (image coordinates).
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
        // An effect that takes the canvas (scissors, the island to keep) gets the primary button.
        if self.effects.takes_canvas() && !pointer.middle_down() && !pointer.secondary_down() {
            if resp.drag_started()
                && let Some(o) = pointer.press_origin().or(pointer.interact_pos())
                && self.effects.kind == super::effects::EffectKind::Scissors
            {
                self.effects
                    .freehand(self.view.image_at(pane, o), Phase::Begin);
            }
            if let Some(p) = pos {
                if resp.dragged() {
                    self.effects.freehand(p, Phase::Move);
                }
                if resp.drag_stopped() {
                    self.effects.freehand(p, Phase::End);
                }
                if resp.clicked() {
                    self.effects.click(p, w, h);
                }
                if resp.double_clicked() {
                    self.effects.close();
                }
            }
            return;
        }
        if resp.drag_started() {
            // The drag begins where the button went down, not where it was recognised as a drag.
            let origin = pointer.press_origin().or(pointer.interact_pos());
            let Some(p) = origin.map(|o| self.view.image_at(pane, o)) else {
                return;
            };
            // Shift + drag measures a length (with any tool).
            if pointer.primary_down() && ui.input(|i| i.modifiers.shift) {
                self.ruler = Some([p, p]);
                self.ruling = true;
                return;
            }
            let button = if pointer.middle_down() {
                Button::Middle
            } else if pointer.secondary_down() {
                Button::Secondary
            } else {
                Button::Primary
            };
            self.tool.begin(&mut self.session, p, button, tol);
        }
        if self.ruling {
            if let (Some(p), Some(r)) = (pos, self.ruler.as_mut()) {
                r[1] = p;
            }
            if resp.drag_stopped() || !pointer.primary_down() {
                self.ruling = false;
            }
            return;
        }
        if resp.dragged()
            && let Some(p) = pos
        {
            let d = resp.drag_delta();
            let t = resp.total_drag_delta().unwrap_or_default();
            match self.tool.drag(&mut self.session, p, (d.x, d.y), (t.x, t.y)) {
                Effect::None => {}
                Effect::Pan { dx, dy } => {
                    self.view.fit = false;
                    self.view.center[0] -= dx / self.view.scale;
                    self.view.center[1] -= dy / self.view.scale;
                }
                Effect::Window => self.uploads.image = None,
            }
        }
        if resp.drag_stopped() {
            self.tool.end(&mut self.session, pos);
        }
        if resp.clicked()
            && let Some(p) = pos
        {
            self.tool.click(&mut self.session, p, tol);
        }
        if resp.double_clicked() && self.session.tool == Tool::Polygon {
            self.tool.close_polygon(&mut self.session);
        }
    }
}

/// The ruler's length from `a` to `b` (image pixels), in millimetres when the spacing
/// (row, column) is known.
pub fn ruler_text(a: (f32, f32), b: (f32, f32), spacing: Option<[f64; 2]>) -> String {
    let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
    let px = (dx * dx + dy * dy).sqrt();
    match spacing {
        Some([dr, dc]) => format!(
            "{:.1} mm ({px:.1} px)",
            ((dx * dc).powi(2) + (dy * dr).powi(2)).sqrt()
        ),
        None => format!("{px:.1} px"),
    }
}

/// In place of the canvas when the current image's file is not the image its annotations belong
/// to: the problem, and the two ways out.
pub(super) fn changed_image_ui(ui: &mut egui::Ui, problem: &str, editable: bool) -> Vec<Action> {
    let mut out = Vec::new();
    ui.vertical_centered(|ui| {
        ui.add_space(40.0);
        ui.heading("Image changed on disk");
        ui.label(problem);
        ui.add_space(8.0);
        ui.add_enabled_ui(editable, |ui| {
            if ui
                .button("Relink…")
                .on_hover_text("Point this entry at the file named in the path field; it must be the same image (same SOP Instance UID or SHA-256)")
                .clicked()
            {
                out.push(Action::RelinkImage);
            }
            if ui
                .button("Accept new file")
                .on_hover_text("The file there now is this image: show the annotations on it")
                .clicked()
            {
                out.push(Action::AcceptChangedImage);
            }
        });
    });
    out
}
