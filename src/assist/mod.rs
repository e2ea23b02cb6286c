//! Assisted segmentation: the segment-editor effects annotators expect (threshold, paint within
//! an intensity range, islands, margin, smoothing, fill holes, grow from seeds, scissors, map →
//! mask), each exactly as `fixtures/assist/README.md` defines it — pixel values, connectivity,
//! distances in millimetres, borders and tie rules — so the CLI (`vitscope mask`) and the
//! workbench give the masks scipy and scikit-image give.
//!
//! Every op but `grow` computes a new binary region B' of one class C from B = (mask == C) and
//! goes through the write rule ([`write`]): pixels of other classes never change and never
//! become C.

pub mod distance;
pub mod grow;
pub mod inputs;
pub mod morph;
pub mod shapes;
pub mod types;

pub use types::{Grid, Keep, Scissors, reflect};

/// The class's region: `mask == c`.
pub fn region(mask: &[u8], c: u8) -> Vec<bool> {
    mask.iter().map(|&v| v == c).collect()
}

/// The write rule: where `new` holds, 0 and C pixels become C; where it does not, C becomes 0;
/// other classes keep their ids.
pub fn write(mask: &[u8], c: u8, new: &[bool]) -> Vec<u8> {
    mask.iter()
        .zip(new)
        .map(|(&m, &b)| match (m, b) {
            (0, true) => c,
            (m, true) if m == c => c,
            (m, false) if m == c => 0,
            (m, _) => m,
        })
        .collect()
}

/// One effect and its options.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// v in [lo, hi] (outside it when `invert`).
    Threshold {
        /// Lower bound (inclusive).
        lo: f64,
        /// Upper bound (inclusive).
        hi: f64,
        /// The pixels outside the range instead.
        invert: bool,
    },
    /// A disc at (x, y) of radius r, within an optional range.
    Paint {
        /// Centre column.
        x: f64,
        /// Centre row.
        y: f64,
        /// Radius, pixels.
        r: f64,
        /// Intensity range.
        range: Option<(f64, f64)>,
    },
    /// Keep islands.
    Islands {
        /// 4 or 8.
        connectivity: u8,
        /// What to keep.
        keep: Keep,
    },
    /// Grow (> 0) or shrink (< 0) by `mm`.
    Margin {
        /// Millimetres.
        mm: f64,
    },
    /// Smoothing.
    Smooth(Smooth),
    /// Fill holes.
    FillHoles,
    /// Scissors.
    Scissors {
        /// Vertices (x = column, y = row).
        polygon: Vec<(f64, f64)>,
        /// What to do inside.
        mode: Scissors,
    },
    /// The map's top K %.
    FromMap {
        /// The map, row-major on the grid.
        map: Vec<f32>,
        /// Percent in (0, 100].
        top: f64,
    },
}

/// A smoothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smooth {
    /// Median (majority) over a window of about `mm`.
    Median(f64),
    /// Gaussian of sigma `mm`, thresholded at 0.5.
    Gaussian(f64),
    /// Opening by a disk of radius `px`.
    Open(usize),
    /// Closing by a disk of radius `px`.
    Close(usize),
}

/// What an effect sees of the image.
pub struct Inputs<'a> {
    /// The grid.
    pub grid: Grid,
    /// The value v of each pixel (README "Image value v").
    pub values: &'a [f64],
    /// (row mm, column mm).
    pub spacing: (f64, f64),
}

/// B' of `op` on region `b` (every op but grow).
pub fn apply(op: &Op, b: &[bool], inp: &Inputs) -> Vec<bool> {
    let g = inp.grid;
    match op {
        Op::Threshold { lo, hi, invert } => {
            let mut t = shapes::threshold(inp.values, *lo, *hi);
            if *invert {
                t.iter_mut().for_each(|x| *x = !*x);
            }
            t
        }
        Op::Paint { x, y, r, range } => shapes::paint(b, g, *x, *y, *r, *range, inp.values),
        Op::Islands { connectivity, keep } => morph::islands(b, g, *connectivity == 8, *keep),
        Op::Margin { mm } => distance::margin(b, g, *mm, inp.spacing),
        Op::Smooth(Smooth::Median(mm)) => morph::median(b, g, *mm, inp.spacing),
        Op::Smooth(Smooth::Gaussian(mm)) => morph::gaussian(b, g, *mm, inp.spacing),
        Op::Smooth(Smooth::Open(r)) => morph::open_close(b, g, *r, true),
        Op::Smooth(Smooth::Close(r)) => morph::open_close(b, g, *r, false),
        Op::FillHoles => morph::fill_holes(b, g),
        Op::Scissors { polygon, mode } => shapes::scissors(b, g, polygon, *mode),
        Op::FromMap { map, top } => shapes::from_map(map, *top),
    }
}

/// The class-id mask after `op` on class `c` of `mask`.
pub fn run(op: &Op, mask: &[u8], c: u8, inp: &Inputs) -> Vec<u8> {
    let b = region(mask, c);
    write(mask, c, &apply(op, &b, inp))
}
