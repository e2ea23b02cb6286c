//! What the effects share: the pixel grid, the reflect border, and the option types of the
//! effects that need them.

/// A pixel grid: `w` columns × `h` rows, row-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Columns.
    pub w: usize,
    /// Rows.
    pub h: usize,
}

impl Grid {
    /// Pixels.
    pub fn len(&self) -> usize {
        self.w * self.h
    }

    /// Whether the grid has no pixel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// scipy's `reflect` border: index `i` of an axis of length `n` mapped into it (half-sample
/// symmetric, periodic beyond one length).
pub fn reflect(i: isize, n: usize) -> usize {
    let n2 = 2 * n as isize;
    let m = i.rem_euclid(n2);
    if m < n as isize {
        m as usize
    } else {
        (n2 - 1 - m) as usize
    }
}

/// Which islands stay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Keep {
    /// The largest (ties: first in row-major order).
    Largest,
    /// Those of at least N pixels.
    MinPx(usize),
    /// The one holding pixel (x, y).
    At(usize, usize),
}

/// What scissors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scissors {
    /// B minus P.
    EraseInside,
    /// B ∩ P.
    EraseOutside,
    /// B ∪ P.
    FillInside,
}
