//! Fine-tuning and training from scratch: a labelled dataset in the paper's layout (`images/` plus
//! `labels.csv` with `image,label,...`), a validation split, Adam(W) or SGD with cosine annealing,
//! the best epoch by validation loss, early stopping, and a resumable state folder.
//!
//! The loop uses burn's optimizers, learning-rate schedulers and loss (burn-optim, burn-nn) on the
//! model of [`crate::model`], so the saved checkpoint is a timm-layout safetensors file that
//! `vitscope explain` and the workbench load as they load any other.

use crate::error::Invalid;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::nn::LinearConfig;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::lr_scheduler::LrSchedulerConfig;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, SgdConfig};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::dataset::labels::read_labels;
use crate::explain::to_vec;
use crate::io::image::read_image;
use crate::model::checkpoint::CheckpointError;
use crate::model::preprocess::{self, Normalization, ResizeMode};
use crate::model::{LoadOptions, Vit, VitConfig, load_vit};
use crate::progress::Progress;

/// Errors of training; each names the file or the setting.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Dataset problem.
    #[error("{path}: {source}")]
    Data {
        /// File or folder.
        path: PathBuf,
        /// What is wrong.
        source: crate::error::Cause,
    },
    /// Bad option.
    #[error("{0}")]
    Option(Invalid),
    /// Checkpoint problem.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Computation failed.
    #[error("training: {0}")]
    Compute(#[source] crate::error::Cause),
}

fn data_err(path: &Path, cause: impl Into<crate::error::Cause>) -> TrainError {
    TrainError::Data {
        path: path.to_path_buf(),
        source: cause.into(),
    }
}

/// Optimiser.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (with decoupled weight decay: AdamW when `weight_decay` > 0).
    Adam,
    /// SGD with momentum.
    Sgd,
}

/// Learning-rate schedule.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "lowercase")]
pub enum SchedulerKind {
    /// Cosine annealing to 0 over all iterations.
    Cosine,
    /// Constant.
    Constant,
}

/// Training settings (also written to the state folder, so a resumed run keeps them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model architecture.
    pub model: VitConfig,
    /// `random` or a checkpoint to start from.
    pub init: Option<PathBuf>,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Schedule.
    pub scheduler: SchedulerKind,
    /// Epochs of linear warm-up from lr/100 to lr before the schedule (0: none).
    #[serde(default)]
    pub warmup: usize,
    /// Clip the gradient's global norm to this (0: no clipping).
    #[serde(default)]
    pub clip_grad: f64,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Share of the data held out for validation.
    pub val_split: f64,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Seed of the split, the shuffles, the flips and a random init.
    pub seed: u64,
    /// Resize or centre crop.
    pub resize: ResizeMode,
}

impl TrainConfig {
    /// Range checks of the options: positive counts, a finite positive learning rate, finite
    /// non-negative decay and clipping, a momentum and a validation share in [0, 1), and an
    /// architecture that [`crate::model::VitConfig::validate`] accepts.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.batch == 0 || self.epochs == 0 {
            return Err(Invalid::from("--batch and --epochs must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return Err(Invalid::from(format!(
                "--lr {} must be a number in (0, 10]",
                self.lr
            )));
        }
        for (name, v) in [
            ("--weight-decay", self.weight_decay),
            ("--clip-grad", self.clip_grad),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Invalid::from(format!(
                    "{name} {v} must be a finite number >= 0"
                )));
            }
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Invalid::from(format!(
                "--momentum {} must be in [0, 1)",
                self.momentum
            )));
        }
        if !(0.0..1.0).contains(&self.val_split) {
            return Err(Invalid::from(format!(
                "--val-split {} must be in [0, 1)",
                self.val_split
            )));
        }
        self.model
            .validate()
            .map_err(|e| format!("model options: {e}"))?;
        // Weights, gradients and two optimiser moments: 16 bytes per parameter.
        let params = self.model.parameter_count().unwrap_or(u64::MAX);
        if params.saturating_mul(16) > crate::model::vit::MODEL_BUDGET {
            return Err(Invalid::from(format!(
                "model options: training {params} parameters needs more than {} GiB (weights, gradients and optimiser state)",
                crate::model::vit::MODEL_BUDGET >> 30
            )));
        }
        Ok(())
    }
}

