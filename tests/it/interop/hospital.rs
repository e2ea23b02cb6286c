//! The hospital round trip against real clients that vitscope did not write: a local Orthanc
//! with its DICOMweb plugin (Debian `orthanc`, `orthanc-dicomweb`), `dciodvfy` (Debian
//! `dicom3tools`), and highdicom and nibabel (PyPI) reading the exports back. `.ci/run` installs
//! all of them; each test starts its own Orthanc on a free loopback port and stops it.
//!
//! Python comes from `$VITSCOPE_PYTHON` (default `python3`).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::scratch;

const USER: &str = "vitscope";
const PASSWORD: &str = "round-trip";

fn bin() -> Command {
    crate::support::vitscope()
}

fn ok(out: Output, what: &str) -> String {
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{e}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn python() -> Command {
    Command::new(std::env::var("VITSCOPE_PYTHON").unwrap_or_else(|_| "python3".into()))
}

/// Runs the Python `script` with `args`, which must succeed; its stdout.
fn run_python<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) -> Vec<u8> {
    let out = python().arg("-c").arg(script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private Orthanc with the DICOMweb plugin; stopped on drop.
struct Orthanc {
    child: Child,
    port: u16,
}

impl Orthanc {
    fn start(dir: &Path) -> Orthanc {
        let plugin = ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("the Orthanc DICOMweb plugin is missing: apt-get install orthanc orthanc-dicomweb (.ci/run does)");
        let port = free_port();
        let db = dir.join("orthanc-db");
        std::fs::create_dir_all(&db).unwrap();
        let config = serde_json::json!({
            "Name": "vitscope-test",
            "StorageDirectory": db, "IndexDirectory": db,
            "HttpPort": port, "DicomServerEnabled": false, "RemoteAccessAllowed": false,
            "AuthenticationEnabled": true, "RegisteredUsers": { USER: PASSWORD },
            "Plugins": [plugin], "DicomWeb": { "Enable": true, "Root": "/dicom-web/" }
        });
        let cfg = dir.join("orthanc.json");
        std::fs::write(&cfg, config.to_string()).unwrap();
        let child = Command::new("Orthanc")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "Orthanc is not installed: apt-get install orthanc orthanc-dicomweb (.ci/run does)",
            );
        let o = Orthanc { child, port };
        let t = Instant::now();
        loop {
            if o.rest_get("/system").is_ok_and(|s| s == 200) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "Orthanc did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        o
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into()
    }

    fn basic() -> String {
        let s = format!("{USER}:{PASSWORD}");
        let out = Command::new("base64")
            .arg("-w0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(s.as_bytes())?;
                c.wait_with_output()
            });
        format!("Basic {}", String::from_utf8(out.unwrap().stdout).unwrap())
    }

    fn rest_get(&self, path: &str) -> Result<u16, ureq::Error> {
        Self::agent()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .header("Authorization", Self::basic())
            .call()
            .map(|r| r.status().as_u16())
    }

    /// Uploads a file through Orthanc's own REST API (not DICOMweb).
    fn upload(&self, file: &Path) {
        let data = std::fs::read(file).unwrap();
        let r = Self::agent()
            .post(format!("http://127.0.0.1:{}/instances", self.port))
            .header("Authorization", Self::basic())
            .send(&data[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "upload {}", file.display());
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/dicom-web", self.port)
    }

    fn pacs(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.env("VITSCOPE_PACS_USER", USER)
            .env("VITSCOPE_PACS_PASSWORD", PASSWORD)
            .args(["pacs", "--url", &self.url()])
            .args(args);
        c
    }
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        // SIGTERM, as the spec asks; Orthanc stops in a second or two.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/dicom")
        .join(name)
}

fn empty_project(path: &Path) {
    std::fs::write(
        path,
        "(\n    version: 1,\n    classes: [(name: \"lesion\", color: (255, 64, 160)), (name: \"organ\", color: (64, 200, 255))],\n    checkpoints: [],\n    images: [],\n)\n",
    )
    .unwrap();
}

/// A two-class mask of `w × h` (class 1 a rectangle, class 2 an odd-shaped disc).
fn write_mask(path: &Path, w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as i64 - 80, y as i64 - 70);
        image::Luma([if (20..50).contains(&x) && (30..61).contains(&y) {
            1
        } else if dx * dx + 2 * dy * dy < 300 {
            2
        } else {
            0
        }])
    });
    img.save(path).unwrap();
    img.into_raw()
}

fn set_mask(project: &Path, image: usize, mask: &Path) {
    let mut p = vitscope::project::Project::load(project).unwrap();
    p.images[image].mask = Some(mask.to_path_buf());
    std::fs::write(project, p.to_ron()).unwrap();
}

fn dciodvfy_clean(file: &Path) {
    let out = Command::new("dciodvfy")
        .arg(file)
        .output()
        .expect("dciodvfy is not installed: apt-get install dicom3tools (.ci/run does)");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("Error")).collect();
    assert!(
        errors.is_empty(),
        "dciodvfy {}:\n{}",
        file.display(),
        errors.join("\n")
    );
}

