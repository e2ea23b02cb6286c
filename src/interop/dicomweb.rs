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

impl Client {
    /// A client of the DICOMweb root `url` (e.g. `http://127.0.0.1:8042/dicom-web`).
    pub fn new(url: &str, auth: Auth, timeout: Duration) -> Result<Client, PacsError> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(PacsError(format!(
                "{url}: a PACS URL starts with http:// or https://"
            )));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { base, auth, agent })
    }

    /// The DICOMweb root.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn fail(&self, url: &str, e: ureq::Error) -> PacsError {
        let what = match &e {
            ureq::Error::Timeout(_) => "the server did not answer in time (timeout)".to_string(),
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                "cannot connect to the server (connection refused or no such host)".to_string()
            }
            ureq::Error::Io(io) => format!("connection failed: {io}"),
            other => format!("request failed: {other}"),
        };
        PacsError(format!("{url}: {what}"))
    }

    fn status(&self, url: &str, code: u16) -> Result<(), PacsError> {
        match code {
            200..=299 => Ok(()),
            401 | 403 => Err(PacsError(format!(
                "{url}: authentication failed (HTTP {code}): set VITSCOPE_PACS_USER and VITSCOPE_PACS_PASSWORD, or VITSCOPE_PACS_TOKEN"
            ))),
            404 => Err(PacsError(format!("{url}: not found (HTTP 404)"))),
            c => Err(PacsError(format!("{url}: the server answered HTTP {c}"))),
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
            .map_err(|e| PacsError(format!("{url}: reading the reply failed: {e}")))?;
        if body.len() as u64 > MAX_REPLY {
            return Err(PacsError(format!("{url}: the reply is larger than 4 GiB")));
        }
        Ok((ct, body))
    }

    fn json(&self, url: &str) -> Result<Vec<Value>, PacsError> {
        let (_, body) = self.get(url, "application/dicom+json")?;
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Vec::new()); // 204 or an empty body: nothing matched
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| PacsError(format!("{url}: the reply is not DICOM JSON ({e})")))?;
        match v {
            Value::Array(a) if a.iter().all(Value::is_object) => Ok(a),
            _ => Err(PacsError(format!(
                "{url}: the reply is not a DICOM JSON array of objects"
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
                    "{url}: a study in the reply has no Study Instance UID"
                )));
            }
            if let Err(e) = crate::project::identity::valid_uid(&uid) {
                warnings.push(format!("{url}: a study left out: Study Instance UID {e}"));
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
            .map_err(|e| PacsError(format!("{url}: malformed multipart reply: {e}")))?;
        if parts.is_empty() {
            return Err(PacsError(format!("{url}: the study has no instances")));
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
                    "{url}: malformed multipart reply: part {} is not a DICOM file",
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
                "{url}: the server refused {failed} of {} instance(s)",
                files.len()
            )));
        }
        Ok(v["00081199"]["Value"]
            .as_array()
            .map_or(files.len(), Vec::len))
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
