//! `vitscope import`: masks from DICOM SEG, NIfTI, PNG or COCO into a project's images.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use vitscope::interop::{self, Format};

use super::common::{choice, print_outcome};

/// `vitscope import`.
#[derive(Args)]
pub struct ImportArgs {
    /// Project file (.ron); saved, all or nothing, when every input was read and matched.
    #[arg(long)]
    project: PathBuf,
    /// A file, or a folder of files.
    #[arg(long)]
    from: PathBuf,
    /// Format (default: from the file name; DICOM files are SEG).
    #[arg(long, value_parser = choice::<Format>())]
    format: Option<Format>,
    /// Replace each matched image's whole mask (default: add each class's pixels to it).
    #[arg(long)]
    replace: bool,
    /// Create `class K` entries for class ids above the project's class list (default: refuse).
    #[arg(long)]
    add_classes: bool,
    /// Print what would be matched and merged; change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(a: ImportArgs) -> Result<()> {
    let opts = interop::incoming::ImportOptions {
        merge: vitscope::project::import::Options {
            replace: a.replace,
            add_classes: a.add_classes,
        },
        dry_run: a.dry_run,
    };
    let r = interop::incoming::import_into_project(&a.project, &a.from, a.format, opts)?;
    print_outcome(&r.warnings, &r.notes, &r.lines);
    if a.dry_run {
        eprintln!(
            "dry run: {} image(s) would change in {}; nothing was written",
            r.images,
            a.project.display()
        );
    } else {
        eprintln!(
            "imported into {} image(s) of {}",
            r.images,
            a.project.display()
        );
    }
    Ok(())
}
