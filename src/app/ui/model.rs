//! The model panel: checkpoint, device, target class and probabilities, attention block / head,
//! GradCAM smoothing, and the worker's progress (with Retry when a map failed).

use eframe::egui;

use super::action::Action;
use super::workbench::Workbench;
use crate::explain::softmax;
use crate::model::device::DeviceChoice;

/// A checkbox for the default (`None`) and, when unticked, a number.
fn optional_index(ui: &mut egui::Ui, v: &mut Option<usize>, default: &str, prefix: &str) {
    ui.horizontal(|ui| {
        let mut is_default = v.is_none();
        ui.checkbox(&mut is_default, default);
        if is_default {
            *v = None;
        } else {
            let mut i = v.unwrap_or(0);
            ui.add(egui::DragValue::new(&mut i).prefix(prefix).range(0..=63));
            *v = Some(i);
        }
    });
}

impl Workbench {
    pub(super) fn model_ui(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
        let mut out = Vec::new();
        let names = self.session.checkpoint_names();
        let logits = self
            .current_maps()
            .present()
            .next()
            .map(|(_, m)| (m.logits.clone(), m.target));
        let failed: Vec<String> = self
            .keys_for(self.session.current)
            .map(|k| {
                k.values()
                    .filter_map(|k| {
                        Some(format!("{}: {}", k.method.name(), self.store.failure(k)?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let m = &mut self.session.model;
        egui::ComboBox::from_label("Checkpoint")
            .selected_text(
                names
                    .get(m.checkpoint)
                    .cloned()
                    .unwrap_or_else(|| "none".into()),
            )
            .show_ui(ui, |ui| {
                for (i, n) in names.iter().enumerate() {
                    ui.selectable_value(&mut m.checkpoint, i, n);
                }
            });
        if ui
            .button("Add checkpoint from the path field")
            .on_hover_text(
                "A .safetensors or .pth file (timm, DINO, MAE or trained here) to compare",
            )
            .clicked()
        {
            out.push(Action::AddCheckpoint);
        }
        let where_gpu = match &self.gpu_name {
            Some(n) => format!("auto and gpu run the model on the display GPU ({n})"),
            None => "auto runs the model on the CPU: no hardware GPU to share".to_string(),
        };
        egui::ComboBox::from_label("Device")
            .selected_text(format!("{:?}", m.device).to_lowercase())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut m.device, DeviceChoice::Auto, "auto");
                ui.selectable_value(&mut m.device, DeviceChoice::Cpu, "cpu");
                ui.selectable_value(&mut m.device, DeviceChoice::Gpu, "gpu");
            })
            .response
            .on_hover_text(where_gpu);
        let classes = logits.as_ref().map(|l| l.0.len()).unwrap_or(2);
        egui::ComboBox::from_label("Target class")
            .selected_text(match m.target {
                None => "predicted".to_string(),
                Some(t) => format!("class {t}"),
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut m.target, None, "predicted");
                for c in 0..classes {
                    ui.selectable_value(&mut m.target, Some(c), format!("class {c}"));
                }
            });
        if let Some((logits, target)) = logits {
            for (c, p) in softmax(&logits).iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.label(format!(
                        "class {c}{}",
                        if c == target { " (target)" } else { "" }
                    ));
                    ui.add(egui::ProgressBar::new(*p).text(format!("{:.1} %", p * 100.0)));
                });
            }
        }
        optional_index(ui, &mut m.layer, "last block", "block ");
        optional_index(ui, &mut m.head, "mean of heads", "head ");
        ui.checkbox(&mut m.paper_gradcam, "GradCAM with the paper's smoothing");
        if let Some(p) = &self.store.progress {
            ui.horizontal(|ui| {
                super::busy::busy_mark(ui);
                // Truncated: a long label must not widen the panel for the rest of the session.
                ui.add(
                    egui::Label::new(format!("{} ({}/{})", p.label, p.index + 1, p.total))
                        .truncate(),
                );
            });
        }
        if ui
            .button("Sanity check…")
            .on_hover_text("Randomise the model layer by layer and watch whether the map changes")
            .clicked()
        {
            out.push(Action::ShowSanity);
        }
        if ui
            .button("Study…")
            .on_hover_text(
                "Every checkpoint × method side by side, and the attention of every block and head",
            )
            .clicked()
        {
            out.push(Action::ShowStudy);
        }
        if !failed.is_empty() {
            ui.horizontal(|ui| {
                ui.colored_label(egui::Color32::from_rgb(230, 90, 90), "A map failed");
                if ui
                    .button("Retry maps")
                    .on_hover_text(failed.join("\n"))
                    .clicked()
                {
                    out.push(Action::RetryMaps);
                }
            });
        }
        out
    }
}
