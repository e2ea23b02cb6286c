//! `vitscope`: with no subcommand the workbench GUI; subcommands for explanation maps (`explain`),
//! localisation metrics (`metrics`), dataset evaluation (`eval`), conversion, phantom data and
//! benchmarks (`bench`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use vitscope::explain::{self, ExplainOptions, Explanation, Method};
use vitscope::io::{colormap, image as vimage, mask as vmask, npy};
use vitscope::metrics::{self, Mask, Rect};
use vitscope::model::device::{self, DeviceChoice};
use vitscope::model::preprocess::{self, Normalization, ResizeArgs};
use vitscope::model::{LoadOptions, Vit, load_vit};

/// mimalloc keeps freed blocks for reuse: the model allocates and frees megabyte tensors at a
/// high rate, and the system allocator returned them to the kernel each time (about 20 000 page
/// faults per ViT-B forward, 8–10 % of its time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in mimalloc v3's `mi_option_t`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to hand freed memory back to the kernel. By default it does so 10 ms
/// after a free; the explanation maps allocate and free megabyte tensors all the time, so every
/// round trip came back as fresh pages the kernel had to zero: ~20 000 page faults per Chefer map
/// of a ViT-B, 15–20 % of its time. The process keeps its peak memory instead.
fn keep_freed_memory() {
    // SAFETY: an FFI call with plain integers that sets one mimalloc option. mimalloc documents
    // `mi_option_set` as not thread-safe; this runs first thing in `main`, before any other
    // thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

mod bench;
mod encoder_cmd;
mod faith_cmd;
mod hospital_cmd;

#[derive(Parser)]
#[command(
    name = "vitscope",
    version,
    about = "Judge Vision Transformer explanations of medical images"
)]
#[command(subcommand_precedence_over_arg = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    gui: GuiArgs,
    /// Largest image (width × height) any reader decodes; decoded buffers may take 32 bytes per
    /// pixel of it (the default, 8192 × 8192, is a 2 GiB budget).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=(1u64 << 34)))]
    max_pixels: Option<u64>,
}

/// With no subcommand: the workbench GUI.
#[derive(Args)]
struct GuiArgs {
    /// A project file (.ron), an image (PNG, JPEG, TIFF, DICOM) or a folder of images.
    path: Option<PathBuf>,
    /// A project file to open.
    #[arg(long, conflicts_with = "path")]
    project: Option<PathBuf>,
    /// Render the first fully loaded frame to this PNG and exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Time N idle frames once loaded, then N frames of a brush stroke across the first pane
    /// (fed in as pointer events); print the medians and exit.
    #[arg(long, value_name = "N")]
    bench_frames: Option<usize>,
    /// Budget of the maps cache in MiB (default: the project's setting, else 1024).
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(16..=1_048_576))]
    map_cache_mb: Option<u64>,
    /// Once loaded, paint one brush stroke across the first pane (fed in as pointer events),
    /// print `edit: image=I mask_px=N digest=D`, and run on (for the recovery test).
    #[arg(long, hide = true)]
    paint_stroke: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Compute an explanation map for an image or a folder of images.
    Explain(ExplainArgs),
    /// Score a map against a mask or boxes (pointing game, IoU at top-k%).
    Metrics(MetricsArgs),
    /// Evaluate maps of one or more checkpoints over a dataset (paper layout).
    Eval(EvalArgs),
    /// Convert an image or DICOM file: .npy gets modality values, .png the windowed image.
    Convert(ConvertArgs),
    /// Write a synthetic labelled dataset (images/, masks/, labels.csv).
    Phantom(PhantomArgs),
    /// Train or fine-tune a ViT on a labelled dataset (images/ + labels.csv).
    Train(TrainArgs),
    /// Is the map faithful to the model? Perturbation and deletion/insertion tests of one map.
    Faithfulness(faith_cmd::FaithArgs),
    /// Sanity checks: similarity of two maps, the random-logit test, model randomisation.
    Sanity(faith_cmd::SanityArgs),
    /// Benchmark the model and metric engines.
    Bench(bench::BenchArgs),
    /// The final class-token and mean patch embeddings of an image.
    Embed(encoder_cmd::EmbedArgs),
    /// Write a project's annotations as DICOM SEG, NIfTI, PNG masks, COCO or CSV.
    Export(hospital_cmd::ExportArgs),
    /// Read masks (DICOM SEG, NIfTI, PNG, COCO) into a project's images and save it.
    Import(hospital_cmd::ImportArgs),
    /// A PACS over DICOMweb: search studies, fetch one into a project, store files.
    Pacs(hospital_cmd::PacsArgs),
    /// A project's images and their identities: check, relink a moved file, accept a new one.
    Project(hospital_cmd::ProjectArgs),
}

