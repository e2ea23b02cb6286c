//! The PACS browser: search a DICOMweb server's studies (QIDO-RS), fetch one (WADO-RS) into the
//! session's cache folder — filed by UID (`<study>/<series>/<sop>.dcm`, as `pacs fetch` does) —
//! and add the images the project does not have yet (recognised by SOP Instance UID). The
//! network and every parse of a received file run in a thread of its own; the UI polls its
//! replies and never waits. Credentials come from the environment
//! only (`VITSCOPE_PACS_TOKEN`, or `VITSCOPE_PACS_USER` / `VITSCOPE_PACS_PASSWORD`).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};

use crate::interop::dicomweb::{Auth, Client, Settings, Study};
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
    /// PEM bundle of a hospital's CA to trust (as `--ca-file`; starts as `VITSCOPE_PACS_CA`).
    pub ca_file: String,
    /// Idle and connection timeout, seconds (as `--timeout`; starts as `VITSCOPE_PACS_TIMEOUT`).
    pub timeout_s: u64,
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
            ca_file: std::env::var("VITSCOPE_PACS_CA").unwrap_or_default(),
            timeout_s: Settings::from_env().timeout.as_secs(),
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
        failed: fn(String) -> Reply,
        request: impl FnOnce(Client) -> Reply + Send + 'static,
    ) {
        // The client (which reads the system's certificate store) is made in the thread too,
        // with the CLI's settings: the environment's, then this window's CA file and timeout.
        let url = self.url.trim().to_string();
        let mut settings = Settings::from_env();
        let ca = self.ca_file.trim();
        settings.ca_file = (!ca.is_empty()).then(|| PathBuf::from(ca));
        settings.timeout = std::time::Duration::from_secs(self.timeout_s.clamp(1, 86_400));
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let reply = match Client::with_settings(&url, Auth::from_env(), &settings) {
                Ok(client) => request(client),
                Err(e) => failed(e.0),
            };
            let _ = tx.send(reply);
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
        let failed = |e| Reply::Found(Err(e));
        self.start("searching…", wake, failed, move |client| {
            let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
            let (pid, modality) = (opt(&pid), opt(&modality));
            let mut warnings: Vec<String> = client.clear_text_warning().into_iter().collect();
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
        let failed = |e| Reply::Fetched(Err(e));
        self.start("fetching…", wake, failed, move |client| {
            Reply::Fetched(
                crate::interop::pacs::receive(&client, &study, &cache)
                    .map(|(r, _)| r)
                    .map_err(|e| e.to_string()),
            )
        });
    }
}
