//! The PACS browser: search a DICOMweb server's studies (QIDO-RS), fetch one (WADO-RS) into the
//! session's cache folder — filed by UID (`<study>/<series>/<sop>.dcm`, as `pacs fetch` does) —
//! and add the images the project does not have yet (recognised by SOP Instance UID). The
//! network and every parse of a received file run in a thread of its own; the UI polls its
//! replies and never waits. Credentials come from the environment
//! only (`VITSCOPE_PACS_TOKEN`, or `VITSCOPE_PACS_USER` / `VITSCOPE_PACS_PASSWORD`).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use crate::interop::dicomweb::{Auth, Client, Study};
use crate::interop::pacs::Received;

/// A reply of the network thread.
pub(super) enum Reply {
    Found(Result<(Vec<Study>, Vec<String>), String>),
    Fetched(Result<Vec<Received>, String>),
}

/// State of the PACS window.
pub struct PacsBrowser {
    /// DICOMweb root.
    pub url: String,
    /// Patient ID filter.
    pub patient_id: String,
    /// Modality filter.
    pub modality: String,
    /// Studies of the last search.
    pub studies: Vec<Study>,
    /// What the last request said (errors included).
    pub status: String,
    pub(super) busy: Option<Receiver<Reply>>,
}

impl Default for PacsBrowser {
    fn default() -> Self {
        PacsBrowser {
            url: std::env::var("VITSCOPE_PACS_URL").unwrap_or_default(),
            patient_id: String::new(),
            modality: String::new(),
            studies: Vec::new(),
            status: String::new(),
            busy: None,
        }
    }
}

impl PacsBrowser {
    /// Whether a request is in flight.
    pub fn busy(&self) -> bool {
        self.busy.is_some()
    }

    /// Runs `request` on a client of the URL in a thread; its reply arrives through `busy`.
    fn start(
        &mut self,
        what: &str,
        wake: impl Fn() + Send + 'static,
        request: impl FnOnce(Client) -> Reply + Send + 'static,
    ) {
        let client = match Client::new(self.url.trim(), Auth::from_env(), Duration::from_secs(30)) {
            Ok(c) => c,
            Err(e) => {
                self.status = e.0;
                return;
            }
        };
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(request(client));
            wake();
        });
        self.status = what.into();
        self.busy = Some(rx);
    }

    /// Starts a search.
    pub fn search(&mut self, wake: impl Fn() + Send + 'static) {
        let (pid, modality) = (
            self.patient_id.trim().to_string(),
            self.modality.trim().to_string(),
        );
        self.start("searching…", wake, move |client| {
            let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
            let (pid, modality) = (opt(&pid), opt(&modality));
            let mut warnings = Vec::new();
            Reply::Found(
                client
                    .search(pid.as_deref(), modality.as_deref(), &mut warnings)
                    .map(|s| (s, warnings))
                    .map_err(|e| e.0),
            )
        });
    }

    /// Starts fetching a study into the cache folder `cache` (filed by UID there).
    pub fn fetch(&mut self, study: &str, cache: PathBuf, wake: impl Fn() + Send + 'static) {
        let study = study.to_string();
        self.start("fetching…", wake, move |client| {
            Reply::Fetched(
                crate::interop::pacs::receive(&client, &study, &cache)
                    .map(|(r, _)| r)
                    .map_err(|e| e.0),
            )
        });
    }
}
