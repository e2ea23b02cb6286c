//! The PACS link as a hospital deploys it: a private CA (made here with openssl) trusted through
//! `--ca-file`, `VITSCOPE_PACS_CA` or the system's store; certificate problems named; an https
//! server that redirects to http refused; no credentials or patient identifiers in messages.
//! The TLS server is a small DICOMweb double in Python's standard library (`ssl`, `http.server`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::{one_error, scratch, vitscope};

/// A CA and server certificates signed by it, in `dir`.
struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A fresh CA under `tag`.
    fn new(tag: &str) -> Pki {
        let dir = scratch(&format!("tls-{tag}"));
        // A subject of its own: CAs of tests that run at once must not be taken for each other.
        let subject = format!("/CN=vitscope test CA {tag} {}", std::process::id());
        openssl(
            &dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "2", "-subj", &subject,
            ],
        );
        Pki { dir }
    }

    /// A server certificate `name.pem` / `name.key` for the subject alternative names `san`.
    fn server(&self, name: &str, san: &str) -> (PathBuf, PathBuf) {
        self.server_for(name, san, "2")
    }

    /// The same, valid for `days` from now (`-1`: expired yesterday).
    fn server_for(&self, name: &str, san: &str, days: &str) -> (PathBuf, PathBuf) {
        let ext = self.dir.join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!(
                "subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .unwrap();
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            &self.dir,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                "/CN=pacs",
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                days,
                "-extfile",
                ext.to_str().unwrap(),
            ],
        );
        (self.dir.join(pem), self.dir.join(key))
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

/// The DICOMweb double: QIDO answers one study; `redirect` answers every request with a
/// redirect to plain http.
const DOUBLE: &str = r#"
import http.server, ssl, sys
cert, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/dicom-web/studies")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "/series" in self.path:
            body = b"[]"
        else:
            body = b'[{"0020000D": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.9.7777.1"]}}]'
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// A running double, stopped when dropped.
struct Double {
    child: Child,
    port: u16,
}

