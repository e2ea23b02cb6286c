//! The Study window of the workbench: the grid and layer maps it requests and how it is drawn over the session (its state, [`super::study::StudyView`], is in `study.rs`).

use super::study::{CellScore, StudyTab, blend, cell_score, score_label};
use super::workbench::Workbench;
use crate::app::slots::MapSlot;
use crate::app::worker::{ExplainJob, LayersJob};
use crate::explain::upsample;
use crate::io::colormap::Colormap;
use crate::model::preprocess;
use crate::project::{Layout, Threshold};
use eframe::egui;
use std::sync::Arc;

impl Workbench {
    /// Requests the maps of every checkpoint for the current image (the grid's cells).
    fn request_grid_maps(&mut self) {
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        for c in 0..self.session.project.checkpoints.len() {
            let Some(keys) = self.session.map_keys_with(l.index, c) else {
                continue;
            };
            let missing: Vec<_> = keys
                .values()
                .filter(|k| !self.store.known(k))
                .cloned()
                .collect();
            if !missing.is_empty() {
                self.store.request(ExplainJob {
                    keys: missing,
                    config: self.session.checkpoint_at(c).and_then(|c| c.1),
                    image: l.image.clone(),
                    device: self.session.model.device,
                });
            }
        }
    }

    /// Starts the layer sweep of the current image and checkpoint (once per pair).
    fn request_layers(&mut self) {
        let Some(l) = self.session.loaded.clone() else {
            return;
        };
        let Some((weights, config)) = self.session.checkpoint() else {
            return;
        };
        let frame = self
            .session
            .project
            .images
            .get(l.index)
            .map_or(0, |e| e.frame);
        self.store.start_layers(
            LayersJob {
                id: 0,
                weights,
                config,
                image: l.image.clone(),
                resize: self.session.model.resize,
                device: self.session.model.device,
            },
            frame,
            &l.path,
        );
    }

    /// The percentage the study cells are scored at (the live threshold's, if it is one).
    fn study_percent(&self) -> Option<f64> {
        match self.session.project.view.threshold {
            Threshold::TopPercent(p) => Some(p),
            Threshold::Absolute(_) => None,
        }
    }

