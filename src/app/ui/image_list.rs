//! The image list: status dots, prev / next, the status buttons, the value under the cursor and
//! the DICOM window and frame.

use eframe::egui::{self, Color32, Sense, Vec2};

use super::action::Action;
use crate::app::commands::UiCommand;
use crate::app::state::Session;
use crate::project::Status;

fn status_color(s: Status) -> Color32 {
    match s {
        Status::Todo => Color32::GRAY,
        Status::InProgress => Color32::from_rgb(230, 180, 40),
        Status::Done => Color32::from_rgb(60, 190, 90),
        Status::Flagged => Color32::from_rgb(230, 70, 70),
    }
}

/// Draws the list; `hover` is the image pixel under the cursor.
pub fn image_list_ui(ui: &mut egui::Ui, s: &Session, hover: Option<(usize, usize)>) -> Vec<Action> {
    let mut out = Vec::new();
    ui.heading("Images");
    ui.horizontal(|ui| {
        for c in [UiCommand::PrevImage, UiCommand::NextImage] {
            if ui.button(c.label()).on_hover_text(c.tooltip()).clicked() {
                out.push(Action::Command(c));
            }
        }
    });
    egui::ScrollArea::vertical()
        .max_height(ui.available_height() - 150.0)
        .show(ui, |ui| {
            for (i, e) in s.project.images.iter().enumerate() {
                let mut name = e
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Each frame of a multi-frame instance is an entry of its own.
                if e.frame > 0 {
                    name += &format!(" · frame {}", e.frame);
                }
                // An image whose file changed on disk is marked (its annotations are kept, not
                // shown).
                if !s.checks.get(i).is_none_or(|c| c.is_ok()) {
                    name = format!("⚠ {name}");
                }
                ui.horizontal(|ui| {
                    let (dot, resp) = ui.allocate_exact_size(Vec2::splat(12.0), Sense::hover());
                    ui.painter()
                        .circle_filled(dot.center(), 5.0, status_color(e.status));
                    resp.on_hover_text(e.status.name());
                    let r = ui.selectable_label(i == s.current, name);
                    let r = match s.checks.get(i).and_then(|c| c.problem()) {
                        Some(p) => r.on_hover_text(p),
                        None => r,
                    };
                    if r.clicked() {
                        out.push(Action::OpenImage(i));
                    }
                });
            }
        });
    ui.separator();
    ui.label("Status (Ctrl+1..4)");
    let current = s.project.images.get(s.current).map(|e| e.status);
    ui.horizontal_wrapped(|ui| {
        for (i, st) in Status::ALL.into_iter().enumerate() {
            let c = UiCommand::SetStatus(i as u8);
            if ui
                .selectable_label(current == Some(st), st.name())
                .on_hover_text(c.tooltip())
                .clicked()
            {
                out.push(Action::Command(c));
            }
        }
    });
    if let (Some(l), Some((x, y))) = (&s.loaded, hover) {
        let v = l.values.get(y * l.width() + x).copied().unwrap_or(0.0);
        ui.label(format!("x {x}  y {y}  value {v:.4}"));
    }
    if let Some((index, d)) = s
        .loaded
        .as_ref()
        .and_then(|l| Some((l.index, l.dicom.clone()?)))
    {
        ui.separator();
        ui.label("Window (right-drag)");
        let (mut c, mut w) = d.effective_window(s.project.images[index].window);
        let a = ui.add(egui::DragValue::new(&mut c).prefix("C "));
        let b = ui.add(egui::DragValue::new(&mut w).prefix("W ").range(1.0..=1e6));
        if a.changed() || b.changed() {
            out.push(Action::SetWindow((c, w)));
        }
        if d.frames > 1 {
            let mut f = s.project.images[index].frame;
            let r = ui.add(
                egui::DragValue::new(&mut f)
                    .range(0..=d.frames - 1)
                    .prefix("frame "),
            );
            if r.changed() {
                out.push(Action::SetFrame(f));
            }
        }
    }
    out
}
