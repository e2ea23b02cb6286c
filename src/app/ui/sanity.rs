//! The Sanity view: one map of the current image beside the maps of the same method on the model
//! randomised layer by layer (from the head down to the embeddings), and for class-specific
//! methods the map of another class, each with its similarity to the original. A map that does
//! not change while the model is destroyed does not explain the model.

use eframe::egui;

use super::action::Action;
use crate::app::slots::MapSlot;
use crate::app::store::SanityState;
use crate::io::colormap::Colormap;

/// Textures of the sanity maps shown, rebuilt when the job changes.
#[derive(Default)]
pub struct SanityTextures {
    id: u64,
    textures: Vec<egui::TextureHandle>,
}

fn texture(ctx: &egui::Context, name: String, values: &[f32], size: usize) -> egui::TextureHandle {
    let mut rgb = Vec::with_capacity(values.len() * 3);
    for &v in values {
        let c = Colormap::Turbo.rgb(v.clamp(0.0, 1.0));
        rgb.extend(c.iter().map(|x| (x.clamp(0.0, 1.0) * 255.0).round() as u8));
    }
    let img = egui::ColorImage::from_rgb([size, size], &rgb);
    ctx.load_texture(name, img, egui::TextureOptions::LINEAR)
}

/// The Sanity window's own state: whether it is open, which map it checks, the textures of the
/// maps shown.
pub struct SanityWindow {
    /// The window is open.
    pub open: bool,
    /// The map it checks.
    pub slot: MapSlot,
    textures: SanityTextures,
}

impl Default for SanityWindow {
    fn default() -> Self {
        Self {
            open: false,
            slot: MapSlot::Chefer,
            textures: SanityTextures::default(),
        }
    }
}

impl SanityWindow {
    /// The window (when open) over the maps of the latest job `st`.
    pub fn ui(&mut self, ctx: &egui::Context, st: &SanityState) -> Vec<Action> {
        let mut out = Vec::new();
        let mut open = self.open;
        if self.textures.id != st.id {
            self.textures = SanityTextures {
                id: st.id,
                textures: Vec::new(),
            };
        }
        while self.textures.textures.len() < st.maps.len() {
            let m = &st.maps[self.textures.textures.len()];
            let t = texture(
                ctx,
                format!("sanity-{}-{}", st.id, m.label),
                &m.values,
                m.size,
            );
            self.textures.textures.push(t);
        }
        egui::Window::new("Sanity check")
            .open(&mut open)
            .default_width(620.0)
            .show(ctx, |ui| {
                ui.label(
                    "The map of the current image, then the maps after randomising the model from the head down (deterministic cascade) and, for class-specific methods, the map of another class. SSIM and Spearman to the original: a map that stays similar does not depend on the model.",
                );
                ui.horizontal(|ui| {
                    for slot in MapSlot::ALL {
                        ui.selectable_value(&mut self.slot, slot, slot.name());
                    }
                    if st.running {
                        super::busy::busy_mark(ui);
                        ui.label(format!("{} / {}", st.progress.0, st.progress.1));
                        if ui.button("Cancel").clicked() {
                            out.push(Action::CancelSanity);
                        }
                    } else if ui.button("Run").clicked() {
                        out.push(Action::RunSanity(self.slot));
                    }
                });
                if let Some(e) = &st.error
                    && e != "cancelled"
                {
                    ui.colored_label(egui::Color32::from_rgb(230, 90, 90), e);
                }
                egui::Grid::new("sanity_maps").spacing([8.0, 8.0]).show(ui, |ui| {
                    for (i, (m, t)) in st.maps.iter().zip(&self.textures.textures).enumerate() {
                        ui.vertical(|ui| {
                            ui.strong(&m.label);
                            ui.image((t.id(), egui::vec2(128.0, 128.0)));
                            let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
                            match &m.sim {
                                Some(s) => ui.label(format!("SSIM {}  ρ {}", f(s.ssim), f(s.spearman))),
                                None => ui.label(" "),
                            };
                        });
                        if i % 4 == 3 {
                            ui.end_row();
                        }
                    }
                });
            });
        self.open = open;
        out
    }
}
