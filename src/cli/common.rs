//! What the commands share: the model options and loading, resizing options, the library's
//! choices as values, progress bars, and how a writer's warnings are printed.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use indicatif::{ProgressBar, ProgressStyle};

use vitscope::explain::{Method, Target};
use vitscope::io::npy;
use vitscope::model::device::{self, DeviceChoice};
use vitscope::model::preprocess::{ResizeFilter, ResizeMode};
use vitscope::model::{LoadOptions, Vit, load_vit};
use vitscope::progress::Progress;

/// The paper's top percentages, the default of every `--top`.
pub const PAPER_TOPS: &str = "5,10,20,40";

/// A value parser for one of the library's choices: its names (kebab-case) as the possible
/// values, each variant's doc comment as its help. A variant marked
/// `#[strum(message = "hidden")]` (reached through other options) is not offered.
pub fn choice<T>() -> impl TypedValueParser<Value = T>
where
    T: strum::VariantArray
        + strum::EnumMessage
        + FromStr
        + Copy
        + Into<&'static str>
        + Send
        + Sync
        + 'static,
{
    let values = T::VARIANTS
        .iter()
        .copied()
        .filter(|v| v.get_message() != Some("hidden"))
        .map(|v| PossibleValue::new(v.into()).help(v.get_documentation().unwrap_or_default()));
    PossibleValuesParser::new(values).try_map(|name| {
        T::from_str(&name).map_err(|_| format!("'{name}' is not one of the choices"))
    })
}

/// The map a one-image command works on: its method and the class it explains.
#[derive(Args, Clone, Copy)]
pub struct MapArgs {
    /// Explanation method.
    #[arg(long, value_parser = choice::<Method>(), default_value = "chefer")]
    pub method: Method,
    /// Class the map explains: a class index, or "pred" for the predicted class.
    #[arg(long, default_value = "pred", allow_hyphen_values = true)]
    pub target: Target,
}

/// The percentages of the top-k % binarisation.
#[derive(Args, Clone)]
pub struct TopArgs {
    /// Top percentages.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = PAPER_TOPS,
        allow_negative_numbers = true
    )]
    pub top: Vec<f64>,
}

/// Where a model comes from, shared by every command that loads one or several.
#[derive(Args, Clone)]
pub struct LoadArgs {
    /// JSON config with `num_heads` / `num_classes` (e.g. the reference fixtures' config.json).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Attention heads (else from --config, else head_dim 64).
    #[arg(long)]
    pub heads: Option<usize>,
    /// Compute device: auto picks a hardware GPU when present, else the CPU.
    #[arg(long, value_parser = choice::<DeviceChoice>(), default_value = "auto")]
    pub device: DeviceChoice,
}

/// Model selection shared by subcommands.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Checkpoint (.safetensors or .pth; timm, DINO or MAE layout). Default: the bundled demo model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub load: LoadArgs,
    /// For a headless encoder: a float32 .npy [dim]; the model's one output (target 0) becomes
    /// direction · cls, the final class-token embedding.
    #[arg(long)]
    pub direction: Option<PathBuf>,
}

/// The command-line options of preprocessing, shared by every command that runs the model.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ResizeArgs {
    /// How images reach the model size.
    #[arg(long = "resize", value_parser = choice::<ResizeMode>(), default_value = "resize")]
    pub mode: ResizeMode,
    /// Resampler of `--resize resize`: pil (torchvision's Resize on PIL images, antialiased) or
    /// tensor (plain bilinear, as Resize on tensors without antialiasing).
    #[arg(long, value_parser = choice::<ResizeFilter>(), default_value = "pil")]
    pub resize_filter: ResizeFilter,
}

impl ResizeArgs {
    /// The mode the two options name together.
    pub fn mode(&self) -> ResizeMode {
        self.mode.with_filter(self.resize_filter)
    }
}

/// The bundled demo model and its config.
pub fn bundled_model() -> (PathBuf, PathBuf) {
    let dir = vitscope::app::demo_dir();
    (dir.join("model.safetensors"), dir.join("config.json"))
}

/// The checkpoint file `args` names (or the bundled one).
pub fn vit_name(args: &ModelArgs) -> PathBuf {
    args.weights.clone().unwrap_or_else(|| bundled_model().0)
}

/// The checkpoint, load options and device `args` name (the bundled model by default).
pub fn model_source(args: &ModelArgs) -> (PathBuf, LoadOptions, burn::tensor::Device) {
    let (weights, config) = match &args.weights {
        Some(w) => (w.clone(), args.load.config.clone()),
        None => {
            let (w, c) = bundled_model();
            (w, Some(args.load.config.clone().unwrap_or(c)))
        }
    };
    let opts = LoadOptions {
        heads: args.load.heads,
        config_file: config,
        classes: None,
    };
    (weights, opts, device::resolve(args.load.device))
}

/// Loads the model named by `args` (or the bundled one), with its `--direction`.
pub fn load_model(args: &ModelArgs) -> Result<Vit> {
    let (weights, opts, device) = model_source(args);
    let (mut vit, report) = load_vit(&weights, &opts, &device)?;
    eprintln!("{}", report.summary());
    apply_direction(&mut vit, args.direction.as_deref())?;
    Ok(vit)
}

/// Reads a direction: a float `.npy` of shape `[D]` (or `[1, D]`).
pub fn read_direction(path: &Path) -> Result<Vec<f32>> {
    let a = npy::read_f32(path)?;
    match a.shape[..] {
        [_] | [1, _] => Ok(a.data),
        _ => bail!(
            "{}: a direction is a 1-D array [dim], this one has shape {:?}",
            path.display(),
            a.shape
        ),
    }
}

/// Replaces the head of `vit` by `--direction` when one is given.
pub fn apply_direction(vit: &mut Vit, file: Option<&Path>) -> Result<()> {
    if let Some(p) = file {
        let dir = read_direction(p)?;
        vit.set_direction(&dir)
            .map_err(|e| anyhow!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// A progress bar on stderr that the core's jobs drive through [`Progress`].
pub struct Bar(pub ProgressBar);

impl Bar {
    /// A bar with a count, a message and the time left.
    pub fn new() -> Self {
        let style = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed}<{eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        Bar(ProgressBar::new(0).with_style(style))
    }
}

impl Progress for Bar {
    fn set_len(&self, len: u64) {
        self.0.set_length(len);
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn set_message(&self, message: &str) {
        self.0.set_message(message.to_string());
    }
    fn println(&self, line: &str) {
        self.0.suspend(|| eprintln!("{line}"));
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// What a writer says: warnings and notes on stderr, what it matched on stdout.
pub fn print_outcome(warnings: &[String], notes: &[String], lines: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
    for n in notes {
        eprintln!("note: {n}");
    }
    for l in lines {
        println!("{l}");
    }
}
