//! How the window shows that work is running without taking the cores from it.
//!
//! egui's spinner asks for a new frame every frame. With a GPU that costs nothing, but with a
//! software renderer (lavapipe, llvmpipe: a machine or a remote desktop without a GPU) one frame
//! of the workbench takes ~100–150 ms of both cores, so an animated spinner halves the speed of
//! the model it is waiting for. There the mark stands still and the window repaints when a
//! worker reports (each reply wakes it) or at a slow tick.

use std::time::Duration;

use eframe::egui;

/// The context's flag: the window is drawn by a software renderer.
fn flag() -> egui::Id {
    egui::Id::unique("vitscope-software-renderer")
}

/// Records whether a software renderer draws the window.
pub fn set_software_renderer(ctx: &egui::Context, software: bool) {
    ctx.data_mut(|d| d.insert_temp(flag(), software));
}

/// Whether a software renderer draws the window.
pub fn software_renderer(ctx: &egui::Context) -> bool {
    ctx.data(|d| d.get_temp(flag())).unwrap_or(false)
}

/// How often to repaint while a worker runs, besides its own wake-ups: often enough for a
/// smooth progress display on a GPU, rarely with a software renderer.
pub fn busy_tick(ctx: &egui::Context) -> Duration {
    if software_renderer(ctx) {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(100)
    }
}

/// Wakes the window after a worker's reply: at once with a GPU; with a software renderer within
/// 250 ms, so that the replies of one job (progress, each map, each score) arriving close
/// together cost one frame rather than one each.
pub fn wake(ctx: &egui::Context) {
    if software_renderer(ctx) {
        ctx.request_repaint_after(Duration::from_millis(250));
    } else {
        ctx.request_repaint();
    }
}

/// A spinner; with a software renderer a still three-quarter ring in its place.
pub fn busy_mark(ui: &mut egui::Ui) {
    if !software_renderer(ui.ctx()) {
        ui.spinner();
        return;
    }
    let size = ui.style().spacing.interact_size.y;
    let (rect, _) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    let radius = rect.height() / 2.0 - 2.0;
    let points = (0..=24)
        .map(|i| {
            let a = std::f32::consts::PI * (0.25 + 1.5 * i as f32 / 24.0);
            rect.center() + radius * egui::vec2(a.cos(), a.sin())
        })
        .collect();
    let stroke = egui::Stroke::new(3.0, ui.visuals().strong_text_color());
    ui.painter().add(egui::Shape::line(points, stroke));
}
