//! Designing a study: `study new` writes a study file (RON) of cases (image identities of a
//! project), conditions, questions and, for every reader, a presentation plan drawn from the
//! seed. The same seed gives the same file, byte for byte.
//!
//! **Plan of one reader.** The cases in an order of their own. Per case: first the localisation
//! click and the confidence rating on the image alone (condition `none`: before any map is
//! seen), then one Likert question per condition in the order of a Latin square, then one
//! pairwise question.
//! - *Latin square per block*: the conditions are shuffled once per reader into symbols s₀…s_{C−1};
//!   the cases are cut into blocks of C consecutive cases, and the p-th case of a block shows the
//!   conditions in the order s_{(ρ(p)+j) mod C}, j = 0…C−1, with ρ a permutation of the rows
//!   drawn per block. Over a full block every condition is at every position exactly once. When
//!   the case count is not a multiple of C, the last block is a partial square: a condition is at
//!   a position at most once more than another.
//! - *Pairs*: the unordered pairs of the map conditions (`none` shows no map and takes no part),
//!   one per case in turn from an offset drawn per reader; the side is swapped on every other pass
//!   through the pairs, so each condition is left as often as right over 2·P cases.
//! - *Attention checks* (`--attention-checks N`): N cases get one more Likert question with the
//!   condition `check`, whose map is the case's ground truth drawn as a map.
//! - *Repeats* (`--repeats N`): the Likert questions of N cases are asked again after every case,
//!   shuffled; `study export` writes them apart (reader `ID.repeat`) for intra-reader agreement.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use super::responses::{Question, is_id, is_name};
use crate::error::Invalid;

/// Version of the study file.
pub const VERSION: u32 = 1;

/// A case: an image of the project, by identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Its id in the responses (the image's export name).
    pub id: String,
    /// Its identity ([`crate::project::Identity::token`]).
    pub identity: String,
    /// The frame of a multi-frame image.
    pub frame: u32,
}

/// One question shown to a reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Case id.
    pub case: String,
    /// `likert`, `pairwise`, `localise` or `confidence`.
    pub question: String,
    /// The condition, or `A|B` for a pair (A left).
    pub condition: String,
    /// A second showing of a case's Likert question, for intra-reader agreement.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeat: bool,
}

/// A reader's presentation plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Reader id.
    pub reader: String,
    /// The questions in presentation order.
    pub items: Vec<Item>,
}

/// A study file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Study {
    /// File version.
    pub version: u32,
    /// The project (relative to the study file's folder, or absolute).
    pub project: PathBuf,
    /// The project's checkpoint whose maps are shown (default: the bundled model).
    pub checkpoint: Option<String>,
    /// The seed the plans were drawn from.
    pub seed: u64,
    /// Conditions: map methods, `none`, `random`.
    pub conditions: Vec<String>,
    /// Questions asked.
    pub questions: Vec<String>,
    /// The cases.
    pub cases: Vec<Case>,
    /// Attention-check cases (ids).
    pub attention_checks: Vec<String>,
    /// Cases whose Likert questions are shown again at the end (ids).
    #[serde(default)]
    pub repeats: Vec<String>,
    /// One plan per reader.
    pub readers: Vec<Plan>,
}

/// What `study new` is asked for.
#[derive(Debug, Clone)]
pub struct Design {
    /// Conditions.
    pub conditions: Vec<String>,
    /// Questions.
    pub questions: Vec<Question>,
    /// Readers.
    pub readers: Vec<String>,
    /// How many cases (drawn by the seed), or all.
    pub cases: Option<usize>,
    /// The case ids to use (a cases file), instead.
    pub case_ids: Option<Vec<String>>,
    /// Checkpoint name.
    pub checkpoint: Option<String>,
    /// Seed.
    pub seed: u64,
    /// Attention checks.
    pub attention_checks: usize,
    /// Cases shown again (their Likert questions) at the end of each plan.
    pub repeats: usize,
}

/// Conditions that are not map methods.
pub const CONTROLS: [&str; 3] = ["none", "random", "check"];

