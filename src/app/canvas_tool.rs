//! The canvas's tool state machine as plain logic: pointer input in image coordinates (begin /
//! drag / end of a drag, clicks) becomes edits of the [`Session`] — [`Command`]s on its undo stack
//! — and view effects (pan, window/level) for the caller. No egui: the canvas panel translates its
//! pointer events, and the tests drive it directly.
//!
//! Brush and eraser strokes paint the mask as they go (the panes show them live) and are recorded
//! as one command when the drag ends; box moves and resizes edit the box live and are recorded as
//! one `SetBox` from the state before the drag.

use super::state::{Session, Tool};
use crate::project::annotation::{self, Command, LabelBox, PatchRecorder};

/// A point in image pixels (may lie outside the image).
pub type Point = (f32, f32);

/// The pointer button of a drag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// Left: the tool.
    Primary,
    /// Right: DICOM window/level (pan on other images).
    Secondary,
    /// Middle: pan.
    Middle,
}

/// What the caller does with the view after an input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Move the view by this many screen points (the drag's delta).
    Pan {
        /// Screen points, x.
        dx: f32,
        /// Screen points, y.
        dy: f32,
    },
    /// The DICOM window changed: re-upload the image.
    Window,
}

#[derive(Debug, Clone)]
enum Drag {
    None,
    Pan,
    NewBox(Point),
    MoveBox {
        index: usize,
        start: Point,
        before: LabelBox,
    },
    ResizeBox {
        index: usize,
        corner: usize,
        before: LabelBox,
    },
    Stroke {
        last: Point,
        recorder: Box<PatchRecorder>,
    },
    Window {
        start: (f64, f64),
    },
}

/// The tool state of the canvas: the drag in progress and the polygon being drawn.
#[derive(Debug, Clone)]
pub struct CanvasTool {
    drag: Drag,
    /// Last pointer position of the drag (image pixels), used when the release has none.
    last: Option<Point>,
    /// Vertices of the polygon being drawn.
    pub polygon: Vec<Point>,
}

impl Default for CanvasTool {
    fn default() -> Self {
        Self {
            drag: Drag::None,
            last: None,
            polygon: Vec::new(),
        }
    }
}

/// The box under `p`: (index, corner 0..4 when within `tol` of one).
pub fn hit_box(session: &Session, p: Point, tol: f32) -> Option<(usize, Option<usize>)> {
    let ann = session.ann()?;
    for (i, b) in ann.boxes.iter().enumerate().rev() {
        let corners = [
            (b.x0 as f32, b.y0 as f32),
            (b.x1 as f32, b.y0 as f32),
            (b.x0 as f32, b.y1 as f32),
            (b.x1 as f32, b.y1 as f32),
        ];
        if let Some(c) = corners
            .iter()
            .position(|c| (c.0 - p.0).abs() <= tol && (c.1 - p.1).abs() <= tol)
        {
            return Some((i, Some(c)));
        }
        if p.0 >= b.x0 as f32 && p.0 < b.x1 as f32 && p.1 >= b.y0 as f32 && p.1 < b.y1 as f32 {
            return Some((i, None));
        }
    }
    None
}

/// The class a brush writes, or 0 for the eraser.
fn paint_value(s: &Session) -> u8 {
    if s.tool == Tool::Brush { s.class } else { 0 }
}

impl CanvasTool {
    /// Resets everything in progress (another image was opened). A stroke in progress is kept
    /// as painted but not recorded; callers end drags before switching images.
    pub fn reset(&mut self) {
        self.drag = Drag::None;
        self.last = None;
        self.polygon.clear();
    }

    /// Whether a brush or eraser stroke is being painted.
    pub fn stroking(&self) -> bool {
        matches!(self.drag, Drag::Stroke { .. })
    }

    /// The start corner of a box being drawn.
    pub fn new_box_start(&self) -> Option<Point> {
        match self.drag {
            Drag::NewBox(p) => Some(p),
            _ => None,
        }
    }