#[derive(Args)]
struct TrainArgs {
    /// Dataset folder: images/ and labels.csv (image,label,...), as `phantom` writes.
    #[arg(long)]
    data: PathBuf,
    /// `random`, or a checkpoint (timm, DINO, MAE, or one of ours) to start from.
    #[arg(long, default_value = "random")]
    init: String,
    /// Architecture of a random init: ti, s, b, or `custom` with --dim/--depth/--heads.
    #[arg(long, default_value = "custom")]
    model: String,
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
    #[arg(long, value_enum, default_value = "adam")]
    optimizer: vitscope::train::OptimizerKind,
    /// Peak learning rate (default 1e-3; 1e-2 with --probe).
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    weight_decay: f64,
    #[arg(long, value_enum, default_value = "cosine")]
    scheduler: vitscope::train::SchedulerKind,
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
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
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
    if a.init == "random" {
        bail!("--probe needs --init FILE: the encoder whose features the head is fitted on");
    }
    if a.resume {
        bail!("--probe runs in one go: --resume does not apply");
    }
    let device = device::resolve(a.device);
    let opts = LoadOptions {
        heads: None,
        config_file: a.config.clone(),
        classes: None,
    };
    let (vit, report) = load_vit(Path::new(&a.init), &opts, &device)?;
    eprintln!("{}", report.summary());
    let cfg = vitscope::probe::ProbeConfig {
        lr: a.lr.unwrap_or(1e-2),
        epochs: a.epochs.unwrap_or(100) as usize,
        batch: a.batch as usize,
        weight_decay: a.weight_decay,
        val_split: a.val_split,
        patience: a.patience,
        seed: a.seed,
        resize: a.resize.mode(),
    };
    vitscope::probe::probe(&a.data, vit, cfg, &a.out, |l| eprintln!("{l}"))?;
    Ok(())
}