fn check_design(d: &Design) -> Result<(), Invalid> {
    let methods: Vec<&str> = crate::explain::Method::ALL
        .iter()
        .map(|m| m.name())
        .collect();
    if d.conditions.is_empty() {
        return Err(Invalid::from("--conditions: give at least one"));
    }
    let mut seen = BTreeSet::new();
    for c in &d.conditions {
        if !is_name(c) || !(methods.contains(&c.as_str()) || c == "none" || c == "random") {
            return Err(Invalid::from(format!(
                "--conditions: '{c}' is not a method ({}) or a control (none, random)",
                methods.join(", ")
            )));
        }
        if !seen.insert(c) {
            return Err(Invalid::from(format!("--conditions: '{c}' twice")));
        }
    }
    if d.questions.is_empty() {
        return Err(Invalid::from("--questions: give at least one"));
    }
    if d.readers.is_empty() {
        return Err(Invalid::from("--readers: give at least one"));
    }
    let mut seen = BTreeSet::new();
    for r in &d.readers {
        if !is_id(r) {
            return Err(Invalid::from(format!(
                "--readers: '{r}' is not an id ([A-Za-z0-9][A-Za-z0-9_.-]*)"
            )));
        }
        if !seen.insert(r) {
            return Err(Invalid::from(format!("--readers: '{r}' twice")));
        }
    }
    Ok(())
}

/// Draws the study of `design` over the project `project` (its file, read only).
pub fn new_study(project: &Path, project_ref: PathBuf, design: &Design) -> Result<Study, Invalid> {
    check_design(design)?;
    let open =
        crate::project::OpenProject::read(project).map_err(|e| Invalid::from(e.to_string()))?;
    let names = crate::project::naming::export_names(&open.project);
    let mut all: Vec<Case> = Vec::new();
    for (i, e) in open.project.images.iter().enumerate() {
        if let Some(p) = open.checks[i].problem() {
            return Err(Invalid::from(format!(
                "{}: image {} cannot be in a study: {p}",
                project.display(),
                e.path.display()
            )));
        }
        let Some(id) = &e.identity else { continue };
        if !is_id(&names[i]) {
            return Err(Invalid::from(format!(
                "{}: image {} would be the case '{}', which is not an id ([A-Za-z0-9][A-Za-z0-9_.-]*): rename the file",
                project.display(),
                e.path.display(),
                names[i]
            )));
        }
        all.push(Case {
            id: names[i].clone(),
            identity: id.token(),
            frame: e.frame,
        });
    }
    let mut rng = StdRng::seed_from_u64(design.seed);
    let cases: Vec<Case> = match (&design.case_ids, design.cases) {
        (Some(ids), _) => ids
            .iter()
            .map(|id| {
                all.iter().find(|c| &c.id == id).cloned().ok_or_else(|| {
                    Invalid::from(format!("--cases-file: no image '{id}' in the project"))
                })
            })
            .collect::<Result<_, _>>()?,
        (None, Some(n)) if n == 0 || n > all.len() => {
            return Err(Invalid::from(format!(
                "--cases {n}: the project has {} image(s)",
                all.len()
            )));
        }
        (None, Some(n)) => {
            let mut pick = all.clone();
            pick.shuffle(&mut rng);
            pick.truncate(n);
            pick.sort_by(|a, b| a.id.cmp(&b.id));
            pick
        }
        (None, None) => all,
    };
    if cases.is_empty() {
        return Err(Invalid::from(format!(
            "{}: no image to show",
            project.display()
        )));
    }
    if design.attention_checks > cases.len() {
        return Err(Invalid::from(format!(
            "--attention-checks {}: more than the {} case(s)",
            design.attention_checks,
            cases.len()
        )));
    }
    if design.repeats > cases.len() {
        return Err(Invalid::from(format!(
            "--repeats {}: more than the {} case(s)",
            design.repeats,
            cases.len()
        )));
    }
    let mut checks: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    checks.shuffle(&mut rng);
    checks.truncate(design.attention_checks);
    checks.sort();
    let mut repeats: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    repeats.shuffle(&mut rng);
    repeats.truncate(design.repeats);
    repeats.sort();
    let readers = design
        .readers
        .iter()
        .map(|r| Plan {
            reader: r.clone(),
            items: plan(&cases, &checks, &repeats, design, &mut rng),
        })
        .collect();
    Ok(Study {
        version: VERSION,
        project: project_ref,
        checkpoint: design.checkpoint.clone(),
        seed: design.seed,
        conditions: design.conditions.clone(),
        questions: design
            .questions
            .iter()
            .map(|q| q.name().to_string())
            .collect(),
        cases,
        attention_checks: checks,
        repeats,
        readers,
    })
}

