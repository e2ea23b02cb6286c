//! A reader's session file: every answer appended as one CSV line the moment it is given, and
//! flushed to disk (`fsync`) before the next question is drawn, so a killed workbench loses
//! nothing answered. A revision is a later line for the same question; the last line wins.
//! `STUDY.ron`'s sessions live in `STUDY_sessions/<reader>.csv`.
//!
//! `study export` joins the plans and the session files into the response file of the analysis.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::design::Study;
use crate::error::Invalid;

/// The header of a session file.
pub const HEADER: [&str; 6] = [
    "item", "response", "rt_ms", "position", "session", "unix_ms",
];

/// One answer line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Index of the question in the reader's plan.
    pub item: usize,
    /// The answer as the response file writes it (empty: shown, not answered).
    pub response: String,
    /// Response time, ms (from the moment the question was fully drawn; pauses excluded).
    pub rt_ms: u64,
    /// 1-based presentation order within the session.
    pub position: u64,
    /// Session id (`s1`, `s2`, … one per opening).
    pub session: String,
    /// Wall time of the answer, ms since 1970.
    pub unix_ms: u64,
}

/// Where `reader`'s session file of `study_file` is.
pub fn path(study_file: &Path, reader: &str) -> PathBuf {
    let stem = study_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "study".into());
    study_file
        .with_file_name(format!("{stem}_sessions"))
        .join(format!("{reader}.csv"))
}

/// Reads a session file (absent: no line yet).
pub fn read(file: &Path) -> Result<Vec<Line>, Invalid> {
    if !file.exists() {
        return Ok(Vec::new());
    }
    let name = file.display().to_string();
    let bytes = crate::io::guard::read_bounded(file, 256 << 20)
        .map_err(|e| Invalid::from(format!("{name}: {e}")))?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(&bytes[..]);
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = match rec {
            Ok(r) => r,
            // A line cut by a kill mid-write is the last one: what it held was not confirmed.
            Err(_) => break,
        };
        let field = |k: usize| rec.get(k).unwrap_or("");
        let parse = |k: usize| field(k).parse::<u64>();
        match (parse(0), parse(2), parse(3), parse(5)) {
            (Ok(item), Ok(rt_ms), Ok(position), Ok(unix_ms)) if rec.len() == HEADER.len() => out
                .push(Line {
                    item: item as usize,
                    response: field(1).to_string(),
                    rt_ms,
                    position,
                    session: field(4).to_string(),
                    unix_ms,
                }),
            _ => {
                let line = rec.position().map_or(0, |p| p.line());
                return Err(Invalid::from(format!(
                    "{name}: line {line}: not a session line"
                )));
            }
        }
    }
    Ok(out)
}

