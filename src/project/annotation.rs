//! Annotations of one image (boxes and a label mask), the edits on them as [`Command`]s, and the
//! undo/redo history. Plain data: no egui types, so tests drive the same commands without a UI.

use serde::{Deserialize, Serialize};

use crate::metrics::{Mask, Rect};

/// Undo steps kept (the oldest fall off).
pub const HISTORY_LIMIT: usize = 500;

/// A labelled box in image pixels, half-open like [`Rect`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LabelBox {
    /// Left column (inclusive).
    pub x0: u32,
    /// Top row (inclusive).
    pub y0: u32,
    /// Right column (exclusive).
    pub x1: u32,
    /// Bottom row (exclusive).
    pub y1: u32,
    /// Label class (1-based index into the project's classes).
    pub class: u8,
}

impl LabelBox {
    /// A box from two corner points (any order), clipped to `w × h`; `None` when empty.
    pub fn from_corners(
        a: (f32, f32),
        b: (f32, f32),
        w: usize,
        h: usize,
        class: u8,
    ) -> Option<Self> {
        let clip = |v: f32, hi: usize| v.round().clamp(0.0, hi as f32) as u32;
        let (x0, x1) = (clip(a.0.min(b.0), w), clip(a.0.max(b.0), w));
        let (y0, y1) = (clip(a.1.min(b.1), h), clip(a.1.max(b.1), h));
        (x1 > x0 && y1 > y0).then_some(Self {
            x0,
            y0,
            x1,
            y1,
            class,
        })
    }

    /// As a metrics rectangle.
    pub fn rect(&self) -> Rect {
        Rect {
            x0: self.x0 as usize,
            y0: self.y0 as usize,
            x1: self.x1 as usize,
            y1: self.y1 as usize,
        }
    }
}

/// Per-pixel class ids (0 = background), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMask {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Class id per pixel.
    pub data: Vec<u8>,
}

impl LabelMask {
    /// All background.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![0; width * height],
        }
    }

    /// Binary mask: any class is inside.
    pub fn binary(&self) -> Mask {
        Mask {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&v| (v != 0) as u8).collect(),
        }
    }

    /// Pixels with any class.
    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&v| v != 0).count()
    }

    fn region(&self, r: &Rect) -> Vec<u8> {
        let mut out = Vec::with_capacity(r.area());
        for y in r.y0..r.y1 {
            out.extend_from_slice(&self.data[y * self.width + r.x0..y * self.width + r.x1]);
        }
        out
    }

    fn put_region(&mut self, r: &Rect, values: &[u8]) {
        let w = r.x1 - r.x0;
        for (row, y) in (r.y0..r.y1).enumerate() {
            self.data[y * self.width + r.x0..y * self.width + r.x1]
                .copy_from_slice(&values[row * w..(row + 1) * w]);
        }
    }
}

/// The pixels one edit changed: a rectangle with its contents before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskPatch {
    /// Changed region.
    pub rect: Rect,
    /// Contents before.
    pub before: Vec<u8>,
    /// Contents after.
    pub after: Vec<u8>,
}

/// Everything annotated on one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotations {
    /// Boxes.
    pub boxes: Vec<LabelBox>,
    /// Segmentation.
    pub mask: LabelMask,
}

impl Annotations {
    /// Nothing annotated on a `w × h` image.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            boxes: Vec::new(),
            mask: LabelMask::new(width, height),
        }
    }

    /// The annotation the metrics score against: the mask where one is drawn, else the boxes.
    pub fn ground_truth(&self) -> Mask {
        if self.mask.count() > 0 {
            self.mask.binary()
        } else {
            let rects: Vec<Rect> = self.boxes.iter().map(LabelBox::rect).collect();
            Mask::from_rects(self.mask.width, self.mask.height, &rects)
        }
    }

    /// What the mask is compared with for "box Δ" (`None` without a mask): the boxes, or the
    /// rectangle of all the mask's components when no box is drawn (the paper's conversion).
    pub fn comparison_boxes(&self, truth: &Mask) -> Option<Mask> {
        if self.mask.count() == 0 {
            None
        } else if self.boxes.is_empty() {
            truth
                .bbox()
                .map(|r| Mask::from_rects(truth.width, truth.height, &[r]))
        } else {
            Some(self.box_mask())
        }
    }

    /// The boxes as a mask (for the box-versus-mask comparison).
    pub fn box_mask(&self) -> Mask {
        let rects: Vec<Rect> = self.boxes.iter().map(LabelBox::rect).collect();
        Mask::from_rects(self.mask.width, self.mask.height, &rects)
    }
}

