//! `vitscope phantom`: a synthetic labelled dataset.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use vitscope::dataset::phantom::{self, PhantomKind};

use super::common::{Bar, choice};

/// `vitscope phantom`.
#[derive(Args)]
pub struct PhantomArgs {
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
    #[arg(long, value_parser = choice::<PhantomKind>(), default_value = "polyp")]
    kind: PhantomKind,
    /// Image side in pixels.
    #[arg(long, default_value_t = 224, value_parser = clap::value_parser!(u32).range(32..=8192))]
    size: u32,
    /// Scale of the polyp's colour and relief contrast (1 = the default range).
    #[arg(long, default_value_t = 1.0)]
    lesion_contrast: f32,
}

/// Writes the dataset.
pub fn run(args: PhantomArgs) -> Result<()> {
    if !(args.lesion_contrast > 0.0 && args.lesion_contrast <= 5.0) {
        bail!("--lesion-contrast must be in (0, 5]");
    }
    vitscope::io::guard::check_dimensions(args.size as u64, args.size as u64)
        .map_err(|e| anyhow::anyhow!("--size {}: {e}", args.size))?;
    phantom::write_dataset(
        &args.out,
        args.kind,
        args.n as usize,
        args.seed,
        args.size as usize,
        args.lesion_contrast,
        &Bar::new(),
    )?;
    eprintln!("wrote {} images to {}", args.n, args.out.display());
    Ok(())
}