/// One labelled image, decoded to the model's input size (u8, channel-major).
struct Example {
    pixels: Vec<u8>,
    label: usize,
}

/// Reads `labels.csv` (`image,label,...`) and the images of a dataset folder.
fn read_dataset(
    dir: &Path,
    size: usize,
    resize: ResizeMode,
    progress: &dyn Progress,
) -> Result<Vec<Example>, TrainError> {
    let labelled = read_labels(dir).map_err(|e| data_err(&e.path, e.source))?;
    progress.set_len(labelled.len() as u64);
    progress.set_message("reading images");
    let mut out = Vec::with_capacity(labelled.len());
    for l in labelled {
        let img = read_image(&l.image).map_err(|e| data_err(&l.image, e))?;
        let planes = preprocess::fit_planes(&img.to_rgb(), size, resize);
        let pixels = planes
            .iter()
            .flat_map(|p| p.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
            .collect();
        out.push(Example {
            pixels,
            label: l.label,
        });
        progress.inc(1);
    }
    progress.finish();
    Ok(out)
}

/// A batch as model input and targets, with optional horizontal flips.
fn batch_tensors(
    examples: &[&Example],
    size: usize,
    flips: &[bool],
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let norm = Normalization::default();
    let plane = size * size;
    let mut x = Vec::with_capacity(examples.len() * 3 * plane);
    for (e, &flip) in examples.iter().zip(flips) {
        for c in 0..3 {
            let src = &e.pixels[c * plane..(c + 1) * plane];
            for row in src.chunks_exact(size) {
                let value = |v: u8| (v as f32 / 255.0 - norm.mean[c]) / norm.std[c];
                if flip {
                    x.extend(row.iter().rev().map(|&v| value(v)));
                } else {
                    x.extend(row.iter().map(|&v| value(v)));
                }
            }
        }
    }
    let b = examples.len();
    let xs = Tensor::from_data(TensorData::new(x, [b, 3, size, size]), device);
    let ys: Vec<i64> = examples.iter().map(|e| e.label as i64).collect();
    let ys = Tensor::from_data(TensorData::new(ys, [b]), device);
    (xs, ys)
}

/// Result of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy.
    pub train_acc: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_acc: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Seconds.
    pub seconds: f64,
}

/// What survives between runs (`<out>.train/state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainState {
    config: TrainConfig,
    history: Vec<EpochStats>,
    best_epoch: usize,
    best_val_loss: f64,
    iterations: usize,
}

/// Files of a run: the best checkpoint at `out`, the rest in `out.train/`.
struct RunFiles {
    out: PathBuf,
    dir: PathBuf,
}

impl RunFiles {
    fn new(out: &Path) -> Self {
        let mut dir = out.as_os_str().to_owned();
        dir.push(".train");
        Self {
            out: out.to_path_buf(),
            dir: PathBuf::from(dir),
        }
    }
    fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    fn last(&self) -> PathBuf {
        self.dir.join("last.safetensors")
    }
    fn optim(&self) -> PathBuf {
        self.dir.join("optimizer.bpk")
    }
    fn history(&self) -> PathBuf {
        self.dir.join("history.csv")
    }
}

/// Writes a model as a timm-layout safetensors file (atomically) and its config JSON beside it.
pub fn save_model(vit: &Vit, path: &Path) -> Result<(), TrainError> {
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
    vit.weights()
        .valid()
        .save_into(&mut store)
        .map_err(|e| data_err(path, format!("cannot serialise the model: {e}")))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| data_err(path, format!("cannot serialise the model: {e}")))?;
    crate::io::write_atomic(path, &bytes).map_err(|e| data_err(path, e))?;
    let c = &vit.config;
    let cfg = serde_json::json!({
        "num_heads": c.num_heads,
        "num_classes": c.num_classes,
        "img_size": c.img_size,
        "patch_size": c.patch_size,
        "embed_dim": c.embed_dim,
        "depth": c.depth,
        "norm_eps": c.eps,
        "reg_tokens": c.arch.reg_tokens,
        "no_embed_class": c.arch.pos_prefix == 0,
        // Family, position entries and resampling rule: timm names alone cannot tell a
        // converted Hugging Face model's rules.
        "vitscope_arch": c.arch,
    });
    let cfg_path = path.with_extension("json");
    crate::io::write_atomic(
        &cfg_path,
        serde_json::to_string_pretty(&cfg)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(|e| data_err(&cfg_path, e))
}

