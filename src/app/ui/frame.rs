//! One frame of the workbench: the panels, the canvas, the windows and the dialogs drawn from
//! the state, their actions carried out, and the keyboard shortcuts.

use eframe::egui;

use super::action::Pending;
use super::workbench::Workbench;
use super::{canvas, dialogs, help, image_list, overlay, plots, probe, scores, top_bar};

impl Workbench {
    /// One frame of the whole UI.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.store.poll();
        for e in std::mem::take(&mut self.store.errors) {
            self.session.note(e);
        }
        if ctx.input(|i| i.viewport().close_requested()) && !self.quit_confirmed && self.unsaved() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Pending::Quit);
        }
        let mut actions = Self::shortcut_actions(&ctx, self.modal_open());
        self.request_current_maps();
        egui::Panel::top("top").show(ui, |ui| {
            actions.extend(top_bar::top_bar_ui(
                ui,
                &mut self.path_field,
                &mut self.session,
            ))
        });
        if let Some(holder) = &self.session.read_only {
            let file = self
                .session
                .project_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            egui::Panel::top("read_only").show(ui, |ui| {
                ui.colored_label(
                    egui::Color32::from_rgb(255, 190, 60),
                    format!(
                        "Read-only: {file} is locked (in use) by {holder}. Edits are off; Save as writes a copy."
                    ),
                );
            });
        }
        egui::Panel::bottom("status").show(ui, |ui| self.status_line(ui));
        egui::Panel::bottom("analysis")
            .resizable(true)
            .default_size(250.0)
            .show(ui, |ui| {
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(600.0);
                        let ms = self.show_timings.then_some(self.store.live.millis);
                        scores::scores_ui(
                            ui,
                            &self.store.live.scores,
                            &self.faith_curves(),
                            self.threshold_percent(),
                            ms,
                        );
                    });
                    ui.separator();
                    ui.vertical(|ui| {
                        ui.set_width(420.0);
                        let curves = self.faith_curves();
                        actions.extend(plots::analysis_ui(
                            ui,
                            &mut self.analysis,
                            &self.store.live.scores,
                            &curves,
                            &self.store.faith,
                        ));
                    });
                    ui.separator();
                    ui.vertical(|ui| {
                        actions.extend(plots::project_plots_ui(ui, &self.store.batch))
                    });
                });
            });
        egui::Panel::left("images")
            .default_size(220.0)
            .show(ui, |ui| {
                actions.extend(image_list::image_list_ui(ui, &self.session, self.hover))
            });
        egui::Panel::right("controls")
            .default_size(430.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    egui::CollapsingHeader::new("Model")
                        .default_open(true)
                        .show(ui, |ui| actions.extend(self.model_ui(ui)));
                    egui::CollapsingHeader::new("Overlay")
                        .default_open(true)
                        .show(ui, |ui| {
                            overlay::overlay_ui(ui, &mut self.session.project.view)
                        });
                    egui::CollapsingHeader::new("Annotate")
                        .default_open(true)
                        .show(ui, |ui| actions.extend(self.tools_ui(ui)));
                    self.effects.visible = false;
                    let opened = self.effects.open_request.take();
                    let r = egui::CollapsingHeader::new("Effects")
                        .default_open(false)
                        .open(opened)
                        .show(ui, |ui| self.effects_ui(ui));
                    if opened == Some(true) {
                        // An effect chosen by its key is shown.
                        r.header_response.scroll_to_me_animation(
                            Some(egui::Align::Min),
                            egui::style::ScrollAnimation::none(),
                        );
                    }
                });
            });
        let problem = self
            .session
            .checks
            .get(self.session.current)
            .and_then(crate::project::ImageCheck::problem)
            .filter(|_| self.session.loaded.is_none());
        egui::CentralPanel::default().show(ui, |ui| match problem {
            Some(p) => actions.extend(canvas::changed_image_ui(ui, &p, self.session.editable())),
            None => self.canvas_ui(ui),
        });
        if let Some(r) = self.pane_rects.first() {
            probe::rect(&ctx, "pane 0", *r);
        }
        self.schedule_metrics();
        help::help_window(&ctx, &mut self.show_help);
        if self.sanity.open {
            actions.extend(self.sanity.ui(&ctx, &self.store.sanity));
        }
        if self.show_study {
            self.study_window(&ctx);
        }
        if self.show_pacs {
            self.pacs_window(&ctx);
        }
        self.open_study_window(&ctx);
        if self.confirm.is_none() {
            // While "save changes?" is asked about a restore, it alone is shown.
            actions.extend(dialogs::recovery_ui(&ctx, &self.recovery_offer));
        }
        actions.extend(dialogs::confirm_ui(&ctx, self.confirm.as_ref()));
        actions.extend(dialogs::conflict_ui(&ctx, self.conflict));
        actions.extend(dialogs::save_error_ui(&ctx, self.save_error.as_deref()));
        for a in actions {
            self.apply(a, Some(&ctx));
        }
        self.autosave_step(&ctx);
        self.automation_step(&ctx);
        probe::end_frame();
        if self.store.busy() {
            ctx.request_repaint_after(super::busy::busy_tick(&ctx));
        }
    }

    pub(super) fn status_line(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let dirty = match (self.session.dirty, &self.session.project_path) {
                (true, _) => "unsaved changes",
                (false, Some(_)) => "saved",
                (false, None) => "no changes",
            };
            let file = self
                .session
                .project_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "untitled".into());
            let r = ui.label(format!("{file} · {dirty}"));
            // The state the saves and autosaves follow, for the X11 test that drives the window.
            if self.session.dirty {
                probe::note(ui, "unsaved changes", &r);
            }
            if let Some(ms) = self.frame_cpu_ms.filter(|_| self.show_timings) {
                ui.label(format!("· frame CPU {ms:.1} ms"));
            }
            if let Some(m) = self.session.messages.last() {
                ui.separator();
                ui.label(m);
            }
        });
    }
}
