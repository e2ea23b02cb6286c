//! The sanity runner (Adebayo et al.): one map of one image compared with the map of another
//! class (the random-logit test) and with the maps of ever more randomised models (the
//! cascade). `vitscope sanity`, `eval --sanity` and the workbench's Sanity window all run it.
//!
//! Maps are at model-input size, min-max normalised, as `explain --out-map` writes them; each
//! is compared with the original by [`similarity::compare`].

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::cascade::{self, Replacement, Step};
use super::similarity::{self, Similarity};
use super::suite::Input;
use crate::explain::{ExplainError, ExplainOptions, Method};
use crate::model::checkpoint::{
    CheckpointError, CheckpointLayout, LoadOptions, StateDict, apply_state_dict, load_state,
};
use crate::model::{Vit, VitConfig};
use crate::progress::{self, Progress};

/// Errors of a sanity run; each names the checkpoint or the map.
#[derive(Debug, thiserror::Error)]
pub enum SanityError {
    /// The checkpoint could not be read or a randomised copy built.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A map could not be computed.
    #[error("{what}: {source}")]
    Explain {
        /// Which map (`original`, `class 3`, `blocks.4`).
        what: String,
        /// Why.
        source: ExplainError,
    },
    /// A tensor could not be randomised or two maps not compared.
    #[error("{0}")]
    Other(String),
    /// The front end asked the run to stop.
    #[error(transparent)]
    Cancelled(#[from] progress::Cancelled),
}

/// A checkpoint's tensors as read, from which the cascade builds its randomised copies.
#[derive(Clone)]
pub struct Checkpoint {
    /// Normalised state dict.
    pub state: StateDict,
    /// Its architecture.
    pub config: VitConfig,
    /// Its layout.
    pub layout: CheckpointLayout,
    /// The file (named in errors).
    pub path: PathBuf,
    /// A direction that replaces the head of every copy (a headless encoder's one output).
    pub direction: Option<Vec<f32>>,
}

impl Checkpoint {
    /// Reads `path` as [`load_state`] does.
    pub fn read(path: &Path, opts: &LoadOptions) -> Result<Self, CheckpointError> {
        let (state, config, layout) = load_state(path, opts)?;
        Ok(Self {
            state,
            config,
            layout,
            path: path.to_path_buf(),
            direction: None,
        })
    }

    /// A model of `state` (this checkpoint's tensors or a randomised copy of them).
    fn build(&self, state: StateDict, device: &Device) -> Result<Vit, SanityError> {
        let (mut vit, _) =
            apply_state_dict(state, self.config.clone(), self.layout, &self.path, device)?;
        if let Some(d) = &self.direction {
            vit.set_direction(d)
                .map_err(|e| SanityError::Other(format!("{}: {e}", self.path.display())))?;
        }
        Ok(vit)
    }
}

/// The randomised models of a checkpoint, step by step from the head down. With `keep`, every
/// model is built once and kept for the next image (a dataset); without, each is built when
/// its step comes and dropped after it (one image: one model in memory at a time).
pub struct Cascade {
    checkpoint: Checkpoint,
    how: Replacement,
    device: Device,
    steps: Vec<Step>,
    keep: bool,
    kept: Vec<Vit>,
}

impl Cascade {
    /// The cascade of `checkpoint` with `how` replacement, its models on `device`.
    pub fn new(checkpoint: Checkpoint, how: Replacement, device: Device, keep: bool) -> Self {
        let steps = cascade::steps_for(&checkpoint.config);
        Self {
            checkpoint,
            how,
            device,
            steps,
            keep,
            kept: Vec::new(),
        }
    }

    /// The steps' layers (`head`, `norm`, `blocks.N`, …, `embed`).
    pub fn layers(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|s| s.layer.as_str())
    }

    /// Calls `each` with every step's layer and model, in order.
    fn for_each(
        &mut self,
        progress: &dyn Progress,
        mut each: impl FnMut(&str, &Vit) -> Result<(), SanityError>,
    ) -> Result<(), SanityError> {
        if self.keep && self.kept.len() == self.steps.len() {
            for (step, vit) in self.steps.iter().zip(&self.kept) {
                progress::check(progress)?;
                each(&step.layer, vit)?;
            }
            return Ok(());
        }
        self.kept.clear();
        let mut state = self.checkpoint.state.clone();
        let depth = self.checkpoint.config.depth;
        for step in &self.steps {
            progress::check(progress)?;
            cascade::replace(&mut state, step, depth, self.how).map_err(|e| {
                SanityError::Other(format!("{}: {e}", self.checkpoint.path.display()))
            })?;
            let vit = self.checkpoint.build(state.clone(), &self.device)?;
            each(&step.layer, &vit)?;
            if self.keep {
                self.kept.push(vit);
            }
        }
        Ok(())
    }
}