    /// A drag begins at `p` (where the button went down). `tol`: corner grab distance in pixels.
    pub fn begin(&mut self, s: &mut Session, p: Point, button: Button, tol: f32) {
        self.last = Some(p);
        self.drag = match button {
            Button::Middle => Drag::Pan,
            Button::Secondary => match s.loaded.as_ref().and_then(|l| {
                let d = l.dicom.as_ref()?;
                Some(d.effective_window(s.project.images[l.index].window))
            }) {
                Some(start) => Drag::Window { start },
                None => Drag::Pan,
            },
            Button::Primary => match s.tool {
                Tool::Select => match hit_box(s, p, tol) {
                    Some((index, corner)) => {
                        s.selected_box = Some(index);
                        let before = s.ann().expect("a hit box").boxes[index];
                        match corner {
                            Some(corner) => Drag::ResizeBox {
                                index,
                                corner,
                                before,
                            },
                            None => Drag::MoveBox {
                                index,
                                start: p,
                                before,
                            },
                        }
                    }
                    None => Drag::Pan,
                },
                Tool::Box => Drag::NewBox(p),
                Tool::Brush | Tool::Eraser => {
                    let (value, radius) = (paint_value(s), s.brush_radius);
                    let allowed = s.paint_allowed();
                    let Some(st) = s.state_mut() else {
                        return;
                    };
                    let mut recorder = Box::new(PatchRecorder::new(&st.ann.mask));
                    if let Some(r) = annotation::stamp(&mut st.ann.mask, p.0, p.1, radius, value) {
                        if let Some(a) = &allowed {
                            recorder.restore_outside(&mut st.ann.mask, r, a);
                        }
                        recorder.touch(r);
                        s.mask_touched(r);
                    }
                    Drag::Stroke { last: p, recorder }
                }
                Tool::Polygon | Tool::Fill => Drag::None,
            },
        };
    }

    /// The pointer moved to `p` during the drag; `delta` is the move in screen points and
    /// `total` the whole drag so far (screen points).
    pub fn drag(
        &mut self,
        s: &mut Session,
        p: Point,
        delta: (f32, f32),
        total: (f32, f32),
    ) -> Effect {
        self.last = Some(p);
        let Some((w, h)) = s.loaded.as_ref().map(|l| (l.width(), l.height())) else {
            return Effect::None;
        };
        match &mut self.drag {
            Drag::Pan => {
                return Effect::Pan {
                    dx: delta.0,
                    dy: delta.1,
                };
            }
            Drag::Stroke { last, recorder } => {
                let (from, radius, value) = (*last, s.brush_radius, paint_value(s));
                let allowed = s.paint_allowed();
                *last = p;
                if let Some(st) = s.state_mut()
                    && let Some(r) = annotation::stroke(&mut st.ann.mask, from, p, radius, value)
                {
                    if let Some(a) = &allowed {
                        recorder.restore_outside(&mut st.ann.mask, r, a);
                    }
                    recorder.touch(r);
                    s.mask_touched(r);
                }
            }
            Drag::MoveBox {
                index,
                start,
                before,
            } => {
                let (dx, dy) = (p.0 - start.0, p.1 - start.1);
                let bw = (before.x1 - before.x0) as f32;
                let bh = (before.y1 - before.y0) as f32;
                let x0 = (before.x0 as f32 + dx)
                    .round()
                    .clamp(0.0, (w as f32 - bw).max(0.0));
                let y0 = (before.y0 as f32 + dy)
                    .round()
                    .clamp(0.0, (h as f32 - bh).max(0.0));
                let moved = LabelBox {
                    x0: x0 as u32,
                    y0: y0 as u32,
                    x1: (x0 + bw) as u32,
                    y1: (y0 + bh) as u32,
                    class: before.class,
                };
                let i = *index;
                if let Some(st) = s.state_mut() {
                    st.ann.boxes[i] = moved;
                }
            }
            Drag::ResizeBox {
                index,
                corner,
                before,
            } => {
                let b = *before;
                let fixed = match corner {
                    0 => (b.x1 as f32, b.y1 as f32),
                    1 => (b.x0 as f32, b.y1 as f32),
                    2 => (b.x1 as f32, b.y0 as f32),
                    _ => (b.x0 as f32, b.y0 as f32),
                };
                let i = *index;
                if let Some(nb) = LabelBox::from_corners(fixed, p, w, h, b.class)
                    && let Some(st) = s.state_mut()
                {
                    st.ann.boxes[i] = nb;
                }
            }
            Drag::Window { start } => {
                let (c, wd) = *start;
                let k = wd.abs().max(1.0) / 256.0;
                s.set_window((c - total.1 as f64 * k, (wd + total.0 as f64 * k).max(1.0)));
                return Effect::Window;
            }
            Drag::NewBox(_) | Drag::None => {}
        }
        Effect::None
    }