/// highdicom reads the SEG back: labels in order and every segment's pixels (as class ids,
/// row-major) printed as JSON.
fn highdicom_read(seg: &Path) -> serde_json::Value {
    let script = r#"
import json, sys
import numpy as np
import highdicom as hd
seg = hd.seg.segread(sys.argv[1])
src = seg.get_source_image_uids()[0][2]
labels, masks = [], []
for s in seg.SegmentSequence:
    a = seg.get_pixels_by_source_instance(source_sop_instance_uids=[src], segment_numbers=[s.SegmentNumber])
    masks.append(np.asarray(a)[0, ..., 0].astype(int).ravel().tolist())
    labels.append(s.SegmentLabel)
print(json.dumps({"source": src, "labels": labels, "masks": masks}))
"#;
    let out = python().arg("-c").arg(script).arg(seg).output().unwrap();
    assert!(
        out.status.success(),
        "highdicom failed (pip install highdicom; .ci/run does):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn class_masks(labels: &[u8]) -> Vec<Vec<i64>> {
    let mut classes: Vec<u8> = labels.iter().copied().filter(|&v| v > 0).collect();
    classes.sort_unstable();
    classes.dedup();
    classes
        .iter()
        .map(|&c| labels.iter().map(|&v| (v == c) as i64).collect())
        .collect()
}

fn read_png(path: &Path) -> Vec<u8> {
    image::open(path).unwrap().to_luma8().into_raw()
}

#[test]
fn orthanc_to_vitscope_to_seg_to_orthanc_to_highdicom() {
    let dir = scratch("hospital-round-trip");
    let orthanc = Orthanc::start(&dir);
    for f in ["CT_small.dcm", "MR_small.dcm"] {
        orthanc.upload(&data(f));
    }
    // Search.
    let out = ok(
        orthanc
            .pacs(&["search", "--modality", "CT", "--json"])
            .output()
            .unwrap(),
        "pacs search",
    );
    let studies: serde_json::Value = serde_json::from_str(&out).unwrap();
    let studies = studies.as_array().unwrap();
    assert_eq!(studies.len(), 1, "{out}");
    let study = studies[0]["study"].as_str().unwrap().to_string();
    assert_eq!(studies[0]["series"].as_array().unwrap().len(), 1);
    let all = ok(
        orthanc.pacs(&["search", "--json"]).output().unwrap(),
        "search all",
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&all)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Fetch into an empty project.
    let project = dir.join("ward.ron");
    empty_project(&project);
    ok(
        orthanc
            .pacs(&["fetch", "--study", &study, "--project"])
            .arg(&project)
            .output()
            .unwrap(),
        "pacs fetch",
    );
    let p = vitscope::project::Project::load(&project).unwrap();
    assert_eq!(p.images.len(), 1);
    let image = dir.join(&p.images[0].path);
    // It opens as an image: explain it with the bundled model.
    ok(
        bin()
            .args(["explain", "--method", "attention", "--json", "--image"])
            .arg(&image)
            .output()
            .unwrap(),
        "explain the fetched image",
    );
    // Annotate (a two-class mask), export the SEG.
    let (w, h) = vitscope::io::image::dimensions(&image).unwrap();
    let mask_file = dir.join("ct_mask.png");
    let labels = write_mask(&mask_file, w as u32, h as u32);
    set_mask(&project, 0, &mask_file);
    let before = std::fs::read(&project).unwrap();
    let out_dir = dir.join("export");
    ok(
        bin()
            .args(["export", "--format", "seg", "--project"])
            .arg(&project)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap(),
        "export seg",
    );
    assert_eq!(
        std::fs::read(&project).unwrap(),
        before,
        "export changed the project"
    );
    let seg = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".seg.dcm"))
        .unwrap();
    dciodvfy_clean(&seg);
    // Store it and read it back through Orthanc.
    ok(
        orthanc.pacs(&["store"]).arg(&seg).output().unwrap(),
        "pacs store",
    );
    let out = ok(
        orthanc
            .pacs(&["search", "--modality", "SEG", "--json"])
            .output()
            .unwrap(),
        "search SEG",
    );
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        found[0]["study"],
        study.as_str(),
        "the SEG is in the CT's study"
    );
    let client = vitscope::interop::dicomweb::Client::new(
        &orthanc.url(),
        vitscope::interop::dicomweb::Auth::Basic(USER.into(), PASSWORD.into()),
        Duration::from_secs(30),
    )
    .unwrap();
    let back = client.fetch_study(&study, &dir.join("back")).unwrap();
    let seg_back = back
        .iter()
        .find(|f| {
            vitscope::interop::seg::source_from_dicom(f)
                .is_ok_and(|s| s.sop_class == vitscope::interop::seg::SEG_SOP_CLASS)
        })
        .expect("the SEG came back from Orthanc");
    let hd = highdicom_read(seg_back);
    assert_eq!(hd["labels"], serde_json::json!(["lesion", "organ"]));
    let want = class_masks(&labels);
    assert_eq!(hd["masks"], serde_json::json!(want), "highdicom's masks");
    let src = vitscope::interop::seg::source_from_dicom(&image).unwrap();
    assert_eq!(hd["source"], src.sop_instance.as_str());
    // Import it into a fresh project holding the fetched image: the same mask.
    let fresh = dir.join("fresh.ron");
    empty_project(&fresh);
    ok(
        orthanc
            .pacs(&["fetch", "--study", &study, "--project"])
            .arg(&fresh)
            .output()
            .unwrap(),
        "fetch into the fresh project",
    );
    ok(
        bin()
            .args(["import", "--project"])
            .arg(&fresh)
            .arg("--from")
            .arg(seg_back)
            .output()
            .unwrap(),
        "import the SEG",
    );
    let q = vitscope::project::Project::load(&fresh).unwrap();
    let m = read_png(&dir.join(q.images[0].mask.as_ref().unwrap()));
    assert_eq!(m, labels, "the re-imported mask");
    assert_eq!(q.classes.len(), 2);

    // Network errors: one clear line each, nothing changed.
    let before = std::fs::read(&fresh).unwrap();
    let mut c = bin();
    c.env("VITSCOPE_PACS_USER", USER)
        .env("VITSCOPE_PACS_PASSWORD", "wrong")
        .args(["pacs", "--url", &orthanc.url(), "search"]);
    let line = crate::support::one_error(&c.output().unwrap(), "wrong password");
    assert!(line.contains("authentication"), "{line}");
    let line = crate::support::one_error(
        &orthanc
            .pacs(&["fetch", "--study", "1.2.3.4.5", "--project"])
            .arg(&fresh)
            .output()
            .unwrap(),
        "unknown study",
    );
    assert!(line.contains("404"), "{line}");
    assert_eq!(
        std::fs::read(&fresh).unwrap(),
        before,
        "a failed fetch changed the project"
    );
}