/// Which other class the random-logit test explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherClass {
    /// The most likely class other than the target (`eval --sanity`, the workbench).
    MostLikely,
    /// This class (`sanity --random-logit K`).
    Class(usize),
}

/// What to check.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// The method whose map is checked.
    pub method: Method,
    /// Target (default: the predicted class), block and head of the map.
    pub options: ExplainOptions,
    /// The random-logit test, for class-specific methods of models with several classes.
    pub random_logit: Option<OtherClass>,
}

/// What a compared map is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// The original map (compared with nothing).
    Original,
    /// The map of another class.
    RandomLogit(usize),
    /// The map after randomising this layer and every one above it.
    Cascade(String),
}

impl std::fmt::Display for Test {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Test::Original => f.write_str("original"),
            Test::RandomLogit(k) => write!(f, "class {k}"),
            Test::Cascade(layer) => f.write_str(layer),
        }
    }
}

/// One map of a sanity run.
#[derive(Debug, Clone)]
pub struct SanityMap {
    /// What it is.
    pub test: Test,
    /// Values at model-input size (`size × size`), min-max normalised.
    pub values: Vec<f32>,
    /// Similarity to the original (`None` for the original).
    pub sim: Option<Similarity>,
}

/// How many maps [`run`] hands over for `checks` on a model with `classes` outputs.
pub fn map_count(checks: &Checks, classes: usize, cascade: Option<&Cascade>) -> usize {
    1 + usize::from(random_logit_applies(checks, classes)) + cascade.map_or(0, |c| c.steps.len())
}

fn random_logit_applies(checks: &Checks, classes: usize) -> bool {
    match checks.random_logit {
        None => false,
        Some(OtherClass::Class(_)) => true,
        Some(OtherClass::MostLikely) => checks.method.class_specific() && classes > 1,
    }
}

/// The most likely class other than `target` (the first on ties; 0 for a one-class model).
pub fn most_likely_other(logits: &[f32], target: usize) -> usize {
    (0..logits.len())
        .filter(|&c| c != target)
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// Runs `checks` on `input`: the original map, the random-logit map, then one map per step of
/// `cascade` (all for the original's target class). Each map goes to `emit` as soon as it is
/// made; the run stops between maps when `progress` says so. Returns the target class.
pub fn run(
    vit: &Vit,
    input: &Input,
    checks: &Checks,
    cascade: Option<&mut Cascade>,
    progress: &dyn Progress,
    mut emit: impl FnMut(SanityMap),
) -> Result<usize, SanityError> {
    let map = |v: &Vit, target: Option<usize>, what: &dyn Fn() -> String| {
        let opts = ExplainOptions {
            target,
            ..checks.options
        };
        input
            .explain(v, checks.method, &opts)
            .map_err(|source| SanityError::Explain {
                what: what(),
                source,
            })
    };
    let original = map(vit, checks.options.target, &|| "original".into())?;
    let target = original.target;
    let size = input.size;
    let compare = |m: &[f32]| {
        similarity::compare(&original.map.values, m, size, size)
            .map_err(|e| SanityError::Other(e.to_string()))
    };
    let classes = original.logits.len();
    emit(SanityMap {
        test: Test::Original,
        values: original.map.values.clone(),
        sim: None,
    });
    if random_logit_applies(checks, classes) {
        let other = match checks.random_logit {
            Some(OtherClass::Class(k)) => k,
            _ => most_likely_other(&original.logits, target),
        };
        progress::check(progress)?;
        let m = map(vit, Some(other), &|| format!("class {other}"))?;
        let sim = compare(&m.map.values)?;
        emit(SanityMap {
            test: Test::RandomLogit(other),
            values: m.map.values,
            sim: Some(sim),
        });
    }
    if let Some(cascade) = cascade {
        cascade.for_each(progress, |layer, v| {
            let m = map(v, Some(target), &|| format!("after randomising {layer}"))?;
            let sim = compare(&m.map.values)?;
            emit(SanityMap {
                test: Test::Cascade(layer.to_string()),
                values: m.map.values,
                sim: Some(sim),
            });
            Ok(())
        })?;
    }
    Ok(target)
}
