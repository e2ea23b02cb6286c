//! The dialogs that guard work: "save changes?" before anything replaces the session or closes
//! the window, and the list of recovery copies offered at start.

use eframe::egui;

use super::{Action, Answer, Pending};
use crate::app::recovery::RecoveryCopy;

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
    egui::Window::new("Save changes?")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
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
                    if ui.button(label).on_hover_text(tip).clicked() {
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
    egui::Window::new("Recover unsaved work?")
        .collapsible(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label(if copies.len() == 1 {
                "An autosave newer than its project exists:".to_string()
            } else {
                format!(
                    "{} autosaves newer than their projects exist:",
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
                    if ui.button(restore).clicked() {
                        out.push(Action::Restore(c.clone()));
                    }
                    if ui.button(discard).clicked() {
                        out.push(Action::DiscardRecovery(c.clone()));
                    }
                    ui.end_row();
                }
            });
            if ui
                .button("Later")
                .on_hover_text("Keep the copies and decide at the next start")
                .clicked()
            {
                out.push(Action::KeepRecovery);
            }
        });
    out
}
