//! `vitscope export`, `vitscope import` and `vitscope pacs`: a project's annotations out to and
//! in from DICOM SEG, NIfTI, PNG, COCO and CSV, and studies from a PACS over DICOMweb.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use vitscope::interop::{self, Format};

/// `vitscope export`.
#[derive(Args)]
pub struct ExportArgs {
    /// Project file (.ron); it is not changed.
    #[arg(long)]
    project: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    format: Format,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

/// `vitscope import`.
#[derive(Args)]
pub struct ImportArgs {
    /// Project file (.ron); saved when every input was read and matched.
    #[arg(long)]
    project: PathBuf,
    /// A file, or a folder of files.
    #[arg(long)]
    from: PathBuf,
    /// Format (default: from the file name; DICOM files are SEG).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run_export(a: ExportArgs) -> Result<()> {
    let files = interop::export_project(&a.project, a.format, &a.out)?;
    for f in &files {
        println!("{}", f.display());
    }
    eprintln!("wrote {} file(s) to {}", files.len(), a.out.display());
    Ok(())
}

pub fn run_import(a: ImportArgs) -> Result<()> {
    let summary = interop::import_into_project(&a.project, &a.from, a.format)?;
    eprintln!("{summary}");
    Ok(())
}

/// `vitscope pacs`.
#[derive(Args)]
pub struct PacsArgs {
    /// DICOMweb root (e.g. http://127.0.0.1:8042/dicom-web); else VITSCOPE_PACS_URL.
    /// Credentials only from VITSCOPE_PACS_TOKEN or VITSCOPE_PACS_USER / VITSCOPE_PACS_PASSWORD.
    #[arg(long)]
    url: Option<String>,
    /// Seconds before a request gives up.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    #[command(subcommand)]
    action: PacsAction,
}

#[derive(clap::Subcommand)]
enum PacsAction {
    /// Find studies (QIDO-RS), each with its series.
    Search {
        /// Patient ID (wildcards * allowed).
        #[arg(long)]
        patient_id: Option<String>,
        /// Modality in the study (CT, MR, CR, SEG, ...).
        #[arg(long)]
        modality: Option<String>,
        /// Print a JSON list of {study, series: [UIDs], ...}.
        #[arg(long)]
        json: bool,
    },
    /// Retrieve a study's instances (WADO-RS) into the project's cache folder and add them as
    /// images of the project.
    Fetch {
        /// Study Instance UID.
        #[arg(long)]
        study: String,
        /// Project file (.ron), which may list no images yet.
        #[arg(long)]
        project: PathBuf,
    },
    /// Store DICOM files (STOW-RS), e.g. exported SEG objects.
    Store {
        /// Files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run_pacs(a: PacsArgs) -> Result<()> {
    use vitscope::interop::dicomweb::{Auth, Client};
    let url = a
        .url
        .clone()
        .or_else(|| {
            std::env::var("VITSCOPE_PACS_URL")
                .ok()
                .filter(|u| !u.is_empty())
        })
        .ok_or_else(|| anyhow::anyhow!("give --url or set VITSCOPE_PACS_URL"))?;
    let client = Client::new(
        &url,
        Auth::from_env(),
        std::time::Duration::from_secs(a.timeout),
    )?;
    match a.action {
        PacsAction::Search {
            patient_id,
            modality,
            json,
        } => {
            let studies = client.search(patient_id.as_deref(), modality.as_deref())?;
            if json {
                println!("{}", serde_json::to_string(&studies)?);
            } else {
                for s in &studies {
                    println!(
                        "{}  {}  {}  {}  ({} series)",
                        s.study,
                        s.patient_id,
                        s.date,
                        s.description,
                        s.series.len()
                    );
                }
                eprintln!("{} stud(ies) at {}", studies.len(), client.url());
            }
        }
        PacsAction::Fetch { study, project } => {
            let n = vitscope::interop::fetch_into_project(&client, &study, &project)?;
            eprintln!(
                "added {n} image(s) of study {study} to {}",
                project.display()
            );
        }
        PacsAction::Store { files } => {
            let n = client.store(&files)?;
            eprintln!("stored {n} instance(s) at {}", client.url());
        }
    }
    Ok(())
}
