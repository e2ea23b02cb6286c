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

/// Largest reply read (a study of many instances is larger; it is read part by part into files).
const MAX_REPLY: u64 = 4 << 30;

/// A DICOMweb server.
pub struct Client {
    base: String,
    auth: Auth,
    agent: ureq::Agent,
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
    /// Longest wait for a connection, for an answer, and for the body of one reply.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ca_file: None,
            timeout: Duration::from_secs(30),
        }
    }
}

impl Settings {
    /// The defaults, with `VITSCOPE_PACS_CA` and `VITSCOPE_PACS_TIMEOUT` (seconds) where set.
    pub fn from_env() -> Settings {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Settings {
            ca_file: var("VITSCOPE_PACS_CA").map(PathBuf::from),
            timeout: var("VITSCOPE_PACS_TIMEOUT")
                .and_then(|t| t.trim().parse().ok())
                .filter(|&t: &u64| (1..=86_400).contains(&t))
                .map_or(Settings::default().timeout, Duration::from_secs),
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
            .timeout_recv_body(t)
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { base, auth, agent })
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

    fn get(&self, url: &str, accept: &str) -> Result<(String, Vec<u8>), PacsError> {
        let mut req = self.agent.get(url).header("Accept", accept);
        if let Some(h) = self.auth.header() {
            req = req.header("Authorization", h);
        }
        let mut resp = req.call().map_err(|e| self.fail(url, e))?;
        self.status(url, resp.status().as_u16())?;
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_REPLY + 1)
            .read_to_end(&mut body)
            .map_err(|e| PacsError(format!("{}: reading the reply failed: {e}", redact(url))))?;
        if body.len() as u64 > MAX_REPLY {
            return Err(PacsError(format!(
                "{}: the reply is larger than 4 GiB",
                redact(url)
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

    /// WADO-RS: every instance of a study, written as `DIR/part-<n>.dcm` in reply order (a
    /// staging folder: `interop::pacs` checks each and files it by UID); returns the files.
    pub fn fetch_study(&self, study: &str, dir: &Path) -> Result<Vec<PathBuf>, PacsError> {
        let url = format!("{}/studies/{study}", self.base);
        let (ct, body) = self.get(&url, "multipart/related; type=\"application/dicom\"")?;
        let parts = split_multipart(&ct, &body)
            .map_err(|e| PacsError(format!("{}: malformed multipart reply: {e}", redact(&url))))?;
        if parts.is_empty() {
            return Err(PacsError(format!(
                "{}: the study has no instances",
                redact(&url)
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| PacsError(format!("{}: cannot create: {e}", dir.display())))?;
        let mut files = Vec::new();
        for (k, (headers, data)) in parts.iter().enumerate() {
            let ok_type = headers
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case("content-type"))
                .is_none_or(|(_, v)| v.to_ascii_lowercase().starts_with("application/dicom"));
            if !ok_type || data.len() < 132 || &data[128..132] != b"DICM" {
                return Err(PacsError(format!(
                    "{}: malformed multipart reply: part {} is not a DICOM file",
                    redact(&url),
                    k + 1
                )));
            }
            let p = dir.join(format!("part-{:04}.dcm", k + 1));
            crate::io::write_atomic(&p, data)
                .map_err(|e| PacsError(format!("{}: {e}", p.display())))?;
            files.push(p);
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

/// One part of a multipart body: its header lines (name, value) and its bytes.
pub type Part = (Vec<(String, String)>, Vec<u8>);

/// Header lines and body of each part of a multipart body with the boundary named in
/// `content_type`.
pub fn split_multipart(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    if !content_type.to_ascii_lowercase().starts_with("multipart/") {
        return Err(format!("Content-Type is '{content_type}', not multipart"));
    }
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
        .ok_or("no boundary in the Content-Type")?;
    let delim = format!("--{boundary}").into_bytes();
    let find = |from: usize| {
        body[from..]
            .windows(delim.len())
            .position(|w| w == delim.as_slice())
            .map(|p| p + from)
    };
    let mut at = find(0).ok_or("the boundary never occurs")?;
    let mut parts = Vec::new();
    loop {
        let after = at + delim.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts); // closing delimiter
        }
        let start = after
            + if body[after..].starts_with(b"\r\n") {
                2
            } else {
                return Err("a boundary is not followed by a line break".into());
            };
        let next = find(start).ok_or("the body ends without a closing boundary")?;
        let mut part = &body[start..next];
        if part.ends_with(b"\r\n") {
            part = &part[..part.len() - 2];
        }
        let split = part
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| (p, p + 4))
            .or_else(|| part.starts_with(b"\r\n").then_some((0, 2)))
            .ok_or("a part has no header/body separator")?;
        let headers = std::str::from_utf8(&part[..split.0])
            .map_err(|_| "part headers are not text")?
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        parts.push((headers, part[split.1..].to_vec()));
        at = next;
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

    #[test]
    fn multipart_round_trip_and_malformed_bodies() {
        let body = b"--b1\r\nContent-Type: application/dicom\r\n\r\nABC\r\n--b1\r\nContent-Type: application/dicom\r\n\r\nDE\r\nF\r\n--b1--\r\n";
        let parts = split_multipart(
            "multipart/related; type=\"application/dicom\"; boundary=b1",
            body,
        )
        .unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].1, b"ABC");
        assert_eq!(parts[1].1, b"DE\r\nF");
        assert!(split_multipart("application/json", body).is_err());
        assert!(split_multipart("multipart/related; boundary=zz", body).is_err());
        assert!(
            split_multipart("multipart/related; boundary=b1", b"--b1\r\nX: y\r\n\r\nabc").is_err()
        );
    }
}
