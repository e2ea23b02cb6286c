//! The Sanity view: one map of the current image beside the maps of the same method on the model
//! randomised layer by layer (from the head down to the embeddings), and for class-specific
//! methods the map of another class, each with its similarity to the original. A map that does
//! not change while the model is destroyed does not explain the model.

use eframe::egui;

use super::{Action, Workbench};
use crate::app::slots::MapSlot;
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

impl Workbench {
    /// The Sanity window (when open).
    pub(super) fn sanity_window(&mut self, ctx: &egui::Context) -> Vec<Action> {
        let mut out = Vec::new();
        let mut open = self.show_sanity;
        let st = &self.store.sanity;
        if self.sanity_textures.id != st.id {
            self.sanity_textures = SanityTextures {
                id: st.id,
                textures: Vec::new(),
            };
        }
        while self.sanity_textures.textures.len() < st.maps.len() {
            let m = &st.maps[self.sanity_textures.textures.len()];
            let t = texture(
                ctx,
                format!("sanity-{}-{}", st.id, m.label),
                &m.values,
                m.size,
            );
            self.sanity_textures.textures.push(t);
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
                        ui.selectable_value(&mut self.sanity_slot, slot, slot.name());
                    }
                    if st.running {
                        ui.spinner();
                        ui.label(format!("{} / {}", st.progress.0, st.progress.1));
                        if ui.button("Cancel").clicked() {
                            out.push(Action::CancelSanity);
                        }
                    } else if ui.button("Run").clicked() {
                        out.push(Action::RunSanity(self.sanity_slot));
                    }
                });
                if let Some(e) = &st.error
                    && e != "cancelled"
                {
                    ui.colored_label(egui::Color32::from_rgb(230, 90, 90), e);
                }
                egui::Grid::new("sanity_maps").spacing([8.0, 8.0]).show(ui, |ui| {
                    for (i, (m, t)) in st.maps.iter().zip(&self.sanity_textures.textures).enumerate() {
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
        self.show_sanity = open;
        out
    }

    /// Starts the sanity check of `slot`'s map on the current image.
    pub fn run_sanity(&mut self, slot: MapSlot) {
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        let Some(keys) = self.keys_for(l.index) else {
            return;
        };
        self.store.start_sanity(crate::app::worker::SanityJob {
            id: 0,
            key: keys[slot].clone(),
            config: self.session.checkpoint().and_then(|c| c.1),
            image: l.image.clone(),
            device: self.session.model.device,
            cancel: Default::default(),
        });
    }
}
