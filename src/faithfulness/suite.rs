//! The faithfulness tests of one map on one image, as the CLI, `eval` and the workbench run
//! them: the model input in [0, 1] and normalised, the clean class, and the selected tests.

use serde::{Deserialize, Serialize};

use super::{FaithError, perturb, rise};
use crate::io::image::Image;
use crate::model::Vit;
use crate::model::preprocess::{self, Normalization, ResizeMode};

/// A test of [`run`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub enum Test {
    /// Chefer's positive perturbation (most relevant pixels removed first).
    PerturbPos,
    /// Chefer's negative perturbation (least relevant first).
    PerturbNeg,
    /// RISE deletion.
    Deletion,
    /// RISE insertion.
    Insertion,
}

impl Test {
    /// All, in report order.
    pub const ALL: [Test; 4] = [
        Test::PerturbPos,
        Test::PerturbNeg,
        Test::Deletion,
        Test::Insertion,
    ];

    /// The CLI and JSON name.
    pub fn name(&self) -> &'static str {
        match self {
            Test::PerturbPos => "perturb-pos",
            Test::PerturbNeg => "perturb-neg",
            Test::Deletion => "deletion",
            Test::Insertion => "insertion",
        }
    }

    /// Model evaluations the test takes on an input of `pixels` pixels beyond the clean input
    /// (one step of every test, evaluated once for all of them).
    pub fn forwards(&self, pixels: usize) -> usize {
        match self {
            Test::PerturbPos | Test::PerturbNeg => perturb::FRACTIONS.len() - 1,
            Test::Deletion | Test::Insertion => pixels.div_ceil(rise::STEP),
        }
    }

    /// Whether a faithful map gives a low AUC (the prediction falls when its pixels go).
    pub fn lower_is_better(&self) -> bool {
        matches!(self, Test::PerturbPos | Test::Deletion)
    }
}

impl std::fmt::Display for Test {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The model input of an image.
#[derive(Debug, Clone)]
pub struct Input {
    /// Side of the model input.
    pub size: usize,
    /// Three planes in [0, 1], channel-major.
    pub x01: Vec<f32>,
    /// The normalised input, channel-major.
    pub x: Vec<f32>,
    /// The normalisation.
    pub norm: Normalization,
}

impl Input {
    /// Preprocesses `img` for a model of input side `size`.
    pub fn new(img: &Image, size: usize, resize: ResizeMode, norm: Normalization) -> Self {
        let x01: Vec<f32> = preprocess::fit_planes(img, size, resize).concat();
        let mut x = vec![0f32; x01.len()];
        super::normalise_into(&x01, norm.mean, norm.std, &mut x);
        Self { size, x01, x, norm }
    }

    /// The method's explanation of this input: its map at model-input size (as `explain
    /// --out-map` writes it), the class explained and the logits.
    pub fn explain(
        &self,
        vit: &Vit,
        method: crate::explain::Method,
        opts: &crate::explain::ExplainOptions,
    ) -> Result<crate::explain::Explanation, crate::explain::ExplainError> {
        crate::explain::explain(vit, self.tensor(vit), method, opts)
    }

    /// The method's map at model-input size for `target` (default: the predicted class), and
    /// the class it explains.
    pub fn map(
        &self,
        vit: &Vit,
        method: crate::explain::Method,
        target: Option<usize>,
    ) -> Result<(Vec<f32>, usize), crate::explain::ExplainError> {
        let opts = crate::explain::ExplainOptions {
            target,
            ..Default::default()
        };
        let e = self.explain(vit, method, &opts)?;
        Ok((e.map.values, e.target))
    }

    /// The normalised input as a `[1, 3, S, S]` tensor on the model's device.
    pub fn tensor(&self, vit: &Vit) -> burn::tensor::Tensor<4> {
        let device = vit.device();
        let s = self.size;
        burn::tensor::Tensor::from_data(
            burn::tensor::TensorData::new(self.x.clone(), [1, 3, s, s]),
            &device,
        )
    }

