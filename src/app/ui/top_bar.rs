//! The top bar: the File menu, the path field, the layout and zoom buttons.

use std::path::PathBuf;

use eframe::egui;

use super::action::Action;
use super::probe;
use crate::app::commands::UiCommand;
use crate::app::state::Session;
use crate::app::transfer::{ExportKind, ImportKind};
use crate::project::Layout;

fn command_button(ui: &mut egui::Ui, c: UiCommand, out: &mut Vec<Action>) {
    let r = ui
        .button(c.label_with_shortcut())
        .on_hover_text(c.tooltip());
    probe::note(ui, &format!("menu: {}", c.label()), &r);
    if r.clicked() {
        out.push(Action::Command(c));
    }
}

/// Draws the top bar.
pub fn top_bar_ui(
    ui: &mut egui::Ui,
    path_field: &mut String,
    session: &mut Session,
) -> Vec<Action> {
    let mut out = Vec::new();
    ui.horizontal_wrapped(|ui| {
        let file = ui.menu_button("File", |ui| {
            for c in [
                UiCommand::NewProject,
                UiCommand::Open,
                UiCommand::Save,
                UiCommand::SaveAs,
            ] {
                command_button(ui, c, &mut out);
            }
            ui.separator();
            for k in ExportKind::ALL {
                if ui.button(k.label()).clicked() {
                    out.push(Action::Export(k));
                }
            }
            let r = ui
                .checkbox(&mut session.deidentify_exports, "De-identify exports")
                .on_hover_text(
                    "Images named case-0001…, DICOM by the PS3.15 Basic Confidentiality Profile (SEGs go out with their de-identified sources), no paths, names or UIDs in the export",
                );
            probe::note(ui, "De-identify exports", &r);
            ui.separator();
            for k in ImportKind::ALL {
                if ui.button(k.label()).clicked() {
                    out.push(Action::Import(k));
                }
            }
            ui.separator();
            if ui
                .button("PACS…")
                .on_hover_text("Search a PACS over DICOMweb and fetch a study into the project")
                .clicked()
            {
                out.push(Action::ShowPacs);
            }
            let r = ui
                .button("Open study…")
                .on_hover_text("Read a reader study (a study file made by `vitscope study new`) as one of its readers");
            probe::note(ui, "Open study…", &r);
            if r.clicked() {
                out.push(Action::OpenStudy);
            }
            let r = ui
                .button("Recover unsaved work…")
                .on_hover_text("List the recovery copies of sessions that ended without saving");
            probe::note(ui, "Recover unsaved work…", &r);
            if r.clicked() {
                out.push(Action::ShowRecovery);
            }
        });
        probe::note(ui, "File", &file.response);
        ui.label("Path:");
        ui.add(
            egui::TextEdit::singleline(path_field)
                .hint_text("file or folder for Open / Save as / Export / Import")
                .desired_width(320.0),
        );
        if ui
            .button("Open")
            .on_hover_text("Open the path typed here (asks first when work is unsaved)")
            .clicked()
        {
            out.push(Action::OpenPath(PathBuf::from(path_field.trim())));
        }
        ui.separator();
        let layout = &mut session.project.view.layout;
        ui.selectable_value(layout, Layout::Single, "1 pane");
        ui.selectable_value(layout, Layout::Two, "2 panes");
        ui.selectable_value(layout, Layout::Four, "4 panes");
        ui.separator();
        for c in [UiCommand::Fit, UiCommand::OneToOne, UiCommand::Help] {
            command_button(ui, c, &mut out);
        }
    });
    out
}
