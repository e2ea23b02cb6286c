//! Reader mode: a study's questions one at a time, blind. The window shows the image as large as
//! it fits, the question, "12 / 60" and a pause button — never a method's name, a score or the
//! prediction; maps are labelled "A" and "B" only in a pair. Every view was made beforehand by a
//! thread of its own ([`crate::study::prepare`]); the clock of a question starts when it is
//! fully drawn and stops while paused. Keys: 1–5 rate, ← / → choose A / B, a click places the
//! marker of a localisation (click again to move it), Enter moves on. Each answer is in the
//! session file before the next frame ([`crate::study::reading`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use eframe::egui;

use crate::study::prepare::{self, Views};
use crate::study::reading::Reading;

/// The reader-mode window.
pub struct ReaderApp {
    reading: Reading,
    rx: Receiver<Result<Views, String>>,
    ready: HashMap<String, Views>,
    textures: HashMap<(String, String), egui::TextureHandle>,
    error: Option<String>,
    /// The question on screen and when it was first fully drawn.
    shown: Option<(usize, Instant)>,
    paused_since: Option<Instant>,
    paused_total: Duration,
    /// A localisation click not yet confirmed, in image pixels.
    marker: Option<(f64, f64)>,
    note: String,
}

impl ReaderApp {
    /// Opens `reader`'s reading of `study_file`; the views are prepared with `checkpoint`.
    pub fn new(
        ctx: &egui::Context,
        study_file: &Path,
        reader: &str,
        lock: bool,
        checkpoint: crate::project::CheckpointEntry,
    ) -> Result<ReaderApp, crate::error::Invalid> {
        let reading = Reading::open(study_file, reader, lock)?;
        // The cases in the order the reader meets them, from the first unanswered question.
        let from = reading.current.unwrap_or(usize::MAX);
        let mut order: Vec<String> = Vec::new();
        for it in reading.items().iter().skip(from) {
            if !order.contains(&it.case) {
                order.push(it.case.clone());
            }
        }
        let wake = {
            let ctx = ctx.clone();
            move || ctx.request_repaint()
        };
        let rx = prepare::spawn(reading.study.clone(), study_file, checkpoint, order, wake);
        Ok(ReaderApp {
            reading,
            rx,
            ready: HashMap::new(),
            textures: HashMap::new(),
            error: None,
            shown: None,
            paused_since: None,
            paused_total: Duration::ZERO,
            marker: None,
            note: String::new(),
        })
    }

    /// The question on screen once it is fully drawn (its index in the plan).
    pub fn drawn(&self) -> Option<usize> {
        self.shown.map(|(k, _)| k)
    }

    /// The reading (answers, progress).
    pub fn reading(&self) -> &Reading {
        &self.reading
    }

    fn texture(
        &mut self,
        ctx: &egui::Context,
        case: &str,
        view: &str,
    ) -> Option<egui::TextureHandle> {
        let key = (case.to_string(), view.to_string());
        if let Some(t) = self.textures.get(&key) {
            return Some(t.clone());
        }
        let v = self.ready.get(case)?;
        let rgb = if view == "image" {
            &v.image
        } else {
            v.views.get(view)?
        };
        let img = egui::ColorImage::from_rgb([v.width, v.height], rgb);
        // An opaque name: nothing on screen or in the accessibility tree names the condition.
        let t = ctx.load_texture(
            format!("view-{}", self.textures.len()),
            img,
            egui::TextureOptions::LINEAR,
        );
        self.textures.insert(key, t.clone());
        Some(t)
    }

    fn elapsed_ms(&self) -> u64 {
        let Some((_, t)) = self.shown else { return 0 };
        let paused = self.paused_total + self.paused_since.map_or(Duration::ZERO, |p| p.elapsed());
        t.elapsed().saturating_sub(paused).as_millis() as u64
    }

    fn record(&mut self, response: String) {
        let rt = self.elapsed_ms();
        match self.reading.answer(&response, rt) {
            Ok(()) => self.note.clear(),
            Err(e) => self.note = e.to_string(),
        }
    }

    fn next(&mut self) {
        if self.reading.move_on() {
            self.shown = None;
            self.paused_total = Duration::ZERO;
            self.marker = None;
            self.note.clear();
        } else {
            self.note = "answer first (1–5, Left / Right, or a click), then Enter".into();
        }
    }

