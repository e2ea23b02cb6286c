//! `vitscope export`: a project's annotations as DICOM SEG, NIfTI, PNG masks, COCO or CSV.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use vitscope::interop::{self, Format};

use super::common::choice;

/// `vitscope export`.
#[derive(Args)]
pub struct ExportArgs {
    /// Project file (.ron); it is not changed.
    #[arg(long)]
    project: PathBuf,
    /// Output format.
    #[arg(long, value_parser = choice::<Format>())]
    format: Format,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// De-identify: images named case-0001…, DICOM objects by the PS3.15 Basic Application
    /// Level Confidentiality Profile (a SEG goes out with its de-identified source image), no
    /// original path, file name, UID or identifier in the export folder.
    #[arg(long)]
    deidentify: bool,
    /// With --deidentify: write the link between pseudonyms and originals (CSV) to FILE, which
    /// must lie outside the export folder.
    #[arg(long, value_name = "FILE", requires = "deidentify")]
    linkage: Option<PathBuf>,
}

pub fn run(a: ExportArgs) -> Result<()> {
    let opts = interop::ExportOptions {
        deidentify: a.deidentify,
        linkage: a.linkage.clone(),
    };
    let done = interop::export_project(&a.project, a.format, &a.out, &opts)?;
    for s in &done.skipped {
        eprintln!("warning: {s}");
    }
    for f in &done.files {
        println!("{}", f.display());
    }
    eprintln!("wrote {} file(s) to {}", done.files.len(), a.out.display());
    if let Some(l) = &a.linkage {
        eprintln!(
            "wrote the pseudonym linkage to {}: keep it inside the hospital",
            l.display()
        );
    }
    Ok(())
}
