//! The study views, in the Study window:
//! - **Grid**: rows = the project's checkpoints (e.g. four initialisations), columns = the
//!   three compared methods, like the paper's figure. Every cell is the map over the image with
//!   its pointing game and IoU at the current threshold; zoom (scroll) and pan (drag) act on all
//!   cells at once; "open" shows that checkpoint's map as the single view. The maps of every
//!   checkpoint are computed by the model worker and cached like the live ones.
//! - **Layers**: the class-token attention of every block (rows) and head (columns, then the
//!   mean over heads) of the current image and checkpoint, as small multiples, each with its
//!   pointing game and IoU against the annotation (the sweep of `eval --layers`).

use std::collections::HashMap;

use eframe::egui;

use crate::io::colormap::Colormap;
use crate::metrics::{self, Mask};

/// Which study view is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StudyTab {
    /// Checkpoints × methods.
    #[default]
    Grid,
    /// Blocks × heads.
    Layers,
}

/// A cell's score: pointing-game hit and IoU of the top-p region's rectangle.
pub type CellScore = Option<(bool, f64)>;

/// A layer-scoring thread: (sweep, generation, threshold) and where its scores arrive.
pub(super) type LayerJob = (
    u64,
    u64,
    String,
    std::sync::mpsc::Receiver<Vec<Vec<CellScore>>>,
);

/// State of the Study window: tab, the shared zoom and pan, textures and cached scores.
#[derive(Default)]
pub struct StudyView {
    /// Shown tab.
    pub tab: StudyTab,
    /// Zoom of every grid cell (1 = the whole image).
    pub zoom: f32,
    /// Centre of the shown region, in image coordinates (0..1).
    pub centre: egui::Vec2,
    /// Grid textures by map identity.
    pub(super) textures: HashMap<usize, egui::TextureHandle>,
    /// Grid scores by map identity: (edit generation, threshold, score).
    pub(super) scores: HashMap<usize, (u64, String, CellScore)>,
    /// Layer textures of sweep `layers_id`.
    pub(super) layer_textures: Vec<Vec<egui::TextureHandle>>,
    pub(super) layers_id: u64,
    /// Layer scores of sweep `layers_id` at (generation, threshold).
    pub(super) layer_scores: Option<(u64, u64, String, Vec<Vec<CellScore>>)>,
    /// The scoring of a sweep in progress, for (sweep, generation, threshold): up to hundreds of
    /// maps at full resolution, so it runs in a thread of its own.
    pub(super) layer_job: Option<LayerJob>,
}

impl StudyView {
    pub(super) fn uv(&self) -> egui::Rect {
        let zoom = self.zoom.max(1.0);
        let half = 0.5 / zoom;
        let c = egui::pos2(
            self.centre.x.clamp(half, 1.0 - half),
            self.centre.y.clamp(half, 1.0 - half),
        );
        egui::Rect::from_center_size(c, egui::vec2(2.0 * half, 2.0 * half))
    }
}

/// RGBA of `values` (in [0, 1]) under `colormap`, blended over `base` (RGB8) at `alpha`.
pub(super) fn blend(
    values: &[f32],
    base: Option<&[u8]>,
    colormap: Colormap,
    alpha: f32,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 4);
    for (i, &v) in values.iter().enumerate() {
        let c = colormap.rgb(v.clamp(0.0, 1.0));
        for k in 0..3 {
            let m = c[k].clamp(0.0, 1.0) * 255.0;
            let b = base.map_or(m, |b| b[i * 3 + k] as f32);
            out.push((b * (1.0 - alpha) + m * alpha).round() as u8);
        }
        out.push(255);
    }
    out
}

/// Pointing game and IoU at `p` % of a map against `truth` (`None` without an annotation or a
/// percentage).
pub(super) fn cell_score(values: &[f32], truth: &Mask, p: Option<f64>) -> CellScore {
    let p = p?;
    if truth.count() == 0 || values.len() != truth.width * truth.height {
        return None;
    }
    let s = metrics::compute_cpu(values, truth.width, truth.height, truth, &[p]).ok()?;
    Some((s.pointing_game, s.top[0].iou_rect))
}

pub(super) fn score_label(s: CellScore, p: Option<f64>) -> String {
    match (s, p) {
        (Some((hit, iou)), Some(p)) => {
            format!("PG {}  IoU@{p}% {iou:.3}", if hit { "hit" } else { "miss" })
        }
        _ => "PG –  IoU –".to_string(),
    }
}