#[test]
fn seg_png_source_nifti_and_bad_inputs() {
    let dir = scratch("hospital-files");
    // A project of a PNG image (a Secondary Capture goes out with its SEG) and a DICOM one.
    let png = dir.join("frame.png");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/images/polyp_00000.png"),
        &png,
    )
    .unwrap();
    let ct = dir.join("ct.dcm");
    std::fs::copy(data("CT_small.dcm"), &ct).unwrap();
    let project = dir.join("p.ron");
    empty_project(&project);
    let mut p = vitscope::project::Project::load(&project).unwrap();
    for f in ["frame.png", "ct.dcm"] {
        p.images.push(vitscope::project::ImageEntry::new(f.into()));
    }
    std::fs::write(&project, p.to_ron()).unwrap();
    let l_png = write_mask(&dir.join("frame_mask.png"), 224, 224);
    let l_ct = write_mask(&dir.join("ct_mask.png"), 128, 128);
    set_mask(&project, 0, &dir.join("frame_mask.png"));
    set_mask(&project, 1, &dir.join("ct_mask.png"));
    let export = |format: &str| {
        let out = dir.join(format);
        ok(
            bin()
                .args(["export", "--format", format, "--project"])
                .arg(&project)
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap(),
            format,
        );
        out
    };
    let seg_dir = export("seg");
    for f in ["frame.seg.dcm", "frame.sc.dcm", "ct.seg.dcm"] {
        dciodvfy_clean(&seg_dir.join(f));
    }
    let hd = highdicom_read(&seg_dir.join("frame.seg.dcm"));
    assert_eq!(hd["masks"], serde_json::json!(class_masks(&l_png)));
    // NIfTI, read by nibabel: [x = column, y = row, z], and the DICOM affine in RAS.
    let nii = export("nifti");
    let script = r#"
import json, sys
import nibabel as nib, numpy as np
out = {}
for name in sys.argv[1:]:
    img = nib.load(name)
    a = np.asarray(img.dataobj)
    out[name] = {"shape": list(a.shape), "rowmajor": a[:, :, 0].T.astype(int).ravel().tolist(),
                 "affine": img.affine.tolist(), "sform": int(img.header["sform_code"])}
print(json.dumps(out))
"#;
    let (fp, fc) = (nii.join("frame.nii.gz"), nii.join("ct.nii.gz"));
    let out = python()
        .arg("-c")
        .arg(script)
        .arg(&fp)
        .arg(&fc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nibabel: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &j[fp.to_string_lossy().as_ref()];
    let c = &j[fc.to_string_lossy().as_ref()];
    assert_eq!(f["shape"], serde_json::json!([224, 224, 1]));
    assert_eq!(
        f["rowmajor"],
        serde_json::json!(l_png.iter().map(|&v| v as i64).collect::<Vec<_>>())
    );
    assert_eq!(
        c["rowmajor"],
        serde_json::json!(l_ct.iter().map(|&v| v as i64).collect::<Vec<_>>())
    );
    // CT_small: PixelSpacing 0.661468, identity orientation, IPP (-158.135803, -179.035797, -75.699997).
    let a = &c["affine"];
    let near = |v: &serde_json::Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-4;
    assert!(
        near(&a[0][0], -0.661468) && near(&a[1][1], -0.661468),
        "{a}"
    );
    assert!(
        near(&a[0][3], 158.135803) && near(&a[1][3], 179.035797) && near(&a[2][3], -75.699997),
        "{a}"
    );
    assert!(c["sform"].as_i64().unwrap() > 0);
    assert!(near(&f["affine"][0][0], 1.0) && near(&f["affine"][1][1], 1.0));

    // Import each format into a project without masks: the same masks. A SEG brings its
    // segments' labels as classes; NIfTI ids above the class list need --add-classes.
    for (format, from) in [("seg", seg_dir.clone()), ("nifti", nii.clone())] {
        let q = dir.join(format!("import_{format}.ron"));
        let mut p = vitscope::project::Project::load(&project).unwrap();
        p.images.iter_mut().for_each(|e| e.mask = None);
        p.classes.truncate(1);
        std::fs::write(&q, p.to_ron()).unwrap();
        let import = |extra: &[&str]| {
            bin()
                .args(["import", "--project"])
                .arg(&q)
                .arg("--from")
                .arg(&from)
                .args(extra)
                .output()
                .unwrap()
        };
        if format == "nifti" {
            let before = std::fs::read(&q).unwrap();
            let line = crate::support::one_error(&import(&[]), "ids above the class list");
            assert!(line.contains("--add-classes"), "{line}");
            assert_eq!(std::fs::read(&q).unwrap(), before, "a refused import wrote");
            ok(import(&["--add-classes"]), "import nifti --add-classes");
        } else {
            ok(import(&[]), &format!("import {format}"));
        }
        let p = vitscope::project::Project::load(&q).unwrap();
        for (i, want) in [(0, &l_png), (1, &l_ct)] {
            let m = read_png(&dir.join(p.images[i].mask.as_ref().unwrap()));
            assert_eq!(&m, want, "{format}: image {i}");
        }
        assert_eq!(p.classes.len(), 2, "{format}: the second class comes back");
    }

    // Bad inputs: one error naming the source; the project file byte-identical.
    let before = std::fs::read(&project).unwrap();
    let liver = data("liver_1frame.dcm");
    let line = crate::support::one_error(
        &bin()
            .args(["import", "--project"])
            .arg(&project)
            .arg("--from")
            .arg(&liver)
            .output()
            .unwrap(),
        "a SEG of an image not in the project",
    );
    assert!(
        line.contains("liver_1frame.dcm") && line.contains("not in"),
        "{line}"
    );
    // A SEG whose frames do not match the image's size.
    let obj = dicom_object::open_file(seg_dir.join("ct.seg.dcm")).unwrap();
    let mut obj = obj;
    obj.put(dicom_core::DataElement::new(
        dicom_dictionary_std::tags::ROWS,
        dicom_core::VR::US,
        dicom_core::dicom_value!(U16, [64]),
    ));
    let small = dir.join("small.seg.dcm");
    obj.write_to_file(&small).unwrap();
    let line = crate::support::one_error(
        &bin()
            .args(["import", "--project"])
            .arg(&project)
            .arg("--from")
            .arg(&small)
            .output()
            .unwrap(),
        "a SEG of the wrong size",
    );
    assert!(line.contains("small.seg.dcm"), "{line}");
    // A corrupt NIfTI named after an image.
    let bad = dir.join("ct.nii");
    std::fs::write(&bad, b"\x5c\x01\x00\x00 not really a header").unwrap();
    let line = crate::support::one_error(
        &bin()
            .args(["import", "--project"])
            .arg(&project)
            .arg("--from")
            .arg(&bad)
            .output()
            .unwrap(),
        "a corrupt NIfTI",
    );
    assert!(line.contains("ct.nii"), "{line}");
    let mut trunc = std::fs::read(nii.join("ct.nii.gz")).unwrap();
    trunc.truncate(trunc.len() / 2);
    let t = dir.join("ct_trunc").join("ct.nii.gz");
    std::fs::create_dir_all(t.parent().unwrap()).unwrap();
    std::fs::write(&t, trunc).unwrap();
    let line = crate::support::one_error(
        &bin()
            .args(["import", "--project"])
            .arg(&project)
            .arg("--from")
            .arg(&t)
            .output()
            .unwrap(),
        "a truncated NIfTI",
    );
    assert!(line.contains("ct.nii.gz"), "{line}");
    assert_eq!(
        std::fs::read(&project).unwrap(),
        before,
        "a failed import changed the project"
    );
}

