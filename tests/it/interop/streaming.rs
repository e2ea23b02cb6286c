//! Streamed, bounded PACS transfers (issue: a PACS link a hospital can deploy): a 1 GiB study is
//! fetched with a small peak RSS; a reply that keeps trickling outlives `--timeout` (an idle
//! timeout, not an end-to-end one); one that stalls fails after `--timeout` seconds of silence;
//! an endless body stops at the instance or study limit. Each failure is one `error:` line and
//! leaves the project's folder as it was.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use vitscope::project::Project;

const STUDY: &str = "1.2.826.0.1.3680043.8.498.500";

/// How the test's server sends the study.
#[derive(Clone, Copy)]
enum Mode {
    /// `n` instances of `mb` MiB each, as fast as the socket takes them.
    Whole { n: u32, mb: usize },
    /// Two small instances in pieces of 4 KiB, `pause` between pieces.
    Trickle { pause: Duration },
    /// Half of one instance, then silence.
    Stall,
    /// One instance that never ends (a 3 GB reply and more).
    Endless,
}

/// CT_small as instance `k` of the study, with `mb` MiB of pixels (4096 columns of 16 bits).
fn instance(k: u32, mb: usize) -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
    use dicom_dictionary_std::tags;
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dicom/CT_small.dcm");
    let mut obj = dicom_object::open_file(file).unwrap();
    let sop = format!("{STUDY}.{k}");
    for (t, v) in [
        (tags::STUDY_INSTANCE_UID, STUDY.to_string()),
        (tags::SERIES_INSTANCE_UID, format!("{STUDY}.0")),
        (tags::SOP_INSTANCE_UID, sop.clone()),
    ] {
        obj.put(DataElement::new(t, VR::UI, v));
    }
    if mb > 0 {
        let rows = (mb << 20) / (4096 * 2);
        obj.put(DataElement::new(
            tags::ROWS,
            VR::US,
            dicom_value!(U16, [rows as u16]),
        ));
        obj.put(DataElement::new(
            tags::COLUMNS,
            VR::US,
            dicom_value!(U16, [4096]),
        ));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(vec![(k % 251) as u8; mb << 20].into()),
        ));
    }
    obj.update_meta(|m| m.media_storage_sop_instance_uid = sop);
    let mut out = Vec::new();
    obj.write_all(&mut out).unwrap();
    out
}

/// A one-connection-at-a-time WADO server on loopback.
fn serve(mode: Mode) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/dicom-web", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            crate::support::read_request_head(&mut s);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=zz\r\nConnection: close\r\n\r\n",
            );
            let head = b"--zz\r\nContent-Type: application/dicom\r\n\r\n";
            let _ = match mode {
                Mode::Whole { n, mb } => (1..=n)
                    .try_for_each(|k| {
                        s.write_all(head)?;
                        s.write_all(&instance(k, mb))?;
                        s.write_all(b"\r\n")
                    })
                    .and_then(|_| s.write_all(b"--zz--\r\n")),
                Mode::Trickle { pause } => {
                    let mut body = Vec::new();
                    for k in 1..=2 {
                        body.extend_from_slice(head);
                        body.extend_from_slice(&instance(k, 0));
                        body.extend_from_slice(b"\r\n");
                    }
                    body.extend_from_slice(b"--zz--\r\n");
                    body.chunks(4096).try_for_each(|c| {
                        std::thread::sleep(pause);
                        s.write_all(c).and_then(|_| s.flush())
                    })
                }
                Mode::Stall => {
                    let i = instance(1, 0);
                    s.write_all(head)
                        .and_then(|_| s.write_all(&i[..i.len() / 2]))
                        .map(|_| std::thread::sleep(Duration::from_secs(8)))
                }
                Mode::Endless => {
                    let i = instance(1, 0);
                    let zeros = vec![0u8; 1 << 20];
                    s.write_all(head)
                        .and_then(|_| s.write_all(&i))
                        .and_then(|_| (0..3 * 1024).try_for_each(|_| s.write_all(&zeros)))
                }
            };
        }
    });
    url
}