/// One reader's plan (module docs).
fn plan(
    cases: &[Case],
    checks: &[String],
    repeats: &[String],
    d: &Design,
    rng: &mut StdRng,
) -> Vec<Item> {
    let mut order: Vec<&Case> = cases.iter().collect();
    order.shuffle(rng);
    let mut symbols = d.conditions.clone();
    symbols.shuffle(rng);
    let c = symbols.len();
    let maps: Vec<&String> = d.conditions.iter().filter(|c| *c != "none").collect();
    let pairs: Vec<(&String, &String)> = maps
        .iter()
        .enumerate()
        .flat_map(|(i, a)| maps[i + 1..].iter().map(move |b| (*a, *b)))
        .collect();
    let offset = if pairs.is_empty() {
        0
    } else {
        rng.random_range(0..pairs.len())
    };
    let asks = |q: Question| d.questions.contains(&q);
    let mut rows: Vec<usize> = Vec::new();
    let mut items = Vec::new();
    for (p, case) in order.iter().enumerate() {
        if p % c == 0 {
            rows = (0..c).collect();
            rows.shuffle(rng);
        }
        let item = |question: Question, condition: String| Item {
            case: case.id.clone(),
            question: question.name().to_string(),
            condition,
            repeat: false,
        };
        if asks(Question::Localise) {
            items.push(item(Question::Localise, "none".into()));
        }
        if asks(Question::Confidence) {
            items.push(item(Question::Confidence, "none".into()));
        }
        if asks(Question::Likert) {
            let row = rows[p % c];
            for j in 0..c {
                items.push(item(Question::Likert, symbols[(row + j) % c].clone()));
            }
            if checks.contains(&case.id) {
                items.push(item(Question::Likert, "check".into()));
            }
        }
        if asks(Question::Pairwise) && !pairs.is_empty() {
            let k = p + offset;
            let (a, b) = pairs[k % pairs.len()];
            let (l, r) = if (k / pairs.len()).is_multiple_of(2) {
                (a, b)
            } else {
                (b, a)
            };
            items.push(item(Question::Pairwise, format!("{l}|{r}")));
        }
    }
    // Repeats: the Likert questions of the repeated cases once more, after every case, in an
    // order of their own.
    if asks(Question::Likert) {
        let mut again: Vec<Item> = repeats
            .iter()
            .flat_map(|case| {
                d.conditions.iter().map(move |c| Item {
                    case: case.clone(),
                    question: Question::Likert.name().to_string(),
                    condition: c.clone(),
                    repeat: true,
                })
            })
            .collect();
        again.shuffle(rng);
        items.extend(again);
    }
    items
}

impl Study {
    /// The study as RON text.
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default()).unwrap_or_default()
            + "\n"
    }

    /// Reads a study file.
    pub fn load(path: &Path) -> Result<Study, Invalid> {
        let bytes = crate::io::guard::read_bounded(path, 256 << 20)
            .map_err(|e| Invalid::from(format!("{}: {e}", path.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Invalid::from(format!("{}: not UTF-8 text", path.display())))?;
        let s: Study = ron::from_str(&text)
            .map_err(|e| Invalid::from(format!("{}: not a study file: {e}", path.display())))?;
        if s.version != VERSION {
            return Err(Invalid::from(format!(
                "{}: study file version {} (this program reads {VERSION})",
                path.display(),
                s.version
            )));
        }
        Ok(s)
    }

    /// The project file, resolved against the study file's folder.
    pub fn project_path(&self, study_file: &Path) -> PathBuf {
        if self.project.is_absolute() {
            self.project.clone()
        } else {
            study_file
                .parent()
                .unwrap_or(Path::new("."))
                .join(&self.project)
        }
    }

    /// A reader's plan.
    pub fn plan(&self, reader: &str) -> Option<&Plan> {
        self.readers.iter().find(|p| p.reader == reader)
    }
}