/// A one-shot HTTP server on loopback answering `reply` to the first request; returns its URL
/// and a handle giving the request it saw.
fn fake_server(reply: Vec<u8>, delay: Duration) -> (String, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/dicom-web", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut req = vec![0u8; 8192];
        let n = s.read(&mut req).unwrap_or(0);
        std::thread::sleep(delay);
        let _ = s.write_all(&reply);
        String::from_utf8_lossy(&req[..n]).into_owned()
    });
    (url, h)
}

#[test]
fn dicomweb_errors_and_the_bearer_token() {
    // The bearer token goes out as such (Orthanc 1.10 only does basic authentication).
    let body = b"[]";
    let reply = [
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes(),
        body.to_vec(),
    ]
    .concat();
    let (url, h) = fake_server(reply, Duration::ZERO);
    let out = bin()
        .env("VITSCOPE_PACS_TOKEN", "t0ken")
        .args(["pacs", "--url", &url, "search", "--json"])
        .output()
        .unwrap();
    assert_eq!(ok(out, "search with a token").trim(), "[]");
    let req = h.join().unwrap();
    assert!(
        req.contains("Authorization: Bearer t0ken") || req.contains("authorization: Bearer t0ken"),
        "{req}"
    );
    // A malformed multipart reply to a fetch.
    let dir = scratch("hospital-errors");
    let project = dir.join("p.ron");
    empty_project(&project);
    let before = std::fs::read(&project).unwrap();
    let junk = b"--xyz\r\nContent-Type: application/dicom\r\n\r\nnot dicom at all";
    let reply = [
        format!("HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=xyz\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", junk.len()).into_bytes(),
        junk.to_vec(),
    ]
    .concat();
    let (url, _h) = fake_server(reply, Duration::ZERO);
    let line = crate::support::one_error(
        &bin()
            .args([
                "pacs",
                "--url",
                &url,
                "fetch",
                "--study",
                "1.2.3",
                "--project",
            ])
            .arg(&project)
            .output()
            .unwrap(),
        "malformed multipart",
    );
    assert!(line.contains("malformed multipart"), "{line}");
    // Garbage where JSON is due.
    let reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{{{{{".to_vec();
    let (url, _h) = fake_server(reply, Duration::ZERO);
    let line = crate::support::one_error(
        &bin()
            .args(["pacs", "--url", &url, "search"])
            .output()
            .unwrap(),
        "garbage JSON",
    );
    assert!(line.contains("DICOM JSON"), "{line}");
    // A server that does not answer in time.
    let (url, _h) = fake_server(Vec::new(), Duration::from_secs(4));
    let line = crate::support::one_error(
        &bin()
            .args(["pacs", "--url", &url, "--timeout", "1", "search"])
            .output()
            .unwrap(),
        "timeout",
    );
    assert!(
        line.contains("timeout") || line.contains("in time"),
        "{line}"
    );
    // Nobody listening.
    let port = free_port();
    let line = crate::support::one_error(
        &bin()
            .args([
                "pacs",
                "--url",
                &format!("http://127.0.0.1:{port}/dicom-web"),
                "search",
            ])
            .output()
            .unwrap(),
        "server down",
    );
    assert!(line.to_lowercase().contains("connect"), "{line}");
    assert_eq!(std::fs::read(&project).unwrap(), before);
    // No URL at all.
    let line =
        crate::support::one_error(&bin().args(["pacs", "search"]).output().unwrap(), "no URL");
    assert!(line.contains("VITSCOPE_PACS_URL"), "{line}");
}

/// pydicom's own SEG test files (1-bit frames, little- and big-endian explicit VR) read as
/// pydicom reads them: the same label, referenced image and every pixel.
#[test]
fn pydicom_seg_test_files_read_as_pydicom_reads_them() {
    for f in ["liver_1frame.dcm", "liver_expb_1frame.dcm"] {
        let path = data(f);
        let all = vitscope::interop::seg::read_seg(&path).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(all.sources.len(), 1, "{f}: one source image");
        let r = &all.sources[0];
        let script = r#"
import json, sys
import numpy as np, pydicom
d = pydicom.dcmread(sys.argv[1])
a = d.pixel_array.astype(bool)
src = d.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
print(json.dumps({"rows": int(d.Rows), "cols": int(d.Columns),
                  "label": str(d.SegmentSequence[0].SegmentLabel),
                  "source": str(src.ReferencedSOPInstanceUID),
                  "bits": np.packbits(a.ravel(), bitorder="little").tobytes().hex()}))
"#;
        let out = python().arg("-c").arg(script).arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "pydicom: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (all.rows as u64, all.cols as u64),
            (j["rows"].as_u64().unwrap(), j["cols"].as_u64().unwrap())
        );
        assert_eq!(r.segments.len(), 1, "{f}");
        assert_eq!(r.segments[0].0, j["label"].as_str().unwrap());
        assert_eq!(r.sop_instance, j["source"].as_str().unwrap());
        let ours = vitscope::interop::seg::pack_bits(&[&r.segments[0].2]);
        let hex: String = ours[..all.rows * all.cols / 8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, j["bits"].as_str().unwrap(), "{f}: pixels");
        assert!(r.segments[0].2.iter().any(|&v| v), "{f}: an empty segment");
    }
}

/// Frames that do not fill whole bytes (7 × 9 = 63 bits each, PS3.5 8.1.1): vitscope's SEG
/// packs them back to back, reads them back, and highdicom reads the same pixels.
#[test]
fn one_bit_frames_that_do_not_fill_whole_bytes() {
    use vitscope::interop::seg;
    let dir = scratch("hospital-63-bits");
    let (rows, cols) = (9, 7);
    let masks: Vec<Vec<bool>> = (0..3)
        .map(|k| {
            (0..rows * cols)
                .map(|i| (i * (k + 2) + k) % 5 < 2)
                .collect()
        })
        .collect();
    let rgb = vec![128u8; rows * cols * 3];
    let uids = vitscope::project::identity::capture_uids(&vitscope::project::Identity::Sha256(
        vitscope::project::identity::sha256_hex(&rgb),
    ));
    let sc = dir.join("tiny.sc.dcm");
    let source = seg::write_secondary_capture(&rgb, cols, rows, "tiny", &uids, &sc).unwrap();
    let segments: Vec<seg::Segment> = masks
        .iter()
        .enumerate()
        .map(|(k, m)| seg::Segment {
            number: k as u16 + 1,
            label: format!("s{k}"),
            colour: [200, 30 * k as u8, 60],
            mask: m.clone(),
        })
        .collect();
    let file = dir.join("tiny.seg.dcm");
    seg::write_seg(&source, &segments, &file).unwrap();
    dciodvfy_clean(&file);
    dciodvfy_clean(&sc);
    let back = seg::read_seg(&file).unwrap();
    assert_eq!((back.rows, back.cols), (rows, cols));
    assert_eq!(back.sources.len(), 1);
    for (k, (label, _, m)) in back.sources[0].segments.iter().enumerate() {
        assert_eq!(label, &format!("s{k}"));
        assert_eq!(m, &masks[k], "segment {k}");
    }
    let hd = highdicom_read(&file);
    let want: Vec<Vec<i64>> = masks
        .iter()
        .map(|m| m.iter().map(|&v| v as i64).collect())
        .collect();
    assert_eq!(hd["masks"], serde_json::json!(want), "highdicom");
}

/// NIfTI import honours the affine: nibabel rewrites exported masks in other orientations (LPS,
/// rows flipped, transposed, qform only) and each lands on its image exactly as exported, for a
/// PNG image, an axis-aligned CT and a CT on an oblique plane; a rotated or shifted grid is
/// refused and changes nothing; the same voxels with the opposite row direction land mirrored.
#[test]
fn nifti_in_every_orientation_lands_on_its_image() {
    let dir = scratch("hospital-nifti-affine");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/images/polyp_00000.png"),
        dir.join("frame.png"),
    )
    .unwrap();
    std::fs::copy(data("CT_small.dcm"), dir.join("ct.dcm")).unwrap();
    // The same CT on a plane turned 30° about the patient's z axis, as a new instance.
    let script = r#"
import sys, math, pydicom
d = pydicom.dcmread(sys.argv[1])
c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
d.ImageOrientationPatient = [round(c, 6), round(s, 6), 0, round(-s, 6), round(c, 6), 0]
d.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
d.save_as(sys.argv[2])
"#;
    run_python(script, &[data("CT_small.dcm"), dir.join("oblique.dcm")]);
    let project = dir.join("p.ron");
    empty_project(&project);
    let mut p = vitscope::project::Project::load(&project).unwrap();
    for f in ["frame.png", "ct.dcm", "oblique.dcm"] {
        p.images.push(vitscope::project::ImageEntry::new(f.into()));
    }
    std::fs::write(&project, p.to_ron()).unwrap();
    let want = [
        write_mask(&dir.join("m0.png"), 224, 224),
        write_mask(&dir.join("m1.png"), 128, 128),
        write_mask(&dir.join("m2.png"), 128, 128),
    ];
    for i in 0..3 {
        set_mask(&project, i, &dir.join(format!("m{i}.png")));
    }
    let nii = dir.join("nifti");
    ok(
        bin()
            .args(["export", "--format", "nifti", "--project"])
            .arg(&project)
            .arg("--out")
            .arg(&nii)
            .output()
            .unwrap(),
        "export nifti",
    );
    // nibabel writes each variant into a folder of its own, with the export's manifest.
    let script = r#"
import sys, os, shutil
import numpy as np, nibabel as nib
from nibabel.orientations import io_orientation, axcodes2ornt, ornt_transform
src, out = sys.argv[1], sys.argv[2]
def save(name, f, img):
    os.makedirs(os.path.join(out, name), exist_ok=True)
    shutil.copy(os.path.join(src, "manifest.csv"), os.path.join(out, name))
    nib.save(img, os.path.join(out, name, f))
for f in ["frame.nii.gz", "ct.nii.gz", "oblique.nii.gz"]:
    img = nib.load(os.path.join(src, f))
    lps = ornt_transform(io_orientation(img.affine), axcodes2ornt(("L", "P", "S")))
    save("lps", f, img.as_reoriented(lps))
    save("rows_flipped", f, img.as_reoriented([[0, 1], [1, -1], [2, 1]]))
    save("transposed", f, img.as_reoriented([[1, 1], [0, 1], [2, 1]]))
    q = img.as_reoriented([[1, -1], [0, -1], [2, 1]])
    q.set_qform(q.affine, code=1)
    q.set_sform(None, code=0)
    save("transposed_flipped_qform", f, q)
    data = np.asarray(img.dataobj)
    a = img.affine.copy()
    if f == "ct.nii.gz":
        t = np.radians(20)
        r = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
        rot = a.copy(); rot[:3, :3] = r @ a[:3, :3]
        save("rotated", f, nib.Nifti1Image(data, rot, img.header))
        sh = a.copy(); sh[:3, 3] += 3 * a[:3, 0]
        save("shifted", f, nib.Nifti1Image(data, sh, img.header))
    if f == "frame.nii.gz":
        m = a.copy(); m[:3, 1] *= -1; m[:3, 3] -= (data.shape[1] - 1) * m[:3, 1]
        save("mirrored", f, nib.Nifti1Image(data, m, img.header))
"#;
    let variants = dir.join("variants");
    run_python(script, &[&nii, &variants]);
    let fresh = |name: &str| {
        let q = dir.join(format!("{name}.ron"));
        let mut p = vitscope::project::Project::load(&project).unwrap();
        p.images.iter_mut().for_each(|e| e.mask = None);
        std::fs::write(&q, p.to_ron()).unwrap();
        q
    };
    let import = |q: &Path, from: &Path| {
        bin()
            .args(["import", "--project"])
            .arg(q)
            .arg("--from")
            .arg(from)
            .output()
            .unwrap()
    };
    let masks = |q: &Path| -> Vec<Vec<u8>> {
        let p = vitscope::project::Project::load(q).unwrap();
        (0..3)
            .map(|i| read_png(&dir.join(p.images[i].mask.as_ref().unwrap())))
            .collect()
    };
    for name in [
        "lps",
        "rows_flipped",
        "transposed",
        "transposed_flipped_qform",
    ] {
        let q = fresh(name);
        ok(import(&q, &variants.join(name)), name);
        assert_eq!(masks(&q), want, "{name}: the masks moved");
    }
    // Refusals name the file and the problem; the project stays byte-identical.
    for (name, says) in [("rotated", "oblique"), ("shifted", "shifted")] {
        let q = fresh(name);
        let before = std::fs::read(&q).unwrap();
        let line = crate::support::one_error(&import(&q, &variants.join(name)), name);
        assert!(line.contains("ct.nii.gz") && line.contains(says), "{line}");
        assert_eq!(
            std::fs::read(&q).unwrap(),
            before,
            "{name}: the project changed"
        );
    }
    // The same voxels with the rows running the other way: mirrored top to bottom.
    let q = fresh("mirrored");
    ok(import(&q, &variants.join("mirrored")), "mirrored");
    let p = vitscope::project::Project::load(&q).unwrap();
    let got = &read_png(&dir.join(p.images[0].mask.as_ref().unwrap()));
    let flipped: Vec<u8> = want[0]
        .chunks(224)
        .rev()
        .flat_map(|r| r.iter().copied())
        .collect();
    assert_eq!(got, &flipped);
    assert_ne!(got, &want[0]);
}

/// Every file of a tree, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    crate::support::tree(dir)
        .into_iter()
        .map(|(p, b)| (dir.join(p), b))
        .collect()
}

/// `export --deidentify`: in every format, nothing in the export folder (manifest included)
/// holds an original path, file name, UID, identity or patient attribute; the DICOM objects follow
/// the Basic Profile as dicom-anonymizer's copy of Table E.1-1 lists it (checked with pydicom),
/// dciodvfy finds no error, highdicom reads the SEG's masks, the SEG references its de-identified
/// source and imports back onto it; the linkage goes only where asked, never into the export.
#[test]
fn deidentified_exports_carry_no_identifier() {
    let dir = scratch("hospital-deid");
    let png_name = "DOE_JOHN_MRN4417.png";
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/images/polyp_00000.png"),
        dir.join(png_name),
    )
    .unwrap();
    std::fs::copy(data("CT_small.dcm"), dir.join("SMITH_ct_scan.dcm")).unwrap();
    let project = dir.join("p.ron");
    empty_project(&project);
    let mut p = vitscope::project::Project::load(&project).unwrap();
    for f in [png_name, "SMITH_ct_scan.dcm"] {
        p.images.push(vitscope::project::ImageEntry::new(f.into()));
    }
    std::fs::write(&project, p.to_ron()).unwrap();
    let l_png = write_mask(&dir.join("m0.png"), 224, 224);
    let l_ct = write_mask(&dir.join("m1.png"), 128, 128);
    set_mask(&project, 0, &dir.join("m0.png"));
    set_mask(&project, 1, &dir.join("m1.png"));
    let before = std::fs::read(&project).unwrap();
    let export = |format: &str, out: &Path, extra: &[&str]| {
        bin()
            .args(["export", "--format", format, "--project"])
            .arg(&project)
            .arg("--out")
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    // What must not leave: the plain export's identities and UIDs, the names, the patient.
    let plain = dir.join("plain");
    ok(export("seg", &plain, &[]), "plain export");
    let manifest = std::fs::read_to_string(plain.join("manifest.csv")).unwrap();
    let mut secrets: Vec<String> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(2))
        .map(|t| t.split_once(':').unwrap().1.to_string())
        .collect();
    let script = r#"
import sys, json, pydicom
out = []
for f in sys.argv[1:]:
    d = pydicom.dcmread(f)
    for k in ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
              "PatientName", "PatientID", "InstitutionName", "AccessionNumber"]:
        v = str(d.get(k, "") or "")
        if len(v) > 3:
            out.append(v)
print(json.dumps(out))
"#;
    let o = run_python(
        script,
        &[data("CT_small.dcm"), plain.join("DOE_JOHN_MRN4417.sc.dcm")],
    );
    secrets.extend(serde_json::from_slice::<Vec<String>>(&o).unwrap());
    secrets.extend(
        [
            "DOE_JOHN",
            "MRN4417",
            "SMITH",
            "CompressedSamples",
            "JFK IMAGING",
        ]
        .map(String::from),
    );
    secrets.push(dir.display().to_string());
    assert!(secrets.len() > 12, "{secrets:?}");

    // The linkage file inside the export folder: refused before anything is written.
    let refused = dir.join("refused");
    let line = crate::support::one_error(
        &export(
            "seg",
            &refused,
            &[
                "--deidentify",
                "--linkage",
                refused.join("link.csv").to_str().unwrap(),
            ],
        ),
        "a linkage inside the export",
    );
    assert!(line.contains("inside the export folder"), "{line}");
    assert!(!refused.exists(), "a refused export wrote");

    let link = dir.join("linkage.csv");
    for format in ["seg", "nifti", "png", "coco", "csv"] {
        let out = dir.join(format!("deid-{format}"));
        let mut extra = vec!["--deidentify"];
        if format == "seg" {
            extra.extend(["--linkage", link.to_str().unwrap()]);
        }
        ok(export(format, &out, &extra), format);
        let files = files_under(&out);
        assert!(files.len() >= 2, "{format}: {files:?}");
        for (f, bytes) in &files {
            let name = f.strip_prefix(&out).unwrap().display().to_string();
            assert!(
                name.starts_with("case-")
                    || name.starts_with("masks/case-")
                    || ["manifest.csv", "annotations.json", "annotations.csv"]
                        .contains(&name.as_str()),
                "{format}: {name}"
            );
            let text = String::from_utf8_lossy(bytes);
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "{format}: {name} holds '{s}'");
            }
        }
    }
    assert_eq!(
        std::fs::read(&project).unwrap(),
        before,
        "an export changed the project"
    );

    // The DICOM objects against the profile's table, with pydicom.
    let seg = dir.join("deid-seg");
    let (src_copy, sc, seg_ct, seg_png) = (
        seg.join("case-0002.dcm"),
        seg.join("case-0001.sc.dcm"),
        seg.join("case-0002.seg.dcm"),
        seg.join("case-0001.seg.dcm"),
    );
    for f in [&src_copy, &sc, &seg_ct, &seg_png] {
        dciodvfy_clean(f);
    }
    let script = r#"
