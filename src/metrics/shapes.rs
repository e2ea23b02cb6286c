//! Annotations as the metrics see them: half-open pixel rectangles and binary masks.

use serde::Serialize;

use super::select;

/// Half-open pixel rectangle `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Rect {
    /// Left column (inclusive).
    pub x0: usize,
    /// Top row (inclusive).
    pub y0: usize,
    /// Right column (exclusive).
    pub x1: usize,
    /// Bottom row (exclusive).
    pub y1: usize,
}

impl Rect {
    /// Pixel count.
    pub fn area(&self) -> usize {
        (self.x1 - self.x0) * (self.y1 - self.y0)
    }
}

/// A binary mask (1 = inside), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// 0 or 1 per pixel.
    pub data: Vec<u8>,
}

impl Mask {
    /// An empty mask.
    pub fn empty(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![0; width * height],
        }
    }

    /// A mask filled inside the given rectangles (clipped to the image).
    pub fn from_rects(width: usize, height: usize, rects: &[Rect]) -> Self {
        let mut m = Self::empty(width, height);
        for r in rects {
            for y in r.y0.min(height)..r.y1.min(height) {
                m.data[y * width + r.x0.min(width)..y * width + r.x1.min(width)].fill(1);
            }
        }
        m
    }

    /// Pixels set.
    pub fn count(&self) -> usize {
        self.data.iter().map(|&v| v as usize).sum()
    }

    /// Bounding rectangle of all set pixels (the paper's "rectangle of all components").
    pub fn bbox(&self) -> Option<Rect> {
        let w = self.width;
        if w == 0 {
            return None;
        }
        // Each thread ORs its rows into one row (vectorised, in the widest SIMD the CPU has)
        // and notes the first and last row with a pixel; the columns come from the OR.
        let arch = pulp::Arch::new();
        let parts = select::par_chunks_aligned(&self.data, w, |c, off| {
            arch.dispatch(|| {
                let mut acc = vec![0u8; w];
                let mut rows = None;
                for (y, row) in c.chunks_exact(w).enumerate() {
                    let mut any = 0u8;
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a |= v;
                        any |= v;
                    }
                    if any != 0 {
                        let y = off / w + y;
                        rows = Some(rows.map_or((y, y + 1), |(y0, _)| (y0, y + 1)));
                    }
                }
                (rows, acc)
            })
        });
        let mut acc = vec![0u8; w];
        let mut rows: Option<(usize, usize)> = None;
        for (r, a) in parts {
            if let Some((y0, y1)) = r {
                rows = Some(rows.map_or((y0, y1), |(p0, _)| (p0, y1)));
                for (x, &v) in acc.iter_mut().zip(&a) {
                    *x |= v;
                }
            }
        }
        let (y0, y1) = rows?;
        Some(Rect {
            x0: acc.iter().position(|&v| v != 0)?,
            y0,
            x1: acc.iter().rposition(|&v| v != 0)? + 1,
            y1,
        })
    }

    /// Set pixels inside `r`.
    pub fn count_in(&self, r: &Rect) -> usize {
        pulp::Arch::new().dispatch(|| {
            (r.y0..r.y1)
                .map(|y| {
                    self.data[y * self.width + r.x0..y * self.width + r.x1]
                        .iter()
                        .map(|&v| (v != 0) as u32)
                        .sum::<u32>() as usize
                })
                .sum()
        })
    }
}

impl Rect {
    /// Intersection with another rectangle.
    pub fn intersect(&self, o: &Rect) -> Option<Rect> {
        let r = Rect {
            x0: self.x0.max(o.x0),
            y0: self.y0.max(o.y0),
            x1: self.x1.min(o.x1),
            y1: self.y1.min(o.y1),
        };
        (r.x0 < r.x1 && r.y0 < r.y1).then_some(r)
    }
}