fn make_optimizer(c: &TrainConfig) -> burn::optim::ModuleOptimizer {
    let clip = (c.clip_grad > 0.0).then_some(GradientClippingConfig::Norm(c.clip_grad as f32));
    match c.optimizer {
        OptimizerKind::Adam if c.weight_decay > 0.0 => AdamWConfig::new()
            .with_weight_decay(c.weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
        OptimizerKind::Adam => AdamConfig::new().with_grad_clipping(clip).init(),
        OptimizerKind::Sgd => SgdConfig::new()
            .with_gradient_clipping(clip)
            .with_momentum(
                (c.momentum > 0.0).then(|| MomentumConfig::new().with_momentum(c.momentum)),
            )
            .with_weight_decay(
                (c.weight_decay > 0.0).then(|| WeightDecayConfig::new(c.weight_decay as f32)),
            )
            .init(),
    }
}

/// The learning-rate schedule over `total` iterations: an optional linear warm-up from lr/100,
/// then cosine annealing to 0 or a constant rate. `None` for a constant rate without warm-up.
fn schedule(c: &TrainConfig, total: usize) -> Result<Option<ModuleLrScheduler>, Invalid> {
    let warm = (c.warmup * total / c.epochs.max(1)).min(total.saturating_sub(1));
    let main = match c.scheduler {
        SchedulerKind::Cosine => {
            LrSchedulerConfig::Cosine(CosineAnnealingLrSchedulerConfig::new(c.lr, total - warm))
        }
        SchedulerKind::Constant if warm == 0 => return Ok(None),
        SchedulerKind::Constant => LrSchedulerConfig::Constant(c.lr),
    };
    if warm == 0 {
        return match main {
            LrSchedulerConfig::Cosine(cfg) => cfg.init().map(Some).map_err(Invalid),
            _ => Ok(None),
        };
    }
    SequentialLrSchedulerConfig::new(
        vec![
            LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(c.lr / 100.0, c.lr, warm)),
            main,
        ],
        vec![warm],
    )
    .init()
    .map(Some)
    .map_err(Invalid)
}

