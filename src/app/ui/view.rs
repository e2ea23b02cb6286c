//! The canvas's view state: how image pixels map to the screen (zoom and pan, shared by all
//! panes) and what the GPU textures hold.

use eframe::egui::{self, Pos2, Rect as URect, Vec2};

use crate::app::slots::PerMap;

/// How the canvas maps image pixels to the screen (shared by all panes: zoom and pan are synced).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewTransform {
    /// Screen points per image pixel.
    pub scale: f32,
    /// Image point shown at the pane centre.
    pub center: [f32; 2],
    /// Fit the image to the pane every frame (until the user zooms or pans).
    pub fit: bool,
}

impl Default for ViewTransform {
    fn default() -> Self {
        Self {
            scale: 1.0,
            center: [0.0, 0.0],
            fit: true,
        }
    }
}

impl ViewTransform {
    /// Screen position of image point `p` in `pane`.
    pub fn to_screen(&self, pane: URect, p: (f32, f32)) -> Pos2 {
        pane.center() + Vec2::new(p.0 - self.center[0], p.1 - self.center[1]) * self.scale
    }

    /// Image point under screen position `s` in `pane`.
    pub fn image_at(&self, pane: URect, s: Pos2) -> (f32, f32) {
        let d = (s - pane.center()) / self.scale;
        (self.center[0] + d.x, self.center[1] + d.y)
    }

    pub(super) fn zoom_about(&mut self, pane: URect, at: Pos2, factor: f32) {
        self.fit = false;
        let p = self.image_at(pane, at);
        self.scale = (self.scale * factor).clamp(0.02, 64.0);
        let d = (at - pane.center()) / self.scale;
        self.center = [p.0 - d.x, p.1 - d.y];
    }
}

/// What the GPU textures hold.
#[derive(Default)]
pub struct Uploads {
    /// (image index, image identity) uploaded.
    pub image: Option<(usize, usize)>,
    pub(super) maps: PerMap<Option<usize>>,
    pub(super) texture: Option<egui::TextureHandle>,
}
