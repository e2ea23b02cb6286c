//! The F1 panel, generated from the command registry.

use eframe::egui;

use crate::app::commands::{POINTER_HELP, UiCommand};

/// Draws the help window while `open`.
pub fn help_window(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Shortcuts").open(open).show(ctx, |ui| {
        egui::Grid::new("help").show(ui, |ui| {
            for c in UiCommand::ALL.into_iter().chain([UiCommand::Help]) {
                let keys = c.keys_text();
                if keys.is_empty() {
                    continue;
                }
                ui.strong(keys);
                ui.label(format!("{}: {}", c.label(), c.help()));
                ui.end_row();
            }
            for (k, what) in POINTER_HELP {
                ui.strong(k);
                ui.label(what);
                ui.end_row();
            }
        });
    });
}