/// One undoable edit.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Append a box.
    AddBox(LabelBox),
    /// Remove the box at an index (remembering it).
    RemoveBox(usize, LabelBox),
    /// Replace the box at an index.
    SetBox {
        /// Index.
        index: usize,
        /// Before.
        before: LabelBox,
        /// After.
        after: LabelBox,
    },
    /// Change mask pixels.
    Paint(MaskPatch),
    /// Several edits as one step.
    Batch(Vec<Command>),
}

impl Command {
    /// Applies the edit.
    pub fn apply(&self, a: &mut Annotations) {
        match self {
            Command::AddBox(b) => a.boxes.push(*b),
            Command::RemoveBox(i, _) => {
                a.boxes.remove(*i);
            }
            Command::SetBox { index, after, .. } => a.boxes[*index] = *after,
            Command::Paint(p) => a.mask.put_region(&p.rect, &p.after),
            Command::Batch(cs) => cs.iter().for_each(|c| c.apply(a)),
        }
    }

    /// Reverts the edit (it must be the last one applied).
    pub fn revert(&self, a: &mut Annotations) {
        match self {
            Command::AddBox(_) => {
                a.boxes.pop();
            }
            Command::RemoveBox(i, b) => a.boxes.insert(*i, *b),
            Command::SetBox { index, before, .. } => a.boxes[*index] = *before,
            Command::Paint(p) => a.mask.put_region(&p.rect, &p.before),
            Command::Batch(cs) => cs.iter().rev().for_each(|c| c.revert(a)),
        }
    }

    /// Mask region the edit touches (for partial texture uploads).
    pub fn mask_rect(&self) -> Option<Rect> {
        match self {
            Command::Paint(p) => Some(p.rect),
            Command::Batch(cs) => cs.iter().filter_map(Command::mask_rect).reduce(union),
            _ => None,
        }
    }
}

/// Smallest rectangle holding both.
pub fn union(a: Rect, b: Rect) -> Rect {
    Rect {
        x0: a.x0.min(b.x0),
        y0: a.y0.min(b.y0),
        x1: a.x1.max(b.x1),
        y1: a.y1.max(b.y1),
    }
}

/// Undo and redo stacks of one image.
#[derive(Debug, Default, Clone)]
pub struct History {
    done: Vec<Command>,
    undone: Vec<Command>,
}

impl History {
    /// Applies and records an edit; clears the redo stack.
    pub fn push(&mut self, c: Command, a: &mut Annotations) {
        c.apply(a);
        self.record(c);
    }

    /// Records an edit already applied (a brush stroke paints as it goes).
    pub fn record(&mut self, c: Command) {
        self.done.push(c);
        if self.done.len() > HISTORY_LIMIT {
            self.done.remove(0);
        }
        self.undone.clear();
    }

    /// Undoes the last edit; returns it.
    pub fn undo(&mut self, a: &mut Annotations) -> Option<&Command> {
        let c = self.done.pop()?;
        c.revert(a);
        self.undone.push(c);
        self.undone.last()
    }

    /// Redoes the last undone edit; returns it.
    pub fn redo(&mut self, a: &mut Annotations) -> Option<&Command> {
        let c = self.undone.pop()?;
        c.apply(a);
        self.done.push(c);
        self.done.last()
    }

    /// Steps that can be undone.
    pub fn undo_len(&self) -> usize {
        self.done.len()
    }

    /// Steps that can be redone.
    pub fn redo_len(&self) -> usize {
        self.undone.len()
    }
}

/// Records the pixels a stroke or fill changes, then turns them into one [`MaskPatch`].
#[derive(Debug, Clone)]
pub struct PatchRecorder {
    before: LabelMask,
    dirty: Option<Rect>,
}

impl PatchRecorder {
    /// Starts recording edits of `mask`.
    pub fn new(mask: &LabelMask) -> Self {
        Self {
            before: mask.clone(),
            dirty: None,
        }
    }

    /// Notes that `r` may have changed.
    pub fn touch(&mut self, r: Rect) {
        self.dirty = Some(match self.dirty {
            Some(d) => union(d, r),
            None => r,
        });
    }

    /// Puts back, within `r`, every pixel of `mask` where `allowed` does not hold (the brush
    /// limited to an intensity range): those pixels keep the value they had when recording began.
    pub fn restore_outside(&self, mask: &mut LabelMask, r: Rect, allowed: &[bool]) {
        if allowed.len() != mask.data.len() || self.before.data.len() != mask.data.len() {
            return;
        }
        for y in r.y0..r.y1.min(mask.height) {
            let row = y * mask.width;
            let span = row + r.x0..row + r.x1.min(mask.width);
            for ((m, &a), &b) in mask.data[span.clone()]
                .iter_mut()
                .zip(&allowed[span.clone()])
                .zip(&self.before.data[span])
            {
                if !a {
                    *m = b;
                }
            }
        }
    }

