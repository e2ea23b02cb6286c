//! Linear probe on a frozen encoder (`vitscope train --probe`): the final class-token embedding
//! of every image is computed once (one backbone pass per image, in batches) and cached; a
//! softmax-regression head is fitted on the cached features; the encoder with that head is
//! saved like any checkpoint, so it loads and explains as a classifier.
//!
//! The head is fitted with Adam (β = 0.9, 0.999, ε = 1e-8) on shuffled mini-batches of the
//! cross-entropy, plus `weight_decay / 2 · |W|²` on the weights (not the bias), in f64 from a
//! zero start; the split is stratified by `seed`, and the head kept is the one of the epoch with
//! the lowest validation loss (the last epoch without a validation share), stopping after
//! `patience` epochs without improvement.

use crate::error::Invalid;
use std::path::Path;

use burn::module::Param;
use burn::nn::LinearConfig;
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::dataset::labels::read_labels;
use crate::dataset::train::{TrainError, save_model};
use crate::io::image::read_image;
use crate::model::preprocess::{self, Normalization, ResizeMode};
use crate::model::{Probes, Vit};

/// Images per backbone pass while caching features.
const FEATURE_BATCH: usize = 16;

/// Settings of a probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeConfig {
    /// Adam's learning rate.
    pub lr: f64,
    /// Epochs over the cached features.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// L2 penalty on the head's weights.
    pub weight_decay: f64,
    /// Share held out for validation (stratified).
    pub val_split: f64,
    /// Epochs without a better validation loss before stopping.
    pub patience: usize,
    /// Seed of the split and the shuffles.
    pub seed: u64,
    /// How images reach the model's input size.
    pub resize: ResizeMode,
}

impl ProbeConfig {
    /// Range checks.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.batch == 0 || self.epochs == 0 {
            return Err(Invalid::from("--batch and --epochs must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Invalid::from(format!(
                "--lr {} must be a finite number above 0",
                self.lr
            )));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Invalid::from(format!(
                "--weight-decay {} must be finite and not negative",
                self.weight_decay
            )));
        }
        if !(0.0..1.0).contains(&self.val_split) {
            return Err(Invalid::from(format!(
                "--val-split {} must be in [0, 1)",
                self.val_split
            )));
        }
        Ok(())
    }
}

/// One epoch of the probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeEpoch {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training cross-entropy.
    pub train_loss: f64,
    /// Training accuracy.
    pub train_acc: f64,
    /// Validation cross-entropy (`None` without a validation share).
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_acc: Option<f64>,
}

/// What a probe did.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// Images in the dataset.
    pub images: usize,
    /// Backbone passes run (one per image).
    pub backbone_passes: usize,
    /// Classes.
    pub classes: usize,
    /// Epoch whose head was kept.
    pub best_epoch: usize,
    /// Per-epoch statistics.
    pub history: Vec<ProbeEpoch>,
    /// Settings.
    pub config: ProbeConfig,
}

/// Features of `images` (what the head reads: the class token, or the pooled patch tokens) (`[3 * S * S]` prepared inputs), one backbone pass per
/// image, `FEATURE_BATCH` at a time.
fn features(vit: &Vit, inputs: &[Vec<f32>], size: usize) -> Result<Vec<Vec<f32>>, String> {
    let device = vit.device();
    let depth = vit.config.depth;
    let d = vit.config.embed_dim;
    let mut out = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(FEATURE_BATCH) {
        let b = chunk.len();
        let x =
            Tensor::<4>::from_data(TensorData::new(chunk.concat(), [b, 3, size, size]), &device);
        let trace = vit.forward_kept(x, Probes::NONE, depth..depth);
        // The head's input: the final class token, or the pooled patch tokens (average pool).
        let v = crate::explain::to_vec(trace.pooled).map_err(|e| e.to_string())?;
        crate::io::guard::check_finite(&v, "the features").map_err(|e| e.to_string())?;
        out.extend(v.chunks(d).map(<[f32]>::to_vec));
    }
    Ok(out)
}