/// Appends `line` and forces it to disk.
pub fn append(file: &Path, line: &Line) -> Result<(), Invalid> {
    let fail = |e: std::io::Error| Invalid::from(format!("{}: {e}", file.display()));
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let new = !file.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(fail)?;
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    if new {
        let _ = w.write_record(HEADER);
    }
    let _ = w.write_record([
        line.item.to_string(),
        line.response.clone(),
        line.rt_ms.to_string(),
        line.position.to_string(),
        line.session.clone(),
        line.unix_ms.to_string(),
    ]);
    let bytes = w.into_inner().map_err(|e| Invalid::from(e.to_string()))?;
    f.write_all(&bytes).map_err(fail)?;
    f.sync_data().map_err(fail)?;
    if new && let Some(dir) = file.parent() {
        // The new file's name is durable too.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// The last line of each answered item, by item.
pub fn latest(lines: &[Line]) -> std::collections::BTreeMap<usize, &Line> {
    let mut out = std::collections::BTreeMap::new();
    for l in lines {
        out.insert(l.item, l);
    }
    out
}

/// The next session id after those in `lines`.
pub fn next_session(lines: &[Line]) -> String {
    let n = lines
        .iter()
        .filter_map(|l| l.session.strip_prefix('s')?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    format!("s{}", n + 1)
}

/// The response files of every reader of `study` (file `study_file`), in plan order: the
/// study's (first showings), and the repeats' (each repeated question's first answer under the
/// reader's id and its second under `ID.repeat`, so that the analysis's Cohen κ of that pair is
/// the reader's agreement with themself; empty without repeats).
pub fn export(study: &Study, study_file: &Path) -> Result<(String, String), Invalid> {
    let writer = || {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        let _ = w.write_record(super::responses::HEADER);
        w
    };
    let (mut main, mut again) = (writer(), writer());
    let mut repeats = 0;
    for plan in &study.readers {
        let lines = read(&path(study_file, &plan.reader))?;
        let last = latest(&lines);
        let repeat_id = format!("{}.repeat", plan.reader);
        for (&k, l) in &last {
            let Some(item) = plan.items.get(k) else {
                return Err(Invalid::from(format!(
                    "{}: item {k} is not in the plan of {}",
                    path(study_file, &plan.reader).display(),
                    plan.reader
                )));
            };
            let row = |reader: &str, l: &Line| {
                [
                    reader.to_string(),
                    item.case.clone(),
                    item.condition.clone(),
                    item.question.clone(),
                    l.response.clone(),
                    l.rt_ms.to_string(),
                    l.position.to_string(),
                    l.session.clone(),
                ]
            };
            if !item.repeat {
                let _ = main.write_record(row(&plan.reader, l));
                continue;
            }
            // The first showing of the same question, if answered.
            let first = plan.items.iter().enumerate().find(|(_, i)| {
                !i.repeat
                    && i.case == item.case
                    && i.question == item.question
                    && i.condition == item.condition
            });
            if let Some(f) = first.and_then(|(j, _)| last.get(&j)) {
                let _ = again.write_record(row(&plan.reader, f));
                let _ = again.write_record(row(&repeat_id, l));
                repeats += 1;
            }
        }
    }
    let text = |w: csv::Writer<Vec<u8>>| -> Result<String, Invalid> {
        let bytes = w.into_inner().map_err(|e| Invalid::from(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| Invalid::from(e.to_string()))
    };
    let again = if repeats > 0 {
        text(again)?
    } else {
        String::new()
    };
    Ok((text(main)?, again))
}

/// Writes `<dir>/<case>.png` for every case of `study`: its ground truth from the project's
/// annotations (white where any class is, black elsewhere; all black without annotation), the
/// masks `study analyze --masks` reads. Returns the files.
pub fn export_masks(study: &Study, study_file: &Path, dir: &Path) -> Result<Vec<PathBuf>, Invalid> {
    let project = study.project_path(study_file);
    let open =
        crate::project::OpenProject::read(&project).map_err(|e| Invalid::from(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| Invalid::from(format!("{}: {e}", dir.display())))?;
    let mut out = Vec::new();
    for case in &study.cases {
        let i = open
            .project
            .images
            .iter()
            .position(|e| {
                e.identity.as_ref().map(|id| id.token()).as_deref() == Some(case.identity.as_str())
                    && e.frame == case.frame
            })
            .ok_or_else(|| {
                Invalid::from(format!(
                    "{}: no image has the identity of case {}",
                    project.display(),
                    case.id
                ))
            })?;
        let ann = open
            .annotations(i)
            .map_err(|e| Invalid::from(format!("case {}: {e}", case.id)))?;
        let mask = crate::metrics::Mask {
            width: ann.mask.width,
            height: ann.mask.height,
            data: ann.mask.data.iter().map(|&v| (v != 0) as u8).collect(),
        };
        let p = dir.join(format!("{}.png", case.id));
        crate::io::mask::write_mask(&p, &mask).map_err(|e| Invalid::from(e.to_string()))?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(item: usize, response: &str) -> Line {
        Line {
            item,
            response: response.into(),
            rt_ms: 10,
            position: item as u64 + 1,
            session: "s1".into(),
            unix_ms: 1,
        }
    }

    #[test]
    fn the_last_answer_wins_and_a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s/alice.csv");
        append(&f, &line(0, "3")).unwrap();
        append(&f, &line(0, "4")).unwrap();
        append(&f, &line(1, "12.5;3")).unwrap();
        // A kill in the middle of a write leaves a line without its end.
        let mut bytes = std::fs::read(&f).unwrap();
        bytes.extend_from_slice(b"2,5,1");
        std::fs::write(&f, bytes).unwrap();
        let lines = read(&f).unwrap();
        assert_eq!(lines.len(), 3);
        let last = latest(&lines);
        assert_eq!(last[&0].response, "4");
        assert_eq!(last[&1].response, "12.5;3");
        assert_eq!(next_session(&lines), "s2");
    }
}
