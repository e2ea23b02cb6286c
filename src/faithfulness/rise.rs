//! RISE's deletion and insertion games (Petsiuk et al.), in the normalised input space. The
//! curve has `ceil(N / step) + 1` values; value i is the clean class's probability after the
//! first `step·i` pixels of the order (all channels) were copied from the finish image into the
//! start image. Deletion: start = the input, finish = zeros (the mean colour). Insertion: start
//! = the input blurred by [`kernel`], finish = the input. AUC: `(Σ y − y₀/2 − y_last/2) / (len − 1)`.

use serde::Serialize;

use super::FaithError;
use crate::metrics::order;
use crate::model::Vit;

/// Pixels moved per step.
pub const STEP: usize = 224;

/// Side of the blur kernel.
pub const KLEN: usize = 11;

/// Which game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Game {
    /// Remove the most relevant pixels first (a faithful map: the probability falls fast).
    Deletion,
    /// Reveal the most relevant pixels first (a faithful map: the probability rises fast).
    Insertion,
}

/// One curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// Probability of the clean class per step.
    pub prob: Vec<f32>,
    /// RISE's area.
    pub auc: f64,
}

/// RISE's `gkern(11, 5)` plane: scipy's `gaussian_filter` (sigma 5, truncate 4, mode reflect)
/// of a unit impulse at the centre, as an outer product of the 1-D response, cast to f32.
pub fn kernel() -> [[f32; KLEN]; KLEN] {
    let sigma2 = 25.0f64;
    let w: Vec<f64> = (-20i64..=20)
        .map(|m| (-((m * m) as f64) / (2.0 * sigma2)).exp())
        .collect();
    let total: f64 = w.iter().sum();
    // scipy's 'reflect' (half-sample symmetric) on 11 samples: period 22.
    let reflect = |i: i64| {
        let r = i.rem_euclid(22);
        if r < 11 { r } else { 21 - r }
    };
    let center = (KLEN / 2) as i64;
    let h: Vec<f64> = (0..KLEN as i64)
        .map(|j| {
            (-20i64..=20)
                .filter(|m| reflect(j + m) == center)
                .map(|m| w[(m + 20) as usize] / total)
                .sum()
        })
        .collect();
    let mut k = [[0f32; KLEN]; KLEN];
    for (r, row) in k.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = (h[r] * h[c]) as f32;
        }
    }
    k
}

/// Each channel of a CHW image of side `size` convolved with [`kernel`] (zero padding 5), as
/// `conv2d(x, gkern(11, 5), padding=5)` computes it in f32.
pub fn blur(chw: &[f32], size: usize) -> Vec<f32> {
    let k = kernel();
    let half = (KLEN / 2) as isize;
    let n = size * size;
    let mut out = vec![0f32; chw.len()];
    for c in 0..chw.len() / n {
        let src = &chw[c * n..(c + 1) * n];
        let dst = &mut out[c * n..(c + 1) * n];
        for y in 0..size as isize {
            for x in 0..size as isize {
                let mut acc = 0f32;
                for (dy, krow) in k.iter().enumerate() {
                    let sy = y + dy as isize - half;
                    if sy < 0 || sy >= size as isize {
                        continue;
                    }
                    let row = &src[sy as usize * size..(sy as usize + 1) * size];
                    for (dx, &kv) in krow.iter().enumerate() {
                        let sx = x + dx as isize - half;
                        if sx >= 0 && sx < size as isize {
                            acc += kv * row[sx as usize];
                        }
                    }
                }
                dst[y as usize * size + x as usize] = acc;
            }
        }
    }
    out
}

/// RISE's area under a curve.
pub fn auc(y: &[f32]) -> f64 {
    let y: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    let n = y.len();
    (y.iter().sum::<f64>() - y[0] / 2.0 - y[n - 1] / 2.0) / (n - 1) as f64
}

/// The game's model inputs on the normalised input `x` (CHW, side = the model's) with `map`:
/// every step but the one that is the clean input (deletion's first, insertion's last), whose
/// logits the caller has. Successive inputs differ by one step's pixels, so they are made in
/// order from the last one.
#[derive(Debug)]
pub struct Plan {
    game: Game,
    order: Vec<u32>,
    current: Vec<f32>,
    finish: Vec<f32>,
    moved: usize,
    n: usize,
}

impl Plan {
    /// Checks `map` and `x` against the model and ranks the pixels.
    pub fn new(vit: &Vit, x: &[f32], map: &[f32], game: Game) -> Result<Self, FaithError> {
        let (size, n) = super::check_inputs(vit, x, map)?;
        let (start, finish) = match game {
            Game::Deletion => (x.to_vec(), vec![0f32; x.len()]),
            Game::Insertion => (blur(x, size), x.to_vec()),
        };
        Ok(Plan {
            game,
            order: order::descending(map),
            current: start,
            finish,
            moved: 0,
            n,
        })
    }

    /// Model inputs beyond the clean one.
    pub fn inputs(&self) -> usize {
        self.n.div_ceil(STEP)
    }

    /// Writes input `i` into `buf`: step `i + 1` of deletion, step `i` of insertion. Inputs
    /// must be asked for in order.
    pub fn fill(&mut self, i: usize, buf: &mut [f32]) {
        let step = match self.game {
            Game::Deletion => i + 1,
            Game::Insertion => i,
        };
        let n = self.n;
        let until = (STEP * step).min(n);
        debug_assert!(until >= self.moved, "inputs asked for out of order");
        for &p in &self.order[self.moved..until] {
            for c in 0..3 {
                let j = c * n + p as usize;
                self.current[j] = self.finish[j];
            }
        }
        self.moved = until;
        buf.copy_from_slice(&self.current);
    }

    /// The curve from the clean logits and those of the [`Plan::inputs`] inputs, scoring
    /// `clean_class`.
    pub fn curve(&self, clean: &[f32], inputs: &[Vec<f32>], clean_class: usize) -> Curve {
        let p = |l: &[f32]| crate::explain::softmax(l)[clean_class];
        let rest = inputs.iter().map(|l| p(l));
        let prob: Vec<f32> = match self.game {
            Game::Deletion => std::iter::once(p(clean)).chain(rest).collect(),
            Game::Insertion => rest.chain(std::iter::once(p(clean))).collect(),
        };
        Curve {
            auc: auc(&prob),
            prob,
        }
    }
}
