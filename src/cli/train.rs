//! `vitscope train`: train or fine-tune a ViT, or fit a linear probe on a frozen encoder.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Result, bail};
use clap::Args;

use vitscope::dataset::labels;
use vitscope::dataset::train::{OptimizerKind, SchedulerKind, TrainConfig, train};
use vitscope::model::device;
use vitscope::model::device::DeviceChoice;
use vitscope::model::{LoadOptions, VitConfig, VitSize, load_vit};

use super::common::{Bar, ResizeArgs, choice};

/// Where training starts.
#[derive(Debug, Clone)]
pub enum Init {
    /// Fresh parameters (`random`).
    Random,
    /// A checkpoint (timm, DINO, MAE, or one of ours).
    File(PathBuf),
}

impl FromStr for Init {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" => Err("give `random` or a checkpoint file".into()),
            "random" => Ok(Init::Random),
            f => Ok(Init::File(PathBuf::from(f))),
        }
    }
}

/// The architecture of a model trained from scratch.
#[derive(Debug, Clone, Copy)]
pub enum Architecture {
    /// One of timm's sizes.
    Sized(VitSize),
    /// `--dim`, `--depth`, `--heads`.
    Custom,
}

impl FromStr for Architecture {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "custom" => Ok(Architecture::Custom),
            s => VitSize::from_str(s)
                .map(Architecture::Sized)
                .map_err(|_| format!("'{s}': use ti, s, b, l or custom")),
        }
    }
}

/// `vitscope train`.
#[derive(Args)]
pub struct TrainArgs {
    /// Dataset folder: images/ and labels.csv (image,label,...), as `phantom` writes.
    #[arg(long)]
    data: PathBuf,
    /// `random`, or a checkpoint (timm, DINO, MAE, or one of ours) to start from.
    #[arg(long, default_value = "random")]
    init: Init,
    /// Architecture of a random init: ti, s, b, l, or `custom` with --dim/--depth/--heads.
    #[arg(long, default_value = "custom")]
    model: Architecture,
    /// Token width (custom).
    #[arg(long, default_value_t = 192, value_parser = clap::value_parser!(u32).range(1..=16384))]
    dim: u32,
    /// Blocks (custom).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    depth: u32,
    /// Heads (custom).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1024))]
    heads: u32,
    /// Patch size.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    patch: u32,
    /// Input size.
    #[arg(long, default_value_t = 224, value_parser = clap::value_parser!(u32).range(1..=8192))]
    img: u32,
    #[arg(long, value_parser = choice::<OptimizerKind>(), default_value = "adam")]
    optimizer: OptimizerKind,
    /// Peak learning rate (default 1e-3; 1e-2 with --probe).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    weight_decay: f64,
    #[arg(long, value_parser = choice::<SchedulerKind>(), default_value = "cosine")]
    scheduler: SchedulerKind,
    /// Epochs of linear warm-up (from lr/100) before the schedule.
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Clip the gradient's global norm (0: off).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    clip_grad: f64,
    /// Epochs (default 10; 100 with --probe).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    epochs: Option<u32>,
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=65536))]
    batch: u32,
    /// Share held out for validation (stratified).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.2)]
    val_split: f64,
    /// Early stopping: epochs without a better validation loss.
    #[arg(long, default_value_t = 5)]
    patience: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    resize: ResizeArgs,
    #[arg(long, value_parser = choice::<DeviceChoice>(), default_value = "auto")]
    device: DeviceChoice,
    /// Best checkpoint (safetensors, timm layout); the run's state goes to FILE.train/.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in FILE.train/ (settings come from there).
    #[arg(long)]
    resume: bool,
    /// Linear probe: keep the --init encoder frozen, compute each image's class-token
    /// features once, fit only a new linear head on them (softmax regression, Adam).
    #[arg(long)]
    probe: bool,
    /// JSON config of the --init checkpoint (timm config.json, Hugging Face config.json).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn run_probe(a: &TrainArgs) -> Result<()> {
    let Init::File(init) = &a.init else {
        bail!("--probe needs --init FILE: the encoder whose features the head is fitted on");
    };
    if a.resume {
        bail!("--probe runs in one go: --resume does not apply");
    }
    let device = device::resolve(a.device);
    let opts = LoadOptions {
        heads: None,
        config_file: a.config.clone(),
        classes: None,
    };
    let (vit, report) = load_vit(init, &opts, &device)?;
    eprintln!("{}", report.summary());
    let cfg = vitscope::dataset::probe::ProbeConfig {
        lr: a.lr.unwrap_or(1e-2),
        epochs: a.epochs.unwrap_or(100) as usize,
        batch: a.batch as usize,
        weight_decay: a.weight_decay,
        val_split: a.val_split,
        patience: a.patience,
        seed: a.seed,
        resize: a.resize.mode(),
    };
    vitscope::dataset::probe::probe(&a.data, vit, cfg, &a.out, &Bar::new())?;
    Ok(())
}

/// Trains (or, with `--probe`, fits a linear head).
pub fn run(a: TrainArgs) -> Result<()> {
    if a.probe {
        return run_probe(&a);
    }
    // The head has as many outputs as the dataset has classes.
    let classes = labels::class_count(&labels::read_labels(&a.data)?);
    let (img, patch) = (a.img as usize, a.patch as usize);
    let mut model = match a.model {
        Architecture::Custom => VitConfig::custom(
            img,
            patch,
            a.dim as usize,
            a.depth as usize,
            a.heads as usize,
            classes,
        ),
        Architecture::Sized(size) => VitConfig::sized(size, patch, classes),
    };
    model.img_size = img;
    if !model.embed_dim.is_multiple_of(model.num_heads) {
        bail!(
            "--dim {} is not a multiple of --heads {}",
            model.embed_dim,
            model.num_heads
        );
    }
    if !img.is_multiple_of(patch) {
        bail!("--img {img} is not a multiple of --patch {patch}");
    }
    let cfg = TrainConfig {
        model,
        init: match a.init {
            Init::Random => None,
            Init::File(f) => Some(f),
        },
        optimizer: a.optimizer,
        lr: a.lr.unwrap_or(1e-3),
        momentum: a.momentum,
        weight_decay: a.weight_decay,
        scheduler: a.scheduler,
        warmup: a.warmup,
        clip_grad: a.clip_grad,
        epochs: a.epochs.unwrap_or(10) as usize,
        batch: a.batch as usize,
        val_split: a.val_split,
        patience: a.patience,
        seed: a.seed,
        resize: a.resize.mode(),
    };
    let device = device::resolve(a.device);
    train(&a.data, cfg, &a.out, a.resume, &device, &Bar::new())?;
    Ok(())
}
