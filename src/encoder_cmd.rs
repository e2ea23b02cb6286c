//! Options and the command for foundation encoders: the input size (`--input-size`), the
//! direction that turns a headless encoder into a one-output model (`--direction`), and
//! `vitscope embed`.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use clap::Args;

use vitscope::io::{image as vimage, npy};
use vitscope::model::Vit;
use vitscope::model::preprocess::{self, Normalization, Prepared, ResizeArgs};

use crate::{ModelArgs, load_model};

/// The size the model sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSize {
    /// The image's own size (a whole number of patches each way).
    Native,
    /// `(height, width)`, reached by `--resize`.
    Fixed(usize, usize),
}

/// `native`, `H,W` or `S` (square).
pub fn parse_input_size(s: &str) -> Result<InputSize, String> {
    if s.eq_ignore_ascii_case("native") {
        return Ok(InputSize::Native);
    }
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let num = |p: &str| {
        p.parse::<usize>()
            .ok()
            .filter(|&v| (1..=8192).contains(&v))
            .ok_or_else(|| format!("'{p}' is not a side length from 1 to 8192 px"))
    };
    match parts[..] {
        [s] => num(s).map(|v| InputSize::Fixed(v, v)),
        [h, w] => Ok(InputSize::Fixed(num(h)?, num(w)?)),
        _ => Err(format!("'{s}': expected native, H,W or S")),
    }
}

/// Preprocesses `img` (read from `path`) for `vit` at `size` (default: the model's own square
/// input, reached by `mode`). An input the model cannot take (not a whole number of patches,
/// too large) is an error naming the image.
pub fn prepare_input(
    vit: &Vit,
    img: &vimage::Image,
    path: &Path,
    size: Option<InputSize>,
    mode: preprocess::ResizeMode,
    norm: &Normalization,
) -> Result<Prepared> {
    let s = vit.config.img_size;
    let (h, w) = match size {
        None => (s, s),
        Some(InputSize::Native) => (img.height, img.width),
        Some(InputSize::Fixed(h, w)) => (h, w),
    };
    vit.config.grid_for(h, w).map_err(|e| match size {
        Some(InputSize::Native) => anyhow!(
            "{}: --input-size native: the image is {e}; give --input-size H,W to resize it",
            path.display()
        ),
        _ => anyhow!("--input-size {h},{w}: {e}"),
    })?;
    Ok(preprocess::prepare_hw(img, (h, w), mode, norm))
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

/// `vitscope embed`.
#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image file.
    #[arg(long)]
    image: PathBuf,
    /// Model input: native (the image's own size), H,W or S; default the model's size.
    #[arg(long, value_parser = parse_input_size)]
    input_size: Option<InputSize>,
    #[command(flatten)]
    resize: ResizeArgs,
    /// Print {"cls":[..],"patch_mean":[..]} to stdout.
    #[arg(long)]
    json: bool,
}

/// The final class-token embedding (null without a class token) and the mean patch embedding
/// (registers excluded) of one image.
pub fn run_embed(a: EmbedArgs) -> Result<()> {
    let vit = load_model(&a.model)?;
    let img = vimage::read_image(&a.image)?;
    let prepared = prepare_input(
        &vit,
        &img,
        &a.image,
        a.input_size,
        a.resize.mode(),
        &Normalization::default(),
    )?;
    let device = vit.weights.head.weight.val().device();
    let (cls, mean) = vit.embeddings(prepared.tensor(&device));
    let read = |t: burn::tensor::Tensor<1>, what: &str| -> Result<Vec<f32>> {
        let v = vitscope::explain::to_vec(t).map_err(|e| anyhow!("{e}"))?;
        vitscope::io::guard::check_finite(&v, what)
            .map_err(|e| anyhow!("{}: {e}", a.image.display()))?;
        Ok(v)
    };
    let cls = cls.map(|t| read(t, "the class embedding")).transpose()?;
    let mean = read(mean, "the mean patch embedding")?;
    if a.json {
        // A model without a class token has no class embedding: `"cls": null`.
        println!("{}", serde_json::json!({ "cls": cls, "patch_mean": mean }));
    } else {
        let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let cls_norm = cls
            .as_deref()
            .map_or("none (no class token)".to_string(), |c| {
                format!("{:.4}", norm(c))
            });
        eprintln!(
            "{}: {}-d embeddings; |cls| = {cls_norm}, |patch_mean| = {:.4} (use --json for the values)",
            a.image.display(),
            mean.len(),
            norm(&mean)
        );
    }
    Ok(())
}
