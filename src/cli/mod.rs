//! The command line: its options, and one module per command that parses its arguments, calls
//! the core and prints. Nothing here computes what the library can.

mod bench;
mod bench_common;
mod bench_model;
mod bench_products;
mod bench_shard;
mod common;
mod convert;
mod embed;
mod eval;
mod explain;
mod export;
mod faithfulness;
mod gui;
mod import;
mod mask;
mod metrics;
mod pacs;
mod phantom;
mod project;
mod sanity;
mod study;
mod train;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};

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
    gui: gui::GuiArgs,
    /// Largest image (width × height) any reader decodes; decoded buffers may take 32 bytes per
    /// pixel of it (the default, 8192 × 8192, is a 2 GiB budget).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=(1u64 << 34)))]
    max_pixels: Option<u64>,
}

#[derive(Subcommand)]
enum Command {
    /// Compute an explanation map for an image or a folder of images.
    Explain(explain::ExplainArgs),
    /// Score a map against a mask or boxes (pointing game, IoU at top-k%).
    Metrics(metrics::MetricsArgs),
    /// Evaluate maps of one or more checkpoints over a dataset (paper layout).
    Eval(eval::EvalArgs),
    /// Convert an image or DICOM file: .npy gets modality values, .png the windowed image.
    Convert(convert::ConvertArgs),
    /// Write a synthetic labelled dataset (images/, masks/, labels.csv).
    Phantom(phantom::PhantomArgs),
    /// Train or fine-tune a ViT on a labelled dataset (images/ + labels.csv).
    Train(train::TrainArgs),
    /// Is the map faithful to the model? Perturbation and deletion/insertion tests of one map.
    Faithfulness(faithfulness::FaithArgs),
    /// Sanity checks: similarity of two maps, the random-logit test, model randomisation.
    Sanity(sanity::SanityArgs),
    /// Benchmark the model and metric engines.
    Bench(bench::BenchArgs),
    /// The final class-token and mean patch embeddings of an image.
    Embed(embed::EmbedArgs),
    /// Write a project's annotations as DICOM SEG, NIfTI, PNG masks, COCO or CSV.
    Export(export::ExportArgs),
    /// Read masks (DICOM SEG, NIfTI, PNG, COCO) into a project's images and save it.
    Import(import::ImportArgs),
    /// A PACS over DICOMweb: search studies, fetch one into a project, store files.
    Pacs(pacs::PacsArgs),
    /// A project's images and their identities: check, relink a moved file, accept a new one.
    Project(project::ProjectArgs),
    /// Reader studies: design, export and analyse the ratings readers gave the maps.
    Study(study::StudyArgs),
    /// A segment-editor effect on a class-id mask (threshold, paint, islands, margin, smooth,
    /// fill-holes, grow, scissors, from-map).
    Mask(mask::MaskArgs),
}

/// Parses the command line and runs what it names.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    if let Some(n) = cli.max_pixels {
        vitscope::io::guard::set_max_pixels(n);
    }
    let Some(command) = cli.command else {
        return gui::run(cli.gui);
    };
    if cli.gui.any() {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "the workbench's path and options (--project, --screenshot, --map-cache-mb, ...) do not combine with a subcommand",
            )
            .exit();
    }
    match command {
        Command::Explain(a) => explain::run(a),
        Command::Metrics(a) => metrics::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Phantom(a) => phantom::run(a),
        Command::Train(a) => train::run(a),
        Command::Faithfulness(a) => faithfulness::run(a),
        Command::Sanity(a) => sanity::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Export(a) => export::run(a),
        Command::Import(a) => import::run(a),
        Command::Pacs(a) => pacs::run(a),
        Command::Project(a) => project::run(a),
        Command::Study(a) => study::run(a),
        Command::Mask(a) => mask::run(a),
    }
}
