//! `vitscope pacs`: search a PACS over DICOMweb, fetch a study into a project, store files.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::common::print_outcome;

/// `vitscope pacs`.
#[derive(Args)]
pub struct PacsArgs {
    /// DICOMweb root (e.g. http://127.0.0.1:8042/dicom-web); else VITSCOPE_PACS_URL.
    /// Credentials only from VITSCOPE_PACS_TOKEN or VITSCOPE_PACS_USER / VITSCOPE_PACS_PASSWORD.
    #[arg(long)]
    url: Option<String>,
    /// Seconds to wait for a connection, for an answer, and between two reads of a reply's
    /// body (idle: a long transfer goes on while bytes flow); else VITSCOPE_PACS_TIMEOUT, else 30.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86400))]
    timeout: Option<u64>,
    /// Largest instance a fetch takes, MB; else VITSCOPE_PACS_MAX_INSTANCE, else 2048.
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=(16 << 20)))]
    max_instance: Option<u64>,
    /// Largest study a fetch takes, MB; else VITSCOPE_PACS_MAX_STUDY, else 65536.
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=(16 << 20)))]
    max_study: Option<u64>,
    /// PEM file of CA certificates to trust (a hospital's private CA), beside the system's
    /// store and the built-in roots; else VITSCOPE_PACS_CA.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
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

pub fn run(a: PacsArgs) -> Result<()> {
    use vitscope::interop::dicomweb::{Auth, Client, Settings};
    let url = a
        .url
        .clone()
        .or_else(|| {
            std::env::var("VITSCOPE_PACS_URL")
                .ok()
                .filter(|u| !u.is_empty())
        })
        .ok_or_else(|| anyhow::anyhow!("give --url or set VITSCOPE_PACS_URL"))?;
    let mut settings = Settings::from_env();
    if let Some(t) = a.timeout {
        settings.timeout = std::time::Duration::from_secs(t);
    }
    if let Some(m) = a.max_instance {
        settings.max_instance = m << 20;
    }
    if let Some(m) = a.max_study {
        settings.max_study = m << 20;
    }
    if let Some(f) = &a.ca_file {
        settings.ca_file = Some(f.clone());
    }
    let client = Client::with_settings(&url, Auth::from_env(), &settings)?;
    if let Some(w) = client.clear_text_warning() {
        eprintln!("warning: {w}");
    }
    match a.action {
        PacsAction::Search {
            patient_id,
            modality,
            json,
        } => {
            let mut warnings = Vec::new();
            let studies =
                client.search(patient_id.as_deref(), modality.as_deref(), &mut warnings)?;
            for w in &warnings {
                eprintln!("warning: {w}");
            }
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
            let r = vitscope::interop::pacs::fetch_into_project(&client, &study, &project)?;
            print_outcome(&r.warnings, &r.notes, &r.lines);
            eprintln!(
                "added {} image(s) of study {study} to {} ({} already in it)",
                r.added,
                project.display(),
                r.known
            );
        }
        PacsAction::Store { files } => {
            let n = client.store(&files)?;
            eprintln!("stored {n} instance(s) at {}", client.url());
        }
    }
    Ok(())
}