fn run_train(a: TrainArgs) -> Result<()> {
    use vitscope::train::{TrainConfig, train};
    if a.probe {
        return run_probe(&a);
    }
    let classes = 2;
    let (dim, img, patch) = (a.dim as usize, a.img as usize, a.patch as usize);
    let mut model = match a.model.as_str() {
        "custom" => vitscope::model::VitConfig {
            img_size: img,
            patch_size: patch,
            in_chans: 3,
            num_classes: classes,
            embed_dim: dim,
            depth: a.depth as usize,
            num_heads: a.heads as usize,
            mlp_hidden: dim * 4,
            eps: 1e-6,
            arch: Default::default(),
        },
        name => vitscope::model::VitConfig::named(name, patch, classes)
            .with_context(|| format!("--model {name}: use ti, s, b, l or custom"))?,
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
        init: (a.init != "random").then(|| PathBuf::from(&a.init)),
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
    train(&a.data, cfg, &a.out, a.resume, &device, |l| {
        eprintln!("{l}")
    })?;
    Ok(())
}

#[derive(Args)]
struct ConvertArgs {
    /// Input image or DICOM file.
    input: PathBuf,
    /// Output: FILE.npy (float32 [rows, cols] or [rows, cols, 3]) or FILE.png (8-bit, windowed).
    #[arg(long)]
    out: PathBuf,
    /// Window centre,width (default: the file's, else min..max).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    window: Option<Vec<f64>>,
    /// Frame of a multi-frame DICOM (0-based).
    #[arg(long, default_value_t = 0)]
    frame: u32,
}

fn run_convert(args: ConvertArgs) -> Result<()> {
    use vitscope::io::dicom;
    let window = match args.window.as_deref() {
        None => None,
        Some([c, w]) => Some((*c, *w)),
        Some(other) => bail!("--window takes centre,width; got {} values", other.len()),
    };
    if let Some((c, w)) = window
        && !(c.is_finite() && w.is_finite() && w >= 1.0)
    {
        bail!("--window {c},{w}: the centre must be finite and the width at least 1");
    }
    let npy_out = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if dicom::is_dicom(&args.input) {
        let d = dicom::read_dicom(&args.input, args.frame)?;
        if npy_out {
            let shape: Vec<usize> = if d.samples == 1 {
                vec![d.rows, d.cols]
            } else {
                vec![d.rows, d.cols, d.samples]
            };
            npy::write_f32(&args.out, &shape, &d.modality)?;
        } else {
            vimage::write_rgb8(&args.out, &d.to_image(window).to_rgb8())?;
        }
        eprintln!(
            "{}: {}x{}, {} sample(s), frame {} of {}, window {:?}",
            args.input.display(),
            d.cols,
            d.rows,
            d.samples,
            args.frame,
            d.frames,
            d.effective_window(window)
        );
        return Ok(());
    }
    if args.frame != 0 {
        bail!(
            "{}: frame {} requested but the image has 1 frame",
            args.input.display(),
            args.frame
        );
    }
    let img = vimage::decode_raster(&args.input)?;
    if npy_out {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let color = img.color();
        let sixteen = color.bytes_per_pixel() / color.channel_count() == 2;
        let gray = !color.has_color();
        let values: Vec<f32> = match (gray, sixteen) {
            (true, true) => img.to_luma16().as_raw().iter().map(|&v| v as f32).collect(),
            (true, false) => img.to_luma8().as_raw().iter().map(|&v| v as f32).collect(),
            (false, true) => img.to_rgb16().as_raw().iter().map(|&v| v as f32).collect(),
            (false, false) => img.to_rgb8().as_raw().iter().map(|&v| v as f32).collect(),
        };
        let shape = if gray { vec![h, w] } else { vec![h, w, 3] };
        npy::write_f32(&args.out, &shape, &values)?;
    } else {
        vimage::write_rgb8(&args.out, &vimage::from_dynamic(img).to_rgb8())?;
    }
    Ok(())
}

#[derive(Args)]
struct PhantomArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Number of images (half positive, half negative).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    n: u32,
    /// Seed; the same seed writes the same files.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Kind of phantom.
    #[arg(long, value_enum, default_value_t = vitscope::dataset::phantom::PhantomKind::Polyp)]
    kind: vitscope::dataset::phantom::PhantomKind,
    /// Image side in pixels.
    #[arg(long, default_value_t = 224, value_parser = clap::value_parser!(u32).range(32..=8192))]
    size: u32,
    /// Scale of the polyp's colour and relief contrast (1 = the default range).
    #[arg(long, default_value_t = 1.0)]
    lesion_contrast: f32,
}

fn run_phantom(args: PhantomArgs) -> Result<()> {
    if !(args.lesion_contrast > 0.0 && args.lesion_contrast <= 5.0) {
        bail!("--lesion-contrast must be in (0, 5]");
    }
    vitscope::io::guard::check_dimensions(args.size as u64, args.size as u64)
        .map_err(|e| anyhow::anyhow!("--size {}: {e}", args.size))?;
    let bar = indicatif::ProgressBar::new(args.n as u64);
    vitscope::dataset::phantom::write_dataset(
        &args.out,
        args.kind,
        args.n as usize,
        args.seed,
        args.size as usize,
        args.lesion_contrast,
        &bar,
    )?;
    eprintln!("wrote {} images to {}", args.n, args.out.display());
    Ok(())
}

/// Model selection shared by subcommands.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Checkpoint (.safetensors or .pth; timm, DINO or MAE layout). Default: the bundled demo model.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// JSON config with `num_heads` / `num_classes` (e.g. the reference fixtures' config.json).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Attention heads (else from --config, else head_dim 64).
    #[arg(long)]
    heads: Option<usize>,
    /// Compute device: auto picks a hardware GPU when present, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// For a headless encoder: a float32 .npy [dim]; the model's one output (target 0) becomes
    /// direction · cls, the final class-token embedding.
    #[arg(long)]
    direction: Option<PathBuf>,
}

