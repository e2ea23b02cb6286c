//! `vitscope explain`: explanation maps of an image or a folder of images.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use vitscope::explain::run::{RunError, Setup, explain_image};
use vitscope::explain::{self, ExplainOptions, Explanation};
use vitscope::io::colormap::{self, Colormap};
use vitscope::io::{image as vimage, npy};
use vitscope::model::Vit;
use vitscope::model::preprocess::{InputSize, InputSizeError, Normalization};

use vitscope::progress::Progress;

use super::common::{Bar, MapArgs, ModelArgs, ResizeArgs, choice, load_model, vit_name};

/// `vitscope explain`.
#[derive(Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image file, or a folder of images (then use --out-dir).
    #[arg(long)]
    image: PathBuf,
    #[command(flatten)]
    map: MapArgs,
    /// Block for `attention` (default: last).
    #[arg(long)]
    layer: Option<usize>,
    /// Head for `attention` (default: mean over heads).
    #[arg(long)]
    head: Option<usize>,
    /// Model input: native (the image's own size, a whole number of patches), H,W or S;
    /// default the model's own size. The position embedding is resampled as the checkpoint's
    /// family does.
    #[arg(long)]
    input_size: Option<InputSize>,
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
    #[arg(long, value_parser = choice::<Colormap>(), default_value = "turbo")]
    colormap: Colormap,
    /// Print {"logits","probs","target","method"} as JSON to stdout (one line per image).
    #[arg(long)]
    json: bool,
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

/// The error of an input size the model cannot take, in the options' words.
pub fn size_error(path: &Path, e: InputSizeError) -> anyhow::Error {
    match e {
        InputSizeError::Native(_) => anyhow::anyhow!(
            "{}: --input-size native: {e}; give --input-size H,W to resize it",
            path.display()
        ),
        InputSizeError::Fixed { h, w, .. } => anyhow::anyhow!("--input-size {h},{w}: {e}"),
    }
}

fn explain_one(
    vit: &Vit,
    path: &Path,
    args: &ExplainArgs,
    norm: &Normalization,
    out: &Outputs,
) -> Result<Explanation> {
    let img = vimage::read_image(path)?;
    let setup = Setup {
        size: args.input_size,
        resize: args.resize.mode(),
        norm: *norm,
    };
    let opts = ExplainOptions {
        target: args.map.target.class(),
        layer: args.layer,
        head: args.head,
    };
    let done = explain_image(vit, &img, &setup, args.map.method, &opts).map_err(|e| match e {
        RunError::Size(e) => size_error(path, e),
        RunError::Explain(explain::ExplainError::NonFinite(m)) => anyhow::anyhow!(
            "{}: {} of {}: {m}",
            vit_name(&args.model).display(),
            args.map.method,
            path.display()
        ),
        RunError::Explain(e) => {
            anyhow::anyhow!("{}: {} failed: {e}", path.display(), args.map.method)
        }
    })?;
    let e = done.explanation;
    if let Some(p) = &out.npy {
        npy::write_f32(p, &[e.grid.height, e.grid.width], &e.grid.values)?;
    }
    if let Some(p) = &out.map {
        npy::write_f32(p, &[e.map.height, e.map.width], &e.map.values)?;
    }
    if let Some(p) = &out.png {
        let png = colormap::overlay(&img.to_rgb8(), &done.original, args.colormap, 0.5);
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

/// Explains one image or every image of a folder.
pub fn run(args: ExplainArgs) -> Result<()> {
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
        let bar = Bar::new();
        bar.set_len(files.len() as u64);
        let mut failures = 0;
        for f in &files {
            let stem = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            bar.set_message(&stem);
            let out = Outputs {
                npy: Some(dir.join(format!("{stem}.npy"))),
                map: Some(dir.join(format!("{stem}_map.npy"))),
                png: Some(dir.join(format!("{stem}.png"))),
            };
            if let Err(e) = explain_one(&vit, f, &args, &norm, &out) {
                bar.println(&format!("error: {}", vitscope::error::one_line(e.as_ref())));
                failures += 1;
            }
            bar.inc(1);
        }
        bar.0.finish();
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