    /// The drag ended at `p` (or where it was last seen).
    pub fn end(&mut self, s: &mut Session, p: Option<Point>) {
        let drag = std::mem::replace(&mut self.drag, Drag::None);
        let p = p.or(self.last.take());
        let Some((w, h)) = s.loaded.as_ref().map(|l| (l.width(), l.height())) else {
            return;
        };
        match drag {
            Drag::NewBox(start) => {
                if let Some(p) = p
                    && let Some(b) = LabelBox::from_corners(start, p, w, h, s.class)
                {
                    s.add_box(b);
                }
            }
            Drag::Stroke { recorder, .. } => {
                if let Some(c) = s.ann().and_then(|a| recorder.finish(&a.mask)) {
                    s.record(c);
                }
            }
            Drag::MoveBox { index, before, .. } | Drag::ResizeBox { index, before, .. } => {
                let after = s.ann().map(|a| a.boxes[index]);
                if let Some(after) = after.filter(|a| *a != before) {
                    if let Some(st) = s.state_mut() {
                        st.ann.boxes[index] = before;
                    }
                    s.apply(Command::SetBox {
                        index,
                        before,
                        after,
                    });
                }
            }
            Drag::Pan | Drag::Window { .. } | Drag::None => {}
        }
    }

    /// A click (press and release without a drag) at `p`.
    pub fn click(&mut self, s: &mut Session, p: Point, tol: f32) {
        match s.tool {
            Tool::Polygon => self.polygon.push(p),
            Tool::Fill => {
                if p.0 >= 0.0 && p.1 >= 0.0 {
                    s.fill_at(p.0 as usize, p.1 as usize)
                }
            }
            Tool::Select => s.selected_box = hit_box(s, p, tol).map(|h| h.0),
            Tool::Brush | Tool::Eraser => {
                let (value, radius) = (paint_value(s), s.brush_radius);
                let allowed = s.paint_allowed();
                let Some(st) = s.state_mut() else { return };
                let mut rec = PatchRecorder::new(&st.ann.mask);
                if let Some(r) = annotation::stamp(&mut st.ann.mask, p.0, p.1, radius, value) {
                    if let Some(a) = &allowed {
                        rec.restore_outside(&mut st.ann.mask, r, a);
                    }
                    rec.touch(r);
                }
                if let Some(c) = rec.finish(&st.ann.mask) {
                    s.record(c);
                }
            }
            Tool::Box => {}
        }
    }

    /// Closes the polygon (Enter, double-click): three or more vertices fill it.
    pub fn close_polygon(&mut self, s: &mut Session) {
        let pts = std::mem::take(&mut self.polygon);
        if pts.len() >= 3 {
            s.fill_polygon(&pts);
        }
    }

    /// Esc: drops the polygon and the selection.
    pub fn cancel(&mut self, s: &mut Session) {
        self.polygon.clear();
        s.selected_box = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{ImageEntry, Project};

    /// A session on one 64×48 gray PNG, opened.
    fn session() -> Session {
        let dir = std::env::temp_dir().join(format!("vitscope-canvas-tool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("img.png");
        if !png.is_file() {
            image::GrayImage::from_fn(64, 48, |x, y| image::Luma([((x * 4 + y) % 256) as u8]))
                .save(&png)
                .unwrap();
        }
        let mut p = Project::default();
        p.images.push(ImageEntry::new(png));
        let mut s = Session::new(p, None, dir);
        s.open_image(0).unwrap();
        s
    }

    fn drag(t: &mut CanvasTool, s: &mut Session, from: Point, to: Point) {
        t.begin(s, from, Button::Primary, 2.0);
        for i in 1..=4 {
            let f = i as f32 / 4.0;
            let p = (from.0 + (to.0 - from.0) * f, from.1 + (to.1 - from.1) * f);
            t.drag(s, p, (0.0, 0.0), (0.0, 0.0));
        }
        t.end(s, Some(to));
    }

    #[test]
    fn a_box_drag_adds_one_undoable_box() {
        let (mut s, mut t) = (session(), CanvasTool::default());
        s.tool = Tool::Box;
        drag(&mut t, &mut s, (10.0, 5.0), (30.0, 25.0));
        let b = s.ann().unwrap().boxes.clone();
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].x0, b[0].y0, b[0].x1, b[0].y1), (10, 5, 30, 25));
        assert_eq!(s.project.images[0].boxes, b, "the project follows");
        assert!(s.undo());
        assert!(s.ann().unwrap().boxes.is_empty());
    }

    #[test]
    fn a_brush_stroke_is_one_command_and_the_eraser_removes_it() {
        let (mut s, mut t) = (session(), CanvasTool::default());
        s.tool = Tool::Brush;
        s.brush_radius = 3.0;
        drag(&mut t, &mut s, (5.0, 10.0), (50.0, 10.0));
        assert!(!t.stroking());
        let painted = s.ann().unwrap().mask.count();
        assert!(painted > 45 * 5, "painted {painted}");
        assert_eq!(s.states[0].as_ref().unwrap().history.undo_len(), 1);
        s.tool = Tool::Eraser;
        s.brush_radius = 10.0;
        drag(&mut t, &mut s, (0.0, 10.0), (63.0, 10.0));
        assert_eq!(s.ann().unwrap().mask.count(), 0);
        assert!(s.undo());
        assert_eq!(s.ann().unwrap().mask.count(), painted);
        assert!(s.undo());
        assert_eq!(s.ann().unwrap().mask.count(), 0);
    }

