//! A reader's progress through the plan, without a window: which question is shown, what was
//! answered (every answer appended to the session file at once, [`super::session`]), resuming
//! at the first unanswered question, revisions until the reader moves on (never with `lock`).

use std::path::{Path, PathBuf};

use super::design::{Item, Study};
use super::session::{self, Line};
use crate::error::Invalid;

/// One reader's reading of a study.
pub struct Reading {
    /// The study.
    pub study: Study,
    /// Its file.
    pub study_file: PathBuf,
    /// The reader.
    pub reader: String,
    /// The session file.
    pub file: PathBuf,
    /// Every line so far (earlier sessions included).
    pub lines: Vec<Line>,
    /// This session's id.
    pub session: String,
    /// The question shown (index in the plan); `None` when all are answered.
    pub current: Option<usize>,
    /// The answer given to the current question in this visit, if any.
    pub answer: Option<String>,
    /// Answers are final once given.
    pub lock: bool,
    position: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Reading {
    /// Opens `reader`'s reading of the study file, at the first unanswered question.
    pub fn open(study_file: &Path, reader: &str, lock: bool) -> Result<Reading, Invalid> {
        let study = Study::load(study_file)?;
        if study.plan(reader).is_none() {
            let names: Vec<&str> = study.readers.iter().map(|p| p.reader.as_str()).collect();
            return Err(Invalid::from(format!(
                "{}: no reader '{reader}' (readers: {})",
                study_file.display(),
                names.join(", ")
            )));
        }
        let file = session::path(study_file, reader);
        let lines = session::read(&file)?;
        let session = session::next_session(&lines);
        let mut r = Reading {
            study,
            study_file: study_file.to_path_buf(),
            reader: reader.to_string(),
            file,
            lines,
            session,
            current: None,
            answer: None,
            lock,
            position: 0,
        };
        r.current = r.first_unanswered();
        Ok(r)
    }

    /// The plan's questions.
    pub fn items(&self) -> &[Item] {
        self.study
            .plan(&self.reader)
            .map_or(&[][..], |p| p.items.as_slice())
    }

    fn first_unanswered(&self) -> Option<usize> {
        let done = session::latest(&self.lines);
        (0..self.items().len()).find(|k| !done.contains_key(k))
    }

    /// The question shown.
    pub fn item(&self) -> Option<&Item> {
        self.current.and_then(|k| self.items().get(k))
    }

    /// (answered, total).
    pub fn progress(&self) -> (usize, usize) {
        (session::latest(&self.lines).len(), self.items().len())
    }

    /// Records `response` for the current question (appended and synced before returning).
    /// A second answer to the same question is a revision, refused with `lock`.
    pub fn answer(&mut self, response: &str, rt_ms: u64) -> Result<(), Invalid> {
        let Some(item) = self.current else {
            return Err(Invalid::from("every question is answered"));
        };
        if self.lock && self.answer.is_some() {
            return Err(Invalid::from("answers are locked once given"));
        }
        if self.answer.is_none() {
            self.position += 1;
        }
        let line = Line {
            item,
            response: response.to_string(),
            rt_ms,
            position: self.position,
            session: self.session.clone(),
            unix_ms: now_ms(),
        };
        session::append(&self.file, &line)?;
        self.lines.push(line);
        self.answer = Some(response.to_string());
        Ok(())
    }

    /// Moves on to the next unanswered question (the current one must have an answer).
    pub fn move_on(&mut self) -> bool {
        if self.answer.is_none() {
            return false;
        }
        self.answer = None;
        self.current = self.first_unanswered();
        true
    }
}
