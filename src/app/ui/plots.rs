//! The plots: IoU against k for the current image, and with "Score all images" the distribution
//! over the project and the box-minus-mask difference per image.

use eframe::egui::{self, Color32};
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints};

use super::Action;
use crate::app::slots::{MapSlot, PerMap};
use crate::app::store::BatchScores;
use crate::app::worker::MapScores;

/// Line colours of the three maps in the plots.
const PLOT_COLORS: PerMap<Color32> = PerMap::from_array([
    Color32::from_rgb(90, 160, 255),
    Color32::from_rgb(255, 160, 60),
    Color32::from_rgb(220, 80, 200),
]);

/// IoU against k of the current image.
pub fn curve_plot_ui(ui: &mut egui::Ui, scores: &PerMap<Option<MapScores>>) {
    ui.label("IoU (rect, solid; mask, dashed) against top k %");
    Plot::new("iou_curve")
        .height(ui.available_height().max(120.0))
        .legend(Legend::default())
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |plot| {
            for (slot, s) in scores.present() {
                if s.truth.mask_pixels == 0 {
                    continue;
                }
                let mut tops: Vec<_> = s.truth.top.iter().collect();
                tops.sort_by(|a, b| a.top_perc.total_cmp(&b.top_perc));
                let rect: PlotPoints = tops.iter().map(|t| [t.top_perc, t.iou_rect]).collect();
                let bin: PlotPoints = tops.iter().map(|t| [t.top_perc, t.iou_binary]).collect();
                plot.line(Line::new(slot.name(), rect).color(PLOT_COLORS[slot]));
                plot.line(
                    Line::new(format!("{} mask", slot.name()), bin)
                        .color(PLOT_COLORS[slot])
                        .style(egui_plot::LineStyle::dashed_loose()),
                );
            }
        });
}

/// The project plots and the batch controls.
pub fn project_plots_ui(ui: &mut egui::Ui, batch: &BatchScores) -> Vec<Action> {
    let mut out = Vec::new();
    ui.horizontal(|ui| {
        if ui
            .button("Score all images")
            .on_hover_text("Compute the maps and scores of every image for the plots below")
            .clicked()
        {
            out.push(Action::ScoreAll);
        }
        if batch.busy() {
            ui.spinner();
            ui.label(format!("{} to go", batch.left()));
            if ui.button("Cancel").clicked() {
                out.push(Action::CancelScoring);
            }
        } else if !batch.failed.is_empty() {
            ui.label(format!("{} images failed", batch.failed.len()))
                .on_hover_text(
                    batch
                        .failed
                        .iter()
                        .map(|(i, e)| format!("image {}: {e}", i + 1))
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
        }
    });
    if batch.rows.is_empty() {
        return out;
    }
    ui.label("IoU rect per image (distribution over the project)");
    Plot::new("distribution")
        .height(((ui.available_height() - 30.0) / 2.0).max(60.0))
        .legend(Legend::default())
        .show(ui, |plot| {
            for slot in MapSlot::ALL {
                let mut bins = [0usize; 10];
                for (_, row) in &batch.rows {
                    if let Some(s) = row[slot]
                        && !s.iou.is_nan()
                    {
                        bins[((s.iou * 10.0) as usize).min(9)] += 1;
                    }
                }
                let off = slot.index() as f64 * 0.025 - 0.025;
                let bars: Vec<Bar> = bins
                    .iter()
                    .enumerate()
                    .map(|(b, &n)| Bar::new(b as f64 * 0.1 + 0.05 + off, n as f64).width(0.025))
                    .collect();
                plot.bar_chart(BarChart::new(slot.name(), bars).color(PLOT_COLORS[slot]));
            }
        });
    ui.label("Box minus mask IoU per image");
    Plot::new("box_vs_mask")
        .height(ui.available_height().max(60.0))
        .legend(Legend::default())
        .show(ui, |plot| {
            for slot in MapSlot::ALL {
                let off = slot.index() as f64 * 0.25 - 0.25;
                let bars: Vec<Bar> = batch
                    .rows
                    .iter()
                    .filter_map(|(i, row)| {
                        let d = row[slot]?.box_delta?;
                        Some(Bar::new(*i as f64 + off, d).width(0.25))
                    })
                    .collect();
                plot.bar_chart(
                    BarChart::new(format!("{} Δ", slot.name()), bars).color(PLOT_COLORS[slot]),
                );
            }
        });
    out
}
