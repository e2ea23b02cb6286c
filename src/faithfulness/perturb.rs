//! Chefer et al.'s perturbation test. For fractions f = 0, 0.1, …, 0.9 the first
//! `k = int(S·S·f)` pixels of the order (all three channels) are set to 0 in the [0, 1] image,
//! which is then normalised and classified. Per step: the probability and logit of the clean
//! class, the argmax class and the hit (class unchanged). `auc` integrates the hits over f,
//! `prob_auc` the probabilities (trapezoid rule). The positive test removes the most relevant
//! pixels first, the negative test the least relevant.

use serde::Serialize;

use super::{FaithError, normalise_into, trapezoid};
use crate::explain;
use crate::metrics::order;
use crate::model::Vit;
use crate::model::preprocess::Normalization;

/// The fractions, as the decimal values the reference uses.
pub const FRACTIONS: [f64; 10] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Which pixels go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Direction {
    /// Most relevant first (a faithful map makes the prediction fall fast: low AUC).
    Positive,
    /// Least relevant first (a faithful map keeps the prediction: high AUC).
    Negative,
}

/// One perturbation curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// f.
    pub fractions: Vec<f64>,
    /// Pixels removed at each step.
    pub k: Vec<usize>,
    /// Softmax probability of the clean class.
    pub prob: Vec<f32>,
    /// Logit of the clean class.
    pub logit: Vec<f32>,
    /// Argmax class (first index on a tie).
    pub class: Vec<usize>,
    /// Trapezoid of the hits over f.
    pub auc: f64,
    /// Trapezoid of `prob` over f.
    pub prob_auc: f64,
}

/// Pixel counts of the steps for an `n`-pixel input: `int(n * f)`.
pub fn counts(n: usize) -> Vec<usize> {
    FRACTIONS.iter().map(|f| (n as f64 * f) as usize).collect()
}

/// The test's model inputs on `x01` (3 planes of `size²` values in [0, 1]) with `map` (`size²`
/// values): the perturbed ones, fractions 0.1 … 0.9 (fraction 0 is the clean input, whose
/// logits the caller has).
#[derive(Debug)]
pub struct Plan<'a> {
    x01: &'a [f32],
    norm: &'a Normalization,
    order: Vec<u32>,
    ks: Vec<usize>,
    n: usize,
}

impl<'a> Plan<'a> {
    /// Checks `map` and `x01` against the model and ranks the pixels.
    pub fn new(
        vit: &Vit,
        x01: &'a [f32],
        map: &[f32],
        norm: &'a Normalization,
        direction: Direction,
    ) -> Result<Self, FaithError> {
        let (_, n) = super::check_inputs(vit, x01, map)?;
        let order = match direction {
            Direction::Positive => order::descending(map),
            Direction::Negative => order::ascending(map),
        };
        Ok(Plan {
            x01,
            norm,
            order,
            ks: counts(n),
            n,
        })
    }

    /// Model inputs beyond the clean one.
    pub fn inputs(&self) -> usize {
        self.ks.len() - 1
    }

    /// Writes perturbed input `i` (fraction `FRACTIONS[i + 1]`), normalised, into `buf`.
    pub fn fill(&self, i: usize, buf: &mut [f32]) {
        let n = self.n;
        let mut x = self.x01.to_vec();
        for &p in &self.order[..self.ks[i + 1]] {
            for c in 0..3 {
                x[c * n + p as usize] = 0.0;
            }
        }
        normalise_into(&x, self.norm.mean, self.norm.std, buf);
    }

    /// The curve from the clean logits and those of the [`Plan::inputs`] perturbed inputs,
    /// scoring `clean_class`.
    pub fn curve(self, clean: &[f32], perturbed: &[Vec<f32>], clean_class: usize) -> Curve {
        let logits: Vec<&[f32]> = std::iter::once(clean)
            .chain(perturbed.iter().map(Vec::as_slice))
            .collect();
        let prob: Vec<f32> = logits
            .iter()
            .map(|l| explain::softmax(l)[clean_class])
            .collect();
        let class: Vec<usize> = logits.iter().map(|l| explain::argmax(l)).collect();
        let hits: Vec<f64> = class
            .iter()
            .map(|&c| (c == clean_class) as u8 as f64)
            .collect();
        let probs64: Vec<f64> = prob.iter().map(|&p| p as f64).collect();
        Curve {
            fractions: FRACTIONS.to_vec(),
            k: self.ks,
            logit: logits.iter().map(|l| l[clean_class]).collect(),
            auc: trapezoid(&hits, &FRACTIONS),
            prob_auc: trapezoid(&probs64, &FRACTIONS),
            prob,
            class,
        }
    }
}