#[derive(Args)]
struct ExplainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image file, or a folder of images (then use --out-dir).
    #[arg(long)]
    image: PathBuf,
    /// Explanation method.
    #[arg(long, value_enum, default_value_t = Method::Chefer)]
    method: Method,
    /// Target class (default: the predicted class).
    #[arg(long)]
    target: Option<usize>,
    /// Block for `attention` (default: last).
    #[arg(long)]
    layer: Option<usize>,
    /// Head for `attention` (default: mean over heads).
    #[arg(long)]
    head: Option<usize>,
    /// Model input: native (the image's own size, a whole number of patches), H,W or S;
    /// default the model's own size. The position embedding is resampled as the checkpoint's
    /// family does.
    #[arg(long, value_parser = encoder_cmd::parse_input_size)]
    input_size: Option<encoder_cmd::InputSize>,
    #[command(flatten)]
    resize: ResizeArgs,
    /// Normalisation mean, three comma-separated values (default ImageNet).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    mean: Option<Vec<f32>>,
    /// Normalisation std, three comma-separated values (default ImageNet).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    std: Option<Vec<f32>>,
    /// Raw patch-grid map, float32 .npy [grid_h, grid_w].
    #[arg(long)]
    out_npy: Option<PathBuf>,
    /// Upsampled + min-max map at model input size, float32 .npy [H, W].
    #[arg(long)]
    out_map: Option<PathBuf>,
    /// Colour-mapped overlay on the original image (PNG).
    #[arg(long)]
    out_png: Option<PathBuf>,
    /// Output folder for a folder of images: <stem>.npy, <stem>_map.npy, <stem>.png.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Overlay colormap.
    #[arg(long, value_enum, default_value_t = colormap::Colormap::Turbo)]
    colormap: colormap::Colormap,
    /// Print {"logits","probs","target","method"} as JSON to stdout (one line per image).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct MetricsArgs {
    /// Map: .npy (2-D float) or an image (gray levels).
    #[arg(long)]
    map: PathBuf,
    /// Mask image (pixel > 0 inside, read as the paper reads masks).
    #[arg(long, conflicts_with = "boxes")]
    mask: Option<PathBuf>,
    /// Box x0,y0,x1,y1 (half-open pixels); repeat for several.
    #[arg(long = "box", value_parser = parse_box, id = "boxes")]
    boxes: Vec<Rect>,
    /// Top percentages.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "5,10,20,40",
        allow_negative_numbers = true
    )]
    top: Vec<f64>,
    /// Where to compute: auto = GPU on a hardware adapter, else CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    backend: DeviceChoice,
    /// Print records like the reference metrics.json.
    #[arg(long)]
    json: bool,
    /// Also score against the bounding box of the mask (the paper's rectangle of all
    /// components), to show how much a box inflates the scores; records get mask "<mask>#bbox".
    #[arg(long)]
    with_box: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// Dataset folder with images/ and masks/ (same file stems; mask pixel > 0 = inside), or a
    /// workbench project file (.ron): its annotated images, masks or else boxes.
    #[arg(long)]
    dataset: PathBuf,
    /// NAME=FILE; repeat to compare initialisations. Default: the bundled model as "demo".
    #[arg(long = "checkpoint", value_parser = parse_named)]
    checkpoints: Vec<(String, PathBuf)>,
    /// JSON config for the checkpoints (num_heads / heads).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Attention heads (else from --config, else head_dim 64).
    #[arg(long)]
    heads: Option<usize>,
    /// Methods to evaluate.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "attention,gradcam,chefer"
    )]
    methods: Vec<Method>,
    /// Top percentages.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "5,10,20,40",
        allow_negative_numbers = true
    )]
    top: Vec<f64>,
    /// Class to explain: a class index, or "pred" for the predicted class.
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    target: String,
    /// Output folder (reports and the map cache that makes reruns resume).
    #[arg(long, default_value = "eval-out")]
    out: PathBuf,
    /// Compute device for the model.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Metric backend.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    backend: DeviceChoice,
    #[command(flatten)]
    resize: ResizeArgs,
    /// Also run the faithfulness tests (perturbation, deletion, insertion) of every map:
    /// faithfulness.csv, mean AUCs with bootstrap intervals in the summaries, plots/*.svg.
    #[arg(long)]
    faithfulness: bool,
    /// Faithfulness tests to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "perturb-pos,perturb-neg,deletion,insertion"
    )]
    faithfulness_tests: Vec<vitscope::faithfulness::suite::Test>,
    /// Also run the sanity checks (random-logit test, deterministic cascade): sanity.csv and
    /// mean SSIMs with bootstrap intervals in the summaries.
    #[arg(long)]
    sanity: bool,
    /// Layer × head sweep: score the class-token attention of these blocks (all, or indices
    /// like 0,5,11), every head and their mean: layers.csv, layers_summary.csv, a per-block
    /// table and plots/layers_*.svg (score against depth per checkpoint).
    #[arg(long, value_parser = vitscope::dataset::layers::parse_layers)]
    layers: Option<vitscope::dataset::layers::LayerSelection>,
}

