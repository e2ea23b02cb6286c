//! A DICOMweb client for a PACS: QIDO-RS search of studies and series, WADO-RS retrieval of a
//! study's instances, STOW-RS store (PS3.18).
//!
//! HTTP is `ureq` (blocking, small, rustls for `https`; it was already in the build, and a
//! command-line tool and a worker thread need no async runtime). The multipart/related bodies
//! of WADO-RS and STOW-RS are split and joined here (RFC 2046 framing, a few lines), and the
//! JSON is DICOM's JSON model read with serde_json. Credentials come only from the environment
//! (`VITSCOPE_PACS_TOKEN` for a bearer token, or `VITSCOPE_PACS_USER` / `VITSCOPE_PACS_PASSWORD`
//! for basic authentication) and are never written anywhere.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// None.
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`.
    Basic(String, String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.write_str(match self {
            Auth::None => "none",
            Auth::Bearer(_) => "bearer token",
            Auth::Basic(..) => "basic",
        })
    }
}

impl Auth {
    /// From `VITSCOPE_PACS_TOKEN`, else `VITSCOPE_PACS_USER` and `VITSCOPE_PACS_PASSWORD`.
    pub fn from_env() -> Auth {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(t) = var("VITSCOPE_PACS_TOKEN") {
            return Auth::Bearer(t);
        }
        match var("VITSCOPE_PACS_USER") {
            Some(u) => Auth::Basic(u, var("VITSCOPE_PACS_PASSWORD").unwrap_or_default()),
            None => Auth::None,
        }
    }

    fn header(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            Auth::Basic(u, p) => Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes()))),
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                s.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// A PACS error: one sentence naming the server and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PacsError(pub String);

/// Largest reply read into memory (search results; a study is streamed into files instead) and
/// largest file stored.
const MAX_REPLY: u64 = 4 << 30;
/// Largest JSON reply.
const MAX_JSON: u64 = 256 << 20;
/// Largest limit that may be set, MB (16 TiB).
pub const MAX_MB: u64 = 16 << 20;

/// A DICOMweb server.
pub struct Client {
    base: String,
    auth: Auth,
    agent: ureq::Agent,
    limits: super::multipart::Limits,
    idle: Duration,
}

/// One series of a study.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    /// Series Instance UID.
    pub series: String,
    /// Modality.
    pub modality: String,
    /// Series Description.
    pub description: String,
    /// Number of instances (when the server says).
    pub instances: Option<u64>,
}

/// One study found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Study {
    /// Study Instance UID.
    pub study: String,
    /// Patient ID.
    pub patient_id: String,
    /// Patient's Name.
    pub patient_name: String,
    /// Study Date.
    pub date: String,
    /// Study Description.
    pub description: String,
    /// Series Instance UIDs.
    pub series: Vec<String>,
    /// The series in detail.
    pub series_details: Vec<Series>,
}

/// The first value of attribute `tag` (8 hex digits) of a DICOM JSON object, as text.
fn value(obj: &Value, tag: &str) -> String {
    let v = &obj[tag]["Value"][0];
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => o
            .get("Alphabetic")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

/// Query keys whose values identify a patient; [`redact`] hides them (by keyword and by tag).
const PATIENT_KEYS: [&str; 8] = [
    "patientid",
    "patientname",
    "patientbirthdate",
    "accessionnumber",
    "00100020",
    "00100010",
    "00100030",
    "00080050",
];

/// A URL as it may be shown: without user information (`user:password@`) and with the values of
/// patient query keys (PatientID, PatientName, PatientBirthDate, AccessionNumber, by keyword or
/// tag) replaced by `<redacted>`.
pub fn redact(url: &str) -> String {
    let (before_frag, _) = url.split_once('#').unwrap_or((url, ""));
    let (head, query) = match before_frag.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (before_frag, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => head.to_string(),
    };
    match query {
        None => head,
        Some(q) => {
            let pairs: Vec<String> = q
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if PATIENT_KEYS.contains(&k.to_ascii_lowercase().as_str()) => {
                        format!("{k}=<redacted>")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{head}?{}", pairs.join("&"))
        }
    }
}

/// How a client connects: whom it trusts and how long it waits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A PEM bundle of CA certificates to trust beside the system's store and the built-in
    /// roots (`--ca-file`, `VITSCOPE_PACS_CA`).
    pub ca_file: Option<PathBuf>,
    /// Longest wait for a connection, for the answer's headers, and between two reads of its
    /// body (an idle timeout: a large study on a slow link goes on while bytes flow).
    pub timeout: Duration,
    /// Largest instance a fetch takes, bytes (`--max-instance`, MB).
    pub max_instance: u64,
    /// Largest study a fetch takes, bytes (`--max-study`, MB).
    pub max_study: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ca_file: None,
            timeout: Duration::from_secs(30),
            max_instance: 2 << 30,
            max_study: 64 << 30,
        }
    }
}

impl Settings {
    /// The defaults, with `VITSCOPE_PACS_CA`, `VITSCOPE_PACS_TIMEOUT` (seconds),
    /// `VITSCOPE_PACS_MAX_INSTANCE` and `VITSCOPE_PACS_MAX_STUDY` (MB) where set.
    pub fn from_env() -> Settings {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let number = |k: &str, range: std::ops::RangeInclusive<u64>| {
            var(k)
                .and_then(|t| t.trim().parse().ok())
                .filter(|t: &u64| range.contains(t))
        };
        let d = Settings::default();
        Settings {
            ca_file: var("VITSCOPE_PACS_CA").map(PathBuf::from),
            timeout: number("VITSCOPE_PACS_TIMEOUT", 1..=86_400)
                .map_or(d.timeout, Duration::from_secs),
            max_instance: number("VITSCOPE_PACS_MAX_INSTANCE", 1..=MAX_MB)
                .map_or(d.max_instance, |m| m << 20),
            max_study: number("VITSCOPE_PACS_MAX_STUDY", 1..=MAX_MB)
                .map_or(d.max_study, |m| m << 20),
        }
    }
}

/// The certificates a client trusts: Mozilla's roots (compiled in), the operating system's
/// store, and the PEM bundle `ca_file`.
fn trusted_roots(
    ca_file: Option<&Path>,
) -> Result<Vec<ureq::tls::Certificate<'static>>, PacsError> {
    let mut roots: Vec<ureq::tls::Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    // An unreadable system store is not fatal: the built-in roots and --ca-file remain.
    let system = rustls_native_certs::load_native_certs();
    roots.extend(
        system
            .certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()),
    );
    if let Some(f) = ca_file {
        let pem = crate::io::guard::read_bounded(f, 16 << 20)
            .map_err(|e| PacsError(format!("{}: cannot read the CA file: {e}", f.display())))?;
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => roots.push(c),
                Ok(_) => {}
                Err(e) => {
                    return Err(PacsError(format!(
                        "{}: not a PEM certificate bundle: {e}",
                        f.display()
                    )));
                }
            }
        }
        if roots.len() == before {
            return Err(PacsError(format!(
                "{}: the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                f.display()
            )));
        }
    }
    Ok(roots)
}

impl Client {
    /// A client of the DICOMweb root `url` (e.g. `http://127.0.0.1:8042/dicom-web`).
    pub fn new(url: &str, auth: Auth, timeout: Duration) -> Result<Client, PacsError> {
        Client::with_settings(
            url,
            auth,
            &Settings {
                timeout,
                ..Settings::default()
            },
        )
    }

    /// A client with its trust and timeouts. Credentials in the URL are refused (they would show
    /// in the process list and in messages); an `https` client refuses redirects to `http`.
    pub fn with_settings(url: &str, auth: Auth, settings: &Settings) -> Result<Client, PacsError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let https = base.starts_with("https://");
        if !(https || base.starts_with("http://")) {
            return Err(PacsError(format!(
                "{}: a PACS URL starts with http:// or https://",
                redact(&base)
            )));
        }
        let authority = base.split_once("://").map_or("", |(_, r)| r);
        let authority = &authority[..authority.find(['/', '?', '#']).unwrap_or(authority.len())];
        if authority.contains('@') {
            return Err(PacsError(format!(
                "{}: credentials in the URL are refused (they would show in the process list and in messages): set VITSCOPE_PACS_USER and VITSCOPE_PACS_PASSWORD, or VITSCOPE_PACS_TOKEN",
                redact(&base)
            )));
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&trusted_roots(
                settings.ca_file.as_deref(),
            )?))
            .build();
        let t = Some(settings.timeout);
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(https)
            .timeout_connect(t)
            .timeout_recv_response(t)
            .timeout_per_read(t)
            .http_status_as_error(false)
            .build()
            .into();
        let limits = super::multipart::Limits {
            part: settings.max_instance,
            total: settings.max_study,
        };
        Ok(Client {
            base,
            auth,
            agent,
            limits,
            idle: settings.timeout,
        })
    }

    /// A warning to show once when credentials would travel in clear (plain `http`).
    pub fn clear_text_warning(&self) -> Option<String> {
        (self.base.starts_with("http://") && !matches!(self.auth, Auth::None)).then(|| {
            format!(
                "{}: credentials are sent unencrypted over plain http; use https (with --ca-file for a private CA)",
                redact(&self.base)
            )
        })
    }

    /// The DICOMweb root.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn fail(&self, url: &str, e: ureq::Error) -> PacsError {
        if let Some(c) = certificate_problem(&e) {
            return PacsError(format!("{}: {c}", redact(url)));
        }
        let what = match &e {
            ureq::Error::Timeout(_) => "the server did not answer in time (timeout)".to_string(),
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                "cannot connect to the server (connection refused or no such host)".to_string()
            }
            ureq::Error::RequireHttpsOnly(_) => {
                "the https server redirected to plain http, which is refused".to_string()
            }
            ureq::Error::Io(io) => format!("connection failed: {io}"),
            other => format!("request failed: {other}"),
        };
        PacsError(format!("{}: {what}", redact(url)))
    }

    fn status(&self, url: &str, code: u16) -> Result<(), PacsError> {
        match code {
            200..=299 => Ok(()),
            401 | 403 => Err(PacsError(format!(
                "{}: authentication failed (HTTP {code}): set VITSCOPE_PACS_USER and VITSCOPE_PACS_PASSWORD, or VITSCOPE_PACS_TOKEN",
                redact(url)
            ))),
            404 => Err(PacsError(format!("{}: not found (HTTP 404)", redact(url)))),
            c => Err(PacsError(format!(
                "{}: the server answered HTTP {c}",
                redact(url)
            ))),
        }
    }

    /// A GET answered with a success status, and its Content-Type.
    fn open(
        &self,
        url: &str,
        accept: &str,
    ) -> Result<(String, ureq::http::Response<ureq::Body>), PacsError> {
        let mut req = self.agent.get(url).header("Accept", accept);
        if let Some(h) = self.auth.header() {
            req = req.header("Authorization", h);
        }
        let resp = req.call().map_err(|e| self.fail(url, e))?;
        self.status(url, resp.status().as_u16())?;
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok((ct, resp))
    }

    /// What a failed read of a reply's body says: an idle timeout, or the error.
    fn read_failed(&self, url: &str, e: &std::io::Error) -> PacsError {
        let text = format!("{e} {e:?}");
        if e.kind() == std::io::ErrorKind::TimedOut || text.contains("Timeout") {
            PacsError(format!(
                "{}: the server sent nothing for {} s in the middle of its reply (idle timeout; --timeout)",
                redact(url),
                self.idle.as_secs()
            ))
        } else {
            PacsError(format!("{}: reading the reply failed: {e}", redact(url)))
        }
    }

    fn get(&self, url: &str, accept: &str) -> Result<(String, Vec<u8>), PacsError> {
        let (ct, mut resp) = self.open(url, accept)?;
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_JSON + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.read_failed(url, &e))?;
        if body.len() as u64 > MAX_JSON {
            return Err(PacsError(format!(
                "{}: the reply is larger than {} MB",
                redact(url),
                MAX_JSON >> 20
            )));
        }
        Ok((ct, body))
    }

    fn json(&self, url: &str) -> Result<Vec<Value>, PacsError> {
        let (_, body) = self.get(url, "application/dicom+json")?;
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Vec::new()); // 204 or an empty body: nothing matched
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            PacsError(format!(
                "{}: the reply is not DICOM JSON ({e})",
                redact(url)
            ))
        })?;
        match v {
            Value::Array(a) if a.iter().all(Value::is_object) => Ok(a),
            _ => Err(PacsError(format!(
                "{}: the reply is not a DICOM JSON array of objects",
                redact(url)
            ))),
        }
    }

    /// QIDO-RS: studies matching the filters, each with its series.
    /// Studies whose UIDs are not valid UIDs are left out, each with a line in `warnings`.
    pub fn search(
        &self,
        patient_id: Option<&str>,
        modality: Option<&str>,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Study>, PacsError> {
        let mut q = vec![
            "includefield=00081030".to_string(),
            "includefield=00100010".to_string(),
        ];
        let enc = |s: &str| {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        if let Some(p) = patient_id {
            q.push(format!("PatientID={}", enc(p)));
        }
        if let Some(m) = modality {
            q.push(format!("ModalitiesInStudy={}", enc(m)));
        }
        let url = format!("{}/studies?{}", self.base, q.join("&"));
        let mut out = Vec::new();
        for s in self.json(&url)? {
            let uid = value(&s, "0020000D");
            if uid.is_empty() {
                return Err(PacsError(format!(
                    "{}: a study in the reply has no Study Instance UID",
                    redact(&url)
                )));
            }
            if let Err(e) = crate::project::identity::valid_uid(&uid) {
                warnings.push(format!(
                    "{}: a study left out: Study Instance UID {e}",
                    redact(&url)
                ));
                continue;
            }
            let surl = format!("{}/studies/{uid}/series", self.base);
            let details: Vec<Series> = self
                .json(&surl)?
                .iter()
                .map(|se| Series {
                    series: value(se, "0020000E"),
                    modality: value(se, "00080060"),
                    description: value(se, "0008103E"),
                    instances: value(se, "00201209").parse().ok(),
                })
                .filter(|se| modality.is_none_or(|m| se.modality.eq_ignore_ascii_case(m)))
                .filter(|se| match crate::project::identity::valid_uid(&se.series) {
                    Ok(()) => true,
                    Err(e) => {
                        warnings.push(format!(
                            "{surl}: a series left out: Series Instance UID {e}"
                        ));
                        false
                    }
                })
                .collect();
            out.push(Study {
                patient_id: value(&s, "00100020"),
                patient_name: value(&s, "00100010"),
                date: value(&s, "00080020"),
                description: value(&s, "00081030"),
                series: details.iter().map(|d| d.series.clone()).collect(),
                series_details: details,
                study: uid,
            });
        }
        Ok(out)
    }

    /// WADO-RS: every instance of a study, streamed into `DIR/part-<n>.dcm` in reply order as it
    /// arrives (a staging folder: `interop::pacs` checks each and files it by UID; what a failed
    /// fetch wrote there is removed with it); returns the files.
    pub fn fetch_study(&self, study: &str, dir: &Path) -> Result<Vec<PathBuf>, PacsError> {
        let url = format!("{}/studies/{study}", self.base);
        let (ct, mut resp) = self.open(&url, "multipart/related; type=\"application/dicom\"")?;
        std::fs::create_dir_all(dir)
            .map_err(|e| PacsError(format!("{}: cannot create: {e}", dir.display())))?;
        let files = super::multipart::write_parts(
            resp.body_mut().as_reader(),
            &ct,
            dir,
            self.limits,
            |_, _| {},
        )
        .map_err(|e| match e {
            super::multipart::MultipartError::Read(io) => self.read_failed(&url, &io),
            other => PacsError(format!("{}: {other}", redact(&url))),
        })?;
        if files.is_empty() {
            return Err(PacsError(format!(
                "{}: the study has no instances",
                redact(&url)
            )));
        }
        Ok(files)
    }

    /// STOW-RS: stores the files; returns the SOP Instance UIDs the server accepted.
    pub fn store(&self, files: &[PathBuf]) -> Result<usize, PacsError> {
        let boundary = format!("vitscope-{:032x}", rand::random::<u128>());
        let mut body = Vec::new();
        for f in files {
            let data = crate::io::guard::read_bounded(f, MAX_REPLY)
                .map_err(|e| PacsError(format!("{}: {e}", f.display())))?;
            if data.len() < 132 || &data[128..132] != b"DICM" {
                return Err(PacsError(format!(
                    "{}: not a DICOM file (no DICM marker)",
                    f.display()
                )));
            }
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(&data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let url = format!("{}/studies", self.base);
        let mut req = self
            .agent
            .post(&url)
            .header(
                "Content-Type",
                format!("multipart/related; type=\"application/dicom\"; boundary={boundary}"),
            )
            .header("Accept", "application/dicom+json");
        if let Some(h) = self.auth.header() {
            req = req.header("Authorization", h);
        }
        let mut resp = req.send(&body[..]).map_err(|e| self.fail(&url, e))?;
        let code = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        self.status(&url, code)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let failed = v["00081198"]["Value"].as_array().map_or(0, Vec::len);
        if failed > 0 {
            return Err(PacsError(format!(
                "{}: the server refused {failed} of {} instance(s)",
                redact(&url),
                files.len()
            )));
        }
        Ok(v["00081199"]["Value"]
            .as_array()
            .map_or(files.len(), Vec::len))
    }
}

/// What a TLS certificate failure means for the user, if `e` is one.
fn certificate_problem(e: &ureq::Error) -> Option<String> {
    let text = format!("{e} {e:?}");
    let fix = "trust the hospital's CA with --ca-file CA.pem (or VITSCOPE_PACS_CA), or install it in the system's certificate store";
    if text.contains("UnknownIssuer") || text.contains("unknown issuer") {
        Some(format!(
            "TLS certificate problem: the server's certificate is signed by an unknown issuer; {fix}"
        ))
    } else if text.contains("NotValidForName") {
        Some(
            "TLS certificate problem: the server's certificate is not valid for this host name or address (name mismatch); use the name the certificate was issued for".into(),
        )
    } else if text.contains("Expired") {
        Some("TLS certificate problem: the server's certificate has expired (or is not yet valid); ask the PACS administrator to renew it, and check this computer's clock".into())
    } else if text.contains("InvalidCertificate")
        || text.contains("certificate") && text.contains("rustls")
    {
        Some(format!("TLS certificate problem ({e}); {fix}"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
