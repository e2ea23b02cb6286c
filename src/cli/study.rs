//! `vitscope study`: reader studies.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use vitscope::study::{analyze, responses, summary};

/// `vitscope study`.
#[derive(Args)]
pub struct StudyArgs {
    #[command(subcommand)]
    action: StudyAction,
}

#[derive(Subcommand)]
enum StudyAction {
    /// Analyse a study's responses: ratings per condition, pairwise preference, agreement
    /// between readers, agreement with the metrics, localisation, and a table for MRMC tools.
    Analyze(AnalyzeArgs),
}

/// Which annotation's metric rows to use.
#[derive(Clone, Copy, clap::ValueEnum)]
enum AnnotationKind {
    Mask,
    Box,
}

/// `vitscope study analyze`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("output").required(true).multiple(true).args(["json", "out"])))]
struct AnalyzeArgs {
    /// The response file (reader,case,condition,question,response,rt_ms,position,session).
    #[arg(long)]
    responses: PathBuf,
    /// An `eval` per_image.csv: the metrics of the maps shown.
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Ground-truth masks, <case>.png (non-zero = finding).
    #[arg(long)]
    masks: Option<PathBuf>,
    /// The checkpoint of per_image.csv (default: its only one).
    #[arg(long)]
    checkpoint: Option<String>,
    /// The annotation rows of per_image.csv.
    #[arg(long, value_enum, default_value = "mask")]
    annotation: AnnotationKind,
    /// Metric columns to correlate with the ratings.
    #[arg(long, value_delimiter = ',', default_values_t = analyze::DEFAULT_COLUMNS.map(String::from))]
    metric_columns: Vec<String>,
    /// Print the analysis as one JSON object.
    #[arg(long)]
    json: bool,
    /// Write analysis.json, summary.md (with SVG plots) and, with --masks, mrmc.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(a: StudyArgs) -> Result<()> {
    match a.action {
        StudyAction::Analyze(a) => analyze_cmd(a),
    }
}

fn analyze_cmd(a: AnalyzeArgs) -> Result<()> {
    let rows = responses::read(&a.responses)?;
    let inputs = analyze::Inputs {
        metrics: a.metrics.clone(),
        checkpoint: a.checkpoint.clone(),
        annotation: match a.annotation {
            AnnotationKind::Mask => "mask",
            AnnotationKind::Box => "box",
        }
        .into(),
        columns: a.metric_columns.clone(),
        masks: a.masks.clone(),
    };
    let (result, mrmc) = analyze::analyze(&rows, &inputs, a.out.is_some())?;
    if let Some(dir) = &a.out {
        let files = summary::write(dir, &result, mrmc.as_deref())?;
        for f in &files {
            eprintln!("wrote {}", f.display());
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(())
}
