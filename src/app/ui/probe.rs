//! `VITSCOPE_UI_PROBE=1`: where the controls that guard work are on screen, printed on stderr as
//! `ui-probe: <label>\t<x>\t<y>` (the control's centre in window pixels) when it appears or
//! moves, and `ui-probe: <label>\tgone\tgone` when a frame no longer shows it, so that a test can
//! drive the real window with X input events (xdotool) as a user would, without guessing
//! coordinates. Off by default; it changes nothing else.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use eframe::egui;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("VITSCOPE_UI_PROBE").is_ok_and(|v| v == "1"))
}

thread_local! {
    /// Where each control was last reported.
    static SEEN: RefCell<HashMap<String, (i32, i32)>> = RefCell::new(HashMap::new());
    /// The controls shown in the frame being drawn.
    static FRAME: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Reports a rectangle's centre under `label`.
pub fn rect(ctx: &egui::Context, label: &str, r: egui::Rect) {
    if !enabled() {
        return;
    }
    let ppp = ctx.pixels_per_point();
    let c = r.center();
    let at = ((c.x * ppp).round() as i32, (c.y * ppp).round() as i32);
    FRAME.with(|f| f.borrow_mut().insert(label.to_string()));
    SEEN.with(|s| {
        if s.borrow_mut().insert(label.to_string(), at) != Some(at) {
            eprintln!("ui-probe: {label}\t{}\t{}", at.0, at.1);
        }
    });
}

/// Reports a widget under `label`.
pub fn note(ui: &egui::Ui, label: &str, r: &egui::Response) {
    rect(ui.ctx(), label, r.rect);
}

/// The frame is drawn: every control it did not show is reported gone.
pub fn end_frame() {
    if !enabled() {
        return;
    }
    let shown = FRAME.with(|f| std::mem::take(&mut *f.borrow_mut()));
    SEEN.with(|s| {
        s.borrow_mut().retain(|label, _| {
            let keep = shown.contains(label);
            if !keep {
                eprintln!("ui-probe: {label}\tgone\tgone");
            }
            keep
        });
    });
}
