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
}

pub fn run(a: ExportArgs) -> Result<()> {
    let done = interop::export_project(&a.project, a.format, &a.out)?;
    for s in &done.skipped {
        eprintln!("warning: {s}");
    }
    for f in &done.files {
        println!("{}", f.display());
    }
    eprintln!("wrote {} file(s) to {}", done.files.len(), a.out.display());
    Ok(())
}
