//! What runs without the user: the time-driven autosave, the automated runs (screenshot, frame
//! bench, scripted stroke), and eframe's hooks (raw input for the scripted strokes, the autosave
//! on exit).

use std::time::Instant;

use eframe::egui;

use super::effects::EffectKind;
use super::workbench::Workbench;
use crate::app::commands::UiCommand;
use crate::app::harness::{self, BenchStep};
use crate::app::state::Tool;
use crate::project::recovery::AutosaveStep;

impl Workbench {
    pub(super) fn autosave_step(&mut self, ctx: &egui::Context) {
        let unsaved = self.unsaved();
        let s = &self.session;
        match self
            .autosave
            .step(Instant::now(), unsaved, s.edit_generation, &s.project)
        {
            AutosaveStep::Idle => {}
            // No input may come for a long time: wake up for the deadline.
            AutosaveStep::Wait(d) => ctx.request_repaint_after(d),
            AutosaveStep::Due => self.write_autosave(),
        }
    }

    pub(super) fn write_autosave(&mut self) {
        match self.session.autosave() {
            Ok(_) => {
                let s = &self.session;
                self.autosave.written(s.edit_generation, &s.project);
            }
            Err(e) => {
                self.session.note(e.to_string());
                // Try again at the next deadline rather than every frame.
                let s = &self.session;
                self.autosave
                    .written(s.edit_generation.wrapping_sub(1), &s.project);
            }
        }
    }

    pub(super) fn automation_step(&mut self, ctx: &egui::Context) {
        let loaded = self.fully_loaded();
        if let Some(shot) = &mut self.automation.screenshot
            && let Some(r) = shot.step(
                ctx,
                self.session.loaded.is_none() || loaded,
                super::busy::busy_tick(ctx),
            )
        {
            self.finish(ctx, r);
        }
        let pane = self.pane_rects.first().copied();
        if self.automation.frame_bench.is_some() {
            ctx.request_repaint();
            if loaded {
                let px = self.session.mask_pixels();
                let ready = self.effect_preview_ready();
                let what = self.effect_preview_text();
                let cpu = self.frame_cpu_ms;
                let bench = self.automation.frame_bench.as_mut().expect("checked");
                match bench.step(cpu, pane, px, ready) {
                    BenchStep::Continue => {}
                    BenchStep::StartStroke => self.session.tool = Tool::Brush,
                    BenchStep::StartSeeds => {
                        self.session.class = 2.min(self.session.project.classes.len() as u8);
                        self.run_command(UiCommand::Effect(EffectKind::Grow), Some(ctx));
                    }
                    BenchStep::Finished => {
                        bench.report(px, &what);
                        self.automation.frame_bench = None;
                        self.finish(ctx, Ok(()));
                    }
                }
            }
        }
        if let Some(stroke) = &mut self.automation.paint_stroke {
            if !stroke.started() {
                if loaded && let Some(p) = pane {
                    self.session.tool = Tool::Brush;
                    stroke.start(p);
                }
                ctx.request_repaint();
            } else if !stroke.done {
                ctx.request_repaint();
            } else if !self.tool.stroking() {
                if let Some(ann) = self.session.ann() {
                    println!(
                        "edit: pid={} image={} mask_px={} digest={:016x}",
                        std::process::id(),
                        self.session.current,
                        ann.mask.count(),
                        harness::mask_digest(&ann.mask.data)
                    );
                }
                self.automation.paint_stroke = None;
            }
        }
    }

    /// An automated run ended: close without asking (nothing of the user's is at stake).
    pub(super) fn finish(&mut self, ctx: &egui::Context, r: Result<(), String>) {
        self.automation.finished = Some(r);
        self.quit_confirmed = true;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

impl eframe::App for Workbench {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.frame_cpu_ms = frame.info().cpu_usage.map(|s| s * 1e3);
        self.frame_ui(ui);
    }

    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        if let Some(bench) = &self.automation.frame_bench {
            raw_input.events.extend(bench.stroke_events());
        }
        if let Some(stroke) = &mut self.automation.paint_stroke {
            raw_input.events.extend(stroke.events());
        }
    }

    fn on_exit(&mut self) {
        // A user who answered "discard" or an automated run leaves nothing behind; anything else
        // that closes the window with unsaved work writes the recovery copy first.
        if self.unsaved() && !self.quit_confirmed {
            self.tool.end(&mut self.session, None);
            if let Err(e) = self.session.autosave() {
                eprintln!("autosave on exit failed: {e}");
            }
        }
    }
}