/// Trains and writes the best checkpoint (by validation loss) to `out`. With `resume`, continues
/// the run whose state is in `out.train/`. `progress` counts the images of each epoch and receives one line per epoch.
pub fn train(
    data: &Path,
    cfg: TrainConfig,
    out: &Path,
    resume: bool,
    device: &Device,
    progress: &dyn Progress,
) -> Result<Vec<EpochStats>, TrainError> {
    let files = RunFiles::new(out);
    std::fs::create_dir_all(&files.dir).map_err(|e| data_err(&files.dir, e))?;
    let mut state = if resume && files.state().is_file() {
        let text =
            crate::io::guard::read_text(&files.state()).map_err(|e| data_err(&files.state(), e))?;
        let mut s: TrainState =
            serde_json::from_str(&text).map_err(|e| data_err(&files.state(), e))?;
        // Only the epoch count may change on resume (to extend a run).
        s.config.epochs = cfg.epochs;
        progress.println(&format!("resuming after epoch {}", s.history.len()));
        s
    } else {
        TrainState {
            config: cfg,
            history: Vec::new(),
            best_epoch: 0,
            best_val_loss: f64::INFINITY,
            iterations: 0,
        }
    };
    let c = state.config.clone();
    c.check().map_err(TrainError::Option)?;
    let examples = read_dataset(data, c.model.img_size, c.resize, progress)?;
    let classes = examples.iter().map(|e| e.label).max().unwrap_or(0) + 1;
    let labels_csv = data.join("labels.csv");
    let count = |k: usize| examples.iter().filter(|e| e.label == k).count();
    if let Some(empty) = (0..classes).find(|&k| count(k) == 0) {
        return Err(data_err(
            &labels_csv,
            if classes == 1 || (0..classes).filter(|&k| count(k) > 0).count() < 2 {
                format!(
                    "every image has label {}: a classifier needs images of at least two classes",
                    classes - 1
                )
            } else {
                format!(
                    "no image has label {empty} of the labels 0 to {}: labels must be 0, 1, … without gaps",
                    classes - 1
                )
            },
        ));
    }
    if classes == 1 {
        return Err(data_err(
            &labels_csv,
            "every image has label 0: a classifier needs images of at least two classes",
        ));
    }
    if classes != c.model.num_classes {
        return Err(TrainError::Option(Invalid::from(format!(
            "the dataset has {classes} classes but the model {}",
            c.model.num_classes
        ))));
    }
    // Stratified split, the same for every run with this seed.
    let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed);
    let (mut train_idx, mut val_idx) = (Vec::new(), Vec::new());
    for class in 0..classes {
        let mut idx: Vec<usize> = (0..examples.len())
            .filter(|&i| examples[i].label == class)
            .collect();
        idx.shuffle(&mut rng);
        let n_val = (idx.len() as f64 * c.val_split).round() as usize;
        val_idx.extend_from_slice(&idx[..n_val]);
        train_idx.extend_from_slice(&idx[n_val..]);
    }
    if train_idx.is_empty() {
        return Err(data_err(
            &labels_csv,
            "no training images after the validation split",
        ));
    }
    if c.val_split > 0.0 && val_idx.is_empty() {
        return Err(data_err(
            &labels_csv,
            format!(
                "{} images leave no validation image at --val-split {}: add images, raise it, or give --val-split 0 to keep the last epoch",
                examples.len(),
                c.val_split
            ),
        ));
    }
    progress.println(&format!(
        "{} images: {} train, {} validation, {classes} classes",
        examples.len(),
        train_idx.len(),
        val_idx.len()
    ));

    let ad = device.clone().autodiff();
    // A random init is reproducible from --seed.
    device.seed(c.seed);
    ad.seed(c.seed);
    let mut vit = if resume && files.last().is_file() {
        load_vit(
            &files.last(),
            &LoadOptions {
                heads: Some(c.model.num_heads),
                ..Default::default()
            },
            &ad,
        )?
        .0
    } else {
        match &c.init {
            None => c.model.init(&ad),
            Some(p) => {
                let opts = LoadOptions {
                    heads: Some(c.model.num_heads),
                    classes: Some(classes),
                    config_file: None,
                };
                let (mut v, report) = load_vit(p, &opts, &ad)?;
                progress.println(&report.summary());
                if (v.config.img_size, v.config.patch_size)
                    != (c.model.img_size, c.model.patch_size)
                {
                    return Err(TrainError::Option(Invalid::from(format!(
                        "--init {} has a {}×{} patch grid ({} px, patch {}) but the run asks for {} px with patch {}: pass --img {} --patch {}",
                        p.display(),
                        v.config.grid(),
                        v.config.grid(),
                        v.config.img_size,
                        v.config.patch_size,
                        c.model.img_size,
                        c.model.patch_size,
                        v.config.img_size,
                        v.config.patch_size
                    ))));
                }
                if v.config.num_classes != classes {
                    progress.println(&format!(
                        "replacing the {}-class head with a new {classes}-class head",
                        v.config.num_classes
                    ));
                    v.set_head(LinearConfig::new(v.config.embed_dim, classes).init(&ad));
                }
                v
            }
        }
    };
    let mut optim = make_optimizer(&c);
    if resume && files.optim().is_file() {
        let rec = burn::optim::OptimizerRecord::load(files.optim())
            .map_err(|e| data_err(&files.optim(), e))?;
        optim = optim.load_record(rec);
    }
    let steps_per_epoch = train_idx.len().div_ceil(c.batch);
    let total = (steps_per_epoch * c.epochs).max(1);
    let mut sched = schedule(&c, total).map_err(TrainError::Option)?;
    if let Some(s) = sched.as_mut() {
        for _ in 0..state.iterations {
            s.step();
        }
    }
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let size = c.model.img_size;
    let start_epoch = state.history.len();
    // Re-seed per epoch so a resumed run shuffles as an uninterrupted one would.
    for epoch in start_epoch..c.epochs {
        if epoch >= state.best_epoch + c.patience && state.best_epoch > 0 {
            progress.println(&format!(
                "early stop: no better validation loss for {} epochs",
                c.patience
            ));
            break;
        }
        let t = Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed.wrapping_add(1 + epoch as u64));
        let mut order = train_idx.clone();
        order.shuffle(&mut rng);
        progress.set_len(order.len() as u64);
        progress.set_message(&format!("epoch {}/{}", epoch + 1, c.epochs));
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut lr = c.lr;
        for chunk in order.chunks(c.batch) {
            let batch: Vec<&Example> = chunk.iter().map(|&i| &examples[i]).collect();
            let flips: Vec<bool> = (0..batch.len())
                .map(|_| rand::Rng::random_bool(&mut rng, 0.5))
                .collect();
            let (x, y) = batch_tensors(&batch, size, &flips, &ad);
            let logits = vit.forward(x);
            let loss = loss_fn.forward(logits.clone(), y.clone());
            let lv = to_vec(loss.clone()).map_err(|e| TrainError::Compute(e.into()))?[0] as f64;
            if !lv.is_finite() {
                return Err(TrainError::Compute(crate::error::Cause::from(format!(
                    "the loss became {lv} in epoch {} (diverged): lower --lr or set --clip-grad; the best checkpoint so far is kept",
                    epoch + 1
                ))));
            }
            correct += count_correct(&logits.detach(), &batch)?;
            let grads = loss.backward();
            let gp = GradientsParams::from_grads(grads, vit.weights());
            if let Some(s) = sched.as_mut() {
                lr = s.step().base();
            }
            state.iterations += 1;
            vit = vit.with_weights(|w| optim.step(lr, w, gp));
            loss_sum += lv * batch.len() as f64;
            seen += batch.len();
            progress.inc(batch.len() as u64);
            crate::progress::check(progress).map_err(|e| TrainError::Compute(e.into()))?;
        }
        progress.finish();
        let (val_loss, val_acc) = evaluate(&vit, &examples, &val_idx, c.batch, device)?;
        let stats = EpochStats {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_acc,
            lr,
            seconds: t.elapsed().as_secs_f64(),
        };
        let better = val_idx.is_empty() || val_loss < state.best_val_loss;
        progress.println(&format!(
            "epoch {:>3}: train loss {:.4} acc {:.3} | val loss {:.4} acc {:.3} | lr {:.2e} | {:.0} s{}",
            stats.epoch,
            stats.train_loss,
            stats.train_acc,
            stats.val_loss,
            stats.val_acc,
            stats.lr,
            stats.seconds,
            if better { " | best" } else { "" }
        ));
        if better {
            state.best_val_loss = val_loss;
            state.best_epoch = epoch + 1;
            save_model(&vit, &files.out)?;
        }
        state.history.push(stats);
        // The state of the finished epoch, written last so a crash resumes from a whole epoch.
        save_model(&vit, &files.last())?;
        optim
            .to_record()
            .save(files.optim())
            .map_err(|e| data_err(&files.optim(), e))?;
        write_history(&files.history(), &state.history)?;
        let json =
            serde_json::to_string_pretty(&state).map_err(|e| TrainError::Compute(e.into()))?;
        crate::io::write_atomic(&files.state(), json.as_bytes())
            .map_err(|e| data_err(&files.state(), e))?;
    }
    if val_idx.is_empty() {
        progress.println(&format!(
            "no validation split: the last epoch ({}) saved to {}",
            state.best_epoch,
            files.out.display()
        ));
    } else {
        progress.println(&format!(
            "best epoch {} (validation loss {:.4}) saved to {}",
            state.best_epoch,
            state.best_val_loss,
            files.out.display()
        ));
    }
    Ok(state.history)
}