    /// The edit, or `None` when nothing changed.
    pub fn finish(self, now: &LabelMask) -> Option<Command> {
        let rect = self.dirty?;
        let before = self.before.region(&rect);
        let after = now.region(&rect);
        (before != after).then_some(Command::Paint(MaskPatch {
            rect,
            before,
            after,
        }))
    }
}

/// Paints a disc of `radius` pixels with `value` centred at (cx, cy); returns the touched rect.
pub fn stamp(mask: &mut LabelMask, cx: f32, cy: f32, radius: f32, value: u8) -> Option<Rect> {
    let r = radius.max(0.5);
    let x0 = (cx - r).floor().max(0.0) as usize;
    let y0 = (cy - r).floor().max(0.0) as usize;
    let x1 = ((cx + r).ceil() as isize + 1).clamp(0, mask.width as isize) as usize;
    let y1 = ((cy + r).ceil() as isize + 1).clamp(0, mask.height as isize) as usize;
    if x0 >= x1 || y0 >= y1 {
        return None;
    }
    let r2 = r * r;
    for y in y0..y1 {
        let dy = y as f32 + 0.5 - cy;
        for x in x0..x1 {
            let dx = x as f32 + 0.5 - cx;
            if dx * dx + dy * dy <= r2 {
                mask.data[y * mask.width + x] = value;
            }
        }
    }
    Some(Rect { x0, y0, x1, y1 })
}

/// Paints a stroke segment as discs spaced at most a quarter radius apart.
pub fn stroke(
    mask: &mut LabelMask,
    from: (f32, f32),
    to: (f32, f32),
    radius: f32,
    value: u8,
) -> Option<Rect> {
    let len = ((to.0 - from.0).powi(2) + (to.1 - from.1).powi(2)).sqrt();
    let steps = (len / (radius.max(1.0) * 0.25)).ceil().max(1.0) as usize;
    (0..=steps)
        .filter_map(|i| {
            let t = i as f32 / steps as f32;
            stamp(
                mask,
                from.0 + (to.0 - from.0) * t,
                from.1 + (to.1 - from.1) * t,
                radius,
                value,
            )
        })
        .reduce(union)
}

/// Fills a polygon (pixel centres inside by the even-odd rule) with `value`.
pub fn fill_polygon(mask: &mut LabelMask, pts: &[(f32, f32)], value: u8) -> Option<Rect> {
    if pts.len() < 3 {
        return None;
    }
    let ymin = pts.iter().map(|p| p.1).fold(f32::INFINITY, f32::min);
    let ymax = pts.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max);
    let y0 = ymin.floor().max(0.0) as usize;
    let y1 = (ymax.ceil().max(0.0) as usize).min(mask.height);
    let mut touched: Option<Rect> = None;
    let mut xs = Vec::new();
    for y in y0..y1 {
        let yc = y as f32 + 0.5;
        xs.clear();
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            if (a.1 <= yc) != (b.1 <= yc) {
                xs.push(a.0 + (yc - a.1) / (b.1 - a.1) * (b.0 - a.0));
            }
        }
        xs.sort_by(f32::total_cmp);
        for pair in xs.chunks_exact(2) {
            // Pixel centres x + 0.5 in [pair[0], pair[1]).
            let xa = (pair[0] - 0.5).ceil().max(0.0) as usize;
            let xb = ((pair[1] - 0.5).ceil().max(0.0) as usize).min(mask.width);
            if xa < xb {
                mask.data[y * mask.width + xa..y * mask.width + xb].fill(value);
                let r = Rect {
                    x0: xa,
                    y0: y,
                    x1: xb,
                    y1: y + 1,
                };
                touched = Some(touched.map_or(r, |t| union(t, r)));
            }
        }
    }
    touched
}

