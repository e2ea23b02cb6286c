//! The plots: IoU against k for the current image, and with "Score all images" the distribution
//! over the project and the box-minus-mask difference per image.

use eframe::egui::{self, Color32};
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints};

use super::action::Action;
use crate::app::slots::{MapSlot, PerMap};
use crate::app::store::{BatchScores, FaithState};
use crate::app::worker::{FaithCurves, MapScores};
use crate::faithfulness::suite::Test;

/// Line colours of the three maps in the plots.
const PLOT_COLORS: PerMap<Color32> = PerMap::from_array([
    Color32::from_rgb(90, 160, 255),
    Color32::from_rgb(255, 160, 60),
    Color32::from_rgb(220, 80, 200),
]);

/// What the analysis column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Analysis {
    /// IoU against k.
    #[default]
    Iou,
    /// The curves of one faithfulness test.
    Faithfulness(Test),
}

/// The analysis column: a choice of view, then IoU against k or a faithfulness test's curves.
pub fn analysis_ui(
    ui: &mut egui::Ui,
    view: &mut Analysis,
    scores: &PerMap<Option<MapScores>>,
    curves: &PerMap<Option<std::sync::Arc<FaithCurves>>>,
    faith: &FaithState,
) -> Vec<Action> {
    let mut out = Vec::new();
    ui.horizontal(|ui| {
        ui.selectable_value(view, Analysis::Iou, "IoU vs k");
        for t in Test::ALL {
            ui.selectable_value(view, Analysis::Faithfulness(t), t.name())
                .on_hover_text(test_help(t));
        }
    });
    match *view {
        Analysis::Iou => curve_plot_ui(ui, scores),
        Analysis::Faithfulness(t) => out.extend(faith_plot_ui(ui, t, curves, faith)),
    }
    out
}

fn test_help(t: Test) -> &'static str {
    match t {
        Test::PerturbPos => {
            "Most relevant pixels set to black first, 10 % … 90 %: a faithful map makes the prediction fall fast (low AUC)"
        }
        Test::PerturbNeg => {
            "Least relevant pixels set to black first: a faithful map keeps the prediction (high AUC)"
        }
        Test::Deletion => {
            "RISE deletion: most relevant pixels replaced by the mean colour, 224 per step: a faithful map makes the probability fall fast (low AUC)"
        }
        Test::Insertion => {
            "RISE insertion: most relevant pixels revealed on a blurred image first: a faithful map makes the probability rise fast (high AUC)"
        }
    }
}

/// The probability of the clean class against the share of pixels moved, one line per map.
fn faith_plot_ui(
    ui: &mut egui::Ui,
    test: Test,
    curves: &PerMap<Option<std::sync::Arc<FaithCurves>>>,
    faith: &FaithState,
) -> Vec<Action> {
    let mut out = Vec::new();
    ui.horizontal(|ui| {
        if faith.running {
            super::busy::busy_mark(ui);
            let (done, total) = faith.progress;
            ui.label(format!("{done} / {total} forwards"));
            if ui.button("Cancel").clicked() {
                out.push(Action::CancelFaithfulness);
            }
        } else if curves.present().count() < MapSlot::ALL.len()
            && ui
                .button("Run faithfulness tests")
                .on_hover_text(
                    "Perturbation, deletion and insertion of the shown maps (the model thread runs them)",
                )
                .clicked()
        {
            out.push(Action::RunFaithfulness);
        }
    });
    let better = if test.lower_is_better() {
        "lower"
    } else {
        "higher"
    };
    ui.label(format!(
        "{test}: probability of the clean class ({better} AUC is more faithful)"
    ));
    Plot::new("faith_curve")
        .height(ui.available_height().max(120.0))
        .legend(Legend::default())
        .include_x(0.0)
        .include_x(1.0)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |plot| {
            for (slot, c) in curves.present() {
                let Some((_, o)) = c.iter().find(|(t, _)| *t == test) else {
                    continue;
                };
                let (x, y) = o.curve();
                let pts: PlotPoints = x.iter().zip(&y).map(|(x, y)| [*x, *y as f64]).collect();
                plot.line(
                    Line::new(format!("{} (AUC {:.3})", slot.name(), o.auc()), pts)
                        .color(PLOT_COLORS[slot]),
                );
            }
        });
    out
}

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
            super::busy::busy_mark(ui);
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
