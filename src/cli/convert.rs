//! `vitscope convert`: an image or DICOM file to .npy (modality values) or .png (windowed).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use vitscope::io::{dicom, image as vimage, npy};

/// `vitscope convert`.
#[derive(Args)]
pub struct ConvertArgs {
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

/// Converts one file.
pub fn run(args: ConvertArgs) -> Result<()> {
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
        let (shape, values) = vimage::stored_values(&img);
        npy::write_f32(&args.out, &shape, &values)?;
    } else {
        vimage::write_rgb8(&args.out, &vimage::from_dynamic(img).to_rgb8())?;
    }
    Ok(())
}