    #[test]
    fn a_brush_limited_to_a_range_changes_only_pixels_in_it() {
        let (mut s, mut t) = (session(), CanvasTool::default());
        s.tool = Tool::Brush;
        s.brush_radius = 8.0;
        // Only the left half of the image may change.
        let allowed: Vec<bool> = (0..64 * 48).map(|i| i % 64 < 32).collect();
        s.paint_within = Some((0, std::sync::Arc::new(allowed.clone())));
        drag(&mut t, &mut s, (5.0, 20.0), (60.0, 20.0));
        t.click(&mut s, (50.0, 40.0), 2.0);
        let m = &s.ann().unwrap().mask.data;
        assert!(m.iter().zip(&allowed).all(|(&v, &a)| a || v == 0));
        let left = m.iter().filter(|&&v| v == 1).count();
        assert!(left > 27 * 15, "painted {left} px on the left");
        // The eraser is limited alike: a stroke over everything erases the left half only.
        s.paint_within = None;
        s.brush_radius = 30.0;
        drag(&mut t, &mut s, (0.0, 24.0), (63.0, 24.0));
        let full = s.ann().unwrap().mask.count();
        assert_eq!(full, 64 * 48);
        s.paint_within = Some((0, std::sync::Arc::new(allowed.clone())));
        s.tool = Tool::Eraser;
        drag(&mut t, &mut s, (0.0, 24.0), (63.0, 24.0));
        let m = &s.ann().unwrap().mask.data;
        assert!(m.iter().zip(&allowed).all(|(&v, &a)| (v == 0) == a));
        // Another image's range limits nothing here.
        s.paint_within = Some((1, std::sync::Arc::new(allowed)));
        assert!(s.paint_allowed().is_none());
    }

    #[test]
    fn select_moves_and_resizes_a_box_as_one_edit_each() {
        let (mut s, mut t) = (session(), CanvasTool::default());
        s.add_box(LabelBox {
            x0: 10,
            y0: 10,
            x1: 20,
            y1: 20,
            class: 1,
        });
        s.tool = Tool::Select;
        // Inside: move by (5, 3).
        drag(&mut t, &mut s, (15.0, 15.0), (20.0, 18.0));
        let b = s.ann().unwrap().boxes[0];
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (15, 13, 25, 23));
        // The bottom-right corner: resize.
        drag(&mut t, &mut s, (25.0, 23.0), (40.0, 30.0));
        let b = s.ann().unwrap().boxes[0];
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (15, 13, 40, 30));
        assert!(s.undo());
        assert_eq!(s.ann().unwrap().boxes[0].x1, 25);
        assert!(s.undo());
        assert_eq!(s.ann().unwrap().boxes[0].x0, 10);
        // Empty space pans.
        t.begin(&mut s, (60.0, 40.0), Button::Primary, 2.0);
        assert_eq!(
            t.drag(&mut s, (61.0, 40.0), (3.0, -1.0), (3.0, -1.0)),
            Effect::Pan { dx: 3.0, dy: -1.0 }
        );
        t.end(&mut s, None);
    }

    #[test]
    fn polygon_clicks_fill_on_close_and_escape_cancels() {
        let (mut s, mut t) = (session(), CanvasTool::default());
        s.tool = Tool::Polygon;
        for p in [(0.0, 0.0), (40.0, 0.0), (0.0, 40.0)] {
            t.click(&mut s, p, 2.0);
        }
        t.close_polygon(&mut s);
        let n = s.ann().unwrap().mask.count();
        assert!((700..900).contains(&n), "triangle of ~800 px, got {n}");
        t.click(&mut s, (50.0, 5.0), 2.0);
        t.cancel(&mut s);
        assert!(t.polygon.is_empty());
        t.close_polygon(&mut s);
        assert_eq!(s.ann().unwrap().mask.count(), n, "nothing to close");
    }

    #[test]
    fn fill_covers_the_region_and_undoes() {
        let (mut s, mut t) = (session(), CanvasTool::default());
        s.tool = Tool::Fill;
        s.class = 2;
        t.click(&mut s, (3.0, 3.0), 2.0);
        let m = &s.ann().unwrap().mask;
        assert_eq!(m.data.iter().filter(|&&v| v == 2).count(), 64 * 48);
        assert!(s.undo());
        assert_eq!(s.ann().unwrap().mask.count(), 0);
        // Outside the image: nothing.
        t.click(&mut s, (-3.0, 3.0), 2.0);
        assert_eq!(s.ann().unwrap().mask.count(), 0);
    }
}
