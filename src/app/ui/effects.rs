//! The Effects section of the annotate panel: the segment-editor effects of [`crate::assist`]
//! (threshold with paint within the range, islands, margin, smoothing, fill holes, grow from
//! seeds, scissors, map → mask) on the selected class of the current image, exactly as
//! `vitscope mask` computes them. An effect is previewed first — over the image (the resulting
//! region, pixels added in green and removed in red) and as counts — computed off the UI thread,
//! then applied as one undoable edit; the live scores follow it as after any stroke.

use std::path::PathBuf;

use eframe::egui;

pub use crate::app::effect_preview::EffectKind;
use crate::app::effect_preview::{Job, Preview, Values};
use crate::app::slots::MapSlot;
use crate::assist::Scissors;

/// Which islands stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepMode {
    /// The largest.
    Largest,
    /// Those of at least `min_px` pixels.
    MinPx,
    /// The one clicked on the image.
    Clicked,
}

/// (edit generation, image index, the settings as text): what a preview is of.
pub type PreviewKey = (u64, usize, String);

/// The effect's settings, its jobs and its last preview.
pub struct EffectsPanel {
    pub(super) kind: EffectKind,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) invert: bool,
    /// The brush and eraser change only the pixels the threshold selects.
    pub(super) paint_within: bool,
    /// (image file, lo, hi, invert) of the range given to the brush last.
    pub(super) paint_key: Option<(PathBuf, f64, f64, bool)>,
    pub(super) eight: bool,
    pub(super) keep: KeepMode,
    pub(super) min_px: usize,
    /// The island clicked (column, row).
    pub(super) at: Option<(usize, usize)>,
    pub(super) mm: f64,
    pub(super) smooth: usize,
    pub(super) px: usize,
    /// Grow: the class whose grown area is left unlabelled.
    pub(super) background: Option<u8>,
    /// Scissors: the outline (x = column, y = row), closed once complete.
    pub(super) outline: Vec<(f64, f64)>,
    pub(super) closed: bool,
    pub(super) freehand: bool,
    pub(super) mode: Scissors,
    pub(super) slot: MapSlot,
    /// The current image's values as `vitscope mask` reads them, and their range.
    pub(super) values: Option<(Values, (f64, f64))>,
    pub(super) values_job: Option<Job<PathBuf, Values>>,
    pub(super) job: Option<Job<PreviewKey, Result<Preview, String>>>,
    pub(super) result: Option<(PreviewKey, Result<Preview, String>)>,
    pub(super) overlay: Option<(PreviewKey, egui::TextureHandle)>,
    /// The section is open this frame (its preview is drawn and it may take canvas clicks).
    pub(super) visible: bool,
    /// Open (or close) the section on the next frame.
    pub(super) open_request: Option<bool>,
}

impl Default for EffectsPanel {
    fn default() -> Self {
        EffectsPanel {
            kind: EffectKind::Threshold,
            lo: 0.0,
            hi: 0.0,
            invert: false,
            paint_within: false,
            paint_key: None,
            eight: true,
            keep: KeepMode::Largest,
            min_px: 50,
            at: None,
            mm: 1.0,
            smooth: 0,
            px: 2,
            background: None,
            outline: Vec::new(),
            closed: false,
            freehand: false,
            mode: Scissors::EraseInside,
            slot: MapSlot::Chefer,
            values: None,
            values_job: None,
            job: None,
            result: None,
            overlay: None,
            visible: false,
            open_request: None,
        }
    }
}

impl EffectsPanel {
    /// The settings as text: a preview is of one such key.
    pub(super) fn key(&self) -> String {
        format!(
            "{:?} {} {} {} {} {:?} {} {:?} {} {} {} {:?} {:?} {} {:?} {:?}",
            self.kind,
            self.lo,
            self.hi,
            self.invert,
            self.eight,
            self.keep,
            self.min_px,
            self.at,
            self.mm,
            self.smooth,
            self.px,
            self.background,
            self.outline,
            self.closed,
            self.mode,
            self.slot
        )
    }

    /// Whether a primary click or drag on the canvas belongs to the effect (picking an island,
    /// drawing the scissors' outline) rather than to the tool.
    pub(super) fn takes_canvas(&self) -> bool {
        self.visible
            && match self.kind {
                EffectKind::Islands => self.keep == KeepMode::Clicked,
                EffectKind::Scissors => true,
                _ => false,
            }
    }

    /// A click on the image at `p` (image pixels).
    pub(super) fn click(&mut self, p: (f32, f32), w: usize, h: usize) {
        match self.kind {
            EffectKind::Islands
                if p.0 >= 0.0 && p.1 >= 0.0 && (p.0 as usize) < w && (p.1 as usize) < h =>
            {
                self.at = Some((p.0 as usize, p.1 as usize));
            }
            EffectKind::Scissors => {
                if self.closed {
                    self.outline.clear();
                    self.closed = false;
                }
                self.outline.push((p.0 as f64, p.1 as f64));
            }
            _ => {}
        }
    }

    /// A freehand drag of the scissors: begins, moves to, or ends at `p`.
    pub(super) fn freehand(&mut self, p: (f32, f32), phase: Phase) {
        let q = (p.0 as f64, p.1 as f64);
        match phase {
            Phase::Begin => {
                self.outline = vec![q];
                self.closed = false;
                self.freehand = true;
            }
            Phase::Move if self.freehand => {
                let far = self
                    .outline
                    .last()
                    .is_none_or(|l| (l.0 - q.0).abs() + (l.1 - q.1).abs() >= 1.0);
                if far {
                    self.outline.push(q);
                }
            }
            Phase::End if self.freehand => {
                self.freehand = false;
                self.close();
            }
            _ => {}
        }
    }

    /// Closes the scissors' outline (three vertices or more).
    pub(super) fn close(&mut self) -> bool {
        if self.kind == EffectKind::Scissors && !self.closed && self.outline.len() >= 3 {
            self.closed = true;
            return true;
        }
        false
    }

    /// Esc: drops the outline and the island picked.
    pub(super) fn cancel(&mut self) {
        self.outline.clear();
        self.closed = false;
        self.freehand = false;
        self.at = None;
    }
}

/// The phase of a freehand drag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The button went down.
    Begin,
    /// The pointer moved.
    Move,
    /// The button came up.
    End,
}