    /// Draws `tex` as large as fits `rect` (aspect kept); returns where it went.
    fn draw_image(ui: &egui::Ui, tex: &egui::TextureHandle, rect: egui::Rect) -> egui::Rect {
        let [w, h] = tex.size();
        let scale = (rect.width() / w as f32).min(rect.height() / h as f32);
        let size = egui::vec2(w as f32 * scale, h as f32 * scale);
        let r = egui::Rect::from_center_size(rect.center(), size);
        ui.painter().image(
            tex.id(),
            r,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
        r
    }
}

impl eframe::App for ReaderApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        while let Ok(r) = self.rx.try_recv() {
            match r {
                Ok(v) => {
                    self.ready.insert(v.case.clone(), v);
                }
                Err(e) => self.error = Some(e),
            }
        }
        let (done, total) = self.reading.progress();
        let paused = self.paused_since.is_some();
        egui::Panel::top("reader_top").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(format!("{done} / {total}")).strong());
                let label = if paused { "Resume" } else { "Pause" };
                if ui.button(label).clicked() {
                    match self.paused_since.take() {
                        Some(p) => self.paused_total += p.elapsed(),
                        None => self.paused_since = Some(Instant::now()),
                    }
                }
                if !self.note.is_empty() {
                    ui.label(&self.note);
                }
            });
        });
        let Some(item) = self.reading.item().cloned() else {
            egui::CentralPanel::default().show(ui, |ui| {
                ui.heading(format!("All {total} questions are answered. Thank you."));
                ui.label("You may close this window.");
            });
            return;
        };
        let k = self.reading.current.unwrap_or(0);
        let question_text = match item.question.as_str() {
            "likert" => {
                "How well does the coloured map show the finding?  1 = not at all … 5 = fully.  Then Enter."
            }
            "confidence" => {
                "How confident are you that the finding is present?  1 = not confident … 5 = certain.  Then Enter."
            }
            "localise" => {
                "Click on the finding (click again to move the marker), then press Enter."
            }
            _ => "Which map shows the finding better?  Left key = A, Right key = B.  Then Enter.",
        };
        egui::Panel::bottom("reader_bottom").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(question_text);
            });
            ui.horizontal(|ui| {
                let chosen = self.reading.answer.clone();
                match item.question.as_str() {
                    "likert" | "confidence" => {
                        for v in 1..=5 {
                            let on = chosen.as_deref() == Some(&v.to_string());
                            if ui.selectable_label(on, v.to_string()).clicked() && !paused {
                                self.record(v.to_string());
                            }
                        }
                    }
                    "pairwise" => {
                        let (a, b) = item.condition.split_once('|').unwrap_or(("", ""));
                        for (label, side) in [("A", a), ("B", b)] {
                            let on = chosen.as_deref() == Some(side);
                            if ui.selectable_label(on, label).clicked() && !paused {
                                self.record(side.to_string());
                            }
                        }
                    }
                    _ => {}
                }
                if ui.button("Next (Enter)").clicked() && !paused {
                    self.confirm(&item);
                }
            });
        });
        // Keys.
        let mut confirm_now = false;
        if !paused {
            let keys = ctx.input(|i| {
                (
                    [
                        egui::Key::Num1,
                        egui::Key::Num2,
                        egui::Key::Num3,
                        egui::Key::Num4,
                        egui::Key::Num5,
                    ]
                    .iter()
                    .position(|k| i.key_pressed(*k)),
                    i.key_pressed(egui::Key::ArrowLeft),
                    i.key_pressed(egui::Key::ArrowRight),
                    i.key_pressed(egui::Key::Enter),
                )
            });
            let ready = self.shown.is_some();
            let (digit, left, right, enter) = keys;
            // An answer key and Enter may arrive in one frame: the answer first.
            match (item.question.as_str(), digit, left, right) {
                _ if !ready => {}
                ("likert" | "confidence", Some(v), ..) => self.record((v + 1).to_string()),
                ("pairwise", _, true, _) => {
                    let a = item.condition.split('|').next().unwrap_or("").to_string();
                    self.record(a);
                }
                ("pairwise", _, _, true) => {
                    let b = item.condition.split('|').nth(1).unwrap_or("").to_string();
                    self.record(b);
                }
                _ => {}
            }
            // Enter is taken after the image below: a click and Enter in one frame place the
            // marker first.
            confirm_now = enter && ready;
        }
        egui::CentralPanel::default().show(ui, |ui| {
            let area = ui.available_rect_before_wrap();
            if let Some(e) = &self.error {
                ui.colored_label(egui::Color32::from_rgb(230, 90, 90), e);
                return;
            }
            if paused {
                ui.centered_and_justified(|ui| ui.heading("Paused"));
                return;
            }
            if !self.ready.contains_key(&item.case) {
                ui.centered_and_justified(|ui| ui.label("Preparing the next case…"));
                return;
            }
            let response = ui.allocate_rect(area, egui::Sense::click());
            match item.question.as_str() {
                "pairwise" => {
                    let (a, b) = item.condition.split_once('|').unwrap_or(("", ""));
                    let half = area.width() / 2.0;
                    for (i, (label, cond)) in [("A", a), ("B", b)].into_iter().enumerate() {
                        let cell = egui::Rect::from_min_size(
                            area.min + egui::vec2(half * i as f32, 24.0),
                            egui::vec2(half - 8.0, area.height() - 24.0),
                        );
                        if let Some(t) = self.texture(&ctx, &item.case, cond) {
                            let r = Self::draw_image(ui, &t, cell);
                            let chosen = self.reading.answer.as_deref() == Some(cond);
                            ui.painter().text(
                                egui::pos2(r.center().x, area.min.y + 12.0),
                                egui::Align2::CENTER_CENTER,
                                label,
                                egui::FontId::proportional(20.0),
                                if chosen {
                                    egui::Color32::YELLOW
                                } else {
                                    egui::Color32::WHITE
                                },
                            );
                            if chosen {
                                ui.painter().rect_stroke(
                                    r,
                                    0.0,
                                    egui::Stroke::new(3.0, egui::Color32::YELLOW),
                                    egui::StrokeKind::Outside,
                                );
                            }
                        }
                    }
                }
                q => {
                    let view = if q == "likert" {
                        item.condition.as_str()
                    } else {
                        "image"
                    };
                    if let Some(t) = self.texture(&ctx, &item.case, view) {
                        let r = Self::draw_image(ui, &t, area);
                        if q == "localise" {
                            let [w, h] = t.size();
                            if let Some(p) = response
                                .interact_pointer_pos()
                                .filter(|_| response.clicked())
                            {
                                let x = (p.x - r.min.x) / r.width() * w as f32;
                                let y = (p.y - r.min.y) / r.height() * h as f32;
                                self.marker = Some((x as f64, y as f64));
                            }
                            if let Some((x, y)) = self.marker {
                                let p = egui::pos2(
                                    r.min.x + x as f32 / w as f32 * r.width(),
                                    r.min.y + y as f32 / h as f32 * r.height(),
                                );
                                let s =
                                    egui::Stroke::new(2.5, egui::Color32::from_rgb(0, 255, 120));
                                ui.painter().circle_stroke(p, 9.0, s);
                                ui.painter().line_segment(
                                    [p - egui::vec2(14.0, 0.0), p + egui::vec2(14.0, 0.0)],
                                    s,
                                );
                                ui.painter().line_segment(
                                    [p - egui::vec2(0.0, 14.0), p + egui::vec2(0.0, 14.0)],
                                    s,
                                );
                            }
                        }
                    }
                }
            }
            // The clock starts once the question is fully on screen.
            if self.shown.map(|(i, _)| i) != Some(k) {
                self.shown = Some((k, Instant::now()));
            }
            // For tests driving the window (VITSCOPE_UI_PROBE=1): which question is drawn.
            super::probe::rect(&ctx, &format!("question {k}"), area);
        });
        if confirm_now {
            self.confirm(&item);
            ctx.request_repaint();
        }
        super::probe::end_frame();
    }
}

