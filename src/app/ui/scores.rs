//! The scores table: pointing game, energy, IoU (rect, mask), Dice and box Δ at the slider's k,
//! and IoU at the paper's four k, for each map.

use eframe::egui;

use crate::app::slots::{MapSlot, PerMap};
use crate::app::transfer::fmt_score;
use crate::app::worker::{FaithCurves, MapScores};
use crate::faithfulness::suite::Test;
use crate::metrics::PAPER_TOPS;

/// The faithfulness AUC columns: test and header.
const FAITH_COLUMNS: [(Test, &str); 4] = [
    (Test::PerturbPos, "pert+"),
    (Test::PerturbNeg, "pert−"),
    (Test::Deletion, "del"),
    (Test::Insertion, "ins"),
];

/// Draws the table; `p` is the slider's k (`None`: a value threshold); `ms` the job's time.
pub fn scores_ui(
    ui: &mut egui::Ui,
    scores: &PerMap<Option<MapScores>>,
    faith: &PerMap<Option<std::sync::Arc<FaithCurves>>>,
    p: Option<f64>,
    ms: Option<f64>,
) {
    let head = match p {
        Some(p) => format!("at top {p} %"),
        None => "at the value threshold".into(),
    };
    match ms {
        Some(ms) => ui.label(format!("Scores {head} ({ms:.1} ms)")),
        None => ui.label(format!("Scores {head}")),
    };
    let unannotated = scores
        .present()
        .next()
        .is_some_and(|(_, s)| s.truth.mask_pixels == 0);
    if unannotated {
        ui.label("This image has no annotation yet: draw a box or a mask to score the maps.");
        return;
    }
    egui::Grid::new("metrics").striped(true).show(ui, |ui| {
        for h in [
            "map", "PG", "energy", "IoU rect", "IoU mask", "Dice", "box Δ",
        ] {
            ui.strong(h);
        }
        for pp in PAPER_TOPS {
            ui.strong(format!("@{pp}"));
        }
        for (t, h) in FAITH_COLUMNS {
            ui.strong(h)
                .on_hover_text(format!("{t} AUC (Faithfulness view)"));
        }
        ui.end_row();
        for slot in MapSlot::ALL {
            ui.label(slot.name());
            let Some(s) = &scores[slot] else {
                ui.label("…");
                ui.end_row();
                continue;
            };
            let at = match p {
                Some(p) => s.truth.top.iter().find(|t| t.top_perc == p).cloned(),
                None => s.absolute.clone(),
            };
            ui.label(if s.truth.pointing_game { "hit" } else { "miss" });
            ui.label(fmt_score(s.truth.energy));
            match &at {
                Some(t) => {
                    ui.label(fmt_score(t.iou_rect));
                    ui.label(fmt_score(t.iou_binary));
                    ui.label(fmt_score(t.dice));
                }
                None => {
                    for _ in 0..3 {
                        ui.label("–");
                    }
                }
            }
            let delta = p.and_then(|p| {
                let b = s.boxes.as_ref()?.top.iter().find(|t| t.top_perc == p)?;
                Some(b.iou_rect - at.as_ref()?.iou_rect)
            });
            ui.label(
                delta
                    .map(|d| format!("{d:+.3}"))
                    .unwrap_or_else(|| "–".into()),
            );
            for pp in PAPER_TOPS {
                let v = s
                    .truth
                    .top
                    .iter()
                    .find(|t| t.top_perc == pp)
                    .map(|t| t.iou_rect);
                ui.label(v.map(fmt_score).unwrap_or_else(|| "–".into()));
            }
            for (t, _) in FAITH_COLUMNS {
                let auc = faith[slot]
                    .as_ref()
                    .and_then(|c| c.iter().find(|(x, _)| *x == t).map(|(_, o)| o.auc()));
                ui.label(auc.map(fmt_score).unwrap_or_else(|| "–".into()));
            }
            ui.end_row();
        }
    });
}