fn parse_named(s: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' must be NAME=FILE"))?;
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(format!("'{name}' is not a usable checkpoint name"));
    }
    Ok((name.to_string(), PathBuf::from(file)))
}

fn run_eval(args: EvalArgs) -> Result<()> {
    use vitscope::dataset::eval;
    let items = if args.dataset.extension().is_some_and(|e| e == "ron") {
        let (items, warnings) = eval::project_items(&args.dataset, &args.out)?;
        for w in warnings {
            eprintln!("warning: {w}");
        }
        items
    } else {
        eval::list_items(&args.dataset)?
    };
    let target = match args.target.as_str() {
        "pred" => None,
        t => Some(
            t.parse::<usize>()
                .with_context(|| format!("--target '{t}'"))?,
        ),
    };
    let checkpoints = if args.checkpoints.is_empty() {
        vec![("demo".to_string(), None)]
    } else {
        args.checkpoints
            .iter()
            .map(|(n, f)| (n.clone(), Some(f.clone())))
            .collect()
    };
    let mut models = Vec::new();
    let mut states = Vec::new();
    for (name, file) in checkpoints {
        let margs = ModelArgs {
            weights: file,
            config: args.config.clone(),
            heads: args.heads,
            device: args.device,
            direction: None,
        };
        if args.sanity {
            let (path, opts, _) = model_source(&margs);
            let (state, config, layout) = vitscope::model::checkpoint::load_state(&path, &opts)?;
            states.push(vitscope::dataset::faith_eval::ModelState {
                state,
                config,
                layout,
                path,
            });
        }
        models.push((name, load_model(&margs)?));
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let cfg = eval::EvalConfig {
        methods: args.methods.clone(),
        tops: args.top.clone(),
        target,
        out: args.out.clone(),
        backend: args.backend,
        resize: args.resize.mode(),
    };
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed}<{eta}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let rows = eval::evaluate(&models, &items, &cfg, &bar)?;
    let (mut faith_md, extra) = faith_and_sanity(&args, &models, states, &items, target)?;
    if let Some(layers) = &args.layers {
        use vitscope::dataset::layers;
        let bar = indicatif::ProgressBar::new(0);
        let rows = layers::sweep(&models, &items, layers.0.as_deref(), &cfg, &bar)?;
        bar.finish_and_clear();
        faith_md += &layers::write_reports(&rows, &cfg)?;
    }
    let mut md = eval::write_reports(&rows, &cfg, &extra)? + &faith_md;
    if !faith_md.is_empty() {
        let md_path = args.out.join("summary.md");
        vitscope::io::write_atomic(&md_path, md.as_bytes())
            .with_context(|| format!("{}: cannot write", md_path.display()))?;
    }
    // A classification dataset (labels.csv beside images/) also gets each checkpoint's accuracy.
    if args.dataset.join("labels.csv").is_file() {
        let labelled = vitscope::dataset::labels::read_labels(&args.dataset)?;
        let bar = indicatif::ProgressBar::new(0);
        let acc = eval::accuracy(&models, &labelled, args.resize.mode(), &bar)?;
        bar.finish_and_clear();
        md = eval::write_accuracy(&acc, &cfg)? + &md;
        let md_path = args.out.join("summary.md");
        vitscope::io::write_atomic(&md_path, md.as_bytes())
            .with_context(|| format!("{}: cannot write", md_path.display()))?;
    }
    println!("{md}");
    eprintln!(
        "wrote {}/per_image.csv, summary.csv, summary.md ({} scored maps of {} images)",
        args.out.display(),
        rows.len(),
        items.len()
    );
    Ok(())
}

/// `eval --faithfulness` / `--sanity` over the annotated images; their Markdown and the
/// summary columns.
fn faith_and_sanity(
    args: &EvalArgs,
    models: &[(String, Vit)],
    states: Vec<vitscope::dataset::faith_eval::ModelState>,
    items: &[vitscope::dataset::eval::Item],
    target: Option<usize>,
) -> Result<(String, vitscope::dataset::faith_eval::Columns)> {
    use vitscope::dataset::faith_eval;
    if !args.faithfulness && !args.sanity {
        return Ok((String::new(), Vec::new()));
    }
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed}<{eta}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let faith = if args.faithfulness {
        let mut tests = args.faithfulness_tests.clone();
        tests.dedup();
        faith_eval::faithfulness(
            models,
            items,
            &args.methods,
            target,
            args.resize.mode(),
            &tests,
            &bar,
        )?
    } else {
        Vec::new()
    };
    let sanity = if args.sanity {
        faith_eval::sanity(
            models,
            &states,
            items,
            &args.methods,
            target,
            args.resize.mode(),
            &bar,
        )?
    } else {
        Vec::new()
    };
    bar.finish_and_clear();
    Ok(faith_eval::write_reports(&faith, &sanity, &args.out)?)
}