fn count_correct(logits: &Tensor<2>, batch: &[&Example]) -> Result<usize, TrainError> {
    let classes = logits.dims()[1];
    let v = to_vec(logits.clone()).map_err(|e| TrainError::Compute(e.into()))?;
    Ok(v.chunks_exact(classes)
        .zip(batch)
        .filter(|(row, e)| crate::explain::argmax(row) == e.label)
        .count())
}

/// Validation loss and accuracy, without gradients.
fn evaluate(
    vit: &Vit,
    examples: &[Example],
    idx: &[usize],
    batch: usize,
    device: &Device,
) -> Result<(f64, f64), TrainError> {
    if idx.is_empty() {
        return Ok((f64::NAN, f64::NAN));
    }
    let plain = Vit::new(vit.weights().valid(), vit.config.clone());
    let _ = device;
    let device = &plain.device();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (mut loss, mut correct) = (0.0, 0);
    for chunk in idx.chunks(batch) {
        let b: Vec<&Example> = chunk.iter().map(|&i| &examples[i]).collect();
        let (x, y) = batch_tensors(&b, vit.config.img_size, &vec![false; b.len()], device);
        let logits = plain.forward(x);
        let l = to_vec(loss_fn.forward(logits.clone(), y))
            .map_err(|e| TrainError::Compute(e.into()))?[0];
        loss += l as f64 * b.len() as f64;
        correct += count_correct(&logits, &b)?;
    }
    Ok((loss / idx.len() as f64, correct as f64 / idx.len() as f64))
}

