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
    /// Project file (.ron); saved, all or nothing, when every input was read and matched.
    #[arg(long)]
    project: PathBuf,
    /// A file, or a folder of files.
    #[arg(long)]
    from: PathBuf,
    /// Format (default: from the file name; DICOM files are SEG).
    #[arg(long, value_enum)]
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

pub fn run_export(a: ExportArgs) -> Result<()> {
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

/// What a writer says: warnings and notes on stderr, what it matched on stdout.
fn print_outcome(warnings: &[String], notes: &[String], lines: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
    for n in notes {
        eprintln!("note: {n}");
    }
    for l in lines {
        println!("{l}");
    }
}

pub fn run_import(a: ImportArgs) -> Result<()> {
    let opts = interop::ImportOptions {
        merge: vitscope::project::import::Options {
            replace: a.replace,
            add_classes: a.add_classes,
        },
        dry_run: a.dry_run,
    };
    let r = interop::import_into_project(&a.project, &a.from, a.format, opts)?;
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

/// `vitscope project`.
#[derive(Args)]
pub struct ProjectArgs {
    #[command(subcommand)]
    action: ProjectAction,
}

#[derive(clap::Subcommand)]
enum ProjectAction {
    /// Check every image against its identity; exit 1 when one changed on disk or is missing.
    Check {
        /// Project file (.ron).
        project: PathBuf,
    },
    /// Point an image entry at another file that has its identity (a moved or renamed file).
    Relink {
        /// Project file (.ron).
        #[arg(long)]
        project: PathBuf,
        /// The entry: its number (1-based) or its file's stem.
        #[arg(long)]
        image: String,
        /// The file.
        #[arg(long)]
        to: PathBuf,
    },
    /// Accept the file now at an entry's path as its image (after "image changed on disk").
    Accept {
        /// Project file (.ron).
        #[arg(long)]
        project: PathBuf,
        /// The entry: its number (1-based) or its file's stem.
        #[arg(long)]
        image: String,
    },
}

/// The entry named by number (1-based) or unique stem.
fn entry_index(
    p: &vitscope::project::Project,
    file: &std::path::Path,
    image: &str,
) -> Result<usize> {
    if let Ok(n) = image.parse::<usize>()
        && (1..=p.images.len()).contains(&n)
    {
        return Ok(n - 1);
    }
    let found: Vec<usize> = (0..p.images.len())
        .filter(|&i| p.images[i].stem() == image)
        .collect();
    match found.as_slice() {
        [i] => Ok(*i),
        [] => anyhow::bail!(
            "{}: no image '{image}' (give its number or stem)",
            file.display()
        ),
        _ => anyhow::bail!(
            "{}: {} images have the stem '{image}': give the number",
            file.display(),
            found.len()
        ),
    }
}

/// Prints what opening a project for writing had to say (a stale lock, identities recorded).
fn say(open: &mut vitscope::project::OpenProject) {
    print_outcome(&open.warnings, &open.notes, &[]);
    open.warnings.clear();
    open.notes.clear();
}

pub fn run_project(a: ProjectArgs) -> Result<()> {
    use vitscope::project::{ImageCheck, OpenProject, identity};
    match a.action {
        ProjectAction::Check { project } => {
            let open = OpenProject::read(&project)?;
            if open.upgraded > 0 {
                eprintln!("warning: {}", interop::unrecorded(&project, open.upgraded));
            }
            let mut bad = 0;
            for (i, e) in open.project.images.iter().enumerate() {
                let id = e
                    .identity
                    .as_ref()
                    .map(|i| i.describe())
                    .unwrap_or_default();
                match open.checks[i].problem() {
                    None => println!("{}\tok\t{}\t{id}", i + 1, e.path.display()),
                    Some(p) => {
                        bad += 1;
                        println!("{}\tchanged\t{}\t{p}", i + 1, e.path.display());
                    }
                }
            }
            if bad > 0 {
                anyhow::bail!(
                    "{}: {bad} image(s) changed on disk or missing: relink them (vitscope project relink) or accept the new files (vitscope project accept)",
                    project.display()
                );
            }
            eprintln!("{}: every image has its identity", project.display());
        }
        ProjectAction::Relink { project, image, to } => {
            let mut open = OpenProject::write(&project, "vitscope project relink")?;
            say(&mut open);
            let i = entry_index(&open.project, &project, &image)?;
            let e = &open.project.images[i];
            let want = e.identity.clone();
            let found = identity::of_file(&to, e.frame).map_err(anyhow::Error::msg)?;
            if Some(&found) != want.as_ref() {
                anyhow::bail!(
                    "{}: this file is {}, not image {}'s {}: not relinked",
                    to.display(),
                    found.describe(),
                    i + 1,
                    want.map(|w| w.describe()).unwrap_or_default()
                );
            }
            let abs = std::path::absolute(&to)?;
            open.project.images[i].path = vitscope::project::relative_to(&open.base, &abs);
            open.checks[i] = ImageCheck::Ok;
            open.save(Vec::new())?;
            println!("image {} -> {}", i + 1, to.display());
        }
        ProjectAction::Accept { project, image } => {
            let mut open = OpenProject::write(&project, "vitscope project accept")?;
            say(&mut open);
            let i = entry_index(&open.project, &project, &image)?;
            let ImageCheck::Changed { found } = open.checks[i].clone() else {
                anyhow::bail!(
                    "{}: image {} has not changed on disk: nothing to accept",
                    project.display(),
                    i + 1
                );
            };
            println!(
                "image {} ({}) is now {}",
                i + 1,
                open.project.images[i].path.display(),
                found.describe()
            );
            open.project.images[i].identity = Some(found);
            open.checks[i] = ImageCheck::Ok;
            open.save(Vec::new())?;
        }
    }
    Ok(())
}