fn parse_box(s: &str) -> Result<Rect, String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|t| t.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("box '{s}': {e}"))?;
    match v[..] {
        [x0, y0, x1, y1] if x1 > x0 && y1 > y0 => Ok(Rect { x0, y0, x1, y1 }),
        _ => Err(format!(
            "box '{s}' must be x0,y0,x1,y1 with x1 > x0 and y1 > y0"
        )),
    }
}

/// The bundled demo model and its config.
pub fn bundled_model() -> (PathBuf, PathBuf) {
    let dir = vitscope::app::demo_dir();
    (dir.join("model.safetensors"), dir.join("config.json"))
}

/// The checkpoint file `args` names (or the bundled one).
fn vit_name(args: &ModelArgs) -> PathBuf {
    args.weights.clone().unwrap_or_else(|| bundled_model().0)
}

/// The checkpoint, load options and device `args` name (the bundled model by default).
pub fn model_source(args: &ModelArgs) -> (PathBuf, LoadOptions, burn::tensor::Device) {
    let (weights, config) = match &args.weights {
        Some(w) => (w.clone(), args.config.clone()),
        None => {
            let (w, c) = bundled_model();
            (w, Some(args.config.clone().unwrap_or(c)))
        }
    };
    let opts = LoadOptions {
        heads: args.heads,
        config_file: config,
        classes: None,
    };
    (weights, opts, device::resolve(args.device))
}

/// Loads the model named by `args` (or the bundled one).
pub fn load_model(args: &ModelArgs) -> Result<Vit> {
    let (weights, opts, device) = model_source(args);
    let (mut vit, report) = load_vit(&weights, &opts, &device)?;
    eprintln!("{}", report.summary());
    encoder_cmd::apply_direction(&mut vit, args.direction.as_deref())?;
    Ok(vit)
}

fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let files = vitscope::io::image::list_supported(dir)
        .with_context(|| format!("{}: cannot list folder", dir.display()))?;
    if files.is_empty() {
        bail!(
            "{}: no images ({}) in this folder",
            dir.display(),
            vitscope::io::image::SUPPORTED_NAMES
        );
    }
    Ok(files)
}

struct Outputs {
    npy: Option<PathBuf>,
    map: Option<PathBuf>,
    png: Option<PathBuf>,
}

fn explain_one(
    vit: &Vit,
    path: &Path,
    args: &ExplainArgs,
    norm: &Normalization,
    out: &Outputs,
) -> Result<Explanation> {
    let img = vimage::read_image(path)?;
    let prepared =
        encoder_cmd::prepare_input(vit, &img, path, args.input_size, args.resize.mode(), norm)?;
    let device = vit.weights.head.weight.val().device();
    let input = prepared.tensor(&device);
    let opts = ExplainOptions {
        target: args.target,
        layer: args.layer,
        head: args.head,
    };
    let e = explain::explain(vit, input, args.method, &opts).map_err(|e| match e {
        explain::ExplainError::NonFinite(m) => anyhow::anyhow!(
            "{}: {} of {}: {m}",
            vit_name(&args.model).display(),
            args.method,
            path.display()
        ),
        e => anyhow::anyhow!("{}: {} failed: {e}", path.display(), args.method),
    })?;
    if let Some(p) = &out.npy {
        npy::write_f32(p, &[e.grid.height, e.grid.width], &e.grid.values)?;
    }
    if let Some(p) = &out.map {
        npy::write_f32(p, &[e.map.height, e.map.width], &e.map.values)?;
    }
    if let Some(p) = &out.png {
        let full = preprocess::map_to_original(&e.map.values, &prepared.geometry);
        let png = colormap::overlay(&img.to_rgb8(), &full, args.colormap, 0.5);
        vimage::write_rgb8(p, &png)?;
    }
    if args.json {
        let line = serde_json::json!({
            "image": path.display().to_string(),
            "logits": e.logits,
            "probs": explain::softmax(&e.logits),
            "target": e.target,
            "method": e.method,
        });
        println!("{line}");
    }
    Ok(e)
}

