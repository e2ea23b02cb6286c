//! `vitscope study`: reader studies.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use vitscope::study::{analyze, design, responses, session, summary};

/// `vitscope study`.
#[derive(Args)]
pub struct StudyArgs {
    #[command(subcommand)]
    action: StudyAction,
}

#[derive(Subcommand)]
enum StudyAction {
    /// Design a study over a project's images: cases, conditions, questions, and for every
    /// reader a balanced presentation plan drawn from the seed.
    New(NewArgs),
    /// Write the response file of every reader's session.
    Export(ExportArgs),
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

/// `vitscope study new`.
#[derive(Args)]
struct NewArgs {
    /// The project whose images are the cases.
    #[arg(long)]
    project: PathBuf,
    /// Conditions: map methods (attention, rollout, cam-attn, gradcam, gradcam-paper, chefer,
    /// generic) and controls: none (the image alone), random (a random map).
    #[arg(long, value_delimiter = ',', required = true)]
    conditions: Vec<String>,
    /// Questions: likert, pairwise, localise, confidence.
    #[arg(long, value_delimiter = ',', required = true)]
    questions: Vec<String>,
    /// Reader ids.
    #[arg(long, value_delimiter = ',', required = true)]
    readers: Vec<String>,
    /// Number of cases, drawn by the seed (default: every image).
    #[arg(long, conflicts_with = "cases_file")]
    cases: Option<usize>,
    /// A file of case ids (image export names), one per line.
    #[arg(long)]
    cases_file: Option<PathBuf>,
    /// The project's checkpoint whose maps are shown (default: the bundled model).
    #[arg(long)]
    checkpoint: Option<String>,
    /// Seed of the plans.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Cases that get one more Likert question whose map is the ground truth.
    #[arg(long, default_value_t = 0)]
    attention_checks: usize,
    /// Cases whose Likert questions are asked again at the end (intra-reader agreement).
    #[arg(long, default_value_t = 0)]
    repeats: usize,
    /// The study file to write (.ron).
    #[arg(long)]
    out: PathBuf,
}

/// `vitscope study export`.
#[derive(Args)]
struct ExportArgs {
    /// The study file.
    #[arg(long)]
    study: PathBuf,
    /// The response file to write.
    #[arg(long)]
    out: PathBuf,
    /// Also write each case's ground truth from the project as <case>.png here (for
    /// `study analyze --masks`).
    #[arg(long)]
    masks: Option<PathBuf>,
}

pub fn run(a: StudyArgs) -> Result<()> {
    match a.action {
        StudyAction::New(a) => new_cmd(a),
        StudyAction::Export(a) => export_cmd(a),
        StudyAction::Analyze(a) => analyze_cmd(a),
    }
}

fn new_cmd(a: NewArgs) -> Result<()> {
    let questions = a
        .questions
        .iter()
        .map(|q| {
            responses::Question::ALL
                .into_iter()
                .find(|k| k.name() == q)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--questions: '{q}' is not likert, pairwise, localise or confidence"
                    )
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let case_ids = match &a.cases_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
        ),
        None => None,
    };
    let d = design::Design {
        conditions: a.conditions.clone(),
        questions,
        readers: a.readers.clone(),
        cases: a.cases,
        case_ids,
        checkpoint: a.checkpoint.clone(),
        seed: a.seed,
        attention_checks: a.attention_checks,
        repeats: a.repeats,
    };
    // The project as the study file will find it: relative to the study file's folder.
    let out_dir = std::path::absolute(&a.out)?
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let project_abs = std::path::absolute(&a.project)?;
    let project_ref = pathdiff(&project_abs, &out_dir).unwrap_or(project_abs);
    let study = design::new_study(&a.project, project_ref, &d)?;
    vitscope::io::write_atomic(&a.out, study.to_ron().as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    let per: Vec<String> = study
        .readers
        .iter()
        .map(|p| format!("{} {}", p.reader, p.items.len()))
        .collect();
    eprintln!(
        "wrote {}: {} case(s), {} condition(s), questions per reader: {}",
        a.out.display(),
        study.cases.len(),
        study.conditions.len(),
        per.join(", ")
    );
    Ok(())
}

/// `path` relative to `base` when it lies below it.
fn pathdiff(path: &std::path::Path, base: &std::path::Path) -> Option<PathBuf> {
    path.strip_prefix(base).ok().map(PathBuf::from)
}

fn export_cmd(a: ExportArgs) -> Result<()> {
    let study = design::Study::load(&a.study)?;
    let (text, repeats) = session::export(&study, &a.study)?;
    vitscope::io::write_atomic(&a.out, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    eprintln!(
        "wrote {} ({} answer row(s))",
        a.out.display(),
        text.lines().count().saturating_sub(1)
    );
    if !repeats.is_empty() {
        // Beside the responses: OUT_repeats.csv.
        let stem = a
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let p = a.out.with_file_name(format!("{stem}_repeats.csv"));
        vitscope::io::write_atomic(&p, repeats.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        eprintln!(
            "wrote {}: first and repeated answers (reader ID and ID.repeat) for intra-reader agreement",
            p.display()
        );
    }
    if let Some(dir) = &a.masks {
        let files = session::export_masks(&study, &a.study, dir)?;
        eprintln!("wrote {} mask(s) to {}", files.len(), dir.display());
    }
    Ok(())
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