    /// The Study window (when open).
    pub(super) fn study_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_study;
        let mut tab = self.study.tab;
        egui::Window::new("Study")
            .open(&mut open)
            .default_width(760.0)
            .default_height(560.0)
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut tab, StudyTab::Grid, "Checkpoints × methods");
                    ui.selectable_value(&mut tab, StudyTab::Layers, "Layers × heads");
                });
                ui.separator();
                match tab {
                    StudyTab::Grid => self.grid_ui(ui),
                    StudyTab::Layers => self.layers_ui(ui),
                }
            });
        self.study.tab = tab;
        self.show_study = open;
    }

    fn grid_ui(&mut self, ui: &mut egui::Ui) {
        self.request_grid_maps();
        let Some(l) = self.session.loaded.clone() else {
            ui.label("Open an image.");
            return;
        };
        ui.label(
            "Rows: the project's checkpoints; columns: the methods. Scroll to zoom and drag to pan (all cells together); \"open\" shows the map as the single view.",
        );
        let p = self.study_percent();
        let generation = self.session.edit_generation;
        let thr = format!("{:?}", self.session.project.view.threshold);
        let truth = self.session.ann().map(|a| a.ground_truth());
        let view = self.session.project.view.clone();
        let names = self.session.checkpoint_names();
        let methods = self.session.model.methods();
        let mut open_cell = None;
        let cell = 150.0;
        let (mut zoom, mut pan) = (1.0f32, egui::Vec2::ZERO);
        egui::ScrollArea::both().show(ui, |ui| {
            egui::Grid::new("study_grid")
                .spacing([6.0, 6.0])
                .show(ui, |ui| {
                    ui.label("");
                    for s in MapSlot::ALL {
                        ui.strong(format!("{} ({})", s.name(), methods[s]));
                    }
                    ui.end_row();
                    for (c, name) in names.iter().enumerate() {
                        ui.strong(name);
                        let keys = self.session.map_keys_with(l.index, c);
                        for s in MapSlot::ALL {
                            ui.vertical(|ui| {
                                let key = keys.as_ref().map(|k| k[s].clone());
                                let map = key.as_ref().and_then(|k| self.store.get(k)).cloned();
                                let Some(map) = map else {
                                    let failed = key.as_ref().and_then(|k| self.store.failure(k));
                                    ui.allocate_ui(egui::vec2(cell, cell), |ui| match failed {
                                        Some(e) => {
                                            ui.colored_label(
                                                egui::Color32::from_rgb(230, 90, 90),
                                                e,
                                            );
                                        }
                                        None => {
                                            ui.spinner();
                                        }
                                    });
                                    return;
                                };
                                let id = Arc::as_ptr(&map.values) as usize;
                                let tex = self.study.textures.entry(id).or_insert_with(|| {
                                    let base = l.image.to_rgb8().into_raw();
                                    let same = base.len() == map.values.len() * 3;
                                    let rgba = blend(
                                        &map.values,
                                        same.then_some(base.as_slice()),
                                        view.colormap,
                                        view.opacity[s.index()],
                                    );
                                    let img = egui::ColorImage::from_rgba_unmultiplied(
                                        [map.width, map.height],
                                        &rgba,
                                    );
                                    ui.ctx().load_texture(
                                        format!("study-{id}"),
                                        img,
                                        egui::TextureOptions::LINEAR,
                                    )
                                });
                                let (rect, resp) = ui.allocate_exact_size(
                                    egui::vec2(cell, cell),
                                    egui::Sense::click_and_drag(),
                                );
                                ui.painter().image(
                                    tex.id(),
                                    rect,
                                    self.study.uv(),
                                    egui::Color32::WHITE,
                                );
                                if resp.hovered() {
                                    let scroll = ui.input(|i| i.smooth_scroll_delta.y);
                                    if scroll != 0.0 {
                                        zoom *= (scroll * 0.005).exp();
                                    }
                                }
                                if resp.dragged() {
                                    pan -= resp.drag_delta() / cell;
                                }
                                if resp.double_clicked() {
                                    open_cell = Some((c, s));
                                }
                                let score = match self.study.scores.get(&id) {
                                    Some((g, t, sc)) if *g == generation && *t == thr => *sc,
                                    _ => {
                                        let sc = truth
                                            .as_ref()
                                            .and_then(|t| cell_score(&map.values, t, p));
                                        self.study.scores.insert(id, (generation, thr.clone(), sc));
                                        sc
                                    }
                                };
                                ui.horizontal(|ui| {
                                    ui.label(score_label(score, p));
                                    if ui
                                        .small_button("open")
                                        .on_hover_text("Show this map as the single view")
                                        .clicked()
                                    {
                                        open_cell = Some((c, s));
                                    }
                                });
                            });
                        }
                        ui.end_row();
                    }
                });
        });
        let z = self.study.zoom.max(1.0);
        self.study.zoom = (z * zoom).clamp(1.0, 16.0);
        if self.study.centre == egui::Vec2::ZERO {
            self.study.centre = egui::vec2(0.5, 0.5);
        }
        self.study.centre += pan / self.study.zoom;
        let half = 0.5 / self.study.zoom;
        self.study.centre.x = self.study.centre.x.clamp(half, 1.0 - half);
        self.study.centre.y = self.study.centre.y.clamp(half, 1.0 - half);
        if ui.button("Reset zoom").clicked() {
            self.study.zoom = 1.0;
            self.study.centre = egui::vec2(0.5, 0.5);
        }
        if let Some((c, s)) = open_cell {
            self.session.model.checkpoint = c;
            self.session.project.view.layout = Layout::Single;
            self.session.project.view.overlay = s.index();
        }
    }

    fn layers_ui(&mut self, ui: &mut egui::Ui) {
        self.request_layers();
        let st = &self.store.layers;
        if let Some(e) = &st.error {
            ui.colored_label(egui::Color32::from_rgb(230, 90, 90), e);
            return;
        }
        let Some(maps) = st.maps.clone() else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("computing the attention of every block and head");
            });
            return;
        };
        let id = st.id;
        if self.study.layers_id != id {
            self.study.layers_id = id;
            self.study.layer_textures = maps
                .grids
                .iter()
                .enumerate()
                .map(|(b, heads)| {
                    heads
                        .iter()
                        .enumerate()
                        .map(|(h, g)| {
                            let mut v = g.values.clone();
                            upsample::minmax(&mut v);
                            let rgba = blend(&v, None, Colormap::Turbo, 1.0);
                            let img = egui::ColorImage::from_rgba_unmultiplied(
                                [g.width, g.height],
                                &rgba,
                            );
                            ui.ctx().load_texture(
                                format!("layers-{id}-{b}-{h}"),
                                img,
                                egui::TextureOptions::NEAREST,
                            )
                        })
                        .collect()
                })
                .collect();
            self.study.layer_scores = None;
        }
        let p = self.study_percent();
        let generation = self.session.edit_generation;
        let thr = format!("{:?}", self.session.project.view.threshold);
        let fresh = matches!(&self.study.layer_scores, Some((i, g, t, _)) if *i == id && *g == generation && *t == thr);
        let running = matches!(&self.study.layer_job, Some((i, g, t, _)) if *i == id && *g == generation && *t == thr);
        if !fresh && !running && !self.tool.stroking() {
            let truth = self.session.ann().map(|a| a.ground_truth());
            let (tx, rx) = std::sync::mpsc::channel();
            let (maps, ctx) = (maps.clone(), ui.ctx().clone());
            std::thread::spawn(move || {
                let scores = maps
                    .grids
                    .iter()
                    .map(|heads| {
                        heads
                            .iter()
                            .map(|g| {
                                let t = truth.as_ref()?;
                                let m = upsample::nearest_minmax(g, maps.patch);
                                let full = preprocess::map_to_original(&m.values, &maps.geometry);
                                cell_score(&full, t, p)
                            })
                            .collect()
                    })
                    .collect();
                let _ = tx.send(scores);
                ctx.request_repaint();
            });
            self.study.layer_job = Some((id, generation, thr, rx));
        }
        if let Some((i, g, t, rx)) = &self.study.layer_job {
            match rx.try_recv() {
                Ok(scores) => {
                    self.study.layer_scores = Some((*i, *g, t.clone(), scores));
                    self.study.layer_job = None;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_millis(50));
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => self.study.layer_job = None,
            }
        }
        let scores = self.study.layer_scores.as_ref().map(|s| &s.3);
        ui.label(
            "The class token's attention to the patches, per block (rows) and head (columns; the last column is the mean over heads, the attention map of that block), with its pointing game and IoU against the annotation.",
        );
        let heads = maps.grids.first().map_or(0, |h| h.len());
        egui::ScrollArea::both().show(ui, |ui| {
            egui::Grid::new("layers_grid")
                .spacing([4.0, 4.0])
                .show(ui, |ui| {
                    ui.label("block");
                    for h in 0..heads {
                        if h + 1 == heads {
                            ui.strong("mean");
                        } else {
                            ui.strong(format!("head {h}"));
                        }
                    }
                    ui.end_row();
                    for (b, row) in self.study.layer_textures.iter().enumerate() {
                        ui.strong(format!("{b}"));
                        for (h, tex) in row.iter().enumerate() {
                            ui.vertical(|ui| {
                                ui.image((tex.id(), egui::vec2(64.0, 64.0)));
                                let s = scores
                                    .and_then(|s| s.get(b))
                                    .and_then(|r| r.get(h))
                                    .copied()
                                    .flatten();
                                let text = match s {
                                    Some((hit, iou)) => {
                                        format!("{} {iou:.2}", if hit { "hit" } else { "miss" })
                                    }
                                    None => "–".into(),
                                };
                                ui.small(text);
                            });
                        }
                        ui.end_row();
                    }
                });
        });
    }

    /// The scores of the layer sweep shown: `[block][head]` (the mean over heads last).
    pub fn layer_scores(&self) -> Option<&Vec<Vec<CellScore>>> {
        self.study.layer_scores.as_ref().map(|s| &s.3)
    }

    /// The grid cell score of a map, as last shown.
    pub fn grid_score(&self, map: &Arc<Vec<f32>>) -> Option<CellScore> {
        self.study
            .scores
            .get(&(Arc::as_ptr(map) as usize))
            .map(|s| s.2)
    }
}
