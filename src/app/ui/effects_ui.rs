//! The Effects section's drawing and its runs on the workbench's current image (the settings
//! live in `effects.rs`).

use eframe::egui;

use super::effects::KINDS;
use super::workbench::Workbench;
use crate::app::slots::MapSlot;
use crate::assist::{self, Grid, Inputs, Keep, Op, Smooth};
use crate::metrics::Rect;
use crate::project::Threshold;
use crate::project::annotation::{Command, MaskPatch};

impl Workbench {
    /// The effect as an [`Op`] on the current image, or why it cannot run.
    fn effect_op(&self, grid: Grid) -> Result<Op, String> {
        let e = &self.effects;
        Ok(match e.kind {
            0 => Op::Threshold { lo: e.lo, hi: e.hi },
            1 => Op::Islands {
                connectivity: if e.eight { 8 } else { 4 },
                keep: if e.keep_min {
                    Keep::MinPx(e.min_px)
                } else {
                    Keep::Largest
                },
            },
            2 => Op::Margin { mm: e.mm },
            3 => Op::Smooth(match e.smooth {
                0 => Smooth::Median(e.mm.max(1e-6)),
                1 => Smooth::Gaussian(e.mm.max(1e-6)),
                2 => Smooth::Open(e.px),
                _ => Smooth::Close(e.px),
            }),
            4 => Op::FillHoles,
            _ => {
                let maps = self.current_maps();
                let m = maps[e.slot].ok_or("the map is not computed yet")?;
                if (m.width, m.height) != (grid.w, grid.h) {
                    return Err("the map is not on the image's grid".into());
                }
                let top = match self.session.project.view.threshold {
                    Threshold::TopPercent(p) => p.clamp(1e-9, 100.0),
                    Threshold::Absolute(t) => {
                        // The share of pixels at or above the value, as a top-k %.
                        let n = m.values.iter().filter(|&&v| v >= t).count().max(1);
                        100.0 * n as f64 / m.values.len() as f64
                    }
                };
                Op::FromMap {
                    map: m.values.to_vec(),
                    top,
                }
            }
        })
    }

    /// The mask after the effect, with the pixels it adds and removes.
    fn effect_result(&self) -> Result<(Vec<u8>, usize, usize), String> {
        let l = self.session.loaded.as_ref().ok_or("no image")?;
        let ann = self.session.ann().ok_or("no annotation")?;
        let grid = Grid {
            w: l.width(),
            h: l.height(),
        };
        if ann.mask.data.len() != grid.len() {
            return Err("the mask is not on the image's grid".into());
        }
        let op = self.effect_op(grid)?;
        let (values, spacing) = match &self.effects.values {
            Some((p, v, s)) if *p == l.path && v.len() == grid.len() => (v.clone(), *s),
            _ => return Err("reading the image's values…".into()),
        };
        let inp = Inputs {
            grid,
            values: &values,
            spacing: spacing.unwrap_or((1.0, 1.0)),
        };
        let c = self.session.class.max(1);
        let after = assist::run(&op, &ann.mask.data, c, &inp);
        let added = ann
            .mask
            .data
            .iter()
            .zip(&after)
            .filter(|(a, b)| **a != c && **b == c)
            .count();
        let removed = ann
            .mask
            .data
            .iter()
            .zip(&after)
            .filter(|(a, b)| **a == c && **b != c)
            .count();
        Ok((after, added, removed))
    }