fn run_explain(args: ExplainArgs) -> Result<()> {
    for (name, v) in [("--mean", &args.mean), ("--std", &args.std)] {
        if let Some(v) = v
            && v.len() != 3
        {
            bail!("{name} takes three comma-separated values, got {}", v.len());
        }
    }
    let norm = Normalization {
        mean: args
            .mean
            .as_deref()
            .map(|m| [m[0], m[1], m[2]])
            .unwrap_or(Normalization::default().mean),
        std: args
            .std
            .as_deref()
            .map(|m| [m[0], m[1], m[2]])
            .unwrap_or(Normalization::default().std),
    };
    norm.check().map_err(anyhow::Error::msg)?;
    if args.image.is_dir() {
        let files = image_files(&args.image)?;
        let Some(dir) = args.out_dir.clone() else {
            bail!(
                "{} is a folder: give --out-dir for the outputs",
                args.image.display()
            );
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let vit = load_model(&args.model)?;
        let bar = indicatif::ProgressBar::new(files.len() as u64).with_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed}<{eta}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let mut failures = 0;
        for f in &files {
            let stem = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            bar.set_message(stem.clone());
            let out = Outputs {
                npy: Some(dir.join(format!("{stem}.npy"))),
                map: Some(dir.join(format!("{stem}_map.npy"))),
                png: Some(dir.join(format!("{stem}.png"))),
            };
            if let Err(e) = explain_one(&vit, f, &args, &norm, &out) {
                bar.suspend(|| eprintln!("error: {e:#}"));
                failures += 1;
            }
            bar.inc(1);
        }
        bar.finish();
        if failures > 0 {
            bail!("{failures} of {} images failed", files.len());
        }
        return Ok(());
    }
    let vit = load_model(&args.model)?;
    let out = Outputs {
        npy: args.out_npy.clone(),
        map: args.out_map.clone(),
        png: args.out_png.clone(),
    };
    let e = explain_one(&vit, &args.image, &args, &norm, &out)?;
    if !args.json {
        let probs = explain::softmax(&e.logits);
        eprintln!(
            "{}: predicted class {} (p = {:.4}); {} map for class {} on a {}x{} grid",
            args.image.display(),
            explain::argmax(&e.logits),
            probs[explain::argmax(&e.logits)],
            e.method,
            e.target,
            e.grid.height,
            e.grid.width
        );
    }
    Ok(())
}

fn read_map(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let is_npy = path
        .extension()
        .map(|e| e.eq_ignore_ascii_case("npy"))
        .unwrap_or(false);
    if is_npy {
        let a = npy::read_f32(path)?;
        vitscope::io::guard::check_finite(&a.data, "the map")
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        match a.shape[..] {
            [h, w] if h > 0 && w > 0 => Ok((a.data, w, h)),
            [1, h, w] if h > 0 && w > 0 => Ok((a.data, w, h)),
            _ => bail!(
                "{}: map must be 2-D, found shape {:?}",
                path.display(),
                a.shape
            ),
        }
    } else {
        let img = vimage::read_image(path)?;
        let gray = img.planes[0].clone();
        Ok((gray, img.width, img.height))
    }
}