impl ReaderApp {
    /// Enter: a localisation records its marker; any question with an answer moves on.
    fn confirm(&mut self, item: &crate::study::design::Item) {
        if item.question == "localise"
            && let Some((x, y)) = self.marker
            && self.reading.answer.is_none()
        {
            self.record(format!("{x:.2};{y:.2}"));
        }
        self.next();
    }
}

impl super::Workbench {
    /// File → Open study…: which reader reads. Reader mode opens in a window of its own (this
    /// workbench's project stays as it is), as `vitscope STUDY.ron --reader ID` would.
    pub(super) fn open_study_window(&mut self, ctx: &egui::Context) {
        let Some((path, readers)) = self.open_study.clone() else {
            return;
        };
        let mut open = true;
        let mut chosen = None;
        egui::Window::new("Open study")
            .open(&mut open)
            .show(ctx, |ui| {
                ui.label(format!("{}: read as", path.display()));
                ui.horizontal_wrapped(|ui| {
                    for r in &readers {
                        if ui.button(r).clicked() {
                            chosen = Some(r.clone());
                        }
                    }
                });
            });
        if let Some(reader) = chosen {
            let started = std::env::current_exe().and_then(|exe| {
                std::process::Command::new(exe)
                    .arg(&path)
                    .args(["--reader", &reader])
                    .spawn()
            });
            match started {
                Ok(mut child) => {
                    // Reaped when it ends, so no zombie stays behind.
                    std::thread::spawn(move || child.wait());
                    self.session
                        .note(format!("reader mode for {reader} opened"));
                }
                Err(e) => self.session.note(format!("cannot open reader mode: {e}")),
            }
            open = false;
        }
        if !open {
            self.open_study = None;
        }
    }
}
