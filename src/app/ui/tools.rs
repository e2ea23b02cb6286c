//! The annotate panel: tools, brush size, fill tolerance, label classes, box/mask conversions,
//! undo / redo and the annotation's size.

use eframe::egui::{self, Color32};

use super::action::Action;
use super::workbench::Workbench;
use crate::app::commands::UiCommand;
use crate::app::state::Tool;

fn command_button(ui: &mut egui::Ui, c: UiCommand, enabled: bool, out: &mut Vec<Action>) {
    if ui
        .add_enabled(enabled, egui::Button::new(c.label()))
        .on_hover_text(c.tooltip())
        .clicked()
    {
        out.push(Action::Command(c));
    }
}

impl Workbench {
    pub(super) fn tools_ui(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
        let mut out = Vec::new();
        ui.horizontal_wrapped(|ui| {
            for tool in Tool::ALL {
                let c = UiCommand::Tool(tool);
                if ui
                    .selectable_label(self.session.tool == tool, c.label_with_shortcut())
                    .on_hover_text(c.tooltip())
                    .clicked()
                {
                    out.push(Action::Command(c));
                }
            }
        });
        let s = &mut self.session;
        ui.add(
            egui::Slider::new(&mut s.brush_radius, 1.0..=200.0)
                .logarithmic(true)
                .text("Brush radius ([ ])"),
        );
        let span = s
            .loaded
            .as_ref()
            .map(|l| (l.value_range.1 - l.value_range.0).max(1e-6))
            .unwrap_or(1.0);
        ui.add(
            egui::Slider::new(&mut s.fill_tolerance, 0.0..=span)
                .text("Fill tolerance (0 = by mask region)"),
        )
        .on_hover_text("Grows the fill over pixels within this much of the clicked pixel's value (modality units for DICOM)");
        ui.horizontal_wrapped(|ui| {
            ui.label("Class:");
            for (i, c) in s.project.classes.iter().enumerate() {
                let color = Color32::from_rgb(c.color[0], c.color[1], c.color[2]);
                let text = egui::RichText::new(&c.name).color(color);
                let r = ui.selectable_label(s.class as usize == i + 1, text);
                super::probe::note(ui, &format!("class: {}", c.name), &r);
                if r.clicked() {
                    s.class = (i + 1) as u8;
                }
            }
            if s.project.classes.len() < 8
                && ui
                    .small_button("+")
                    .on_hover_text("Add a label class")
                    .clicked()
            {
                out.push(Action::AddClass);
            }
        });
        if let Some(c) = s
            .project
            .classes
            .get_mut((s.class as usize).wrapping_sub(1))
        {
            ui.horizontal(|ui| {
                let name = ui.add(
                    egui::TextEdit::singleline(&mut c.name)
                        .hint_text("class name")
                        .desired_width(140.0),
                );
                let color = ui.color_edit_button_srgb(&mut c.color);
                if name.changed() || color.changed() {
                    out.push(Action::ClassEdited);
                }
            });
        }
        let selected = s.selected_box.is_some();
        ui.horizontal_wrapped(|ui| {
            if ui.button("Mask from boxes").clicked() {
                out.push(Action::MaskFromBoxes);
            }
            if ui.button("Box from mask").clicked() {
                out.push(Action::BoxFromMask);
            }
            command_button(ui, UiCommand::DeleteBox, selected, &mut out);
        });
        let (u, r) = s
            .states
            .get(s.current)
            .and_then(|s| s.as_ref())
            .map(|s| (s.history.undo_len(), s.history.redo_len()))
            .unwrap_or((0, 0));
        let boxes = s.ann().map(|a| a.boxes.len()).unwrap_or(0);
        // Counting a 2048² mask took ~3 ms a frame, so once per edit (a stroke in progress shows
        // the count from before it).
        let key = (s.current, s.edit_generation);
        let px = match self.mask_px {
            Some((k, n)) if k == key => n,
            _ => {
                let n = s.mask_pixels();
                self.mask_px = Some((key, n));
                n
            }
        };
        ui.horizontal(|ui| {
            command_button(ui, UiCommand::Undo, u > 0, &mut out);
            command_button(ui, UiCommand::Redo, r > 0, &mut out);
            ui.label(format!("{boxes} boxes, {px} mask px"));
        });
        let dicom = s.loaded.as_ref().and_then(|l| l.dicom.clone());
        if let Some(d) = dicom {
            ui.separator();
            let window = s
                .loaded
                .as_ref()
                .and_then(|l| s.project.images.get(l.index))
                .and_then(|e| e.window);
            let (c, w) = d.effective_window(window);
            ui.label(format!(
                "DICOM window C {c:.0} W {w:.0} ({:?} VOI)",
                d.voi_function
            ));
            ui.horizontal_wrapped(|ui| {
                for i in 0..=crate::io::dicom::CT_PRESETS.len() as u8 {
                    let c = UiCommand::Window(i);
                    if ui
                        .small_button(c.label_with_shortcut())
                        .on_hover_text(c.tooltip())
                        .clicked()
                    {
                        out.push(Action::Command(c));
                    }
                }
            });
            match d.pixel_spacing {
                Some([dr, dc]) => {
                    ui.label(format!(
                        "Pixel spacing {dr:.3} × {dc:.3} mm; mask area {:.1} mm²",
                        px as f64 * dr * dc
                    ));
                    let sel = s
                        .selected_box
                        .and_then(|i| s.ann().and_then(|a| a.boxes.get(i)).copied());
                    if let Some(b) = sel {
                        let (bw, bh) = (b.x1.saturating_sub(b.x0), b.y1.saturating_sub(b.y0));
                        ui.label(format!(
                            "Box {bw} × {bh} px = {:.1} × {:.1} mm",
                            bw as f64 * dc,
                            bh as f64 * dr
                        ));
                    }
                    if let Some((x, y)) = self.hover {
                        ui.label(format!(
                            "Cursor ({x}, {y}) px = ({:.1}, {:.1}) mm",
                            x as f64 * dc,
                            y as f64 * dr
                        ));
                    }
                    if let Some([a, b]) = self.ruler {
                        ui.label(format!(
                            "Ruler (Shift + drag) {}",
                            super::canvas::ruler_text(a, b, Some([dr, dc]))
                        ));
                    }
                }
                None => {
                    ui.label("No pixel spacing in the file: sizes in pixels only");
                }
            }
        }
        out
    }
}
