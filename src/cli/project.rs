//! `vitscope project`: a project's images and their identities: check, relink a moved file, accept a new one.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use vitscope::interop;

use super::common::print_outcome;

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

pub fn run(a: ProjectArgs) -> Result<()> {
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