fn run_metrics(args: MetricsArgs) -> Result<()> {
    let (map, w, h) = read_map(&args.map)?;
    let (mask, mask_name) = match (&args.mask, args.boxes.is_empty()) {
        (Some(p), _) => (vmask::read_mask(p)?, p.display().to_string()),
        (None, false) => {
            if let Some(r) = args.boxes.iter().find(|r| r.x1 > w || r.y1 > h) {
                bail!(
                    "box {},{},{},{} lies outside the {w}×{h} map {}",
                    r.x0,
                    r.y0,
                    r.x1,
                    r.y1,
                    args.map.display()
                );
            }
            let name = args
                .boxes
                .iter()
                .map(|r| format!("box:{},{},{},{}", r.x0, r.y0, r.x1, r.y1))
                .collect::<Vec<_>>()
                .join(";");
            (Mask::from_rects(w, h, &args.boxes), name)
        }
        (None, true) => bail!("give --mask FILE or at least one --box x0,y0,x1,y1"),
    };
    if mask.width != w || mask.height != h {
        bail!(
            "map {} is {}x{} but mask {} is {}x{} (width x height)",
            args.map.display(),
            w,
            h,
            mask_name,
            mask.width,
            mask.height
        );
    }
    if mask.count() == 0 {
        bail!("mask {mask_name} has no pixel inside: there is nothing to score against");
    }
    let mut annotations = vec![(mask_name.clone(), mask.clone())];
    if args.with_box {
        let rects: Vec<Rect> = mask.bbox().into_iter().collect();
        annotations.push((format!("{mask_name}#bbox"), Mask::from_rects(w, h, &rects)));
    }
    let map_name = args.map.display().to_string();
    let mut recs = Vec::new();
    for (name, ann) in &annotations {
        let set = metrics::gpu::compute(&map, w, h, ann, &args.top, args.backend)
            .with_context(|| format!("{}: metrics failed", args.map.display()))?;
        let loc = vitscope::faithfulness::localisation::score(&map, ann);
        if args.json {
            recs.extend(metrics::records(&set, &map_name, name));
            recs.extend(metrics::localisation_records(&loc, &map_name, name));
            continue;
        }
        println!(
            "map {map_name} ({w}x{h}) vs {name} ({} px)",
            set.mask_pixels
        );
        println!("pointing game: {}", set.pointing_game as u8);
        println!("energy in mask: {:.4}", set.energy);
        let f = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format!("{v:.4}"));
        println!(
            "relevance rank: {}  ROC-AUC: {}  top-{} intersection: {}",
            f(loc.relevance_rank),
            f(loc.roc_auc),
            vitscope::faithfulness::localisation::TOP_K,
            f(loc.top_k_intersection)
        );
        println!("top%   k        threshold    selected  iou_rect  iou_binary  dice");
        for t in &set.top {
            println!(
                "{:<6} {:<8} {:<12.6} {:<9} {:<9.4} {:<11.4} {:.4}",
                t.top_perc, t.k, t.threshold, t.selected, t.iou_rect, t.iou_binary, t.dice
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&recs)?);
    }
    Ok(())
}

/// Mesa's Vulkan device-select layer, loaded while wgpu looks for adapters, asks libwayland for a
/// display; without a usable `XDG_RUNTIME_DIR` libwayland prints `error: XDG_RUNTIME_DIR is
/// invalid or not set` on every run, although nothing failed. The layer only orders adapters
/// (wgpu chooses its own), so it is switched off (`NODEVICE_SELECT`) in that case.
fn quiet_vulkan_layers() {
    let runtime_dir_ok =
        std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
    if !runtime_dir_ok && std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: called first thing in `main`, before any other thread exists, so nothing reads
        // the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("NODEVICE_SELECT", "1");
        }
    }
}

fn main() {
    keep_freed_memory();
    quiet_vulkan_layers();
    let cli = Cli::parse();
    if let Some(n) = cli.max_pixels {
        vitscope::io::guard::set_max_pixels(n);
    }
    let g = &cli.gui;
    let gui_options = g.path.is_some()
        || g.project.is_some()
        || g.screenshot.is_some()
        || g.bench_frames.is_some()
        || g.map_cache_mb.is_some()
        || g.paint_stroke;
    if cli.command.is_some() && gui_options {
        eprintln!(
            "error: the workbench's path and options (--project, --screenshot, --map-cache-mb, ...) do not combine with a subcommand"
        );
        std::process::exit(2);
    }
    let result = match cli.command {
        None => vitscope::app::run(vitscope::app::GuiOptions {
            open: cli.gui.project.or(cli.gui.path),
            screenshot: cli.gui.screenshot,
            bench_frames: cli.gui.bench_frames,
            map_cache_mb: cli.gui.map_cache_mb,
            paint_stroke: cli.gui.paint_stroke,
        }),
        Some(Command::Explain(a)) => run_explain(a),
        Some(Command::Metrics(a)) => run_metrics(a),
        Some(Command::Eval(a)) => run_eval(a),
        Some(Command::Convert(a)) => run_convert(a),
        Some(Command::Phantom(a)) => run_phantom(a),
        Some(Command::Train(a)) => run_train(a),
        Some(Command::Faithfulness(a)) => faith_cmd::run_faithfulness(a),
        Some(Command::Sanity(a)) => faith_cmd::run_sanity(a),
        Some(Command::Bench(a)) => bench::run(a),
        Some(Command::Embed(a)) => encoder_cmd::run_embed(a),
        Some(Command::Export(a)) => hospital_cmd::run_export(a),
        Some(Command::Import(a)) => hospital_cmd::run_import(a),
        Some(Command::Pacs(a)) => hospital_cmd::run_pacs(a),
        Some(Command::Project(a)) => hospital_cmd::run_project(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