import sys, json, pydicom
from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as table
orig, copy, seg, sc = (pydicom.dcmread(f) for f in sys.argv[1:5])
def walk(ds):
    for e in ds:
        yield e
        if e.VR == "SQ":
            for item in e.value:
                yield from walk(item)
def listed(tag):
    for t in table.ALL_TAGS:
        if len(t) == 2 and (t[0], t[1]) == (tag.group, tag.element):
            return True
        if len(t) == 4 and tag.group & t[2] == t[0] and tag.element & t[3] == t[1]:
            return True
    return False
problems = []
before = {}
for e in walk(orig):
    if listed(e.tag) and e.VR != "SQ" and str(e.value).strip():
        before.setdefault(e.tag, set()).add(str(e.value))
for name, ds in [("copy", copy), ("seg", seg), ("sc", sc)]:
    for e in walk(ds):
        if e.tag.is_private:
            problems.append(f"{name}: private {e.tag}")
        if e.tag in before and str(e.value) in before[e.tag]:
            problems.append(f"{name}: {e.keyword or e.tag} keeps {e.value}")
    if ds.get("PatientIdentityRemoved") != "YES":
        problems.append(f"{name}: PatientIdentityRemoved")
    codes = [i.CodeValue for i in ds.get("DeidentificationMethodCodeSequence", [])]
    if codes != ["113100"]:
        problems.append(f"{name}: method codes {codes}")
    if not str(ds.get("DeviceSerialNumber", "x")):
        problems.append(f"{name}: empty Device Serial Number")
