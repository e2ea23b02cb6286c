//! The overlay panel: colormap, the map of the single view, opacities, the threshold and what is
//! drawn. It edits the project's view settings directly (they are saved with it).

use eframe::egui;

use crate::app::overlay::COLORMAPS;
use crate::app::slots::MapSlot;
use crate::project::{Layout, Threshold, ViewSettings};

/// Draws the panel.
pub fn overlay_ui(ui: &mut egui::Ui, v: &mut ViewSettings) {
    egui::ComboBox::from_label("Colormap")
        .selected_text(format!("{:?}", v.colormap).to_lowercase())
        .show_ui(ui, |ui| {
            for c in COLORMAPS {
                ui.selectable_value(&mut v.colormap, c, format!("{c:?}").to_lowercase());
            }
        });
    if v.layout != Layout::Four {
        let shown = MapSlot::from_index(v.overlay).unwrap_or(MapSlot::Chefer);
        egui::ComboBox::from_label("Map")
            .selected_text(shown.name())
            .show_ui(ui, |ui| {
                for s in MapSlot::ALL {
                    ui.selectable_value(&mut v.overlay, s.index(), s.name());
                }
            });
    }
    for s in MapSlot::ALL {
        ui.add(
            egui::Slider::new(&mut v.opacity[s.index()], 0.0..=1.0)
                .text(format!("{} opacity", s.name())),
        );
    }
    let mut absolute = matches!(v.threshold, Threshold::Absolute(_));
    ui.horizontal(|ui| {
        ui.label("Threshold by");
        if ui.radio_value(&mut absolute, false, "top k %").changed()
            || ui.radio_value(&mut absolute, true, "value").changed()
        {
            v.threshold = if absolute {
                Threshold::Absolute(0.5)
            } else {
                Threshold::TopPercent(20.0)
            };
        }
    });
    match &mut v.threshold {
        Threshold::TopPercent(p) => {
            ui.add(
                egui::Slider::new(p, 1.0..=90.0)
                    .step_by(1.0)
                    .text("Threshold top %"),
            );
        }
        Threshold::Absolute(t) => {
            ui.add(egui::Slider::new(t, 0.0..=1.0).text("Threshold value"));
        }
    }
    ui.checkbox(&mut v.outline, "Outline of the selected region");
    ui.checkbox(&mut v.hit_miss, "Hit / miss colouring");
    ui.checkbox(&mut v.show_mask, "Show annotation");
    ui.add(egui::Slider::new(&mut v.mask_opacity, 0.0..=1.0).text("Annotation opacity"));
}
