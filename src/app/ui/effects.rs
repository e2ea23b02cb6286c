//! The Effects section of the annotate panel: the segment-editor effects of [`crate::assist`]
//! (threshold, islands, margin, smoothing, fill holes, map → mask) on the selected class of the
//! current image, exactly as `vitscope mask` computes them. An effect is previewed first (how
//! many pixels it adds and removes, and the mask it leaves, as a thumbnail), then applied as one
//! undoable edit; the live scores follow it as after any stroke.

use eframe::egui;

use crate::app::slots::MapSlot;

/// The effects offered here.
pub(super) const KINDS: [&str; 6] = [
    "Threshold",
    "Islands",
    "Margin",
    "Smoothing",
    "Fill holes",
    "Map → mask",
];

/// An image's file, its values as `vitscope mask` reads them, and its spacing.
pub(super) type FileValues = (
    std::path::PathBuf,
    std::sync::Arc<Vec<f64>>,
    Option<(f64, f64)>,
);

/// The effect's settings and its last preview.
pub struct EffectsPanel {
    pub(super) kind: usize,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) eight: bool,
    pub(super) keep_min: bool,
    pub(super) min_px: usize,
    pub(super) mm: f64,
    pub(super) smooth: usize,
    pub(super) px: usize,
    pub(super) slot: MapSlot,
    /// (edit generation, settings, the mask after, pixels added, pixels removed).
    pub(super) preview: Option<(u64, String, Vec<u8>, usize, usize)>,
    pub(super) thumb: Option<egui::TextureHandle>,
    /// The current image's values as `vitscope mask` reads them (file, values, spacing).
    pub(super) values: Option<FileValues>,
}

impl Default for EffectsPanel {
    fn default() -> Self {
        EffectsPanel {
            kind: 0,
            lo: 0.0,
            hi: 0.0,
            eight: true,
            keep_min: false,
            min_px: 50,
            mm: 1.0,
            smooth: 0,
            px: 2,
            slot: MapSlot::Chefer,
            preview: None,
            thumb: None,
            values: None,
        }
    }
}

impl EffectsPanel {
    pub(super) fn key(&self) -> String {
        format!(
            "{} {} {} {} {} {} {} {} {} {:?}",
            self.kind,
            self.lo,
            self.hi,
            self.eight,
            self.keep_min,
            self.min_px,
            self.mm,
            self.smooth,
            self.px,
            self.slot
        )
    }
}