    /// The clean logits.
    pub fn logits(&self, vit: &Vit) -> Result<Vec<f32>, FaithError> {
        let mut out = super::forward_batched(
            vit,
            self.size,
            1,
            |_, b| b.copy_from_slice(&self.x),
            |_| true,
        )?;
        Ok(out.remove(0))
    }
}

/// One test's curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// A perturbation curve.
    Perturbation(perturb::Curve),
    /// A RISE curve.
    Game(rise::Curve),
}

impl Outcome {
    /// The headline area: `auc` of RISE, `prob_auc` of the perturbation test (the hit AUC
    /// saturates on one image).
    pub fn auc(&self) -> f64 {
        match self {
            Outcome::Perturbation(c) => c.prob_auc,
            Outcome::Game(c) => c.auc,
        }
    }

    /// The probability curve and its x positions (fraction of pixels moved).
    pub fn curve(&self) -> (Vec<f64>, Vec<f32>) {
        match self {
            Outcome::Perturbation(c) => (c.fractions.clone(), c.prob.clone()),
            Outcome::Game(c) => {
                let n = c.prob.len().saturating_sub(1).max(1) as f64;
                (
                    (0..c.prob.len()).map(|i| i as f64 / n).collect(),
                    c.prob.clone(),
                )
            }
        }
    }
}

/// One test's inputs.
enum Plan<'a> {
    Perturbation(perturb::Plan<'a>),
    Game(rise::Plan),
}

impl Plan<'_> {
    fn inputs(&self) -> usize {
        match self {
            Plan::Perturbation(p) => p.inputs(),
            Plan::Game(g) => g.inputs(),
        }
    }
}

/// Runs `tests` on `map` (the model input's size); `clean` are the logits of the clean input,
/// whose argmax class every curve scores. The inputs of all tests are evaluated in one stream
/// of batches. `progress(done, total)` counts model evaluations over all tests and may return
/// `false` to cancel.
pub fn run(
    vit: &Vit,
    input: &Input,
    map: &[f32],
    clean: &[f32],
    tests: &[Test],
    mut progress: impl FnMut(usize, usize) -> bool,
) -> Result<Vec<(Test, Outcome)>, FaithError> {
    let clean_class = crate::explain::argmax(clean);
    let mut plans = Vec::with_capacity(tests.len());
    for &t in tests {
        plans.push(match t {
            Test::PerturbPos | Test::PerturbNeg => {
                let dir = if t == Test::PerturbPos {
                    perturb::Direction::Positive
                } else {
                    perturb::Direction::Negative
                };
                Plan::Perturbation(perturb::Plan::new(vit, &input.x01, map, &input.norm, dir)?)
            }
            Test::Deletion | Test::Insertion => {
                let game = if t == Test::Deletion {
                    rise::Game::Deletion
                } else {
                    rise::Game::Insertion
                };
                Plan::Game(rise::Plan::new(vit, &input.x, map, game)?)
            }
        });
    }
    // Input `i` of the stream: plan `owner[i]`, its input `i - starts[owner[i]]`.
    let counts: Vec<usize> = plans.iter().map(Plan::inputs).collect();
    let starts: Vec<usize> = counts
        .iter()
        .scan(0, |acc, &c| {
            let s = *acc;
            *acc += c;
            Some(s)
        })
        .collect();
    let total: usize = counts.iter().sum();
    let owner = |i: usize| starts.iter().rposition(|&s| s <= i).unwrap_or(0);
    let logits = super::forward_batched(
        vit,
        input.size,
        total,
        |i, buf| {
            let o = owner(i);
            match &mut plans[o] {
                Plan::Perturbation(p) => p.fill(i - starts[o], buf),
                Plan::Game(g) => g.fill(i - starts[o], buf),
            }
        },
        |done| progress(done, total),
    )?;
    let mut out = Vec::with_capacity(tests.len());
    for (k, (plan, &t)) in plans.into_iter().zip(tests).enumerate() {
        let mine = &logits[starts[k]..starts[k] + counts[k]];
        out.push((
            t,
            match plan {
                Plan::Perturbation(p) => Outcome::Perturbation(p.curve(clean, mine, clean_class)),
                Plan::Game(g) => Outcome::Game(g.curve(clean, mine, clean_class)),
            },
        ));
    }
    Ok(out)
}