refs = {str(e.value) for e in walk(seg) if e.keyword == "ReferencedSOPInstanceUID"}
if refs != {copy.SOPInstanceUID}:
    problems.append(f"seg refers to {refs}, the copy is {copy.SOPInstanceUID}")
for k in ["StudyInstanceUID", "FrameOfReferenceUID", "PatientID"]:
    if seg.get(k) != copy.get(k):
        problems.append(f"seg {k} {seg.get(k)} != copy {copy.get(k)}")
if copy.PatientID != "case-0002" or sc.PatientID != "case-0001":
    problems.append(f"pseudonyms {copy.PatientID} {sc.PatientID}")
if (copy.pixel_array != orig.pixel_array).any():
    problems.append("the copy's pixels changed")
print(json.dumps({"problems": problems, "checked": len(before)}))
"#;
    let o = run_python(
        script,
        &[
            data("CT_small.dcm"),
            src_copy.clone(),
            seg_ct.clone(),
            sc.clone(),
        ],
    );
    let j: serde_json::Value = serde_json::from_slice(&o).unwrap();
    assert_eq!(j["problems"], serde_json::json!([]), "{j}");
    assert!(j["checked"].as_u64().unwrap() >= 10, "{j}");
    let hd = highdicom_read(&seg_ct);
    assert_eq!(hd["masks"], serde_json::json!(class_masks(&l_ct)));
    let hd = highdicom_read(&seg_png);
    assert_eq!(hd["masks"], serde_json::json!(class_masks(&l_png)));

    // A recipient's project of the de-identified image takes the de-identified SEG back.
    let theirs = dir.join("recipient");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::copy(&src_copy, theirs.join("case-0002.dcm")).unwrap();
    let q = theirs.join("q.ron");
    empty_project(&q);
    let mut p = vitscope::project::Project::load(&q).unwrap();
    p.images
        .push(vitscope::project::ImageEntry::new("case-0002.dcm".into()));
    std::fs::write(&q, p.to_ron()).unwrap();
    ok(
        bin()
            .args(["import", "--project"])
            .arg(&q)
            .arg("--from")
            .arg(&seg_ct)
            .output()
            .unwrap(),
        "import the de-identified SEG",
    );
    let p = vitscope::project::Project::load(&q).unwrap();
    assert_eq!(
        read_png(&theirs.join(p.images[0].mask.as_ref().unwrap())),
        l_ct
    );

    // The linkage: each pseudonym with its original, and the UID map, outside the export.
    let text = std::fs::read_to_string(&link).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let case2 = rows.iter().find(|r| &r[0] == "case-0002").unwrap();
    assert!(case2[1].ends_with("SMITH_ct_scan.dcm"), "{case2:?}");
    assert!(case2[2].starts_with("dicom:"), "{case2:?}");
    let ct_uid = case2[2].trim_start_matches("dicom:");
    let copy_uid = rows
        .iter()
        .find(|r| &r[4] == ct_uid)
        .map(|r| r[5].to_string())
        .unwrap();
    assert!(
        String::from_utf8_lossy(&std::fs::read(&src_copy).unwrap()).contains(&copy_uid),
        "the linkage's replacement is not the copy's UID"
    );
}