/// Softmax regression `W x + b` (`W` `[C, D]`).
struct Head {
    w: Vec<f64>,
    b: Vec<f64>,
    classes: usize,
    dim: usize,
}

impl Head {
    /// Probabilities of one example.
    fn probs(&self, x: &[f32]) -> Vec<f64> {
        let z: Vec<f64> = (0..self.classes)
            .map(|c| {
                let row = &self.w[c * self.dim..(c + 1) * self.dim];
                self.b[c] + row.iter().zip(x).map(|(w, &v)| w * v as f64).sum::<f64>()
            })
            .collect();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    /// Mean cross-entropy and accuracy over `idx`.
    fn score(&self, feats: &[Vec<f32>], labels: &[usize], idx: &[usize]) -> (f64, f64) {
        let (mut loss, mut right) = (0.0, 0usize);
        for &i in idx {
            let p = self.probs(&feats[i]);
            loss -= p[labels[i]].max(1e-300).ln();
            let best = (0..self.classes)
                .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                .unwrap_or(0);
            right += usize::from(best == labels[i]);
        }
        let n = idx.len().max(1) as f64;
        (loss / n, right as f64 / n)
    }
}

/// Adam state of one parameter vector.
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Adam {
    fn new(n: usize) -> Self {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    fn step(&mut self, p: &mut [f64], g: &[f64], lr: f64, t: i32) {
        let (b1, b2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for (((p, g), m), v) in p.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
        }
    }
}

/// Fits a linear head on the frozen `vit`'s class-token features of the labelled images in
/// `data` (`labels.csv`), installs it and saves the model to `out` (with `out.json` beside it
/// and the report in `out.probe.json`).
pub fn probe(
    data: &Path,
    mut vit: Vit,
    cfg: ProbeConfig,
    out: &Path,
    progress: &dyn crate::progress::Progress,
) -> Result<ProbeReport, TrainError> {
    cfg.check().map_err(TrainError::Option)?;
    let labelled = read_labels(data).map_err(|e| TrainError::Data {
        path: e.path,
        source: e.source,
    })?;
    let labels: Vec<usize> = labelled.iter().map(|l| l.label).collect();
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    if classes < 2 {
        return Err(TrainError::Data {
            path: data.join("labels.csv"),
            source: "a probe needs at least two classes".into(),
        });
    }
    let size = vit.config.img_size;
    let norm = Normalization::default();
    let mut inputs = Vec::with_capacity(labelled.len());
    for l in &labelled {
        let img = read_image(&l.image).map_err(|e| TrainError::Data {
            path: l.image.clone(),
            source: e.into(),
        })?;
        inputs.push(preprocess::prepare(&img, size, cfg.resize, &norm).chw);
    }
    progress.println(&format!(
        "{} images: computing class-token features (one backbone pass per image)",
        inputs.len()
    ));
    let feats = features(&vit, &inputs, size).map_err(|e| TrainError::Data {
        path: data.to_path_buf(),
        source: e.into(),
    })?;
    drop(inputs);
    let dim = vit.config.embed_dim;

    // Stratified split.
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let (mut train_idx, mut val_idx) = (Vec::new(), Vec::new());
    for class in 0..classes {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(&mut rng);
        let n_val = (idx.len() as f64 * cfg.val_split).round() as usize;
        val_idx.extend_from_slice(&idx[..n_val]);
        train_idx.extend_from_slice(&idx[n_val..]);
    }
    if train_idx.is_empty() {
        return Err(TrainError::Data {
            path: data.to_path_buf(),
            source: "no training images after the validation split".into(),
        });
    }
    progress.println(&format!(
        "probe: {} train, {} validation, {classes} classes, {dim}-d features",
        train_idx.len(),
        val_idx.len()
    ));

    let mut head = Head {
        w: vec![0.0; classes * dim],
        b: vec![0.0; classes],
        classes,
        dim,
    };
    let (mut opt_w, mut opt_b) = (Adam::new(classes * dim), Adam::new(classes));
    let mut best = (f64::INFINITY, 0usize, head.w.clone(), head.b.clone());
    let mut history = Vec::new();
    let mut t = 0;
    for epoch in 1..=cfg.epochs {
        train_idx.shuffle(&mut rng);
        for batch in train_idx.chunks(cfg.batch) {
            let mut gw = vec![0.0; classes * dim];
            let mut gb = vec![0.0; classes];
            for &i in batch {
                let mut p = head.probs(&feats[i]);
                p[labels[i]] -= 1.0;
                for c in 0..classes {
                    gb[c] += p[c];
                    let row = &mut gw[c * dim..(c + 1) * dim];
                    for (g, &x) in row.iter_mut().zip(&feats[i]) {
                        *g += p[c] * x as f64;
                    }
                }
            }
            let n = batch.len() as f64;
            for (g, w) in gw.iter_mut().zip(&head.w) {
                *g = *g / n + cfg.weight_decay * w;
            }
            gb.iter_mut().for_each(|g| *g /= n);
            t += 1;
            opt_w.step(&mut head.w, &gw, cfg.lr, t);
            opt_b.step(&mut head.b, &gb, cfg.lr, t);
        }
        let (train_loss, train_acc) = head.score(&feats, &labels, &train_idx);
        let val = (!val_idx.is_empty()).then(|| head.score(&feats, &labels, &val_idx));
        history.push(ProbeEpoch {
            epoch,
            train_loss,
            train_acc,
            val_loss: val.map(|v| v.0),
            val_acc: val.map(|v| v.1),
        });
        progress.println(&format!(
            "epoch {epoch}: train loss {train_loss:.4} acc {train_acc:.3}{}",
            val.map(|(l, a)| format!(", val loss {l:.4} acc {a:.3}"))
                .unwrap_or_default()
        ));
        let key = val.map_or(train_loss, |v| v.0);
        if val.is_none() || key < best.0 {
            best = (key, epoch, head.w.clone(), head.b.clone());
        } else if epoch - best.1 >= cfg.patience.max(1) {
            progress.println(&format!(
                "no better validation loss for {} epochs: stopping",
                cfg.patience
            ));
            break;
        }
    }
    let (_, best_epoch, w, b) = best;
    if !w.iter().chain(&b).all(|v| v.is_finite()) {
        return Err(TrainError::Option(
            "the probe diverged (non-finite weights): lower --lr".into(),
        ));
    }
    // burn's Linear weight is [in, out] = Wᵀ.
    let device = vit.device();
    let mut wt = vec![0f32; dim * classes];
    for c in 0..classes {
        for j in 0..dim {
            wt[j * classes + c] = w[c * dim + j] as f32;
        }
    }
    let mut linear = LinearConfig::new(dim, classes).init(&device);
    linear.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(wt, [dim, classes]),
        &device,
    ));
    linear.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(b.iter().map(|&v| v as f32).collect::<Vec<_>>(), [classes]),
        &device,
    )));
    vit.set_head(linear);
    vit.config.arch.headless = false;
    save_model(&vit, out)?;
    let report = ProbeReport {
        images: feats.len(),
        backbone_passes: feats.len(),
        classes,
        best_epoch,
        history,
        config: cfg,
    };
    let report_path = out.with_extension("probe.json");
    crate::io::write_atomic(
        &report_path,
        serde_json::to_string_pretty(&report)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(|e| TrainError::Data {
        path: report_path.clone(),
        source: e.into(),
    })?;
    progress.println(&format!(
        "saved {} (head of epoch {best_epoch}); report {}",
        out.display(),
        report_path.display()
    ));
    Ok(report)
}