fn write_history(path: &Path, h: &[EpochStats]) -> Result<(), TrainError> {
    let mut s = String::from("epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n");
    for e in h {
        s.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6e},{:.1}\n",
            e.epoch, e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.lr, e.seconds
        ));
    }
    crate::io::write_atomic(path, s.as_bytes()).map_err(|e| data_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(scheduler: SchedulerKind, warmup: usize) -> TrainConfig {
        TrainConfig {
            model: VitConfig::sized(crate::model::VitSize::Ti, 16, 2),
            init: None,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.9,
            weight_decay: 0.0,
            scheduler,
            warmup,
            clip_grad: 1.0,
            epochs: 10,
            batch: 8,
            val_split: 0.2,
            patience: 5,
            seed: 0,
            resize: ResizeMode::Resize,
        }
    }

    fn rates(c: &TrainConfig, total: usize) -> Vec<f64> {
        let mut s = schedule(c, total).unwrap().unwrap();
        (0..total).map(|_| s.step().base()).collect()
    }

    #[test]
    fn warmup_rises_linearly_then_cosine_decays() {
        // 10 epochs of 10 steps, 2 epochs of warm-up: 20 rising steps, then 80 of cosine.
        let r = rates(&config(SchedulerKind::Cosine, 2), 100);
        assert!((r[0] - 1e-5).abs() < 1e-9, "starts at lr/100: {}", r[0]);
        let step = (r[10] - r[0]) / 10.0;
        for w in r[..20].windows(2) {
            assert!((w[1] - w[0] - step).abs() < 1e-9, "linear warm-up: {r:?}");
        }
        assert!((r[20] - 1e-3).abs() < 1e-6, "peak after warm-up: {}", r[20]);
        assert!(r[20..].windows(2).all(|w| w[1] <= w[0]), "{r:?}");
        assert!(r[99] < 1e-5, "anneals towards 0: {}", r[99]);
        // Without warm-up the cosine starts at the peak; constant without warm-up needs none.
        assert!((rates(&config(SchedulerKind::Cosine, 0), 100)[0] - 1e-3).abs() < 1e-9);
        assert!(
            schedule(&config(SchedulerKind::Constant, 0), 100)
                .unwrap()
                .is_none()
        );
        let c = rates(&config(SchedulerKind::Constant, 2), 100);
        assert!(c[..20].windows(2).all(|w| w[1] > w[0]) && c[20..].iter().all(|v| *v == 1e-3));
    }
}