/// Flood fill from (x, y): the 4-connected region of pixels with the seed's class, and — when
/// `intensity` is given as (gray plane, tolerance) — within `tolerance` of the seed's gray value.
pub fn flood_fill(
    mask: &mut LabelMask,
    x: usize,
    y: usize,
    value: u8,
    intensity: Option<(&[f32], f32)>,
) -> Option<Rect> {
    let (w, h) = (mask.width, mask.height);
    if x >= w || y >= h {
        return None;
    }
    let seed = y * w + x;
    let class = mask.data[seed];
    if class == value && intensity.is_none() {
        return None;
    }
    let gray0 = intensity.map(|(g, _)| g[seed]);
    let inside = |i: usize, data: &[u8], seen: &[bool]| {
        !seen[i]
            && data[i] == class
            && match (intensity, gray0) {
                (Some((g, tol)), Some(g0)) => (g[i] - g0).abs() <= tol,
                _ => true,
            }
    };
    let mut seen = vec![false; w * h];
    let mut stack = vec![seed];
    seen[seed] = true;
    let mut r = Rect {
        x0: x,
        y0: y,
        x1: x + 1,
        y1: y + 1,
    };
    let mut filled = Vec::new();
    while let Some(i) = stack.pop() {
        filled.push(i);
        let (px, py) = (i % w, i / w);
        r.x0 = r.x0.min(px);
        r.x1 = r.x1.max(px + 1);
        r.y0 = r.y0.min(py);
        r.y1 = r.y1.max(py + 1);
        let mut visit = |j: usize, stack: &mut Vec<usize>| {
            if inside(j, &mask.data, &seen) {
                seen[j] = true;
                stack.push(j);
            }
        };
        if px > 0 {
            visit(i - 1, &mut stack);
        }
        if px + 1 < w {
            visit(i + 1, &mut stack);
        }
        if py > 0 {
            visit(i - w, &mut stack);
        }
        if py + 1 < h {
            visit(i + w, &mut stack);
        }
    }
    for i in filled {
        mask.data[i] = value;
    }
    Some(r)
}

/// Fills every box into the mask with its class.
pub fn mask_from_boxes(mask: &mut LabelMask, boxes: &[LabelBox]) -> Option<Rect> {
    let mut touched = None;
    for b in boxes {
        let r = b.rect();
        for y in r.y0..r.y1 {
            mask.data[y * mask.width + r.x0..y * mask.width + r.x1].fill(b.class);
        }
        touched = Some(touched.map_or(r, |t| union(t, r)));
    }
    touched
}

/// The box of a mask: the rectangle of all its components, as the paper converts masks to boxes.
pub fn box_from_mask(mask: &LabelMask, class: u8) -> Option<LabelBox> {
    let r = mask.binary().bbox()?;
    Some(LabelBox {
        x0: r.x0 as u32,
        y0: r.y0 as u32,
        x1: r.x1 as u32,
        y1: r.y1 as u32,
        class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stroke_then_undo_restores_the_mask() {
        let mut a = Annotations::new(40, 30);
        let mut h = History::default();
        let before = a.clone();
        let mut rec = PatchRecorder::new(&a.mask);
        if let Some(r) = stroke(&mut a.mask, (5.0, 5.0), (30.0, 20.0), 3.0, 1) {
            rec.touch(r);
        }
        let c = rec.finish(&a.mask).expect("the stroke changed pixels");
        assert!(a.mask.count() > 50);
        h.record(c);
        h.undo(&mut a);
        assert_eq!(a, before);
        h.redo(&mut a);
        assert!(a.mask.count() > 50);
    }

    #[test]
    fn polygon_fill_covers_pixel_centres_inside() {
        let mut m = LabelMask::new(10, 10);
        fill_polygon(&mut m, &[(2.0, 2.0), (6.0, 2.0), (6.0, 5.0), (2.0, 5.0)], 2);
        assert_eq!(m.count(), 4 * 3);
        assert_eq!(m.data[2 * 10 + 2], 2);
        assert_eq!(m.data[5 * 10 + 2], 0);
    }

    #[test]
    fn flood_fill_stays_inside_an_outline() {
        let mut m = LabelMask::new(9, 9);
        for i in 2..7 {
            for (x, y) in [(i, 2), (i, 6), (2, i), (6, i)] {
                m.data[y * 9 + x] = 1;
            }
        }
        let outline = m.count();
        flood_fill(&mut m, 4, 4, 1, None);
        assert_eq!(m.count(), outline + 9);
        assert_eq!(m.data[0], 0);
    }

    #[test]
    fn box_from_mask_spans_all_components() {
        let mut m = LabelMask::new(20, 20);
        stamp(&mut m, 3.0, 3.0, 1.0, 1);
        stamp(&mut m, 15.0, 12.0, 1.0, 1);
        let b = box_from_mask(&m, 1).unwrap();
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (2, 2, 16, 13));
    }

    #[test]
    fn history_keeps_the_limit_and_undoes_in_order() {
        let mut a = Annotations::new(8, 8);
        let mut h = History::default();
        for i in 0..(HISTORY_LIMIT + 20) {
            let b = LabelBox {
                x0: 0,
                y0: 0,
                x1: 1 + (i % 7) as u32,
                y1: 1,
                class: 1,
            };
            h.push(Command::AddBox(b), &mut a);
        }
        assert_eq!(h.undo_len(), HISTORY_LIMIT);
        while h.undo(&mut a).is_some() {}
        assert_eq!(a.boxes.len(), 20);
    }
}
