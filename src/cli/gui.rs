//! With no subcommand: the workbench GUI and its options.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct GuiArgs {
    /// A project file (.ron), an image (PNG, JPEG, TIFF, DICOM) or a folder of images.
    pub path: Option<PathBuf>,
    /// A project file to open.
    #[arg(long, conflicts_with = "path")]
    pub project: Option<PathBuf>,
    /// Render the first fully loaded frame to this PNG and exit.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Time N idle frames once loaded, then N frames of a brush stroke across the first pane
    /// (fed in as pointer events); print the medians and exit.
    #[arg(long, value_name = "N")]
    pub bench_frames: Option<usize>,
    /// Budget of the maps cache in MiB (default: the project's setting, else 1024).
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(16..=1_048_576))]
    pub map_cache_mb: Option<u64>,
    /// Once loaded, paint one brush stroke across the first pane (fed in as pointer events),
    /// print `edit: image=I mask_px=N digest=D`, and run on (for the recovery test).
    #[arg(long, hide = true)]
    pub paint_stroke: bool,
    /// Reader mode: read the study file given as the path as this reader.
    #[arg(long, value_name = "ID")]
    pub reader: Option<String>,
    /// Reader mode: an answer is final once given.
    #[arg(long, requires = "reader")]
    pub lock: bool,
}

impl GuiArgs {
    /// Whether any workbench option was given (they do not combine with a subcommand).
    pub fn any(&self) -> bool {
        self.path.is_some()
            || self.project.is_some()
            || self.screenshot.is_some()
            || self.bench_frames.is_some()
            || self.map_cache_mb.is_some()
            || self.paint_stroke
            || self.reader.is_some()
    }
}

/// Opens the workbench.
pub fn run(g: GuiArgs) -> Result<()> {
    vitscope::app::run(vitscope::app::GuiOptions {
        open: g.project.or(g.path),
        screenshot: g.screenshot,
        bench_frames: g.bench_frames,
        map_cache_mb: g.map_cache_mb,
        paint_stroke: g.paint_stroke,
        reader: g.reader.map(|r| (r, g.lock)),
    })
}