/// CSV exports are RFC 4180: Python's csv module reads a file name with a comma and a quote as one
/// field, every row as wide as the header, and a class named like a formula comes back with the
/// `'` that keeps a spreadsheet from evaluating it.
#[test]
fn csv_exports_read_back_with_pythons_csv_module() {
    let dir = scratch("hospital-csv");
    let name = "ward 3, \"bed\" 7.png";
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/images/polyp_00000.png"),
        dir.join(name),
    )
    .unwrap();
    let project = dir.join("p.ron");
    std::fs::write(
        &project,
        "(\n    version: 1,\n    classes: [(name: \"=2+3\", color: (255, 64, 160)), (name: \"organ\", color: (64, 200, 255))],\n    checkpoints: [],\n    images: [],\n)\n",
    )
    .unwrap();
    let mut p = vitscope::project::Project::load(&project).unwrap();
    p.images
        .push(vitscope::project::ImageEntry::new(name.into()));
    std::fs::write(&project, p.to_ron()).unwrap();
    write_mask(&dir.join("m.png"), 224, 224);
    set_mask(&project, 0, &dir.join("m.png"));
    let out = dir.join("csv");
    ok(
        bin()
            .args(["export", "--format", "csv", "--project"])
            .arg(&project)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
        "export csv",
    );
    let script = r#"
import csv, json, sys
print(json.dumps([list(csv.reader(open(f, newline=""))) for f in sys.argv[1:]]))
"#;
    let o = run_python(
        script,
        &[out.join("annotations.csv"), out.join("manifest.csv")],
    );
    let tables: Vec<Vec<Vec<String>>> = serde_json::from_slice(&o).unwrap();
    for t in &tables {
        assert!(t.len() >= 2, "{t:?}");
        assert!(t.iter().all(|r| r.len() == t[0].len()), "{t:?}");
    }
    let ann = &tables[0];
    let col = |k: &str| ann[0].iter().position(|h| h == k).unwrap();
    let rows: Vec<&Vec<String>> = ann[1..].iter().collect();
    assert!(
        rows.iter().all(|r| r[col("image")] == "ward 3, \"bed\" 7"),
        "{rows:?}"
    );
    let classes: Vec<&str> = rows.iter().map(|r| r[col("class")].as_str()).collect();
    assert!(
        classes.contains(&"'=2+3") && classes.contains(&"organ"),
        "{classes:?}"
    );
}
