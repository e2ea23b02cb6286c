//! The dialogs that guard work, each modal (nothing else takes input while it is open): "save
//! changes?" before anything replaces the session or closes the window, the list of recovery
//! copies, "the project file changed on disk", and a failed save.

use eframe::egui;

use super::action::{Action, Answer, ConflictAnswer, Pending};
use super::probe;
use crate::project::recovery::RecoveryCopy;

/// "Save changes?" while `pending` waits for an answer.
pub fn confirm_ui(ctx: &egui::Context, pending: Option<&Pending>) -> Vec<Action> {
    let mut out = Vec::new();
    let Some(p) = pending else { return out };
    let what = match p {
        Pending::Open(path) => format!("Opening {} replaces this session.", path.display()),
        Pending::NewProject => "A new project replaces this session.".to_string(),
        Pending::Restore(c) => format!("Restoring {} replaces this session.", c.describe()),
        Pending::Quit => "The window is closing.".to_string(),
    };
    egui::Modal::new(egui::Id::unique("save_changes")).show(ctx, |ui| {
        ui.heading("Save changes?");
        ui.label(format!("{what}\nThis session has unsaved changes."));
        ui.horizontal(|ui| {
            for (label, a, tip) in [
                (
                    "Save",
                    Answer::Save,
                    "Save first (an untitled session saves to the path field)",
                ),
                (
                    "Don't save",
                    Answer::Discard,
                    "Go on and lose the unsaved changes",
                ),
                ("Cancel", Answer::Cancel, "Stay in this session"),
            ] {
                let r = ui.button(label).on_hover_text(tip);
                probe::note(ui, label, &r);
                if r.clicked() {
                    out.push(Action::Confirm(a));
                }
            }
        });
    });
    out
}

/// The recovery copies found at start.
pub fn recovery_ui(ctx: &egui::Context, copies: &[RecoveryCopy]) -> Vec<Action> {
    let mut out = Vec::new();
    if copies.is_empty() {
        return out;
    }
    egui::Modal::new(egui::Id::unique("recovery")).show(ctx, |ui| {
        ui.heading("Recover unsaved work?");
        ui.label(if copies.len() == 1 {
            "A session ended without saving; its autosave:".to_string()
        } else {
            format!(
                "{} sessions ended without saving; their autosaves, newest first:",
                copies.len()
            )
        });
        egui::Grid::new("recovery").show(ui, |ui| {
            for (i, c) in copies.iter().enumerate() {
                ui.label(c.describe())
                    .on_hover_text(c.autosave.display().to_string());
                // One copy: plain labels; several: numbered, so each button is unique.
                let (restore, discard) = if copies.len() == 1 {
                    ("Restore".to_string(), "Discard".to_string())
                } else {
                    (format!("Restore {}", i + 1), format!("Discard {}", i + 1))
                };
                let r = ui.button(&restore);
                probe::note(ui, &restore, &r);
                if r.clicked() {
                    out.push(Action::Restore(c.clone()));
                }
                let r = ui.button(&discard);
                probe::note(ui, &discard, &r);
                if r.clicked() {
                    out.push(Action::DiscardRecovery(c.clone()));
                }
                ui.end_row();
            }
        });
        let r = ui
            .button("Later")
            .on_hover_text("Keep the copies and decide later (File → Recover unsaved work…)");
        probe::note(ui, "Later", &r);
        if r.clicked() {
            out.push(Action::KeepRecovery);
        }
    });
    out
}

/// "The project file changed on disk": reload, save as, overwrite, or cancel.
pub fn conflict_ui(ctx: &egui::Context, open: bool) -> Vec<Action> {
    let mut out = Vec::new();
    if !open {
        return out;
    }
    egui::Modal::new(egui::Id::unique("conflict")).show(ctx, |ui| {
        ui.heading("The project file changed on disk");
        ui.label(
            "Another program saved the project since this session read it. Nothing was overwritten.",
        );
        ui.horizontal(|ui| {
            for (label, a, tip) in [
                (
                    "Reload",
                    ConflictAnswer::Reload,
                    "Read the file again; this session's changes stay in its recovery copy",
                ),
                (
                    "Save as",
                    ConflictAnswer::SaveAs,
                    "Save this session under the name in the path field",
                ),
                (
                    "Overwrite",
                    ConflictAnswer::Overwrite,
                    "Replace the file on disk with this session's content",
                ),
                ("Cancel", ConflictAnswer::Cancel, "Decide later"),
            ] {
                let r = ui.button(label).on_hover_text(tip);
                probe::note(ui, label, &r);
                if r.clicked() {
                    out.push(Action::Conflict(a));
                }
            }
        });
    });
    out
}

/// A failed save: the message stays until dismissed.
pub fn save_error_ui(ctx: &egui::Context, error: Option<&str>) -> Vec<Action> {
    let mut out = Vec::new();
    let Some(e) = error else { return out };
    egui::Modal::new(egui::Id::unique("save_failed")).show(ctx, |ui| {
        ui.heading("Save failed");
        ui.label(e);
        let r = ui.button("OK");
        probe::note(ui, "OK", &r);
        if r.clicked() {
            out.push(Action::DismissSaveError);
        }
    });
    out
}