impl Double {
    fn start(cert: &Path, key: &Path, mode: &str) -> Double {
        let mut child = Command::new("python3")
            .args(["-c", DOUBLE])
            .arg(cert)
            .arg(key)
            .arg(mode)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the double prints its port");
        Double { child, port }
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/dicom-web", self.port)
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn search(url: &str, extra: &[&str]) -> Command {
    let mut c = vitscope();
    c.args(["pacs", "--timeout", "10", "--url", url])
        .args(extra)
        .arg("search");
    c
}

#[test]
fn a_private_ca_is_trusted_through_ca_file_or_the_environment_and_unknown_otherwise() {
    let pki = Pki::new("ca-file");
    let (cert, key) = pki.server("ip", "IP:127.0.0.1,DNS:localhost");
    let d = Double::start(&cert, &key, "ok");
    // Not trusted: one error that names the problem and the fix.
    let out = search(&d.url("127.0.0.1"), &[]).output().unwrap();
    let e = one_error(&out, "unknown CA");
    assert!(
        e.contains("unknown issuer") && e.contains("--ca-file"),
        "{e}"
    );
    // --ca-file, for an IP address and for a host name.
    for host in ["127.0.0.1", "localhost"] {
        let ca = pki.ca();
        let out = search(&d.url(host), &["--ca-file", ca.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1.2.826.0.1.3680043.9.7777.1"),
            "{host}: the study is listed"
        );
    }
    // VITSCOPE_PACS_CA.
    let out = search(&d.url("127.0.0.1"), &[])
        .env("VITSCOPE_PACS_CA", pki.ca())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A CA file that is not one: an error naming it.
    let bogus = pki.dir.join("not-a-ca.pem");
    std::fs::write(&bogus, "hello").unwrap();
    let out = search(&d.url("127.0.0.1"), &["--ca-file", bogus.to_str().unwrap()])
        .output()
        .unwrap();
    let e = one_error(&out, "bogus CA file");
    assert!(
        e.contains("not-a-ca.pem") && e.contains("no PEM certificate"),
        "{e}"
    );
}

#[test]
fn a_name_mismatch_an_expired_certificate_and_a_redirect_to_http_are_refused_with_their_reason() {
    let pki = Pki::new("mismatch");
    let ca = pki.ca();
    let ca = ca.to_str().unwrap();
    let (cert, key) = pki.server("other", "DNS:other.example");
    let d = Double::start(&cert, &key, "ok");
    let out = search(&d.url("127.0.0.1"), &["--ca-file", ca])
        .output()
        .unwrap();
    let e = one_error(&out, "name mismatch");
    assert!(e.contains("name mismatch"), "{e}");

    let (cert, key) = pki.server("redirect", "IP:127.0.0.1");
    let d = Double::start(&cert, &key, "redirect");
    let out = search(&d.url("127.0.0.1"), &["--ca-file", ca])
        .output()
        .unwrap();
    let e = one_error(&out, "redirect");
    assert!(e.contains("redirected to plain http"), "{e}");

    // Expired yesterday: the reason, and what to do about it.
    let (cert, key) = pki.server_for("expired", "IP:127.0.0.1", "-1");
    let d = Double::start(&cert, &key, "ok");
    let out = search(&d.url("127.0.0.1"), &["--ca-file", ca])
        .output()
        .unwrap();
    let e = one_error(&out, "expired");
    assert!(e.contains("expired") && e.contains("renew"), "{e}");
}

#[test]
fn credentials_in_the_url_are_refused_and_patient_keys_never_printed() {
    let out = vitscope()
        .args([
            "pacs",
            "--url",
            "http://alice:s3cr3t@127.0.0.1:1/dicom-web",
            "search",
        ])
        .output()
        .unwrap();
    let e = one_error(&out, "credentials in the URL");
    let all = String::from_utf8_lossy(&out.stderr);
    assert!(!all.contains("s3cr3t") && !all.contains("alice"), "{all}");
    assert!(e.contains("VITSCOPE_PACS_USER"), "{e}");

    // A server that is down: the search URL is printed with the patient's ID redacted.
    let out = vitscope()
        .args([
            "pacs",
            "--timeout",
            "5",
            "--url",
            "http://127.0.0.1:1/dicom-web",
            "search",
            "--patient-id",
            "12345678",
        ])
        .env("VITSCOPE_PACS_USER", "alice")
        .env("VITSCOPE_PACS_PASSWORD", "s3cr3t")
        .output()
        .unwrap();
    let e = one_error(&out, "server down");
    let all = String::from_utf8_lossy(&out.stderr);
    assert!(
        !all.contains("12345678") && !all.contains("s3cr3t"),
        "{all}"
    );
    assert!(e.contains("PatientID=<redacted>"), "{e}");
    // Credentials over plain http: one warning.
    assert_eq!(
        all.lines().filter(|l| l.starts_with("warning:")).count(),
        1,
        "{all}"
    );
    assert!(all.contains("unencrypted"), "{all}");
}

/// Installs a CA into the system's store (Debian's update-ca-certificates) and always takes it
/// out again.
struct SystemCa {
    file: PathBuf,
}

impl SystemCa {
    fn install(ca: &Path) -> Option<SystemCa> {
        let dir = Path::new("/usr/local/share/ca-certificates");
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !is_root || !dir.is_dir() {
            return None;
        }
        let file = dir.join(format!("vitscope-test-{}.crt", std::process::id()));
        std::fs::copy(ca, &file).unwrap();
        let guard = SystemCa { file };
        let ok = Command::new("update-ca-certificates")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(guard)
    }
}

impl Drop for SystemCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = Command::new("update-ca-certificates")
            .arg("--fresh")
            .stdout(Stdio::null())
            .status();
    }
}

#[test]
fn a_ca_in_the_system_store_is_trusted() {
    let pki = Pki::new("system");
    let (cert, key) = pki.server("ip", "IP:127.0.0.1");
    let d = Double::start(&cert, &key, "ok");
    let Some(installed) = SystemCa::install(&pki.ca()) else {
        panic!("this test installs a CA with update-ca-certificates and needs root (as CI has)");
    };
    let out = search(&d.url("127.0.0.1"), &[]).output().unwrap();
    drop(installed);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Taken out again: unknown once more.
    let out = search(&d.url("127.0.0.1"), &[]).output().unwrap();
    let e = one_error(&out, "after removal");
    assert!(e.contains("unknown issuer"), "{e}");
}
