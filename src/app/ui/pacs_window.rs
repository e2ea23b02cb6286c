//! The PACS window of the workbench: the browser (`pacs.rs`) over the session: where fetched studies go and how received images join the project.

use super::pacs::Reply;
use super::workbench::Workbench;
use eframe::egui;
use std::path::PathBuf;
use std::time::Duration;

impl Workbench {
    /// Where fetched studies go: `NAME_pacs/` beside the project file, else the data folder.
    fn pacs_cache(&self) -> PathBuf {
        match &self.session.project_path {
            Some(p) => crate::project::pacs_dir(p),
            None => self.data_dir.join("pacs"),
        }
    }

    /// The PACS window (when open).
    pub(super) fn pacs_window(&mut self, ctx: &egui::Context) {
        // Replies first.
        if let Some(rx) = &self.pacs.busy
            && let Ok(reply) = rx.try_recv()
        {
            self.pacs.busy = None;
            match reply {
                Reply::Found(Ok((s, warnings))) => {
                    self.pacs.status = format!("{} stud(ies)", s.len());
                    if !warnings.is_empty() {
                        self.pacs.status +=
                            &format!(" ({} left out: invalid UIDs)", warnings.len());
                    }
                    for w in warnings {
                        self.session.note(w);
                    }
                    self.pacs.studies = s;
                }
                Reply::Fetched(Ok(received)) => {
                    let (mut added, mut known) = (0, 0);
                    if self.session.editable() {
                        for r in received.into_iter().filter(|r| r.image) {
                            let id = crate::project::Identity::Dicom {
                                uid: r.sop_instance,
                                frame: 0,
                            };
                            if self.session.add_identified(r.path, id) {
                                added += 1;
                            } else {
                                known += 1;
                            }
                        }
                    }
                    self.pacs.status =
                        format!("added {added} image(s) to the project ({known} already in it)");
                }
                Reply::Found(Err(e)) | Reply::Fetched(Err(e)) => {
                    self.session.note(e.clone());
                    self.pacs.status = e;
                }
            }
        }
        let mut open = self.show_pacs;
        let mut fetch = None;
        let mut search = false;
        egui::Window::new("PACS")
            .open(&mut open)
            .default_width(640.0)
            .show(ctx, |ui| {
                let p = &mut self.pacs;
                egui::Grid::new("pacs_form").num_columns(2).show(ui, |ui| {
                    ui.label("DICOMweb URL");
                    ui.add(egui::TextEdit::singleline(&mut p.url).desired_width(380.0))
                        .on_hover_text("e.g. http://127.0.0.1:8042/dicom-web; credentials from VITSCOPE_PACS_USER / VITSCOPE_PACS_PASSWORD or VITSCOPE_PACS_TOKEN");
                    ui.end_row();
                    ui.label("Patient ID");
                    ui.text_edit_singleline(&mut p.patient_id);
                    ui.end_row();
                    ui.label("Modality");
                    ui.text_edit_singleline(&mut p.modality);
                    ui.end_row();
                    ui.label("CA file (PEM)");
                    ui.add(egui::TextEdit::singleline(&mut p.ca_file).desired_width(380.0))
                        .on_hover_text("A hospital's own CA to trust for https, beside the system's store and the built-in roots (as --ca-file / VITSCOPE_PACS_CA)");
                    ui.end_row();
                    ui.label("Timeout (s)");
                    ui.add(egui::DragValue::new(&mut p.timeout_s).range(1..=86_400))
                        .on_hover_text("Connection, answer and idle timeout: a transfer goes on while bytes flow (as --timeout)");
                    ui.end_row();
                });
                ui.horizontal(|ui| {
                    if ui.add_enabled(!p.busy(), egui::Button::new("Search")).clicked() {
                        search = true;
                    }
                    if p.busy() {
                        ui.spinner();
                    }
                    ui.label(&p.status);
                });
                egui::ScrollArea::vertical().max_height(300.0).show(ui, |ui| {
                    egui::Grid::new("pacs_studies").striped(true).show(ui, |ui| {
                        for h in ["patient", "date", "description", "series", ""] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for s in &p.studies {
                            ui.label(format!("{} {}", s.patient_id, s.patient_name));
                            ui.label(&s.date);
                            ui.label(&s.description);
                            let mods: Vec<&str> =
                                s.series_details.iter().map(|d| d.modality.as_str()).collect();
                            ui.label(format!("{} ({})", s.series.len(), mods.join(", ")));
                            if ui
                                .add_enabled(!p.busy(), egui::Button::new("Fetch"))
                                .on_hover_text(&s.study)
                                .clicked()
                            {
                                fetch = Some(s.study.clone());
                            }
                            ui.end_row();
                        }
                    });
                });
            });
        self.show_pacs = open;
        let c = ctx.clone();
        if search {
            self.pacs.search(move || c.request_repaint());
        } else if let Some(study) = fetch {
            let cache = self.pacs_cache();
            self.pacs.fetch(&study, cache, move || c.request_repaint());
        }
        if self.pacs.busy() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }
}