    /// The Effects section.
    pub(super) fn effects_ui(&mut self, ui: &mut egui::Ui) {
        // The values `vitscope mask` would read (stored samples, PIL luma, DICOM modality values
        // in float64), once per image, so both give the same mask; else the display's values.
        if let Some(l) = &self.session.loaded
            && self
                .effects
                .values
                .as_ref()
                .is_none_or(|(p, ..)| *p != l.path)
        {
            let first_frame = self
                .session
                .project
                .images
                .get(l.index)
                .is_some_and(|e| e.frame == 0);
            let read = first_frame
                .then(|| assist::inputs::read_image(&l.path).ok())
                .flatten()
                .filter(|r| (r.grid.w, r.grid.h) == (l.width(), l.height()));
            self.effects.values = Some(match read {
                Some(r) => (l.path.clone(), std::sync::Arc::new(r.values), r.spacing),
                None => (
                    l.path.clone(),
                    std::sync::Arc::new(l.values.iter().map(|&v| v as f64).collect()),
                    l.dicom
                        .as_ref()
                        .and_then(|d| d.pixel_spacing)
                        .map(|[r, c]| (r, c)),
                ),
            });
            self.effects.lo = 0.0;
            self.effects.hi = 0.0;
        }
        let range = self
            .effects
            .values
            .as_ref()
            .map_or((0.0, 1.0), |(_, v, _)| {
                v.iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                        (a.min(x), b.max(x))
                    })
            });
        let e = &mut self.effects;
        egui::ComboBox::from_label("Effect")
            .selected_text(KINDS[e.kind])
            .show_ui(ui, |ui| {
                for (k, name) in KINDS.iter().enumerate() {
                    ui.selectable_value(&mut e.kind, k, *name);
                }
            });
        match e.kind {
            0 => {
                if e.lo == 0.0 && e.hi == 0.0 {
                    (e.lo, e.hi) = range;
                }
                ui.add(egui::Slider::new(&mut e.lo, range.0..=range.1).text("from"));
                ui.add(egui::Slider::new(&mut e.hi, range.0..=range.1).text("to"));
            }
            1 => {
                ui.checkbox(&mut e.eight, "corners connect (8-connectivity)");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut e.keep_min, false, "keep the largest");
                    ui.radio_value(&mut e.keep_min, true, "remove smaller than");
                    ui.add(egui::DragValue::new(&mut e.min_px).suffix(" px"));
                });
            }
            2 => {
                ui.add(egui::Slider::new(&mut e.mm, -20.0..=20.0).text("mm (− shrinks)"));
            }
            3 => {
                ui.horizontal(|ui| {
                    for (k, n) in ["median", "gaussian", "open", "close"].iter().enumerate() {
                        ui.radio_value(&mut e.smooth, k, *n);
                    }
                });
                if e.smooth < 2 {
                    ui.add(egui::Slider::new(&mut e.mm, 0.1..=20.0).text("mm"));
                } else {
                    ui.add(egui::Slider::new(&mut e.px, 0..=20).text("px radius"));
                }
            }
            4 => {
                ui.label("Fills every hole of the class that does not reach the border.");
            }
            _ => {
                ui.horizontal(|ui| {
                    for s in MapSlot::ALL {
                        ui.radio_value(&mut e.slot, s, s.name());
                    }
                });
                ui.label("The map's region at the overlay's threshold, into the class.");
            }
        }
        // Preview: computed when the settings or the mask changed.
        let key = e.key();
        let generation = self.session.edit_generation;
        let stale = self
            .effects
            .preview
            .as_ref()
            .is_none_or(|(g, k, ..)| *g != generation || *k != key);
        if stale {
            match self.effect_result() {
                Ok((after, added, removed)) => {
                    let (w, h) = self
                        .session
                        .loaded
                        .as_ref()
                        .map_or((0, 0), |l| (l.width(), l.height()));
                    let colours = &self.session.project.classes;
                    let rgb: Vec<u8> = after
                        .iter()
                        .flat_map(|&v| match v {
                            0 => [0, 0, 0],
                            k => colours
                                .get(k as usize - 1)
                                .map_or([255, 255, 255], |c| c.color),
                        })
                        .collect();
                    if w > 0 {
                        let img = egui::ColorImage::from_rgb([w, h], &rgb);
                        self.effects.thumb = Some(ui.ctx().load_texture(
                            "effect-preview",
                            img,
                            Default::default(),
                        ));
                    }
                    self.effects.preview = Some((generation, key, after, added, removed));
                }
                Err(e) => {
                    ui.label(e);
                    self.effects.preview = None;
                }
            }
        }
        let mut apply = false;
        if let Some((_, _, _, added, removed)) = &self.effects.preview {
            ui.label(format!("preview: +{added} px, −{removed} px"));
            if let Some(t) = &self.effects.thumb {
                let [w, h] = t.size();
                let scale = 160.0 / w.max(h) as f32;
                ui.image((t.id(), egui::vec2(w as f32 * scale, h as f32 * scale)));
            }
            apply = ui
                .add_enabled(
                    self.session.editable() && (*added > 0 || *removed > 0),
                    egui::Button::new("Apply effect"),
                )
                .on_hover_text("One edit: Undo takes it back")
                .clicked();
        }
        if apply && let Some((_, _, after, ..)) = self.effects.preview.take() {
            let Some(before) = self.session.ann().map(|a| a.mask.data.clone()) else {
                return;
            };
            let (w, h) = self
                .session
                .loaded
                .as_ref()
                .map_or((0, 0), |l| (l.width(), l.height()));
            self.session.apply(Command::Paint(MaskPatch {
                rect: Rect {
                    x0: 0,
                    y0: 0,
                    x1: w,
                    y1: h,
                },
                before,
                after,
            }));
            self.session.dirty = true;
        }
    }
}
