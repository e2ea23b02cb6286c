//! `vitscope embed`: the final class-token and mean patch embeddings of an image.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Args;

use vitscope::io::image as vimage;
use vitscope::model::preprocess::{self, InputSize, Normalization};

use super::common::{ModelArgs, ResizeArgs, load_model};
use super::explain::size_error;

/// `vitscope embed`.
#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image file.
    #[arg(long)]
    image: PathBuf,
    /// Model input: native (the image's own size), H,W or S; default the model's size.
    #[arg(long)]
    input_size: Option<InputSize>,
    #[command(flatten)]
    resize: ResizeArgs,
    /// Print {"cls":[..],"patch_mean":[..]} to stdout.
    #[arg(long)]
    json: bool,
}

/// The final class-token embedding (null without a class token) and the mean patch embedding
/// (registers excluded) of one image.
pub fn run(a: EmbedArgs) -> Result<()> {
    let vit = load_model(&a.model)?;
    let img = vimage::read_image(&a.image)?;
    let prepared = preprocess::prepare_for(
        &vit.config,
        &img,
        a.input_size,
        a.resize.mode(),
        &Normalization::default(),
    )
    .map_err(|e| size_error(&a.image, e))?;
    let device = vit.device();
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