fn project(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("ward.ron");
    std::fs::write(&p, Project::default().to_ron()).unwrap();
    p
}

fn fetch(url: &str, project: &Path, extra: &[&str]) -> Command {
    let mut c = crate::support::vitscope();
    c.args(["pacs", "--url", url])
        .args(extra)
        .args(["fetch", "--study", STUDY, "--project"])
        .arg(project);
    c
}

/// Runs `c`, sampling the child's peak resident set (VmHWM) until it exits: (output, peak MiB).
fn run_measured(mut c: Command) -> (Output, u64) {
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = PathBuf::from(format!("/proc/{}/status", child.id()));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0u64;
        while !d.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(s) = std::fs::read_to_string(&status)
                && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
            {
                let kb: u64 = l
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                peak = peak.max(kb >> 10);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        peak
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    (out, sampler.join().unwrap())
}

#[test]
fn a_one_gib_study_streams_to_disk_with_a_small_peak_rss() {
    let dir = crate::support::scratch("pacs-stream-1g");
    let p = project(&dir);
    let url = serve(Mode::Whole { n: 32, mb: 32 });
    let t = Instant::now();
    let (out, peak) = run_measured(fetch(&url, &p, &["--timeout", "20"]));
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let open = vitscope::project::OpenProject::read(&p).unwrap();
    assert_eq!(open.project.images.len(), 32);
    let bytes: u64 = open
        .project
        .images
        .iter()
        .map(|e| std::fs::metadata(dir.join(&e.path)).unwrap().len())
        .sum();
    assert!(bytes > 1 << 30, "{bytes} bytes stored");
    eprintln!("1 GiB study: peak RSS {peak} MiB, {secs:.1} s");
    assert!(peak > 0 && peak < 200, "peak RSS {peak} MiB");
}

#[test]
fn a_trickling_reply_outlives_the_timeout_and_a_stalled_one_does_not() {
    let dir = crate::support::scratch("pacs-stream-idle");
    let p = project(&dir);
    // About 1.3 s of transfer in 4 KiB pieces 0.05 s apart, with a 1 s idle timeout.
    let url = serve(Mode::Trickle {
        pause: Duration::from_millis(50),
    });
    let t = Instant::now();
    let out = fetch(&url, &p, &["--timeout", "1"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.elapsed() > Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(
        vitscope::project::OpenProject::read(&p)
            .unwrap()
            .project
            .images
            .len(),
        2
    );

    let dir = crate::support::scratch("pacs-stream-stall");
    let p = project(&dir);
    let before = crate::support::tree(&dir);
    let url = serve(Mode::Stall);
    let t = Instant::now();
    let out = fetch(&url, &p, &["--timeout", "1"]).output().unwrap();
    let line = crate::support::one_error(&out, "a stalled reply");
    assert!(
        line.contains("idle timeout") && line.contains("1 s"),
        "{line}"
    );
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert_eq!(
        crate::support::tree(&dir),
        before,
        "a failed fetch left files"
    );
}

#[test]
fn an_endless_reply_stops_at_the_instance_and_study_limits() {
    for (extra, says) in [
        (["--max-instance", "16"], "instance limit of 16 MB"),
        (["--max-study", "24"], "study limit of 24 MB"),
    ] {
        let dir = crate::support::scratch("pacs-stream-limit");
        let p = project(&dir);
        let before = crate::support::tree(&dir);
        let url = serve(Mode::Endless);
        let (out, peak) = run_measured(fetch(&url, &p, &extra));
        let line = crate::support::one_error(&out, "an endless reply");
        assert!(line.contains(says), "{line}");
        assert!(peak < 200, "peak RSS {peak} MiB");
        assert_eq!(
            crate::support::tree(&dir),
            before,
            "a failed fetch left files"
        );
    }
}
